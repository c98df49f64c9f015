/**
 * The discrete-log table cache: built in a worker thread (the event loop keeps ticking), written
 * with its SHA-256, read back by a later load instead of rebuilding; a corrupted or unhashed file
 * is discarded and rebuilt. Small tables (the service uses 2^22 entries; the mechanism is the same).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { G, encodePoint } from '../../../src/analytics/crypto/index.js';
import { mul } from '../../../src/analytics/crypto/group.js';
import { discreteLogCacheFile, loadOrBuildDiscreteLogTable, spotCheckDiscreteLogTable } from '../../../src/analytics/tasks/discrete-log-cache.js';

const T = 2 ** 14;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bsgs-cache-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('discrete-log table cache', () => {
  it('builds in a worker thread without blocking the event loop, then reloads from disk', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 5);
    const built = await loadOrBuildDiscreteLogTable(T, dir);
    clearInterval(timer);
    expect(built.source).toBe('built');
    expect(ticks).toBeGreaterThan(0);
    const file = discreteLogCacheFile(dir, T);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(`${file}.sha256`, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);

    const loaded = await loadOrBuildDiscreteLogTable(T, dir);
    expect(loaded.source).toBe('cache');
    expect(spotCheckDiscreteLogTable(loaded.table, 64)).toBe(true);
    // Beyond the baby steps, giant steps find larger values the same way.
    for (const m of [0n, 1n, BigInt(T), 123_456_789n]) expect(loaded.table.solve(mul(G, m), 200_000_000n)).toBe(m);
    expect(encodePoint(mul(G, 5n))).toEqual(encodePoint(G.multiply(5n)));
  });

  it('discards a corrupted file or one without its hash, and rebuilds', async () => {
    const file = discreteLogCacheFile(dir, T);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const afterCorruption = await loadOrBuildDiscreteLogTable(T, dir);
    expect(afterCorruption.source).toBe('built');
    expect((await loadOrBuildDiscreteLogTable(T, dir)).source).toBe('cache');

    fs.rmSync(`${file}.sha256`);
    expect((await loadOrBuildDiscreteLogTable(T, dir)).source).toBe('built');
    // A file whose hash matches but which is a table of another size does not load either.
    fs.copyFileSync(file, discreteLogCacheFile(dir, T * 2));
    fs.copyFileSync(`${file}.sha256`, `${discreteLogCacheFile(dir, T * 2)}.sha256`);
    expect((await loadOrBuildDiscreteLogTable(T * 2, dir)).source).toBe('built');
  });
});
