#!/usr/bin/env node
/**
 * Builds the Groth16 artifacts of every circuit listed in circuits/circuits.json.
 *
 *   npm run circuits:build                      build what changed
 *   npm run circuits:build -- --only <name>     one circuit
 *   npm run circuits:build -- --force           rebuild even if the manifest says up to date
 *
 * For each circuit:
 *   1. compile circuits/<main> with circom2 --O2 (byte-identical output across runs);
 *   2. Groth16 setup (phase 2) against the committed prepared phase-1 file;
 *   3. a phase-2 contribution and a final beacon, both DETERMINISTIC (see below);
 *   4. verify the final zkey against the r1cs and the phase-1 file;
 *   5. export the verification key and the Solidity verifier (contract <Name>Verifier);
 *   6. write circuits/build/<name>/{<name>.wasm, <name>_final.zkey, verification_key.json},
 *      contracts/verifiers/<Name>Verifier.sol and the circuit's entry in
 *      circuits/build/manifest.json (sha256 of sources, r1cs, wasm, zkey, vkey, verifier;
 *      constraint count). The manifest holds no timestamps: a rebuild reproduces it.
 *
 * DEVELOPMENT SETUP ONLY. The phase-2 "contribution" is a beacon whose hash is
 * sha256 of a string printed in the manifest: anyone can recompute the toxic
 * waste and forge proofs. snarkjs's `zkey contribute` would not help: it mixes
 * OS randomness into the entropy, so its output is never reproducible, and this
 * pipeline relies on reproducibility (check.mjs). Production keys come from a
 * multi-party phase-2 ceremony (docs/circuits.md).
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import {
  artifactPaths,
  collectSources,
  compile,
  contractName,
  exportSolidityVerifier,
  exportVerificationKey,
  layout,
  loadConfig,
  loadManifest,
  log,
  relative,
  sha256,
  sha256File,
  shutdown,
  toolchain,
  verificationKeyText,
} from './lib.mjs';

/** Beacon iterations 2^10: the minimum snarkjs accepts; the beacon here is not a real delay function anyway. */
const BEACON_ITERATIONS_EXP = 10;

/** The two deterministic phase-2 steps of a circuit; their strings are public. */
export function phase2Steps(name) {
  return [
    { name: `dev phase-2 contribution (${name})`, entropy: `cbdc-privacy-service dev phase 2: ${name}: contribution 1` },
    { name: `dev phase-2 final beacon (${name})`, entropy: `cbdc-privacy-service dev phase 2: ${name}: final beacon` },
  ].map((s) => ({ ...s, beaconHash: sha256(s.entropy), iterationsExp: BEACON_ITERATIONS_EXP }));
}

