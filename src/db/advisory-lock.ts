import type { DataSource, QueryRunner } from 'typeorm';
import { backendOf } from './data-source.js';

/** Releases a lock taken by tryAdvisoryLock. */
export type Unlock = () => Promise<void>;

/**
 * Lets one process at a time run a task across every process on the database (anchoring, root
 * publication): a session-level PostgreSQL advisory lock held on a connection of its own, so a
 * process that dies releases it with its connection. Returns the release, or null when another
 * process holds the lock. PGlite serves a single process, whose runs are already shared in
 * process, so it takes no lock (holding its one session for the run would starve the run's own
 * queries).
 */
export async function tryAdvisoryLock(ds: DataSource, key: bigint): Promise<Unlock | null> {
  if (backendOf(ds.options) === 'pglite') return async () => undefined;
  const runner = ds.createQueryRunner('master');
  const discard = (e: unknown) =>
    // A connection that may still hold the lock must not go back to the pool.
    (runner as QueryRunner & { releasePostgresConnection?: (err: unknown) => Promise<void> }).releasePostgresConnection?.(e) ?? runner.release();
  let locked: boolean;
  try {
    const [row] = await runner.query(`SELECT pg_try_advisory_lock($1) AS locked`, [key.toString()]);
    locked = row.locked === true;
  } catch (e) {
    await discard(e);
    throw e;
  }
  if (!locked) {
    await runner.release();
    return null;
  }
  return async () => {
    try {
      await runner.query(`SELECT pg_advisory_unlock($1)`, [key.toString()]);
      await runner.release();
    } catch (e) {
      await discard(e);
    }
  };
}
