/**
 * The standalone verifier's core, end to end: events -> leaves -> stored
 * tree -> signed checkpoints -> proofs in their wire form (base64) -> verdicts
 * with reasons a person can act on.
 */
import { p256 } from '@noble/curves/nist.js';
import { toBase64 } from '../../../src/audit/crypto/bytes.js';
import { type Checkpoint, type CheckpointSigner, signCheckpoint, spkiFromPublicKey } from '../../../src/audit/crypto/checkpoint.js';
import { type AuditEvent, eventLeafHash } from '../../../src/audit/crypto/event-encoding.js';
import { MemoryNodeStore, MerkleAppender, consistencyProof, inclusionProof, rootAt } from '../../../src/audit/crypto/merkle-storage.js';
import { detectFork, verifyConsistency, verifyInclusion } from '../../../src/audit/crypto/verifier.js';

const ORIGIN = 'bank.example/audit';
const { secretKey, publicKey: rawKey } = p256.keygen();
const signer: CheckpointSigner = {
  publicKey: spkiFromPublicKey(rawKey),
  sign: async (digest) => p256.sign(digest, secretKey, { prehash: false, lowS: false }),
};
const publicKey = signer.publicKey;

function event(seq: number, note = 'ok'): AuditEvent {
  return {
    seq,
    type: 'proof.issued',
    actor: `wallet-app:${seq % 3}`,
    subject: `account:${seq}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    body: { circuit: 'balance', note },
  };
}

/** A log as the service would keep it: node store plus checkpoints signed at chosen sizes. */
class Log {
  readonly store = new MemoryNodeStore();
  readonly appender = MerkleAppender.empty();
  readonly events: AuditEvent[] = [];
  append(e: AuditEvent): void {
    this.events.push(e);
    this.store.put(this.appender.append(eventLeafHash(e)));
  }
  async checkpoint(size: number): Promise<Checkpoint> {
    const root = await rootAt(this.store, size);
    return signCheckpoint({ origin: ORIGIN, treeSize: size, rootHash: toBase64(root), timestamp: 1769860800000 + size }, signer);
  }
  async inclusion(index: number, size: number): Promise<{ leafIndex: number; treeSize: number; hashes: string[] }> {
    return { leafIndex: index, treeSize: size, hashes: (await inclusionProof(this.store, index, size)).map(toBase64) };
  }
  async consistency(size1: number, size2: number): Promise<{ size1: number; size2: number; hashes: string[] }> {
    return { size1, size2, hashes: (await consistencyProof(this.store, size1, size2)).map(toBase64) };
  }
}

const log = new Log();
const forked = new Log(); // same history except event 3, as a log showing two histories would
let cp0: Checkpoint, cp5: Checkpoint, cp12: Checkpoint, cp20: Checkpoint, forked12: Checkpoint;

beforeAll(async () => {
  for (let i = 0; i < 20; i++) {
    log.append(event(i));
    forked.append(event(i, i === 3 ? 'rewritten' : 'ok'));
  }
  [cp0, cp5, cp12, cp20] = await Promise.all([0, 5, 12, 20].map((n) => log.checkpoint(n))) as [Checkpoint, Checkpoint, Checkpoint, Checkpoint];
  forked12 = await forked.checkpoint(12);
});

describe('verifyInclusion', () => {
  it('accepts every event of the log against the latest checkpoint, with and without the key', async () => {
    for (let i = 0; i < 20; i++) {
      const proof = await log.inclusion(i, 20);
      expect(verifyInclusion(log.events[i]!, i, proof, cp20)).toEqual({ ok: true });
      expect(verifyInclusion(log.events[i]!, i, proof.hashes, cp20, { publicKey }).ok).toBe(true);
    }
  });

  it('explains a tampered event as a root mismatch', async () => {
    const result = verifyInclusion({ ...log.events[7]!, actor: 'someone-else' }, 7, await log.inclusion(7, 20), cp20);
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/^root mismatch: the inclusion proof for event 7 leads to [0-9a-f]{8}\.\. but checkpoint 20 says [0-9a-f]{8}\.\./);
  });

  it('rejects an event presented at another index', async () => {
    const result = verifyInclusion(log.events[7]!, 8, await log.inclusion(8, 20), cp20);
    expect(result.reason).toMatch(/seq 7 does not match leaf index 8/);
  });

  it('rejects a proof for another tree size or leaf, and malformed hashes', async () => {
    expect(verifyInclusion(log.events[3]!, 3, await log.inclusion(3, 12), cp20).reason).toMatch(/for tree size 12, but the checkpoint is for size 20/);
    expect(verifyInclusion(log.events[3]!, 3, (await log.inclusion(3, 12)).hashes, cp20).reason).toMatch(/has \d+ hashes, but a proof/);
    expect(verifyInclusion(log.events[3]!, 3, await log.inclusion(4, 20), cp20).reason).toMatch(/is a proof for event 4/);
    const proof = await log.inclusion(3, 20);
    expect(verifyInclusion(log.events[3]!, 3, { hashes: [...proof.hashes.slice(1), 'not base64!'] }, cp20).reason).toMatch(
      /is not a 32-byte hash/,
    );
    expect(verifyInclusion(log.events[3]!, 3, { hashes: proof.hashes.slice(1) }, cp20).reason).toMatch(/malformed/);
    const flipped = Buffer.from(proof.hashes[0]!, 'base64');
    flipped[0]! ^= 1;
    expect(verifyInclusion(log.events[3]!, 3, [flipped.toString('base64'), ...proof.hashes.slice(1)], cp20).reason).toMatch(/root mismatch/);
  });

  it('rejects events outside the tree and events that cannot be leaves', async () => {
    expect(verifyInclusion(event(20), 20, [], cp20).reason).toMatch(/not in checkpoint 20: the tree has only 20 events/);
    const bad = { ...log.events[2]!, body: { n: Number.NaN } };
    expect(verifyInclusion(bad, 2, await log.inclusion(2, 20), cp20).reason).toMatch(/cannot be encoded/);
  });

  it('checks the checkpoint signature when given the key', async () => {
    const proof = await log.inclusion(2, 20);
    const resigned = { ...cp20, timestamp: cp20.timestamp + 1 };
    expect(verifyInclusion(log.events[2]!, 2, proof, resigned).ok).toBe(true); // caller's job without a key
    expect(verifyInclusion(log.events[2]!, 2, proof, resigned, { publicKey }).reason).toMatch(/bad signature/);
  });
});

describe('verifyConsistency', () => {
  it('accepts the log growing, and equal checkpoints', async () => {
    for (const [a, b] of [
      [cp5, cp12],
      [cp12, cp20],
      [cp5, cp20],
      [cp0, cp20],
      [cp20, cp20],
    ] as const) {
      const proof = await log.consistency(a!.treeSize, b!.treeSize);
      expect(verifyConsistency(a!, b!, proof, { publicKey })).toEqual({ ok: true });
    }
  });

  it('detects a rewritten history as a new root mismatch', async () => {
    const result = verifyConsistency(forked12, cp20, await log.consistency(12, 20));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/root mismatch: the consistency proof from 12 to 20 leads to/);
  });

  it('explains swapped checkpoints, other logs, mismatched proofs and tampering', async () => {
    const proof = await log.consistency(5, 12);
    expect(verifyConsistency(cp12, cp5, proof).reason).toMatch(/the log shrank, or the checkpoints are swapped/);
    expect(verifyConsistency(cp5, { ...cp12, origin: 'other.example/log' }, proof).reason).toMatch(/different logs/);
    expect(verifyConsistency(cp5, cp20, proof).reason).toMatch(/is from 5 to 12, but the checkpoints are at 5 and 20/);
    expect(verifyConsistency(cp5, cp20, proof.hashes).reason).toMatch(/malformed|mismatch/);
    const flipped = proof.hashes.map((h, i) => (i === 0 ? toBase64(Buffer.from(h, 'base64').map((b, j) => (j === 5 ? b ^ 4 : b))) : h));
    expect(verifyConsistency(cp5, cp12, flipped).reason).toMatch(/root mismatch/);
    expect(verifyConsistency(cp0, cp12, proof.hashes).reason).toMatch(/must be empty/);
    const fakeEmpty = { ...cp0, rootHash: cp5.rootHash };
    expect(verifyConsistency(fakeEmpty, cp12, []).reason).toMatch(/empty tree's root/);
  });
});

describe('detectFork', () => {
  it('finds two signed checkpoints of the same size with different roots', () => {
    const result = detectFork(cp12, forked12, undefined, { publicKey });
    expect(result).toMatchObject({ ok: false, fork: true });
    expect(result.reason).toMatch(/^fork: two checkpoints of bank\.example\/audit at size 12 have different roots/);
  });

  it('accepts identical heads, and decides other sizes only with a proof', async () => {
    expect(detectFork(cp12, { ...cp12 })).toEqual({ ok: true, fork: false });
    expect(detectFork(cp20, cp5)).toMatchObject({ ok: false, fork: false, reason: expect.stringMatching(/^undecided/) });
    expect(detectFork(cp20, cp5, await log.consistency(5, 20))).toEqual({ ok: true, fork: false });
    const suspicious = detectFork(forked12, cp20, await log.consistency(12, 20));
    expect(suspicious).toMatchObject({ ok: false, fork: false });
    expect(suspicious.reason).toMatch(/root mismatch/);
  });

  it('does not call a forged checkpoint a fork when the key is given', () => {
    const forged = { ...forked12, signature: cp12.signature };
    expect(detectFork(cp12, forged, undefined, { publicKey })).toMatchObject({ ok: false, fork: false, reason: expect.stringMatching(/bad signature/) });
  });
});
