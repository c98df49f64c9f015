/**
 * Serving RFC 9162 proofs for a large log from stored subtree hashes.
 *
 * The scheme ("stored perfect subtrees", the compact ranges of Trillian and
 * transparency-dev/merkle):
 *
 *  - A node id (level, index) names the perfect subtree over leaves
 *    [index * 2^level, (index + 1) * 2^level). Level 0 nodes are the leaf hashes.
 *  - In an append-only tree such a node is complete once its last leaf is
 *    appended, and its hash never changes after that. So each one is written
 *    exactly once, by {@link MerkleAppender} at append time: n leaves make
 *    fewer than 2n stored nodes (n of them leaf hashes), 32 bytes each.
 *  - Every subtree the RFC algorithms need, MTH(D[a:b]), is either such a
 *    perfect node or a "ragged" right edge: the range [a, b) splits into at
 *    most log2(n) perfect nodes of decreasing size (the binary digits of b - a),
 *    and its hash is their right fold: H(p1, H(p2, ... H(pk-1, pk))).
 *  - An inclusion or consistency proof therefore names O(log n) perfect nodes
 *    (a proof path has at most one ragged sibling, on the right edge of the
 *    tree), which are fetched in ONE batched {@link NodeReader.getNodes} call
 *    and combined in memory. Nothing is rehashed beyond the few ragged folds.
 *  - The appender keeps only the right frontier: the perfect nodes that make up
 *    [0, size), one per set bit of size. It can be rebuilt from the store at
 *    any size with {@link MerkleAppender.fromReader}.
 *
 * A store implementing NodeReader needs one table keyed by (level, index)
 * holding 32-byte hashes; rows are insert-only. Its node at (level, index) must
 * never be overwritten with a different hash.
 */
import { bytesEqual } from './bytes.js';
import { MerkleProofError, MerkleStorageError } from './errors.js';
import { HASH_SIZE, emptyRootHash, inclusionProofLength, nodeHash, requireHash, requireTreeSize, splitPoint } from './merkle.js';

/** A perfect subtree: leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A perfect subtree and its hash, as written to the node store. */
export interface StoredNode extends NodeId {
  readonly hash: Uint8Array;
}

/**
 * Read access to stored perfect-subtree hashes. `getNodes` answers with one
 * 32-byte hash per requested id, in the order requested, and throws if any is
 * missing. It is batched so a database can answer a whole proof in one query.
 */
export interface NodeReader {
  getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]>;
}

/** A canonical string key for a node id ("level/index"), handy for maps and database keys. */
export function nodeKey(id: NodeId): string {
  return `${id.level}/${id.index}`;
}

/**
 * The perfect subtrees that exactly cover leaves [start, end), left to right:
 * at each step the largest aligned power-of-two block that fits.
 * For an RFC subtree [a, b) (a aligned to a power of two >= b - a) these come
 * out in decreasing size and MTH(D[a:b]) is their right fold.
 */
export function rangeNodeIds(start: number, end: number): NodeId[] {
  requireTreeSize(start, 'range start');
  requireTreeSize(end, 'range end');
  if (start > end) throw new MerkleProofError(`range start ${start} is after its end ${end}`);
  const ids: NodeId[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    let width = 1;
    while (at % (width * 2) === 0 && at + width * 2 <= end) {
      width *= 2;
      level++;
    }
    ids.push({ level, index: at / width });
    at += width;
  }
  return ids;
}

/** The right frontier of a tree of `size` leaves: the perfect subtrees covering [0, size). */
export function frontierNodeIds(size: number): NodeId[] {
  return rangeNodeIds(0, size);
}

/** H(p1, H(p2, ... H(pk-1, pk))): the hash of an RFC subtree from its perfect pieces, left to right. */
function foldRight(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

interface Range {
  readonly start: number;
  readonly end: number;
}

/** The subtrees of PATH(index, D[size]) (RFC 9162 2.1.3.1) as leaf ranges, bottom-up. */
function inclusionRanges(index: number, size: number): Range[] {
  const siblings: Range[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      siblings.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      siblings.push({ start: lo, end: lo + k });
      lo += k;
    }
  }
  return siblings.reverse();
}

