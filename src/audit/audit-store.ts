/**
 * Storage of the audit log on TypeORM/SQL (PostgreSQL or PGlite). No Nest imports: the service,
 * the benchmarks and the multi-process tests use it directly.
 *
 * Append protocol (one transaction): lock the single audit_head row, load the tree's right
 * frontier (at most ~log2(n) stored nodes), give each event seq = size, size+1, ..., insert the
 * events and every perfect subtree node their leaves complete, and move the head. Because every
 * appender, in any process, holds the head lock until commit, seqs are gap-free and unique, and a
 * failed transaction leaves nothing behind. Proofs later read only O(log n) stored nodes.
 */
import type { DataSource, EntityManager } from 'typeorm';
import {
  MerkleAppender,
  consistencyProof,
  encodeEvent,
  leafHash,
  inclusionProof,
  rootAt,
  signCheckpoint,
  toBase64,
  toJsonValue,
  type CheckpointSigner,
  type AuditEvent,
  type JsonValue,
  type NodeId,
  type NodeReader,
  type StoredNode,
} from './crypto/index.js';

export interface AuditEventInput {
  /** Dotted event type, e.g. "auth.key.issued". */
  type: string;
  /** Who did it: a principal name, or "service". */
  actor: string;
  /** What it concerns (a wallet, a ceremony, a key prefix...). */
  subject?: string;
  /** Details. Never secrets: events are served to auditors. */
  body?: unknown;
  /** Defaults to now. */
  time?: Date;
}

export interface StoredEvent extends AuditEvent {
  seq: number;
  leafHash: Buffer;
}

export interface CheckpointRow {
  treeSize: number;
  origin: string;
  rootHash: Buffer;
  timestamp: number;
  keyId: string;
  signature: Buffer;
}

export interface AnchorRow {
  treeSize: number;
  status: 'pending' | 'submitted' | 'confirmed';
  chainId: number | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  attempts: number;
  lastError: string | null;
}

type Queryable = Pick<EntityManager, 'query'> | DataSource;

const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
const num = (v: unknown): number => Number(v);

