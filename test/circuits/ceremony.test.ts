/**
 * The production phase-2 ceremony tool (scripts/circuits/ceremony.mjs), run as a
 * command line on the small poseidon_preimage circuit: init -> two contributions
 * with OS randomness -> verify lists both -> finalize with a beacon -> the final
 * zkey proves and verifies; a tampered intermediate zkey fails verification.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPoseidon } from 'circomlibjs';
import * as snarkjs from 'snarkjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CEREMONY = path.join(ROOT, 'scripts/circuits/ceremony.mjs');
const WASM = path.join(ROOT, 'circuits/build/poseidon_preimage/poseidon_preimage.wasm');
const CIRCUIT = 'poseidon_preimage';
const BEACON = 'b1c2a5f3e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928171605f4e3d2c1b0a9';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ceremony(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CEREMONY, ...args], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The 128-hex-digit contribution hash that `contribute` prints. */
function printedHash(stdout: string): string {
  const m = /contribution hash[^\n]*\n((?:\s+[0-9a-f]{8}(?: [0-9a-f]{8}){3}\n?){4})/.exec(stdout);
  if (!m) throw new Error(`no contribution hash in:\n${stdout}`);
  return m[1].replace(/\s+/g, '');
}

/** Contributions that `verify` / `finalize` list: name and hash, in order. */
function listed(stdout: string): { name: string; hash: string }[] {
  const out: { name: string; hash: string }[] = [];
  const re = /#\d+ \[(?:contribution|beacon)\] "([^"]*)"\n((?:\s+[0-9a-f]{8}(?: [0-9a-f]{8}){3}\n?){4})/g;
  for (const m of stdout.matchAll(re)) out.push({ name: m[1], hash: m[2].replace(/\s+/g, '') });
  return out;
}

/** Start of section `type` in a zkey file ("zkey", version, n sections, then type u32 + size u64 + data). */
function sectionOffset(bytes: Buffer, type: number): number {
  let pos = 12;
  for (let i = 0; i < bytes.readUInt32LE(8); i++) {
    const size = Number(bytes.readBigUInt64LE(pos + 4));
    if (bytes.readUInt32LE(pos) === type) return pos + 12;
    pos += 12 + size;
  }
  throw new Error(`no section ${type}`);
}

