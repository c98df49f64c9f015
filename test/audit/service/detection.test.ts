/**
 * What an auditor can catch, with what the service serves and the library verifier: a tampered
 * event, a forged checkpoint signature, a fork (two checkpoints of one size with different roots,
 * both validly signed by the service's HSM key) and an old checkpoint from a different history.
 */
import { p256 } from '@noble/curves/nist.js';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { hsmCheckpointSigner } from '../../../src/audit/checkpoint-signer.js';
import {
  detectFork,
  eventLeafHash,
  rootFromLeafHashes,
  signCheckpoint,
  spkiFromPublicKey,
  toBase64,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  type AuditEvent,
  type Checkpoint,
  type CheckpointSigner,
} from '../../../src/audit/crypto/index.js';
import { backend, openAuditApp, type AuditApp } from './support.js';

let svc: AuditApp;
let publicKey: string;
let hsmSigner: CheckpointSigner;
let older: Checkpoint; // size 7
let newer: Checkpoint; // size 13

const input = (i: number) => ({ type: 'test.detect', actor: 'wallet-app:demo', subject: `account:${i}`, body: { circuit: 'balance', threshold: `${i}.00` } });

/** An event and its inclusion proof as the API would serve them (JSON shapes, base64 hashes). */
async function served(seq: number, cp: Checkpoint): Promise<{ event: AuditEvent; proof: { leafIndex: number; treeSize: number; hashes: string[] } }> {
  const stored = await svc.store.event(seq);
  const { leafHash: _leafHash, ...event } = stored!;
  const hashes = (await svc.store.inclusionProof(seq, cp.treeSize)).map(toBase64);
  return { event: JSON.parse(JSON.stringify(event)) as AuditEvent, proof: { leafIndex: seq, treeSize: cp.treeSize, hashes } };
}

beforeAll(async () => {
  svc = await openAuditApp();
  publicKey = svc.audit.publicKey().pem;
  hsmSigner = await hsmCheckpointSigner(svc.app.get(HsmService));
  await svc.audit.appendMany(Array.from({ length: 7 }, (_, i) => input(i)));
  older = (await svc.audit.checkpoint())!;
  await svc.audit.appendMany(Array.from({ length: 6 }, (_, i) => input(7 + i)));
  newer = (await svc.audit.checkpoint())!;
  expect([older.treeSize, newer.treeSize]).toEqual([7, 13]);
}, 60_000);

afterAll(async () => {
  await svc?.close();
});

describe(`honest log passes (${backend})`, () => {
  it('every served event verifies against both checkpoints, signatures checked with the served key', async () => {
    expect(verifyCheckpoint(older, publicKey)).toEqual({ ok: true });
    expect(verifyCheckpoint(newer, publicKey)).toEqual({ ok: true });
    for (let seq = 0; seq < 13; seq++) {
      const { event, proof } = await served(seq, newer);
      expect(verifyInclusion(event, seq, proof, newer, { publicKey })).toEqual({ ok: true });
      if (seq < 7) {
        const p = await served(seq, older);
        expect(verifyInclusion(p.event, seq, p.proof, older, { publicKey })).toEqual({ ok: true });
      }
    }
    const proof = (await svc.store.consistencyProof(7, 13)).map(toBase64);
    expect(verifyConsistency(older, newer, { size1: 7, size2: 13, hashes: proof }, { publicKey })).toEqual({ ok: true });
    expect(detectFork(older, newer, proof, { publicKey })).toEqual({ ok: true, fork: false });
  });
});

