/**
 * Checkpoints: the log's signed statement "my tree of N events has root R".
 *
 * The signed bytes are a C2SP tlog-checkpoint note body (c2sp.org/tlog-checkpoint),
 * with one extension line carrying the signing time:
 *
 *   <origin>\n
 *   <tree size, decimal, no leading zeros>\n
 *   <root hash, standard base64 with padding>\n
 *   timestamp-ms <milliseconds since 1970-01-01T00:00:00Z, decimal>\n
 *
 * Why this format and not JCS: it is the format transparency logs already use
 * (Go sumdb/tlog, Trillian, Tessera, Sigstore), so existing note tools can
 * read and verify our checkpoints; it is line-based and unambiguous without a
 * JSON library; and the timestamp is still covered by the signature.
 *
 * The signature is ECDSA P-256 over SHA-256(body), with the 32-byte digest
 * computed here and handed to an HSM (PKCS#11 CKM_ECDSA signs a digest you
 * hash yourself and returns r || s). In a checkpoint object it is the raw
 * 64-byte r || s in base64; in the signed-note rendering it is DER, as the
 * C2SP signed-note ECDSA type 0x02 (transparency-dev/witness, Rekor) expects.
 *
 * Public keys are exchanged in ONE format: SubjectPublicKeyInfo (RFC 5280) for
 * P-256 with an uncompressed point, as 91 DER bytes or the same in PEM
 * ("-----BEGIN PUBLIC KEY-----"). It is what OpenSSL, WebCrypto ("spki"), Go's
 * x509 and Java read. The key id is SHA-256 of those 91 DER bytes, in hex;
 * its first 4 bytes are the signed-note key hash of type 0x02.
 *
 * Verification does NOT require low-S: ECDSA over P-256 (FIPS 186, PKCS#11,
 * OpenSSL, Go) has no such rule and an HSM returns high-S signatures half of
 * the time. Signature malleability is harmless here because a checkpoint is
 * identified by its body, never by its signature bytes.
 */
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, fromBase64, fromHex, toBase64, toHex, utf8Encode } from './bytes.js';
import { CheckpointError } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import { rejected, verified, type VerificationResult } from './verification-result.js';

