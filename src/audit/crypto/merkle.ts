/**
 * The Merkle tree of the audit log, exactly as RFC 9162 section 2.1 defines it
 * (the same tree as RFC 6962 and every Certificate Transparency log).
 *
 *   leaf hash   = SHA-256(0x00 || leaf data)
 *   node hash   = SHA-256(0x01 || left || right)
 *   empty tree  = SHA-256("")
 *   MTH(D[n])   = node hash of MTH(D[0:k]) and MTH(D[k:n]), k the largest power of two < n
 *
 * This file holds what a verifier needs and nothing a server needs: hashing,
 * the recursive reference algorithms of the RFC (2.1.1 MTH, 2.1.3.1 PATH,
 * 2.1.4.1 PROOF), and the iterative verification algorithms (2.1.3.2, 2.1.4.2).
 * The reference algorithms take every leaf hash in memory; they are the
 * specification that the storage-backed proofs in merkle-storage.ts are tested
 * against, and are fine for small trees.
 *
 * Sizes and indices are JavaScript numbers restricted to safe integers
 * (< 2^53), so all index arithmetic below uses division, never 32-bit shifts.
 *
 * Verifiers never accept malformed input: `verify*` return false, and the
 * `*FromProof` helpers throw {@link MerkleProofError} with the reason.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual } from './bytes.js';
import { MerkleProofError } from './errors.js';

/** Bytes in every hash of the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** RFC 9162 2.1.1: the hash of a leaf, SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256.create().update(Uint8Array.of(LEAF_PREFIX)).update(data).digest();
}

/** RFC 9162 2.1.1: the hash of an interior node, SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + 2 * HASH_SIZE);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
}

/** RFC 9162 2.1.1: MTH({}) = SHA-256() = e3b0c442...b855. */
export function emptyRootHash(): Uint8Array {
  return sha256(new Uint8Array(0));
}

// ---------------------------------------------------------------------------
// Argument checks shared with merkle-storage.ts

/** Throws unless `value` is a non-negative safe integer. */
export function requireTreeSize(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MerkleProofError(`${name} must be a non-negative integer below 2^53, got ${String(value)}`);
  }
  return value;
}

/** Throws unless `value` is a 32-byte Uint8Array. */
export function requireHash(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new MerkleProofError(`${name} must be a ${HASH_SIZE}-byte hash, got ${got}`);
  }
  return value;
}

function requireHashList(value: unknown, name: string): readonly Uint8Array[] {
  if (!Array.isArray(value)) throw new MerkleProofError(`${name} must be an array of hashes`);
  value.forEach((h, i) => requireHash(h, `${name}[${i}]`));
  return value as readonly Uint8Array[];
}

/** The largest power of two strictly smaller than n (n >= 2): the split point k of RFC 9162 2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && splitPoint(n + 1) === n;
}

const half = (x: number): number => Math.floor(x / 2);
const isOdd = (x: number): boolean => x % 2 === 1;

// ---------------------------------------------------------------------------
// Reference algorithms (RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1) over all leaf hashes

function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leaves[lo]!;
  const k = splitPoint(hi - lo);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** MTH(D[n]) from the n leaf hashes (RFC 9162 2.1.1). */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  requireHashList(leafHashes, 'leafHashes');
  return leafHashes.length === 0 ? emptyRootHash() : mth(leafHashes, 0, leafHashes.length);
}

/**
 * PATH(m, D[n]) (RFC 9162 2.1.3.1): the inclusion proof of leaf `index` in the
 * tree of all given leaves, ordered from the leaf's sibling up to the root's child.
 */
export function inclusionProofFromLeafHashes(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  requireHashList(leafHashes, 'leafHashes');
  requireTreeSize(index, 'leaf index');
  const n = leafHashes.length;
  if (index >= n) throw new MerkleProofError(`leaf index ${index} is outside a tree of size ${n}`);
  const path = (lo: number, hi: number): Uint8Array[] => {
    if (hi - lo === 1) return [];
    const k = splitPoint(hi - lo);
    return index < lo + k
      ? [...path(lo, lo + k), mth(leafHashes, lo + k, hi)]
      : [...path(lo + k, hi), mth(leafHashes, lo, lo + k)];
  };
  return path(0, n);
}

/**
 * PROOF(m, D[n]) (RFC 9162 2.1.4.1): the consistency proof between the tree of
 * the first `size1` leaves and the tree of all given leaves. Empty when
 * size1 is 0 or equals the number of leaves.
 */
export function consistencyProofFromLeafHashes(leafHashes: readonly Uint8Array[], size1: number): Uint8Array[] {
  requireHashList(leafHashes, 'leafHashes');
  requireTreeSize(size1, 'size1');
  const n = leafHashes.length;
  if (size1 > n) throw new MerkleProofError(`size1 ${size1} is larger than the tree (${n})`);
  if (size1 === 0 || size1 === n) return [];
  // SUBPROOF(m, D[lo:hi], b), with m kept as the absolute boundary size1.
  const subproof = (lo: number, hi: number, b: boolean): Uint8Array[] => {
    if (size1 === hi) return b ? [] : [mth(leafHashes, lo, hi)];
    const k = splitPoint(hi - lo);
    return size1 <= lo + k
      ? [...subproof(lo, lo + k, b), mth(leafHashes, lo + k, hi)]
      : [...subproof(lo + k, hi, false), mth(leafHashes, lo, lo + k)];
  };
  return subproof(0, n, true);
}

