/**
 * Fixtures of the analytics service tests, against real parts (PostgreSQL or PGlite, real
 * BabyJubJub DKG, real Groth16 payment proofs):
 *
 *   - the whole service on a fresh database, with an admin, a wallet app, five regulator
 *     principals and an outsider (role regulator, but not a registered regulator);
 *   - five registered regulators with real ECDSA signing keys (P-256 and secp256k1);
 *   - an in-process 3-of-5 DKG for each of the six feature slots (the crypto library's deal /
 *     finalize), inserted as the active key set; the regulators' secret shares stay in the test;
 *   - payments with real proofs (circuits/build/payment), made once and cached in the temporary
 *     folder (keyed by the verification key), so both backends and later runs reuse them.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../../src/app.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { loadConfig } from '../../../src/config/config.js';
import {
  deal,
  decodeThresholdPublicKey,
  encodeCiphertexts,
  encodeThresholdPublicKey,
  finalizeKeyShare,
  qualifiedDealers,
  type EncodedThresholdPublicKey,
  type ThresholdKeyShare,
  type ThresholdPublicKey,
} from '../../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../../../src/analytics/features.js';
import { paymentBinding, paymentCircuitArtifacts, provePayment } from '../../../src/analytics/payment/index.js';
import { slotCeremonyId } from '../../../src/analytics/regulators/index.js';
import { backend, freshDatabase, type TestDatabase } from '../../db/support.js';

export { backend };

export const REGULATORS = ['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e'] as const;
export type RegulatorName = (typeof REGULATORS)[number];
export const THRESHOLD = 3;

export interface AnalyticsApp {
  db: TestDatabase;
  app: NestExpressApplication;
  ds: DataSource;
  server: ReturnType<NestExpressApplication['getHttpServer']>;
  keys: Record<'admin' | 'wallet' | 'outsider' | RegulatorName, string>;
  close(): Promise<void>;
}

export async function openAnalyticsApp(): Promise<AnalyticsApp> {
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
  const auth = app.get(AuthService);
  const keys = {} as AnalyticsApp['keys'];
  const principals = [['admin', 'admin'], ['wallet', 'wallet-app'], ['outsider', 'regulator'], ...REGULATORS.map((r) => [r, 'regulator'] as const)] as const;
  for (const [k, role] of principals) {
    await auth.createPrincipal(`analytics-${k}`, role);
    keys[k] = (await auth.issueKey(`analytics-${k}`)).key;
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

/** Asserts an RFC 9457 problem response with `status`. */
export function expectProblem(res: request.Response, status: number, detail?: RegExp): void {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(res.body).toMatchObject({ status, detail: expect.any(String) });
  if (detail) expect(res.body.detail).toMatch(detail);
}

// ------------------------------------------------------------------------------ key material

export interface FixtureRegulator {
  name: RegulatorName;
  index: number;
  curve: 'p256' | 'secp256k1';
  signingSecret: string;
  signingKey: string;
}

export interface KeySetFixture {
  id: string;
  regulators: FixtureRegulator[];
  publicKeys: Record<FeatureSlot, EncodedThresholdPublicKey>;
  /** Per regulator and slot: the secret share (decimal). Test-only secrets. */
  shares: Record<RegulatorName, Record<FeatureSlot, string>>;
}

function dealKeySet(): KeySetFixture {
  const id = randomUUID();
  const regulators: FixtureRegulator[] = REGULATORS.map((name, i) => {
    const curve = i % 2 === 0 ? 'p256' : 'secp256k1';
    const c = curve === 'p256' ? p256 : secp256k1;
    const secret = c.utils.randomSecretKey();
    return { name, index: i + 1, curve, signingSecret: Buffer.from(secret).toString('hex'), signingKey: Buffer.from(c.getPublicKey(secret, true)).toString('hex') };
  });
  const publicKeys = {} as KeySetFixture['publicKeys'];
  const shares = Object.fromEntries(REGULATORS.map((r) => [r, {}])) as KeySetFixture['shares'];
  for (const slot of FEATURE_SLOTS) {
    const params = { ceremony: slotCeremonyId(id, slot), threshold: THRESHOLD, participants: REGULATORS.length };
    const rounds = regulators.map((r) => deal(params, r.index));
    const commitments = rounds.map((d) => d.commitment);
    const allShares = rounds.flatMap((d) => d.shares);
    const qualified = qualifiedDealers(params, commitments);
    for (const r of regulators) {
      const share = finalizeKeyShare(params, r.index, commitments, allShares.filter((s) => s.recipient === r.index), qualified);
      shares[r.name][slot] = share.secretShare.toString();
      publicKeys[slot] = encodeThresholdPublicKey(share.publicKey);
    }
  }
  return { id, regulators, publicKeys, shares };
}

export const slotKey = (ks: KeySetFixture, slot: FeatureSlot): ThresholdPublicKey => decodeThresholdPublicKey(ks.publicKeys[slot]);

export function keyShare(ks: KeySetFixture, regulator: RegulatorName, slot: FeatureSlot): ThresholdKeyShare {
  const r = ks.regulators.find((x) => x.name === regulator)!;
  const publicKey = slotKey(ks, slot);
  return { ceremony: publicKey.ceremony, threshold: publicKey.threshold, participants: publicKey.participants, index: r.index, secretShare: BigInt(ks.shares[regulator][slot]), publicKey };
}

