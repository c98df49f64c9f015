/**
 * Signer node faults through the whole service, against real parts: three signer node processes
 * (each with its own SoftHSM token and PGlite folder), the service's coordinator key in its HSM,
 * the CustodyWallet on the Hardhat node, PostgreSQL or PGlite. node-b is reached through an HTTP
 * proxy that can alter its answers in transit.
 *
 *   - one node SIGKILLed after approval, before signing: the ceremony is signed by the other two
 *     and confirmed on the ledger;
 *   - two nodes killed: the ceremony ends aborted with a reason naming both, nothing half-written
 *     (no signature, the nonce released);
 *   - the killed nodes restarted on the same storage and token: the next ceremony is signed with
 *     one of them in the quorum;
 *   - node-b's signature share altered in transit: the answer fails the node's message signature,
 *     node-b is named and quarantined, the retry with the other quorum is confirmed; later
 *     ceremonies leave node-b out until an admin releases it.
 */
import http from 'node:http';
import net from 'node:net';
import { Contract, JsonRpcProvider, Network } from 'ethers';
import request from 'supertest';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { COORDINATOR_KEY_LABEL } from '../../../src/custody/service/custody-wallet.service.js';
import { CeremonySigningService } from '../../../src/custody/service/ceremony-signing.service.js';
import { buildEntryPoints, exited, nodeHome, startNode, type NodeHome, type RunningNode } from '../signer/support.js';
import { approvalKey, backend, bearer, expectProblem, openCustodyApp, type CustodyApp } from '../service/support.js';

const MAIN = 'src/custody/signer/main.ts';
const IDS = ['fault-node-a', 'fault-node-b', 'fault-node-c'] as const;
type NodeId = (typeof IDS)[number];
const DEST = '0x' + '7a'.repeat(20);

let c: CustodyApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
const homes = new Map<NodeId, NodeHome>();
const running = new Map<NodeId, RunningNode>();
const ports = new Map<NodeId, number>();
let proxy: http.Server;
/** When set, the proxy in front of node-b alters the signature share in its /sign/share answers. */
let tamper = false;
let tampered = 0;
let provider: JsonRpcProvider;
let walletId: string;
let walletAddress: string;
const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256') };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function kill(id: NodeId): Promise<void> {
  const n = running.get(id)!;
  n.child.kill('SIGKILL');
  await exited(n.child);
}

async function restart(id: NodeId): Promise<void> {
  running.set(id, await startNode(build.js(MAIN), homes.get(id)!, ports.get(id)));
}

