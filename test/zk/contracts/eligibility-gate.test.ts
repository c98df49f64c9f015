/**
 * EligibilityGate on the test ledger with real eligibility proofs (circuits/build/eligibility):
 * an identity tree whose root is published on a RootRegistry, proofs bound to the caller's
 * challenge, and every reason the gate refuses a claim.
 */
import { randomBytes } from 'node:crypto';
import { id, type Contract, type JsonRpcProvider, type JsonRpcSigner } from 'ethers';
import { decodeRevert } from '../../../src/ledger/contract-error.js';
import {
  FIELD_MODULUS,
  PoseidonMerkleTree,
  commitment,
  eligibilityInput,
  identityLeaf,
  nullifier,
  yyyymmdd,
} from '../../../src/zk/circuit-inputs.js';
import {
  callerChallenge,
  connectLedger,
  deploy,
  eventsOf,
  factoryOf,
  latestTimestamp,
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
const MIN_AGE = 18;
const DENYLIST = [408n, 364n, 0n, 0n, 0n, 0n, 0n, 0n];
const SCOPE = BigInt(id('contracts-test:eligibility-campaign')) % FIELD_MODULUS;
// Public signal positions.
const NULLIFIER = 0;
const CURRENT_DATE = 2;
const CHALLENGE = 13;

const randomField = (): bigint => BigInt(`0x${randomBytes(32).toString('hex')}`) % FIELD_MODULUS;
const dateOf = (timestamp: number): number => yyyymmdd(new Date(timestamp * 1000));

interface Identity {
  secret: bigint;
  birthDate: number;
  jurisdiction: number;
  index: number;
}

let provider: JsonRpcProvider;
let publisher: JsonRpcSigner;
let alice: JsonRpcSigner;
let bob: JsonRpcSigner;
let chainId: bigint;
let verifierAddress: string;
let registry: Contract;
let gate: Contract;
let tree: PoseidonMerkleTree;
let rootAtProof: bigint;
let proofDate: number;
let aliceProof: GateCalldata;
let bobProof: GateCalldata;
const alices: Identity = { secret: randomField(), birthDate: 19900515, jurisdiction: 276, index: -1 };
const bobs: Identity = { secret: randomField(), birthDate: 20000229, jurisdiction: 250, index: -1 };
const gas: Record<string, bigint> = {};

async function deployGate(scope: bigint, minAge: number, denylist: readonly bigint[]): Promise<Contract> {
  const deployed = await deploy(publisher, 'zk/EligibilityGate.sol', 'EligibilityGate', [
    verifierAddress,
    await registry.getAddress(),
    scope,
    minAge,
    denylist,
  ]);
  gas.deployGate ??= deployed.gasUsed;
  return deployed.contract;
}

/** A real proof that `who` is eligible under the gate's policy, bound to `caller`'s challenge. */
async function proveEligibility(who: Identity, caller: JsonRpcSigner): Promise<GateCalldata> {
  const path = tree.path(who.index);
  const input = eligibilityInput({
    identitySecret: who.secret,
    birthDate: who.birthDate,
    jurisdiction: who.jurisdiction,
    pathElements: path.pathElements,
    pathIndices: path.pathIndices,
    root: tree.root,
    currentDate: proofDate,
    minAge: MIN_AGE,
    denylist: DENYLIST,
    scope: SCOPE,
    challenge: callerChallenge(chainId, await gate.getAddress(), await caller.getAddress()),
  });
  return proveForGate('eligibility', input);
}

const as = (contract: Contract, signer: JsonRpcSigner): Contract => contract.connect(signer) as Contract;
const isValidRoot = (root: bigint): Promise<boolean> => registry.getFunction('isValidRoot')(root);

beforeAll(async () => {
  provider = connectLedger();
  [publisher, alice, bob] = await Promise.all([0, 1, 2].map((i) => provider.getSigner(i)));
  chainId = (await provider.getNetwork()).chainId;

  const verifier = await deploy(publisher, 'verifiers/EligibilityVerifier.sol', 'EligibilityVerifier');
  verifierAddress = await verifier.contract.getAddress();
  registry = (await deploy(publisher, 'zk/RootRegistry.sol', 'RootRegistry', [await publisher.getAddress(), WINDOW])).contract;
  gate = await deployGate(SCOPE, MIN_AGE, DENYLIST);

  // The issuer's identity tree: two customers and a stranger.
  tree = await PoseidonMerkleTree.create();
  for (const who of [alices, bobs]) {
    who.index = tree.insert(await identityLeaf(await commitment(who.secret), who.birthDate, who.jurisdiction));
  }
  tree.insert(await identityLeaf(await commitment(randomField()), 19750101, 40));
  rootAtProof = tree.root;

  // The proof's date is today by the ledger's clock (the gate also accepts yesterday).
  proofDate = dateOf(await latestTimestamp(provider));
  aliceProof = await proveEligibility(alices, alice);
  bobProof = await proveEligibility(bobs, bob);
});

afterAll(async () => {
  provider?.destroy();
  await stopProverThreads();
  logGas('EligibilityGate', gas);
});

describe('EligibilityGate', () => {
  it('exposes its policy, the caller challenge and the accepted dates', async () => {
    expect(await gate.getFunction('scope')()).toBe(SCOPE);
    expect(await gate.getFunction('minAge')()).toBe(BigInt(MIN_AGE));
    expect((await gate.getFunction('denylist')()).toArray()).toEqual(DENYLIST);
    expect(await gate.getFunction('FIELD_MODULUS')()).toBe(FIELD_MODULUS);
    const aliceAddress = await alice.getAddress();
    expect(await gate.getFunction('challengeFor')(aliceAddress)).toBe(
      callerChallenge(chainId, await gate.getAddress(), aliceAddress),
    );
    const now = await latestTimestamp(provider);
    expect((await gate.getFunction('acceptedDates')()).toArray()).toEqual([BigInt(dateOf(now)), BigInt(dateOf(now - 86_400))]);
  });

  it('rejects a proof against a root the registry does not know', async () => {
    expect(await isValidRoot(rootAtProof)).toBe(false);
    expect(await revertOf(as(gate, alice), 'claim', ...aliceProof)).toEqual({ name: 'RootNotValid', args: [rootAtProof] });
  });

  it('rejects a proof made for another caller (front-running, replay by another account)', async () => {
    await send(registry, 'publishRoot', rootAtProof);
    const bobAddress = await bob.getAddress();
    const expected = callerChallenge(chainId, await gate.getAddress(), bobAddress);
    expect(await revertOf(as(gate, bob), 'claim', ...aliceProof)).toEqual({
      name: 'ChallengeMismatch',
      args: [expected, BigInt(aliceProof[3][CHALLENGE]!)],
    });
  });

  it('rejects a proof made for another policy (minimum age, scope, denylist)', async () => {
    const olderGate = await deployGate(SCOPE, 21, DENYLIST);
    expect(await revertOf(as(olderGate, alice), 'claim', ...aliceProof)).toEqual({ name: 'MinAgeMismatch', args: [21n, 18n] });
    const otherScope = SCOPE + 1n;
    const scopeGate = await deployGate(otherScope, MIN_AGE, DENYLIST);
    expect(await revertOf(as(scopeGate, alice), 'claim', ...aliceProof)).toEqual({ name: 'ScopeMismatch', args: [otherScope, SCOPE] });
    const denyGate = await deployGate(SCOPE, MIN_AGE, [408n, 364n, 760n, 0n, 0n, 0n, 0n, 0n]);
    expect(await revertOf(as(denyGate, alice), 'claim', ...aliceProof)).toEqual({ name: 'DenylistMismatch', args: [] });
  });

  it('rejects public signals that are not canonical field elements', async () => {
    const n = BigInt(aliceProof[3][NULLIFIER]!);
    expect(await revertOf(as(gate, alice), 'claim', ...withSignal(aliceProof, NULLIFIER, n + FIELD_MODULUS))).toEqual({
      name: 'SignalNotInField',
      args: [0n],
    });
    const c = BigInt(aliceProof[3][CHALLENGE]!);
    expect(await revertOf(as(gate, alice), 'claim', ...withSignal(aliceProof, CHALLENGE, c + FIELD_MODULUS))).toEqual({
      name: 'SignalNotInField',
      args: [13n],
    });
  });

  it('accepts only today or yesterday as the proof date', async () => {
    const now = await latestTimestamp(provider);
    const today = BigInt(dateOf(now));
    const stale = BigInt(dateOf(now - 2 * 86_400));
    expect(await revertOf(as(gate, alice), 'claim', ...withSignal(aliceProof, CURRENT_DATE, stale))).toEqual({
      name: 'CurrentDateNotAccepted',
      args: [stale, today],
    });
    // The other accepted date passes the date check, but the proof was made for its own date.
    const other = BigInt(proofDate) === today ? BigInt(dateOf(now - 86_400)) : today;
    expect(await revertOf(as(gate, alice), 'claim', ...withSignal(aliceProof, CURRENT_DATE, other))).toEqual({
      name: 'InvalidProof',
      args: [],
    });
  });

  it('rejects a proof whose nullifier was changed', async () => {
    const forged = (BigInt(aliceProof[3][NULLIFIER]!) + 1n) % FIELD_MODULUS;
    expect(await revertOf(as(gate, alice), 'claim', ...withSignal(aliceProof, NULLIFIER, forged))).toEqual({
      name: 'InvalidProof',
      args: [],
    });
  });

  it('accepts a proof against a root superseded within the window', async () => {
    tree.insert(await identityLeaf(await commitment(randomField()), 19820303, 276));
    await send(registry, 'publishRoot', tree.root);
    expect(await isValidRoot(rootAtProof)).toBe(true);

    const receipt = await send(as(gate, bob), 'claim', ...bobProof);
    gas.claimWithinWindow = receipt.gasUsed;
    const bobNullifier = await nullifier(bobs.secret, SCOPE);
    expect(eventsOf(gate, receipt.logs, 'Claimed')).toEqual([[bobNullifier, await bob.getAddress()]]);
    expect(await gate.getFunction('isNullifierUsed')(bobNullifier)).toBe(true);
  });

  it('rejects a proof against a root superseded beyond the window', async () => {
    const [, , validUntil] = (await registry.getFunction('rootInfo')(rootAtProof)).toArray() as [boolean, boolean, bigint];
    await mineAtLeast(provider, Number(validUntil) + 1);
    expect(await isValidRoot(rootAtProof)).toBe(false);
    expect(await revertOf(as(gate, alice), 'claim', ...aliceProof)).toEqual({ name: 'RootNotValid', args: [rootAtProof] });
  });

  it('admits a valid claim once, when its root is current again', async () => {
    await send(registry, 'publishRoot', rootAtProof); // re-activate the older root
    const aliceNullifier = await nullifier(alices.secret, SCOPE);
    expect(BigInt(aliceProof[3][NULLIFIER]!)).toBe(aliceNullifier);
    expect(await gate.getFunction('isNullifierUsed')(aliceNullifier)).toBe(false);

    const receipt = await send(as(gate, alice), 'claim', ...aliceProof);
    gas.claim = receipt.gasUsed;
    expect(receipt.gasUsed).toBeGreaterThan(21_000n);
    expect(receipt.gasUsed).toBeLessThan(1_000_000n);
    expect(eventsOf(gate, receipt.logs, 'Claimed')).toEqual([[aliceNullifier, await alice.getAddress()]]);
    expect(await gate.getFunction('isNullifierUsed')(aliceNullifier)).toBe(true);
  });

  it('rejects the same nullifier again', async () => {
    const aliceNullifier = BigInt(aliceProof[3][NULLIFIER]!);
    expect(await revertOf(as(gate, alice), 'claim', ...aliceProof)).toEqual({ name: 'NullifierAlreadyUsed', args: [aliceNullifier] });
    const bobNullifier = BigInt(bobProof[3][NULLIFIER]!);
    expect(await revertOf(as(gate, bob), 'claim', ...bobProof)).toEqual({ name: 'NullifierAlreadyUsed', args: [bobNullifier] });
  });

  it('measures verifyProof alone', async () => {
    const verifier = await deploy(publisher, 'verifiers/EligibilityVerifier.sol', 'EligibilityVerifier');
    expect(await verifier.contract.getFunction('verifyProof')(...aliceProof)).toBe(true);
    gas.verifyProofCall = await verifier.contract.getFunction('verifyProof').estimateGas(...aliceProof);
  });

  it('cannot be deployed with a zero address or a policy outside the field', async () => {
    const zero = `0x${'0'.repeat(40)}`;
    const factoryArgs = [verifierAddress, await registry.getAddress(), SCOPE, MIN_AGE, DENYLIST];
    const factory = await factoryOf(publisher, 'zk/EligibilityGate.sol', 'EligibilityGate');
    const attempt = async (args: unknown[]) => {
      const error = await factory.deploy(...args).then(() => null, (e: unknown) => e);
      return decodeRevert(factory, error);
    };
    expect(await attempt([zero, ...factoryArgs.slice(1)])).toEqual({ name: 'ZeroAddress', args: [] });
    expect(await attempt([verifierAddress, zero, ...factoryArgs.slice(2)])).toEqual({ name: 'ZeroAddress', args: [] });
    expect(await attempt([...factoryArgs.slice(0, 2), FIELD_MODULUS, MIN_AGE, DENYLIST])).toEqual({ name: 'PolicyNotInField', args: [] });
    expect(await attempt([...factoryArgs.slice(0, 4), [FIELD_MODULUS, 0n, 0n, 0n, 0n, 0n, 0n, 0n]])).toEqual({
      name: 'PolicyNotInField',
      args: [],
    });
  });
});
