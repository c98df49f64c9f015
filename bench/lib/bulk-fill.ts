/**
 * Fills the audit log quickly for the proof benchmarks.
 *
 * This BYPASSES AuditStore.append but writes exactly what it would write for the same inputs:
 * the same audit_event columns (seq, type, actor, subject, occurred_at, body, leaf_data =
 * JCS bytes, leaf_hash = SHA-256(0x00 || leaf_data)), the same audit_node rows (every perfect
 * subtree completed by each leaf, computed by the same MerkleAppender) and the same audit_head
 * size. Each chunk is one transaction that locks the head row and checks that the size is the one
 * the appender continues from, so the log is consistent at every commit and the service's
 * append path can carry on from it. What it saves: rows are sent as column arrays
 * (INSERT ... SELECT FROM unnest(...)) in chunks of 10,000, instead of one bind parameter per value,
 * and the frontier is kept in memory instead of being re-read per transaction.
 */
import { performance } from 'node:perf_hooks';
import type { DataSource } from 'typeorm';
import {
  MerkleAppender,
  encodeEvent,
  leafHash,
  toJsonValue,
  type AuditEvent,
  type JsonValue,
  type StoredNode,
} from '../../src/audit/crypto/index.js';
import type { AuditEventInput, AuditStore } from '../../src/audit/audit-store.js';

/** Fixed origin of the synthetic event times (events are 1 ms apart, by seq). */
const TIME_ORIGIN = Date.UTC(2026, 0, 1);

const TYPES = ['proof.issued', 'custody.ceremony.approved', 'auth.key.issued', 'aml.query.answered'];

/**
 * The synthetic event with a given number: what the benchmarks append. Deterministic, shaped like
 * the service's events (pseudonymous subject, small body, ~200 bytes of leaf data).
 */
export function syntheticEvent(n: number, time?: Date): AuditEventInput {
  return {
    type: TYPES[n % TYPES.length]!,
    actor: `wallet-app:bench-${n % 7}`,
    subject: `account:${(n * 7919) % 50_000}`,
    time: time ?? new Date(TIME_ORIGIN + n),
    body: { circuit: 'balance', threshold: '100.00', request: `req-${n.toString(36)}` },
  };
}

/** The event row AuditStore.append derives from an input at a given seq (same steps, same order). */
export function eventAt(seq: number, input: AuditEventInput): AuditEvent {
  return {
    seq,
    type: input.type,
    actor: input.actor,
    subject: input.subject ?? '',
    time: (input.time ?? new Date()).toISOString(),
    body: toJsonValue(input.body ?? {}, 'body') as JsonValue,
  };
}

interface Chunk {
  startSize: number;
  endSize: number;
  columns: unknown[];
  nodes: [number[], number[], Buffer[]];
}

export class BulkFiller {
  /** Milliseconds spent building rows and nodes in process, and waiting for the database. */
  buildMs = 0;
  waitMs = 0;

  /** Leaf hashes of every event written so far, 32 bytes each, seq order (for verification). */
  private leaves: Buffer;

  private constructor(
    private readonly ds: DataSource,
    private readonly appender: MerkleAppender,
    capacity: number,
  ) {
    this.leaves = Buffer.alloc(capacity * 32);
  }

  /** A filler that continues the log in `store` from its current size. */
  static async open(ds: DataSource, store: AuditStore, capacity: number): Promise<BulkFiller> {
    const size = await store.size();
    const filler = new BulkFiller(ds, await MerkleAppender.fromReader(store.nodeReader(), size), capacity);
    if (size > 0) {
      // Leaf hashes already in the table (written through the API).
      const rows: { seq: string; leaf_hash: Buffer }[] = await ds.query(`SELECT seq, leaf_hash FROM audit_event ORDER BY seq`);
      for (const r of rows) filler.ensure(Number(r.seq) + 1).set(r.leaf_hash, Number(r.seq) * 32);
    }
    return filler;
  }

  get size(): number {
    return this.appender.size;
  }

  root(): Uint8Array {
    return this.appender.root();
  }

  leafHashAt(seq: number): Buffer {
    return this.leaves.subarray(seq * 32, seq * 32 + 32);
  }

  private ensure(size: number): Buffer {
    if (size * 32 > this.leaves.length) {
      const bigger = Buffer.alloc(Math.max(size * 32, this.leaves.length * 2));
      this.leaves.copy(bigger);
      this.leaves = bigger;
    }
    return this.leaves;
  }

  private build(count: number): Chunk {
    const startSize = this.appender.size;
    const seqs: number[] = [];
    const types: string[] = [];
    const actors: string[] = [];
    const subjects: string[] = [];
    const times: string[] = [];
    const bodies: string[] = [];
    const data: Buffer[] = [];
    const hashes: Buffer[] = [];
    const nodes: StoredNode[] = [];
    const leaves = this.ensure(startSize + count);
    for (let k = 0; k < count; k++) {
      const seq = startSize + k;
      const e = eventAt(seq, syntheticEvent(seq));
      const bytes = encodeEvent(e);
      const hash = leafHash(bytes);
      nodes.push(...this.appender.append(hash));
      leaves.set(hash, seq * 32);
      seqs.push(seq);
      types.push(e.type);
      actors.push(e.actor);
      subjects.push(e.subject);
      times.push(e.time);
      bodies.push(JSON.stringify(e.body));
      data.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      hashes.push(Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength));
    }
    return {
      startSize,
      endSize: this.appender.size,
      columns: [seqs, types, actors, subjects, times, bodies, data, hashes],
      nodes: [nodes.map((n) => n.level), nodes.map((n) => n.index), nodes.map((n) => Buffer.from(n.hash))],
    };
  }

  private async write(chunk: Chunk): Promise<void> {
    await this.ds.transaction(async (m) => {
      const [head] = await m.query(`SELECT size FROM audit_head WHERE id = 1 FOR UPDATE`);
      if (Number(head.size) !== chunk.startSize) {
        throw new Error(`bulk fill: the log has ${head.size} events, expected ${chunk.startSize} (someone else appended)`);
      }
      await m.query(
        `INSERT INTO audit_event (seq, type, actor, subject, occurred_at, body, leaf_data, leaf_hash)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::bytea[], $8::bytea[])`,
        chunk.columns,
      );
      await m.query(`INSERT INTO audit_node (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`, chunk.nodes);
      await m.query(`UPDATE audit_head SET size = $1 WHERE id = 1`, [chunk.endSize]);
    });
  }

  /**
   * Appends synthetic events until the log has `target` events. The next chunk is computed while
   * the database writes the previous one.
   */
  async fillTo(target: number, onProgress?: (size: number) => void, chunkSize = 10_000): Promise<void> {
    let pending: Promise<void> | undefined;
    let reported = this.appender.size;
    while (this.appender.size < target) {
      const t0 = performance.now();
      const chunk = this.build(Math.min(chunkSize, target - this.appender.size));
      const t1 = performance.now();
      if (pending) await pending;
      this.buildMs += t1 - t0;
      this.waitMs += performance.now() - t1;
      pending = this.write(chunk);
      if (onProgress && chunk.endSize - reported >= 100_000) {
        reported = chunk.endSize;
        onProgress(chunk.endSize);
      }
    }
    const t2 = performance.now();
    if (pending) await pending;
    this.waitMs += performance.now() - t2;
  }
}
