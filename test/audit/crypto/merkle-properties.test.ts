/**
 * Exhaustive cross-checks for small trees: the stored-subtree proofs
 * (MerkleAppender + NodeReader) must equal the recursive RFC 9162 reference
 * algorithms for every size 1..70, every leaf and every pair of sizes, must
 * verify, and must stop verifying after any tampering.
 */
import {
  consistencyProofFromLeafHashes,
  consistencyProofLength,
  inclusionProofFromLeafHashes,
  inclusionProofLength,
  leafHash,
  rootFromInclusionProof,
  rootFromLeafHashes,
  rootsFromConsistencyProof,
  verifyConsistencyProof,
  verifyInclusionProof,
} from '../../../src/audit/crypto/merkle.js';
import {
  MemoryNodeStore,
  MerkleAppender,
  type NodeId,
  type NodeReader,
  consistencyProof,
  frontierNodeIds,
  inclusionProof,
  nodeKey,
  rangeNodeIds,
  rootAt,
} from '../../../src/audit/crypto/merkle-storage.js';
import { MerkleProofError, MerkleStorageError } from '../../../src/audit/crypto/errors.js';

const MAX = 70;
const LEAVES = Array.from({ length: MAX }, (_, i) => leafHash(new TextEncoder().encode(`event ${i}`)));
const hex = (list: Uint8Array[]): string[] => list.map((b) => Buffer.from(b).toString('hex'));

/** A reader that records every batch it is asked for. */
class CountingReader implements NodeReader {
  readonly batches: NodeId[][] = [];
  constructor(private readonly inner: NodeReader) {}
  async getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    this.batches.push([...ids]);
    return this.inner.getNodes(ids);
  }
}

const store = new MemoryNodeStore();
const roots: Uint8Array[] = [];
const emitted: string[] = [];
{
  const appender = MerkleAppender.empty();
  roots.push(appender.root());
  for (const leaf of LEAVES) {
    const nodes = appender.append(leaf);
    emitted.push(...nodes.map(nodeKey));
    store.put(nodes);
    roots.push(appender.root());
  }
}

const flipBit = (proof: Uint8Array[], i: number, bit: number): Uint8Array[] =>
  proof.map((p, j) => {
    const copy = Uint8Array.from(p);
    if (j === i) copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  });

describe('stored-subtree Merkle proofs equal the RFC 9162 reference', () => {
  it('stores each perfect subtree exactly once (2n - popcount(n) nodes)', () => {
    const perfect = 2 * MAX - MAX.toString(2).replace(/0/g, '').length; // 70 + 35 + 17 + 8 + 4 + 2 + 1
    expect(new Set(emitted).size).toBe(emitted.length);
    expect(emitted.length).toBe(perfect);
    expect(store.size).toBe(perfect);
  });

  it('computes the same root as MTH for every size, from the appender and from the store', async () => {
    for (let n = 0; n <= MAX; n++) {
      const want = rootFromLeafHashes(LEAVES.slice(0, n));
      expect(roots[n]).toEqual(want);
      expect(await rootAt(store, n)).toEqual(want);
    }
  });

  it('resumes from a frontier loaded from the store at every size', async () => {
    for (let n = 0; n <= MAX; n++) {
      const resumed = await MerkleAppender.fromReader(store, n);
      expect(resumed.root()).toEqual(roots[n]);
      const again = MerkleAppender.fromFrontier(n, resumed.frontier().map((f) => f.hash));
      const nodes = again.appendAll(LEAVES.slice(n)).nodes;
      expect(again.root()).toEqual(roots[MAX]);
      // every node it emits is one the first pass stored, with the same hash
      expect(() => store.put(nodes)).not.toThrow();
      const firstNew = n < MAX ? emitted.indexOf(nodeKey({ level: 0, index: n })) : emitted.length;
      expect(nodes.map(nodeKey)).toEqual(emitted.slice(firstNew));
    }
  });

  it('proves inclusion of every leaf in every tree size like PATH, and the proofs verify', async () => {
    for (let n = 1; n <= MAX; n++) {
      for (let i = 0; i < n; i++) {
        const reader = new CountingReader(store);
        const got = await inclusionProof(reader, i, n);
        expect(hex(got)).toEqual(hex(inclusionProofFromLeafHashes(LEAVES.slice(0, n), i)));
        expect(got.length).toBe(inclusionProofLength(i, n));
        expect(reader.batches.length).toBe(got.length === 0 ? 0 : 1);
        expect(verifyInclusionProof(i, n, LEAVES[i]!, got, roots[n]!)).toBe(true);
      }
    }
  });

  it('proves consistency of every pair of sizes like PROOF, and the proofs verify', async () => {
    for (let n = 0; n <= MAX; n++) {
      for (let m = 0; m <= n; m++) {
        const reader = new CountingReader(store);
        const got = await consistencyProof(reader, m, n);
        expect(hex(got)).toEqual(hex(consistencyProofFromLeafHashes(LEAVES.slice(0, n), m)));
        expect(got.length).toBe(consistencyProofLength(m, n));
        expect(reader.batches.length).toBeLessThanOrEqual(1);
        expect(verifyConsistencyProof(m, n, roots[m]!, roots[n]!, got)).toBe(true);
      }
    }
  });
});

