/**
 * Checkpoint roots reach the ledger through the outbox: anchored in batches (the contract's rootAt
 * equals each signed root), idempotent when run again or when rows are set back as after a crash,
 * and a ledger outage only delays anchoring: appends and checkpoints go on, the rows stay pending
 * with the error recorded, and everything is anchored once the ledger is back.
 *
 * The service talks to the ledger through a TCP proxy; closing the proxy is the outage (restarting
 * the Hardhat node instead would lose its chain).
 */
import type { Contract, JsonRpcProvider } from 'ethers';
import { AuditScheduler } from '../../../src/audit/audit-scheduler.js';
import { startBackgroundWork } from '../../../src/background.js';
import { LedgerProxy, auditAnchorAt, backend, checkStoredLog, ledgerProvider, openAuditApp, waitFor, type AuditApp } from './support.js';

const BATCH = 3;
let proxy: LedgerProxy;
let svc: AuditApp;
let provider: JsonRpcProvider;
let chain: Contract;

const zero = `0x${'0'.repeat(64)}`;
const hex = (b: Buffer) => `0x${b.toString('hex')}`;

async function appendAndCheckpoint(events: number, tag: string): Promise<number> {
  await svc.audit.appendMany(Array.from({ length: events }, (_, i) => ({ type: 'test.anchoring', actor: 'tester', subject: `${tag}:${i}`, body: { tag, i } })));
  const cp = await svc.audit.checkpoint();
  return cp!.treeSize;
}

async function checkpointSizes(): Promise<number[]> {
  const rows: { tree_size: string }[] = await svc.ds.query(`SELECT tree_size FROM audit_checkpoint ORDER BY tree_size`);
  return rows.map((r) => Number(r.tree_size));
}

