/**
 * The regulators' key set for the analytics benchmark: a dealerless 3-of-5 DKG per feature slot,
 * run in this process with the crypto library's own round functions (deal, qualifiedDealers,
 * finalizeKeyShare: what each regulator's client runs), then stored as the active key set with
 * the same rows the key ceremony writes when it completes (analytics_key_set, analytics_slot_key,
 * migration 1700000000500). The secret shares stay in memory: the benchmark plays the regulators
 * for the threshold decryption.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  deal,
  encodeThresholdPublicKey,
  finalizeKeyShare,
  qualifiedDealers,
  type ThresholdKeyShare,
  type ThresholdPublicKey,
} from '../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../../src/analytics/features.js';
import { slotCeremonyId } from '../../src/analytics/regulators/ceremony-ids.js';
import { now } from './stats.js';

export interface BenchKeySet {
  id: string;
  threshold: number;
  regulators: { name: string; index: number }[];
  publicKeys: Record<FeatureSlot, ThresholdPublicKey>;
  /** shares[slot][index - 1]: regulator `index`'s share of the slot key (benchmark secret, memory only). */
  shares: Record<FeatureSlot, ThresholdKeyShare[]>;
  /** Wall time of the six DKGs (all dealers and all recipients in this process), ms. */
  dkgMs: number;
}

/** Runs the six slot DKGs, t-of-n among `n` regulators. */
export function dealKeySet(threshold: number, n: number): BenchKeySet {
  const id = randomUUID();
  const regulators = Array.from({ length: n }, (_, i) => ({ name: `bench-regulator-${i + 1}`, index: i + 1 }));
  const publicKeys = {} as BenchKeySet['publicKeys'];
  const shares = {} as BenchKeySet['shares'];
  const t0 = now();
  for (const slot of FEATURE_SLOTS) {
    const params = { ceremony: slotCeremonyId(id, slot), threshold, participants: n };
    const rounds = regulators.map((r) => deal(params, r.index));
    const commitments = rounds.map((d) => d.commitment);
    const dealt = rounds.flatMap((d) => d.shares);
    const qualified = qualifiedDealers(params, commitments);
    shares[slot] = regulators.map((r) => finalizeKeyShare(params, r.index, commitments, dealt.filter((s) => s.recipient === r.index), qualified));
    publicKeys[slot] = shares[slot][0]!.publicKey;
  }
  return { id, threshold, regulators, publicKeys, shares, dkgMs: now() - t0 };
}

/** Stores the key set as the active one (one transaction), as a completed ceremony leaves it. */
export async function insertActiveKeySet(ds: DataSource, ks: BenchKeySet): Promise<void> {
  await ds.transaction(async (m) => {
    await m.query(
      `INSERT INTO analytics_key_set (id, threshold, participants, status, created_by, activated_at) VALUES ($1, $2, $3, 'active', 'benchmark', now())`,
      [ks.id, ks.threshold, JSON.stringify(ks.regulators.map((r) => ({ regulator: r.name, index: r.index })))],
    );
    for (const slot of FEATURE_SLOTS) {
      await m.query(`INSERT INTO analytics_slot_key (key_set_id, slot, public_key) VALUES ($1, $2, $3)`, [ks.id, slot, JSON.stringify(encodeThresholdPublicKey(ks.publicKeys[slot]))]);
    }
  });
}
