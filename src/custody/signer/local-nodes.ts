/**
 * Local signer nodes for embedded mode: N signer node processes on this machine, each with its
 * own SoftHSM2 token (hsm/signers/<id>/), its own PGlite folder (<dataDir>/signers/<id>) and its
 * own loopback port, configured with the coordinator's public key. stop() terminates them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalToken } from '../../hsm/local-token.js';

export interface LocalSignerNodes {
  ids: string[];
  urls: string[];
  stop(): Promise<void>;
}

/** A free loopback TCP port (asked of the OS). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited(child);
  clearTimeout(timer);
}

export async function startLocalSignerNodes(opts: {
  ids: string[];
  ports: number[];
  /** The coordinator's P-256 public key, uncompressed, hex. */
  coordinatorPublicKeyHex: string;
  /** Parent folder of the nodes' tokens (hsm/signers). */
  hsmDir: string;
  /** Parent folder of the nodes' databases (<DATA_DIR>/signers). */
  dataDir: string;
}): Promise<LocalSignerNodes> {
  const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => terminate(c)));
  };
  // Whatever way this process ends, no node outlives it.
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  try {
    for (const [i, id] of opts.ids.entries()) {
      const hsmDir = path.join(opts.hsmDir, id);
      const dataDir = path.join(opts.dataDir, id);
      fs.mkdirSync(hsmDir, { recursive: true });
      fs.mkdirSync(dataDir, { recursive: true });
      const token = ensureLocalToken({ dir: hsmDir, label: `signer-${id}` });
      const env: Record<string, string | undefined> = {
        ...process.env,
        SIGNER_ID: id,
        SIGNER_PORT: String(opts.ports[i]),
        SIGNER_HOST: '127.0.0.1',
        SIGNER_COORDINATOR_PUBKEY: opts.coordinatorPublicKeyHex,
        SIGNER_DATA_DIR: dataDir,
        SOFTHSM2_CONF: token.confPath,
        HSM_TOKEN_LABEL: token.label,
        HSM_PIN: token.pin,
      };
      delete env.DATABASE_URL;
      delete env.NODE_OPTIONS;
      const child = spawn(process.execPath, [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      const onData = (d: Buffer) => (out += d.toString());
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`signer node ${id} did not start within 60 s: ${out.trim()}`)), 60_000);
        const check = () => {
          if (/listening on /.test(out)) {
            clearTimeout(timer);
            child.stdout!.off('data', check);
            child.off('exit', onExit);
            resolve();
          }
        };
        const onExit = (code: number | null, signal: string | null) => {
          clearTimeout(timer);
          reject(new Error(`signer node ${id} exited (${code ?? signal}) while starting: ${out.trim()}`));
        };
        child.stdout!.on('data', check);
        child.once('exit', onExit);
        check();
      });
      // Keep draining the node's output (it logs one line per request); drop it after start-up.
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[signer ${id}] ${d.toString()}`));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { ids: opts.ids, urls: opts.ports.map((p) => `http://127.0.0.1:${p}`), stop };
}
