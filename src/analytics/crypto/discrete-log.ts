/**
 * Recovering m from m*G for a bounded m: baby-step giant-step with a precomputed table.
 *
 * Baby steps: j*G for j = 0..T, keyed by the low 32 bits of the affine y coordinate in an
 * open-addressing table of typed arrays (about 8 bytes per slot, no per-entry objects). On a
 * twisted Edwards curve -(x, y) = (-x, y), so one entry serves both j*G and -j*G and the table
 * covers a window of 2T+1 values.
 * Giant steps: Q_i = P - i*S*G with stride S = 2T+1, for i = 0..floor((max+T)/S); a hit on key j
 * means m = i*S + j or i*S - j, which is confirmed by recomputing m*G (so key collisions are
 * harmless). Giant steps are taken in batches that share one field inversion (Montgomery's trick)
 * to get affine y coordinates. Cost: ~T additions once, ~max/(2T) additions per lookup.
 */
import { babyjubjub } from '@noble/curves/misc.js';
import { G, IDENTITY, type GroupPoint, mul } from './group.js';
import { DiscreteLogOutOfRangeError } from './errors.js';

const Fp = babyjubjub.Point.Fp;
const BATCH = 512;
const KEY_MASK = 0xffffffffn;

function affineYKeys(points: readonly GroupPoint[]): number[] {
  const inv = Fp.invertBatch(points.map((p) => p.Z));
  return points.map((p, i) => Number(Fp.mul(p.Y, inv[i]!) & KEY_MASK));
}

export interface DiscreteLogTableSnapshot {
  babySteps: number;
  keys: Uint32Array;
  values: Int32Array;
}

export class DiscreteLogTable {
  /** T: the table holds j*G for j = 0..T. */
  readonly babySteps: number;
  /** S = 2T+1. */
  readonly stride: bigint;
  private readonly keys: Uint32Array;
  /** j+1, 0 marks an empty slot. */
  private readonly values: Int32Array;
  private readonly mask: number;
  private readonly giantStep: GroupPoint;

  private constructor(babySteps: number) {
    this.babySteps = babySteps;
    this.stride = 2n * BigInt(babySteps) + 1n;
    let capacity = 1;
    while (capacity < 2 * (babySteps + 1)) capacity *= 2;
    this.keys = new Uint32Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.giantStep = mul(G, this.stride).negate();
  }

  /** Builds the table for T baby steps (e.g. 2^16 for 32-bit totals, 2^22 for 40-bit ones). */
  static build(babySteps: number): DiscreteLogTable {
    if (!Number.isSafeInteger(babySteps) || babySteps < 1 || babySteps > 2 ** 28) throw new RangeError('babySteps must be an integer in 1..2^28');
    const table = new DiscreteLogTable(babySteps);
    let current = IDENTITY;
    for (let start = 0; start <= babySteps; start += BATCH) {
      const chunk: GroupPoint[] = [];
      for (let j = start; j <= babySteps && j < start + BATCH; j++) {
        chunk.push(current);
        current = current.add(G);
      }
      affineYKeys(chunk).forEach((key, n) => table.insert(key, start + n));
    }
    return table;
  }

  /**
   * The table's contents, for caching (building a 2^22 table takes tens of seconds). A corrupted
   * or tampered snapshot cannot make solve() return a wrong value, since every hit is re-checked
   * against the point; at worst it reports a value as out of range.
   */
  snapshot(): DiscreteLogTableSnapshot {
    return { babySteps: this.babySteps, keys: this.keys.slice(), values: this.values.slice() };
  }

  static fromSnapshot(s: DiscreteLogTableSnapshot): DiscreteLogTable {
    const table = new DiscreteLogTable(s.babySteps);
    if (s.keys.length !== table.keys.length || s.values.length !== table.values.length) throw new RangeError('snapshot does not match its babySteps');
    table.keys.set(s.keys);
    table.values.set(s.values);
    return table;
  }

  /** The largest value solvable with at most `giantSteps` giant steps. */
  maxValueFor(giantSteps: number): bigint {
    return BigInt(giantSteps) * this.stride - BigInt(this.babySteps) - 1n;
  }

  private insert(key: number, j: number): void {
    let slot = key & this.mask;
    while (this.values[slot] !== 0) slot = (slot + 1) & this.mask;
    this.keys[slot] = key;
    this.values[slot] = j + 1;
  }

  /** Every j stored under `key` (usually zero or one). */
  private *lookup(key: number): Generator<number> {
    let slot = key & this.mask;
    while (this.values[slot] !== 0) {
      if (this.keys[slot] === key) yield this.values[slot]! - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Finds m in [0, maxValue] with m*G = point, or throws DiscreteLogOutOfRangeError (the total
   * exceeds the range, is negative, or the point is not a valid decryption).
   */
  solve(point: GroupPoint, maxValue: bigint): bigint {
    if (maxValue < 0n) throw new RangeError('maxValue must be >= 0');
    const T = BigInt(this.babySteps);
    const lastGiant = (maxValue + T) / this.stride;
    let q = point;
    for (let i = 0n; i <= lastGiant; ) {
      const chunk: GroupPoint[] = [];
      for (let n = 0; n < BATCH && i + BigInt(n) <= lastGiant; n++) {
        chunk.push(q);
        q = q.add(this.giantStep);
      }
      const keys = affineYKeys(chunk);
      for (let n = 0; n < keys.length; n++) {
        for (const j of this.lookup(keys[n]!)) {
          const base = (i + BigInt(n)) * this.stride;
          for (const m of [base + BigInt(j), base - BigInt(j)]) {
            if (m >= 0n && m <= maxValue && mul(G, m).equals(point)) return m;
          }
        }
      }
      i += BigInt(chunk.length);
    }
    throw new DiscreteLogOutOfRangeError(maxValue);
  }
}
