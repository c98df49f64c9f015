/**
 * Envelope encryption against a real SoftHSM2 token: round trip, context binding, and every swap
 * of stored parts between envelopes is rejected without returning data.
 */
import { canonicalContext, EnvelopeError, open, seal, type EnvelopeContext, type EnvelopeHsm, type SealedEnvelope } from '../../src/hsm/envelope.js';
import { HsmError, Pkcs11Client } from '../../src/hsm/pkcs11-client.js';
import { SOFTHSM_MODULE, testToken, uniqueLabel } from './support.js';

const token = testToken();
const client = new Pkcs11Client();
const kek = uniqueLabel('test-kek');
const otherKek = uniqueLabel('test-kek-other');

const context = { wallet: 'w-1', party: '1', version: '3', curve: 'secp256k1', publicShare: '02ab' };
const share = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');

beforeAll(async () => {
  await client.open({ modulePath: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, sessions: 2 });
  await client.ensureAesKey(kek);
  await client.ensureAesKey(otherKek);
});

afterAll(() => client.close());

async function openError(envelope: SealedEnvelope, expected: EnvelopeContext = context): Promise<EnvelopeError> {
  try {
    await open(client, envelope, expected);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return error as EnvelopeError;
  }
  throw new Error('expected open() to reject');
}

describe('canonical context encoding (RFC 8785 for a flat object of strings)', () => {
  it('sorts keys and escapes strings', () => {
    expect(canonicalContext({ b: '2', a: '1' })).toBe('{"a":"1","b":"2"}');
    expect(canonicalContext({ a: 'x"y\\z\n' })).toBe('{"a":"x\\"y\\\\z\\n"}');
    // RFC 8785 section 3.2.3 sorts by UTF-16 code units: 0x000D < 0x20AC < 0xD83D (high surrogate of U+1F600).
    expect(canonicalContext({ '\u{1F600}': 'b', '\u20ac': 'a', '\r': 'c' })).toBe('{"\\r":"c","\u20ac":"a","\u{1F600}":"b"}');
  });

  it('never encodes two different contexts the same way', () => {
    expect(canonicalContext({ a: '1","b":"2' })).not.toBe(canonicalContext({ a: '1', b: '2' }));
    expect(canonicalContext({ ab: 'c' })).not.toBe(canonicalContext({ a: 'bc' }));
  });

  it('accepts only non-empty objects of strings', () => {
    expect(() => canonicalContext({})).toThrow(EnvelopeError);
    expect(() => canonicalContext({ n: 1 as unknown as string })).toThrow('field "n" must be a string');
    expect(() => canonicalContext(['a'] as unknown as Record<string, string>)).toThrow(EnvelopeError);
  });
});

