#!/usr/bin/env node
/**
 * Production phase-2 (per-circuit) Groth16 trusted-setup ceremony. See
 * docs/trusted-setup.md for who runs which step and what gets published.
 *
 *   ceremony.mjs init <circuit> --out <dir>
 *   ceremony.mjs contribute <in.zkey> <out.zkey> --name "<who>" [--entropy-file <f>]
 *   ceremony.mjs verify <circuit> <zkey>
 *   ceremony.mjs finalize <circuit> <in.zkey> --beacon <hex> --iterations <exp> --out <dir>
 *
 * Unlike circuits:build (a deterministic, public, insecure development setup),
 * `contribute` draws its secret from the operating system's randomness, so the
 * setup is sound if at least one contributor was honest and destroyed it.
 * The circuit (r1cs) is taken from circuits/build/<circuit>/<circuit>.r1cs when
 * present, otherwise recompiled (circom2 --O2 is deterministic; the r1cs hash is
 * compared with circuits/build/manifest.json), over the phase-1 file that
 * circuits/circuits.json names for the circuit.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import {
  compile,
  contractName,
  exportSolidityVerifier,
  exportVerificationKey,
  layout,
  loadConfig,
  loadManifest,
  relative,
  sha256File,
  shutdown,
  toolchain,
  verificationKeyText,
} from './lib.mjs';
import { CeremonyError, contributionsFromLog, formatHash, hex, progressLogger, readZkeyInfo } from './ceremony-lib.mjs';

const USAGE = `usage:
  ceremony.mjs init <circuit> --out <dir> [--force]
      Groth16 setup of <circuit> over its committed phase-1 file: writes
      <dir>/<circuit>_0000.zkey and <dir>/<circuit>_transcript.json.
  ceremony.mjs contribute <in.zkey> <out.zkey> --name "<who>" [--entropy-file <f>] [--force]
      adds one contribution, secret drawn from OS randomness (plus the file's
      bytes if given); prints the contribution hash to publish.
  ceremony.mjs verify <circuit> <zkey>
      checks the whole chain (r1cs + phase-1 file -> every contribution) and
      lists each contribution (name, hash).
  ceremony.mjs finalize <circuit> <in.zkey> --beacon <hex> --iterations <exp> --out <dir> [--name <s>] [--force]
      applies the public random beacon (2^exp sha256 iterations, 10..63), verifies,
      writes <dir>/<circuit>_final.zkey, verification_key.json, <Name>Verifier.sol
      and <dir>/<circuit>_transcript.json.
options: --verbose (every progress line), --help`;

const MAX_NAME_BYTES = 64; // snarkjs stores at most 64 characters of a contribution name

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const positional = [];
  const flags = {};
  const valued = new Set(['out', 'name', 'entropy-file', 'beacon', 'iterations']);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) positional.push(a);
    else if (valued.has(a.slice(2))) {
      if (rest[i + 1] === undefined) throw new CeremonyError(`${a} needs a value`);
      flags[a.slice(2)] = rest[++i];
    } else if (a === '--force' || a === '--verbose' || a === '--help') flags[a.slice(2)] = true;
    else throw new CeremonyError(`unknown option ${a}`);
  }
  return { command, positional, flags };
}

function need(positional, n, what) {
  if (positional.length !== n) throw new CeremonyError(`expected ${what}`);
}

function checkWritable(file, force) {
  if (existsSync(file) && !force) throw new CeremonyError(`${file} already exists (use --force to overwrite)`);
}

/** The circuit's r1cs (committed, or recompiled), phase-1 file and size. */
async function resolveCircuit(paths, name, log) {
  const circuits = loadConfig(paths);
  const circuit = circuits.find((c) => c.name === name);
  if (!circuit) {
    throw new CeremonyError(`unknown circuit "${name}" (circuits/circuits.json lists: ${circuits.map((c) => c.name).join(', ')})`);
  }
  const ptau = path.join(paths.circuitsDir, circuit.ptau);
  if (!existsSync(ptau)) throw new CeremonyError(`${name}: phase-1 file ${circuit.ptau} not found`);

  let r1cs = path.join(paths.buildDir, name, `${name}.r1cs`);
  let scratch;
  if (!existsSync(r1cs)) {
    scratch = await mkdtemp(path.join(os.tmpdir(), `ceremony-${name}-`));
    log.step(`${name}: r1cs not committed, compiling ${circuit.main} (circom2 --O2)`);
    r1cs = (await compile(paths, circuit, scratch)).r1cs;
  }
  const info = await snarkjs.r1cs.info(r1cs);
  const size = { constraints: info.nConstraints, publicSignals: info.nPubInputs + info.nOutputs, wires: info.nVars };
  const r1csSha256 = await sha256File(r1cs);
  const ptauSha256 = await sha256File(ptau);
  const entry = loadManifest(paths).circuits?.[name];
  const manifest = entry ? entry.r1cs.sha256 === r1csSha256 && entry.ptau.sha256 === ptauSha256 : undefined;
  log.step(`${name}: ${size.constraints} constraints, ${size.publicSignals} public signals, ${size.wires} wires`);
  log.step(`${name}: r1cs sha256 ${r1csSha256}`);
  log.step(`${name}: phase-1 ${circuit.ptau} sha256 ${ptauSha256}`);
  if (manifest === false) log.warn(`${name}: r1cs or phase-1 file differs from circuits/build/manifest.json (sources changed since the last circuits:build?)`);
  if (manifest === undefined) log.warn(`${name}: not in circuits/build/manifest.json yet`);
  return {
    name,
    r1cs,
    ptau,
    size,
    record: {
      circuit: name,
      toolchain: toolchain(),
      ...size,
      r1cs: { sha256: r1csSha256, matchesManifest: manifest ?? null },
      ptau: { path: relative(paths, ptau), sha256: ptauSha256 },
    },
    cleanup: () => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined),
  };
}

