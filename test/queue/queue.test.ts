/**
 * Jobs on pg-boss over the suite's backend (PostgreSQL, or PGlite shared with TypeORM through the
 * one-session facade): processing, retries, durability across a restart, sending inside a
 * transaction, and a job handled by a separate worker process.
 */
import { buildEntryPoints } from '../support/build-entry-points.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DataSource } from 'typeorm';
import { QueueService } from '../../src/queue/queue.service.js';
import { SYSTEM_PING, type PingResult } from '../../src/queue/system-ping.js';
import { createDataSource, initializeDataSource, runMigrations } from '../../src/db/data-source.js';
import { backend, freshDatabase, type TestDatabase } from '../db/support.js';

const FAST = { pollingIntervalSeconds: 0.5 };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let db: TestDatabase;
let queue: QueueService;

beforeAll(async () => {
  db = await freshDatabase();
  const started = Date.now();
  queue = new QueueService(db.config);
  await queue.start();
  console.log(`pg-boss start (schema install) on ${backend}: ${Date.now() - started} ms`);
});

afterAll(async () => {
  await queue?.stop();
  await db?.drop();
});

describe(`job queue (${backend})`, () => {
  it('processes a job sent to a queue and stores its output', async () => {
    await queue.createQueue('test.echo');
    const seen: unknown[] = [];
    await queue.work<{ n: number }>('test.echo', async (job) => {
      seen.push(job.data);
      return { doubled: job.data.n * 2 };
    }, FAST);
    const id = await queue.send('test.echo', { n: 21 });
    const job = await waitFor('the echo job to complete', async () => {
      const j = await queue.getJob('test.echo', id!);
      return j?.state === 'completed' && j;
    });
    expect(seen).toEqual([{ n: 21 }]);
    expect(job.output).toEqual({ doubled: 42 });
  });

  it('retries a failing job according to the queue policy', async () => {
    await queue.createQueue('test.flaky', { retryLimit: 2, retryDelay: 1 });
    const attempts: number[] = [];
    await queue.work('test.flaky', async (job) => {
      attempts.push(job.retryCount);
      if (attempts.length === 1) throw new Error('transient failure');
      return { ok: true };
    }, FAST);
    const id = await queue.send('test.flaky', {});
    const job = await waitFor('the flaky job to complete', async () => {
      const j = await queue.getJob('test.flaky', id!);
      return j?.state === 'completed' && j;
    });
    expect(attempts).toEqual([0, 1]);
    expect(job.retryCount).toBe(1);
  });

  it('keeps jobs across a restart (send, stop, start again, work)', async () => {
    const first = new QueueService(db.config);
    await first.createQueue('test.durable');
    const id = await first.send('test.durable', { survive: true });
    await first.stop();

    const second = new QueueService(db.config);
    try {
      const got: unknown[] = [];
      await second.work('test.durable', async (job) => void got.push([job.id, job.data]), FAST);
      await waitFor('the durable job', async () => got.length > 0);
      expect(got).toEqual([[id, { survive: true }]]);
    } finally {
      await second.stop();
    }
  });

  it('a job sent inside a transaction exists only if the transaction commits', async () => {
    const ds: DataSource = await initializeDataSource(createDataSource(db.config));
    try {
      await runMigrations(ds);
      await queue.createQueue('test.outbox');
      await expect(
        ds.transaction(async (m) => {
          await queue.send('test.outbox', { n: 1 }, { manager: m });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      const kept = await ds.transaction((m) => queue.send('test.outbox', { n: 2 }, { manager: m }));
      const queued = await ds.query(`SELECT data FROM pgboss.job WHERE name = 'test.outbox'`);
      expect(queued).toEqual([{ data: { n: 2 } }]);
      expect(kept).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await ds.destroy();
    }
  });
});

/**
 * The worker entry point as its own process. Compiled from the sources into a temp folder first
 * (about 5 s), so it runs what is in the tree rather than a stale dist/.
 */
describe(`worker process (${backend})`, () => {
  let buildDir: string;
  let worker: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    buildDir = (await buildEntryPoints(['src/worker.ts'], 'worker-build-')).dir;
  }, 60_000);

  afterAll(() => {
    worker?.kill('SIGKILL');
    fs.rmSync(buildDir, { recursive: true, force: true });
  });

  function startWorker(): ChildProcess {
    const env = { ...process.env, NODE_ENV: 'test', DATA_DIR: db.config.DATA_DIR, DATABASE_URL: db.config.DATABASE_URL ?? '' };
    if (!db.config.DATABASE_URL) delete (env as Record<string, string | undefined>).DATABASE_URL;
    const child = spawn(process.execPath, [path.join(buildDir, 'src/worker.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  }

  (backend === 'postgresql' ? it : it.skip)('handles system.ping in another process and stops on SIGTERM', async () => {
    await queue.createQueue(SYSTEM_PING);
    worker = startWorker();
    await waitFor('the worker to start', async () => output.includes('started'));
    const id = await queue.send(SYSTEM_PING, { hello: 'worker' });
    const job = await waitFor('the ping to be answered', async () => {
      const j = await queue.getJob<unknown>(SYSTEM_PING, id!);
      return j?.state === 'completed' && j;
    });
    const out = job.output as PingResult;
    expect(out).toMatchObject({ pong: true, echo: { hello: 'worker' } });
    expect(out.pid).toBe(worker.pid);
    expect(out.pid).not.toBe(process.pid);

    const exited = new Promise<number | null>((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/SIGTERM: stopping/);
    expect(output).toMatch(/stopped/);
  }, 60_000);

  (backend === 'pglite' ? it : it.skip)('refuses to share the PGlite folder this process holds, and says why', async () => {
    worker = startWorker();
    const code = await new Promise<number | null>((r) => worker!.once('exit', r));
    expect(code).toBe(1);
    expect(output).toContain(`is in use by process ${process.pid}`);
  }, 60_000);
});
