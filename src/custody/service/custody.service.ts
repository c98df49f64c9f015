import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { keccak256 } from 'ethers';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { ProblemError, conflict, notFound, unprocessable } from '../../common/problem.js';
import {
  canonicalPolicy, ceremonyDigest, digestHex, isValidPublicKey, policyProposalDigest, verifyApproval, type OperatorCurve, type PolicyTerms,
} from './approval-digest.js';
import { CeremonySigningService, transitionCeremony } from './ceremony-signing.service.js';
import type {
  ApprovalViewDto, CeremonyDto, NodeQuarantineDto, OperatorDto, PolicyDto, PolicyProposalDto, ProposePolicyDto, RegisterOperatorDto, RequestTransferDto, SetPolicyDto,
} from './custody.dto.js';

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
  proposal_id?: string | null;
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
    proposalId: r.proposal_id ? String(r.proposal_id) : null,
  };
}

const termsOf = (r: PolicyRow): PolicyTerms => ({
  quorum: Number(r.quorum),
  operators: parseJson<string[]>(r.operators),
  perTransactionLimit: String(r.per_tx_limit),
  dailyLimit: String(r.daily_limit),
  allowlist: parseJson<string[]>(r.allowlist),
  delayAbove: r.delay_above === null ? null : String(r.delay_above),
  delaySeconds: Number(r.delay_seconds),
});