/** Cheap check (no cryptography) that a zkey belongs to the circuit. */
async function zkeyOf(circuit, file) {
  const info = await readZkeyInfo(file);
  if (info.nVars !== circuit.size.wires || info.nPublic !== circuit.size.publicSignals) {
    throw new CeremonyError(
      `${file} is not a zkey of ${circuit.name}: it has ${info.nVars} wires and ${info.nPublic} public signals, ` +
        `${circuit.name} has ${circuit.size.wires} and ${circuit.size.publicSignals}`,
    );
  }
  return info;
}

/**
 * Verifies a zkey against the circuit's r1cs and phase-1 file: recomputes the
 * initial setup, then checks every contribution in turn. Returns the
 * contribution list (name, hash, beacon) as verified.
 */
async function verifyChain(circuit, file, log) {
  const info = await zkeyOf(circuit, file);
  log.step(`${circuit.name}: recomputing the initial setup from r1cs + phase-1 file`);
  const init = { type: 'bigMem' };
  const circuitHash = hex(await snarkjs.zKey.newZKey(circuit.r1cs, circuit.ptau, init, log));
  if (circuitHash !== info.circuitHash) {
    throw new CeremonyError(
      `${file} was not set up from ${circuit.name}'s r1cs and phase-1 file (circuit hash ${info.circuitHash.slice(0, 16)}..., expected ${circuitHash.slice(0, 16)}...)`,
    );
  }
  log.step(`${circuit.name}: verifying ${info.contributions.length} contribution(s) of ${file}`);
  const from = log.lines.length;
  const ok = await snarkjs.zKey.verifyFromInit(init, circuit.ptau, file, log);
  if (!ok) {
    throw new CeremonyError(
      `${file} does NOT verify against ${circuit.name}'s r1cs and phase-1 file: a contribution does not chain ` +
        'from the previous one, or the file was altered',
    );
  }
  const verified = contributionsFromLog(log.lines.slice(from));
  if (verified.length !== info.contributions.length) {
    throw new CeremonyError(`${file}: verifier listed ${verified.length} contributions, the file holds ${info.contributions.length}`);
  }
  return {
    circuitHash,
    contributions: verified.map((c, i) => ({ ...info.contributions[i], ...c })),
  };
}

function printContributions(contributions) {
  console.log(`\n${contributions.length} contribution(s), in order:`);
  for (const c of contributions) {
    console.log(`  #${c.index} [${c.type}] ${JSON.stringify(c.name ?? '')}`);
    console.log(formatHash(c.hash, '      '));
    if (c.type === 'beacon') console.log(`      beacon ${c.beaconHash}, 2^${c.beaconIterationsExp} iterations`);
  }
}