describe(`tampering is detected (${backend})`, () => {
  it('a served event whose body was changed fails verifyInclusion', async () => {
    const { event, proof } = await served(3, newer);
    const tampered = { ...event, body: { circuit: 'balance', threshold: '1000000.00' } };
    const r = verifyInclusion(tampered, 3, proof, newer, { publicKey });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^root mismatch: the inclusion proof for event 3 leads to [0-9a-f]+\.\. but checkpoint 13 says [0-9a-f]+\.\./);
  });

  it('a served event moved to another position, or with a changed actor or time, fails', async () => {
    const { event, proof } = await served(4, newer);
    expect(verifyInclusion({ ...event, seq: 5 }, 5, { ...proof, leafIndex: 5 }, newer, { publicKey }).ok).toBe(false);
    expect(verifyInclusion({ ...event, actor: 'someone-else' }, 4, proof, newer, { publicKey }).ok).toBe(false);
    expect(verifyInclusion({ ...event, time: '2020-01-01T00:00:00.000Z' }, 4, proof, newer, { publicKey }).ok).toBe(false);
  });

  it('a checkpoint with a forged signature fails verifyCheckpoint (and everything that relies on it)', async () => {
    const sig = Buffer.from(newer.signature, 'base64');
    sig[10]! ^= 0x01;
    const forged = { ...newer, signature: sig.toString('base64') };
    const r = verifyCheckpoint(forged, publicKey);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/^bad signature: /);
    const { event, proof } = await served(0, newer);
    expect(verifyInclusion(event, 0, proof, forged, { publicKey }).ok).toBe(false);
  });

  it('a checkpoint whose signed fields were changed after signing fails', () => {
    const otherRoot = toBase64(Buffer.alloc(32, 7));
    expect(verifyCheckpoint({ ...newer, rootHash: otherRoot }, publicKey).reason).toMatch(/^bad signature: /);
    expect(verifyCheckpoint({ ...newer, treeSize: 14 }, publicKey).reason).toMatch(/^bad signature: /);
    expect(verifyCheckpoint({ ...newer, timestamp: newer.timestamp + 1 }, publicKey).reason).toMatch(/^bad signature: /);
  });

  it('a checkpoint signed by any other key fails, whichever key id it claims', async () => {
    const secret = p256.utils.randomSecretKey();
    const outsider: CheckpointSigner = {
      publicKey: spkiFromPublicKey(p256.getPublicKey(secret, false)),
      sign: async (digest) => p256.sign(digest, secret, { prehash: false }),
    };
    const own = await signCheckpoint({ origin: newer.origin, treeSize: newer.treeSize, rootHash: newer.rootHash, timestamp: Date.now() }, outsider);
    expect(verifyCheckpoint(own, publicKey).reason).toMatch(/is not a trusted key/);
    expect(verifyCheckpoint({ ...own, keyId: newer.keyId }, publicKey).reason).toMatch(/^bad signature: /);
  });
});

describe(`equivocation is detected (${backend})`, () => {
  it('a fork: two checkpoints of one size with different roots, both signed by the service\'s HSM key', async () => {
    // Another history of 13 events: the same log, except that event 5 says something else.
    const leaves: Uint8Array[] = [];
    for (let seq = 0; seq < 13; seq++) {
      const { event } = await served(seq, newer);
      leaves.push(eventLeafHash(seq === 5 ? { ...event, body: { circuit: 'balance', threshold: 'rewritten' } } : event));
    }
    const otherRoot = toBase64(rootFromLeafHashes(leaves));
    expect(otherRoot).not.toBe(newer.rootHash);
    const twin = await signCheckpoint({ origin: newer.origin, treeSize: 13, rootHash: otherRoot, timestamp: Date.now() }, hsmSigner);

    // Each is validly signed on its own: only comparing them shows the log lied.
    expect(verifyCheckpoint(twin, publicKey)).toEqual({ ok: true });
    expect(twin.keyId).toBe(newer.keyId);
    const fork = detectFork(newer, twin, undefined, { publicKey });
    expect(fork.ok).toBe(false);
    expect(fork.fork).toBe(true);
    expect(fork.reason).toMatch(/^fork: two checkpoints of .+ at size 13 have different roots/);
    // verifyConsistency says the same for an equal-size pair.
    expect(verifyConsistency(newer, twin, [], { publicKey }).reason).toMatch(/^fork: /);

    // A re-signed checkpoint of the same tree (new timestamp, new signature) is not a fork.
    const again = await signCheckpoint({ origin: newer.origin, treeSize: 13, rootHash: newer.rootHash, timestamp: Date.now() + 5 }, hsmSigner);
    expect(detectFork(newer, again, undefined, { publicKey })).toEqual({ ok: true, fork: false });
  });

  it('an old checkpoint from a different history fails verifyConsistency with the served proof', async () => {
    // What a log that rewrote event 2 before size 7 would have signed then.
    const leaves: Uint8Array[] = [];
    for (let seq = 0; seq < 7; seq++) {
      const { event } = await served(seq, older);
      leaves.push(eventLeafHash(seq === 2 ? { ...event, subject: 'account:someone-else' } : event));
    }
    const rewritten = await signCheckpoint(
      { origin: older.origin, treeSize: 7, rootHash: toBase64(rootFromLeafHashes(leaves)), timestamp: older.timestamp },
      hsmSigner,
    );
    expect(verifyCheckpoint(rewritten, publicKey)).toEqual({ ok: true });

    const proof = { size1: 7, size2: 13, hashes: (await svc.store.consistencyProof(7, 13)).map(toBase64) };
    const r = verifyConsistency(rewritten, newer, proof, { publicKey });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/root mismatch: the consistency proof from 7 to 13 leads to/);
    // Same proof, the honest old checkpoint: consistent.
    expect(verifyConsistency(older, newer, proof, { publicKey })).toEqual({ ok: true });
    // detectFork reports the failure without calling it a fork (the proof could be damaged).
    const d = detectFork(rewritten, newer, proof, { publicKey });
    expect(d.ok).toBe(false);
    expect(d.fork).toBe(false);
    // And swapped checkpoints (the "old" one newer) are refused.
    expect(verifyConsistency(newer, older, proof, { publicKey }).ok).toBe(false);
  });
});
