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

/** A wallet policy as operators approve it (amounts in wei as decimal strings, addresses lower-case). */
export interface PolicyTerms {
  quorum: number;
  operators: string[];
  perTransactionLimit: string;
  dailyLimit: string;
  allowlist: string[];
  delayAbove: string | null;
  delaySeconds: number;
}

/** What operators approve when they approve a policy change: one proposal, on one base version, until expiry. */
export interface PolicyProposalFacts {
  wallet: string;
  proposalId: string;
  baseVersion: number;
  policy: PolicyTerms;
  expiresAt: Date;
}

/** The proposed policy in canonical form: keys in alphabetical order, lists as given. */
export function canonicalPolicy(p: PolicyTerms): PolicyTerms {
  return {
    allowlist: p.allowlist.map((a) => a.toLowerCase()),
    dailyLimit: String(p.dailyLimit),
    delayAbove: p.delayAbove === null ? null : String(p.delayAbove),
    delaySeconds: Number(p.delaySeconds),
    operators: [...p.operators],
    perTransactionLimit: String(p.perTransactionLimit),
    quorum: Number(p.quorum),
  } as PolicyTerms;
}

/**
 * The canonical JSON of a policy proposal, keys in alphabetical order, no whitespace. `type` keeps
 * a policy approval from ever being mistaken for a ceremony approval (their JSON differs anyway).
 */
export function canonicalPolicyProposalJson(f: PolicyProposalFacts): string {
  return JSON.stringify({
    baseVersion: f.baseVersion,
    expiresAt: f.expiresAt.toISOString(),
    policy: canonicalPolicy(f.policy),
    proposalId: f.proposalId.toLowerCase(),
    type: 'custody-policy-proposal',
    wallet: f.wallet.toLowerCase(),
  });
}

/** SHA-256 of the proposal's canonical JSON: the 32 bytes each operator signs, as for ceremonies. */
export function policyProposalDigest(f: PolicyProposalFacts): Uint8Array {
  return sha256(new TextEncoder().encode(canonicalPolicyProposalJson(f)));
}

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
