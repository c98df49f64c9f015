/**
 * A worker process killed (SIGKILL) while its anchoring transaction is in flight: the transaction
 * was sent and recorded as submitted, the receipt never arrived. A new worker takes over, and in
 * the end every checkpoint is confirmed and on chain, no event is lost, nothing is anchored twice.
 *
 * The worker (the real entry point, compiled from the tree) reaches the ledger through a TCP proxy
 * that lets the anchoring transaction and its lookup through and then holds every later request,
 * so the kill lands deterministically between "submitted" and "confirmed".
 *
 * PostgreSQL only: with PGlite a separate worker process cannot share the test's database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { Interface, type Contract, type JsonRpcProvider } from 'ethers';
import { loadConfig } from '../../../src/config/config.js';
import { HsmService } from '../../../src/hsm/hsm.service.js';
import { CHECKPOINT_KEY_LABEL } from '../../../src/audit/checkpoint-signer.js';
import { readContractArtifact } from '../../../src/ledger/artifacts.js';
import { spkiFromPublicKey, verifyCheckpoint, type Checkpoint } from '../../../src/audit/crypto/index.js';
import type { CheckpointRow } from '../../../src/audit/audit-store.js';
import {
  LedgerProxy,
  ROOT,
  auditAnchorAt,
  backend,
  buildEntryPoints,
  checkStoredLog,
  collectOutput,
  exited,
  ledgerProvider,
  openStore,
  sleep,
  waitFor,
} from './support.js';

/** The last lines of a worker's output, without per-checkpoint debug lines. */
const tail = (text: string) => text.split('\n').filter((l) => !/DEBUG/.test(l)).slice(-40).join('\n');

const suite = backend === 'postgresql' ? describe : describe.skip;
const title =
  backend === 'postgresql'
    ? 'worker killed while anchoring (postgresql)'
    : 'worker killed while anchoring: skipped on PGlite, whose data folder a separate worker process cannot share';

