/**
 * The custody contracts on the test ledger, driven by real FROST(secp256k1, SHA-256) signatures
 * from the TypeScript module: challenge parity with noble, execute, replay and cross-wallet /
 * cross-chain rejection, key rotation, CREATE2 address prediction. Gas is recorded, not asserted.
 */
import { randomBytes } from 'node:crypto';
import { Contract, Interface, JsonRpcProvider, Wallet, getBytes, hexlify, type JsonRpcSigner } from 'ethers';
import { decodeRevert } from '../../../src/ledger/contract-error.js';
import { challenge, identifierFromNumber, parseSignature, signatureForContract } from '../../../src/custody/frost/index.js';
import { runDkg, runReshare, thresholdSign, type KeySet } from '../frost/support.js';
import {
  artifact,
  connectLedger,
  contractKey,
  deploy,
  executeDigest,
  keyTuple,
  revertOf,
  rotateKeyDigest,
  send,
  sigTuple,
  signDigest,
  type ExecuteCall,
} from './support.js';

const ONE_ETH = 10n ** 18n;
const gas: Record<string, number> = {};

let provider: JsonRpcProvider;
let relayer: JsonRpcSigner;
let chainId: bigint;
let group: KeySet;
let factory: Contract;
let wallet: Contract;
let walletAddress: string;
let harness: Contract;

async function walletAt(address: string): Promise<Contract> {
  return new Contract(address, (await artifact('CustodyWallet')).abi, relayer);
}

beforeAll(async () => {
  provider = connectLedger();
  relayer = await provider.getSigner(5);
  chainId = (await provider.getNetwork()).chainId;
  group = runDkg({ min: 2, max: 3 });
  factory = await deploy(relayer, 'CustodyWalletFactory');
  harness = await deploy(relayer, 'FrostSecp256k1Harness', 'custody/testing');
  const salt = hexlify(randomBytes(32));
  const predicted = (await factory.getFunction('predictAddress')(keyTuple(contractKey(group)), salt)) as string;
  const receipt = await send(factory, 'deploy', keyTuple(contractKey(group)), salt);
  gas.deployWallet = Number(receipt.gasUsed);
  wallet = await walletAt(predicted);
  walletAddress = predicted;
  expect(await provider.getCode(predicted)).not.toBe('0x');
  await (await relayer.sendTransaction({ to: walletAddress, value: 5n * ONE_ETH })).wait();
});

afterAll(() => {
  console.log(`custody contracts gas: ${JSON.stringify(gas)}`);
  provider?.destroy();
});

describe('FrostSecp256k1 library', () => {
  it('computes the RFC 9591 challenge exactly as noble does', async () => {
    const key = contractKey(group);
    for (let i = 0; i < 3; i++) {
      const message = randomBytes(32);
      const signature = thresholdSign(group, group.ids.slice(0, 2), message);
      const { R } = parseSignature(signature);
      const sig = signatureForContract(signature);
      const expected = challenge(R, getBytes(`0x${group.publicPackage.groupPublicKey}`), message);
      expect(await harness.getFunction('challenge')(sig.rx, sig.ry, keyTuple(key), message)).toBe(expected);
      expect(await harness.getFunction('verify')(keyTuple(key), message, sigTuple(sig))).toBe(true);
    }
  });

  it('rejects a wrong z, a wrong R, a wrong message and a wrong key', async () => {
    const key = contractKey(group);
    const message = hexlify(randomBytes(32));
    const sig = signDigest(group, group.ids.slice(0, 2), message);
    const verify = harness.getFunction('verify');
    const [valid, used] = (await harness.getFunction('verifyWithGas')(keyTuple(key), message, sigTuple(sig))) as [boolean, bigint];
    expect(valid).toBe(true);
    gas.verifyLibrary = Number(used);
    expect(await verify(keyTuple(key), message, sigTuple({ ...sig, z: sig.z ^ 1n }))).toBe(false);
    expect(await verify(keyTuple(key), message, sigTuple({ ...sig, ry: sig.ry ^ 1n }))).toBe(false);
    expect(await verify(keyTuple(key), hexlify(randomBytes(32)), sigTuple(sig))).toBe(false);
    expect(await verify([key.x, 1 - key.parity], message, sigTuple(sig))).toBe(false);
    expect(await verify(keyTuple(contractKey(runDkg({ min: 2, max: 3 }))), message, sigTuple(sig))).toBe(false);
  });
});

