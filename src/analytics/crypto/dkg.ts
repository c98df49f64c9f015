/**
 * Dealerless threshold key generation for one slot key, t-of-n among the regulators
 * (joint-Feldman / Pedersen DKG, as in Gennaro-Jarecki-Krawczyk-Rabin, with a Schnorr proof of
 * possession of each constant term as in FROST's KeyGen, RFC 9591 appendix C / Komlo-Goldberg).
 *
 * Round 1: each regulator i (index 1..n) picks a random polynomial f_i of degree t-1, broadcasts
 *   Feldman commitments C_ik = a_ik*G for k = 0..t-1 plus a proof of knowledge of a_i0, and sends
 *   regulator j the share s_ij = f_i(j) over a private authenticated channel.
 * Round 2: j checks s_ij*G == sum_k j^k*C_ik for each dealer; a failing dealer is named in a
 *   complaint and disqualified (minimal complaint handling: no public share reveal).
 * Result: QUAL = dealers with a valid broadcast and no complaint; x_j = sum_{i in QUAL} s_ij;
 *   group key Y = sum_{i in QUAL} C_i0; public share Y_j = sum_k j^k * sum_{i in QUAL} C_ik.
 * No one ever holds the slot's secret key x = sum_i a_i0.
 */
import { G, IDENTITY, type EncodedPoint, type GroupPoint, SUBGROUP_ORDER, decodePoint, encodePoints, modN, mul, mulSecret, parseCanonical, randomScalar } from './group.js';
import { Transcript } from './transcript.js';
import { DealerMisbehaviourError, MalformedMessageError } from './errors.js';

const POP_DOMAIN = 'privacy-service/analytics/dkg-proof-of-possession/v1';

export interface DkgParameters {
  /** Unique id of this key generation (e.g. the slot's key id): binds every message to it. */
  readonly ceremony: string;
  /** t: partial decryptions needed to decrypt. */
  readonly threshold: number;
  /** n: regulators, indexed 1..n. */
  readonly participants: number;
}

/** Round-1 broadcast of one dealer. */
export interface DealerCommitment {
  readonly ceremony: string;
  readonly dealer: number;
  /** C_i0..C_i(t-1). */
  readonly commitments: readonly GroupPoint[];
  /** Schnorr proof of knowledge of log_G C_i0, bound to ceremony and dealer. */
  readonly proof: { readonly challenge: bigint; readonly response: bigint };
}

export interface EncodedDealerCommitment {
  ceremony: string;
  dealer: number;
  commitments: EncodedPoint[];
  proof: { challenge: string; response: string };
}

/** Round-1 private message: dealer's share for one recipient. Secret: send encrypted only. */
export interface DealerShare {
  readonly ceremony: string;
  readonly dealer: number;
  readonly recipient: number;
  readonly share: bigint;
}

export interface EncodedDealerShare {
  ceremony: string;
  dealer: number;
  recipient: number;
  share: string;
}

/** A recipient's accusation that a dealer's share did not verify (or never arrived). */
export interface DkgComplaint {
  ceremony: string;
  accuser: number;
  dealer: number;
  reason: string;
}

/** What one regulator holds at the end: its secret share and the public key material. */
export interface ThresholdKeyShare {
  readonly ceremony: string;
  readonly threshold: number;
  readonly participants: number;
  readonly index: number;
  /** x_j: secret. */
  readonly secretShare: bigint;
  readonly publicKey: ThresholdPublicKey;
}

/** Public result of a DKG: anyone can verify partial decryptions against it. */
export interface ThresholdPublicKey {
  readonly ceremony: string;
  readonly threshold: number;
  readonly participants: number;
  readonly qualified: readonly number[];
  readonly groupPublicKey: GroupPoint;
  /** Y_j for j = 1..n. */
  readonly verificationShares: ReadonlyMap<number, GroupPoint>;
}

export interface EncodedThresholdPublicKey {
  ceremony: string;
  threshold: number;
  participants: number;
  qualified: number[];
  groupPublicKey: EncodedPoint;
  verificationShares: { index: number; share: EncodedPoint }[];
}

