/**
 * Dealerless distributed key generation for a t-of-n FROST key (Pedersen DKG with proofs of
 * knowledge, as frost-rs and noble run it; RFC 9591 leaves DKG out of scope, Appendix C gives
 * the VSS it builds on). No party ever holds the group secret.
 *
 *   1. dkgRound1  each participant draws a random polynomial of degree t-1 and broadcasts its
 *                 Feldman commitment and a proof of knowledge of the constant term.
 *   2. dkgRound2  after receiving every other round-1 broadcast (proofs checked), each sends
 *                 f_i(j) privately to every other participant j.
 *   3. dkgFinalize each participant checks every received share against the sender's commitment
 *                 (RFC 9591 Appendix C.2 vss_verify), sums them into its signing share and derives
 *                 the public package (group key, verifying shares), identical for everyone.
 *
 * The round state (`DkgState`) holds the secret polynomial: it stays in the participant's memory
 * between rounds and is erased by dkgFinalize (or dkgAbort); it is never serialized.
 */
import { fromHex, suite, toHex } from './suite.js';
import type { DkgRound1Package, DkgRound2Package, Identifier, KeyPackage, PublicKeyPackage, Threshold } from './types.js';

/** SECRET, in memory only: one participant's DKG state between rounds. */
export type DkgState = ReturnType<typeof suite.DKG.round1>['secret'];

const round1FromWire = (p: DkgRound1Package) => ({
  identifier: p.identifier,
  commitment: p.commitment.map((c, i) => fromHex(c, `round1 commitment ${i}`)),
  proofOfKnowledge: fromHex(p.proofOfKnowledge, 'round1 proof of knowledge'),
});

/** Round 1: commitments and proof of knowledge for `identifier` in a `threshold` key set. */
export function dkgRound1(identifier: Identifier, threshold: Threshold): { broadcast: DkgRound1Package; state: DkgState } {
  const { public: pub, secret } = suite.DKG.round1(identifier, { min: threshold.min, max: threshold.max });
  return {
    broadcast: {
      identifier: pub.identifier,
      commitment: pub.commitment.map(toHex),
      proofOfKnowledge: toHex(pub.proofOfKnowledge),
    },
    state: secret,
  };
}

/**
 * Round 2: checks the others' round-1 broadcasts (count, proofs of knowledge) and returns one
 * SECRET package per other participant, to be sent to `to` over an encrypted channel.
 */
export function dkgRound2(state: DkgState, othersRound1: DkgRound1Package[]): DkgRound2Package[] {
  const out = suite.DKG.round2(state, othersRound1.map(round1FromWire));
  return Object.entries(out).map(([to, p]) => ({ from: p.identifier, to, signingShare: toHex(p.signingShare) }));
}

/**
 * Round 3: verifies every share received (addressed to this participant) against its sender's
 * commitment and returns this participant's key package and the common public package.
 * `othersRound1` must be the same broadcasts given to dkgRound2. Erases the round state.
 */
export function dkgFinalize(
  state: DkgState,
  othersRound1: DkgRound1Package[],
  received: DkgRound2Package[],
): { keyPackage: KeyPackage; publicPackage: PublicKeyPackage } {
  const own = toHex(suite.utils.Fn.toBytes(state.identifier));
  if (received.some((p) => p.to !== own)) throw new Error('round2 package addressed to another participant');
  const key = suite.DKG.round3(
    state,
    othersRound1.map(round1FromWire),
    received.map((p) => ({ identifier: p.from, signingShare: fromHex(p.signingShare, 'round2 signing share') })),
  );
  const publicPackage = publicFromNoble(key.public);
  return {
    keyPackage: {
      identifier: key.secret.identifier,
      signingShare: toHex(key.secret.signingShare),
      groupPublicKey: publicPackage.groupPublicKey,
      threshold: publicPackage.threshold,
    },
    publicPackage,
  };
}

/** Erases a DKG state that will not be finalized (aborted ceremony). */
export function dkgAbort(state: DkgState): void {
  suite.DKG.clean(state);
}

type NoblePublic = ReturnType<typeof suite.trustedDealer>['public'];
type NobleSecret = ReturnType<typeof suite.trustedDealer>['secretShares'][string];

/** noble's public package to the wire form. */
export function publicFromNoble(pub: NoblePublic): PublicKeyPackage {
  const commitments = pub.commitments.map(toHex);
  return {
    threshold: { min: pub.signers.min, max: pub.signers.max },
    groupPublicKey: commitments[0]!,
    commitments,
    verifyingShares: Object.fromEntries(Object.entries(pub.verifyingShares).map(([id, p]) => [id, toHex(p)])),
  };
}

/** The wire public package to noble's form. */
export function publicToNoble(pub: PublicKeyPackage): NoblePublic {
  if (pub.commitments[0] !== pub.groupPublicKey) throw new TypeError('public package: group key is not commitments[0]');
  return {
    signers: { min: pub.threshold.min, max: pub.threshold.max },
    commitments: pub.commitments.map((c, i) => fromHex(c, `commitment ${i}`)),
    verifyingShares: Object.fromEntries(
      Object.entries(pub.verifyingShares).map(([id, p]) => [id, fromHex(p, 'verifying share')]),
    ),
  };
}

/** The wire key package to noble's secret form. */
export function secretToNoble(key: KeyPackage): NobleSecret {
  return { identifier: key.identifier, signingShare: fromHex(key.signingShare, 'signing share') };
}
