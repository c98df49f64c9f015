/**
 * Bulk rows for the analytics aggregation benchmark: synthetic encrypted payments in
 * analytics_payment and their plaintext twins in bench_plain_payment.
 *
 * These rows BYPASS PaymentsService.record (no proof verification, no audit event): proving 10^6
 * payments would take weeks here. What they share with recorded payments is what aggregation
 * reads: well-formed rows of the real table (every column and constraint of migration
 * 1700000000510), with six valid ElGamal ciphertexts under the active key set's slot keys that
 * encrypt a consistent feature vector of a known amount. They are made cheaply:
 *   - a pool of ~1,000 amount ciphertexts, each a fresh encryption of a random known amount;
 *     each row's amount ciphertext is the homomorphic sum of a pair from the pool (so its
 *     plaintext, a_i + a_j, is known; 10^6 distinct pairs give distinct ciphertexts);
 *   - for the one-hot bucket slots and the cross-border flag, fresh encryptions of 0 and 1
 *     (64 of each per slot), picked to match the row's amount bucket and flag;
 *   - commitment: SHA-256 of the row number reduced mod p, a placeholder (not a Poseidon
 *     commitment of the amount); binding: the real paymentBinding of the row's facts;
 *     ciphertexts_hash: the real hash; proof: a real proof of another payment (it does not verify
 *     for this row).
 * The twin row holds the same payer, payee, time, reference and key set with the amount, bucket
 * and flag in clear, with the same indexes, so `SELECT sum(amount)` filters the same way.
 *
 * Rows are sent as column arrays (INSERT ... SELECT FROM unnest(...)) in chunks of CHUNK rows, one
 * statement per chunk and table; the next chunk is built while the database writes the previous one.
 */
import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  FIELD_PRIME,
  add,
  encodeCiphertexts,
  encrypt,
  preparePublicKey,
  type Ciphertext,
  type EncodedCiphertext,
  type GroupPoint,
} from '../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, amountBucket, featureVector } from '../../src/analytics/features.js';
import { paymentBinding } from '../../src/analytics/payment/index.js';
import { ciphertextsHash } from '../../src/analytics/payments/payments.service.js';
import { now, prng } from './stats.js';

const CHUNK = 5_000;
const POOL = 1_000;
const FLAG_POOL = 64;

