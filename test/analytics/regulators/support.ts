/**
 * Fixtures of the regulators' tests: the whole service (as the API process builds it) on a fresh
 * database (real PostgreSQL or PGlite), listening on a loopback port so the regulators' client
 * talks to it over real HTTP; an admin and regulator principals with API keys; and in-memory
 * regulators (real P-256 signing keys, real secp256k1 encryption keys, shares kept in memory)
 * running the same protocol code as the command-line client.
 */
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../../src/app.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { loadConfig } from '../../../src/config/config.js';
import type { ThresholdKeyShare } from '../../../src/analytics/crypto/index.js';
import type { FeatureSlot } from '../../../src/analytics/features.js';
import { RegulatorApi } from '../../../src/analytics/cli/regulator-protocol.js';
import type { KeyShareStore, RegulatorIdentity } from '../../../src/analytics/cli/regulator-vault.js';
import { backend, freshDatabase, type TestDatabase } from '../../db/support.js';

export { backend };

export interface AnalyticsApp {
  db: TestDatabase;
  app: NestExpressApplication;
  ds: DataSource;
  server: ReturnType<NestExpressApplication['getHttpServer']>;
  url: string;
  adminKey: string;
  /** API key of each regulator principal, by regulator name. */
  keys: Record<string, string>;
  api(name: string): RegulatorApi;
  close(): Promise<void>;
}

/** The service with an admin and one 'regulator' principal (named like the regulator) per name. */
export async function openAnalyticsApp(regulators: string[]): Promise<AnalyticsApp> {
  const db = await freshDatabase();
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: db.config.DATA_DIR,
    DATABASE_URL: db.config.DATABASE_URL,
  };
  if (!env.DATABASE_URL) delete env.DATABASE_URL;
  const app = await createApp(loadConfig(env), { quiet: true });
  await app.init();
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const auth = app.get(AuthService);
  await auth.createPrincipal('analytics-admin', 'admin');
  const adminKey = (await auth.issueKey('analytics-admin')).key;
  const keys: Record<string, string> = {};
  for (const name of regulators) {
    await auth.createPrincipal(name, 'regulator');
    keys[name] = (await auth.issueKey(name)).key;
  }
  return {
    db,
    app,
    ds: app.get(DataSource),
    server: app.getHttpServer(),
    url,
    adminKey,
    keys,
    api: (name) => new RegulatorApi(url, keys[name]!),
    close: async () => {
      await app.close().catch(() => undefined);
      await db.drop();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export type MemoryRegulator = RegulatorIdentity & KeyShareStore & { shares: Map<string, ThresholdKeyShare> };

/** A regulator whose keys live in memory (same protocol code as the command-line client). */
export function memoryRegulator(name: string): MemoryRegulator {
  const signingSecret = p256.utils.randomSecretKey();
  const encryptionSecret = secp256k1.utils.randomSecretKey();
  const shares = new Map<string, ThresholdKeyShare>();
  return {
    name,
    signingCurve: 'p256',
    signingKey: Buffer.from(p256.getPublicKey(signingSecret, true)).toString('hex'),
    encryptionKey: Buffer.from(secp256k1.getPublicKey(encryptionSecret, true)).toString('hex'),
    sign: async (digest) => Buffer.from(p256.sign(digest, signingSecret, { prehash: false })).toString('hex'),
    ecdh: (peer) => secp256k1.getSharedSecret(encryptionSecret, peer, true),
    shares,
    hasShare: (k, s) => shares.has(`${k}/${s}`),
    saveShare: async (k, s, share) => void shares.set(`${k}/${s}`, share),
    loadShare: async (k: string, s: FeatureSlot) => {
      const share = shares.get(`${k}/${s}`);
      if (!share) throw new Error(`no share ${k}/${s}`);
      return share;
    },
  };
}

/** Registers a regulator (admin route) with its public keys. */
export async function registerRegulator(c: AnalyticsApp, r: Pick<RegulatorIdentity, 'name' | 'signingCurve' | 'signingKey' | 'encryptionKey'>): Promise<request.Response> {
  return request(c.server)
    .post('/analytics/regulators')
    .set(bearer(c.adminKey))
    .send({ name: r.name, principal: r.name, signingCurve: r.signingCurve, signingKey: r.signingKey, encryptionKey: r.encryptionKey });
}

export async function createKeySet(c: AnalyticsApp, threshold: number, regulators: string[]): Promise<request.Response> {
  return request(c.server).post('/analytics/key-sets').set(bearer(c.adminKey)).send({ threshold, regulators });
}

/** Asserts an RFC 9457 problem response with `status`. */
export function expectProblem(res: request.Response, status: number): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(res.body).toMatchObject({ status, detail: expect.any(String) });
}

/** Rows of the ceremony tables and audit events of a type, to check that nothing was stored. */
export async function counts(ds: DataSource): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['analytics_dkg_deal', 'analytics_dkg_verdict', 'analytics_dkg_complaint', 'analytics_slot_key', 'audit_event']) {
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ${t}`);
    out[t] = Number(n);
  }
  return out;
}