export function assertParameters(p: DkgParameters): void {
  if (typeof p.ceremony !== 'string' || p.ceremony.length === 0) throw new MalformedMessageError('ceremony id must be a non-empty string');
  if (!Number.isSafeInteger(p.participants) || p.participants < 1 || p.participants > 1000) throw new MalformedMessageError('participants must be an integer in 1..1000');
  if (!Number.isSafeInteger(p.threshold) || p.threshold < 1 || p.threshold > p.participants) throw new MalformedMessageError('threshold must be an integer in 1..participants');
}

function assertIndex(p: DkgParameters, i: unknown, what: string): asserts i is number {
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 1 || i > p.participants) throw new MalformedMessageError(`${what} must be an index in 1..${p.participants}`);
}

function popChallenge(ceremony: string, dealer: number, c0: GroupPoint, r: GroupPoint): bigint {
  return new Transcript(POP_DOMAIN).text('ceremony', ceremony).text('dealer', String(dealer)).point('G', G).point('C0', c0).point('R', r).challenge();
}

/** Evaluates a polynomial with scalar coefficients at x (Horner). */
function evalPolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = modN(acc * x + coefficients[k]!);
  return acc;
}

/** sum_k x^k * points[k] (Horner in the exponent). */
function evalCommitments(points: readonly GroupPoint[], x: bigint): GroupPoint {
  let acc = IDENTITY;
  for (let k = points.length - 1; k >= 0; k--) acc = mul(acc, x).add(points[k]!);
  return acc;
}

/**
 * Round 1 for dealer `dealer`: its broadcast, and one share per regulator (its own included).
 * The polynomial is dropped on return; only the shares carry it.
 */
export function deal(params: DkgParameters, dealer: number): { commitment: DealerCommitment; shares: DealerShare[] } {
  assertParameters(params);
  assertIndex(params, dealer, 'dealer');
  const coefficients = Array.from({ length: params.threshold }, () => randomScalar());
  const commitments = coefficients.map((a) => mulSecret(G, a));
  const k = randomScalar();
  const r = mulSecret(G, k);
  const challenge = popChallenge(params.ceremony, dealer, commitments[0]!, r);
  const proof = { challenge, response: modN(k + challenge * coefficients[0]!) };
  const shares: DealerShare[] = [];
  for (let j = 1; j <= params.participants; j++) {
    shares.push({ ceremony: params.ceremony, dealer, recipient: j, share: evalPolynomial(coefficients, BigInt(j)) });
  }
  return { commitment: { ceremony: params.ceremony, dealer, commitments, proof }, shares };
}

/** Checks a dealer's broadcast: ceremony, degree, non-identity commitments, proof of possession. */
export function verifyDealerCommitment(params: DkgParameters, c: DealerCommitment): void {
  assertIndex(params, c.dealer, 'dealer');
  const fail = (reason: string): never => {
    throw new DealerMisbehaviourError(c.dealer, reason);
  };
  if (c.ceremony !== params.ceremony) fail('broadcast is for another ceremony');
  if (c.commitments.length !== params.threshold) fail(`expected ${params.threshold} commitments, got ${c.commitments.length}`);
  if (c.commitments.some((p) => p.is0())) fail('identity commitment');
  const { challenge: e, response: z } = c.proof;
  if (e < 0n || e >= SUBGROUP_ORDER || z < 0n || z >= SUBGROUP_ORDER) fail('proof of possession out of range');
  const r = mul(G, z).subtract(mul(c.commitments[0]!, e));
  if (popChallenge(c.ceremony, c.dealer, c.commitments[0]!, r) !== e) fail('invalid proof of possession of the constant term');
}

/**
 * Round 2 check by recipient `share.recipient`: s_ij*G == sum_k j^k*C_ik. Throws a
 * DealerMisbehaviourError naming the dealer when the share is inconsistent.
 */
export function verifyDealerShare(params: DkgParameters, c: DealerCommitment, share: DealerShare): void {
  assertIndex(params, share.recipient, 'recipient');
  if (share.dealer !== c.dealer) throw new MalformedMessageError(`share from dealer ${share.dealer} checked against dealer ${c.dealer}'s commitments`);
  if (share.ceremony !== params.ceremony) throw new DealerMisbehaviourError(c.dealer, 'share is for another ceremony');
  if (share.share < 0n || share.share >= SUBGROUP_ORDER) throw new DealerMisbehaviourError(c.dealer, 'share out of range');
  if (!mul(G, share.share).equals(evalCommitments(c.commitments, BigInt(share.recipient)))) {
    throw new DealerMisbehaviourError(c.dealer, `share for regulator ${share.recipient} does not match the commitments`);
  }
}

