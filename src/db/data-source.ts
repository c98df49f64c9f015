/**
 * The service's TypeORM DataSource: PostgreSQL when DATABASE_URL is set, otherwise the embedded
 * PGlite database in `${DATA_DIR}/pglite` (see pglite-driver.ts). The schema is owned by the
 * migrations in migrations/ (never `synchronize`), run explicitly with runMigrations().
 *
 * Plain module: used by the Nest DbModule and by command-line tools.
 *
 *   const ds = createDataSource(config);
 *   await initializeDataSource(ds);     // or ds.initialize(); this one explains connection failures
 *   await runMigrations(ds);
 *   ...
 *   await ds.destroy();                 // also closes PGlite when nothing else uses it
 */
import { DataSource, MigrationExecutor, TypeORMError, type DataSourceOptions, type MigrationInterface, type Migration } from 'typeorm';
import type { AppConfig } from '../config/config.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { isPgliteDriver, pgliteDataDir, pgliteDriver } from './pglite-driver.js';

export type DatabaseBackend = 'postgresql' | 'pglite';

export interface DataSourceExtras {
  /** Replaces the ENTITIES registry (tests). */
  entities?: Function[];
  /** Replaces the MIGRATIONS registry (tests). */
  migrations?: (new () => MigrationInterface)[];
}

/** How long to wait for a PostgreSQL server to accept a connection before giving up. */
const CONNECT_TIMEOUT_MS = 10_000;

export function databaseBackend(config: AppConfig): DatabaseBackend {
  return config.DATABASE_URL ? 'postgresql' : 'pglite';
}

export function createDataSourceOptions(config: AppConfig, extra: DataSourceExtras = {}): DataSourceOptions {
  const common = {
    type: 'postgres',
    entities: extra.entities ?? ENTITIES,
    migrations: extra.migrations ?? MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    // No CREATE EXTENSION probes: the schema uses only built-ins (gen_random_uuid() since PG 13).
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    applicationName: 'privacy-service',
  } as const;
  if (config.DATABASE_URL) {
    return { ...common, url: config.DATABASE_URL, connectTimeoutMS: CONNECT_TIMEOUT_MS };
  }
  return { ...common, driver: pgliteDriver(pgliteDataDir(config.DATA_DIR)) };
}

export function createDataSource(config: AppConfig, extra: DataSourceExtras = {}): DataSource {
  return new DataSource(createDataSourceOptions(config, extra));
}

/** Which database a DataSource (or its options) talks to. */
export function backendOf(options: DataSourceOptions): DatabaseBackend {
  return options.type === 'postgres' && isPgliteDriver(options.driver) ? 'pglite' : 'postgresql';
}

/** Where a DataSource points, for messages: "127.0.0.1:5432/app" or the PGlite folder. Never the password. */
export function describeTarget(options: DataSourceOptions): string {
  if (options.type === 'postgres' && isPgliteDriver(options.driver)) return options.driver.dataDir;
  const url = options.type === 'postgres' ? options.url : undefined;
  if (!url) return 'PostgreSQL';
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'an unparseable DATABASE_URL';
  }
}

/** Error codes of failures worth retrying: the server may come up or become reachable. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P03', 'CONNECT_TIMEOUT']);

/** A database that could not be reached or opened, described so a person can act on it. */
export class DatabaseConnectionError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'DatabaseConnectionError';
  }
}

/**
 * Turns a driver error raised while connecting into one line naming the target and the reason,
 * e.g. "cannot connect to PostgreSQL at 127.0.0.1:5999/app: connection refused". The password of the
 * URL never appears, even if a lower layer echoed it.
 */
export function describeConnectionError(err: unknown, options: DataSourceOptions): DatabaseConnectionError {
  const e = (err ?? {}) as { code?: string; message?: string; errors?: { code?: string }[] };
  const target = describeTarget(options);
  const url = options.type === 'postgres' ? options.url : undefined;
  let user = 'postgres';
  let database = 'postgres';
  let password = '';
  try {
    if (url) {
      const u = new URL(url);
      user = decodeURIComponent(u.username) || user;
      database = decodeURIComponent(u.pathname.slice(1)) || user;
      password = decodeURIComponent(u.password);
    }
  } catch {
    // described as unparseable by describeTarget
  }
  let raw = e.message ?? String(err);
  if (password) raw = raw.split(password).join('***').split(encodeURIComponent(password)).join('***');
  raw = raw.replace(/(\w+:\/\/)[^@\s/]+@/g, '$1***@');

  if (backendOf(options) === 'pglite') {
    const reason = raw.startsWith('cannot open') || raw.startsWith('the embedded database') ? raw : `cannot open the embedded database (PGlite) in ${target}: ${raw}`;
    return new DatabaseConnectionError(reason, e.code, false);
  }
  // AggregateError (IPv4 + IPv6 both refused) carries the codes in .errors.
  const code = e.code ?? e.errors?.find((x) => x.code)?.code ?? (/timeout/i.test(raw) ? 'CONNECT_TIMEOUT' : undefined);
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is the server running and listening on that address?)',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed (DNS temporarily unavailable)',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server',
    CONNECT_TIMEOUT: `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
    '28P01': `password authentication failed for user "${user}"`,
    '28000': `the server rejected user "${user}" (check pg_hba.conf and the user name)`,
    '3D000': `database "${database}" does not exist`,
    '57P03': 'the server is starting up or shutting down',
    '53300': 'too many connections',
  };
  const reason = (code && reasons[code]) ?? raw;
  return new DatabaseConnectionError(`cannot connect to PostgreSQL at ${target}: ${reason}`, code, code !== undefined && TRANSIENT.has(code));
}

/** DataSource.initialize() with failures explained by describeConnectionError(). */
export async function initializeDataSource(ds: DataSource): Promise<DataSource> {
  try {
    return await ds.initialize();
  } catch (e) {
    if (e instanceof DatabaseConnectionError) throw e;
    // TypeORM's own errors without a driver code (entity metadata problems) are not connection problems.
    if (e instanceof TypeORMError && !(e as { code?: unknown }).code) throw e;
    throw describeConnectionError(e, ds.options);
  }
}

/**
 * Arbitrary but fixed key for the advisory lock that serializes migration runs across processes
 * (two replicas starting at once must not both apply the same migration). ASCII "privmigr".
 */
export const MIGRATION_LOCK_KEY = 0x707269766d696772n;

/**
 * Applies pending migrations, each in its own transaction, and returns those applied.
 * Safe to call from several processes at once on PostgreSQL: the whole run holds a session
 * advisory lock, so a second process waits and then finds nothing pending. Migrations run on the
 * same connection that holds the lock (which is also what the one-session PGlite needs).
 */
export async function runMigrations(ds: DataSource): Promise<Migration[]> {
  const runner = ds.createQueryRunner('master');
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      const executor = new MigrationExecutor(ds, runner);
      executor.transaction = 'each';
      return await executor.executePendingMigrations();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}
