/**
 * Audit log benchmark: append throughput with HSM-signed checkpoints, proof latency on large logs,
 * and gas per anchored checkpoint. See bench/README.md ("Audit log").
 *
 *   npm run build && node dist/bench/audit-bench.js [--backend postgresql|pglite] [--quick]
 *        [--duration S] [--rounds N] [--sizes 100000,1000000] [--out FILE] [--skip-appends] [--skip-proofs] [--skip-gas]
 *
 * PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/privacy_bench); that
 * database is dropped and created again at the start and dropped at the end (--keep-db keeps it).
 * PGlite: a temporary folder. The HSM is a SoftHSM2 token created in a temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, Network, Wallet, hexlify, randomBytes, type JsonRpcSigner } from 'ethers';
import { AuditStore, type AuditEventInput } from '../src/audit/audit-store.js';
import { CHECKPOINT_KEY_LABEL } from '../src/audit/checkpoint-signer.js';
import {
  consistencyProofFromLeafHashes,
  decodeEvent,
  encodeEvent,
  inclusionProofFromLeafHashes,
  leafHash,
  spkiFromPublicKey,
  verifyCheckpoint,
  verifyConsistencyProof,
  verifyInclusionProof,
  type Checkpoint,
  type CheckpointSigner,
} from '../src/audit/crypto/index.js';
import { Pkcs11Client } from '../src/hsm/pkcs11-client.js';
import { ensureLocalToken } from '../src/hsm/local-token.js';
import { readContractArtifact } from '../src/ledger/artifacts.js';
import { startLocalLedgerNode, type LocalLedgerNode } from '../src/ledger/local-node.js';
import { openBenchDatabase, type Backend, type BenchDatabase } from './lib/bench-db.js';
import { BulkFiller, eventAt, syntheticEvent } from './lib/bulk-fill.js';
import { fig, log, median, now, percentile, prng, round, summarize } from './lib/stats.js';
import { projectRoot, machineInfo, writeResults, freePort, optionReader } from './lib/harness.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  backend: Backend;
  quick: boolean;
  /** Seconds of audit appends per configuration, split over `rounds` runs. */
  duration: number;
  /** How many times the list of configurations is run (interleaved, against the machine's load drifts). */
  rounds: number;
  sizes: number[];
  out: string;
  appends: boolean;
  proofs: boolean;
  gas: boolean;
  keepDb: boolean;
}

const ROOT = projectRoot();

