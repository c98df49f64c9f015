/**
 * AuditAnchor on a real `hardhat node`: the anchoring rules of RFC 9162 checkpoints
 * (monotonic tree sizes, idempotent retries, fork attempts rejected) and who may anchor.
 */
import { Contract, ContractFactory, JsonRpcProvider, Network, id, type JsonRpcSigner, type Log, type TransactionReceipt } from 'ethers';
import { decodeRevert } from '../../src/ledger/contract-error.js';
import { readContractArtifact, type ContractArtifact } from '../../src/ledger/artifacts.js';
import { startLocalLedgerNode, type LocalLedgerNode } from '../../src/ledger/local-node.js';
import { ARTIFACTS_DIR, ROOT, ensureCompiled, freePort } from './support.js';

/** A stand-in for a tree head root hash: distinct, non-zero, reproducible. */
const root = (label: string) => id(`root:${label}`);

let node: LocalLedgerNode;
let provider: JsonRpcProvider;
let anchorer: JsonRpcSigner;
let outsider: JsonRpcSigner;
let artifact: ContractArtifact;
const gas: Record<string, bigint> = {};

beforeAll(async () => {
  ensureCompiled();
  artifact = await readContractArtifact(ARTIFACTS_DIR, 'AuditAnchor');
  node = await startLocalLedgerNode({ port: await freePort(), cwd: ROOT });
  provider = new JsonRpcProvider(node.url, Network.from(31337), { staticNetwork: true });
  anchorer = await provider.getSigner(0);
  outsider = await provider.getSigner(1);
});

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
  // Gas is recorded, not asserted: one line for the contracts README.
  if (Object.keys(gas).length) console.log(`AuditAnchor gas: ${JSON.stringify(gas, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
});

async function deployAnchor(): Promise<Contract> {
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, anchorer);
  const contract = await factory.deploy(await anchorer.getAddress());
  await contract.waitForDeployment();
  return contract as Contract;
}

/** Send, wait, return the receipt (gas, logs). */
async function send(contract: Contract, method: string, ...args: unknown[]): Promise<TransactionReceipt> {
  const tx = await contract.getFunction(method)(...args);
  const receipt = await tx.wait();
  return receipt!;
}

/** The custom error a call reverts with, decoded with the contract's interface. */
async function revertOf(contract: Contract, method: string, ...args: unknown[]) {
  const error = await contract.getFunction(method).staticCall(...args).then(
    () => { throw new Error(`${method} did not revert`); },
    (e: unknown) => e,
  );
  const revert = decodeRevert(contract, error);
  if (!revert) throw error;
  return revert;
}

function anchoredEvents(contract: Contract, logs: readonly Log[]) {
  return logs
    .map((log) => contract.interface.parseLog(log))
    .filter((event) => event?.name === 'CheckpointAnchored')
    .map((event) => event!.args.toArray());
}

describe('AuditAnchor', () => {
  let anchor: Contract;

  beforeAll(async () => {
    anchor = await deployAnchor();
    gas.deploy = (await anchor.deploymentTransaction()!.wait())!.gasUsed;
  });

  it('starts empty with the deployer as anchorer', async () => {
    expect(await anchor.getFunction('anchorer')()).toBe(await anchorer.getAddress());
    expect(await anchor.getFunction('latest')()).toEqual([0n, `0x${'0'.repeat(64)}`]);
  });

  it('anchors a checkpoint and emits CheckpointAnchored with the previous size', async () => {
    const receipt = await send(anchor, 'anchor', 5, root('5'));
    gas.anchorFirst = receipt.gasUsed;
    expect(anchoredEvents(anchor, receipt.logs)).toEqual([[5n, root('5'), 0n]]);
    expect(await anchor.getFunction('rootAt')(5)).toBe(root('5'));
    expect(await anchor.getFunction('latest')()).toEqual([5n, root('5')]);

    const next = await send(anchor, 'anchor', 9, root('9'));
    gas.anchor = next.gasUsed;
    expect(anchoredEvents(anchor, next.logs)).toEqual([[9n, root('9'), 5n]]);
  });

  it('treats re-anchoring the same checkpoint as a no-op (retry after a crash)', async () => {
    expect(await anchor.getFunction('anchor').staticCall(9, root('9'))).toBe(false);
    const receipt = await send(anchor, 'anchor', 9, root('9'));
    gas.anchorRetry = receipt.gasUsed;
    expect(receipt.status).toBe(1);
    expect(receipt.logs).toHaveLength(0);
    // An older checkpoint retried is also accepted, and changes nothing.
    await send(anchor, 'anchor', 5, root('5'));
    expect(await anchor.getFunction('latest')()).toEqual([9n, root('9')]);
  });

  it('rejects a different root for an anchored size as a fork attempt', async () => {
    expect(await revertOf(anchor, 'anchor', 9, root('forged'))).toEqual({
      name: 'ConflictingRoot',
      args: [9n, root('9'), root('forged')],
    });
  });

  it('only lets tree sizes grow', async () => {
    expect(await revertOf(anchor, 'anchor', 7, root('7'))).toEqual({ name: 'TreeSizeNotIncreasing', args: [7n, 9n] });
    expect(await revertOf(anchor, 'anchor', 0, root('0'))).toEqual({ name: 'EmptyTree', args: [] });
    expect(await revertOf(anchor, 'anchor', 12, `0x${'0'.repeat(64)}`)).toEqual({ name: 'ZeroRootHash', args: [12n] });
  });

  it('rejects anchoring by any other account', async () => {
    const asOutsider = anchor.connect(outsider) as Contract;
    expect(await revertOf(asOutsider, 'anchor', 20, root('20'))).toEqual({
      name: 'UnauthorizedAccount',
      args: [await outsider.getAddress()],
    });
  });

  it('anchors a batch in one transaction, one event per new checkpoint', async () => {
    const sizes = Array.from({ length: 10 }, (_, i) => 100 + 10 * i);
    const receipt = await send(anchor, 'anchorBatch', sizes, sizes.map((s) => root(String(s))));
    gas.anchorBatch10 = receipt.gasUsed;
    const events = anchoredEvents(anchor, receipt.logs);
    expect(events.map(([size]) => size)).toEqual(sizes.map(BigInt));
    expect(events[0]![2]).toBe(9n);
    expect(events[9]![2]).toBe(180n);
    expect(await anchor.getFunction('latest')()).toEqual([190n, root('190')]);
  });

  it('skips already anchored checkpoints in a retried or overlapping batch', async () => {
    const sizes = [180, 190, 200];
    expect(await anchor.getFunction('anchorBatch').staticCall(sizes, sizes.map((s) => root(String(s))))).toBe(1n);
    const receipt = await send(anchor, 'anchorBatch', sizes, sizes.map((s) => root(String(s))));
    expect(anchoredEvents(anchor, receipt.logs)).toEqual([[200n, root('200'), 190n]]);
  });

  it('reverts a whole batch on any violation', async () => {
    expect(await revertOf(anchor, 'anchorBatch', [210, 200], [root('210'), root('forged')])).toEqual({
      name: 'ConflictingRoot',
      args: [200n, root('200'), root('forged')],
    });
    expect(await revertOf(anchor, 'anchorBatch', [220, 215], [root('220'), root('215')])).toEqual({
      name: 'TreeSizeNotIncreasing',
      args: [215n, 220n],
    });
    expect(await revertOf(anchor, 'anchorBatch', [230], [])).toEqual({ name: 'InvalidBatch', args: [1n, 0n] });
    expect(await revertOf(anchor, 'anchorBatch', [], [])).toEqual({ name: 'InvalidBatch', args: [0n, 0n] });
    expect(await anchor.getFunction('latest')()).toEqual([200n, root('200')]);
  });

  it('hands the anchoring role over in two steps', async () => {
    const [from, to] = [await anchorer.getAddress(), await outsider.getAddress()];
    const asOutsider = anchor.connect(outsider) as Contract;

    expect(await revertOf(asOutsider, 'transferAnchorer', to)).toEqual({ name: 'UnauthorizedAccount', args: [to] });
    expect(await revertOf(asOutsider, 'acceptAnchorer')).toEqual({ name: 'UnauthorizedAccount', args: [to] });

    await send(anchor, 'transferAnchorer', to);
    expect(await anchor.getFunction('pendingAnchorer')()).toBe(to);
    expect(await anchor.getFunction('anchorer')()).toBe(from); // still in charge until accepted

    const receipt = await send(asOutsider, 'acceptAnchorer');
    const transferred = receipt.logs.map((l) => anchor.interface.parseLog(l)).find((e) => e?.name === 'AnchorerTransferred');
    expect(transferred?.args.toArray()).toEqual([from, to]);
    expect(await anchor.getFunction('anchorer')()).toBe(to);
    expect(await anchor.getFunction('pendingAnchorer')()).toBe(`0x${'0'.repeat(40)}`);

    expect(await revertOf(anchor, 'anchor', 300, root('300'))).toEqual({ name: 'UnauthorizedAccount', args: [from] });
    await send(asOutsider, 'anchor', 300, root('300'));
    expect(await anchor.getFunction('rootAt')(300)).toBe(root('300'));
  });

  it('cannot be deployed without an anchorer', async () => {
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, anchorer);
    const zero = `0x${'0'.repeat(40)}`;
    const error = await factory.deploy(zero).then(() => null, (e: unknown) => e);
    expect(decodeRevert(factory, error)).toEqual({ name: 'InvalidAnchorer', args: [zero] });
  });
});
