/**
 * The standalone verifier against the real service: the app over HTTP on a random port, the
 * Hardhat node and the SoftHSM token from the global setup. The verifier runs as a child process
 * (the compiled command, as a user runs it) with no database, HSM or ledger settings.
 *
 * Forged evidence is made with the real log key in the HSM (a fork, a rewritten history), and
 * with audit anchor contracts deployed here that hold other roots.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, type InterfaceAbi, type JsonRpcSigner } from 'ethers';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/config.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { AnchoringService } from '../../../src/audit/anchoring.service.js';
import { AuditService } from '../../../src/audit/audit.service.js';
import type { StoredEvent } from '../../../src/audit/audit-store.js';
import { hsmCheckpointSigner } from '../../../src/audit/checkpoint-signer.js';
import { rootFromLeafHashes, signCheckpoint, toBase64, type Checkpoint, type CheckpointSigner } from '../../../src/audit/crypto/index.js';
import { ROOT, ensureVerifierBuilt, linesOf, runVerifier, type CliRun } from './support.js';

let app: NestExpressApplication;
let url: string;
let rpc: string;
let adminKey: string;
let dir: string;
let keyFile: string;
let logKey: CheckpointSigner;
let events: StoredEvent[];
/** Two checkpoints of the service, both anchored on its own contract: older (A) and latest (B). */
let cpA: Checkpoint;
let cpB: Checkpoint;
let serviceContract: string;
let provider: JsonRpcProvider;
let deployer: JsonRpcSigner;
let artifact: { abi: InterfaceAbi; bytecode: string };

beforeAll(async () => {
  await ensureVerifierBuilt();
  const scratch = process.env.TEST_SCRATCH_DIR!;
  dir = mkdtempSync(path.join(scratch, 'verifier-e2e-'));
  app = await createApp(loadConfig({ ...process.env, DATA_DIR: path.join(scratch, 'audit-verifier') }), { quiet: true });
  await app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  rpc = process.env.LEDGER_RPC_URL!;

  const auth = app.get(AuthService);
  const name = `auditor-${Date.now().toString(36)}`;
  await auth.createPrincipal(name, 'admin');
  adminKey = (await auth.issueKey(name)).key;

  const audit = app.get(AuditService);
  events = [];
  const append = async (i: number) =>
    events.push(
      await audit.append({
        type: 'proof.issued',
        actor: 'wallet-app:verifier-test',
        subject: `account:${i}`,
        body: { circuit: 'balance', threshold: `${100 + i}.00`, note: 'Zürich €', depth: [1, 2.5, { ok: true }] },
      }),
    );
  for (let i = 0; i < 4; i++) await append(i);
  cpA = (await audit.checkpoint())!;
  for (let i = 4; i < 7; i++) await append(i);
  cpB = (await audit.checkpoint())!;
  const anchoring = app.get(AnchoringService);
  const run = await anchoring.anchorPending();
  expect(run.confirmed.concat(run.alreadyOnChain)).toEqual(expect.arrayContaining([cpA.treeSize, cpB.treeSize]));
  serviceContract = (await anchoring.contractInfo())!.address;

  keyFile = save('log-key.pem', audit.publicKey().pem);
  logKey = await hsmCheckpointSigner(app.get(HsmService));

  provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
  deployer = await provider.getSigner(1); // not the service's account, whose nonces the service tracks
  const file = path.join(ROOT, 'artifacts', 'contracts', 'audit', 'AuditAnchor.sol', 'AuditAnchor.json');
  artifact = JSON.parse(readFileSync(file, 'utf8')) as typeof artifact;
});

afterAll(async () => {
  provider?.destroy();
  await app?.close();
});

// ------------------------------------------------------------------ helpers

function save(name: string, content: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

async function served<T = Record<string, unknown>>(route: string, withKey = false): Promise<T> {
  const res = await fetch(`${url}${route}`, { headers: withKey ? { authorization: `Bearer ${adminKey}` } : {} });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** Runs the verifier; on an unexpected exit code the report is in the failure message. */
async function verify(args: string[], expected: 0 | 1 | 2, env: Record<string, string> = {}): Promise<CliRun> {
  const run = await runVerifier(args, env);
  expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ code: expected, stdout: expect.any(String), stderr: '' });
  expect(run.stdout).not.toMatch(/\n\s+at /);
  return run;
}

const line = (run: CliRun, pattern: RegExp) => expect(run.stdout).toMatch(new RegExp(pattern.source, 'm'));
const hex = (b64: string) => `0x${Buffer.from(b64, 'base64').toString('hex')}`;
const randomRoot = () => toBase64(randomBytes(32));

async function deployAnchor(): Promise<Contract> {
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer);
  const contract = await factory.deploy(await deployer.getAddress());
  await contract.waitForDeployment();
  return contract as Contract;
}