function parseArgs(argv: string[]): Options {
  const { get } = optionReader(argv);
  const known = new Set(['--backend', '--quick', '--duration', '--rounds', '--sizes', '--out', '--skip-appends', '--skip-proofs', '--skip-gas', '--keep-db', '--help']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (see --help)`);
  if (argv.includes('--help')) {
    console.log('node dist/bench/audit-bench.js [--backend postgresql|pglite] [--quick] [--duration S] [--rounds N] [--sizes N,N] [--out FILE] [--skip-appends] [--skip-proofs] [--skip-gas] [--keep-db]');
    process.exit(0);
  }
  const backend = (get('--backend') ?? 'postgresql') as Backend;
  if (backend !== 'postgresql' && backend !== 'pglite') throw new Error(`--backend must be postgresql or pglite`);
  const quick = argv.includes('--quick');
  const duration = Number(get('--duration') ?? (quick ? 5 : 24));
  if (!(duration >= 1)) throw new Error('--duration must be at least 1 (seconds)');
  const rounds = Number(get('--rounds') ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1 || duration / rounds < 1) throw new Error('--rounds must be a positive integer, at most --duration');
  const sizes = (get('--sizes') ?? (quick ? '100000' : '100000,1000000')).split(',').map((s) => Number(s));
  if (sizes.some((s) => !Number.isSafeInteger(s) || s < 2)) throw new Error('--sizes must be integers >= 2');
  sizes.sort((a, b) => a - b);
  const defaultOut = backend === 'pglite' ? 'audit-pglite.json' : quick ? 'audit-quick.json' : 'audit.json';
  const out = path.resolve(get('--out') ?? path.join(ROOT, 'bench', 'results', defaultOut));
  return {
    backend,
    quick,
    duration,
    rounds,
    sizes,
    out,
    appends: !argv.includes('--skip-appends'),
    proofs: !argv.includes('--skip-proofs'),
    gas: !argv.includes('--skip-gas'),
    keepDb: argv.includes('--keep-db'),
  };
}

// ---------------------------------------------------------------------------------------------
// HSM checkpoint signer (the Nest-free pieces of AuditService.checkpoint)

const ORIGIN = 'bench.example/audit-log';

interface Hsm {
  client: Pkcs11Client;
  signer: CheckpointSigner;
  /** Milliseconds of every HSM signature made through `signer`. */
  signTimes: number[];
  close(): Promise<void>;
}

async function openHsm(): Promise<Hsm> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-bench-hsm-'));
  const token = ensureLocalToken({ dir, label: 'audit-bench' });
  // SoftHSM2 reads its configuration once, when the module is loaded: before the first client.
  process.env.SOFTHSM2_CONF = token.confPath;
  const client = new Pkcs11Client();
  await client.open({
    modulePath: process.env.HSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so',
    tokenLabel: token.label,
    pin: token.pin,
    sessions: 2,
  });
  const { publicKey } = await client.ensureEcKeyPair(CHECKPOINT_KEY_LABEL, 'P-256');
  const signTimes: number[] = [];
  const signer: CheckpointSigner = {
    publicKey: spkiFromPublicKey(publicKey),
    sign: async (digest) => {
      const t0 = now();
      const sig = await client.signEcdsaDigest(CHECKPOINT_KEY_LABEL, digest);
      signTimes.push(now() - t0);
      return sig;
    },
  };
  return {
    client,
    signer,
    signTimes,
    close: async () => {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs AuditStore.checkpointIfGrown (as AuditService.checkpoint does) every `intervalMs` (skipping a tick while the previous one still runs). */
function startCheckpointer(store: AuditStore, signer: CheckpointSigner, intervalMs: number) {
  const times: number[] = [];
  let signed = 0;
  let skipped = 0;
  let errors = 0;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) {
      skipped++;
      return;
    }
    const t0 = now();
    running = store.checkpointIfGrown(ORIGIN, signer)
      .then((cp) => {
        times.push(now() - t0);
        if (cp) signed++;
      })
      .catch((e: unknown) => {
        errors++;
        log(`checkpoint failed: ${(e as Error).message}`);
      })
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      return { signed, skipped, errors, times };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Append throughput

const PLAIN_TABLE = 'bench_plain_event';

interface RunResult {
  events: number;
  calls: number;
  errors: number;
  seconds: number;
  /** events per second in each whole second of the run */
  perSecond: number[];
  latencies: number[];
}

/**
 * `concurrency` workers call `op(batch)` back to back for `seconds`. Returns what completed
 * (calls still in flight at the deadline finish and are counted; elapsed time runs until then).
 */
async function drive(concurrency: number, batch: number, seconds: number, op: (events: AuditEventInput[]) => Promise<unknown>): Promise<RunResult> {
  const start = now();
  const deadline = start + seconds * 1000;
  const buckets: number[] = new Array(Math.ceil(seconds) + 2).fill(0);
  const latencies: number[] = [];
  let events = 0;
  let calls = 0;
  let errors = 0;
  let counter = 0;
  const worker = async () => {
    while (now() < deadline) {
      // Each call starts from a macrotask, as a request arriving over the network would. Without
      // this, on PGlite (whose driver answers through promise callbacks only) a back-to-back loop
      // never lets the event loop reach its timers phase and the checkpoint timer never fires.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const inputs: AuditEventInput[] = [];
      for (let i = 0; i < batch; i++) inputs.push(syntheticEvent(counter++, new Date()));
      const t0 = now();
      try {
        await op(inputs);
      } catch (e) {
        errors++;
        if (errors <= 3) log(`  append failed: ${(e as Error).message}`);
        continue;
      }
      const t1 = now();
      latencies.push(t1 - t0);
      events += batch;
      calls++;
      const b = Math.floor((t1 - start) / 1000);
      if (b < buckets.length) buckets[b]! += batch;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (now() - start) / 1000;
  return { events, calls, errors, seconds: elapsed, perSecond: buckets.slice(0, Math.floor(seconds)), latencies };
}

/**
 * The peer baseline: one multi-row INSERT into the plain table per call, the same columns and
 * values (JCS leaf data and leaf hash computed the same way), nothing else. `autocommit` sends the
 * statement alone; `transaction` wraps it in BEGIN/COMMIT like AuditStore.append's transaction.
 */
function plainInserters(db: BenchDatabase) {
  let nextSeq = 0;
  const statement = (inputs: AuditEventInput[]): [string, unknown[]] => {
    const values: unknown[] = [];
    const rows = inputs.map((input, i) => {
      const e = eventAt(nextSeq++, input);
      const data = encodeEvent(e);
      values.push(e.seq, e.type, e.actor, e.subject, e.time, JSON.stringify(e.body), Buffer.from(data), Buffer.from(leafHash(data)));
      const b = i * 8;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}::jsonb, $${b + 7}, $${b + 8})`;
    });
    return [`INSERT INTO ${PLAIN_TABLE} (seq, type, actor, subject, occurred_at, body, leaf_data, leaf_hash) VALUES ${rows.join(', ')}`, values];
  };
  return {
    autocommit: async (inputs: AuditEventInput[]) => {
      const [sql, values] = statement(inputs);
      await db.dataSource.query(sql, values);
    },
    transaction: async (inputs: AuditEventInput[]) => {
      const [sql, values] = statement(inputs);
      await db.dataSource.transaction((m) => m.query(sql, values));
    },
  };
}

