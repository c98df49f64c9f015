/**
 * Custody (FROST) benchmark: dealerless key generation and threshold signing across signer node
 * processes over loopback HTTP (each node with its own SoftHSM2 token and PGlite folder, every
 * request and answer signed) against the same FROST(secp256k1, SHA-256) work in one process, and
 * the gas of CustodyWallet.execute and of the on-chain FROST verification against a plain ETH
 * transfer. See bench/README.md ("Custody (FROST)").
 *
 *   npm run build && node dist/bench/custody-bench.js [--quick] [--n N] [--out FILE]
 *        [--skip-latency] [--skip-gas]
 *
 * Needs SoftHSM2 and the compiled contracts (artifacts/). Five signer nodes are started on free
 * loopback ports and a local ledger node on port 8760; all are stopped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Contract, ContractFactory, JsonRpcProvider, Network, Wallet, type JsonRpcSigner } from 'ethers';
import {
  aggregateSignature,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  groupKeyForContract,
  identifierFromNumber,
  signRound1,
  signRound2,
  signatureForContract,
  verifySignature,
  verifySignatureShare,
  type Identifier,
  type KeyPackage,
  type PublicKeyPackage,
  type SignatureShare,
} from '../src/custody/frost/index.js';
import { SignerCoordinator, type DkgResult, type SignerNodeRef } from '../src/custody/coordinator/signer-coordinator.js';
import { freeLoopbackPort, startLocalSignerNodes, type LocalSignerNodes } from '../src/custody/signer/local-nodes.js';
import { canonicalJson, type MessageSigner } from '../src/custody/signer/message-auth.js';
import { ensureLocalToken } from '../src/hsm/local-token.js';
import { Pkcs11Client } from '../src/hsm/pkcs11-client.js';
import { readContractArtifact } from '../src/ledger/artifacts.js';
import { startLocalLedgerNode, type LocalLedgerNode } from '../src/ledger/local-node.js';
import { fig, log, median, now, percentile, round, summarize } from './lib/stats.js';
import { machineInfo, writeResults, loadAverages } from './lib/harness.js';

interface Options {
  quick: boolean;
  /** Measured runs per configuration and side (after one warm-up run each). */
  n: number;
  /** Transactions per gas figure. */
  gasReps: number;
  out: string;
  latency: boolean;
  gas: boolean;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CONFIGS = [
  { name: '2-of-3', t: 2, n: 3 },
  { name: '3-of-5', t: 3, n: 5 },
] as const;
const NODE_IDS = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'];
const LEDGER_PORT = 8760;

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const n = Number(value('--n') ?? (quick ? 3 : 30));
  if (!Number.isInteger(n) || n < 1) throw new Error('--n must be a positive integer');
  return {
    quick,
    n,
    gasReps: quick ? 3 : 5,
    out: path.resolve(value('--out') ?? path.join(ROOT, 'bench', 'results', 'custody.json')),
    latency: !argv.includes('--skip-latency'),
    gas: !argv.includes('--skip-gas'),
  };
}

// Load average, sampled through the run (the machine is shared)
const loadSamples: number[] = [os.loadavg()[0]!];
const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]!), 5000);
loadTimer.unref();

// ---------------------------------------------------------------------------------------------
// In-process FROST: the floor (same library, same messages, no processes, HTTP, HSM or database)

interface InProcessSet {
  publicPackage: PublicKeyPackage;
  keys: Map<Identifier, KeyPackage>;
  ids: Identifier[];
}

