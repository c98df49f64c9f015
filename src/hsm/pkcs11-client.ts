/**
 * A small PKCS#11 client for the service's keys: AES-256-GCM key-encryption keys, ECDSA signing keys
 * (secp256k1, P-256) and HMAC-SHA256 keys, all generated inside the token and never extractable.
 *
 * The same code drives SoftHSM2 locally and a network HSM in production: only the module path,
 * token label and PIN change. Plain module, no framework imports.
 *
 * How it talks to the token (PKCS#11 v2.40):
 * - The module is loaded and C_Initialize'd once per process with CKF_OS_LOCKING_OK, because the
 *   *Async calls run on libuv worker threads. Login state belongs to the application, not the
 *   session: one C_Login covers every session, and closing the last session logs out.
 * - The token is found by label (slot ids change between runs), then a pool of read/write sessions
 *   is opened. A session runs one operation at a time, so each operation borrows a whole session.
 * - Keys are found by CKA_LABEL + CKA_CLASS + CKA_KEY_TYPE. Handles are cached; when a handle has
 *   gone stale (the object was recreated, e.g. by another process) the key is looked up once more.
 * - A session whose operation failed in an unexpected way is replaced by a fresh one, so a
 *   half-finished operation can never leave it stuck with CKR_OPERATION_ACTIVE.
 */
import { endianness } from 'node:os';
import pkcs11js from 'pkcs11js';
import type { Handle, Mechanism, PKCS11, Template } from 'pkcs11js';
import { EC_CURVES, type EcCurve, curveFromParams, decodeEcPoint, isEcCurve, normaliseSignature } from './ec-curves.js';
import { HsmError, ckrOf, loginError, toHsmError, type FailureContext } from './hsm-error.js';
import { SessionPool } from './session-pool.js';

export type { EcCurve } from './ec-curves.js';
export { HsmError, type HsmErrorCode } from './hsm-error.js';

export interface Pkcs11ClientOptions {
  /** Path of the PKCS#11 shared library (e.g. SoftHSM2's libsofthsm2.so). */
  modulePath: string;
  /** Label of the token holding the keys (at most 32 characters). */
  tokenLabel: string;
  /** User PIN of the token. Kept only in memory, to log in again after a session is replaced. */
  pin: string;
  /** Number of sessions, i.e. how many operations may run on the token at the same time (1-64). */
  sessions: number;
}

export interface AesGcmCiphertext {
  /** 12-byte nonce drawn from the token's random generator. */
  iv: Buffer;
  /** Ciphertext followed by the 16-byte authentication tag. */
  ciphertext: Buffer;
}

export interface KeyStatus {
  label: string;
  /** True when this call generated the key, false when it already existed. */
  created: boolean;
}

export interface EcKeyStatus extends KeyStatus {
  curve: EcCurve;
  /** Uncompressed public point, 65 bytes: 04 || X || Y. */
  publicKey: Buffer;
}

export interface TokenStatus {
  label: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  sessions: number;
  busySessions: number;
  waitingCallers: number;
}

/** Byte sizes of AES-GCM as used here (NIST SP 800-38D: 96-bit IV, 128-bit tag). */
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
/** Largest plaintext, AAD or MAC input accepted in one call. */
export const MAX_DATA_BYTES = 16 * 1024 * 1024;
/** Largest randomBytes() request. */
export const MAX_RANDOM_BYTES = 64 * 1024;

const {
  CKA_CLASS, CKA_KEY_TYPE, CKA_LABEL, CKA_ID, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE,
  CKA_MODIFIABLE, CKA_COPYABLE, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY,
  CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, CKA_DERIVE, CKA_VALUE_LEN, CKA_EC_PARAMS, CKA_EC_POINT,
  CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKK_AES, CKK_EC, CKK_GENERIC_SECRET,
  CKM_AES_KEY_GEN, CKM_AES_GCM, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA256_HMAC,
  CK_PARAMS_AES_GCM_v240, CKF_OS_LOCKING_OK, CKF_SERIAL_SESSION, CKF_RW_SESSION, CKF_TOKEN_INITIALIZED, CKU_USER,
} = pkcs11js;

/** CK_STATE of a read/write session whose application is logged in as the normal user. */
const CKS_RW_USER_FUNCTIONS = 3;
const KEY_ID_BYTES = 16;
const MAX_LABEL_LENGTH = 255;

/** How each kind of key is found on the token. */
const KEY_KINDS = {
  aes: { cls: CKO_SECRET_KEY, keyType: CKK_AES, noun: 'AES key', create: 'ensureAesKey' },
  hmac: { cls: CKO_SECRET_KEY, keyType: CKK_GENERIC_SECRET, noun: 'HMAC key', create: 'ensureHmacKey' },
  ecPrivate: { cls: CKO_PRIVATE_KEY, keyType: CKK_EC, noun: 'EC private key', create: 'ensureEcKeyPair' },
  ecPublic: { cls: CKO_PUBLIC_KEY, keyType: CKK_EC, noun: 'EC public key', create: 'ensureEcKeyPair' },
} as const;
type KeyKind = keyof typeof KEY_KINDS;

