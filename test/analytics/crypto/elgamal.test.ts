import { randomInt } from 'node:crypto';
import {
  G, add, decodeCiphertext, decryptToPoint, encodeCiphertext, encodeCiphertexts, encrypt, keyGen, preparePublicKey, rerandomize, scalarMul, sub, sum,
  InvalidPointError,
} from '../../../src/analytics/crypto/index.js';
import { babyjubjub } from '@noble/curves/misc.js';

const mG = (m: bigint) => (m === 0n ? babyjubjub.Point.ZERO : G.multiplyUnsafe(m));

describe('exponential ElGamal', () => {
  const { secretKey, publicKey } = keyGen();
  const pk = preparePublicKey(publicKey);

  it('decrypts to m*G', () => {
    for (const m of [0n, 1n, 42n, 2n ** 40n - 1n]) expect(decryptToPoint(encrypt(m, pk), secretKey).equals(mG(m))).toBe(true);
  });

  it('sums of ciphertexts decrypt to sums of amounts (random vectors)', () => {
    for (let trial = 0; trial < 5; trial++) {
      const amounts = Array.from({ length: 1 + randomInt(40) }, () => BigInt(randomInt(0, 2 ** 32)));
      const total = amounts.reduce((a, b) => a + b, 0n);
      const cts = amounts.map((m) => encrypt(m, pk));
      expect(decryptToPoint(sum(cts), secretKey).equals(mG(total))).toBe(true);
      expect(decryptToPoint(cts.reduce(add), secretKey).equals(mG(total))).toBe(true);
    }
  });

  it('subtracts, scales and re-randomises homomorphically', () => {
    const a = encrypt(1000n, pk);
    const b = encrypt(400n, pk);
    expect(decryptToPoint(sub(a, b), secretKey).equals(mG(600n))).toBe(true);
    expect(decryptToPoint(scalarMul(a, 7n), secretKey).equals(mG(7000n))).toBe(true);
    const r = rerandomize(a, pk);
    expect(r.c1.equals(a.c1)).toBe(false);
    expect(decryptToPoint(r, secretKey).equals(mG(1000n))).toBe(true);
  });

  it('is deterministic given r (so the payment circuit can recompute it)', () => {
    const r = 123456789n;
    const a = encrypt(5n, pk, r);
    expect(encodeCiphertext(a)).toEqual(encodeCiphertext(encrypt(5n, publicKey, r)));
    expect(a.c1.equals(G.multiplyUnsafe(r))).toBe(true);
  });

  it('serialises to four decimal field elements and back, validating on decode', () => {
    const cts = [encrypt(1n, pk), encrypt(2n, pk), sum([])];
    const wire = JSON.parse(JSON.stringify(encodeCiphertexts(cts)));
    expect(wire[0]).toEqual(encodeCiphertext(cts[0]!));
    expect(wire[2]).toEqual({ c1: ['0', '1'], c2: ['0', '1'] });
    wire.forEach((w: unknown, i: number) => {
      const d = decodeCiphertext(w);
      expect(d.c1.equals(cts[i]!.c1) && d.c2.equals(cts[i]!.c2)).toBe(true);
    });
    expect(() => decodeCiphertext({ c1: ['1', '2'], c2: wire[0].c2 })).toThrow(InvalidPointError);
    expect(() => decodeCiphertext({ c1: ['0', '21888242871839275222246405745257275088548364400416034343698204186575808495616'], c2: wire[0].c2 })).toThrow(/small-order/);
  });
});
