/**
 * Proactive refresh and resharing of a FROST key: same group key, new shares.
 *
 * noble's FROST has no refresh API, and its DKG rejects a zero secret (an identity commitment),
 * so the "DKG of zero added to the shares" form cannot be built on it. Instead this is the
 * classic resharing of Desmedt-Jajodia / Wong-Wang-Wing: a quorum S of old signers each deals
 * its Lagrange-weighted share w_i = lambda_i(S) * s_i to the new set with a fresh Feldman VSS
 * (noble's trustedDealer with that secret, RFC 9591 Appendix C), and each new member sums the
 * sub-shares it receives. Because sum_i w_i = s, the group key is unchanged; because the new
 * polynomial is fresh, old shares do not combine with new ones.
 *
 *  - refresh: same members and threshold (resharing onto the same set);
 *  - reshare: any new member set and threshold (old members may leave, new ones join).
 *
 * Every dealer is checked: its commitment must open to lambda_i * PK_i (its old verifying share,
 * weighted), and every sub-share must pass vss_verify against its commitment (Appendix C.2); a
 * dealer failing either is named. New members must all see the same broadcasts (a broadcast
 * channel, e.g. the coordinator relays them and every member compares their hash). Old members
 * must erase their old shares once the new set has signed with the new ones.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { publicToNoble } from './dkg.js';
import { fromHex, suite, toHex } from './suite.js';
import type {
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  ReshareCommitment,
  ReshareSharePackage,
  Threshold,
} from './types.js';

const { Point } = secp256k1;
const Fn = Point.Fn;

/** Dealers of a reshare that sent a commitment or sub-share that does not check out. */
export class InvalidReshareError extends Error {
  readonly culprits: Identifier[];
  constructor(culprits: Identifier[]) {
    super(`invalid reshare contribution from ${culprits.join(', ')}`);
    this.name = 'InvalidReshareError';
    this.culprits = culprits;
  }
}

const scalarOf = (id: Identifier): bigint => Fn.fromBytes(fromHex(id, 'identifier'));

/** lambda_i(S) at 0 = prod_{j in S, j != i} x_j / (x_j - x_i)  (RFC 9591 Section 4.2 derive_interpolating_value). */
function lagrangeAtZero(id: Identifier, set: Identifier[]): bigint {
  const xi = scalarOf(id);
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const other of set) {
    if (other === id) continue;
    const xj = scalarOf(other);
    num = Fn.mul(num, xj);
    den = Fn.mul(den, Fn.sub(xj, xi));
  }
  return Fn.div(num, den);
}

function checkDealers(oldPublic: PublicKeyPackage, dealers: Identifier[]): void {
  if (new Set(dealers).size !== dealers.length) throw new Error('reshare: duplicate dealer');
  if (dealers.length < oldPublic.threshold.min) throw new Error(`reshare: need at least ${oldPublic.threshold.min} old signers`);
  for (const d of dealers) if (!(d in oldPublic.verifyingShares)) throw new Error(`reshare: ${d} is not an old signer`);
}

/**
 * Reshare step 1, run by each old signer in the quorum `dealers`: deal lambda_i * s_i to
 * `newIdentifiers` under `newThreshold`. The commitment is broadcast; each sub-share is SECRET
 * and goes to its recipient only.
 */
export function reshareDeal(
  key: KeyPackage,
  oldPublic: PublicKeyPackage,
  dealers: Identifier[],
  newThreshold: Threshold,
  newIdentifiers: Identifier[],
): { broadcast: ReshareCommitment; shares: ReshareSharePackage[] } {
  checkDealers(oldPublic, dealers);
  if (!dealers.includes(key.identifier)) throw new Error('reshare: this signer is not a dealer');
  const weighted = Fn.mul(lagrangeAtZero(key.identifier, dealers), Fn.fromBytes(fromHex(key.signingShare, 'signing share')));
  const deal = suite.trustedDealer({ min: newThreshold.min, max: newThreshold.max }, newIdentifiers, Fn.toBytes(weighted));
  return {
    broadcast: { from: key.identifier, commitment: deal.public.commitments.map(toHex) },
    shares: newIdentifiers.map((to) => ({ from: key.identifier, to, signingShare: toHex(deal.secretShares[to]!.signingShare) })),
  };
}

