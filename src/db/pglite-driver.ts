/**
 * The embedded database: PGlite (PostgreSQL 18 compiled to WebAssembly, persisted to a folder)
 * behind the API of the `pg` module, so TypeORM (its `driver` option) and pg-boss (a `db` adapter)
 * use it as they would use a PostgreSQL server.
 *
 * Why a pool of one: PGlite is a single backend with a single session. A server gives each pooled
 * connection its own session; here every "connection" would share the one session, so two
 * interleaved transactions would silently become one (a ROLLBACK in one undoes the other, and
 * SELECT ... FOR UPDATE cannot make the second wait). The session is therefore lent to one client
 * at a time: callers queue in FIFO order until the holder releases it, as with a pg pool whose
 * `max` is 1. The client lent out is a real `pg.Client` whose wire protocol goes to PGlite in
 * memory (PGlite's node-postgres connection), so parsing of results, error objects (SQLSTATE in
 * `.code`) and multi-statement simple queries behave exactly as against a server.
 *
 * The consequence to keep in mind: while a caller holds the session (an open transaction), anyone
 * else who asks for a connection waits. Code that holds a transaction and then asks for a second
 * connection waits for itself; that is reported after SESSION_WAIT_MS instead of hanging.
 *
 * One process at a time: PGlite has no postmaster to arbitrate between processes, and two
 * processes writing one folder corrupt it. A lock file beside the folder makes a second process
 * fail with a message instead.
 *
 * Plain module: no Nest imports.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { PglitePgConnection } from '@electric-sql/pglite/node-postgres';
// @ts-ignore -- node-postgres ships no type declarations; the few members used are typed below.
import pgModule from 'pg';

/** The parts of node-postgres' API used here and by TypeORM / pg-boss. */
export interface PgQueryResult<R = Record<string, unknown>> {
  command: string;
  rowCount: number | null;
  rows: R[];
  fields: { name: string; dataTypeID: number }[];
}
export interface PgQueryConfig {
  text: string;
  values?: unknown[];
}
export interface PgClient extends EventEmitter {
  query<R = Record<string, unknown>>(text: string | PgQueryConfig, values?: unknown[]): Promise<PgQueryResult<R>>;
}
export interface PgPoolClient extends PgClient {
  /** Gives the session back. Passing an error discards this client (the next one starts clean). */
  release(err?: Error | boolean): void;
}
export interface PgPool extends EventEmitter {
  connect(): Promise<PgPoolClient>;
  query<R = Record<string, unknown>>(text: string | PgQueryConfig, values?: unknown[]): Promise<PgQueryResult<R>>;
  end(): Promise<void>;
}
interface PgModule {
  Client: new (config?: Record<string, unknown>) => PgClient;
  Pool: new (config?: Record<string, unknown>) => PgPool;
}
export const pg = pgModule as PgModule;

/** How long a caller waits for the session before being told that something is holding it. */
export const SESSION_WAIT_MS = 60_000;

/** The folder PGlite keeps its files in, for a service DATA_DIR. */
export function pgliteDataDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'pglite');
}

// ---------------------------------------------------------------------------------------------
// The shared session: one per data folder per process, opened on first use, closed when the last
// pool using it ends.
// ---------------------------------------------------------------------------------------------

/** Identifies this module instance in lock files (a process can load the module more than once, e.g. under Jest). */
const INSTANCE = randomUUID();
const sessions = new Map<string, PgliteSession>();
const closing = new Map<string, Promise<void>>();

class PgliteSession {
  refs = 0;
  readonly pools = new Set<PglitePool>();
  private opened?: Promise<{ pglite: PGlite; pool: PgPool }>;
  /** Set when a holder gave the session back in a state the next holder must not inherit. */
  private dirty = false;
  private readonly lockPath: string;

  constructor(
    readonly dataDir: string,
    private readonly previousClose: Promise<void>,
  ) {
    this.lockPath = `${dataDir}.lock`;
  }

  /** Opens PGlite on first use. A failed open is forgotten, so the next pool retries. */
  private open(): Promise<{ pglite: PGlite; pool: PgPool }> {
    this.opened ??= this.doOpen().catch((e: unknown) => {
      if (sessions.get(this.dataDir) === this) sessions.delete(this.dataDir);
      throw e;
    });
    return this.opened;
  }