/** A regulator's compact ECDSA signature (r || s hex, no prehash) over a 32-byte digest. */
export function regulatorSign(ks: KeySetFixture, regulator: RegulatorName, digest: Uint8Array): string {
  const r = ks.regulators.find((x) => x.name === regulator)!;
  const c = r.curve === 'p256' ? p256 : secp256k1;
  return Buffer.from(c.sign(digest, Buffer.from(r.signingSecret, 'hex'), { prehash: false })).toString('hex');
}

/** Registers the five regulators (their principals exist) and inserts the key set as the active one. */
export async function insertKeySet(ds: DataSource, ks: KeySetFixture): Promise<void> {
  for (const r of ks.regulators) {
    const [p] = await ds.query(`SELECT id FROM principal WHERE name = $1`, [`analytics-${r.name}`]);
    const encryptionKey = Buffer.from(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)).toString('hex');
    await ds.query(`INSERT INTO analytics_regulator (name, principal_id, signing_curve, signing_key, encryption_key) VALUES ($1, $2, $3, $4, $5)`, [
      r.name,
      p.id,
      r.curve,
      r.signingKey,
      encryptionKey,
    ]);
  }
  await ds.query(`INSERT INTO analytics_key_set (id, threshold, participants, status, created_by, activated_at) VALUES ($1, $2, $3, 'active', 'test', now())`, [
    ks.id,
    THRESHOLD,
    JSON.stringify(ks.regulators.map((r) => ({ regulator: r.name, index: r.index }))),
  ]);
  for (const slot of FEATURE_SLOTS) {
    await ds.query(`INSERT INTO analytics_slot_key (key_set_id, slot, public_key) VALUES ($1, $2, $3)`, [ks.id, slot, JSON.stringify(ks.publicKeys[slot])]);
  }
}

// ---------------------------------------------------------------------------------- payments

/** The window most tests compute over, and the accounts. */
export const WINDOW = { from: '2026-01-05T00:00:00.000Z', to: '2026-01-06T00:00:00.000Z' };
export const ACCOUNTS = { A: 'acct_a000000000000001', B: 'acct_b000000000000002', C: 'acct_c000000000000003', P: 'acct_f0000000000000ff' };

export interface PlainPayment {
  payer: string;
  payee: string;
  occurredAt: string;
  reference: string;
  amount: number;
  crossBorder: boolean;
}

/** A: six payments, five just under the reporting threshold; B: five; C: two (below the minimum cohort); one of B's after the window. */
export const PLAIN_PAYMENTS: PlainPayment[] = (() => {
  const out: PlainPayment[] = [];
  const add = (payer: string, amounts: number[], cross: boolean[], startMinute: number) =>
    amounts.forEach((amount, i) =>
      out.push({
        payer,
        payee: ACCOUNTS.P,
        occurredAt: new Date(Date.parse(WINDOW.from) + (startMinute + 7 * i) * 60_000).toISOString(),
        reference: `ref-${payer.slice(5, 6)}-${i}`,
        amount,
        crossBorder: cross[i]!,
      }),
    );
  add(ACCOUNTS.A, [9100, 9500, 9900, 9200, 2000, 9999], [true, false, false, true, false, false], 60);
  add(ACCOUNTS.B, [100, 3500, 12000, 9050, 50], [false, true, false, false, false], 120);
  add(ACCOUNTS.C, [9300, 9400], [false, false], 180);
  out.push({ payer: ACCOUNTS.B, payee: ACCOUNTS.P, occurredAt: new Date(Date.parse(WINDOW.to) + 3600_000).toISOString(), reference: 'ref-b-late', amount: 700, crossBorder: false });
  return out;
})();

export interface PaymentBody {
  payer: string;
  payee: string;
  occurredAt: string;
  reference: string;
  commitment: string;
  ciphertexts: { c1: [string, string]; c2: [string, string] }[];
  proof: Record<string, unknown>;
}

export interface AnalyticsFixture {
  keySet: KeySetFixture;
  payments: (PaymentBody & { amount: number; crossBorder: boolean })[];
}

/**
 * The key set and the payments with their proofs; built once per verification key and cached in
 * the temporary folder (a proof takes seconds; the test secrets in it are throwaway).
 */
export async function analyticsFixture(): Promise<AnalyticsFixture> {
  const vk = fs.readFileSync(paymentCircuitArtifacts().verificationKey);
  const tag = createHash('sha256').update(vk).update(JSON.stringify(PLAIN_PAYMENTS)).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `analytics-service-fixture-${tag}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as AnalyticsFixture;
  const keySet = dealKeySet();
  const slotKeys = FEATURE_SLOTS.map((s) => slotKey(keySet, s).groupPublicKey);
  const payments: AnalyticsFixture['payments'] = [];
  for (const p of PLAIN_PAYMENTS) {
    const binding = paymentBinding({ payer: p.payer, payee: p.payee, timestamp: p.occurredAt, reference: p.reference });
    const proved = await provePayment({ amount: BigInt(p.amount), crossBorder: p.crossBorder, binding, slotKeys });
    payments.push({
      ...p,
      commitment: proved.commitment.toString(),
      ciphertexts: encodeCiphertexts(proved.ciphertexts),
      proof: proved.proof as unknown as Record<string, unknown>,
    });
  }
  const fixture: AnalyticsFixture = { keySet, payments };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(fixture));
  fs.renameSync(tmp, file);
  return fixture;
}

/** The HTTP body of a fixture payment (without the plaintext). */
export const bodyOf = (p: AnalyticsFixture['payments'][number]): PaymentBody => ({
  payer: p.payer,
  payee: p.payee,
  occurredAt: p.occurredAt,
  reference: p.reference,
  commitment: p.commitment,
  ciphertexts: p.ciphertexts,
  proof: p.proof,
});
