/**
 * Shared pieces of the proving tests: witnesses built with the project's circuit-inputs
 * helpers on a local tree, and the snarkjs command-line verifier (an independent check).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  PoseidonMerkleTree,
  balanceLeaf,
  commitment,
  identityLeaf,
  type BalanceWitness,
  type EligibilityWitness,
} from '../../../src/zk/circuit-inputs.js';
import { circuitArtifacts, projectRoot, type CircuitName } from '../../../src/zk/proving/prover-pool.js';

const SNARKJS_CLI = path.join(projectRoot(), 'node_modules/snarkjs/build/cli.cjs');

/** `snarkjs groth16 verify` on files, as a relying party would run it. True when it says OK. */
export async function verifyWithCli(circuit: CircuitName, proof: unknown, publicSignals: unknown): Promise<boolean> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zk-cli-'));
  try {
    await writeFile(path.join(dir, 'proof.json'), JSON.stringify(proof));
    await writeFile(path.join(dir, 'public.json'), JSON.stringify(publicSignals));
    const code = await new Promise<number>((resolve) => {
      execFile(
        process.execPath,
        [SNARKJS_CLI, 'groth16', 'verify', circuitArtifacts(circuit).verificationKey, path.join(dir, 'public.json'), path.join(dir, 'proof.json')],
        (err) => resolve(err ? 1 : 0),
      );
    });
    return code === 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A balance witness for one account in a fresh local tree (leaf 3). */
export async function localBalanceWitness(opts: { balance?: bigint; threshold?: bigint; challenge?: bigint } = {}): Promise<BalanceWitness> {
  const accountSecret = 0x5ec2e7n;
  const balance = opts.balance ?? 1_000_000n;
  const salt = 0x5a17n;
  const tree = await PoseidonMerkleTree.create();
  for (let i = 0; i < 3; i++) tree.insert(BigInt(i + 11));
  const index = tree.insert(await balanceLeaf(await commitment(accountSecret), balance, salt));
  const p = tree.path(index);
  return {
    accountSecret,
    balance,
    salt,
    pathElements: p.pathElements,
    pathIndices: p.pathIndices,
    root: tree.root,
    threshold: opts.threshold ?? 500_000n,
    challenge: opts.challenge ?? 0xc0ffeen,
  };
}

/** An eligibility witness for one identity (born 1990-05-17, jurisdiction 276) in a fresh local tree. */
export async function localEligibilityWitness(opts: { scope?: bigint; challenge?: bigint } = {}): Promise<EligibilityWitness> {
  const identitySecret = 0x1d3a7n;
  const tree = await PoseidonMerkleTree.create();
  const index = tree.insert(await identityLeaf(await commitment(identitySecret), 19900517, 276));
  const p = tree.path(index);
  return {
    identitySecret,
    birthDate: 19900517,
    jurisdiction: 276,
    pathElements: p.pathElements,
    pathIndices: p.pathIndices,
    root: tree.root,
    currentDate: 20261122,
    minAge: 18,
    denylist: [408, 364],
    scope: opts.scope ?? 0x5c09en,
    challenge: opts.challenge ?? 0xc4a11n,
  };
}
