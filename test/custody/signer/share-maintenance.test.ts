/**
 * Share refresh and resharing across four signer node processes (own SoftHSM token and PGlite
 * folder each), driven by the coordinator with the two-phase stage/commit protocol: a refresh
 * changes every share (unsealed and compared) and keeps the group key; an old share does not
 * combine with new ones; resharing {a,b,c} -> {b,c,d} leaves a with no share; a dealer whose
 * dealing does not verify is named and nothing is committed; a node killed between stage and
 * commit ends in completion on retry (or abort), never in a signing set with mixed versions.
 */
import { randomUUID } from 'node:crypto';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { NodeFailure, QuorumError, SignerCoordinator, type DkgResult, type SignerNodeRef } from '../../../src/custody/coordinator/signer-coordinator.js';
import {
  ReshareAbortedError, abortShares, commitShares, stageShares, type MaintenancePlan,
} from '../../../src/custody/coordinator/share-maintenance-coordinator.js';
import { checkSharesInterpolate } from '../../../src/custody/coordinator/share-interpolation.js';
import { aggregateSignature, signRound1, signRound2, InvalidSignatureSharesError, type KeyPackage, type PublicKeyPackage } from '../../../src/custody/frost/index.js';
import { identifierOf, type WirePublic } from '../../../src/custody/signer/frost-adapter.js';
import { newRequestPayload, signMessage, type MessageSigner } from '../../../src/custody/signer/message-auth.js';
import { buildEntryPoints, exited, nodeHome, runHelper, startNode, type NodeHome, type RunningNode } from './support.js';

const MAIN = 'src/custody/signer/main.ts';
const READ = 'test/custody/signer/read-share-versions.ts';
const IDS = ['mnt-a', 'mnt-b', 'mnt-c', 'mnt-d'];

const hsm = new Pkcs11Client();
const coordinatorLabel = `test-maint-coordinator-${randomUUID().slice(0, 8)}`;
let coordinatorKey: MessageSigner;
let coordinator: SignerCoordinator;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
const homes = new Map<string, NodeHome>();
const running = new Map<string, RunningNode>();

const ref = (id: string): SignerNodeRef => ({ id, url: running.get(id)!.url });
const refs = (ids: string[]) => ids.map(ref);
const msg = (byte: number) => new Uint8Array(32).fill(byte);
const verifies = (signature: string, m: Uint8Array, groupKey: string) =>
  secp256k1_FROST.verify(Buffer.from(signature, 'hex'), m, Buffer.from(groupKey, 'hex'));

interface Dump { share: string | null; version: number | null; rows: { version: number; status: string; ceremony_id: string | null }[] }

async function stop(id: string): Promise<void> {
  const n = running.get(id)!;
  n.child.kill('SIGKILL');
  await exited(n.child);
}
async function restart(id: string): Promise<void> {
  running.set(id, await startNode(build.js(MAIN), homes.get(id)!, running.get(id)!.port));
}
/** Stops the nodes, reads their shares from their sealed stores, and restarts them. */
async function readShares(walletId: string, ids: string[]): Promise<Record<string, Dump>> {
  const out: Record<string, Dump> = {};
  for (const id of ids) await stop(id);
  for (const id of ids) out[id] = JSON.parse(await runHelper(build.js(READ), homes.get(id)!, [walletId])) as Dump;
  await Promise.all(ids.map((id) => restart(id)));
  return out;
}

const toPackage = (p: WirePublic): PublicKeyPackage => ({
  threshold: { min: p.signers.min, max: p.signers.max },
  groupPublicKey: p.commitments[0]!,
  commitments: p.commitments,
  verifyingShares: p.verifyingShares,
});

beforeAll(async () => {
  build = await buildEntryPoints([MAIN, READ]);
  await hsm.open({ modulePath: process.env.HSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 2 });
  const { publicKey } = await hsm.ensureEcKeyPair(coordinatorLabel, 'P-256');
  coordinatorKey = { publicKey, signDigest: (d) => hsm.signEcdsaDigest(coordinatorLabel, d) };
  coordinator = new SignerCoordinator(coordinatorKey, { timeoutMs: 5_000 });
  const pubHex = Buffer.from(publicKey).toString('hex');
  for (const id of IDS) homes.set(id, nodeHome(id, pubHex));
  const started = await Promise.all(IDS.map((id) => startNode(build.js(MAIN), homes.get(id)!)));
  for (const n of started) running.set(n.id, n);
}, 240_000);

afterAll(async () => {
  for (const n of running.values()) {
    n.child.kill('SIGKILL');
    await exited(n.child);
  }
  await hsm.close();
  build?.remove();
});

