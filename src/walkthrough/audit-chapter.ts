/**
 * Walkthrough chapter: the audit log. The admin actions of the previous chapters are events;
 * a checkpoint is signed by the HSM key, anchored on the ledger by a worker, and checked by the
 * standalone verifier, which trusts nothing but the public key, the proofs and the chain.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { http } from './http.js';
import type { ChapterContext } from './chapters.js';

export async function auditChapter(ctx: ChapterContext): Promise<void> {
  const { baseUrl, log, adminKey, section } = ctx;
  section('7. audit log: events, signed checkpoint, anchor, independent verification');

  const cp = await http(baseUrl, 'POST', '/audit/checkpoints', { key: adminKey });
  if (cp.status !== 201) throw new Error(`checkpoint failed: ${JSON.stringify(cp.body)}`);
  const size: number = cp.body.treeSize;
  log(`  checkpoint signed by the HSM key: size ${size}, root ${cp.body.rootHash}`);
  for (let seq = Math.max(0, size - 3); seq < size; seq++) {
    const e = await http(baseUrl, 'GET', `/audit/events/${seq}`, { key: adminKey });
    log(`    event ${seq}: ${e.body.type} by ${e.body.actor} on ${e.body.subject}`);
  }

  let anchor = await http(baseUrl, 'GET', `/audit/anchors/${size}`);
  for (let i = 0; i < 120 && anchor.body.status !== 'confirmed'; i++) {
    await new Promise((r) => setTimeout(r, 250));
    anchor = await http(baseUrl, 'GET', `/audit/anchors/${size}`);
  }
  if (anchor.body.status !== 'confirmed') throw new Error(`checkpoint ${size} was not anchored: ${JSON.stringify(anchor.body)}`);
  log(`  anchored by a worker: contract ${anchor.body.contractAddress}, tx ${anchor.body.txHash}, block ${anchor.body.blockNumber}`);

  const proof = await http(baseUrl, 'GET', `/audit/proofs/inclusion?seq=${size - 1}&treeSize=${size}`);
  log(`  inclusion proof of event ${size - 1} in tree ${size}: ${proof.body.hashes.length} hashes`);

  const rpc = process.env.LEDGER_RPC_URL ?? 'http://127.0.0.1:8545';
  const cli = path.resolve('dist/src/audit/verifier/cli.js');
  log(`  standalone verifier (AUDIT_API_KEY=<admin key>): npm run audit:verify -- --url ${baseUrl} --seq ${size - 1} --rpc ${rpc} --contract ${anchor.body.contractAddress}`);
  // Asynchronously: this process serves the API the verifier calls.
  // The API key goes through the environment, not the command line (which other local users can see).
  const args = [cli, '--url', baseUrl, '--seq', String(size - 1), '--rpc', rpc, '--contract', anchor.body.contractAddress];
  const run = await promisify(execFile)(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, AUDIT_API_KEY: adminKey } }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? 1 }),
  );
  for (const line of `${run.stdout}${run.stderr}`.trim().split('\n')) log(`    ${line}`);
  if (run.code !== 0) throw new Error(`the standalone verifier failed (exit ${run.code})`);
}