  private async doOpen(): Promise<{ pglite: PGlite; pool: PgPool }> {
    await this.previousClose;
    fs.mkdirSync(path.dirname(this.dataDir), { recursive: true });
    takeLock(this.lockPath, this.dataDir);
    let pglite: PGlite;
    try {
      pglite = await PGlite.create(this.dataDir);
    } catch (e) {
      dropLock(this.lockPath);
      throw new Error(`cannot open the embedded database (PGlite) in ${this.dataDir}: ${(e as Error).message ?? e}`);
    }
    // Each pg.Client gets a fresh in-memory connection to the same PGlite backend.
    class SessionClient extends pg.Client {
      constructor(config: Record<string, unknown> = {}) {
        super({ ...config, connection: new PglitePgConnection({ pglite }) });
      }
    }
    const pool = new pg.Pool({ Client: SessionClient, max: 1, idleTimeoutMillis: 0, connectionTimeoutMillis: SESSION_WAIT_MS });
    pool.on('error', (err: Error) => {
      for (const p of this.pools) if (p.listenerCount('error') > 0) p.emit('error', err);
    });
    return { pglite, pool };
  }

  async ready(): Promise<PGlite> {
    return (await this.open()).pglite;
  }

  /** Waits (FIFO) for the session and lends it out until the client is released. */
  async checkout(): Promise<PgPoolClient> {
    const { pglite, pool } = await this.open();
    let client: PgPoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      if ((e as Error).message.includes('timeout exceeded')) {
        throw new Error(
          `waited ${SESSION_WAIT_MS / 1000} s for the embedded database session (PGlite serves one connection at a ` +
            'time); a caller is holding it, possibly a transaction that is itself waiting for a second connection',
        );
      }
      throw e;
    }
    // What a server does when a connection drops: abort its transaction and release its session locks.
    if (this.dirty || pglite.isInTransaction()) {
      try {
        if (pglite.isInTransaction()) await client.query('ROLLBACK');
        await client.query('SELECT pg_advisory_unlock_all()');
        this.dirty = false;
      } catch (e) {
        client.release(e as Error);
        throw e;
      }
    }
    const giveBack = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      if (err || pglite.isInTransaction()) this.dirty = true;
      giveBack(err);
    };
    return client;
  }

  /** Drops one reference; the last one closes PGlite (after the current holder, if any, is done). */
  async unref(): Promise<void> {
    if (--this.refs > 0) return;
    if (sessions.get(this.dataDir) === this) sessions.delete(this.dataDir);
    const done = this.close().finally(() => {
      if (closing.get(this.dataDir) === done) closing.delete(this.dataDir);
    });
    closing.set(this.dataDir, done);
    await done;
  }

  private async close(): Promise<void> {
    if (!this.opened) return;
    const opened = await this.opened.catch(() => undefined);
    if (!opened) return;
    const { pglite, pool } = opened;
    try {
      const client = await pool.connect().catch(() => undefined);
      if (client && pglite.isInTransaction()) await client.query('ROLLBACK').catch(() => undefined);
      client?.release();
      await pool.end();
    } finally {
      await pglite.close();
      dropLock(this.lockPath);
    }
  }
}

function acquireSession(dataDir: string): PgliteSession {
  const dir = path.resolve(dataDir);
  let session = sessions.get(dir);
  if (!session) {
    session = new PgliteSession(dir, closing.get(dir)?.catch(() => undefined) ?? Promise.resolve());
    sessions.set(dir, session);
  }
  session.refs++;
  return session;
}

// ---------------------------------------------------------------------------------------------
// The single-process lock.
// ---------------------------------------------------------------------------------------------

const ownLocks = new Set<string>();
let exitHookInstalled = false;