export class AuditStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * Appends events atomically, in order; returns them with their seq and leaf hash. Pass the
   * EntityManager of an open transaction to make the events part of it (the action and its audit
   * record then commit or roll back together).
   */
  async append(inputs: readonly AuditEventInput[], manager?: EntityManager): Promise<StoredEvent[]> {
    if (inputs.length === 0) return [];
    // Validate and encode outside the transaction where possible (the seq is only known inside).
    const prepared = inputs.map((i) => ({
      type: i.type,
      actor: i.actor,
      subject: i.subject ?? '',
      time: (i.time ?? new Date()).toISOString(),
      body: toJsonValue(i.body ?? {}, 'body') as JsonValue,
    }));
    const work = async (m: EntityManager) => {
      const [head] = await m.query(`SELECT size FROM audit_head WHERE id = 1 FOR UPDATE`);
      const size = num(head.size);
      const appender = await MerkleAppender.fromReader(this.nodeReader(m), size);
      const events: (StoredEvent & { data: Buffer })[] = [];
      const nodes: StoredNode[] = [];
      for (const [k, p] of prepared.entries()) {
        const event: AuditEvent = { seq: size + k, ...p };
        const data = encodeEvent(event);
        const leaf = leafHash(data);
        nodes.push(...appender.append(leaf));
        events.push({ ...event, seq: size + k, leafHash: Buffer.from(leaf), data: Buffer.from(data) });
      }
      await this.insertEvents(m, events);
      await this.insertNodes(m, nodes);
      await m.query(`UPDATE audit_head SET size = $1 WHERE id = 1`, [appender.size]);
      return events.map(({ data: _data, ...e }) => e);
    };
    return manager ? work(manager) : this.ds.transaction(work);
  }

  /** Multi-row inserts, in chunks that stay far below PostgreSQL's 65,535 bind parameters. */
  private async insertEvents(m: EntityManager, events: (StoredEvent & { data: Buffer })[]): Promise<void> {
    for (let i = 0; i < events.length; i += 1000) {
      const values: unknown[] = [];
      const rows = events.slice(i, i + 1000).map((e, j) => {
        values.push(e.seq, e.type, e.actor, e.subject, e.time, JSON.stringify(e.body), e.data, e.leafHash);
        const b = j * 8;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}::jsonb, $${b + 7}, $${b + 8})`;
      });
      await m.query(
        `INSERT INTO audit_event (seq, type, actor, subject, occurred_at, body, leaf_data, leaf_hash) VALUES ${rows.join(', ')}`,
        values,
      );
    }
  }

  private async insertNodes(m: EntityManager, nodes: StoredNode[]): Promise<void> {
    for (let i = 0; i < nodes.length; i += 500) {
      const chunk = nodes.slice(i, i + 500);
      const values: unknown[] = [];
      const rows = chunk.map((n, j) => {
        values.push(n.level, n.index, Buffer.from(n.hash));
        return `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3})`;
      });
      await m.query(`INSERT INTO audit_node (level, idx, hash) VALUES ${rows.join(', ')}`, values);
    }
  }

  /** Batched reads of stored perfect-subtree hashes, one query per proof. */
  nodeReader(q: Queryable = this.ds): NodeReader {
    return {
      async getNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
        if (ids.length === 0) return [];
        const values: unknown[] = [];
        const where = ids.map((id, i) => {
          values.push(id.level, id.index);
          return `(level = $${i * 2 + 1} AND idx = $${i * 2 + 2})`;
        });
        const rows: { level: number; idx: unknown; hash: unknown }[] = await q.query(
          `SELECT level, idx, hash FROM audit_node WHERE ${where.join(' OR ')}`,
          values,
        );
        const byKey = new Map(rows.map((r) => [`${num(r.level)}/${num(r.idx)}`, buf(r.hash)]));
        return ids.map((id) => {
          const h = byKey.get(`${id.level}/${id.index}`);
          if (!h) throw new Error(`audit node ${id.level}/${id.index} is missing from storage`);
          return h;
        });
      },
    };
  }

  async size(): Promise<number> {
    const [head] = await this.ds.query(`SELECT size FROM audit_head WHERE id = 1`);
    return num(head.size);
  }

  async root(size: number): Promise<Buffer> {
    return Buffer.from(await rootAt(this.nodeReader(), size));
  }

  async inclusionProof(seq: number, treeSize: number): Promise<Buffer[]> {
    return (await inclusionProof(this.nodeReader(), seq, treeSize)).map((h) => Buffer.from(h));
  }

  async consistencyProof(size1: number, size2: number): Promise<Buffer[]> {
    return (await consistencyProof(this.nodeReader(), size1, size2)).map((h) => Buffer.from(h));
  }

  async event(seq: number): Promise<StoredEvent | null> {
    const [row] = await this.ds.query(`SELECT seq, leaf_data, leaf_hash FROM audit_event WHERE seq = $1`, [seq]);
    return row ? this.toEvent(row) : null;
  }

  async eventByLeafHash(hash: Buffer): Promise<StoredEvent | null> {
    const [row] = await this.ds.query(`SELECT seq, leaf_data, leaf_hash FROM audit_event WHERE leaf_hash = $1`, [hash]);
    return row ? this.toEvent(row) : null;
  }

  async eventsOfSubject(subject: string, limit = 100): Promise<StoredEvent[]> {
    const rows = await this.ds.query(
      `SELECT seq, leaf_data, leaf_hash FROM audit_event WHERE subject = $1 ORDER BY seq LIMIT $2`,
      [subject, limit],
    );
    return rows.map((r: Record<string, unknown>) => this.toEvent(r));
  }

  private toEvent(row: Record<string, unknown>): StoredEvent {
    // The stored leaf bytes are the truth (JSONB may reformat numbers); decode them.
    const data = buf(row.leaf_data);
    const parsed = JSON.parse(data.toString('utf8')) as AuditEvent;
    return { ...parsed, seq: num(row.seq), leafHash: buf(row.leaf_hash) };
  }

  // -- checkpoints ---------------------------------------------------------------------------

  /**
   * Stores a checkpoint and its anchoring outbox row in one transaction. When a checkpoint of this
   * size exists already (another process signed it first), the stored one wins and is returned.
   */
  async saveCheckpoint(cp: CheckpointRow): Promise<CheckpointRow> {
    return this.ds.transaction(async (m) => {
      await m.query(
        `INSERT INTO audit_checkpoint (tree_size, origin, root_hash, timestamp_ms, key_id, signature)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size) DO NOTHING`,
        [cp.treeSize, cp.origin, cp.rootHash, cp.timestamp, cp.keyId, cp.signature],
      );
      await m.query(`INSERT INTO audit_anchor (tree_size) VALUES ($1) ON CONFLICT (tree_size) DO NOTHING`, [cp.treeSize]);
      const [row] = await m.query(`SELECT * FROM audit_checkpoint WHERE tree_size = $1`, [cp.treeSize]);
      return this.toCheckpoint(row);
    });
  }

  /**
   * Signs (with `signer`) and stores a checkpoint of the current tree when it has grown since the
   * latest checkpoint; returns the stored row (another process may have stored that size first),
   * or null when there is nothing new to sign.
   */
  async checkpointIfGrown(origin: string, signer: CheckpointSigner): Promise<CheckpointRow | null> {
    const size = await this.size();
    const latest = await this.latestCheckpoint();
    if (size === 0 || (latest && latest.treeSize >= size)) return null;
    const root = await this.root(size);
    const signed = await signCheckpoint({ origin, treeSize: size, rootHash: toBase64(root), timestamp: Date.now() }, signer);
    return this.saveCheckpoint({
      treeSize: size,
      origin: signed.origin,
      rootHash: root,
      timestamp: signed.timestamp,
      keyId: signed.keyId,
      signature: Buffer.from(signed.signature, 'base64'),
    });
  }

  async latestCheckpoint(): Promise<CheckpointRow | null> {
    const [row] = await this.ds.query(`SELECT * FROM audit_checkpoint ORDER BY tree_size DESC LIMIT 1`);
    return row ? this.toCheckpoint(row) : null;
  }

  async checkpoint(treeSize: number): Promise<CheckpointRow | null> {
    const [row] = await this.ds.query(`SELECT * FROM audit_checkpoint WHERE tree_size = $1`, [treeSize]);
    return row ? this.toCheckpoint(row) : null;
  }

  /** The smallest checkpoint whose tree contains leaf `seq`. */
  async checkpointCovering(seq: number): Promise<CheckpointRow | null> {
    const [row] = await this.ds.query(`SELECT * FROM audit_checkpoint WHERE tree_size > $1 ORDER BY tree_size LIMIT 1`, [seq]);
    return row ? this.toCheckpoint(row) : null;
  }

  private toCheckpoint(row: Record<string, unknown>): CheckpointRow {
    return {
      treeSize: num(row.tree_size),
      origin: String(row.origin),
      rootHash: buf(row.root_hash),
      timestamp: num(row.timestamp_ms),
      keyId: String(row.key_id),
      signature: buf(row.signature),
    };
  }

  // -- anchoring outbox ----------------------------------------------------------------------

  async openAnchors(limit: number): Promise<(AnchorRow & { rootHash: Buffer })[]> {
    const rows = await this.ds.query(
      `SELECT a.*, c.root_hash FROM audit_anchor a JOIN audit_checkpoint c USING (tree_size)
       WHERE a.status <> 'confirmed' ORDER BY a.tree_size LIMIT $1`,
      [limit],
    );
    return rows.map((r: Record<string, unknown>) => ({ ...this.toAnchor(r), rootHash: buf(r.root_hash) }));
  }

  async anchor(treeSize: number): Promise<AnchorRow | null> {
    const [row] = await this.ds.query(`SELECT * FROM audit_anchor WHERE tree_size = $1`, [treeSize]);
    return row ? this.toAnchor(row) : null;
  }

  async markSubmitted(sizes: number[], chainId: number, contract: string, txHash: string): Promise<void> {
    await this.ds.query(
      `UPDATE audit_anchor SET status = 'submitted', chain_id = $2, contract_address = $3, tx_hash = $4,
         attempts = attempts + 1, last_error = NULL, updated_at = now()
       WHERE tree_size = ANY($1::bigint[]) AND status <> 'confirmed'`,
      [sizes, chainId, contract, txHash],
    );
  }

  async markConfirmed(sizes: number[], chainId: number, contract: string, txHash: string | null, blockNumber: number | null): Promise<void> {
    await this.ds.query(
      `UPDATE audit_anchor SET status = 'confirmed', chain_id = $2, contract_address = $3,
         tx_hash = COALESCE($4, tx_hash), block_number = COALESCE($5, block_number), last_error = NULL, updated_at = now()
       WHERE tree_size = ANY($1::bigint[])`,
      [sizes, chainId, contract, txHash, blockNumber],
    );
  }

  /**
   * Reopens every confirmed anchor, for a freshly deployed contract (which holds none of them).
   * Rows the contract does hold are adopted again by the next run without a transaction.
   */
  async reopenConfirmedAnchors(): Promise<number> {
    const rows = await this.ds.query(
      `UPDATE audit_anchor SET status = 'pending', tx_hash = NULL, block_number = NULL,
         last_error = 'the audit contract was deployed anew; anchoring again', updated_at = now()
       WHERE status = 'confirmed' RETURNING tree_size`,
    );
    return Array.isArray(rows[0]) ? rows[0].length : rows.length;
  }

  async markFailed(sizes: number[], error: string): Promise<void> {
    await this.ds.query(
      `UPDATE audit_anchor SET status = CASE WHEN status = 'submitted' THEN 'submitted' ELSE 'pending' END,
         attempts = attempts + 1, last_error = $2, updated_at = now()
       WHERE tree_size = ANY($1::bigint[]) AND status <> 'confirmed'`,
      [sizes, error.slice(0, 500)],
    );
  }

  async anchorCounts(): Promise<Record<string, number>> {
    const rows = await this.ds.query(`SELECT status, count(*) AS n FROM audit_anchor GROUP BY status`);
    return Object.fromEntries(rows.map((r: { status: string; n: unknown }) => [r.status, num(r.n)]));
  }

  private toAnchor(row: Record<string, unknown>): AnchorRow {
    return {
      treeSize: num(row.tree_size),
      status: row.status as AnchorRow['status'],
      chainId: row.chain_id == null ? null : num(row.chain_id),
      contractAddress: (row.contract_address as string | null) ?? null,
      txHash: (row.tx_hash as string | null) ?? null,
      blockNumber: row.block_number == null ? null : num(row.block_number),
      attempts: num(row.attempts),
      lastError: (row.last_error as string | null) ?? null,
    };
  }
}
