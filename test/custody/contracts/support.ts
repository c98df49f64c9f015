/**
 * Ledger helpers for the custody contract tests: the test ledger from the Jest global setup,
 * deployment from the compiled artifacts, decoded custom errors, EIP-712 digests and FROST
 * signatures in the contracts' form.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, TypedDataEncoder, type JsonRpcSigner, type TransactionReceipt } from 'ethers';
import { decodeRevert, type ContractRevert } from '../../../src/ledger/contract-error.js';
import { groupKeyForContract, signatureForContract, type ContractGroupKey, type ContractSignature } from '../../../src/custody/frost/index.js';
import { thresholdSign, type KeySet } from '../frost/support.js';

export function connectLedger(): JsonRpcProvider {
  const url = process.env.LEDGER_RPC_URL;
  if (!url) throw new Error('LEDGER_RPC_URL is not set (the Jest global setup starts the ledger)');
  return new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
}

export async function artifact(name: string, folder = 'custody'): Promise<{ abi: []; bytecode: string }> {
  const file = path.join(process.cwd(), 'artifacts', 'contracts', folder, `${name}.sol`, `${name}.json`);
  return JSON.parse(await readFile(file, 'utf8')) as { abi: []; bytecode: string };
}

export async function deploy(signer: JsonRpcSigner, name: string, folder = 'custody', args: unknown[] = []): Promise<Contract> {
  const { abi, bytecode } = await artifact(name, folder);
  const contract = (await new ContractFactory(abi, bytecode, signer).deploy(...args)) as Contract;
  await contract.deploymentTransaction()!.wait();
  return contract;
}

export async function send(contract: Contract, method: string, ...args: unknown[]): Promise<TransactionReceipt> {
  const tx = await contract.getFunction(method)(...args);
  return (await tx.wait())!;
}

/** The custom error a call reverts with, decoded with the contract's ABI. */
export async function revertOf(contract: Contract, method: string, ...args: unknown[]): Promise<ContractRevert> {
  const error = await contract.getFunction(method).staticCall(...args).then(
    () => {
      throw new Error(`${method} did not revert`);
    },
    (e: unknown) => e,
  );
  const revert = decodeRevert(contract, error);
  if (!revert) throw error;
  return revert;
}

/** The wallet contract's EIP-712 domain. */
export const walletDomain = (chainId: bigint, wallet: string) => ({ name: 'CustodyWallet', version: '1', chainId, verifyingContract: wallet });

export const EXECUTE_TYPES = {
  Execute: [
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'data', type: 'bytes' },
    { name: 'nonce', type: 'uint256' },
  ],
};

export const ROTATE_KEY_TYPES = {
  RotateKey: [
    { name: 'newKeyX', type: 'uint256' },
    { name: 'newKeyParity', type: 'uint8' },
    { name: 'nonce', type: 'uint256' },
  ],
};

export interface ExecuteCall {
  to: string;
  value: bigint;
  data: string;
  nonce: bigint;
}

export const executeDigest = (chainId: bigint, wallet: string, call: ExecuteCall): string =>
  TypedDataEncoder.hash(walletDomain(chainId, wallet), EXECUTE_TYPES, call);

export const rotateKeyDigest = (chainId: bigint, wallet: string, key: ContractGroupKey, nonce: bigint): string =>
  TypedDataEncoder.hash(walletDomain(chainId, wallet), ROTATE_KEY_TYPES, { newKeyX: key.x, newKeyParity: key.parity, nonce });

/** A threshold signature by `signers` of `set` over a 32-byte digest, in the contracts' form. */
export function signDigest(set: KeySet, signers: string[], digest: string): ContractSignature {
  const bytes = Uint8Array.from(Buffer.from(digest.slice(2), 'hex'));
  return signatureForContract(thresholdSign(set, signers, bytes));
}

export const contractKey = (set: KeySet): ContractGroupKey => groupKeyForContract(set.publicPackage.groupPublicKey);

export const sigTuple = (s: ContractSignature) => [s.rx, s.ry, s.z] as const;
export const keyTuple = (k: ContractGroupKey) => [k.x, k.parity] as const;
