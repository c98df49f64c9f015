/**
 * Shared fixtures of the ledger tests: a free local port, compiled artifacts and an isolated database.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../../src/config/config.js';
import { createDataSource, createDataSourceOptions, initializeDataSource, runMigrations } from '../../src/db/data-source.js';
import { DeployedContract } from '../../src/ledger/deployed-contract.entity.js';
import { Ledger1700000000100 } from '../../migrations/1700000000100-Ledger.js';

export const ROOT = process.cwd();
export const ARTIFACTS_DIR = path.join(ROOT, 'artifacts');

/** A port in 8600-9599 that nothing listens on (never the default 8545). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 8600 + Math.floor(Math.random() * 1000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port found in 8600-9599');
}

/** Compile the contracts when their artifacts are missing (normally done by the project set-up). */
export function ensureCompiled(): void {
  if (existsSync(path.join(ARTIFACTS_DIR, 'contracts', 'audit', 'AuditAnchor.sol', 'AuditAnchor.json'))) return;
  const cli = realpathSync(path.join(ROOT, 'node_modules', '.bin', 'hardhat'));
  execFileSync(process.execPath, [cli, 'build', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
}

export interface TestDatabase {
  dataSource: DataSource;
  backend: 'postgresql' | 'pglite';
  drop(): Promise<void>;
}

/**
 * The service's own DataSource (src/db) with only the ledger entity and migration: PostgreSQL when
 * DATABASE_URL is set, in a schema of its own (other suites may use the same database at the same
 * time), otherwise PGlite in a temporary folder. Dropped afterwards.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  const extras = { entities: [DeployedContract], migrations: [Ledger1700000000100] };
  if (process.env.DATABASE_URL) {
    const schema = `ledger_test_${randomBytes(6).toString('hex')}`;
    const config = { DATABASE_URL: process.env.DATABASE_URL } as AppConfig;
    const options = createDataSourceOptions(config, extras);
    const dataSource = new DataSource({ ...options, extra: { options: `-c search_path=${schema}` } } as DataSourceOptions);
    await initializeDataSource(dataSource);
    await dataSource.query(`CREATE SCHEMA ${schema}`);
    await runMigrations(dataSource);
    return {
      dataSource,
      backend: 'postgresql',
      drop: async () => {
        await dataSource.query(`DROP SCHEMA ${schema} CASCADE`);
        await dataSource.destroy();
      },
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'ledger-test-'));
  const dataSource = createDataSource({ DATA_DIR: dir } as AppConfig, extras);
  await initializeDataSource(dataSource);
  await runMigrations(dataSource);
  return {
    dataSource,
    backend: 'pglite',
    drop: async () => {
      await dataSource.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
