/**
 * The core of the standalone audit-log verifier: pure functions that take
 * what the audit API serves (events, proofs, checkpoints) and say whether it
 * holds together, trusting nothing but the log's public key.
 *
 *  - verifyInclusion:   this event is leaf `leafIndex` of the tree a checkpoint signs.
 *  - verifyConsistency: the newer checkpoint's tree extends the older one's (append-only).
 *  - detectFork:        two checkpoints of one log cannot both be honest.
 *
 * Each answers { ok, reason } with a reason that names the event, sizes and
 * the short hashes involved. Pass `publicKey` in the options to check the
 * checkpoints' signatures too; without it the caller must have verified them
 * with verifyCheckpoint already.
 */
import { bytesEqual, fromBase64, shortHex } from './bytes.js';
import { type Checkpoint, type PublicKeyInput, validateTreeHead, verifyCheckpoint } from './checkpoint.js';
import { AuditCryptoError } from './errors.js';
import { type AuditEvent, eventLeafHash } from './event-encoding.js';
import { HASH_SIZE, emptyRootHash, rootFromInclusionProof, rootsFromConsistencyProof } from './merkle.js';
import { rejected, verified, type VerificationResult } from './verification-result.js';

/** An inclusion proof as the API serves it: hashes in standard base64, leaf sibling first. */
export interface InclusionProof {
  readonly leafIndex?: number;
  readonly treeSize?: number;
  readonly hashes: readonly string[];
}

/** A consistency proof as the API serves it: hashes in standard base64, in RFC 9162 PROOF order. */
export interface ConsistencyProof {
  readonly size1?: number;
  readonly size2?: number;
  readonly hashes: readonly string[];
}

export interface VerifyOptions {
  /** The log's public key(s); when given, every checkpoint's signature is verified first. */
  readonly publicKey?: PublicKeyInput | readonly PublicKeyInput[];
}

/** The answer of {@link detectFork}: `fork` is true only when the two checkpoints prove the log equivocated. */
export interface ForkCheckResult extends VerificationResult {
  readonly fork: boolean;
}

function decodeHashes(hashes: unknown, what: string): Uint8Array[] | string {
  if (!Array.isArray(hashes)) return `the ${what} is not a list of hashes`;
  const out: Uint8Array[] = [];
  for (let i = 0; i < hashes.length; i++) {
    const h = fromBase64(hashes[i], HASH_SIZE);
    if (!h) return `hash ${i} of the ${what} is not a 32-byte hash in standard base64`;
    out.push(h);
  }
  return out;
}

function checkHead(checkpoint: Checkpoint, name: string, options: VerifyOptions): { root: Uint8Array } | string {
  try {
    const root = validateTreeHead(checkpoint);
    if (options.publicKey !== undefined) {
      const signature = verifyCheckpoint(checkpoint, options.publicKey);
      if (!signature.ok) return `${name}: ${signature.reason}`;
    }
    return { root };
  } catch (error) {
    if (error instanceof AuditCryptoError) return `${name} is malformed: ${error.message}`;
    throw error;
  }
}

/**
 * Checks that `event` is the leaf at `leafIndex` of the tree signed by
 * `checkpoint`, using an RFC 9162 inclusion proof.
 */
export function verifyInclusion(
  event: AuditEvent,
  leafIndex: number,
  proof: InclusionProof | readonly string[],
  checkpoint: Checkpoint,
  options: VerifyOptions = {},
): VerificationResult {
  const head = checkHead(checkpoint, `checkpoint ${checkpoint?.treeSize}`, options);
  if (typeof head === 'string') return rejected(head);
  const size = checkpoint.treeSize;
  const what = `the inclusion proof for event ${leafIndex}`;

  const given: InclusionProof = Array.isArray(proof) ? { hashes: proof as readonly string[] } : (proof as InclusionProof);
  if (given === null || typeof given !== 'object') return rejected(`${what} is missing`);
  if (given.treeSize !== undefined && given.treeSize !== size) {
    return rejected(`${what} is for tree size ${given.treeSize}, but the checkpoint is for size ${size}: fetch the proof for size ${size}`);
  }
  if (given.leafIndex !== undefined && given.leafIndex !== leafIndex) {
    return rejected(`${what} is a proof for event ${given.leafIndex}`);
  }
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0) return rejected(`leaf index ${String(leafIndex)} is not a non-negative integer`);
  if (leafIndex >= size) return rejected(`event ${leafIndex} is not in checkpoint ${size}: the tree has only ${size} events`);

  let leaf: Uint8Array;
  try {
    leaf = eventLeafHash(event);
  } catch (error) {
    if (error instanceof AuditCryptoError) return rejected(`event ${leafIndex} cannot be encoded as a leaf: ${error.message}`);
    throw error;
  }
  if (BigInt(event.seq) !== BigInt(leafIndex)) {
    return rejected(`event seq ${String(event.seq)} does not match leaf index ${leafIndex}: the event claims another position in the log`);
  }

  const hashes = decodeHashes(given.hashes, 'inclusion proof');
  if (typeof hashes === 'string') return rejected(`${what}: ${hashes}`);
  let computed: Uint8Array;
  try {
    computed = rootFromInclusionProof(leafIndex, size, leaf, hashes);
  } catch (error) {
    if (error instanceof AuditCryptoError) return rejected(`${what} is malformed: ${error.message}`);
    throw error;
  }
  if (!bytesEqual(computed, head.root)) {
    return rejected(
      `root mismatch: ${what} leads to ${shortHex(computed)} but checkpoint ${size} says ${shortHex(head.root)} (the event, its index or the proof was altered)`,
    );
  }
  return verified;
}