async function anchorRoot(contract: Contract, treeSize: number, rootHash: string): Promise<void> {
  await (await contract.getFunction('anchor')(treeSize, hex(rootHash))).wait();
}

/** A checkpoint signed by the log's own HSM key over a root of our choosing. */
function signedByLogKey(treeSize: number, rootHash: string): Promise<Checkpoint> {
  return signCheckpoint({ origin: cpB.origin, treeSize, rootHash, timestamp: Date.now() }, logKey);
}

// ------------------------------------------------------------------ tests

describe('a good event and an anchored checkpoint', () => {
  it('verify against the service, trusting its key and contract on first use (exit 0)', async () => {
    const event = events[2]!;
    const run = await verify(
      ['--url', url, '--seq', String(event.seq), '--api-key', adminKey, '--old-size', String(cpA.treeSize), '--rpc', rpc],
      0,
    );
    expect(linesOf(run, 'FAIL')).toEqual([]);
    line(run, new RegExp(`^ok   checkpoint ${cpB.treeSize} signature \\(key ${cpB.keyId.slice(0, 8)}\\.\\., from the service\\)$`));
    line(run, new RegExp(`^ok   event ${event.seq} leaf hash \\(recomputed from the event: ${event.leafHash.toString('hex').slice(0, 8)}\\.\\.`));
    line(run, new RegExp(`^ok   event ${event.seq} inclusion in checkpoint ${cpB.treeSize} `));
    line(run, new RegExp(`^ok   checkpoint ${cpA.treeSize} signature `));
    line(run, new RegExp(`^ok   consistency ${cpA.treeSize} -> ${cpB.treeSize} `));
    line(run, new RegExp(`^ok   anchor of checkpoint ${cpB.treeSize} \\(contract ${serviceContract} on chain \\d+ holds the same root`));
    line(run, /^note the log's public key \w{8}\.\. was taken from the service and trusted on first use/);
    line(run, new RegExp(`^note the anchor contract address ${serviceContract} \\(chain \\d+\\) was taken from the service`));
    line(run, /^verified: all \d+ checks passed$/);
    // Every line is ok, note or the verdict.
    expect(run.stdout.trim().split('\n').every((l) => /^(ok {3}|note |verified: )/.test(l))).toBe(true);
  });

  it('verify with the key and contract pinned, the event found by leaf hash, as JSON (exit 0)', async () => {
    const event = events[5]!;
    const run = await verify(
      ['--url', url, '--public-key', keyFile, '--leaf-hash', event.leafHash.toString('hex'), '--rpc', rpc, '--contract', serviceContract, '--json'],
      0,
      { AUDIT_API_KEY: adminKey },
    );
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: { check: string; ok: boolean }[]; notes: string[] };
    expect(report.ok).toBe(true);
    expect(report.notes).toEqual([]); // nothing taken on trust
    expect(report.checks.map((c) => c.check)).toEqual([
      'public key',
      `checkpoint ${cpB.treeSize} signature`,
      `event ${event.seq} leaf hash`,
      `event ${event.seq} inclusion in checkpoint ${cpB.treeSize}`,
      `anchor of checkpoint ${cpB.treeSize}`,
    ]);
    expect(report.checks.every((c) => c.ok)).toBe(true);
  });

  it('with only a leaf hash and no API key, checks that the hash is in the log (exit 0)', async () => {
    const event = events[0]!;
    const hash = event.leafHash.toString('hex');
    const run = await verify(['--url', url, '--public-key', keyFile, '--leaf-hash', hash], 0);
    line(run, new RegExp(`^ok   leaf ${hash.slice(0, 8)}\\.\\. inclusion in checkpoint ${cpB.treeSize} \\(leaf ${event.seq}; the event's content was not checked`));
  });

  it('verifies offline from saved files, then the anchor on the ledger (exit 0)', async () => {
    const seq = events[3]!.seq;
    const eventFile = save('event.json', await served(`/audit/events/${seq}`, true));
    const proofFile = save('inclusion.json', await served(`/audit/proofs/inclusion?seq=${seq}&treeSize=${cpB.treeSize}`));
    const checkpointFile = save('checkpoint-b.json', cpB);
    const oldFile = save('checkpoint-a.json', cpA);
    const consistencyFile = save('consistency.json', await served(`/audit/proofs/consistency?from=${cpA.treeSize}&to=${cpB.treeSize}`));
    const run = await verify(
      [
        '--public-key', keyFile, '--checkpoint', checkpointFile, '--event', eventFile, '--proof', proofFile,
        '--old-checkpoint', oldFile, '--proof', consistencyFile, '--rpc', rpc, '--contract', serviceContract,
      ],
      0,
    );
    expect(linesOf(run, 'FAIL')).toEqual([]);
    expect(linesOf(run, 'note')).toEqual([]);
    line(run, new RegExp(`^ok   event ${seq} inclusion in checkpoint ${cpB.treeSize} \\(RFC 9162 inclusion proof from file .*inclusion\\.json\\)`));
    line(run, new RegExp(`^ok   consistency ${cpA.treeSize} -> ${cpB.treeSize} `));
    line(run, new RegExp(`^ok   anchor of checkpoint ${cpB.treeSize} `));
  });
});

