/**
 * A regulator's secrets at rest, in its state folder, sealed by its own HSM token.
 *
 *   regulator.json                    name, public keys, the HSM label of the signing key, and the
 *                                     secp256k1 encryption key sealed in an HSM envelope
 *   shares/<keySetId>/<slot>.json     one sealed key share per slot key, with its public key
 *
 * The signing key (P-256) is generated inside the token, non-extractable: it never exists outside
 * the HSM. The encryption key (secp256k1, for ECDH on dealer shares) and the key shares are
 * envelope-encrypted (src/hsm/envelope.ts) under the token's non-extractable AES key, with an AAD
 * binding the regulator, and for a share the key set, slot, index and public verification share;
 * every open re-derives the public value (key or verification share) and compares it, so a file
 * swapped between slots, key sets or regulators is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { open as openEnvelope, seal, type SealedEnvelope } from '../../hsm/envelope.js';
import { Pkcs11Client } from '../../hsm/pkcs11-client.js';
import {
  G,
  decodePoint,
  decodeThresholdPublicKey,
  encodeThresholdPublicKey,
  type EncodedThresholdPublicKey,
  type ThresholdKeyShare,
} from '../crypto/index.js';
import type { FeatureSlot } from '../features.js';

export const KEK_LABEL = 'regulator-kek';
export const SIGNING_KEY_LABEL = 'regulator-signing';
const STATE_FILE = 'regulator.json';

export class VaultError extends Error {
  override readonly name = 'VaultError';
}

/** What the regulator's protocol code needs from its keys (the vault, or an in-memory test identity). */
export interface RegulatorIdentity {
  readonly name: string;
  readonly signingCurve: 'p256' | 'secp256k1';
  /** Compressed, hex. */
  readonly signingKey: string;
  /** Compressed secp256k1, hex. */
  readonly encryptionKey: string;
  /** ECDSA r || s (hex) over a 32-byte digest. */
  sign(digest: Uint8Array): Promise<string>;
  /** ECDH with the encryption key: the shared point, compressed. */
  ecdh(peerPublicKey: Uint8Array): Uint8Array;
}

/** Where a regulator keeps its finalized key shares. */
export interface KeyShareStore {
  hasShare(keySetId: string, slot: FeatureSlot): boolean;
  saveShare(keySetId: string, slot: FeatureSlot, share: ThresholdKeyShare): Promise<void>;
  loadShare(keySetId: string, slot: FeatureSlot): Promise<ThresholdKeyShare>;
}

interface StateFile {
  v: 1;
  name: string;
  signingCurve: 'p256';
  signingKeyLabel: string;
  signingKey: string;
  encryptionKey: string;
  sealedEncryptionKey: SealedEnvelope;
}

interface ShareFile {
  v: 1;
  regulator: string;
  keySetId: string;
  slot: FeatureSlot;
  index: number;
  publicKey: EncodedThresholdPublicKey;
  sealed: SealedEnvelope;
}

export interface HsmSettings {
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

/** HSM settings from the environment (HSM_MODULE, HSM_TOKEN_LABEL, HSM_PIN; SoftHSM2 reads SOFTHSM2_CONF). */
export function hsmSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HsmSettings {
  const modulePath = env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so';
  if (/softhsm/i.test(modulePath) && !env.SOFTHSM2_CONF) throw new VaultError("SOFTHSM2_CONF is not set (the regulator's SoftHSM2 token configuration)");
  if (!env.HSM_TOKEN_LABEL) throw new VaultError('HSM_TOKEN_LABEL is not set');
  if (!env.HSM_PIN) throw new VaultError('HSM_PIN is not set');
  return { modulePath, tokenLabel: env.HSM_TOKEN_LABEL, pin: env.HSM_PIN };
}

const encryptionKeyContext = (name: string, publicKey: string) => ({ purpose: 'analytics-regulator-encryption-key', regulator: name, publicKey });
const shareContext = (regulator: string, keySetId: string, slot: string, index: number, verificationShare: unknown) => ({
  purpose: 'analytics-key-share',
  regulator,
  keySet: keySetId,
  slot,
  index: String(index),
  verificationShare: JSON.stringify(verificationShare),
});

const scalarBytes = (s: bigint): Buffer => Buffer.from(s.toString(16).padStart(64, '0'), 'hex');

function writePrivate(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    throw new VaultError(`cannot read ${what} at ${file}`);
  }
}

/** The regulator's state folder, opened with its HSM token. */
export class RegulatorVault implements RegulatorIdentity, KeyShareStore {
  private constructor(
    private readonly dir: string,
    private readonly hsm: Pkcs11Client,
    private readonly state: StateFile,
    private encryptionSecret: Uint8Array,
  ) {}

  get name(): string {
    return this.state.name;
  }
  get signingCurve(): 'p256' {
    return 'p256';
  }
  get signingKey(): string {
    return this.state.signingKey;
  }
  get encryptionKey(): string {
    return this.state.encryptionKey;
  }

  private static async openHsm(hsm: HsmSettings): Promise<Pkcs11Client> {
    const client = new Pkcs11Client();
    await client.open({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 2 });
    return client;
  }

