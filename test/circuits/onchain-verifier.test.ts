/**
 * The generated Solidity verifier accepts the proof the committed artifacts produce, and rejects
 * it when a public signal changes, on the Hardhat node started by the test setup.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildPoseidon } from 'circomlibjs';
import { ContractFactory, JsonRpcProvider } from 'ethers';
import * as snarkjs from 'snarkjs';

const BUILD = path.resolve('circuits/build/poseidon_preimage');
const ARTIFACT = path.resolve('artifacts/contracts/verifiers/PoseidonPreimageVerifier.sol/PoseidonPreimageVerifier.json');

type Calldata = [string[], string[][], string[], string[]];

describe('PoseidonPreimageVerifier on chain', () => {
  let provider: JsonRpcProvider;
  let verifier: any;
  let calldata: Calldata;

  beforeAll(async () => {
    provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, undefined, { cacheTimeout: -1 });
    const signer = await provider.getSigner(0);
    const artifact = JSON.parse(await readFile(ARTIFACT, 'utf8'));
    verifier = await new ContractFactory(artifact.abi, artifact.bytecode, signer).deploy();
    await verifier.waitForDeployment();

    const poseidon = await buildPoseidon();
    const preimage = 987654321n;
    const hash = poseidon.F.toObject(poseidon([preimage])) as bigint;
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      { preimage: preimage.toString(), hash: hash.toString(), challenge: '42' },
      path.join(BUILD, 'poseidon_preimage.wasm'),
      path.join(BUILD, 'poseidon_preimage_final.zkey'),
    );
    calldata = JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(proof, publicSignals)}]`) as Calldata;
  });

  afterAll(async () => {
    provider?.destroy();
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it('accepts a valid proof from the committed artifacts', async () => {
    expect(await verifier.verifyProof(...calldata)).toBe(true);
    const gas = await verifier.verifyProof.estimateGas(...calldata);
    expect(gas).toBeGreaterThan(21_000n);
  });

  it('rejects the proof for another challenge', async () => {
    const [a, b, c, signals] = calldata;
    const other = [signals[0]!, '0x' + (43).toString(16).padStart(64, '0')];
    expect(await verifier.verifyProof(a, b, c, other)).toBe(false);
  });
});