describe('a tampered event', () => {
  it('a saved event with a changed body fails its leaf hash and its inclusion (exit 1)', async () => {
    const seq = events[1]!.seq;
    const event = await served<Record<string, unknown>>(`/audit/events/${seq}`, true);
    const tampered = save('tampered-event.json', { ...event, body: { ...(event.body as object), threshold: '1000000.00' } });
    const run = await verify(['--url', url, '--public-key', keyFile, '--event', tampered], 1);
    line(run, new RegExp(`^FAIL event ${seq} leaf hash: the event from file .*tampered-event\\.json hashes to \\w{8}\\.\\., but file .*tampered-event\\.json says ${(event.leafHash as string).slice(0, 8)}\\.\\.`));
    line(run, /the event was changed after it was logged, or it is not the event the log holds$/);
    line(run, new RegExp(`^FAIL event ${seq} inclusion in checkpoint ${cpB.treeSize}: root mismatch: the inclusion proof for event ${seq} leads to \\w{8}\\.\\. but checkpoint ${cpB.treeSize} says`));
    line(run, /^NOT verified: 2 of \d+ checks failed$/);
  });

  it('offline too: the saved proof says another leaf hash than the event has', async () => {
    const seq = events[1]!.seq;
    const event = await served<Record<string, unknown>>(`/audit/events/${seq}`, true);
    const { leafHash: _dropped, ...withoutHash } = event;
    const tampered = save('tampered-offline.json', { ...withoutHash, actor: 'someone-else' });
    const proofFile = save('inclusion-1.json', await served(`/audit/proofs/inclusion?seq=${seq}&treeSize=${cpB.treeSize}`));
    const run = await verify(['--public-key', keyFile, '--event', tampered, '--proof', proofFile], 1);
    line(run, new RegExp(`^FAIL event ${seq} leaf hash: .* but the inclusion proof in file .*inclusion-1\\.json says`));
    line(run, new RegExp(`^FAIL event ${seq} inclusion in checkpoint ${cpB.treeSize}: root mismatch`));
  });
});

describe('forged and foreign checkpoints', () => {
  it('a checkpoint whose signed statement was altered fails its signature (exit 1)', async () => {
    const forged = save('forged-signature.json', { ...cpB, rootHash: randomRoot() });
    const run = await verify(['--url', url, '--checkpoint', forged], 1);
    line(run, new RegExp(`^FAIL checkpoint ${cpB.treeSize} signature: bad signature: checkpoint \\S+ at size ${cpB.treeSize} was not signed by key \\w{8}\\.\\. or was altered after signing$`));
    // The genuine checkpoint served for the same size still verifies; a forgery is no evidence of a fork.
    line(run, new RegExp(`^ok   checkpoint ${cpB.treeSize} signature \\(key \\w{8}\\.\\., from the service\\)`));
    expect(run.stdout).not.toMatch(/fork/);
  });

  it('two checkpoints of one size, both signed by the log key, with different roots are a fork (exit 1)', async () => {
    const fork = await signedByLogKey(cpB.treeSize, randomRoot());
    expect(fork.keyId).toBe(cpB.keyId); // really the log's key
    const run = await verify(['--url', url, '--public-key', keyFile, '--checkpoint', save('fork.json', fork)], 1);
    // Both statements carry valid signatures: that is what makes them evidence.
    expect(linesOf(run, `ok   checkpoint ${cpB.treeSize} signature`)).toHaveLength(2);
    line(run, new RegExp(`^FAIL fork check at size ${cpB.treeSize}: fork: two checkpoints of \\S+ at size ${cpB.treeSize} have different roots \\(\\w{8}\\.\\. and \\w{8}\\.\\.\\); keep both as evidence \\(one from file .*fork\\.json, the other from the service\\)$`));
  });

  it('an old checkpoint from a different history fails consistency (exit 1)', async () => {
    const size = cpA.treeSize - 1;
    const otherHistory = rootFromLeafHashes(Array.from({ length: size }, () => randomBytes(32)));
    const old = await signedByLogKey(size, toBase64(otherHistory));
    const run = await verify(['--url', url, '--old-checkpoint', save('other-history.json', old)], 1);
    line(run, new RegExp(`^ok   checkpoint ${size} signature \\(key ${cpB.keyId.slice(0, 8)}\\.\\., from file`));
    line(run, new RegExp(`^FAIL consistency ${size} -> ${cpB.treeSize}: (old|new) root mismatch: the consistency proof from ${size} to ${cpB.treeSize} leads to`));
  });

  it('a --public-key other than the log key fails (exit 1)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const run = await verify(['--url', url, '--public-key', save('other-key.pem', other)], 1);
    line(run, new RegExp(`^FAIL public key: the service serves key ${cpB.keyId.slice(0, 8)}\\.\\., but the trusted key in .*other-key\\.pem is \\w{8}\\.\\.`));
    line(run, new RegExp(`^FAIL checkpoint ${cpB.treeSize} signature: checkpoint \\S+ at size ${cpB.treeSize} is signed by key ${cpB.keyId.slice(0, 8)}\\.\\., which is not a trusted key`));
  });
});

