/**
 * The persisted tree's node arithmetic (src/zk/registry/tree-nodes.ts) against the reference
 * PoseidonMerkleTree of src/zk/circuit-inputs.ts: path updates, bulk builds and paths agree node
 * for node, including revocations (leaf back to 0) and the empty tree.
 */
import { PoseidonMerkleTree } from '../../../src/zk/circuit-inputs.js';
import { buildNodes, emptyRoot, nodeKey, pathFrom, siblingIds, treeMath, updatePath } from '../../../src/zk/registry/tree-nodes.js';
import { referenceNodes } from './support.js';

describe('tree nodes', () => {
  it('updatePath on a sparse node map tracks the reference tree through inserts and revocations', async () => {
    const math = await treeMath();
    const ref = await PoseidonMerkleTree.create();
    const stored = new Map<string, bigint>();
    const apply = (index: number, leaf: bigint) => {
      const path = pathFrom(math, index, stored);
      expect(path).toEqual(ref.path(index));
      const nodes = updatePath(math, index, leaf, path);
      for (const n of nodes) {
        if (n.hash === math.zeros[n.level]) stored.delete(nodeKey(n));
        else stored.set(nodeKey(n), n.hash);
      }
      ref.update(index, leaf);
      expect(nodes[nodes.length - 1]!.hash).toBe(ref.root);
    };
    expect(emptyRoot(math)).toBe(ref.root);
    for (let i = 0; i < 9; i++) apply(i, BigInt(1000 + i));
    apply(3, 0n);
    apply(8, 0n);
    apply(9, 77n);
    expect(stored).toEqual(referenceNodes(ref, 10));
    for (const i of [0, 5, 9]) {
      expect(ref.verify(ref.leaf(i), pathFrom(math, i, stored))).toBe(true);
    }
    expect(siblingIds(math, 5).map((id) => id.index).slice(0, 3)).toEqual([4, 3, 0]);
  });

  it('buildNodes gives exactly the non-empty nodes of the reference tree, root last', async () => {
    const math = await treeMath();
    for (const n of [1, 2, 7, 33]) {
      const leaves = Array.from({ length: n }, (_, i) => BigInt(i * 7 + 1));
      const ref = await PoseidonMerkleTree.create();
      leaves.forEach((l) => ref.insert(l));
      const nodes = buildNodes(math, leaves);
      expect(nodes[nodes.length - 1]).toEqual({ level: 20, index: 0, hash: ref.root });
      expect(new Map(nodes.map((x) => [nodeKey(x), x.hash]))).toEqual(referenceNodes(ref, n));
    }
    const empty = buildNodes(math, []);
    expect(empty).toEqual([{ level: 20, index: 0, hash: emptyRoot(math) }]);
  });
});
