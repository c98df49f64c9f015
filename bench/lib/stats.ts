/**
 * Small statistics and timing helpers for the benchmarks (no dependencies).
 */
import { performance } from 'node:perf_hooks';

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export const now = (): number => performance.now();

/** Linear-interpolated percentile (q in [0, 1]) of an unsorted sample. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 0.5);

/** Rounds to a sensible number of significant digits for a JSON report. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const factor = 10 ** Math.max(0, digits - 1 - magnitude);
  return Math.round(value * factor) / factor;
}

/** A latency sample summarised with its unit: count, median, p95, p99, min, max, mean. */
export interface LatencySummary {
  unit: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[], unit: string): LatencySummary {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  return {
    unit,
    n: values.length,
    p50: round(percentile(values, 0.5)),
    p95: round(percentile(values, 0.95)),
    p99: round(percentile(values, 0.99)),
    min: round(values.length ? Math.min(...values) : NaN),
    max: round(values.length ? Math.max(...values) : NaN),
    mean: round(mean),
  };
}

/** A figure with its unit, the form every number in the results file takes. */
export interface Figure {
  value: number;
  unit: string;
}

export const fig = (value: number, unit: string): Figure => ({ value: round(value), unit });

/** Deterministic PRNG (mulberry32) so that runs sample the same leaves. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One line of progress on stdout, prefixed with the elapsed time of the run. */
const started = now();
export function log(message: string): void {
  const s = ((now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${message}\n`);
}
