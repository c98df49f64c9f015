/**
 * Envelope encryption for records kept at rest (for example MPC key shares).
 *
 * Each record gets its own data-encryption key (DEK): 32 bytes from the HSM's random generator.
 * The record is encrypted with the DEK in this process (AES-256-GCM, node:crypto), and the DEK is
 * encrypted inside the HSM under a named, non-extractable key-encryption key (KEK), also with
 * AES-256-GCM. Only the encrypted DEK is stored; reading a record needs the HSM.
 *
 * Both layers authenticate the same context (the AAD): a record sealed for wallet A / party 1 does
 * not open when presented as wallet B / party 2, even though the same KEK protects both. The
 * context is a flat map of strings encoded canonically (RFC 8785 JSON canonicalisation: keys sorted
 * by UTF-16 code units, JSON string escaping), so the same fields always give the same bytes and
 * no two different maps give the same bytes. Each layer adds its own purpose, the format version
 * and the KEK label, so a wrapped DEK can never be mistaken for record data or moved to another KEK.
 */
import { createCipheriv, createDecipheriv, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { HsmError } from './hsm-error.js';
import type { AesGcmCiphertext } from './pkcs11-client.js';

/** What sealing needs from the HSM (a Pkcs11Client or the HsmService). */
export interface EnvelopeHsm {
  randomBytes(n: number): Promise<Buffer>;
  aesGcmEncrypt(label: string, plaintext: Uint8Array, aad?: Uint8Array): Promise<AesGcmCiphertext>;
  aesGcmDecrypt(label: string, iv: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Buffer>;
}

/** The context a record is bound to, e.g. { wallet, party, version, curve, publicShare }. */
export type EnvelopeContext = Record<string, string>;

/** A sealed record. Plain JSON (byte strings in base64); store it as it is. */
export interface SealedEnvelope {
  v: 1;
  /** Label of the HSM key that encrypted the DEK. */
  kek: string;
  /** The bound context, canonically encoded (see canonicalContext). */
  aad: string;
  /** The DEK, AES-256-GCM encrypted by the HSM. */
  wrappedDek: { iv: string; ciphertext: string };
  /** AES-256-GCM IV and ciphertext (with its 16-byte tag) of the record under the DEK. */
  iv: string;
  ciphertext: string;
}

export type EnvelopeErrorCode = 'ENVELOPE_MALFORMED' | 'ENVELOPE_CONTEXT_MISMATCH' | 'ENVELOPE_AUTHENTICATION_FAILED';

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const VERSION = 1;
const DEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Canonical text of a context: RFC 8785 (JCS) applied to a flat object of strings, which is
 * '{' + sorted "key":"value" pairs joined by ',' + '}' with ECMAScript JSON string escaping.
 */
export function canonicalContext(context: EnvelopeContext): string {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw new EnvelopeError('ENVELOPE_MALFORMED', 'the envelope context must be an object of strings');
  }
  const entries = Object.entries(context);
  if (entries.length === 0) throw new EnvelopeError('ENVELOPE_MALFORMED', 'the envelope context must name at least one field');
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw new EnvelopeError('ENVELOPE_MALFORMED', `envelope context field "${key}" must be a string, got ${typeof value}`);
    }
  }
  // Default sort compares UTF-16 code units, as RFC 8785 section 3.2.3 requires.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

