import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { conflict, notFound } from '../../common/problem.js';
import { computeMerkleRoot, identityLeaf, type MerklePath } from '../circuit-inputs.js';
import { RootHistoryService } from './root-history.service.js';
import { RootPublisherService } from './root-publisher.service.js';
import { pathFrom, siblingIds, treeMath, updatePath, type TreeMath } from './tree-nodes.js';
import { readIdentityNodes, writeIdentityNodes } from './tree-store.js';

export interface EnrolInput {
  /** Poseidon(identitySecret); the secret itself never reaches the service. */
  commitment: bigint;
  /** YYYYMMDD. */
  birthDate: number;
  /** ISO 3166-1 numeric, 1..999. */
  jurisdiction: number;
}

export interface Enrolment {
  id: string;
  leafIndex: number;
  leaf: bigint;
  root: bigint;
}

/** An enrolled identity's leaf and its authentication path to the current identity root. */
export interface IdentityPath extends MerklePath {
  leafIndex: number;
  leaf: bigint;
  root: bigint;
}

/** Everything but the secret that an eligibility witness needs (owner only). */
export interface IdentityWitnessData extends IdentityPath {
  id: string;
  commitment: bigint;
  birthDate: number;
  jurisdiction: number;
}

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};

/**
 * The identity registry: the bank attests, for a wallet app's identity commitment, the birth date
 * and jurisdiction of its KYC'd customer by putting leaf = Poseidon(commitment, birthDate,
 * jurisdiction) into the identity tree (depth 20, persisted node by node in zk_identity_node).
 * Eligibility proofs show membership of that tree.
 *
 * Every tree change (an enrolment takes the next leaf index; a revocation sets a leaf to 0) runs
 * in one transaction that first locks the tree's head row: enrolments from many requests and
 * processes get distinct, consecutive indices, and no two changes interleave their path
 * updates. A change rewrites the depth + 1 nodes of one path, records the new root in the root
 * history with its publication outbox row, and appends its audit event; after the commit a
 * worker is asked to publish the root on the ledger.
 */