describe('phase-2 ceremony tool', () => {
  let dir: string;
  let zkey0: string;
  let zkey1: string;
  let zkey2: string;
  let hashes: string[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ceremony-test-'));
    zkey0 = path.join(dir, `${CIRCUIT}_0000.zkey`);
    zkey1 = path.join(dir, `${CIRCUIT}_0001.zkey`);
    zkey2 = path.join(dir, `${CIRCUIT}_0002.zkey`);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await (globalThis as any).curve_bn128?.terminate();
  });

  it('init writes the initial zkey and a transcript of the inputs', async () => {
    const run = await ceremony(['init', CIRCUIT, '--out', dir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const transcript = JSON.parse(await readFile(path.join(dir, `${CIRCUIT}_transcript.json`), 'utf8'));
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'circuits/build/manifest.json'), 'utf8'));
    expect(transcript.circuit).toBe(CIRCUIT);
    expect(transcript.r1cs.sha256).toBe(manifest.circuits[CIRCUIT].r1cs.sha256);
    expect(transcript.ptau.sha256).toBe(manifest.circuits[CIRCUIT].ptau.sha256);
    expect(transcript.circuitHash).toMatch(/^[0-9a-f]{128}$/);
    expect(transcript.initial.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('two parties contribute (one with an extra entropy file); each gets a distinct hash to publish', async () => {
    const first = await ceremony(['contribute', zkey0, zkey1, '--name', 'Bank A']);
    expect(first.code).toBe(0);
    const entropy = path.join(dir, 'entropy.bin');
    await writeFile(entropy, 'dice rolls: 3 1 4 1 5 9 2 6');
    const second = await ceremony(['contribute', zkey1, zkey2, '--name', 'Central Bank', '--entropy-file', entropy]);
    expect(second.code).toBe(0);
    hashes = [printedHash(first.stdout), printedHash(second.stdout)];
    expect(hashes[0]).not.toBe(hashes[1]);
  });

  it('verify checks the chain and lists both contributions with the hashes the contributors published', async () => {
    const run = await ceremony(['verify', CIRCUIT, zkey2]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ZKey Ok!');
    expect(listed(run.stdout)).toEqual([
      { name: 'Bank A', hash: hashes[0] },
      { name: 'Central Bank', hash: hashes[1] },
    ]);
  });

  it('finalize applies the beacon; the final zkey proves and verifies a poseidon_preimage proof', async () => {
    const out = path.join(dir, 'final');
    const run = await ceremony(['finalize', CIRCUIT, zkey2, '--beacon', BEACON, '--iterations', '10', '--out', out]);
    expect(run.code).toBe(0);
    const chain = listed(run.stdout);
    expect(chain.map((c) => c.name)).toEqual(['Bank A', 'Central Bank', `final beacon (${CIRCUIT})`]);
    expect(chain.slice(0, 2).map((c) => c.hash)).toEqual(hashes);

    const transcript = JSON.parse(await readFile(path.join(out, `${CIRCUIT}_transcript.json`), 'utf8'));
    expect(transcript.beacon).toEqual({ hash: BEACON, iterationsExp: 10 });
    expect(transcript.contributions.map((c: { type: string }) => c.type)).toEqual(['contribution', 'contribution', 'beacon']);
    expect(transcript.verifier.contract).toBe('PoseidonPreimageVerifier');
    const sol = await readFile(path.join(out, 'PoseidonPreimageVerifier.sol'), 'utf8');
    expect(sol).toContain('contract PoseidonPreimageVerifier {');

    const poseidon = await buildPoseidon();
    const preimage = 987654321987654321n;
    const hash = (poseidon.F.toObject(poseidon([preimage])) as bigint).toString();
    const input = { preimage: preimage.toString(), hash, challenge: '4242' };
    const finalZkey = path.join(out, `${CIRCUIT}_final.zkey`);
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(input, WASM, finalZkey);
    const vkey = JSON.parse(await readFile(path.join(out, 'verification_key.json'), 'utf8'));
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true);
    expect(await snarkjs.groth16.verify(vkey, [hash, '4243'], proof)).toBe(false);

    // A new ceremony key is not the committed development key.
    const devVkey = JSON.parse(await readFile(path.join(ROOT, 'circuits/build', CIRCUIT, 'verification_key.json'), 'utf8'));
    expect(vkey.vk_delta_2).not.toEqual(devVkey.vk_delta_2);
    expect(await snarkjs.groth16.verify(devVkey, publicSignals, proof)).toBe(false);
  });

  it('a tampered intermediate zkey fails verify (non-zero exit, clear error)', async () => {
    const bytes = await readFile(zkey1);
    bytes[sectionOffset(bytes, 9) + 70] ^= 0x01; // one bit of the H section (the contribution's scaled points)
    const tampered = path.join(dir, 'tampered.zkey');
    await writeFile(tampered, bytes);
    const run = await ceremony(['verify', CIRCUIT, tampered]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('does NOT verify');
    expect(run.stdout).toContain('H section does not match');
  });

  it('rejects a missing file, an unknown circuit and contributing to a finalized zkey', async () => {
    const missing = await ceremony(['verify', CIRCUIT, path.join(dir, 'nope.zkey')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('file not found');

    const unknown = await ceremony(['verify', 'no_such_circuit', zkey1]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown circuit "no_such_circuit"');

    const finalized = path.join(dir, 'final', `${CIRCUIT}_final.zkey`);
    const late = await ceremony(['contribute', finalized, path.join(dir, 'late.zkey'), '--name', 'Late Bank']);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('already finalized');
  });
});
