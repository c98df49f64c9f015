/**
 * The large discrete-log table, built off the event loop and cached on disk.
 *
 * Building T = 2^22 baby steps takes tens of seconds of pure computation; it runs in a worker
 * thread, and its snapshot (the two typed arrays, 128 MiB) is written under
 * <DATA_DIR>/analytics/discrete-log/ so the next process loads it in about a second.
 *
 * Integrity: next to the table file lies its SHA-256; a file whose hash differs (truncated,
 * corrupted, replaced without its hash) is discarded and rebuilt. After loading, a few random
 * entries j are checked by solving j*G. A table cannot make a solve return a wrong value anyway
 * (every hit is re-checked against the point, see DiscreteLogTable); the checks stop a damaged
 * file from silently turning valid totals into "out of range".
 *
 * Plain module: no framework or database imports.
 */
import { createHash, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mul } from '../crypto/group.js';
import { DiscreteLogTable, G } from '../crypto/index.js';

export interface LoadedDiscreteLogTable {
  table: DiscreteLogTable;
  /** 'cache': read from disk; 'built': computed in a worker thread (and then cached). */
  source: 'cache' | 'built';
  /** Wall time of the load or build, in milliseconds. */
  ms: number;
  file: string;
}

/** Entries checked by solving j*G after a table is read from disk. */
const SPOT_CHECKS = 16;

export const discreteLogCacheFile = (dir: string, babySteps: number) => path.join(dir, `bsgs-${babySteps}.bin`);

/** Builds the table in a worker thread (the calling event loop stays free). */
export async function buildDiscreteLogTableInWorker(babySteps: number): Promise<DiscreteLogTable> {
  const here = fileURLToPath(import.meta.url);
  // Compiled: the .js worker next to this module. From TypeScript sources (tests, tsx): the .ts
  // worker through tsx's loader.
  const compiled = here.endsWith('.js');
  const workerFile = path.join(path.dirname(here), `discrete-log-table.worker.${compiled ? 'js' : 'ts'}`);
  const worker = new Worker(workerFile, { workerData: { babySteps }, execArgv: compiled ? [] : ['--import', 'tsx'] });
  try {
    const snap = await new Promise<{ babySteps: number; keys: Uint32Array; values: Int32Array }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the discrete-log table worker exited with code ${code}`)));
    });
    return DiscreteLogTable.fromSnapshot(snap);
  } finally {
    await worker.terminate();
  }
}

/** Spot-checks a table: random j in [0, T] must solve to themselves. */
export function spotCheckDiscreteLogTable(table: DiscreteLogTable, checks = SPOT_CHECKS): boolean {
  for (let n = 0; n < checks; n++) {
    const j = BigInt(randomInt(0, table.babySteps + 1));
    try {
      if (table.solve(mul(G, j), j) !== j) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function readCached(file: string, babySteps: number): Promise<DiscreteLogTable | undefined> {
  if (!existsSync(file) || !existsSync(`${file}.sha256`)) return undefined;
  const [bytes, expected] = await Promise.all([readFile(file), readFile(`${file}.sha256`, 'utf8')]);
  if (createHash('sha256').update(bytes).digest('hex') !== expected.trim()) return undefined;
  if (bytes.byteLength % 8 !== 0) return undefined;
  // Views on the file's bytes when aligned (a large readFile has its own buffer); a copy otherwise.
  const half = bytes.byteLength / 2;
  const aligned: Uint8Array = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const keys = new Uint32Array(aligned.buffer, aligned.byteOffset, half / 4);
  const values = new Int32Array(aligned.buffer, aligned.byteOffset + half, half / 4);
  let table: DiscreteLogTable;
  try {
    table = DiscreteLogTable.fromSnapshot({ babySteps, keys, values });
  } catch {
    return undefined;
  }
  return spotCheckDiscreteLogTable(table) ? table : undefined;
}

async function writeCached(file: string, table: DiscreteLogTable): Promise<void> {
  const snap = table.snapshot();
  const bytes = Buffer.concat([Buffer.from(snap.keys.buffer, snap.keys.byteOffset, snap.keys.byteLength), Buffer.from(snap.values.buffer, snap.values.byteOffset, snap.values.byteLength)]);
  const digest = createHash('sha256').update(bytes).digest('hex');
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename, the hash last: a reader never sees a hash for a half-written table.
  await rm(`${file}.sha256`, { force: true });
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
  await writeFile(`${file}.sha256.tmp`, `${digest}\n`);
  await rename(`${file}.sha256.tmp`, `${file}.sha256`);
}

/**
 * The table for `babySteps`, from `dir` when a valid cached copy is there, otherwise built in a
 * worker thread and cached (a failed write is not fatal: the table is still returned).
 */
export async function loadOrBuildDiscreteLogTable(babySteps: number, dir: string | undefined): Promise<LoadedDiscreteLogTable> {
  const t0 = performance.now();
  const file = dir ? discreteLogCacheFile(dir, babySteps) : '';
  if (dir) {
    const cached = await readCached(file, babySteps);
    if (cached) return { table: cached, source: 'cache', ms: performance.now() - t0, file };
  }
  const table = await buildDiscreteLogTableInWorker(babySteps);
  if (dir) await writeCached(file, table).catch(() => undefined);
  return { table, source: 'built', ms: performance.now() - t0, file };
}
