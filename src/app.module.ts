import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.js';
import { loggerParams } from './common/logging.js';
import { DbModule } from './db/db.module.js';
import { HsmModule } from './hsm/hsm.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { QueueModule } from './queue/queue.module.js';
import { AuthModule } from './auth/auth.module.js';
import { HealthModule } from './health/health.module.js';
import { AuditModule } from './audit/audit.module.js';
import { ZkModule } from './zk/zk.module.js';
import { CustodyModule } from './custody/service/custody.module.js';
import { RegulatorsModule } from './analytics/regulators/regulators.module.js';
import { AnalyticsModule } from './analytics/analytics.module.js';

/**
 * The API process. Platform modules (config, db, queue, hsm, ledger, auth) first, then one
 * module per capability. Capabilities import platform modules, never the reverse.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config)),
        DbModule,
        QueueModule,
        HsmModule,
        LedgerModule,
        AuthModule,
        HealthModule,
        AuditModule,
        ZkModule,
        CustodyModule,
        RegulatorsModule,
        AnalyticsModule,
      ],
    };
  }
}
