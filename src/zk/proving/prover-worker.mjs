/**
 * One Groth16 prover thread of the prover pool (prover-pool.ts).
 *
 * A plain ES module, not TypeScript, so that the same file runs from the sources (tests) and
 * from the compiled service: tsc does not copy it, and the pool finds it under the project root.
 *
 * At start it reads every circuit's witness generator (.wasm) and proving key (.zkey) once into
 * memory (workerData.circuits: { name: { wasm, zkey } }) and builds the BN254 curve (its
 * WebAssembly and thread pool, cached by snarkjs in globalThis.curve_bn128), then answers { id, circuit, input } messages one at a time with
 * { id, proof, publicSignals } or { id, error }. An error message never carries the input or the
 * witness generator's text (which can quote signal values): only a fixed reason.
 *
 * { type: 'shutdown' } ends the thread cleanly: snarkjs keeps its own curve worker threads alive
 * through globalThis.curve_bn128, which must be terminated or the thread never exits.
 */
import { readFileSync } from 'node:fs';
import threads, { parentPort, workerData } from 'node:worker_threads';

// snarkjs runs its curve arithmetic on its own thread pool through the `web-worker` package,
// which decides once, when loaded, whether it is the parent side (creating workers) or a child
// (emulating a web worker scope) from worker_threads.isMainThread. In this prover thread it must
// be the parent side, so the flag reads true while snarkjs and its dependencies load.
Object.defineProperty(threads, 'isMainThread', { value: true, configurable: true });
const snarkjs = await import('snarkjs');
Object.defineProperty(threads, 'isMainThread', { value: false, configurable: true });

// The witness calculator prints failed assertions to the console; those lines may describe
// private signals, so nothing in this thread writes to the console.
console.log = console.info = console.warn = console.error = console.debug = () => undefined;

const circuits = new Map();
for (const [name, files] of Object.entries(workerData.circuits)) {
  circuits.set(name, {
    wasm: new Uint8Array(readFileSync(files.wasm)),
    zkey: new Uint8Array(readFileSync(files.zkey)),
  });
}

async function prove(circuit, input) {
  const artifacts = circuits.get(circuit);
  if (!artifacts) throw new Error(`unknown circuit "${circuit}"`);
  // snarkjs reads the artifacts through fastfile: a { type: 'mem' } file is read from memory,
  // so a proof costs witness generation and the prover only, never file I/O.
  return snarkjs.groth16.fullProve(input, { type: 'mem', data: artifacts.wasm }, { type: 'mem', data: artifacts.zkey });
}

parentPort.on('message', async (message) => {
  if (message?.type === 'shutdown') {
    await globalThis.curve_bn128?.terminate();
    parentPort.close();
    return;
  }
  const { id, circuit, input } = message;
  try {
    const { proof, publicSignals } = await prove(circuit, input);
    parentPort.postMessage({ id, proof, publicSignals });
  } catch (error) {
    // The witness calculator's messages may name signals and values: report the kind only.
    const assertion = error instanceof Error && /assert/i.test(error.message);
    parentPort.postMessage({ id, error: assertion ? 'the inputs do not satisfy the circuit' : 'the prover failed' });
  }
});

await snarkjs.curves.getCurveFromName('bn128');
parentPort.postMessage({ type: 'ready' });
