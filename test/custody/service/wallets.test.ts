/**
 * Wallets and the signing path over HTTP against real parts: three signer node processes (each
 * with its own SoftHSM token) run a 2-of-3 DKG driven by the service's coordinator (its key in the
 * service's HSM), and the CustodyWallet deployed through the factory on the Hardhat node holds the
 * group key; then a transfer approved by two operators' signatures is FROST-signed by the nodes,
 * executed by the wallet contract on the ledger and confirmed, every step audited.
 */
import net from 'node:net';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import request from 'supertest';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { COORDINATOR_KEY_LABEL } from '../../../src/custody/service/custody-wallet.service.js';
import { CeremonySigningService } from '../../../src/custody/service/ceremony-signing.service.js';
import { buildEntryPoints, exited, nodeHome, startNode, type RunningNode } from '../signer/support.js';
import { approvalKey, backend, bearer, expectProblem, openCustodyApp, type CustodyApp } from './support.js';

const MAIN = 'src/custody/signer/main.ts';
const IDS = ['svc-node-a', 'svc-node-b', 'svc-node-c'];
let c: CustodyApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
const running: RunningNode[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  build = await buildEntryPoints([MAIN]);
  const ports = [await freePort(), await freePort(), await freePort()];
  c = await openCustodyApp({ CUSTODY_SIGNER_URLS: ports.map((p) => `http://127.0.0.1:${p}`).join(',') });
  const { publicKey } = await c.app.get(HsmService).ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
  const pubHex = Buffer.from(publicKey).toString('hex');
  for (const [i, id] of IDS.entries()) running.push(await startNode(build.js(MAIN), nodeHome(id, pubHex), ports[i]));
}, 240_000);

afterAll(async () => {
  for (const n of running) {
    n.child.kill('SIGKILL');
    await exited(n.child);
  }
  await c?.close();
  build?.remove();
});

let walletId: string;
let walletAddress: string;

