/**
 * Fixtures of the signer node tests: an out-of-tree build of the node's entry point, and signer
 * node processes each with its own SoftHSM token and PGlite folder under TEST_SCRATCH_DIR.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalToken } from '../../../src/hsm/local-token.js';
import { buildEntryPoints as buildSharedEntryPoints } from '../../support/build-entry-points.js';

export const ROOT = process.cwd();

/** Compiles entry points (and what they import) into a temporary folder. */
export function buildEntryPoints(entries: string[]) {
  return buildSharedEntryPoints(entries, 'custody-signer-build-');
}

export interface NodeHome {
  id: string;
  dataDir: string;
  env: Record<string, string>;
}

/** A node's own folders and token (created once; reused when the node restarts). */
export function nodeHome(id: string, coordinatorPublicKeyHex: string): NodeHome {
  const base = path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), `custody-signer-${process.pid}-${id}`);
  const hsmDir = path.join(base, 'hsm');
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(hsmDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const token = ensureLocalToken({ dir: hsmDir, label: `signer-${id}` });
  return {
    id,
    dataDir,
    env: {
      SIGNER_ID: id,
      SIGNER_COORDINATOR_PUBKEY: coordinatorPublicKeyHex,
      SIGNER_DATA_DIR: dataDir,
      SOFTHSM2_CONF: token.confPath,
      HSM_TOKEN_LABEL: token.label,
      HSM_PIN: token.pin,
    },
  };
}

export interface RunningNode {
  id: string;
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
}

/** Starts a node process and waits for its "listening" line. */
export async function startNode(mainJs: string, home: NodeHome, port = 0): Promise<RunningNode> {
  const env: Record<string, string | undefined> = { ...process.env, ...home.env, SIGNER_PORT: String(port) };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${home.id} did not start: ${out}`)), 60_000);
    const onData = () => {
      const m = /listening on [^:\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`node ${home.id} exited (${code ?? signal}) while starting: ${out}`));
    });
  });
  return { id: home.id, port: bound, url: `http://127.0.0.1:${bound}`, child, output: () => out };
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Runs a compiled helper with a node's environment and returns its stdout. */
export async function runHelper(js: string, home: NodeHome, args: string[]): Promise<string> {
  const env: Record<string, string | undefined> = { ...process.env, ...home.env };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  const { stdout } = await promisify(execFile)(process.execPath, [js, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Every file under a folder, recursively. */
export function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