/**
 * Checks that the tree signed by `newer` extends the tree signed by `older`
 * (nothing was removed or rewritten), using an RFC 9162 consistency proof.
 */
export function verifyConsistency(
  older: Checkpoint,
  newer: Checkpoint,
  proof: ConsistencyProof | readonly string[],
  options: VerifyOptions = {},
): VerificationResult {
  const a = checkHead(older, `the old checkpoint (${older?.treeSize})`, options);
  if (typeof a === 'string') return rejected(a);
  const b = checkHead(newer, `the new checkpoint (${newer?.treeSize})`, options);
  if (typeof b === 'string') return rejected(b);
  const size1 = older.treeSize;
  const size2 = newer.treeSize;
  if (older.origin !== newer.origin) {
    return rejected(`the checkpoints are from different logs (${older.origin} and ${newer.origin})`);
  }
  if (size1 > size2) {
    return rejected(`the old checkpoint has ${size1} events and the new one ${size2}: the log shrank, or the checkpoints are swapped`);
  }
  const what = `the consistency proof from ${size1} to ${size2}`;
  const given: ConsistencyProof = Array.isArray(proof) ? { hashes: proof as readonly string[] } : (proof as ConsistencyProof);
  if (given === null || typeof given !== 'object') return rejected(`${what} is missing`);
  if ((given.size1 !== undefined && given.size1 !== size1) || (given.size2 !== undefined && given.size2 !== size2)) {
    return rejected(`the consistency proof is from ${given.size1} to ${given.size2}, but the checkpoints are at ${size1} and ${size2}`);
  }
  const hashes = decodeHashes(given.hashes, 'consistency proof');
  if (typeof hashes === 'string') return rejected(`${what}: ${hashes}`);

  if (size1 === 0) {
    if (!bytesEqual(a.root, emptyRootHash())) {
      return rejected(`the old checkpoint has 0 events but root ${shortHex(a.root)}; an empty tree's root is ${shortHex(emptyRootHash())}`);
    }
    return hashes.length === 0 ? verified : rejected(`${what} must be empty, it has ${hashes.length} hashes`);
  }
  if (size1 === size2 && !bytesEqual(a.root, b.root)) {
    return rejected(`fork: two checkpoints of size ${size1} have different roots (${shortHex(a.root)} and ${shortHex(b.root)})`);
  }
  let roots: { root1: Uint8Array; root2: Uint8Array };
  try {
    roots = rootsFromConsistencyProof(size1, size2, a.root, hashes);
  } catch (error) {
    if (error instanceof AuditCryptoError) return rejected(`${what} is malformed: ${error.message}`);
    throw error;
  }
  if (!bytesEqual(roots.root1, a.root)) {
    return rejected(`old root mismatch: ${what} leads to ${shortHex(roots.root1)} but checkpoint ${size1} says ${shortHex(a.root)}`);
  }
  if (!bytesEqual(roots.root2, b.root)) {
    return rejected(
      `new root mismatch: ${what} leads to ${shortHex(roots.root2)} but checkpoint ${size2} says ${shortHex(b.root)} (the new tree does not extend the old one, or the proof was altered)`,
    );
  }
  return verified;
}

/**
 * Compares two checkpoints of one log. Equal sizes: the roots must be equal;
 * different roots are a fork (signed proof that the log showed two histories).
 * Different sizes: a consistency proof decides; without one the answer is
 * "undecided" (ok false, fork false). A failing proof is reported but is not
 * by itself proof of a fork: the proof could be damaged in transit.
 */
export function detectFork(
  a: Checkpoint,
  b: Checkpoint,
  proof?: ConsistencyProof | readonly string[],
  options: VerifyOptions = {},
): ForkCheckResult {
  const ha = checkHead(a, `checkpoint A (${a?.treeSize})`, options);
  if (typeof ha === 'string') return { ok: false, fork: false, reason: ha };
  const hb = checkHead(b, `checkpoint B (${b?.treeSize})`, options);
  if (typeof hb === 'string') return { ok: false, fork: false, reason: hb };
  if (a.origin !== b.origin) {
    return { ok: false, fork: false, reason: `the checkpoints are from different logs (${a.origin} and ${b.origin})` };
  }
  if (a.treeSize === b.treeSize) {
    if (bytesEqual(ha.root, hb.root)) return { ok: true, fork: false };
    return {
      ok: false,
      fork: true,
      reason: `fork: two checkpoints of ${a.origin} at size ${a.treeSize} have different roots (${shortHex(ha.root)} and ${shortHex(hb.root)}); keep both as evidence`,
    };
  }
  const [older, newer] = a.treeSize < b.treeSize ? [a, b] : [b, a];
  if (proof === undefined) {
    return {
      ok: false,
      fork: false,
      reason: `undecided: the checkpoints have sizes ${older.treeSize} and ${newer.treeSize}; fetch a consistency proof between them`,
    };
  }
  const result = verifyConsistency(older, newer, proof, {});
  return result.ok ? { ok: true, fork: false } : { ok: false, fork: false, reason: result.reason! };
}