/** The subtrees of PROOF(size1, D[size2]) (RFC 9162 2.1.4.1) as leaf ranges, bottom-up; 0 < size1 < size2. */
function consistencyRanges(size1: number, size2: number): Range[] {
  const out: Range[] = [];
  let lo = 0;
  let hi = size2;
  let b = true;
  while (size1 !== hi) {
    const k = splitPoint(hi - lo);
    if (size1 <= lo + k) {
      out.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      out.push({ start: lo, end: lo + k });
      lo += k;
      b = false;
    }
  }
  if (!b) out.push({ start: lo, end: hi });
  return out.reverse();
}

/** Fetches every perfect node the ranges need in one batch and returns each range's hash. */
async function hashRanges(reader: NodeReader, ranges: readonly Range[]): Promise<Uint8Array[]> {
  const pieces = ranges.map((r) => rangeNodeIds(r.start, r.end));
  const unique = new Map<string, NodeId>();
  for (const ids of pieces) for (const id of ids) unique.set(nodeKey(id), id);
  const wanted = [...unique.values()];
  const found = new Map<string, Uint8Array>();
  if (wanted.length > 0) {
    const hashes = await reader.getNodes(wanted);
    if (!Array.isArray(hashes) || hashes.length !== wanted.length) {
      throw new MerkleStorageError(
        `the node store returned ${Array.isArray(hashes) ? hashes.length : 'no list of'} hashes for ${wanted.length} requested nodes`,
      );
    }
    wanted.forEach((id, i) => {
      const hash = hashes[i];
      if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
        throw new MerkleStorageError(`the node store returned a malformed hash for node ${nodeKey(id)}`);
      }
      found.set(nodeKey(id), hash);
    });
  }
  return pieces.map((ids) => foldRight(ids.map((id) => found.get(nodeKey(id))!)));
}

/**
 * The RFC 9162 inclusion proof (PATH) for leaf `index` in the tree of `size`,
 * from O(log size) stored nodes fetched in one batch.
 */
export async function inclusionProof(reader: NodeReader, index: number, size: number): Promise<Uint8Array[]> {
  inclusionProofLength(index, size); // validates 0 <= index < size
  return hashRanges(reader, inclusionRanges(index, size));
}

/**
 * The RFC 9162 consistency proof (PROOF) from the tree of `size1` to the tree
 * of `size2`, from O(log size2) stored nodes fetched in one batch. Empty when
 * size1 is 0 or equal to size2.
 */
export async function consistencyProof(reader: NodeReader, size1: number, size2: number): Promise<Uint8Array[]> {
  requireTreeSize(size1, 'size1');
  requireTreeSize(size2, 'size2');
  if (size1 > size2) throw new MerkleProofError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  return hashRanges(reader, consistencyRanges(size1, size2));
}

/** MTH of the first `size` leaves, from the O(log size) frontier nodes. */
export async function rootAt(reader: NodeReader, size: number): Promise<Uint8Array> {
  requireTreeSize(size, 'tree size');
  if (size === 0) return emptyRootHash();
  const [root] = await hashRanges(reader, [{ start: 0, end: size }]);
  return root!;
}

/**
 * Appends leaf hashes to the tree, holding only its right frontier, and says
 * which perfect nodes each append completes so that the caller stores each
 * node exactly once. Mutable: use one instance per append transaction and
 * discard it if the transaction fails.
 */
export class MerkleAppender {
  #size: number;
  /** Hashes of frontierNodeIds(#size), left to right (levels strictly decreasing). */
  readonly #frontier: Uint8Array[];

  private constructor(size: number, frontier: Uint8Array[]) {
    this.#size = size;
    this.#frontier = frontier;
  }

  /** An appender for the empty tree. */
  static empty(): MerkleAppender {
    return new MerkleAppender(0, []);
  }

