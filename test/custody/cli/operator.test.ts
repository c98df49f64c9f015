/**
 * The operators' command-line client as a child process against the service over HTTP (real
 * database, real keys): keygen writes a mode-600 key file and prints its public key; pending
 * lists a requested ceremony; show prints the digest and checks it; approve --yes by two
 * operators reaches the quorum; a duplicate approval exits 1 with the 409 detail; a server whose
 * digest was altered (a proxy in between) is refused before anything is signed or sent; usage
 * errors exit 2; and the private keys never appear in any output.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import request from 'supertest';
import { buildEntryPoints } from '../../support/build-entry-points.js';
import { bearer, insertWallet, openCustodyApp, type CustodyApp } from '../service/support.js';

const ENTRY = 'src/custody/cli/operator.ts';
const DEST = '0x' + '11'.repeat(20);

let c: CustodyApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
let url: string;
let dir: string;
const outputs: string[] = [];
const secrets: string[] = [];

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [build.js(ENTRY), ...args],
      { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        outputs.push(stdout, stderr);
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

const as = (op: 'alice' | 'bob' | 'carol', extra: Record<string, string> = {}) => ({
  OPERATOR_API_URL: url,
  OPERATOR_API_KEY: c.keys[op],
  OPERATOR_NAME: op,
  OPERATOR_KEY_FILE: path.join(dir, `${op}.key`),
  ...extra,
});

/** The hex of a key file's private scalar (PEM), to look for it in outputs. */
function secretHex(file: string): string {
  const jwk = createPrivateKey(fs.readFileSync(file, 'utf8')).export({ format: 'jwk' });
  return Buffer.from(jwk.d!, 'base64url').toString('hex');
}

beforeAll(async () => {
  [c, build] = await Promise.all([openCustodyApp(), buildEntryPoints([ENTRY], 'operator-cli-')]);
  await c.app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(c.app.getHttpServer().address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? build.dir, 'operator-keys-'));
}, 180_000);

