/**
 * The node arithmetic of a persisted Poseidon Merkle tree: the same tree as PoseidonMerkleTree
 * in ../circuit-inputs.ts (node = Poseidon(left, right), empty leaf = 0, empty subtree of height
 * l+1 = Poseidon(z_l, z_l)), but worked on a few nodes at a time, so that a tree kept in a table
 * is never loaded whole. Plain module: no Nest, no database.
 *
 * A node is (level, index): level 0 holds the leaves, level `depth` the root (index 0). Only
 * nodes that differ from the empty subtree of their level are stored; a missing node is empty.
 */
import { loadPoseidon, TREE_DEPTH, type MerklePath, type PoseidonHasher } from '../circuit-inputs.js';

export interface NodeId {
  level: number;
  index: number;
}

export interface TreeNode extends NodeId {
  hash: bigint;
}

/** Hasher and empty-subtree roots of a tree of `depth` levels. */
export interface TreeMath {
  readonly depth: number;
  readonly hasher: PoseidonHasher;
  /** zeros[l] = root of an empty subtree of height l. */
  readonly zeros: readonly bigint[];
}

const cache = new Map<number, Promise<TreeMath>>();

/** The tree math of `depth` (default TREE_DEPTH, the circuits' 20), built once per process. */
export function treeMath(depth = TREE_DEPTH): Promise<TreeMath> {
  let math = cache.get(depth);
  if (!math) {
    math = loadPoseidon().then((hasher) => {
      const zeros = [0n];
      for (let l = 0; l < depth; l++) zeros.push(hasher.hash([zeros[l]!, zeros[l]!]));
      return { depth, hasher, zeros };
    });
    math.catch(() => cache.delete(depth));
    cache.set(depth, math);
  }
  return math;
}

/** The root of the empty tree. */
export function emptyRoot(math: TreeMath): bigint {
  return math.zeros[math.depth]!;
}

/** The nodes an authentication path of leaf `index` consists of: its sibling at each level, leaf level first. */
export function siblingIds(math: TreeMath, index: number): NodeId[] {
  const ids: NodeId[] = [];
  let i = index;
  for (let level = 0; level < math.depth; level++) {
    ids.push({ level, index: i ^ 1 });
    i = Math.floor(i / 2);
  }
  return ids;
}

/** The path of leaf `index`, given the stored siblings (a sibling missing from `stored` is empty). */
export function pathFrom(math: TreeMath, index: number, stored: ReadonlyMap<string, bigint>): MerklePath {
  const ids = siblingIds(math, index);
  return {
    pathElements: ids.map((id) => stored.get(nodeKey(id)) ?? math.zeros[id.level]!),
    pathIndices: ids.map((id) => (id.index % 2 === 0 ? 1 : 0)),
  };
}

/**
 * Sets leaf `index` to `leaf` and returns the depth + 1 nodes that change (the leaf, its
 * ancestors, the root last), hashed against the path's siblings. The caller stores them: a node
 * whose hash is its level's zero may be deleted rather than stored.
 */
export function updatePath(math: TreeMath, index: number, leaf: bigint, path: MerklePath): TreeNode[] {
  const nodes: TreeNode[] = [{ level: 0, index, hash: leaf }];
  let node = leaf;
  let i = index;
  for (let level = 0; level < math.depth; level++) {
    const sibling = path.pathElements[level]!;
    node = i % 2 === 1 ? math.hasher.hash([sibling, node]) : math.hasher.hash([node, sibling]);
    i = Math.floor(i / 2);
    nodes.push({ level: level + 1, index: i, hash: node });
  }
  return nodes;
}

/**
 * Every non-empty node of the tree whose leaves are `leaves` at indices 0..n-1, level by level
 * (each level halves, so fewer than 2n + depth nodes). The last node is always the root, even
 * when it is the empty tree's root.
 */
export function buildNodes(math: TreeMath, leaves: readonly bigint[]): TreeNode[] {
  if (leaves.length > 2 ** math.depth) throw new RangeError('more leaves than the tree holds');
  const nodes: TreeNode[] = [];
  let level: bigint[] = [...leaves];
  for (let l = 0; ; l++) {
    level.forEach((hash, index) => {
      if (hash !== math.zeros[l]) nodes.push({ level: l, index, hash });
    });
    if (l === math.depth) {
      if (level.length === 0) nodes.push({ level: l, index: 0, hash: math.zeros[l]! });
      else if (level[0] === math.zeros[l]) nodes.push({ level: l, index: 0, hash: level[0]! });
      return nodes;
    }
    const up: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) {
      up.push(math.hasher.hash([level[i]!, level[i + 1] ?? math.zeros[l]!]));
    }
    level = up;
  }
}

export const nodeKey = (id: NodeId): string => `${id.level}/${id.index}`;
