/**
 * Concurrent appenders produce one gap-free log: every append locks the single head row, so seqs
 * are unique and consecutive and the stored Merkle nodes match the reference algorithm, whether
 * the appenders are concurrent calls in one process or several processes on one PostgreSQL
 * database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { inclusionProofFromLeafHashes, rootFromInclusionProof } from '../../../src/audit/crypto/index.js';
import type { AuditEventInput, StoredEvent } from '../../../src/audit/audit-store.js';
import { ROOT, backend, buildEntryPoints, checkStoredLog, collectOutput, exited, openStore } from './support.js';

let ctx: Awaited<ReturnType<typeof openStore>>;

beforeAll(async () => {
  ctx = await openStore();
}, 60_000);

afterAll(async () => {
  await ctx?.close();
});

const event = (tag: string, n: number): AuditEventInput => ({ type: 'test.concurrent', actor: `tester:${tag}`, subject: `${tag}:${n}`, body: { tag, n } });

describe(`concurrent appends in one process (${backend})`, () => {
  it('200 appends issued at once get seqs 0..199 exactly once, and the tree is the reference tree', async () => {
    const before = await ctx.store.size();
    expect(before).toBe(0);
    // Mixed batch sizes: single events and batches of up to 4, all in flight together.
    const calls: AuditEventInput[][] = [];
    let n = 0;
    for (let i = 0; n < 200; i++) {
      const size = Math.min(i % 3 === 0 ? 1 + (i % 4) : 1, 200 - n);
      calls.push(Array.from({ length: size }, (_, k) => event('inproc', n + k)));
      n += size;
    }
    const results: StoredEvent[][] = await Promise.all(calls.map((batch) => ctx.store.append(batch)));

    // Each call got a contiguous run of seqs, in its own order, and the runs tile 0..199.
    for (const [i, stored] of results.entries()) {
      expect(stored.map((e) => e.subject)).toEqual(calls[i]!.map((e) => e.subject));
      for (let k = 1; k < stored.length; k++) expect(stored[k]!.seq).toBe(stored[0]!.seq + k);
    }
    const seqs = results.flat().map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i));

    const { size, leaves, root } = await checkStoredLog(ctx.ds, ctx.store);
    expect(size).toBe(200);
    // What each caller was told is what is stored.
    for (const e of results.flat()) expect(leaves[e.seq]!.equals(e.leafHash)).toBe(true);
    // Proofs served from the stored nodes are the reference proofs.
    for (const seq of [0, 1, 63, 64, 127, 128, 199]) {
      const proof = await ctx.store.inclusionProof(seq, 200);
      expect(proof.map((h) => h.toString('hex'))).toEqual(inclusionProofFromLeafHashes(leaves, seq).map((h) => Buffer.from(h).toString('hex')));
      expect(Buffer.from(rootFromInclusionProof(seq, 200, leaves[seq]!, proof)).equals(root)).toBe(true);
    }
  });

  it('one call may append more events than one INSERT can bind (9,000 events, 72,000 values)', async () => {
    const before = await ctx.store.size();
    const stored = await ctx.store.append(Array.from({ length: 9000 }, (_, k) => event('bulk', k)));
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 9000 }, (_, k) => before + k));
    const { size } = await checkStoredLog(ctx.ds, ctx.store);
    expect(size).toBe(before + 9000);
  });
});

/**
 * Several processes on one database. PGlite serves one process only (it locks its folder), so
 * this runs on PostgreSQL.
 */
const multiProcess = backend === 'postgresql' ? describe : describe.skip;
const multiTitle =
  backend === 'postgresql'
    ? 'concurrent appends from 4 processes (postgresql)'
    : 'concurrent appends from 4 processes: skipped on PGlite, which serves a single process (it locks its data folder)';

multiProcess(multiTitle, () => {
  const PROCESSES = 4;
  const EVENTS = 100;
  let build: Awaited<ReturnType<typeof buildEntryPoints>> | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    build = await buildEntryPoints(['scripts/audit-append-load.ts']);
  }, 90_000);

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    build?.remove();
  });

  it(`${PROCESSES} processes x ${EVENTS} events in small batches make one gap-free log`, async () => {
    const start = await ctx.store.size();
    const outputs = [];
    for (let p = 0; p < PROCESSES; p++) {
      const child = spawn(
        process.execPath,
        [build!.js('scripts/audit-append-load.ts'), '--events', String(EVENTS), '--batch', String(2 + p), '--concurrency', '3', '--tag', `proc${p}`],
        { cwd: ROOT, env: { ...process.env, DATABASE_URL: ctx.db.config.DATABASE_URL!, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      outputs.push(collectOutput(child));
    }
    // Appends from this process too, at the same time.
    const local = (async () => {
      const got: StoredEvent[] = [];
      for (let i = 0; i < 20; i++) got.push(...(await ctx.store.append([event('parent', 2 * i), event('parent', 2 * i + 1)])));
      return got;
    })();
    const codes = await Promise.all(children.map(exited));
    for (const [p, code] of codes.entries()) {
      if (code !== 0) throw new Error(`appender ${p} exited with ${code}: ${outputs[p]!.text()}`);
    }
    const parentEvents = await local;

    const reports = outputs.map((o) => JSON.parse(o.text().trim().split('\n').pop()!) as { tag: string; events: number; seqs: number[] });
    const total = PROCESSES * EVENTS + parentEvents.length;
    const all = [...reports.flatMap((r) => r.seqs), ...parentEvents.map((e) => e.seq)].sort((a, b) => a - b);
    expect(reports.map((r) => r.events)).toEqual(Array(PROCESSES).fill(EVENTS));
    expect(all).toEqual(Array.from({ length: total }, (_, i) => start + i));

    const { size } = await checkStoredLog(ctx.ds, ctx.store);
    expect(size).toBe(start + total);
    // Each process's events are where it was told they are.
    for (const r of reports) {
      const rows: { seq: string; subject: string }[] = await ctx.ds.query(
        `SELECT seq, subject FROM audit_event WHERE actor = $1 ORDER BY seq`,
        [`load:${r.tag}`],
      );
      expect(rows.map((x) => Number(x.seq))).toEqual([...r.seqs].sort((a, b) => a - b));
      expect(new Set(rows.map((x) => x.subject)).size).toBe(EVENTS);
    }
  }, 90_000);
});
