/**
 * Share refresh and resharing ceremonies over HTTP against real parts: four signer node processes
 * (own SoftHSM token and PGlite folder each), the service's coordinator key in its HSM, the
 * CustodyWallet on the Hardhat node, PostgreSQL or PGlite. A 2-of-3 wallet is refreshed (every
 * share unsealed and compared, group key unchanged, a transfer executes), reshared to another node
 * set (the leaving node holds no share, the joining one signs), a cheating dealer is named with
 * nothing committed, and a node killed between stage and commit leaves the ceremony committing
 * (signing refused by the database meanwhile) until a retry completes it.
 */
import net from 'node:net';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import request from 'supertest';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { COORDINATOR_KEY_LABEL, CustodyWalletService } from '../../../src/custody/service/custody-wallet.service.js';
import { CeremonySigningService } from '../../../src/custody/service/ceremony-signing.service.js';
import { ShareMaintenanceService } from '../../../src/custody/service/share-maintenance.service.js';
import { digestHex } from '../../../src/custody/service/approval-digest.js';
import { maintenanceDigest } from '../../../src/custody/service/share-maintenance-digest.js';
import { SignerCoordinator, type SignerNodeRef } from '../../../src/custody/coordinator/signer-coordinator.js';
import { buildEntryPoints, exited, nodeHome, runHelper, startNode, type NodeHome, type RunningNode } from '../signer/support.js';
import { approvalKey, backend, bearer, expectProblem, openCustodyApp, type CustodyApp } from '../service/support.js';

const MAIN = 'src/custody/signer/main.ts';
const READ = 'test/custody/signer/read-share-versions.ts';
const IDS = ['svm-a', 'svm-b', 'svm-c', 'svm-d'];
const DEST = '0x' + '6d'.repeat(20);

let c: CustodyApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
let provider: JsonRpcProvider;
const homes = new Map<string, NodeHome>();
const running = new Map<string, RunningNode>();
const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256'), carol: approvalKey('secp256k1') };
let wallet: { id: string; address: string; groupKey: string };

interface Dump { share: string | null; version: number | null; rows: { version: number; status: string }[] }

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
async function stop(id: string): Promise<void> {
  const n = running.get(id)!;
  n.child.kill('SIGKILL');
  await exited(n.child);
}
async function restart(id: string): Promise<void> {
  running.set(id, await startNode(build.js(MAIN), homes.get(id)!, running.get(id)!.port));
}
async function readShares(ids: string[]): Promise<Record<string, Dump>> {
  const out: Record<string, Dump> = {};
  for (const id of ids) await stop(id);
  for (const id of ids) out[id] = JSON.parse(await runHelper(build.js(READ), homes.get(id)!, [wallet.id])) as Dump;
  await Promise.all(ids.map((id) => restart(id)));
  return out;
}

const maintenance = () => c.app.get(ShareMaintenanceService);
const requestMaintenance = (body: Record<string, unknown>, key = c.keys.alice, walletId = wallet.id) =>
  request(c.server).post(`/custody/wallets/${walletId}/maintenance`).set(bearer(key)).send(body);
const approve = (id: string, name: 'alice' | 'bob' | 'carol', signature: string) =>
  request(c.server).post(`/custody/maintenance/${id}/approvals`).set(bearer(c.keys[name])).send({ operator: name, signature });
async function approved(body: Record<string, unknown>): Promise<{ id: string; digest: string }> {
  const m = (await requestMaintenance(body).expect(201)).body as { id: string; digest: string };
  await approve(m.id, 'alice', keys.alice.sign(m.digest)).expect(201);
  const res = await approve(m.id, 'bob', keys.bob.sign(m.digest)).expect(201);
  expect(res.body.status).toBe('approved');
  return m;
}
const walletRow = async () =>
  (await c.ds.query(`SELECT group_key, threshold, node_ids, share_version, public_package FROM custody_wallet WHERE id = $1`, [wallet.id]))[0] as
    { group_key: string; threshold: number; node_ids: string[]; share_version: number; public_package: unknown };
const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);

/** A transfer approved by alice and bob, signed by the wallet's nodes, executed and confirmed on the ledger. */
async function transfer(value: bigint): Promise<void> {
  const before = await provider.getBalance(DEST);
  const cer = (await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: value.toString() }).expect(201)).body;
  for (const name of ['alice', 'bob'] as const) {
    await request(c.server).post(`/custody/ceremonies/${cer.id}/approvals`).set(bearer(c.keys[name])).send({ operator: name, signature: keys[name].sign(cer.digest) }).expect(201);
  }
  expect(await c.app.get(CeremonySigningService).advance(cer.id)).toBe('confirmed');
  expect(await provider.getBalance(DEST)).toBe(before + value);
}

