/**
 * A local development ledger: a `hardhat node` child process on 127.0.0.1.
 *
 * Used by the embedded launcher and by the test suite. The node is spawned with the running Node
 * binary and the project's own Hardhat (never a global one), in its own process group so that
 * stop() ends it and anything it started.
 *
 * Plain module with only Node built-in imports and erasable TypeScript syntax, so that Node can
 * also load this file directly (type stripping), e.g. from a Jest global setup, which Node's own
 * resolver loads: `await import(pathToFileURL('src/ledger/local-node.ts').href)`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface LocalLedgerNodeOptions {
  /** TCP port to listen on (127.0.0.1 only). */
  port: number;
  /** Project root holding hardhat.config.ts and node_modules (default: the current directory). */
  cwd?: string;
  /**
   * When an EVM JSON-RPC node already answers on the port, use it instead of failing.
   * stop() then leaves it running, since this process did not start it.
   */
  reuseExisting?: boolean;
  /** How long to wait for the node to answer eth_chainId (default 30 s). */
  startTimeoutMs?: number;
}

export interface LocalLedgerNode {
  /** JSON-RPC endpoint, e.g. http://127.0.0.1:8545 */
  url: string;
  /** Process id of the spawned node; undefined when an existing node was reused. */
  pid: number | undefined;
  /** True when an already running node was reused (see LocalLedgerNodeOptions.reuseExisting). */
  reused: boolean;
  /** Stop the node (SIGTERM to its process group, SIGKILL after 5 s) and wait until it has exited. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const POLL_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 1000;
const STOP_GRACE_MS = 5000;
const OUTPUT_TAIL_CHARS = 4000;

/** Start a `hardhat node` on 127.0.0.1:port and resolve once it answers eth_chainId. */
export async function startLocalLedgerNode(options: LocalLedgerNodeOptions): Promise<LocalLedgerNode> {
  const { port, reuseExisting = false, startTimeoutMs = 30_000 } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`invalid port ${port}`);
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const url = `http://${HOST}:${port}`;

  if (await isPortOpen(port)) {
    const chainId = await probeChainId(url);
    if (chainId !== undefined && reuseExisting) {
      return { url, pid: undefined, reused: true, stop: async () => undefined };
    }
    throw new Error(
      `port ${port} is in use` +
        (chainId !== undefined
          ? ` by a JSON-RPC node (chain id ${chainId}); stop it or pass reuseExisting: true`
          : ' by another program'),
    );
  }

  const child = spawn(process.execPath, [hardhatCli(cwd), 'node', '--hostname', HOST, '--port', String(port)], {
    cwd,
    env: { ...process.env, FORCE_COLOR: '0' },
    // Own process group: stop() signals the whole group, and a Ctrl-C meant for a terminal
    // running this process does not kill the node behind the service's back.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new OutputTail(OUTPUT_TAIL_CHARS);
  // The node logs every JSON-RPC call: always drain the pipes, or it blocks once they fill up.
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk));

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  // If this process exits without calling stop(), do not leave an orphaned node behind.
  const killOnExit = () => signalGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (hasExited(child)) return;
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError || hasExited(child)) {
      await stop();
      throw new Error(
        `hardhat node on port ${port} exited before answering` +
          (spawnError ? ` (${spawnError.message})` : ` (exit code ${child.exitCode ?? child.signalCode})`) +
          output.describe(),
      );
    }
    if ((await probeChainId(url)) !== undefined) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hardhat node on port ${port} did not answer eth_chainId within ${startTimeoutMs} ms${output.describe()}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }

  return { url, pid: child.pid, reused: false, stop };
}

/** The project's Hardhat CLI script, run with the current Node binary (no shell, no PATH lookup). */
function hardhatCli(cwd: string): string {
  const bin = path.join(cwd, 'node_modules', '.bin', 'hardhat');
  try {
    return realpathSync(bin);
  } catch {
    throw new Error(`Hardhat is not installed in ${cwd} (missing node_modules/.bin/hardhat); run npm ci`);
  }
}

/** Chain id reported by the JSON-RPC endpoint, or undefined when nothing usable answers. */
async function probeChainId(url: string): Promise<bigint | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { result?: unknown };
    return typeof body.result === 'string' ? BigInt(body.result) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || hasExited(child)) return;
  try {
    process.kill(-child.pid, signal); // negative pid: the whole process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps the last `limit` characters of the child's output for error messages. */
class OutputTail {
  #text = '';
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  push(chunk: Buffer): void {
    this.#text = (this.#text + chunk.toString('utf8')).slice(-this.limit);
  }

  describe(): string {
    const tail = this.#text.trim();
    return tail ? `\n--- last output of hardhat node ---\n${tail}` : '\n(hardhat node printed nothing)';
  }
}