describe('CustodyWallet', () => {
  const bob = Wallet.createRandom().address;

  it('has the digest the TypeScript side signs', async () => {
    const call: ExecuteCall = { to: bob, value: 7n, data: '0x1234', nonce: 9n };
    expect(await wallet.getFunction('executeDigest')(call.to, call.value, call.data, call.nonce)).toBe(
      executeDigest(chainId, walletAddress, call),
    );
  });

  it('executes a transfer signed 2-of-3; the same signature cannot be replayed', async () => {
    const nonce = (await wallet.getFunction('nonce')()) as bigint;
    const call: ExecuteCall = { to: bob, value: ONE_ETH, data: '0x', nonce };
    const sig = signDigest(group, [group.ids[0]!, group.ids[2]!], executeDigest(chainId, walletAddress, call));
    const receipt = await send(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(sig));
    gas.executeTransfer = Number(receipt.gasUsed);
    expect(await provider.getBalance(bob)).toBe(ONE_ETH);
    expect(await wallet.getFunction('nonce')()).toBe(nonce + 1n);
    const executed = receipt.logs.map((l) => wallet.interface.parseLog(l)).find((e) => e?.name === 'Executed');
    expect(executed?.args.toArray()).toEqual([nonce, bob, ONE_ETH, expect.any(String)]);

    expect(await revertOf(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(sig))).toEqual({
      name: 'InvalidNonce',
      args: [nonce + 1n, nonce],
    });
    // Nor at the next nonce: the signature covers the nonce.
    expect((await revertOf(wallet, 'execute', call.to, call.value, call.data, nonce + 1n, sigTuple(sig))).name).toBe('InvalidSignature');
  });

  it('rejects a wrong signature, and signatures made for another wallet or another chain', async () => {
    const nonce = (await wallet.getFunction('nonce')()) as bigint;
    const call: ExecuteCall = { to: bob, value: ONE_ETH, data: '0x', nonce };
    const args = [call.to, call.value, call.data, call.nonce] as const;
    const otherSalt = hexlify(randomBytes(32));
    await send(factory, 'deploy', keyTuple(contractKey(group)), otherSalt);
    const otherAddress = (await factory.getFunction('predictAddress')(keyTuple(contractKey(group)), otherSalt)) as string;
    expect(otherAddress).not.toBe(walletAddress);

    const forOtherWallet = signDigest(group, group.ids.slice(0, 2), executeDigest(chainId, otherAddress, call));
    const forOtherChain = signDigest(group, group.ids.slice(0, 2), executeDigest(chainId + 1n, walletAddress, call));
    const forOtherValue = signDigest(group, group.ids.slice(0, 2), executeDigest(chainId, walletAddress, { ...call, value: 2n }));
    const stranger = runDkg({ min: 2, max: 3 });
    const byOtherGroup = signDigest(stranger, stranger.ids.slice(0, 2), executeDigest(chainId, walletAddress, call));
    for (const sig of [forOtherWallet, forOtherChain, forOtherValue, byOtherGroup]) {
      expect((await revertOf(wallet, 'execute', ...args, sigTuple(sig))).name).toBe('InvalidSignature');
    }
    // The other wallet (same group key) takes the group's signatures made for it, at its own nonce.
    const otherWallet = await walletAt(otherAddress);
    await (await relayer.sendTransaction({ to: otherAddress, value: ONE_ETH })).wait();
    const otherCall = { ...call, nonce: 0n };
    const forOther = signDigest(group, group.ids.slice(0, 2), executeDigest(chainId, otherAddress, otherCall));
    await send(otherWallet, 'execute', otherCall.to, otherCall.value, otherCall.data, otherCall.nonce, sigTuple(forOther));
    expect(await provider.getBalance(otherAddress)).toBe(0n);
    expect(await wallet.getFunction('nonce')()).toBe(nonce);
  });

  it('reports a failed call with its revert data and consumes no nonce', async () => {
    const nonce = (await wallet.getFunction('nonce')()) as bigint;
    const call: ExecuteCall = { to: await factory.getAddress(), value: 0n, data: '0xdeadbeef', nonce };
    const sig = signDigest(group, group.ids.slice(1), executeDigest(chainId, walletAddress, call));
    expect(await revertOf(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(sig))).toEqual({ name: 'CallFailed', args: ['0x'] });
    expect(await wallet.getFunction('nonce')()).toBe(nonce);
  });

  it('rotates to a new group key (signed by the old group); afterwards only the new group signs', async () => {
    const reshared = runReshare(group, group.ids.slice(0, 2), { min: 3, max: 5 }, [4, 5, 6, 7, 8].map(identifierFromNumber));
    expect(reshared.publicPackage.groupPublicKey).toBe(group.publicPackage.groupPublicKey);
    const next = runDkg({ min: 3, max: 5 });
    const newKey = contractKey(next);
    let nonce = (await wallet.getFunction('nonce')()) as bigint;

    const byNewGroup = signDigest(next, next.ids.slice(0, 3), rotateKeyDigest(chainId, walletAddress, newKey, nonce));
    expect((await revertOf(wallet, 'rotateKey', keyTuple(newKey), nonce, sigTuple(byNewGroup))).name).toBe('InvalidSignature');
    expect((await revertOf(wallet, 'rotateKey', [0n, 0], nonce, sigTuple(byNewGroup))).name).toBe('InvalidGroupKey');

    const sig = signDigest(group, group.ids.slice(0, 2), rotateKeyDigest(chainId, walletAddress, newKey, nonce));
    const receipt = await send(wallet, 'rotateKey', keyTuple(newKey), nonce, sigTuple(sig));
    gas.rotateKey = Number(receipt.gasUsed);
    const rotated = receipt.logs.map((l) => wallet.interface.parseLog(l)).find((e) => e?.name === 'KeyRotated');
    expect(rotated?.args.toArray()).toEqual([nonce, contractKey(group).x, BigInt(contractKey(group).parity), newKey.x, BigInt(newKey.parity)]);
    expect((await wallet.getFunction('groupKey')()).toArray()).toEqual([newKey.x, BigInt(newKey.parity)]);
    nonce += 1n;

    const call: ExecuteCall = { to: bob, value: 3n, data: '0x', nonce };
    const digest = executeDigest(chainId, walletAddress, call);
    const byOld = signDigest(group, group.ids.slice(0, 2), digest);
    const byReshared = signDigest(reshared, reshared.ids.slice(0, 3), digest);
    expect((await revertOf(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(byOld))).name).toBe('InvalidSignature');
    expect((await revertOf(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(byReshared))).name).toBe('InvalidSignature');
    const before = await provider.getBalance(bob);
    const receipt2 = await send(wallet, 'execute', call.to, call.value, call.data, call.nonce, sigTuple(signDigest(next, [next.ids[4]!, next.ids[1]!, next.ids[2]!], digest)));
    gas.executeTransferToExistingAccount = Number(receipt2.gasUsed);
    expect(await provider.getBalance(bob)).toBe(before + 3n);
  });
});

describe('CustodyWalletFactory', () => {
  it('refuses a second wallet for the same key and salt, and an unusable key', async () => {
    const salt = hexlify(randomBytes(32));
    const key = keyTuple(contractKey(group));
    const predicted = (await factory.getFunction('predictAddress')(key, salt)) as string;
    await send(factory, 'deploy', key, salt);
    expect(await revertOf(factory, 'deploy', key, salt)).toEqual({ name: 'WalletAlreadyDeployed', args: [predicted] });
    const order = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    // The wallet's constructor refuses the key; the factory passes its revert on.
    const walletAbi = new Interface((await artifact('CustodyWallet')).abi);
    for (const bad of [[order, 0], [0n, 0], [1n, 2]]) {
      const error = await factory.getFunction('deploy').staticCall(bad, salt).then(() => null, (e: unknown) => e);
      expect(decodeRevert(walletAbi, error)?.name).toBe('InvalidGroupKey');
    }
  });
});
