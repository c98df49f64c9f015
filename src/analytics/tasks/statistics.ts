/**
 * What a computation task computes, independent of storage and transport: the canonical form of a
 * task definition (the object regulators sign), which slots it aggregates, how the released
 * statistic follows from the decrypted per-group slot sums, and each kind's sensitivity for
 * differential privacy.
 *
 *   sum           the sum of one slot per group (amount: total value; a bucket or crossBorder: a count)
 *   count         the number of payments per group: public metadata, no decryption needed
 *   histogram     per group, the number of payments in each amount bucket (the bucket slots)
 *   linear-score  per group, sum over slots of weight(slot) * slot sum, public integer weights
 *   structuring   per payer, the payments in the bucket just under the reporting threshold; the
 *                 payers with more than `threshold` of them are flagged, with their counts and totals
 *
 * Plain module: no framework or database imports.
 */
import { BUCKET_LOWER_BOUNDS, FEATURE_SLOTS, JUST_UNDER_THRESHOLD_BUCKET, MAX_AMOUNT, type FeatureSlot } from '../features.js';
import { discreteLaplaceNoise } from './differential-privacy.js';

export const TASK_KINDS = ['sum', 'count', 'histogram', 'linear-score', 'structuring'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];
export const GROUP_BY = ['none', 'payer'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export const BUCKET_SLOTS = BUCKET_LOWER_BOUNDS.map((_, i) => `bucket${i}`) as FeatureSlot[];
export const STRUCTURING_SLOT = `bucket${JUST_UNDER_THRESHOLD_BUCKET}` as FeatureSlot;
/** Largest absolute weight of a linear score (keeps scores far inside exact integer range). */
export const MAX_WEIGHT = 1_000_000;
/** The group key of a task that is not grouped. */
export const NO_GROUP = '*';

/** The signed, stored form of a definition. Optional members are absent, never null. */
export interface TaskDefinition {
  kind: TaskKind;
  keySetId: string;
  window: { from: string; to: string };
  /** The cohort is the payments recorded up to this instant (set by the service at definition). */
  recordedUpTo?: string;
  groupBy: GroupBy;
  minCohort: number;
  slot?: FeatureSlot;
  weights?: Partial<Record<FeatureSlot, number>>;
  threshold?: number;
  epsilon?: number;
}

/** What a regulator asks for (before the service fills in key set and minimum cohort). */
export interface TaskRequest {
  kind: TaskKind;
  window: { from: string; to: string };
  groupBy?: GroupBy;
  slot?: FeatureSlot;
  weights?: Record<string, number>;
  threshold?: number;
  epsilon?: number;
}

/** A definition that cannot be computed as asked; the message names the member. */
export class TaskDefinitionError extends Error {
  override readonly name = 'TaskDefinitionError';
}

const fail = (message: string): never => {
  throw new TaskDefinitionError(message);
};

/**
 * Checks a request against its kind and returns the canonical definition: ISO timestamps with
 * milliseconds, weights in slot order without zero entries, members the kind does not use refused.
 */
export function canonicalDefinition(req: TaskRequest, keySetId: string, minCohort: number): TaskDefinition {
  const from = new Date(req.window.from);
  const to = new Date(req.window.to);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) fail('window.from and window.to must be ISO 8601 timestamps');
  if (from.getTime() >= to.getTime()) fail('window.from must be before window.to');
  const kind = req.kind;
  const groupBy: GroupBy = req.groupBy ?? (kind === 'structuring' ? 'payer' : 'none');
  const def: TaskDefinition = { kind, keySetId, window: { from: from.toISOString(), to: to.toISOString() }, groupBy, minCohort };
  const unused = (member: 'slot' | 'weights' | 'threshold') => {
    if (req[member] !== undefined) fail(`${member} does not apply to a ${kind} task`);
  };
  switch (kind) {
    case 'sum':
      if (!req.slot) fail('a sum task needs slot (one of ' + FEATURE_SLOTS.join(', ') + ')');
      def.slot = req.slot;
      unused('weights');
      unused('threshold');
      break;
    case 'count':
    case 'histogram':
      unused('slot');
      unused('weights');
      unused('threshold');
      break;
    case 'linear-score': {
      unused('slot');
      unused('threshold');
      const w = req.weights ?? fail('a linear-score task needs weights (integer per slot)');
      const weights: Partial<Record<FeatureSlot, number>> = {};
      for (const [slot, value] of Object.entries(w)) {
        if (!(FEATURE_SLOTS as readonly string[]).includes(slot)) fail(`weights.${slot}: not a feature slot (${FEATURE_SLOTS.join(', ')})`);
        if (!Number.isSafeInteger(value) || Math.abs(value) > MAX_WEIGHT) fail(`weights.${slot} must be an integer in [-${MAX_WEIGHT}, ${MAX_WEIGHT}]`);
      }
      for (const slot of FEATURE_SLOTS) if (w[slot] !== undefined && w[slot] !== 0) weights[slot] = w[slot];
      if (Object.keys(weights).length === 0) fail('weights must have at least one non-zero entry');
      def.weights = weights;
      break;
    }
    case 'structuring':
      unused('slot');
      unused('weights');
      if (groupBy !== 'payer') fail('a structuring task is grouped by payer');
      if (req.threshold === undefined || !Number.isSafeInteger(req.threshold) || req.threshold < 0) fail('a structuring task needs threshold, a non-negative integer');
      def.threshold = req.threshold;
      // Flags name accounts: noise would make them arbitrary, and a flag is not a statistic.
      if (req.epsilon !== undefined) fail('epsilon does not apply to a structuring task (it names accounts, it does not publish a statistic)');
      break;
    default:
      fail(`kind must be one of ${TASK_KINDS.join(', ')}`);
  }
  if (req.epsilon !== undefined) {
    if (typeof req.epsilon !== 'number' || !(req.epsilon > 0) || req.epsilon > 100) fail('epsilon must be a number in (0, 100]');
    def.epsilon = req.epsilon;
  }
  return def;
}

