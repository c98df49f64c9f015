/**
 * Accounts and balance epochs over HTTP, against real parts, with a tiny root window
 * (ZK_ROOT_WINDOW_SECONDS=2): epoch snapshots give paths that verify, per-account balances and
 * fresh salts; a balance change and a new epoch give a new root; superseded roots (balance and
 * identity) are valid within the window and invalid after it; owners only; bad input refused with
 * nothing stored; audit events; the balance root lands on its RootRegistry.
 */
import path from 'node:path';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import request from 'supertest';
import { PoseidonMerkleTree, balanceLeaf, computeMerkleRoot, loadPoseidon } from '../../../src/zk/circuit-inputs.js';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { RootHistoryService } from '../../../src/zk/registry/root-history.service.js';
import { RootPublisherService } from '../../../src/zk/registry/root-publisher.service.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import { backend, expectProblem, newSecret, openZkApp, sleep, type ZkApp } from './support.js';

let z: ZkApp;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const WINDOW = 2;

beforeAll(async () => {
  z = await openZkApp({ ZK_ROOT_WINDOW_SECONDS: String(WINDOW) });
}, 120_000);

afterAll(async () => {
  await z?.close();
});

async function counts(): Promise<Record<string, number>> {
  const [r] = await z.ds.query(`
    SELECT (SELECT count(*) FROM zk_account) AS accounts, (SELECT coalesce(sum(balance), 0) FROM zk_account) AS total,
           (SELECT count(*) FROM zk_balance_epoch) AS epochs, (SELECT count(*) FROM zk_balance_leaf) AS leaves,
           (SELECT count(*) FROM zk_root) AS roots, (SELECT count(*) FROM audit_event WHERE type LIKE 'zk.%') AS events`);
  return Object.fromEntries(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, Number(v)]));
}

const accounts: { id: string; secret: bigint; commitment: string; key: string; balance: bigint }[] = [];

function pathOf(acc: (typeof accounts)[number], epoch?: number) {
  const q = epoch === undefined ? '' : `?epoch=${epoch}`;
  return request(z.server).get(`/zk/accounts/${acc.id}/path${q}`).set(bearer(acc.key));
}