// ---------------------------------------------------------------------------
// Proof lengths (what the verification loops below consume, computed without hashing)

/** The exact number of hashes in an inclusion proof for `index` in a tree of `size` (0 <= index < size). */
export function inclusionProofLength(index: number, size: number): number {
  requireTreeSize(index, 'leaf index');
  requireTreeSize(size, 'tree size');
  if (index >= size) throw new MerkleProofError(`leaf index ${index} is outside a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let length = 0;
  while (sn > 0) {
    if (!isOdd(fn) && fn === sn) {
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    length++;
    fn = half(fn);
    sn = half(sn);
  }
  return length;
}

/** The exact number of hashes in a consistency proof from `size1` to `size2` (0 <= size1 <= size2). */
export function consistencyProofLength(size1: number, size2: number): number {
  requireTreeSize(size1, 'size1');
  requireTreeSize(size2, 'size2');
  if (size1 > size2) throw new MerkleProofError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0 || size1 === size2) return 0;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let length = 1; // the first value: proof[0], or root1 prepended when size1 is a power of two
  while (sn > 0) {
    if (!isOdd(fn) && fn === sn) {
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    length++;
    fn = half(fn);
    sn = half(sn);
  }
  return isPowerOfTwo(size1) ? length - 1 : length;
}

// ---------------------------------------------------------------------------
// Verification (RFC 9162 2.1.3.2 and 2.1.4.2)

/**
 * RFC 9162 2.1.3.2: the root that an inclusion proof leads to. Throws
 * {@link MerkleProofError} if the index is outside the tree, a hash is not 32
 * bytes, or the proof has the wrong number of hashes. The caller compares the
 * result with the root it trusts.
 */
export function rootFromInclusionProof(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  requireHash(leaf, 'leaf hash');
  requireHashList(proof, 'inclusion proof');
  const expected = inclusionProofLength(leafIndex, treeSize);
  if (proof.length !== expected) {
    throw new MerkleProofError(
      `the inclusion proof has ${proof.length} hashes, but a proof for leaf ${leafIndex} in a tree of size ${treeSize} has exactly ${expected}`,
    );
  }
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new MerkleProofError('the inclusion proof is longer than the tree is high');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleProofError('the inclusion proof is shorter than the tree is high');
  return r;
}

/** RFC 9162 2.1.3.2: true iff `proof` proves leaf hash `leaf` at `leafIndex` in the tree of `treeSize` with `root`. */
export function verifyInclusionProof(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    requireHash(root, 'root');
    return bytesEqual(rootFromInclusionProof(leafIndex, treeSize, leaf, proof), root);
  } catch (error) {
    if (error instanceof MerkleProofError) return false;
    throw error;
  }
}

/**
 * RFC 9162 2.1.4.2 steps 2-6: the two roots (fr, sr) that a consistency proof
 * from a tree of `size1` with root `root1` leads to, for 0 < size1 <= size2.
 * The proof is consistent iff fr equals root1 and sr equals the trusted root2.
 * Throws {@link MerkleProofError} on malformed input or a wrong proof length.
 * (size1 = 0 is consistent with everything and has no roots to compute: see
 * {@link verifyConsistencyProof}.)
 */
export function rootsFromConsistencyProof(
  size1: number,
  size2: number,
  root1: Uint8Array,
  proof: readonly Uint8Array[],
): { root1: Uint8Array; root2: Uint8Array } {
  requireHash(root1, 'root1');
  requireHashList(proof, 'consistency proof');
  const expected = consistencyProofLength(size1, size2);
  if (size1 === 0) throw new MerkleProofError('a consistency proof from the empty tree has no roots to compute');
  if (proof.length !== expected) {
    throw new MerkleProofError(
      `the consistency proof has ${proof.length} hashes, but a proof from size ${size1} to size ${size2} has exactly ${expected}`,
    );
  }
  if (size1 === size2) return { root1, root2: root1 };
  // Step 2: when size1 is a power of two its root is a node of the new tree and is not sent.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // Steps 3-4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) throw new MerkleProofError('the consistency proof is longer than the tree is high');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7 (the sn part; the caller compares the roots).
  if (sn !== 0) throw new MerkleProofError('the consistency proof is shorter than the tree is high');
  return { root1: fr, root2: sr };
}

/**
 * RFC 9162 2.1.4.2: true iff `proof` shows that the tree of `size2` with
 * `root2` extends the tree of `size1` with `root1`. Equal sizes need an empty
 * proof and equal roots; size1 = 0 needs an empty proof and root1 = MTH({}).
 */
export function verifyConsistencyProof(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    requireHash(root1, 'root1');
    requireHash(root2, 'root2');
    requireHashList(proof, 'consistency proof');
    requireTreeSize(size1, 'size1');
    requireTreeSize(size2, 'size2');
    if (size1 > size2) return false;
    if (size1 === 0) return proof.length === 0 && bytesEqual(root1, emptyRootHash());
    const roots = rootsFromConsistencyProof(size1, size2, root1, proof);
    return bytesEqual(roots.root1, root1) && bytesEqual(roots.root2, root2);
  } catch (error) {
    if (error instanceof MerkleProofError) return false;
    throw error;
  }
}
