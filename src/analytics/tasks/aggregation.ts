/**
 * Homomorphic aggregation of stored payment ciphertexts: per group and slot, the sum of the
 * payments' ciphertexts, which encrypts the sum of their plaintexts under the slot key.
 *
 * Stored ciphertexts were decoded with curve and subgroup checks when the payment was recorded
 * (and the record is covered by the audit log), so reading them back skips the two subgroup
 * checks per point (4 ms per ciphertext) that would dominate a sum of 10^5 payments; what comes
 * out of the sum is re-encoded with one batched inversion.
 *
 * Plain module: no framework or database imports.
 */
import { babyjubjub } from '@noble/curves/misc.js';
import { encodeCiphertexts, sum, type Ciphertext, type EncodedCiphertext } from '../crypto/index.js';
import type { FeatureSlot } from '../features.js';

const Point = babyjubjub.Point;

const point = (p: [string, string]) => Point.fromAffine({ x: BigInt(p[0]), y: BigInt(p[1]) });

/** A ciphertext read back from storage (validated when it was recorded). */
export function storedCiphertext(c: EncodedCiphertext): Ciphertext {
  return { c1: point(c.c1), c2: point(c.c2) };
}

export interface GroupAggregate {
  group: string;
  payments: number;
  ciphertexts: Partial<Record<FeatureSlot, EncodedCiphertext>>;
}

/**
 * Sums the ciphertexts of `slots` per group. `payments` are the cohort's rows: the group key and
 * the six ciphertexts in slot order (`slotIndex` maps a slot to its position).
 */
export function aggregateGroups(
  payments: Iterable<{ group: string; ciphertexts: readonly EncodedCiphertext[] }>,
  slots: readonly FeatureSlot[],
  slotIndex: (slot: FeatureSlot) => number,
  keep: (group: string, payments: number) => boolean,
): { aggregates: GroupAggregate[]; suppressed: number } {
  const byGroup = new Map<string, EncodedCiphertext[][]>();
  for (const p of payments) {
    let list = byGroup.get(p.group);
    if (!list) byGroup.set(p.group, (list = []));
    list.push(p.ciphertexts as EncodedCiphertext[]);
  }
  const aggregates: GroupAggregate[] = [];
  let suppressed = 0;
  for (const [group, rows] of byGroup) {
    if (!keep(group, rows.length)) {
      suppressed += 1;
      continue;
    }
    const sums = slots.map((slot) => sum(rows.map((cts) => storedCiphertext(cts[slotIndex(slot)]!))));
    const encoded = encodeCiphertexts(sums);
    const ciphertexts: Partial<Record<FeatureSlot, EncodedCiphertext>> = {};
    slots.forEach((slot, i) => (ciphertexts[slot] = encoded[i]!));
    aggregates.push({ group, payments: rows.length, ciphertexts });
  }
  return { aggregates, suppressed };
}

/**
 * Streaming form of aggregateGroups: payments are added one at a time (in batches read from the
 * database) into one running sum per group and slot, so memory is O(groups x slots), not
 * O(payments). Which groups are kept is decided before the first payment is added, from the
 * exact per-group counts (`cohort`), so minimum-cohort suppression does not depend on the sums.
 */
export class GroupAccumulator {
  private readonly sums = new Map<string, { payments: number; c1: InstanceType<typeof Point>[]; c2: InstanceType<typeof Point>[] }>();
  /** Payments seen per counted group (kept or not), to check the stream matched the count. */
  private readonly seen = new Map<string, number>();
  readonly suppressed: number;

  constructor(
    private readonly slots: readonly FeatureSlot[],
    private readonly cohort: ReadonlyMap<string, number>,
    minCohort: number,
  ) {
    let suppressed = 0;
    for (const [group, n] of cohort) {
      if (n >= minCohort) this.sums.set(group, { payments: 0, c1: slots.map(() => Point.ZERO), c2: slots.map(() => Point.ZERO) });
      else suppressed += 1;
    }
    this.suppressed = suppressed;
  }

  /** Adds one payment; `ciphertexts[i]` is its ciphertext of `slots[i]`. */
  add(group: string, ciphertexts: readonly EncodedCiphertext[]): void {
    if (!this.cohort.has(group)) throw new Error(`payment of group ${group} outside the counted cohort`);
    this.seen.set(group, (this.seen.get(group) ?? 0) + 1);
    const acc = this.sums.get(group);
    if (!acc) return; // suppressed: never summed
    acc.payments += 1;
    for (let i = 0; i < this.slots.length; i++) {
      const ct = storedCiphertext(ciphertexts[i]!);
      acc.c1[i] = acc.c1[i]!.add(ct.c1);
      acc.c2[i] = acc.c2[i]!.add(ct.c2);
    }
  }

  /** The kept groups' encoded sums; throws when the stream did not match the counted cohort. */
  finish(): { aggregates: GroupAggregate[]; suppressed: number; payments: number } {
    let payments = 0;
    for (const [group, n] of this.cohort) {
      if ((this.seen.get(group) ?? 0) !== n) throw new Error(`group ${group}: counted ${n} payments, streamed ${this.seen.get(group) ?? 0}`);
      payments += n;
    }
    const aggregates: GroupAggregate[] = [];
    for (const [group, acc] of this.sums) {
      const encoded = encodeCiphertexts(this.slots.map((_, i) => ({ c1: acc.c1[i]!, c2: acc.c2[i]! })));
      const ciphertexts: Partial<Record<FeatureSlot, EncodedCiphertext>> = {};
      this.slots.forEach((slot, i) => (ciphertexts[slot] = encoded[i]!));
      aggregates.push({ group, payments: acc.payments, ciphertexts });
    }
    return { aggregates, suppressed: this.suppressed, payments };
  }
}
