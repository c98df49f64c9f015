/**
 * BalanceGate on the test ledger with real balance proofs (circuits/build/balance): a balance
 * epoch tree whose root is published on a RootRegistry, proofs bound to the caller's challenge.
 */
import { randomBytes } from 'node:crypto';
import type { Contract, JsonRpcProvider, JsonRpcSigner } from 'ethers';
import { decodeRevert } from '../../../src/ledger/contract-error.js';
import { FIELD_MODULUS, PoseidonMerkleTree, balanceInput, balanceLeaf, commitment } from '../../../src/zk/circuit-inputs.js';
import {
  callerChallenge,
  connectLedger,
  deploy,
  eventsOf,
  factoryOf,
  logGas,
  mineAtLeast,
  proveForGate,
  revertOf,
  send,
  stopProverThreads,
  withSignal,
  type GateCalldata,
} from './support.js';

const WINDOW = 30;
const MIN_THRESHOLD = 1_000n;
const BALANCE = 5_000n;
// Public signal positions.
const THRESHOLD = 1;
const CHALLENGE = 2;

const randomField = (): bigint => BigInt(`0x${randomBytes(32).toString('hex')}`) % FIELD_MODULUS;

let provider: JsonRpcProvider;
let publisher: JsonRpcSigner;
let alice: JsonRpcSigner;
let bob: JsonRpcSigner;
let chainId: bigint;
let verifierAddress: string;
let registry: Contract;
let gate: Contract;
let tree: PoseidonMerkleTree;
let epochRoot: bigint;
let proof: GateCalldata;
let lowProof: GateCalldata;
const account = { secret: randomField(), salt: randomField(), index: -1 };
const gas: Record<string, bigint> = {};

/** A real proof that alice's account holds >= threshold in the epoch tree, bound to `caller`'s challenge. */
async function proveBalance(threshold: bigint, caller: JsonRpcSigner): Promise<GateCalldata> {
  const path = tree.path(account.index);
  return proveForGate(
    'balance',
    balanceInput({
      accountSecret: account.secret,
      balance: BALANCE,
      salt: account.salt,
      pathElements: path.pathElements,
      pathIndices: path.pathIndices,
      root: epochRoot,
      threshold,
      challenge: callerChallenge(chainId, await gate.getAddress(), await caller.getAddress()),
    }),
  );
}

const as = (contract: Contract, signer: JsonRpcSigner): Contract => contract.connect(signer) as Contract;

beforeAll(async () => {
  provider = connectLedger();
  [publisher, alice, bob] = await Promise.all([0, 1, 2].map((i) => provider.getSigner(i)));
  chainId = (await provider.getNetwork()).chainId;

  const verifier = await deploy(publisher, 'verifiers/BalanceVerifier.sol', 'BalanceVerifier');
  verifierAddress = await verifier.contract.getAddress();
  registry = (await deploy(publisher, 'zk/RootRegistry.sol', 'RootRegistry', [await publisher.getAddress(), WINDOW])).contract;
  const deployed = await deploy(publisher, 'zk/BalanceGate.sol', 'BalanceGate', [
    verifierAddress,
    await registry.getAddress(),
    MIN_THRESHOLD,
  ]);
  gate = deployed.contract;
  gas.deployGate = deployed.gasUsed;

  // One epoch's balance tree: alice's account among others.
  tree = await PoseidonMerkleTree.create();
  tree.insert(await balanceLeaf(await commitment(randomField()), 12_345n, randomField()));
  account.index = tree.insert(await balanceLeaf(await commitment(account.secret), BALANCE, account.salt));
  tree.insert(await balanceLeaf(await commitment(randomField()), 7n, randomField()));
  epochRoot = tree.root;
  await send(registry, 'publishRoot', epochRoot);

  proof = await proveBalance(2_500n, alice);
  lowProof = await proveBalance(500n, alice);
});

afterAll(async () => {
  provider?.destroy();
  await stopProverThreads();
  logGas('BalanceGate', gas);
});

describe('BalanceGate', () => {
  it('accepts a valid proof and emits BalanceProven', async () => {
    expect(await gate.getFunction('minThreshold')()).toBe(MIN_THRESHOLD);
    const receipt = await send(as(gate, alice), 'prove', ...proof);
    gas.prove = receipt.gasUsed;
    expect(receipt.gasUsed).toBeGreaterThan(21_000n);
    expect(receipt.gasUsed).toBeLessThan(1_000_000n);
    expect(eventsOf(gate, receipt.logs, 'BalanceProven')).toEqual([[await alice.getAddress(), 2_500n, epochRoot]]);
  });

  it('rejects a threshold below the gate minimum, even with a valid proof', async () => {
    expect(await revertOf(as(gate, alice), 'prove', ...lowProof)).toEqual({
      name: 'ThresholdBelowMinimum',
      args: [500n, MIN_THRESHOLD],
    });
  });

  it('rejects a proof made for another caller', async () => {
    const expected = callerChallenge(chainId, await gate.getAddress(), await bob.getAddress());
    expect(await revertOf(as(gate, bob), 'prove', ...proof)).toEqual({
      name: 'ChallengeMismatch',
      args: [expected, BigInt(proof[3][CHALLENGE]!)],
    });
  });

  it('rejects a changed threshold and non-canonical signals', async () => {
    expect(await revertOf(as(gate, alice), 'prove', ...withSignal(proof, THRESHOLD, 3_000n))).toEqual({
      name: 'InvalidProof',
      args: [],
    });
    expect(await revertOf(as(gate, alice), 'prove', ...withSignal(proof, THRESHOLD, 2_500n + FIELD_MODULUS))).toEqual({
      name: 'SignalNotInField',
      args: [1n],
    });
  });

  it('rejects a root its registry does not know', async () => {
    const emptyRegistry = (await deploy(publisher, 'zk/RootRegistry.sol', 'RootRegistry', [await publisher.getAddress(), WINDOW]))
      .contract;
    const otherGate = (
      await deploy(publisher, 'zk/BalanceGate.sol', 'BalanceGate', [verifierAddress, await emptyRegistry.getAddress(), MIN_THRESHOLD])
    ).contract;
    expect(await revertOf(as(otherGate, alice), 'prove', ...proof)).toEqual({ name: 'RootNotValid', args: [epochRoot] });
  });

  it('accepts the previous epoch within the window, and rejects it after', async () => {
    const next = await send(registry, 'publishRoot', randomField());
    const supersededAt = (await provider.getBlock(next.blockNumber))!.timestamp;
    const again = await send(as(gate, alice), 'prove', ...proof);
    expect(eventsOf(gate, again.logs, 'BalanceProven')).toHaveLength(1);

    await mineAtLeast(provider, supersededAt + WINDOW + 1);
    expect(await revertOf(as(gate, alice), 'prove', ...proof)).toEqual({ name: 'RootNotValid', args: [epochRoot] });
  });

  it('cannot be deployed with a zero address', async () => {
    const factory = await factoryOf(publisher, 'zk/BalanceGate.sol', 'BalanceGate');
    const zero = `0x${'0'.repeat(40)}`;
    const error = await factory.deploy(zero, await registry.getAddress(), MIN_THRESHOLD).then(
      () => null,
      (e: unknown) => e,
    );
    expect(decodeRevert(factory, error)).toEqual({ name: 'ZeroAddress', args: [] });
  });
});
