import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  backendOf,
  createDataSourceOptions,
  DatabaseConnectionError,
  describeTarget,
  initializeDataSource,
  runMigrations,
} from './data-source.js';
import { DbHealth } from './db-health.js';

const logger = new Logger('Database');

/**
 * Opens the service's DataSource (PostgreSQL or embedded PGlite, see data-source.ts), applies
 * pending migrations before anything else starts, and provides DbHealth. Global: the DataSource,
 * DbHealth (and repositories via TypeOrmModule.forFeature) are injectable without importing it.
 *
 * Start-up fails fast with one actionable line when the database cannot be reached: only
 * transient network errors are retried, twice, a second apart.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): TypeOrmModuleOptions => ({
        ...createDataSourceOptions(config),
        retryAttempts: 2,
        retryDelay: 1000,
        toRetry: (e: unknown) => e instanceof DatabaseConnectionError && e.transient,
      }),
      dataSourceFactory: async (options?: DataSourceOptions) => openDatabase(options!),
    }),
  ],
  providers: [DbHealth],
  exports: [DbHealth],
})
export class DbModule {}

async function openDatabase(options: DataSourceOptions): Promise<DataSource> {
  const started = Date.now();
  const ds = await initializeDataSource(new DataSource(options));
  try {
    const applied = await runMigrations(ds);
    const what = backendOf(options) === 'pglite' ? `embedded PGlite in ${describeTarget(options)}` : `PostgreSQL at ${describeTarget(options)}`;
    const migrations = applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'schema up to date';
    logger.log(`${what} ready in ${Date.now() - started} ms; ${migrations}`);
    return ds;
  } catch (e) {
    await ds.destroy().catch(() => undefined);
    throw e;
  }
}
