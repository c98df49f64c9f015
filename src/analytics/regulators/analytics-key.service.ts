import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { decodeThresholdPublicKey, type ThresholdPublicKey } from '../crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';

export type KeySetStatus = 'dealing' | 'verifying' | 'active' | 'failed' | 'retired';

export interface KeySetParticipant {
  regulator: string;
  index: number;
}

/** A key set whose ceremony completed: one independent threshold public key per feature slot. */
export interface CompletedKeySet {
  id: string;
  status: KeySetStatus;
  threshold: number;
  participants: KeySetParticipant[];
  slots: Record<FeatureSlot, ThresholdPublicKey>;
}

export { slotCeremonyId } from './ceremony-ids.js';

export const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/**
 * Read side of the regulators' key sets, for the services that encrypt under the slot keys and
 * verify partial decryptions (payments, computation tasks).
 */
@Injectable()
export class AnalyticsKeyService {
  constructor(private readonly ds: DataSource) {}

  /** The active key set with its slot keys (decoded with curve and subgroup checks), or null. */
  async activeKeySet(manager?: EntityManager): Promise<CompletedKeySet | null> {
    const [row] = await (manager ?? this.ds.manager).query(`SELECT id FROM analytics_key_set WHERE status = 'active'`);
    return row ? this.completedKeySet(String(row.id), manager) : null;
  }

  /**
   * A key set that completed (active, or retired since: tasks defined under it still decrypt
   * with it), or null when it does not exist or never completed.
   */
  async completedKeySet(id: string, manager?: EntityManager): Promise<CompletedKeySet | null> {
    const m = manager ?? this.ds.manager;
    const [ks] = await m.query(`SELECT id, threshold, participants, status FROM analytics_key_set WHERE id = $1 AND status IN ('active', 'retired')`, [id]);
    if (!ks) return null;
    const rows: { slot: FeatureSlot; public_key: unknown }[] = await m.query(`SELECT slot, public_key FROM analytics_slot_key WHERE key_set_id = $1`, [id]);
    const slots = {} as Record<FeatureSlot, ThresholdPublicKey>;
    for (const r of rows) slots[r.slot] = decodeThresholdPublicKey(parseJson(r.public_key));
    for (const s of FEATURE_SLOTS) if (!slots[s]) throw new Error(`key set ${id} has no key for slot ${s}`);
    return {
      id: String(ks.id),
      status: ks.status,
      threshold: Number(ks.threshold),
      participants: parseJson<KeySetParticipant[]>(ks.participants),
      slots,
    };
  }
}