/** Base amounts are uniform in [1, BASE_AMOUNT_MAX]; a row's amount is the sum of two. */
export const BASE_AMOUNT_MAX = 850_000;
/** Synthetic payers (each row's payer is drawn by a hash of its number). */
export const PAYERS = 1_000;
/** The synthetic payments' window: one every 2 s from its start (10^6 fit in 24 days). */
export const BULK_WINDOW = { from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-02-01T00:00:00.000Z') };
export const BULK_STEP_MS = 2_000;
const CROSS_BORDER_SHARE = 0.1;

const payerName = (n: number) => `acct_${(0xb0000000 + n).toString(16)}`;
const payeeOf = (k: number) => `acct_${(0xc0000000 + ((k * 7919) % 50_000)).toString(16)}`;

/** The plaintext twin table: same filter columns and indexes as analytics_payment, amount in clear. */
export async function createPlainTwin(ds: DataSource, table = 'bench_plain_payment'): Promise<void> {
  await ds.query(`
    CREATE TABLE ${table} (
      id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
      payer        text        NOT NULL,
      payee        text        NOT NULL,
      occurred_at  timestamptz NOT NULL,
      reference    text        NOT NULL,
      amount       bigint      NOT NULL,
      bucket       integer     NOT NULL,
      cross_border boolean     NOT NULL,
      key_set_id   uuid        NOT NULL,
      recorded_at  timestamptz NOT NULL DEFAULT now(),
      UNIQUE (payer, reference)
    )`);
  await ds.query(`CREATE INDEX ${table}_window_idx ON ${table} (key_set_id, occurred_at)`);
}

interface Columns {
  payer: string[];
  payee: string[];
  at: string[];
  ref: string[];
  commitment: string[];
  binding: string[];
  cts: string[];
  hash: string[];
  amount: string[];
  bucket: number[];
  cross: boolean[];
}

export interface BulkFillStats {
  rows: number;
  /** In-process work: pair sums, encoding, hashes (ms). */
  buildMs: number;
  /** Waiting for the database beyond the build of the next chunk (ms). */
  insertMs: number;
}

/**
 * Writes synthetic payments k = from .. to-1 (and their twins); returns the sum of their amounts.
 * Deterministic per k given the pool, so a top-up continues where the previous fill stopped.
 */
export class SyntheticPayments {
  private readonly amounts: bigint[] = [];
  private readonly amountPool: Ciphertext[] = [];
  /** encodedFlags[slot][bit][n]: an encryption of `bit` under that slot's key. */
  private readonly flagPool: EncodedCiphertext[][][] = [];
  poolMs = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly keySetId: string,
    slotKeys: readonly GroupPoint[],
    /** A real proof (of another payment), stored as the rows' proof column. */
    private readonly proofJson: string,
    seed = 20261122,
  ) {
    const t0 = now();
    const rand = prng(seed);
    const amountKey = preparePublicKey(slotKeys[0]!);
    for (let i = 0; i < POOL; i++) {
      const a = 1n + BigInt(Math.floor(rand() * BASE_AMOUNT_MAX));
      this.amounts.push(a);
      this.amountPool.push(encrypt(a, amountKey));
    }
    for (let s = 1; s < FEATURE_SLOTS.length; s++) {
      const key = preparePublicKey(slotKeys[s]!);
      this.flagPool[s] = [0n, 1n].map((bit) => encodeCiphertexts(Array.from({ length: FLAG_POOL }, () => encrypt(bit, key))));
    }
    this.poolMs = now() - t0;
  }

  /**
   * Row k's pool pair, payer, flag and flag-pool entry. The pair index walks a permutation of
   * [0, POOL^2) (999,983 is prime to 10^6), so the first 10^6 rows all get distinct pairs, hence
   * distinct ciphertexts; payer and flag come from an integer hash of k (random access by k).
   */
  private pick(k: number): { i: number; j: number; payer: number; cross: boolean; f: number } {
    const q = (k * 999_983) % (POOL * POOL);
    let h = Math.imul(k ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    return { i: q % POOL, j: Math.floor(q / POOL), payer: h % PAYERS, cross: (h >>> 24) / 256 < CROSS_BORDER_SHARE, f: (h >>> 10) % FLAG_POOL };
  }

  amountOf(k: number): bigint {
    const { i, j } = this.pick(k);
    return this.amounts[i]! + this.amounts[j]!;
  }

  async fill(from: number, to: number, onChunk?: (done: number) => void): Promise<BulkFillStats & { amountSum: bigint }> {
    let buildMs = 0;
    let insertMs = 0;
    let amountSum = 0n;
    // The database writes one chunk while the next is built (two processes, two cores).
    let pending: Promise<void> | undefined;
    const settle = async () => {
      const t = now();
      await pending;
      insertMs += now() - t;
    };
    for (let start = from; start < to; start += CHUNK) {
      const end = Math.min(to, start + CHUNK);
      const t0 = now();
      const sums: Ciphertext[] = [];
      const picks = [];
      for (let k = start; k < end; k++) {
        const p = this.pick(k);
        picks.push(p);
        sums.push(add(this.amountPool[p.i]!, this.amountPool[p.j]!));
      }
      const encodedAmounts = encodeCiphertexts(sums);
      const cols: Columns = { payer: [], payee: [], at: [], ref: [], commitment: [], binding: [], cts: [], hash: [], amount: [], bucket: [], cross: [] };
      for (let k = start; k < end; k++) {
        const p = picks[k - start]!;
        const amount = this.amounts[p.i]! + this.amounts[p.j]!;
        amountSum += amount;
        const features = featureVector({ amount, crossBorder: p.cross });
        const ciphertexts: EncodedCiphertext[] = [encodedAmounts[k - start]!];
        for (let s = 1; s < FEATURE_SLOTS.length; s++) ciphertexts.push(this.flagPool[s]![Number(features[s]!)]![p.f]!);
        const payer = payerName(p.payer);
        const payee = payeeOf(k);
        const at = new Date(BULK_WINDOW.from.getTime() + k * BULK_STEP_MS).toISOString();
        const reference = `bulk-${k}`;
        cols.payer.push(payer);
        cols.payee.push(payee);
        cols.at.push(at);
        cols.ref.push(reference);
        cols.commitment.push((BigInt(`0x${createHash('sha256').update(`bench-commitment-${k}`).digest('hex')}`) % FIELD_PRIME).toString());
        cols.binding.push(paymentBinding({ payer, payee, timestamp: at, reference }).toString());
        cols.cts.push(JSON.stringify(ciphertexts));
        cols.hash.push(ciphertextsHash(ciphertexts));
        cols.amount.push(amount.toString());
        cols.bucket.push(amountBucket(amount));
        cols.cross.push(p.cross);
      }
      buildMs += now() - t0;
      await settle();
      pending = this.insertChunk(cols, end, onChunk);
    }
    await settle();
    return { rows: to - from, buildMs, insertMs, amountSum };
  }

  private async insertChunk(cols: Columns, end: number, onChunk?: (done: number) => void): Promise<void> {
    await this.ds.query(
      `INSERT INTO analytics_payment (payer, payee, occurred_at, reference, commitment, binding, ciphertexts, ciphertexts_hash, proof, key_set_id, submitted_by)
       SELECT p, e, o, r, c, b, ct::jsonb, h, $9::jsonb, $10, 'benchmark-bulk'
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS t(p, e, o, r, c, b, ct, h)`,
      [cols.payer, cols.payee, cols.at, cols.ref, cols.commitment, cols.binding, cols.cts, cols.hash, this.proofJson, this.keySetId],
    );
    await this.ds.query(
      `INSERT INTO bench_plain_payment (payer, payee, occurred_at, reference, amount, bucket, cross_border, key_set_id)
       SELECT p, e, o, r, a, b, x, $8 FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[], $6::int[], $7::boolean[]) AS t(p, e, o, r, a, b, x)`,
      [cols.payer, cols.payee, cols.at, cols.ref, cols.amount, cols.bucket, cols.cross, this.keySetId],
    );
    onChunk?.(end);
  }
}
