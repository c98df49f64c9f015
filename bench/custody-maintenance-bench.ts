/**
 * Custody share maintenance benchmark: share refresh (2-of-3, same nodes) and resharing
 * (2-of-3 {1,2,3} <-> 3-of-5 {1..5}) across signer node processes over loopback HTTP, two-phase
 * (stage, then commit), against two peers measured in the same run, interleaved:
 *   - a fresh dealerless key generation of the same size across the same nodes (what replacing
 *     the key instead of its shares would cost, before any on-chain key rotation), and
 *   - the same resharing in one process (src/custody/frost reshareDeal / reshareFinalize: the floor,
 *     no processes, HTTP, HSM, encryption or database).
 * See docs/custody-maintenance.md.
 *
 *   npm run build && node dist/bench/custody-maintenance-bench.js [--quick] [--n N] [--out FILE]
 *
 * Needs SoftHSM2. Five signer nodes are started on free loopback ports and stopped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignerCoordinator, type DkgResult, type SignerNodeRef } from '../src/custody/coordinator/signer-coordinator.js';
import { commitShares, stageShares, type MaintenancePlan } from '../src/custody/coordinator/share-maintenance-coordinator.js';
import {
  dkgFinalize, dkgRound1, dkgRound2, identifierFromNumber, reshareDeal, reshareFinalize, verifySignature,
  type Identifier, type KeyPackage, type PublicKeyPackage,
} from '../src/custody/frost/index.js';
import type { WirePublic } from '../src/custody/signer/frost-adapter.js';
import { freeLoopbackPort, startLocalSignerNodes, type LocalSignerNodes } from '../src/custody/signer/local-nodes.js';
import type { MessageSigner } from '../src/custody/signer/message-auth.js';
import { ensureLocalToken } from '../src/hsm/local-token.js';
import { Pkcs11Client } from '../src/hsm/pkcs11-client.js';
import { fig, log, median, now, round, summarize } from './lib/stats.js';
import { loadAverages, machineInfo, projectRoot, writeResults } from './lib/harness.js';

const ROOT = projectRoot();
const NODE_IDS = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'];

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const n = Number(value('--n') ?? (quick ? 3 : 15));
  if (!Number.isInteger(n) || n < 1) throw new Error('--n must be a positive integer');
  return { quick, n, out: path.resolve(value('--out') ?? path.join(ROOT, 'bench', 'results', 'custody-maintenance.json')) };
}

// In-process floor: a DKG key set, then the same resharing with every message in memory.
function inProcessKey(t: number, n: number): { pub: PublicKeyPackage; keys: Map<Identifier, KeyPackage>; ids: Identifier[] } {
  const ids = Array.from({ length: n }, (_, i) => identifierFromNumber(i + 1));
  const r1 = ids.map((id) => dkgRound1(id, { min: t, max: n }));
  const b = r1.map((r) => r.broadcast);
  const others = (id: Identifier) => b.filter((x) => x.identifier !== id);
  const r2 = r1.flatMap((r, i) => dkgRound2(r.state, others(ids[i]!)));
  const keys = new Map<Identifier, KeyPackage>();
  let pub: PublicKeyPackage | undefined;
  r1.forEach((r, i) => {
    const out = dkgFinalize(r.state, others(ids[i]!), r2.filter((p) => p.to === ids[i]));
    keys.set(ids[i]!, out.keyPackage);
    pub = out.publicPackage;
  });
  return { pub: pub!, keys, ids };
}

function inProcessReshare(set: ReturnType<typeof inProcessKey>, dealers: Identifier[], t: number, members: Identifier[]): void {
  const deals = dealers.map((d) => reshareDeal(set.keys.get(d)!, set.pub, dealers, { min: t, max: members.length }, members));
  const broadcasts = deals.map((d) => d.broadcast);
  const shares = deals.flatMap((d) => d.shares);
  for (const m of members) reshareFinalize(m, set.pub, dealers, { min: t, max: members.length }, members, broadcasts, shares.filter((s) => s.to === m));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'custody-maintenance-bench-'));
  const token = ensureLocalToken({ dir: path.join(tmp, 'coordinator-hsm'), label: 'bench-coordinator' });
  const savedConf = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = token.confPath;
  const hsm = new Pkcs11Client();
  await hsm.open({ modulePath: process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: token.label, pin: token.pin, sessions: 2 });
  if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = savedConf;
  const loadBefore = loadAverages();
  let nodes: LocalSignerNodes | undefined;
  try {
    const { publicKey } = await hsm.ensureEcKeyPair('bench-coordinator-p256', 'P-256');
    const key: MessageSigner = { publicKey, signDigest: (d) => hsm.signEcdsaDigest('bench-coordinator-p256', d) };
    const ports: number[] = [];
    for (let i = 0; i < NODE_IDS.length; i++) ports.push(await freeLoopbackPort());
    log(`starting ${NODE_IDS.length} signer node processes`);
    nodes = await startLocalSignerNodes({
      ids: NODE_IDS, ports, coordinatorPublicKeyHex: Buffer.from(publicKey).toString('hex'),
      hsmDir: path.join(tmp, 'signers-hsm'), dataDir: path.join(tmp, 'signers-data'),
    });
    const refs: SignerNodeRef[] = nodes.ids.map((id, i) => ({ id, url: nodes!.urls[i]! }));
    const coordinator = new SignerCoordinator(key);
    const small = refs.slice(0, 3);

    // --- refresh 2-of-3 vs a fresh 2-of-3 DKG vs the in-process refresh
    const refreshWallet: DkgResult = await coordinator.runDkg(small, 2);
    let pub: WirePublic = refreshWallet.public;
    let version = 1;
    const stage: number[] = [];
    const commit: number[] = [];
    const total: number[] = [];
    const dkg: number[] = [];
    const local: number[] = [];
    const localSet = inProcessKey(2, 3);
    log(`refresh 2-of-3: ${opts.n} runs per side (+1 warm-up), interleaved`);
    for (let i = 0; i <= opts.n; i++) {
      const plan: MaintenancePlan = { walletId: refreshWallet.walletId, ceremonyId: randomUUID(), fromVersion: version, oldPublic: pub, oldNodes: small, newNodes: small, threshold: 2 };
      const t0 = now();
      const staged = await stageShares(coordinator, plan);
      const t1 = now();
      await commitShares(coordinator, plan, staged.public);
      const t2 = now();
      pub = staged.public;
      version = staged.version;
      const m = new Uint8Array(randomBytes(32));
      const signed = await coordinator.sign(small, refreshWallet.walletId, m, pub, { version });
      if (!verifySignature(signed.signature, m, refreshWallet.groupPublicKey)) throw new Error('refreshed shares do not sign');
      let t = now();
      await coordinator.runDkg(small, 2);
      const d = now() - t;
      t = now();
      inProcessReshare(localSet, localSet.ids, 2, localSet.ids);
      const l = now() - t;
      if (i > 0) {
        stage.push(t1 - t0);
        commit.push(t2 - t1);
        total.push(t2 - t0);
        dkg.push(d);
        local.push(l);
      }
    }

    // --- reshare 2-of-3 {1,2,3} <-> 3-of-5 {1..5}
    const reshareWallet = await coordinator.runDkg(small, 2);
    let current = { nodes: small, threshold: 2, pub: reshareWallet.public, version: 1 };
    const up: number[] = [];
    const down: number[] = [];
    const dkg5: number[] = [];
    const local5: number[] = [];
    const local5Set = inProcessKey(2, 3);
    const ids5 = Array.from({ length: 5 }, (_, i) => identifierFromNumber(i + 1));
    log(`reshare 2-of-3 <-> 3-of-5: ${opts.n} runs each way (+1 warm-up)`);
    for (let i = 0; i <= opts.n; i++) {
      for (const target of [{ nodes: refs, threshold: 3 }, { nodes: small, threshold: 2 }]) {
        const plan: MaintenancePlan = {
          walletId: reshareWallet.walletId, ceremonyId: randomUUID(), fromVersion: current.version, oldPublic: current.pub,
          oldNodes: current.nodes, newNodes: target.nodes, threshold: target.threshold,
        };
        const t0 = now();
        const staged = await stageShares(coordinator, plan);
        await commitShares(coordinator, plan, staged.public);
        const ms = now() - t0;
        current = { nodes: target.nodes, threshold: target.threshold, pub: staged.public, version: staged.version };
        if (i > 0) (target.threshold === 3 ? up : down).push(ms);
      }
      const m = new Uint8Array(randomBytes(32));
      const signed = await coordinator.sign(current.nodes, reshareWallet.walletId, m, current.pub, { version: current.version });
      if (!verifySignature(signed.signature, m, reshareWallet.groupPublicKey)) throw new Error('reshared shares do not sign');
      let t = now();
      await coordinator.runDkg(refs, 3);
      const d = now() - t;
      t = now();
      inProcessReshare(local5Set, local5Set.ids, 3, ids5);
      const l = now() - t;
      if (i > 0) {
        dkg5.push(d);
        local5.push(l);
      }
    }

    const ratio = (a: number[], b: number[], what: string) => fig(median(a) / median(b), what);
    const results = {
      benchmark: 'custody-maintenance',
      machine: machineInfo(ROOT),
      load: { before: loadBefore, after: loadAverages() },
      options: { n: opts.n, quick: opts.quick },
      refresh2of3: {
        stage: summarize(stage, 'ms (prepare, deal, stage on 3 node processes, coordinator checks)'),
        commit: summarize(commit, 'ms (commit on 3 node processes)'),
        total: summarize(total, 'ms per refresh'),
        peerFreshDkg2of3: summarize(dkg, 'ms per dealerless key generation, same nodes'),
        floorInProcess: summarize(local, 'ms per refresh in one process (reshareDeal x3 + reshareFinalize x3)'),
        ratioToFreshDkgP50: ratio(total, dkg, 'x (refresh p50 / DKG p50)'),
        ratioToInProcessP50: ratio(total, local, 'x (refresh p50 / in-process p50)'),
      },
      reshare: {
        from2of3to3of5: summarize(up, 'ms per reshare (3 dealers, 5 members)'),
        from3of5to2of3: summarize(down, 'ms per reshare (5 dealers, 3 members, 2 nodes retire)'),
        peerFreshDkg3of5: summarize(dkg5, 'ms per dealerless 3-of-5 key generation, same nodes'),
        floorInProcess2of3to3of5: summarize(local5, 'ms in one process'),
        ratioUpToFreshDkgP50: ratio(up, dkg5, 'x (2-of-3 -> 3-of-5 p50 / 3-of-5 DKG p50)'),
      },
    };
    writeResults(opts.out, results);
    log(`refresh 2-of-3 p50 ${round(median(total), 2)} ms (stage ${round(median(stage), 2)}, commit ${round(median(commit), 2)}); fresh DKG p50 ${round(median(dkg), 2)} ms; in process ${round(median(local), 3)} ms`);
    log(`reshare 2-of-3 -> 3-of-5 p50 ${round(median(up), 2)} ms, back ${round(median(down), 2)} ms; fresh 3-of-5 DKG p50 ${round(median(dkg5), 2)} ms`);
    log(`wrote ${opts.out}`);
  } finally {
    await nodes?.stop();
    await hsm.close().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
