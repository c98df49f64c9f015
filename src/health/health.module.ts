import { LedgerModule } from '../ledger/ledger.module.js';
import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

@Module({ imports: [LedgerModule], controllers: [HealthController] })
export class HealthModule {}
