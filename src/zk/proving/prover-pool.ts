/**
 * A pool of warm Groth16 prover threads (node:worker_threads) with a FIFO queue in front.
 *
 * Proving is CPU-bound (about 1 s for an eligibility proof): it must not run on the event loop
 * that answers HTTP requests. Each thread (prover-worker.mjs) reads the circuits' .wasm and
 * .zkey once and keeps snarkjs' BN254 curve built, so a proof pays for witness generation and
 * the prover only. A proof request waits in the queue until a thread is free; a thread handles
 * one proof at a time. A thread that dies fails its current proof and is replaced.
 *
 * A plain module (no NestJS): the service wraps it (ProverPoolService), benchmarks can use it as is.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Groth16Proof, PublicSignals } from 'snarkjs';

/** The circuits the service proves (circuits/build/<name>/). */
export const CIRCUITS = ['balance', 'eligibility'] as const;
export type CircuitName = (typeof CIRCUITS)[number];

export const isCircuitName = (name: string): name is CircuitName => (CIRCUITS as readonly string[]).includes(name);

/** Where a circuit's published artifacts are. */
export interface CircuitArtifacts {
  wasm: string;
  zkey: string;
  verificationKey: string;
}

/** What snarkjs.groth16.fullProve returns. */
export interface Groth16Result {
  proof: Groth16Proof;
  publicSignals: PublicSignals;
}

/** A proof could not be made; the message never carries inputs. */
export class ProverError extends Error {
  override readonly name = 'ProverError';
}

/**
 * The project root: the nearest folder above this module that holds package.json. The same
 * for the sources (src/zk/proving) and the compiled service (dist/src/zk/proving).
 */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** The artifacts of a circuit in circuits/build/<name>/ under the project root. */
export function circuitArtifacts(name: CircuitName, root = projectRoot()): CircuitArtifacts {
  const dir = path.join(root, 'circuits', 'build', name);
  return {
    wasm: path.join(dir, `${name}.wasm`),
    zkey: path.join(dir, `${name}_final.zkey`),
    verificationKey: path.join(dir, 'verification_key.json'),
  };
}

/** The worker script: a plain .mjs kept under src/ (tsc does not copy it into dist/). */
export function proverWorkerScript(root = projectRoot()): string {
  return path.join(root, 'src', 'zk', 'proving', 'prover-worker.mjs');
}

export interface ProverPoolOptions {
  /** Number of prover threads (each holds every circuit's artifacts in memory). */
  threads: number;
  circuits: Partial<Record<CircuitName, { wasm: string; zkey: string }>>;
  workerScript?: string;
}

interface Task {
  id: number;
  circuit: CircuitName;
  input: Record<string, unknown>;
  resolve: (r: Groth16Result) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  task?: Task;
  isReady: boolean;
  exited: boolean;
}

/**
 * Copies a reply into plain objects of this realm: what postMessage delivers is built in the
 * main realm, which under a test runner's VM context is not this one (and strict "plain array"
 * checks, e.g. in the audit log's encoder, would refuse it).
 */
function ownRealm(proof: Groth16Proof, publicSignals: PublicSignals): Groth16Result {
  return {
    proof: {
      pi_a: Array.from(proof.pi_a, String),
      pi_b: Array.from(proof.pi_b, (pair) => Array.from(pair, String)),
      pi_c: Array.from(proof.pi_c, String),
      protocol: String(proof.protocol),
      curve: String(proof.curve),
    },
    publicSignals: Array.from(publicSignals, String),
  };
}

interface WorkerReply {
  type?: 'ready';
  id?: number;
  proof?: Groth16Proof;
  publicSignals?: PublicSignals;
  error?: string;
}

export class ProverPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly script: string;
  private nextId = 1;
  private closed = false;
  private started?: Promise<void>;

  constructor(private readonly options: ProverPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError('threads must be a positive integer');
    this.script = options.workerScript ?? proverWorkerScript();
  }

  /** Spawns the threads and waits until each has loaded the artifacts. Idempotent. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ProverError('the prover pool is closed'));
    this.started ??= (async () => {
      while (this.slots.length < this.options.threads) this.slots.push(this.spawn());
      await Promise.all(this.slots.map((s) => s.ready));
    })().catch((e: unknown) => {
      this.started = undefined; // a later proof tries again (threads that did start are kept)
      throw e;
    });
    return this.started;
  }

  /** Proves `input` for `circuit` on the next free thread. */
  async prove(circuit: CircuitName, input: Record<string, unknown>): Promise<Groth16Result> {
    if (!this.options.circuits[circuit]) throw new ProverError(`the pool has no artifacts for circuit "${circuit}"`);
    await this.start();
    return new Promise<Groth16Result>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, circuit, input, resolve, reject });
      this.dispatch();
    });
  }

  /** Threads, busy threads and queued proofs, for health and metrics. */
  stats(): { threads: number; busy: number; queued: number } {
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.task).length, queued: this.queue.length };
  }

  /**
   * Fails queued proofs, asks every thread to terminate its curve threads and exit, and
   * force-terminates a thread that has not exited within `graceMs`.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new ProverError('the prover pool is shutting down'));
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.exited) return;
        const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
        slot.worker.postMessage({ type: 'shutdown' });
        const timer = setTimeout(() => void slot.worker.terminate(), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, { workerData: { circuits: this.options.circuits } });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    const slot: Slot = {
      worker,
      isReady: false,
      exited: false,
      ready: new Promise<void>((resolve, reject) => {
        onReady = resolve;
        onFail = reject;
      }),
    };
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') {
        slot.isReady = true;
        onReady();
        this.dispatch();
        return;
      }
      const task = slot.task;
      if (!task || task.id !== reply.id) return;
      slot.task = undefined;
      if (reply.error !== undefined) task.reject(new ProverError(reply.error));
      else task.resolve(ownRealm(reply.proof!, reply.publicSignals!));
      this.dispatch();
    });
    // An uncaught error in the thread (e.g. an artifact cannot be read): never forward its text,
    // it may come from the witness generator.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      slot.exited = true;
      onFail(new ProverError('a prover thread failed to start (are the circuit artifacts built?)'));
      slot.task?.reject(new ProverError('the prover thread stopped while proving'));
      slot.task = undefined;
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      // Replace a thread that died after starting; one that could not start would fail again.
      if (!this.closed && slot.isReady) {
        const replacement = this.spawn();
        this.slots.push(replacement);
        replacement.ready.catch(() => this.failQueued());
      } else if (!this.closed && this.slots.length === 0) {
        this.failQueued();
      }
    });
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.task || slot.exited) continue;
      if (!slot.isReady) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.postMessage({ id: task.id, circuit: task.circuit, input: task.input });
    }
  }

  private failQueued(): void {
    for (const task of this.queue.splice(0)) task.reject(new ProverError('no prover thread could be started'));
  }
}
