import { babyjubjub } from '@noble/curves/misc.js';
import { DiscreteLogOutOfRangeError, DiscreteLogTable, G, SUBGROUP_ORDER } from '../../../src/analytics/crypto/index.js';

const mG = (m: bigint) => (m === 0n ? babyjubjub.Point.ZERO : G.multiplyUnsafe(((m % SUBGROUP_ORDER) + SUBGROUP_ORDER) % SUBGROUP_ORDER));

describe('baby-step giant-step', () => {
  it('finds 32-bit totals with a 2^16 table, including the edges of the range', () => {
    const table = DiscreteLogTable.build(2 ** 16);
    const max = 2n ** 32n - 1n;
    const S = table.stride;
    const T = BigInt(table.babySteps);
    for (const m of [0n, 1n, 2n, T - 1n, T, T + 1n, S - 1n, S, S + 1n, 123_456_789n, max - S, max - 1n, max]) {
      expect(table.solve(mG(m), max)).toBe(m);
    }
    expect(() => table.solve(mG(max + 1n), max)).toThrow(DiscreteLogOutOfRangeError);
    expect(() => table.solve(mG(-1n), max)).toThrow(/not in the range \[0, 4294967295\]/);
    expect(() => table.solve(mG(2n ** 40n), max)).toThrow(DiscreteLogOutOfRangeError);
  });

  it('respects tight bounds and tiny tables', () => {
    const table = DiscreteLogTable.build(3);
    for (let m = 0n; m <= 50n; m++) expect(table.solve(mG(m), 50n)).toBe(m);
    expect(() => table.solve(mG(51n), 50n)).toThrow(DiscreteLogOutOfRangeError);
    expect(() => table.solve(mG(5n), 4n)).toThrow(DiscreteLogOutOfRangeError);
    expect(table.solve(mG(0n), 0n)).toBe(0n);
    expect(table.maxValueFor(10)).toBe(10n * 7n - 4n);
  });

  it('restores from a snapshot, and a tampered snapshot never yields a wrong value', () => {
    const table = DiscreteLogTable.build(64);
    const copy = DiscreteLogTable.fromSnapshot(table.snapshot());
    expect(copy.solve(mG(5000n), 10_000n)).toBe(5000n);
    const snap = table.snapshot();
    snap.values = snap.values.map((v) => (v === 0 ? 0 : ((v + 7) % 65) + 1));
    const tampered = DiscreteLogTable.fromSnapshot(snap);
    for (const m of [0n, 10n, 777n, 9999n]) {
      try {
        expect(tampered.solve(mG(m), 10_000n)).toBe(m);
      } catch (e) {
        expect(e).toBeInstanceOf(DiscreteLogOutOfRangeError);
      }
    }
    expect(() => DiscreteLogTable.fromSnapshot({ ...snap, babySteps: 1000 })).toThrow(RangeError);
  });
});
