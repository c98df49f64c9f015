/**
 * Reads and writes of the persisted tree nodes (zk_identity_node: one mutable tree;
 * zk_balance_node: one immutable tree per epoch). SQL only; the hashing is in tree-nodes.ts.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { nodeKey, type NodeId, type TreeMath, type TreeNode } from './tree-nodes.js';

export type Queryable = Pick<EntityManager, 'query'> | DataSource;

/** `(level = $a AND idx = $b) OR ...` over `ids`, parameters numbered from `first`. */
function nodeFilter(ids: readonly NodeId[], first: number): { where: string; values: unknown[] } {
  const values: unknown[] = [];
  const where = ids.map((id, i) => {
    values.push(id.level, id.index);
    return `(level = $${first + i * 2} AND idx = $${first + i * 2 + 1})`;
  });
  return { where: where.length ? where.join(' OR ') : 'false', values };
}

/** The stored identity tree nodes among `ids` (missing = empty), keyed by nodeKey. */
export async function readIdentityNodes(q: Queryable, ids: readonly NodeId[]): Promise<Map<string, bigint>> {
  const { where, values } = nodeFilter(ids, 1);
  const rows: { level: unknown; idx: unknown; hash: string }[] = await q.query(
    `SELECT level, idx, hash FROM zk_identity_node WHERE ${where}`,
    values,
  );
  return new Map(rows.map((r) => [nodeKey({ level: Number(r.level), index: Number(r.idx) }), BigInt(r.hash)]));
}

/**
 * Stores changed identity tree nodes: a node equal to its level's empty subtree is deleted
 * (the tree stays sparse after revocations), any other is inserted or overwritten.
 */
export async function writeIdentityNodes(m: EntityManager, math: TreeMath, nodes: readonly TreeNode[]): Promise<void> {
  const empty = nodes.filter((n) => n.hash === math.zeros[n.level]);
  const full = nodes.filter((n) => n.hash !== math.zeros[n.level]);
  if (empty.length > 0) {
    const { where, values } = nodeFilter(empty, 1);
    await m.query(`DELETE FROM zk_identity_node WHERE ${where}`, values);
  }
  if (full.length > 0) {
    const values: unknown[] = [];
    const rows = full.map((n, i) => {
      values.push(n.level, n.index, n.hash.toString());
      return `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`;
    });
    await m.query(
      `INSERT INTO zk_identity_node (level, idx, hash) VALUES ${rows.join(', ')}
       ON CONFLICT (level, idx) DO UPDATE SET hash = EXCLUDED.hash`,
      values,
    );
  }
}

/** Inserts the nodes of a new epoch's tree, in chunks. */
export async function insertBalanceNodes(m: EntityManager, epoch: number, nodes: readonly TreeNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += 1000) {
    const chunk = nodes.slice(i, i + 1000);
    const values: unknown[] = [epoch];
    const rows = chunk.map((n, j) => {
      values.push(n.level, n.index, n.hash.toString());
      return `($1, $${j * 3 + 2}, $${j * 3 + 3}, $${j * 3 + 4})`;
    });
    await m.query(`INSERT INTO zk_balance_node (epoch, level, idx, hash) VALUES ${rows.join(', ')}`, values);
  }
}

/** The stored nodes of epoch `epoch` among `ids`, keyed by nodeKey. */
export async function readBalanceNodes(q: Queryable, epoch: number, ids: readonly NodeId[]): Promise<Map<string, bigint>> {
  const { where, values } = nodeFilter(ids, 2);
  const rows: { level: unknown; idx: unknown; hash: string }[] = await q.query(
    `SELECT level, idx, hash FROM zk_balance_node WHERE epoch = $1 AND (${where})`,
    [epoch, ...values],
  );
  return new Map(rows.map((r) => [nodeKey({ level: Number(r.level), index: Number(r.idx) }), BigInt(r.hash)]));
}