function takeLock(lockPath: string, dataDir: string): void {
  const mine = `${process.pid} ${INSTANCE}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, mine, { flag: 'wx' });
      ownLocks.add(lockPath);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once('exit', () => ownLocks.forEach((p) => fs.rmSync(p, { force: true })));
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const [pidText, instance] = fs.readFileSync(lockPath, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    const held = pid === process.pid ? instance !== INSTANCE : Number.isInteger(pid) && pid > 0 && processExists(pid);
    if (held) {
      throw new Error(
        `the embedded database in ${dataDir} is in use by process ${pid}: PGlite serves one process at a time ` +
          `(run job workers inside the service, or set DATABASE_URL to share a PostgreSQL server). ` +
          `If no such process exists, remove ${lockPath}`,
      );
    }
    fs.rmSync(lockPath, { force: true }); // left behind by a process that no longer runs
  }
  throw new Error(`cannot lock the embedded database in ${dataDir} (${lockPath})`);
}

function dropLock(lockPath: string): void {
  if (ownLocks.delete(lockPath)) fs.rmSync(lockPath, { force: true });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// The pg-compatible face.
// ---------------------------------------------------------------------------------------------

type ConnectCallback = (err: Error | undefined, client?: PgPoolClient, release?: (err?: Error | boolean) => void) => void;
type QueryCallback = (err: Error | undefined, result?: PgQueryResult) => void;

/**
 * A pg.Pool look-alike over the PGlite database in `dataDir`. Every PglitePool of one folder in a
 * process shares the same PGlite instance and the same one-at-a-time session; PGlite opens when the
 * first of them connects and closes when the last of them ends.
 */
export class PglitePool extends EventEmitter {
  private readonly session: PgliteSession;
  private ended?: Promise<void>;

  constructor(readonly dataDir: string) {
    super();
    this.session = acquireSession(dataDir);
    this.session.pools.add(this);
  }

  /** Resolves once PGlite is open (first open of a new folder runs initdb: several seconds). */
  async ready(): Promise<PGlite> {
    this.assertOpen();
    return this.session.ready();
  }

  /** Waits for the session; release the client to give it back. */
  connect(): Promise<PgPoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PgPoolClient> | void {
    const lent = Promise.resolve().then(() => {
      this.assertOpen();
      return this.session.checkout();
    });
    if (!callback) return lent;
    lent.then(
      (client) => callback(undefined, client, (err) => client.release(err)),
      (err: Error) => callback(err),
    );
  }

  /** One query on the session (several statements allowed when there are no parameters). */
  query<R = Record<string, unknown>>(text: string | PgQueryConfig, values?: unknown[]): Promise<PgQueryResult<R>>;
  query(text: string | PgQueryConfig, values: unknown[] | undefined, callback: QueryCallback): void;
  query<R = Record<string, unknown>>(
    text: string | PgQueryConfig,
    values?: unknown[],
    callback?: QueryCallback,
  ): Promise<PgQueryResult<R>> | void {
    const result = (async () => {
      const client = await this.connect();
      try {
        return await client.query<R>(text, values);
      } finally {
        client.release();
      }
    })();
    if (!callback) return result;
    result.then(
      (r) => callback(undefined, r as PgQueryResult),
      (err: Error) => callback(err),
    );
  }

  /** Stops using the database; PGlite closes when no other pool of the folder is open. */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | void {
    if (!this.ended) {
      this.session.pools.delete(this);
      this.ended = this.session.unref();
    }
    if (!callback) return this.ended;
    this.ended.then(() => callback(), callback);
  }

  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  private assertOpen(): void {
    if (this.ended) throw new Error(`the embedded database pool for ${this.dataDir} has been ended`);
  }
}

/**
 * What TypeORM's postgres driver takes as its `driver` option (in place of `import pg`): a module
 * whose Pool is a PglitePool on `dataDir`, whatever connection options TypeORM passes.
 */
export interface PgliteDriver {
  readonly Pool: new (options?: unknown) => PglitePool;
  readonly dataDir: string;
}

export function pgliteDriver(dataDir: string): PgliteDriver {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    Pool: class extends PglitePool {
      constructor() {
        super(dir);
      }
    },
  };
}

export function isPgliteDriver(driver: unknown): driver is PgliteDriver {
  return typeof driver === 'object' && driver !== null && typeof (driver as PgliteDriver).dataDir === 'string' && typeof (driver as PgliteDriver).Pool === 'function';
}
