import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { conflict, notFound } from '../../common/problem.js';
import { computeMerkleRoot, type MerklePath } from '../circuit-inputs.js';
import { RootHistoryService } from './root-history.service.js';
import { RootPublisherService } from './root-publisher.service.js';
import { buildNodes, pathFrom, siblingIds, treeMath } from './tree-nodes.js';
import { insertBalanceNodes, readBalanceNodes } from './tree-store.js';

export interface Epoch {
  epoch: number;
  root: bigint;
  size: number;
  createdAt: Date;
}

/** An account's leaf in one epoch and its path to that epoch's root. */
export interface BalancePath extends MerklePath {
  epoch: number;
  leafIndex: number;
  balance: bigint;
  salt: bigint;
  leaf: bigint;
  root: bigint;
}

/** Everything but the secret that a balance witness needs (owner only). */
export interface BalanceWitnessData extends BalancePath {
  accountId: string;
  commitment: bigint;
}

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};

/** A fresh salt: 248 random bits, always below the field modulus. */
const randomSalt = (): bigint => BigInt('0x' + randomBytes(31).toString('hex'));

/**
 * Accounts and balance epochs. A wallet app registers an account commitment Poseidon(accountSecret);
 * the bank (admin) sets the account's balance as its books say. An epoch snapshots every account
 * into a new balance tree: leaf i = Poseidon(commitment, balance, salt) with a fresh random salt
 * per account and epoch, so consecutive roots reveal nothing about which balances changed. The
 * epoch's root is recorded in the root history and published on the ledger; balance proofs are
 * made against it.
 *
 * An epoch is immutable, so its tree is built once, in memory, and every non-empty node is
 * stored (fewer than 2n + 20 rows for n accounts): a path is then one indexed read of 20 rows,
 * whatever the epoch's size, and no process ever rebuilds a tree.
 */