describe('share refresh and resharing across signer nodes', () => {
  let wallet: DkgResult;
  let oldDump: Record<string, Dump>;
  let newDump: Record<string, Dump>;
  let refreshed: WirePublic;

  test('refresh 2-of-3: every share changes, the group key does not; the new shares sign', async () => {
    wallet = await coordinator.runDkg(refs(['mnt-a', 'mnt-b', 'mnt-c']), 2, `wallet-${randomUUID()}`);
    oldDump = await readShares(wallet.walletId, ['mnt-a', 'mnt-b', 'mnt-c']);
    // A nonce committed under version 1, to be offered after the refresh.
    const staleSession = randomUUID();
    const staleCommit = await coordinator.call<{ commitments: unknown }>(ref('mnt-a'), '/sign/commit', { walletId: wallet.walletId, sessionId: staleSession });

    const plan: MaintenancePlan = {
      walletId: wallet.walletId, ceremonyId: randomUUID(), fromVersion: 1, oldPublic: wallet.public,
      oldNodes: refs(['mnt-a', 'mnt-b', 'mnt-c']), newNodes: refs(['mnt-a', 'mnt-b', 'mnt-c']), threshold: 2,
    };
    const t0 = performance.now();
    const staged = await stageShares(coordinator, plan);
    const stageMs = performance.now() - t0;
    expect(staged.version).toBe(2);
    expect(staged.groupPublicKey).toBe(wallet.groupPublicKey);
    expect(checkSharesInterpolate(staged.public, wallet.groupPublicKey)).toBeNull();
    expect(staged.dealers).toEqual(['mnt-a', 'mnt-b', 'mnt-c']);
    for (const id of ['mnt-a', 'mnt-b', 'mnt-c']) expect(staged.verifyingShares[id]).not.toBe(wallet.verifyingShares[id]);
    // Staged is not current: the nodes still sign with version 1 only.
    const before = await coordinator.sign(refs(['mnt-a', 'mnt-b']), wallet.walletId, msg(1), wallet.public, { version: 1 });
    expect(verifies(before.signature, msg(1), wallet.groupPublicKey)).toBe(true);

    // Retries of stage and prepare are idempotent; a replayed message is refused.
    const again = await coordinator.call<{ verifyingShare: string; version: number }>(ref('mnt-b'), '/reshare/stage', { walletId: wallet.walletId, ceremonyId: plan.ceremonyId, broadcasts: [], packages: [] });
    expect(again).toMatchObject({ verifyingShare: staged.verifyingShares['mnt-b'], version: 2 });
    const replayed = await signMessage(coordinatorKey, newRequestPayload('mnt-c', '/reshare/stage', { walletId: wallet.walletId, ceremonyId: plan.ceremonyId, broadcasts: [], packages: [] }));
    const post = (m: unknown) => fetch(`${running.get('mnt-c')!.url}/reshare/stage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) });
    expect((await post(replayed)).status).toBe(200);
    expect((await post(replayed)).status).toBe(409);
    const forged = { ...replayed, payload: { ...replayed.payload, messageId: randomUUID() } };
    expect((await post(forged)).status).toBe(401);

    // Only the staged result the coordinator checked commits: another public package is refused everywhere.
    const wrong = await commitShares(coordinator, plan, wallet.public).catch((e: unknown) => e);
    expect((wrong as QuorumError).failures.map((f) => f.code)).toEqual(['staged-mismatch', 'staged-mismatch', 'staged-mismatch']);

    const t1 = performance.now();
    const committed = await commitShares(coordinator, plan, staged.public);
    const commitMs = performance.now() - t1;
    expect(committed.outcomes).toEqual({ 'mnt-a': 'committed', 'mnt-b': 'committed', 'mnt-c': 'committed' });
    // Idempotent on retry.
    expect((await commitShares(coordinator, plan, staged.public)).outcomes).toEqual({ 'mnt-a': 'already-committed', 'mnt-b': 'already-committed', 'mnt-c': 'already-committed' });
    console.log(`refresh 2-of-3 over node processes: stage ${stageMs.toFixed(0)} ms, commit ${commitMs.toFixed(0)} ms`);

    refreshed = staged.public;
    const after = await coordinator.sign(refs(['mnt-b', 'mnt-c']), wallet.walletId, msg(2), refreshed, { version: 2 });
    expect(verifies(after.signature, msg(2), wallet.groupPublicKey)).toBe(true);
    // A node refuses to sign with a version that is not current, and a nonce drawn under version 1 is spent.
    const old = await coordinator.sign(refs(['mnt-a', 'mnt-b']), wallet.walletId, msg(3), refreshed, { version: 1 }).catch((e: unknown) => e);
    expect(old).toBeInstanceOf(QuorumError);
    expect((old as QuorumError).failures.map((f) => f.code)).toContain('version-not-current');
    const stale = await coordinator
      .call(ref('mnt-a'), '/sign/share', { walletId: wallet.walletId, sessionId: staleSession, message: Buffer.from(msg(4)).toString('hex'), commitments: [staleCommit.commitments, staleCommit.commitments] })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(NodeFailure);
    expect((stale as NodeFailure).code).toMatch(/nonce-unknown|version-not-current/);

    newDump = await readShares(wallet.walletId, ['mnt-a', 'mnt-b', 'mnt-c']);
    for (const id of ['mnt-a', 'mnt-b', 'mnt-c']) {
      expect(oldDump[id]!.share).toMatch(/^[0-9a-f]{64}$/);
      expect(newDump[id]!.share).toMatch(/^[0-9a-f]{64}$/);
      expect(newDump[id]!.share).not.toBe(oldDump[id]!.share);
      // One row: the old version's sealed share is deleted.
      expect(newDump[id]!.rows.map((r) => [r.version, r.status])).toEqual([[2, 'current']]);
    }
  }, 240_000);

  test('an old share mixed with new ones does not produce a valid signature', () => {
    const key = (id: string, share: string): KeyPackage => ({
      identifier: identifierOf(id), signingShare: share, groupPublicKey: wallet.groupPublicKey, threshold: { min: 2, max: 3 },
    });
    const m = msg(5);
    const attempt = (a: KeyPackage, b: KeyPackage, pub: WirePublic) => {
      const ra = signRound1(a);
      const rb = signRound1(b);
      const list = [ra.commitments, rb.commitments];
      const shares = [signRound2(a, toPackage(pub), ra.nonces, list, m), signRound2(b, toPackage(pub), rb.nonces, list, m)];
      return aggregateSignature(toPackage(pub), list, m, shares);
    };
    // Old a + old b under the old package: a valid signature (the control).
    const control = attempt(key('mnt-a', oldDump['mnt-a']!.share!), key('mnt-b', oldDump['mnt-b']!.share!), wallet.public);
    expect(verifies(control, m, wallet.groupPublicKey)).toBe(true);
    const newPair = attempt(key('mnt-a', newDump['mnt-a']!.share!), key('mnt-b', newDump['mnt-b']!.share!), refreshed);
    expect(verifies(newPair, m, wallet.groupPublicKey)).toBe(true);
    // Old a with new b, under either package: the signature share that does not fit is named, no signature.
    const failure = (pub: WirePublic) => {
      try {
        attempt(key('mnt-a', oldDump['mnt-a']!.share!), key('mnt-b', newDump['mnt-b']!.share!), pub);
        return undefined;
      } catch (e) {
        return e;
      }
    };
    const underNew = failure(refreshed);
    expect(underNew).toBeInstanceOf(InvalidSignatureSharesError);
    expect((underNew as InvalidSignatureSharesError).culprits).toEqual([identifierOf('mnt-a')]);
    const underOld = failure(wallet.public);
    expect(underOld).toBeInstanceOf(InvalidSignatureSharesError);
    expect((underOld as InvalidSignatureSharesError).culprits).toEqual([identifierOf('mnt-b')]);
  });

  let reshared: WirePublic;
  test('reshare 2-of-3 {a,b,c} -> 2-of-3 {b,c,d}: the new set signs, a holds no share', async () => {
    const plan: MaintenancePlan = {
      walletId: wallet.walletId, ceremonyId: randomUUID(), fromVersion: 2, oldPublic: refreshed,
      oldNodes: refs(['mnt-a', 'mnt-b', 'mnt-c']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), threshold: 2,
    };
    const staged = await stageShares(coordinator, plan);
    expect(Object.keys(staged.verifyingShares)).toEqual(['mnt-b', 'mnt-c', 'mnt-d']);
    const done = await commitShares(coordinator, plan, staged.public);
    expect(done.outcomes).toEqual({ 'mnt-b': 'committed', 'mnt-c': 'committed', 'mnt-d': 'committed', 'mnt-a': 'retired' });
    reshared = staged.public;
    for (const pair of [['mnt-b', 'mnt-d'], ['mnt-c', 'mnt-d']]) {
      const r = await coordinator.sign(refs(pair), wallet.walletId, msg(6), reshared, { version: 3 });
      expect(verifies(r.signature, msg(6), wallet.groupPublicKey)).toBe(true);
    }
    const a = await coordinator.call(ref('mnt-a'), '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }).catch((e: unknown) => e);
    expect((a as NodeFailure).code).toBe('wallet-unknown');
    const dump = await readShares(wallet.walletId, ['mnt-a']);
    expect(dump['mnt-a']).toEqual({ share: null, version: null, rows: [] });
  }, 240_000);

  test('a dealer whose dealing does not verify is named; the ceremony aborts with nothing committed', async () => {
    // Fault injection after authentication: what a dealer sending sub-shares off its commitment would cause.
    class CheatingDealer extends SignerCoordinator {
      override async call<T>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
        const answer = await super.call<T>(node, path, body);
        if (node.id === 'mnt-c' && path === '/reshare/deal') {
          const a = answer as { broadcast: { from: string; commitment: string[] } };
          return { ...a, broadcast: { ...a.broadcast, commitment: [a.broadcast.commitment[0]!, a.broadcast.commitment[0]!] } } as T;
        }
        return answer;
      }
    }
    const cheat = new CheatingDealer(coordinatorKey, { timeoutMs: 5_000 });
    const plan: MaintenancePlan = {
      walletId: wallet.walletId, ceremonyId: randomUUID(), fromVersion: 3, oldPublic: reshared,
      oldNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), threshold: 2,
    };
    const failed = await stageShares(cheat, plan).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ReshareAbortedError);
    expect((failed as ReshareAbortedError).culprits).toEqual(['mnt-c']);
    expect((failed as ReshareAbortedError).failures.map((f) => [f.nodeId, f.kind])).toEqual([['mnt-c', 'bad-share']]);
    expect(await abortShares(coordinator, plan)).toEqual([]);
    // Nothing was staged, so nothing commits; the wallet still signs with version 3.
    const commit = await commitShares(coordinator, plan, reshared).catch((e: unknown) => e);
    expect((commit as QuorumError).failures.map((f) => f.code)).toEqual(['nothing-staged', 'nothing-staged', 'nothing-staged']);
    const r = await coordinator.sign(refs(['mnt-b', 'mnt-c']), wallet.walletId, msg(7), reshared, { version: 3 });
    expect(verifies(r.signature, msg(7), wallet.groupPublicKey)).toBe(true);
  }, 120_000);

  test('a node killed between stage and commit: the commit completes on retry; before the decision, abort', async () => {
    // Abort path: staged everywhere, one member dies, the ceremony is aborted; after restart its staged share is discarded.
    const abortPlan: MaintenancePlan = {
      walletId: wallet.walletId, ceremonyId: randomUUID(), fromVersion: 3, oldPublic: reshared,
      oldNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), threshold: 2,
    };
    await stageShares(coordinator, abortPlan);
    await stop('mnt-d');
    const missing = await abortShares(coordinator, abortPlan);
    expect(missing.map((f) => [f.nodeId, f.kind])).toEqual([['mnt-d', 'unavailable']]);
    await restart('mnt-d');
    expect(await abortShares(coordinator, abortPlan)).toEqual([]);
    const stillV3 = await coordinator.sign(refs(['mnt-c', 'mnt-d']), wallet.walletId, msg(8), reshared, { version: 3 });
    expect(verifies(stillV3.signature, msg(8), wallet.groupPublicKey)).toBe(true);

    // Commit path: a 3-of-3 refresh staged, then one member dies before the commit.
    const plan: MaintenancePlan = { ...abortPlan, ceremonyId: randomUUID(), threshold: 3, oldNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']) };
    const staged = await stageShares(coordinator, plan);
    await stop('mnt-c');
    const partial = await commitShares(coordinator, { ...plan, oldNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']) }, staged.public).catch((e: unknown) => e);
    expect(partial).toBeInstanceOf(QuorumError);
    expect((partial as QuorumError).failures.map((f) => [f.nodeId, f.kind])).toEqual([['mnt-c', 'unavailable']]);
    // b and d moved to version 4, c is down: no quorum of one version exists until c commits
    // (the service keeps the wallet at version 3 and blocks signing meanwhile).
    const mixed = await coordinator.sign(refs(['mnt-b', 'mnt-d']), wallet.walletId, msg(9), reshared, { version: 3 }).catch((e: unknown) => e);
    expect(mixed).toBeInstanceOf(QuorumError);
    await restart('mnt-c');
    const retried = await commitShares(coordinator, { ...plan, oldNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']), newNodes: refs(['mnt-b', 'mnt-c', 'mnt-d']) }, staged.public);
    expect(retried.outcomes).toEqual({ 'mnt-b': 'already-committed', 'mnt-c': 'committed', 'mnt-d': 'already-committed' });
    const r = await coordinator.sign(refs(['mnt-b', 'mnt-c', 'mnt-d']), wallet.walletId, msg(10), staged.public, { version: 4 });
    expect(verifies(r.signature, msg(10), wallet.groupPublicKey)).toBe(true);
    const dump = await readShares(wallet.walletId, ['mnt-b', 'mnt-c', 'mnt-d']);
    for (const id of ['mnt-b', 'mnt-c', 'mnt-d']) expect(dump[id]!.rows.map((row) => [row.version, row.status])).toEqual([[4, 'current']]);
  }, 240_000);
});