/** The slots a task decrypts, per group. */
export function slotsOf(def: TaskDefinition): FeatureSlot[] {
  switch (def.kind) {
    case 'sum':
      return [def.slot!];
    case 'count':
      return [];
    case 'histogram':
      return [...BUCKET_SLOTS];
    case 'linear-score':
      return FEATURE_SLOTS.filter((s) => def.weights![s] !== undefined);
    case 'structuring':
      return [STRUCTURING_SLOT, 'amount'];
  }
}

/** The largest value one payment contributes to a slot. */
export const slotMax = (slot: FeatureSlot): bigint => (slot === 'amount' ? MAX_AMOUNT : 1n);

/**
 * How much one released number can change when one payment is added or removed (L1 over the
 * numbers of one group; groups are disjoint, so the same epsilon covers all groups).
 *   sum: the slot's bound (MAX_AMOUNT for amount, 1 otherwise); count: 1;
 *   histogram: 1 (a payment sits in exactly one bucket); linear-score: sum |w_s| * bound_s.
 */
export function sensitivity(def: TaskDefinition): bigint {
  switch (def.kind) {
    case 'sum':
      return slotMax(def.slot!);
    case 'count':
    case 'histogram':
    case 'structuring':
      return 1n;
    case 'linear-score':
      return Object.entries(def.weights!).reduce((acc, [slot, w]) => acc + BigInt(Math.abs(w!)) * slotMax(slot as FeatureSlot), 0n);
  }
}

/** One group's decrypted slot sums. */
export interface GroupTotals {
  group: string;
  payments: number;
  sums: Partial<Record<FeatureSlot, bigint>>;
}

export interface ReleasedResult {
  kind: TaskKind;
  groupBy: GroupBy;
  /** Groups below the minimum cohort, not aggregated and not released. */
  suppressedGroups: number;
  noise: { mechanism: 'discrete-laplace'; epsilon: number; sensitivity: string } | null;
  groups?: Record<string, unknown>[];
  flagged?: { payer: string; payments: number; justUnderThreshold: string; total: string }[];
  threshold?: number;
}

/**
 * The released statistic from the per-group totals. With epsilon, every released number gets
 * independent discrete Laplace noise and the exact payment counts are withheld.
 */
export function computeResult(def: TaskDefinition, groups: readonly GroupTotals[], suppressedGroups: number): ReleasedResult {
  const dp = def.epsilon !== undefined;
  const sens = sensitivity(def);
  const noisy = (v: bigint): string => (dp ? v + discreteLaplaceNoise(sens, def.epsilon!) : v).toString();
  const base: ReleasedResult = {
    kind: def.kind,
    groupBy: def.groupBy,
    suppressedGroups,
    noise: dp ? { mechanism: 'discrete-laplace', epsilon: def.epsilon!, sensitivity: sens.toString() } : null,
  };
  const label = (g: GroupTotals) => ({ group: def.groupBy === 'none' ? null : g.group, ...(dp ? {} : { payments: g.payments }) });
  const sorted = [...groups].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  switch (def.kind) {
    case 'sum':
      return { ...base, groups: sorted.map((g) => ({ ...label(g), slot: def.slot, value: noisy(g.sums[def.slot!]!) })) };
    case 'count':
      return { ...base, groups: sorted.map((g) => ({ group: def.groupBy === 'none' ? null : g.group, value: noisy(BigInt(g.payments)) })) };
    case 'histogram':
      return { ...base, groups: sorted.map((g) => ({ ...label(g), buckets: BUCKET_SLOTS.map((s) => noisy(g.sums[s]!)) })) };
    case 'linear-score':
      return {
        ...base,
        groups: sorted.map((g) => ({
          ...label(g),
          score: noisy(Object.entries(def.weights!).reduce((acc, [slot, w]) => acc + BigInt(w!) * g.sums[slot as FeatureSlot]!, 0n)),
        })),
      };
    case 'structuring':
      return {
        ...base,
        threshold: def.threshold!,
        flagged: sorted
          .filter((g) => g.sums[STRUCTURING_SLOT]! > BigInt(def.threshold!))
          .map((g) => ({ payer: g.group, payments: g.payments, justUnderThreshold: g.sums[STRUCTURING_SLOT]!.toString(), total: g.sums.amount!.toString() })),
      };
  }
}
