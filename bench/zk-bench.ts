/**
 * Zero-knowledge benchmark: Groth16 proving latency of the warm prover pool against the snarkjs
 * command line, proving throughput with one and two prover processes, verifications per second,
 * and gas of the gate contracts against the bare verifier. See bench/README.md ("Zero-knowledge").
 *
 *   npm run build && node dist/bench/zk-bench.js [--quick] [--n N] [--k K] [--rounds R] [--out FILE]
 *        [--skip-latency] [--skip-throughput] [--skip-verify] [--skip-gas]
 *
 * Needs the built circuits (circuits/build/<name>/) and the compiled contracts (artifacts/). A
 * local ledger node is started on port 8750 (or the next free port) and stopped at the end.
 */
import { execFile, execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Contract, ContractFactory, JsonRpcProvider, Network, id, type JsonRpcSigner } from 'ethers';
import * as snarkjs from 'snarkjs';
import { readContractArtifact } from '../src/ledger/artifacts.js';
import { startLocalLedgerNode, type LocalLedgerNode } from '../src/ledger/local-node.js';
import { FIELD_MODULUS, parseBalanceSignals, parseEligibilitySignals, yyyymmdd } from '../src/zk/circuit-inputs.js';
import { CIRCUITS, ProverPool, circuitArtifacts, type CircuitName, type Groth16Result } from '../src/zk/proving/prover-pool.js';
import { parseGroth16Proof } from '../src/zk/verification/groth16-proof.js';
import { fig, log, median, now, percentile, round, summarize } from './lib/stats.js';
import {
  balanceProofInput,
  balanceTree,
  eligibilityProofInput,
  identityTree,
  randomField,
  type EligibilityPolicy,
} from './lib/zk-inputs.js';
import { projectRoot, machineInfo, writeResults, freePort, loadAverages, optionReader } from './lib/harness.js';

const execFileAsync = promisify(execFile);

interface Options {
  quick: boolean;
  /** Proofs per circuit and prover for the latency comparison. */
  n: number;
  /** Proofs per process per throughput run. */
  k: number;
  /** Throughput rounds (1 process, then 2 processes, interleaved). */
  rounds: number;
  /** Verifications per circuit. */
  verifications: number;
  /** Gate transactions per gate. */
  gasReps: number;
  out: string;
  latency: boolean;
  throughput: boolean;
  verify: boolean;
  gas: boolean;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = projectRoot();

function parseArgs(argv: string[]): Options {
  const { get, int } = optionReader(argv);
  const quick = argv.includes('--quick');
  return {
    quick,
    n: int('--n', quick ? 3 : 10),
    k: int('--k', quick ? 4 : 6),
    rounds: int('--rounds', quick ? 1 : 4),
    verifications: int('--verifications', quick ? 30 : 100),
    gasReps: int('--gas-reps', quick ? 2 : 3),
    out: path.resolve(get('--out') ?? path.join(ROOT, 'bench', 'results', quick ? 'zk-quick.json' : 'zk.json')),
    latency: !argv.includes('--skip-latency'),
    throughput: !argv.includes('--skip-throughput'),
    verify: !argv.includes('--skip-verify'),
    gas: !argv.includes('--skip-gas'),
  };
}

// ---------------------------------------------------------------------------------------------
// Load average, sampled through the run (the machine is shared)

const loadSamples: number[] = [];
const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]!), 5000);
loadTimer.unref();

// ---------------------------------------------------------------------------------------------
// Inputs

type Inputs = Record<CircuitName, Record<string, unknown>>;

async function benchInputs(): Promise<{ inputs: Inputs; policy: EligibilityPolicy }> {
  const { tree: bTree, accounts } = await balanceTree(1);
  const { tree: iTree, identities } = await identityTree(1);
  const policy: EligibilityPolicy = {
    currentDate: yyyymmdd(new Date()),
    minAge: 18,
    denylist: [408n, 364n],
    scope: BigInt(id('bench:eligibility')) % FIELD_MODULUS,
  };
  return {
    inputs: {
      balance: balanceProofInput(bTree, accounts[0]!, 500_000n, randomField()),
      eligibility: eligibilityProofInput(iTree, identities[0]!, policy, randomField()),
    },
    policy,
  };
}

