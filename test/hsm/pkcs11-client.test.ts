/**
 * Pkcs11Client against a real SoftHSM2 token: login failures, key policy, AES-GCM, ECDSA on
 * secp256k1 and P-256 (checked with noble), HMAC, the session pool and stale key handles.
 */
import { inspect } from 'node:util';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { EC_CURVES } from '../../src/hsm/ec-curves.js';
import { HsmError, Pkcs11Client, type Pkcs11ClientOptions } from '../../src/hsm/pkcs11-client.js';
import { SOFTHSM_MODULE, testToken, uniqueLabel } from './support.js';

const token = testToken();
const options: Pkcs11ClientOptions = { modulePath: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, sessions: 2 };

async function rejection(promise: Promise<unknown>): Promise<HsmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HsmError);
    return error as HsmError;
  }
  throw new Error('expected a rejection');
}

/**
 * Direct PKCS#11 access to the token the client uses, to inspect and manipulate key objects the
 * way another process could. The module is already initialised by the client; this never finalises it.
 */
class RawToken {
  readonly lib: PKCS11 = new pkcs11js.PKCS11();
  readonly session: Handle;

  constructor() {
    this.lib.load(SOFTHSM_MODULE);
    try {
      this.lib.C_Initialize();
    } catch (error) {
      if ((error as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
    }
    const slot = this.lib.C_GetSlotList(true).find((s) => this.lib.C_GetTokenInfo(s).label.trim() === token.label)!;
    this.session = this.lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  }

  find(label: string, cls: number): Handle[] {
    this.lib.C_FindObjectsInit(this.session, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    try {
      return this.lib.C_FindObjects(this.session, 10);
    } finally {
      this.lib.C_FindObjectsFinal(this.session);
    }
  }

  flags(handle: Handle, types: Record<string, number>): Record<string, boolean> {
    const names = Object.keys(types);
    const values = this.lib.C_GetAttributeValue(this.session, handle, names.map((n) => ({ type: types[n]! })));
    return Object.fromEntries(names.map((n, i) => [n, values[i]!.value[0] !== 0]));
  }

  createAesKey(label: string, extra: { type: number; value: boolean }[] = []): Handle {
    return this.lib.C_GenerateKey(this.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      ...extra,
    ]);
  }

  close(): void {
    this.lib.C_CloseSession(this.session);
  }
}

describe('opening the token', () => {
  it('opens, logs in and closes', async () => {
    const client = new Pkcs11Client();
    await client.open(options);
    expect(client.isOpen).toBe(true);
    expect((await client.randomBytes(8)).length).toBe(8);
    await client.close();
    await client.close();
    expect(client.isOpen).toBe(false);
    expect((await rejection(client.randomBytes(8))).code).toBe('HSM_CLOSED');
    expect((await rejection(client.open(options))).code).toBe('HSM_INVALID_ARGUMENT');
  });

  it('reports a wrong PIN without revealing it', async () => {
    const wrongPin = 'not-the-pin-4711';
    const client = new Pkcs11Client();
    const error = await rejection(client.open({ ...options, pin: wrongPin }));
    expect(error.code).toBe('CKR_PIN_INCORRECT');
    expect(error.message).toBe(`HSM login failed: the PIN for token "${token.label}" is incorrect (CKR_PIN_INCORRECT)`);
    expect(inspect(error)).not.toContain(wrongPin);
    expect(JSON.stringify(error)).not.toContain(wrongPin);
    expect(inspect(error)).not.toContain(token.pin);
    expect(client.isOpen).toBe(false);

    // The failed attempt released the module: a correct login still works.
    const retry = new Pkcs11Client();
    await retry.open(options);
    await retry.close();
  });

  it('names an unknown token label and what to do', async () => {
    const error = await rejection(new Pkcs11Client().open({ ...options, tokenLabel: 'no-such-token' }));
    expect(error.code).toBe('HSM_TOKEN_NOT_FOUND');
    expect(error.message).toMatch(/^HSM token "no-such-token" not found: run hsm\/setup-token\.sh or check HSM_TOKEN_LABEL/);
    expect(error.message).toContain(`"${token.label}"`);
  });

  it('names a module that cannot be loaded', async () => {
    const error = await rejection(new Pkcs11Client().open({ ...options, modulePath: '/nonexistent/libpkcs11.so' }));
    expect(error.code).toBe('HSM_MODULE_LOAD_FAILED');
    expect(error.message).toMatch(/^cannot load PKCS#11 module at \/nonexistent\/libpkcs11\.so/);
  });

  it('validates its options', async () => {
    expect((await rejection(new Pkcs11Client().open({ ...options, sessions: 0 }))).code).toBe('HSM_INVALID_ARGUMENT');
    expect((await rejection(new Pkcs11Client().open({ ...options, pin: '' }))).message).toContain('HSM_PIN');
    expect((await rejection(new Pkcs11Client().randomBytes(1))).code).toBe('HSM_NOT_OPEN');
  });
});

describe('with an open client', () => {
  const client = new Pkcs11Client();
  let raw: RawToken;

  beforeAll(async () => {
    await client.open(options);
    raw = new RawToken();
  });

  afterAll(async () => {
    raw?.close();
    await client.close();
  });

  describe('AES-256-GCM', () => {
    const label = uniqueLabel('test-aes');
    beforeAll(() => client.ensureAesKey(label));

    it('creates the key once', async () => {
      expect(await client.ensureAesKey(label)).toEqual({ label, created: false });
      expect(raw.find(label, pkcs11js.CKO_SECRET_KEY)).toHaveLength(1);
    });

    it('keeps the key inside the token with every usage set explicitly', () => {
      const [handle] = raw.find(label, pkcs11js.CKO_SECRET_KEY);
      expect(
        raw.flags(handle!, {
          extractable: pkcs11js.CKA_EXTRACTABLE,
          neverExtractable: pkcs11js.CKA_NEVER_EXTRACTABLE,
          sensitive: pkcs11js.CKA_SENSITIVE,
          token: pkcs11js.CKA_TOKEN,
          private: pkcs11js.CKA_PRIVATE,
          encrypt: pkcs11js.CKA_ENCRYPT,
          decrypt: pkcs11js.CKA_DECRYPT,
          wrap: pkcs11js.CKA_WRAP,
          unwrap: pkcs11js.CKA_UNWRAP,
          sign: pkcs11js.CKA_SIGN,
          verify: pkcs11js.CKA_VERIFY,
          derive: pkcs11js.CKA_DERIVE,
          modifiable: pkcs11js.CKA_MODIFIABLE,
          copyable: pkcs11js.CKA_COPYABLE,
        }),
      ).toEqual({
        extractable: false,
        neverExtractable: true,
        sensitive: true,
        token: true,
        private: true,
        encrypt: true,
        decrypt: true,
        wrap: false,
        unwrap: false,
        sign: false,
        verify: false,
        derive: false,
        modifiable: false,
        copyable: false,
      });
      expect(() => raw.lib.C_GetAttributeValue(raw.session, handle!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(
        'CKR_ATTRIBUTE_SENSITIVE',
      );
    });

    it('round-trips with associated data under a fresh IV each time', async () => {
      const plaintext = Buffer.from('share of party 1');
      const aad = Buffer.from('wallet=w1');
      const a = await client.aesGcmEncrypt(label, plaintext, aad);
      const b = await client.aesGcmEncrypt(label, plaintext, aad);
      expect(a.iv).toHaveLength(12);
      expect(a.ciphertext).toHaveLength(plaintext.length + 16);
      expect(a.iv.equals(b.iv)).toBe(false);
      expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
      expect(await client.aesGcmDecrypt(label, a.iv, a.ciphertext, aad)).toEqual(plaintext);
      const noAad = await client.aesGcmEncrypt(label, new Uint8Array([1, 2, 3]));
      expect(await client.aesGcmDecrypt(label, noAad.iv, noAad.ciphertext)).toEqual(Buffer.from([1, 2, 3]));
    });

    it('rejects altered ciphertext, tag, IV or AAD', async () => {
      const aad = Buffer.from('wallet=w1');
      const { iv, ciphertext } = await client.aesGcmEncrypt(label, Buffer.from('secret'), aad);
      const flip = (b: Buffer, i: number) => {
        const c = Buffer.from(b);
        c[i]! ^= 1;
        return c;
      };
      // Each attempt gets its rejection handler at once: they run concurrently on the session pool,
      // and one that fails before the loop reaches it must not count as an unhandled rejection.
      const attempts = [
        rejection(client.aesGcmDecrypt(label, iv, flip(ciphertext, 0), aad)),
        rejection(client.aesGcmDecrypt(label, iv, flip(ciphertext, ciphertext.length - 1), aad)),
        rejection(client.aesGcmDecrypt(label, flip(iv, 5), ciphertext, aad)),
        rejection(client.aesGcmDecrypt(label, iv, ciphertext, Buffer.from('wallet=w2'))),
        rejection(client.aesGcmDecrypt(label, iv, ciphertext)),
      ];
      for (const error of await Promise.all(attempts)) {
        expect(error.code).toBe('HSM_AUTHENTICATION_FAILED');
        expect(error.message).toContain(`key "${label}"`);
      }
    });

    it('validates lengths the token would accept', async () => {
      const { ciphertext } = await client.aesGcmEncrypt(label, Buffer.from('x'));
      const emptyIv = await rejection(client.aesGcmDecrypt(label, Buffer.alloc(0), ciphertext));
      expect(emptyIv.code).toBe('HSM_INVALID_ARGUMENT');
      expect(emptyIv.message).toBe('AES-GCM IV must be exactly 12 bytes, got 0');
      expect((await rejection(client.aesGcmDecrypt(label, Buffer.alloc(16), ciphertext))).code).toBe('HSM_INVALID_ARGUMENT');
      expect((await rejection(client.aesGcmDecrypt(label, Buffer.alloc(12), Buffer.alloc(16)))).code).toBe('HSM_INVALID_ARGUMENT');
      expect((await rejection(client.aesGcmEncrypt(label, Buffer.alloc(0)))).code).toBe('HSM_INVALID_ARGUMENT');
    });

    it('says which key is missing', async () => {
      const error = await rejection(client.aesGcmEncrypt('test-missing-key', Buffer.from('x')));
      expect(error.code).toBe('HSM_KEY_NOT_FOUND');
      expect(error.message).toBe(`HSM AES key "test-missing-key" not found on token "${token.label}": create it first (ensureAesKey)`);
    });

    it('creates one key when many callers ensure the same label at once', async () => {
      const fresh = uniqueLabel('test-aes-race');
      const results = await Promise.all(Array.from({ length: 6 }, () => client.ensureAesKey(fresh)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(raw.find(fresh, pkcs11js.CKO_SECRET_KEY)).toHaveLength(1);
    });

    it('refuses an existing key that breaks the policy', async () => {
      const weak = uniqueLabel('test-aes-weak');
      raw.createAesKey(weak, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]);
      const error = await rejection(client.ensureAesKey(weak));
      expect(error.code).toBe('HSM_KEY_MISMATCH');
      expect(error.message).toContain('CKA_EXTRACTABLE is true, expected false');
    });

    it('maps a refused operation and keeps the pool usable', async () => {
      const decryptOnly = uniqueLabel('test-aes-decrypt-only');
      raw.createAesKey(decryptOnly, [{ type: pkcs11js.CKA_ENCRYPT, value: false }]);
      const error = await rejection(client.aesGcmEncrypt(decryptOnly, Buffer.from('x')));
      expect(error.code).toBe('CKR_KEY_FUNCTION_NOT_PERMITTED');
      expect(error.message).toBe(`HSM key "${decryptOnly}" may not be used for AES-GCM encryption (CKR_KEY_FUNCTION_NOT_PERMITTED)`);
      // The session that failed was replaced; both sessions still work.
      await Promise.all([client.randomBytes(4), client.aesGcmEncrypt(label, Buffer.from('y'))]);
      expect((await client.status()).sessions).toBe(2);
    });

    it('looks a key up again when its cached handle went stale', async () => {
      const rotating = uniqueLabel('test-aes-stale');
      await client.ensureAesKey(rotating);
      const before = await client.aesGcmEncrypt(rotating, Buffer.from('before'));

      // Another process replaces the key under the same label.
      for (const handle of raw.find(rotating, pkcs11js.CKO_SECRET_KEY)) raw.lib.C_DestroyObject(raw.session, handle);
      raw.createAesKey(rotating);

      const after = await client.aesGcmEncrypt(rotating, Buffer.from('after'));
      expect((await client.aesGcmDecrypt(rotating, after.iv, after.ciphertext)).toString()).toBe('after');
      expect((await rejection(client.aesGcmDecrypt(rotating, before.iv, before.ciphertext))).code).toBe('HSM_AUTHENTICATION_FAILED');
    });
  });

  describe.each([
    ['secp256k1', secp256k1, true],
    ['P-256', p256, false],
  ] as const)('ECDSA on %s', (curve, noble, lowS) => {
    const label = uniqueLabel(`test-ec-${curve}`);
    let publicKey: Buffer;

    beforeAll(async () => {
      const status = await client.ensureEcKeyPair(label, curve);
      expect(status).toMatchObject({ label, curve, created: true });
      publicKey = status.publicKey;
    });

    it('returns the 65-byte uncompressed public key', async () => {
      expect(publicKey).toHaveLength(65);
      expect(publicKey[0]).toBe(0x04);
      expect(await client.getEcPublicKey(label)).toEqual(publicKey);
      expect(() => noble.Point.fromBytes(publicKey)).not.toThrow();
      const again = await client.ensureEcKeyPair(label, curve);
      expect(again.created).toBe(false);
      expect(again.publicKey).toEqual(publicKey);
    });

    it('keeps the private key sign-only and non-extractable', () => {
      const [privateKey] = raw.find(label, pkcs11js.CKO_PRIVATE_KEY);
      const [publicHandle] = raw.find(label, pkcs11js.CKO_PUBLIC_KEY);
      expect(
        raw.flags(privateKey!, {
          extractable: pkcs11js.CKA_EXTRACTABLE,
          sensitive: pkcs11js.CKA_SENSITIVE,
          sign: pkcs11js.CKA_SIGN,
          signRecover: pkcs11js.CKA_SIGN_RECOVER,
          decrypt: pkcs11js.CKA_DECRYPT,
          unwrap: pkcs11js.CKA_UNWRAP,
          derive: pkcs11js.CKA_DERIVE,
          modifiable: pkcs11js.CKA_MODIFIABLE,
        }),
      ).toEqual({ extractable: false, sensitive: true, sign: true, signRecover: false, decrypt: false, unwrap: false, derive: false, modifiable: false });
      expect(raw.flags(publicHandle!, { verify: pkcs11js.CKA_VERIFY, encrypt: pkcs11js.CKA_ENCRYPT })).toEqual({ verify: true, encrypt: false });
    });

    it('signs digests that verify with noble', async () => {
      const half = EC_CURVES[curve].order >> 1n;
      for (let i = 0; i < 12; i++) {
        const digest = sha256(Buffer.from(`message ${i}`));
        const signature = await client.signEcdsaDigest(label, digest);
        expect(signature).toHaveLength(64);
        expect(noble.verify(signature, digest, publicKey, { prehash: false, lowS: false })).toBe(true);
        if (lowS) {
          expect(BigInt('0x' + signature.subarray(32).toString('hex')) <= half).toBe(true);
          expect(noble.verify(signature, digest, publicKey, { prehash: false, lowS: true })).toBe(true);
        }
      }
    });

    it('rejects digests that are not 32 bytes', async () => {
      for (const length of [0, 20, 31, 33, 64]) {
        const error = await rejection(client.signEcdsaDigest(label, new Uint8Array(length)));
        expect(error.code).toBe('HSM_INVALID_ARGUMENT');
        expect(error.message).toBe(`ECDSA digest must be exactly 32 bytes, got ${length}`);
      }
    });

    it('refuses to reuse the label on another curve', async () => {
      const other = curve === 'secp256k1' ? 'P-256' : 'secp256k1';
      const error = await rejection(client.ensureEcKeyPair(label, other));
      expect(error.code).toBe('HSM_KEY_MISMATCH');
      expect(error.message).toContain(`exists on curve ${curve}, not ${other}`);
    });
  });

  it('rejects an unsupported curve', async () => {
    expect((await rejection(client.ensureEcKeyPair('test-ec-bad', 'P-384' as never))).code).toBe('HSM_INVALID_ARGUMENT');
  });

  describe('HMAC-SHA256', () => {
    const label = uniqueLabel('test-hmac');
    beforeAll(() => client.ensureHmacKey(label));

    it('is deterministic per input and verifies inside the token', async () => {
      const a1 = await client.hmacSha256(label, Buffer.from('api-key-1'));
      const a2 = await client.hmacSha256(label, Buffer.from('api-key-1'));
      const b = await client.hmacSha256(label, Buffer.from('api-key-2'));
      expect(a1).toHaveLength(32);
      expect(a1).toEqual(a2);
      expect(a1.equals(b)).toBe(false);
      expect(await client.verifyHmacSha256(label, Buffer.from('api-key-1'), a1)).toBe(true);
      expect(await client.verifyHmacSha256(label, Buffer.from('api-key-2'), a1)).toBe(false);
      const flipped = Buffer.from(a1);
      flipped[31]! ^= 0x80;
      expect(await client.verifyHmacSha256(label, Buffer.from('api-key-1'), flipped)).toBe(false);
      expect(await client.verifyHmacSha256(label, Buffer.from('api-key-1'), a1.subarray(0, 16))).toBe(false);
    });

    it('keeps the key sign/verify-only and non-extractable', () => {
      const [handle] = raw.find(label, pkcs11js.CKO_SECRET_KEY);
      expect(
        raw.flags(handle!, {
          extractable: pkcs11js.CKA_EXTRACTABLE,
          sensitive: pkcs11js.CKA_SENSITIVE,
          sign: pkcs11js.CKA_SIGN,
          verify: pkcs11js.CKA_VERIFY,
          encrypt: pkcs11js.CKA_ENCRYPT,
          decrypt: pkcs11js.CKA_DECRYPT,
          derive: pkcs11js.CKA_DERIVE,
        }),
      ).toEqual({ extractable: false, sensitive: true, sign: true, verify: true, encrypt: false, decrypt: false, derive: false });
    });

    it('does not mistake an AES key for an HMAC key', async () => {
      const aes = uniqueLabel('test-aes-not-hmac');
      await client.ensureAesKey(aes);
      expect((await rejection(client.hmacSha256(aes, Buffer.from('x')))).code).toBe('HSM_KEY_NOT_FOUND');
    });
  });

  it('draws random bytes from the token', async () => {
    const a = await client.randomBytes(32);
    const b = await client.randomBytes(32);
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
    expect((await rejection(client.randomBytes(0))).code).toBe('HSM_INVALID_ARGUMENT');
    expect((await rejection(client.randomBytes(1.5))).code).toBe('HSM_INVALID_ARGUMENT');
  });

  it('runs 20 concurrent operations through a pool of 2 sessions', async () => {
    const aes = uniqueLabel('test-aes-pool');
    const ec = uniqueLabel('test-ec-pool');
    const mac = uniqueLabel('test-hmac-pool');
    await Promise.all([client.ensureAesKey(aes), client.ensureEcKeyPair(ec, 'secp256k1'), client.ensureHmacKey(mac)]);
    const publicKey = await client.getEcPublicKey(ec);
    const jobs = Array.from({ length: 20 }, async (_, i) => {
      const data = Buffer.from(`job ${i}`);
      switch (i % 4) {
        case 0: {
          const { iv, ciphertext } = await client.aesGcmEncrypt(aes, data, Buffer.from([i]));
          return (await client.aesGcmDecrypt(aes, iv, ciphertext, Buffer.from([i]))).equals(data);
        }
        case 1: {
          const digest = sha256(data);
          return secp256k1.verify(await client.signEcdsaDigest(ec, digest), digest, publicKey, { prehash: false });
        }
        case 2:
          return client.verifyHmacSha256(mac, data, await client.hmacSha256(mac, data));
        default:
          return (await client.randomBytes(16)).length === 16;
      }
    });
    expect(await Promise.all(jobs)).toEqual(Array(20).fill(true));
    const status = await client.status();
    expect(status).toMatchObject({ label: token.label, sessions: 2, waitingCallers: 0 });
  });
});
