import { Injectable } from '@nestjs/common';
import { QueueService } from './queue.service.js';

/** Built-in queue that proves the job path end to end: a job goes in, some worker process answers. */
export const SYSTEM_PING = 'system.ping';

/** The output stored on a completed ping job: which process handled it, and when. */
export interface PingResult {
  pong: true;
  pid: number;
  handledAt: string;
  echo: unknown;
}

@Injectable()
export class SystemPing {
  constructor(queue: QueueService) {
    queue.register<unknown>(SYSTEM_PING, async (job): Promise<PingResult> => ({
      pong: true,
      pid: process.pid,
      handledAt: new Date().toISOString(),
      echo: job.data,
    }));
  }
}