/** Runs `body` with the service's coordinator replaced by `make(real key)` (fault injection after authentication). */
async function withCoordinator<T>(make: (key: ConstructorParameters<typeof SignerCoordinator>[0]) => SignerCoordinator, body: () => Promise<T>): Promise<T> {
  const wallets = c.app.get(CustodyWalletService);
  const hsm = c.app.get(HsmService);
  const { publicKey } = await hsm.ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
  const replacement = make({ publicKey, signDigest: (d) => hsm.signEcdsaDigest(COORDINATOR_KEY_LABEL, d) });
  const original = wallets.coordinator.bind(wallets);
  wallets.coordinator = async () => replacement;
  try {
    return await body();
  } finally {
    wallets.coordinator = original;
  }
}

beforeAll(async () => {
  build = await buildEntryPoints([MAIN, READ]);
  const ports = await Promise.all(IDS.map(() => freePort()));
  c = await openCustodyApp({ CUSTODY_SIGNER_URLS: ports.map((p) => `http://127.0.0.1:${p}`).join(',') });
  const { publicKey } = await c.app.get(HsmService).ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
  const pubHex = Buffer.from(publicKey).toString('hex');
  for (const [i, id] of IDS.entries()) {
    homes.set(id, nodeHome(id, pubHex));
    running.set(id, await startNode(build.js(MAIN), homes.get(id)!, ports[i]));
  }
  provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });

  for (const name of ['alice', 'bob', 'carol'] as const) {
    await request(c.server).post('/custody/operators').set(bearer(c.keys.admin))
      .send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey }).expect(201);
  }
  const created = await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 2, nodes: ['svm-a', 'svm-b', 'svm-c'] }).expect(201);
  wallet = { id: created.body.id, address: created.body.address, groupKey: created.body.groupKey };
  await request(c.server).put(`/custody/wallets/${wallet.id}/policy`).set(bearer(c.keys.admin))
    .send({ quorum: 2, operators: ['alice', 'bob'], perTransactionLimit: '100000', dailyLimit: '10000000', allowlist: [DEST] }).expect(200);
  const funder = await provider.getSigner(1);
  await (await funder.sendTransaction({ to: wallet.address, value: 10_000_000n })).wait();
}, 300_000);

afterAll(async () => {
  for (const n of running.values()) {
    n.child.kill('SIGKILL');
    await exited(n.child);
  }
  provider?.destroy();
  await c?.close();
  build?.remove();
});

