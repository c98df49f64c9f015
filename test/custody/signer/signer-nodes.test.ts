/**
 * Three signer nodes as separate processes, each with its own SoftHSM token and PGlite folder:
 * 2-of-3 FROST key generation and signing over authenticated HTTP, a node killed mid-ceremony,
 * its restart from the sealed store, tampered / replayed requests, nonce reuse, and a scan of a
 * node's database for its share in plaintext.
 */
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { SignerCoordinator, NodeFailure, QuorumError, type DkgResult, type SignerNodeRef } from '../../../src/custody/coordinator/signer-coordinator.js';
import { newRequestPayload, signMessage, verifyMessage, type MessageSigner } from '../../../src/custody/signer/message-auth.js';
import { buildEntryPoints, exited, filesUnder, nodeHome, runHelper, startNode, type NodeHome, type RunningNode } from './support.js';

const MAIN = 'src/custody/signer/main.ts';
const READ_SHARE = 'test/custody/signer/read-share.ts';
const IDS = ['node-a', 'node-b', 'node-c'];

const hsm = new Pkcs11Client();
const coordinatorLabel = `test-coordinator-${randomUUID().slice(0, 8)}`;
let coordinatorKey: MessageSigner;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
const homes = new Map<string, NodeHome>();
const running = new Map<string, RunningNode>();
let wallet: DkgResult;

const refs = (): SignerNodeRef[] => IDS.filter((id) => running.has(id)).map((id) => ({ id, url: running.get(id)!.url }));
const ref = (id: string): SignerNodeRef => ({ id, url: running.get(id)!.url });
const msg = (byte: number) => new Uint8Array(32).fill(byte);

/** POSTs a signed request as it is (possibly altered after signing). */
async function post(node: RunningNode, message: unknown): Promise<{ status: number; body: { payload: { body: { error?: string; message?: string } } } & Record<string, unknown> }> {
  const path = (message as { payload: { path: string } }).payload.path;
  const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
  return { status: res.status, body: (await res.json()) as never };
}