function inProcessDkg(t: number, n: number): InProcessSet {
  const threshold = { min: t, max: n };
  const ids = Array.from({ length: n }, (_, i) => identifierFromNumber(i + 1));
  const round1 = ids.map((id) => dkgRound1(id, threshold));
  const broadcasts = round1.map((r) => r.broadcast);
  const othersOf = (id: Identifier) => broadcasts.filter((b) => b.identifier !== id);
  const round2 = round1.flatMap((r, i) => dkgRound2(r.state, othersOf(ids[i]!)));
  const keys = new Map<Identifier, KeyPackage>();
  let reference: string | undefined;
  let publicPackage: PublicKeyPackage | undefined;
  round1.forEach((r, i) => {
    const id = ids[i]!;
    const out = dkgFinalize(r.state, othersOf(id), round2.filter((p) => p.to === id));
    keys.set(id, out.keyPackage);
    const json = canonicalJson(out.publicPackage);
    if (reference === undefined) {
      reference = json;
      publicPackage = out.publicPackage;
    } else if (json !== reference) throw new Error('in-process DKG: participants disagree on the public package');
  });
  return { publicPackage: publicPackage!, keys, ids };
}

/** Commit, shares, each share verified, aggregation (which checks the shares again, as the coordinator's does) and a final verification. */
function inProcessSign(set: InProcessSet, t: number, message: Uint8Array): string {
  const signers = set.ids.slice(0, t);
  const round1 = signers.map((id) => signRound1(set.keys.get(id)!));
  const commitments = round1.map((r) => r.commitments);
  const shares: SignatureShare[] = round1.map((r, i) => signRound2(set.keys.get(signers[i]!)!, set.publicPackage, r.nonces, commitments, message));
  for (const s of shares) if (!verifySignatureShare(set.publicPackage, commitments, message, s)) throw new Error('in-process share does not verify');
  const signature = aggregateSignature(set.publicPackage, commitments, message, shares);
  if (!verifySignature(signature, message, set.publicPackage.groupPublicKey)) throw new Error('in-process signature does not verify');
  return signature;
}

// ---------------------------------------------------------------------------------------------
// 1 + 2. Latency across signer node processes vs in process

