/**
 * Analytics benchmark: what the regulators' encrypted AML analytics cost against plaintext SQL on
 * the same rows in the same run (see bench/README.md, "Analytics"):
 *   1. ingestion: payments recorded through PaymentsService.record (curve and subgroup checks,
 *      Groth16 verification against recomputed signals, insert and audit event in one
 *      transaction) against a plain INSERT of the same facts with the amount in clear, and
 *      against verifyPaymentProof alone;
 *   2. aggregation: the computation tasks' streamed cohort aggregation (GroupAccumulator) over 10^5
 *      and 10^6 stored ciphertexts (whole window and per payer) against SUM / GROUP BY on a
 *      plaintext twin;
 *   3. threshold decryption of a 40-bit total: 3-of-5 partial decryptions with Chaum-Pedersen
 *      proofs, their verification, the combination and the discrete-log search with the
 *      service's cached tables, against the SQL sum;
 *   4. one sum task over all the payments of the largest size through TasksService (define, k
 *      approvals, k partials, the aggregation and combination job steps).
 *
 *   npm run build && node dist/bench/analytics-bench.js [--quick] [--backend postgresql|pglite]
 *        [--payments M] [--sizes 100000,1000000] [--reps N] [--out FILE] [--keep-db]
 *        [--skip-ingestion] [--skip-aggregation] [--skip-decryption]   (the last also skips 4)
 *
 * PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/privacy_bench_analytics);
 * that database is dropped and created again at the start and dropped at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditService } from '../src/audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../src/auth/roles.js';
import { ProblemError } from '../src/common/problem.js';
import { loadConfig } from '../src/config/config.js';
import type { HsmService } from '../src/hsm/hsm.service.js';
import {
  G,
  QuorumNotReachedError,
  combinePartialDecryptions,
  decodeCiphertext,
  encodeCiphertexts,
  encodePartialDecryption,
  partialDecrypt,
  verifyPartialDecryption,
  type Ciphertext,
  type EncodedCiphertext,
  type PartialDecryption,
} from '../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../src/analytics/features.js';
import { paymentBinding, paymentPublicSignals, provePayment, verifyPaymentProof } from '../src/analytics/payment/index.js';
import type { RecordPaymentDto } from '../src/analytics/payments/payments.dto.js';
import { PaymentsService } from '../src/analytics/payments/payments.service.js';
import { AnalyticsKeyService } from '../src/analytics/regulators/analytics-key.service.js';
import { GroupAccumulator, storedCiphertext } from '../src/analytics/tasks/aggregation.js';
import { loadOrBuildDiscreteLogTable } from '../src/analytics/tasks/discrete-log-cache.js';
import { LARGE_BABY_STEPS, MAX_TOTAL, configureDiscreteLogCache, discreteLogBuildTimes, largeTableAsync, solveTotalAsync } from '../src/analytics/tasks/discrete-log-solver.js';
import { NO_GROUP, slotMax } from '../src/analytics/tasks/statistics.js';
import { AGGREGATION_BATCH, MAX_COHORT, MIN_COHORT, PARTIALS_DIGEST_DOMAIN, TasksService, partialContext } from '../src/analytics/tasks/tasks.service.js';
import type { ApproveTaskDto, DefineTaskDto, SubmitPartialsDto } from '../src/analytics/tasks/tasks.dto.js';
import { RegulatorDirectory } from '../src/analytics/regulators/regulator-directory.js';
import { signedDigest } from '../src/analytics/signed-digest.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BASE_AMOUNT_MAX, BULK_STEP_MS, BULK_WINDOW, PAYERS, SyntheticPayments, createPlainTwin } from './lib/analytics-bulk.js';
import { dealKeySet, insertActiveKeySet, type BenchKeySet } from './lib/analytics-keyset.js';
import { openBenchDatabase, type Backend, type BenchDatabase } from './lib/bench-db.js';
import { loadAverages, machineInfo, projectRoot, writeResults, optionReader } from './lib/harness.js';
import { fig, log, median, now, percentile, prng, round, summarize } from './lib/stats.js';
import type { DataSource } from 'typeorm';

const ROOT = projectRoot();
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/privacy_bench_analytics';
const THRESHOLD = 3;
const REGULATORS = 5;

interface Options {
  quick: boolean;
  backend: Backend;
  /** Payments proved and ingested through the service (one more is proved as a warm-up). */
  payments: number;
  sizes: number[];
  /** Encrypted aggregations per size (the largest size gets one fewer, at least 1). */
  reps: number;
  /** Plain SQL aggregates per encrypted one. */
  plainReps: number;
  /** Threshold decryptions of the total, and discrete-log lookups per magnitude. */
  decryptReps: number;
  out: string;
  keepDb: boolean;
  ingestion: boolean;
  aggregation: boolean;
  decryption: boolean;
}

function parseArgs(argv: string[]): Options {
  const known = new Set(['--quick', '--backend', '--payments', '--sizes', '--reps', '--out', '--keep-db', '--skip-ingestion', '--skip-aggregation', '--skip-decryption']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
  const { get, int } = optionReader(argv);
  const quick = argv.includes('--quick');
  const backend = (get('--backend') ?? 'postgresql') as Backend;
  if (backend !== 'postgresql' && backend !== 'pglite') throw new Error('--backend must be postgresql or pglite');
  const sizes = (get('--sizes') ?? (quick || backend === 'pglite' ? '100000' : '100000,1000000')).split(',').map(Number);
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < MIN_COHORT) || sizes.some((s, i) => i > 0 && s <= sizes[i - 1]!)) {
    throw new Error(`--sizes must be ascending integers >= ${MIN_COHORT}`);
  }
  const suffix = `${backend === 'pglite' ? '-pglite' : ''}${quick ? '-quick' : ''}`;
  return {
    quick,
    backend,
    payments: int('--payments', quick ? 4 : 16),
    sizes,
    reps: int('--reps', quick ? 2 : 3),
    plainReps: 3,
    decryptReps: quick ? 3 : 5,
    out: path.resolve(get('--out') ?? path.join(ROOT, 'bench', 'results', `analytics${suffix}.json`)),
    keepDb: argv.includes('--keep-db'),
    ingestion: !argv.includes('--skip-ingestion'),
    aggregation: !argv.includes('--skip-aggregation'),
    decryption: !argv.includes('--skip-decryption'),
  };
}

// ---------------------------------------------------------------------------------------------
// Machine load and memory, sampled through the run (the machine is shared)

const loadSamples: number[] = [];
const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]!), 5000);
loadTimer.unref();

const mib = (bytes: number) => bytes / 2 ** 20;
/** Peak resident set size of this process so far (MiB). */
const peakRss = () => mib(process.resourceUsage().maxRSS * 1024);
const rssNow = () => mib(process.memoryUsage().rss);

// ---------------------------------------------------------------------------------------------
// 1. Ingestion

interface ProvedPayment {
  dto: RecordPaymentDto;
  amount: bigint;
  crossBorder: boolean;
  ciphertexts: Ciphertext[];
  commitment: bigint;
  binding: bigint;
}