  /** An appender for a tree of `size` leaves whose frontier (frontierNodeIds(size)) has these hashes. */
  static fromFrontier(size: number, frontier: readonly Uint8Array[]): MerkleAppender {
    requireTreeSize(size, 'tree size');
    const ids = frontierNodeIds(size);
    if (!Array.isArray(frontier) || frontier.length !== ids.length) {
      const got = Array.isArray(frontier) ? `${frontier.length}` : 'no list';
      throw new MerkleProofError(`a tree of size ${size} has a frontier of ${ids.length} nodes, got ${got}`);
    }
    frontier.forEach((h, i) => requireHash(h, `frontier[${i}]`));
    return new MerkleAppender(size, frontier.map((h) => Uint8Array.from(h)));
  }

  /** Loads the frontier of a tree of `size` leaves from the store (one batch of at most 53 nodes). */
  static async fromReader(reader: NodeReader, size: number): Promise<MerkleAppender> {
    requireTreeSize(size, 'tree size');
    const ids = frontierNodeIds(size);
    const hashes = ids.length === 0 ? [] : await reader.getNodes(ids);
    if (!Array.isArray(hashes) || hashes.length !== ids.length) {
      throw new MerkleStorageError(`the node store returned a frontier of the wrong length for size ${size}`);
    }
    hashes.forEach((h, i) => {
      if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
        throw new MerkleStorageError(`the node store returned a malformed hash for node ${nodeKey(ids[i]!)}`);
      }
    });
    return new MerkleAppender(size, hashes.map((h) => Uint8Array.from(h)));
  }

  /** The number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** The frontier nodes (perfect subtrees covering [0, size)), left to right. */
  frontier(): StoredNode[] {
    return frontierNodeIds(this.#size).map((id, i) => ({ ...id, hash: Uint8Array.from(this.#frontier[i]!) }));
  }

  /** MTH of the tree so far. */
  root(): Uint8Array {
    return this.#frontier.length === 0 ? emptyRootHash() : foldRight(this.#frontier);
  }

  /**
   * Appends one leaf hash (leaf index = the size before the call) and returns
   * the nodes it completes: the leaf itself at level 0, then every parent that
   * became perfect, bottom-up.
   */
  append(leaf: Uint8Array): StoredNode[] {
    requireHash(leaf, 'leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new MerkleProofError('the tree is full');
    let hash: Uint8Array = Uint8Array.from(leaf);
    let level = 0;
    let index = this.#size;
    const completed: StoredNode[] = [{ level, index, hash }];
    // A right child completes its parent; its left sibling is the frontier's last node.
    while (index % 2 === 1) {
      hash = nodeHash(this.#frontier.pop()!, hash);
      level++;
      index = (index - 1) / 2;
      completed.push({ level, index, hash });
    }
    this.#frontier.push(hash);
    this.#size++;
    return completed;
  }

  /** Appends leaf hashes in order; returns all completed nodes, the new size and the new root. */
  appendAll(leaves: readonly Uint8Array[]): { nodes: StoredNode[]; size: number; root: Uint8Array } {
    leaves.forEach((h, i) => requireHash(h, `leaf hash ${i}`));
    const nodes: StoredNode[] = [];
    for (const leaf of leaves) nodes.push(...this.append(leaf));
    return { nodes, size: this.#size, root: this.root() };
  }
}

/**
 * An in-memory node store, for tests and tools. Writes are insert-only: a
 * second write of a node with a different hash throws, as the database's
 * should.
 */
export class MemoryNodeStore implements NodeReader {
  readonly #nodes = new Map<string, Uint8Array>();

  get size(): number {
    return this.#nodes.size;
  }

  put(nodes: readonly StoredNode[]): void {
    for (const node of nodes) {
      requireHash(node.hash, `node ${nodeKey(node)}`);
      const key = nodeKey(node);
      const existing = this.#nodes.get(key);
      if (existing && !bytesEqual(existing, node.hash)) {
        throw new MerkleStorageError(`node ${key} is already stored with a different hash`);
      }
      this.#nodes.set(key, Uint8Array.from(node.hash));
    }
  }

  async getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    return ids.map((id) => {
      const hash = this.#nodes.get(nodeKey(id));
      if (!hash) throw new MerkleStorageError(`node ${nodeKey(id)} is not stored`);
      return Uint8Array.from(hash);
    });
  }
}
