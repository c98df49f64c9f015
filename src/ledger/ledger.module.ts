import { Module } from '@nestjs/common';
import { LedgerService } from './ledger.service.js';

/**
 * The EVM ledger: the service's account and its deployed contracts. Needs APP_CONFIG (global
 * ConfigModule) and the TypeORM DataSource (database module); LEDGER_OPTIONS is optional.
 */
@Module({
  providers: [LedgerService],
  exports: [LedgerService],
})
export class LedgerModule {}
