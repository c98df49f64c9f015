/**
 * DbModule in a Nest application context: migrations at start-up, DbHealth, and start-up failures
 * that say what is wrong (fast, and without the password).
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { NestFactory } from '@nestjs/core';
import { Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { DbModule } from '../../src/db/db.module.js';
import { DbHealth } from '../../src/db/db-health.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { pgliteDataDir } from '../../src/db/pglite-driver.js';
import { backend, freshDatabase, type TestDatabase } from './support.js';

@Module({})
class TestAppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: TestAppModule, imports: [ConfigModule.forRoot(config), DbModule] };
  }
}

const start = (config: AppConfig) => NestFactory.createApplicationContext(TestAppModule.forRoot(config), { logger: false, abortOnError: false });

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe(`DbModule (${backend})`, () => {
  it('migrates at start-up, reports health with the backend, and closes cleanly', async () => {
    const app = await start(db.config);
    try {
      const ds = app.get(DataSource);
      expect(await ds.query('SELECT count(*)::int AS c FROM migrations')).toEqual([{ c: MIGRATIONS.length }]);
      const health = await app.get(DbHealth).health();
      expect(health).toMatchObject({ status: 'ok', backend });
      expect(health.detail).toMatch(backend === 'pglite' ? /^embedded PGlite \(PostgreSQL 18/ : /^PostgreSQL \d+/);
    } finally {
      await app.close();
    }
    if (backend === 'pglite') expect(fs.existsSync(`${pgliteDataDir(db.config.DATA_DIR)}.lock`)).toBe(false);
    // A second start finds the schema up to date.
    const again = await start(db.config);
    expect((await again.get(DbHealth).health()).status).toBe('ok');
    await again.close();
  });

  it('fails fast on an unreachable PostgreSQL, naming host and reason but not the password', async () => {
    const config = loadConfig({ HSM_PIN: '1234', DATA_DIR: db.config.DATA_DIR, DATABASE_URL: 'postgres://svc:s3cret-pw@127.0.0.1:5999/app' });
    const started = Date.now();
    const err = (await start(config).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:5999\/app: connection refused/);
    expect(`${err.message}\n${err.stack}`).not.toContain('s3cret-pw');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  (backend === 'postgresql' ? it : it.skip)('does not retry errors that waiting cannot fix (unknown database)', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = '/no_such_database_here';
    const config = loadConfig({ HSM_PIN: '1234', DATA_DIR: db.config.DATA_DIR, DATABASE_URL: url.toString() });
    const started = Date.now();
    const err = (await start(config).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/cannot connect to PostgreSQL at .*\/no_such_database_here: database "no_such_database_here" does not exist/);
    expect(Date.now() - started).toBeLessThan(900); // no 1 s retry delay
  });

  (backend === 'pglite' ? it : it.skip)('refuses to start on a PGlite folder another process holds', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    const lock = `${pgliteDataDir(db.config.DATA_DIR)}.lock`;
    try {
      fs.writeFileSync(lock, `${holder.pid} another-instance`);
      const err = (await start(db.config).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(`is in use by process ${holder.pid}`);
    } finally {
      holder.kill();
      fs.rmSync(lock, { force: true });
    }
  });
});
