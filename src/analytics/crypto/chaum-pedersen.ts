/**
 * Chaum-Pedersen proof of equality of discrete logarithms (DLEQ): given (G, Y, H, D), proves
 * knowledge of x with Y = x*G and D = x*H, without revealing x. Used by each regulator to show
 * its partial decryption D = x_i*c1 was made with the same share x_i as its public share Y_i.
 * Non-interactive by Fiat-Shamir: the challenge hashes the whole statement, both commitments
 * and a caller-supplied context (task, slot, ciphertext id), so a proof cannot be replayed for
 * another statement or task. Proof form (e, z): verifiers recompute A = z*G - e*Y, B = z*H - e*D.
 */
import { G, type GroupPoint, SUBGROUP_ORDER, modN, mul, mulSecret, parseCanonical, randomScalar } from './group.js';
import { Transcript } from './transcript.js';
import { MalformedMessageError } from './errors.js';

const DOMAIN = 'privacy-service/analytics/chaum-pedersen-dleq/v1';

export interface DleqStatement {
  /** Y = x*G. */
  readonly publicShare: GroupPoint;
  /** H: the point the secret is applied to (c1 of the ciphertext). */
  readonly base: GroupPoint;
  /** D = x*H. */
  readonly result: GroupPoint;
  /** Binding context (e.g. task id, slot, regulator index); part of the hash. */
  readonly context: string;
}

export interface DleqProof {
  readonly challenge: bigint;
  readonly response: bigint;
}

export interface EncodedDleqProof {
  challenge: string;
  response: string;
}

function challengeFor(s: DleqStatement, a: GroupPoint, b: GroupPoint): bigint {
  return new Transcript(DOMAIN)
    .text('context', s.context)
    .point('G', G)
    .point('Y', s.publicShare)
    .point('H', s.base)
    .point('D', s.result)
    .point('A', a)
    .point('B', b)
    .challenge();
}

export function proveDleq(secret: bigint, s: DleqStatement): DleqProof {
  const k = randomScalar();
  const challenge = challengeFor(s, mulSecret(G, k), mulSecret(s.base, k));
  return { challenge, response: modN(k + challenge * secret) };
}

export function verifyDleq(s: DleqStatement, proof: DleqProof): boolean {
  const { challenge: e, response: z } = proof;
  if (e < 0n || e >= SUBGROUP_ORDER || z < 0n || z >= SUBGROUP_ORDER) return false;
  const a = mul(G, z).subtract(mul(s.publicShare, e));
  const b = mul(s.base, z).subtract(mul(s.result, e));
  return challengeFor(s, a, b) === e;
}

export function encodeDleqProof(p: DleqProof): EncodedDleqProof {
  return { challenge: p.challenge.toString(10), response: p.response.toString(10) };
}

export function decodeDleqProof(value: unknown, what = 'proof'): DleqProof {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError(`${what} must be an object {challenge, response}`);
  const v = value as Record<string, unknown>;
  return {
    challenge: parseCanonical(v.challenge, SUBGROUP_ORDER, `${what}.challenge`),
    response: parseCanonical(v.response, SUBGROUP_ORDER, `${what}.response`),
  };
}
