/**
 * Fixtures of the custody service tests: the whole service (as the API process builds it) on a
 * fresh database (real PostgreSQL or PGlite); an admin, a wallet app and four operator
 * principals with API keys; operator approval keys (real secp256k1 / P-256 keys); and wallet rows.
 */
import { randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { p256 } from '@noble/curves/nist.js';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../../src/app.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { loadConfig } from '../../../src/config/config.js';
import { backend, freshDatabase, type TestDatabase } from '../../db/support.js';

export { backend };

export const OPERATORS = ['alice', 'bob', 'carol', 'dave'] as const;
export type OperatorName = (typeof OPERATORS)[number];

export interface CustodyApp {
  db: TestDatabase;
  app: NestExpressApplication;
  ds: DataSource;
  server: ReturnType<NestExpressApplication['getHttpServer']>;
  keys: Record<'admin' | 'wallet' | OperatorName, string>;
  close(): Promise<void>;
}

export async function openCustodyApp(overrides: Record<string, string> = {}): Promise<CustodyApp> {
  const db = await freshDatabase();
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: db.config.DATA_DIR,
    DATABASE_URL: db.config.DATABASE_URL,
    ...overrides,
  };
  if (!env.DATABASE_URL) delete env.DATABASE_URL;
  const app = await createApp(loadConfig(env), { quiet: true });
  await app.init();
  const auth = app.get(AuthService);
  const keys = {} as CustodyApp['keys'];
  for (const [k, role] of [['admin', 'admin'], ['wallet', 'wallet-app'], ...OPERATORS.map((o) => [o, 'operator'] as const)] as const) {
    await auth.createPrincipal(`custody-${k}`, role);
    keys[k] = (await auth.issueKey(`custody-${k}`)).key;
  }
  return {
    db,
    app,
    ds: app.get(DataSource),
    server: app.getHttpServer(),
    keys,
    close: async () => {
      await app.close().catch(() => undefined);
      await db.drop();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** An operator's approval key pair on `curve`. */
export function approvalKey(curve: 'secp256k1' | 'p256') {
  const c = curve === 'secp256k1' ? secp256k1 : p256;
  const secretKey = c.utils.randomSecretKey();
  return {
    curve,
    publicKey: Buffer.from(c.getPublicKey(secretKey, true)).toString('hex'),
    /** Compact r||s hex over a 0x-hex 32-byte digest, no prehashing. */
    sign: (digestHex: string) => Buffer.from(c.sign(Buffer.from(digestHex.slice(2), 'hex'), secretKey, { prehash: false })).toString('hex'),
  };
}

/** A wallet row (what wallet creation by DKG stores): a random address and a valid secp256k1 point as group key. */
export async function insertWallet(ds: DataSource): Promise<{ id: string; address: string }> {
  const address = `0x${randomBytes(20).toString('hex')}`;
  const groupKey = Buffer.from(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)).toString('hex');
  const [row] = await ds.query(`INSERT INTO custody_wallet (address, group_key, threshold, node_ids) VALUES ($1, $2, 2, $3) RETURNING id`, [
    address,
    groupKey,
    JSON.stringify(['node-1', 'node-2', 'node-3']),
  ]);
  return { id: String(row.id), address };
}

/** Asserts an RFC 9457 problem response with `status`. */
export function expectProblem(res: request.Response, status: number): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(res.body).toMatchObject({ status, detail: expect.any(String) });
}
