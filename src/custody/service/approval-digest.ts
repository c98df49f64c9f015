import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { p256 } from '@noble/curves/nist.js';

export type OperatorCurve = 'secp256k1' | 'p256';

/** What an operator approves: one transfer out of one wallet, within one ceremony, until expiry. */
export interface CeremonyRequestFacts {
  wallet: string;
  to: string;
  value: bigint;
  dataHash: string;
  nonce: bigint;
  ceremonyId: string;
  expiresAt: Date;
}

/**
 * The canonical JSON of a ceremony's request: keys in this fixed (alphabetical) order, no
 * whitespace, addresses and hashes lower-case 0x-hex, integers as decimal strings, expiry as an
 * ISO 8601 UTC timestamp with milliseconds.
 */
export function canonicalCeremonyJson(f: CeremonyRequestFacts): string {
  return JSON.stringify({
    ceremonyId: f.ceremonyId.toLowerCase(),
    dataHash: f.dataHash.toLowerCase(),
    expiresAt: f.expiresAt.toISOString(),
    nonce: f.nonce.toString(),
    to: f.to.toLowerCase(),
    value: f.value.toString(),
    wallet: f.wallet.toLowerCase(),
  });
}

/** SHA-256 of the canonical JSON: the 32 bytes each operator signs (ECDSA, no further hashing). */
export function ceremonyDigest(f: CeremonyRequestFacts): Uint8Array {
  return sha256(new TextEncoder().encode(canonicalCeremonyJson(f)));
}

export const digestHex = (d: Uint8Array): string => `0x${bytesToHex(d)}`;

const CURVES = { secp256k1, p256 } as const;

/** True when `publicKeyHex` (33-byte compressed, hex) is a valid point of `curve`. */
export function isValidPublicKey(curve: OperatorCurve, publicKeyHex: string): boolean {
  if (!/^0[23][0-9a-f]{64}$/.test(publicKeyHex)) return false;
  try {
    CURVES[curve].Point.fromHex(publicKeyHex).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies a compact (r || s, 64 bytes hex) ECDSA signature over the 32-byte digest, as signed
 * without prehashing (equivalently: ECDSA-SHA256 over the canonical JSON). secp256k1 signatures
 * must be low-S (the Bitcoin/Ethereum convention); P-256 ones may be either, as HSMs and WebCrypto
 * produce both. Malleability is harmless here: an approval is unique per operator, not per signature.
 */
export function verifyApproval(curve: OperatorCurve, publicKeyHex: string, digest: Uint8Array, signatureHex: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  try {
    return CURVES[curve].verify(Uint8Array.from(Buffer.from(signatureHex, 'hex')), digest, Uint8Array.from(Buffer.from(publicKeyHex, 'hex')), {
      prehash: false,
      lowS: curve === 'secp256k1',
    });
  } catch {
    return false;
  }
}
