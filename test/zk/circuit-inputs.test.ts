/**
 * src/zk/circuit-inputs.ts: Poseidon helpers against circomlib's published test vectors,
 * the sparse Merkle tree against a naive full recomputation, and the input builders and
 * public-signal parsers of the balance and eligibility circuits.
 */
import {
  BALANCE_SIGNAL_NAMES,
  CircuitInputError,
  DENYLIST_SIZE,
  ELIGIBILITY_SIGNAL_COUNT,
  FIELD_MODULUS,
  MAX_UINT64,
  PoseidonMerkleTree,
  TREE_DEPTH,
  balanceInput,
  balanceLeaf,
  balanceStatementErrors,
  commitment,
  computeMerkleRoot,
  eligibilityInput,
  eligibilityStatementErrors,
  formatBalanceSignals,
  formatEligibilitySignals,
  identityLeaf,
  isYyyymmdd,
  loadPoseidon,
  nullifier,
  parseBalanceSignals,
  parseEligibilitySignals,
  poseidon,
  toField,
  yyyymmdd,
  type PoseidonHasher,
} from '../../src/zk/circuit-inputs.js';

const P = FIELD_MODULUS;

describe('field elements', () => {
  it('FIELD_MODULUS is the BN254 scalar field order', () => {
    expect(P).toBe(0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001n);
  });

  it('toField accepts canonical elements as bigint, safe integer, decimal and 0x-hex', () => {
    expect(toField(0n)).toBe(0n);
    expect(toField(P - 1n)).toBe(P - 1n);
    expect(toField(42)).toBe(42n);
    expect(toField('12345')).toBe(12345n);
    expect(toField((P - 1n).toString())).toBe(P - 1n);
    expect(toField('0xff')).toBe(255n);
  });

  it('toField rejects the modulus and above, negatives, unsafe numbers and odd strings', () => {
    expect(() => toField(P, 'x')).toThrow(new CircuitInputError('x', 'not a canonical field element (>= field modulus)'));
    expect(() => toField(P.toString())).toThrow(CircuitInputError);
    expect(() => toField('0x' + P.toString(16))).toThrow(CircuitInputError);
    expect(() => toField('9'.repeat(100))).toThrow(CircuitInputError);
    expect(() => toField(-1n)).toThrow(/negative/);
    expect(() => toField(-1)).toThrow(/negative/);
    expect(() => toField(2 ** 53)).toThrow(/safe integer/);
    expect(() => toField(1.5)).toThrow(/safe integer/);
    for (const s of ['', '-1', '01', ' 1', '1e3', '0x', 'abc']) expect(() => toField(s)).toThrow(CircuitInputError);
  });
});

describe('Poseidon', () => {
  it("matches circomlib's test vectors (t = 3 and t = 6)", async () => {
    // circomlib test/poseidoncircuit.js
    expect(await poseidon([1, 2])).toBe(0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189an);
    expect(await poseidon([3, 4])).toBe(14763215145315200506921711489642608356394854266165572616578112107564877678998n);
    expect(await poseidon([1, 2, 0, 0, 0])).toBe(
      1018317224307729531995786483840663576608797660851238720571059489595066344487n,
    );
    expect(await poseidon([3, 4, 5, 10, 23])).toBe(
      13034429309846638789535561449942021891039729847501137143363028890275222221409n,
    );
  });

  it('commitment, leaves and nullifier are Poseidon of their inputs in the circuit order', async () => {
    expect(await commitment(7n)).toBe(await poseidon([7n]));
    expect(await balanceLeaf(1n, 2n, 3n)).toBe(await poseidon([1n, 2n, 3n]));
    expect(await identityLeaf(1n, 20000101n, 250n)).toBe(await poseidon([1n, 20000101n, 250n]));
    expect(await nullifier(5n, 9n)).toBe(await poseidon([5n, 9n]));
    expect(await nullifier(5n, 9n)).not.toBe(await nullifier(9n, 5n));
  });

  it('is built once and rejects non-canonical inputs instead of reducing them', async () => {
    const h = await loadPoseidon();
    expect(await loadPoseidon()).toBe(h);
    expect(() => h.hash([P])).toThrow(RangeError);
    expect(() => h.hash([])).toThrow(RangeError);
    await expect(poseidon([P])).rejects.toThrow(CircuitInputError);
  });
});

/** Root of a full tree of `leaves` (length 2^depth), hashing every node. */
function naiveRoot(h: PoseidonHasher, leaves: bigint[]): bigint {
  let level = leaves;
  while (level.length > 1) {
    const next: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(h.hash([level[i]!, level[i + 1]!]));
    level = next;
  }
  return level[0]!;
}

