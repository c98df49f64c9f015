import type { INestApplicationContext } from '@nestjs/common';
import { QueueService } from './queue/queue.service.js';
import { AuditScheduler } from './audit/audit-scheduler.js';

/**
 * Starts the background work of a process that runs workers: every registered job handler, and
 * the periodic tasks (audit checkpoints and anchoring). The worker entry point calls it; so does
 * the embedded service, whose single PGlite database cannot be shared with another process.
 */
export async function startBackgroundWork(app: INestApplicationContext): Promise<string[]> {
  const queues = await app.get(QueueService).startWorkers();
  app.get(AuditScheduler).start();
  return queues;
}
