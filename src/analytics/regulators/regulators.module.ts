import { Module } from '@nestjs/common';
import { AnalyticsKeyService } from './analytics-key.service.js';
import { KeyCeremonyService } from './key-ceremony.service.js';
import { RegulatorDirectory } from './regulator-directory.js';
import { RegulatorsController } from './regulators.controller.js';

/**
 * Regulators (registered principals with a signing key and a share-transport key) and their
 * threshold key ceremonies: one dealerless DKG per feature slot, coordinated here; the service
 * stores only public data (docs/analytics-regulators.md).
 */
@Module({
  controllers: [RegulatorsController],
  providers: [RegulatorDirectory, AnalyticsKeyService, KeyCeremonyService],
  exports: [RegulatorDirectory, AnalyticsKeyService],
})
export class RegulatorsModule {}
