/**
 * poseidon_preimage: a prover who knows x with Poseidon(x) = hash can prove it for
 * a verifier-chosen challenge; nobody else can, and the proof is bound to both
 * public inputs. Proofs are made with the committed wasm and zkey, verified with
 * the committed verification key, in-process and with the snarkjs CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPoseidon } from 'circomlibjs';
import * as snarkjs from 'snarkjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'circuits/build/poseidon_preimage');
const WASM = path.join(BUILD, 'poseidon_preimage.wasm');
const ZKEY = path.join(BUILD, 'poseidon_preimage_final.zkey');
const VKEY = path.join(BUILD, 'verification_key.json');
const SNARKJS_CLI = path.join(ROOT, 'node_modules/snarkjs/build/cli.cjs');

const PREIMAGE = 123456789012345678901234567890n;
const CHALLENGE = 0xc0ffeen;

function snarkjsCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SNARKJS_CLI, ...args], (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
    });
  });
}

describe('poseidon_preimage circuit', () => {
  let hash: bigint;
  let vkey: unknown;
  let valid: { proof: snarkjs.Groth16Proof; publicSignals: snarkjs.PublicSignals };

  beforeAll(async () => {
    const poseidon = await buildPoseidon();
    hash = poseidon.F.toObject(poseidon([PREIMAGE])) as bigint;
    vkey = JSON.parse(await readFile(VKEY, 'utf8'));
    valid = await snarkjs.groth16.fullProve(
      { preimage: PREIMAGE.toString(), hash: hash.toString(), challenge: CHALLENGE.toString() },
      WASM,
      ZKEY,
    );
  });

  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it('proves knowledge of the preimage; the public signals are [hash, challenge]', async () => {
    expect(valid.publicSignals).toEqual([hash.toString(), CHALLENGE.toString()]);
    expect(await snarkjs.groth16.verify(vkey, valid.publicSignals, valid.proof)).toBe(true);
  });

  it('cannot produce a witness for a wrong preimage', async () => {
    const input = { preimage: (PREIMAGE + 1n).toString(), hash: hash.toString(), challenge: CHALLENGE.toString() };
    // The witness calculator reports the failed `hash === poseidon.out` on stderr before throwing.
    const consoleError = console.error;
    const reported: unknown[] = [];
    console.error = (...args: unknown[]) => void reported.push(...args);
    try {
      await expect(snarkjs.groth16.fullProve(input, WASM, ZKEY)).rejects.toThrow(/Assert Failed/);
    } finally {
      console.error = consoleError;
    }
    expect(reported.join(' ')).toContain('Error in template PoseidonPreimage');
  });

  it('rejects the proof when a public signal is changed', async () => {
    const otherChallenge = [hash.toString(), (CHALLENGE + 1n).toString()];
    const otherHash = [(hash + 1n).toString(), CHALLENGE.toString()];
    expect(await snarkjs.groth16.verify(vkey, otherChallenge, valid.proof)).toBe(false);
    expect(await snarkjs.groth16.verify(vkey, otherHash, valid.proof)).toBe(false);
  });

  describe('with the snarkjs command line', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'poseidon-preimage-'));
      await writeFile(path.join(dir, 'proof.json'), JSON.stringify(valid.proof));
      await writeFile(path.join(dir, 'public.json'), JSON.stringify(valid.publicSignals));
      await writeFile(path.join(dir, 'tampered.json'), JSON.stringify([hash.toString(), '1']));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('verifies the proof (snarkjs groth16 verify vkey public proof)', async () => {
      const run = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'public.json'), path.join(dir, 'proof.json')]);
      expect(run.stdout).toContain('OK!');
      expect(run.code).toBe(0);
    });

    it('fails on a tampered public signal', async () => {
      const run = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'tampered.json'), path.join(dir, 'proof.json')]);
      expect(run.stdout).toContain('Invalid proof');
      expect(run.code).not.toBe(0);
    });
  });
});