async function provePayments(count: number, ks: BenchKeySet): Promise<{ payments: ProvedPayment[]; provingMs: number[] }> {
  const slotKeys = FEATURE_SLOTS.map((s) => ks.publicKeys[s].groupPublicKey);
  const rand = prng(4242);
  const payments: ProvedPayment[] = [];
  const provingMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const payer = `acct_${(0xa0000000 + i).toString(16)}`;
    const payee = `acct_${(0xd0000000 + i).toString(16)}`;
    // Before the bulk window, so the aggregation cohorts hold the synthetic rows only.
    const occurredAt = new Date(Date.UTC(2025, 11, 1) + i * 60_000).toISOString();
    const reference = `ingest-${i}`;
    const amount = 1n + BigInt(Math.floor(rand() * BASE_AMOUNT_MAX));
    const crossBorder = i % 5 === 0;
    const binding = paymentBinding({ payer, payee, timestamp: occurredAt, reference });
    const t = now();
    const proved = await provePayment({ amount, crossBorder, binding, slotKeys });
    provingMs.push(now() - t);
    payments.push({
      dto: {
        payer,
        payee,
        occurredAt,
        reference,
        commitment: proved.commitment.toString(),
        ciphertexts: encodeCiphertexts(proved.ciphertexts) as unknown as Record<string, unknown>[],
        proof: proved.proof as unknown as Record<string, unknown>,
      },
      amount,
      crossBorder,
      ciphertexts: proved.ciphertexts,
      commitment: proved.commitment,
      binding,
    });
    log(`ingestion: proved payment ${i + 1}/${count} in ${round(provingMs.at(-1)!, 3)} ms`);
  }
  return { payments, provingMs };
}

async function expectProblem(status: number, fn: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ProblemError && e.status === status) return `${status}: ${e.message}`;
    throw new Error(`${what}: expected a ${status} problem, got ${e instanceof Error ? e.message : String(e)}`);
  }
  throw new Error(`${what}: expected a ${status} problem, but it succeeded`);
}

