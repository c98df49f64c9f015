/**
 * A prover process of the zero-knowledge throughput benchmark (bench/zk-bench.ts), started with
 * child_process.fork: it holds a warm ProverPool with one thread, like one service instance.
 *
 *   argv[2]: a JSON file { balance: <input>, eligibility: <input> } (snarkjs input objects)
 *
 * Messages (IPC): -> { type: 'ready', warmupMs } once the pool has started and made one proof of
 * each circuit; <- { type: 'go', proofs: K } proves K proofs back to back, alternating
 * balance and eligibility, -> { type: 'done', proofMs: number[], wallMs, cpuMs }; <- { type: 'exit' }
 * closes the pool and exits.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CIRCUITS, ProverPool, circuitArtifacts, type CircuitName } from '../../src/zk/proving/prover-pool.js';

interface GoMessage {
  type: 'go' | 'exit';
  proofs?: number;
}

const send = (message: unknown): Promise<void> =>
  new Promise((resolve, reject) => process.send!(message, undefined, {}, (e) => (e ? reject(e) : resolve())));

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || !process.send) throw new Error('start with child_process.fork(script, [inputsFile])');
  const inputs = JSON.parse(readFileSync(file, 'utf8')) as Record<CircuitName, Record<string, unknown>>;
  const circuits = Object.fromEntries(CIRCUITS.map((c) => [c, circuitArtifacts(c)]));
  const pool = new ProverPool({ threads: 1, circuits });
  const t0 = performance.now();
  await pool.start();
  for (const c of CIRCUITS) await pool.prove(c, inputs[c]);
  await send({ type: 'ready', warmupMs: performance.now() - t0 });

  process.on('message', (message: GoMessage) => {
    void (async () => {
      if (message.type === 'exit') {
        await pool.close();
        process.exit(0);
      }
      const proofMs: number[] = [];
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      for (let i = 0; i < (message.proofs ?? 1); i++) {
        const t = performance.now();
        await pool.prove(CIRCUITS[i % 2]!, inputs[CIRCUITS[i % 2]!]);
        proofMs.push(performance.now() - t);
      }
      const wallMs = performance.now() - start;
      // CPU time of the whole process (every thread: the pool's prover thread and snarkjs' curve threads).
      const cpu = process.cpuUsage(cpu0);
      await send({ type: 'done', proofMs, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 });
    })().catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
