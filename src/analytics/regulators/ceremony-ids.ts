/**
 * Names shared by the service and the regulators' client: the DKG ceremony id of each slot key
 * and the signature domains of ceremony submissions (see signed-digest.ts). Plain module.
 */
import type { FeatureSlot } from '../features.js';

/** The DKG ceremony id of one slot key: binds every DKG message and partial decryption to it. */
export const slotCeremonyId = (keySetId: string, slot: FeatureSlot): string => `analytics-key:${keySetId}:${slot}`;

/** signedDigest domain of a deal: { keySetId, regulator, slots }. */
export const DEAL_DOMAIN = 'analytics-dkg-deal';
/** signedDigest domain of a verdicts submission: { keySetId, regulator, verdicts }. */
export const VERDICTS_DOMAIN = 'analytics-dkg-verdicts';