/** Two runs of the same operation as one sample (e.g. the baseline before and after a run). */
function merge(x: RunResult, y: RunResult): RunResult {
  return {
    events: x.events + y.events,
    calls: x.calls + y.calls,
    errors: x.errors + y.errors,
    seconds: x.seconds + y.seconds,
    perSecond: [...x.perSecond, ...y.perSecond],
    latencies: [...x.latencies, ...y.latencies],
  };
}

function rate(r: RunResult) {
  const perSecond = r.perSecond.length ? r.perSecond : [r.events / r.seconds];
  return {
    eventsPerSecond: fig(r.events / r.seconds, 'events/s (total events / elapsed)'),
    perSecondMedian: fig(median(perSecond), 'events/s (median of 1-second windows)'),
    perSecondP5: fig(percentile(perSecond, 0.05), 'events/s (5th percentile of 1-second windows)'),
    transactionsPerSecond: fig(r.calls / r.seconds, 'calls/s'),
    events: fig(r.events, 'events'),
    duration: fig(r.seconds, 's'),
    errors: fig(r.errors, 'calls'),
    callLatency: summarize(r.latencies, 'ms per call'),
  };
}

async function appendBenchmark(db: BenchDatabase, hsm: Hsm, opts: Options) {
  const store = new AuditStore(db.dataSource);
  await db.dataSource.query(`CREATE TABLE ${PLAIN_TABLE} (LIKE audit_event INCLUDING ALL)`);
  const plain = plainInserters(db);
  const configs: { name: string; concurrency: number; batch: number }[] = [
    { name: 'single, 1 appender', concurrency: 1, batch: 1 },
    { name: 'single, 4 appenders', concurrency: 4, batch: 1 },
    { name: 'single, 16 appenders', concurrency: 16, batch: 1 },
    { name: 'batch 100, 1 appender', concurrency: 1, batch: 100 },
    { name: 'batch 100, 4 appenders', concurrency: 4, batch: 100 },
  ];
  const auditSeconds = opts.duration / opts.rounds;
  const plainSeconds = Math.max(1, Math.round(auditSeconds / 4));

  log(`append: warm-up`);
  await drive(2, 1, opts.quick ? 1 : 2, (e) => store.append(e));
  await drive(2, 1, 1, plain.autocommit);
  await drive(2, 1, 1, plain.transaction);

  interface Acc {
    audit: RunResult[];
    plain: RunResult[];
    inTx: RunResult[];
    ratios: number[];
    cps: { signed: number; skipped: number; errors: number; times: number[] };
    load: number[];
  }
  const acc: Acc[] = configs.map(() => ({ audit: [], plain: [], inTx: [], ratios: [], cps: { signed: 0, skipped: 0, errors: 0, times: [] }, load: [] }));
  for (let round_ = 0; round_ < opts.rounds; round_++) {
    for (const [i, c] of configs.entries()) {
      const x = acc[i]!;
      x.load.push(os.loadavg()[0]!);
      // The baseline brackets the audit run (before and after), so drifts of the shared
      // machine's load hit both sides of the ratio alike.
      const before = await drive(c.concurrency, c.batch, plainSeconds, plain.autocommit);
      const cp = startCheckpointer(store, hsm.signer, 1000);
      const audit = await drive(c.concurrency, c.batch, auditSeconds, (e) => store.append(e));
      const cps = await cp.stop();
      const after = await drive(c.concurrency, c.batch, plainSeconds, plain.autocommit);
      const inTx = await drive(c.concurrency, c.batch, plainSeconds, plain.transaction);
      const base = merge(before, after);
      const ratio = median(audit.perSecond) / median(base.perSecond);
      x.audit.push(audit);
      x.plain.push(base);
      x.inTx.push(inTx);
      x.ratios.push(ratio);
      x.cps.signed += cps.signed;
      x.cps.skipped += cps.skipped;
      x.cps.errors += cps.errors;
      x.cps.times.push(...cps.times);
      const aRate = rate(audit);
      log(
        `append [round ${round_ + 1}/${opts.rounds}] ${c.name}: audit ${aRate.perSecondMedian.value}/s (call p50 ${aRate.callLatency.p50} ms, p95 ${aRate.callLatency.p95} ms), ` +
          `plain INSERT ${round(median(base.perSecond), 3)}/s (before ${round(before.events / before.seconds, 3)}, after ${round(after.events / after.seconds, 3)}), ` +
          `ratio ${round(ratio, 2)}; INSERT in a transaction ${round(median(inTx.perSecond), 3)}/s; ${cps.signed} checkpoints`,
      );
    }
  }

  const runs: Record<string, unknown>[] = [];
  for (const [i, c] of configs.entries()) {
    const x = acc[i]!;
    const a = rate(x.audit.reduce(merge));
    const p = rate(x.plain.reduce(merge));
    const t = rate(x.inTx.reduce(merge));
    // Headline ratio: median over rounds of (audit / the baseline bracketing it in that round).
    const ratio = median(x.ratios);
    log(
      `append ${c.name}: audit ${a.perSecondMedian.value}/s, plain INSERT ${p.perSecondMedian.value}/s, ratio ${round(ratio, 2)} ` +
        `(per round ${x.ratios.map((r) => round(r, 2)).join(', ')}); call p50 ${a.callLatency.p50} ms p95 ${a.callLatency.p95} ms`,
    );
    runs.push({
      name: c.name,
      concurrency: c.concurrency,
      eventsPerCall: c.batch,
      audit: a,
      plainInsert: p,
      ratioToPlainInsert: fig(ratio, 'audit / plain INSERT: median over rounds of the ratio of 1-second-window medians'),
      ratioToPlainInsertPerRound: x.ratios.map((r) => fig(r, 'audit / plain INSERT in one round')),
      ratioOfPooledMedians: fig(a.perSecondMedian.value / p.perSecondMedian.value, 'audit / plain INSERT, medians of all 1-second windows pooled'),
      plainInsertInTransaction: t,
      ratioToPlainInsertInTransaction: fig(a.perSecondMedian.value / t.perSecondMedian.value, 'audit / INSERT wrapped in BEGIN-COMMIT, medians of 1-second windows'),
      checkpoints: {
        signed: fig(x.cps.signed, 'checkpoints'),
        skippedTicks: fig(x.cps.skipped, 'ticks (previous checkpoint still running)'),
        errors: fig(x.cps.errors, 'checkpoints'),
        latency: summarize(x.cps.times, 'ms per checkpoint (size + latest + root + HSM sign + save)'),
      },
      loadAverage1mAtRoundStarts: x.load.map((l) => fig(l, 'runnable processes')),
    });
  }

  // Consistency of what was appended under load.
  const size = await store.size();
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n, max(seq) AS m FROM audit_event`);
  const latest = await store.latestCheckpoint();
  let checkpointValid = false;
  if (latest) {
    const cpJson: Checkpoint = {
      origin: latest.origin,
      treeSize: latest.treeSize,
      rootHash: latest.rootHash.toString('base64'),
      timestamp: latest.timestamp,
      keyId: latest.keyId,
      signature: latest.signature.toString('base64'),
    };
    checkpointValid = verifyCheckpoint(cpJson, hsm.signer.publicKey).ok && (await store.root(latest.treeSize)).equals(latest.rootHash);
  }
  if (n !== size) throw new Error(`append: audit_head says ${size} events but audit_event has ${n} rows`);
  log(`append: ${size} events in the log, gap-free; latest checkpoint ${latest?.treeSize} verifies: ${checkpointValid}`);
  return {
    method:
      'N workers call AuditStore.append(events) back to back (each call one transaction: head row lock, frontier read, ' +
      'event + node inserts, head update) while a timer signs a checkpoint every second through the HSM ' +
      '(size, latest checkpoint, root, SoftHSM2 ECDSA P-256, saveCheckpoint). Baseline: the same events, ' +
      'encoded and hashed the same way, as one multi-row INSERT statement per call (autocommit) into a copy of ' +
      'audit_event (CREATE TABLE ... (LIKE audit_event INCLUDING ALL): same columns, constraints and indexes), ' +
      'no Merkle nodes, no head lock, no checkpoints, same concurrency, run for a quarter of the audit time just before ' +
      'and just after each audit run (both pooled). Also the same INSERT wrapped in BEGIN/COMMIT. The list of ' +
      'configurations is run `rounds` times, interleaved. Rates are medians of the 1-second windows of all rounds; ' +
      'the ratio is the median over rounds of audit / its bracketing baseline; ' +
      'each call starts from a macrotask (setImmediate), as a request would.',
    rounds: opts.rounds,
    auditSecondsPerRound: fig(auditSeconds, 's of audit appends per configuration and round'),
    plainSecondsPerRun: fig(plainSeconds, 's before + the same after each audit run (and once more in a transaction)'),
    runs,
    finalLogSize: fig(size, 'events'),
    gapFree: n === size,
    latestCheckpointVerifies: checkpointValid,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Proof latency on large logs

async function proofBenchmark(db: BenchDatabase, opts: Options) {
  const ds = db.dataSource;
  const store = new AuditStore(ds);
  const maxSize = opts.sizes[opts.sizes.length - 1]!;
  const rand = prng(9162);
  const results: Record<string, unknown>[] = [];

  // The first events go through the real API (AuditStore.append, 1,000 per call), the rest bulk.
  const apiEvents = Math.min(10_000, opts.sizes[0]!);
  const tApi = now();
  for (let seq = 0; seq < apiEvents; seq += 1000) {
    await store.append(Array.from({ length: Math.min(1000, apiEvents - seq) }, (_, i) => syntheticEvent(seq + i)));
  }
  const apiSeconds = (now() - tApi) / 1000;
  const filler = await BulkFiller.open(ds, store, maxSize + 1); // continues from what the API wrote
  log(`proofs: ${apiEvents} events through AuditStore.append (1,000 per call) at ${round(apiEvents / apiSeconds, 3)}/s`);

  let fillSeconds = 0;
  const fillStartSize = filler.size;
  for (const size of opts.sizes) {
    const t0 = now();
    await filler.fillTo(size, (s) => log(`proofs: bulk fill ${s.toLocaleString('en')} events`));
    fillSeconds += (now() - t0) / 1000;
    await ds.query('ANALYZE audit_event');
    await ds.query('ANALYZE audit_node');
    const root = await store.root(size);
    if (!root.equals(Buffer.from(filler.root()))) throw new Error(`root mismatch at ${size}`);
    log(`proofs: log at ${size.toLocaleString('en')} events (fill ${round(fillSeconds, 3)} s so far); measuring`);

    const samples = opts.quick ? 300 : 1000;
    // Warm-up.
    for (let i = 0; i < 50; i++) await store.inclusionProof(Math.floor(rand() * size), size);

    const incl: number[] = [];
    const proofs: { seq: number; proof: Buffer[] }[] = [];
    for (let i = 0; i < samples; i++) {
      const seq = Math.floor(rand() * size);
      const t = now();
      const proof = await store.inclusionProof(seq, size);
      incl.push(now() - t);
      proofs.push({ seq, proof });
    }
    const verifyIncl: number[] = [];
    let allValid = true;
    for (const { seq, proof } of proofs) {
      const leaf = filler.leafHashAt(seq);
      const t = now();
      const ok = verifyInclusionProof(seq, size, leaf, proof, root);
      verifyIncl.push((now() - t) * 1000);
      allValid &&= ok;
    }
    if (!allValid) throw new Error(`an inclusion proof at size ${size} does not verify`);

    const cons: number[] = [];
    const roots: number[] = [];
    const verifyCons: number[] = [];
    const consSamples = opts.quick ? 100 : 300;
    for (let i = 0; i < consSamples; i++) {
      const m = 1 + Math.floor(rand() * (size - 1));
      const t = now();
      const proof = await store.consistencyProof(m, size);
      cons.push(now() - t);
      const t1 = now();
      const root1 = await store.root(m);
      roots.push(now() - t1);
      const t2 = now();
      const ok = verifyConsistencyProof(m, size, root1, root, proof);
      verifyCons.push((now() - t2) * 1000);
      if (!ok) throw new Error(`consistency proof ${m} -> ${size} does not verify`);
    }

    // Throughput of proofs with 8 concurrent requesters for a few seconds.
    const concurrent = 8;
    const tpSeconds = opts.quick ? 2 : 4;
    let served = 0;
    const tp0 = now();
    await Promise.all(
      Array.from({ length: concurrent }, async () => {
        while (now() - tp0 < tpSeconds * 1000) {
          await store.inclusionProof(Math.floor(rand() * size), size);
          served++;
        }
      }),
    );
    const proofsPerSecond = served / ((now() - tp0) / 1000);

    // Baseline: RFC 9162 reference algorithm over every leaf hash, loaded per request.
    const reps = size >= 1_000_000 ? 3 : opts.quick ? 3 : 5;
    const load: number[] = [];
    const compute: number[] = [];
    const total: number[] = [];
    const consCompute: number[] = [];
    for (let r = 0; r < reps; r++) {
      const seq = Math.floor(rand() * size);
      const t0b = now();
      const rows: { leaf_hash: Buffer }[] = await ds.query(`SELECT leaf_hash FROM audit_event WHERE seq < $1 ORDER BY seq`, [size]);
      const leaves = rows.map((x) => x.leaf_hash);
      const t1b = now();
      const ref = inclusionProofFromLeafHashes(leaves, seq);
      const t2b = now();
      load.push(t1b - t0b);
      compute.push(t2b - t1b);
      total.push(t2b - t0b);
      const ours = await store.inclusionProof(seq, size);
      if (ref.length !== ours.length || ref.some((h, i) => !Buffer.from(h).equals(ours[i]!))) {
        throw new Error(`the stored-node proof for ${seq} at ${size} differs from the reference algorithm`);
      }
      if (r === 0) {
        // The reference consistency proof (PROOF, RFC 9162 2.1.4.1) over the same leaves, once.
        const m = 1 + Math.floor(rand() * (size - 1));
        const t3 = now();
        const refCons = consistencyProofFromLeafHashes(leaves, m);
        consCompute.push(now() - t3);
        const oursCons = await store.consistencyProof(m, size);
        if (refCons.length !== oursCons.length || refCons.some((h, i) => !Buffer.from(h).equals(oursCons[i]!))) {
          throw new Error(`the stored-node consistency proof ${m} -> ${size} differs from the reference algorithm`);
        }
      }
      log(`proofs: baseline rep ${r + 1}/${reps} at ${size.toLocaleString('en')}: load ${round(t1b - t0b, 3)} ms + compute ${round(t2b - t1b, 3)} ms`);
    }
    // Spot-check the bulk-written rows: leaf_data canonical for its seq, leaf_hash = H(0x00 || leaf_data).
    const sample: { seq: string; leaf_data: Buffer; leaf_hash: Buffer }[] = await ds.query(
      `SELECT seq, leaf_data, leaf_hash FROM audit_event WHERE seq = ANY($1::bigint[])`,
      [Array.from({ length: 100 }, () => Math.floor(rand() * size))],
    );
    for (const row of sample) {
      const event = decodeEvent(row.leaf_data);
      if (event.seq !== Number(row.seq) || !Buffer.from(leafHash(row.leaf_data)).equals(row.leaf_hash)) {
        throw new Error(`row ${row.seq} is not canonical`);
      }
    }

    const inclusion = summarize(incl, 'ms');
    const baselineTotal = median(total);
    log(
      `proofs @${size.toLocaleString('en')}: inclusion p50 ${inclusion.p50} ms p95 ${inclusion.p95} ms; ` +
        `consistency p50 ${round(median(cons), 3)} ms; verify ${round(median(verifyIncl), 3)} us; ` +
        `baseline ${round(baselineTotal, 4)} ms (${round(baselineTotal / inclusion.p50, 3)}x); ${round(proofsPerSecond, 3)} proofs/s x${concurrent}`,
    );
    const [sizes] = await ds.query(
      `SELECT pg_total_relation_size('audit_event') AS ev, pg_total_relation_size('audit_node') AS nd, (SELECT count(*) FROM audit_node)::bigint AS nodes`,
    );
    results.push({
      treeSize: fig(size, 'events'),
      inclusionProof: inclusion,
      inclusionProofHashes: fig(median(proofs.map((p) => p.proof.length)), 'hashes (median proof length)'),
      inclusionProofVerify: summarize(verifyIncl, 'us (RFC 9162 2.1.3.2 in process)'),
      inclusionProofsPerSecond8Concurrent: fig(proofsPerSecond, 'proofs/s with 8 concurrent requesters'),
      consistencyProof: summarize(cons, 'ms'),
      consistencyProofVerify: summarize(verifyCons, 'us (RFC 9162 2.1.4.2 in process)'),
      rootAt: summarize(roots, 'ms (AuditStore.root at a random earlier size)'),
      baselineRehashPerRequest: {
        method: 'SELECT every leaf_hash in seq order, then inclusionProofFromLeafHashes (RFC 9162 2.1.3.1 reference recursion)',
        repetitions: reps,
        loadLeaves: fig(median(load), 'ms (median)'),
        computeProof: fig(median(compute), 'ms (median)'),
        total: fig(baselineTotal, 'ms (median)'),
        consistencyProofCompute: fig(median(consCompute), 'ms (reference PROOF over the loaded leaves, 1 run)'),
        slowdownVsStoredNodesP50: fig(baselineTotal / inclusion.p50, 'x'),
      },
      storage: {
        auditEventBytesPerEvent: fig(Number(sizes.ev) / size, 'bytes/event (table + indexes + toast)'),
        auditNodeBytesPerEvent: fig(Number(sizes.nd) / size, 'bytes/event (table + primary key)'),
        storedNodes: fig(Number(sizes.nodes), 'rows in audit_node'),
      },
    });
  }

  // The service's append path continues on the bulk-filled log, and proves it.
  const size = filler.size;
  const rootBefore = await store.root(size);
  const [added] = await store.append([syntheticEvent(size)]);
  const rootAfter = await store.root(size + 1);
  const continues =
    added!.seq === size &&
    verifyConsistencyProof(size, size + 1, rootBefore, rootAfter, await store.consistencyProof(size, size + 1)) &&
    verifyInclusionProof(size, size + 1, added!.leafHash, await store.inclusionProof(size, size + 1), rootAfter);
  if (!continues) throw new Error('AuditStore.append does not continue the bulk-filled log correctly');
  log(`proofs: AuditStore.append continues the bulk-filled log (seq ${added!.seq}, consistency proof verifies)`);

  return {
    method:
      `The first ${apiEvents.toLocaleString('en')} events are appended through AuditStore.append (1,000 per call); the rest are bulk-written ` +
      '(bench/lib/bulk-fill.ts: the same rows AuditStore.append writes - JCS leaf data, leaf hash, every completed ' +
      'perfect-subtree node from the same MerkleAppender, head size - sent as column arrays in 10,000-event ' +
      'transactions, bypassing the API), then ANALYZE. Latency = one AuditStore.inclusionProof(random seq, size) call ' +
      '(one batched SELECT of O(log n) audit_node rows through the TypeORM pool), sequential, after 50 warm-up calls. ' +
      'Every proof is verified; a sample is compared with the reference algorithm; after the largest size one more ' +
      'event is appended through AuditStore.append and its inclusion and the consistency proof are verified.',
    apiAppendBatch1000: fig(apiEvents / apiSeconds, 'events/s (AuditStore.append, 1,000 events per call, empty log)'),
    bulkFill: fig((filler.size - fillStartSize) / fillSeconds, 'events/s (bulk path, includes building leaves and nodes)'),
    bulkFillBuildInProcess: fig(filler.buildMs / 1000, 's (JCS encoding, leaf hashes, MerkleAppender nodes)'),
    bulkFillWaitingForDatabase: fig(filler.waitMs / 1000, 's (writes not overlapped with building)'),
    sizes: results,
    appendAfterBulkFillVerifies: continues,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Gas per anchored checkpoint

async function gasBenchmark(opts: Options) {
  const artifactsDir = path.join(ROOT, 'artifacts');
  if (!existsSync(path.join(artifactsDir, 'contracts', 'audit', 'AuditAnchor.sol', 'AuditAnchor.json'))) {
    log('gas: compiling contracts (hardhat build)');
    const cli = realpathSync(path.join(ROOT, 'node_modules', '.bin', 'hardhat'));
    execFileSync(process.execPath, [cli, 'build', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
  }
  const artifact = await readContractArtifact(artifactsDir, 'AuditAnchor');
  const port = await freePort(8700);
  log(`gas: starting a local ledger node on port ${port}`);
  let node: LocalLedgerNode | undefined;
  let provider: JsonRpcProvider | undefined;
  try {
    node = await startLocalLedgerNode({ port, cwd: ROOT });
    provider = new JsonRpcProvider(node.url, Network.from(31337), { staticNetwork: true });
    const signer: JsonRpcSigner = await provider.getSigner(0);
    const clientVersion = String(await provider.send('web3_clientVersion', []));

    const bare = await (await signer.sendTransaction({ to: Wallet.createRandom().address, value: 1n })).wait();
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer);
    const deployed = await factory.deploy(await signer.getAddress());
    const deployReceipt = await deployed.deploymentTransaction()!.wait();
    await deployed.waitForDeployment();
    const anchor = deployed as Contract;

    let nextSize = 0;
    const root = () => hexlify(randomBytes(32));
    const send = async (method: string, ...args: unknown[]) => Number((await (await anchor.getFunction(method)(...args)).wait())!.gasUsed);

    const reps = opts.quick ? 5 : 10;
    const single: number[] = [];
    for (let i = 0; i < reps; i++) {
      nextSize += 1000;
      single.push(await send('anchor', nextSize, root()));
    }
    const retry = await send('anchor', nextSize, String(await anchor.getFunction('rootAt')(nextSize)));
    const batches: Record<string, unknown> = {};
    for (const n of [1, 10, 50]) {
      const totals: number[] = [];
      for (let r = 0; r < (opts.quick ? 3 : 5); r++) {
        const sizes: number[] = [];
        const roots: string[] = [];
        for (let i = 0; i < n; i++) {
          nextSize += 1000;
          sizes.push(nextSize);
          roots.push(root());
        }
        totals.push(await send('anchorBatch', sizes, roots));
      }
      const t = median(totals);
      batches[`batch${n}`] = {
        checkpoints: n,
        totalGas: fig(t, 'gas per transaction (median)'),
        gasPerCheckpoint: fig(t / n, 'gas per checkpoint'),
        repetitions: totals.length,
      };
      log(`gas: anchorBatch of ${n}: ${t} gas, ${round(t / n, 4)} per checkpoint`);
    }
    log(`gas: anchor() ${median(single)} gas (first ${single[0]}), bare transfer ${bare!.gasUsed}`);
    return {
      ledger: { chainId: 31337, client: clientVersion },
      bareTransaction: fig(Number(bare!.gasUsed), 'gas (value transfer to an empty account)'),
      deployAuditAnchor: fig(Number(deployReceipt!.gasUsed), 'gas'),
      anchorSingle: {
        gas: fig(median(single), 'gas per checkpoint (median)'),
        first: fig(single[0]!, 'gas (first anchor of a fresh contract)'),
        repetitions: single.length,
        overBareTransaction: fig(median(single) - Number(bare!.gasUsed), 'gas'),
      },
      anchorIdempotentRetry: fig(retry, 'gas (re-anchoring the recorded checkpoint: a no-op)'),
      anchorBatch: batches,
    };
  } finally {
    provider?.destroy();
    await node?.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function machine(backend: Backend, db?: BenchDatabase) {
  return {
    ...machineInfo(ROOT),
    loadAverage1m: fig(os.loadavg()[0]!, 'runnable processes (machine shared with other work)'),
    backend,
    database: db ? { target: db.target, ...db.settings } : undefined,
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = now();
  log(`audit benchmark on ${opts.backend}${opts.quick ? ' (quick)' : ''}; results -> ${path.relative(ROOT, opts.out)}`);
  const result: Record<string, unknown> = { benchmark: 'audit-log', quick: opts.quick };
  const cleanups: (() => Promise<void>)[] = [];
  let db: BenchDatabase | undefined;
  try {
    if (opts.appends || opts.proofs) {
      db = await openBenchDatabase(opts.backend, { url: process.env.BENCH_DATABASE_URL, poolSize: 24 });
      // Whichever database is open at the end (the proofs phase opens a fresh one).
      cleanups.push(async () => db?.close(opts.keepDb));
    }
    result.machine = machine(opts.backend, db);

    if (opts.appends && db) {
      const hsm = await openHsm();
      cleanups.push(() => hsm.close());
      const warm: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t = now();
        await hsm.client.signEcdsaDigest(CHECKPOINT_KEY_LABEL, randomBytes(32));
        warm.push(now() - t);
      }
      log(`HSM: ECDSA P-256 sign p50 ${round(median(warm), 3)} ms`);
      result.hsmSign = summarize(warm, 'ms per ECDSA P-256 signature (SoftHSM2, CKM_ECDSA over a SHA-256 digest)');
      result.appends = await appendBenchmark(db, hsm, opts);
      writeResults(opts.out, result);
    }
    if (opts.proofs && db) {
      if (opts.appends) {
        // A fresh database: the proof sizes are exact leaf counts.
        const previous = db;
        db = undefined;
        await previous.close();
        db = await openBenchDatabase(opts.backend, { url: process.env.BENCH_DATABASE_URL, poolSize: 24 });
      }
      result.proofs = await proofBenchmark(db, opts);
      writeResults(opts.out, result);
    }
    if (opts.gas) {
      result.gas = await gasBenchmark(opts);
    }
    result.totalRunTime = fig((now() - started) / 1000, 's');
    writeResults(opts.out, result);
    log(`done in ${round((now() - started) / 1000, 3)} s; wrote ${path.relative(ROOT, opts.out)}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