interface KeyRef {
  handle: Handle;
  /** Curve of an EC key, read from CKA_EC_PARAMS; undefined for other keys or unknown curves. */
  curve?: EcCurve;
}

/**
 * Return values that mean an AES-GCM tag did not verify. SoftHSM 2.6 reports a tag mismatch as
 * CKR_GENERAL_ERROR; PKCS#11 v2.40 modules use CKR_ENCRYPTED_DATA_INVALID, v3.0 CKR_AEAD_DECRYPT_FAILED.
 */
const GCM_AUTH_FAILURES = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_AEAD_DECRYPT_FAILED',
  'CKR_GENERAL_ERROR',
]);

const STALE_HANDLE = new Set(['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID']);

// ---------------------------------------------------------------------------------------------
// The module is process-wide state: C_Initialize succeeds once per process, and C_Finalize ends
// every session of every client. Clients of the same module path therefore share one instance.

interface LoadedModule {
  readonly lib: PKCS11;
  users: number;
  /** False when someone else in this process had already initialised the module. */
  readonly finalizeOnRelease: boolean;
}

const loadedModules = new Map<string, LoadedModule>();

function acquireModule(modulePath: string): LoadedModule {
  const loaded = loadedModules.get(modulePath);
  if (loaded !== undefined) {
    loaded.users += 1;
    return loaded;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(modulePath);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new HsmError('HSM_MODULE_LOAD_FAILED', `cannot load PKCS#11 module at ${modulePath}: ${reason}`);
  }
  let finalizeOnRelease = true;
  try {
    lib.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (error) {
    const ckr = ckrOf(error) ?? 'HSM_FAILED';
    if (ckr === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      finalizeOnRelease = false;
    } else {
      lib.close();
      const hint =
        ckr === 'CKR_GENERAL_ERROR'
          ? ': the module could not start; for SoftHSM2 check that SOFTHSM2_CONF names a readable configuration whose token folder exists'
          : '';
      throw new HsmError(ckr as `CKR_${string}`, `cannot initialise PKCS#11 module at ${modulePath} (${ckr})${hint}`);
    }
  }
  const module: LoadedModule = { lib, users: 1, finalizeOnRelease };
  loadedModules.set(modulePath, module);
  return module;
}

function releaseModule(modulePath: string): void {
  const loaded = loadedModules.get(modulePath);
  if (loaded === undefined) return;
  loaded.users -= 1;
  if (loaded.users > 0) return;
  loadedModules.delete(modulePath);
  try {
    if (loaded.finalizeOnRelease) loaded.lib.C_Finalize();
  } catch {
    // Finalising a module that is already gone is not worth failing a shutdown for.
  }
  try {
    loaded.lib.close();
  } catch {
    // As above.
  }
}

// ---------------------------------------------------------------------------------------------

export class Pkcs11Client {
  #pin = '';
  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  private modulePath = '';
  private tokenLabel = '';
  private lib: PKCS11 | undefined;
  private slot: Handle | undefined;
  private pool: SessionPool<Handle> | undefined;
  private closing: Promise<void> | undefined;
  private readonly keys = new Map<string, KeyRef>();
  private readonly keyLocks = new Map<string, Promise<void>>();

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Label of the token this client was opened on. */
  get token(): string {
    return this.tokenLabel;
  }

  /**
   * Load the module, find the token by label, open the session pool and log in.
   * Throws HsmError with an actionable message (module missing, token missing, wrong PIN, ...).
   *
   * Login state is per application: if another client in this process is already logged in to
   * the same token, the token answers CKR_USER_ALREADY_LOGGED_IN without checking this PIN.
   */
  async open(options: Pkcs11ClientOptions): Promise<void> {
    if (this.state !== 'new') {
      throw new HsmError('HSM_INVALID_ARGUMENT', 'this HSM client was already opened; create a new Pkcs11Client');
    }
    const { modulePath, tokenLabel, pin, sessions } = options;
    if (typeof modulePath !== 'string' || modulePath === '') {
      throw new HsmError('HSM_INVALID_ARGUMENT', 'the PKCS#11 module path is empty (set HSM_MODULE)');
    }
    if (typeof tokenLabel !== 'string' || tokenLabel === '' || tokenLabel.length > 32) {
      throw new HsmError('HSM_INVALID_ARGUMENT', 'the token label must be 1 to 32 characters (HSM_TOKEN_LABEL)');
    }
    if (typeof pin !== 'string' || pin === '') {
      throw new HsmError('HSM_INVALID_ARGUMENT', `no PIN given for HSM token "${tokenLabel}" (set HSM_PIN)`);
    }
    if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) {
      throw new HsmError('HSM_INVALID_ARGUMENT', `the number of HSM sessions must be an integer from 1 to 64, got ${sessions}`);
    }

    const { lib } = acquireModule(modulePath);
    const opened: Handle[] = [];
    try {
      const slot = findSlot(lib, tokenLabel);
      for (let i = 0; i < sessions; i++) opened.push(openSession(lib, slot, tokenLabel));
      try {
        lib.C_Login(opened[0]!, CKU_USER, pin);
      } catch (error) {
        const ckr = ckrOf(error);
        if (ckr !== 'CKR_USER_ALREADY_LOGGED_IN') {
          throw ckr === undefined ? toHsmError(error, { operation: 'login', token: tokenLabel }) : loginError(ckr, tokenLabel);
        }
      }
      this.lib = lib;
      this.slot = slot;
    } catch (error) {
      for (const session of opened) closeQuietly(lib, session);
      releaseModule(modulePath);
      throw error;
    }
    this.modulePath = modulePath;
    this.tokenLabel = tokenLabel;
    this.#pin = pin;
    this.pool = new SessionPool(opened);
    this.state = 'open';
  }

  /** Wait for running operations, close every session and release the module. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state !== 'open') {
      this.state = 'closed';
      return Promise.resolve();
    }
    this.state = 'closing';
    this.closing = (async () => {
      const sessions = await this.pool!.drain();
      for (const session of sessions) closeQuietly(this.lib!, session);
      this.keys.clear();
      this.#pin = '';
      releaseModule(this.modulePath);
      this.state = 'closed';
    })();
    return this.closing;
  }

  // --- AES-256-GCM ----------------------------------------------------------------------------

  /**
   * Make sure a 256-bit AES key with this label exists, generating it inside the token if not.
   * The key is a private token object, sensitive and never extractable, usable only to encrypt and
   * decrypt; every usage attribute is set explicitly because tokens differ in their defaults
   * (SoftHSM2 defaults CKA_SIGN, CKA_VERIFY and CKA_MODIFIABLE to true).
   */
  async ensureAesKey(label: string): Promise<KeyStatus> {
    requireLabel(label);
    return this.serialized(`aes:${label}`, () =>
      this.withSession({ operation: 'AES key generation', keyLabel: label }, async (session, lib) => {
        const existing = this.findKey(session, 'aes', label);
        if (existing !== undefined) {
          this.checkPolicy(session, existing.handle, label, [
            [CKA_VALUE_LEN, 32], [CKA_SENSITIVE, true], [CKA_EXTRACTABLE, false], [CKA_ENCRYPT, true], [CKA_DECRYPT, true],
          ]);
          return { label, created: false };
        }
        const template: Template = [
          attr(CKA_CLASS, CKO_SECRET_KEY), attr(CKA_KEY_TYPE, CKK_AES), attr(CKA_VALUE_LEN, 32),
          ...identity(label, this.newKeyId(session)), ...secretKeyProtection(),
          attr(CKA_ENCRYPT, true), attr(CKA_DECRYPT, true), attr(CKA_WRAP, false), attr(CKA_UNWRAP, false),
          attr(CKA_SIGN, false), attr(CKA_VERIFY, false), attr(CKA_DERIVE, false),
        ];
        const handle = await lib.C_GenerateKeyAsync(session, { mechanism: CKM_AES_KEY_GEN }, template);
        this.keys.set(cacheKey('aes', label), { handle });
        return { label, created: true };
      }),
    );
  }

  /**
   * AES-256-GCM encryption inside the token under a fresh 96-bit IV from the token's RNG.
   * Random IVs are safe for up to 2^32 encryptions per key (NIST SP 800-38D, 8.3).
   * The plaintext must not be empty (PKCS#11 modules reject a null data pointer) and is at most
   * MAX_DATA_BYTES; the AAD may be empty.
   */
  async aesGcmEncrypt(label: string, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Promise<AesGcmCiphertext> {
    requireLabel(label);
    const input = requireBytes(plaintext, 'plaintext', 1, MAX_DATA_BYTES);
    const associated = requireBytes(aad, 'AAD', 0, MAX_DATA_BYTES);
    return this.withKey('aes', label, 'AES-GCM encryption', async (session, key, lib) => {
      const iv = lib.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES));
      lib.C_EncryptInit(session, gcm(iv, associated), key.handle);
      const ciphertext = await lib.C_EncryptAsync(session, input, Buffer.alloc(input.length + GCM_TAG_BYTES));
      if (ciphertext.length !== input.length + GCM_TAG_BYTES) {
        throw new HsmError('HSM_BAD_RESPONSE', `HSM token "${this.tokenLabel}" returned a ciphertext of unexpected length`);
      }
      return { iv, ciphertext };
    });
  }

  /**
   * Decrypt and authenticate AES-256-GCM output of aesGcmEncrypt. Fails with
   * HSM_AUTHENTICATION_FAILED if the IV, ciphertext, tag or AAD differ from what was encrypted.
   */
  async aesGcmDecrypt(label: string, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array = EMPTY): Promise<Buffer> {
    requireLabel(label);
    // SoftHSM2 accepts any IV length, including 0 bytes: only the 96-bit IVs we produce are allowed.
    const nonce = requireBytes(iv, 'AES-GCM IV', GCM_IV_BYTES, GCM_IV_BYTES);
    const sealed = requireBytes(ciphertext, 'AES-GCM ciphertext', GCM_TAG_BYTES + 1, MAX_DATA_BYTES + GCM_TAG_BYTES);
    const associated = requireBytes(aad, 'AAD', 0, MAX_DATA_BYTES);
    return this.withKey('aes', label, 'AES-GCM decryption', async (session, key, lib) => {
      lib.C_DecryptInit(session, gcm(nonce, associated), key.handle);
      const output = Buffer.alloc(sealed.length);
      let plaintext: Buffer;
      try {
        plaintext = await lib.C_DecryptAsync(session, sealed, output);
      } catch (error) {
        output.fill(0);
        const ckr = ckrOf(error);
        if (ckr !== undefined && GCM_AUTH_FAILURES.has(ckr)) {
          throw new HsmError(
            'HSM_AUTHENTICATION_FAILED',
            `AES-GCM decryption with key "${label}" failed: the ciphertext, IV or associated data is wrong or was altered (${ckr})`,
            ckr,
          );
        }
        throw error;
      }
      if (plaintext.length !== sealed.length - GCM_TAG_BYTES) {
        output.fill(0);
        throw new HsmError('HSM_BAD_RESPONSE', `HSM token "${this.tokenLabel}" returned a plaintext of unexpected length`);
      }
      return plaintext;
    });
  }

  // --- ECDSA ----------------------------------------------------------------------------------

  /**
   * Make sure an EC key pair with this label exists on the given curve, generating it if not.
   * The private key is a sensitive, non-extractable token object that may only sign; the public
   * key may only verify. Fails with HSM_KEY_MISMATCH if the label holds a key on another curve.
   */
  async ensureEcKeyPair(label: string, curve: EcCurve): Promise<EcKeyStatus> {
    requireLabel(label);
    if (!isEcCurve(curve)) {
      throw new HsmError('HSM_INVALID_ARGUMENT', `unsupported curve ${String(curve)}: use 'secp256k1' or 'P-256'`);
    }
    return this.serialized(`ec:${label}`, () =>
      this.withSession({ operation: 'EC key pair generation', keyLabel: label }, async (session, lib) => {
        const privateKey = this.findKey(session, 'ecPrivate', label);
        const publicKey = this.findKey(session, 'ecPublic', label);
        if (privateKey !== undefined && publicKey !== undefined) {
          if (privateKey.curve !== curve) {
            throw new HsmError(
              'HSM_KEY_MISMATCH',
              `HSM key pair "${label}" on token "${this.tokenLabel}" exists on curve ${privateKey.curve ?? 'unknown'}, not ${curve}`,
            );
          }
          this.checkPolicy(session, privateKey.handle, label, [[CKA_SENSITIVE, true], [CKA_EXTRACTABLE, false], [CKA_SIGN, true]]);
          return { label, curve, created: false, publicKey: this.readPublicPoint(session, publicKey.handle) };
        }
        if (privateKey !== undefined || publicKey !== undefined) {
          const present = privateKey !== undefined ? 'private' : 'public';
          throw new HsmError(
            'HSM_KEY_MISMATCH',
            `HSM key pair "${label}" on token "${this.tokenLabel}" is incomplete: only its ${present} key exists`,
          );
        }
        const id = this.newKeyId(session);
        const publicTemplate: Template = [
          attr(CKA_CLASS, CKO_PUBLIC_KEY), attr(CKA_KEY_TYPE, CKK_EC), attr(CKA_EC_PARAMS, EC_CURVES[curve].oidDer),
          ...identity(label, id), attr(CKA_PRIVATE, false), attr(CKA_MODIFIABLE, false),
          attr(CKA_VERIFY, true), attr(CKA_VERIFY_RECOVER, false), attr(CKA_ENCRYPT, false), attr(CKA_WRAP, false),
          attr(CKA_DERIVE, false),
        ];
        const privateTemplate: Template = [
          attr(CKA_CLASS, CKO_PRIVATE_KEY), attr(CKA_KEY_TYPE, CKK_EC), ...identity(label, id), ...secretKeyProtection(),
          attr(CKA_SIGN, true), attr(CKA_SIGN_RECOVER, false), attr(CKA_DECRYPT, false), attr(CKA_UNWRAP, false),
          attr(CKA_DERIVE, false),
        ];
        const pair = await lib.C_GenerateKeyPairAsync(session, { mechanism: CKM_EC_KEY_PAIR_GEN }, publicTemplate, privateTemplate);
        this.keys.set(cacheKey('ecPrivate', label), { handle: pair.privateKey, curve });
        this.keys.set(cacheKey('ecPublic', label), { handle: pair.publicKey, curve });
        return { label, curve, created: true, publicKey: this.readPublicPoint(session, pair.publicKey) };
      }),
    );
  }

  /** The 65-byte uncompressed public point (04 || X || Y) of an EC key pair. */
  async getEcPublicKey(label: string): Promise<Buffer> {
    requireLabel(label);
    return this.withKey('ecPublic', label, 'reading an EC public key', async (session, key) =>
      this.readPublicPoint(session, key.handle),
    );
  }

  /**
   * ECDSA over a 32-byte digest the caller computed (CKM_ECDSA does not hash). Returns r || s,
   * 64 bytes; on secp256k1 s is normalised to the low half of the order.
   */
  async signEcdsaDigest(label: string, digest: Uint8Array): Promise<Buffer> {
    requireLabel(label);
    // SoftHSM2 signs digests of any length; anything but 32 bytes is a caller bug.
    const input = requireBytes(digest, 'ECDSA digest', 32, 32);
    return this.withKey('ecPrivate', label, 'ECDSA signing', async (session, key, lib) => {
      if (key.curve === undefined) {
        throw new HsmError('HSM_KEY_MISMATCH', `HSM key "${label}" is on a curve this service does not sign with`);
      }
      lib.C_SignInit(session, { mechanism: CKM_ECDSA }, key.handle);
      const signature = await lib.C_SignAsync(session, input, Buffer.alloc(64));
      try {
        return normaliseSignature(signature, key.curve);
      } catch (error) {
        throw new HsmError('HSM_BAD_RESPONSE', `HSM token "${this.tokenLabel}" returned an invalid ECDSA signature: ${(error as Error).message}`);
      }
    });
  }

  // --- HMAC-SHA256 ----------------------------------------------------------------------------

  /** Make sure a 256-bit generic secret key for HMAC-SHA256 exists (sign/verify only, non-extractable). */
  async ensureHmacKey(label: string): Promise<KeyStatus> {
    requireLabel(label);
    return this.serialized(`hmac:${label}`, () =>
      this.withSession({ operation: 'HMAC key generation', keyLabel: label }, async (session, lib) => {
        const existing = this.findKey(session, 'hmac', label);
        if (existing !== undefined) {
          this.checkPolicy(session, existing.handle, label, [
            [CKA_VALUE_LEN, 32], [CKA_SENSITIVE, true], [CKA_EXTRACTABLE, false], [CKA_SIGN, true], [CKA_VERIFY, true],
          ]);
          return { label, created: false };
        }
        const template: Template = [
          attr(CKA_CLASS, CKO_SECRET_KEY), attr(CKA_KEY_TYPE, CKK_GENERIC_SECRET), attr(CKA_VALUE_LEN, 32),
          ...identity(label, this.newKeyId(session)), ...secretKeyProtection(),
          attr(CKA_SIGN, true), attr(CKA_VERIFY, true), attr(CKA_ENCRYPT, false), attr(CKA_DECRYPT, false),
          attr(CKA_WRAP, false), attr(CKA_UNWRAP, false), attr(CKA_DERIVE, false),
        ];
        const handle = await lib.C_GenerateKeyAsync(session, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, template);
        this.keys.set(cacheKey('hmac', label), { handle });
        return { label, created: true };
      }),
    );
  }

  /** HMAC-SHA256 (RFC 2104) of non-empty data under the labelled key; 32 bytes. */
  async hmacSha256(label: string, data: Uint8Array): Promise<Buffer> {
    requireLabel(label);
    const input = requireBytes(data, 'HMAC input', 1, MAX_DATA_BYTES);
    return this.withKey('hmac', label, 'HMAC-SHA256', async (session, key, lib) => {
      lib.C_SignInit(session, { mechanism: CKM_SHA256_HMAC }, key.handle);
      return lib.C_SignAsync(session, input, Buffer.alloc(32));
    });
  }

  /** Check an HMAC-SHA256 inside the token (constant-time there). False for any mismatch or bad length. */
  async verifyHmacSha256(label: string, data: Uint8Array, mac: Uint8Array): Promise<boolean> {
    requireLabel(label);
    const input = requireBytes(data, 'HMAC input', 1, MAX_DATA_BYTES);
    const tag = requireBytes(mac, 'HMAC', 0, 1024);
    if (tag.length !== 32) return false;
    return this.withKey('hmac', label, 'HMAC-SHA256 verification', async (session, key, lib) => {
      lib.C_VerifyInit(session, { mechanism: CKM_SHA256_HMAC }, key.handle);
      try {
        return await lib.C_VerifyAsync(session, input, tag);
      } catch (error) {
        const ckr = ckrOf(error);
        if (ckr === 'CKR_SIGNATURE_INVALID' || ckr === 'CKR_SIGNATURE_LEN_RANGE') return false;
        throw error;
      }
    });
  }

  // --- Other ----------------------------------------------------------------------------------

  /** n bytes (1 to 65536) from the token's random number generator (C_GenerateRandom). */
  async randomBytes(n: number): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_RANDOM_BYTES) {
      throw new HsmError('HSM_INVALID_ARGUMENT', `randomBytes wants an integer from 1 to ${MAX_RANDOM_BYTES}, got ${n}`);
    }
    return this.withSession({ operation: 'random generation' }, async (session, lib) => lib.C_GenerateRandom(session, Buffer.alloc(n)));
  }

  /**
   * Ask the token for its description and check, through a pooled session, that the client is
   * still logged in. Throws HsmError when the token is unreachable or the login is gone.
   */
  async status(): Promise<TokenStatus> {
    return this.withSession({ operation: 'status check' }, async (session, lib) => {
      const info = lib.C_GetTokenInfo(this.slot!);
      if (lib.C_GetSessionInfo(session).state !== CKS_RW_USER_FUNCTIONS) {
        throw new HsmError('CKR_USER_NOT_LOGGED_IN', `HSM token "${this.tokenLabel}" is no longer logged in (CKR_USER_NOT_LOGGED_IN)`);
      }
      const pool = this.pool!;
      return {
        label: trimPadding(info.label),
        manufacturer: trimPadding(info.manufacturerID),
        model: trimPadding(info.model),
        serialNumber: trimPadding(info.serialNumber),
        sessions: pool.capacity,
        busySessions: pool.busy - 1, // not counting the session this check borrowed
        waitingCallers: pool.waiting,
      };
    });
  }

  // --- Sessions and key lookup ----------------------------------------------------------------

  /**
   * Borrow a session for one operation. Errors become HsmErrors; a raw PKCS#11 failure may have
   * left an operation active, so that session is swapped for a fresh one before it goes back.
   */
  private async withSession<T>(
    ctx: Omit<FailureContext, 'token'>,
    use: (session: Handle, lib: PKCS11) => Promise<T>,
  ): Promise<T> {
    if (this.state !== 'open') {
      throw new HsmError(
        this.state === 'new' ? 'HSM_NOT_OPEN' : 'HSM_CLOSED',
        this.state === 'new' ? 'the HSM client is not open yet' : 'the HSM client is closed',
      );
    }
    const pool = this.pool!;
    const lib = this.lib!;
    const session = await pool.acquire();
    let giveBack = session;
    try {
      return await use(session, lib);
    } catch (error) {
      if (!(error instanceof HsmError) && ckrOf(error) !== undefined) giveBack = this.renewSession(session);
      throw toHsmError(error, { ...ctx, token: this.tokenLabel });
    } finally {
      pool.release(giveBack);
    }
  }

  /** Run `use` with the labelled key, looking the key up again once if its cached handle went stale. */
  private withKey<T>(
    kind: KeyKind,
    label: string,
    operation: string,
    use: (session: Handle, key: KeyRef, lib: PKCS11) => Promise<T>,
  ): Promise<T> {
    return this.withSession({ operation, keyLabel: label }, async (session, lib) => {
      const cached = this.keys.get(cacheKey(kind, label));
      if (cached === undefined) return use(session, this.requireKey(session, kind, label), lib);
      try {
        return await use(session, cached, lib);
      } catch (error) {
        if (!STALE_HANDLE.has(ckrOf(error) ?? '')) throw error;
        this.keys.delete(cacheKey(kind, label));
        return use(session, this.requireKey(session, kind, label), lib);
      }
    });
  }

  private requireKey(session: Handle, kind: KeyKind, label: string): KeyRef {
    const key = this.findKey(session, kind, label);
    if (key === undefined) {
      const { noun, create } = KEY_KINDS[kind];
      throw new HsmError('HSM_KEY_NOT_FOUND', `HSM ${noun} "${label}" not found on token "${this.tokenLabel}": create it first (${create})`);
    }
    return key;
  }

  /** Search the token (not the cache) for the labelled key and cache what is found. */
  private findKey(session: Handle, kind: KeyKind, label: string): KeyRef | undefined {
    const lib = this.lib!;
    const { cls, keyType, noun } = KEY_KINDS[kind];
    lib.C_FindObjectsInit(session, [attr(CKA_CLASS, cls), attr(CKA_KEY_TYPE, keyType), attr(CKA_LABEL, label)]);
    let found: Handle[];
    try {
      found = lib.C_FindObjects(session, 2);
    } finally {
      lib.C_FindObjectsFinal(session);
    }
    if (found.length === 0) {
      this.keys.delete(cacheKey(kind, label));
      return undefined;
    }
    if (found.length > 1) {
      throw new HsmError(
        'HSM_KEY_AMBIGUOUS',
        `token "${this.tokenLabel}" holds more than one ${noun} labelled "${label}"; remove the extra one`,
      );
    }
    const key: KeyRef = { handle: found[0]! };
    if (kind === 'ecPrivate' || kind === 'ecPublic') {
      const [params] = lib.C_GetAttributeValue(session, key.handle, [{ type: CKA_EC_PARAMS }]);
      const curve = curveFromParams(params!.value);
      if (curve !== undefined) key.curve = curve;
    }
    this.keys.set(cacheKey(kind, label), key);
    return key;
  }

  /** Refuse to use an existing key whose attributes break the policy it would have been created with. */
  private checkPolicy(session: Handle, handle: Handle, label: string, expected: [number, boolean | number][]): void {
    const values = this.lib!.C_GetAttributeValue(session, handle, expected.map(([type]) => ({ type })));
    expected.forEach(([type, want], i) => {
      const raw = values[i]!.value;
      const have = typeof want === 'boolean' ? readBool(raw) : readUlong(raw);
      if (have !== want) {
        throw new HsmError(
          'HSM_KEY_MISMATCH',
          `HSM key "${label}" on token "${this.tokenLabel}" exists but ${ATTRIBUTE_NAMES[type] ?? `attribute ${type}`} is ${have}, expected ${want}; use another label`,
        );
      }
    });
  }

  private readPublicPoint(session: Handle, handle: Handle): Buffer {
    const [point] = this.lib!.C_GetAttributeValue(session, handle, [{ type: CKA_EC_POINT }]);
    try {
      return Buffer.from(decodeEcPoint(point!.value));
    } catch (error) {
      throw new HsmError('HSM_BAD_RESPONSE', `HSM token "${this.tokenLabel}" returned ${(error as Error).message}`);
    }
  }

  private newKeyId(session: Handle): Buffer {
    return this.lib!.C_GenerateRandom(session, Buffer.alloc(KEY_ID_BYTES));
  }

  /**
   * Open a replacement for a session that failed mid-operation, then close the old one. The new
   * session is opened first so the application's login survives; if it is not logged in (the token
   * was reset), log in again. If no session can be opened, keep the old one.
   */
  private renewSession(old: Handle): Handle {
    const lib = this.lib!;
    let fresh: Handle;
    try {
      fresh = lib.C_OpenSession(this.slot!, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    } catch {
      return old;
    }
    try {
      if (lib.C_GetSessionInfo(fresh).state !== CKS_RW_USER_FUNCTIONS) lib.C_Login(fresh, CKU_USER, this.#pin);
    } catch (error) {
      if (ckrOf(error) !== 'CKR_USER_ALREADY_LOGGED_IN') {
        closeQuietly(lib, fresh);
        return old;
      }
    }
    closeQuietly(lib, old);
    return fresh;
  }

  /** Run ensure* calls for the same label one after another, so two callers cannot create two keys. */
  private serialized<T>(lockKey: string, task: () => Promise<T>): Promise<T> {
    const previous = this.keyLocks.get(lockKey) ?? Promise.resolve();
    const result = previous.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.keyLocks.set(lockKey, settled);
    void settled.then(() => {
      if (this.keyLocks.get(lockKey) === settled) this.keyLocks.delete(lockKey);
    });
    return result;
  }
}

// ---------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0);

const ATTRIBUTE_NAMES: Record<number, string> = {
  [CKA_VALUE_LEN]: 'CKA_VALUE_LEN',
  [CKA_SENSITIVE]: 'CKA_SENSITIVE',
  [CKA_EXTRACTABLE]: 'CKA_EXTRACTABLE',
  [CKA_ENCRYPT]: 'CKA_ENCRYPT',
  [CKA_DECRYPT]: 'CKA_DECRYPT',
  [CKA_SIGN]: 'CKA_SIGN',
  [CKA_VERIFY]: 'CKA_VERIFY',
};

function attr(type: number, value: number | boolean | string | Buffer): { type: number; value: number | boolean | string | Buffer } {
  return { type, value };
}

function identity(label: string, id: Buffer): Template {
  return [attr(CKA_LABEL, label), attr(CKA_ID, id), attr(CKA_TOKEN, true)];
}

/** Attributes every secret or private key gets: kept on the token, behind login, never leaves it. */
function secretKeyProtection(): Template {
  return [
    attr(CKA_PRIVATE, true),
    attr(CKA_SENSITIVE, true),
    attr(CKA_EXTRACTABLE, false),
    attr(CKA_MODIFIABLE, false),
    attr(CKA_COPYABLE, false),
  ];
}

function gcm(iv: Buffer, aad: Buffer): Mechanism {
  return {
    mechanism: CKM_AES_GCM,
    parameter: {
      type: CK_PARAMS_AES_GCM_v240,
      iv,
      ivBits: iv.length * 8,
      ...(aad.length > 0 ? { aad } : {}),
      tagBits: GCM_TAG_BYTES * 8,
    },
  } as Mechanism;
}

function cacheKey(kind: KeyKind, label: string): string {
  return `${kind}:${label}`;
}

function findSlot(lib: PKCS11, label: string): Handle {
  let slots: Handle[];
  try {
    slots = lib.C_GetSlotList(true);
  } catch (error) {
    throw toHsmError(error, { operation: 'listing slots', token: label });
  }
  const matches: Handle[] = [];
  const present: string[] = [];
  for (const slot of slots) {
    let info;
    try {
      info = lib.C_GetTokenInfo(slot);
    } catch {
      continue; // A slot whose token vanished between the two calls.
    }
    if ((info.flags & CKF_TOKEN_INITIALIZED) === 0) continue;
    const tokenLabel = trimPadding(info.label);
    present.push(`"${tokenLabel}"`);
    if (tokenLabel === label) matches.push(slot);
  }
  if (matches.length === 0) {
    const seen = present.length > 0 ? `tokens present: ${present.join(', ')}` : 'no initialised token present';
    throw new HsmError('HSM_TOKEN_NOT_FOUND', `HSM token "${label}" not found: run hsm/setup-token.sh or check HSM_TOKEN_LABEL (${seen})`);
  }
  if (matches.length > 1) {
    throw new HsmError('HSM_TOKEN_AMBIGUOUS', `${matches.length} HSM tokens are labelled "${label}"; give each token a unique label`);
  }
  return matches[0]!;
}

function openSession(lib: PKCS11, slot: Handle, label: string): Handle {
  try {
    return lib.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  } catch (error) {
    const ckr = ckrOf(error);
    if (ckr === 'CKR_SESSION_COUNT') {
      throw new HsmError(ckr, `HSM token "${label}" refused another session (${ckr}): lower HSM_SESSIONS`);
    }
    if (ckr === 'CKR_TOKEN_WRITE_PROTECTED') {
      throw new HsmError(ckr, `HSM token "${label}" is write-protected (${ckr}): the service needs read/write sessions`);
    }
    throw toHsmError(error, { operation: 'opening a session', token: label });
  }
}

function closeQuietly(lib: PKCS11, session: Handle): void {
  try {
    lib.C_CloseSession(session);
  } catch {
    // The session is gone either way.
  }
}

/** PKCS#11 pads fixed-size text fields with blanks (some modules with NULs). */
function trimPadding(text: string): string {
  return text.replace(/[\s\0]+$/, '');
}

function requireLabel(label: string): void {
  if (typeof label !== 'string' || label.length === 0 || label.length > MAX_LABEL_LENGTH) {
    throw new HsmError('HSM_INVALID_ARGUMENT', `a key label must be a string of 1 to ${MAX_LABEL_LENGTH} characters`);
  }
}

/** A Buffer view of the bytes (no copy), after checking their type and length. */
function requireBytes(value: Uint8Array, what: string, min: number, max: number): Buffer {
  if (!(value instanceof Uint8Array)) throw new HsmError('HSM_INVALID_ARGUMENT', `${what} must be bytes (Uint8Array)`);
  if (value.length < min || value.length > max) {
    const bound = min === max ? `exactly ${min}` : value.length < min ? `at least ${min}` : `at most ${max}`;
    throw new HsmError('HSM_INVALID_ARGUMENT', `${what} must be ${bound} bytes, got ${value.length}`);
  }
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function readBool(raw: Buffer): boolean {
  return raw.length > 0 && raw[0] !== 0;
}

/** CK_ULONG attribute values come back in the host's byte order and word size. */
function readUlong(raw: Buffer): number {
  const le = endianness() === 'LE';
  if (raw.length === 8) return Number(le ? raw.readBigUInt64LE(0) : raw.readBigUInt64BE(0));
  if (raw.length === 4) return le ? raw.readUInt32LE(0) : raw.readUInt32BE(0);
  return -1;
}