describe(`custody wallets (${backend})`, () => {
  it('creates a 2-of-3 wallet by DKG; the deployed contract holds the group key', async () => {
    const res = await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 2 });
    expect(res.status).toBe(201);
    walletId = res.body.id;
    walletAddress = res.body.address;
    expect(res.body).toMatchObject({ threshold: 2, nodes: IDS, groupKey: expect.stringMatching(/^0[23][0-9a-f]{64}$/), address: expect.stringMatching(/^0x[0-9a-f]{40}$/) });
    const provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, Network.from(31337), { staticNetwork: true });
    try {
      const artifact = await readContractArtifact('artifacts', 'CustodyWallet');
      const wallet = new Contract(res.body.address, artifact.abi, provider);
      const [x, parity] = (await wallet.getFunction('groupKey')()).toArray();
      expect(x).toBe(BigInt('0x' + res.body.groupKey.slice(2)));
      expect(Number(parity)).toBe(res.body.groupKey.startsWith('03') ? 1 : 0);
    } finally {
      provider.destroy();
    }
    const [row] = await c.ds.query(`SELECT address, group_key, threshold, node_ids, public_package FROM custody_wallet WHERE id = $1`, [res.body.id]);
    expect(row).toMatchObject({ address: res.body.address, group_key: res.body.groupKey, threshold: 2 });
    expect(row.public_package).toBeTruthy();
    const [ev] = await c.ds.query(`SELECT count(*) AS n FROM audit_event WHERE type = 'custody.wallet.created' AND subject = $1`, [`custody-wallet:${res.body.id}`]);
    expect(Number(ev.n)).toBe(1);
  }, 120_000);

  it('refuses a threshold above the nodes, unknown nodes and non-admins, storing nothing', async () => {
    expectProblem(await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 3, nodes: ['svc-node-a', 'svc-node-b'] }), 422);
    expectProblem(await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 2, nodes: ['svc-node-a', 'nope'] }), 422);
    expectProblem(await request(c.server).post('/custody/wallets').set(bearer(c.keys.alice)).send({ threshold: 2 }), 403);
    expectProblem(await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 1 }), 400);
    const [r] = await c.ds.query(`SELECT count(*) AS n FROM custody_wallet`);
    expect(Number(r.n)).toBe(1);
  });

  it('signs an approved transfer with the nodes, executes it on the wallet contract and confirms it', async () => {
    const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256') };
    for (const name of ['alice', 'bob'] as const) {
      await request(c.server)
        .post('/custody/operators')
        .set(bearer(c.keys.admin))
        .send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey })
        .expect(201);
    }
    const dest = '0x' + '5e'.repeat(20);
    await request(c.server)
      .put(`/custody/wallets/${walletId}/policy`)
      .set(bearer(c.keys.admin))
      .send({ quorum: 2, operators: ['alice', 'bob'], perTransactionLimit: '10000', dailyLimit: '100000', allowlist: [dest], delayAbove: '5000', delaySeconds: 3600 })
      .expect(200);
    const provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    try {
      const funder = await provider.getSigner(1);
      await (await funder.sendTransaction({ to: walletAddress, value: 1_000_000n })).wait();
      const before = await provider.getBalance(dest);

      const cer = (await request(c.server).post(`/custody/wallets/${walletId}/ceremonies`).set(bearer(c.keys.alice)).send({ to: dest, value: '1234' }).expect(201)).body;
      for (const name of ['alice', 'bob'] as const) {
        await request(c.server).post(`/custody/ceremonies/${cer.id}/approvals`).set(bearer(c.keys[name])).send({ operator: name, signature: keys[name].sign(cer.digest) }).expect(201);
      }
      const signing = c.app.get(CeremonySigningService);
      expect(await signing.advance(cer.id)).toBe('confirmed');
      expect(await signing.advance(cer.id)).toBe('confirmed'); // a repeated job changes nothing

      expect(await provider.getBalance(dest)).toBe(before + 1234n);
      const artifact = await readContractArtifact('artifacts', 'CustodyWallet');
      expect(await new Contract(walletAddress, artifact.abi, provider).getFunction('nonce')()).toBe(1n);
      const got = (await request(c.server).get(`/custody/ceremonies/${cer.id}`).set(bearer(c.keys.admin)).expect(200)).body;
      expect(got.status).toBe('confirmed');
      const [w] = await c.ds.query(`SELECT next_nonce FROM custody_wallet WHERE id = $1`, [walletId]);
      expect(Number(w.next_nonce)).toBe(1);
      const types: { type: string }[] = await c.ds.query(`SELECT type FROM audit_event WHERE subject = $1 ORDER BY seq`, [`custody-ceremony:${cer.id}`]);
      expect(types.map((t) => t.type)).toEqual([
        'custody.ceremony.requested',
        'custody.ceremony.approval',
        'custody.ceremony.approval',
        'custody.ceremony.approved',
        'custody.ceremony.signing',
        'custody.ceremony.signed',
        'custody.ceremony.submitted',
        'custody.ceremony.confirmed',
      ]);

      // Above delayAbove: approved, but not signed before notBefore; it takes the next nonce.
      const late = (await request(c.server).post(`/custody/wallets/${walletId}/ceremonies`).set(bearer(c.keys.bob)).send({ to: dest, value: '6000' }).expect(201)).body;
      expect(late.nonce).toBe('1');
      for (const name of ['alice', 'bob'] as const) {
        await request(c.server).post(`/custody/ceremonies/${late.id}/approvals`).set(bearer(c.keys[name])).send({ operator: name, signature: keys[name].sign(late.digest) }).expect(201);
      }
      expect(await signing.advance(late.id)).toBe('approved');

      // Once notBefore has passed (moved back here), it is signed, executed and confirmed.
      await c.ds.query(`UPDATE custody_ceremony SET not_before = now() WHERE id = $1`, [late.id]);
      expect(await signing.advance(late.id)).toBe('confirmed');
      const [{ tx_hash: sent }] = await c.ds.query(`SELECT tx_hash FROM custody_ceremony WHERE id = $1`, [late.id]);
      // A run that died after sending execute but before storing the hash left the ceremony
      // 'signed' (reproduced by rewinding the row): the retry adopts the mined transaction.
      await c.ds.query(`UPDATE custody_ceremony SET status = 'signed', tx_hash = NULL WHERE id = $1`, [late.id]);
      expect(await signing.advance(late.id)).toBe('confirmed');
      const [again] = await c.ds.query(`SELECT tx_hash FROM custody_ceremony WHERE id = $1`, [late.id]);
      expect(again.tx_hash).toBe(sent);
      expect(await provider.getBalance(dest)).toBe(before + 1234n + 6000n);
      const [adopted] = await c.ds.query(
        `SELECT count(*) AS n FROM audit_event WHERE subject = $1 AND type = 'custody.ceremony.submitted'`,
        [`custody-ceremony:${late.id}`],
      );
      expect(Number(adopted.n)).toBe(2);
    } finally {
      provider.destroy();
    }
  }, 180_000);
});
