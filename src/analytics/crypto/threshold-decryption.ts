/**
 * Threshold decryption of an (aggregated) ciphertext (c1, c2) under a DKG slot key.
 * Each regulator i returns D_i = x_i*c1 with a Chaum-Pedersen proof that log_G(Y_i) = log_c1(D_i);
 * the combiner verifies every partial against Y_i, drops (and names) forgeries, and with any t
 * valid partials recovers m*G = c2 - sum_i lambda_i*D_i, lambda_i the Lagrange coefficients at 0.
 * Fewer than t valid partials: the combination is refused outright.
 */
import { IDENTITY, SUBGROUP_ORDER, type EncodedPoint, type GroupPoint, decodePoint, encodePoint, modN, mul, mulSecret } from './group.js';
import { type Ciphertext } from './elgamal.js';
import { type EncodedDleqProof, type DleqProof, decodeDleqProof, encodeDleqProof, proveDleq, verifyDleq } from './chaum-pedersen.js';
import { type ThresholdKeyShare, type ThresholdPublicKey } from './dkg.js';
import { MalformedMessageError, QuorumNotReachedError } from './errors.js';

export interface PartialDecryption {
  readonly index: number;
  readonly share: GroupPoint;
  readonly proof: DleqProof;
}

export interface EncodedPartialDecryption {
  index: number;
  share: EncodedPoint;
  proof: EncodedDleqProof;
}

/** Binds a proof to the slot key, the regulator and the caller's context (task/aggregate id). */
function proofContext(key: ThresholdPublicKey, index: number, context: string): string {
  return JSON.stringify(['partial-decryption', key.ceremony, index, context]);
}

/** Regulator side: D_i = x_i*c1 and its proof. `context` should name the task and aggregate. */
export function partialDecrypt(ct: Ciphertext, keyShare: ThresholdKeyShare, context: string): PartialDecryption {
  if (ct.c1.is0()) throw new MalformedMessageError('ciphertext c1 is the identity: refusing to decrypt');
  const share = mulSecret(ct.c1, keyShare.secretShare);
  const publicShare = keyShare.publicKey.verificationShares.get(keyShare.index)!;
  const proof = proveDleq(keyShare.secretShare, { publicShare, base: ct.c1, result: share, context: proofContext(keyShare.publicKey, keyShare.index, context) });
  return { index: keyShare.index, share, proof };
}

export function verifyPartialDecryption(ct: Ciphertext, partial: PartialDecryption, key: ThresholdPublicKey, context: string): boolean {
  const publicShare = key.verificationShares.get(partial.index);
  if (!publicShare || partial.share.is0()) return false;
  return verifyDleq({ publicShare, base: ct.c1, result: partial.share, context: proofContext(key, partial.index, context) }, partial.proof);
}

/** Lagrange coefficient at 0 for index i over the set `indices`. */
export function lagrangeAtZero(i: number, indices: readonly number[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const j of indices) {
    if (j === i) continue;
    num = modN(num * BigInt(j));
    den = modN(den * BigInt(j - i));
  }
  return modN(num * invN(den));
}

function invN(a: bigint): bigint {
  // Fermat: a^(n-2) mod n (n prime).
  let result = 1n;
  let base = modN(a);
  let e = SUBGROUP_ORDER - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % SUBGROUP_ORDER;
    base = (base * base) % SUBGROUP_ORDER;
    e >>= 1n;
  }
  return result;
}

export interface CombinationResult {
  /** m*G: feed to a DiscreteLogTable. */
  readonly plaintextPoint: GroupPoint;
  /** The t regulators whose partials were used. */
  readonly used: readonly number[];
  /** Partials that failed verification, with the regulator named. */
  readonly rejected: readonly { index: number; reason: string }[];
}

/**
 * Verifies every partial, rejects forgeries (naming the regulator), and combines the first t
 * valid ones. Throws QuorumNotReachedError when fewer than t are valid.
 */
export function combinePartialDecryptions(ct: Ciphertext, partials: readonly PartialDecryption[], key: ThresholdPublicKey, context: string): CombinationResult {
  const rejected: { index: number; reason: string }[] = [];
  const valid = new Map<number, PartialDecryption>();
  for (const p of partials) {
    if (!key.verificationShares.has(p.index)) rejected.push({ index: p.index, reason: 'not a regulator of this key' });
    else if (valid.has(p.index)) rejected.push({ index: p.index, reason: 'duplicate partial decryption' });
    else if (!verifyPartialDecryption(ct, p, key, context)) rejected.push({ index: p.index, reason: 'invalid Chaum-Pedersen proof' });
    else valid.set(p.index, p);
  }
  if (valid.size < key.threshold) throw new QuorumNotReachedError(key.threshold, valid.size, rejected);
  const used = [...valid.keys()].sort((a, b) => a - b).slice(0, key.threshold);
  let blinding = IDENTITY;
  for (const i of used) blinding = blinding.add(mul(valid.get(i)!.share, lagrangeAtZero(i, used)));
  return { plaintextPoint: ct.c2.subtract(blinding), used, rejected };
}

export function encodePartialDecryption(p: PartialDecryption): EncodedPartialDecryption {
  return { index: p.index, share: encodePoint(p.share), proof: encodeDleqProof(p.proof) };
}

export function decodePartialDecryption(value: unknown): PartialDecryption {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError('partial decryption must be an object');
  const v = value as Record<string, unknown>;
  if (typeof v.index !== 'number' || !Number.isSafeInteger(v.index) || v.index < 1) throw new MalformedMessageError('index must be a positive integer');
  return { index: v.index, share: decodePoint(v.share, `partial decryption ${v.index}`), proof: decodeDleqProof(v.proof) };
}
