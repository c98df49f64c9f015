import { spkiFromPublicKey, type CheckpointSigner } from './crypto/index.js';
import type { HsmService } from '../hsm/hsm.service.js';

/** HSM label of the log's checkpoint signing key (ECDSA P-256, non-extractable). */
export const CHECKPOINT_KEY_LABEL = 'audit-checkpoint-p256';

/** Signs checkpoints with the HSM-held key; the private key never leaves the token. */
export async function hsmCheckpointSigner(hsm: HsmService): Promise<CheckpointSigner> {
  const { publicKey } = await hsm.ensureEcKeyPair(CHECKPOINT_KEY_LABEL, 'P-256');
  return {
    publicKey: spkiFromPublicKey(publicKey),
    sign: async (digest: Uint8Array) => hsm.signEcdsaDigest(CHECKPOINT_KEY_LABEL, Buffer.from(digest)),
  };
}
