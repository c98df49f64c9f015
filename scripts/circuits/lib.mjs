/**
 * Shared steps of the circuit pipeline, used by build.mjs (which produces the
 * committed artifacts) and check.mjs (which proves the committed artifacts are
 * what the committed sources produce).
 *
 * Layout, relative to a root folder (the project root unless --root is given):
 *   circuits/circuits.json             which circuits exist (name, main file, ptau)
 *   circuits/<main>.circom             circuit sources
 *   circuits/ptau/potNN_final.ptau     prepared phase-1 file (committed)
 *   circuits/build/manifest.json       sha256 of every input and output
 *   circuits/build/<name>/             <name>.wasm, <name>_final.zkey, verification_key.json
 *   circuits/build/tmp/                scratch (ignored by git)
 *   contracts/verifiers/<Name>Verifier.sol
 *
 * The compiler and circomlib are always taken from this project's node_modules.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as snarkjs from 'snarkjs';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_MODULES = path.join(PROJECT_ROOT, 'node_modules');

/** Paths of every pipeline file under `root`. */
export function layout(root = PROJECT_ROOT) {
  const circuitsDir = path.join(root, 'circuits');
  const buildDir = path.join(circuitsDir, 'build');
  return {
    root,
    circuitsDir,
    buildDir,
    tmpDir: path.join(buildDir, 'tmp'),
    configPath: path.join(circuitsDir, 'circuits.json'),
    manifestPath: path.join(buildDir, 'manifest.json'),
    verifiersDir: path.join(root, 'contracts', 'verifiers'),
  };
}

/** The artifact paths of one circuit. */
export function artifactPaths(paths, name) {
  const dir = path.join(paths.buildDir, name);
  return {
    dir,
    wasm: path.join(dir, `${name}.wasm`),
    zkey: path.join(dir, `${name}_final.zkey`),
    vkey: path.join(dir, 'verification_key.json'),
    verifier: path.join(paths.verifiersDir, `${contractName(name)}.sol`),
  };
}

/** `poseidon_preimage` -> `PoseidonPreimageVerifier`. */
export function contractName(name) {
  return name.split(/[_-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('') + 'Verifier';
}

export function loadConfig(paths) {
  const config = JSON.parse(readFileSync(paths.configPath, 'utf8'));
  if (!Array.isArray(config.circuits)) throw new Error(`${paths.configPath}: "circuits" must be an array`);
  for (const c of config.circuits) {
    if (!/^[a-z][a-z0-9_]*$/.test(c.name ?? '')) throw new Error(`circuits.json: bad name ${JSON.stringify(c.name)}`);
    if (typeof c.main !== 'string' || typeof c.ptau !== 'string') {
      throw new Error(`circuits.json: ${c.name} needs "main" and "ptau"`);
    }
  }
  return config.circuits;
}

export function loadManifest(paths) {
  if (!existsSync(paths.manifestPath)) return { circuits: {} };
  return JSON.parse(readFileSync(paths.manifestPath, 'utf8'));
}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function sha256File(file) {
  return sha256(await readFile(file));
}

function packageVersion(pkg) {
  return JSON.parse(readFileSync(path.join(NODE_MODULES, pkg, 'package.json'), 'utf8')).version;
}

/** Installed versions of the tools whose output the manifest pins. */
export function toolchain() {
  const version = packageVersion;
  return { circom2: version('circom2'), circomlib: version('circomlib'), snarkjs: version('snarkjs') };
}

/**
 * Every source file a circuit is compiled from: the main file and, recursively,
 * every `include`. Resolution follows circom: next to the including file first,
 * then the library folder (-l node_modules). Library files are named
 * `<package>@<version>/<path>` so that a dependency upgrade changes the hash even
 * if a file happened to stay the same.
 */
export async function collectSources(paths, mainFile) {
  const files = {};
  const versions = {};
  const visit = async (file) => {
    const key = sourceKey(paths, file, versions);
    if (key in files) return;
    const text = await readFile(file, 'utf8');
    files[key] = sha256(text);
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const m of code.matchAll(/include\s+"([^"]+)"\s*;/g)) {
      const local = path.resolve(path.dirname(file), m[1]);
      const lib = path.join(NODE_MODULES, m[1]);
      if (existsSync(local)) await visit(local);
      else if (existsSync(lib)) await visit(lib);
      else throw new Error(`${key}: include "${m[1]}" not found`);
    }
  };
  await visit(path.join(paths.circuitsDir, mainFile));
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const digest = sha256(Object.entries(sorted).map(([k, v]) => `${v}  ${k}\n`).join(''));
  return { sha256: digest, files: sorted };
}

