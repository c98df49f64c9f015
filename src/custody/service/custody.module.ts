import { Module } from '@nestjs/common';
import { LedgerModule } from '../../ledger/ledger.module.js';
import { CustodyController } from './custody.controller.js';
import { CustodyService } from './custody.service.js';
import { CustodyWalletService } from './custody-wallet.service.js';
import { CeremonySigningService } from './ceremony-signing.service.js';
import { ShareMaintenanceController } from './share-maintenance.controller.js';
import { ShareMaintenanceService } from './share-maintenance.service.js';

/**
 * Custody (docs/custody-service.md): operators and their signed approvals, versioned wallet
 * policies, wallets created by DKG across the signer nodes, and signing ceremonies.
 */
@Module({
  imports: [LedgerModule],
  controllers: [CustodyController, ShareMaintenanceController],
  providers: [CustodyService, CustodyWalletService, CeremonySigningService, ShareMaintenanceService],
  exports: [CustodyService, CustodyWalletService, CeremonySigningService, ShareMaintenanceService],
})
export class CustodyModule {}