describe('tampered proofs are rejected', () => {
  it('rejects inclusion proofs with a flipped bit, another index, another size, or a wrong length', async () => {
    for (let n = 1; n <= MAX; n++) {
      for (let i = 0; i < n; i++) {
        const proof = await inclusionProof(store, i, n);
        const root = roots[n]!;
        const leaf = LEAVES[i]!;
        for (let j = 0; j < proof.length; j++) {
          const bit = (31 * n + 7 * i + j) % 256; // a different bit each time: any flipped bit must be caught
          expect(verifyInclusionProof(i, n, leaf, flipBit(proof, j, bit), root)).toBe(false);
        }
        const flippedLeaf = flipBit([leaf], 0, 3)[0]!;
        expect(verifyInclusionProof(i, n, flippedLeaf, proof, root)).toBe(false);
        for (const other of [i - 1, i + 1, n, n + 5]) {
          expect(verifyInclusionProof(other, n, leaf, proof, root)).toBe(false);
        }
        // the proof of leaf i in the tree of n does not prove it in a tree of another size
        for (const size of [n - 1, n + 1, 2 * n]) {
          if (size > i && size <= MAX) expect(verifyInclusionProof(i, size, leaf, proof, roots[size]!)).toBe(false);
        }
        expect(verifyInclusionProof(i, n, leaf, [...proof, proof[0] ?? root], root)).toBe(false);
        expect(verifyInclusionProof(i, n, leaf, [root, ...proof], root)).toBe(false);
        if (proof.length > 0) expect(verifyInclusionProof(i, n, leaf, proof.slice(1), root)).toBe(false);
        if (proof.length > 0) expect(verifyInclusionProof(i, n, leaf, proof.slice(0, -1), root)).toBe(false);
        if (n > 1) expect(verifyInclusionProof(i, n, leaf, proof, roots[n - 1]!)).toBe(false);
      }
    }
  });

  it('rejects consistency proofs with a flipped bit, other sizes, swapped roots or a wrong length', async () => {
    for (let n = 1; n <= MAX; n++) {
      for (let m = 1; m < n; m++) {
        const proof = await consistencyProof(store, m, n);
        const [r1, r2] = [roots[m]!, roots[n]!];
        for (let j = 0; j < proof.length; j++) {
          const bit = (31 * n + 7 * m + j) % 256;
          expect(verifyConsistencyProof(m, n, r1, r2, flipBit(proof, j, bit))).toBe(false);
        }
        expect(verifyConsistencyProof(m, n, r2, r1, proof)).toBe(false);
        expect(verifyConsistencyProof(n, m, r2, r1, proof)).toBe(false);
        for (const [a, b] of [
          [m - 1, n],
          [m + 1, n],
          [m, n - 1],
          [m, n + 1],
        ] as const) {
          if (a >= 1 && a <= b && b <= MAX && !(a === m && b === n)) {
            expect(verifyConsistencyProof(a, b, roots[a]!, roots[b]!, proof)).toBe(false);
          }
        }
        expect(verifyConsistencyProof(m, n, r1, r2, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistencyProof(m, n, r1, r2, proof.slice(1))).toBe(false);
        expect(verifyConsistencyProof(m, n, r1, r2, [...proof, r2])).toBe(false);
        expect(verifyConsistencyProof(m, n, r1, r2, [r1, ...proof])).toBe(false);
      }
    }
  });

  it('throws typed errors (never returns a root) for malformed verifier input', () => {
    const leaf = LEAVES[0]!;
    expect(() => rootsFromConsistencyProof(5, 3, roots[5]!, [])).toThrow(MerkleProofError);
    expect(() => rootsFromConsistencyProof(3, 5, roots[3]!, [new Uint8Array(31)])).toThrow(MerkleProofError);
    expect(() => rootsFromConsistencyProof(0, 5, roots[0]!, [])).toThrow(MerkleProofError);
    expect(() => rootsFromConsistencyProof(1.5, 5, roots[3]!, [])).toThrow(MerkleProofError);
    for (const [i, n] of [
      [-1, 5],
      [5, 5],
      [0, 0],
      [0.5, 3],
      [0, Number.MAX_SAFE_INTEGER + 1],
      [Number.NaN, 3],
    ] as const) {
      expect(verifyInclusionProof(i, n, leaf, [], roots[1]!)).toBe(false);
    }
    const path = inclusionProofFromLeafHashes(LEAVES.slice(0, 5), 1);
    expect(rootFromInclusionProof(1, 5, LEAVES[1]!, path)).toEqual(roots[5]);
    expect(() => rootFromInclusionProof(1, 5, LEAVES[1]!, path.slice(0, -1))).toThrow(/has 2 hashes, but a proof for leaf 1 in a tree of size 5 has exactly 3/);
    expect(() => rootFromInclusionProof(1, 5, LEAVES[1]!, [...path, path[0]!])).toThrow(MerkleProofError);
    expect(() => rootFromInclusionProof(5, 5, LEAVES[1]!, path)).toThrow(/outside a tree of size 5/);
    const cons = consistencyProofFromLeafHashes(LEAVES.slice(0, 7), 3);
    expect(rootsFromConsistencyProof(3, 7, roots[3]!, cons)).toEqual({ root1: roots[3], root2: roots[7] });
    expect(() => rootsFromConsistencyProof(3, 7, roots[3]!, cons.slice(1))).toThrow(MerkleProofError);
    expect(() => rootsFromConsistencyProof(3, 7, roots[3]!, [...cons, roots[7]!])).toThrow(MerkleProofError);
    expect(verifyInclusionProof(0, 2, leaf, [new Uint8Array(33)], roots[2]!)).toBe(false);
    expect(verifyInclusionProof(0, 2, leaf, 'nope' as unknown as Uint8Array[], roots[2]!)).toBe(false);
  });
});

describe('the node store interface', () => {
  it('decomposes ranges into aligned perfect subtrees', () => {
    expect(rangeNodeIds(0, 7)).toEqual([
      { level: 2, index: 0 },
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    expect(rangeNodeIds(4, 7)).toEqual([
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    expect(rangeNodeIds(3, 9)).toEqual([
      { level: 0, index: 3 },
      { level: 2, index: 1 },
      { level: 0, index: 8 },
    ]);
    expect(frontierNodeIds(0)).toEqual([]);
  });

  it('asks for O(log n) complete nodes in one batch, even for huge trees', async () => {
    // Any hash will do: this reader only checks which nodes are requested.
    const requested: NodeId[][] = [];
    let size = 0;
    const reader: NodeReader = {
      async getNodes(ids) {
        requested.push([...ids]);
        for (const { level, index } of ids) {
          // only complete perfect subtrees of the tree of `size` may be asked for
          expect((index + 1) * 2 ** level).toBeLessThanOrEqual(size);
        }
        return ids.map(() => new Uint8Array(32).fill(7));
      },
    };
    const sizes = [1_000_000, 1_048_576, 1_048_577, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    for (size of sizes) {
      const log2 = Math.ceil(Math.log2(size));
      for (const index of [0, 1, Math.floor(size / 3), size - 2, size - 1]) {
        requested.length = 0;
        const proof = await inclusionProof(reader, index, size);
        expect(proof.length).toBe(inclusionProofLength(index, size));
        expect(requested.length).toBe(1);
        expect(requested[0]!.length).toBeLessThanOrEqual(2 * log2);
      }
      for (const old of [1, 2, 3, Math.floor(size / 2) + 1, size - 1]) {
        requested.length = 0;
        const proof = await consistencyProof(reader, old, size);
        expect(proof.length).toBe(consistencyProofLength(old, size));
        expect(requested.length).toBe(1);
        expect(requested[0]!.length).toBeLessThanOrEqual(2 * log2 + 1);
      }
      requested.length = 0;
      await rootAt(reader, size);
      expect(requested[0]!.length).toBeLessThanOrEqual(log2);
    }
  });

  it('serves verifying proofs from a tree of 70,000 leaves', async () => {
    const n = 70_000;
    const big = new MemoryNodeStore();
    const appender = MerkleAppender.empty();
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const leaf = leafHash(new TextEncoder().encode(`big ${i}`));
      leaves.push(leaf);
      big.put(appender.append(leaf));
    }
    const root = appender.root();
    expect(await rootAt(big, n)).toEqual(root);
    for (const i of [0, 1, 4095, 4096, 65535, 65536, 69_998, 69_999]) {
      expect(verifyInclusionProof(i, n, leaves[i]!, await inclusionProof(big, i, n), root)).toBe(true);
    }
    for (const m of [1, 4096, 65536, 65537, 69_999]) {
      expect(verifyConsistencyProof(m, n, await rootAt(big, m), root, await consistencyProof(big, m, n))).toBe(true);
    }
  });

  it('reports a missing or conflicting node as a storage error', async () => {
    const partial = new MemoryNodeStore();
    partial.put([{ level: 0, index: 0, hash: LEAVES[0]! }]);
    await expect(inclusionProof(partial, 0, 2)).rejects.toThrow(MerkleStorageError);
    expect(() => partial.put([{ level: 0, index: 0, hash: LEAVES[1]! }])).toThrow(MerkleStorageError);
    const liar: NodeReader = { getNodes: async () => [] };
    await expect(rootAt(liar, 3)).rejects.toThrow(MerkleStorageError);
    await expect(MerkleAppender.fromReader(liar, 3)).rejects.toThrow(MerkleStorageError);
  });

  it('rejects requests outside the tree with a typed error', async () => {
    await expect(inclusionProof(store, 5, 5)).rejects.toThrow(MerkleProofError);
    await expect(consistencyProof(store, 6, 5)).rejects.toThrow(MerkleProofError);
    await expect(rootAt(store, -1)).rejects.toThrow(MerkleProofError);
    expect(() => MerkleAppender.fromFrontier(3, [LEAVES[0]!])).toThrow(MerkleProofError);
    expect(() => MerkleAppender.empty().append(new Uint8Array(31))).toThrow(MerkleProofError);
  });
});
