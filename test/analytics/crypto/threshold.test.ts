/**
 * 3-of-5 dealerless key generation, partial decryptions with Chaum-Pedersen proofs, and their
 * combination, end to end through the JSON wire forms.
 */
import {
  DealerMisbehaviourError, DiscreteLogTable, QuorumNotReachedError, MalformedMessageError,
  type DealerCommitment, type DealerShare, type DkgParameters, type PartialDecryption, type ThresholdKeyShare,
  G, combinePartialDecryptions, deal, decodeDealerCommitment, decodeDealerShare, decodePartialDecryption, decodeThresholdPublicKey,
  encodeDealerCommitment, encodeDealerShare, encodePartialDecryption, encodeThresholdPublicKey, encrypt, finalizeKeyShare,
  partialDecrypt, qualifiedDealers, sum, thresholdPublicKey, verifyDealerShare, verifyPartialDecryption, encodePoint,
  type Ciphertext,
} from '../../../src/analytics/crypto/index.js';

const wire = <T>(x: T): unknown => JSON.parse(JSON.stringify(x));

/** Runs the DKG with every message through its JSON form; `tamper` may corrupt shares in flight. */
function runDkg(params: DkgParameters, tamper: (s: DealerShare) => DealerShare = (s) => s) {
  const round1 = Array.from({ length: params.participants }, (_, i) => deal(params, i + 1));
  const commitments: DealerCommitment[] = round1.map((r) => decodeDealerCommitment(wire(encodeDealerCommitment(r.commitment))));
  const shares: DealerShare[] = round1.flatMap((r) => r.shares.map((s) => decodeDealerShare(wire(encodeDealerShare(tamper(s))))));
  const complaints = [];
  for (const s of shares) {
    try {
      verifyDealerShare(params, commitments.find((c) => c.dealer === s.dealer)!, s);
    } catch (e) {
      if (!(e instanceof DealerMisbehaviourError)) throw e;
      complaints.push({ ceremony: params.ceremony, accuser: s.recipient, dealer: e.dealer, reason: e.message });
    }
  }
  const qualified = qualifiedDealers(params, commitments, complaints);
  const keys: ThresholdKeyShare[] = [];
  for (let j = 1; j <= params.participants; j++) keys.push(finalizeKeyShare(params, j, commitments, shares.filter((s) => s.recipient === j), qualified));
  return { commitments, complaints, qualified, keys, publicKey: keys[0]!.publicKey };
}

const params: DkgParameters = { ceremony: 'slot:amount:2026-11', threshold: 3, participants: 5 };
const dlog = DiscreteLogTable.build(2 ** 12);
const CONTEXT = 'task-7/aggregate/account-42';

function subsets<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [h, ...t] = xs;
  return [...subsets(t, k - 1).map((s) => [h!, ...s]), ...subsets(t, k)];
}

describe('threshold ElGamal, 3-of-5', () => {
  const dkg = runDkg(params);
  const amounts = [1200n, 35n, 999_999n, 0n, 77n];
  const total = amounts.reduce((a, b) => a + b, 0n);
  const aggregate: Ciphertext = sum(amounts.map((m) => encrypt(m, dkg.publicKey.groupPublicKey)));
  const partials = dkg.keys.map((k) => partialDecrypt(aggregate, k, CONTEXT));

  it('produces one group key from all five dealers, consistent verification shares', () => {
    expect(dkg.qualified).toEqual([1, 2, 3, 4, 5]);
    expect(dkg.complaints).toEqual([]);
    for (const k of dkg.keys) {
      expect(k.publicKey.groupPublicKey.equals(dkg.publicKey.groupPublicKey)).toBe(true);
      expect(G.multiplyUnsafe(k.secretShare).equals(dkg.publicKey.verificationShares.get(k.index)!)).toBe(true);
    }
    const recomputed = thresholdPublicKey(params, dkg.commitments, dkg.qualified);
    expect(encodeThresholdPublicKey(recomputed)).toEqual(encodeThresholdPublicKey(dkg.publicKey));
    const roundTrip = decodeThresholdPublicKey(wire(encodeThresholdPublicKey(dkg.publicKey)));
    expect(encodeThresholdPublicKey(roundTrip)).toEqual(encodeThresholdPublicKey(dkg.publicKey));
  });

  it('any 3 of the 5 partials recover the total', () => {
    const all = subsets(partials, 3);
    expect(all).toHaveLength(10);
    for (const chosen of all) {
      const received = chosen.map((p) => decodePartialDecryption(wire(encodePartialDecryption(p))));
      const result = combinePartialDecryptions(aggregate, received, dkg.publicKey, CONTEXT);
      expect(result.used).toEqual(chosen.map((p) => p.index));
      expect(dlog.solve(result.plaintextPoint, 2n ** 32n)).toBe(total);
    }
  });

  it('refuses to combine 2 partials (below quorum)', () => {
    for (const pair of subsets(partials, 2)) {
      expect(() => combinePartialDecryptions(aggregate, pair, dkg.publicKey, CONTEXT)).toThrow(QuorumNotReachedError);
    }
  });

  it('rejects a forged partial (wrong D_i or wrong proof), names the regulator, and combines the rest', () => {
    const wrongShare: PartialDecryption = { ...partials[1]!, share: partials[1]!.share.add(G) };
    const wrongProof: PartialDecryption = { ...partials[3]!, proof: { ...partials[3]!.proof, response: partials[3]!.proof.response ^ 1n } };
    // A valid proof from regulator 1 replayed under regulator 3's index.
    const stolen: PartialDecryption = { ...partials[0]!, index: 3 };
    for (const forged of [wrongShare, wrongProof, stolen]) expect(verifyPartialDecryption(aggregate, forged, dkg.publicKey, CONTEXT)).toBe(false);

    const result = combinePartialDecryptions(aggregate, [partials[0]!, wrongShare, stolen, wrongProof, partials[4]!, partials[2]!], dkg.publicKey, CONTEXT);
    expect(result.rejected.map((r) => r.index)).toEqual([2, 3, 4]);
    expect(result.used).toEqual([1, 3, 5]);
    expect(dlog.solve(result.plaintextPoint, 2n ** 32n)).toBe(total);

    try {
      combinePartialDecryptions(aggregate, [partials[0]!, wrongShare, partials[2]!], dkg.publicKey, CONTEXT);
      throw new Error('expected a quorum error');
    } catch (e) {
      expect(e).toBeInstanceOf(QuorumNotReachedError);
      expect((e as QuorumNotReachedError).rejected).toEqual([{ index: 2, reason: 'invalid Chaum-Pedersen proof' }]);
      expect((e as Error).message).toMatch(/regulator 2/);
    }
  });

  it('binds proofs to their context: a partial for one task does not verify for another', () => {
    expect(verifyPartialDecryption(aggregate, partials[0]!, dkg.publicKey, CONTEXT)).toBe(true);
    expect(verifyPartialDecryption(aggregate, partials[0]!, dkg.publicKey, 'task-8')).toBe(false);
    const other = encrypt(5n, dkg.publicKey.groupPublicKey);
    expect(verifyPartialDecryption(other, partials[0]!, dkg.publicKey, CONTEXT)).toBe(false);
  });

  it('rejects a partial with a small-order share on decode', () => {
    const enc = wire(encodePartialDecryption(partials[0]!)) as { share: string[] };
    enc.share = ['0', '21888242871839275222246405745257275088548364400416034343698204186575808495616'];
    expect(() => decodePartialDecryption(enc)).toThrow(/small-order/);
  });

  it('independent DKGs give independent slot keys', () => {
    const other = runDkg({ ...params, ceremony: 'slot:cross-border:2026-11' });
    expect(other.publicKey.groupPublicKey.equals(dkg.publicKey.groupPublicKey)).toBe(false);
    for (let j = 1; j <= 5; j++) expect(other.keys[j - 1]!.secretShare).not.toBe(dkg.keys[j - 1]!.secretShare);
    // A partial made under one slot key does not verify under the other.
    expect(verifyPartialDecryption(aggregate, partials[0]!, other.publicKey, CONTEXT)).toBe(false);
  });
});

