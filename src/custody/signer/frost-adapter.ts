/**
 * The one place the signer node and its coordinator touch FROST (RFC 9591, FROST(secp256k1, SHA-256)).
 * It delegates to the custody FROST module (src/custody/frost, a wrapper of @noble/curves) and keeps
 * the signer's own wire forms, so a change of FROST implementation is a change of this file only.
 *
 * Wire forms: every byte string is lower-case hex; identifiers are the suite's hex identifiers.
 * In memory the node keeps secrets (signing share, nonces) as bytes it can wipe; the custody
 * module's API takes hex, so the conversions below are the only places a secret is a string.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  InvalidReshareError, aggregateSignature, dkgAbort, dkgFinalize, reshareDeal, reshareFinalize, dkgRound1 as frostDkgRound1, dkgRound2 as frostDkgRound2, identifierFromName,
  signRound1, signRound2, verifySignature as frostVerifySignature, verifySignatureShare,
  type DkgState, type KeyPackage, type PublicKeyPackage,
} from '../frost/index.js';

export type DkgRoundSecret = DkgState;

export interface WireRound1 { identifier: string; commitment: string[]; proofOfKnowledge: string }
export interface WirePublic { signers: { min: number; max: number }; commitments: string[]; verifyingShares: Record<string, string> }
export interface WireCommitments { identifier: string; hiding: string; binding: string }
/** SECRET: a participant's identifier and signing share (32-byte scalar). */
export interface SigningSecret { identifier: string; signingShare: Uint8Array }
/** SECRET, single use: signing nonces (32-byte scalars). */
export interface Nonces { hiding: Uint8Array; binding: Uint8Array }

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string, what: string): Uint8Array<ArrayBuffer> => {
  if (typeof h !== 'string' || !/^([0-9a-f]{2})*$/.test(h)) throw new TypeError(`${what} must be lower-case hex`);
  return new Uint8Array(Buffer.from(h, 'hex'));
};

const toPackage = (p: WirePublic): PublicKeyPackage => ({
  threshold: { min: p.signers.min, max: p.signers.max },
  groupPublicKey: p.commitments[0]!,
  commitments: [...p.commitments],
  verifyingShares: { ...p.verifyingShares },
});
const fromPackage = (p: PublicKeyPackage): WirePublic => ({
  signers: { min: p.threshold.min, max: p.threshold.max },
  commitments: [...p.commitments],
  verifyingShares: { ...p.verifyingShares },
});
const keyPackage = (secret: SigningSecret, pub: WirePublic): KeyPackage => ({
  identifier: secret.identifier,
  signingShare: hex(secret.signingShare),
  groupPublicKey: pub.commitments[0]!,
  threshold: { min: pub.signers.min, max: pub.signers.max },
});

/** A participant's identifier, derived from its node id (RFC 9591 leaves the choice to the application). */
export function identifierOf(nodeId: string): string {
  return identifierFromName(nodeId);
}

/** DKG part 1: this participant's secret polynomial (kept by the caller, in memory) and its public broadcast. */
export function dkgRound1(identifier: string, threshold: number, participants: number): { secret: DkgRoundSecret; broadcast: WireRound1 } {
  const { state, broadcast } = frostDkgRound1(identifier, { min: threshold, max: participants });
  return { secret: state, broadcast };
}

/** DKG part 2: the secret share for every other participant, by recipient identifier (each must reach only its recipient). */
export function dkgRound2(secret: DkgRoundSecret, others: WireRound1[]): Record<string, Uint8Array> {
  return Object.fromEntries(frostDkgRound2(secret, others).map((p) => [p.to, bytes(p.signingShare, 'round-2 share')]));
}

/** DKG part 3: this participant's signing share and the group's public package. */
export function dkgFinalise(
  secret: DkgRoundSecret,
  others: WireRound1[],
  received: { from: string; signingShare: Uint8Array }[],
): { secret: SigningSecret; public: WirePublic } {
  const own = (secret as { identifier: bigint }).identifier.toString(16).padStart(64, '0');
  const { keyPackage: key, publicPackage } = dkgFinalize(
    secret,
    others,
    received.map((r) => ({ from: r.from, to: own, signingShare: hex(r.signingShare) })),
  );
  return { secret: { identifier: key.identifier, signingShare: bytes(key.signingShare, 'signing share') }, public: fromPackage(publicPackage) };
}

export function dkgClean(secret: DkgRoundSecret): void {
  dkgAbort(secret);
}

/** The verifying share (compressed point) of a signing share: signingShare * G. */
export function verifyingShareOf(signingShare: Uint8Array): Uint8Array {
  return secp256k1.Point.BASE.multiply(secp256k1.Point.Fn.fromBytes(signingShare)).toBytes(true);
}