/** Every checkpoint is confirmed in the outbox and its root is what the contract holds for its size. */
async function expectAllOnChain(): Promise<number[]> {
  const sizes = await checkpointSizes();
  for (const size of sizes) {
    const cp = await svc.store.checkpoint(size);
    const anchor = await svc.store.anchor(size);
    expect({ size, status: anchor!.status }).toEqual({ size, status: 'confirmed' });
    // (A row adopted from the chain after a crash before its transaction was recorded has none.)
    if (anchor!.txHash !== null) expect(anchor!.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(anchor!.contractAddress!.toLowerCase()).toBe((await chain.getAddress()).toLowerCase());
    expect({ size, root: await chain.getFunction('rootAt')(size) }).toEqual({ size, root: hex(cp!.rootHash) });
  }
  const [latestSize, latestRoot] = await chain.getFunction('latest')();
  expect(Number(latestSize)).toBe(sizes[sizes.length - 1]);
  expect(latestRoot).toBe(hex((await svc.store.checkpoint(sizes[sizes.length - 1]!))!.rootHash));
  return sizes;
}

async function anchorUntilDone(): Promise<number[]> {
  const confirmed: number[] = [];
  for (let run = 0; run < 20; run++) {
    if ((await svc.store.openAnchors(1)).length === 0) return confirmed;
    const r = await svc.anchoring.anchorPending();
    confirmed.push(...r.confirmed, ...r.alreadyOnChain);
  }
  throw new Error('anchoring did not finish in 20 runs');
}

beforeAll(async () => {
  proxy = new LedgerProxy(new URL(process.env.LEDGER_RPC_URL!));
  await proxy.open();
  svc = await openAuditApp({ LEDGER_RPC_URL: proxy.url, AUDIT_ANCHOR_BATCH: String(BATCH), AUDIT_CHECKPOINT_INTERVAL_MS: '200' });
  provider = ledgerProvider();
  const address = await (await svc.anchoring.contract()).getAddress();
  chain = await auditAnchorAt(address, provider);
}, 60_000);

afterAll(async () => {
  await svc?.close();
  provider?.destroy();
  await proxy?.close();
});

describe(`anchoring (${backend})`, () => {
  it('anchors every checkpoint, in batches of AUDIT_ANCHOR_BATCH, oldest first', async () => {
    const sizes: number[] = [];
    for (const [i, n] of [3, 2, 4, 1, 6].entries()) sizes.push(await appendAndCheckpoint(n, `first${i}`));
    expect(sizes).toEqual([3, 5, 9, 10, 16]);
    for (const s of sizes) expect(await chain.getFunction('rootAt')(s)).toBe(zero);

    const first = await svc.anchoring.anchorPending();
    expect(first.confirmed).toEqual([3, 5, 9]);
    expect(first.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    const second = await svc.anchoring.anchorPending();
    expect(second.confirmed).toEqual([10, 16]);
    expect(second.txHash).not.toBe(first.txHash);

    expect(await expectAllOnChain()).toEqual(sizes);
    expect((await svc.store.anchor(3))!.txHash).toBe(first.txHash);
    expect((await svc.store.anchor(16))!.txHash).toBe(second.txHash);
    expect(await svc.store.anchorCounts()).toEqual({ confirmed: 5 });
  });

  it('running anchorPending again sends nothing', async () => {
    const block = await provider.getBlockNumber();
    expect(await svc.anchoring.anchorPending()).toEqual({ confirmed: [], alreadyOnChain: [] });
    expect(await provider.getBlockNumber()).toBe(block);
  });

  it('rows set back to pending or submitted (as after a crash) are adopted from the chain, not sent again', async () => {
    await svc.ds.query(`UPDATE audit_anchor SET status = 'pending', tx_hash = NULL, block_number = NULL WHERE tree_size IN (3, 9, 16)`);
    await svc.ds.query(`UPDATE audit_anchor SET status = 'submitted' WHERE tree_size = 10`);
    const submittedTx = (await svc.store.anchor(10))!.txHash;
    const block = await provider.getBlockNumber();
    const first = await svc.anchoring.anchorPending();
    expect(first).toEqual({ confirmed: [], alreadyOnChain: [3, 9, 10] });
    const second = await svc.anchoring.anchorPending();
    expect(second).toEqual({ confirmed: [], alreadyOnChain: [16] });
    expect(await provider.getBlockNumber()).toBe(block);
    await expectAllOnChain();
    // The transaction recorded before the "crash" is kept.
    expect((await svc.store.anchor(10))!.txHash).toBe(submittedTx);
  });

  it('re-sending an anchored batch to the contract is harmless: no event, nothing changes', async () => {
    const sizes = [5, 9, 10];
    const roots = await Promise.all(sizes.map(async (s) => hex((await svc.store.checkpoint(s))!.rootHash)));
    const contract = await svc.anchoring.contract();
    const receipt = await (await contract.getFunction('anchorBatch')(sizes, roots)).wait();
    expect(receipt.status).toBe(1);
    expect(receipt.logs).toHaveLength(0);
    await expectAllOnChain();
  });

  (backend === 'postgresql' ? it : it.skip)(
    backend === 'postgresql'
      ? 'while another process holds the anchoring lock, a run does nothing; once released, it anchors'
      : 'cross-process anchoring lock: skipped on PGlite, which serves a single process',
    async () => {
      const size = await appendAndCheckpoint(1, 'locked');
      const other = svc.ds.createQueryRunner();
      try {
        // What another worker's run holds (src/audit/anchoring.service.ts, ANCHOR_LOCK "auditanc").
        await other.query(`SELECT pg_advisory_lock($1)`, [0x6175646974616e63n.toString()]);
        expect(await svc.anchoring.anchorPending()).toEqual({ confirmed: [], alreadyOnChain: [], busy: true });
        expect((await svc.store.anchor(size))!).toMatchObject({ status: 'pending', attempts: 0, lastError: null });
      } finally {
        await other.query(`SELECT pg_advisory_unlock_all()`);
        await other.release();
      }
      expect((await svc.anchoring.anchorPending()).confirmed).toEqual([size]);
      await expectAllOnChain();
    },
  );

  it('concurrent anchorPending calls in one process share one run (one transaction)', async () => {
    const size = await appendAndCheckpoint(2, 'shared');
    const [a, b] = await Promise.all([svc.anchoring.anchorPending(), svc.anchoring.anchorPending()]);
    expect(a).toBe(b);
    expect(a.confirmed).toEqual([size]);
    await expectAllOnChain();
  });
});

describe(`ledger outage (${backend})`, () => {
  it('appends and checkpoints go on while the ledger is unreachable; anchoring fails and keeps the rows pending', async () => {
    const scheduler = svc.app.get(AuditScheduler);
    const before = await checkpointSizes();
    await proxy.close();

    // Through the scheduler's periodic step (checkpoint + request anchoring) and directly.
    await svc.audit.appendMany([{ type: 'test.anchoring', actor: 'tester', subject: 'outage:a', body: null }]);
    await scheduler.tick();
    const direct = await appendAndCheckpoint(3, 'outage-b');
    await svc.audit.appendMany([{ type: 'test.anchoring', actor: 'tester', subject: 'outage:c', body: null }]);
    await scheduler.tick();
    const during = (await checkpointSizes()).filter((s) => !before.includes(s));
    expect(during).toHaveLength(3);
    expect(during).toContain(direct);
    expect(during[2]).toBe(await svc.store.size());

    await expect(svc.anchoring.anchorPending()).rejects.toThrow();
    await expect(svc.anchoring.anchorPending()).rejects.toThrow();
    for (const size of during) {
      const row = await svc.store.anchor(size);
      expect(row!.status).toBe('pending');
      expect(row!.attempts).toBe(2);
      expect(row!.lastError).toMatch(/unreachable|ECONNREFUSED/);
      expect(row!.txHash).toBeNull();
      expect(await chain.getFunction('rootAt')(size)).toBe(zero);
    }
    // The log itself is intact.
    await checkStoredLog(svc.ds, svc.store);
  });

  it('once the ledger is back, the worker anchors every checkpoint, including those made during the outage', async () => {
    await proxy.open(); // same port as before
    // More events arrive as the ledger comes back; the scheduler of the started worker signs a
    // checkpoint for them and the queued anchoring job picks up everything open.
    await svc.audit.appendMany([{ type: 'test.anchoring', actor: 'tester', subject: 'after:a', body: null }]);
    await startBackgroundWork(svc.app);
    const size = await svc.store.size();
    await waitFor('every checkpoint to be anchored', async () => {
      const latest = await svc.store.latestCheckpoint();
      const open = await svc.store.openAnchors(1);
      return latest?.treeSize === size && open.length === 0;
    }, 45_000, 200);
    const sizes = await expectAllOnChain();
    expect(sizes[sizes.length - 1]).toBe(size);
    for (const s of sizes) expect((await svc.store.anchor(s))!.lastError).toBeNull();
    await checkStoredLog(svc.ds, svc.store);
    // Nothing left to do.
    await anchorUntilDone();
  }, 60_000);
});
