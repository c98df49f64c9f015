/**
 * Witness inputs for the zero-knowledge benchmark (bench/zk-bench.ts): a balance tree and an
 * identity tree of a few synthetic leaves (depth 20, like the service's trees), and the snarkjs
 * input objects of true statements against their roots. Secrets are random per run.
 */
import { randomBytes } from 'node:crypto';
import {
  FIELD_MODULUS,
  PoseidonMerkleTree,
  balanceInput,
  balanceLeaf,
  commitment,
  eligibilityInput,
  identityLeaf,
  type BalanceCircuitInput,
  type EligibilityCircuitInput,
} from '../../src/zk/circuit-inputs.js';

export const randomField = (): bigint => BigInt(`0x${randomBytes(32).toString('hex')}`) % FIELD_MODULUS;

export interface BenchAccount {
  secret: bigint;
  balance: bigint;
  salt: bigint;
  index: number;
}

export interface BenchIdentity {
  secret: bigint;
  birthDate: number;
  jurisdiction: number;
  index: number;
}

/** A balance tree holding `count` accounts (plus a few strangers) with balances of 1,000,000. */
export async function balanceTree(count: number): Promise<{ tree: PoseidonMerkleTree; accounts: BenchAccount[] }> {
  const tree = await PoseidonMerkleTree.create();
  const accounts: BenchAccount[] = [];
  for (let i = 0; i < count + 3; i++) {
    const a: BenchAccount = { secret: randomField(), balance: 1_000_000n + BigInt(i), salt: randomField(), index: -1 };
    a.index = tree.insert(await balanceLeaf(await commitment(a.secret), a.balance, a.salt));
    if (i < count) accounts.push(a);
  }
  return { tree, accounts };
}

/** An identity tree holding `count` adults (plus a few strangers). */
export async function identityTree(count: number): Promise<{ tree: PoseidonMerkleTree; identities: BenchIdentity[] }> {
  const tree = await PoseidonMerkleTree.create();
  const identities: BenchIdentity[] = [];
  for (let i = 0; i < count + 3; i++) {
    const who: BenchIdentity = { secret: randomField(), birthDate: 19800101 + (i % 28), jurisdiction: 276, index: -1 };
    who.index = tree.insert(await identityLeaf(await commitment(who.secret), who.birthDate, who.jurisdiction));
    if (i < count) identities.push(who);
  }
  return { tree, identities };
}

export function balanceProofInput(tree: PoseidonMerkleTree, a: BenchAccount, threshold: bigint, challenge: bigint): BalanceCircuitInput {
  const p = tree.path(a.index);
  return balanceInput({
    accountSecret: a.secret,
    balance: a.balance,
    salt: a.salt,
    pathElements: p.pathElements,
    pathIndices: p.pathIndices,
    root: tree.root,
    threshold,
    challenge,
  });
}

export interface EligibilityPolicy {
  currentDate: number;
  minAge: number;
  denylist: readonly bigint[];
  scope: bigint;
}

export function eligibilityProofInput(
  tree: PoseidonMerkleTree,
  who: BenchIdentity,
  policy: EligibilityPolicy,
  challenge: bigint,
): EligibilityCircuitInput {
  const p = tree.path(who.index);
  return eligibilityInput({
    identitySecret: who.secret,
    birthDate: who.birthDate,
    jurisdiction: who.jurisdiction,
    pathElements: p.pathElements,
    pathIndices: p.pathIndices,
    root: tree.root,
    currentDate: policy.currentDate,
    minAge: policy.minAge,
    denylist: policy.denylist,
    scope: policy.scope,
    challenge,
  });
}