/**
 * QUAL: dealers whose broadcast verifies and against whom no complaint stands. Minimal complaint
 * handling: any complaint disqualifies the dealer (a false complaint can only remove a dealer,
 * never inject a key contribution; see the security notes).
 */
export function qualifiedDealers(params: DkgParameters, commitments: readonly DealerCommitment[], complaints: readonly DkgComplaint[] = []): number[] {
  const accused = new Set(complaints.filter((c) => c.ceremony === params.ceremony).map((c) => c.dealer));
  // A dealer that broadcast twice equivocated: it is disqualified with both broadcasts.
  const counts = new Map<number, number>();
  for (const c of commitments) counts.set(c.dealer, (counts.get(c.dealer) ?? 0) + 1);
  const qualified: number[] = [];
  for (const c of commitments) {
    if (counts.get(c.dealer)! > 1) continue;
    try {
      verifyDealerCommitment(params, c);
    } catch (e) {
      if (e instanceof DealerMisbehaviourError) continue;
      throw e;
    }
    if (!accused.has(c.dealer)) qualified.push(c.dealer);
  }
  qualified.sort((a, b) => a - b);
  if (qualified.length < params.threshold) throw new MalformedMessageError(`only ${qualified.length} qualified dealer(s): at least ${params.threshold} are needed`);
  return qualified;
}

/** The public outcome, computable by anyone from the broadcasts and QUAL. */
export function thresholdPublicKey(params: DkgParameters, commitments: readonly DealerCommitment[], qualified: readonly number[]): ThresholdPublicKey {
  const byDealer = new Map(commitments.map((c) => [c.dealer, c]));
  const aggregate: GroupPoint[] = Array.from({ length: params.threshold }, () => IDENTITY);
  for (const i of qualified) {
    const c = byDealer.get(i);
    if (!c) throw new MalformedMessageError(`no broadcast from qualified dealer ${i}`);
    c.commitments.forEach((p, k) => (aggregate[k] = aggregate[k]!.add(p)));
  }
  const verificationShares = new Map<number, GroupPoint>();
  for (let j = 1; j <= params.participants; j++) verificationShares.set(j, evalCommitments(aggregate, BigInt(j)));
  return {
    ceremony: params.ceremony,
    threshold: params.threshold,
    participants: params.participants,
    qualified: [...qualified],
    groupPublicKey: aggregate[0]!,
    verificationShares,
  };
}

/**
 * Regulator `index` combines the shares it received from QUAL into its key share, and checks the
 * result against its public verification share.
 */
export function finalizeKeyShare(
  params: DkgParameters,
  index: number,
  commitments: readonly DealerCommitment[],
  received: readonly DealerShare[],
  qualified: readonly number[],
): ThresholdKeyShare {
  assertIndex(params, index, 'index');
  const byDealer = new Map(commitments.map((c) => [c.dealer, c]));
  let secretShare = 0n;
  for (const i of qualified) {
    const share = received.find((s) => s.dealer === i && s.recipient === index);
    if (!share) throw new DealerMisbehaviourError(i, `no share for regulator ${index}`);
    const c = byDealer.get(i);
    if (!c) throw new MalformedMessageError(`no broadcast from qualified dealer ${i}`);
    verifyDealerShare(params, c, share);
    secretShare = modN(secretShare + share.share);
  }
  const publicKey = thresholdPublicKey(params, commitments, qualified);
  if (!mul(G, secretShare).equals(publicKey.verificationShares.get(index)!)) {
    throw new MalformedMessageError('key share does not match its verification share');
  }
  return { ceremony: params.ceremony, threshold: params.threshold, participants: params.participants, index, secretShare, publicKey };
}

// ---- wire forms ----

export function encodeDealerCommitment(c: DealerCommitment): EncodedDealerCommitment {
  return {
    ceremony: c.ceremony,
    dealer: c.dealer,
    commitments: encodePoints(c.commitments),
    proof: { challenge: c.proof.challenge.toString(10), response: c.proof.response.toString(10) },
  };
}