describe(`custody share maintenance (${backend})`, () => {
  it('refuses bad maintenance requests with 4xx problems, storing nothing', async () => {
    expectProblem(await requestMaintenance({ kind: 'rotate' }), 400);
    expectProblem(await requestMaintenance({ kind: 'refresh', threshold: 2 }), 400);
    expectProblem(await requestMaintenance({ kind: 'reshare', nodes: ['svm-b', 'svm-c'] }), 400);
    expectProblem(await requestMaintenance({ kind: 'reshare', nodes: ['svm-b', 'svm-b'], threshold: 2 }), 400);
    expectProblem(await requestMaintenance({ kind: 'reshare', nodes: ['svm-b', 'svm-c'], threshold: 3 }), 422);
    expectProblem(await requestMaintenance({ kind: 'reshare', nodes: ['svm-b', 'svm-x'], threshold: 2 }), 422);
    expectProblem(await requestMaintenance({ kind: 'reshare', nodes: ['svm-c', 'svm-b', 'svm-a'], threshold: 2 }), 422);
    expectProblem(await requestMaintenance({ kind: 'refresh' }, c.keys.wallet), 403);
    expectProblem(await requestMaintenance({ kind: 'refresh' }, c.keys.alice, '00000000-0000-4000-8000-000000000000'), 404);
    expectProblem(await request(c.server).post('/custody/wallets/nope/maintenance').set(bearer(c.keys.alice)).send({ kind: 'refresh' }), 400);
    expectProblem(await request(c.server).get('/custody/maintenance/00000000-0000-4000-8000-000000000000').set(bearer(c.keys.admin)), 404);
    expect(await count(`SELECT count(*) AS n FROM custody_maintenance`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM audit_event WHERE type LIKE 'custody.maintenance.%'`)).toBe(0);
  });

  it('documents the maintenance routes in the OpenAPI document', async () => {
    const doc = (await request(c.server).get('/docs/openapi.json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/custody/wallets/{id}/maintenance'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/custody/maintenance'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/custody/maintenance/{id}'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/custody/maintenance/{id}/approvals'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/custody/maintenance/{id}/rejection'] ?? {})).toEqual(['post']);
  });

  it('refresh: approved by signatures over its digest; every share changes, the group key does not; a transfer executes', async () => {
    const oldShares = await readShares(['svm-a', 'svm-b', 'svm-c']);
    const before = await walletRow();
    const res = await requestMaintenance({ kind: 'refresh' });
    expect(res.status).toBe(201);
    const m = res.body;
    expect(m).toMatchObject({ kind: 'refresh', status: 'requested', fromNodes: ['svm-a', 'svm-b', 'svm-c'], toNodes: ['svm-a', 'svm-b', 'svm-c'], fromThreshold: 2, toThreshold: 2, fromVersion: 1, toVersion: 2, quorum: 2, groupKey: wallet.groupKey });
    // Operators recompute the digest from the fields they see.
    expect(m.digest).toBe(digestHex(maintenanceDigest({
      ceremonyId: m.id, kind: 'refresh', wallet: wallet.address, groupKey: m.groupKey, fromNodes: m.fromNodes, fromThreshold: 2, fromVersion: 1,
      toNodes: m.toNodes, toThreshold: 2, toVersion: 2, expiresAt: new Date(m.expiresAt),
    })));
    expectProblem(await requestMaintenance({ kind: 'refresh' }), 409); // one open maintenance per wallet
    expectProblem(await approve(m.id, 'alice', keys.alice.sign('0x' + '00'.repeat(32))), 422);
    expectProblem(await approve(m.id, 'carol', keys.carol.sign(m.digest)), 403); // not an approver of the policy
    expectProblem(await request(c.server).post(`/custody/maintenance/${m.id}/approvals`).set(bearer(c.keys.bob)).send({ operator: 'alice', signature: keys.alice.sign(m.digest) }), 403);
    expect((await approve(m.id, 'alice', keys.alice.sign(m.digest))).status).toBe(201);
    expectProblem(await approve(m.id, 'alice', keys.alice.sign(m.digest)), 409);

    // A transfer requested before the quorum holds the wallet: the approved maintenance waits for it.
    const cer = (await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '1' }).expect(201)).body;
    expect((await approve(m.id, 'bob', keys.bob.sign(m.digest))).body.status).toBe('approved');
    expect(await maintenance().advance(m.id)).toBe('approved');
    await request(c.server).post(`/custody/ceremonies/${cer.id}/rejection`).set(bearer(c.keys.bob)).send({ operator: 'bob', reason: 'share refresh first' }).expect(201);

    const t0 = performance.now();
    expect(await maintenance().advance(m.id)).toBe('completed');
    console.log(`refresh 2-of-3 ceremony (stage + commit over node processes, ${backend}): ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await maintenance().advance(m.id)).toBe('completed'); // a repeated job changes nothing
    const got = (await request(c.server).get(`/custody/maintenance/${m.id}`).set(bearer(c.keys.admin)).expect(200)).body;
    expect(got).toMatchObject({ status: 'completed', phase: null, approvals: ['alice', 'bob'], dealers: ['svm-a', 'svm-b', 'svm-c'], reason: null });
    expect((await request(c.server).get('/custody/maintenance?status=completed').set(bearer(c.keys.alice)).expect(200)).body.map((x: { id: string }) => x.id)).toEqual([m.id]);
    const after = await walletRow();
    expect(after).toMatchObject({ group_key: before.group_key, threshold: 2, share_version: 2 });
    expect(after.public_package).not.toEqual(before.public_package);

    const newShares = await readShares(['svm-a', 'svm-b', 'svm-c']);
    for (const id of ['svm-a', 'svm-b', 'svm-c']) {
      expect(newShares[id]!.share).toMatch(/^[0-9a-f]{64}$/);
      expect(newShares[id]!.share).not.toBe(oldShares[id]!.share);
      expect(newShares[id]!.rows.map((r) => [r.version, r.status])).toEqual([[2, 'current']]);
    }
    const types: { type: string }[] = await c.ds.query(`SELECT type FROM audit_event WHERE subject = $1 ORDER BY seq`, [`custody-maintenance:${m.id}`]);
    expect(types.map((t) => t.type)).toEqual([
      'custody.maintenance.requested', 'custody.maintenance.approval', 'custody.maintenance.approval', 'custody.maintenance.approved',
      'custody.maintenance.running', 'custody.maintenance.staged', 'custody.maintenance.completed',
    ]);
    await transfer(1000n);
  }, 300_000);

  it('reshare {a,b,c} -> {b,c,d}: the wallet signs with the new set (d included), a holds no share', async () => {
    const m = await approved({ kind: 'reshare', nodes: ['svm-b', 'svm-c', 'svm-d'], threshold: 2 });
    expect(await maintenance().advance(m.id)).toBe('completed');
    expect(await walletRow()).toMatchObject({ node_ids: ['svm-b', 'svm-c', 'svm-d'], threshold: 2, share_version: 3, group_key: wallet.groupKey });
    const a = await readShares(['svm-a']);
    expect(a['svm-a']).toEqual({ share: null, version: null, rows: [] });
    // With b down, the quorum is c and d: the joining node's share works.
    await stop('svm-b');
    try {
      await transfer(2000n);
    } finally {
      await restart('svm-b');
    }
    const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE subject = $1 AND type = 'custody.maintenance.completed'`, [`custody-maintenance:${m.id}`]);
    expect((typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body).outcomes).toEqual({ 'svm-a': 'retired', 'svm-b': 'committed', 'svm-c': 'committed', 'svm-d': 'committed' });
  }, 300_000);

  it('a dealer whose dealing does not verify is named; the ceremony aborts and nothing is committed', async () => {
    class CheatingDealer extends SignerCoordinator {
      override async call<T>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
        const answer = await super.call<T>(node, path, body);
        if (node.id === 'svm-c' && path === '/reshare/deal') {
          const a = answer as { broadcast: { from: string; commitment: string[] } };
          return { ...a, broadcast: { ...a.broadcast, commitment: [a.broadcast.commitment[0]!, a.broadcast.commitment[0]!] } } as T;
        }
        return answer;
      }
    }
    const before = await walletRow();
    const m = await approved({ kind: 'refresh' });
    const status = await withCoordinator((key) => new CheatingDealer(key), () => maintenance().advance(m.id));
    expect(status).toBe('aborted');
    const got = (await request(c.server).get(`/custody/maintenance/${m.id}`).set(bearer(c.keys.alice)).expect(200)).body;
    expect(got.reason).toMatch(/invalid dealing by svm-c/);
    expect(got.failures).toEqual([{ node: 'svm-c', kind: 'bad-share' }]);
    expect(await walletRow()).toEqual(before);
    expect(await count(`SELECT count(*) AS n FROM custody_wallet_activity WHERE wallet_id = $1`, [wallet.id])).toBe(0);
    const shares = await readShares(['svm-b', 'svm-c', 'svm-d']);
    for (const id of ['svm-b', 'svm-c', 'svm-d']) expect(shares[id]!.rows.map((r) => [r.version, r.status])).toEqual([[3, 'current']]);
  }, 300_000);

  it('a node killed between stage and commit: signing is refused while it commits, a retry completes it', async () => {
    const victim = 'svm-c';
    class KillBeforeCommit extends SignerCoordinator {
      override async call<T>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
        const child = running.get(victim)!.child;
        if (node.id === victim && path === '/reshare/commit' && child.exitCode === null && child.signalCode === null) await stop(victim);
        return super.call<T>(node, path, body);
      }
    }
    const m = await approved({ kind: 'reshare', nodes: ['svm-b', 'svm-c', 'svm-d'], threshold: 3 });
    const failed = await withCoordinator((key) => new KillBeforeCommit(key, { timeoutMs: 5_000 }), () => maintenance().advance(m.id)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(/commit incomplete/);
    const got = (await request(c.server).get(`/custody/maintenance/${m.id}`).set(bearer(c.keys.alice)).expect(200)).body;
    expect(got).toMatchObject({ status: 'running', phase: 'committing', failures: [{ node: victim, kind: 'unavailable' }] });
    // The wallet row is unchanged until completion, and no signing ceremony may start meanwhile.
    expect(await walletRow()).toMatchObject({ threshold: 2, share_version: 3 });
    expectProblem(await request(c.server).post(`/custody/wallets/${wallet.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '1' }), 409);
    expectProblem(await request(c.server).post(`/custody/maintenance/${m.id}/rejection`).set(bearer(c.keys.alice)).send({ operator: 'alice', reason: 'too late' }), 409);

    await restart(victim);
    expect(await maintenance().advance(m.id)).toBe('completed');
    expect(await walletRow()).toMatchObject({ node_ids: ['svm-b', 'svm-c', 'svm-d'], threshold: 3, share_version: 4, group_key: wallet.groupKey });
    const shares = await readShares(['svm-b', 'svm-c', 'svm-d']);
    for (const id of ['svm-b', 'svm-c', 'svm-d']) expect(shares[id]!.rows.map((r) => [r.version, r.status])).toEqual([[4, 'current']]);
    await transfer(3000n);
    const types: { type: string }[] = await c.ds.query(`SELECT type FROM audit_event WHERE subject = $1 ORDER BY seq`, [`custody-maintenance:${m.id}`]);
    expect(types.map((t) => t.type).slice(-3)).toEqual(['custody.maintenance.staged', 'custody.maintenance.commit-incomplete', 'custody.maintenance.completed']);
    const artifact = await readContractArtifact('artifacts', 'CustodyWallet');
    expect(await new Contract(wallet.address, artifact.abi, provider).getFunction('nonce')()).toBe(3n);
  }, 300_000);
});