async function ingestionBenchmark(ds: DataSource, ks: BenchKeySet, svc: PaymentsService, keys: AnalyticsKeyService, proved: ProvedPayment[]) {
  const actor: AuthenticatedPrincipal = { id: randomUUID(), name: 'benchmark-wallet', role: 'wallet-app', keyPrefix: 'bench' };
  const slotKeys = FEATURE_SLOTS.map((s) => ks.publicKeys[s].groupPublicKey);
  await createPlainTwin(ds, 'bench_plain_ingest');
  const plainInsert = (p: ProvedPayment) =>
    ds.query(`INSERT INTO bench_plain_ingest (payer, payee, occurred_at, reference, amount, bucket, cross_border, key_set_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      p.dto.payer,
      p.dto.payee,
      new Date(p.dto.occurredAt),
      p.dto.reference,
      p.amount.toString(),
      0,
      p.crossBorder,
      ks.id,
    ]);
  // What PaymentsService.record verifies besides the database: the six points decoded with
  // curve and subgroup checks, and the proof against signals recomputed from them.
  const decode = (p: ProvedPayment) => (p.dto.ciphertexts as unknown[]).map((c, i) => decodeCiphertext(c, `ciphertexts[${i}]`));
  const verifyAlone = async (p: ProvedPayment) => {
    const ok = await verifyPaymentProof(p.dto.proof, paymentPublicSignals({ commitment: p.commitment, binding: p.binding, slotKeys, ciphertexts: p.ciphertexts }));
    if (!ok) throw new Error(`payment ${p.dto.reference}: its proof does not verify`);
  };

  // Warm-up with the extra payment: the first verification builds the pairing engine.
  const [warm, ...measured] = proved;
  let t = now();
  await verifyAlone(warm!);
  const coldVerifyMs = now() - t;
  t = now();
  const warmStored = await svc.record(actor, warm!.dto);
  const firstRecordMs = now() - t;
  await plainInsert(warm!);
  log(`ingestion: warm-up: first verification ${round(coldVerifyMs, 3)} ms, first record ${round(firstRecordMs, 3)} ms`);

  const recordMs: number[] = [];
  const verifyMs: number[] = [];
  const decodeMs: number[] = [];
  const plainMs: number[] = [];
  const keySetMs: number[] = [];
  const readBackMs: number[] = [];
  for (let i = 0; i < measured.length; i++) {
    const p = measured[i]!;
    // Rotate the order, so a load drift of the shared machine hits all three sides.
    const order = ['record', 'verify', 'plain'];
    for (let j = 0; j < i % 3; j++) order.push(order.shift()!);
    for (const side of order) {
      const s = now();
      if (side === 'record') {
        const stored = await svc.record(actor, p.dto);
        recordMs.push(now() - s);
        if (stored.commitment !== p.dto.commitment || stored.keySetId !== ks.id) throw new Error('record returned another payment');
      } else if (side === 'verify') {
        decode(p);
        decodeMs.push(now() - s);
        const v = now();
        await verifyAlone(p);
        verifyMs.push(now() - v);
        // Two further steps of record, timed alone: it loads the active key set (six threshold
        // keys decoded with subgroup checks) and, after the commit, reads the payment back (get).
        const k = now();
        await keys.activeKeySet();
        keySetMs.push(now() - k);
        const g = now();
        await svc.get(warmStored.id);
        readBackMs.push(now() - g);
      } else {
        await plainInsert(p);
        plainMs.push(now() - s);
      }
    }
    log(`ingestion ${i + 1}/${measured.length}: record ${round(recordMs.at(-1)!, 3)} ms, verify alone ${round(verifyMs.at(-1)!, 3)} ms, plain INSERT ${round(plainMs.at(-1)!, 3)} ms`);
  }

  // The path refuses what it must, and stores nothing then.
  const count = async () => Number((await ds.query(`SELECT count(*)::int AS n FROM analytics_payment`))[0].n);
  const events = async () => Number((await ds.query(`SELECT count(*)::int AS n FROM audit_event WHERE type = 'analytics.payment.recorded'`))[0].n);
  const before = { payments: await count(), events: await events() };
  if (before.payments !== proved.length || before.events !== proved.length) throw new Error(`expected ${proved.length} payments and audit events, found ${before.payments} and ${before.events}`);
  const a = measured[0] ?? warm!;
  const b = measured[1] ?? warm!;
  const replay = await expectProblem(409, () => svc.record(actor, a.dto), 'replay');
  const swapped = { ...a.dto, reference: 'bench-swapped', ciphertexts: [b.dto.ciphertexts[0]!, ...a.dto.ciphertexts.slice(1)] };
  const mismatch = a === b ? 'skipped (one payment)' : await expectProblem(422, () => svc.record(actor, swapped), 'swapped ciphertext');
  const after = { payments: await count(), events: await events() };
  if (after.payments !== before.payments || after.events !== before.events) throw new Error('a refused payment left a row or an event');

  const total = recordMs.reduce((x, y) => x + y, 0);
  const verifyTotal = verifyMs.reduce((x, y) => x + y, 0);
  const plainTotal = plainMs.reduce((x, y) => x + y, 0);
  const rec = summarize(recordMs, 'ms per payment (PaymentsService.record: decode + subgroup checks, Groth16 verify, insert + audit event in one transaction)');
  const ver = summarize(verifyMs, 'ms per payment (paymentPublicSignals + verifyPaymentProof, no database)');
  const pla = summarize(plainMs, 'ms per payment (one plain INSERT, autocommit, amount in clear)');
  log(`ingestion: record p50 ${rec.p50} ms (${round((1000 * recordMs.length) / total, 3)}/s), verify alone p50 ${ver.p50} ms, plain INSERT p50 ${pla.p50} ms`);
  return {
    method:
      `${measured.length} payments, each with its own real Groth16 proof (provePayment, bound to its payer, payee, time and ` +
      'reference) under the active 3-of-5 key set, recorded one after the other through PaymentsService.record (the code ' +
      'behind POST /analytics/payments, without HTTP). Same run, same rows, order rotated per payment: verifyPaymentProof ' +
      'alone (with the public signals recomputed as the service does; the curve and subgroup decoding of the six ' +
      'ciphertexts timed apart), and a plain INSERT of the payment\'s facts with the amount in clear into a scratch table ' +
      '(bench_plain_ingest: same filter columns and indexes). One extra payment was proved and ingested first as a warm-up. ' +
      'AuditService is constructed without its HSM checkpoint signer: append() never uses it (checkpoints are signed by a timer).',
    payments: measured.length,
    proving: undefined as unknown,
    coldFirstVerification: fig(coldVerifyMs, 'ms (first verifyPaymentProof of the process: builds the pairing engine)'),
    firstRecord: fig(firstRecordMs, 'ms (first PaymentsService.record, warm verifier)'),
    record: rec,
    paymentsPerSecond: fig((1000 * recordMs.length) / total, 'payments/s (sequential, one caller: n / sum of latencies)'),
    verifyAlone: ver,
    verificationsPerSecond: fig((1000 * verifyMs.length) / verifyTotal, 'verifications/s (sequential)'),
    decodeWithSubgroupChecks: summarize(decodeMs, 'ms per payment (decodeCiphertext of the six ciphertexts: curve and subgroup checks)'),
    activeKeySetLoad: summarize(keySetMs, 'ms (AnalyticsKeyService.activeKeySet: two queries, 6 threshold keys x 6 points decoded with subgroup checks; record calls it once)'),
    readBack: summarize(readBackMs, 'ms (PaymentsService.get, which record returns: the key set loaded again, public signals recomputed)'),
    plainInsert: pla,
    plainInsertsPerSecond: fig((1000 * plainMs.length) / plainTotal, 'rows/s (sequential)'),
    recordOverPlainP50: fig(rec.p50 / pla.p50, 'x (record p50 / plain INSERT p50)'),
    verifyShareOfRecordP50: fig(ver.p50 / rec.p50, 'fraction (verify alone p50 / record p50)'),
    checks: {
      rowsAndAuditEvents: `${after.payments} payments and ${after.events} analytics.payment.recorded events (warm-up included)`,
      replayRefused: replay,
      swappedCiphertextRefused: mismatch,
      nothingStoredOnRefusal: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Aggregation

interface CohortAggregate {
  queryMs: number;
  aggregateMs: number;
  totalMs: number;
  rows: number;
  groups: number;
  suppressed: number;
  aggregates: ReturnType<GroupAccumulator['finish']>['aggregates'];
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/**
 * What the aggregation job (TasksService.runAggregation -> sumCohort) does for a `sum` task over
 * the amount slot, outside its transactions: count the cohort per group, then stream the cohort
 * in (occurred_at, id) keyset-paginated batches of AGGREGATION_BATCH rows into a GroupAccumulator.
 * sumCohort is private, so its two queries are reproduced verbatim from
 * src/analytics/tasks/tasks.service.ts; the summing is the service's own GroupAccumulator.
 */
async function serviceAggregation(ds: DataSource, keySetId: string, recordedUpTo: Date, groupBy: 'none' | 'payer'): Promise<CohortAggregate> {
  const slots: FeatureSlot[] = ['amount'];
  const byPayer = groupBy === 'payer';
  const params = [keySetId, BULK_WINDOW.from, BULK_WINDOW.to, recordedUpTo];
  const cohortWhere = `key_set_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND recorded_at <= $4`;
  const t0 = now();
  let queryMs = 0;
  let q = now();
  const counts: { g: string; n: number }[] = await ds.query(
    `SELECT ${byPayer ? 'payer' : `'${NO_GROUP}'`} AS g, count(*)::int AS n FROM analytics_payment WHERE ${cohortWhere} GROUP BY 1`,
    params,
  );
  queryMs += now() - q;
  const acc = new GroupAccumulator(slots, new Map(counts.map((c) => [String(c.g), Number(c.n)])), MIN_COHORT);
  const positions = slots.map((slot) => FEATURE_SLOTS.indexOf(slot));
  const columns = positions.map((i) => `, ciphertexts->${i} AS c${i}`).join('');
  let cursor: [string, string] | null = null;
  let rowsRead = 0;
  for (;;) {
    q = now();
    const rows: Record<string, unknown>[] = await ds.query(
      `SELECT id, occurred_at::text AS at, payer${columns} FROM analytics_payment
          WHERE ${cohortWhere} AND ($5::timestamptz IS NULL OR (occurred_at, id) > ($5::timestamptz, $6::uuid))
          ORDER BY occurred_at, id LIMIT ${AGGREGATION_BATCH}`,
      [...params, cursor?.[0] ?? null, cursor?.[1] ?? null],
    );
    queryMs += now() - q;
    rowsRead += rows.length;
    for (const r of rows) {
      acc.add(byPayer ? String(r.payer) : NO_GROUP, positions.map((i) => parseJson<EncodedCiphertext>(r[`c${i}`])));
    }
    if (rows.length < AGGREGATION_BATCH) break;
    const last = rows[rows.length - 1]!;
    cursor = [String(last.at), String(last.id)];
  }
  const { aggregates, suppressed } = acc.finish();
  const totalMs = now() - t0;
  return { queryMs, aggregateMs: totalMs - queryMs, totalMs, rows: rowsRead, groups: aggregates.length, suppressed, aggregates };
}

const PLAIN_SUM = `SELECT sum(amount)::text AS total, count(*)::int AS n FROM bench_plain_payment
   WHERE key_set_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND recorded_at <= $4`;
const PLAIN_GROUPED = `SELECT payer, sum(amount)::text AS total, count(*)::int AS n FROM bench_plain_payment
   WHERE key_set_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND recorded_at <= $4 GROUP BY payer`;

/** What section 3 decrypts, and the plaintext it must match. */
interface DecryptionTarget {
  size: number;
  ciphertext: EncodedCiphertext;
  payments: number;
  expected: bigint;
  /** A few per-payer aggregates and their plaintext sums. */
  groups: { group: string; ciphertext: EncodedCiphertext; payments: number; expected: bigint }[];
}

async function aggregationBenchmark(opts: Options, ds: DataSource, ks: BenchKeySet, proofJson: string, targets: DecryptionTarget[]) {
  const rssBefore = rssNow();
  await createPlainTwin(ds);
  const slotKeys = FEATURE_SLOTS.map((s) => ks.publicKeys[s].groupPublicKey);
  const synthetic = new SyntheticPayments(ds, ks.id, slotKeys, proofJson);
  log(`aggregation: pool of 1,000 amount ciphertexts and 640 flag ciphertexts encrypted in ${round(synthetic.poolMs, 3)} ms`);
  const results: Record<string, unknown> = {};
  let filled = 0;
  let amountSum = 0n;
  let buildMs = 0;
  let insertMs = 0;
  for (const [n, size] of opts.sizes.entries()) {
    const tFill = now();
    let lastLog = now();
    const fill = await synthetic.fill(filled, size, (done) => {
      if (now() - lastLog > 10_000 || done === size) {
        lastLog = now();
        log(`aggregation: bulk rows ${done.toLocaleString('en')}/${size.toLocaleString('en')} (peak RSS ${round(peakRss(), 3)} MiB)`);
      }
    });
    filled = size;
    amountSum += fill.amountSum;
    buildMs += fill.buildMs;
    insertMs += fill.insertMs;
    await ds.query(`ANALYZE analytics_payment`);
    await ds.query(`ANALYZE bench_plain_payment`);
    const fillSeconds = (now() - tFill) / 1000;
    const [{ cutoff }] = await ds.query(`SELECT clock_timestamp() AS cutoff`);
    const recordedUpTo = new Date(cutoff);
    const params = [ks.id, BULK_WINDOW.from, BULK_WINDOW.to, recordedUpTo];
    const [{ bytes }] = await ds.query(`SELECT pg_total_relation_size('analytics_payment')::bigint AS bytes`);
    const [{ plainBytes }] = await ds.query(`SELECT pg_total_relation_size('bench_plain_payment')::bigint AS "plainBytes"`);
    log(`aggregation: ${size.toLocaleString('en')} rows loaded in ${round(fillSeconds, 3)} s; analytics_payment ${round(mib(Number(bytes)), 3)} MiB, twin ${round(mib(Number(plainBytes)), 3)} MiB`);

    const reps = n === opts.sizes.length - 1 && opts.sizes.length > 1 ? Math.max(1, opts.reps - 1) : opts.reps;
    const enc: Record<'none' | 'payer', CohortAggregate[]> = { none: [], payer: [] };
    const plain: Record<'none' | 'payer', number[]> = { none: [], payer: [] };
    let plainTotal: { total: string; n: number } | undefined;
    let plainGroups: { payer: string; total: string; n: number }[] = [];
    const rssAfter: number[] = [];
    for (let r = 0; r < reps; r++) {
      for (const groupBy of ['none', 'payer'] as const) {
        for (let p = 0; p < opts.plainReps; p++) {
          const t = now();
          const rows = await ds.query(groupBy === 'none' ? PLAIN_SUM : PLAIN_GROUPED, params);
          plain[groupBy].push(now() - t);
          if (groupBy === 'none') plainTotal = rows[0];
          else plainGroups = rows;
        }
        const a = await serviceAggregation(ds, ks.id, recordedUpTo, groupBy);
        // Keep only what is needed after this point: the aggregates are small, the rows are gone.
        enc[groupBy].push(a);
        rssAfter.push(rssNow());
        log(
          `aggregation ${size.toLocaleString('en')} ${groupBy === 'none' ? 'whole window' : 'per payer'} ${r + 1}/${reps}: ` +
            `encrypted ${round(a.totalMs, 3)} ms (query ${round(a.queryMs, 3)} + sum ${round(a.aggregateMs, 3)}), ` +
            `SQL ${round(median(plain[groupBy].slice(-opts.plainReps)), 3)} ms; peak RSS ${round(peakRss(), 3)} MiB`,
        );
      }
    }
    // Checks: same cohort on both sides; the tracked plaintext total is the twin's.
    const whole = enc.none.at(-1)!;
    const perPayer = enc.payer.at(-1)!;
    if (whole.rows !== size || Number(plainTotal!.n) !== size) throw new Error(`cohort of ${whole.rows} encrypted / ${plainTotal!.n} plain rows, expected ${size}`);
    if (BigInt(plainTotal!.total) !== amountSum) throw new Error('the twin table total differs from the tracked plaintext sum');
    const plainByPayer = new Map(plainGroups.map((g) => [g.payer, g]));
    const kept = plainGroups.filter((g) => Number(g.n) >= MIN_COHORT).length;
    if (perPayer.groups !== kept || perPayer.groups + perPayer.suppressed !== plainGroups.length) throw new Error('per-payer groups differ between the encrypted and the plain aggregation');
    for (const g of perPayer.aggregates) if (Number(plainByPayer.get(g.group)?.n) !== g.payments) throw new Error(`group ${g.group}: payment counts differ`);
    const sample = perPayer.aggregates.filter((_, i) => i % Math.ceil(perPayer.aggregates.length / 3) === 0).slice(0, 3);
    targets.push({
      size,
      ciphertext: whole.aggregates[0]!.ciphertexts.amount!,
      payments: whole.aggregates[0]!.payments,
      expected: amountSum,
      groups: sample.map((g) => ({ group: g.group, ciphertext: g.ciphertexts.amount!, payments: g.payments, expected: BigInt(plainByPayer.get(g.group)!.total) })),
    });

    const side = (groupBy: 'none' | 'payer') => {
      const e = enc[groupBy];
      const encP50 = median(e.map((x) => x.totalMs));
      const plainP50 = median(plain[groupBy]);
      return {
        encrypted: summarize(e.map((x) => x.totalMs), 'ms (cohort count + streamed batches into GroupAccumulator)'),
        encryptedQuery: summarize(e.map((x) => x.queryMs), 'ms (waiting for the count and the batch queries: rows with the amount ciphertext to the process)'),
        encryptedSum: summarize(e.map((x) => x.aggregateMs), 'ms (in process: jsonb rows parsed, point additions, encoding)'),
        perPaymentEncrypted: fig((1000 * encP50) / size, 'us per payment (encrypted p50 / rows)'),
        plainSql: summarize(plain[groupBy], groupBy === 'none' ? 'ms (SELECT sum(amount) on the twin table)' : 'ms (SELECT payer, sum(amount), count(*) ... GROUP BY payer on the twin table)'),
        encryptedOverPlainP50: fig(encP50 / plainP50, 'x (encrypted p50 / plain SQL p50)'),
        groups: groupBy === 'none' ? 1 : e.at(-1)!.groups,
        suppressedGroups: e.at(-1)!.suppressed,
      };
    };
    results[String(size)] = {
      rows: size,
      fill: {
        wallTime: fig(fillSeconds, 's (build + insert of the rows added for this size, both tables, + ANALYZE)'),
        analyticsPaymentBytes: fig(Number(bytes), 'bytes (pg_total_relation_size: table, TOAST, indexes)'),
        bytesPerPayment: fig(Number(bytes) / size, 'bytes per payment (analytics_payment, with the synthetic rows\' placeholder proof)'),
        plainTwinBytes: fig(Number(plainBytes), 'bytes'),
      },
      wholeWindow: side('none'),
      perPayer: side('payer'),
      peakRss: fig(peakRss(), 'MiB (process maximum resident set size so far: includes the cached rows of earlier sizes until collected)'),
      rssAfterAggregation: fig(Math.max(...rssAfter), 'MiB (largest RSS sampled right after an encrypted aggregation)'),
      aboveServiceCohortLimit: size > MAX_COHORT,
    };
  }
  return {
    method:
      'Synthetic payments bulk-loaded into analytics_payment (bench/lib/analytics-bulk.ts: valid ciphertexts under the ' +
      'active slot keys, amount ciphertext = homomorphic sum of a pair from 1,000 fresh encryptions of known amounts, ' +
      'so every plaintext is known; these rows SKIP proof verification and the audit log, and carry a placeholder ' +
      'commitment and another payment\'s proof) plus a plaintext twin table (bench_plain_payment, same filter columns and ' +
      'indexes). Encrypted: what the aggregation job (TasksService.runAggregation -> sumCohort, private, its queries ' +
      'reproduced) does for a sum task over the amount slot: the cohort count per group, then keyset-paginated batches of ' +
      `${AGGREGATION_BATCH.toLocaleString('en')} rows streamed into the service's GroupAccumulator; whole window and grouped per payer (${PAYERS.toLocaleString('en')} payers, ` +
      `groups below the minimum cohort of ${MIN_COHORT} suppressed). Plain: SELECT sum(amount) / GROUP BY payer with the same ` +
      `WHERE clause. Per size: ${opts.reps} rounds (one fewer at the largest size), each ${opts.plainReps} plain queries then one ` +
      `encrypted aggregation, whole window then per payer. The service caps a task at ${MAX_COHORT.toLocaleString('en')} payments (MAX_COHORT).`,
    baseAmounts: `uniform in [1, ${BASE_AMOUNT_MAX.toLocaleString('en')}]; a payment's amount is the sum of two`,
    rssBeforeAggregation: fig(rssBefore, 'MiB (RSS when the section started: the process after proving and ingestion)'),
    poolEncryption: fig(synthetic.poolMs, 'ms (1,000 amount + 640 flag encryptions)'),
    bulkBuild: fig(buildMs, 'ms in process (pair sums, encoding, hashes, bindings) over all sizes'),
    bulkInsert: fig(insertMs, 'ms waiting for the database (INSERT ... SELECT FROM unnest, 5,000 rows per statement, both tables)'),
    sizes: results,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Threshold decryption of a 40-bit total

const SUBSETS = [
  [1, 2, 3],
  [2, 4, 5],
  [1, 3, 5],
  [3, 4, 5],
  [1, 2, 4],
];

function regulatorPartials(ks: BenchKeySet, slot: FeatureSlot, ct: Ciphertext, indices: readonly number[], context: string) {
  const ms: number[] = [];
  const partials: PartialDecryption[] = [];
  for (const i of indices) {
    const t = now();
    partials.push(partialDecrypt(ct, ks.shares[slot][i - 1]!, context));
    ms.push(now() - t);
  }
  return { partials, ms };
}

async function decryptionBenchmark(opts: Options, ds: DataSource, ks: BenchKeySet, targets: DecryptionTarget[], cacheDir: string) {
  const key = ks.publicKeys.amount;
  // The service's solver (solveTotalAsync) builds the small table on first use and gets the large
  // one from largeTableAsync: built in a worker thread, then cached on disk; time both apart.
  let t = now();
  const small = await solveTotalAsync(G.multiply(12_345n));
  const firstSmallMs = now() - t;
  t = now();
  await largeTableAsync();
  const largeReadyMs = now() - t;
  const firstLarge = (1n << 39n) + 987_654_321n;
  if (small !== 12_345n || (await solveTotalAsync(G.multiply(firstLarge))) !== firstLarge) throw new Error('the discrete-log solver returned a wrong value');
  const built = discreteLogBuildTimes.largeLoaded;
  // What a later process pays: loading the snapshot this one cached.
  const reloaded = await loadOrBuildDiscreteLogTable(LARGE_BABY_STEPS, cacheDir);
  log(
    `decryption: tables: small built in ${round(discreteLogBuildTimes.small ?? NaN, 3)} ms; large ${built?.source ?? '?'} in ${round(built?.ms ?? NaN, 3)} ms ` +
      `(${round(largeReadyMs, 3)} ms until ready), then loaded from the disk cache (${reloaded.source}) in ${round(reloaded.ms, 3)} ms`,
  );

  // Lookups near 2^20, 2^32 and 2^40 with the bound a task over many payments has (2^40 - 1).
  const rand = prng(99);
  const lookups: Record<string, unknown> = {};
  for (const bits of [20, 32, 40]) {
    const ms: number[] = [];
    for (let r = 0; r < opts.decryptReps; r++) {
      const m = (1n << BigInt(bits)) - 1n - BigInt(Math.floor(rand() * 65_536));
      const point = G.multiply(m);
      const s = now();
      const found = await solveTotalAsync(point, MAX_TOTAL);
      ms.push(now() - s);
      if (found !== m) throw new Error(`discrete log near 2^${bits}: wrong value`);
    }
    lookups[`near2^${bits}`] = summarize(ms, `ms (solveTotalAsync of m*G, m = 2^${bits} - 1 - [0, 65535), bound 2^40 - 1; tables ready)`);
    log(`decryption: lookup near 2^${bits}: p50 ${round(median(ms), 3)} ms`);
  }

  // The pipeline on the largest aggregated total.
  const target = targets.at(-1)!;
  const ct = storedCiphertext(target.ciphertext);
  const bound = BigInt(target.payments) * slotMax('amount');
  const serviceBound = bound < MAX_TOTAL ? bound : MAX_TOTAL;
  const steps = { partial: [] as number[], verify: [] as number[], combine: [] as number[], solve: [] as number[], total: [] as number[] };
  const plainMs: number[] = [];
  for (let r = 0; r < opts.decryptReps; r++) {
    const s = now();
    await ds.query(PLAIN_SUM, [ks.id, BULK_WINDOW.from, BULK_WINDOW.to, new Date()]);
    plainMs.push(now() - s);
    const context = partialContext(randomUUID(), randomUUID());
    const subset = SUBSETS[r % SUBSETS.length]!;
    const { partials, ms } = regulatorPartials(ks, 'amount', ct, subset, context);
    let v = now();
    // The service checks each submission's proofs (submitPartials) ...
    for (const p of partials) if (!verifyPartialDecryption(ct, p, key, context)) throw new Error(`partial of regulator ${p.index} does not verify`);
    const verifyMs = now() - v;
    // ... and again when the k-th arrives (combinePartialDecryptions), then solves the discrete log.
    v = now();
    const combined = combinePartialDecryptions(ct, partials, key, context);
    const combineMs = now() - v;
    v = now();
    const value = await solveTotalAsync(combined.plaintextPoint, serviceBound);
    const solveMs = now() - v;
    if (value !== target.expected) throw new Error(`decrypted total ${value} differs from the plaintext sum ${target.expected}`);
    steps.partial.push(...ms);
    steps.verify.push(verifyMs);
    steps.combine.push(combineMs);
    steps.solve.push(solveMs);
    steps.total.push(ms.reduce((a, b) => a + b, 0) + verifyMs + combineMs + solveMs);
    log(`decryption ${r + 1}/${opts.decryptReps} (regulators ${subset.join(', ')}): total ${round(steps.total.at(-1)!, 3)} ms (solve ${round(solveMs, 3)} ms); SQL sum ${round(plainMs.at(-1)!, 3)} ms`);
  }

  // Every aggregated total and the sampled per-payer totals decrypt to the plaintext sums.
  const checked: string[] = [];
  for (const tg of targets) {
    for (const item of [{ group: 'whole window', ciphertext: tg.ciphertext, payments: tg.payments, expected: tg.expected }, ...tg.groups]) {
      const c = storedCiphertext(item.ciphertext);
      const context = partialContext(randomUUID(), randomUUID());
      const { partials } = regulatorPartials(ks, 'amount', c, [1, 4, 5], context);
      const b = BigInt(item.payments) * slotMax('amount');
      const value = await solveTotalAsync(combinePartialDecryptions(c, partials, key, context).plaintextPoint, b < MAX_TOTAL ? b : MAX_TOTAL);
      if (value !== item.expected) throw new Error(`size ${tg.size}, ${item.group}: decrypted ${value}, plaintext ${item.expected}`);
    }
    checked.push(`${tg.size.toLocaleString('en')} rows: whole-window total ${tg.expected} (${tg.expected.toString(2).length} bits) and ${tg.groups.length} per-payer totals equal the twin table's sums`);
  }
  // Refusals: k - 1 partials do not decrypt; a forged partial is named and the others still combine.
  const context = partialContext(randomUUID(), randomUUID());
  const { partials } = regulatorPartials(ks, 'amount', ct, [1, 2, 3, 4], context);
  let quorumRefusal = '';
  try {
    combinePartialDecryptions(ct, partials.slice(0, THRESHOLD - 1), key, context);
  } catch (e) {
    if (e instanceof QuorumNotReachedError) quorumRefusal = e.message;
    else throw e;
  }
  if (!quorumRefusal) throw new Error(`${THRESHOLD - 1} partials combined`);
  const forged = { ...partials[1]!, share: partials[1]!.share.add(G) };
  const withForgery = combinePartialDecryptions(ct, [partials[0]!, forged, partials[2]!, partials[3]!], key, context);
  if (withForgery.rejected[0]?.index !== 2 || (await solveTotalAsync(withForgery.plaintextPoint, serviceBound)) !== target.expected) throw new Error('a forged partial was not named or spoiled the result');

  const total = summarize(steps.total, 'ms (3 partial decryptions + 3 verifications + combination + discrete log)');
  const plain = summarize(plainMs, 'ms (SELECT sum(amount) on the twin table, same rows)');
  return {
    method:
      `The whole-window amount total of the largest size (${target.payments.toLocaleString('en')} payments, ${target.expected} = ` +
      `${target.expected.toString(2).length} bits) decrypted ${opts.decryptReps} times by a rotating 3-of-5 subset: ` +
      'partialDecrypt per regulator (x_i*c1 with its Chaum-Pedersen proof; what each regulator\'s client computes), ' +
      'verifyPartialDecryption of each (TasksService.submitPartials), combinePartialDecryptions (which verifies again, as ' +
      'TasksService.runCombination does) and solveTotalAsync with the service\'s bound (payments x the slot maximum, capped ' +
      'at 2^40 - 1). Discrete-log tables are the service\'s process-wide ones (src/analytics/tasks/discrete-log-solver.ts), ' +
      'made ready before the measured calls. Baseline: the SQL sum over the twin table, interleaved.',
    total: target.expected.toString(),
    totalBits: target.expected.toString(2).length,
    payments: target.payments,
    solverBound: serviceBound.toString(),
    tableBuild: {
      small: fig(discreteLogBuildTimes.small ?? NaN, 'ms (2^16 baby steps, built on the calling thread once per process)'),
      large: fig(built?.ms ?? NaN, `ms (2^22 baby steps: ${built?.source ?? '?'} by largeTableAsync, in a worker thread, then written to the disk cache)`),
      largeUntilReady: fig(largeReadyMs, 'ms (largeTableAsync until the table is usable, as the first 40-bit decryption of a fresh process without a cache waits)'),
      largeFromDiskCache: fig(reloaded.source === 'cache' ? reloaded.ms : NaN, 'ms (loadOrBuildDiscreteLogTable from the snapshot: what a later process pays)'),
      firstSolveBelow2to32: fig(firstSmallMs, 'ms (first solveTotalAsync of a small value: builds the small table)'),
    },
    lookups,
    partialDecryption: summarize(steps.partial, 'ms per regulator (partialDecrypt: share and Chaum-Pedersen proof)'),
    verifyPartials: summarize(steps.verify, 'ms per decryption (3 verifyPartialDecryption)'),
    combine: summarize(steps.combine, 'ms (combinePartialDecryptions: 3 verifications again + Lagrange combination)'),
    discreteLog: summarize(steps.solve, 'ms (solveTotalAsync with the service bound, tables ready)'),
    thresholdDecryption: total,
    plainSqlSum: plain,
    decryptionOverPlainSumP50: fig(total.p50 / plain.p50, 'x (threshold decryption p50 / SQL sum p50)'),
    checks: {
      totals: checked,
      quorumRefusal,
      forgedPartialNamed: `regulator ${withForgery.rejected[0]!.index}: ${withForgery.rejected[0]!.reason}; combined from ${withForgery.used.join(', ')}`,
    },
  };
}


// ---------------------------------------------------------------------------------------------
// 4. One computation task through TasksService (define, k approvals with aggregation, k partials)

async function serviceTaskBenchmark(ds: DataSource, ks: BenchKeySet, audit: AuditService, keys: AnalyticsKeyService, targets: DecryptionTarget[]) {
  const target = targets.at(-1)!;
  if (target.size > MAX_COHORT) return { skipped: `the largest size (${target.size}) is above the service's cohort limit of ${MAX_COHORT}` };
  const tasks = new TasksService(ds, audit, new RegulatorDirectory(ds), keys);
  // The five regulators as the service knows them: principals with P-256 signing keys.
  const secrets = new Map<string, Uint8Array>();
  const actors = new Map<string, AuthenticatedPrincipal>();
  for (const r of ks.regulators) {
    const secret = p256.utils.randomSecretKey();
    const [p] = await ds.query(`INSERT INTO principal (name, role) VALUES ($1, 'regulator') RETURNING id`, [r.name]);
    await ds.query(`INSERT INTO analytics_regulator (name, principal_id, signing_curve, signing_key, encryption_key) VALUES ($1, $2, 'p256', $3, $4)`, [
      r.name,
      String(p.id),
      Buffer.from(p256.getPublicKey(secret, true)).toString('hex'),
      Buffer.from(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)).toString('hex'),
    ]);
    secrets.set(r.name, secret);
    actors.set(r.name, { id: String(p.id), name: r.name, role: 'regulator', keyPrefix: 'bench' });
  }
  const sign = (name: string, digest: Uint8Array) => Buffer.from(p256.sign(digest, secrets.get(name)!, { prehash: false })).toString('hex');
  const quorum = ks.regulators.slice(0, THRESHOLD);
  const first = quorum[0]!.name;

  // A window holding exactly the first `size` synthetic payments (all of them).
  const window = { from: BULK_WINDOW.from.toISOString(), to: new Date(BULK_WINDOW.from.getTime() + target.size * BULK_STEP_MS).toISOString() };
  let t = now();
  const defined = await tasks.define(actors.get(first)!, { kind: 'sum', groupBy: 'none', slot: 'amount', window } as unknown as DefineTaskDto);
  const defineMs = now() - t;
  // An approval signed with another regulator's key is refused, and nothing is stored.
  const forged = await expectProblem(
    422,
    () => tasks.approve(actors.get(first)!, defined.id, { regulator: first, signature: sign(quorum[1]!.name, Uint8Array.from(Buffer.from(defined.digest, 'hex'))) } as ApproveTaskDto),
    'approval with another key',
  );
  if (Number((await ds.query(`SELECT count(*)::int AS n FROM analytics_task_approval`))[0].n) !== 0) throw new Error('a refused approval was stored');
  const approveMs: number[] = [];
  for (const r of quorum) {
    t = now();
    await tasks.approve(actors.get(r.name)!, defined.id, { regulator: r.name, signature: sign(r.name, Uint8Array.from(Buffer.from(defined.digest, 'hex'))) } as ApproveTaskDto);
    approveMs.push(now() - t);
    log(`service task: approval by ${r.name} in ${round(approveMs.at(-1)!, 3)} ms`);
  }
  const decrypting = await tasks.get(defined.id);
  if (decrypting.status !== 'decrypting' || decrypting.aggregates.length !== 1 || decrypting.aggregates[0]!.payments !== target.size) {
    throw new Error(`task is ${decrypting.status} with ${decrypting.aggregates.length} aggregate(s) after ${THRESHOLD} approvals`);
  }
  const partialMs: number[] = [];
  let regulatorSideMs = 0;
  for (const r of quorum) {
    const s = now();
    const partials = decrypting.aggregates.map((a) => ({
      aggregateId: a.id,
      partial: encodePartialDecryption(partialDecrypt(decodeCiphertext(a.ciphertext), ks.shares[a.slot as FeatureSlot][r.index - 1]!, partialContext(defined.id, a.id))) as unknown as Record<string, unknown>,
    }));
    const signature = sign(r.name, signedDigest(PARTIALS_DIGEST_DOMAIN, { taskId: defined.id, regulator: r.name, partials }));
    regulatorSideMs += now() - s;
    t = now();
    await tasks.submitPartials(actors.get(r.name)!, defined.id, { regulator: r.name, partials, signature } as unknown as SubmitPartialsDto);
    partialMs.push(now() - t);
    log(`service task: partial decryptions of ${r.name} accepted in ${round(partialMs.at(-1)!, 3)} ms`);
  }
  const released = await tasks.result(actors.get(first)!, defined.id);
  const value = (released.result as { groups?: { value?: string }[] }).groups?.[0]?.value;
  if (value !== target.expected.toString()) throw new Error(`the released total ${value} differs from the plaintext sum ${target.expected}`);
  const [{ n: left }] = await ds.query(`SELECT (SELECT count(*) FROM analytics_aggregate) + (SELECT count(*) FROM analytics_partial) AS n`);
  if (Number(left) !== 0) throw new Error('intermediates were not deleted on release');
  const [{ n: events }] = await ds.query(`SELECT count(*)::int AS n FROM audit_event WHERE subject = $1`, [`analytics-task:${defined.id}`]);
  const s = now();
  await ds.query(PLAIN_SUM, [ks.id, new Date(window.from), new Date(window.to), new Date()]);
  const plainMs = now() - s;
  const total = defineMs + approveMs.reduce((a, b) => a + b, 0) + partialMs.reduce((a, b) => a + b, 0);
  log(`service task over ${target.size.toLocaleString('en')} payments released ${value} in ${round(total, 3)} ms of service calls; SQL sum ${round(plainMs, 3)} ms`);
  return {
    method:
      `One sum task over the amount slot, no grouping, over the window of all ${target.size.toLocaleString('en')} ` +
      'synthetic payments, through TasksService (the code behind the reporting API, without HTTP; built without a job queue, ' +
      'so each job step runs right after the request that triggers it commits, as the service does then): define by one ' +
      `regulator, ${THRESHOLD} signed approvals (after the last, the aggregation job runAggregation streams the cohort), ` +
      `${THRESHOLD} signed partial-decryption submissions (after the last, the combination job runCombination verifies, ` +
      'combines, solves the discrete log with the tables of section 3, releases and deletes the intermediates). The ' +
      'regulators\' side (partial decryption with proof, signature) is timed apart. One run.',
    payments: target.size,
    define: fig(defineMs, 'ms (cohort cut, cohort size and differencing queries, insert, audit event)'),
    approvals: approveMs.map((v) => fig(v, 'ms')),
    kthApprovalWithAggregation: fig(approveMs.at(-1)!, 'ms (approval transaction, then the aggregation job: approved -> aggregating -> decrypting, cohort streamed into GroupAccumulator, aggregates stored, audit events)'),
    partialSubmissions: partialMs.map((v) => fig(v, 'ms')),
    kthPartialsWithRelease: fig(partialMs.at(-1)!, 'ms (submission transaction with proof checks, then the combination job: combination, discrete log, release, deletion of intermediates, audit events)'),
    regulatorSide: fig(regulatorSideMs, `ms (all ${THRESHOLD} regulators: partial decryption with proof + ECDSA signature)`),
    serviceTotal: fig(total, 'ms (sum of the service calls above)'),
    plainSqlSum: fig(plainMs, 'ms (SELECT sum(amount) on the twin table over the same window)'),
    serviceTotalOverPlainSum: fig(total / plainMs, 'x'),
    checks: {
      releasedTotal: `${value} = the twin table's sum`,
      intermediatesDeleted: true,
      auditEvents: Number(events),
      approvalWithAnotherKeyRefused: forged,
    },
  };
}

// ---------------------------------------------------------------------------------------------

function summary(r: Record<string, any>, opts: Options) {
  const out: Record<string, unknown> = {};
  if (r.ingestion) {
    out.paymentsPerSecond = r.ingestion.paymentsPerSecond;
    out.recordP50 = fig(r.ingestion.record.p50, 'ms');
    out.recordP95 = fig(r.ingestion.record.p95, 'ms');
    out.verifyAloneP50 = fig(r.ingestion.verifyAlone.p50, 'ms');
    out.activeKeySetLoadP50 = fig(r.ingestion.activeKeySetLoad.p50, 'ms');
    out.readBackP50 = fig(r.ingestion.readBack.p50, 'ms');
    out.plainInsertP50 = fig(r.ingestion.plainInsert.p50, 'ms');
    out.recordOverPlainP50 = r.ingestion.recordOverPlainP50;
  }
  if (r.aggregation) {
    for (const size of opts.sizes) {
      const s = r.aggregation.sizes[String(size)];
      if (!s) continue;
      out[`aggregate${size}WholeWindowP50`] = fig(s.wholeWindow.encrypted.p50, 'ms');
      out[`sql${size}SumP50`] = fig(s.wholeWindow.plainSql.p50, 'ms');
      out[`aggregate${size}OverSql`] = s.wholeWindow.encryptedOverPlainP50;
      out[`aggregate${size}PerPayerP50`] = fig(s.perPayer.encrypted.p50, 'ms');
      out[`sql${size}GroupByP50`] = fig(s.perPayer.plainSql.p50, 'ms');
      out[`aggregate${size}PerPayerOverSql`] = s.perPayer.encryptedOverPlainP50;
      out[`peakRssAfter${size}`] = s.peakRss;
    }
  }
  if (r.decryption) {
    out[`thresholdDecryption${r.decryption.totalBits}BitP50`] = fig(r.decryption.thresholdDecryption.p50, 'ms');
    out.decryptionOverSqlSum = r.decryption.decryptionOverPlainSumP50;
    out.largeTableBuild = r.decryption.tableBuild.large;
    out.largeTableFromDiskCache = r.decryption.tableBuild.largeFromDiskCache;
    for (const k of Object.keys(r.decryption.lookups)) out[`lookup${k.replace('near2^', 'Near2e')}P50`] = fig(r.decryption.lookups[k].p50, 'ms');
  }
  if (r.serviceTask?.serviceTotal) {
    out.serviceTaskPayments = r.serviceTask.payments;
    out.serviceTaskTotal = r.serviceTask.serviceTotal;
    out.serviceTaskKthApproval = r.serviceTask.kthApprovalWithAggregation;
    out.serviceTaskKthPartials = r.serviceTask.kthPartialsWithRelease;
  }
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = now();
  log(`analytics benchmark${opts.quick ? ' (quick)' : ''} on ${opts.backend}; results -> ${path.relative(ROOT, opts.out)}`);
  const result: Record<string, any> = { benchmark: 'analytics', quick: opts.quick, machine: { ...machineInfo(ROOT), loadAverageAtStart: loadAverages() } };
  const finish = () => {
    const l = [...loadSamples, os.loadavg()[0]!];
    result.loadAverage1m = { unit: 'runnable processes, sampled every 5 s', p50: round(median(l)), p95: round(percentile(l, 0.95)), max: round(Math.max(...l)), samples: l.length };
    result.peakRss = fig(peakRss(), 'MiB (whole run)');
    result.totalRunTime = fig((now() - started) / 1000, 's');
    writeResults(opts.out, result);
  };
  let db: BenchDatabase | undefined;
  const dlogCache = mkdtempSync(path.join(os.tmpdir(), 'analytics-bench-dlog-'));
  try {
    db = await openBenchDatabase(opts.backend, { url: process.env.BENCH_DATABASE_URL ?? DEFAULT_URL, poolSize: 8 });
    const ds = db.dataSource;
    result.database = { backend: db.backend, target: db.target, settings: db.settings };
    const ks = dealKeySet(THRESHOLD, REGULATORS);
    await insertActiveKeySet(ds, ks);
    result.keySet = {
      threshold: THRESHOLD,
      regulators: REGULATORS,
      slots: FEATURE_SLOTS.length,
      dkg: fig(ks.dkgMs, `ms (six ${THRESHOLD}-of-${REGULATORS} DKGs, every dealer and recipient in this process)`),
    };
    log(`key set: six ${THRESHOLD}-of-${REGULATORS} slot DKGs in ${round(ks.dkgMs, 3)} ms, stored as the active key set`);

    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir() }, { requireHsm: false });
    // append() only uses the store; the HSM signs checkpoints, which no payment waits for.
    const audit = new AuditService(ds, undefined as unknown as HsmService, config);
    const keyService = new AnalyticsKeyService(ds);
    const service = new PaymentsService(ds, audit, keyService);

    const count = opts.ingestion ? opts.payments + 1 : 1;
    const { payments, provingMs } = await provePayments(count, ks);
    const proofJson = JSON.stringify(payments[0]!.dto.proof);
    if (opts.ingestion) {
      const l = fig(os.loadavg()[0]!, 'runnable processes (1-minute load average when the section started)');
      const r = await ingestionBenchmark(ds, ks, service, keyService, payments);
      r.proving = summarize(provingMs, 'ms per payment proof (provePayment: witness + Groth16 prover in process, client side)');
      result.ingestion = { loadAverageAtStart: l, ...r };
      finish();
    }
    const targets: DecryptionTarget[] = [];
    if (opts.aggregation) {
      const l = fig(os.loadavg()[0]!, 'runnable processes (1-minute load average when the section started)');
      result.aggregation = { loadAverageAtStart: l, ...(await aggregationBenchmark(opts, ds, ks, proofJson, targets)) };
      finish();
    }
    if (opts.decryption) {
      if (targets.length === 0) throw new Error('threshold decryption needs an aggregated total: do not combine --skip-aggregation with it');
      const l = fig(os.loadavg()[0]!, 'runnable processes (1-minute load average when the section started)');
      configureDiscreteLogCache(dlogCache);
      result.decryption = { loadAverageAtStart: l, ...(await decryptionBenchmark(opts, ds, ks, targets, dlogCache)) };
      finish();
      result.serviceTask = { loadAverageAtStart: fig(os.loadavg()[0]!, 'runnable processes'), ...(await serviceTaskBenchmark(ds, ks, audit, keyService, targets)) };
    }
    result.summary = summary(result, opts);
    finish();
    log(`done in ${round((now() - started) / 1000, 3)} s; wrote ${path.relative(ROOT, opts.out)}`);
  } finally {
    await db?.close(opts.keepDb).catch(() => undefined);
    rmSync(dlogCache, { recursive: true, force: true });
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128?.terminate();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