describe('seal and open', () => {
  it('round-trips through JSON', async () => {
    const envelope = await seal(client, kek, share, context);
    const stored = JSON.parse(JSON.stringify(envelope)) as SealedEnvelope;
    expect(stored).toMatchObject({ v: 1, kek, aad: canonicalContext(context) });
    expect(Buffer.from(stored.wrappedDek.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(stored.wrappedDek.ciphertext, 'base64')).toHaveLength(48);
    expect(Buffer.from(stored.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(stored.ciphertext, 'base64')).toHaveLength(share.length + 16);
    expect(await open(client, stored, { ...context })).toEqual(share);
    // Field order of the expected context does not matter.
    const reordered = Object.fromEntries(Object.entries(context).reverse());
    expect(await open(client, stored, reordered)).toEqual(share);
  });

  it('uses a fresh data key per envelope', async () => {
    const a = await seal(client, kek, share, context);
    const b = await seal(client, kek, share, context);
    expect(a.wrappedDek.ciphertext).not.toBe(b.wrappedDek.ciphertext);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it('rejects a different expected context and names the differing fields', async () => {
    const envelope = await seal(client, kek, share, context);
    const error = await openError(envelope, { ...context, party: '2' });
    expect(error.code).toBe('ENVELOPE_CONTEXT_MISMATCH');
    expect(error.message).toBe('envelope is bound to a different context (fields differing: party)');
    expect((await openError(envelope, { ...context, extra: 'x' })).code).toBe('ENVELOPE_CONTEXT_MISMATCH');
  });

  it('rejects an envelope whose stored context was rewritten to match', async () => {
    const envelope = await seal(client, kek, share, context);
    const forged = { ...context, wallet: 'w-2' };
    const error = await openError({ ...envelope, aad: canonicalContext(forged) }, forged);
    expect(error.code).toBe('ENVELOPE_AUTHENTICATION_FAILED');
  });

  it('rejects parts swapped between envelopes', async () => {
    const a = await seal(client, kek, share, context);
    const b = await seal(client, kek, Buffer.from('another share'), context);
    const otherWallet = { ...context, wallet: 'w-2' };
    const c = await seal(client, kek, share, otherWallet);
    const swaps: SealedEnvelope[] = [
      { ...a, wrappedDek: b.wrappedDek },
      { ...a, ciphertext: b.ciphertext },
      { ...a, iv: b.iv },
      { ...a, wrappedDek: c.wrappedDek },
      { ...c, aad: a.aad },
    ];
    for (const swapped of swaps) expect((await openError(swapped)).code).toBe('ENVELOPE_AUTHENTICATION_FAILED');
  });

  it('rejects altered bytes and a different key label', async () => {
    const envelope = await seal(client, kek, share, context);
    const flipped = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 1]! ^= 1;
      return bytes.toString('base64');
    };
    expect((await openError({ ...envelope, ciphertext: flipped(envelope.ciphertext) })).code).toBe('ENVELOPE_AUTHENTICATION_FAILED');
    expect((await openError({ ...envelope, wrappedDek: { ...envelope.wrappedDek, ciphertext: flipped(envelope.wrappedDek.ciphertext) } })).code).toBe(
      'ENVELOPE_AUTHENTICATION_FAILED',
    );
    expect((await openError({ ...envelope, kek: otherKek })).code).toBe('ENVELOPE_AUTHENTICATION_FAILED');
  });

  it('rejects malformed envelopes before touching the HSM', async () => {
    const envelope = await seal(client, kek, share, context);
    const malformed: unknown[] = [
      { ...envelope, v: 2 },
      { ...envelope, iv: 'not base64!' },
      { ...envelope, iv: Buffer.alloc(0).toString('base64') },
      { ...envelope, wrappedDek: { iv: envelope.wrappedDek.iv, ciphertext: Buffer.alloc(32).toString('base64') } },
      { ...envelope, ciphertext: Buffer.alloc(8).toString('base64') },
      { ...envelope, kek: '' },
      null,
    ];
    for (const bad of malformed) expect((await openError(bad as SealedEnvelope)).code).toBe('ENVELOPE_MALFORMED');
  });

  it('reports a missing key-encryption key as an HSM error', async () => {
    await expect(seal(client, 'test-kek-missing', share, context)).rejects.toMatchObject({ code: 'HSM_KEY_NOT_FOUND' });
    await expect(seal(client, 'test-kek-missing', share, context)).rejects.toBeInstanceOf(HsmError);
  });

  it('zeroes the data key after sealing and opening', async () => {
    const keys: Buffer[] = [];
    const watching: EnvelopeHsm = {
      randomBytes: async (n) => {
        const bytes = await client.randomBytes(n);
        keys.push(bytes);
        return bytes;
      },
      aesGcmEncrypt: (label, plaintext, aad) => client.aesGcmEncrypt(label, plaintext, aad),
      aesGcmDecrypt: async (label, iv, ciphertext, aad) => {
        const dek = await client.aesGcmDecrypt(label, iv, ciphertext, aad);
        keys.push(dek);
        return dek;
      },
    };
    const envelope = await seal(watching, kek, share, context);
    expect(await open(watching, envelope, context)).toEqual(share);
    await expect(open(watching, { ...envelope, iv: Buffer.alloc(12).toString('base64') }, context)).rejects.toThrow(EnvelopeError);
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      expect(key).toHaveLength(32);
      expect(key.every((byte) => byte === 0)).toBe(true);
    }
  });
});
