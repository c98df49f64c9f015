/**
 * Worker process: runs the handlers of background jobs, apart from the API.
 *
 *   npm run worker        (DATABASE_URL must point at the same PostgreSQL as the API)
 *
 * With the embedded PGlite database a separate worker cannot run while the API holds the database
 * (PGlite serves one process); the embedded service runs its workers in-process instead.
 * Stops gracefully on SIGTERM/SIGINT: no new jobs are fetched, jobs in progress finish (up to 30 s).
 */
import 'reflect-metadata';
import { Logger, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigModule } from './config/config.module.js';
import { loadConfig, type AppConfig } from './config/config.js';
import { DbModule } from './db/db.module.js';
import { QueueModule } from './queue/queue.module.js';
import { HsmModule } from './hsm/hsm.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { AuditModule } from './audit/audit.module.js';
import { ZkModule } from './zk/zk.module.js';
import { CustodyModule } from './custody/service/custody.module.js';
import { startBackgroundWork } from './background.js';

/** The modules whose job handlers this process runs. */
@Module({})
class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: WorkerModule, imports: [ConfigModule.forRoot(config), DbModule, QueueModule, HsmModule, LedgerModule, AuditModule, ZkModule, CustodyModule] };
  }
}

async function main(): Promise<void> {
  const logger = new Logger('Worker');
  let app: INestApplicationContext | undefined;
  let stopping = false;

  const close = async (ctx: INestApplicationContext): Promise<void> => {
    try {
      await ctx.close();
      logger.log(`worker ${process.pid} stopped`);
      process.exit(0);
    } catch (e) {
      logger.error(`error while stopping: ${(e as Error).message}`);
      process.exit(1);
    }
  };
  // Installed before start-up, so a signal during start-up (PGlite's first open takes seconds)
  // still ends with a clean close rather than the default abrupt exit.
  const onSignal = (signal: string) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting for jobs in progress`);
      process.exit(1);
    }
    stopping = true;
    logger.log(`${signal}: stopping (finishing jobs in progress)`);
    if (app) void close(app);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const config = loadConfig();
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { abortOnError: false });
  app = ctx;
  if (stopping) return close(ctx);
  const queues = await startBackgroundWork(ctx);
  logger.log(`worker ${process.pid} started on ${config.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}; queues: ${queues.join(', ')}`);
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`worker: ${msg.replace(/(\w+:\/\/)[^@\s/]+@/g, '$1***@').split('\n')[0]}`);
  process.exit(1);
});
