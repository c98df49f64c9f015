import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { FIELD_MODULUS } from '../circuit-inputs.js';

/** The two trees whose roots proofs are made against. */
export type ZkTree = 'identity' | 'balance';
export const ZK_TREES: readonly ZkTree[] = ['identity', 'balance'];

/** What the service knows of a root: see RootHistoryService.check. */
export interface RootCheck {
  /** The root was a root of this tree at some time. */
  known: boolean;
  /** It is the tree's current root (valid until superseded). */
  current: boolean;
  /** When a superseded root stops being valid (superseded_at + window); null while current or unknown. */
  validUntil: Date | null;
}

export interface PublicationState {
  status: 'pending' | 'submitted' | 'confirmed';
  chainId: number | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  attempts: number;
  lastError: string | null;
}

export interface RootHistoryEntry {
  /** Identity tree: the change number (1 = first enrolment); balance tree: the epoch. */
  version: number;
  root: string;
  createdAt: Date;
  supersededAt: Date | null;
  validUntil: Date | null;
  current: boolean;
  valid: boolean;
  publication: PublicationState | null;
}

const num = (v: unknown): number => Number(v);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const nullableDate = (v: unknown): Date | null => (v == null ? null : date(v));

/**
 * The root history of the identity and balance trees, and the validity rule relying parties
 * depend on: a root is valid while it is its tree's current root, and for
 * ZK_ROOT_WINDOW_SECONDS after it was superseded, the rule the RootRegistry contracts apply on
 * chain. The service checks proofs against its own history, so off-chain verification does not
 * wait for a root to be published on the ledger.
 *
 * Roots are recorded by the registry services inside the transaction that changes the tree (the
 * tree's head row locked), together with the outbox row that publishes them.
 */
@Injectable()
export class RootHistoryService {
  constructor(
    private readonly ds: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** How long a superseded root stays valid. */
  get windowSeconds(): number {
    return this.config.ZK_ROOT_WINDOW_SECONDS;
  }

  /**
   * What the history says of `root` in `tree`. A root can recur (revoking the last enrolled
   * identity restores the previous tree): its validity is that of its latest occurrence.
   */
  async check(tree: ZkTree, root: bigint): Promise<RootCheck> {
    if (root < 0n || root >= FIELD_MODULUS) return { known: false, current: false, validUntil: null };
    const rows: { superseded_at: unknown }[] = await this.ds.query(
      `SELECT superseded_at FROM zk_root WHERE tree = $1 AND root = $2`,
      [tree, root.toString()],
    );
    if (rows.length === 0) return { known: false, current: false, validUntil: null };
    if (rows.some((r) => r.superseded_at == null)) return { known: true, current: true, validUntil: null };
    const last = Math.max(...rows.map((r) => date(r.superseded_at).getTime()));
    return { known: true, current: false, validUntil: new Date(last + this.windowSeconds * 1000) };
  }

  /** True when `root` is valid at `at`: current, or `at` is not after its validUntil (as RootRegistry.isValidRoot). */
  async isValid(tree: ZkTree, root: bigint, at: Date = new Date()): Promise<boolean> {
    const c = await this.check(tree, root);
    return c.current || (c.validUntil !== null && at.getTime() <= c.validUntil.getTime());
  }

  /** The tree's current root, or null while nothing has been recorded. */
  async current(tree: ZkTree): Promise<{ version: number; root: bigint; createdAt: Date } | null> {
    const [row] = await this.ds.query(`SELECT version, root, created_at FROM zk_root WHERE tree = $1 AND superseded_at IS NULL`, [tree]);
    return row ? { version: num(row.version), root: BigInt(row.root), createdAt: date(row.created_at) } : null;
  }

  /** The latest `limit` roots of `tree`, newest first, with their validity and publication. */
  async history(tree: ZkTree, limit = 50): Promise<RootHistoryEntry[]> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `SELECT r.version, r.root, r.created_at, r.superseded_at,
              p.status, p.chain_id, p.contract_address, p.tx_hash, p.block_number, p.attempts, p.last_error
         FROM zk_root r LEFT JOIN zk_root_publication p USING (tree, version)
        WHERE r.tree = $1 ORDER BY r.version DESC LIMIT $2`,
      [tree, limit],
    );
    const now = Date.now();
    return rows.map((r) => {
      const supersededAt = nullableDate(r.superseded_at);
      const validUntil = supersededAt ? new Date(supersededAt.getTime() + this.windowSeconds * 1000) : null;
      return {
        version: num(r.version),
        root: String(r.root),
        createdAt: date(r.created_at),
        supersededAt,
        validUntil,
        current: supersededAt === null,
        valid: validUntil === null || now <= validUntil.getTime(),
        publication:
          r.status == null
            ? null
            : {
                status: r.status as PublicationState['status'],
                chainId: r.chain_id == null ? null : num(r.chain_id),
                contractAddress: (r.contract_address as string | null) ?? null,
                txHash: (r.tx_hash as string | null) ?? null,
                blockNumber: r.block_number == null ? null : num(r.block_number),
                attempts: num(r.attempts),
                lastError: (r.last_error as string | null) ?? null,
              },
      };
    });
  }

  /**
   * Records `root` as version `version` of `tree`: supersedes the current root and queues the
   * new one for publication on the ledger. Call inside the transaction that changed the tree,
   * with the tree's head row locked (versions are then consecutive and never race).
   */
  async record(m: EntityManager, tree: ZkTree, version: number, root: bigint): Promise<void> {
    // clock_timestamp(), not now(): a writer that waited for the head lock started its
    // transaction before the previous root was even created.
    await m.query(`UPDATE zk_root SET superseded_at = clock_timestamp() WHERE tree = $1 AND superseded_at IS NULL`, [tree]);
    await m.query(`INSERT INTO zk_root (tree, version, root, created_at) VALUES ($1, $2, $3, clock_timestamp())`, [
      tree,
      version,
      root.toString(),
    ]);
    await m.query(`INSERT INTO zk_root_publication (tree, version, root) VALUES ($1, $2, $3)`, [tree, version, root.toString()]);
  }
}