describe('PoseidonMerkleTree', () => {
  let h: PoseidonHasher;

  beforeAll(async () => {
    h = await loadPoseidon();
  });

  it('empty subtrees are Poseidon(z, z) bottom-up from 0', async () => {
    const tree = await PoseidonMerkleTree.create(TREE_DEPTH);
    expect(tree.zero(0)).toBe(0n);
    expect(tree.zero(1)).toBe(h.hash([0n, 0n]));
    expect(tree.zero(2)).toBe(h.hash([tree.zero(1), tree.zero(1)]));
    expect(tree.root).toBe(tree.zero(TREE_DEPTH));
    expect(tree.capacity).toBe(2 ** 20);
  });

  it('a depth-4 tree has the root of a naive full recomputation after every change', async () => {
    const tree = await PoseidonMerkleTree.create(4);
    const leaves = Array<bigint>(16).fill(0n);
    const changes: [number, bigint][] = [
      [0, 11n],
      [1, 12n],
      [5, 13n],
      [15, 14n],
      [8, P - 1n],
      [1, 0n], // emptied
      [5, 99n], // overwritten
    ];
    for (const [index, leaf] of changes) {
      tree.update(index, leaf);
      leaves[index] = leaf;
      expect(tree.root).toBe(naiveRoot(h, leaves));
    }
    for (let i = 0; i < 16; i++) {
      const path = tree.path(i);
      expect(tree.leaf(i)).toBe(leaves[i]);
      expect(computeMerkleRoot(h, leaves[i]!, path)).toBe(tree.root);
      expect(tree.verify(leaves[i]!, path)).toBe(true);
      expect(tree.verify((leaves[i]! + 1n) % P, path)).toBe(false);
      // pathIndices are the bits of the index, least significant first.
      expect(path.pathIndices).toEqual([0, 1, 2, 3].map((b) => (i >> b) & 1));
    }
  });

  it('a depth-20 tree equals the naive root of its first 16 leaves hashed up with empty subtrees', async () => {
    const tree = await PoseidonMerkleTree.create();
    const leaves = Array<bigint>(16).fill(0n);
    for (let i = 0; i < 6; i++) leaves[tree.insert(1000n + BigInt(i))] = 1000n + BigInt(i);
    expect(tree.nextIndex).toBe(6);
    let root = naiveRoot(h, leaves);
    for (let level = 4; level < TREE_DEPTH; level++) root = h.hash([root, tree.zero(level)]);
    expect(tree.root).toBe(root);
    const path = tree.path(3);
    expect(path.pathElements).toHaveLength(TREE_DEPTH);
    expect(path.pathElements.slice(4)).toEqual(Array.from({ length: 16 }, (_, l) => tree.zero(l + 4)));
    expect(tree.verify(1003n, path)).toBe(true);
  });

  it('handles the last index of a depth-20 tree', async () => {
    const tree = await PoseidonMerkleTree.create();
    const last = 2 ** 20 - 1;
    tree.update(last, 5n);
    expect(tree.nextIndex).toBe(2 ** 20);
    const path = tree.path(last);
    expect(path.pathIndices).toEqual(Array(20).fill(1));
    let root = 5n;
    for (let level = 0; level < TREE_DEPTH; level++) root = h.hash([tree.zero(level), root]);
    expect(tree.root).toBe(root);
    expect(() => tree.insert(6n)).toThrow(/full/);
  });

  it('revocation (leaf set to 0) changes the root and the old path no longer verifies against it', async () => {
    const tree = await PoseidonMerkleTree.create();
    tree.insert(1n);
    const rootWithOne = tree.root;
    tree.insert(2n);
    const rootWithBoth = tree.root;
    const path = tree.path(1);
    tree.update(1, 0n);
    expect(tree.root).not.toBe(rootWithBoth);
    expect(tree.root).toBe(rootWithOne); // the sparse tree forgets the emptied nodes
    expect(tree.verify(2n, path, rootWithBoth)).toBe(true);
    expect(tree.verify(2n, path)).toBe(false);
    tree.update(0, 0n);
    expect(tree.root).toBe(tree.zero(TREE_DEPTH));
    expect(tree.nextIndex).toBe(2); // indices are never reused by insert
  });

  it('rejects bad indices, leaves and depths', async () => {
    const tree = await PoseidonMerkleTree.create(3);
    expect(() => tree.update(8, 1n)).toThrow(RangeError);
    expect(() => tree.update(-1, 1n)).toThrow(RangeError);
    expect(() => tree.path(1.5)).toThrow(RangeError);
    expect(() => tree.update(0, P)).toThrow(CircuitInputError);
    await expect(PoseidonMerkleTree.create(0)).rejects.toThrow(RangeError);
    await expect(PoseidonMerkleTree.create(33)).rejects.toThrow(RangeError);
  });
});

