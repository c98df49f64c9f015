import { Inject, Injectable, Logger } from '@nestjs/common';
import { tryAdvisoryLock } from '../db/advisory-lock.js';
import type { Contract } from 'ethers';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { LedgerError, LedgerService } from '../ledger/ledger.service.js';
import { QueueService } from '../queue/queue.service.js';
import { AuditStore } from './audit-store.js';
import { AuditService } from './audit.service.js';

export const ANCHOR_QUEUE = 'audit.anchor';
export const ANCHOR_CONTRACT = 'AuditAnchor';

/**
 * Session-level advisory lock ("auditanc") held by the process that is anchoring, so that
 * processes sharing a PostgreSQL database take turns. A process that dies mid-run releases it with
 * its connection, at once.
 */
const ANCHOR_LOCK = 0x6175646974616e63n;

export interface AnchorRunResult {
  confirmed: number[];
  alreadyOnChain: number[];
  txHash?: string;
  gasUsed?: string;
  /** Set when another process was anchoring: this run did nothing (the other one takes what is open). */
  busy?: true;
}

/**
 * Anchors checkpoint roots on the ledger through an outbox: every checkpoint gets an
 * audit_anchor row in the same transaction that stores it (pending). A queued job takes the open
 * rows in tree-size order, first adopts any that the contract already holds (a transaction that
 * was mined before a crash), then sends the rest in one anchorBatch transaction, marks them
 * submitted, waits for the receipt and marks them confirmed. A ledger outage fails the job;
 * the rows stay open and the next run picks them up. Re-sending is harmless: the contract treats
 * an identical (size, root) as a no-op. One run at a time: in a process, concurrent calls share a
 * run; across processes on PostgreSQL, a run holds ANCHOR_LOCK (another process's run meanwhile
 * returns at once, marked busy).
 *
 * The queue's policy is 'short' (at most one queued request), not 'stately' or 'singleton': those
 * also allow only one active job, and the job of a worker that was killed mid-run stays active
 * until it expires (15 minutes by default), which would stop all anchoring for that long.
 */
@Injectable()
export class AnchoringService {
  private readonly logger = new Logger('AuditAnchoring');
  private readonly store: AuditStore;
  private running?: Promise<AnchorRunResult>;

  constructor(
    private readonly audit: AuditService,
    private readonly ledger: LedgerService,
    private readonly queue: QueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ds: DataSource,
  ) {
    this.store = audit.store;
    queue.register(ANCHOR_QUEUE, async () => this.anchorPending(), {
      queue: { policy: 'short', retryLimit: 5, retryDelay: 2, retryBackoff: true },
      worker: { pollingIntervalSeconds: 0.5 },
    });
  }

  /** The audit contract, deployed on first use (idempotent, recorded per chain). */
  async contract(): Promise<Contract> {
    const anchorer = await this.ledger.address();
    const deployment = await this.ledger.deploy(ANCHOR_CONTRACT, [anchorer], { key: ANCHOR_CONTRACT });
    if (!deployment.reused) {
      // A new contract: either the first one, or the chain was reset (a development node restarted)
      // and the old contract is gone. Checkpoints confirmed elsewhere are anchored again, oldest first.
      const reopened = await this.store.reopenConfirmedAnchors();
      if (reopened > 0) this.logger.warn(`the audit contract was deployed anew; re-anchoring ${reopened} earlier checkpoints on it`);
    }
    return deployment.contract;
  }

  /**
   * Chain id and address of the audit contract, read-only: a public read never deploys it (the
   * first anchoring run does). Null while nothing has been anchored on this chain.
   */
  async contractInfo(): Promise<{ chainId: number; address: string } | null> {
    try {
      const contract = await this.ledger.getContract(ANCHOR_CONTRACT);
      return { chainId: await this.ledger.chainId(), address: await contract.getAddress() };
    } catch (e) {
      if (e instanceof LedgerError && /no contract is deployed|no longer on the chain/.test(e.message)) return null;
      throw e;
    }
  }

  /** Asks a worker to anchor what is open (deduplicated while one is queued). */
  async requestAnchoring(): Promise<void> {
    await this.queue.send(ANCHOR_QUEUE, {}, { singletonKey: ANCHOR_QUEUE });
  }

  /** Anchors open checkpoints now. Concurrent calls in one process share a run. */
  anchorPending(): Promise<AnchorRunResult> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<AnchorRunResult> {
    const unlock = await tryAdvisoryLock(this.ds, ANCHOR_LOCK);
    if (!unlock) return { confirmed: [], alreadyOnChain: [], busy: true };
    try {
      return await this.anchorOpen();
    } finally {
      await unlock();
    }
  }

  private async anchorOpen(): Promise<AnchorRunResult> {
    let open = await this.store.openAnchors(this.config.AUDIT_ANCHOR_BATCH);
    const result: AnchorRunResult = { confirmed: [], alreadyOnChain: [] };
    if (open.length === 0) return result;
    let sizes = open.map((r) => r.treeSize);
    try {
      const contract = await this.contract();
      // contract() may have reopened earlier checkpoints (new contract): they go first.
      open = await this.store.openAnchors(this.config.AUDIT_ANCHOR_BATCH);
      sizes = open.map((r) => r.treeSize);
      const chainId = await this.ledger.chainId();
      const address = await contract.getAddress();

      // Adopt what the chain already holds (e.g. mined just before a crash).
      const toSend: typeof open = [];
      for (const row of open) {
        const onChain: string = await contract.rootAt(row.treeSize);
        if (onChain.toLowerCase() === '0x' + row.rootHash.toString('hex')) result.alreadyOnChain.push(row.treeSize);
        else toSend.push(row);
      }
      if (result.alreadyOnChain.length > 0) {
        await this.store.markConfirmed(result.alreadyOnChain, chainId, address, null, null);
      }
      if (toSend.length === 0) return result;

      const latest = Number(await contract.latestTreeSize());
      const stale = toSend.filter((r) => r.treeSize <= latest);
      if (stale.length > 0) {
        // Cannot happen with ordered, single-runner anchoring; if it does, it needs a person.
        throw new Error(`checkpoints ${stale.map((r) => r.treeSize).join(', ')} are at or below the anchored size ${latest} with a different root`);
      }
      const tx = await contract.anchorBatch(toSend.map((r) => r.treeSize), toSend.map((r) => '0x' + r.rootHash.toString('hex')));
      const sent = toSend.map((r) => r.treeSize);
      await this.store.markSubmitted(sent, chainId, address, tx.hash);
      const receipt = await tx.wait(1);
      if (!receipt || receipt.status !== 1) throw new Error(`anchoring transaction ${tx.hash} failed on chain`);
      await this.store.markConfirmed(sent, chainId, address, tx.hash, receipt.blockNumber);
      result.confirmed = sent;
      result.txHash = tx.hash;
      result.gasUsed = receipt.gasUsed.toString();
      this.logger.log(`anchored checkpoints ${sent[0]}..${sent[sent.length - 1]} (${sent.length}) in ${tx.hash}`);
      return result;
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0]!;
      await this.store.markFailed(sizes, reason).catch(() => undefined);
      this.logger.warn(`anchoring deferred: ${reason}`);
      throw e;
    }
  }
}
