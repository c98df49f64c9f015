import { Module } from '@nestjs/common';
import { LedgerModule } from '../../ledger/ledger.module.js';
import { CustodyController } from './custody.controller.js';
import { CustodyService } from './custody.service.js';
import { CustodyWalletService } from './custody-wallet.service.js';
import { CeremonySigningService } from './ceremony-signing.service.js';

/**
 * Custody (docs/custody-service.md): operators and their signed approvals, versioned wallet
 * policies, wallets created by DKG across the signer nodes, and signing ceremonies.
 */
@Module({
  imports: [LedgerModule],
  controllers: [CustodyController],
  providers: [CustodyService, CustodyWalletService, CeremonySigningService],
  exports: [CustodyService, CustodyWalletService, CeremonySigningService],
})
export class CustodyModule {}
