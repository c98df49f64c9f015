/**
 * Test-only script, run as its own process on a regulator's state folder and token: opens the vault,
 * unseals its key share of each slot named in argv[3] (JSON list), computes a partial decryption of
 * the ciphertext argv[4] (JSON) under the context argv[5] for the first slot, and prints the
 * partial and, for the test to search the state folder with, the unsealed shares and the
 * encryption secret. Exists only in the tests; the client itself never prints a secret.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { decodeCiphertext, encodePartialDecryption, partialDecrypt } from '../../../src/analytics/crypto/index.js';
import type { FeatureSlot } from '../../../src/analytics/features.js';
import { RegulatorVault, hsmSettingsFromEnv } from '../../../src/analytics/cli/regulator-vault.js';

const [, , keySetId, slotsJson, ciphertextJson, context] = process.argv;
const slots = JSON.parse(slotsJson!) as FeatureSlot[];
const vault = await RegulatorVault.open(process.env.REGULATOR_STATE!, hsmSettingsFromEnv());
try {
  const shares: Record<string, string> = {};
  for (const slot of slots) shares[slot] = (await vault.loadShare(keySetId!, slot)).secretShare.toString(10);
  const first = await vault.loadShare(keySetId!, slots[0]!);
  const partial = encodePartialDecryption(partialDecrypt(decodeCiphertext(JSON.parse(ciphertextJson!)), first, context!));
  const secret = (vault as unknown as { encryptionSecret: Uint8Array }).encryptionSecret;
  if (Buffer.from(secp256k1.getPublicKey(secret, true)).toString('hex') !== vault.encryptionKey) throw new Error('encryption key mismatch');
  process.stdout.write(JSON.stringify({ shares, partial, encryptionSecret: Buffer.from(secret).toString('hex') }));
} finally {
  await vault.close();
}
