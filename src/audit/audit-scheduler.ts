import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { AnchoringService } from './anchoring.service.js';
import { AuditService } from './audit.service.js';

/**
 * Periodic work of worker processes: sign a checkpoint when the log has grown and ask for the
 * open checkpoints to be anchored. Started explicitly by processes that run workers.
 */
@Injectable()
export class AuditScheduler implements OnModuleDestroy {
  private readonly logger = new Logger('AuditScheduler');
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly audit: AuditService,
    private readonly anchoring: AnchoringService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.config.AUDIT_CHECKPOINT_INTERVAL_MS);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.audit.checkpoint();
      const open = await this.audit.store.openAnchors(1);
      if (open.length > 0) await this.anchoring.requestAnchoring();
    } catch (e) {
      this.logger.warn(`audit tick failed: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