function poolCircuits(): Partial<Record<CircuitName, { wasm: string; zkey: string }>> {
  return Object.fromEntries(CIRCUITS.map((c) => [c, circuitArtifacts(c)]));
}

const SNARKJS_CLI = path.join(ROOT, 'node_modules', 'snarkjs', 'build', 'cli.cjs');

/** One proof through the snarkjs command line (a fresh Node process): wall time in ms. */
async function cliProve(circuit: CircuitName, inputFile: string, dir: string): Promise<{ ms: number; result: Groth16Result }> {
  const a = circuitArtifacts(circuit);
  const proofFile = path.join(dir, `${circuit}-proof.json`);
  const publicFile = path.join(dir, `${circuit}-public.json`);
  rmSync(proofFile, { force: true });
  rmSync(publicFile, { force: true });
  const t = now();
  await execFileAsync(process.execPath, [SNARKJS_CLI, 'groth16', 'fullprove', inputFile, a.wasm, a.zkey, proofFile, publicFile], {
    cwd: ROOT,
    maxBuffer: 1 << 20,
  });
  const ms = now() - t;
  return {
    ms,
    result: {
      proof: JSON.parse(readFileSync(proofFile, 'utf8')) as Groth16Result['proof'],
      publicSignals: JSON.parse(readFileSync(publicFile, 'utf8')) as string[],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Proving latency: warm pool vs snarkjs CLI

async function latencyBenchmark(opts: Options, pool: ProverPool, inputs: Inputs, tmp: string, proofs: Map<CircuitName, Groth16Result[]>) {
  const vkeys = Object.fromEntries(CIRCUITS.map((c) => [c, JSON.parse(readFileSync(circuitArtifacts(c).verificationKey, 'utf8'))]));
  const inputFiles = {} as Record<CircuitName, string>;
  for (const c of CIRCUITS) {
    inputFiles[c] = path.join(tmp, `${c}-input.json`);
    writeFileSync(inputFiles[c], JSON.stringify(inputs[c]));
  }
  const results: Record<string, unknown> = {};
  // Reference: snarkjs.groth16.fullProve on this process's main thread with file paths (the
  // library call without the pool); one warm-up proof per circuit builds the curve.
  const directProve = (circuit: CircuitName) =>
    snarkjs.groth16.fullProve(inputs[circuit] as snarkjs.CircuitSignals, circuitArtifacts(circuit).wasm, circuitArtifacts(circuit).zkey);
  for (const c of CIRCUITS) await directProve(c);
  for (const circuit of CIRCUITS) {
    const poolMs: number[] = [];
    const cliMs: number[] = [];
    const directMs: number[] = [];
    let cliValid = true;
    for (let i = 0; i < opts.n; i++) {
      // Rotate which side goes first, so a load drift hits all of them.
      const order = ['pool', 'cli', 'direct'];
      for (let j = 0; j < i % 3; j++) order.push(order.shift()!);
      for (const side of order) {
        if (side === 'direct') {
          const t = now();
          await directProve(circuit);
          directMs.push(now() - t);
        } else if (side === 'pool') {
          const t = now();
          const r = await pool.prove(circuit, inputs[circuit]);
          poolMs.push(now() - t);
          proofs.get(circuit)!.push(r);
        } else {
          const { ms, result } = await cliProve(circuit, inputFiles[circuit], tmp);
          cliMs.push(ms);
          // Same statement: the same public signals; and the proof verifies.
          const first = proofs.get(circuit)![0]!;
          if (JSON.stringify(result.publicSignals) !== JSON.stringify(first.publicSignals)) throw new Error(`${circuit}: the CLI proved other public signals`);
          cliValid &&= await snarkjs.groth16.verify(vkeys[circuit], result.publicSignals, result.proof);
        }
      }
      log(`latency ${circuit} ${i + 1}/${opts.n}: pool ${round(poolMs.at(-1)!, 3)} ms, CLI ${round(cliMs.at(-1)!, 3)} ms, in-process fullProve ${round(directMs.at(-1)!, 3)} ms`);
    }
    const poolValid = (await Promise.all(proofs.get(circuit)!.map((r) => snarkjs.groth16.verify(vkeys[circuit], r.publicSignals, r.proof)))).every(Boolean);
    if (!poolValid || !cliValid) throw new Error(`${circuit}: a proof does not verify`);
    const p = summarize(poolMs, 'ms per proof (warm ProverPool, 1 thread: witness + prover, in memory)');
    const c = summarize(cliMs, 'ms per proof (snarkjs groth16 fullprove CLI: process start, curve build, file reads, witness, prover, writes)');
    results[circuit] = {
      pool: p,
      cli: c,
      cliOverPoolP50: fig(c.p50 / p.p50, 'x (CLI p50 / pool p50)'),
      cliOverPoolPerPair: {
        unit: 'x (CLI / pool, pairs taken in the same iteration)',
        p50: round(median(cliMs.map((v, i) => v / poolMs[i]!))),
        min: round(Math.min(...cliMs.map((v, i) => v / poolMs[i]!))),
        max: round(Math.max(...cliMs.map((v, i) => v / poolMs[i]!))),
      },
      cliMinusPoolPerPair: summarize(
        cliMs.map((v, i) => v - poolMs[i]!),
        'ms (CLI - pool, pairs taken in the same iteration: what a cold process adds per proof)',
      ),
      inProcessFullProve: summarize(directMs, 'ms per proof (snarkjs.groth16.fullProve on the main thread, file paths, warm curve)'),
      inProcessOverPoolP50: fig(median(directMs) / p.p50, 'x'),
      allProofsVerify: true,
    };
    log(`latency ${circuit}: pool p50 ${p.p50} ms p95 ${p.p95} ms; CLI p50 ${c.p50} ms p95 ${c.p95} ms; ratio ${round(c.p50 / p.p50, 3)}x`);
  }
  return {
    method:
      'The same input (a depth-20 tree of a few leaves, a true statement) proved alternately by the warm ProverPool of this ' +
      'process (1 thread, artifacts in memory, one warm-up proof per circuit) and by `snarkjs groth16 fullprove` ' +
      '(a new Node process per proof, reading the .wasm/.zkey and writing proof.json/public.json). Wall time per proof; ' +
      'the order (pool, CLI, in-process fullProve) rotates per iteration. Every pool and CLI proof is verified; the CLI ' +
      'proves the same public signals. Reference: snarkjs.groth16.fullProve called on the main thread with file paths.',
    perCircuitSamples: opts.n,
    ...results,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Throughput: one vs two prover processes

interface ChildHandle {
  proc: ChildProcess;
  warmupMs: number;
}

function startChild(script: string, inputsFile: string): Promise<ChildHandle> {
  return new Promise((resolve, reject) => {
    const proc = fork(script, [inputsFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const onExit = (code: number | null) => reject(new Error(`prover process exited with ${code} before it was ready`));
    proc.once('exit', onExit);
    proc.once('error', reject);
    proc.once('message', (m: { type: string; warmupMs: number }) => {
      proc.off('exit', onExit);
      if (m.type === 'ready') resolve({ proc, warmupMs: m.warmupMs });
      else reject(new Error(`unexpected message ${m.type}`));
    });
  });
}

interface ChildRun {
  proofMs: number[];
  wallMs: number;
  /** CPU time of the child (all its threads) over the run. */
  cpuMs: number;
}

function runChild(child: ChildHandle, proofs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`prover process exited with ${code}`));
    child.proc.once('exit', onExit);
    child.proc.once('message', (m: ChildRun & { type: string }) => {
      child.proc.off('exit', onExit);
      resolve(m);
    });
    child.proc.send({ type: 'go', proofs });
  });
}

async function stopChild(child: ChildHandle): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.send({ type: 'exit' });
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function throughputBenchmark(opts: Options, inputs: Inputs, tmp: string) {
  const inputsFile = path.join(tmp, 'inputs.json');
  writeFileSync(inputsFile, JSON.stringify(inputs));
  const script = path.join(HERE, 'lib', 'zk-prover-child.js');
  log('throughput: starting 2 prover processes (each a warm ProverPool with 1 thread)');
  const children = await Promise.all([startChild(script, inputsFile), startChild(script, inputsFile)]);
  const rates: Record<'one' | 'two', number[]> = { one: [], two: [] };
  const perProof: Record<'one' | 'two', number[]> = { one: [], two: [] };
  const cpuPerProof: Record<'one' | 'two', number[]> = { one: [], two: [] };
  const parallelism: number[] = [];
  try {
    for (let r = 0; r < opts.rounds; r++) {
      // ABBA order over the rounds: one/two, then two/one, so a steady load drift hits both.
      for (const config of r % 2 === 0 ? (['one', 'two'] as const) : (['two', 'one'] as const)) {
        const active = config === 'one' ? children.slice(0, 1) : children;
        const t = now();
        const done = await Promise.all(active.map((c) => runChild(c, opts.k)));
        const wall = now() - t;
        const total = opts.k * active.length;
        rates[config].push((total / wall) * 60_000);
        for (const d of done) {
          perProof[config].push(...d.proofMs);
          cpuPerProof[config].push(d.cpuMs / opts.k);
          if (config === 'one') parallelism.push(d.cpuMs / d.wallMs);
        }
        log(`throughput round ${r + 1}: ${active.length} process(es), ${total} proofs in ${round(wall / 1000, 3)} s = ${round(rates[config].at(-1)!, 3)} proofs/min`);
      }
    }
  } finally {
    await Promise.all(children.map(stopChild));
  }
  // For reference: one process, one ProverPool with 2 threads (the service's option on one instance).
  const threads2 = new ProverPool({ threads: 2, circuits: poolCircuits() });
  let twoThreads: number;
  try {
    await threads2.start();
    await Promise.all(CIRCUITS.map((c) => threads2.prove(c, inputs[c])));
    const t = now();
    await Promise.all(Array.from({ length: 2 * opts.k }, (_, i) => threads2.prove(CIRCUITS[i % 2]!, inputs[CIRCUITS[i % 2]!])));
    twoThreads = ((2 * opts.k) / (now() - t)) * 60_000;
    log(`throughput: 1 process with a 2-thread pool: ${round(twoThreads, 3)} proofs/min`);
  } finally {
    await threads2.close();
  }
  const one = median(rates.one);
  const two = median(rates.two);
  const paired = rates.two.map((v, i) => v / rates.one[i]!);
  return {
    method:
      'Each prover process (bench/lib/zk-prover-child.ts, child_process.fork) holds a warm ProverPool with 1 thread and ' +
      `proves K = ${opts.k} proofs back to back, alternating balance and eligibility. "1 process": one of them runs; ` +
      '"2 processes": both start at the same moment; rate = proofs / wall time until the last one finishes. ' +
      `Configurations interleaved over ${opts.rounds} round(s) in ABBA order; median of the rounds. snarkjs spreads each proof's ` +
      'multi-exponentiations over its own thread pool (one thread per CPU), so one process already uses more than one core.',
    proofsPerProcess: opts.k,
    rounds: opts.rounds,
    warmup: fig(median(children.map((c) => c.warmupMs)), 'ms (process start to ready: pool start + one proof per circuit)'),
    oneProcess: {
      proofsPerMinute: fig(one, 'proofs/min (median of rounds)'),
      perRound: rates.one.map((v) => round(v)),
      proofLatency: summarize(perProof.one, 'ms per proof'),
    },
    twoProcesses: {
      proofsPerMinute: fig(two, 'proofs/min (median of rounds)'),
      perRound: rates.two.map((v) => round(v)),
      proofLatency: summarize(perProof.two, 'ms per proof'),
    },
    cpuTimePerProof: {
      oneProcess: fig(median(cpuPerProof.one), 'ms CPU per proof (user + system of the prover process, all threads; median of rounds)'),
      twoProcesses: fig(median(cpuPerProof.two), 'ms CPU per proof (per process; median of rounds and processes)'),
      coresBusyOneProcess: fig(median(parallelism), 'cores (CPU time / wall time of the 1-process runs: how far one proof already parallelises)'),
      ceilingOn2Cores: fig((2 * 60_000) / median(cpuPerProof.one), 'proofs/min (2 cores fully given to proving / CPU time per proof)'),
    },
    speedUp: fig(two / one, 'x (median 2-process rate / median 1-process rate; the ideal on 2 cores is 2)'),
    speedUpPerRound: {
      unit: 'x (2-process rate / 1-process rate of the same round, run back to back)',
      p50: round(median(paired)),
      min: round(Math.min(...paired)),
      max: round(Math.max(...paired)),
      values: paired.map((v) => round(v)),
    },
    oneProcessTwoThreadPool: fig(twoThreads, `proofs/min (one ProverPool with 2 threads, ${2 * opts.k} proofs queued at once, 1 run)`),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Verifications per second

async function verifyBenchmark(opts: Options, proofs: Map<CircuitName, Groth16Result[]>, inputs: Inputs, tmp: string, pool: ProverPool) {
  const results: Record<string, unknown> = {};
  for (const circuit of CIRCUITS) {
    if (proofs.get(circuit)!.length === 0) proofs.get(circuit)!.push(await pool.prove(circuit, inputs[circuit]));
    const list = proofs.get(circuit)!;
    const vkFile = circuitArtifacts(circuit).verificationKey;
    const vk = JSON.parse(readFileSync(vkFile, 'utf8')) as Record<string, unknown>;
    for (let i = 0; i < 3; i++) await snarkjs.groth16.verify(vk, list[0]!.publicSignals, list[0]!.proof); // warm
    const bare: number[] = [];
    const checked: number[] = [];
    const parse = circuit === 'balance' ? parseBalanceSignals : parseEligibilitySignals;
    const t0 = now();
    for (let i = 0; i < opts.verifications; i++) {
      const r = list[i % list.length]!;
      const t = now();
      if (!(await snarkjs.groth16.verify(vk, r.publicSignals, r.proof))) throw new Error(`${circuit}: a proof does not verify`);
      bare.push(now() - t);
    }
    const bareWall = now() - t0;
    // The service's checks without the database: proof shape, canonical signals, pairing.
    for (let i = 0; i < opts.verifications; i++) {
      const r = list[i % list.length]!;
      const t = now();
      const proof = parseGroth16Proof(JSON.parse(JSON.stringify(r.proof)));
      parse(r.publicSignals);
      if (!(await snarkjs.groth16.verify(vk, r.publicSignals.map(String), proof))) throw new Error(`${circuit}: a proof does not verify`);
      checked.push(now() - t);
    }
    // Peer baseline: `snarkjs groth16 verify` (a new process per verification).
    const proofFile = path.join(tmp, `${circuit}-verify-proof.json`);
    const publicFile = path.join(tmp, `${circuit}-verify-public.json`);
    writeFileSync(proofFile, JSON.stringify(list[0]!.proof));
    writeFileSync(publicFile, JSON.stringify(list[0]!.publicSignals));
    const cli: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = now();
      const { stdout } = await execFileAsync(process.execPath, [SNARKJS_CLI, 'groth16', 'verify', vkFile, publicFile, proofFile], { cwd: ROOT });
      cli.push(now() - t);
      if (!/OK/.test(stdout)) throw new Error(`${circuit}: the CLI does not accept the proof`);
    }
    const b = summarize(bare, 'ms per snarkjs.groth16.verify (in process, warm curve)');
    results[circuit] = {
      verificationsPerSecond: fig((opts.verifications / bareWall) * 1000, 'verifications/s (sequential, one process)'),
      verify: b,
      serviceChecksWithoutDatabase: summarize(checked, 'ms (parseGroth16Proof + canonical signal parsing + groth16.verify)'),
      cliVerify: summarize(cli, 'ms per `snarkjs groth16 verify` (new process, reads the key and proof files)'),
      cliOverInProcessP50: fig(median(cli) / b.p50, 'x'),
    };
    log(`verify ${circuit}: p50 ${b.p50} ms, ${round((opts.verifications / bareWall) * 1000, 3)}/s; CLI p50 ${round(median(cli), 3)} ms`);
  }
  return {
    method:
      `${opts.verifications} sequential verifications per circuit of the proofs made above with the committed ` +
      'verification keys, after 3 warm-up verifications. The service path (POST /zk/verify) adds the root lookup, ' +
      'the nullifier insert and the audit append in one database transaction, not measured here.',
    ...results,
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Gas per gate call

type Calldata = [string[], string[][], string[], string[]];

async function calldataOf(r: Groth16Result): Promise<Calldata> {
  return JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(r.proof, r.publicSignals)}]`) as Calldata;
}

async function gasBenchmark(opts: Options, pool: ProverPool) {
  const artifactsDir = path.join(ROOT, 'artifacts');
  if (!existsSync(path.join(artifactsDir, 'contracts', 'zk', 'EligibilityGate.sol', 'EligibilityGate.json'))) {
    log('gas: compiling contracts (hardhat build)');
    execFileSync(process.execPath, [realpathSync(path.join(ROOT, 'node_modules', '.bin', 'hardhat')), 'build', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
  }
  const art = (qualified: string) => readContractArtifact(artifactsDir, qualified);
  const port = await freePort(8750);
  log(`gas: starting a local ledger node on port ${port}`);
  let node: LocalLedgerNode | undefined;
  let provider: JsonRpcProvider | undefined;
  try {
    node = await startLocalLedgerNode({ port, cwd: ROOT });
    provider = new JsonRpcProvider(node.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    const signers: JsonRpcSigner[] = await Promise.all(Array.from({ length: opts.gasReps + 1 }, (_, i) => provider!.getSigner(i)));
    const publisher = signers[0]!;
    const callers = signers.slice(1);
    const clientVersion = String(await provider.send('web3_clientVersion', []));
    const deployGas: Record<string, number> = {};
    const deploy = async (key: string, qualified: string, args: unknown[] = []): Promise<Contract> => {
      const a = await art(qualified);
      const c = (await new ContractFactory(a.abi, a.bytecode, publisher).deploy(...args)) as Contract;
      deployGas[key] = Number((await c.deploymentTransaction()!.wait())!.gasUsed);
      return c;
    };
    const gasOf = async (contract: Contract, signer: JsonRpcSigner, method: string, ...args: unknown[]): Promise<number> => {
      const tx = await (contract.connect(signer) as Contract).getFunction(method)(...args);
      return Number((await tx.wait())!.gasUsed);
    };

    const publisherAddress = await publisher.getAddress();
    const eVerifier = await deploy('EligibilityVerifier', 'contracts/verifiers/EligibilityVerifier.sol:EligibilityVerifier');
    const bVerifier = await deploy('BalanceVerifier', 'contracts/verifiers/BalanceVerifier.sol:BalanceVerifier');
    const iRegistry = await deploy('RootRegistry', 'contracts/zk/RootRegistry.sol:RootRegistry', [publisherAddress, 3600]);
    const bRegistry = await deploy('RootRegistry (balance)', 'contracts/zk/RootRegistry.sol:RootRegistry', [publisherAddress, 3600]);
    const policyDate = yyyymmdd(new Date((await provider.getBlock('latest'))!.timestamp * 1000));
    const policy: EligibilityPolicy = {
      currentDate: policyDate,
      minAge: 18,
      denylist: [408n, 364n, 0n, 0n, 0n, 0n, 0n, 0n],
      scope: BigInt(id('bench:eligibility-gate')) % FIELD_MODULUS,
    };
    const eGate = await deploy('EligibilityGate', 'contracts/zk/EligibilityGate.sol:EligibilityGate', [
      await eVerifier.getAddress(),
      await iRegistry.getAddress(),
      policy.scope,
      policy.minAge,
      policy.denylist,
    ]);
    const bGate = await deploy('BalanceGate', 'contracts/zk/BalanceGate.sol:BalanceGate', [await bVerifier.getAddress(), await bRegistry.getAddress(), 100_000]);
    delete deployGas['RootRegistry (balance)'];

    const { tree: iTree, identities } = await identityTree(callers.length);
    const { tree: bTree, accounts } = await balanceTree(callers.length);
    const publishFirst = await gasOf(iRegistry, publisher, 'publishRoot', iTree.root);
    await gasOf(bRegistry, publisher, 'publishRoot', bTree.root);
    const publishNext = await gasOf(iRegistry, publisher, 'publishRoot', randomField());
    await gasOf(iRegistry, publisher, 'publishRoot', iTree.root); // back to the tree's root (the superseded one stays valid too)

    const claim: number[] = [];
    const claimEstimate: number[] = [];
    const prove: number[] = [];
    const proveEstimate: number[] = [];
    const eVerify: number[] = [];
    const bVerify: number[] = [];
    for (let i = 0; i < callers.length; i++) {
      const caller = callers[i]!;
      const account = await caller.getAddress();
      const eChallenge = BigInt(await eGate.getFunction('challengeFor')(account));
      const bChallenge = BigInt(await bGate.getFunction('challengeFor')(account));
      const eCall = await calldataOf(await pool.prove('eligibility', eligibilityProofInput(iTree, identities[i]!, policy, eChallenge)));
      const bCall = await calldataOf(await pool.prove('balance', balanceProofInput(bTree, accounts[i]!, 500_000n, bChallenge)));
      // Baseline: the verifier alone, as a transaction from the same caller (estimateGas).
      if (!(await eVerifier.getFunction('verifyProof').staticCall(...eCall))) throw new Error('EligibilityVerifier rejects the proof');
      if (!(await bVerifier.getFunction('verifyProof').staticCall(...bCall))) throw new Error('BalanceVerifier rejects the proof');
      eVerify.push(Number(await (eVerifier.connect(caller) as Contract).getFunction('verifyProof').estimateGas(...eCall)));
      bVerify.push(Number(await (bVerifier.connect(caller) as Contract).getFunction('verifyProof').estimateGas(...bCall)));
      claimEstimate.push(Number(await (eGate.connect(caller) as Contract).getFunction('claim').estimateGas(...eCall)));
      proveEstimate.push(Number(await (bGate.connect(caller) as Contract).getFunction('prove').estimateGas(...bCall)));
      claim.push(await gasOf(eGate, caller, 'claim', ...eCall));
      prove.push(await gasOf(bGate, caller, 'prove', ...bCall));
      log(`gas: caller ${i + 1}: claim ${claim.at(-1)}, prove ${prove.at(-1)}; verifyProof ${eVerify.at(-1)} / ${bVerify.at(-1)}`);
    }
    const gate = (used: number[], estimate: number[], verify: number[], name: string) => ({
      gasUsed: fig(median(used), `gas per ${name} transaction (median, gasUsed)`),
      perCall: used,
      estimateGas: fig(median(estimate), 'gas (eth_estimateGas before sending)'),
      verifierAlone: fig(median(verify), 'gas (eth_estimateGas of verifyProof called directly with the same proof, same caller)'),
      gateOverhead: fig(median(used) - median(verify), 'gas (gate - verifier alone: signal and policy checks, registry call, challenge, storage, event)'),
      gateOverVerifier: fig(median(used) / median(verify), 'x'),
    });
    const result = {
      ledger: { chainId: 31337, client: clientVersion },
      method:
        'RootRegistry (x2), the generated verifiers, EligibilityGate and BalanceGate deployed on a local Hardhat node; the ' +
        'roots published; for each of the callers a real proof bound to that caller (challenge = the gate\'s challengeFor), ' +
        'then claim() / prove() sent from that caller. Each claim spends a new nullifier (a fresh storage slot).',
      repetitions: callers.length,
      eligibilityClaim: gate(claim, claimEstimate, eVerify, 'claim()'),
      balanceProve: gate(prove, proveEstimate, bVerify, 'prove()'),
      publishRoot: {
        first: fig(publishFirst, 'gas (first root of a registry)'),
        superseding: fig(publishNext, 'gas (a new root superseding the current one)'),
      },
      deploy: Object.fromEntries(Object.entries(deployGas).map(([k, v]) => [k, fig(v, 'gas')])),
    };
    log(`gas: claim ${median(claim)} vs verifyProof ${median(eVerify)}; prove ${median(prove)} vs verifyProof ${median(bVerify)}`);
    return result;
  } finally {
    provider?.destroy();
    await node?.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function machine() {
  let snarkjsVersion: string | undefined;
  try {
    snarkjsVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'snarkjs', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    snarkjsVersion = undefined;
  }
  return { ...machineInfo(ROOT), snarkjs: snarkjsVersion, loadAverageAtStart: loadAverages() };
}

function circuitsInfo() {
  return Object.fromEntries(
    CIRCUITS.map((c) => {
      const a = circuitArtifacts(c);
      const vk = JSON.parse(readFileSync(a.verificationKey, 'utf8')) as { nPublic: number };
      return [c, { publicSignals: vk.nPublic, wasmBytes: fig(readFileSync(a.wasm).length, 'bytes'), zkeyBytes: fig(readFileSync(a.zkey).length, 'bytes') }];
    }),
  );
}

/** The headline figures, copied from the sections (same units). */
function summary(r: Record<string, unknown>) {
  const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o);
  const out: Record<string, unknown> = {};
  for (const c of CIRCUITS) {
    if (r.latency) {
      out[`${c}ProofPoolP50`] = fig(get(r.latency, c, 'pool', 'p50') as number, 'ms');
      out[`${c}ProofCliP50`] = fig(get(r.latency, c, 'cli', 'p50') as number, 'ms');
      out[`${c}CliOverPool`] = get(r.latency, c, 'cliOverPoolP50');
      out[`${c}CliOverPoolPerPairP50`] = fig(get(r.latency, c, 'cliOverPoolPerPair', 'p50') as number, 'x');
      out[`${c}CliMinusPoolPerPairP50`] = fig(get(r.latency, c, 'cliMinusPoolPerPair', 'p50') as number, 'ms');
    }
    if (r.verify) out[`${c}VerificationsPerSecond`] = get(r.verify, c, 'verificationsPerSecond');
  }
  if (r.throughput) {
    out.proofsPerMinuteOneProcess = get(r.throughput, 'oneProcess', 'proofsPerMinute');
    out.proofsPerMinuteTwoProcesses = get(r.throughput, 'twoProcesses', 'proofsPerMinute');
    out.twoProcessSpeedUp = get(r.throughput, 'speedUp');
    out.twoProcessSpeedUpPerRoundP50 = fig(get(r.throughput, 'speedUpPerRound', 'p50') as number, 'x');
    out.cpuMsPerProof = get(r.throughput, 'cpuTimePerProof', 'oneProcess');
    out.coresBusyOneProcess = get(r.throughput, 'cpuTimePerProof', 'coresBusyOneProcess');
  }
  if (r.gas) {
    out.claimGas = get(r.gas, 'eligibilityClaim', 'gasUsed');
    out.eligibilityVerifyProofGas = get(r.gas, 'eligibilityClaim', 'verifierAlone');
    out.proveGas = get(r.gas, 'balanceProve', 'gasUsed');
    out.balanceVerifyProofGas = get(r.gas, 'balanceProve', 'verifierAlone');
  }
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = now();
  log(`zero-knowledge benchmark${opts.quick ? ' (quick)' : ''}; results -> ${path.relative(ROOT, opts.out)}`);
  const result: Record<string, unknown> = { benchmark: 'zk', quick: opts.quick, machine: machine(), circuits: circuitsInfo() };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'zk-bench-'));
  const pool = new ProverPool({ threads: 1, circuits: poolCircuits() });
  const finish = () => {
    const l = [...loadSamples, os.loadavg()[0]!];
    result.loadAverage1m = { unit: 'runnable processes, sampled every 5 s', p50: round(median(l)), p95: round(percentile(l, 0.95)), max: round(Math.max(...l)), samples: l.length };
    result.totalRunTime = fig((now() - started) / 1000, 's');
    writeResults(opts.out, result);
  };
  try {
    const { inputs } = await benchInputs();
    const t = now();
    await pool.start();
    for (const c of CIRCUITS) await pool.prove(c, inputs[c]);
    result.poolWarmup = fig(now() - t, 'ms (1-thread pool start + one proof per circuit)');
    log(`prover pool warm in ${round(now() - t, 3)} ms`);
    const proofs = new Map<CircuitName, Groth16Result[]>(CIRCUITS.map((c) => [c, []]));

    const load = () => fig(os.loadavg()[0]!, 'runnable processes (1-minute load average when the section started)');
    if (opts.latency) {
      const l = load();
      result.latency = { loadAverageAtStart: l, ...(await latencyBenchmark(opts, pool, inputs, tmp, proofs)) };
      finish();
    }
    if (opts.verify) {
      const l = load();
      result.verify = { loadAverageAtStart: l, ...(await verifyBenchmark(opts, proofs, inputs, tmp, pool)) };
      finish();
    }
    if (opts.throughput) {
      const l = load();
      result.throughput = { loadAverageAtStart: l, ...(await throughputBenchmark(opts, inputs, tmp)) };
      finish();
    }
    if (opts.gas) {
      const l = load();
      result.gas = { loadAverageAtStart: l, ...(await gasBenchmark(opts, pool)) };
    }
    result.summary = summary(result);
    finish();
    log(`done in ${round((now() - started) / 1000, 3)} s; wrote ${path.relative(ROOT, opts.out)}`);
  } finally {
    await pool.close().catch(() => undefined);
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128?.terminate();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