/** Seal `plaintext` under the HSM key `kekLabel`, bound to `context`. */
export async function seal(
  hsm: EnvelopeHsm,
  kekLabel: string,
  plaintext: Uint8Array,
  context: EnvelopeContext,
): Promise<SealedEnvelope> {
  if (!(plaintext instanceof Uint8Array)) throw new EnvelopeError('ENVELOPE_MALFORMED', 'the plaintext must be bytes (Uint8Array)');
  const aad = canonicalContext(context);
  const dek = await hsm.randomBytes(DEK_BYTES);
  try {
    const wrapped = await hsm.aesGcmEncrypt(kekLabel, dek, layerAad('dek', kekLabel, aad));
    // The DEK encrypts exactly one record, so a random IV from the local generator is enough.
    const iv = nodeRandomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(layerAad('data', kekLabel, aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      v: VERSION,
      kek: kekLabel,
      aad,
      wrappedDek: { iv: wrapped.iv.toString('base64'), ciphertext: wrapped.ciphertext.toString('base64') },
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  } finally {
    dek.fill(0);
  }
}

/**
 * Open an envelope that must be bound to `expectedContext`. Throws EnvelopeError when the stored
 * context differs (ENVELOPE_CONTEXT_MISMATCH), when the DEK or data do not authenticate
 * (ENVELOPE_AUTHENTICATION_FAILED) or the envelope is not well-formed; never returns partial data.
 */
export async function open(hsm: EnvelopeHsm, envelope: SealedEnvelope, expectedContext: EnvelopeContext): Promise<Buffer> {
  const parts = parseEnvelope(envelope);
  const expected = canonicalContext(expectedContext);
  if (!sameText(parts.aad, expected)) {
    throw new EnvelopeError(
      'ENVELOPE_CONTEXT_MISMATCH',
      `envelope is bound to a different context${describeDifference(parts.aad, expectedContext)}`,
    );
  }

  let dek: Buffer;
  try {
    dek = await hsm.aesGcmDecrypt(parts.kek, parts.wrappedIv, parts.wrappedDek, layerAad('dek', parts.kek, parts.aad));
  } catch (error) {
    if (error instanceof HsmError && error.code === 'HSM_AUTHENTICATION_FAILED') {
      throw new EnvelopeError('ENVELOPE_AUTHENTICATION_FAILED', `envelope key under HSM key "${parts.kek}" failed authentication`);
    }
    throw error;
  }
  let plaintext: Buffer | undefined;
  try {
    if (dek.length !== DEK_BYTES) throw new EnvelopeError('ENVELOPE_MALFORMED', 'envelope key has the wrong length');
    const decipher = createDecipheriv('aes-256-gcm', dek, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(layerAad('data', parts.kek, parts.aad));
    decipher.setAuthTag(parts.ciphertext.subarray(parts.ciphertext.length - TAG_BYTES));
    plaintext = decipher.update(parts.ciphertext.subarray(0, parts.ciphertext.length - TAG_BYTES));
    decipher.final(); // Throws if the tag does not match; only then is the plaintext released.
    return plaintext;
  } catch (error) {
    plaintext?.fill(0);
    if (error instanceof EnvelopeError) throw error;
    throw new EnvelopeError('ENVELOPE_AUTHENTICATION_FAILED', 'envelope data failed authentication');
  } finally {
    dek.fill(0);
  }
}

/** The AAD one layer authenticates: purpose, format version, KEK label and context, canonically. */
function layerAad(purpose: 'dek' | 'data', kek: string, aad: string): Buffer {
  return Buffer.from(canonicalContext({ purpose: `envelope-${purpose}`, v: String(VERSION), kek, aad }), 'utf8');
}

interface EnvelopeParts {
  kek: string;
  aad: string;
  wrappedIv: Buffer;
  wrappedDek: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
}

function parseEnvelope(envelope: SealedEnvelope): EnvelopeParts {
  const malformed = (what: string) => new EnvelopeError('ENVELOPE_MALFORMED', `malformed envelope: ${what}`);
  if (envelope === null || typeof envelope !== 'object') throw malformed('not an object');
  if (envelope.v !== VERSION) throw malformed(`unsupported version ${String(envelope.v)}`);
  if (typeof envelope.kek !== 'string' || envelope.kek === '') throw malformed('missing key label');
  if (typeof envelope.aad !== 'string') throw malformed('missing context');
  const wrapped = envelope.wrappedDek;
  if (wrapped === null || typeof wrapped !== 'object') throw malformed('missing wrapped key');
  const parts: EnvelopeParts = {
    kek: envelope.kek,
    aad: envelope.aad,
    wrappedIv: base64(wrapped.iv, 'wrapped key IV', malformed),
    wrappedDek: base64(wrapped.ciphertext, 'wrapped key', malformed),
    iv: base64(envelope.iv, 'IV', malformed),
    ciphertext: base64(envelope.ciphertext, 'ciphertext', malformed),
  };
  if (parts.wrappedIv.length !== IV_BYTES || parts.iv.length !== IV_BYTES) throw malformed('IVs must be 12 bytes');
  if (parts.wrappedDek.length !== DEK_BYTES + TAG_BYTES) throw malformed('wrapped key must be 48 bytes');
  if (parts.ciphertext.length < TAG_BYTES) throw malformed('ciphertext shorter than its tag');
  return parts;
}

function base64(value: unknown, what: string, malformed: (what: string) => EnvelopeError): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw malformed(`${what} is not base64`);
  }
  return Buffer.from(value, 'base64');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Which field names differ between the stored and expected context (names only, no values). */
function describeDifference(stored: string, expected: EnvelopeContext): string {
  let storedFields: Record<string, unknown>;
  try {
    storedFields = JSON.parse(stored) as Record<string, unknown>;
  } catch {
    return '';
  }
  const names = new Set([...Object.keys(storedFields), ...Object.keys(expected)]);
  const differing = [...names].filter((name) => storedFields[name] !== expected[name]).sort();
  return differing.length > 0 ? ` (fields differing: ${differing.join(', ')})` : '';
}