@Injectable()
export class IdentityRegistryService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly roots: RootHistoryService,
    private readonly publisher: RootPublisherService,
  ) {}

  async enrol(principal: AuthenticatedPrincipal, input: EnrolInput): Promise<Enrolment> {
    const math = await treeMath();
    const leaf = await identityLeaf(input.commitment, input.birthDate, input.jurisdiction);
    let enrolment: Enrolment;
    try {
      enrolment = await this.ds.transaction(async (m) => {
        const head = await this.lockHead(m);
        const leafIndex = head.size;
        if (leafIndex >= 2 ** math.depth) throw conflict('the identity tree is full');
        const [row] = await m.query(
          `INSERT INTO zk_identity (leaf_index, commitment, birth_date, jurisdiction, leaf, owner_principal_id)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [leafIndex, input.commitment.toString(), input.birthDate, input.jurisdiction, leaf.toString(), principal.id],
        );
        const root = await this.setLeaf(m, math, leafIndex, leaf, head.version + 1, leafIndex + 1);
        await this.audit.append(
          {
            type: 'zk.identity.enrolled',
            actor: principal.name,
            subject: `zk-identity:${row.id}`,
            body: { identityId: row.id, leafIndex, commitment: input.commitment.toString(), root: root.toString() },
          },
          m,
        );
        return { id: String(row.id), leafIndex, leaf, root };
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('this identity commitment is already enrolled');
      throw e;
    }
    await this.publisher.requestPublishing();
    return enrolment;
  }

  /** Revokes an identity (admin): its leaf becomes 0, so no new proof can use it. */
  async revoke(principal: AuthenticatedPrincipal, id: string): Promise<{ id: string; status: 'revoked'; leafIndex: number; root: bigint }> {
    const math = await treeMath();
    const result = await this.ds.transaction(async (m) => {
      const head = await this.lockHead(m);
      const [row] = await m.query(`SELECT leaf_index, status, commitment FROM zk_identity WHERE id = $1 FOR UPDATE`, [id]);
      if (!row) throw notFound(`no identity ${id}`);
      if (row.status === 'revoked') throw conflict(`identity ${id} is already revoked`);
      const leafIndex = Number(row.leaf_index);
      await m.query(`UPDATE zk_identity SET status = 'revoked', revoked_at = now(), updated_at = now() WHERE id = $1`, [id]);
      const root = await this.setLeaf(m, math, leafIndex, 0n, head.version + 1, head.size);
      await this.audit.append(
        {
          type: 'zk.identity.revoked',
          actor: principal.name,
          subject: `zk-identity:${id}`,
          body: { identityId: id, leafIndex, commitment: String(row.commitment), root: root.toString() },
        },
        m,
      );
      return { id, status: 'revoked' as const, leafIndex, root };
    });
    await this.publisher.requestPublishing();
    return result;
  }

  /** The path of `ownerId`'s enrolled identity `id` to the current root; 404 for anyone else's. */
  async path(ownerId: string, id: string): Promise<IdentityPath> {
    const { commitment: _c, birthDate: _b, jurisdiction: _j, id: _i, ...path } = await this.witness(ownerId, id);
    return path;
  }

  /**
   * The stored facts and path of `ownerId`'s identity `id`, for an eligibility witness: 404 when
   * it does not exist or belongs to another principal, 409 when it is revoked.
   */
  async witness(ownerId: string, id: string): Promise<IdentityWitnessData> {
    const math = await treeMath();
    // A shared lock on the head: no tree change can land between reading the leaf, its siblings
    // and the root.
    return this.ds.transaction(async (m) => {
      const [head] = await m.query(`SELECT root FROM zk_tree_head WHERE tree = 'identity' FOR SHARE`);
      const [row] = await m.query(
        `SELECT id, leaf_index, commitment, birth_date, jurisdiction, leaf, status FROM zk_identity
          WHERE id = $1 AND owner_principal_id = $2`,
        [id, ownerId],
      );
      if (!row) throw notFound(`no identity ${id}`);
      if (row.status !== 'enrolled') throw conflict(`identity ${id} is revoked`);
      const leafIndex = Number(row.leaf_index);
      const leaf = BigInt(row.leaf);
      const path = pathFrom(math, leafIndex, await readIdentityNodes(m, siblingIds(math, leafIndex)));
      const root = BigInt(head.root);
      if (computeMerkleRoot(math.hasher, leaf, path) !== root) {
        throw new Error(`the stored identity tree is inconsistent at leaf ${leafIndex}`);
      }
      return {
        id: String(row.id),
        commitment: BigInt(row.commitment),
        birthDate: Number(row.birth_date),
        jurisdiction: Number(row.jurisdiction),
        leafIndex,
        leaf,
        root,
        ...path,
      };
    });
  }

  private async lockHead(m: EntityManager): Promise<{ size: number; version: number }> {
    const [head] = await m.query(`SELECT size, version FROM zk_tree_head WHERE tree = 'identity' FOR UPDATE`);
    return { size: Number(head.size), version: Number(head.version) };
  }

  /** Sets one leaf (head locked): rewrites its path, moves the head, records the new root. */
  private async setLeaf(m: EntityManager, math: TreeMath, index: number, leaf: bigint, version: number, size: number): Promise<bigint> {
    const path = pathFrom(math, index, await readIdentityNodes(m, siblingIds(math, index)));
    const nodes = updatePath(math, index, leaf, path);
    const root = nodes[nodes.length - 1]!.hash;
    await writeIdentityNodes(m, math, nodes);
    await m.query(`UPDATE zk_tree_head SET size = $1, version = $2, root = $3, updated_at = now() WHERE tree = 'identity'`, [
      size,
      version,
      root.toString(),
    ]);
    await this.roots.record(m, 'identity', version, root);
    return root;
  }
}
