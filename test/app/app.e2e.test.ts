/**
 * The HTTP edge against real parts: database (PostgreSQL or PGlite), SoftHSM token and Hardhat
 * node from the global setup. Checks readiness, auth (401/403), validation (400), problem+json,
 * OpenAPI coverage and that every route declares its roles.
 */
import path from 'node:path';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '../../src/config/config.js';
import { createApp } from '../../src/app.js';
import { AuthService } from '../../src/auth/auth.service.js';

let app: NestExpressApplication;
let adminKey: string;
let walletKey: string;

beforeAll(async () => {
  const config = loadConfig({ ...process.env, DATA_DIR: path.join(process.env.TEST_SCRATCH_DIR!, 'app-e2e') });
  app = await createApp(config, { quiet: true });
  await app.init();
  const store = app.get(AuthService);
  const tag = Date.now().toString(36);
  await store.createPrincipal(`admin-${tag}`, 'admin');
  adminKey = (await store.issueKey(`admin-${tag}`)).key;
  await store.createPrincipal(`wallet-${tag}`, 'wallet-app');
  walletKey = (await store.issueKey(`wallet-${tag}`)).key;
});

afterAll(async () => {
  await app?.close();
});

const problem = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\//), title: expect.any(String), detail: expect.any(String) });
};

describe('health and readiness', () => {
  it('reports database, HSM and ledger ok', async () => {
    const res = await request(app.getHttpServer()).get('/ready').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.database.status).toBe('ok');
    expect(res.body.hsm.status).toBe('ok');
    expect(res.body.ledger.status).toBe('ok');
    await request(app.getHttpServer()).get('/health').expect(200, { status: 'ok' });
  });
});

describe('authentication and roles', () => {
  it('401 without a key, as problem+json', async () => {
    problem(await request(app.getHttpServer()).get('/admin/principals'), 401);
  });
  it('401 with an unknown key', async () => {
    const res = await request(app.getHttpServer()).get('/admin/principals').set('authorization', 'Bearer psk_00000000_' + 'A'.repeat(43));
    problem(res, 401);
  });
  it('403 with the wrong role, naming the required role', async () => {
    const res = await request(app.getHttpServer()).get('/admin/principals').set('authorization', `Bearer ${walletKey}`);
    problem(res, 403);
    expect(res.body.detail).toContain('admin');
  });
  it('accepts the X-API-Key header too', async () => {
    await request(app.getHttpServer()).get('/admin/principals').set('x-api-key', adminKey).expect(200);
  });
  it('a revoked key stops working at once', async () => {
    const tag = `tmp-${Date.now().toString(36)}`;
    const server = app.getHttpServer();
    await request(server).post('/admin/principals').set('x-api-key', adminKey).send({ name: tag, role: 'operator' }).expect(201);
    const issued = await request(server).post(`/admin/principals/${tag}/keys`).set('x-api-key', adminKey).expect(201);
    expect(issued.body.key).toMatch(/^psk_/);
    const list = await request(server).get('/admin/principals').set('x-api-key', adminKey).expect(200);
    expect(JSON.stringify(list.body)).not.toContain(issued.body.key);
    await request(server).delete(`/admin/keys/${issued.body.prefix}`).set('x-api-key', adminKey).expect(200);
    problem(await request(server).get('/admin/principals').set('x-api-key', issued.body.key), 401);
  });
});

describe('validation', () => {
  it('400 for an invalid body, listing each field, nothing stored', async () => {
    const server = app.getHttpServer();
    const before = await request(server).get('/admin/principals').set('x-api-key', adminKey);
    const res = await request(server).post('/admin/principals').set('x-api-key', adminKey).send({ name: 'Bad Name!', role: 'root', extra: 1 });
    problem(res, 400);
    const fields = (res.body.errors as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['extra', 'name', 'role']));
    const after = await request(server).get('/admin/principals').set('x-api-key', adminKey);
    expect(after.body.length).toBe(before.body.length);
  });
  it('400 for malformed JSON', async () => {
    const res = await request(app.getHttpServer()).post('/admin/principals').set('x-api-key', adminKey).set('content-type', 'application/json').send('{"name": ');
    problem(res, 400);
    expect(res.body.detail).toBe('the request body is not valid JSON');
  });
  it('409 for a duplicate principal', async () => {
    const server = app.getHttpServer();
    const name = `dup-${Date.now().toString(36)}`;
    await request(server).post('/admin/principals').set('x-api-key', adminKey).send({ name, role: 'regulator' }).expect(201);
    problem(await request(server).post('/admin/principals').set('x-api-key', adminKey).send({ name, role: 'regulator' }), 409);
  });
  it('404 for an unknown route is problem+json too', async () => {
    problem(await request(app.getHttpServer()).get('/no/such/route'), 404);
  });
});

describe('OpenAPI', () => {
  it('documents every route, and every route declares roles or is public', async () => {
    const res = await request(app.getHttpServer()).get('/docs/openapi.json').expect(200);
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
    }
    const router = app.getHttpAdapter().getInstance()._router ?? app.getHttpAdapter().getInstance().router;
    const routes: string[] = [];
    for (const layer of router.stack as { route?: { path: string; methods: Record<string, boolean> } }[]) {
      if (!layer.route) continue;
      for (const m of Object.keys(layer.route.methods)) {
        routes.push(`${m.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      }
    }
    // Swagger UI's own routes and the adapter's not-found catch-all are not API operations.
    const apiRoutes = routes.filter((r) => !r.includes('/docs') && !r.includes('*'));
    expect(apiRoutes.length).toBeGreaterThan(5);
    for (const r of apiRoutes) expect(documented).toContain(r);
  });
});