describe('DKG misbehaviour', () => {
  it('a bad share names its dealer, who is disqualified; the rest still form a working key', () => {
    const dkg = runDkg(params, (s) => (s.dealer === 2 && s.recipient === 4 ? { ...s, share: s.share + 1n } : s));
    expect(dkg.complaints).toHaveLength(1);
    expect(dkg.complaints[0]).toMatchObject({ accuser: 4, dealer: 2 });
    expect(dkg.complaints[0]!.reason).toMatch(/dealer 2/);
    expect(dkg.qualified).toEqual([1, 3, 4, 5]);
    const expectedKey = dkg.commitments.filter((c) => c.dealer !== 2).reduce((acc, c) => acc.add(c.commitments[0]!), G.subtract(G));
    expect(dkg.publicKey.groupPublicKey.equals(expectedKey)).toBe(true);
    const ct = encrypt(31337n, dkg.publicKey.groupPublicKey);
    const parts = [dkg.keys[4]!, dkg.keys[1]!, dkg.keys[3]!].map((k) => partialDecrypt(ct, k, 'x'));
    expect(DiscreteLogTable.build(256).solve(combinePartialDecryptions(ct, parts, dkg.publicKey, 'x').plaintextPoint, 100_000n)).toBe(31337n);
  });

  it('a broadcast with a bad proof of possession or wrong degree is disqualified', () => {
    const p2 = { ...params, threshold: 2 };
    const round1 = [1, 2, 3, 4].map((i) => deal(p2, i).commitment);
    const badPop = { ...round1[0]!, proof: { ...round1[0]!.proof, response: round1[0]!.proof.response ^ 1n } };
    const badDegree = { ...round1[1]!, commitments: round1[1]!.commitments.slice(0, 1) };
    const replayed = { ...round1[2]!, dealer: 5 }; // dealer 3's broadcast claimed by 5
    expect(qualifiedDealers(p2, [badPop, badDegree, round1[2]!, round1[3]!, replayed])).toEqual([3, 4]);
    const equivocating = deal(p2, 3).commitment;
    expect(qualifiedDealers(p2, [round1[1]!, round1[2]!, round1[3]!, equivocating])).toEqual([2, 4]);
  });

  it('refuses when too few dealers qualify, and on malformed parameters', () => {
    const round1 = [1, 2].map((i) => deal(params, i).commitment);
    expect(() => qualifiedDealers(params, round1)).toThrow(/at least 3/);
    expect(() => deal({ ...params, threshold: 6 }, 1)).toThrow(MalformedMessageError);
    expect(() => deal(params, 6)).toThrow(MalformedMessageError);
  });

  it('rejects a commitment that is not a subgroup point', () => {
    const c = wire(encodeDealerCommitment(deal(params, 1).commitment)) as { commitments: string[][] };
    c.commitments[1] = ['1', '2'];
    expect(() => decodeDealerCommitment(c)).toThrow(/not on the BabyJubJub curve/);
    c.commitments[1] = encodePoint(G);
    expect(() => decodeDealerCommitment(c)).not.toThrow();
  });
});