async function init({ positional, flags }, paths, log) {
  need(positional, 1, 'init <circuit> --out <dir>');
  if (!flags.out) throw new CeremonyError('init needs --out <dir>');
  const circuit = await resolveCircuit(paths, positional[0], log);
  try {
    const out = path.resolve(flags.out);
    const zkey = path.join(out, `${circuit.name}_0000.zkey`);
    const transcriptPath = path.join(out, `${circuit.name}_transcript.json`);
    checkWritable(zkey, flags.force);
    await mkdir(out, { recursive: true });
    log.step(`${circuit.name}: Groth16 setup (zkey new) -> ${zkey}`);
    const circuitHash = hex(await snarkjs.zKey.newZKey(circuit.r1cs, circuit.ptau, zkey, log));
    const sha256 = await sha256File(zkey);
    const transcript = { ...circuit.record, circuitHash, initial: { file: path.basename(zkey), sha256 }, contributions: [] };
    await writeFile(transcriptPath, JSON.stringify(transcript, null, 2) + '\n');
    console.log(`\ninitial zkey  ${zkey}\n  sha256      ${sha256}\ncircuit hash (every contribution builds on it):\n${formatHash(circuitHash)}`);
    console.log(`transcript    ${transcriptPath}`);
  } finally {
    await circuit.cleanup();
  }
}

async function contribute({ positional, flags }, paths, log) {
  need(positional, 2, 'contribute <in.zkey> <out.zkey> --name "<who>"');
  const [input, output] = positional.map((p) => path.resolve(p));
  const name = flags.name?.trim();
  if (!name) throw new CeremonyError('contribute needs --name "<who>" (published with the contribution)');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new CeremonyError(`--name is longer than ${MAX_NAME_BYTES} bytes`);
  if (input === output) throw new CeremonyError('<out.zkey> must differ from <in.zkey>');
  const info = await readZkeyInfo(input);
  if (info.contributions.at(-1)?.type === 'beacon') {
    throw new CeremonyError(`${input} is already finalized with a beacon: contributions go before finalize`);
  }
  checkWritable(output, flags.force);

  // snarkjs hashes 64 bytes of OS randomness together with this string; add 64 more
  // of our own and, if given, a digest of the contributor's entropy file.
  const entropy = createHash('sha512').update(randomBytes(64));
  if (flags['entropy-file']) {
    const file = path.resolve(flags['entropy-file']);
    if (!existsSync(file)) throw new CeremonyError(`${file}: entropy file not found`);
    entropy.update(await readFile(file));
  }
  log.step(`contribution #${info.contributions.length + 1} "${name}" on ${input}`);
  await mkdir(path.dirname(output), { recursive: true });
  const hash = hex(await snarkjs.zKey.contribute(input, output, name, entropy.digest('hex'), log));
  const sha256 = await sha256File(output);
  console.log(`\ncontribution #${info.contributions.length + 1} by ${JSON.stringify(name)}`);
  console.log(`contribution hash (publish it; the coordinator's verify must list the same):\n${formatHash(hash)}`);
  console.log(`output        ${output}\n  sha256      ${sha256}`);
  console.log('Your secret was never written to disk; it is gone when this process exits.');
}

async function verify({ positional }, paths, log) {
  need(positional, 2, 'verify <circuit> <zkey>');
  const file = path.resolve(positional[1]);
  if (!existsSync(file)) throw new CeremonyError(`${file}: file not found`);
  const circuit = await resolveCircuit(paths, positional[0], log);
  try {
    const { circuitHash, contributions } = await verifyChain(circuit, file, log);
    console.log(`\nOK: ${file} is a valid phase-2 setup of ${circuit.name}`);
    console.log(`circuit hash:\n${formatHash(circuitHash)}`);
    printContributions(contributions);
  } finally {
    await circuit.cleanup();
  }
}