export function decodeDealerCommitment(value: unknown): DealerCommitment {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError('dealer commitment must be an object');
  const v = value as Record<string, unknown>;
  if (typeof v.ceremony !== 'string') throw new MalformedMessageError('ceremony must be a string');
  if (typeof v.dealer !== 'number' || !Number.isSafeInteger(v.dealer) || v.dealer < 1) throw new MalformedMessageError('dealer must be a positive integer');
  if (!Array.isArray(v.commitments) || v.commitments.length === 0 || v.commitments.length > 1000) throw new MalformedMessageError('commitments must be a non-empty array');
  const dealer = v.dealer;
  const commitments = v.commitments.map((p: unknown, k: number) => decodePoint(p, `dealer ${dealer} commitment ${k}`));
  const proof = v.proof as Record<string, unknown> | undefined;
  if (typeof proof !== 'object' || proof === null) throw new MalformedMessageError('proof must be an object');
  return {
    ceremony: v.ceremony,
    dealer,
    commitments,
    proof: {
      challenge: parseCanonical(proof.challenge, SUBGROUP_ORDER, 'proof.challenge'),
      response: parseCanonical(proof.response, SUBGROUP_ORDER, 'proof.response'),
    },
  };
}

export function encodeDealerShare(s: DealerShare): EncodedDealerShare {
  return { ceremony: s.ceremony, dealer: s.dealer, recipient: s.recipient, share: s.share.toString(10) };
}

export function decodeDealerShare(value: unknown): DealerShare {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError('dealer share must be an object');
  const v = value as Record<string, unknown>;
  if (typeof v.ceremony !== 'string') throw new MalformedMessageError('ceremony must be a string');
  for (const f of ['dealer', 'recipient'] as const) {
    const x = v[f];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1) throw new MalformedMessageError(`${f} must be a positive integer`);
  }
  return { ceremony: v.ceremony, dealer: v.dealer as number, recipient: v.recipient as number, share: parseCanonical(v.share, SUBGROUP_ORDER, 'share') };
}

export function encodeThresholdPublicKey(k: ThresholdPublicKey): EncodedThresholdPublicKey {
  const indices = [...k.verificationShares.keys()].sort((a, b) => a - b);
  const enc = encodePoints([k.groupPublicKey, ...indices.map((i) => k.verificationShares.get(i)!)]);
  return {
    ceremony: k.ceremony,
    threshold: k.threshold,
    participants: k.participants,
    qualified: [...k.qualified],
    groupPublicKey: enc[0]!,
    verificationShares: indices.map((index, n) => ({ index, share: enc[n + 1]! })),
  };
}

export function decodeThresholdPublicKey(value: unknown): ThresholdPublicKey {
  if (typeof value !== 'object' || value === null) throw new MalformedMessageError('threshold public key must be an object');
  const v = value as Record<string, unknown>;
  const params: DkgParameters = { ceremony: v.ceremony as string, threshold: v.threshold as number, participants: v.participants as number };
  assertParameters(params);
  if (!Array.isArray(v.qualified) || !Array.isArray(v.verificationShares)) throw new MalformedMessageError('qualified and verificationShares must be arrays');
  const qualified = v.qualified.map((i: unknown) => {
    assertIndex(params, i, 'qualified dealer');
    return i;
  });
  const verificationShares = new Map<number, GroupPoint>();
  for (const e of v.verificationShares as unknown[]) {
    const entry = e as Record<string, unknown>;
    assertIndex(params, entry?.index, 'verification share index');
    const index = entry.index as number;
    if (verificationShares.has(index)) throw new MalformedMessageError(`duplicate verification share ${index}`);
    verificationShares.set(index, decodePoint(entry.share, `verification share ${index}`));
  }
  if (verificationShares.size !== params.participants) throw new MalformedMessageError(`expected ${params.participants} verification shares`);
  if (new Set(qualified).size !== qualified.length || qualified.length < params.threshold) throw new MalformedMessageError('qualified must list at least threshold distinct dealers');
  return { ...params, qualified, groupPublicKey: decodePoint(v.groupPublicKey, 'group public key'), verificationShares };
}
