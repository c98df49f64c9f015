/**
 * The private channel of the slot-key DKG: a dealer share travels through the service encrypted
 * to its recipient's secp256k1 encryption key (ECIES-style), so the service only ever stores
 * ciphertext.
 *
 *   dealer:    ephemeral e, E = e*G;  Z = ECDH(e, P_recipient)
 *   key:       K = HKDF-SHA256(ikm = Z (compressed point), salt = E || P_recipient,
 *                              info = DOMAIN || binding)                        (32 bytes)
 *   envelope:  AES-256-GCM(K, random 96-bit IV, plaintext = share as 32 bytes big-endian,
 *                          AAD = binding)
 *   binding:   RFC 8785 JSON of { dealer, keySet, recipient, slot }
 *
 * A fresh ephemeral key per envelope makes K specific to one share: a recipient that accuses the
 * dealer can reveal K (and the share) as evidence, and anyone can then open that one envelope and
 * check the share against the dealer's public commitments without learning anything else. GCM
 * authenticates the binding, so an envelope moved to another key set, slot, dealer or recipient
 * does not open.
 *
 * Plain module: no framework or database imports.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJsonBytes } from '../../audit/crypto/event-encoding.js';
import { SUBGROUP_ORDER } from '../crypto/index.js';

const DOMAIN = 'privacy-service/analytics/dkg-share-transport/v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SHARE_BYTES = 32;

/** Which share an envelope carries: authenticated by the envelope, never secret. */
export interface ShareBinding {
  keySetId: string;
  slot: string;
  dealer: number;
  recipient: number;
}

/** An encrypted dealer share, as JSON (hex strings). */
export interface ShareEnvelope {
  /** E, compressed secp256k1 point (33 bytes). */
  ephemeralKey: string;
  iv: string;
  /** Ciphertext with its 16-byte tag. */
  ciphertext: string;
}

export class ShareTransportError extends Error {
  override readonly name = 'ShareTransportError';
}

const bindingBytes = (b: ShareBinding): Uint8Array =>
  canonicalJsonBytes({ dealer: b.dealer, keySet: b.keySetId, recipient: b.recipient, slot: b.slot });

const hexBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

function parseEnvelope(e: ShareEnvelope): { ephemeral: Uint8Array; iv: Buffer; ciphertext: Buffer } {
  if (typeof e !== 'object' || e === null) throw new ShareTransportError('the envelope must be an object');
  if (typeof e.ephemeralKey !== 'string' || !/^0[23][0-9a-f]{64}$/.test(e.ephemeralKey)) throw new ShareTransportError('ephemeralKey must be a compressed secp256k1 point (33 bytes, lower-case hex)');
  try {
    secp256k1.Point.fromHex(e.ephemeralKey).assertValidity();
  } catch {
    throw new ShareTransportError('ephemeralKey is not a point of secp256k1');
  }
  if (typeof e.iv !== 'string' || !/^[0-9a-f]{24}$/.test(e.iv)) throw new ShareTransportError('iv must be 12 bytes of lower-case hex');
  if (typeof e.ciphertext !== 'string' || !new RegExp(`^[0-9a-f]{${2 * (SHARE_BYTES + TAG_BYTES)}}$`).test(e.ciphertext)) {
    throw new ShareTransportError(`ciphertext must be ${SHARE_BYTES + TAG_BYTES} bytes of lower-case hex`);
  }
  return { ephemeral: hexBytes(e.ephemeralKey), iv: Buffer.from(e.iv, 'hex'), ciphertext: Buffer.from(e.ciphertext, 'hex') };
}

/** Checks an envelope's shape and its ephemeral point (what the service can check without a key). */
export function assertShareEnvelope(e: ShareEnvelope): void {
  parseEnvelope(e);
}

function envelopeKey(sharedPoint: Uint8Array, ephemeral: Uint8Array, recipientKey: Uint8Array, binding: ShareBinding): Uint8Array {
  const salt = new Uint8Array([...ephemeral, ...recipientKey]);
  const info = new Uint8Array([...new TextEncoder().encode(DOMAIN), 0, ...bindingBytes(binding)]);
  return hkdf(sha256, sharedPoint, salt, info, 32);
}

function scalarToBytes(s: bigint): Buffer {
  return Buffer.from(s.toString(16).padStart(2 * SHARE_BYTES, '0'), 'hex');
}

/** Dealer side: encrypts share s_ij to the recipient's encryption key. */
export function encryptDealerShare(binding: ShareBinding, share: bigint, recipientEncryptionKeyHex: string): ShareEnvelope {
  if (share < 0n || share >= SUBGROUP_ORDER) throw new ShareTransportError('share out of range');
  const recipientKey = hexBytes(recipientEncryptionKeyHex);
  const ephemeralSecret = secp256k1.utils.randomSecretKey();
  const ephemeral = secp256k1.getPublicKey(ephemeralSecret, true);
  const key = envelopeKey(secp256k1.getSharedSecret(ephemeralSecret, recipientKey, true), ephemeral, recipientKey, binding);
  ephemeralSecret.fill(0);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(bindingBytes(binding));
  const plaintext = scalarToBytes(share);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  plaintext.fill(0);
  key.fill(0);
  return { ephemeralKey: Buffer.from(ephemeral).toString('hex'), iv: iv.toString('hex'), ciphertext: ciphertext.toString('hex') };
}

function openWithKey(binding: ShareBinding, iv: Buffer, ciphertext: Buffer, key: Uint8Array): bigint {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(bindingBytes(binding));
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES));
    decipher.final();
  } catch {
    throw new ShareTransportError(`the share envelope of dealer ${binding.dealer} for regulator ${binding.recipient} (slot ${binding.slot}) does not authenticate`);
  }
  const share = BigInt(`0x${plaintext.toString('hex')}`);
  plaintext.fill(0);
  return share;
}

/**
 * What a recipient decrypting through its own key needs: ECDH with its secret key. The regulator
 * client passes a closure over its unsealed key, so this module never sees where it is kept.
 */
export type Ecdh = (peerPublicKey: Uint8Array) => Uint8Array;

/**
 * Recipient side: opens an envelope addressed to it. Returns the share and the envelope key K
 * (what a complaint reveals as evidence; it opens this envelope only).
 */
export function decryptDealerShare(binding: ShareBinding, envelope: ShareEnvelope, recipientEncryptionKeyHex: string, ecdh: Ecdh): { share: bigint; envelopeKey: string } {
  const { ephemeral, iv, ciphertext } = parseEnvelope(envelope);
  const key = envelopeKey(ecdh(ephemeral), ephemeral, hexBytes(recipientEncryptionKeyHex), binding);
  const share = openWithKey(binding, iv, ciphertext, key);
  return { share, envelopeKey: Buffer.from(key).toString('hex') };
}

/** Anyone: opens one envelope with a revealed envelope key (checking a complaint's evidence). */
export function openWithRevealedKey(binding: ShareBinding, envelope: ShareEnvelope, envelopeKeyHex: string): bigint {
  const { iv, ciphertext } = parseEnvelope(envelope);
  if (typeof envelopeKeyHex !== 'string' || !/^[0-9a-f]{64}$/.test(envelopeKeyHex)) throw new ShareTransportError('the envelope key must be 32 bytes of lower-case hex');
  return openWithKey(binding, iv, ciphertext, hexBytes(envelopeKeyHex));
}
