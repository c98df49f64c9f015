/**
 * eligibility: the holder of a KYC identity proves membership of the issuer's tree, age >=
 * minAge on currentDate, a jurisdiction outside the denylist, and outputs the nullifier of
 * the scope. Inputs come from src/zk/circuit-inputs.ts; proofs use the committed wasm and
 * zkey and the committed verification key, in-process and with the snarkjs CLI. Each false
 * statement fails witness generation. Three proofs in all (about 1-2 s each).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as snarkjs from 'snarkjs';
import {
  PoseidonMerkleTree,
  commitment,
  eligibilityInput,
  formatEligibilitySignals,
  identityLeaf,
  nullifier,
  parseEligibilitySignals,
  poseidon,
  type EligibilityWitness,
} from '../../src/zk/circuit-inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'circuits/build/eligibility');
const WASM = path.join(BUILD, 'eligibility.wasm');
const ZKEY = path.join(BUILD, 'eligibility_final.zkey');
const VKEY = path.join(BUILD, 'verification_key.json');
const SNARKJS_CLI = path.join(ROOT, 'node_modules/snarkjs/build/cli.cjs');
const SOURCE = path.join(ROOT, 'circuits/eligibility.circom');

const TODAY = 20260615;
const FRANCE = 250;
const DENYLIST = [408, 364, 760]; // KP, IR, SY; the other five slots are 0
const SCOPE = 0x5c09e1n;
const CHALLENGE = 0xc0ffeen;

function snarkjsCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SNARKJS_CLI, ...args], (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
    });
  });
}

/** Witness generation fails; returns what the witness calculator reported (template and line). */
async function expectNoWitness(w: EligibilityWitness): Promise<string> {
  const consoleError = console.error;
  const reported: unknown[] = [];
  console.error = (...args: unknown[]) => void reported.push(...args);
  try {
    await expect(snarkjs.groth16.fullProve(eligibilityInput(w), WASM, ZKEY)).rejects.toThrow(/Assert Failed/);
  } finally {
    console.error = consoleError;
  }
  return reported.join(' ');
}