describe('the on-chain anchor', () => {
  const verifyAnchor = (contract: string, extra: string[] = []) =>
    ['--url', url, '--public-key', keyFile, '--rpc', rpc, '--contract', contract, ...extra];

  it('fails against a contract that holds a different root for the size (exit 1)', async () => {
    const contract = await deployAnchor();
    const address = await contract.getAddress();
    await anchorRoot(contract, cpB.treeSize, randomRoot());
    const run = await verify(verifyAnchor(address), 1);
    line(run, new RegExp(`^FAIL anchor of checkpoint ${cpB.treeSize}: contract ${address} on chain \\d+ holds root \\w{8}\\.\\. for size ${cpB.treeSize}, but the checkpoint says \\w{8}\\.\\.: the log was rewritten`));
    expect(linesOf(run, 'FAIL')).toHaveLength(1);
  });

  it('a checkpoint not anchored yet verifies through a later anchored checkpoint that extends it (exit 0)', async () => {
    const contract = await deployAnchor();
    const address = await contract.getAddress();
    await anchorRoot(contract, cpB.treeSize, cpB.rootHash);
    const run = await verify(verifyAnchor(address, ['--checkpoint', save('checkpoint-a.json', cpA)]), 0);
    line(run, new RegExp(`^ok   anchor of checkpoint ${cpA.treeSize} \\(not anchored yet; checkpoint ${cpB.treeSize}, anchored on contract ${address} on chain \\d+, extends it: consistency ${cpA.treeSize} -> ${cpB.treeSize} verified\\)$`));
  });

  it('fails when a later anchored root is not what the service signed for that size (exit 1)', async () => {
    const contract = await deployAnchor();
    const address = await contract.getAddress();
    await anchorRoot(contract, cpB.treeSize, randomRoot());
    const run = await verify(verifyAnchor(address, ['--checkpoint', save('checkpoint-a.json', cpA)]), 1);
    line(run, new RegExp(`^FAIL anchor of checkpoint ${cpA.treeSize}: checkpoint ${cpA.treeSize} is not anchored yet; contract ${address} on chain \\d+ holds root \\w{8}\\.\\. for size ${cpB.treeSize}, but the service's signed checkpoint ${cpB.treeSize} says`));
  });

  it('fails when nothing covering the checkpoint is anchored (exit 1)', async () => {
    const empty = await deployAnchor();
    const run = await verify(verifyAnchor(await empty.getAddress()), 1);
    line(run, new RegExp(`^FAIL anchor of checkpoint ${cpB.treeSize}: checkpoint ${cpB.treeSize} is not anchored yet, and contract 0x\\w+ on chain \\d+ holds no checkpoint at all$`));

    const older = await deployAnchor();
    await anchorRoot(older, cpA.treeSize, cpA.rootHash);
    const run2 = await verify(verifyAnchor(await older.getAddress()), 1);
    line(run2, new RegExp(`^FAIL anchor of checkpoint ${cpB.treeSize}: checkpoint ${cpB.treeSize} is not anchored yet; the latest checkpoint anchored on .* is the older ${cpA.treeSize}: run again after the next anchoring$`));
  });

  it('fails when the address holds no contract (exit 1)', async () => {
    const nobody = `0x${randomBytes(20).toString('hex')}`;
    const run = await verify(verifyAnchor(nobody), 1);
    line(run, new RegExp(`^FAIL anchor of checkpoint ${cpB.treeSize}: there is no contract at 0x\\w{40} on chain \\d+$`, 'i'));
  });
});

describe('an unreachable service', () => {
  it('is a failed check with the reason, not a crash (exit 1)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const run = await verify(['--url', `http://127.0.0.1:${closed}`, '--public-key', keyFile], 1);
    line(run, new RegExp(`^FAIL public key: cannot read the service's key: cannot reach the service at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)$`));
    line(run, /^FAIL latest checkpoint: cannot reach the service/);
  });
});
