/**
 * The custody FROST wrapper: RFC 9591 Appendix E.5 vector for FROST(secp256k1, SHA-256), DKG and
 * threshold signing (2-of-3, 3-of-5), identifiable abort, quorum, refresh and resharing.
 */
import { secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import {
  InvalidReshareError,
  InvalidSignatureSharesError,
  aggregateSignature,
  challenge,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  groupKeyForContract,
  identifierFromNumber,
  parseSignature,
  reshareDeal,
  reshareFinalize,
  signRound1,
  signRound2,
  signatureForContract,
  verifySignature,
  verifySignatureShare,
  type KeyPackage,
  type PublicKeyPackage,
} from '../../../src/custody/frost/index.js';
import { collectShares, runDkg, runReshare, thresholdSign, wire, type KeySet } from './support.js';

const { Point } = secp256k1;
const text = (s: string) => new TextEncoder().encode(s);
const pointHex = (k: bigint) => bytesToHex(Point.BASE.multiply(k).toBytes(true));

/**
 * RFC 9591 Appendix E.5, FROST(secp256k1, SHA-256), 2-of-3 signed by participants 1 and 3
 * (the same values as the IETF draft repository's and frost-rs's vectors.json).
 */
const VECTOR = {
  groupSecretKey: '0d004150d27c3bf2a42f312683d35fac7394b1e9e318249c1bfe7f0795a83114',
  groupPublicKey: '02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f',
  message: '74657374',
  coefficient: 'fbf85eadae3058ea14f19148bb72b45e4399c0b16028acaf0395c9b03c823579',
  shares: {
    1: '08f89ffe80ac94dcb920c26f3f46140bfc7f95b493f8310f5fc1ea2b01f4254c',
    2: '04f0feac2edcedc6ce1253b7fab8c86b856a797f44d83d82a385554e6e401984',
    3: '00e95d59dd0d46b0e303e500b62b7ccb0e555d49f5b849f5e748c071da8c0dbc',
  } as Record<number, string>,
  round1: {
    1: {
      hidingRandomness: 'bda8e748e599187762cff956f03dc6ea13fc8e04491a0427b7e6e78600f41c52',
      bindingRandomness: '2ca682429bf05df435b9927b8edb1d748278f3e42fa11ef358e49bbf4a1b780d',
      hidingNonce: '09764379667f9a9fa61928947bd925a7f162b21886b750d3b11c226d16b32f58',
      bindingNonce: 'b2d3f8cb9da70984354c3fc3511b1f6ed21b7205941cb5553565d2ecade8c694',
      hidingCommitment: '0305e62a1d3f57a0b17ade569a3a4043e2a1fc3bd0b102614a8d8cc68e3322ad89',
      bindingCommitment: '03b634c2aed7f85b8eec22e97e5f916ab43a3518821480e15da2af7cffcb060a30',
    },
    3: {
      hidingRandomness: '70818dd5170672c4a4285fd593d4f222417f941f3118e1244955e7a1098a35d8',
      bindingRandomness: '74ca2da071ed4a2a6cad5087d6758b48a558ab5861c61117fee05757e4b1309e',
      hidingNonce: '0d92e255e5b42ebc2863f8198d946fc10f388c4983073c18cbb77b88e3bf2e34',
      bindingNonce: '1c7243ce00a499b1e7ce3403e7b731d0c820cf108feb8c5ee7c29b4ef43be5e0',
      hidingCommitment: '036f878da0dc19ba7da9f2d9e795e2674e62ff06c990fc4464cc1ed55a2acce46b',
      bindingCommitment: '025350e2a9e32e7b1fe0161e990623600b2d301b3307641469129cff7936c4d2ce',
    },
  } as Record<number, Record<string, string>>,
  sigShares: {
    1: 'ca54b18d7449377cfa680760a5770b9e64e201f7ea36b068effeca5fce2155e5',
    3: 'da13d054e83052568706a6d161d80f112a6bc3f76aa903c022585ae7e091e65e',
  } as Record<number, string>,
  signature:
    '024c1ad4e031872661fa6ebd05dfc7fb30db08b38d79f0edbc82051ae931381bc6a46881e25c7989d3816eae32074f1ab0d49ee908a59713ed5284c6bade7cfb02',
};

describe('RFC 9591 Appendix E.5 vector, FROST(secp256k1, SHA-256)', () => {
  const ids = [1, 2, 3].map(identifierFromNumber);
  const groupSecret = BigInt(`0x${VECTOR.groupSecretKey}`);
  const publicPackage: PublicKeyPackage = {
    threshold: { min: 2, max: 3 },
    groupPublicKey: VECTOR.groupPublicKey,
    commitments: [VECTOR.groupPublicKey, pointHex(BigInt(`0x${VECTOR.coefficient}`))],
    verifyingShares: Object.fromEntries(ids.map((id, i) => [id, pointHex(BigInt(`0x${VECTOR.shares[i + 1]}`))])),
  };
  const keyOf = (n: number): KeyPackage => ({
    identifier: identifierFromNumber(n),
    signingShare: VECTOR.shares[n]!,
    groupPublicKey: VECTOR.groupPublicKey,
    threshold: { min: 2, max: 3 },
  });
  const message = hexToBytes(VECTOR.message);

  it('has the group key of its secret and shares consistent with its polynomial', () => {
    expect(pointHex(groupSecret)).toBe(VECTOR.groupPublicKey);
    for (const n of [1, 2, 3]) {
      expect(() => secp256k1_FROST.validateSecret(
        { identifier: identifierFromNumber(n), signingShare: hexToBytes(VECTOR.shares[n]!) },
        { signers: { min: 2, max: 3 }, commitments: publicPackage.commitments.map(hexToBytes), verifyingShares: {} },
      )).not.toThrow();
    }
  });

  it('reproduces the nonces, commitments, signature shares and signature', () => {
    const round1 = [1, 3].map((n) => {
      const v = VECTOR.round1[n]!;
      const stream = [hexToBytes(v.hidingRandomness), hexToBytes(v.bindingRandomness)];
      const out = signRound1(keyOf(n), () => Uint8Array.from(stream.shift()!));
      expect(out.nonces).toEqual({ hiding: v.hidingNonce, binding: v.bindingNonce });
      expect(out.commitments).toEqual({ identifier: identifierFromNumber(n), hiding: v.hidingCommitment, binding: v.bindingCommitment });
      return out;
    });
    const commitments = round1.map((r) => r.commitments);
    const shares = [1, 3].map((n, i) => signRound2(keyOf(n), publicPackage, round1[i]!.nonces, commitments, message));
    expect(shares.map((s) => s.share)).toEqual([VECTOR.sigShares[1], VECTOR.sigShares[3]]);
    for (const s of shares) expect(verifySignatureShare(publicPackage, commitments, message, s)).toBe(true);
    const signature = aggregateSignature(publicPackage, commitments, message, shares);
    expect(signature).toBe(VECTOR.signature);
    expect(verifySignature(signature, message, VECTOR.groupPublicKey)).toBe(true);
  });

  it('satisfies z*G = R + c*PK with the exported challenge (what the contract computes)', () => {
    const { R, z } = parseSignature(VECTOR.signature);
    const c = challenge(R, hexToBytes(VECTOR.groupPublicKey), message);
    const rhs = Point.fromBytes(R).add(Point.fromBytes(hexToBytes(VECTOR.groupPublicKey)).multiply(c));
    expect(Point.BASE.multiply(z).equals(rhs)).toBe(true);
    const forContract = signatureForContract(VECTOR.signature);
    expect(bytesToHex(Point.fromAffine({ x: forContract.rx, y: forContract.ry }).toBytes(true))).toBe(bytesToHex(R));
    expect(groupKeyForContract(VECTOR.groupPublicKey).parity).toBe(0);
  });
});

describe('dealerless DKG and threshold signing', () => {
  let twoOfThree: KeySet;
  let threeOfFive: KeySet;
  beforeAll(() => {
    twoOfThree = runDkg({ min: 2, max: 3 });
    threeOfFive = runDkg({ min: 3, max: 5 });
  });

  it('2-of-3: every pair of signers produces a valid signature under the group key', () => {
    const [a, b, c] = twoOfThree.ids as [string, string, string];
    const message = text('transfer 1 ETH');
    for (const pair of [[a, b], [a, c], [b, c]]) {
      const signature = thresholdSign(twoOfThree, pair, message);
      expect(verifySignature(signature, message, twoOfThree.publicPackage.groupPublicKey)).toBe(true);
      expect(verifySignature(signature, text('transfer 2 ETH'), twoOfThree.publicPackage.groupPublicKey)).toBe(false);
    }
    expect(twoOfThree.publicPackage.groupPublicKey).toBe(twoOfThree.publicPackage.commitments[0]);
    expect(Object.keys(twoOfThree.publicPackage.verifyingShares).sort()).toEqual([...twoOfThree.ids].sort());
  });

  it('3-of-5: a quorum of three signs, and so does all five', () => {
    const message = text('rotate');
    const ids = threeOfFive.ids;
    for (const signers of [[ids[0]!, ids[2]!, ids[4]!], ids]) {
      const signature = thresholdSign(threeOfFive, signers, message);
      expect(verifySignature(signature, message, threeOfFive.publicPackage.groupPublicKey)).toBe(true);
    }
  });

  it('a tampered signature share is caught before aggregation and its signer named', () => {
    const ids = threeOfFive.ids;
    const signers = [ids[0]!, ids[1]!, ids[3]!];
    const message = text('pay bob');
    const { commitments, shares } = collectShares(threeOfFive, signers, message);
    const tampered = shares.map((s) =>
      s.identifier === ids[1] ? { ...s, share: s.share.slice(0, -2) + (s.share.endsWith('00') ? '01' : '00') } : s,
    );
    expect(verifySignatureShare(threeOfFive.publicPackage, commitments, message, tampered[1]!)).toBe(false);
    const error = (() => {
      try {
        aggregateSignature(threeOfFive.publicPackage, commitments, message, tampered);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(InvalidSignatureSharesError);
    expect((error as InvalidSignatureSharesError).culprits).toEqual([ids[1]]);
    expect((error as Error).message).not.toContain(tampered[1]!.share);

    // A share honestly made over another message is just as invalid here, and so is a missing one.
    const other = collectShares(threeOfFive, signers, text('pay mallory'));
    expect(() => aggregateSignature(threeOfFive.publicPackage, commitments, message, [shares[0]!, shares[1]!, other.shares[2]!]))
      .toThrow(expect.objectContaining({ culprits: [ids[3]] }) as unknown as Error);
    expect(() => aggregateSignature(threeOfFive.publicPackage, commitments, message, shares.slice(0, 2)))
      .toThrow(expect.objectContaining({ culprits: [ids[3]] }) as unknown as Error);
  });

  it('t-1 signers cannot produce a signature', () => {
    const ids = threeOfFive.ids;
    const message = text('too few');
    const round1 = [ids[0]!, ids[1]!].map((id) => signRound1(threeOfFive.keys.get(id)!));
    const commitments = round1.map((r) => r.commitments);
    expect(() => signRound2(threeOfFive.keys.get(ids[0]!)!, threeOfFive.publicPackage, round1[0]!.nonces, commitments, message)).toThrow();
    expect(() => aggregateSignature(threeOfFive.publicPackage, commitments, message, [])).toThrow(/at least 3 signers/);
  });

  it('DKG rejects a round-1 broadcast whose proof of knowledge is forged', () => {
    const threshold = { min: 2, max: 3 };
    const ids = [1, 2, 3].map(identifierFromNumber);
    const round1 = ids.map((id) => dkgRound1(id, threshold));
    const broadcasts = wire(round1.map((r) => r.broadcast));
    const forged = { ...broadcasts[2]!, proofOfKnowledge: broadcasts[1]!.proofOfKnowledge };
    expect(() => dkgRound2(round1[0]!.state, [broadcasts[1]!, forged])).toThrow();
  });

  it('DKG finalize rejects a round-2 share that does not match its sender commitment', () => {
    const threshold = { min: 2, max: 3 };
    const ids = [1, 2, 3].map(identifierFromNumber);
    const round1 = ids.map((id) => dkgRound1(id, threshold));
    const broadcasts = wire(round1.map((r) => r.broadcast));
    const others = broadcasts.slice(1);
    dkgRound2(round1[0]!.state, others);
    const toFirst = round1.slice(1).flatMap((r, i) => dkgRound2(r.state, broadcasts.filter((b) => b.identifier !== ids[i + 1]))).filter((p) => p.to === ids[0]);
    const bad = toFirst.map((p, i) => (i === 0 ? { ...p, signingShare: toFirst[1]!.signingShare } : p));
    expect(() => dkgFinalize(round1[0]!.state, others, bad)).toThrow();
  });
});

describe('proactive refresh and resharing', () => {
  it('refresh keeps the group key; new shares sign; old and new shares do not combine', () => {
    const set = runDkg({ min: 2, max: 3 });
    const [a, b, c] = set.ids as [string, string, string];
    const refreshed = runReshare(set, [a, c], { min: 2, max: 3 }, set.ids);
    expect(refreshed.publicPackage.groupPublicKey).toBe(set.publicPackage.groupPublicKey);
    for (const id of set.ids) expect(refreshed.keys.get(id)!.signingShare).not.toBe(set.keys.get(id)!.signingShare);

    const message = text('after refresh');
    const signature = thresholdSign(refreshed, [a, b], message);
    expect(verifySignature(signature, message, set.publicPackage.groupPublicKey)).toBe(true);

    // An old share with a new one: the share made with the stale key fails verification (named).
    const mixed: KeySet = { ...refreshed, keys: new Map([[a, set.keys.get(a)!], [b, refreshed.keys.get(b)!]]) };
    expect(() => thresholdSign(mixed, [a, b], message)).toThrow(expect.objectContaining({ culprits: [a] }) as unknown as Error);
    // And interpolating an old share with a new one does not give the group secret.
    const secretOf = (keys: KeyPackage[]) =>
      secp256k1_FROST.combineSecret(keys.map((k) => ({ identifier: k.identifier, signingShare: hexToBytes(k.signingShare) })), { min: 2, max: 3 });
    const pkOf = (secret: Uint8Array) => pointHex(BigInt(`0x${bytesToHex(secret)}`));
    expect(pkOf(secretOf([refreshed.keys.get(a)!, refreshed.keys.get(b)!]))).toBe(set.publicPackage.groupPublicKey);
    expect(pkOf(secretOf([set.keys.get(a)!, refreshed.keys.get(b)!]))).not.toBe(set.publicPackage.groupPublicKey);
  });

  it('reshare 2-of-3 to a new 3-of-5 set (two old members leave); a bad dealer is named', () => {
    const set = runDkg({ min: 2, max: 3 });
    const [a, b] = set.ids as [string, string, string];
    const newIds = [3, 4, 5, 6, 7].map(identifierFromNumber);
    const reshared = runReshare(set, [a, b], { min: 3, max: 5 }, newIds);
    expect(reshared.publicPackage.groupPublicKey).toBe(set.publicPackage.groupPublicKey);
    const message = text('new operators');
    const signature = thresholdSign(reshared, [newIds[1]!, newIds[3]!, newIds[4]!], message);
    expect(verifySignature(signature, message, set.publicPackage.groupPublicKey)).toBe(true);

    // A dealer that deals a secret other than its weighted share is named by every recipient.
    const threshold = { min: 3, max: 5 };
    const honest = reshareDeal(set.keys.get(a)!, set.publicPackage, [a, b], threshold, newIds);
    const cheat = reshareDeal({ ...set.keys.get(b)!, signingShare: set.keys.get(a)!.signingShare }, set.publicPackage, [a, b], threshold, newIds);
    const to = newIds[0]!;
    expect(() =>
      reshareFinalize(to, set.publicPackage, [a, b], threshold, newIds, [honest.broadcast, cheat.broadcast], [...honest.shares, ...cheat.shares].filter((s) => s.to === to)),
    ).toThrow(expect.objectContaining({ culprits: [b] }) as unknown as Error);
    // A sub-share that does not match its dealer's commitment is named too.
    const swapped = honest.shares.map((s) => (s.to === to ? { ...s, signingShare: honest.shares[1]!.signingShare } : s));
    const fromB = reshareDeal(set.keys.get(b)!, set.publicPackage, [a, b], threshold, newIds);
    let caught: unknown;
    try {
      reshareFinalize(to, set.publicPackage, [a, b], threshold, newIds, [honest.broadcast, fromB.broadcast], [...swapped, ...fromB.shares].filter((s) => s.to === to));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidReshareError);
    expect((caught as InvalidReshareError).culprits).toEqual([a]);
  });
});
