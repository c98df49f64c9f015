/**
 * Inputs and public signals of the `balance` and `eligibility` circuits
 * (circuits/balance.circom, circuits/eligibility.circom; docs/zk-circuits.md), and the
 * Poseidon Merkle tree both circuits prove membership in.
 *
 * A plain module (no NestJS): the proving service, client-side provers, tests and the
 * benchmarks use the same builders, so the layout of a witness input and of the public
 * signals is written down once. Field elements are bigints in [0, FIELD_MODULUS); the
 * snarkjs input objects and public-signal arrays carry them as decimal strings.
 *
 * Hashing is circomlib's Poseidon (circomlibjs `buildPoseidon`, the same constants as the
 * circuits). The hasher is built once per process and cached; the hash helpers are async
 * because building it is, and `loadPoseidon()` gives a synchronous hasher for hot loops.
 *
 * Errors are `CircuitInputError` with the offending field's name and never its value:
 * several inputs are secrets.
 */
import { buildPoseidon } from 'circomlibjs';

/** The BN254 scalar field modulus: every signal is an element of this field. */
export const FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Depth of the balance and identity trees (2^20 = 1,048,576 leaves). */
export const TREE_DEPTH = 20;

/** Number of denylist slots in the eligibility circuit (unused slots are 0). */
export const DENYLIST_SIZE = 8;

/** Largest balance or threshold the balance circuit accepts (64-bit range check). */
export const MAX_UINT64 = (1n << 64n) - 1n;

/** Largest date the eligibility circuit accepts (27-bit range check); real dates are <= 99991231. */
export const MAX_DATE = (1n << 27n) - 1n;

/** Largest minimum age the eligibility circuit accepts (8-bit range check). */
export const MAX_MIN_AGE = 255n;

/** Public signal names of `balance`, in the order snarkjs and the verifier contract use. */
export const BALANCE_SIGNAL_NAMES = ['root', 'threshold', 'challenge'] as const;

/** Number of public signals of `eligibility`: nullifier, root, currentDate, minAge, 8 denylist slots, scope, challenge. */
export const ELIGIBILITY_SIGNAL_COUNT = 6 + DENYLIST_SIZE;

/** A value that denotes a field element: a bigint, a safe integer, or a decimal or 0x-hex string. */
export type FieldInput = bigint | number | string;

/** An input that is not what a circuit takes. `field` names the input; the value is never quoted. */
export class CircuitInputError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'CircuitInputError';
    this.field = field;
  }
}

/**
 * Parses and checks a field element: an integer in [0, FIELD_MODULUS). Strings are
 * decimal (no sign, no leading zeros) or 0x-prefixed hex; numbers must be safe integers.
 */
export function toField(value: FieldInput, name = 'value'): bigint {
  let n: bigint;
  if (typeof value === 'bigint') {
    n = value;
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new CircuitInputError(name, 'not a safe integer');
    n = BigInt(value);
  } else if (typeof value === 'string' && /^(0|[1-9][0-9]*)$/.test(value)) {
    if (value.length > 78) throw new CircuitInputError(name, 'not a canonical field element (>= field modulus)');
    n = BigInt(value);
  } else if (typeof value === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(value)) {
    n = BigInt(value);
  } else {
    throw new CircuitInputError(name, 'not a decimal or 0x-hex integer');
  }
  if (n < 0n) throw new CircuitInputError(name, 'negative');
  if (n >= FIELD_MODULUS) throw new CircuitInputError(name, 'not a canonical field element (>= field modulus)');
  return n;
}

function fieldArray(values: readonly FieldInput[] | undefined, length: number, name: string): bigint[] {
  if (!Array.isArray(values)) throw new CircuitInputError(name, `expected an array of ${length} field elements`);
  if (values.length !== length) throw new CircuitInputError(name, `expected ${length} elements, got ${values.length}`);
  return values.map((v, i) => toField(v, `${name}[${i}]`));
}