  /**
   * Creates the regulator's keys in a new state folder: the signing key inside the token, the
   * encryption key sealed by it. Refuses a folder that already holds a regulator.
   */
  static async init(dir: string, name: string, hsmSettings: HsmSettings): Promise<RegulatorVault> {
    const file = path.join(dir, STATE_FILE);
    if (fs.existsSync(file)) throw new VaultError(`${file} already exists: a state folder holds one regulator`);
    const hsm = await RegulatorVault.openHsm(hsmSettings);
    try {
      await hsm.ensureAesKey(KEK_LABEL);
      const { publicKey } = await hsm.ensureEcKeyPair(SIGNING_KEY_LABEL, 'P-256');
      const signingKey = Buffer.from(p256.Point.fromBytes(Uint8Array.from(publicKey)).toBytes(true)).toString('hex');
      const secret = secp256k1.utils.randomSecretKey();
      const encryptionKey = Buffer.from(secp256k1.getPublicKey(secret, true)).toString('hex');
      const sealedEncryptionKey = await seal(hsm, KEK_LABEL, secret, encryptionKeyContext(name, encryptionKey));
      const state: StateFile = { v: 1, name, signingCurve: 'p256', signingKeyLabel: SIGNING_KEY_LABEL, signingKey, encryptionKey, sealedEncryptionKey };
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      writePrivate(file, state);
      return new RegulatorVault(dir, hsm, state, secret);
    } catch (e) {
      await hsm.close().catch(() => undefined);
      throw e;
    }
  }

  static async open(dir: string, hsmSettings: HsmSettings): Promise<RegulatorVault> {
    const state = readJson<StateFile>(path.join(dir, STATE_FILE), 'the regulator state (run init first)');
    if (state.v !== 1 || typeof state.name !== 'string') throw new VaultError('the regulator state file is not in a known format');
    const hsm = await RegulatorVault.openHsm(hsmSettings);
    try {
      const publicKey = await hsm.getEcPublicKey(state.signingKeyLabel);
      if (Buffer.from(p256.Point.fromBytes(Uint8Array.from(publicKey)).toBytes(true)).toString('hex') !== state.signingKey) {
        throw new VaultError("the token's signing key is not the one in the state file (wrong token?)");
      }
      const secret = Uint8Array.from(await openEnvelope(hsm, state.sealedEncryptionKey, encryptionKeyContext(state.name, state.encryptionKey)));
      if (Buffer.from(secp256k1.getPublicKey(secret, true)).toString('hex') !== state.encryptionKey) {
        secret.fill(0);
        throw new VaultError('the sealed encryption key does not match its public key');
      }
      return new RegulatorVault(dir, hsm, state, secret);
    } catch (e) {
      await hsm.close().catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    this.encryptionSecret.fill(0);
    this.encryptionSecret = new Uint8Array(0);
    await this.hsm.close().catch(() => undefined);
  }

  async sign(digest: Uint8Array): Promise<string> {
    return (await this.hsm.signEcdsaDigest(this.state.signingKeyLabel, digest)).toString('hex');
  }

  ecdh(peerPublicKey: Uint8Array): Uint8Array {
    return secp256k1.getSharedSecret(this.encryptionSecret, peerPublicKey, true);
  }

  private shareFile(keySetId: string, slot: FeatureSlot): string {
    if (!/^[0-9a-f-]{36}$/.test(keySetId)) throw new VaultError('key set ids are UUIDs');
    return path.join(this.dir, 'shares', keySetId, `${slot}.json`);
  }

  hasShare(keySetId: string, slot: FeatureSlot): boolean {
    return fs.existsSync(this.shareFile(keySetId, slot));
  }

  async saveShare(keySetId: string, slot: FeatureSlot, share: ThresholdKeyShare): Promise<void> {
    const publicKey = encodeThresholdPublicKey(share.publicKey);
    const verificationShare = publicKey.verificationShares.find((v) => v.index === share.index)!.share;
    const plaintext = scalarBytes(share.secretShare);
    try {
      const sealed = await seal(this.hsm, KEK_LABEL, plaintext, shareContext(this.name, keySetId, slot, share.index, verificationShare));
      const file: ShareFile = { v: 1, regulator: this.name, keySetId, slot, index: share.index, publicKey, sealed };
      writePrivate(this.shareFile(keySetId, slot), file);
    } finally {
      plaintext.fill(0);
    }
  }

  async loadShare(keySetId: string, slot: FeatureSlot): Promise<ThresholdKeyShare> {
    const file = readJson<ShareFile>(this.shareFile(keySetId, slot), `the key share of slot ${slot} in key set ${keySetId} (run keygen)`);
    const publicKey = decodeThresholdPublicKey(file.publicKey);
    const encodedShare = file.publicKey.verificationShares.find((v) => v.index === file.index);
    if (!encodedShare) throw new VaultError(`the share file of slot ${slot} names no verification share for index ${file.index}`);
    const plaintext = await openEnvelope(this.hsm, file.sealed, shareContext(this.name, keySetId, slot, file.index, encodedShare.share));
    const secretShare = BigInt(`0x${plaintext.toString('hex')}`);
    plaintext.fill(0);
    // The envelope authenticated the context; recomputing the public share catches a sealed value
    // that is not this slot key's share even so (e.g. a bug at sealing time).
    if (!G.multiply(secretShare).equals(decodePoint(encodedShare.share, 'verification share'))) {
      throw new VaultError(`the sealed share of slot ${slot} does not match its verification share`);
    }
    if (publicKey.ceremony !== `analytics-key:${keySetId}:${slot}`) throw new VaultError(`the share file of slot ${slot} is for another ceremony`);
    return { ceremony: publicKey.ceremony, threshold: publicKey.threshold, participants: publicKey.participants, index: file.index, secretShare, publicKey };
  }
}
