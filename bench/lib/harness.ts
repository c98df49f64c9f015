/** What every benchmark shares: where the project is, the machine it ran on, writing results, free ports. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fig, round } from './stats.js';

/** The project root (holds package.json and bench/), from bench/ or dist/bench/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bench'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** Machine and revision facts recorded with every result file. */
export function machineInfo(root: string) {
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: fig(os.totalmem() / 2 ** 30, 'GiB'),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    commit,
  };
}

/** Writes JSON atomically (a reader never sees half a file). */
export function writeResults(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The first loopback port at or after `from` that nobody listens on. */
export async function freePort(from: number, span = 200): Promise<number> {
  for (let port = from; port < from + span; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${from + span - 1}`);
}

/** The 1, 5 and 15 minute load averages now (the machine is shared: figures depend on it). */
export function loadAverages() {
  const [m1, m5, m15] = os.loadavg();
  return { '1m': round(m1!), '5m': round(m5!), '15m': round(m15!), unit: 'runnable processes (machine shared with other work)' };
}

/** Reads `--name value` options from argv: get() the raw value, int() a positive integer with a fallback. */
export function optionReader(argv: readonly string[]) {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const int = (name: string, fallback: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  return { get, int };
}
