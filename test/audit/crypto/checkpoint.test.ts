/**
 * Signed checkpoints: C2SP tlog-checkpoint body, ECDSA P-256 signatures made
 * through a digest-signing callback (as the HSM does), verification with
 * noble and, independently, with Node's OpenSSL.
 */
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import {
  type Checkpoint,
  type CheckpointSigner,
  type TreeHead,
  checkpointBody,
  checkpointDigest,
  checkpointFromSignedNote,
  keyIdOf,
  noteVerifierKey,
  parseCheckpointBody,
  parsePublicKey,
  publicKeyToPem,
  signCheckpoint,
  spkiFromPublicKey,
  toSignedNote,
  verifyCheckpoint,
} from '../../../src/audit/crypto/checkpoint.js';
import { CheckpointError } from '../../../src/audit/crypto/errors.js';
import { toBase64 } from '../../../src/audit/crypto/bytes.js';

const ROOT = 'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg='; // the 8-leaf CT vector root
const HEAD: TreeHead = { origin: 'bank.example/audit', treeSize: 8, rootHash: ROOT, timestamp: 1769860800123 };

function makeSigner(): CheckpointSigner & { secretKey: Uint8Array } {
  const { secretKey, publicKey } = p256.keygen();
  return {
    secretKey,
    publicKey: spkiFromPublicKey(publicKey),
    // what a PKCS#11 CKM_ECDSA call returns: r || s over the given digest, s not normalised
    sign: async (digest) => p256.sign(digest, secretKey, { prehash: false, lowS: false }),
  };
}

const N = p256.Point.CURVE().n;
function highS(signatureB64: string): string {
  const sig = p256.Signature.fromBytes(Buffer.from(signatureB64, 'base64'), 'compact');
  return toBase64(new p256.Signature(sig.r, N - sig.s).toBytes('compact'));
}

describe('checkpoint body', () => {
  it('is the C2SP tlog-checkpoint text with a timestamp extension line', () => {
    expect(checkpointBody(HEAD)).toBe(`bank.example/audit\n8\n${ROOT}\ntimestamp-ms 1769860800123\n`);
    expect(parseCheckpointBody(checkpointBody(HEAD))).toEqual(HEAD);
  });

  it.each([
    ['an origin with a space', { origin: 'bank example' }],
    ['an origin with a plus', { origin: 'bank+audit' }],
    ['a non-ASCII origin', { origin: 'bänk' }],
    ['an empty origin', { origin: '' }],
    ['a negative size', { treeSize: -1 }],
    ['a fractional size', { treeSize: 1.5 }],
    ['a hex root', { rootHash: '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328' }],
    ['a short root', { rootHash: 'AAAA' }],
    ['an unpadded root', { rootHash: ROOT.slice(0, -1) }],
    ['a fractional timestamp', { timestamp: 1.5 }],
  ])('rejects %s', (_name, change) => {
    expect(() => checkpointBody({ ...HEAD, ...change } as TreeHead)).toThrow(CheckpointError);
  });

  it.each([
    ['leading zeros', `bank.example/audit\n08\n${ROOT}\ntimestamp-ms 1\n`],
    ['no timestamp line', `bank.example/audit\n8\n${ROOT}\n`],
    ['an extra line', `bank.example/audit\n8\n${ROOT}\ntimestamp-ms 1\nmore\n`],
    ['no final newline', `bank.example/audit\n8\n${ROOT}\ntimestamp-ms 1`],
    ['another extension', `bank.example/audit\n8\n${ROOT}\nTimestamp: 1\n`],
  ])('parses only the exact form, not one with %s', (_name, body) => {
    expect(() => parseCheckpointBody(body)).toThrow(CheckpointError);
  });
});

