/**
 * Known-answer tests for the RFC 9162 (= RFC 6962) Merkle tree.
 *
 * Vectors: the 8-leaf tree used by the Certificate Transparency
 * implementations, as published in github.com/transparency-dev/merkle:
 *   testonly/constants.go      (LeafInputs, NodeHashes, RootHashes, CompactTrees)
 *   testonly/reference_test.go (TestRefInclusionProof, TestRefConsistencyProof)
 *   proof/verify_test.go       (inclusionProofs, consistencyProofs, corruption probes)
 * (the same values appear in certificate-transparency-go and the C++ CT code).
 * Their inclusion vectors list leaves 1-based; below they are 0-based.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import {
  consistencyProofFromLeafHashes,
  emptyRootHash,
  inclusionProofFromLeafHashes,
  leafHash,
  rootFromLeafHashes,
  verifyConsistencyProof,
  verifyInclusionProof,
} from '../../../src/audit/crypto/merkle.js';
import { MemoryNodeStore, MerkleAppender, consistencyProof, inclusionProof, rootAt } from '../../../src/audit/crypto/merkle-storage.js';

const h = (hex: string): Uint8Array => hexToBytes(hex);
const hexOf = (list: Uint8Array[]): string[] => list.map((b) => Buffer.from(b).toString('hex'));

const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h);

/** RootHashes()[1..8]: MTH of the first n leaves. */
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** NodeHashes(): [level][index]. */
const NODES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  ['d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];

/** CompactTrees(): the frontier of each tree size, as [level, index] into NODES. */
const FRONTIERS: [number, number][][] = [
  [],
  [[0, 0]],
  [[1, 0]],
  [[1, 0], [0, 2]],
  [[2, 0]],
  [[2, 0], [0, 4]],
  [[2, 0], [1, 2]],
  [[2, 0], [1, 2], [0, 6]],
  [[3, 0]],
];

const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const CONSISTENCY: { size1: number; size2: number; proof: string[] }[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const LEAVES = LEAF_INPUTS.map(leafHash);
const SOME_HASH = h('abacaba000000000000000000000000000000000000000000060061e00123456');
const EMPTY = h('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

function buildStore(): MemoryNodeStore {
  const store = new MemoryNodeStore();
  const appender = MerkleAppender.empty();
  for (const leaf of LEAVES) store.put(appender.append(leaf));
  return store;
}

describe('RFC 9162 Merkle tree: CT known answers', () => {
  it('hashes the empty tree to SHA-256("")', () => {
    expect(emptyRootHash()).toEqual(EMPTY);
    expect(rootFromLeafHashes([])).toEqual(EMPTY);
  });

  it('hashes the leaves to NodeHashes level 0', () => {
    expect(hexOf(LEAVES)).toEqual(NODES[0]);
  });

  it('computes the roots of sizes 1..8 by the reference algorithm, the appender and rootAt', async () => {
    const store = buildStore();
    const appender = MerkleAppender.empty();
    for (let n = 1; n <= 8; n++) {
      appender.append(LEAVES[n - 1]!);
      expect(hexOf([rootFromLeafHashes(LEAVES.slice(0, n))])).toEqual([ROOTS[n - 1]]);
      expect(hexOf([appender.root()])).toEqual([ROOTS[n - 1]]);
      expect(hexOf([await rootAt(store, n)])).toEqual([ROOTS[n - 1]]);
    }
  });

  it('stores every perfect subtree with the published NodeHashes', async () => {
    const store = buildStore();
    for (let level = 0; level < NODES.length; level++) {
      const ids = NODES[level]!.map((_, index) => ({ level, index }));
      expect(hexOf(await store.getNodes(ids))).toEqual(NODES[level]);
    }
    expect(store.size).toBe(15);
  });

  it('keeps the published compact-tree frontier for each size', () => {
    const appender = MerkleAppender.empty();
    for (let n = 0; n <= 8; n++) {
      const frontier = appender.frontier();
      expect(frontier.map((f) => [f.level, f.index])).toEqual(FRONTIERS[n]);
      expect(hexOf(frontier.map((f) => f.hash))).toEqual(FRONTIERS[n]!.map(([l, i]) => NODES[l]![i]));
      if (n < 8) appender.append(LEAVES[n]!);
    }
  });

  describe.each(INCLUSION)('inclusion proof for leaf $index in a tree of $size', ({ index, size, proof }) => {
    const want = proof.map(h);
    const root = h(ROOTS[size - 1]!);
    const leaf = LEAVES[index]!;

    it('is generated by PATH and by the node store', async () => {
      expect(hexOf(inclusionProofFromLeafHashes(LEAVES.slice(0, size), index))).toEqual(proof);
      expect(hexOf(await inclusionProof(buildStore(), index, size))).toEqual(proof);
    });

    it('verifies', () => {
      expect(verifyInclusionProof(index, size, leaf, want, root)).toBe(true);
    });

    it('is rejected after each corruption of verify_test.go', () => {
      const probes: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
        [index - 1, size, leaf, want, root],
        [index + 1, size, leaf, want, root],
        [index ^ 2, size, leaf, want, root],
        [index, size * 2, leaf, want, root],
        [index, Math.floor(size / 2), leaf, want, root],
        [index, size, new TextEncoder().encode('WrongLeaf'), want, root],
        [index, size, leaf, want, EMPTY],
        [index, size, leaf, want, SOME_HASH],
        [index, size, leaf, [...want, new Uint8Array(0)], root],
        [index, size, leaf, [...want, root], root],
        [index, size, leaf, [new Uint8Array(0), ...want], root],
        [index, size, leaf, [root, ...want], root],
      ];
      want.forEach((_, i) => {
        const flipped = want.map((p) => Uint8Array.from(p));
        flipped[i]![0]! ^= 8;
        probes.push([index, size, leaf, flipped, root]);
      });
      if (want.length > 0) probes.push([index, size, leaf, want.slice(0, -1), root]);
      if (want.length > 1) probes.push([index, size, leaf, [want[0]!, SOME_HASH, ...want.slice(1)], root]);
      for (const [i, n, l, p, r] of probes) {
        expect(verifyInclusionProof(i, n, l, p, r)).toBe(false);
      }
    });
  });

  describe.each(CONSISTENCY)('consistency proof from $size1 to $size2', ({ size1, size2, proof }) => {
    const want = proof.map(h);
    const root1 = h(ROOTS[size1 - 1]!);
    const root2 = h(ROOTS[size2 - 1]!);

    it('is generated by PROOF and by the node store', async () => {
      expect(hexOf(consistencyProofFromLeafHashes(LEAVES.slice(0, size2), size1))).toEqual(proof);
      expect(hexOf(await consistencyProof(buildStore(), size1, size2))).toEqual(proof);
    });

    it('verifies', () => {
      expect(verifyConsistencyProof(size1, size2, root1, root2, want)).toBe(true);
    });

    it('is rejected after each corruption of verify_test.go', () => {
      if (want.length === 0) return; // as upstream: only non-trivial proofs are corrupted
      const wrongRoot = new TextEncoder().encode('WrongRoot');
      const probes: [number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
        [size1 - 1, size2, root1, root2, want],
        [size1 + 1, size2, root1, root2, want],
        [size1 ^ 2, size2, root1, root2, want],
        [size1, size2 * 2, root1, root2, want],
        [size1, Math.floor(size2 / 2), root1, root2, want],
        [size1, size2, wrongRoot, root2, want],
        [size1, size2, root1, wrongRoot, want],
        [size1, size2, root2, root1, want],
        [size1, size2, root1, root2, []],
        [size1, size2, root1, root2, [...want, new Uint8Array(0)]],
        [size1, size2, root1, root2, [...want, root1]],
        [size1, size2, root1, root2, [...want, root2]],
        [size1, size2, root1, root2, [new Uint8Array(0), ...want]],
        [size1, size2, root1, root2, [root1, ...want]],
        [size1, size2, root1, root2, [root2, ...want]],
        [size1, size2, root1, root2, [want[0]!, ...want]],
        [size1, size2, root1, root2, want.slice(0, -1)],
      ];
      want.forEach((_, i) => {
        const flipped = want.map((p) => Uint8Array.from(p));
        flipped[i]![0]! ^= 16;
        probes.push([size1, size2, root1, root2, flipped]);
      });
      for (const [s1, s2, r1, r2, p] of probes) {
        expect(verifyConsistencyProof(s1, s2, r1, r2, p)).toBe(false);
      }
    });
  });

  it('handles the trivial consistency cases of verify_test.go (with a strict empty-tree root)', () => {
    const root1 = leafHash(new TextEncoder().encode("don't care 1"));
    const root2 = leafHash(new TextEncoder().encode("don't care 2"));
    // equal sizes need equal roots and an empty proof
    expect(verifyConsistencyProof(1, 1, root2, root2, [])).toBe(true);
    expect(verifyConsistencyProof(1, 1, root1, root2, [])).toBe(false);
    expect(verifyConsistencyProof(1, 1, EMPTY, EMPTY, [EMPTY])).toBe(false);
    // the empty tree is a prefix of every tree, but its root must be MTH({})
    expect(verifyConsistencyProof(0, 0, EMPTY, EMPTY, [])).toBe(true);
    expect(verifyConsistencyProof(0, 1, EMPTY, root2, [])).toBe(true);
    expect(verifyConsistencyProof(0, 1, root1, root2, [])).toBe(false);
    expect(verifyConsistencyProof(0, 1, EMPTY, EMPTY, [EMPTY])).toBe(false);
    // time travel and empty proofs
    expect(verifyConsistencyProof(1, 0, root1, root2, [])).toBe(false);
    expect(verifyConsistencyProof(2, 1, root1, root2, [])).toBe(false);
    expect(verifyConsistencyProof(1, 2, root1, root2, [])).toBe(false);
  });

  it('rejects the malformed inclusion probes of verify_test.go', () => {
    for (const [index, size] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [2, 1],
    ] as const) {
      expect(verifyInclusionProof(index, size, SOME_HASH, [], new Uint8Array(0))).toBe(false);
      expect(verifyInclusionProof(index, size, new Uint8Array(0), [], EMPTY)).toBe(false);
      expect(verifyInclusionProof(index, size, SOME_HASH, [], EMPTY)).toBe(false);
    }
    const single = leafHash(new TextEncoder().encode('data'));
    expect(verifyInclusionProof(0, 1, single, [], single)).toBe(true);
    expect(verifyInclusionProof(0, 1, single, [], new Uint8Array(0))).toBe(false);
    expect(verifyInclusionProof(0, 1, new Uint8Array(0), [], single)).toBe(false);
  });
});
