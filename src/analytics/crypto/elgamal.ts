/**
 * Exponential ElGamal on BabyJubJub: Enc(m; r) = (c1, c2) = (r*G, m*G + r*Y).
 * Adding ciphertexts adds plaintexts, which is all the regulators' aggregates need; decrypting
 * yields m*G, from which m is recovered by a bounded discrete-log search (see discrete-log.ts).
 * Ciphertexts stay in extended coordinates while they are summed; only encode/decode touch affine
 * coordinates, so a sum of N ciphertexts costs 2N point additions and no inversions.
 */
import { G, IDENTITY, type EncodedPoint, type GroupPoint, assertSubgroupPoint, decodePoint, encodePoint, encodePoints, modN, mul, mulSecret, randomScalar } from './group.js';
import { MalformedMessageError } from './errors.js';

export interface Ciphertext {
  readonly c1: GroupPoint;
  readonly c2: GroupPoint;
}

/** Wire form: both components as affine decimal field elements (4 field elements in all). */
export interface EncodedCiphertext {
  c1: EncodedPoint;
  c2: EncodedPoint;
}

export interface ElGamalKeyPair {
  readonly secretKey: bigint;
  readonly publicKey: GroupPoint;
}

/** A single-holder key pair (tests, and slots not under threshold control). */
export function keyGen(): ElGamalKeyPair {
  const secretKey = randomScalar();
  return { secretKey, publicKey: mulSecret(G, secretKey) };
}

/**
 * Prepares a public key for many encryptions: validates it and caches a window table for it,
 * which makes r*Y about as fast as r*G.
 */
export function preparePublicKey(publicKey: GroupPoint): GroupPoint {
  assertSubgroupPoint(publicKey, 'public key');
  return publicKey.precompute(8, false);
}

/**
 * Encrypts m (an integer; negative values wrap mod n and will not be found by the bounded
 * discrete-log search) under `publicKey`. `r` is drawn fresh unless given (the payment circuit
 * needs to know it to prove the ciphertext matches the committed amount).
 */
export function encrypt(m: bigint, publicKey: GroupPoint, r: bigint = randomScalar()): Ciphertext {
  const rr = modN(r);
  if (rr === 0n) throw new RangeError('encryption randomness must be non-zero mod n');
  return { c1: mulSecret(G, rr), c2: mulSecret(G, m).add(mulSecret(publicKey, rr)) };
}

/** Decryption with a whole secret key, up to the group element m*G. */
export function decryptToPoint(ct: Ciphertext, secretKey: bigint): GroupPoint {
  return ct.c2.subtract(mulSecret(ct.c1, secretKey));
}

export function add(a: Ciphertext, b: Ciphertext): Ciphertext {
  return { c1: a.c1.add(b.c1), c2: a.c2.add(b.c2) };
}

export function sub(a: Ciphertext, b: Ciphertext): Ciphertext {
  return { c1: a.c1.subtract(b.c1), c2: a.c2.subtract(b.c2) };
}

/** k * Enc(m) = Enc(k*m) for a public integer k. */
export function scalarMul(a: Ciphertext, k: bigint): Ciphertext {
  return { c1: mul(a.c1, k), c2: mul(a.c2, k) };
}

/** The encryption of 0 with randomness 0: the neutral element for sums. */
export const ZERO_CIPHERTEXT: Ciphertext = { c1: IDENTITY, c2: IDENTITY };

export function sum(cts: Iterable<Ciphertext>): Ciphertext {
  let c1 = IDENTITY;
  let c2 = IDENTITY;
  for (const ct of cts) {
    c1 = c1.add(ct.c1);
    c2 = c2.add(ct.c2);
  }
  return { c1, c2 };
}

/** Re-randomises a ciphertext (same plaintext, unlinkable to the original). */
export function rerandomize(ct: Ciphertext, publicKey: GroupPoint, r: bigint = randomScalar()): Ciphertext {
  return add(ct, encrypt(0n, publicKey, r));
}

export function encodeCiphertext(ct: Ciphertext): EncodedCiphertext {
  const [c1, c2] = encodePoints([ct.c1, ct.c2]);
  return { c1: c1!, c2: c2! };
}

export function encodeCiphertexts(cts: readonly Ciphertext[]): EncodedCiphertext[] {
  const enc = encodePoints(cts.flatMap((ct) => [ct.c1, ct.c2]));
  return cts.map((_, i) => ({ c1: enc[2 * i]!, c2: enc[2 * i + 1]! }));
}

/**
 * Decodes a ciphertext, checking both components are in the prime-order subgroup (the identity
 * is allowed: sums can legitimately reach it, and it carries no cofactor component).
 */
export function decodeCiphertext(value: unknown, what = 'ciphertext'): Ciphertext {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError(`${what} must be an object {c1, c2}`);
  const v = value as Record<string, unknown>;
  return {
    c1: decodePoint(v.c1, `${what}.c1`, { allowIdentity: true }),
    c2: decodePoint(v.c2, `${what}.c2`, { allowIdentity: true }),
  };
}

export { encodePoint };