describe('dates', () => {
  it('checks and formats YYYYMMDD integers', () => {
    expect(isYyyymmdd(20000229)).toBe(true);
    expect(isYyyymmdd(19000229)).toBe(false);
    expect(isYyyymmdd(20240431)).toBe(false);
    expect(isYyyymmdd(20241301)).toBe(false);
    expect(isYyyymmdd(20240100)).toBe(false);
    expect(isYyyymmdd(99991231n)).toBe(true);
    expect(yyyymmdd(new Date('2026-03-05T23:59:59Z'))).toBe(20260305);
  });
});

describe('balance inputs and public signals', () => {
  const SECRET = 0x5ec2e7n;
  let tree: PoseidonMerkleTree;
  let witness: Parameters<typeof balanceInput>[0];

  beforeAll(async () => {
    tree = await PoseidonMerkleTree.create();
    tree.insert(77n);
    const index = tree.insert(await balanceLeaf(await commitment(SECRET), 1000n, 42n));
    witness = { accountSecret: SECRET, balance: 1000n, salt: 42n, ...tree.path(index), root: tree.root, threshold: 500n, challenge: 9n };
  });

  it('builds the snarkjs input with decimal strings', () => {
    const input = balanceInput(witness);
    expect(Object.keys(input).sort()).toEqual(
      ['accountSecret', 'balance', 'challenge', 'pathElements', 'pathIndices', 'root', 'salt', 'threshold'],
    );
    expect(input.accountSecret).toBe(SECRET.toString());
    expect(input.pathElements).toHaveLength(20);
    expect(input.pathElements[0]).toBe('77');
    expect(input.pathIndices).toEqual(['1', ...Array(19).fill('0')]);
    expect(input.root).toBe(tree.root.toString());
  });

  it('rejects a malformed input and never quotes the value', () => {
    const badSecret = (P + 123n).toString();
    let error: unknown;
    try {
      balanceInput({ ...witness, accountSecret: badSecret });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CircuitInputError);
    expect((error as CircuitInputError).field).toBe('accountSecret');
    expect((error as Error).message).not.toContain(badSecret);
    expect(() => balanceInput({ ...witness, pathElements: witness.pathElements.slice(1) })).toThrow(/pathElements: expected 20/);
    expect(() => balanceInput({ ...witness, pathIndices: [2, ...witness.pathIndices.slice(1)] })).toThrow(/pathIndices\[0\]: must be 0 or 1/);
  });

  it('statement errors name each condition the circuit would reject', async () => {
    expect(await balanceStatementErrors(witness)).toEqual([]);
    expect(await balanceStatementErrors({ ...witness, threshold: 1000n })).toEqual([]);
    expect(await balanceStatementErrors({ ...witness, threshold: 1001n })).toEqual(['balance is below threshold']);
    expect(await balanceStatementErrors({ ...witness, threshold: MAX_UINT64 + 1n })).toEqual([
      'threshold is not a 64-bit unsigned integer',
    ]);
    expect(await balanceStatementErrors({ ...witness, root: 1n })).toEqual(['account leaf is not in the tree with this root']);
    expect(await balanceStatementErrors({ ...witness, accountSecret: 1n })).toEqual(['account leaf is not in the tree with this root']);
  });

  it('parses [root, threshold, challenge] and formats it back', () => {
    const signals = ['123', '500', (P - 1n).toString()];
    const parsed = parseBalanceSignals(signals);
    expect(parsed).toEqual({ root: 123n, threshold: 500n, challenge: P - 1n });
    expect(Object.keys(parsed)).toEqual([...BALANCE_SIGNAL_NAMES]);
    expect(formatBalanceSignals(parsed)).toEqual(signals);
  });

  it('rejects signal arrays of the wrong length or with non-canonical elements', () => {
    expect(() => parseBalanceSignals(['1', '2'])).toThrow(/expected 3 signals, got 2/);
    expect(() => parseBalanceSignals(['1', '2', P.toString()])).toThrow(/^challenge: not a canonical field element/);
    expect(() => parseBalanceSignals(['1', '0x2', '3'])).toThrow(/^threshold: must be a decimal string/);
    expect(() => parseBalanceSignals(['01', '2', '3'])).toThrow(/^root: must be a decimal string/);
    expect(() => parseBalanceSignals([1 as unknown as string, '2', '3'])).toThrow(CircuitInputError);
    expect(() => formatBalanceSignals({ root: P, threshold: 0n, challenge: 0n })).toThrow(CircuitInputError);
  });
});