/** Signing round 1 (RFC 9591 section 5.1): fresh nonces and their public commitments. */
export function commit(secret: SigningSecret, pub: WirePublic): { nonces: Nonces; commitments: WireCommitments } {
  const { nonces, commitments } = signRound1(keyPackage(secret, pub));
  return { nonces: { hiding: bytes(nonces.hiding, 'nonce'), binding: bytes(nonces.binding, 'nonce') }, commitments };
}

/** Serialized nonces (64 bytes: hiding || binding), the form that is sealed at rest. */
export const noncesToBytes = (n: Nonces): Uint8Array => new Uint8Array(Buffer.concat([n.hiding, n.binding]));
export const noncesFromBytes = (b: Uint8Array): Nonces => {
  if (b.length !== 64) throw new TypeError('sealed nonces must be 64 bytes');
  // Copies (a Buffer's slice would be a view of memory the caller wipes).
  return { hiding: new Uint8Array(b.subarray(0, 32)), binding: new Uint8Array(b.subarray(32, 64)) };
};

/** Signing round 2 (RFC 9591 section 5.2): this signer's share, hex. */
export function signShare(secret: SigningSecret, pub: WirePublic, nonces: Nonces, list: WireCommitments[], message: Uint8Array): string {
  return signRound2(keyPackage(secret, pub), toPackage(pub), { hiding: hex(nonces.hiding), binding: hex(nonces.binding) }, list, message).share;
}

/** Coordinator check of one signature share (RFC 9591 section 5.4): false names a misbehaving signer. */
export function verifyShare(pub: WirePublic, list: WireCommitments[], message: Uint8Array, identifier: string, share: string): boolean {
  try {
    return verifySignatureShare(toPackage(pub), list, message, { identifier, share });
  } catch {
    return false;
  }
}

/** RFC 9591 section 5.3 (after every share was checked). */
export function aggregate(pub: WirePublic, list: WireCommitments[], message: Uint8Array, shares: Record<string, string>): Uint8Array {
  const signature = aggregateSignature(toPackage(pub), list, message, Object.entries(shares).map(([identifier, share]) => ({ identifier, share })));
  return bytes(signature, 'signature');
}

/** FROST(secp256k1, SHA-256) verification of a group signature. */
export function verifySignature(signature: Uint8Array, message: Uint8Array, groupPublicKey: Uint8Array): boolean {
  return frostVerifySignature(hex(signature), message, hex(groupPublicKey));
}

/** A dealer's public reshare broadcast: Feldman commitments of its fresh polynomial, `[0] = lambda_i * PK_i`. */
export interface WireReshareCommitment { from: string; commitment: string[] }

/** Dealers of a refresh/reshare whose commitment or sub-share does not check out, by identifier. */
export class ReshareCulpritsError extends Error {
  constructor(readonly culprits: string[]) {
    super(`invalid reshare contribution from ${culprits.join(', ')}`);
  }
}

/**
 * Refresh/reshare step 1 (docs/custody-frost.md), run by an old signer in the dealer quorum: a fresh
 * VSS of its Lagrange-weighted share to the new members. Returns the broadcast and one SECRET
 * sub-share (32 bytes) per new member identifier.
 */
export function reshareDealShares(
  secret: SigningSecret,
  oldPublic: WirePublic,
  dealers: string[],
  threshold: number,
  members: string[],
): { broadcast: WireReshareCommitment; subShares: Record<string, Uint8Array> } {
  const { broadcast, shares } = reshareDeal(keyPackage(secret, oldPublic), toPackage(oldPublic), dealers, { min: threshold, max: members.length }, members);
  return { broadcast, subShares: Object.fromEntries(shares.map((s) => [s.to, bytes(s.signingShare, 'sub-share')])) };
}

/**
 * Refresh/reshare step 2, run by each new member: checks every dealer's commitment against its old
 * verifying share and every sub-share against its dealer's commitment (culprits named by
 * ReshareCulpritsError), and returns the new signing share and the new public package, whose group
 * key is the old one (checked).
 */
export function reshareFinaliseShare(
  identifier: string,
  oldPublic: WirePublic,
  dealers: string[],
  threshold: number,
  members: string[],
  broadcasts: WireReshareCommitment[],
  received: { from: string; signingShare: Uint8Array }[],
): { secret: SigningSecret; public: WirePublic } {
  try {
    const { keyPackage: key, publicPackage } = reshareFinalize(
      identifier, toPackage(oldPublic), dealers, { min: threshold, max: members.length }, members, broadcasts,
      received.map((r) => ({ from: r.from, to: identifier, signingShare: hex(r.signingShare) })),
    );
    return { secret: { identifier: key.identifier, signingShare: bytes(key.signingShare, 'signing share') }, public: fromPackage(publicPackage) };
  } catch (error) {
    if (error instanceof InvalidReshareError) throw new ReshareCulpritsError(error.culprits);
    throw error;
  }
}
