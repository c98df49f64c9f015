import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { keccak256 } from 'ethers';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { ProblemError, conflict, notFound, unprocessable } from '../../common/problem.js';
import { ceremonyDigest, digestHex, isValidPublicKey, verifyApproval, type OperatorCurve } from './approval-digest.js';
import { CeremonySigningService, transitionCeremony } from './ceremony-signing.service.js';
import type { ApprovalViewDto, CeremonyDto, OperatorDto, PolicyDto, RegisterOperatorDto, RequestTransferDto, SetPolicyDto } from './custody.dto.js';

const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};

/** Statuses of a ceremony that still holds its wallet's nonce and is not yet signed. */
export const PENDING_STATUSES = ['requested', 'approved'] as const;
const DEFAULT_TTL_SECONDS = 3600;
const iso = (v: unknown): string => new Date(v as string).toISOString();
const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

interface PolicyRow {
  wallet_id: string;
  version: number;
  quorum: number;
  operators: unknown;
  per_tx_limit: string;
  daily_limit: string;
  allowlist: unknown;
  delay_above: string | null;
  delay_seconds: number;
}

function policyView(r: PolicyRow): PolicyDto {
  return {
    walletId: String(r.wallet_id),
    version: Number(r.version),
    quorum: Number(r.quorum),
    operators: parseJson<string[]>(r.operators),
    perTransactionLimit: String(r.per_tx_limit),
    dailyLimit: String(r.daily_limit),
    allowlist: parseJson<string[]>(r.allowlist),
    delayAbove: r.delay_above === null ? null : String(r.delay_above),
    delaySeconds: Number(r.delay_seconds),
  };
}

/**
 * Operators, wallet policies and signing ceremonies (docs/custody-service.md). Every change runs
 * in one transaction with its audit event. A ceremony moves between statuses only by a
 * conditional UPDATE ... WHERE status = <expected>: a transition that lost a race (or is
 * replayed) changes nothing.
 */