function bitArray(values: readonly FieldInput[] | undefined, length: number, name: string): (0 | 1)[] {
  return fieldArray(values, length, name).map((b, i) => {
    if (b !== 0n && b !== 1n) throw new CircuitInputError(`${name}[${i}]`, 'must be 0 or 1');
    return b === 1n ? 1 : 0;
  });
}

const dec = (n: bigint): string => n.toString(10);

// ---------------------------------------------------------------------------------------
// Poseidon
// ---------------------------------------------------------------------------------------

/** circomlib Poseidon over 1..16 field elements, synchronous once built. */
export interface PoseidonHasher {
  hash(inputs: readonly bigint[]): bigint;
}

let poseidonPromise: Promise<PoseidonHasher> | undefined;

/** The process-wide Poseidon hasher (circomlibjs `buildPoseidon`, built on first use). */
export function loadPoseidon(): Promise<PoseidonHasher> {
  poseidonPromise ??= buildPoseidon().then(
    (p) => ({
      hash(inputs: readonly bigint[]): bigint {
        if (inputs.length < 1 || inputs.length > 16) throw new RangeError('Poseidon takes 1 to 16 inputs');
        for (const x of inputs) {
          // circomlibjs would silently reduce modulo p: a non-canonical input is a bug.
          if (x < 0n || x >= FIELD_MODULUS) throw new RangeError('Poseidon input is not a canonical field element');
        }
        return p.F.toObject(p(inputs as bigint[])) as bigint;
      },
    }),
    (err: unknown) => {
      poseidonPromise = undefined;
      throw err;
    },
  );
  return poseidonPromise;
}

/** Poseidon(inputs), as circomlib's `Poseidon(inputs.length)` template computes it. */
export async function poseidon(inputs: readonly FieldInput[]): Promise<bigint> {
  const values = inputs.map((x, i) => toField(x, `inputs[${i}]`));
  return (await loadPoseidon()).hash(values);
}

/** An account or identity commitment: Poseidon(secret). */
export async function commitment(secret: FieldInput): Promise<bigint> {
  return (await loadPoseidon()).hash([toField(secret, 'secret')]);
}

/** A balance tree leaf: Poseidon(accountCommitment, balance, salt). */
export async function balanceLeaf(accountCommitment: FieldInput, balance: FieldInput, salt: FieldInput): Promise<bigint> {
  const h = await loadPoseidon();
  return h.hash([toField(accountCommitment, 'accountCommitment'), toField(balance, 'balance'), toField(salt, 'salt')]);
}

/** An identity tree leaf: Poseidon(identityCommitment, birthDate, jurisdiction). */
export async function identityLeaf(
  identityCommitment: FieldInput,
  birthDate: FieldInput,
  jurisdiction: FieldInput,
): Promise<bigint> {
  const h = await loadPoseidon();
  return h.hash([
    toField(identityCommitment, 'identityCommitment'),
    toField(birthDate, 'birthDate'),
    toField(jurisdiction, 'jurisdiction'),
  ]);
}

/** The eligibility nullifier: Poseidon(identitySecret, scope). */
export async function nullifier(secret: FieldInput, scope: FieldInput): Promise<bigint> {
  return (await loadPoseidon()).hash([toField(secret, 'secret'), toField(scope, 'scope')]);
}

// ---------------------------------------------------------------------------------------
// Dates (YYYYMMDD integers)
// ---------------------------------------------------------------------------------------

