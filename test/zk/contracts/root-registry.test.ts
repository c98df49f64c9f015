/**
 * RootRegistry on the test ledger: who may publish, the history window (a superseded root stays
 * valid for exactly windowSeconds), idempotent republishing, re-activating an older root.
 */
import type { Contract, JsonRpcProvider, JsonRpcSigner } from 'ethers';
import { decodeRevert } from '../../../src/ledger/contract-error.js';
import { connectLedger, deploy, eventsOf, factoryOf, mineAt, mineAtLeast, revertOf, send, logGas } from './support.js';

const WINDOW = 30;
const SOURCE = 'zk/RootRegistry.sol';
const [R1, R2, R3] = [111n, 222n, 333n];

let provider: JsonRpcProvider;
let publisher: JsonRpcSigner;
let outsider: JsonRpcSigner;
let registry: Contract;
const gas: Record<string, bigint> = {};

beforeAll(async () => {
  provider = connectLedger();
  publisher = await provider.getSigner(0);
  outsider = await provider.getSigner(3);
  const deployed = await deploy(publisher, SOURCE, 'RootRegistry', [await publisher.getAddress(), WINDOW]);
  registry = deployed.contract;
  gas.deploy = deployed.gasUsed;
});

afterAll(() => {
  provider?.destroy();
  logGas('RootRegistry', gas);
});

const valid = (root: bigint): Promise<boolean> => registry.getFunction('isValidRoot')(root);
const info = (root: bigint): Promise<[boolean, boolean, bigint]> =>
  registry.getFunction('rootInfo')(root).then((r: { toArray(): unknown[] }) => r.toArray() as [boolean, boolean, bigint]);

describe('RootRegistry', () => {
  it('starts empty, with its publisher and window', async () => {
    expect(await registry.getFunction('publisher')()).toBe(await publisher.getAddress());
    expect(await registry.getFunction('windowSeconds')()).toBe(BigInt(WINDOW));
    expect(await registry.getFunction('currentRoot')()).toBe(0n);
    expect(await valid(0n)).toBe(false);
    expect(await valid(R1)).toBe(false);
    expect(await info(R1)).toEqual([false, false, 0n]);
  });

  it('lets only the publisher publish', async () => {
    const asOutsider = registry.connect(outsider) as Contract;
    expect(await revertOf(asOutsider, 'publishRoot', R1)).toEqual({
      name: 'UnauthorizedPublisher',
      args: [await outsider.getAddress()],
    });
  });

  it('rejects the zero root', async () => {
    expect(await revertOf(registry, 'publishRoot', 0n)).toEqual({ name: 'ZeroRoot', args: [] });
  });

  it('publishes a first root with no previous one', async () => {
    const receipt = await send(registry, 'publishRoot', R1);
    gas.publishFirst = receipt.gasUsed;
    expect(eventsOf(registry, receipt.logs, 'RootPublished')).toEqual([[R1, 0n, 0n]]);
    expect(await registry.getFunction('currentRoot')()).toBe(R1);
    expect(await valid(R1)).toBe(true);
    expect(await info(R1)).toEqual([true, true, 0n]);
  });

  it('treats republishing the current root as a no-op', async () => {
    const receipt = await send(registry, 'publishRoot', R1);
    gas.publishCurrentNoop = receipt.gasUsed;
    expect(receipt.status).toBe(1);
    expect(receipt.logs).toHaveLength(0);
    expect(await registry.getFunction('currentRoot')()).toBe(R1);
  });

  it('keeps a superseded root valid for exactly windowSeconds', async () => {
    const receipt = await send(registry, 'publishRoot', R2);
    gas.publishNext = receipt.gasUsed;
    const supersededAt = (await provider.getBlock(receipt.blockNumber))!.timestamp;
    const validUntil = supersededAt + WINDOW;
    expect(eventsOf(registry, receipt.logs, 'RootPublished')).toEqual([[R2, R1, BigInt(validUntil)]]);
    expect(await registry.getFunction('currentRoot')()).toBe(R2);
    expect(await info(R1)).toEqual([true, false, BigInt(validUntil)]);
    expect(await info(R2)).toEqual([true, true, 0n]);
    expect(await valid(R1)).toBe(true);

    // Time passes (evm_increaseTime + evm_mine) but stays inside the window.
    await mineAtLeast(provider, supersededAt + WINDOW / 2);
    expect(await valid(R1)).toBe(true);
    // The last second of the window, then the first second after it.
    await mineAt(provider, validUntil);
    expect(await valid(R1)).toBe(true);
    await mineAt(provider, validUntil + 1);
    expect(await valid(R1)).toBe(false);
    expect(await info(R1)).toEqual([true, false, BigInt(validUntil)]);
    // The current root never expires.
    await mineAtLeast(provider, validUntil + WINDOW);
    expect(await valid(R2)).toBe(true);
  });

  it('re-activates an older root when it is published again', async () => {
    const receipt = await send(registry, 'publishRoot', R1);
    gas.publishReactivate = receipt.gasUsed;
    const at = (await provider.getBlock(receipt.blockNumber))!.timestamp;
    expect(eventsOf(registry, receipt.logs, 'RootPublished')).toEqual([[R1, R2, BigInt(at + WINDOW)]]);
    expect(await registry.getFunction('currentRoot')()).toBe(R1);
    expect(await info(R1)).toEqual([true, true, 0n]);
    expect(await valid(R1)).toBe(true);
    expect(await valid(R2)).toBe(true); // R2 now has its own window

    // Superseded again: the window starts from the new supersession.
    const again = await send(registry, 'publishRoot', R3);
    const supersededAt = (await provider.getBlock(again.blockNumber))!.timestamp;
    expect(await info(R1)).toEqual([true, false, BigInt(supersededAt + WINDOW)]);
    expect(await valid(R1)).toBe(true);
    expect(await valid(333_333n)).toBe(false); // never published
  });

  it('cannot be deployed without a publisher', async () => {
    const factory = await factoryOf(publisher, SOURCE, 'RootRegistry');
    const error = await factory.deploy(`0x${'0'.repeat(40)}`, WINDOW).then(
      () => null,
      (e: unknown) => e,
    );
    expect(decodeRevert(factory, error)).toEqual({ name: 'InvalidPublisher', args: [] });
  });

  it('saturates validUntil instead of overflowing for a huge window', async () => {
    const max = (1n << 64n) - 1n;
    const { contract } = await deploy(publisher, SOURCE, 'RootRegistry', [await publisher.getAddress(), max]);
    await send(contract, 'publishRoot', R1);
    const receipt = await send(contract, 'publishRoot', R2);
    expect(eventsOf(contract, receipt.logs, 'RootPublished')).toEqual([[R2, R1, max]]);
    expect(await contract.getFunction('isValidRoot')(R1)).toBe(true);
  });
});