async function finalize({ positional, flags }, paths, log) {
  need(positional, 2, 'finalize <circuit> <in.zkey> --beacon <hex> --iterations <exp> --out <dir>');
  if (!flags.out) throw new CeremonyError('finalize needs --out <dir>');
  const beacon = String(flags.beacon ?? '').replace(/^0x/i, '').toLowerCase();
  if (!/^([0-9a-f]{2}){16,255}$/.test(beacon)) {
    throw new CeremonyError('--beacon must be 16 to 255 bytes of hex (e.g. a block hash fixed before the ceremony)');
  }
  const iterations = Number(flags.iterations);
  if (!Number.isInteger(iterations) || iterations < 10 || iterations > 63) {
    throw new CeremonyError('--iterations must be an integer exponent from 10 to 63 (2^n sha256 rounds)');
  }
  const input = path.resolve(positional[1]);
  if (!existsSync(input)) throw new CeremonyError(`${input}: file not found`);
  const circuit = await resolveCircuit(paths, positional[0], log);
  try {
    const info = await zkeyOf(circuit, input);
    if (info.contributions.at(-1)?.type === 'beacon') throw new CeremonyError(`${input} is already finalized`);
    if (!info.contributions.some((c) => c.type === 'contribution')) {
      throw new CeremonyError(`${input} has no contribution: a beacon alone gives a setup anyone can recompute`);
    }
    const out = path.resolve(flags.out);
    const files = {
      zkey: path.join(out, `${circuit.name}_final.zkey`),
      vkey: path.join(out, 'verification_key.json'),
      verifier: path.join(out, `${contractName(circuit.name)}.sol`),
      transcript: path.join(out, `${circuit.name}_transcript.json`),
    };
    checkWritable(files.zkey, flags.force);
    await mkdir(out, { recursive: true });

    const name = flags.name ?? `final beacon (${circuit.name})`;
    log.step(`${circuit.name}: beacon ${beacon}, 2^${iterations} iterations -> ${files.zkey}`);
    const applied = await snarkjs.zKey.beacon(input, files.zkey, name, beacon, iterations, log);
    if (!applied) throw new CeremonyError('snarkjs refused the beacon');

    const { circuitHash, contributions } = await verifyChain(circuit, files.zkey, log);
    log.step(`${circuit.name}: exporting verification key and ${contractName(circuit.name)}.sol`);
    await writeFile(files.vkey, verificationKeyText(await exportVerificationKey(files.zkey)));
    await writeFile(files.verifier, await exportSolidityVerifier(files.zkey, circuit.name));

    const artifact = async (file) => ({ file: path.basename(file), sha256: await sha256File(file) });
    const transcript = {
      ...circuit.record,
      circuitHash,
      contributions,
      beacon: { hash: beacon, iterationsExp: iterations },
      zkey: await artifact(files.zkey),
      verificationKey: await artifact(files.vkey),
      verifier: { contract: contractName(circuit.name), ...(await artifact(files.verifier)) },
    };
    await writeFile(files.transcript, JSON.stringify(transcript, null, 2) + '\n');

    printContributions(contributions);
    console.log(`\nfinal setup of ${circuit.name} (sha256 to commit and publish):`);
    for (const k of ['zkey', 'verificationKey', 'verifier']) {
      console.log(`  ${transcript[k].sha256}  ${path.join(out, transcript[k].file)}`);
    }
    console.log(`transcript ${files.transcript}`);
  } finally {
    await circuit.cleanup();
  }
}

const COMMANDS = { init, contribute, verify, finalize };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.command || args.flags.help || args.command === 'help' || args.command === '--help') {
    console.log(USAGE);
    return;
  }
  const command = COMMANDS[args.command];
  if (!command) throw new CeremonyError(`unknown command "${args.command}"`);
  const log = progressLogger({ verbose: Boolean(args.flags.verbose) });
  await command(args, layout(), log);
  log.step(`${args.command}: done`);
}

main()
  .then(shutdown)
  .catch(async (err) => {
    const usage = err instanceof CeremonyError && /^(expected |unknown command|unknown option|--\S+ needs|\S+ needs --)/.test(err.message);
    console.error(`ceremony: ${err instanceof CeremonyError ? err.message : (err?.stack ?? err)}`);
    if (usage) console.error(`\n${USAGE}`);
    await shutdown();
    process.exit(1);
  });