@Injectable()
export class CustodyService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly signing: CeremonySigningService,
  ) {}

  // ------------------------------------------------------------------------------ operators

  async registerOperator(actor: AuthenticatedPrincipal, dto: RegisterOperatorDto): Promise<OperatorDto> {
    if (!isValidPublicKey(dto.curve, dto.publicKey)) {
      throw unprocessable('custody-invalid-public-key', `publicKey is not a point of ${dto.curve}`);
    }
    try {
      return await this.ds.transaction(async (m) => {
        const [p] = await m.query(`SELECT id, role, disabled_at FROM principal WHERE name = $1`, [dto.principal]);
        if (!p || p.disabled_at) throw unprocessable('custody-unknown-principal', `no active principal ${dto.principal}`);
        if (p.role !== 'operator') throw unprocessable('custody-not-an-operator', `principal ${dto.principal} does not have the role operator`);
        const [row] = await m.query(
          `INSERT INTO custody_operator (name, principal_id, curve, public_key) VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
          [dto.name, p.id, dto.curve, dto.publicKey],
        );
        await this.audit.append(
          {
            type: 'custody.operator.registered',
            actor: actor.name,
            subject: `custody-operator:${dto.name}`,
            body: { operatorId: row.id, name: dto.name, principal: dto.principal, curve: dto.curve, publicKey: dto.publicKey },
          },
          m,
        );
        return { id: String(row.id), name: dto.name, principal: dto.principal, curve: dto.curve, publicKey: dto.publicKey, createdAt: iso(row.created_at) };
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('an operator with this name or principal is already registered');
      throw e;
    }
  }

  // --------------------------------------------------------------------------------- policy

  /** Sets a wallet's policy as a new version (admin). Changes needing an operator quorum: not yet. */
  async setPolicy(actor: AuthenticatedPrincipal, walletId: string, dto: SetPolicyDto): Promise<PolicyDto> {
    if (dto.quorum > dto.operators.length) {
      throw unprocessable('custody-invalid-policy', `quorum ${dto.quorum} exceeds the ${dto.operators.length} named operators`);
    }
    const allowlist = [...new Set(dto.allowlist.map((a) => a.toLowerCase()))];
    return this.ds.transaction(async (m) => {
      const [w] = await m.query(`SELECT id FROM custody_wallet WHERE id = $1 FOR UPDATE`, [walletId]);
      if (!w) throw notFound(`no wallet ${walletId}`);
      const known: { name: string }[] = await m.query(`SELECT name FROM custody_operator WHERE name = ANY($1)`, [dto.operators]);
      const missing = dto.operators.filter((n) => !known.some((k) => k.name === n));
      if (missing.length) throw unprocessable('custody-invalid-policy', `unknown operators: ${missing.join(', ')}`);
      const [{ v }] = await m.query(`SELECT COALESCE(max(version), 0) + 1 AS v FROM custody_policy WHERE wallet_id = $1`, [walletId]);
      const [row] = await m.query(
        `INSERT INTO custody_policy (wallet_id, version, quorum, operators, per_tx_limit, daily_limit, allowlist, delay_above, delay_seconds, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
        [
          walletId,
          Number(v),
          dto.quorum,
          JSON.stringify(dto.operators),
          dto.perTransactionLimit,
          dto.dailyLimit,
          JSON.stringify(allowlist),
          dto.delayAbove ?? null,
          dto.delaySeconds ?? 0,
          actor.name,
        ],
      );
      const view = policyView(row);
      await this.audit.append({ type: 'custody.policy.set', actor: actor.name, subject: `custody-wallet:${walletId}`, body: { ...view } }, m);
      return view;
    });
  }

  private async currentPolicy(m: EntityManager, walletId: string): Promise<PolicyRow | undefined> {
    const [p] = await m.query(`SELECT * FROM custody_policy WHERE wallet_id = $1 ORDER BY version DESC LIMIT 1`, [walletId]);
    return p;
  }

  // ----------------------------------------------------------------------------- ceremonies

  /**
   * Requests a transfer out of a wallet: checked against the wallet's current policy (destination
   * allowlist, per-transaction and 24 h limits; nothing is stored when refused), then stored as a
   * ceremony in status 'requested' holding the wallet's next nonce.
   */
  async requestTransfer(actor: AuthenticatedPrincipal, walletId: string, dto: RequestTransferDto): Promise<CeremonyDto> {
    const to = dto.to.toLowerCase();
    const value = BigInt(dto.value);
    const data = (dto.data ?? '0x').toLowerCase();
    const dataHash = keccak256(data);
    const id = randomUUID();
    try {
      await this.ds.transaction(async (m) => {
        const [w] = await m.query(`SELECT id, address, next_nonce FROM custody_wallet WHERE id = $1 FOR UPDATE`, [walletId]);
        if (!w) throw notFound(`no wallet ${walletId}`);
        await this.expireDue(m, walletId);
        const policy = await this.currentPolicy(m, walletId);
        if (!policy) throw unprocessable('custody-no-policy', `wallet ${walletId} has no policy`);
        if (!parseJson<string[]>(policy.allowlist).includes(to)) {
          throw unprocessable('custody-destination-not-allowed', `${to} is not on the wallet's destination allowlist`);
        }
        if (value > BigInt(policy.per_tx_limit)) {
          throw unprocessable('custody-over-limit', `value ${value} exceeds the per-transaction limit ${policy.per_tx_limit}`);
        }
        const [{ total }] = await m.query(
          `SELECT COALESCE(sum(value), 0)::text AS total FROM custody_ceremony
            WHERE wallet_id = $1 AND created_at > now() - interval '24 hours' AND status NOT IN ('rejected', 'expired', 'aborted')`,
          [walletId],
        );
        if (BigInt(total) + value > BigInt(policy.daily_limit)) {
          throw unprocessable('custody-over-daily-limit', `value ${value} would exceed the daily limit ${policy.daily_limit} (${total} already requested in 24 h)`);
        }
        const [open] = await m.query(
          `SELECT id FROM custody_ceremony WHERE wallet_id = $1 AND status IN ('requested', 'approved', 'signing', 'signed', 'submitted')`,
          [walletId],
        );
        if (open) throw conflict(`wallet ${walletId} already has an open ceremony ${open.id} (its nonce is sequential)`);
        const [{ now }] = await m.query(`SELECT now() AS now`);
        const requestedAt = new Date(now);
        // Millisecond precision: what is signed is exactly what is stored and returned.
        const expiresAt = new Date(requestedAt.getTime() + (dto.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000);
        const delayed = policy.delay_above !== null && value > BigInt(policy.delay_above);
        const notBefore = new Date(requestedAt.getTime() + (delayed ? Number(policy.delay_seconds) * 1000 : 0));
        const nonce = BigInt(w.next_nonce);
        const digest = digestHex(ceremonyDigest({ wallet: w.address, to, value, dataHash, nonce, ceremonyId: id, expiresAt }));
        await m.query(
          `INSERT INTO custody_ceremony (id, wallet_id, policy_version, to_address, value, data, data_hash, nonce, digest, requested_by, not_before, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [id, walletId, policy.version, to, value.toString(), data, dataHash, nonce.toString(), digest, actor.name, notBefore, expiresAt],
        );
        await this.audit.append(
          {
            type: 'custody.ceremony.requested',
            actor: actor.name,
            subject: `custody-ceremony:${id}`,
            body: { ceremonyId: id, walletId, wallet: w.address, to, value: value.toString(), dataHash, nonce: nonce.toString(), digest, policyVersion: Number(policy.version), expiresAt: expiresAt.toISOString(), notBefore: notBefore.toISOString() },
          },
          m,
        );
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`wallet ${walletId} already has an open ceremony`);
      throw e;
    }
    return this.get(id);
  }

  async list(status?: string): Promise<CeremonyDto[]> {
    await this.ds.transaction((m) => this.expireDue(m));
    const statuses = !status ? null : status === 'pending' ? [...PENDING_STATUSES] : [status];
    const rows: { id: string }[] = await this.ds.query(
      `SELECT id FROM custody_ceremony WHERE ($1::text[] IS NULL OR status = ANY($1::text[])) ORDER BY created_at, id LIMIT 500`,
      [statuses],
    );
    const out: CeremonyDto[] = [];
    for (const r of rows) out.push(await this.get(String(r.id), false));
    return out;
  }

  async get(id: string, expire = true): Promise<CeremonyDto> {
    if (expire) await this.ds.transaction((m) => this.expireDue(m));
    const [c] = await this.ds.query(
      `SELECT c.*, w.address, p.quorum FROM custody_ceremony c
         JOIN custody_wallet w ON w.id = c.wallet_id
         JOIN custody_policy p ON p.wallet_id = c.wallet_id AND p.version = c.policy_version
        WHERE c.id = $1`,
      [id],
    );
    if (!c) throw notFound(`no ceremony ${id}`);
    const approvals: { name: string; created_at: unknown }[] = await this.ds.query(
      `SELECT o.name, a.created_at FROM custody_approval a JOIN custody_operator o ON o.id = a.operator_id WHERE a.ceremony_id = $1 ORDER BY a.created_at, o.name`,
      [id],
    );
    return {
      id: String(c.id),
      walletId: String(c.wallet_id),
      wallet: String(c.address),
      policyVersion: Number(c.policy_version),
      to: String(c.to_address),
      value: String(c.value),
      data: String(c.data),
      dataHash: String(c.data_hash),
      nonce: String(c.nonce),
      digest: String(c.digest),
      status: String(c.status),
      reason: c.reason === null ? null : String(c.reason),
      quorum: Number(c.quorum),
      approvals: approvals.map((a): ApprovalViewDto => ({ operator: a.name, createdAt: iso(a.created_at) })),
      notBefore: iso(c.not_before),
      expiresAt: iso(c.expires_at),
      createdAt: iso(c.created_at),
    };
  }

  /**
   * Records an operator's approval: the calling principal must be the named operator and the
   * operator one of the ceremony's policy's operators (403), the signature must verify over the
   * ceremony's digest (422), one approval per operator (409). Reaching the quorum moves the
   * ceremony requested -> approved in the same transaction.
   */
  async approve(actor: AuthenticatedPrincipal, ceremonyId: string, operatorName: string, signature: string): Promise<CeremonyDto> {
    let approved = false;
    try {
      await this.ds.transaction(async (m) => {
        const [c] = await m.query(
          `SELECT c.id, c.wallet_id, c.status, c.digest, c.expires_at <= now() AS due, p.quorum, p.operators
             FROM custody_ceremony c JOIN custody_policy p ON p.wallet_id = c.wallet_id AND p.version = c.policy_version
            WHERE c.id = $1 FOR UPDATE OF c`,
          [ceremonyId],
        );
        if (!c) throw notFound(`no ceremony ${ceremonyId}`);
        const [op] = await m.query(`SELECT id, principal_id, curve, public_key FROM custody_operator WHERE name = $1`, [operatorName]);
        if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
        if (!parseJson<string[]>(c.operators).includes(operatorName)) {
          throw forbidden(`operator ${operatorName} is not an approver of this wallet's policy`);
        }
        if (c.status !== 'requested') throw conflict(`ceremony ${ceremonyId} is ${c.status}; it takes no more approvals`);
        if (c.due === true || c.due === 't') throw conflict(`ceremony ${ceremonyId} has expired`);
        const digest = Uint8Array.from(Buffer.from(String(c.digest).slice(2), 'hex'));
        if (!verifyApproval(op.curve as OperatorCurve, String(op.public_key), digest, signature)) {
          throw unprocessable('custody-bad-signature', `the signature does not verify with operator ${operatorName}'s key over the ceremony's digest`);
        }
        const [dup] = await m.query(`SELECT 1 FROM custody_approval WHERE ceremony_id = $1 AND operator_id = $2`, [ceremonyId, op.id]);
        if (dup) throw conflict(`operator ${operatorName} has already approved ceremony ${ceremonyId}`);
        await m.query(`INSERT INTO custody_approval (ceremony_id, operator_id, signature) VALUES ($1, $2, $3)`, [ceremonyId, op.id, signature]);
        await this.audit.append(
          {
            type: 'custody.ceremony.approval',
            actor: actor.name,
            subject: `custody-ceremony:${ceremonyId}`,
            body: { ceremonyId, operator: operatorName, digest: String(c.digest), signature },
          },
          m,
        );
        const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM custody_approval WHERE ceremony_id = $1`, [ceremonyId]);
        if (Number(n) >= Number(c.quorum)) {
          const moved = await transitionCeremony(m, ceremonyId, 'requested', 'approved');
          if (moved) {
            approved = true;
            await this.audit.append(
              { type: 'custody.ceremony.approved', actor: actor.name, subject: `custody-ceremony:${ceremonyId}`, body: { ceremonyId, approvals: Number(n), quorum: Number(c.quorum) } },
              m,
            );
          }
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`operator ${operatorName} has already approved ceremony ${ceremonyId}`);
      throw e;
    }
    const view = await this.get(ceremonyId, false);
    // After the commit: a worker signs and submits (docs/custody-service.md).
    if (approved) await this.signing.requestSigning(ceremonyId, new Date(view.notBefore));
    return view;
  }

  /**
   * An operator of the ceremony's policy stops it before signing: requested or approved ->
   * rejected (409 once signing has started or it has ended).
   */
  async reject(actor: AuthenticatedPrincipal, ceremonyId: string, operatorName: string, reason: string): Promise<CeremonyDto> {
    await this.ds.transaction(async (m) => {
      const [c] = await m.query(
        `SELECT c.status, p.operators FROM custody_ceremony c
           JOIN custody_policy p ON p.wallet_id = c.wallet_id AND p.version = c.policy_version WHERE c.id = $1`,
        [ceremonyId],
      );
      if (!c) throw notFound(`no ceremony ${ceremonyId}`);
      const [op] = await m.query(`SELECT principal_id FROM custody_operator WHERE name = $1`, [operatorName]);
      if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
      if (!parseJson<string[]>(c.operators).includes(operatorName)) throw forbidden(`operator ${operatorName} is not an approver of this wallet's policy`);
      let moved = false;
      for (const from of PENDING_STATUSES) {
        if (await transitionCeremony(m, ceremonyId, from, 'rejected', { reason: `rejected by ${operatorName}: ${reason}` })) {
          moved = true;
          await this.audit.append(
            { type: 'custody.ceremony.rejected', actor: actor.name, subject: `custody-ceremony:${ceremonyId}`, body: { ceremonyId, from, operator: operatorName, reason } },
            m,
          );
          break;
        }
      }
      if (!moved) throw conflict(`ceremony ${ceremonyId} is ${c.status}; it can no longer be rejected`);
    });
    return this.get(ceremonyId, false);
  }

  /** Moves requested/approved ceremonies past their expiry to 'expired', each with its audit event. */
  private async expireDue(m: EntityManager, walletId?: string): Promise<void> {
    const due: { id: string; status: string }[] = await m.query(
      `SELECT id, status FROM custody_ceremony WHERE status IN ('requested', 'approved') AND expires_at <= now() AND ($1::uuid IS NULL OR wallet_id = $1::uuid)`,
      [walletId ?? null],
    );
    for (const d of due) {
      if (await transitionCeremony(m, String(d.id), d.status, 'expired', { reason: `expired while ${d.status}` })) {
        await this.audit.append(
          { type: 'custody.ceremony.expired', actor: 'custody-service', subject: `custody-ceremony:${d.id}`, body: { ceremonyId: String(d.id), from: d.status } },
          m,
        );
      }
    }
  }
}