/** Requests a transfer and approves it with both operators' signatures. */
async function approvedTransfer(value: string): Promise<Record<string, any>> {
  const cer = (await request(c.server).post(`/custody/wallets/${walletId}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value }).expect(201)).body;
  for (const name of ['alice', 'bob'] as const) {
    await request(c.server).post(`/custody/ceremonies/${cer.id}/approvals`).set(bearer(c.keys[name])).send({ operator: name, signature: keys[name].sign(cer.digest) }).expect(201);
  }
  return cer;
}

async function auditBody(ceremonyId: string, type: string): Promise<Record<string, any>> {
  const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE subject = $1 AND type = $2 ORDER BY seq DESC LIMIT 1`, [`custody-ceremony:${ceremonyId}`, type]);
  expect(ev).toBeDefined();
  return typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body;
}

beforeAll(async () => {
  build = await buildEntryPoints([MAIN]);
  for (const id of IDS) ports.set(id, await freePort());
  // node-b behind a proxy that forwards everything, and alters share answers when told to.
  proxy = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: ports.get('fault-node-b'), path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (d: Buffer) => chunks.push(d));
      upRes.on('end', () => {
        let body = Buffer.concat(chunks).toString();
        if (tamper && req.url === '/sign/share' && upRes.statusCode === 200) {
          const answer = JSON.parse(body);
          const share: string = answer.payload.body.share;
          answer.payload.body.share = share.slice(0, 62) + (share.endsWith('00') ? '01' : '00');
          body = JSON.stringify(answer);
          tampered++;
        }
        res.writeHead(upRes.statusCode!, { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  const urls = [`http://127.0.0.1:${ports.get('fault-node-a')}`, proxyUrl, `http://127.0.0.1:${ports.get('fault-node-c')}`];
  c = await openCustodyApp({ CUSTODY_SIGNER_URLS: urls.join(',') });
  const { publicKey } = await c.app.get(HsmService).ensureEcKeyPair(COORDINATOR_KEY_LABEL, 'P-256');
  const pubHex = Buffer.from(publicKey).toString('hex');
  for (const id of IDS) {
    homes.set(id, nodeHome(id, pubHex));
    await restart(id);
  }
  provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });

  const wallet = await request(c.server).post('/custody/wallets').set(bearer(c.keys.admin)).send({ threshold: 2 });
  expect(wallet.status).toBe(201);
  expect(wallet.body.nodes).toEqual([...IDS]);
  walletId = wallet.body.id;
  walletAddress = wallet.body.address;
  for (const name of ['alice', 'bob'] as const) {
    await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey }).expect(201);
  }
  await request(c.server)
    .put(`/custody/wallets/${walletId}/policy`)
    .set(bearer(c.keys.admin))
    .send({ quorum: 2, operators: ['alice', 'bob'], perTransactionLimit: '100000', dailyLimit: '1000000', allowlist: [DEST] })
    .expect(200);
  await (await (await provider.getSigner(2)).sendTransaction({ to: walletAddress, value: 10_000_000n })).wait();
}, 300_000);

afterAll(async () => {
  for (const n of running.values()) {
    n.child.kill('SIGKILL');
    await exited(n.child);
  }
  provider?.destroy();
  await new Promise((r) => proxy?.close(r));
  await c?.close();
  build?.remove();
});

