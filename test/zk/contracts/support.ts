/**
 * Shared fixtures of the zero-knowledge contract tests: the test ledger (the Hardhat node of the
 * global setup), deployment from the compiled artifacts, decoded custom errors, moving chain time,
 * the caller-bound challenge computed off chain, and real Groth16 proofs in the gates' calldata form.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AbiCoder,
  Contract,
  ContractFactory,
  JsonRpcProvider,
  keccak256,
  type JsonRpcSigner,
  type Log,
  type TransactionReceipt,
} from 'ethers';
import * as snarkjs from 'snarkjs';
import { decodeRevert, type ContractRevert } from '../../../src/ledger/contract-error.js';
import { FIELD_MODULUS } from '../../../src/zk/circuit-inputs.js';

const ROOT = process.cwd();

/** The test ledger; every contract test deploys its own contracts on it. */
export function connectLedger(): JsonRpcProvider {
  const url = process.env.LEDGER_RPC_URL;
  if (!url) throw new Error('LEDGER_RPC_URL is not set (the Jest global setup starts the ledger)');
  return new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
}

/** Deploy `name` from artifacts/contracts/<source>/<name>.json; returns the contract and its deployment gas. */
export async function deploy(
  signer: JsonRpcSigner,
  source: string,
  name: string,
  args: unknown[] = [],
): Promise<{ contract: Contract; gasUsed: bigint }> {
  const factory = await factoryOf(signer, source, name);
  const contract = (await factory.deploy(...args)) as Contract;
  const receipt = await contract.deploymentTransaction()!.wait();
  return { contract, gasUsed: receipt!.gasUsed };
}

/** A contract factory for `name` (to check constructor reverts). */
export async function factoryOf(signer: JsonRpcSigner, source: string, name: string): Promise<ContractFactory> {
  const file = path.join(ROOT, 'artifacts', 'contracts', source, `${name}.json`);
  const artifact = JSON.parse(await readFile(file, 'utf8')) as { abi: []; bytecode: string };
  return new ContractFactory(artifact.abi, artifact.bytecode, signer);
}

/** Send, wait, return the receipt (gas, logs). */
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

/** The events named `name` in `logs`, as argument arrays. */
export function eventsOf(contract: Contract, logs: readonly Log[], name: string): unknown[][] {
  return logs
    .map((log) => contract.interface.parseLog(log))
    .filter((event) => event?.name === name)
    .map((event) => event!.args.toArray());
}

/** Timestamp of the latest block (what `eth_call` and the next checks see). */
export async function latestTimestamp(provider: JsonRpcProvider): Promise<number> {
  return (await provider.getBlock('latest'))!.timestamp;
}

/** Moves chain time forward with evm_increaseTime + evm_mine so that the latest block is at `timestamp` or just after it. */
export async function mineAtLeast(provider: JsonRpcProvider, timestamp: number): Promise<number> {
  const delta = timestamp - (await latestTimestamp(provider));
  if (delta > 0) await provider.send('evm_increaseTime', [delta]);
  await provider.send('evm_mine', []);
  const now = await latestTimestamp(provider);
  if (now < timestamp) throw new Error(`chain time ${now} did not reach ${timestamp}`);
  return now;
}

/** Mines one block at exactly `timestamp` (Hardhat's evm_mine with a timestamp; only forward). */
export async function mineAt(provider: JsonRpcProvider, timestamp: number): Promise<void> {
  await provider.send('evm_mine', [timestamp]);
  const now = await latestTimestamp(provider);
  if (now !== timestamp) throw new Error(`mined at ${now}, wanted ${timestamp}`);
}

/** The gates' challenge, computed off chain: keccak256(abi.encode(chainId, gate, account)) mod p. */
export function callerChallenge(chainId: bigint, gate: string, account: string): bigint {
  const encoded = AbiCoder.defaultAbiCoder().encode(['uint256', 'address', 'address'], [chainId, gate, account]);
  return BigInt(keccak256(encoded)) % FIELD_MODULUS;
}

/** A proof in the gates' calldata form: (a, b, c, publicSignals), as snarkjs exports it. */
export type GateCalldata = [a: string[], b: string[][], c: string[], signals: string[]];

/** A real Groth16 proof of `circuit` from the committed build (circuits/build/<circuit>/). */
export async function proveForGate(circuit: 'balance' | 'eligibility', input: Record<string, string | string[]>): Promise<GateCalldata> {
  const dir = path.join(ROOT, 'circuits', 'build', circuit);
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(
    input,
    path.join(dir, `${circuit}.wasm`),
    path.join(dir, `${circuit}_final.zkey`),
  );
  return JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(proof, publicSignals)}]`) as GateCalldata;
}

/** `calldata` with public signal `index` replaced by `value`. */
export function withSignal(calldata: GateCalldata, index: number, value: bigint): GateCalldata {
  const [a, b, c, signals] = calldata;
  const changed = [...signals];
  changed[index] = `0x${value.toString(16).padStart(64, '0')}`;
  return [a, b, c, changed];
}

/** snarkjs starts worker threads; end them or the test process hangs. */
export async function stopProverThreads(): Promise<void> {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}

/** Gas figures are recorded, not asserted: one line for the contracts README. */
export function logGas(label: string, gas: Record<string, bigint>): void {
  if (Object.keys(gas).length === 0) return;
  console.log(`${label} gas: ${JSON.stringify(gas, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
}