@Injectable()
export class AccountRegistryService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly roots: RootHistoryService,
    private readonly publisher: RootPublisherService,
  ) {}

  async register(principal: AuthenticatedPrincipal, commitment: bigint): Promise<{ id: string }> {
    try {
      return await this.ds.transaction(async (m) => {
        const [row] = await m.query(`INSERT INTO zk_account (owner_principal_id, commitment) VALUES ($1, $2) RETURNING id`, [
          principal.id,
          commitment.toString(),
        ]);
        const id = String(row.id);
        await this.audit.append(
          { type: 'zk.account.registered', actor: principal.name, subject: `zk-account:${id}`, body: { accountId: id, commitment: commitment.toString() } },
          m,
        );
        return { id };
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('this account commitment is already registered');
      throw e;
    }
  }

  /**
   * Sets an account's balance (admin). It enters the proofs with the next epoch. The audit event
   * names the account, not the amount: the audit log is served to auditors, balances are private.
   */
  async setBalance(principal: AuthenticatedPrincipal, id: string, balance: bigint): Promise<{ id: string; balance: bigint }> {
    return this.ds.transaction(async (m) => {
      const rows = await m.query(`UPDATE zk_account SET balance = $2, updated_at = now() WHERE id = $1 RETURNING commitment`, [
        id,
        balance.toString(),
      ]);
      const row = Array.isArray(rows[0]) ? rows[0][0] : rows[0];
      if (!row) throw notFound(`no account ${id}`);
      await this.audit.append(
        { type: 'zk.account.balance-set', actor: principal.name, subject: `zk-account:${id}`, body: { accountId: id, commitment: String(row.commitment) } },
        m,
      );
      return { id, balance };
    });
  }

  /** Snapshots every account into a new epoch (admin); 409 when there is no account. */
  async createEpoch(principal: AuthenticatedPrincipal): Promise<Epoch> {
    const math = await treeMath();
    const epoch = await this.ds.transaction(async (m) => {
      const [head] = await m.query(`SELECT version FROM zk_tree_head WHERE tree = 'balance' FOR UPDATE`);
      const epoch = Number(head.version) + 1;
      const accounts: { id: string; commitment: string; balance: string }[] = await m.query(
        `SELECT id, commitment, balance::text AS balance FROM zk_account ORDER BY created_at, id`,
      );
      if (accounts.length === 0) throw conflict('there is no account to snapshot');
      if (accounts.length > 2 ** math.depth) throw conflict('more accounts than a balance tree holds');
      const leaves = accounts.map((a) => {
        const salt = randomSalt();
        return { ...a, salt, leaf: math.hasher.hash([BigInt(a.commitment), BigInt(a.balance), salt]) };
      });
      const nodes = buildNodes(math, leaves.map((l) => l.leaf));
      const root = nodes[nodes.length - 1]!.hash;
      const [row] = await m.query(`INSERT INTO zk_balance_epoch (epoch, root, size) VALUES ($1, $2, $3) RETURNING created_at`, [
        epoch,
        root.toString(),
        leaves.length,
      ]);
      for (let i = 0; i < leaves.length; i += 500) {
        const values: unknown[] = [epoch];
        const tuples = leaves.slice(i, i + 500).map((l, j) => {
          values.push(l.id, i + j, l.balance, l.salt.toString(), l.leaf.toString());
          const b = j * 5 + 2;
          return `($1, $${b}, $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4})`;
        });
        await m.query(`INSERT INTO zk_balance_leaf (epoch, account_id, leaf_index, balance, salt, leaf) VALUES ${tuples.join(', ')}`, values);
      }
      await insertBalanceNodes(m, epoch, nodes);
      await m.query(`UPDATE zk_tree_head SET size = $1, version = $2, root = $3, updated_at = now() WHERE tree = 'balance'`, [
        leaves.length,
        epoch,
        root.toString(),
      ]);
      await this.roots.record(m, 'balance', epoch, root);
      await this.audit.append(
        { type: 'zk.balance.epoch-created', actor: principal.name, subject: `zk-epoch:${epoch}`, body: { epoch, root: root.toString(), size: leaves.length } },
        m,
      );
      const createdAt = row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at));
      return { epoch, root, size: leaves.length, createdAt };
    });
    await this.publisher.requestPublishing();
    return epoch;
  }

  /** An epoch, or the latest one (null when there is none). */
  async epoch(epoch?: number): Promise<Epoch | null> {
    const [row] =
      epoch === undefined
        ? await this.ds.query(`SELECT epoch, root, size, created_at FROM zk_balance_epoch ORDER BY epoch DESC LIMIT 1`)
        : await this.ds.query(`SELECT epoch, root, size, created_at FROM zk_balance_epoch WHERE epoch = $1`, [epoch]);
    if (!row) return null;
    return {
      epoch: Number(row.epoch),
      root: BigInt(row.root),
      size: Number(row.size),
      createdAt: row.created_at instanceof Date ? row.created_at : new Date(String(row.created_at)),
    };
  }

  /** `ownerId`'s account `id` in `epoch` (default: the latest epoch holding it); 404 for anyone else's. */
  async path(ownerId: string, id: string, epoch?: number): Promise<BalancePath> {
    const { accountId: _a, commitment: _c, ...path } = await this.witness(ownerId, id, epoch);
    return path;
  }

  /**
   * The stored leaf data and path of `ownerId`'s account `id` in `epoch` (default: the latest
   * epoch holding it), for a balance witness: 404 when the account does not exist, belongs to
   * another principal, or is not in that epoch.
   */
  async witness(ownerId: string, id: string, epoch?: number): Promise<BalanceWitnessData> {
    const math = await treeMath();
    const [account] = await this.ds.query(`SELECT id, commitment FROM zk_account WHERE id = $1 AND owner_principal_id = $2`, [id, ownerId]);
    if (!account) throw notFound(`no account ${id}`);
    const [row] = await this.ds.query(
      `SELECT l.epoch, l.leaf_index, l.balance::text AS balance, l.salt, l.leaf, e.root
         FROM zk_balance_leaf l JOIN zk_balance_epoch e USING (epoch)
        WHERE l.account_id = $1 AND ($2::bigint IS NULL OR l.epoch = $2::bigint)
        ORDER BY l.epoch DESC LIMIT 1`,
      [id, epoch ?? null],
    );
    if (!row) throw notFound(epoch === undefined ? `account ${id} is in no epoch yet` : `account ${id} is not in epoch ${epoch}`);
    const e = Number(row.epoch);
    const leafIndex = Number(row.leaf_index);
    const leaf = BigInt(row.leaf);
    const root = BigInt(row.root);
    const path = pathFrom(math, leafIndex, await readBalanceNodes(this.ds, e, siblingIds(math, leafIndex)));
    if (computeMerkleRoot(math.hasher, leaf, path) !== root) throw new Error(`the stored balance tree of epoch ${e} is inconsistent at leaf ${leafIndex}`);
    return {
      accountId: String(account.id),
      commitment: BigInt(account.commitment),
      epoch: e,
      leafIndex,
      balance: BigInt(row.balance),
      salt: BigInt(row.salt),
      leaf,
      root,
      ...path,
    };
  }
}