/** True when `n` is a real calendar date written as the integer YYYYMMDD (years 1..9999). */
export function isYyyymmdd(n: number | bigint): boolean {
  const v = Number(n);
  if (!Number.isSafeInteger(v) || v < 10101 || v > 99991231) return false;
  const year = Math.floor(v / 10000);
  const month = Math.floor(v / 100) % 100;
  const day = v % 100;
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

/** The UTC calendar date of `date` as a YYYYMMDD integer (the eligibility circuit's date format). */
export function yyyymmdd(date: Date): number {
  return date.getUTCFullYear() * 10000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate();
}

// ---------------------------------------------------------------------------------------
// Merkle tree
// ---------------------------------------------------------------------------------------

/** An authentication path as the circuits take it (level 0 = the leaf's sibling). */
export interface MerklePath {
  pathElements: bigint[];
  /** Bits of the leaf index, least significant first: 0 = the current node is the left child. */
  pathIndices: (0 | 1)[];
}

/** zeros[l] = root of an empty subtree of height l: zeros[0] = 0, zeros[l+1] = Poseidon(zeros[l], zeros[l]). */
function zeroHashes(h: PoseidonHasher, depth: number): bigint[] {
  const zeros = [0n];
  for (let l = 0; l < depth; l++) zeros.push(h.hash([zeros[l]!, zeros[l]!]));
  return zeros;
}

/** The root a leaf and its path hash up to (what MerkleRoot in the circuits computes). */
export function computeMerkleRoot(h: PoseidonHasher, leaf: bigint, path: MerklePath): bigint {
  let node = leaf;
  path.pathElements.forEach((sibling, l) => {
    node = path.pathIndices[l] === 1 ? h.hash([sibling, node]) : h.hash([node, sibling]);
  });
  return node;
}

/**
 * A binary Poseidon Merkle tree of fixed depth (default 20), the tree of the balance and
 * eligibility circuits: node = Poseidon(left, right), empty leaf = 0, empty subtrees
 * Poseidon(z, z) bottom-up. Sparse: only nodes that differ from the empty subtree of their
 * level are stored, so memory grows with the number of non-empty leaves, not 2^depth.
 * Setting a leaf to 0 (revocation) removes it and any node that becomes empty again.
 */
export class PoseidonMerkleTree {
  /** Non-empty nodes per level: levels[0] are the leaves, levels[depth] holds the root. */
  private readonly levels: Map<number, bigint>[];
  private readonly zeros: bigint[];
  private readonly hasher: PoseidonHasher;
  private next = 0;
  readonly depth: number;

  private constructor(hasher: PoseidonHasher, depth: number) {
    this.hasher = hasher;
    this.depth = depth;
    this.zeros = zeroHashes(hasher, depth);
    this.levels = Array.from({ length: depth + 1 }, () => new Map<number, bigint>());
  }

  /** An empty tree. Depth 1..32 (the circuits use TREE_DEPTH = 20). */
  static async create(depth = TREE_DEPTH): Promise<PoseidonMerkleTree> {
    if (!Number.isInteger(depth) || depth < 1 || depth > 32) throw new RangeError('tree depth must be an integer in 1..32');
    return new PoseidonMerkleTree(await loadPoseidon(), depth);
  }

  /** Number of leaf positions, 2^depth. */
  get capacity(): number {
    return 2 ** this.depth;
  }

  /** The index `insert` uses next: one past the highest index ever set. */
  get nextIndex(): number {
    return this.next;
  }

  /** The root (of the empty tree when nothing is set). */
  get root(): bigint {
    return this.node(this.depth, 0);
  }

  /** Root of an empty subtree of height `level` (0 = an empty leaf). */
  zero(level: number): bigint {
    const z = this.zeros[level];
    if (z === undefined) throw new RangeError(`level must be in 0..${this.depth}`);
    return z;
  }

  /** The leaf at `index` (0 when empty). */
  leaf(index: number): bigint {
    this.checkIndex(index);
    return this.node(0, index);
  }

  /** Sets the next free leaf (`nextIndex`) and returns its index. */
  insert(leaf: FieldInput): number {
    const index = this.next;
    if (index >= this.capacity) throw new RangeError('tree is full');
    this.update(index, leaf);
    return index;
  }

  /** Sets the leaf at `index` (0 empties it) and rehashes its path to the root. */
  update(index: number, leaf: FieldInput): void {
    this.checkIndex(index);
    let value = toField(leaf, 'leaf');
    let i = index;
    for (let level = 0; level <= this.depth; level++) {
      this.set(level, i, value);
      if (level === this.depth) break;
      const left = i - (i % 2);
      value = this.hasher.hash([this.node(level, left), this.node(level, left + 1)]);
      i = left / 2;
    }
    if (index >= this.next) this.next = index + 1;
  }

  /** The authentication path of the leaf at `index` (for an empty leaf too). */
  path(index: number): MerklePath {
    this.checkIndex(index);
    const pathElements: bigint[] = [];
    const pathIndices: (0 | 1)[] = [];
    let i = index;
    for (let level = 0; level < this.depth; level++) {
      const bit = i % 2;
      pathElements.push(this.node(level, bit === 0 ? i + 1 : i - 1));
      pathIndices.push(bit === 0 ? 0 : 1);
      i = (i - bit) / 2;
    }
    return { pathElements, pathIndices };
  }

  /** True when `leaf` with `path` hashes up to `root` (this tree's root by default). */
  verify(leaf: FieldInput, path: MerklePath, root: FieldInput = this.root): boolean {
    if (path.pathElements.length !== this.depth || path.pathIndices.length !== this.depth) return false;
    return computeMerkleRoot(this.hasher, toField(leaf, 'leaf'), path) === toField(root, 'root');
  }

  private node(level: number, index: number): bigint {
    return this.levels[level]!.get(index) ?? this.zeros[level]!;
  }

  private set(level: number, index: number, value: bigint): void {
    if (value === this.zeros[level]) this.levels[level]!.delete(index);
    else this.levels[level]!.set(index, value);
  }

  private checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.capacity) {
      throw new RangeError(`leaf index must be an integer in 0..${this.capacity - 1}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// balance circuit
// ---------------------------------------------------------------------------------------

/** What a balance proof is made from. `pathElements`/`pathIndices` come from `tree.path(index)`. */
export interface BalanceWitness {
  // private
  accountSecret: FieldInput;
  balance: FieldInput;
  salt: FieldInput;
  pathElements: readonly FieldInput[];
  pathIndices: readonly FieldInput[];
  // public
  root: FieldInput;
  threshold: FieldInput;
  challenge: FieldInput;
}

/**
 * The snarkjs input object of `balance` (every value a decimal string). A type alias, not an
 * interface, so that it is assignable to snarkjs's `CircuitSignals` index signature.
 */
export type BalanceCircuitInput = {
  accountSecret: string;
  balance: string;
  salt: string;
  pathElements: string[];
  pathIndices: string[];
  root: string;
  threshold: string;
  challenge: string;
};

/** Public signals of `balance`: [root, threshold, challenge]. */
export interface BalancePublicSignals {
  root: bigint;
  threshold: bigint;
  challenge: bigint;
}

/**
 * The snarkjs input of `balance`. Checks the shape (canonical field elements, 20 path
 * elements, 0/1 index bits), not the statement: see `balanceStatementErrors`.
 */
export function balanceInput(w: BalanceWitness): BalanceCircuitInput {
  return {
    accountSecret: dec(toField(w.accountSecret, 'accountSecret')),
    balance: dec(toField(w.balance, 'balance')),
    salt: dec(toField(w.salt, 'salt')),
    pathElements: fieldArray(w.pathElements, TREE_DEPTH, 'pathElements').map(dec),
    pathIndices: bitArray(w.pathIndices, TREE_DEPTH, 'pathIndices').map(String),
    root: dec(toField(w.root, 'root')),
    threshold: dec(toField(w.threshold, 'threshold')),
    challenge: dec(toField(w.challenge, 'challenge')),
  };
}

/**
 * The reasons a balance proof for `w` cannot be made, [] when it can. Checks what the
 * circuit enforces, so a service can answer 422 instead of failing inside the prover.
 * Messages name conditions, never values.
 */
export async function balanceStatementErrors(w: BalanceWitness): Promise<string[]> {
  const input = balanceInput(w);
  const errors: string[] = [];
  const balance = BigInt(input.balance);
  const threshold = BigInt(input.threshold);
  if (balance > MAX_UINT64) errors.push('balance is not a 64-bit unsigned integer');
  if (threshold > MAX_UINT64) errors.push('threshold is not a 64-bit unsigned integer');
  if (balance <= MAX_UINT64 && threshold <= MAX_UINT64 && balance < threshold) errors.push('balance is below threshold');
  const h = await loadPoseidon();
  const leaf = h.hash([h.hash([BigInt(input.accountSecret)]), balance, BigInt(input.salt)]);
  if (computeMerkleRoot(h, leaf, pathOf(input)) !== BigInt(input.root)) errors.push('account leaf is not in the tree with this root');
  return errors;
}

/** Maps the public signals of a balance proof to names; each must be a canonical field element. */
export function parseBalanceSignals(signals: readonly FieldInput[]): BalancePublicSignals {
  const s = signalArray(signals, BALANCE_SIGNAL_NAMES.length, BALANCE_SIGNAL_NAMES);
  return { root: s[0]!, threshold: s[1]!, challenge: s[2]! };
}

/** The public-signal array of a balance proof (the inverse of `parseBalanceSignals`). */
export function formatBalanceSignals(s: BalancePublicSignals): string[] {
  return [toField(s.root, 'root'), toField(s.threshold, 'threshold'), toField(s.challenge, 'challenge')].map(dec);
}

// ---------------------------------------------------------------------------------------
// eligibility circuit
// ---------------------------------------------------------------------------------------

/** What an eligibility proof is made from. */
export interface EligibilityWitness {
  // private
  identitySecret: FieldInput;
  /** YYYYMMDD integer, as attested in the leaf. */
  birthDate: FieldInput;
  /** ISO 3166-1 numeric code (1..999), as attested in the leaf. */
  jurisdiction: FieldInput;
  pathElements: readonly FieldInput[];
  pathIndices: readonly FieldInput[];
  // public
  root: FieldInput;
  /** YYYYMMDD integer. */
  currentDate: FieldInput;
  minAge: FieldInput;
  /** Up to DENYLIST_SIZE jurisdiction codes; missing slots are filled with 0. */
  denylist: readonly FieldInput[];
  scope: FieldInput;
  challenge: FieldInput;
}

/** The snarkjs input object of `eligibility` (every value a decimal string). */
export type EligibilityCircuitInput = {
  identitySecret: string;
  birthDate: string;
  jurisdiction: string;
  pathElements: string[];
  pathIndices: string[];
  root: string;
  currentDate: string;
  minAge: string;
  denylist: string[];
  scope: string;
  challenge: string;
};

/** Public signals of `eligibility`: [nullifier, root, currentDate, minAge, denylist[0..7], scope, challenge]. */
export interface EligibilityPublicSignals {
  nullifier: bigint;
  root: bigint;
  currentDate: bigint;
  minAge: bigint;
  denylist: bigint[];
  scope: bigint;
  challenge: bigint;
}

/**
 * The snarkjs input of `eligibility`. Checks the shape (canonical field elements, 20 path
 * elements, 0/1 index bits, at most 8 denylist entries, padded with 0), not the statement:
 * see `eligibilityStatementErrors`.
 */
export function eligibilityInput(w: EligibilityWitness): EligibilityCircuitInput {
  if (!Array.isArray(w.denylist)) throw new CircuitInputError('denylist', 'expected an array');
  if (w.denylist.length > DENYLIST_SIZE) {
    throw new CircuitInputError('denylist', `at most ${DENYLIST_SIZE} entries, got ${w.denylist.length}`);
  }
  const denylist = [...w.denylist, ...Array<FieldInput>(DENYLIST_SIZE - w.denylist.length).fill(0n)];
  return {
    identitySecret: dec(toField(w.identitySecret, 'identitySecret')),
    birthDate: dec(toField(w.birthDate, 'birthDate')),
    jurisdiction: dec(toField(w.jurisdiction, 'jurisdiction')),
    pathElements: fieldArray(w.pathElements, TREE_DEPTH, 'pathElements').map(dec),
    pathIndices: bitArray(w.pathIndices, TREE_DEPTH, 'pathIndices').map(String),
    root: dec(toField(w.root, 'root')),
    currentDate: dec(toField(w.currentDate, 'currentDate')),
    minAge: dec(toField(w.minAge, 'minAge')),
    denylist: fieldArray(denylist, DENYLIST_SIZE, 'denylist').map(dec),
    scope: dec(toField(w.scope, 'scope')),
    challenge: dec(toField(w.challenge, 'challenge')),
  };
}

/**
 * The reasons an eligibility proof for `w` cannot be made, [] when it can (what the circuit
 * enforces). Messages name conditions, never values.
 */
export async function eligibilityStatementErrors(w: EligibilityWitness): Promise<string[]> {
  const input = eligibilityInput(w);
  const errors: string[] = [];
  const birthDate = BigInt(input.birthDate);
  const currentDate = BigInt(input.currentDate);
  const minAge = BigInt(input.minAge);
  const jurisdiction = BigInt(input.jurisdiction);
  const ranged = birthDate <= MAX_DATE && currentDate <= MAX_DATE && minAge <= MAX_MIN_AGE;
  if (birthDate > MAX_DATE) errors.push('birthDate is out of range (27 bits)');
  if (currentDate > MAX_DATE) errors.push('currentDate is out of range (27 bits)');
  if (minAge > MAX_MIN_AGE) errors.push('minAge is out of range (8 bits)');
  if (ranged && birthDate + minAge * 10000n > currentDate) errors.push('younger than minAge on currentDate');
  if (jurisdiction === 0n) errors.push('jurisdiction is 0');
  else if (input.denylist.some((d) => BigInt(d) === jurisdiction)) errors.push('jurisdiction is denylisted');
  const h = await loadPoseidon();
  const leaf = h.hash([h.hash([BigInt(input.identitySecret)]), birthDate, jurisdiction]);
  if (computeMerkleRoot(h, leaf, pathOf(input)) !== BigInt(input.root)) errors.push('identity leaf is not in the tree with this root');
  return errors;
}

/** Maps the public signals of an eligibility proof to names; each must be a canonical field element. */
export function parseEligibilitySignals(signals: readonly FieldInput[]): EligibilityPublicSignals {
  const names = ['nullifier', 'root', 'currentDate', 'minAge', ...denylistNames(), 'scope', 'challenge'];
  const s = signalArray(signals, ELIGIBILITY_SIGNAL_COUNT, names);
  return {
    nullifier: s[0]!,
    root: s[1]!,
    currentDate: s[2]!,
    minAge: s[3]!,
    denylist: s.slice(4, 4 + DENYLIST_SIZE),
    scope: s[4 + DENYLIST_SIZE]!,
    challenge: s[5 + DENYLIST_SIZE]!,
  };
}

/** The public-signal array of an eligibility proof (the inverse of `parseEligibilitySignals`). */
export function formatEligibilitySignals(s: EligibilityPublicSignals): string[] {
  return [
    toField(s.nullifier, 'nullifier'),
    toField(s.root, 'root'),
    toField(s.currentDate, 'currentDate'),
    toField(s.minAge, 'minAge'),
    ...fieldArray(s.denylist, DENYLIST_SIZE, 'denylist'),
    toField(s.scope, 'scope'),
    toField(s.challenge, 'challenge'),
  ].map(dec);
}

function denylistNames(): string[] {
  return Array.from({ length: DENYLIST_SIZE }, (_, i) => `denylist[${i}]`);
}

function signalArray(signals: readonly FieldInput[], length: number, names: readonly string[]): bigint[] {
  if (!Array.isArray(signals)) throw new CircuitInputError('publicSignals', `expected an array of ${length}`);
  if (signals.length !== length) throw new CircuitInputError('publicSignals', `expected ${length} signals, got ${signals.length}`);
  return signals.map((v, i) => {
    // Public signals travel as snarkjs writes them: decimal strings (or bigints), nothing else.
    if (typeof v === 'number' || (typeof v === 'string' && !/^(0|[1-9][0-9]*)$/.test(v))) {
      throw new CircuitInputError(names[i]!, 'must be a decimal string');
    }
    return toField(v, names[i]!);
  });
}

function pathOf(input: { pathElements: string[]; pathIndices: string[] }): MerklePath {
  return {
    pathElements: input.pathElements.map((e) => BigInt(e)),
    pathIndices: input.pathIndices.map((b) => (b === '1' ? 1 : 0)),
  };
}
