import { Module } from '@nestjs/common';
import { QueueService } from './queue.service.js';
import { SystemPing } from './system-ping.js';

/**
 * Background jobs (pg-boss on the service's database). Capabilities inject QueueService and
 * register their queues and handlers; see queue.service.ts for which process runs them.
 */
@Module({
  providers: [QueueService, SystemPing],
  exports: [QueueService],
})
export class QueueModule {}
