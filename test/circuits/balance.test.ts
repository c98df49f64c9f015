/**
 * balance: the holder of an account in the balance tree proves balance >= threshold for a
 * relying party's challenge. Inputs come from src/zk/circuit-inputs.ts; proofs are made
 * with the committed wasm and zkey and verified with the committed verification key,
 * in-process and with the snarkjs CLI. Each false statement fails witness generation
 * (no proof exists), at the constraint that catches it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as snarkjs from 'snarkjs';
import {
  MAX_UINT64,
  PoseidonMerkleTree,
  balanceInput,
  balanceLeaf,
  commitment,
  formatBalanceSignals,
  parseBalanceSignals,
  type BalanceWitness,
} from '../../src/zk/circuit-inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'circuits/build/balance');
const WASM = path.join(BUILD, 'balance.wasm');
const ZKEY = path.join(BUILD, 'balance_final.zkey');
const VKEY = path.join(BUILD, 'verification_key.json');
const SNARKJS_CLI = path.join(ROOT, 'node_modules/snarkjs/build/cli.cjs');
const SOURCE = path.join(ROOT, 'circuits/balance.circom');

const SECRET = 0x5ec2e7a11ce5n;
const SALT = 0x5a17n;
const BALANCE = 1_500_000n;
const CHALLENGE = 0xc0ffeen;

function snarkjsCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SNARKJS_CLI, ...args], (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
    });
  });
}

/** Witness generation fails; returns what the witness calculator reported (template and line). */
async function expectNoWitness(w: BalanceWitness): Promise<string> {
  const consoleError = console.error;
  const reported: unknown[] = [];
  console.error = (...args: unknown[]) => void reported.push(...args);
  try {
    await expect(snarkjs.groth16.fullProve(balanceInput(w), WASM, ZKEY)).rejects.toThrow(/Assert Failed/);
  } finally {
    console.error = consoleError;
  }
  return reported.join(' ');
}

describe('balance circuit', () => {
  let source: string[];
  /** The witness calculator's report for a failed constraint of the main template, found by its text. */
  const failsAt = (statement: string): RegExp => {
    const line = source.findIndex((l) => l.trim() === statement) + 1;
    if (line === 0) throw new Error(`no line ${statement} in balance.circom`);
    return new RegExp(`Error in template Balance_\\d+ line: ${line}\\b`);
  };
  let tree: PoseidonMerkleTree;
  let vkey: unknown;
  let witness: BalanceWitness;
  let valid: { proof: snarkjs.Groth16Proof; publicSignals: snarkjs.PublicSignals };

  /** A witness for an account with `balance` inserted into `tree` (the root is the tree's root after insertion). */
  let nextSecret = 1000n;
  async function account(balance: bigint): Promise<BalanceWitness> {
    const secret = nextSecret++;
    const index = tree.insert(await balanceLeaf(await commitment(secret), balance, SALT));
    return { accountSecret: secret, balance, salt: SALT, ...tree.path(index), root: tree.root, threshold: 1n, challenge: CHALLENGE };
  }

  beforeAll(async () => {
    source = (await readFile(SOURCE, 'utf8')).split('\n');
    tree = await PoseidonMerkleTree.create();
    for (let i = 0; i < 3; i++) tree.insert(await balanceLeaf(await commitment(BigInt(i + 1)), 10n, BigInt(i)));
    const index = tree.insert(await balanceLeaf(await commitment(SECRET), BALANCE, SALT));
    tree.insert(await balanceLeaf(await commitment(99n), 5n, 5n));
    witness = {
      accountSecret: SECRET,
      balance: BALANCE,
      salt: SALT,
      ...tree.path(index),
      root: tree.root,
      threshold: 1_000_000n,
      challenge: CHALLENGE,
    };
    vkey = JSON.parse(await readFile(VKEY, 'utf8'));
    valid = await snarkjs.groth16.fullProve(balanceInput(witness), WASM, ZKEY);
  });

  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it('proves balance >= threshold; the public signals are [root, threshold, challenge]', async () => {
    expect(valid.publicSignals).toEqual(formatBalanceSignals({ root: tree.root, threshold: 1_000_000n, challenge: CHALLENGE }));
    expect(parseBalanceSignals(valid.publicSignals)).toEqual({ root: tree.root, threshold: 1_000_000n, challenge: CHALLENGE });
    expect(await snarkjs.groth16.verify(vkey, valid.publicSignals, valid.proof)).toBe(true);
  });

  it('proves a balance equal to the threshold, at the 64-bit maximum', async () => {
    const w = { ...(await account(MAX_UINT64)), threshold: MAX_UINT64 };
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(balanceInput(w), WASM, ZKEY);
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);
  });

  it('has no witness for a balance below the threshold', async () => {
    const reported = await expectNoWitness({ ...witness, threshold: BALANCE + 1n });
    expect(reported).toMatch(failsAt('enough.out === 1;'));
  });

  it('has no witness for a balance or threshold of 2^64 or more (64-bit range checks)', async () => {
    const big = await account(1n << 64n);
    expect(await expectNoWitness(big)).toContain('Error in template Num2Bits');
    // p - 1 is "-1" in the field: without the range check it would wrap around.
    const minusOne = await account(21888242871839275222246405745257275088548364400416034343698204186575808495616n);
    expect(await expectNoWitness(minusOne)).toContain('Error in template Num2Bits');
    const w = await account(MAX_UINT64);
    expect(await expectNoWitness({ ...w, threshold: 1n << 64n })).toContain('Error in template Num2Bits');
  });

  it('has no witness for a wrong root, a wrong path, a wrong secret or a wrong balance', async () => {
    const otherRoot = { ...witness, root: tree.zero(20) };
    const pathElements = [...witness.pathElements];
    pathElements[7] = 12345n;
    const pathIndices = [...witness.pathIndices];
    pathIndices[0] = pathIndices[0] === 1 ? 0 : 1;
    for (const w of [
      otherRoot,
      { ...witness, pathElements },
      { ...witness, pathIndices },
      { ...witness, accountSecret: SECRET + 1n },
      { ...witness, balance: BALANCE + 1n },
    ]) {
      expect(await expectNoWitness(w)).toMatch(failsAt('root === tree.root;'));
    }
  });

  it('rejects the proof when the challenge, threshold or root is changed', async () => {
    const s = parseBalanceSignals(valid.publicSignals);
    for (const changed of [
      { ...s, challenge: s.challenge + 1n },
      { ...s, threshold: s.threshold - 1n },
      { ...s, root: tree.zero(20) },
    ]) {
      expect(await snarkjs.groth16.verify(vkey, formatBalanceSignals(changed), valid.proof)).toBe(false);
    }
  });

  describe('with the snarkjs command line', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'balance-proof-'));
      await writeFile(path.join(dir, 'proof.json'), JSON.stringify(valid.proof));
      await writeFile(path.join(dir, 'public.json'), JSON.stringify(valid.publicSignals));
      const s = parseBalanceSignals(valid.publicSignals);
      await writeFile(path.join(dir, 'replayed.json'), JSON.stringify(formatBalanceSignals({ ...s, challenge: 1n })));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('verifies the proof and rejects it for another challenge', async () => {
      const ok = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'public.json'), path.join(dir, 'proof.json')]);
      expect(ok.stdout).toContain('OK!');
      expect(ok.code).toBe(0);
      const replayed = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'replayed.json'), path.join(dir, 'proof.json')]);
      expect(replayed.stdout).toContain('Invalid proof');
      expect(replayed.code).not.toBe(0);
    });
  });
});
