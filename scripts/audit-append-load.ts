/**
 * Appends audit events through AuditStore from one process, as fast as it can: a load generator
 * for checking that several processes sharing one PostgreSQL database still produce a single
 * gap-free log (every appender locks the same head row).
 *
 *   DATABASE_URL=postgres://... node dist/scripts/audit-append-load.js --events 100 --batch 3 --concurrency 2 --tag p1
 *
 * The schema must exist already (run the migrations first, e.g. by starting the service once).
 * Options:
 *   --events N       events to append in total (default 100)
 *   --batch B        largest batch per append() call; batches cycle through sizes 1..B (default 1)
 *   --concurrency C  appends in flight at once in this process (default 1)
 *   --tag T          written into every event's actor and subject (default: the process id)
 *   --migrate        run pending migrations first
 *
 * Prints one JSON line on success: { "tag", "pid", "events", "seqs": [...] } where seqs are the
 * leaf indexes this process was given, in the order its appends returned. Exits 1 with one line on
 * stderr on failure.
 */
import 'reflect-metadata';
import { loadConfig } from '../src/config/config.js';
import { createDataSource, initializeDataSource, runMigrations } from '../src/db/data-source.js';
import { AuditStore, type AuditEventInput } from '../src/audit/audit-store.js';

interface Options {
  events: number;
  batch: number;
  concurrency: number;
  tag: string;
  migrate: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { events: 100, batch: 1, concurrency: 1, tag: String(process.pid), migrate: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--migrate') {
      opts.migrate = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${arg} must be a positive integer, got ${value}`);
      return n;
    };
    switch (arg) {
      case '--events': opts.events = int(); break;
      case '--batch': opts.batch = int(); break;
      case '--concurrency': opts.concurrency = int(); break;
      case '--tag':
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new Error('--tag must be 1-64 letters, digits, "_", "." or "-"');
        opts.tag = value;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const config = loadConfig(process.env, { requireHsm: false });
  const ds = createDataSource(config);
  await initializeDataSource(ds);
  try {
    if (opts.migrate) await runMigrations(ds);
    const store = new AuditStore(ds);

    // Cut the work into batches of 1, 2, ..., batch, 1, 2, ... events.
    const batches: AuditEventInput[][] = [];
    let next = 0;
    while (next < opts.events) {
      const size = Math.min((batches.length % opts.batch) + 1, opts.events - next);
      batches.push(
        Array.from({ length: size }, (_, k) => ({
          type: 'test.load.appended',
          actor: `load:${opts.tag}`,
          subject: `load:${opts.tag}:${next + k}`,
          body: { tag: opts.tag, n: next + k, pid: process.pid },
        })),
      );
      next += size;
    }

    const seqs: number[] = [];
    let taken = 0;
    const lane = async () => {
      while (taken < batches.length) {
        const batch = batches[taken++]!;
        const stored = await store.append(batch);
        for (const [k, e] of stored.entries()) {
          if (e.subject !== batch[k]!.subject) throw new Error(`append returned events out of order at seq ${e.seq}`);
          seqs.push(e.seq);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
    process.stdout.write(`${JSON.stringify({ tag: opts.tag, pid: process.pid, events: seqs.length, seqs })}\n`);
  } finally {
    await ds.destroy();
  }
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`audit-append-load: ${msg.replace(/(\w+:\/\/)[^@\s/]+@/g, '$1***@').split('\n')[0]}\n`);
  process.exit(1);
});
