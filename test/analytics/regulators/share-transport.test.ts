/**
 * The plain modules under the key ceremony: the submission digest (RFC 8785 canonical JSON, so
 * member order does not matter and the domain separates kinds), and the encryption of dealer
 * shares to their recipient (round trip, binding to key set / slot / dealer / recipient, a
 * revealed envelope key opening that one envelope only, malformed envelopes refused).
 */
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { signedDigest } from '../../../src/analytics/signed-digest.js';
import {
  ShareTransportError,
  assertShareEnvelope,
  decryptDealerShare,
  encryptDealerShare,
  openWithRevealedKey,
} from '../../../src/analytics/regulators/share-transport.js';

describe('signedDigest', () => {
  it('is SHA-256 of the canonical JSON of {domain, ...body}, whatever the member order', () => {
    const expected = createHash('sha256').update('{"definition":{"a":1,"b":[true,null,"x"]},"domain":"analytics-task","taskId":"t-1"}').digest('hex');
    const one = signedDigest('analytics-task', { taskId: 't-1', definition: { b: [true, null, 'x'], a: 1 } });
    const two = signedDigest('analytics-task', { definition: { a: 1, b: [true, null, 'x'] }, taskId: 't-1' });
    expect(Buffer.from(one).toString('hex')).toBe(expected);
    expect(Buffer.from(two).toString('hex')).toBe(expected);
    expect(Buffer.from(signedDigest('analytics-partials', { taskId: 't-1', definition: { a: 1, b: [true, null, 'x'] } })).toString('hex')).not.toBe(expected);
  });

  it('refuses values JSON cannot carry exactly, and a body that overrides the domain', () => {
    expect(() => signedDigest('d', { n: 1n })).toThrow();
    expect(() => signedDigest('d', { n: undefined })).toThrow();
    expect(() => signedDigest('d', { domain: 'other' })).toThrow(TypeError);
    expect(() => signedDigest('', {})).toThrow(TypeError);
  });
});

describe('dealer share transport', () => {
  const secret = secp256k1.utils.randomSecretKey();
  const recipientKey = Buffer.from(secp256k1.getPublicKey(secret, true)).toString('hex');
  const ecdh = (peer: Uint8Array) => secp256k1.getSharedSecret(secret, peer, true);
  const binding = { keySetId: '6f9619ff-8b86-d011-b42d-00c04fc964ff', slot: 'amount', dealer: 2, recipient: 4 };
  const share = 123456789012345678901234567890n;

  it('round-trips to the recipient and yields an envelope key that opens that envelope', () => {
    const env = encryptDealerShare(binding, share, recipientKey);
    assertShareEnvelope(env);
    expect(env.ciphertext).not.toContain(share.toString(16));
    const opened = decryptDealerShare(binding, env, recipientKey, ecdh);
    expect(opened.share).toBe(share);
    expect(openWithRevealedKey(binding, env, opened.envelopeKey)).toBe(share);
    // A fresh ephemeral key per envelope: the same share to the same recipient gives another key.
    const other = encryptDealerShare(binding, share, recipientKey);
    expect(decryptDealerShare(binding, other, recipientKey, ecdh).envelopeKey).not.toBe(opened.envelopeKey);
    expect(() => openWithRevealedKey(binding, other, opened.envelopeKey)).toThrow(ShareTransportError);
  });

  it('does not open when presented for another key set, slot, dealer or recipient, or to another key', () => {
    const env = encryptDealerShare(binding, share, recipientKey);
    for (const moved of [{ keySetId: '00000000-0000-0000-0000-000000000000' }, { slot: 'bucket0' }, { dealer: 3 }, { recipient: 5 }]) {
      expect(() => decryptDealerShare({ ...binding, ...moved }, env, recipientKey, ecdh)).toThrow(ShareTransportError);
    }
    const stranger = secp256k1.utils.randomSecretKey();
    expect(() => decryptDealerShare(binding, env, recipientKey, (p) => secp256k1.getSharedSecret(stranger, p, true))).toThrow(ShareTransportError);
    const flipped = { ...env, ciphertext: (env.ciphertext[0] === '0' ? '1' : '0') + env.ciphertext.slice(1) };
    expect(() => decryptDealerShare(binding, flipped, recipientKey, ecdh)).toThrow(ShareTransportError);
  });

  it('refuses malformed envelopes and out-of-range shares', () => {
    const env = encryptDealerShare(binding, share, recipientKey);
    expect(() => assertShareEnvelope({ ...env, ephemeralKey: '02' + 'ff'.repeat(32) })).toThrow(/not a point of secp256k1/);
    expect(() => assertShareEnvelope({ ...env, iv: 'abcd' })).toThrow(/iv/);
    expect(() => assertShareEnvelope({ ...env, ciphertext: env.ciphertext.slice(2) })).toThrow(/ciphertext/);
    expect(() => openWithRevealedKey(binding, env, 'zz')).toThrow(/envelope key/);
    expect(() => encryptDealerShare(binding, -1n, recipientKey)).toThrow(ShareTransportError);
  });
});