/** Statuses from which an operator or admin may abort a ceremony (see abort()). */
export const ABORTABLE_STATUSES = ['requested', 'approved', 'signing'] as const;
const DEFAULT_PROPOSAL_TTL_SECONDS = 24 * 3600;
const isTrue = (v: unknown) => v === true || v === 't';

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

  /**
   * Sets a wallet's first policy (admin). Every later change is a proposal that m-of-k operators
   * of the current policy approve (proposePolicy): a second PUT is a 409.
   */
  async setPolicy(actor: AuthenticatedPrincipal, walletId: string, dto: SetPolicyDto): Promise<PolicyDto> {
    return this.ds.transaction(async (m) => {
      const [w] = await m.query(`SELECT id FROM custody_wallet WHERE id = $1 FOR UPDATE`, [walletId]);
      if (!w) throw notFound(`no wallet ${walletId}`);
      const terms = await this.checkedTerms(m, dto);
      const current = await this.currentPolicy(m, walletId);
      if (current) {
        throw conflict(
          `wallet ${walletId} already has policy version ${current.version}; a change needs a quorum of its operators: POST /custody/wallets/${walletId}/policy-proposals`,
        );
      }
      const view = await this.insertPolicy(m, walletId, 1, terms, actor.name, null);
      await this.audit.append({ type: 'custody.policy.set', actor: actor.name, subject: `custody-wallet:${walletId}`, body: { ...view } }, m);
      return view;
    });
  }

  /** The policy in canonical form, after checking it is consistent and names registered operators (422). */
  private async checkedTerms(m: EntityManager, dto: SetPolicyDto): Promise<PolicyTerms> {
    if (dto.quorum > dto.operators.length) {
      throw unprocessable('custody-invalid-policy', `quorum ${dto.quorum} exceeds the ${dto.operators.length} named operators`);
    }
    const known: { name: string }[] = await m.query(`SELECT name FROM custody_operator WHERE name = ANY($1)`, [dto.operators]);
    const missing = dto.operators.filter((n) => !known.some((k) => k.name === n));
    if (missing.length) throw unprocessable('custody-invalid-policy', `unknown operators: ${missing.join(', ')}`);
    return canonicalPolicy({
      quorum: dto.quorum,
      operators: dto.operators,
      perTransactionLimit: dto.perTransactionLimit,
      dailyLimit: dto.dailyLimit,
      allowlist: [...new Set(dto.allowlist.map((a) => a.toLowerCase()))],
      delayAbove: dto.delayAbove ?? null,
      delaySeconds: dto.delaySeconds ?? 0,
    });
  }

  private async insertPolicy(m: EntityManager, walletId: string, version: number, t: PolicyTerms, createdBy: string, proposalId: string | null): Promise<PolicyDto> {
    const [row] = await m.query(
      `INSERT INTO custody_policy (wallet_id, version, quorum, operators, per_tx_limit, daily_limit, allowlist, delay_above, delay_seconds, created_by, proposal_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [walletId, version, t.quorum, JSON.stringify(t.operators), t.perTransactionLimit, t.dailyLimit, JSON.stringify(t.allowlist), t.delayAbove, t.delaySeconds, createdBy, proposalId],
    );
    return policyView(row);
  }

  async getPolicy(walletId: string): Promise<PolicyDto> {
    const p = await this.ds.transaction((m) => this.currentPolicy(m, walletId));
    if (!p) throw notFound(`wallet ${walletId} has no policy`);
    return policyView(p);
  }

  // ------------------------------------------------------------------------ policy proposals

  /**
   * Proposes a new policy for a wallet that has one (an admin, or an operator of the current
   * policy). It takes effect only when a quorum of the current policy's operators have signed its
   * digest, and only while the version it is based on is still current.
   */
  async proposePolicy(actor: AuthenticatedPrincipal, walletId: string, dto: ProposePolicyDto): Promise<PolicyProposalDto> {
    const id = randomUUID();
    await this.ds.transaction(async (m) => {
      const [w] = await m.query(`SELECT id, address FROM custody_wallet WHERE id = $1 FOR UPDATE`, [walletId]);
      if (!w) throw notFound(`no wallet ${walletId}`);
      const current = await this.currentPolicy(m, walletId);
      if (!current) throw conflict(`wallet ${walletId} has no policy yet; an admin sets the first one with PUT /custody/wallets/${walletId}/policy`);
      if (actor.role !== 'admin') {
        const [op] = await m.query(`SELECT name FROM custody_operator WHERE principal_id = $1`, [actor.id]);
        if (!op || !parseJson<string[]>(current.operators).includes(String(op.name))) {
          throw forbidden(`only an admin or an operator of the wallet's current policy (version ${current.version}) may propose a change`);
        }
      }
      const terms = await this.checkedTerms(m, dto);
      const [{ now }] = await m.query(`SELECT now() AS now`);
      const expiresAt = new Date(new Date(now).getTime() + (dto.ttlSeconds ?? DEFAULT_PROPOSAL_TTL_SECONDS) * 1000);
      const baseVersion = Number(current.version);
      const digest = digestHex(policyProposalDigest({ wallet: String(w.address), proposalId: id, baseVersion, policy: terms, expiresAt }));
      await m.query(
        `INSERT INTO custody_policy_proposal (id, wallet_id, base_version, proposed, digest, requested_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, walletId, baseVersion, JSON.stringify(terms), digest, actor.name, expiresAt],
      );
      await this.audit.append(
        {
          type: 'custody.policy.proposed',
          actor: actor.name,
          subject: `custody-wallet:${walletId}`,
          body: { proposalId: id, walletId, wallet: String(w.address), baseVersion, policy: terms, digest, expiresAt: expiresAt.toISOString() },
        },
        m,
      );
    });
    return this.getProposal(id);
  }

  async listProposals(status?: string, walletId?: string): Promise<PolicyProposalDto[]> {
    await this.ds.transaction((m) => this.settleProposals(m));
    const rows: { id: string }[] = await this.ds.query(
      `SELECT id FROM custody_policy_proposal WHERE ($1::text IS NULL OR status = $1::text) AND ($2::uuid IS NULL OR wallet_id = $2::uuid)
        ORDER BY created_at, id LIMIT 500`,
      [status ?? null, walletId ?? null],
    );
    const out: PolicyProposalDto[] = [];
    for (const r of rows) out.push(await this.getProposal(String(r.id), false));
    return out;
  }

  async getProposal(id: string, settle = true): Promise<PolicyProposalDto> {
    if (settle) await this.ds.transaction((m) => this.settleProposals(m));
    const [r] = await this.ds.query(
      `SELECT pp.*, w.address, p.quorum, p.operators FROM custody_policy_proposal pp
         JOIN custody_wallet w ON w.id = pp.wallet_id
         JOIN custody_policy p ON p.wallet_id = pp.wallet_id AND p.version = pp.base_version
        WHERE pp.id = $1`,
      [id],
    );
    if (!r) throw notFound(`no policy proposal ${id}`);
    const approvals: { name: string; created_at: unknown }[] = await this.ds.query(
      `SELECT o.name, a.created_at FROM custody_policy_approval a JOIN custody_operator o ON o.id = a.operator_id WHERE a.proposal_id = $1 ORDER BY a.created_at, o.name`,
      [id],
    );
    return {
      id: String(r.id),
      walletId: String(r.wallet_id),
      wallet: String(r.address),
      baseVersion: Number(r.base_version),
      policy: canonicalPolicy(parseJson<PolicyTerms>(r.proposed)),
      digest: String(r.digest),
      status: String(r.status),
      reason: r.reason === null ? null : String(r.reason),
      appliedVersion: r.applied_version === null ? null : Number(r.applied_version),
      quorum: Number(r.quorum),
      approvers: parseJson<string[]>(r.operators),
      approvals: approvals.map((a): ApprovalViewDto => ({ operator: a.name, createdAt: iso(a.created_at) })),
      requestedBy: String(r.requested_by),
      expiresAt: iso(r.expires_at),
      createdAt: iso(r.created_at),
    };
  }

  /**
   * An operator's approval of a policy proposal: the calling principal must be the named operator,
   * one of the base version's operators (403); the proposal must still be requested, unexpired and
   * based on the current version (409); the signature must verify over the proposal's digest
   * (422); one approval per operator (409). The quorum of the base version applies the proposal
   * as the next version in the same transaction, conditional on the base version still being the
   * current one; proposals on the old version are superseded and transfers still awaiting
   * approval under it are aborted.
   */
  async approvePolicy(actor: AuthenticatedPrincipal, proposalId: string, operatorName: string, signature: string): Promise<PolicyProposalDto> {
    await this.ds.transaction((m) => this.settleProposals(m));
    try {
      await this.ds.transaction(async (m) => {
        const [head] = await m.query(`SELECT wallet_id FROM custody_policy_proposal WHERE id = $1`, [proposalId]);
        if (!head) throw notFound(`no policy proposal ${proposalId}`);
        // One writer per wallet at a time: proposals, approvals and transfer requests of a wallet serialise here.
        await m.query(`SELECT id FROM custody_wallet WHERE id = $1 FOR UPDATE`, [head.wallet_id]);
        const [pp] = await m.query(
          `SELECT pp.*, pp.expires_at <= now() AS due, p.quorum, p.operators,
                  (SELECT max(version) FROM custody_policy WHERE wallet_id = pp.wallet_id) AS current_version
             FROM custody_policy_proposal pp JOIN custody_policy p ON p.wallet_id = pp.wallet_id AND p.version = pp.base_version
            WHERE pp.id = $1 FOR UPDATE OF pp`,
          [proposalId],
        );
        const [op] = await m.query(`SELECT id, principal_id, curve, public_key FROM custody_operator WHERE name = $1`, [operatorName]);
        if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
        if (!parseJson<string[]>(pp.operators).includes(operatorName)) {
          throw forbidden(`operator ${operatorName} is not an operator of policy version ${pp.base_version}, which this proposal would replace`);
        }
        if (pp.status !== 'requested') throw conflict(`policy proposal ${proposalId} is ${pp.status}${pp.reason ? ` (${pp.reason})` : ''}; it takes no more approvals`);
        if (isTrue(pp.due)) throw conflict(`policy proposal ${proposalId} has expired`);
        if (Number(pp.current_version) !== Number(pp.base_version)) {
          throw conflict(`policy proposal ${proposalId} is based on version ${pp.base_version} but the current version is ${pp.current_version}`);
        }
        const digest = Uint8Array.from(Buffer.from(String(pp.digest).slice(2), 'hex'));
        if (!verifyApproval(op.curve as OperatorCurve, String(op.public_key), digest, signature)) {
          throw unprocessable('custody-bad-signature', `the signature does not verify with operator ${operatorName}'s key over the proposal's digest`);
        }
        const [dup] = await m.query(`SELECT 1 FROM custody_policy_approval WHERE proposal_id = $1 AND operator_id = $2`, [proposalId, op.id]);
        if (dup) throw conflict(`operator ${operatorName} has already approved policy proposal ${proposalId}`);
        await m.query(`INSERT INTO custody_policy_approval (proposal_id, operator_id, signature) VALUES ($1, $2, $3)`, [proposalId, op.id, signature]);
        const walletId = String(pp.wallet_id);
        await this.audit.append(
          { type: 'custody.policy.approval', actor: actor.name, subject: `custody-wallet:${walletId}`, body: { proposalId, operator: operatorName, digest: String(pp.digest), signature } },
          m,
        );
        const names: { name: string }[] = await m.query(
          `SELECT o.name FROM custody_policy_approval a JOIN custody_operator o ON o.id = a.operator_id WHERE a.proposal_id = $1 ORDER BY o.name`,
          [proposalId],
        );
        if (names.length < Number(pp.quorum)) return;
        const version = Number(pp.base_version) + 1;
        // Conditional on the base version still being the newest: a proposal on an old version never applies.
        const moved: unknown[] = await m.query(
          `UPDATE custody_policy_proposal SET status = 'applied', applied_version = $2, updated_at = now()
            WHERE id = $1 AND status = 'requested'
              AND base_version = (SELECT max(version) FROM custody_policy WHERE wallet_id = custody_policy_proposal.wallet_id) RETURNING id`,
          [proposalId, version],
        );
        if ((Array.isArray(moved[0]) ? (moved[0] as unknown[]) : moved).length === 0) {
          throw conflict(`policy proposal ${proposalId} can no longer be applied: its base version ${pp.base_version} is no longer current`);
        }
        const view = await this.insertPolicy(m, walletId, version, parseJson<PolicyTerms>(pp.proposed), `policy-proposal:${proposalId}`, proposalId);
        await this.audit.append(
          { type: 'custody.policy.applied', actor: actor.name, subject: `custody-wallet:${walletId}`, body: { ...view, approvals: names.map((n) => n.name) } },
          m,
        );
        await this.settleProposals(m, walletId);
        // Transfers still awaiting approval were checked against, and count approvals under, the old version.
        const waiting: { id: string }[] = await m.query(
          `SELECT id FROM custody_ceremony WHERE wallet_id = $1 AND status = 'requested' AND policy_version < $2`,
          [walletId, version],
        );
        for (const w of waiting) {
          const reason = `aborted: the wallet's policy changed to version ${version} before this request was approved; request it again`;
          if (await transitionCeremony(m, String(w.id), 'requested', 'aborted', { reason })) {
            await this.audit.append(
              { type: 'custody.ceremony.aborted', actor: actor.name, subject: `custody-ceremony:${w.id}`, body: { ceremonyId: String(w.id), from: 'requested', reason, policyVersion: version } },
              m,
            );
          }
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`operator ${operatorName} has already approved policy proposal ${proposalId}, or another proposal was applied first`);
      throw e;
    }
    return this.getProposal(proposalId, false);
  }

  /** An operator of the base version's policy rejects a requested proposal with a reason (409 once it has ended). */
  async rejectPolicy(actor: AuthenticatedPrincipal, proposalId: string, operatorName: string, reason: string): Promise<PolicyProposalDto> {
    await this.ds.transaction((m) => this.settleProposals(m));
    await this.ds.transaction(async (m) => {
      const [pp] = await m.query(
        `SELECT pp.status, pp.wallet_id, p.operators FROM custody_policy_proposal pp
           JOIN custody_policy p ON p.wallet_id = pp.wallet_id AND p.version = pp.base_version WHERE pp.id = $1`,
        [proposalId],
      );
      if (!pp) throw notFound(`no policy proposal ${proposalId}`);
      const [op] = await m.query(`SELECT principal_id FROM custody_operator WHERE name = $1`, [operatorName]);
      if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
      if (!parseJson<string[]>(pp.operators).includes(operatorName)) throw forbidden(`operator ${operatorName} is not an operator of the policy this proposal would replace`);
      const moved: unknown[] = await m.query(
        `UPDATE custody_policy_proposal SET status = 'rejected', reason = $2, updated_at = now() WHERE id = $1 AND status = 'requested' RETURNING id`,
        [proposalId, `rejected by ${operatorName}: ${reason}`],
      );
      if ((Array.isArray(moved[0]) ? (moved[0] as unknown[]) : moved).length === 0) throw conflict(`policy proposal ${proposalId} is ${pp.status}; it can no longer be rejected`);
      await this.audit.append(
        { type: 'custody.policy.rejected', actor: actor.name, subject: `custody-wallet:${pp.wallet_id}`, body: { proposalId, operator: operatorName, reason } },
        m,
      );
    });
    return this.getProposal(proposalId, false);
  }

  /**
   * Ends requested proposals that can no longer apply, each with its audit event: past their expiry
   * -> expired; based on a version that is no longer current -> superseded.
   */
  private async settleProposals(m: EntityManager, walletId?: string): Promise<void> {
    const due: { id: string; wallet_id: string; base_version: number; expired: unknown; current_version: number }[] = await m.query(
      `SELECT pp.id, pp.wallet_id, pp.base_version, pp.expires_at <= now() AS expired,
              (SELECT max(version) FROM custody_policy WHERE wallet_id = pp.wallet_id) AS current_version
         FROM custody_policy_proposal pp
        WHERE pp.status = 'requested' AND ($1::uuid IS NULL OR pp.wallet_id = $1::uuid)
          AND (pp.expires_at <= now() OR pp.base_version < (SELECT max(version) FROM custody_policy WHERE wallet_id = pp.wallet_id))`,
      [walletId ?? null],
    );
    for (const d of due) {
      const stale = Number(d.base_version) < Number(d.current_version);
      const status = stale ? 'superseded' : 'expired';
      const reason = stale ? `superseded: version ${d.current_version} replaced its base version ${d.base_version}` : 'expired before reaching its quorum';
      const moved: unknown[] = await m.query(
        `UPDATE custody_policy_proposal SET status = $2, reason = $3, updated_at = now() WHERE id = $1 AND status = 'requested' RETURNING id`,
        [d.id, status, reason],
      );
      if ((Array.isArray(moved[0]) ? (moved[0] as unknown[]) : moved).length === 0) continue;
      await this.audit.append(
        { type: `custody.policy.${status}`, actor: 'custody-service', subject: `custody-wallet:${d.wallet_id}`, body: { proposalId: String(d.id), reason } },
        m,
      );
    }
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

  /**
   * Stops a ceremony that has not produced a signature yet: requested, approved or signing ->
   * aborted, by an operator of the ceremony's policy or an admin, with a reason. The nonce is
   * released as for any failure (the ceremony leaves the open statuses). A signing job still in
   * flight can no longer store its signature: its signing -> signed step is conditional and finds
   * the ceremony aborted. A 'signed' (or later) ceremony cannot be aborted (409): its execute
   * signature is valid on the wallet contract for that nonce, whoever holds it could still relay it,
   * so calling it aborted and handing the nonce to another transfer would be a false promise.
   */
  async abort(actor: AuthenticatedPrincipal, ceremonyId: string, operatorName: string | undefined, reason: string): Promise<CeremonyDto> {
    await this.ds.transaction(async (m) => {
      const [c] = await m.query(
        `SELECT c.status, p.operators FROM custody_ceremony c
           JOIN custody_policy p ON p.wallet_id = c.wallet_id AND p.version = c.policy_version WHERE c.id = $1`,
        [ceremonyId],
      );
      if (!c) throw notFound(`no ceremony ${ceremonyId}`);
      let by = actor.name;
      if (actor.role !== 'admin' || operatorName !== undefined) {
        if (operatorName === undefined) throw forbidden('an operator must name itself (operator) to abort a ceremony');
        const [op] = await m.query(`SELECT principal_id FROM custody_operator WHERE name = $1`, [operatorName]);
        if (!op || String(op.principal_id) !== actor.id) throw forbidden(`the caller is not operator ${operatorName}`);
        if (!parseJson<string[]>(c.operators).includes(operatorName)) throw forbidden(`operator ${operatorName} is not an approver of this wallet's policy`);
        by = operatorName;
      }
      for (const from of ABORTABLE_STATUSES) {
        if (await transitionCeremony(m, ceremonyId, from, 'aborted', { reason: `aborted by ${by}: ${reason}` })) {
          await this.audit.append(
            { type: 'custody.ceremony.aborted', actor: actor.name, subject: `custody-ceremony:${ceremonyId}`, body: { ceremonyId, from, by, reason } },
            m,
          );
          return;
        }
      }
      const why = ['signed', 'submitted'].includes(String(c.status))
        ? '; its execute signature exists and stays valid on the wallet contract until the nonce is used, so it is carried to the ledger'
        : '';
      throw conflict(`ceremony ${ceremonyId} is ${c.status}; it can no longer be aborted${why}`);
    });
    return this.get(ceremonyId, false);
  }

  // ---------------------------------------------------------------------- node quarantine

  async quarantinedNodes(): Promise<NodeQuarantineDto[]> {
    const rows: Record<string, unknown>[] = await this.ds.query(`SELECT * FROM custody_node_quarantine ORDER BY created_at, node_id`);
    return rows.map((r) => ({
      node: String(r.node_id),
      kind: String(r.kind),
      reason: String(r.reason),
      ceremonyId: r.ceremony_id ? String(r.ceremony_id) : null,
      createdAt: iso(r.created_at),
    }));
  }

  /** An admin lets a quarantined node sign again (after investigating it); 404 if it is not quarantined. */
  async releaseNode(actor: AuthenticatedPrincipal, nodeId: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      const r: unknown[] = await m.query(`DELETE FROM custody_node_quarantine WHERE node_id = $1 RETURNING node_id, kind`, [nodeId]);
      const rows = (Array.isArray(r[0]) ? r[0] : r) as { kind: string }[];
      if (rows.length === 0) throw notFound(`signer node ${nodeId} is not quarantined`);
      await this.audit.append({ type: 'custody.node.released', actor: actor.name, subject: `custody-node:${nodeId}`, body: { node: nodeId, kind: rows[0]!.kind } }, m);
    });
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