beforeAll(async () => {
  build = await buildEntryPoints([MAIN, READ_SHARE]);
  await hsm.open({ modulePath: process.env.HSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 2 });
  const { publicKey } = await hsm.ensureEcKeyPair(coordinatorLabel, 'P-256');
  coordinatorKey = { publicKey, signDigest: (d) => hsm.signEcdsaDigest(coordinatorLabel, d) };
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

describe('signer nodes (3 processes, 2-of-3)', () => {
  test('DKG across the nodes, then a signature that verifies with noble FROST', async () => {
    const coordinator = new SignerCoordinator(coordinatorKey);
    const t0 = performance.now();
    wallet = await coordinator.runDkg(refs(), 2, `wallet-${randomUUID()}`);
    const dkgMs = performance.now() - t0;
    expect(Object.keys(wallet.verifyingShares).sort()).toEqual(IDS);
    expect(new Set(Object.values(wallet.verifyingShares)).size).toBe(3);

    const message = msg(1);
    const t1 = performance.now();
    const result = await coordinator.sign(refs(), wallet.walletId, message, wallet.public);
    const signMs = performance.now() - t1;
    expect(result.failures).toEqual([]);
    expect(result.quorum).toHaveLength(2);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), message, Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), msg(2), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(false);
    // Without the pinned package the nodes' common one is used; any 2 of 3 sign.
    const other = await coordinator.sign([ref('node-b'), ref('node-c')], wallet.walletId, msg(3));
    expect(secp256k1_FROST.verify(Buffer.from(other.signature, 'hex'), msg(3), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);
    // Repeated measurements (warm processes).
    const dkgTimes: number[] = [];
    const signTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      let s = performance.now();
      const w = await coordinator.runDkg(refs(), 2);
      dkgTimes.push(performance.now() - s);
      s = performance.now();
      await coordinator.sign(refs(), w.walletId, msg(10 + i), w.public);
      signTimes.push(performance.now() - s);
    }
    console.log(`custody signer latency (2-of-3, 3 processes): first DKG ${dkgMs.toFixed(0)} ms, first sign ${signMs.toFixed(0)} ms; ` +
      `warm DKG ${dkgTimes.map((x) => x.toFixed(0)).join('/')} ms, warm sign ${signTimes.map((x) => x.toFixed(0)).join('/')} ms`);
  });

  test('a request changed after signing is rejected by the node, and the answer names the reason', async () => {
    const node = running.get('node-a')!;
    const signed = await signMessage(coordinatorKey, newRequestPayload('node-a', '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }));
    const tampered = { ...signed, payload: { ...signed.payload, body: { walletId: wallet.walletId, sessionId: randomUUID() } } };
    const res = await post(node, tampered);
    expect(res.status).toBe(401);
    expect(res.body.payload.body.error).toBe('bad-signature');
    expect(res.body.payload.body.message).toMatch(/coordinator/);
    // The refusal itself is signed by the node.
    const identity = (await (await fetch(`${node.url}/identity`)).json()) as { publicKey: string };
    expect(verifyMessage(res.body as never, Buffer.from(identity.publicKey, 'hex'))).toBe(true);
    // Signed by another key than the configured coordinator key: also rejected.
    const impostor: MessageSigner = { publicKey: new Uint8Array(65), signDigest: async (d) => hsm.signEcdsaDigest(`${coordinatorLabel}-x`, d) };
    await hsm.ensureEcKeyPair(`${coordinatorLabel}-x`, 'P-256');
    const forged = await signMessage(impostor, newRequestPayload('node-a', '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }));
    expect((await post(node, forged)).status).toBe(401);
    // Addressed to another node: refused.
    const misdirected = await signMessage(coordinatorKey, newRequestPayload('node-b', '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }));
    expect((await post(node, misdirected)).body.payload.body.error).toBe('wrong-node');
    // Stale timestamp: refused.
    const stale = await signMessage(coordinatorKey, { ...newRequestPayload('node-a', '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }), timestamp: Date.now() - 120_000 });
    expect((await post(node, stale)).body.payload.body.error).toBe('stale');
  });

  test('a replayed request is refused', async () => {
    const node = running.get('node-b')!;
    const signed = await signMessage(coordinatorKey, newRequestPayload('node-b', '/sign/commit', { walletId: wallet.walletId, sessionId: randomUUID() }));
    expect((await post(node, signed)).status).toBe(200);
    const again = await post(node, signed);
    expect(again.status).toBe(409);
    expect(again.body.payload.body.error).toBe('replay');
  });

  test('a nonce is used at most once', async () => {
    const coordinator = new SignerCoordinator(coordinatorKey);
    const sessionId = randomUUID();
    const quorum = [ref('node-a'), ref('node-b')];
    const commits = await Promise.all(quorum.map((n) => coordinator.call<{ commitments: unknown }>(n, '/sign/commit', { walletId: wallet.walletId, sessionId })));
    const body = { walletId: wallet.walletId, sessionId, message: Buffer.from(msg(4)).toString('hex'), commitments: commits.map((c) => c.commitments) };
    const first = await coordinator.call<{ share: string }>(quorum[0]!, '/sign/share', body);
    expect(first.share).toMatch(/^[0-9a-f]{64}$/);
    const second = await coordinator.call(quorum[0]!, '/sign/share', { ...body, message: Buffer.from(msg(5)).toString('hex') }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(NodeFailure);
    expect((second as NodeFailure).code).toBe('nonce-used');
    expect((second as NodeFailure).status).toBe(409);
    // The session id cannot be committed again either.
    const recommit = await coordinator.call(quorum[0]!, '/sign/commit', { walletId: wallet.walletId, sessionId }).catch((e: unknown) => e);
    expect((recommit as NodeFailure).code).toBe('session-exists');
  });

  test('an answer not signed by the pinned node key is rejected and the node named; another quorum signs', async () => {
    const coordinator = new SignerCoordinator(coordinatorKey);
    coordinator.pin('node-a', Buffer.from((await hsm.ensureEcKeyPair(`${coordinatorLabel}-x`, 'P-256')).publicKey).toString('hex'));
    const result = await coordinator.sign(refs(), wallet.walletId, msg(6), wallet.public);
    expect(result.failures.map((f) => [f.nodeId, f.kind])).toEqual([['node-a', 'bad-signature']]);
    expect(result.quorum).toEqual(['node-b', 'node-c']);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), msg(6), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);
  });

  test('a bad signature share names its node (identifiable abort); another quorum signs', async () => {
    // Fault injection after the answer was authenticated: what a node holding a wrong share would send.
    class CorruptingCoordinator extends SignerCoordinator {
      override async call<T>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
        const answer = await super.call<T>(node, path, body);
        if (node.id === 'node-b' && path === '/sign/share') {
          const share = (answer as { share: string }).share;
          return { ...answer, share: `${share.slice(0, 62)}${share.endsWith('00') ? '01' : '00'}` } as T;
        }
        return answer;
      }
    }
    const coordinator = new CorruptingCoordinator(coordinatorKey);
    const result = await coordinator.sign(refs(), wallet.walletId, msg(11), wallet.public);
    expect(result.failures.map((f) => [f.nodeId, f.kind])).toEqual([['node-b', 'bad-share']]);
    expect(result.quorum).toEqual(['node-a', 'node-c']);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), msg(11), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);
  });

  test('a node killed mid-ceremony: the other quorum completes; DKG reports the missing node', async () => {
    const victim = running.get('node-a')!;
    // Kill node-a after it committed, just before it is asked for its share.
    class KillingCoordinator extends SignerCoordinator {
      override async call<T>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
        if (node.id === 'node-a' && path === '/sign/share' && victim.child.exitCode === null && victim.child.signalCode === null) {
          victim.child.kill('SIGKILL');
          await exited(victim.child);
        }
        return super.call<T>(node, path, body);
      }
    }
    const coordinator = new KillingCoordinator(coordinatorKey, { timeoutMs: 5_000 });
    const result = await coordinator.sign(refs(), wallet.walletId, msg(7), wallet.public);
    expect(result.failures.map((f) => [f.nodeId, f.kind])).toEqual([['node-a', 'unavailable']]);
    expect(result.quorum).toEqual(['node-b', 'node-c']);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), msg(7), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);

    const dkg = await coordinator.runDkg(refs(), 2).catch((e: unknown) => e);
    expect(dkg).toBeInstanceOf(QuorumError);
    expect((dkg as QuorumError).failures.map((f) => [f.nodeId, f.kind])).toEqual([['node-a', 'unavailable']]);

    // Only one node left: no quorum, and the reason says so.
    const b = running.get('node-b')!;
    const lone = await coordinator.sign([ref('node-a'), { id: 'node-b', url: 'http://127.0.0.1:1' }, ref('node-c')], wallet.walletId, msg(8), wallet.public).catch((e: unknown) => e);
    expect(lone).toBeInstanceOf(QuorumError);
    expect((lone as QuorumError).message).toMatch(/node-a.*unavailable|node node-a/);
    expect(b.child.exitCode).toBeNull();
  });

  test('the killed node\'s database holds no plaintext share; it restarts and signs from its sealed share', async () => {
    const home = homes.get('node-a')!;
    const dump = JSON.parse(await runHelper(build.js(READ_SHARE), home, [wallet.walletId])) as { share: string; rows: unknown[] };
    const share = Buffer.from(dump.share, 'hex');
    expect(share).toHaveLength(32);
    const forms = [
      dump.share, dump.share.toUpperCase(), share.toString('base64'), share.toString('base64url'), BigInt(`0x${dump.share}`).toString(10),
    ];
    const rowsText = JSON.stringify(dump.rows);
    for (const form of forms) expect(rowsText.includes(form)).toBe(false);
    const files = filesUnder(home.dataDir);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const data = fs.readFileSync(file);
      expect(data.includes(share)).toBe(false);
      for (const form of forms) expect(data.includes(Buffer.from(form, 'latin1'))).toBe(false);
    }

    const restarted = await startNode(build.js(MAIN), home, running.get('node-a')!.port);
    running.set('node-a', restarted);
    const coordinator = new SignerCoordinator(coordinatorKey);
    const result = await coordinator.sign([ref('node-a'), ref('node-c')], wallet.walletId, msg(9), wallet.public);
    expect(result.failures).toEqual([]);
    expect(secp256k1_FROST.verify(Buffer.from(result.signature, 'hex'), msg(9), Buffer.from(wallet.groupPublicKey, 'hex'))).toBe(true);
    expect(restarted.output()).not.toContain(dump.share);
  });
});
