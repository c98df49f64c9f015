/**
 * A throw-away database for a benchmark run, with the service's own schema (migrations):
 *   - postgresql: the database named in the URL (default privacy_bench on the local server) is
 *     dropped and created again, then migrated;
 *   - pglite: a new folder under the OS temp directory, removed afterwards.
 * Uses the service's createDataSource/runMigrations, so the tables, indexes, constraints and
 * triggers are exactly those of production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { loadConfig } from '../../src/config/config.js';
import { createDataSourceOptions, initializeDataSource, runMigrations } from '../../src/db/data-source.js';

export type Backend = 'postgresql' | 'pglite';

export const DEFAULT_BENCH_URL = 'postgres://postgres@127.0.0.1:5432/privacy_bench';

export interface BenchDatabase {
  backend: Backend;
  dataSource: DataSource;
  /** Where it lives, for the report (no credentials). */
  target: string;
  /** Server settings that matter for commit latency (PostgreSQL only). */
  settings: Record<string, string>;
  /** Closes the DataSource and removes the database (unless keep). */
  close(keep?: boolean): Promise<void>;
}

function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`benchmark database name "${name}" must be a plain lower-case identifier`);
  return name;
}

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(url) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Opens a fresh, migrated database. `poolSize` is the connection pool size on PostgreSQL
 * (PGlite has a single session whatever the pool size).
 */
export async function openBenchDatabase(backend: Backend, options: { url?: string; poolSize: number }): Promise<BenchDatabase> {
  if (backend === 'postgresql') {
    const url = options.url ?? DEFAULT_BENCH_URL;
    const name = databaseName(url);
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin(url, `CREATE DATABASE ${name}`);
    const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent' }, { requireHsm: false });
    const base = createDataSourceOptions(config);
    const dataSource = new DataSource({ ...base, extra: { max: options.poolSize } } as DataSourceOptions);
    await initializeDataSource(dataSource);
    await runMigrations(dataSource);
    const settings: Record<string, string> = {};
    for (const s of ['server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'wal_level']) {
      const [row] = await dataSource.query(`SELECT current_setting($1) AS v`, [s]);
      settings[s] = String(row.v);
    }
    const u = new URL(url);
    return {
      backend,
      dataSource,
      target: `${u.hostname}:${u.port || '5432'}/${name}`,
      settings,
      close: async (keep = false) => {
        await dataSource.destroy();
        if (!keep) await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'audit-bench-pglite-'));
  const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }, { requireHsm: false });
  const dataSource = new DataSource(createDataSourceOptions(config));
  await initializeDataSource(dataSource);
  await runMigrations(dataSource);
  const [row] = await dataSource.query(`SELECT current_setting('server_version') AS v`);
  return {
    backend,
    dataSource,
    target: 'PGlite in a temporary folder',
    settings: { server_version: String(row.v) },
    close: async (keep = false) => {
      await dataSource.destroy();
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
  };
}
