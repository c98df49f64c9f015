import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { tryAdvisoryLock } from '../../db/advisory-lock.js';
import type { Contract } from 'ethers';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { LedgerService } from '../../ledger/ledger.service.js';
import { QueueService } from '../../queue/queue.service.js';
import { ZK_TREES, type ZkTree } from './root-history.service.js';

export const ROOT_PUBLISH_QUEUE = 'zk.roots.publish';
export const ROOT_REGISTRY_CONTRACT = 'RootRegistry';
/** Deployment keys of the two RootRegistry contracts (LedgerService.deploy). */
export const ROOT_REGISTRY_KEYS: Record<ZkTree, string> = { identity: 'IdentityRootRegistry', balance: 'BalanceRootRegistry' };

/** Session-level advisory lock ("zkroots") held by the process that is publishing (PostgreSQL). */
const PUBLISH_LOCK = 0x7a6b726f6f7473n;

export interface PublishRunResult {
  /** `<tree>:<version>` of every row confirmed by this run (sent, or found already current on chain). */
  confirmed: string[];
  txHashes: string[];
  /** Another process was publishing: this run did nothing. */
  busy?: true;
}

interface OpenRow {
  tree: ZkTree;
  version: number;
  root: string;
}

/**
 * Publishes identity and balance roots on the RootRegistry contracts through an outbox, as
 * AnchoringService anchors audit checkpoints: every new root gets a zk_root_publication row in
 * the transaction that creates it (pending); a queued job takes the open rows of each tree in
 * version order and calls publishRoot(root) once per row (so every intermediate root gets its own
 * validity window on chain too), marking each submitted, then confirmed with its block.
 *
 * A row whose root is already the contract's current root (a transaction mined just before a
 * crash) is adopted without a transaction. A ledger outage fails the job; the rows stay open with
 * the error recorded and the next run (a retry, the next tree change, or the next start-up)
 * publishes them. The contracts are deployed on first use with the service's account as publisher
 * and ZK_ROOT_WINDOW_SECONDS as window; when a contract is deployed anew (a development chain was
 * reset) the tree's latest root is published on it again.
 */
@Injectable()
export class RootPublisherService implements OnApplicationBootstrap {
  private readonly logger = new Logger('ZkRootPublisher');
  private running?: Promise<PublishRunResult>;

  constructor(
    private readonly ledger: LedgerService,
    private readonly queue: QueueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ds: DataSource,
  ) {
    queue.register(ROOT_PUBLISH_QUEUE, async () => this.publishPending(), {
      queue: { policy: 'short', retryLimit: 5, retryDelay: 2, retryBackoff: true },
      worker: { pollingIntervalSeconds: 0.5 },
    });
  }