describe('eligibility circuit', () => {
  let source: string[];
  /** The witness calculator's report for a failed constraint of the main template, found by its text. */
  const failsAt = (statement: string): RegExp => {
    const line = source.findIndex((l) => l.trim() === statement) + 1;
    if (line === 0) throw new Error(`no line ${statement} in eligibility.circom`);
    return new RegExp(`Error in template Eligibility_\\d+ line: ${line}\\b`);
  };
  let tree: PoseidonMerkleTree;
  let vkey: unknown;
  let nextSecret = 0x1de470000n;
  let valid: { proof: snarkjs.Groth16Proof; publicSignals: snarkjs.PublicSignals };
  let adult: EligibilityWitness;

  /** Enrols an identity (the issuer inserts its leaf) and returns a witness against the current root. */
  async function enrol(birthDate: number, jurisdiction: number): Promise<EligibilityWitness> {
    const identitySecret = nextSecret++;
    const index = tree.insert(await identityLeaf(await commitment(identitySecret), birthDate, jurisdiction));
    return {
      identitySecret,
      birthDate,
      jurisdiction,
      ...tree.path(index),
      root: tree.root,
      currentDate: TODAY,
      minAge: 18,
      denylist: DENYLIST,
      scope: SCOPE,
      challenge: CHALLENGE,
    };
  }

  beforeAll(async () => {
    source = (await readFile(SOURCE, 'utf8')).split('\n');
    tree = await PoseidonMerkleTree.create();
    for (let i = 0; i < 4; i++) await enrol(19700101 + i, 276);
    adult = await enrol(19900310, FRANCE);
    vkey = JSON.parse(await readFile(VKEY, 'utf8'));
    valid = await snarkjs.groth16.fullProve(eligibilityInput(adult), WASM, ZKEY);
  });

  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it('proves eligibility; the signals are [nullifier, root, currentDate, minAge, denylist[8], scope, challenge]', async () => {
    expect(await snarkjs.groth16.verify(vkey, valid.publicSignals, valid.proof)).toBe(true);
    const expectedNullifier = await poseidon([adult.identitySecret, SCOPE]);
    expect(valid.publicSignals).toEqual(
      formatEligibilitySignals({
        nullifier: expectedNullifier,
        root: BigInt(adult.root),
        currentDate: BigInt(TODAY),
        minAge: 18n,
        denylist: [408n, 364n, 760n, 0n, 0n, 0n, 0n, 0n],
        scope: SCOPE,
        challenge: CHALLENGE,
      }),
    );
    expect(parseEligibilitySignals(valid.publicSignals).nullifier).toBe(await nullifier(adult.identitySecret, SCOPE));
  });

  it('the nullifier is fixed per identity and scope, and differs across scopes', async () => {
    const otherScope = { ...adult, scope: SCOPE + 1n, challenge: 7n };
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(eligibilityInput(otherScope), WASM, ZKEY);
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);
    const first = parseEligibilitySignals(valid.publicSignals).nullifier;
    const second = parseEligibilitySignals(publicSignals).nullifier;
    expect(second).toBe(await nullifier(adult.identitySecret, SCOPE + 1n));
    expect(second).not.toBe(first);
    // Same identity and scope, another challenge and root: same nullifier (what a gate contract stores).
    expect(await nullifier(adult.identitySecret, SCOPE)).toBe(first);
  });

  it('proves age on the exact birthday; one day short has no witness', async () => {
    const birthday = await enrol(20080615, FRANCE); // 18 on 2026-06-15
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(eligibilityInput(birthday), WASM, ZKEY);
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);

    expect(await expectNoWitness({ ...birthday, currentDate: 20260614 })).toMatch(failsAt('oldEnough.out === 1;'));
    const dayShort = await enrol(20080616, FRANCE);
    expect(await expectNoWitness(dayShort)).toMatch(failsAt('oldEnough.out === 1;'));
    // Across a month and a year boundary: 18 on 2027-01-01, not on 2026-12-31.
    const newYear = await enrol(20090101, FRANCE);
    expect(await expectNoWitness({ ...newYear, currentDate: 20261231 })).toMatch(failsAt('oldEnough.out === 1;'));
  });

  it('has no witness for out-of-range dates or minimum age', async () => {
    expect(await expectNoWitness({ ...adult, minAge: 256 })).toContain('Error in template Num2Bits');
    expect(await expectNoWitness({ ...adult, currentDate: 2 ** 27 })).toContain('Error in template Num2Bits');
  });

  it('has no witness for a denylisted jurisdiction or jurisdiction 0', async () => {
    const iran = await enrol(19800101, 364);
    expect(await expectNoWitness(iran)).toMatch(failsAt('product[denySize] * productInverse === 1;'));
    expect(await expectNoWitness({ ...adult, denylist: [...DENYLIST, FRANCE] })).toMatch(failsAt('product[denySize] * productInverse === 1;'));
    const none = await enrol(19800101, 0);
    // Jurisdiction 0 fails even with an empty denylist (all slots 0).
    expect(await expectNoWitness({ ...none, denylist: [] })).toMatch(failsAt('product[denySize] * productInverse === 1;'));
  });

  it('has no witness for a revoked identity against the root after revocation', async () => {
    const w = await enrol(19850505, FRANCE);
    const index = tree.nextIndex - 1;
    tree.update(index, 0n); // the issuer revokes: the leaf is emptied, the root changes
    expect(tree.root).not.toBe(w.root);
    expect(await expectNoWitness({ ...w, root: tree.root })).toMatch(failsAt('root === tree.root;'));
    // The path the wallet held does not lead to the new root, and the fresh path is the empty leaf's.
    expect(await expectNoWitness({ ...w, ...tree.path(index), root: tree.root })).toMatch(failsAt('root === tree.root;'));
  });

  it('has no witness for a wrong secret, birth date or jurisdiction (the leaf is attested)', async () => {
    for (const w of [
      { ...adult, identitySecret: 1n },
      { ...adult, birthDate: 19800310 },
      { ...adult, jurisdiction: 276 },
    ]) {
      expect(await expectNoWitness(w)).toMatch(failsAt('root === tree.root;'));
    }
  });

  it('rejects the proof when the challenge, nullifier, scope, minAge, date or denylist is changed', async () => {
    const s = parseEligibilitySignals(valid.publicSignals);
    for (const changed of [
      { ...s, challenge: s.challenge + 1n },
      { ...s, nullifier: s.nullifier + 1n },
      { ...s, scope: s.scope + 1n },
      { ...s, minAge: 21n },
      { ...s, currentDate: 20990101n },
      { ...s, denylist: [...s.denylist.slice(0, 7), 250n] },
    ]) {
      expect(await snarkjs.groth16.verify(vkey, formatEligibilitySignals(changed), valid.proof)).toBe(false);
    }
  });

  describe('with the snarkjs command line', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'eligibility-proof-'));
      await writeFile(path.join(dir, 'proof.json'), JSON.stringify(valid.proof));
      await writeFile(path.join(dir, 'public.json'), JSON.stringify(valid.publicSignals));
      const s = parseEligibilitySignals(valid.publicSignals);
      await writeFile(path.join(dir, 'replayed.json'), JSON.stringify(formatEligibilitySignals({ ...s, challenge: 1n })));
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
