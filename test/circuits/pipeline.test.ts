/**
 * The circuit pipeline's guarantee: the committed wasm, zkey, verification key
 * and Solidity verifiers are exactly what the committed circuit sources produce
 * (scripts/circuits/check.mjs), and a tampered artifact is caught.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHECK = path.join(ROOT, 'scripts/circuits/check.mjs');
const VERIFIER = 'contracts/verifiers/PoseidonPreimageVerifier.sol';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('circuit pipeline', () => {
  it('committed artifacts match a recompile of the committed sources (circuits:check)', async () => {
    const run = await node([CHECK]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('circuits:check ok');
  });

  it("the pipeline circuit's zkey derives from the committed phase-1 file (circuits:check --deep)", async () => {
    // --deep replays snarkjs' zkey verification against the r1cs and the powers of tau; it takes
    // about a minute per real circuit, so the suite runs it on the small pipeline circuit only
    // (`npm run circuits:check -- --deep` checks every circuit). snarkjs leaves a file handle to
    // the ptau for the garbage collector, which Node reports as a warning: those are silenced.
    const run = await node(['--no-warnings', CHECK, '--deep', '--only', 'poseidon_preimage']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('circuits:check ok');
  });

  describe('on a tampered copy of the project', () => {
    let copy: string;

    beforeAll(async () => {
      copy = await mkdtemp(path.join(os.tmpdir(), 'circuits-tamper-'));
      // Everything but the scratch folder and the large phase-1 file, which is linked.
      await cp(path.join(ROOT, 'circuits'), path.join(copy, 'circuits'), {
        recursive: true,
        filter: (src) => !src.includes(`${path.sep}build${path.sep}tmp`) && !src.includes(`${path.sep}ptau`),
      });
      await symlink(path.join(ROOT, 'circuits/ptau'), path.join(copy, 'circuits/ptau'));
      await mkdir(path.join(copy, 'contracts'), { recursive: true });
      await cp(path.join(ROOT, 'contracts/verifiers'), path.join(copy, 'contracts/verifiers'), { recursive: true });
    });

    afterAll(async () => {
      await rm(copy, { recursive: true, force: true });
    });

    it('an untouched copy passes', async () => {
      const run = await node([CHECK, '--root', copy]);
      expect(run.code).toBe(0);
    });

    it('reports an edited circuit, verifier and verification key', async () => {
      const circuit = path.join(copy, 'circuits/poseidon_preimage.circom');
      await writeFile(circuit, (await readFile(circuit, 'utf8')).replace('challengeSquare <== challenge * challenge;', ''));
      const verifier = path.join(copy, VERIFIER);
      await writeFile(verifier, (await readFile(verifier, 'utf8')).replace(/uint256 constant alphax\s+= \d/, '$&1'));
      const vkeyPath = path.join(copy, 'circuits/build/poseidon_preimage/verification_key.json');
      const vkey = JSON.parse(await readFile(vkeyPath, 'utf8'));
      vkey.IC[1][0] = '1';
      await writeFile(vkeyPath, JSON.stringify(vkey, null, 1) + '\n');

      const run = await node([CHECK, '--root', copy]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('circuits:check FAILED');
      expect(run.stderr).toContain('sources changed since the last build: circuits/poseidon_preimage.circom');
      expect(run.stderr).toContain('constraint count is 213, manifest says 214');
      expect(run.stderr).toContain(`${VERIFIER} differs from a fresh export of the committed zkey`);
      expect(run.stderr).toContain('verification_key.json is not the verification key of the committed zkey');
    });
  });

  it('the exported Solidity verifier compiles with solc 0.8.28', async () => {
    const solc = createRequire(import.meta.url)('solc') as { version(): string; compile(input: string): string };
    expect(solc.version()).toMatch(/^0\.8\.28\+/);
    const input = {
      language: 'Solidity',
      sources: { 'PoseidonPreimageVerifier.sol': { content: await readFile(path.join(ROOT, VERIFIER), 'utf8') } },
      settings: { outputSelection: { '*': { '*': ['abi'] } } },
    };
    const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
      errors?: { severity: string; formattedMessage: string }[];
      contracts: Record<string, Record<string, { abi: { name?: string; inputs?: { type: string }[] }[] }>>;
    };
    expect((output.errors ?? []).filter((e) => e.severity === 'error')).toEqual([]);
    const abi = output.contracts['PoseidonPreimageVerifier.sol']!['PoseidonPreimageVerifier']!.abi;
    const verifyProof = abi.find((f) => f.name === 'verifyProof');
    expect(verifyProof?.inputs?.map((i) => i.type)).toEqual(['uint256[2]', 'uint256[2][2]', 'uint256[2]', 'uint256[2]']);
  });
});