describe('eligibility inputs and public signals', () => {
  const SECRET = 0x1de47n;
  let tree: PoseidonMerkleTree;
  let witness: Parameters<typeof eligibilityInput>[0];

  beforeAll(async () => {
    tree = await PoseidonMerkleTree.create();
    const index = tree.insert(await identityLeaf(await commitment(SECRET), 20080615n, 250n));
    witness = {
      identitySecret: SECRET,
      birthDate: 20080615,
      jurisdiction: 250,
      ...tree.path(index),
      root: tree.root,
      currentDate: 20260615,
      minAge: 18,
      denylist: [408, 364],
      scope: 0xabcn,
      challenge: 1n,
    };
  });

  it('builds the snarkjs input and pads the denylist with zeros', () => {
    const input = eligibilityInput(witness);
    expect(input.denylist).toEqual(['408', '364', '0', '0', '0', '0', '0', '0']);
    expect(input.birthDate).toBe('20080615');
    expect(input.currentDate).toBe('20260615');
    expect(input.minAge).toBe('18');
    expect(input.scope).toBe('2748');
    expect(input.pathIndices).toEqual(Array(20).fill('0'));
    expect(() => eligibilityInput({ ...witness, denylist: Array(DENYLIST_SIZE + 1).fill(1) })).toThrow(/at most 8 entries/);
    expect(() => eligibilityInput({ ...witness, denylist: [P] })).toThrow(/denylist\[0\]/);
  });

  it('statement errors follow the circuit: the exact birthday passes; a day short, denylist, 0, revocation fail', async () => {
    expect(await eligibilityStatementErrors(witness)).toEqual([]);
    expect(await eligibilityStatementErrors({ ...witness, currentDate: 20260614 })).toEqual(['younger than minAge on currentDate']);
    expect(await eligibilityStatementErrors({ ...witness, denylist: [408, 250] })).toEqual(['jurisdiction is denylisted']);
    expect(await eligibilityStatementErrors({ ...witness, minAge: 256 })).toEqual(['minAge is out of range (8 bits)']);
    expect(await eligibilityStatementErrors({ ...witness, jurisdiction: 0 })).toEqual([
      'jurisdiction is 0',
      'identity leaf is not in the tree with this root',
    ]);
    const revoked = await PoseidonMerkleTree.create();
    revoked.insert(await identityLeaf(await commitment(SECRET), 20080615n, 250n));
    revoked.update(0, 0n);
    expect(await eligibilityStatementErrors({ ...witness, root: revoked.root })).toEqual([
      'identity leaf is not in the tree with this root',
    ]);
  });

  it('parses the 14 signals (nullifier first) and formats them back', async () => {
    const n = await nullifier(SECRET, 0xabcn);
    const signals = formatEligibilitySignals({
      nullifier: n,
      root: tree.root,
      currentDate: 20260615n,
      minAge: 18n,
      denylist: [408n, 364n, 0n, 0n, 0n, 0n, 0n, 0n],
      scope: 0xabcn,
      challenge: 1n,
    });
    expect(signals).toHaveLength(ELIGIBILITY_SIGNAL_COUNT);
    expect(signals).toEqual([n, tree.root, 20260615n, 18n, 408n, 364n, 0n, 0n, 0n, 0n, 0n, 0n, 0xabcn, 1n].map(String));
    const parsed = parseEligibilitySignals(signals);
    expect(parsed.nullifier).toBe(n);
    expect(parsed.denylist).toEqual([408n, 364n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect(parsed.scope).toBe(0xabcn);
    expect(formatEligibilitySignals(parsed)).toEqual(signals);
    expect(() => parseEligibilitySignals(signals.slice(1))).toThrow(/expected 14 signals, got 13/);
    const bad = [...signals];
    bad[6] = P.toString();
    expect(() => parseEligibilitySignals(bad)).toThrow(/^denylist\[2\]: not a canonical field element/);
    expect(() => formatEligibilitySignals({ ...parsed, denylist: [1n] })).toThrow(/denylist: expected 8 elements/);
  });
});