/**
 * Reshare step 2, run by each member `identifier` of the new set: checks every dealer's
 * broadcast and sub-share, and returns the new key package and the new public package
 * (the same group key as `oldPublic`). Throws InvalidReshareError naming bad dealers.
 */
export function reshareFinalize(
  identifier: Identifier,
  oldPublic: PublicKeyPackage,
  dealers: Identifier[],
  newThreshold: Threshold,
  newIdentifiers: Identifier[],
  broadcasts: ReshareCommitment[],
  received: ReshareSharePackage[],
): { keyPackage: KeyPackage; publicPackage: PublicKeyPackage } {
  checkDealers(oldPublic, dealers);
  if (!newIdentifiers.includes(identifier)) throw new Error('reshare: not a member of the new set');
  const culprits: Identifier[] = [];
  const commitments: (typeof Point.BASE)[][] = [];
  let share = Fn.ZERO;
  for (const dealer of dealers) {
    const broadcast = broadcasts.find((b) => b.from === dealer);
    const sub = received.find((r) => r.from === dealer && r.to === identifier);
    try {
      if (!broadcast || !sub || broadcast.commitment.length !== newThreshold.min) throw new Error('missing');
      const points = broadcast.commitment.map((c) => Point.fromBytes(fromHex(c, 'reshare commitment')));
      const expected = Point.fromBytes(fromHex(oldPublic.verifyingShares[dealer]!, 'verifying share')).multiply(
        lagrangeAtZero(dealer, dealers),
      );
      if (!points[0]!.equals(expected)) throw new Error('wrong secret');
      const subShare = fromHex(sub.signingShare, 'reshare sub-share');
      suite.validateSecret(
        { identifier, signingShare: subShare },
        { signers: { min: newThreshold.min, max: newThreshold.max }, commitments: broadcast.commitment.map((c) => fromHex(c, 'c')), verifyingShares: {} },
      );
      commitments.push(points);
      share = Fn.add(share, Fn.fromBytes(subShare));
    } catch {
      culprits.push(dealer);
    }
  }
  if (culprits.length > 0) throw new InvalidReshareError(culprits);

  const summed = commitments.reduce((acc, points) => acc.map((p, k) => p.add(points[k]!)));
  const groupKey = toHex(summed[0]!.toBytes(true));
  if (groupKey !== oldPublic.groupPublicKey) throw new Error('reshare: group key changed');
  // PK_j = sum_k C_k * x_j^k: the verifying share of each new member, from the summed commitment.
  const verifyingShares: Record<Identifier, string> = {};
  for (const id of newIdentifiers) {
    const x = scalarOf(id);
    let acc = summed[summed.length - 1]!;
    for (let k = summed.length - 2; k >= 0; k--) acc = acc.multiply(x).add(summed[k]!);
    verifyingShares[id] = toHex(acc.toBytes(true));
  }
  const publicPackage: PublicKeyPackage = {
    threshold: { min: newThreshold.min, max: newThreshold.max },
    groupPublicKey: groupKey,
    commitments: summed.map((p) => toHex(p.toBytes(true))),
    verifyingShares,
  };
  const keyPackage: KeyPackage = {
    identifier,
    signingShare: toHex(Fn.toBytes(share)),
    groupPublicKey: groupKey,
    threshold: publicPackage.threshold,
  };
  suite.validateSecret({ identifier, signingShare: Fn.toBytes(share) }, publicToNoble(publicPackage));
  return { keyPackage, publicPackage };
}
