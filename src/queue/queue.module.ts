import { Global, Module } from '@nestjs/common';
import { QueueService } from './queue.service.js';
import { SystemPing } from './system-ping.js';

/**
 * Background jobs (pg-boss on the service's database). Global: capabilities inject QueueService
 * without importing this module, and register their queues and handlers; see queue.service.ts for
 * which process runs them.
 */
@Global()
@Module({
  providers: [QueueService, SystemPing],
  exports: [QueueService],
})
export class QueueModule {}