async function latencyBenchmark(opts: Options, tmp: string) {
  // The coordinator's P-256 key lives in an HSM token of its own, as in the service.
  const token = ensureLocalToken({ dir: path.join(tmp, 'coordinator-hsm'), label: 'bench-coordinator' });
  const savedConf = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = token.confPath;
  const hsm = new Pkcs11Client();
  await hsm.open({ modulePath: process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: token.label, pin: token.pin, sessions: 2 });
  if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = savedConf;
  let nodes: LocalSignerNodes | undefined;
  try {
    const { publicKey } = await hsm.ensureEcKeyPair('bench-coordinator-p256', 'P-256');
    const key: MessageSigner = { publicKey, signDigest: (d) => hsm.signEcdsaDigest('bench-coordinator-p256', d) };
    const ports: number[] = [];
    for (let i = 0; i < NODE_IDS.length; i++) ports.push(await freeLoopbackPort());
    log(`latency: starting ${NODE_IDS.length} signer node processes`);
    const t0 = now();
    nodes = await startLocalSignerNodes({
      ids: NODE_IDS,
      ports,
      coordinatorPublicKeyHex: Buffer.from(publicKey).toString('hex'),
      hsmDir: path.join(tmp, 'signers-hsm'),
      dataDir: path.join(tmp, 'signers-data'),
    });
    const startUp = fig(now() - t0, `ms (${NODE_IDS.length} nodes started one after the other, tokens created)`);
    const refs: SignerNodeRef[] = nodes.ids.map((id, i) => ({ id, url: nodes!.urls[i]! }));
    const coordinator = new SignerCoordinator(key);

    // A P-256 signature by the coordinator's HSM key: a component of every request.
    const hsmSign: number[] = [];
    for (let i = 0; i < (opts.quick ? 20 : 100); i++) {
      const d = randomBytes(32);
      const t = now();
      await key.signDigest(d);
      hsmSign.push(now() - t);
    }

    const out: Record<string, unknown> = {
      signerNodesStartUp: startUp,
      coordinatorHsmP256Sign: summarize(hsmSign, 'ms per request signature (SoftHSM2, in the coordinator process)'),
    };
    for (const c of CONFIGS) {
      const quorumNodes = refs.slice(0, c.n);
      log(`latency ${c.name}: DKG, ${opts.n} runs per side (+1 warm-up), interleaved`);
      const dkgProc: number[] = [];
      const dkgLocal: number[] = [];
      let wallet: DkgResult | undefined;
      let set: InProcessSet | undefined;
      for (let i = 0; i <= opts.n; i++) {
        let t = now();
        wallet = await coordinator.runDkg(quorumNodes, c.t);
        const p = now() - t;
        t = now();
        set = inProcessDkg(c.t, c.n);
        const l = now() - t;
        if (i > 0) {
          dkgProc.push(p);
          dkgLocal.push(l);
        }
      }
      log(`latency ${c.name}: signing, ${opts.n} runs per side (+1 warm-up), interleaved`);
      const signProc: number[] = [];
      const signLocal: number[] = [];
      for (let i = 0; i <= opts.n; i++) {
        const message = new Uint8Array(randomBytes(32));
        let t = now();
        const r = await coordinator.sign(quorumNodes, wallet!.walletId, message, wallet!.public);
        const p = now() - t;
        if (r.failures.length || r.quorum.length !== c.t) throw new Error(`signing ${c.name}: unexpected quorum ${r.quorum.join(',')} / ${r.failures.length} failures`);
        if (!verifySignature(r.signature, message, r.groupPublicKey)) throw new Error(`signing ${c.name}: the cross-process signature does not verify`);
        t = now();
        inProcessSign(set!, c.t, message);
        const l = now() - t;
        if (i > 0) {
          signProc.push(p);
          signLocal.push(l);
        }
      }
      const ratio = (a: number[], b: number[]) => fig(median(a) / median(b), 'x (p50 across processes / p50 in process)');
      const perPair = (a: number[], b: number[]) => summarize(a.map((x, i) => x / b[i]!), 'x (per interleaved pair)');
      out[c.name] = {
        threshold: { t: c.t, n: c.n },
        dkg: {
          acrossProcesses: summarize(dkgProc, `ms per key generation (${c.n} signer node processes, 3 HTTP rounds)`),
          inProcess: summarize(dkgLocal, `ms per key generation (${c.n} participants in one process)`),
          ratioP50: ratio(dkgProc, dkgLocal),
          ratioPerPair: perPair(dkgProc, dkgLocal),
        },
        signing: {
          quorum: c.t,
          acrossProcesses: summarize(signProc, `ms per signature (${c.t} nodes: commit, shares, share checks, aggregate, verify)`),
          inProcess: summarize(signLocal, `ms per signature (${c.t} signers in one process, same steps)`),
          ratioP50: ratio(signProc, signLocal),
          ratioPerPair: perPair(signProc, signLocal),
        },
      };
      log(
        `latency ${c.name}: DKG p50 ${round(median(dkgProc), 3)} ms vs ${round(median(dkgLocal), 3)} ms in process; ` +
          `sign p50 ${round(median(signProc), 3)} ms vs ${round(median(signLocal), 3)} ms`,
      );
    }
    return out;
  } finally {
    await nodes?.stop();
    await hsm.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Gas

async function gasBenchmark(opts: Options) {
  const artifactsDir = path.join(ROOT, 'artifacts');
  const art = (qualified: string) => readContractArtifact(artifactsDir, qualified);
  log(`gas: starting a local ledger node on port ${LEDGER_PORT}`);
  let node: LocalLedgerNode | undefined;
  let provider: JsonRpcProvider | undefined;
  try {
    node = await startLocalLedgerNode({ port: LEDGER_PORT, cwd: ROOT });
    provider = new JsonRpcProvider(node.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    const signers: JsonRpcSigner[] = await Promise.all([0, 1, 2].map((i) => provider!.getSigner(i)));
    const [deployer, eoa, existing] = signers as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner];
    const existingAddress = await existing.getAddress();
    const clientVersion = String(await provider.send('web3_clientVersion', []));
    const deployGas: Record<string, unknown> = {};
    const deploy = async (key: string, qualified: string, args: unknown[] = []): Promise<Contract> => {
      const a = await art(qualified);
      const c = (await new ContractFactory(a.abi, a.bytecode, deployer).deploy(...args)) as Contract;
      deployGas[key] = fig(Number((await c.deploymentTransaction()!.wait())!.gasUsed), 'gas');
      return c;
    };

    const set = inProcessDkg(2, 3);
    const groupKey = groupKeyForContract(set.publicPackage.groupPublicKey);
    const keyTuple = [groupKey.x, groupKey.parity] as const;
    const sigFor = (digest: string) => {
      const s = signatureForContract(inProcessSign(set, 2, Uint8Array.from(Buffer.from(digest.slice(2), 'hex'))));
      return [s.rx, s.ry, s.z] as const;
    };

    const wallet = await deploy('CustodyWallet', 'contracts/custody/CustodyWallet.sol:CustodyWallet', [keyTuple]);
    const harness = await deploy('FrostSecp256k1Harness', 'contracts/custody/testing/FrostSecp256k1Harness.sol:FrostSecp256k1Harness');
    const walletAddress = await wallet.getAddress();
    await (await deployer.sendTransaction({ to: walletAddress, value: 10n ** 20n })).wait();

    const execute = async (to: string): Promise<number> => {
      const value = 10n ** 15n;
      const nonce = (await wallet.getFunction('nonce')()) as bigint;
      const digest = (await wallet.getFunction('executeDigest')(to, value, '0x', nonce)) as string;
      const tx = await wallet.getFunction('execute')(to, value, '0x', nonce, sigFor(digest));
      const receipt = (await tx.wait())!;
      if (receipt.status !== 1) throw new Error('execute reverted');
      return Number(receipt.gasUsed);
    };
    const existingGas: number[] = [];
    const freshGas: number[] = [];
    const plainExisting: number[] = [];
    const plainFresh: number[] = [];
    const verifyTx: number[] = [];
    const verifyInEvm: number[] = [];
    // The wallet's first execute also turns its nonce slot from zero to non-zero: reported apart.
    const firstExecute = await execute(existingAddress);
    log(`gas: ${opts.gasReps} transactions per figure`);
    for (let i = 0; i < opts.gasReps; i++) {
      existingGas.push(await execute(existingAddress));
      freshGas.push(await execute(Wallet.createRandom().address));
      const r1 = (await (await eoa.sendTransaction({ to: existingAddress, value: 10n ** 15n })).wait())!;
      plainExisting.push(Number(r1.gasUsed));
      const r2 = (await (await eoa.sendTransaction({ to: Wallet.createRandom().address, value: 10n ** 15n })).wait())!;
      plainFresh.push(Number(r2.gasUsed));
      const message = `0x${randomBytes(32).toString('hex')}`;
      const sig = sigFor(message);
      const [valid, used] = (await harness.getFunction('verifyWithGas')(keyTuple, message, sig)) as [boolean, bigint];
      if (!valid) throw new Error('the library rejects a valid signature');
      verifyInEvm.push(Number(used));
      const vtx = await harness.getFunction('verify').send(keyTuple, message, sig);
      verifyTx.push(Number((await vtx.wait())!.gasUsed));
    }
    const g = (xs: number[], what: string) => ({ ...fig(median(xs), `gas (median of ${xs.length}, ${what})`), min: Math.min(...xs), max: Math.max(...xs) });
    const base = median(plainExisting);
    return {
      ledger: { client: clientVersion, chainId: 31337 },
      deploy: deployGas,
      plainEthTransferFromEoa: {
        toExistingAccount: g(plainExisting, 'gasUsed'),
        toFreshAccount: g(plainFresh, 'gasUsed'),
      },
      executeEthTransfer: {
        toExistingAccount: g(existingGas, 'gasUsed of CustodyWallet.execute'),
        toFreshAccount: g(freshGas, 'gasUsed of CustodyWallet.execute'),
        firstExecuteOfTheWallet: fig(firstExecute, 'gas (the first execute, to an existing account: nonce slot 0 -> 1; not in the medians)'),
        overPlainTransferExisting: fig(median(existingGas) - base, 'gas (execute to an existing account - plain transfer)'),
        overPlainTransferFresh: fig(median(freshGas) - median(plainFresh), 'gas (execute to a fresh account - plain transfer to a fresh account)'),
        ratioToPlainTransfer: fig(median(existingGas) / base, 'x (execute to an existing account / plain transfer)'),
      },
      verifyLibrary: {
        inEvm: g(verifyInEvm, 'FrostSecp256k1.verify measured with gasleft() inside the EVM, no call overhead'),
        asTransaction: g(verifyTx, 'gasUsed of a transaction calling a harness that only verifies: 21,000 + calldata + verify'),
        shareOfExecute: fig(median(verifyInEvm) / median(existingGas), 'fraction of execute to an existing account'),
      },
    };
  } finally {
    await node?.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function machine() {
  return { ...machineInfo(ROOT), loadAverageAtStart: loadAverages() };
}

function summary(r: Record<string, unknown>) {
  const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o);
  const out: Record<string, unknown> = {};
  if (r.latency) {
    for (const c of CONFIGS) {
      const k = c.name.replace(/-/g, '');
      for (const step of ['dkg', 'signing']) {
        out[`${step}${k}AcrossProcessesP50`] = fig(get(r.latency, c.name, step, 'acrossProcesses', 'p50') as number, 'ms');
        out[`${step}${k}AcrossProcessesP95`] = fig(get(r.latency, c.name, step, 'acrossProcesses', 'p95') as number, 'ms');
        out[`${step}${k}InProcessP50`] = fig(get(r.latency, c.name, step, 'inProcess', 'p50') as number, 'ms');
        out[`${step}${k}RatioP50`] = get(r.latency, c.name, step, 'ratioP50');
      }
    }
  }
  if (r.gas) {
    out.executeToExistingGas = get(r.gas, 'executeEthTransfer', 'toExistingAccount', 'value');
    out.executeToFreshGas = get(r.gas, 'executeEthTransfer', 'toFreshAccount', 'value');
    out.verifyLibraryGasInEvm = get(r.gas, 'verifyLibrary', 'inEvm', 'value');
    out.plainEthTransferGas = get(r.gas, 'plainEthTransferFromEoa', 'toExistingAccount', 'value');
    out.gasUnit = 'gas';
  }
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = now();
  log(`custody benchmark${opts.quick ? ' (quick)' : ''}; results -> ${path.relative(ROOT, opts.out)}`);
  const result: Record<string, unknown> = { benchmark: 'custody', quick: opts.quick, machine: machine(), runsPerSide: opts.n };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'custody-bench-'));
  const finish = () => {
    const l = [...loadSamples, os.loadavg()[0]!];
    result.loadAverage1m = { unit: 'runnable processes, sampled every 5 s', p50: round(median(l)), p95: round(percentile(l, 0.95)), max: round(Math.max(...l)), samples: l.length };
    result.totalRunTime = fig((now() - started) / 1000, 's');
    writeResults(opts.out, result);
  };
  const load = () => fig(os.loadavg()[0]!, 'runnable processes (1-minute load average when the section started)');
  try {
    if (opts.latency) {
      const l = load();
      result.latency = { loadAverageAtStart: l, ...(await latencyBenchmark(opts, tmp)) };
      finish();
    }
    if (opts.gas) {
      const l = load();
      result.gas = { loadAverageAtStart: l, ...(await gasBenchmark(opts)) };
    }
    result.summary = summary(result);
    finish();
    log(`done in ${round((now() - started) / 1000, 3)} s; wrote ${path.relative(ROOT, opts.out)}`);
  } finally {
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
