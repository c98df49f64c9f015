/**
 * The plain parts of computation tasks: canonical definitions (what regulators sign), the slots
 * each kind decrypts and its sensitivity, the released statistic from decrypted totals, and the
 * discrete Laplace noise (its empirical distribution against the two-sided geometric law).
 */
import { discreteLaplaceNoise } from '../../../src/analytics/tasks/differential-privacy.js';
import { MAX_AMOUNT } from '../../../src/analytics/features.js';
import { TaskDefinitionError, canonicalDefinition, computeResult, sensitivity, slotsOf } from '../../../src/analytics/tasks/statistics.js';

const W = { from: '2026-01-05T00:00:00Z', to: '2026-01-06T00:00:00+00:00' };
const KS = '00000000-0000-4000-8000-000000000001';

describe('task definitions', () => {
  it('canonicalises windows, weights and defaults', () => {
    expect(canonicalDefinition({ kind: 'linear-score', window: W, weights: { crossBorder: 3, amount: 1, bucket0: 0 } }, KS, 5)).toEqual({
      kind: 'linear-score',
      keySetId: KS,
      window: { from: '2026-01-05T00:00:00.000Z', to: '2026-01-06T00:00:00.000Z' },
      groupBy: 'none',
      minCohort: 5,
      weights: { amount: 1, crossBorder: 3 },
    });
    expect(canonicalDefinition({ kind: 'structuring', window: W, threshold: 0 }, KS, 5)).toMatchObject({ groupBy: 'payer', threshold: 0 });
  });

  it('refuses members that do not fit the kind', () => {
    const bad = [
      { kind: 'count', window: W, slot: 'amount' },
      { kind: 'histogram', window: W, threshold: 2 },
      { kind: 'sum', window: W, slot: 'amount', weights: { amount: 1 } },
      { kind: 'linear-score', window: W, weights: {} },
      { kind: 'linear-score', window: W, weights: { amount: 2 ** 40 } },
      { kind: 'structuring', window: W },
      { kind: 'structuring', window: W, threshold: -1 },
      { kind: 'sum', window: W, slot: 'amount', epsilon: 0 },
      { kind: 'sum', window: { from: 'yesterday', to: W.to }, slot: 'amount' },
    ];
    for (const req of bad) expect(() => canonicalDefinition(req as never, KS, 5)).toThrow(TaskDefinitionError);
  });

  it('decrypts only the slots a kind needs, with documented sensitivities', () => {
    const def = (req: object) => canonicalDefinition({ window: W, ...req } as never, KS, 5);
    expect(slotsOf(def({ kind: 'count' }))).toEqual([]);
    expect(slotsOf(def({ kind: 'structuring', threshold: 1 }))).toEqual(['bucket2', 'amount']);
    expect(slotsOf(def({ kind: 'histogram' }))).toEqual(['bucket0', 'bucket1', 'bucket2', 'bucket3']);
    expect(sensitivity(def({ kind: 'sum', slot: 'amount' }))).toBe(MAX_AMOUNT);
    expect(sensitivity(def({ kind: 'sum', slot: 'bucket1' }))).toBe(1n);
    expect(sensitivity(def({ kind: 'linear-score', weights: { amount: -2, crossBorder: 7 } }))).toBe(2n * MAX_AMOUNT + 7n);
  });

  it('computes results from decrypted totals', () => {
    const def = canonicalDefinition({ kind: 'structuring', window: W, threshold: 2 }, KS, 5);
    const res = computeResult(
      def,
      [
        { group: 'acct_b', payments: 5, sums: { bucket2: 3n, amount: 40000n } },
        { group: 'acct_a', payments: 9, sums: { bucket2: 2n, amount: 1n } },
      ],
      4,
    );
    expect(res).toEqual({ kind: 'structuring', groupBy: 'payer', suppressedGroups: 4, noise: null, threshold: 2, flagged: [{ payer: 'acct_b', payments: 5, justUnderThreshold: '3', total: '40000' }] });
  });
});

describe('discrete Laplace noise', () => {
  it('is integer, symmetric, with the two-sided geometric variance', () => {
    const epsilon = 0.5;
    const n = 20_000;
    const xs = Array.from({ length: n }, () => Number(discreteLaplaceNoise(1n, epsilon)));
    const alpha = Math.exp(-epsilon);
    const variance = (2 * alpha) / (1 - alpha) ** 2;
    const mean = xs.reduce((a, x) => a + x, 0) / n;
    const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(variance / n));
    expect(Math.abs(v / variance - 1)).toBeLessThan(0.1);
    // P(0) = (1 - alpha) / (1 + alpha).
    const p0 = xs.filter((x) => x === 0).length / n;
    expect(Math.abs(p0 - (1 - alpha) / (1 + alpha))).toBeLessThan(0.02);
    expect(() => discreteLaplaceNoise(1n, 0)).toThrow(RangeError);
  });
});
