#!/usr/bin/env node
/**
 * Proves that the committed circuit artifacts are exactly what the committed
 * sources produce, without redoing the (slow) trusted setup:
 *
 *   npm run circuits:check                 every circuit in circuits/circuits.json
 *   npm run circuits:check -- --only <n>   one circuit
 *   npm run circuits:check -- --deep       also replay the zkey's setup (snarkjs zkey verify)
 *   npm run circuits:check -- --root <dir> check a copy laid out like the project (tests)
 *
 * For each circuit, against circuits/build/manifest.json:
 *   - toolchain versions (circom2, circomlib, snarkjs) and the sources hash
 *     (main file + every include, library files named with their package version);
 *   - recompile with circom2 --O2 (deterministic): r1cs and wasm hashes, constraint count,
 *     and the committed wasm is the compiled one;
 *   - committed phase-1 file and zkey hashes;
 *   - the verification key exported from the committed zkey equals the committed
 *     verification_key.json, and a fresh Solidity export equals the committed verifier;
 *   - with --deep: the zkey is the Groth16 setup of the recompiled r1cs over the
 *     committed phase-1 file, followed by the recorded beacons.
 *
 * Exits 0 when everything matches, 1 with one line per mismatch otherwise.
 * Rebuild with `npm run circuits:build` after a deliberate change.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import {
  artifactPaths,
  collectSources,
  compile,
  exportSolidityVerifier,
  exportVerificationKey,
  layout,
  loadConfig,
  loadManifest,
  log,
  relative,
  sha256File,
  shutdown,
  toolchain,
} from './lib.mjs';

function parseArgs(argv) {
  const options = { only: undefined, deep: false, root: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--deep') options.deep = true;
    else if (argv[i] === '--only' && argv[i + 1]) options.only = argv[++i];
    else if (argv[i] === '--root' && argv[i + 1]) options.root = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}\nusage: check.mjs [--only <name>] [--deep] [--root <dir>]`);
  }
  return options;
}

/** Checks one circuit; returns the list of mismatches (empty when all is well). */
async function checkCircuit(paths, circuit, entry, deep, scratch) {
  const { name } = circuit;
  const problems = [];
  const expect = (what, actual, expected) => {
    if (actual !== expected) problems.push(`${name}: ${what} is ${actual}, manifest says ${expected}`);
  };
  if (!entry) return [`${name}: listed in circuits.json but missing from the manifest (run circuits:build)`];
  expect('main file', circuit.main, entry.main);

  const tools = toolchain();
  for (const [tool, version] of Object.entries(entry.toolchain)) expect(`installed ${tool} version`, tools[tool], version);

  const sources = await collectSources(paths, circuit.main);
  if (sources.sha256 !== entry.sources.sha256) {
    const changed = new Set([...Object.keys(sources.files), ...Object.keys(entry.sources.files)]);
    const diff = [...changed].filter((f) => sources.files[f] !== entry.sources.files[f]);
    problems.push(`${name}: sources changed since the last build: ${diff.join(', ') || '(same files, different digest format)'}`);
  }

  log(`${name}: recompiling`);
  const compiled = await compile(paths, circuit, path.join(scratch, name));
  expect('recompiled r1cs sha256', await sha256File(compiled.r1cs), entry.r1cs.sha256);
  const wasm = await sha256File(compiled.wasm);
  expect('recompiled wasm sha256', wasm, entry.wasm.sha256);
  expect('constraint count', compiled.size.constraints, entry.constraints);

  const files = artifactPaths(paths, name);
  const ptauPath = path.join(paths.circuitsDir, circuit.ptau);
  const committed = [
    ['phase-1 file', ptauPath, entry.ptau],
    ['wasm', files.wasm, entry.wasm],
    ['zkey', files.zkey, entry.zkey],
    ['verification key', files.vkey, entry.verificationKey],
    ['Solidity verifier', files.verifier, entry.verifier],
  ];
  for (const [what, file, recorded] of committed) {
    if (relative(paths, file) !== recorded.path) problems.push(`${name}: manifest records the ${what} at ${recorded.path}, the pipeline uses ${relative(paths, file)}`);
    if (!existsSync(file)) problems.push(`${name}: committed ${what} ${relative(paths, file)} is missing`);
    else expect(`committed ${what} (${relative(paths, file)}) sha256`, await sha256File(file), recorded.sha256);
  }
  if (!existsSync(files.zkey)) return problems;

  log(`${name}: exporting verification key and verifier from the committed zkey`);
  const vkey = await exportVerificationKey(files.zkey);
  if (existsSync(files.vkey) && !isDeepStrictEqual(vkey, JSON.parse(await readFile(files.vkey, 'utf8')))) {
    problems.push(`${name}: ${relative(paths, files.vkey)} is not the verification key of the committed zkey`);
  }
  if (existsSync(files.verifier) && (await exportSolidityVerifier(files.zkey, name)) !== (await readFile(files.verifier, 'utf8'))) {
    problems.push(`${name}: ${relative(paths, files.verifier)} differs from a fresh export of the committed zkey`);
  }

  if (deep && existsSync(ptauPath)) {
    log(`${name}: replaying the setup of the committed zkey (--deep)`);
    if (!(await snarkjs.zKey.verifyFromR1cs(compiled.r1cs, ptauPath, files.zkey))) {
      problems.push(`${name}: the committed zkey is not a setup of the recompiled r1cs over ${circuit.ptau}`);
    }
  }
  return problems;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const paths = layout(options.root);
  const circuits = loadConfig(paths).filter((c) => !options.only || c.name === options.only);
  if (circuits.length === 0) throw new Error(`no circuit named ${options.only} in circuits/circuits.json`);
  const manifest = loadManifest(paths);

  const problems = [];
  if (!options.only) {
    const listed = new Set(circuits.map((c) => c.name));
    for (const name of Object.keys(manifest.circuits)) {
      if (!listed.has(name)) problems.push(`${name}: in the manifest but not in circuits.json (run circuits:build)`);
    }
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'circuits-check-'));
  try {
    for (const circuit of circuits) {
      const found = await checkCircuit(paths, circuit, manifest.circuits[circuit.name], options.deep, scratch);
      log(`${circuit.name}: ${found.length === 0 ? 'ok' : `${found.length} mismatch(es)`}`);
      problems.push(...found);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  if (problems.length > 0) {
    console.error(`\ncircuits:check FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    console.error('If the change is deliberate, run `npm run circuits:build` and commit the new artifacts.');
    return 1;
  }
  log(`circuits:check ok (${circuits.length} circuit${circuits.length === 1 ? '' : 's'})`);
  return 0;
}

main()
  .then(async (code) => {
    await shutdown();
    process.exitCode = code;
  })
  .catch(async (err) => {
    console.error(`circuits:check failed: ${err instanceof Error ? err.message : err}`);
    await shutdown();
    process.exitCode = 1;
  });
