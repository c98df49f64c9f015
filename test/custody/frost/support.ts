/**
 * Test helpers: a whole DKG, signing ceremony or reshare run in one process, every message
 * passed through JSON as it would travel between signer nodes.
 */
import {
  aggregateSignature,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  identifierFromNumber,
  reshareDeal,
  reshareFinalize,
  signRound1,
  signRound2,
  type Hex,
  type Identifier,
  type KeyPackage,
  type PublicKeyPackage,
  type SignatureShare,
  type SigningCommitments,
  type Threshold,
} from '../../../src/custody/frost/index.js';

/** A JSON round trip: what crossing an HTTP hop does to a message. */
export const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export interface KeySet {
  publicPackage: PublicKeyPackage;
  keys: Map<Identifier, KeyPackage>;
  ids: Identifier[];
}

/** Dealerless DKG among participants 1..max. */
export function runDkg(threshold: Threshold): KeySet {
  const ids = Array.from({ length: threshold.max }, (_, i) => identifierFromNumber(i + 1));
  const round1 = ids.map((id) => dkgRound1(id, threshold));
  const broadcasts = wire(round1.map((r) => r.broadcast));
  const othersOf = (id: Identifier) => broadcasts.filter((b) => b.identifier !== id);
  const round2 = wire(round1.flatMap((r, i) => dkgRound2(r.state, othersOf(ids[i]!))));
  const keys = new Map<Identifier, KeyPackage>();
  const publics: PublicKeyPackage[] = [];
  round1.forEach((r, i) => {
    const id = ids[i]!;
    const out = dkgFinalize(r.state, othersOf(id), round2.filter((p) => p.to === id));
    keys.set(id, wire(out.keyPackage));
    publics.push(wire(out.publicPackage));
  });
  for (const p of publics) expect(p).toEqual(publics[0]);
  return { publicPackage: publics[0]!, keys, ids };
}

/** Round 1 for `signers`, then round 2 on `message`: the commitments and shares a coordinator collects. */
export function collectShares(
  set: KeySet,
  signers: Identifier[],
  message: Uint8Array,
): { commitments: SigningCommitments[]; shares: SignatureShare[] } {
  const round1 = signers.map((id) => signRound1(set.keys.get(id)!));
  const commitments = wire(round1.map((r) => r.commitments));
  const shares = wire(
    round1.map((r, i) => signRound2(set.keys.get(signers[i]!)!, set.publicPackage, r.nonces, commitments, message)),
  );
  return { commitments, shares };
}

/** A full signing ceremony among `signers`. */
export function thresholdSign(set: KeySet, signers: Identifier[], message: Uint8Array): Hex {
  const { commitments, shares } = collectShares(set, signers, message);
  return aggregateSignature(set.publicPackage, commitments, message, shares);
}

/** Reshare `set` from `dealers` to members `newIds` under `threshold`. */
export function runReshare(set: KeySet, dealers: Identifier[], threshold: Threshold, newIds: Identifier[]): KeySet {
  const deals = dealers.map((d) => reshareDeal(set.keys.get(d)!, set.publicPackage, dealers, threshold, newIds));
  const broadcasts = wire(deals.map((d) => d.broadcast));
  const subShares = wire(deals.flatMap((d) => d.shares));
  const keys = new Map<Identifier, KeyPackage>();
  const publics: PublicKeyPackage[] = [];
  for (const id of newIds) {
    const out = reshareFinalize(id, set.publicPackage, dealers, threshold, newIds, broadcasts, subShares.filter((s) => s.to === id));
    keys.set(id, out.keyPackage);
    publics.push(out.publicPackage);
  }
  for (const p of publics) expect(p).toEqual(publics[0]);
  return { publicPackage: publics[0]!, keys, ids: newIds };
}
