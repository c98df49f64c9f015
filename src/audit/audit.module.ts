import { LedgerModule } from '../ledger/ledger.module.js';
import { Global, Module } from '@nestjs/common';
import { AnchoringService } from './anchoring.service.js';
import { AuditController } from './audit.controller.js';
import { AuditScheduler } from './audit-scheduler.js';
import { AuditService } from './audit.service.js';

/** The audit log. Global: every capability appends to it; it imports no capability. */
@Global()
@Module({
  imports: [LedgerModule],
  controllers: [AuditController],
  providers: [AuditService, AnchoringService, AuditScheduler],
  exports: [AuditService, AnchoringService, AuditScheduler],
})
export class AuditModule {}