function parseArgs(argv) {
  const options = { only: undefined, force: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--force') options.force = true;
    else if (argv[i] === '--only' && argv[i + 1]) options.only = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}\nusage: build.mjs [--only <name>] [--force]`);
  }
  return options;
}

async function upToDate(paths, entry, fresh) {
  if (!entry) return false;
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(entry.toolchain, fresh.toolchain) || entry.sources.sha256 !== fresh.sources.sha256) return false;
  if (entry.r1cs.sha256 !== fresh.r1cs || entry.ptau.sha256 !== fresh.ptau) return false;
  for (const kind of ['wasm', 'zkey', 'verificationKey', 'verifier']) {
    const file = path.join(paths.root, entry[kind].path);
    if (!existsSync(file) || (await sha256File(file)) !== entry[kind].sha256) return false;
  }
  return true;
}

async function buildCircuit(paths, circuit, manifest, force) {
  const { name } = circuit;
  const tmp = path.join(paths.tmpDir, name);
  const out = artifactPaths(paths, name);
  await rm(tmp, { recursive: true, force: true });

  log(`${name}: compiling ${circuit.main} (circom2 --O2)`);
  const compiled = await compile(paths, circuit, tmp);
  log(`${name}: ${compiled.size.constraints} constraints, ${compiled.size.publicInputs} public inputs, ${compiled.size.wires} wires`);

  const ptauPath = path.join(paths.circuitsDir, circuit.ptau);
  if (!existsSync(ptauPath)) throw new Error(`${name}: phase-1 file ${circuit.ptau} not found (see circuits/ptau/README.md)`);
  const fresh = {
    toolchain: toolchain(),
    sources: await collectSources(paths, circuit.main),
    r1cs: await sha256File(compiled.r1cs),
    ptau: await sha256File(ptauPath),
  };
  if (!force && (await upToDate(paths, manifest.circuits[name], fresh))) {
    log(`${name}: up to date (use --force to rebuild)`);
    return manifest.circuits[name];
  }

  log(`${name}: groth16 setup against ${circuit.ptau}`);
  let zkey = path.join(tmp, `${name}_0000.zkey`);
  await snarkjs.zKey.newZKey(compiled.r1cs, ptauPath, zkey);
  const steps = phase2Steps(name);
  for (const [i, step] of steps.entries()) {
    log(`${name}: ${step.name}`);
    const next = path.join(tmp, `${name}_${String(i + 1).padStart(4, '0')}.zkey`);
    await snarkjs.zKey.beacon(zkey, next, step.name, step.beaconHash, step.iterationsExp);
    zkey = next;
  }
  log(`${name}: verifying the zkey against the r1cs and the phase-1 file`);
  if (!(await snarkjs.zKey.verifyFromR1cs(compiled.r1cs, ptauPath, zkey))) {
    throw new Error(`${name}: zkey verification failed`);
  }

  log(`${name}: exporting verification key and ${contractName(name)}.sol`);
  await mkdir(out.dir, { recursive: true });
  await mkdir(paths.verifiersDir, { recursive: true });
  await copyFile(compiled.wasm, out.wasm);
  await copyFile(zkey, out.zkey);
  await writeFile(out.vkey, verificationKeyText(await exportVerificationKey(out.zkey)));
  await writeFile(out.verifier, await exportSolidityVerifier(out.zkey, name));

  const artifact = async (file) => ({ path: relative(paths, file), sha256: await sha256File(file) });
  return {
    main: circuit.main,
    toolchain: fresh.toolchain,
    sources: fresh.sources,
    ...compiled.size,
    r1cs: { sha256: fresh.r1cs },
    ptau: { path: relative(paths, ptauPath), sha256: fresh.ptau },
    phase2: steps,
    wasm: await artifact(out.wasm),
    zkey: await artifact(out.zkey),
    verificationKey: await artifact(out.vkey),
    verifier: { contract: contractName(name), ...(await artifact(out.verifier)) },
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const paths = layout();
  const circuits = loadConfig(paths).filter((c) => !options.only || c.name === options.only);
  if (circuits.length === 0) throw new Error(`no circuit named ${options.only} in circuits/circuits.json`);
  const manifest = loadManifest(paths);
  if (!options.only) {
    // A full build owns the whole manifest: drop circuits no longer listed.
    const listed = new Set(circuits.map((c) => c.name));
    for (const name of Object.keys(manifest.circuits)) if (!listed.has(name)) delete manifest.circuits[name];
  }

  for (const circuit of circuits) {
    manifest.circuits[circuit.name] = await buildCircuit(paths, circuit, manifest, options.force);
  }

  const sorted = Object.fromEntries(Object.entries(manifest.circuits).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const text = JSON.stringify(
    {
      $comment:
        'Generated by scripts/circuits/build.mjs, checked by scripts/circuits/check.mjs. DEVELOPMENT trusted setup: every phase-2 entropy string is public.',
      circuits: sorted,
    },
    null,
    2,
  );
  await writeFile(paths.manifestPath, text + '\n');
  log(`wrote ${relative(paths, paths.manifestPath)}`);
}

main()
  .then(shutdown)
  .catch(async (err) => {
    console.error(`circuits:build failed: ${err instanceof Error ? err.message : err}`);
    await shutdown();
    process.exit(1);
  });
