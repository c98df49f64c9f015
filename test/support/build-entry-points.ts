/**
 * Compiles entry points (e.g. src/worker.ts) and what they import into a temporary folder, so
 * child processes run the sources in the tree rather than a possibly stale dist/. The folder
 * mirrors the project root where runtime files are looked up from a module's location: the
 * committed circuit artifacts and the prover worker script (plain .mjs, not compiled) are linked.
 * Children run with the project root as their working directory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = process.cwd();
const LINKED = ['node_modules', 'circuits', 'artifacts', 'src/zk/proving/prover-worker.mjs'];

export async function buildEntryPoints(entries: string[], prefix = 'entry-build-'): Promise<{ dir: string; js(entry: string): string; remove(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [
    tsc, '--ignoreConfig', '--outDir', dir, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2023', '--experimentalDecorators', '--emitDecoratorMetadata', '--skipLibCheck', '--esModuleInterop',
    '--types', 'node', ...entries,
  ], { cwd: ROOT });
  for (const rel of LINKED) {
    const target = path.join(dir, rel);
    if (!fs.existsSync(path.join(ROOT, rel)) || fs.existsSync(target)) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(path.join(ROOT, rel), target);
  }
  return {
    dir,
    js: (entry) => path.join(dir, entry.replace(/\.ts$/, '.js')),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
