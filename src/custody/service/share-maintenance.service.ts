import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { ProblemError, badRequest, conflict, notFound, unprocessable } from '../../common/problem.js';
import { QueueService } from '../../queue/queue.service.js';
import { NodeFailure, QuorumError, type SignerNodeRef } from '../coordinator/signer-coordinator.js';
import {
  ReshareAbortedError, abortShares, commitShares, stageShares, type MaintenancePlan,
} from '../coordinator/share-maintenance-coordinator.js';
import type { WirePublic } from '../signer/frost-adapter.js';
import { digestHex, verifyApproval, type OperatorCurve } from './approval-digest.js';
import { CustodyWalletService } from './custody-wallet.service.js';
import { maintenanceDigest } from './share-maintenance-digest.js';
import type { MaintenanceDto, RequestMaintenanceDto } from './share-maintenance.dto.js';

export const MAINTENANCE_QUEUE = 'custody-maintenance';
const ACTOR = 'custody-service';
const DEFAULT_TTL_SECONDS = 3600;
const BUSY_RETRY_MS = 5_000;
const OPEN = ['requested', 'approved', 'running'] as const;

const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === '23505' || err?.driverError?.code === '23505';
};
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown): string => new Date(v as string).toISOString();
const rowsOf = (r: unknown): unknown[] => (Array.isArray(r) && Array.isArray(r[0]) ? (r[0] as unknown[]) : (r as unknown[]));

type Row = Record<string, unknown>;

/** A conditional status change of a maintenance ceremony; true when this call made it. */
async function transition(m: EntityManager, id: string, from: string, to: string, set: { reason?: string; phase?: string | null; failures?: unknown } = {}): Promise<boolean> {
  const r: unknown = await m.query(
    `UPDATE custody_maintenance SET status = $3, reason = COALESCE($4, reason),
            phase = CASE WHEN $5::boolean THEN $6 ELSE phase END, failures = COALESCE($7::jsonb, failures), updated_at = now(),
            completed_at = CASE WHEN $3 = 'completed' THEN now() ELSE completed_at END
      WHERE id = $1 AND status = $2 RETURNING id`,
    [id, from, to, set.reason ?? null, set.phase !== undefined, set.phase ?? null, set.failures === undefined ? null : JSON.stringify(set.failures)],
  );
  return rowsOf(r).length > 0;
}

/**
 * Share refresh and resharing ceremonies (docs/custody-maintenance.md):
 *   requested -> approved (operator quorum of the wallet's policy, ECDSA signatures over the digest)
 *   -> running (phase staging: nodes stage new sealed shares; phase committing: the decision is
 *   persisted and nodes commit) -> completed, or rejected / expired / aborted with the reason.
 * The wallet row takes the new node set, threshold, public package and share version only at
 * completion, in the same transaction. While a maintenance ceremony runs it holds the wallet's
 * custody_wallet_activity row, which an open signing ceremony also needs: the two exclude each
 * other in the database. Every step is one transaction with its audit event.
 */
