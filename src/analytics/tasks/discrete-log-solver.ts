/**
 * Turns a decrypted total m*G back into m, with baby-step giant-step tables shared by the whole
 * process (building one is the expensive part; a lookup is cheap).
 *
 * Two tables, both built on first use and then kept:
 *   - a small one (T = 2^16, ~1 s to build, 0.5 MB) that finds any total below 2^32 in at most
 *     ~0.4 s, and values found early in the walk (small counts and sums) in milliseconds;
 *   - a large one (T = 2^22, ~35 s to build and ~130 MB, once per process) for totals up to
 *     2^40, tried only when the small one says the value is beyond 2^32.
 * Totals beyond 2^40 are refused (DiscreteLogOutOfRangeError): a task over more than 256
 * maximal amounts can reach that, and is then rejected rather than left undecrypted.
 *
 * solveTotal() builds both on the calling thread (it blocks the event loop meanwhile: kept for
 * scripts and benchmarks). The service uses solveTotalAsync(), which gets the large table from
 * loadOrBuildDiscreteLogTable(): built in a worker thread once, cached on disk under the
 * directory given to configureDiscreteLogCache() (DATA_DIR/analytics/discrete-log), and loaded
 * from there by later processes in about a second.
 *
 * Plain module: no framework or database imports.
 */
import { DiscreteLogTable, DiscreteLogOutOfRangeError, type GroupPoint } from '../crypto/index.js';
import { loadOrBuildDiscreteLogTable, type LoadedDiscreteLogTable } from './discrete-log-cache.js';

export const TOTAL_BITS = 40;
export const MAX_TOTAL = (1n << BigInt(TOTAL_BITS)) - 1n;
const SMALL_BABY_STEPS = 2 ** 16;
const SMALL_MAX = (1n << 32n) - 1n;
export const LARGE_BABY_STEPS = 2 ** 22;

let small: DiscreteLogTable | undefined;
let large: DiscreteLogTable | undefined;

/** Build times of the tables this process built, in milliseconds (for the docs and benchmarks). */
export const discreteLogBuildTimes: { small?: number; large?: number; largeLoaded?: { source: 'cache' | 'built'; ms: number } } = {};

let cacheDir: string | undefined;
let largeLoading: Promise<LoadedDiscreteLogTable> | undefined;

/** Where the large table's snapshot is cached (the service passes DATA_DIR/analytics/discrete-log). */
export function configureDiscreteLogCache(dir: string | undefined): void {
  cacheDir = dir;
}

/** The large table, loaded from the cache or built in a worker thread, once per process. */
export function largeTableAsync(): Promise<DiscreteLogTable> {
  if (large) return Promise.resolve(large);
  largeLoading ??= loadOrBuildDiscreteLogTable(LARGE_BABY_STEPS, cacheDir).then(
    (loaded) => {
      large ??= loaded.table;
      discreteLogBuildTimes.largeLoaded = { source: loaded.source, ms: loaded.ms };
      return loaded;
    },
    (e: unknown) => {
      largeLoading = undefined;
      throw e;
    },
  );
  return largeLoading.then(() => large!);
}

function smallTable(): DiscreteLogTable {
  if (!small) {
    const t0 = performance.now();
    small = DiscreteLogTable.build(SMALL_BABY_STEPS);
    discreteLogBuildTimes.small = performance.now() - t0;
  }
  return small;
}

function largeTable(): DiscreteLogTable {
  if (!large) {
    const t0 = performance.now();
    large = DiscreteLogTable.build(LARGE_BABY_STEPS);
    discreteLogBuildTimes.large = performance.now() - t0;
  }
  return large;
}

/**
 * m with m*G = point and 0 <= m <= bound (bound <= 2^40 - 1). Throws DiscreteLogOutOfRangeError
 * when there is none.
 */
export function solveTotal(point: GroupPoint, bound: bigint = MAX_TOTAL): bigint {
  const max = bound > MAX_TOTAL ? MAX_TOTAL : bound;
  try {
    return smallTable().solve(point, max < SMALL_MAX ? max : SMALL_MAX);
  } catch (e) {
    if (!(e instanceof DiscreteLogOutOfRangeError) || max <= SMALL_MAX) throw e;
  }
  return largeTable().solve(point, max);
}

/**
 * solveTotal without blocking the event loop on the large table: totals below 2^32 use the small
 * table (built here on first use, ~1 s); beyond it the large table comes from largeTableAsync().
 */
export async function solveTotalAsync(point: GroupPoint, bound: bigint = MAX_TOTAL): Promise<bigint> {
  const max = bound > MAX_TOTAL ? MAX_TOTAL : bound;
  try {
    return smallTable().solve(point, max < SMALL_MAX ? max : SMALL_MAX);
  } catch (e) {
    if (!(e instanceof DiscreteLogOutOfRangeError) || max <= SMALL_MAX) throw e;
  }
  return (await largeTableAsync()).solve(point, max);
}