describe(`accounts and balance epochs (${backend})`, () => {
  it('registers accounts (wallet-app) and sets balances (admin)', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await newSecret();
      const key = i < 3 ? z.keys.walletA : z.keys.walletB;
      const res = await request(z.server).post('/zk/accounts').set(bearer(key)).send({ commitment: s.commitment }).expect(201);
      expect(res.body).toEqual({ id: expect.any(String) });
      accounts.push({ id: res.body.id, secret: s.secret, commitment: s.commitment, key, balance: 0n });
    }
    const balances = [1000n, 0n, 18446744073709551615n, 42n, 7n];
    for (const [i, b] of balances.entries()) {
      const res = await request(z.server).put(`/zk/accounts/${accounts[i]!.id}/balance`).set(bearer(z.keys.admin)).send({ balance: b.toString() }).expect(200);
      expect(res.body).toEqual({ id: accounts[i]!.id, balance: b.toString() });
      accounts[i]!.balance = b;
    }
    expectProblem(await request(z.server).put(`/zk/accounts/${accounts[0]!.id}/balance`).set(bearer(z.keys.walletA)).send({ balance: '1' }), 403);
    expectProblem(await request(z.server).post('/zk/epochs').set(bearer(z.keys.walletA)), 403);
  });

  it('an account in no epoch yet has no path (404)', async () => {
    expectProblem(await pathOf(accounts[0]!), 404);
  });

  let epoch1Root: bigint;

  it('an epoch snapshots every account: paths verify, balances and salts per account', async () => {
    const res = await request(z.server).post('/zk/epochs').set(bearer(z.keys.admin)).expect(201);
    expect(res.body).toMatchObject({ epoch: 1, size: 5, root: expect.stringMatching(/^[1-9][0-9]*$/) });
    epoch1Root = BigInt(res.body.root);

    const h = await loadPoseidon();
    const ref = await PoseidonMerkleTree.create();
    const salts = new Set<string>();
    for (const acc of accounts) {
      const p = await pathOf(acc).expect(200);
      expect(p.body).toMatchObject({ epoch: 1, balance: acc.balance.toString(), root: res.body.root });
      expect(p.body.pathElements).toHaveLength(20);
      // The leaf is Poseidon(Poseidon(accountSecret), balance, salt), as the balance circuit computes it.
      const leaf = await balanceLeaf(h.hash([acc.secret]), acc.balance, BigInt(p.body.salt));
      expect(p.body.leaf).toBe(leaf.toString());
      expect(computeMerkleRoot(h, leaf, { pathElements: p.body.pathElements.map(BigInt), pathIndices: p.body.pathIndices })).toBe(epoch1Root);
      salts.add(p.body.salt);
      ref.update(p.body.leafIndex, leaf);
    }
    expect(salts.size).toBe(5);
    expect(ref.root).toBe(epoch1Root);
    expect(await z.app.get(RootHistoryService).check('balance', epoch1Root)).toEqual({ known: true, current: true, validUntil: null });
  });

  it("404 for another wallet-app's account; 400 for a malformed epoch; 404 for an unknown epoch", async () => {
    expectProblem(await request(z.server).get(`/zk/accounts/${accounts[0]!.id}/path`).set(bearer(z.keys.walletB)), 404);
    expectProblem(await request(z.server).get(`/zk/accounts/${accounts[0]!.id}/path`).set(bearer(z.keys.admin)), 403);
    expectProblem(await pathOf(accounts[0]!, 99), 404);
    expectProblem(await request(z.server).get(`/zk/accounts/${accounts[0]!.id}/path?epoch=0`).set(bearer(accounts[0]!.key)), 400);
    expectProblem(await request(z.server).get(`/zk/accounts/${accounts[0]!.id}/path?epoch=x`).set(bearer(accounts[0]!.key)), 400);
  });

  it('400 for bad input, nothing stored; 409 for a duplicate commitment; 404 for an unknown account', async () => {
    const before = await counts();
    const modulus = '21888242871839275222246405745257275088548364400416034343698204186575808495617';
    for (const body of [{ commitment: modulus }, { commitment: '-1' }, { commitment: '0' }, { commitment: 'abc' }, {}, { commitment: '5', extra: 1 }]) {
      expectProblem(await request(z.server).post('/zk/accounts').set(bearer(z.keys.walletA)).send(body), 400);
    }
    for (const balance of ['18446744073709551616', '-1', '1.5', '01', 5, '', '1e3']) {
      const res = await request(z.server).put(`/zk/accounts/${accounts[0]!.id}/balance`).set(bearer(z.keys.admin)).send({ balance });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('balance');
    }
    expectProblem(await request(z.server).post('/zk/accounts').set(bearer(z.keys.walletB)).send({ commitment: accounts[0]!.commitment }), 409);
    expectProblem(await request(z.server).put(`/zk/accounts/00000000-0000-4000-8000-000000000000/balance`).set(bearer(z.keys.admin)).send({ balance: '1' }), 404);
    expect(await counts()).toEqual(before);
  });

  it('a balance change and a new epoch give a new root, new salts; the old epoch stays readable', async () => {
    const acc = accounts[3]!;
    await request(z.server).put(`/zk/accounts/${acc.id}/balance`).set(bearer(z.keys.admin)).send({ balance: '43' }).expect(200);
    acc.balance = 43n;
    const old = await pathOf(acc, 1).expect(200);
    const res = await request(z.server).post('/zk/epochs').set(bearer(z.keys.admin)).expect(201);
    expect(res.body).toMatchObject({ epoch: 2, size: 5 });
    expect(BigInt(res.body.root)).not.toBe(epoch1Root);
    const now = await pathOf(acc).expect(200);
    expect(now.body).toMatchObject({ epoch: 2, balance: '43', root: res.body.root });
    expect(now.body.salt).not.toBe(old.body.salt);
    expect((await pathOf(acc, 1).expect(200)).body).toEqual(old.body);

    // The epoch-1 root is superseded: valid for the window, then not.
    const roots = z.app.get(RootHistoryService);
    const c = await roots.check('balance', epoch1Root);
    expect(c).toEqual({ known: true, current: false, validUntil: expect.any(Date) });
    expect(await roots.isValid('balance', epoch1Root)).toBe(true);
    await sleep(WINDOW * 1000 + 300);
    expect(await roots.isValid('balance', epoch1Root)).toBe(false);
    expect(await roots.isValid('balance', BigInt(res.body.root))).toBe(true);
    const listed = await request(z.server).get('/zk/roots/balance').expect(200);
    expect(listed.body).toMatchObject({ tree: 'balance', current: res.body.root, windowSeconds: WINDOW });
    expect(listed.body.history.map((e: { version: number; valid: boolean }) => [e.version, e.valid])).toEqual([[2, true], [1, false]]);
  });

  it('a revoked identity root is valid within the window, invalid after', async () => {
    const enrol = async () =>
      request(z.server).post('/zk/identities').set(bearer(z.keys.walletA)).send({ commitment: (await newSecret()).commitment, birthDate: 19900101, jurisdiction: 250 }).expect(201);
    await enrol();
    const e2 = await enrol();
    const roots = z.app.get(RootHistoryService);
    const before = BigInt(e2.body.root);
    await request(z.server).delete(`/zk/identities/${e2.body.id}`).set(bearer(z.keys.admin)).expect(200);
    expect(await roots.isValid('identity', before)).toBe(true);
    await sleep(WINDOW * 1000 + 300);
    expect(await roots.isValid('identity', before)).toBe(false);
    expect((await roots.check('identity', before)).known).toBe(true);
  });

  it('records balance changes and epochs in the audit log without amounts or salts', async () => {
    const events: { type: string; body: Record<string, unknown> }[] = await z.ds.query(
      `SELECT type, body FROM audit_event WHERE type LIKE 'zk.account.%' OR type LIKE 'zk.balance.%' ORDER BY seq`,
    );
    expect(events.filter((e) => e.type === 'zk.account.registered')).toHaveLength(5);
    expect(events.filter((e) => e.type === 'zk.account.balance-set')).toHaveLength(6);
    expect(events.filter((e) => e.type === 'zk.balance.epoch-created').map((e) => e.body.epoch)).toEqual([1, 2]);
    const text = JSON.stringify(events);
    expect(text).not.toContain('18446744073709551615');
    expect(text).not.toContain('"balance"');
    expect(text).not.toContain('salt');
  });

  it('publishes the balance roots on the balance RootRegistry contract', async () => {
    const publisher = z.app.get(RootPublisherService);
    const result = await publisher.publishPending();
    expect(result.confirmed.filter((c) => c.startsWith('balance:'))).toEqual(['balance:1', 'balance:2']);
    const { address } = await publisher.registryInfo('balance');
    const identity = await publisher.registryInfo('identity');
    expect(address).not.toBe(identity.address);
    const provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL!, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const artifact = await readContractArtifact(path.join(process.cwd(), 'artifacts'), 'RootRegistry');
      const registry = new Contract(address, artifact.abi, provider);
      const [head] = await z.ds.query(`SELECT root FROM zk_tree_head WHERE tree = 'balance'`);
      expect(await registry.getFunction('currentRoot')()).toBe(BigInt(head.root));
      expect(await registry.getFunction('windowSeconds')()).toBe(BigInt(WINDOW));
    } finally {
      provider.destroy();
    }
  });

  it('a queued job publishes new roots once workers run', async () => {
    await z.app.get(QueueService).startWorkers();
    const res = await request(z.server).post('/zk/epochs').set(bearer(z.keys.admin)).expect(201);
    const deadline = Date.now() + 30_000;
    let status = '';
    while (Date.now() < deadline) {
      const [row] = await z.ds.query(`SELECT status FROM zk_root_publication WHERE tree = 'balance' AND version = $1`, [res.body.epoch]);
      status = row.status;
      if (status === 'confirmed') break;
      await sleep(200);
    }
    expect(status).toBe('confirmed');
    const { address } = await z.app.get(RootPublisherService).registryInfo('balance');
    const provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL!, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const artifact = await readContractArtifact(path.join(process.cwd(), 'artifacts'), 'RootRegistry');
      expect(await new Contract(address, artifact.abi, provider).getFunction('currentRoot')()).toBe(BigInt(res.body.root));
    } finally {
      provider.destroy();
    }
  });
});