describe('public keys', () => {
  const { publicKey } = p256.keygen();
  const spki = spkiFromPublicKey(publicKey);

  it('are SPKI DER that OpenSSL reads as the same P-256 point', () => {
    expect(spki.length).toBe(91);
    const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    const point = p256.Point.fromBytes(publicKey).toBytes(false);
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(Buffer.from(jwk.x!, 'base64url')).toEqual(Buffer.from(point.subarray(1, 33)));
    expect(Buffer.from(jwk.y!, 'base64url')).toEqual(Buffer.from(point.subarray(33)));
  });

  it('round-trip through PEM, and OpenSSL exports the same PEM', () => {
    const pem = publicKeyToPem(spki);
    expect(parsePublicKey(pem).spki).toEqual(spki);
    const fromOpenssl = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' });
    expect(pem).toBe(fromOpenssl);
    expect(keyIdOf(pem)).toBe(keyIdOf(spki));
    expect(keyIdOf(spki)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('are refused in any other shape', () => {
    expect(() => parsePublicKey(publicKey)).toThrow(CheckpointError); // raw point, not SPKI
    expect(() => parsePublicKey(spki.slice(0, 90))).toThrow(CheckpointError);
    const offCurve = Uint8Array.from(spki);
    offCurve[90]! ^= 1;
    expect(() => parsePublicKey(offCurve)).toThrow(CheckpointError);
    const secp256k1Spki = Buffer.from('3056301006072a8648ce3d020106052b8104000a034200' + '04'.padEnd(130, '1'), 'hex');
    expect(() => parsePublicKey(secp256k1Spki)).toThrow(CheckpointError);
    expect(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----')).toThrow(CheckpointError);
    expect(() => spkiFromPublicKey(new Uint8Array(65))).toThrow(CheckpointError);
  });
});

describe('signing and verifying checkpoints', () => {
  const signer = makeSigner();
  let checkpoint: Checkpoint;

  beforeAll(async () => {
    checkpoint = await signCheckpoint(HEAD, signer);
  });

  it('signs SHA-256 of the body and names the key', () => {
    expect(checkpoint).toMatchObject(HEAD);
    expect(checkpoint.keyId).toBe(keyIdOf(signer.publicKey));
    expect(Buffer.from(checkpoint.signature, 'base64').length).toBe(64);
    expect(verifyCheckpoint(checkpoint, signer.publicKey)).toEqual({ ok: true });
  });

  it('is verifiable by OpenSSL from the body, the SPKI key and r || s alone', () => {
    const key = createPublicKey({ key: Buffer.from(signer.publicKey as Uint8Array), format: 'der', type: 'spki' });
    const body = Buffer.from(checkpointBody(checkpoint), 'utf8');
    const signature = Buffer.from(checkpoint.signature, 'base64');
    expect(opensslVerify('sha256', body, { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });

  it('accepts high-S signatures (P-256 ECDSA has no low-S rule), as OpenSSL does', () => {
    const flipped = { ...checkpoint, signature: highS(checkpoint.signature) };
    expect(flipped.signature).not.toBe(checkpoint.signature);
    expect(verifyCheckpoint(flipped, signer.publicKey).ok).toBe(true);
  });

  it.each([
    ['a changed size', { treeSize: 9 }],
    ['a changed root', { rootHash: 'LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=' }],
    ['a changed origin', { origin: 'other.example/audit' }],
    ['a changed timestamp', { timestamp: HEAD.timestamp + 1 }],
  ])('rejects %s', (_name, change) => {
    const result = verifyCheckpoint({ ...checkpoint, ...change }, signer.publicKey);
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/bad signature/);
  });

  it('rejects forged and malformed signatures', () => {
    const sig = Buffer.from(checkpoint.signature, 'base64');
    sig[10]! ^= 1;
    expect(verifyCheckpoint({ ...checkpoint, signature: sig.toString('base64') }, signer.publicKey).reason).toMatch(/bad signature/);
    const zero = toBase64(new Uint8Array(64));
    expect(verifyCheckpoint({ ...checkpoint, signature: zero }, signer.publicKey).ok).toBe(false);
    const overflow = toBase64(new Uint8Array(64).fill(0xff)); // r, s >= n
    expect(verifyCheckpoint({ ...checkpoint, signature: overflow }, signer.publicKey).ok).toBe(false);
    expect(verifyCheckpoint({ ...checkpoint, signature: checkpoint.signature.slice(4) }, signer.publicKey).reason).toMatch(/malformed signature/);
    const other = makeSigner();
    const forged = p256.sign(checkpointDigest(checkpoint), other.secretKey, { prehash: false });
    expect(verifyCheckpoint({ ...checkpoint, signature: toBase64(forged) }, signer.publicKey).reason).toMatch(/bad signature/);
  });

  it('picks the key by key id and refuses unknown keys', () => {
    const other = makeSigner();
    expect(verifyCheckpoint(checkpoint, [other.publicKey, publicKeyToPem(signer.publicKey)]).ok).toBe(true);
    const unknown = verifyCheckpoint(checkpoint, other.publicKey);
    expect(unknown.ok).toBe(false);
    expect(unknown.reason).toMatch(/not a trusted key/);
    const relabelled = { ...checkpoint, keyId: keyIdOf(other.publicKey) };
    expect(verifyCheckpoint(relabelled, [other.publicKey, signer.publicKey]).ok).toBe(false);
  });

  it('refuses a signer that returns DER, a wrong-key signature or garbage', async () => {
    const der: CheckpointSigner = { ...signer, sign: async (d) => p256.sign(d, signer.secretKey, { prehash: false, format: 'der' }) };
    await expect(signCheckpoint(HEAD, der)).rejects.toThrow(/r \|\| s \(64 bytes\)/);
    const wrongKey: CheckpointSigner = { ...signer, publicKey: makeSigner().publicKey };
    await expect(signCheckpoint(HEAD, wrongKey)).rejects.toThrow(/does not verify/);
    const prehashed: CheckpointSigner = { ...signer, sign: async (d) => p256.sign(d, signer.secretKey) }; // hashes twice
    await expect(signCheckpoint(HEAD, prehashed)).rejects.toThrow(CheckpointError);
  });
});

describe('signed-note rendering', () => {
  const signer = makeSigner();

  it('writes a C2SP signed note with a type 0x02 key hash and a DER signature that OpenSSL verifies', async () => {
    const checkpoint = await signCheckpoint(HEAD, signer);
    const note = toSignedNote(checkpoint);
    const [body, sigLine] = note.split('\n\n');
    expect(`${body}\n`).toBe(checkpointBody(HEAD));
    const match = /^\u2014 bank\.example\/audit (\S+)\n$/.exec(sigLine!);
    expect(match).not.toBeNull();
    const blob = Buffer.from(match![1]!, 'base64');
    expect(blob.subarray(0, 4).toString('hex')).toBe(checkpoint.keyId.slice(0, 8));
    const key = createPublicKey({ key: Buffer.from(signer.publicKey as Uint8Array), format: 'der', type: 'spki' });
    expect(opensslVerify('sha256', Buffer.from(`${body}\n`), key, blob.subarray(4))).toBe(true);

    const back = checkpointFromSignedNote(note, signer.publicKey);
    expect(back).toMatchObject(HEAD);
    expect(verifyCheckpoint(back, signer.publicKey).ok).toBe(true);
  });

  it('names the key for note tools as <name>+<key hash>+base64(0x02 || SPKI)', () => {
    const vkey = noteVerifierKey('bank.example/audit', signer.publicKey);
    const [name, hash, ...rest] = vkey.split('+'); // base64 may contain "+": split at the first two only
    const blob = rest.join('+');
    expect(name).toBe('bank.example/audit');
    expect(hash).toBe(keyIdOf(signer.publicKey).slice(0, 8));
    const bytes = Buffer.from(blob, 'base64');
    expect(bytes[0]).toBe(0x02);
    expect(new Uint8Array(bytes.subarray(1))).toEqual(signer.publicKey);
    expect(() => noteVerifierKey('bank audit', signer.publicKey)).toThrow(CheckpointError);
  });

  it('skips signatures by other keys and rejects malformed notes', async () => {
    const checkpoint = await signCheckpoint(HEAD, signer);
    const other = await signCheckpoint(HEAD, makeSigner());
    const otherLine = toSignedNote(other).split('\n\n')[1]!;
    const both = `${toSignedNote(checkpoint).slice(0, -1)}\n${otherLine}`;
    expect(verifyCheckpoint(checkpointFromSignedNote(both, signer.publicKey), signer.publicKey).ok).toBe(true);
    expect(() => checkpointFromSignedNote(toSignedNote(other), signer.publicKey)).toThrow(/no signature/);
    expect(() => checkpointFromSignedNote(checkpointBody(HEAD), signer.publicKey)).toThrow(CheckpointError);
  });
});