/** The unsigned content of a checkpoint. */
export interface TreeHead {
  /** The log's identity, e.g. "bank.example/audit-log". Printable ASCII, no spaces, no "+". */
  readonly origin: string;
  /** Number of events in the tree. */
  readonly treeSize: number;
  /** RFC 9162 root hash of the tree, standard base64 (44 characters). */
  readonly rootHash: string;
  /** Signing time in milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

/** A signed tree head, as served by the API. */
export interface Checkpoint extends TreeHead {
  /** SHA-256 of the signing key's SubjectPublicKeyInfo DER, lowercase hex (64 characters). */
  readonly keyId: string;
  /** ECDSA P-256 signature r || s (64 bytes), standard base64, over SHA-256 of {@link checkpointBody}. */
  readonly signature: string;
}

/** A P-256 public key as SubjectPublicKeyInfo: 91 DER bytes, or a PEM "PUBLIC KEY" block. */
export type PublicKeyInput = Uint8Array | string;

/** The signing side. In the service this wraps an HSM-held key. */
export interface CheckpointSigner {
  /** The signing key's SubjectPublicKeyInfo (DER bytes or PEM). */
  readonly publicKey: PublicKeyInput;
  /** Signs a 32-byte SHA-256 digest with ECDSA P-256; returns r || s (64 bytes). */
  sign(digest: Uint8Array): Promise<Uint8Array>;
}

const ORIGIN_RE = /^[\x21-\x2a\x2c-\x7e]{1,255}$/;
const DECIMAL_RE = /^(0|[1-9][0-9]*)$/;
const TIMESTAMP_PREFIX = 'timestamp-ms ';
const SIGNATURE_SIZE = 64;

/** DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point (id-ecPublicKey, prime256v1, BIT STRING). */
const P256_SPKI_PREFIX = fromHex('3059301306072a8648ce3d020106082a8648ce3d030107034200')!;
const SPKI_SIZE = P256_SPKI_PREFIX.length + 65;

// ---------------------------------------------------------------------------
// Public keys

/** Wraps a raw P-256 public key (65-byte uncompressed or 33-byte compressed point) as SPKI DER. */
export function spkiFromPublicKey(point: Uint8Array): Uint8Array {
  let uncompressed: Uint8Array;
  try {
    uncompressed = p256.Point.fromBytes(point).toBytes(false);
  } catch {
    throw new CheckpointError('not a P-256 public key point (expected 65 bytes 04||x||y or 33 bytes compressed)');
  }
  const spki = new Uint8Array(SPKI_SIZE);
  spki.set(P256_SPKI_PREFIX);
  spki.set(uncompressed, P256_SPKI_PREFIX.length);
  return spki;
}

/** Parses SPKI (DER bytes or PEM) into its DER bytes and its 65-byte point; throws {@link CheckpointError}. */
export function parsePublicKey(input: PublicKeyInput): { spki: Uint8Array; point: Uint8Array } {
  let der: Uint8Array | null;
  if (typeof input === 'string') {
    const match = /^\s*-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----\s*$/.exec(input);
    der = match ? fromBase64(match[1]!.replace(/\s+/g, '')) : null;
    if (!der) throw new CheckpointError('the public key is not a PEM "PUBLIC KEY" block');
  } else if (input instanceof Uint8Array) {
    der = input;
  } else {
    throw new CheckpointError('the public key must be SPKI DER bytes or a PEM string');
  }
  if (der.length !== SPKI_SIZE || !bytesEqual(der.subarray(0, P256_SPKI_PREFIX.length), P256_SPKI_PREFIX)) {
    throw new CheckpointError('the public key is not a P-256 SubjectPublicKeyInfo with an uncompressed point');
  }
  const point = der.slice(P256_SPKI_PREFIX.length);
  try {
    p256.Point.fromBytes(point).assertValidity();
  } catch {
    throw new CheckpointError('the public key point is not on the P-256 curve');
  }
  return { spki: Uint8Array.from(der), point };
}

/** PEM ("-----BEGIN PUBLIC KEY-----") of a public key. */
export function publicKeyToPem(input: PublicKeyInput): string {
  const b64 = toBase64(parsePublicKey(input).spki);
  const lines = b64.match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PUBLIC KEY-----\n${lines}\n-----END PUBLIC KEY-----\n`;
}

/** The key id: SHA-256 of the SPKI DER bytes, lowercase hex. */
export function keyIdOf(input: PublicKeyInput): string {
  return toHex(sha256(parsePublicKey(input).spki));
}

// ---------------------------------------------------------------------------
// The signed body

/** Throws {@link CheckpointError} unless the tree head is well formed; returns the decoded root. */
export function validateTreeHead(head: TreeHead): Uint8Array {
  if (head === null || typeof head !== 'object') throw new CheckpointError('a checkpoint must be an object');
  if (typeof head.origin !== 'string' || !ORIGIN_RE.test(head.origin)) {
    throw new CheckpointError('origin must be 1-255 printable ASCII characters without spaces or "+"');
  }
  if (typeof head.treeSize !== 'number' || !Number.isSafeInteger(head.treeSize) || head.treeSize < 0) {
    throw new CheckpointError(`treeSize must be a non-negative integer below 2^53, got ${String(head.treeSize)}`);
  }
  if (typeof head.timestamp !== 'number' || !Number.isSafeInteger(head.timestamp) || head.timestamp < 0) {
    throw new CheckpointError(`timestamp must be non-negative integer milliseconds, got ${String(head.timestamp)}`);
  }
  const root = fromBase64(head.rootHash, HASH_SIZE);
  if (!root) throw new CheckpointError('rootHash must be a 32-byte hash in standard padded base64');
  return root;
}

/** The note text that is signed (see the top of this file). */
export function checkpointBody(head: TreeHead): string {
  validateTreeHead(head);
  return `${head.origin}\n${head.treeSize}\n${head.rootHash}\n${TIMESTAMP_PREFIX}${head.timestamp}\n`;
}

/** SHA-256 of the UTF-8 body: the 32 bytes the HSM signs. */
export function checkpointDigest(head: TreeHead): Uint8Array {
  return sha256(utf8Encode(checkpointBody(head)));
}

/** Parses a checkpoint body back into a tree head, accepting only the exact form {@link checkpointBody} writes. */
export function parseCheckpointBody(body: string): TreeHead {
  if (typeof body !== 'string') throw new CheckpointError('a checkpoint body must be a string');
  const lines = body.split('\n');
  if (lines.length !== 5 || lines[4] !== '') {
    throw new CheckpointError('a checkpoint body has exactly four lines, each ending in a newline');
  }
  const [origin, size, rootHash, stamp] = lines as [string, string, string, string];
  if (!DECIMAL_RE.test(size)) throw new CheckpointError('the tree size line is not a decimal number without leading zeros');
  if (!stamp.startsWith(TIMESTAMP_PREFIX) || !DECIMAL_RE.test(stamp.slice(TIMESTAMP_PREFIX.length))) {
    throw new CheckpointError(`the fourth line must be "${TIMESTAMP_PREFIX}<decimal milliseconds>"`);
  }
  const head: TreeHead = {
    origin,
    treeSize: Number(size),
    rootHash,
    timestamp: Number(stamp.slice(TIMESTAMP_PREFIX.length)),
  };
  validateTreeHead(head);
  return head;
}

// ---------------------------------------------------------------------------
// Signing and verification

/**
 * Signs a tree head: computes SHA-256 of its body, asks the signer for r || s,
 * and checks the answer under the signer's public key before returning it, so
 * a misconfigured HSM (wrong key, DER instead of r || s) fails here, loudly.
 */
export async function signCheckpoint(head: TreeHead, signer: CheckpointSigner): Promise<Checkpoint> {
  const { spki, point } = parsePublicKey(signer.publicKey);
  const digest = checkpointDigest(head);
  const signature = await signer.sign(Uint8Array.from(digest));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_SIZE) {
    const got = signature instanceof Uint8Array ? `${signature.length} bytes` : typeof signature;
    throw new CheckpointError(`the signer must return r || s (64 bytes), got ${got}`);
  }
  if (!ecdsaVerify(signature, digest, point)) {
    throw new CheckpointError('the signer returned a signature that does not verify under its public key');
  }
  return {
    origin: head.origin,
    treeSize: head.treeSize,
    rootHash: head.rootHash,
    timestamp: head.timestamp,
    keyId: toHex(sha256(spki)),
    signature: toBase64(signature),
  };
}

function ecdsaVerify(signature: Uint8Array, digest: Uint8Array, point: Uint8Array): boolean {
  try {
    // prehash: false - the digest is already SHA-256(body); lowS: false - see the top of this file.
    return p256.verify(signature, digest, point, { prehash: false, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

/**
 * Verifies a checkpoint's signature. `keys` is the trusted key, or several
 * (during a key rotation); the one whose key id the checkpoint names is used.
 */
export function verifyCheckpoint(checkpoint: Checkpoint, keys: PublicKeyInput | readonly PublicKeyInput[]): VerificationResult {
  try {
    validateTreeHead(checkpoint);
  } catch (error) {
    if (error instanceof CheckpointError) return rejected(`malformed checkpoint: ${error.message}`);
    throw error;
  }
  const what = `checkpoint ${checkpoint.origin} at size ${checkpoint.treeSize}`;
  const candidates = Array.isArray(keys) ? (keys as readonly PublicKeyInput[]) : [keys as PublicKeyInput];
  let key: { spki: Uint8Array; point: Uint8Array } | undefined;
  const known: string[] = [];
  for (const candidate of candidates) {
    let parsed;
    try {
      parsed = parsePublicKey(candidate);
    } catch (error) {
      if (error instanceof CheckpointError) return rejected(`a trusted key is unusable: ${error.message}`);
      throw error;
    }
    const id = toHex(sha256(parsed.spki));
    known.push(id.slice(0, 8));
    if (id === checkpoint.keyId) key = parsed;
  }
  if (!key) {
    return rejected(
      `${what} is signed by key ${String(checkpoint.keyId).slice(0, 8)}.., which is not a trusted key (trusted: ${known.map((k) => `${k}..`).join(', ') || 'none'})`,
    );
  }
  const signature = fromBase64(checkpoint.signature, SIGNATURE_SIZE);
  if (!signature) return rejected(`${what} has a malformed signature: expected r || s, 64 bytes in base64`);
  if (!ecdsaVerify(signature, checkpointDigest(checkpoint), key.point)) {
    return rejected(`bad signature: ${what} was not signed by key ${checkpoint.keyId.slice(0, 8)}.. or was altered after signing`);
  }
  return verified;
}

// ---------------------------------------------------------------------------
// Signed-note rendering (c2sp.org/signed-note), for existing note tools

/** C2SP signed-note signature type for ECDSA (as transparency-dev/witness and Rekor implement it). */
const NOTE_ECDSA_TYPE = 0x02;

/**
 * The verifier key string of note tools for this key:
 * "<origin>+<key hash, 8 hex digits>+base64(0x02 || SPKI DER)".
 */
export function noteVerifierKey(origin: string, publicKey: PublicKeyInput): string {
  if (typeof origin !== 'string' || !ORIGIN_RE.test(origin)) throw new CheckpointError('origin is not a valid key name');
  const { spki } = parsePublicKey(publicKey);
  const blob = new Uint8Array(1 + spki.length);
  blob[0] = NOTE_ECDSA_TYPE;
  blob.set(spki, 1);
  return `${origin}+${toHex(sha256(spki).subarray(0, 4))}+${toBase64(blob)}`;
}

/**
 * The checkpoint as a C2SP signed note: body, blank line, and one signature
 * line "— <origin> base64(key hash (4 bytes) || DER signature)". The key name
 * is the origin; the key hash is the first 4 bytes of the key id.
 */
export function toSignedNote(checkpoint: Checkpoint): string {
  const keyId = fromHex(checkpoint.keyId, 32);
  const signature = fromBase64(checkpoint.signature, SIGNATURE_SIZE);
  if (!keyId || !signature) throw new CheckpointError('the checkpoint has a malformed keyId or signature');
  const der = p256.Signature.fromBytes(signature, 'compact').toBytes('der');
  const blob = new Uint8Array(4 + der.length);
  blob.set(keyId.subarray(0, 4));
  blob.set(der, 4);
  return `${checkpointBody(checkpoint)}\n\u2014 ${checkpoint.origin} ${toBase64(blob)}\n`;
}

/**
 * Reads a checkpoint from a C2SP signed note, taking the signature line whose
 * key name is the origin and whose key hash matches `publicKey`. The result
 * still has to pass {@link verifyCheckpoint}.
 */
export function checkpointFromSignedNote(note: string, publicKey: PublicKeyInput): Checkpoint {
  if (typeof note !== 'string') throw new CheckpointError('a signed note must be a string');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new CheckpointError('not a signed note: no blank line before the signatures');
  const head = parseCheckpointBody(note.slice(0, split + 1));
  const keyId = keyIdOf(publicKey);
  const keyHash = keyId.slice(0, 8);
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!match) throw new CheckpointError('a signature line of the note is malformed');
    const blob = fromBase64(match[2]);
    if (match[1] !== head.origin || !blob || blob.length < 5 || toHex(blob.subarray(0, 4)) !== keyHash) continue;
    let signature: Uint8Array;
    try {
      signature = p256.Signature.fromBytes(blob.subarray(4), 'der').toBytes('compact');
    } catch {
      throw new CheckpointError('the note signature is not a DER ECDSA signature');
    }
    return { ...head, keyId, signature: toBase64(signature) };
  }
  throw new CheckpointError(`the note has no signature by ${head.origin} with key ${keyHash}..`);
}
