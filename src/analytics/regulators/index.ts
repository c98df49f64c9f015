/**
 * Regulators and their threshold key sets (docs/analytics-regulators.md). Other analytics
 * modules use the directory (who a regulator is, signature checks) and the active key set.
 */
export { RegulatorDirectory, type Regulator, type RegulatorSigningCurve } from './regulator-directory.js';
export { AnalyticsKeyService, slotCeremonyId, type CompletedKeySet, type KeySetParticipant, type KeySetStatus } from './analytics-key.service.js';
export { RegulatorsModule } from './regulators.module.js';
export { signedDigest, digestToHex } from '../signed-digest.js';
