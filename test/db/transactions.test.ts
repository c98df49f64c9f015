/**
 * Transaction semantics through the pg pool API: a real pg.Pool on PostgreSQL, the PGlite facade
 * otherwise. The same assertions must hold on both, which is what makes PGlite a faithful stand-in.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { backend, freshDatabase, type PoolLike, type TestDatabase } from './support.js';
import { pgliteDataDir, PglitePool } from '../../src/db/pglite-driver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let pool: PoolLike;

beforeAll(async () => {
  db = await freshDatabase();
  pool = db.pool();
  await pool.query(`
    CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);
    CREATE TABLE item (id int PRIMARY KEY, label text UNIQUE, doc jsonb, blob bytea);
    INSERT INTO counter VALUES (1, 0);`);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function inTransaction<T>(work: (q: PoolLike['query']) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client.query.bind(client) as PoolLike['query']);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  } finally {
    client.release();
  }
}

describe(`transactions (${backend})`, () => {
  it('commits and rolls back', async () => {
    await inTransaction((q) => q(`INSERT INTO item (id, label) VALUES (1, 'kept')`));
    await expect(
      inTransaction(async (q) => {
        await q(`INSERT INTO item (id, label) VALUES (2, 'discarded')`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await pool.query<{ id: number }>('SELECT id FROM item ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1]);
  });

  it('round-trips jsonb and bytea', async () => {
    const doc = { amount: '12.50', tags: ['a', 'ü', '✓'], nested: { ok: true, n: null } };
    const blob = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await pool.query('INSERT INTO item (id, label, doc, blob) VALUES ($1, $2, $3, $4)', [10, 'typed', doc, blob]);
    const { rows } = await pool.query<{ doc: unknown; blob: Buffer }>('SELECT doc, blob FROM item WHERE id = $1', [10]);
    expect(rows[0]!.doc).toEqual(doc);
    expect(Buffer.isBuffer(rows[0]!.blob)).toBe(true);
    expect(rows[0]!.blob.equals(blob)).toBe(true);
  });

  it('reports a unique violation with SQLSTATE 23505 and the constraint', async () => {
    await pool.query(`INSERT INTO item (id, label) VALUES (20, 'unique-label')`);
    const err = await pool.query(`INSERT INTO item (id, label) VALUES (21, 'unique-label')`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', constraint: 'item_label_key' });
    // The session is usable afterwards.
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('returns results and row counts like pg (multi-statement, rowCount, command)', async () => {
    const res = (await pool.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as { rows: unknown[] }[];
    expect(res.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
    const upd = await pool.query('UPDATE item SET doc = $1 WHERE id >= $2', [{ touched: true }, 10]);
    expect(upd.command).toBe('UPDATE');
    expect(upd.rowCount).toBe(2);
  });

  it('SELECT ... FOR UPDATE makes a second locker wait for the first to commit', async () => {
    await pool.query('UPDATE counter SET n = 100 WHERE id = 1');
    const events: string[] = [];
    const first = inTransaction(async (q) => {
      await q('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
      events.push('first locked');
      await sleep(150);
      await q('UPDATE counter SET n = n + 1 WHERE id = 1');
      events.push('first commits');
    });
    await sleep(30);
    const second = inTransaction(async (q) => {
      const { rows } = await q<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
      events.push(`second locked n=${rows[0]!.n}`);
    });
    await Promise.all([first, second]);
    expect(events).toEqual(['first locked', 'first commits', 'second locked n=101']);
  });

  it('10 concurrent read-modify-write transactions with FOR UPDATE add exactly 10', async () => {
    await pool.query('UPDATE counter SET n = 0 WHERE id = 1');
    await Promise.all(
      Array.from({ length: 10 }, () =>
        inTransaction(async (q) => {
          const { rows } = await q<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
          await sleep(5); // widen the window a lost update would need
          await q('UPDATE counter SET n = $1 WHERE id = 1', [rows[0]!.n + 1]);
        }),
      ),
    );
    expect((await pool.query('SELECT n FROM counter WHERE id = 1')).rows).toEqual([{ n: 10 }]);
  });

  it('a rollback in one transaction does not touch another running at the same time', async () => {
    const committed = inTransaction(async (q) => {
      await q(`INSERT INTO item (id, label) VALUES (30, 'committed')`);
      await sleep(50);
    });
    const rolledBack = inTransaction(async (q) => {
      await q(`INSERT INTO item (id, label) VALUES (31, 'rolled-back')`);
      await sleep(20);
      throw new Error('abort');
    }).catch(() => 'aborted');
    expect(await rolledBack).toBe('aborted');
    await committed;
    const { rows } = await pool.query<{ id: number }>('SELECT id FROM item WHERE id IN (30, 31)');
    expect(rows).toEqual([{ id: 30 }]);
  });
});

(backend === 'pglite' ? describe : describe.skip)('PGlite session hand-over', () => {
  it('a client released inside a transaction does not leak it to the next holder', async () => {
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query(`INSERT INTO item (id, label) VALUES (40, 'leaked?')`);
    await client.query('SELECT pg_advisory_lock(42)');
    client.release();
    // The next holder starts outside any transaction and without the previous holder's locks.
    const next = await pool.connect();
    try {
      expect((await next.query(`SELECT count(*)::int AS c FROM item WHERE id = 40`)).rows).toEqual([{ c: 0 }]);
      expect((await next.query('SELECT pg_try_advisory_lock(42) AS got')).rows).toEqual([{ got: true }]);
      await next.query('SELECT pg_advisory_unlock(42)');
    } finally {
      next.release();
    }
  });

  it('persists to its folder: data survives closing and reopening', async () => {
    const dir = pgliteDataDir(db.config.DATA_DIR);
    await pool.query(`INSERT INTO item (id, label) VALUES (50, 'durable')`);
    await pool.end();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
    pool = new PglitePool(dir);
    expect((await pool.query('SELECT label FROM item WHERE id = 50')).rows).toEqual([{ label: 'durable' }]);
  });

  it('pools of one folder share one PGlite instance and one session', async () => {
    const other = new PglitePool(pgliteDataDir(db.config.DATA_DIR));
    try {
      expect(await other.ready()).toBe(await (pool as PglitePool).ready());
      const held = await pool.connect();
      let otherRan = false;
      const waiting = other.query('SELECT 1').then(() => (otherRan = true));
      await sleep(50);
      expect(otherRan).toBe(false);
      held.release();
      await waiting;
      expect(otherRan).toBe(true);
    } finally {
      await other.end();
    }
  });

  it('refuses a folder another live process holds, naming the process', async () => {
    const dir = `${db.config.DATA_DIR}/elsewhere`;
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      fs.mkdirSync(db.config.DATA_DIR, { recursive: true });
      fs.writeFileSync(`${dir}.lock`, `${holder.pid} some-other-instance`);
      const intruder = new PglitePool(dir);
      await expect(intruder.query('SELECT 1')).rejects.toThrow(`in use by process ${holder.pid}`);
      await intruder.end();
    } finally {
      holder.kill();
    }
    // Once the holder is gone, its lock is stale and the folder opens.
    await new Promise((r) => holder.once('exit', r));
    const after = new PglitePool(dir);
    const started = Date.now();
    expect((await after.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    console.log(`PGlite first open (initdb) through the facade: ${Date.now() - started} ms`);
    await after.end();
  });
});