describe(`custody signer node faults through the service (${backend})`, () => {
  const signing = () => c.app.get(CeremonySigningService);

  it('one node killed after approval: the other two sign, and the transfer is confirmed on the ledger', async () => {
    const before = await provider.getBalance(DEST);
    const cer = await approvedTransfer('1001');
    await kill('fault-node-a');
    expect(await signing().advance(cer.id)).toBe('confirmed');
    const signed = await auditBody(cer.id, 'custody.ceremony.signed');
    expect(signed.quorum).toEqual(['fault-node-b', 'fault-node-c']);
    expect(signed.failures.map((f: { node: string; kind: string }) => [f.node, f.kind])).toEqual([['fault-node-a', 'unavailable']]);
    expect(await provider.getBalance(DEST)).toBe(before + 1001n);
    const artifact = await readContractArtifact('artifacts', 'CustodyWallet');
    expect(await new Contract(walletAddress, artifact.abi, provider).getFunction('nonce')()).toBe(1n);
    // Unreachable is no misbehaviour: nobody is quarantined.
    expect((await request(c.server).get('/custody/node-quarantine').set(bearer(c.keys.admin)).expect(200)).body).toEqual([]);
  }, 120_000);

  it('two nodes killed: the ceremony ends aborted naming both, with no signature, and the nonce is released', async () => {
    const cer = await approvedTransfer('1002');
    expect(cer.nonce).toBe('1');
    await kill('fault-node-c');
    expect(await signing().advance(cer.id)).toBe('aborted');
    const [row] = await c.ds.query(`SELECT status, reason, signature, tx_hash FROM custody_ceremony WHERE id = $1`, [cer.id]);
    expect(row).toMatchObject({ status: 'aborted', signature: null, tx_hash: null });
    expect(row.reason).toMatch(/no signing quorum/);
    expect(row.reason).toContain('fault-node-a');
    expect(row.reason).toContain('fault-node-c');
    const aborted = await auditBody(cer.id, 'custody.ceremony.aborted');
    expect(aborted.failures.map((f: { node: string }) => f.node).sort()).toEqual(['fault-node-a', 'fault-node-c']);
    // A job run again changes nothing; the wallet's nonce is free for the next transfer.
    expect(await signing().advance(cer.id)).toBe('aborted');
    const [w] = await c.ds.query(`SELECT next_nonce FROM custody_wallet WHERE id = $1`, [walletId]);
    expect(Number(w.next_nonce)).toBe(1);
  }, 120_000);

  it('the killed nodes restart on the same storage and token, rejoin, and the next ceremony is signed with them', async () => {
    await restart('fault-node-a');
    await restart('fault-node-c');
    const before = await provider.getBalance(DEST);
    const cer = await approvedTransfer('1003');
    expect(cer.nonce).toBe('1'); // the aborted ceremony's nonce, released
    expect(await signing().advance(cer.id)).toBe('confirmed');
    const signed = await auditBody(cer.id, 'custody.ceremony.signed');
    expect(signed.failures).toEqual([]);
    expect(signed.quorum).toContain('fault-node-a');
    expect(await provider.getBalance(DEST)).toBe(before + 1003n);
  }, 120_000);

  it("a share altered in transit is detected, its sender named and quarantined; the other quorum's signature is confirmed", async () => {
    const before = await provider.getBalance(DEST);
    tamper = true;
    try {
      const cer = await approvedTransfer('1004');
      expect(await signing().advance(cer.id)).toBe('confirmed');
      expect(tampered).toBe(1);
      const signed = await auditBody(cer.id, 'custody.ceremony.signed');
      expect(signed.quorum).toEqual(['fault-node-a', 'fault-node-c']);
      expect(signed.failures.map((f: { node: string; kind: string }) => [f.node, f.kind])).toEqual([['fault-node-b', 'bad-signature']]);
      expect(await provider.getBalance(DEST)).toBe(before + 1004n);
      const q = (await request(c.server).get('/custody/node-quarantine').set(bearer(c.keys.alice)).expect(200)).body;
      expect(q).toEqual([{ node: 'fault-node-b', kind: 'bad-signature', reason: expect.stringMatching(/not signed by the node's pinned key/), ceremonyId: cer.id, createdAt: expect.any(String) }]);
      const [ev] = await c.ds.query(`SELECT count(*) AS n FROM audit_event WHERE type = 'custody.node.quarantined' AND subject = 'custody-node:fault-node-b'`);
      expect(Number(ev.n)).toBe(1);

      // While quarantined, node-b is not asked at all (the proxy would alter its share again).
      const next = await approvedTransfer('1005');
      expect(await signing().advance(next.id)).toBe('confirmed');
      expect(tampered).toBe(1);
      const s2 = await auditBody(next.id, 'custody.ceremony.signed');
      expect(s2).toMatchObject({ quorum: ['fault-node-a', 'fault-node-c'], failures: [], quarantinedSkipped: ['fault-node-b'] });
    } finally {
      tamper = false;
    }
    // Release: operators cannot, an admin can, once.
    expectProblem(await request(c.server).delete('/custody/node-quarantine/fault-node-b').set(bearer(c.keys.alice)), 403);
    await request(c.server).delete('/custody/node-quarantine/fault-node-b').set(bearer(c.keys.admin)).expect(204);
    expectProblem(await request(c.server).delete('/custody/node-quarantine/fault-node-b').set(bearer(c.keys.admin)), 404);
    expectProblem(await request(c.server).delete('/custody/node-quarantine/bad%20id').set(bearer(c.keys.admin)), 400);
    const last = await approvedTransfer('1006');
    await kill('fault-node-a');
    expect(await signing().advance(last.id)).toBe('confirmed');
    expect((await auditBody(last.id, 'custody.ceremony.signed')).quorum).toEqual(['fault-node-b', 'fault-node-c']);
  }, 180_000);
});