suite(title, () => {
  let build: Awaited<ReturnType<typeof buildEntryPoints>>;
  let ctx: Awaited<ReturnType<typeof openStore>>;
  let proxy: LedgerProxy;
  let provider: JsonRpcProvider;
  let anchorBatchSelector: string;
  const workers: { child: ChildProcess; output: { text(): string } }[] = [];

  beforeAll(async () => {
    [build, ctx] = await Promise.all([buildEntryPoints(['src/worker.ts']), openStore()]);
    proxy = new LedgerProxy(new URL(process.env.LEDGER_RPC_URL!));
    await proxy.open();
    provider = ledgerProvider();
    const artifact = await readContractArtifact(path.join(ROOT, 'artifacts'), 'AuditAnchor');
    anchorBatchSelector = new Interface(artifact.abi).getFunction('anchorBatch')!.selector;
  }, 90_000);

  afterAll(async () => {
    for (const { child } of workers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(workers.map(({ child }) => exited(child)));
    provider?.destroy();
    await proxy?.close();
    await ctx?.close();
    build?.remove();
  });

  function startWorker(): { child: ChildProcess; output: { text(): string } } {
    const child = spawn(process.execPath, [build.js('src/worker.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        DATABASE_URL: ctx.db.config.DATABASE_URL!,
        DATA_DIR: ctx.db.config.DATA_DIR,
        LEDGER_RPC_URL: proxy.url,
        AUDIT_CHECKPOINT_INTERVAL_MS: '200',
        AUDIT_ANCHOR_BATCH: '50',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = { child, output: collectOutput(child) };
    workers.push(w);
    return w;
  }

  /** Appends small batches until stopped; returns what it was told. */
  function appendInBackground(): { stop(): Promise<{ seq: number; subject: string }[]> } {
    let running = true;
    const got: { seq: number; subject: string }[] = [];
    const loop = (async () => {
      for (let i = 0; running; i++) {
        const batch = Array.from({ length: 1 + (i % 3) }, (_, k) => ({ type: 'test.crash', actor: 'tester', subject: `crash:${i}:${k}`, body: { i, k } }));
        for (const e of await ctx.store.append(batch)) got.push({ seq: e.seq, subject: e.subject });
        await sleep(20);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return got;
      },
    };
  }

  /** The anchoring jobs in the queue, for failure messages. */
  const anchorJobs = async () =>
    ctx.ds.query(`SELECT state, singleton_key, retry_count, started_on, created_on FROM pgboss.job WHERE name = 'audit.anchor' ORDER BY created_on`).catch((e: Error) => e.message);

  const anchorRows = async (): Promise<{ tree_size: string; status: string; tx_hash: string | null }[]> =>
    ctx.ds.query(`SELECT tree_size, status, tx_hash FROM audit_anchor ORDER BY tree_size`);

  it('SIGKILL between "submitted" and "confirmed"; a new worker confirms everything, nothing lost or doubled', async () => {
    const appender = appendInBackground();
    let appended: { seq: number; subject: string }[] = [];
    let submitted: { tree_size: string; status: string; tx_hash: string | null }[] = [];
    let txHash = '';
    try {
      // Let the anchoring transaction (and ethers' lookup of it) through, then hold everything.
      let armed = false;
      proxy.inspector = (calls) => {
        if (armed) return calls.every((c) => c.method === 'eth_getTransactionByHash') ? 'pass' : 'hold';
        const send = calls.find((c) => c.method === 'eth_sendTransaction');
        const data = (send?.params?.[0] as { data?: string } | undefined)?.data;
        if (data?.startsWith(anchorBatchSelector)) armed = true;
        return 'pass';
      };

      const first = startWorker();
      submitted = await waitFor(
        'an anchoring transaction in flight (outbox rows in status submitted)',
        async () => {
          if (first.child.exitCode !== null) throw new Error(`worker exited early: ${tail(first.output.text())}`);
          const rows = await anchorRows();
          return proxy.held > 0 && rows.some((r) => r.status === 'submitted') && rows.filter((r) => r.status === 'submitted');
        },
        40_000,
        50,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nworker output:\n${tail(first.output.text())}`);
      });

      first.child.kill('SIGKILL');
      expect(await exited(first.child)).toBe('SIGKILL');

      // The transaction did reach the chain; the outbox never heard back.
      txHash = submitted[0]!.tx_hash!;
      expect(submitted.every((r) => r.tx_hash === txHash)).toBe(true);
      const receipt = await provider.getTransactionReceipt(txHash);
      expect(receipt?.status).toBe(1);
      const afterKill = await anchorRows();
      for (const r of submitted) expect(afterKill.find((x) => x.tree_size === r.tree_size)!.status).toBe('submitted');

      // Ledger back to normal; a new worker starts while events keep arriving.
      proxy.inspector = undefined;
      proxy.releaseHeld();
      const second = startWorker();
      await waitFor('the new worker to confirm the rows the killed one left submitted', async () => {
        if (second.child.exitCode !== null) throw new Error(`worker exited: ${tail(second.output.text())}`);
        const rows = await anchorRows();
        return submitted.every((s) => rows.find((r) => r.tree_size === s.tree_size)!.status === 'confirmed');
      }, 40_000, 100).catch(async (e: Error) => {
        throw new Error(`${e.message}\njobs: ${JSON.stringify(await anchorJobs())}\nworker output:\n${tail(second.output.text())}`);
      });
    } finally {
      appended = await appender.stop();
    }

    // Everything appended gets checkpointed and anchored.
    const size = await ctx.store.size();
    await waitFor('the last checkpoint to cover every event and be anchored', async () => {
      const latest = await ctx.store.latestCheckpoint();
      return latest?.treeSize === size && (await ctx.store.openAnchors(1)).length === 0;
    }, 40_000, 100).catch(async (e: Error) => {
      throw new Error(`${e.message}\njobs: ${JSON.stringify(await anchorJobs())}\nworker output:\n${tail(workers[1]!.output.text())}`);
    });

    // No event lost: the log is 0..size-1, every append is where its caller was told, nodes correct.
    const { size: stored } = await checkStoredLog(ctx.ds, ctx.store);
    expect(stored).toBe(size);
    expect(appended.length).toBe(size);
    const rows: { seq: string; subject: string }[] = await ctx.ds.query(`SELECT seq, subject FROM audit_event ORDER BY seq`);
    const bySeq = new Map(rows.map((r) => [Number(r.seq), r.subject]));
    for (const a of appended) expect(bySeq.get(a.seq)).toBe(a.subject);

    // Checkpoints: one per size, each over the stored tree, signed by the HSM key, confirmed, on chain once.
    const cps: { tree_size: string }[] = await ctx.ds.query(`SELECT tree_size FROM audit_checkpoint ORDER BY tree_size`);
    const sizes = cps.map((c) => Number(c.tree_size));
    expect(new Set(sizes).size).toBe(sizes.length);
    expect(sizes[sizes.length - 1]).toBe(size);
    const anchors = await anchorRows();
    expect(anchors.map((a) => Number(a.tree_size))).toEqual(sizes);
    expect(anchors.every((a) => a.status === 'confirmed')).toBe(true);

    // The rows left submitted were adopted from the chain (the killed worker's transaction), not re-sent.
    for (const r of submitted) expect(anchors.find((a) => a.tree_size === r.tree_size)!.tx_hash).toBe(txHash);

    Logger.overrideLogger(false);
    const hsm = new HsmService(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }));
    await hsm.onModuleInit();
    let publicKey: Uint8Array;
    try {
      publicKey = spkiFromPublicKey(await hsm.getEcPublicKey(CHECKPOINT_KEY_LABEL));
    } finally {
      await hsm.onApplicationShutdown();
    }
    const contractAddress = (await ctx.ds.query(`SELECT DISTINCT contract_address FROM audit_anchor`)) as { contract_address: string }[];
    expect(contractAddress).toHaveLength(1);
    const chain: Contract = await auditAnchorAt(contractAddress[0]!.contract_address, provider);
    const toCheckpoint = (row: CheckpointRow): Checkpoint => ({
      origin: row.origin,
      treeSize: row.treeSize,
      rootHash: row.rootHash.toString('base64'),
      timestamp: row.timestamp,
      keyId: row.keyId,
      signature: row.signature.toString('base64'),
    });
    for (const s of sizes) {
      const cp = (await ctx.store.checkpoint(s))!;
      expect(cp.rootHash.equals(await ctx.store.root(s))).toBe(true);
      expect(verifyCheckpoint(toCheckpoint(cp), publicKey)).toEqual({ ok: true });
      expect({ s, root: await chain.getFunction('rootAt')(s) }).toEqual({ s, root: `0x${cp.rootHash.toString('hex')}` });
    }
    const events = await chain.queryFilter(chain.filters.CheckpointAnchored!(), 0);
    const anchoredSizes = events.map((e) => Number((e as unknown as { args: [bigint] }).args[0]));
    expect(anchoredSizes).toEqual(sizes);

    // The surviving worker still stops cleanly.
    workers[1]!.child.kill('SIGTERM');
    expect(await exited(workers[1]!.child)).toBe(0);
  }, 120_000);
});