afterAll(async () => {
  await c?.close();
  build?.remove();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let ceremony: Record<string, any>;

describe('operator command-line client', () => {
  it('keygen writes a mode-600 key file and prints the public key; the operators get registered with it', async () => {
    for (const [op, curve] of [['alice', 'secp256k1'], ['bob', 'p256'], ['carol', 'secp256k1']] as const) {
      const file = path.join(dir, `${op}.key`);
      const r = await cli(['keygen', '--out', file, '--curve', curve]);
      expect(r.code).toBe(0);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const publicKey = /publicKey: (0[23][0-9a-f]{64})/.exec(r.stdout)?.[1];
      expect(publicKey).toBeDefined();
      expect(r.stdout).toContain(`curve:     ${curve}`);
      secrets.push(secretHex(file), fs.readFileSync(file, 'utf8').split('\n')[1]!);
      const reg = await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ name: op, principal: `custody-${op}`, curve, publicKey });
      expect(reg.status).toBe(201);
    }
    // Never overwrites an existing key file.
    const again = await cli(['keygen', '--out', path.join(dir, 'alice.key')]);
    expect(again.code).toBe(2);
  });

  it('pending lists a requested ceremony', async () => {
    const wallet = await insertWallet(c.ds);
    const pol = await request(c.server)
      .put(`/custody/wallets/${wallet.id}/policy`)
      .set(bearer(c.keys.admin))
      .send({ quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: [DEST] });
    expect(pol.status).toBe(200);
    const res = await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '900', data: '0xabcd' });
    expect(res.status).toBe(201);
    ceremony = res.body;
    const r = await cli(['pending'], as('bob'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+STATUS\s+APPROVALS/);
    expect(r.stdout).toContain(ceremony.id);
    expect(r.stdout).toMatch(/requested\s+0\/2/);
  });

  it('show prints the details and the digest, recomputed locally and matching', async () => {
    const r = await cli(['show', ceremony.id], as('carol'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${ceremony.digest} (server)`);
    expect(r.stdout).toContain(`${ceremony.digest} (recomputed here)`);
    expect(r.stdout).toContain('digests match');
    expect(r.stdout).toContain('900 wei');
  });

  it('refuses to sign when the server digest was altered (a proxy in between), sending nothing', async () => {
    const tampered = '0x' + 'ab'.repeat(32);
    const proxy = http.createServer((req, res) => {
      const up = http.request(new URL(req.url!, url), { method: req.method, headers: req.headers }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (d: Buffer) => chunks.push(d));
        upRes.on('end', () => {
          let body = Buffer.concat(chunks).toString();
          if (req.method === 'GET' && upRes.statusCode === 200) body = body.replace(/"digest":"0x[0-9a-f]{64}"/g, `"digest":"${tampered}"`);
          const headers = { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) };
          res.writeHead(upRes.statusCode!, headers).end(body);
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const show = await cli(['show', ceremony.id], as('alice', { OPERATOR_API_URL: proxyUrl }));
      expect(show.code).toBe(1);
      expect(show.stdout).toContain(`${tampered} (server)`);
      expect(show.stdout).toContain(`${ceremony.digest} (recomputed here)`);
      expect(show.stderr).toMatch(/differs.*refusing to sign/);
      const approve = await cli(['approve', ceremony.id, '--yes'], as('alice', { OPERATOR_API_URL: proxyUrl }));
      expect(approve.code).toBe(1);
      expect(approve.stderr).toMatch(/refusing to sign/);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
    const got = await request(c.server).get(`/custody/ceremonies/${ceremony.id}`).set(bearer(c.keys.admin)).expect(200);
    expect(got.body.approvals).toEqual([]);
  });

  it('approve without --yes asks, and a "no" approves nothing', async () => {
    const r = await cli(['approve', ceremony.id], as('alice'), 'n\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not approved');
    const got = await request(c.server).get(`/custody/ceremonies/${ceremony.id}`).set(bearer(c.keys.admin)).expect(200);
    expect(got.body.approvals).toEqual([]);
  });

  it('approve --yes by two operators reaches the quorum; a duplicate exits 1 with the 409 detail', async () => {
    const a = await cli(['approve', ceremony.id, '--yes'], as('alice'));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('status requested, 1 of 2 approvals');
    const dup = await cli(['approve', ceremony.id, '--yes'], as('alice'));
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/409 Conflict: .+/);
    const b = await cli(['approve', ceremony.id, '--yes'], as('bob'));
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('status approved, 2 of 2 approvals');
    const got = await request(c.server).get(`/custody/ceremonies/${ceremony.id}`).set(bearer(c.keys.admin)).expect(200);
    expect(got.body.status).toBe('approved');
    expect(got.body.approvals.map((x: { operator: string }) => x.operator).sort()).toEqual(['alice', 'bob']);
  });

  it('reject sends the reason; follow prints the transition to a final state', async () => {
    const wallet = await insertWallet(c.ds);
    await request(c.server)
      .put(`/custody/wallets/${wallet.id}/policy`)
      .set(bearer(c.keys.admin))
      .send({ quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: [DEST] })
      .expect(200);
    const cer = (await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '5' })).body;
    const follow = cli(['follow', cer.id, '--interval', '0.2', '--timeout', '30'], as('carol'));
    await new Promise((r) => setTimeout(r, 1500));
    // A hex key file works too (its curve given with --curve).
    const hexFile = path.join(dir, 'bob.hex');
    fs.writeFileSync(hexFile, secretHex(path.join(dir, 'bob.key')) + '\n', { mode: 0o600 });
    const ok = await cli(['approve', cer.id, '--yes', '--key-file', hexFile, '--curve', 'p256'], as('bob'));
    expect(ok.code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const rej = await cli(['reject', cer.id, '--reason', 'destination under review'], as('carol'));
    expect(rej.code).toBe(0);
    expect(rej.stdout).toContain('status rejected');
    const f = await follow;
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/requested \(0\/2 approvals\)\n.*requested \(1\/2 approvals\)\n.*rejected/);
  });

  it('policy list / show / approve: a policy change applies with two operators\' signatures; reject; a tampered digest is refused', async () => {
    const wallet = await insertWallet(c.ds);
    await request(c.server)
      .put(`/custody/wallets/${wallet.id}/policy`)
      .set(bearer(c.keys.admin))
      .send({ quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: [DEST] })
      .expect(200);
    const proposed = { quorum: 2, operators: ['alice', 'bob'], perTransactionLimit: '2000', dailyLimit: '5000', allowlist: [DEST] };
    const p = (await request(c.server).post(`/custody/wallets/${wallet.id}/policy-proposals`).set(bearer(c.keys.carol)).send(proposed).expect(201)).body;

    const list = await cli(['policy', 'list', '--wallet', wallet.id], as('alice'));
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+STATUS\s+APPROVALS/);
    expect(list.stdout).toMatch(new RegExp(`${p.id}\\s+requested\\s+0/2`));

    const show = await cli(['policy', 'show', p.id], as('alice'));
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/perTransactionLimit\s+1000\s+2000\s+<- changes/);
    expect(show.stdout).toMatch(/operators\s+\[alice, bob, carol\]\s+\[alice, bob\]\s+<- changes/);
    expect(show.stdout).toContain(`${p.digest} (recomputed here)`);
    expect(show.stdout).toContain('digests match');

    // A server (or proxy) that alters the digest: nothing is signed or sent.
    const proxy = http.createServer((req, res) => {
      const up = http.request(new URL(req.url!, url), { method: req.method, headers: req.headers }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (d: Buffer) => chunks.push(d));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks).toString().replace(/"perTransactionLimit":"2000"/g, '"perTransactionLimit":"200"');
          res.writeHead(upRes.statusCode!, { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const bad = await cli(['policy', 'approve', p.id, '--yes'], as('alice', { OPERATOR_API_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }));
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/differs.*refusing to sign/);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
    expect((await request(c.server).get(`/custody/policy-proposals/${p.id}`).set(bearer(c.keys.admin))).body.approvals).toEqual([]);

    const a = await cli(['policy', 'approve', p.id, '--yes'], as('alice'));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('status requested, 1 of 2 approvals');
    const dup = await cli(['policy', 'approve', p.id, '--yes'], as('alice'));
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/409 Conflict: .*already approved/);
    const b = await cli(['policy', 'approve', p.id, '--yes'], as('bob'));
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('status applied, 2 of 2 approvals; policy version 2 is in force');
    const pol = await request(c.server).get(`/custody/wallets/${wallet.id}/policy`).set(bearer(c.keys.admin)).expect(200);
    expect(pol.body).toMatchObject({ version: 2, perTransactionLimit: '2000', operators: ['alice', 'bob'], proposalId: p.id });

    // carol is no longer an operator of the policy: her rejection of the next proposal is refused (403).
    const q = (await request(c.server).post(`/custody/wallets/${wallet.id}/policy-proposals`).set(bearer(c.keys.admin)).send({ ...proposed, quorum: 1 }).expect(201)).body;
    const refused = await cli(['policy', 'reject', q.id, '--reason', 'not mine'], as('carol'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/403 Forbidden/);
    const rej = await cli(['policy', 'reject', q.id, '--reason', 'a quorum of one is too weak'], as('bob'));
    expect(rej.code).toBe(0);
    expect(rej.stdout).toContain('status rejected');
    const all = await cli(['policy', 'list', '--all', '--wallet', wallet.id], as('alice'));
    expect(all.stdout).toMatch(/applied/);
    expect(all.stdout).toMatch(/rejected/);
  });

  it('abort stops a ceremony with a reason', async () => {
    const wallet = await insertWallet(c.ds);
    await request(c.server)
      .put(`/custody/wallets/${wallet.id}/policy`)
      .set(bearer(c.keys.admin))
      .send({ quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: [DEST] })
      .expect(200);
    const cer = (await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '5' })).body;
    const r = await cli(['abort', cer.id, '--reason', 'instruction withdrawn'], as('carol'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('status aborted');
    const again = await cli(['abort', cer.id, '--reason', 'instruction withdrawn'], as('carol'));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409 Conflict/);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [[], ['bogus'], ['show'], ['policy'], ['policy', 'bogus'], ['policy', 'show', 'nope'], ['policy', 'reject', ceremony.id], ['abort', ceremony.id], ['policy', 'list', '--wallet', 'x'], ['show', 'not-a-uuid'], ['approve', ceremony.id, '--nope'], ['reject', ceremony.id], ['keygen', '--out', path.join(dir, 'x.key'), '--curve', 'ed25519']]) {
      const r = await cli(args, as('alice'));
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('usage: operator');
    }
    expect((await cli(['pending'], { OPERATOR_API_KEY: c.keys.alice })).code).toBe(2); // no URL
    expect((await cli(['approve', ceremony.id, '--yes'], as('alice', { OPERATOR_KEY_FILE: path.join(dir, 'missing.key') }))).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: operator');
  });

  it('never prints a private key', () => {
    expect(secrets.length).toBeGreaterThan(0);
    const all = outputs.join('\n').toLowerCase();
    for (const s of secrets) expect(all).not.toContain(s.toLowerCase());
    expect(all).not.toContain('private key-----');
  });
});
