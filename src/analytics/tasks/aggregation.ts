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
