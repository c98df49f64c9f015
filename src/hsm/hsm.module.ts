import { Global, Module } from '@nestjs/common';
import { HsmService } from './hsm.service.js';

/**
 * The HSM (PKCS#11): non-extractable keys, signing, MACs and envelope encryption. Global, so
 * capabilities inject HsmService without importing this module. Needs APP_CONFIG (ConfigModule).
 */
@Global()
@Module({
  providers: [HsmService],
  exports: [HsmService],
})
export class HsmModule {}
