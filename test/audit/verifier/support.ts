/**
 * Shared fixtures of the verifier tests: the verifier's import graph, its compiled form in dist/
 * (built here when missing or older than its sources), and running it as a child process, the
 * way a user runs it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

export const ROOT = process.cwd();
export const CLI_SOURCE = 'src/audit/verifier/cli.ts';
export const CLI = path.join(ROOT, 'dist', 'src', 'audit', 'verifier', 'cli.js');

export interface ImportGraph {
  /** Project files reached from the entry, relative to the project root (the entry included). */
  files: string[];
  /** Packages imported by those files ("ethers", "@noble/hashes"), without node built-ins. */
  packages: string[];
  /** Node built-ins imported ("node:fs"). */
  builtins: string[];
}

/** Follows every static and dynamic import, and every re-export, from `entry` through the project's own files. */
export function importGraph(entry: string): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set<string>();
  const pending = [path.resolve(ROOT, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    const relative = path.relative(ROOT, file);
    if (files.has(relative)) continue;
    files.add(relative);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts'));
        if (!existsSync(target)) throw new Error(`${relative} imports ${specifier}, which does not resolve to a TypeScript file`);
        pending.push(target);
      } else if (specifier.startsWith('node:') || builtinModules.includes(specifier)) {
        builtins.add(specifier);
      } else {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort(), builtins: [...builtins].sort() };
}

/**
 * Makes sure dist/ holds the verifier compiled from the current sources. `./run test` builds the
 * whole project before testing; when the compiled verifier is missing or older than any file of
 * its import graph, this compiles just that graph with the project's build settings
 * (tsconfig.build.json), so other parts of the tree cannot stand in the way.
 */
export async function ensureVerifierBuilt(): Promise<void> {
  const { files } = importGraph(CLI_SOURCE);
  const stale = files.some((file) => {
    const compiled = path.join(ROOT, 'dist', file.replace(/\.ts$/, '.js'));
    return !existsSync(compiled) || statSync(compiled).mtimeMs < statSync(path.join(ROOT, file)).mtimeMs;
  });
  if (!stale) return;
  const config = path.join(process.env.TEST_SCRATCH_DIR ?? ROOT, 'tsconfig.verifier.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.build.json'),
      compilerOptions: { typeRoots: [path.join(ROOT, 'node_modules', '@types')] },
      files: [path.join(ROOT, CLI_SOURCE)],
      include: [],
    }),
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', config], { cwd: ROOT });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`compiling the verifier failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the compiled verifier in a child process with a bare environment (no database, HSM or
 * ledger settings: it must not need them). Asynchronous on purpose: the service under test answers
 * from this same process.
 */
export function runVerifier(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The report's lines that start with `prefix` ("ok", "FAIL", "note"). */
export function linesOf(run: CliRun, prefix: string): string[] {
  return run.stdout.split('\n').filter((line) => line.startsWith(prefix));
}
