import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { PROVING_CONTROLLERS, PROVING_PROVIDERS } from './proving/index.js';
import { REGISTRY_CONTROLLERS, REGISTRY_EXPORTS, REGISTRY_PROVIDERS } from './registry/index.js';
import { VERIFICATION_CONTROLLERS, VERIFICATION_PROVIDERS } from './verification/index.js';

/**
 * Zero-knowledge proofs (docs/zk-service.md): the identity and balance trees and their root
 * history (registry/), proving (proving/) and verification (verification/). Each part lists its
 * controllers and providers; add a part's arrays here.
 */
@Module({
  imports: [LedgerModule],
  controllers: [...REGISTRY_CONTROLLERS, ...PROVING_CONTROLLERS, ...VERIFICATION_CONTROLLERS],
  providers: [...REGISTRY_PROVIDERS, ...PROVING_PROVIDERS, ...VERIFICATION_PROVIDERS],
  exports: [...REGISTRY_EXPORTS],
})
export class ZkModule {}