  /** Roots left open by an earlier process (e.g. the ledger was down) are requested again at start-up. */
  async onApplicationBootstrap(): Promise<void> {
    try {
      const [row] = await this.ds.query(`SELECT count(*) AS n FROM zk_root_publication WHERE status <> 'confirmed'`);
      if (Number(row.n) === 0) return;
      await this.queue.createQueue(ROOT_PUBLISH_QUEUE);
      await this.requestPublishing();
    } catch (e) {
      this.logger.warn(`cannot request root publication at start-up: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  /** The tree's RootRegistry contract, deployed on first use (idempotent, recorded per chain). */
  async registry(tree: ZkTree): Promise<Contract> {
    const publisher = await this.ledger.address();
    const deployment = await this.ledger.deploy(ROOT_REGISTRY_CONTRACT, [publisher, this.config.ZK_ROOT_WINDOW_SECONDS], {
      key: ROOT_REGISTRY_KEYS[tree],
    });
    if (!deployment.reused) {
      const reopened = await this.ds.query(
        `UPDATE zk_root_publication SET status = 'pending', tx_hash = NULL, block_number = NULL,
           last_error = 'the root registry was deployed anew; publishing again', updated_at = now()
         WHERE tree = $1 AND status = 'confirmed'
           AND version = (SELECT max(version) FROM zk_root_publication WHERE tree = $1)
         RETURNING version`,
        [tree],
      );
      const n = Array.isArray(reopened[0]) ? reopened[0].length : reopened.length;
      if (n > 0) this.logger.warn(`the ${tree} root registry was deployed anew; publishing the current root on it again`);
    }
    return deployment.contract;
  }

  /** Chain id and address of the tree's registry (deploys it if needed). */
  async registryInfo(tree: ZkTree): Promise<{ chainId: number; address: string }> {
    const contract = await this.registry(tree);
    return { chainId: await this.ledger.chainId(), address: await contract.getAddress() };
  }

  /** Asks a worker to publish what is open. Never throws: the outbox keeps the rows either way. */
  async requestPublishing(): Promise<void> {
    try {
      await this.queue.send(ROOT_PUBLISH_QUEUE, {}, { singletonKey: ROOT_PUBLISH_QUEUE });
    } catch (e) {
      this.logger.warn(`cannot queue root publication (the roots stay pending): ${(e as Error).message.split('\n')[0]}`);
    }
  }

  /** Publishes open roots now. Concurrent calls in one process share a run. */
  publishPending(): Promise<PublishRunResult> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<PublishRunResult> {
    const unlock = await tryAdvisoryLock(this.ds, PUBLISH_LOCK);
    if (!unlock) return { confirmed: [], txHashes: [], busy: true };
    try {
      const result: PublishRunResult = { confirmed: [], txHashes: [] };
      let failure: unknown;
      for (const tree of ZK_TREES) {
        try {
          await this.publishTree(tree, result);
        } catch (e) {
          failure ??= e;
        }
      }
      if (failure) throw failure;
      return result;
    } finally {
      await unlock();
    }
  }

  private async openRows(tree: ZkTree): Promise<OpenRow[]> {
    const rows: { version: unknown; root: string }[] = await this.ds.query(
      `SELECT version, root FROM zk_root_publication WHERE tree = $1 AND status <> 'confirmed' ORDER BY version`,
      [tree],
    );
    return rows.map((r) => ({ tree, version: Number(r.version), root: r.root }));
  }

  private async publishTree(tree: ZkTree, result: PublishRunResult): Promise<void> {
    if ((await this.openRows(tree)).length === 0) return;
    let current: OpenRow | undefined;
    try {
      const contract = await this.registry(tree);
      const rows = await this.openRows(tree); // registry() may have reopened the latest root
      const chainId = await this.ledger.chainId();
      const address = await contract.getAddress();
      for (const row of rows) {
        current = row;
        const onChain = BigInt(await contract.getFunction('currentRoot')());
        if (onChain === BigInt(row.root)) {
          await this.mark(row, `status = 'confirmed', chain_id = $3, contract_address = $4, last_error = NULL`, [chainId, address]);
          result.confirmed.push(`${tree}:${row.version}`);
          continue;
        }
        const tx = await contract.getFunction('publishRoot')(BigInt(row.root));
        await this.mark(row, `status = 'submitted', chain_id = $3, contract_address = $4, tx_hash = $5, attempts = attempts + 1, last_error = NULL`, [
          chainId,
          address,
          tx.hash,
        ]);
        const receipt = await tx.wait(1);
        if (!receipt || receipt.status !== 1) throw new Error(`root publication transaction ${tx.hash} failed on chain`);
        await this.mark(row, `status = 'confirmed', block_number = $3`, [receipt.blockNumber]);
        result.confirmed.push(`${tree}:${row.version}`);
        result.txHashes.push(tx.hash);
        this.logger.log(`published ${tree} root version ${row.version} in ${tx.hash}`);
      }
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0]!.slice(0, 500);
      const failed = current ?? (await this.openRows(tree))[0];
      if (failed) {
        await this.mark(failed, `attempts = attempts + 1, last_error = $3`, [reason]).catch(() => undefined);
      }
      this.logger.warn(`${tree} root publication deferred: ${reason}`);
      throw e;
    }
  }

  private async mark(row: OpenRow, set: string, values: unknown[]): Promise<void> {
    await this.ds.query(`UPDATE zk_root_publication SET ${set}, updated_at = now() WHERE tree = $1 AND version = $2`, [
      row.tree,
      row.version,
      ...values,
    ]);
  }
}