function sourceKey(paths, file, versions) {
  const rel = path.relative(NODE_MODULES, file);
  if (!rel.startsWith('..')) {
    const [pkg, ...rest] = rel.split(path.sep);
    versions[pkg] ??= packageVersion(pkg);
    return `${pkg}@${versions[pkg]}/${rest.join('/')}`;
  }
  return path.relative(paths.root, file).split(path.sep).join('/');
}

/**
 * Compiles `circuits/<main>` with circom2 --O2 into `outDir` and returns the
 * paths of the r1cs and wasm plus the circuit's size. circom2 runs circom in a
 * WASI sandbox that sees the working directory and its parents, so it runs from
 * the project root with absolute paths (its CLI makes them relative).
 */
export async function compile(paths, circuit, outDir) {
  await mkdir(outDir, { recursive: true });
  const main = path.join(paths.circuitsDir, circuit.main);
  const args = [path.join(NODE_MODULES, 'circom2', 'cli.js'), main, '--r1cs', '--wasm', '--sym', '--O2', '-l', NODE_MODULES, '-o', outDir];
  const { code, output } = await run(process.execPath, args, { cwd: PROJECT_ROOT });
  if (code !== 0) throw new Error(`circom failed for ${circuit.name} (exit ${code}):\n${output}`);
  const base = path.basename(circuit.main, '.circom');
  const r1cs = path.join(outDir, `${base}.r1cs`);
  const wasm = path.join(outDir, `${base}_js`, `${base}.wasm`);
  const info = await snarkjs.r1cs.info(r1cs);
  return {
    r1cs,
    wasm,
    size: {
      constraints: info.nConstraints,
      publicInputs: info.nPubInputs,
      privateInputs: info.nPrvInputs,
      outputs: info.nOutputs,
      wires: info.nVars,
    },
  };
}

/** Verification key of a zkey, as snarkjs exports it (decimal strings). */
export async function exportVerificationKey(zkeyPath) {
  return snarkjs.zKey.exportVerificationKey(zkeyPath);
}

/** The committed text of a verification key. */
export function verificationKeyText(vkey) {
  return JSON.stringify(vkey, null, 1) + '\n';
}

/**
 * Solidity verifier for a Groth16 zkey: snarkjs's template with the contract
 * renamed from Groth16Verifier to <Name>Verifier (several verifiers must coexist
 * in one compilation) and the pragma pinned to the project's compiler line.
 */
export async function exportSolidityVerifier(zkeyPath, name) {
  const templatePath = path.join(NODE_MODULES, 'snarkjs', 'templates', 'verifier_groth16.sol.ejs');
  const templates = { groth16: await readFile(templatePath, 'utf8') };
  const generated = await snarkjs.zKey.exportSolidityVerifier(zkeyPath, templates);
  const renamed = replaceOnce(generated, 'contract Groth16Verifier {', `contract ${contractName(name)} {`);
  return replaceOnce(renamed, 'pragma solidity >=0.7.0 <0.9.0;', 'pragma solidity ^0.8.28;');
}

function replaceOnce(text, from, to) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`snarkjs verifier template changed: expected exactly one "${from}"`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Runs a command, collecting stdout and stderr together. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Stops snarkjs's worker threads so the process can exit. */
export async function shutdown() {
  await globalThis.curve_bn128?.terminate();
}

/** Progress line with the seconds since the script started. */
const started = Date.now();
export function log(message) {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[${s}s] ${message}`);
}

export function relative(paths, file) {
  return path.relative(paths.root, file).split(path.sep).join('/');
}
