/**
 * A fresh, empty database per test file, on the backend the suite runs against:
 *   - DATABASE_URL set: a new PostgreSQL database created next to the one in the URL (dropped after);
 *   - otherwise: a PGlite folder in a temp directory (removed after).
 * A new PGlite folder costs an initdb (several seconds), so the first one is kept as a template in
 * the temp directory and later ones are copies of it (still empty: no tables of ours).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { pg, pgliteDataDir, PglitePool, type PgPoolClient, type PgQueryConfig, type PgQueryResult } from '../../src/db/pglite-driver.js';

export const backend: 'postgresql' | 'pglite' = process.env.DATABASE_URL ? 'postgresql' : 'pglite';

/** The pool API shared by pg.Pool and PglitePool. */
export interface PoolLike {
  connect(): Promise<PgPoolClient>;
  query<R = Record<string, unknown>>(text: string | PgQueryConfig, values?: unknown[]): Promise<PgQueryResult<R>>;
  end(): Promise<void>;
}

export interface TestDatabase {
  backend: 'postgresql' | 'pglite';
  config: AppConfig;
  /** A pg pool on this database (a real pg.Pool, or the PGlite facade). End it before drop(). */
  pool(): PoolLike;
  drop(): Promise<void>;
}

const PGLITE_VERSION = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
).version as string;

async function pgliteTemplate(): Promise<string> {
  const template = path.join(os.tmpdir(), `pglite-template-${PGLITE_VERSION}`);
  if (fs.existsSync(path.join(template, 'PG_VERSION'))) return template;
  const building = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-template-build-'));
  const dir = path.join(building, 'pglite');
  const pool = new PglitePool(dir);
  await pool.query('SELECT 1');
  await pool.end();
  try {
    fs.renameSync(dir, template);
  } catch {
    // another test process made it first
  }
  fs.rmSync(building, { recursive: true, force: true });
  return template;
}

function testConfig(env: Record<string, string>): AppConfig {
  return loadConfig({ NODE_ENV: 'test', HSM_PIN: '1234', LOG_LEVEL: 'silent', ...env });
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  if (backend === 'postgresql') {
    const base = new URL(process.env.DATABASE_URL!);
    const admin = new pg.Pool({ connectionString: base.toString(), max: 1 });
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    const config = testConfig({ DATABASE_URL: url.toString(), DATA_DIR: os.tmpdir() });
    return {
      backend,
      config,
      pool: () => {
        const pool = new pg.Pool({ connectionString: url.toString(), max: 20 });
        // pool.end() resolves before every socket has closed; drop() then terminates the stragglers.
        pool.on('error', () => undefined);
        return pool;
      },
      drop: async () => {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  fs.cpSync(await pgliteTemplate(), pgliteDataDir(dataDir), { recursive: true });
  return {
    backend,
    config: testConfig({ DATA_DIR: dataDir }),
    pool: () => new PglitePool(pgliteDataDir(dataDir)),
    drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}
