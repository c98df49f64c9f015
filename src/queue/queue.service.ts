/**
 * Background jobs on pg-boss, in the service's own database (schema `pgboss`), so a job is as
 * durable as the data it concerns and no other server is needed.
 *
 *   - PostgreSQL: pg-boss gets DATABASE_URL and its own small connection pool.
 *   - PGlite: pg-boss runs its SQL through the same one-session facade as TypeORM (a PglitePool on
 *     the same folder), so both share one PGlite instance and never interleave on its session.
 *
 * Queues must exist before jobs are sent or worked (pg-boss 12). A capability declares its queue
 * and handler once with register(); every process that loads the capability creates the queue at
 * start-up (so it can send), and only a process that calls startWorkers() (the worker entry point,
 * or the API in embedded mode) runs the handlers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PgBoss, type Db as IDatabase, type Job, type JobWithMetadata, type Queue, type SendOptions } from 'pg-boss';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { pgliteDataDir, PglitePool } from '../db/pglite-driver.js';

export const QUEUE_SCHEMA = 'pgboss';

/** Handles one job; what it returns is stored as the job's output. Throwing fails the attempt (retried per the queue's policy). */
export type JobHandler<T = unknown> = (job: Job<T>) => Promise<unknown>;

/** Queue policy: retries, expiry, retention, dead letter queue (see pg-boss' Queue). */
export type QueueOptions = Omit<Queue, 'name'>;

export interface WorkerOptions {
  /** How often an idle worker looks for jobs (default 2 s, minimum 0.5 s). */
  pollingIntervalSeconds?: number;
  /** Jobs of this queue handled at once by this process (default 1). */
  localConcurrency?: number;
}

export interface SendJobOptions extends Omit<SendOptions, 'db'> {
  /**
   * Send inside this TypeORM transaction: the job exists only if the transaction commits. Required
   * when sending while holding a transaction on PGlite (its one session is held by that transaction).
   */
  manager?: EntityManager;
}

interface Registration {
  handler: JobHandler<any>;
  queue?: QueueOptions;
  worker?: WorkerOptions;
}

@Injectable()
export class QueueService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Queue');
  private readonly registrations = new Map<string, Registration>();
  private pglite?: PglitePool;
  private starting?: Promise<PgBoss>;
  private workersRunning = false;
  private stopped = false;
  /**
   * The transaction a send() with `manager` runs in. On PGlite every statement pg-boss issues for
   * that send (including its queue lookup) must use the transaction's connection: the one session
   * is held by that transaction, so a second connection would wait for it forever.
   */
  private readonly sendingIn = new AsyncLocalStorage<{ db: IDatabase; open: boolean }>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    await this.start();
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const [name, r] of this.registrations) await this.createQueue(name, r.queue);
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** Connects pg-boss and installs or upgrades its schema. Idempotent. */
  start(): Promise<PgBoss> {
    if (this.stopped) return Promise.reject(new Error('the job queue has been stopped'));
    this.starting ??= this.doStart().catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  private async doStart(): Promise<PgBoss> {
    let boss: PgBoss;
    if (this.config.DATABASE_URL) {
      boss = new PgBoss({ connectionString: this.config.DATABASE_URL, schema: QUEUE_SCHEMA, application_name: 'privacy-service-queue' });
    } else {
      const pool = new PglitePool(pgliteDataDir(this.config.DATA_DIR));
      this.pglite = pool;
      const db: IDatabase = {
        executeSql: (text, values) => {
          const tx = this.sendingIn.getStore();
          return tx?.open ? tx.db.executeSql(text, values) : pool.query(text, values);
        },
      };
      boss = new PgBoss({ db, backend: 'pglite', schema: QUEUE_SCHEMA });
    }
    boss.on('error', (e: Error) => this.logger.error(`pg-boss: ${e.message}`));
    boss.on('warning', (w: { message: string }) => this.logger.warn(`pg-boss: ${w.message}`));
    try {
      await boss.start();
    } catch (e) {
      await this.pglite?.end();
      this.pglite = undefined;
      throw e;
    }
    return boss;
  }

  /** Creates a queue with its policy; does nothing if it exists. */
  async createQueue(name: string, options: QueueOptions = {}): Promise<void> {
    await (await this.start()).createQueue(name, options);
  }

  /** Enqueues a job; returns its id (null when a singleton/throttle option suppressed it). */
  async send<T extends object>(queue: string, data: T, options: SendJobOptions = {}): Promise<string | null> {
    const { manager, ...rest } = options;
    const boss = await this.start();
    if (!manager) return boss.send(queue, data, rest);
    const tx = { db: transactionDb(manager), open: true };
    try {
      return await this.sendingIn.run(tx, () => boss.send(queue, data, { ...rest, db: tx.db }));
    } finally {
      tx.open = false; // anything pg-boss started during the send must not outlive the transaction
    }
  }

  /** Starts handling a queue in this process now; returns the worker id. */
  async work<T = unknown>(queue: string, handler: JobHandler<T>, options: WorkerOptions = {}): Promise<string> {
    const boss = await this.start();
    return boss.work<T>(queue, { ...options, batchSize: 1 }, async ([job]: Job<T>[]) => handler(job!));
  }

  /** Declares a queue and its handler; the handler runs once startWorkers() is called in this process. */
  register<T = unknown>(queue: string, handler: JobHandler<T>, options: { queue?: QueueOptions; worker?: WorkerOptions } = {}): void {
    if (this.registrations.has(queue)) throw new Error(`a handler for queue "${queue}" is already registered`);
    this.registrations.set(queue, { handler, ...options });
    if (this.workersRunning) void this.startWorker(queue).catch((e: Error) => this.logger.error(`cannot start worker for ${queue}: ${e.message}`));
  }

  /** Runs every registered handler in this process (worker processes; the API in embedded mode). */
  async startWorkers(): Promise<string[]> {
    this.workersRunning = true;
    const names = [...this.registrations.keys()];
    for (const name of names) await this.startWorker(name);
    return names;
  }

  private async startWorker(name: string): Promise<void> {
    const r = this.registrations.get(name)!;
    await this.createQueue(name, r.queue);
    await this.work(name, r.handler, r.worker);
  }

  /** A job with its state and output, or null. */
  async getJob<T = unknown>(queue: string, id: string): Promise<JobWithMetadata<T> | null> {
    const [job] = await (await this.start()).findJobs<T>(queue, { id });
    return job ?? null;
  }

  /** Stops fetching, waits (up to 30 s) for jobs in progress, then disconnects. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    const starting = this.starting;
    this.starting = undefined;
    this.workersRunning = false;
    const boss = await starting?.catch(() => undefined);
    try {
      await boss?.stop({ graceful: true, timeout: 30_000 });
    } finally {
      await this.pglite?.end();
      this.pglite = undefined;
    }
  }
}

/** Lets pg-boss write through a TypeORM transaction (its statements are single, parameterized). */
function transactionDb(manager: EntityManager): IDatabase {
  return {
    executeSql: async (text, values) => {
      const runner = manager.queryRunner;
      if (!runner) return { rows: (await manager.query(text, values)) as unknown[] };
      const result = await runner.query(text, values, true);
      return { rows: result.records ?? [] };
    },
  };
}