@Injectable()
export class ShareMaintenanceService {
  private readonly logger = new Logger('CustodyMaintenance');

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly queue: QueueService,
    private readonly wallets: CustodyWalletService,
  ) {
    queue.register<{ maintenanceId: string }>(MAINTENANCE_QUEUE, async (job) => this.advance(job.data.maintenanceId), {
      queue: { retryLimit: 10, retryDelay: 5, retryBackoff: true },
      worker: { pollingIntervalSeconds: 1 },
    });
  }

  // ------------------------------------------------------------------------------- request

  async request(actor: AuthenticatedPrincipal, walletId: string, dto: RequestMaintenanceDto): Promise<MaintenanceDto> {
    if (dto.kind === 'refresh' && (dto.nodes !== undefined || dto.threshold !== undefined)) {
      throw badRequest('a refresh keeps the node set and threshold: leave out nodes and threshold (kind reshare changes them)');
    }
    if (dto.kind === 'reshare' && (dto.nodes === undefined || dto.threshold === undefined)) {
      throw badRequest('a reshare needs nodes (the new node set) and threshold');
    }
    if (dto.kind === 'reshare') {
      if (dto.threshold! > dto.nodes!.length) {
        throw unprocessable('custody-invalid-threshold', `threshold ${dto.threshold} exceeds the ${dto.nodes!.length} nodes of the new set`);
      }
      const configured = await this.wallets.nodes();
      const unknown = dto.nodes!.filter((id) => !configured.some((n) => n.id === id));
      if (unknown.length) throw unprocessable('custody-unknown-node', `unknown signer nodes: ${unknown.join(', ')}`);
    }
    const id = randomUUID();
    try {
      await this.ds.transaction(async (m) => {
        const [w] = await m.query(
          `SELECT id, address, group_key, threshold, node_ids, share_version, public_package FROM custody_wallet WHERE id = $1 FOR UPDATE`,
          [walletId],
        );
        if (!w) throw notFound(`no wallet ${walletId}`);
        if (!w.public_package) throw unprocessable('custody-wallet-not-maintainable', `wallet ${walletId} has no key generation record (public package)`);
        await this.expireDue(m, walletId);
        const [policy] = await m.query(`SELECT version FROM custody_policy WHERE wallet_id = $1 ORDER BY version DESC LIMIT 1`, [walletId]);
        if (!policy) throw unprocessable('custody-no-policy', `wallet ${walletId} has no policy, so no operator quorum can approve`);
        const fromNodes = json<string[]>(w.node_ids);
        const fromThreshold = Number(w.threshold);
        const toNodes = dto.kind === 'reshare' ? [...dto.nodes!] : fromNodes;
        const toThreshold = dto.kind === 'reshare' ? dto.threshold! : fromThreshold;
        if (dto.kind === 'reshare' && toThreshold === fromThreshold && [...toNodes].sort().join() === [...fromNodes].sort().join()) {
          throw unprocessable('custody-reshare-unchanged', 'the new node set and threshold are the current ones: request a refresh instead');
        }
        const [open] = await m.query(`SELECT id FROM custody_maintenance WHERE wallet_id = $1 AND status = ANY($2::text[])`, [walletId, [...OPEN]]);
        if (open) throw conflict(`wallet ${walletId} already has an open maintenance ceremony ${open.id}`);
        const [{ now }] = await m.query(`SELECT now() AS now`);
        const expiresAt = new Date(new Date(now).getTime() + (dto.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000);
        const fromVersion = Number(w.share_version);
        const facts = {
          ceremonyId: id, kind: dto.kind, wallet: String(w.address), groupKey: String(w.group_key), fromNodes, fromThreshold, fromVersion,
          toNodes, toThreshold, toVersion: fromVersion + 1, expiresAt,
        };
        const digest = digestHex(maintenanceDigest(facts));
        await m.query(
          `INSERT INTO custody_maintenance (id, wallet_id, policy_version, kind, group_key, from_version, from_threshold, from_nodes,
                                            to_version, to_threshold, to_nodes, digest, requested_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [id, walletId, Number(policy.version), dto.kind, w.group_key, fromVersion, fromThreshold, JSON.stringify(fromNodes),
            fromVersion + 1, toThreshold, JSON.stringify(toNodes), digest, actor.name, expiresAt],
        );
        await this.audit.append(
          {
            type: 'custody.maintenance.requested',
            actor: actor.name,
            subject: `custody-maintenance:${id}`,
            body: { maintenanceId: id, walletId, ...facts, expiresAt: expiresAt.toISOString(), digest, policyVersion: Number(policy.version) },
          },
          m,
        );
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`wallet ${walletId} already has an open maintenance ceremony`);
      throw e;
    }
    return this.get(id, false);
  }

  // --------------------------------------------------------------------------------- reads

  async list(status?: string): Promise<MaintenanceDto[]> {
    await this.ds.transaction((m) => this.expireDue(m));
    const rows: { id: string }[] = await this.ds.query(
      `SELECT id FROM custody_maintenance WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at, id LIMIT 500`,
      [status ?? null],
    );
    const out: MaintenanceDto[] = [];
    for (const r of rows) out.push(await this.get(String(r.id), false));
    return out;
  }

  async get(id: string, expire = true): Promise<MaintenanceDto> {
    if (expire) await this.ds.transaction((m) => this.expireDue(m));
    const [c] = await this.ds.query(
      `SELECT mc.*, w.address, p.quorum FROM custody_maintenance mc
         JOIN custody_wallet w ON w.id = mc.wallet_id
         JOIN custody_policy p ON p.wallet_id = mc.wallet_id AND p.version = mc.policy_version
        WHERE mc.id = $1`,
      [id],
    );
    if (!c) throw notFound(`no maintenance ceremony ${id}`);
    const approvals: { name: string }[] = await this.ds.query(
      `SELECT o.name FROM custody_maintenance_approval a JOIN custody_operator o ON o.id = a.operator_id WHERE a.maintenance_id = $1 ORDER BY a.created_at, o.name`,
      [id],
    );
    const failures = c.failures === null ? null : json<{ node: string; kind: string }[]>(c.failures);
    return {
      id: String(c.id),
      walletId: String(c.wallet_id),
      wallet: String(c.address),
      kind: String(c.kind),
      status: String(c.status),
      phase: c.phase === null ? null : String(c.phase),
      reason: c.reason === null ? null : String(c.reason),
      groupKey: String(c.group_key),
      policyVersion: Number(c.policy_version),
      quorum: Number(c.quorum),
      fromNodes: json<string[]>(c.from_nodes),
      fromThreshold: Number(c.from_threshold),
      fromVersion: Number(c.from_version),
      toNodes: json<string[]>(c.to_nodes),
      toThreshold: Number(c.to_threshold),
      toVersion: Number(c.to_version),
      digest: String(c.digest),
      approvals: approvals.map((a) => a.name),
      dealers: c.dealers === null ? null : json<string[]>(c.dealers),
      failures: failures?.map((f) => ({ node: f.node, kind: f.kind })) ?? null,
      expiresAt: iso(c.expires_at),
      createdAt: iso(c.created_at),
      completedAt: c.completed_at === null ? null : iso(c.completed_at),
    };
  }

  // ---------------------------------------------------------------------- approve / reject

  /**
   * An approval: the calling principal must be the named operator and one of the policy's
   * operators (403), the ceremony still requested and not expired (409), the signature must
   * verify over the digest (422), one per operator (409). The quorum moves it to approved once.
   */
  async approve(actor: AuthenticatedPrincipal, id: string, operatorName: string, signature: string): Promise<MaintenanceDto> {
    let approved = false;
    try {
      await this.ds.transaction(async (m) => {
        const [c] = await m.query(
          `SELECT mc.status, mc.digest, mc.expires_at <= now() AS due, p.quorum, p.operators
             FROM custody_maintenance mc JOIN custody_policy p ON p.wallet_id = mc.wallet_id AND p.version = mc.policy_version
            WHERE mc.id = $1 FOR UPDATE OF mc`,
          [id],
        );
        if (!c) throw notFound(`no maintenance ceremony ${id}`);
        const op = await this.operatorOf(m, actor, operatorName, c.operators);
        if (c.status !== 'requested') throw conflict(`maintenance ceremony ${id} is ${c.status}; it takes no more approvals`);
        if (c.due === true || c.due === 't') throw conflict(`maintenance ceremony ${id} has expired`);
        const digest = Uint8Array.from(Buffer.from(String(c.digest).slice(2), 'hex'));
        if (!verifyApproval(op.curve as OperatorCurve, String(op.public_key), digest, signature)) {
          throw unprocessable('custody-bad-signature', `the signature does not verify with operator ${operatorName}'s key over the maintenance ceremony's digest`);
        }
        const [dup] = await m.query(`SELECT 1 FROM custody_maintenance_approval WHERE maintenance_id = $1 AND operator_id = $2`, [id, op.id]);
        if (dup) throw conflict(`operator ${operatorName} has already approved maintenance ceremony ${id}`);
        await m.query(`INSERT INTO custody_maintenance_approval (maintenance_id, operator_id, signature) VALUES ($1, $2, $3)`, [id, op.id, signature]);
        await this.audit.append(
          { type: 'custody.maintenance.approval', actor: actor.name, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, operator: operatorName, digest: String(c.digest), signature } },
          m,
        );
        const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM custody_maintenance_approval WHERE maintenance_id = $1`, [id]);
        if (Number(n) >= Number(c.quorum) && (await transition(m, id, 'requested', 'approved'))) {
          approved = true;
          await this.audit.append(
            { type: 'custody.maintenance.approved', actor: actor.name, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, approvals: Number(n), quorum: Number(c.quorum) } },
            m,
          );
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`operator ${operatorName} has already approved maintenance ceremony ${id}`);
      throw e;
    }
    // After the commit: a worker runs the ceremony on the nodes.
    if (approved) await this.queue.send(MAINTENANCE_QUEUE, { maintenanceId: id }, { singletonKey: id });
    return this.get(id, false);
  }

  /** An operator of the policy stops a requested or approved ceremony (409 once it runs). */
  async reject(actor: AuthenticatedPrincipal, id: string, operatorName: string, reason: string): Promise<MaintenanceDto> {
    await this.ds.transaction(async (m) => {
      const [c] = await m.query(
        `SELECT mc.status, p.operators FROM custody_maintenance mc
           JOIN custody_policy p ON p.wallet_id = mc.wallet_id AND p.version = mc.policy_version WHERE mc.id = $1 FOR UPDATE OF mc`,
        [id],
      );
      if (!c) throw notFound(`no maintenance ceremony ${id}`);
      await this.operatorOf(m, actor, operatorName, c.operators);
      for (const from of ['requested', 'approved']) {
        if (await transition(m, id, from, 'rejected', { reason: `rejected by ${operatorName}: ${reason}` })) {
          await this.audit.append(
            { type: 'custody.maintenance.rejected', actor: actor.name, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, from, operator: operatorName, reason } },
            m,
          );
          return;
        }
      }
      throw conflict(`maintenance ceremony ${id} is ${c.status}; it can no longer be rejected`);
    });
    return this.get(id, false);
  }

  private async operatorOf(m: EntityManager, actor: AuthenticatedPrincipal, operatorName: string, policyOperators: unknown) {
    const [op] = await m.query(`SELECT id, principal_id, curve, public_key FROM custody_operator WHERE name = $1`, [operatorName]);
    if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
    if (!json<string[]>(policyOperators).includes(operatorName)) throw forbidden(`operator ${operatorName} is not an approver of this wallet's policy`);
    return op as { id: string; curve: string; public_key: string };
  }

  // --------------------------------------------------------------------------------- running

  /**
   * Runs every step that is due and returns the status the ceremony is left in. Safe to repeat:
   * a run that died while staging stages again (nothing commits before the decision), a run that
   * died while committing commits again (commits are idempotent on the nodes). Throws when the
   * commit is incomplete (a node unreachable), so the queued job retries it.
   */
  async advance(id: string): Promise<string> {
    for (;;) {
      const [c] = await this.ds.query(
        `SELECT mc.*, mc.expires_at <= now() AS due, w.public_package, w.share_version AS wallet_version
           FROM custody_maintenance mc JOIN custody_wallet w ON w.id = mc.wallet_id WHERE mc.id = $1`,
        [id],
      );
      if (!c) throw new Error(`no maintenance ceremony ${id}`);
      const status = String(c.status);
      if (status === 'approved') {
        if (c.due === true || c.due === 't') {
          await this.end(id, 'approved', 'expired', 'expired before it could run', {});
          continue;
        }
        if (!(await this.start(c))) {
          await this.queue.send(MAINTENANCE_QUEUE, { maintenanceId: id }, { singletonKey: id, startAfter: new Date(Date.now() + BUSY_RETRY_MS) });
          return status;
        }
      } else if (status === 'running' && c.phase === 'staging') {
        await this.stage(c);
      } else if (status === 'running' && c.phase === 'committing') {
        await this.commit(c);
      } else {
        return status;
      }
    }
  }

  /** approved -> running: takes the wallet's activity row; false while a signing ceremony holds it. */
  private async start(c: Row): Promise<boolean> {
    const id = String(c.id);
    return this.ds.transaction(async (m) => {
      const [w] = await m.query(`SELECT share_version FROM custody_wallet WHERE id = $1 FOR UPDATE`, [c.wallet_id]);
      if (Number(w.share_version) !== Number(c.from_version)) {
        if (await transition(m, id, 'approved', 'aborted', { reason: `the wallet's shares are at version ${w.share_version}, not ${c.from_version}` })) {
          await this.audit.append({ type: 'custody.maintenance.aborted', actor: ACTOR, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, from: 'approved', walletVersion: Number(w.share_version) } }, m);
        }
        return true;
      }
      const took = rowsOf(await m.query(
        `INSERT INTO custody_wallet_activity (wallet_id, activity, ref_id) VALUES ($1, 'maintenance', $2)
         ON CONFLICT (wallet_id) DO NOTHING RETURNING wallet_id`,
        [c.wallet_id, id],
      ));
      if (took.length === 0) {
        const [holder] = await m.query(`SELECT activity, ref_id FROM custody_wallet_activity WHERE wallet_id = $1`, [c.wallet_id]);
        if (holder && String(holder.ref_id) === id) return true; // already ours (a repeated start)
        this.logger.log(`maintenance ${id} waits: wallet busy with ${holder?.activity ?? 'another'} ceremony ${holder?.ref_id ?? ''}`);
        return false;
      }
      if (!(await transition(m, id, 'approved', 'running', { phase: 'staging' }))) {
        await m.query(`DELETE FROM custody_wallet_activity WHERE wallet_id = $1 AND ref_id = $2`, [c.wallet_id, id]);
        return true;
      }
      await this.audit.append({ type: 'custody.maintenance.running', actor: ACTOR, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, from: 'approved', phase: 'staging' } }, m);
      return true;
    });
  }

  private async plan(c: Row): Promise<MaintenancePlan> {
    const all = await this.wallets.nodes();
    const from = json<string[]>(c.from_nodes);
    const to = json<string[]>(c.to_nodes);
    const missing = [...new Set([...from, ...to])].filter((nodeId) => !all.some((n) => n.id === nodeId));
    if (missing.length) throw new NodeFailure(missing[0]!, 'unavailable', `signer nodes ${missing.join(', ')} are not configured`);
    const refs = (ids: string[]): SignerNodeRef[] => ids.map((nodeId) => all.find((n) => n.id === nodeId)!);
    return {
      walletId: String(c.wallet_id),
      ceremonyId: String(c.id),
      fromVersion: Number(c.from_version),
      oldPublic: json<WirePublic>(c.public_package),
      oldNodes: refs(from),
      newNodes: refs(to),
      threshold: Number(c.to_threshold),
    };
  }

  /** Phase one; then the decision to commit is persisted (phase committing), or the ceremony aborts. */
  private async stage(c: Row): Promise<void> {
    const id = String(c.id);
    const coordinator = await this.wallets.coordinator();
    let plan: MaintenancePlan | undefined;
    let staged;
    try {
      plan = await this.plan(c);
      staged = await stageShares(coordinator, plan);
    } catch (e) {
      if (!(e instanceof QuorumError) && !(e instanceof NodeFailure)) throw e;
      const failures = e instanceof QuorumError ? e.failures.map((f) => ({ node: f.nodeId, kind: f.kind })) : [{ node: e.nodeId, kind: e.kind }];
      const culprits = e instanceof ReshareAbortedError ? e.culprits : [];
      const unreached = plan ? (await abortShares(coordinator, plan)).map((f) => f.nodeId) : [];
      const reason = culprits.length
        ? `invalid dealing by ${culprits.join(', ')}: nothing committed`
        : `staging failed (${failures.map((f) => `${f.node}: ${f.kind}`).join(', ')}): nothing committed`;
      await this.end(id, 'running', 'aborted', reason, { failures, culprits, abortUnreached: unreached, detail: e.message }, failures);
      return;
    }
    await this.ds.transaction(async (m) => {
      const moved = rowsOf(await m.query(
        `UPDATE custody_maintenance SET phase = 'committing', dealers = $2, new_public_package = $3, updated_at = now()
          WHERE id = $1 AND status = 'running' AND phase = 'staging' RETURNING id`,
        [id, JSON.stringify(staged.dealers), JSON.stringify(staged.public)],
      ));
      if (moved.length === 0) return;
      await this.audit.append(
        {
          type: 'custody.maintenance.staged',
          actor: ACTOR,
          subject: `custody-maintenance:${id}`,
          body: { maintenanceId: id, version: staged.version, dealers: staged.dealers, groupKey: staged.groupPublicKey, verifyingShares: staged.verifyingShares },
        },
        m,
      );
    });
  }

  /** Phase two: retried until every node acknowledged; then the wallet row moves to the new version. */
  private async commit(c: Row): Promise<void> {
    const id = String(c.id);
    const coordinator = await this.wallets.coordinator();
    let outcomes: Record<string, string>;
    try {
      outcomes = (await commitShares(coordinator, await this.plan(c), json<WirePublic>(c.new_public_package))).outcomes;
    } catch (e) {
      if (!(e instanceof QuorumError) && !(e instanceof NodeFailure)) throw e;
      const failures = e instanceof QuorumError ? e.failures.map((f) => ({ node: f.nodeId, kind: f.kind })) : [{ node: e.nodeId, kind: e.kind }];
      await this.ds.transaction(async (m) => {
        await m.query(`UPDATE custody_maintenance SET failures = $2, updated_at = now() WHERE id = $1`, [id, JSON.stringify(failures)]);
        await this.audit.append({ type: 'custody.maintenance.commit-incomplete', actor: ACTOR, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, failures } }, m);
      });
      throw new Error(`maintenance ${id}: commit incomplete, will retry (${e.message})`);
    }
    await this.ds.transaction(async (m) => {
      if (!(await transition(m, id, 'running', 'completed', { phase: null, failures: [] }))) return;
      const updated = rowsOf(await m.query(
        `UPDATE custody_wallet SET node_ids = $2, threshold = $3, public_package = $4, share_version = $5
          WHERE id = $1 AND share_version = $6 RETURNING id`,
        [c.wallet_id, JSON.stringify(json<string[]>(c.to_nodes)), Number(c.to_threshold), JSON.stringify(json(c.new_public_package)), Number(c.to_version), Number(c.from_version)],
      ));
      if (updated.length !== 1) throw new Error(`wallet ${String(c.wallet_id)} is no longer at share version ${String(c.from_version)}`);
      await m.query(`DELETE FROM custody_wallet_activity WHERE wallet_id = $1 AND ref_id = $2`, [c.wallet_id, id]);
      await this.audit.append(
        {
          type: 'custody.maintenance.completed',
          actor: ACTOR,
          subject: `custody-maintenance:${id}`,
          body: { maintenanceId: id, walletId: String(c.wallet_id), version: Number(c.to_version), nodes: json<string[]>(c.to_nodes), threshold: Number(c.to_threshold), outcomes },
        },
        m,
      );
    });
  }

  /** A final transition with its audit event; releases the wallet's activity row if held. */
  private async end(id: string, from: string, to: 'aborted' | 'expired', reason: string, body: Record<string, unknown>, failures?: unknown): Promise<void> {
    await this.ds.transaction(async (m) => {
      if (!(await transition(m, id, from, to, { reason, phase: null, ...(failures === undefined ? {} : { failures }) }))) return;
      await m.query(`DELETE FROM custody_wallet_activity WHERE ref_id = $1 AND activity = 'maintenance'`, [id]);
      await this.audit.append({ type: `custody.maintenance.${to}`, actor: ACTOR, subject: `custody-maintenance:${id}`, body: { maintenanceId: id, from, reason, ...body } }, m);
    });
  }

  /** Requested/approved ceremonies past their expiry become expired, each with its audit event. */
  private async expireDue(m: EntityManager, walletId?: string): Promise<void> {
    const due: { id: string; status: string }[] = await m.query(
      `SELECT id, status FROM custody_maintenance WHERE status IN ('requested', 'approved') AND expires_at <= now() AND ($1::uuid IS NULL OR wallet_id = $1::uuid)`,
      [walletId ?? null],
    );
    for (const d of due) {
      if (await transition(m, String(d.id), d.status, 'expired', { reason: `expired while ${d.status}` })) {
        await this.audit.append({ type: 'custody.maintenance.expired', actor: ACTOR, subject: `custody-maintenance:${String(d.id)}`, body: { maintenanceId: String(d.id), from: d.status } }, m);
      }
    }
  }
}
