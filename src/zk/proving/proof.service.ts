import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest, notFound, unprocessable } from '../../common/problem.js';
import { HsmService } from '../../hsm/hsm.service.js';
import type { SealedEnvelope } from '../../hsm/envelope.js';
import { QueueService } from '../../queue/queue.service.js';
import {
  balanceInput,
  balanceStatementErrors,
  CircuitInputError,
  eligibilityInput,
  eligibilityStatementErrors,
  MAX_UINT64,
  yyyymmdd,
  type BalanceWitness,
  type EligibilityWitness,
} from '../circuit-inputs.js';
import { AccountRegistryService } from '../registry/account-registry.service.js';
import { IdentityRegistryService } from '../registry/identity-registry.service.js';
import type { BalanceProofRequestDto, EligibilityProofRequestDto, ProofJobDto, ProofResponseDto } from './proof.dto.js';
import { ProverPoolService } from './prover-pool.service.js';
import type { CircuitName, Groth16Result } from './prover-pool.js';

/** The pg-boss queue of asynchronous proofs. */
export const PROVE_QUEUE = 'zk.prove';
/** HSM key that seals the private inputs of queued proofs. */
export const PROOF_JOB_KEK = 'zk-proof-job-kek';

/** A statement checked and turned into the circuit's input; `subject` is the account or identity id. */
interface PreparedProof {
  circuit: CircuitName;
  subject: string;
  input: Record<string, unknown>;
}

const verificationKeyUrl = (circuit: CircuitName) => `/zk/circuits/${circuit}/verification-key`;

/** The context a queued job's sealed input is bound to: it opens only as this job of this owner. */
const jobContext = (jobId: string, ownerId: string, circuit: CircuitName) => ({ purpose: 'zk-proof-job-input', job: jobId, owner: ownerId, circuit });

/**
 * Proofs as a service, for wallet apps that do not prove on the device. The wallet sends its
 * secret for one proof; the service fetches the owner's leaf and path from the registry, checks
 * the statement (a false one is a clear 422, not a prover failure), and proves in the warm pool.
 *
 * The secret is held in memory for the proof only. A queued proof (?async=true) stores the
 * circuit input sealed by the HSM envelope, bound to the job id and owner; the job opens it,
 * proves, and replaces it with null in the transaction that stores the proof. Audit events carry
 * the circuit, the subject and the public signals, never private inputs.
 */
@Injectable()
export class ProofService implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly hsm: HsmService,
    private readonly queue: QueueService,
    private readonly prover: ProverPoolService,
    private readonly identities: IdentityRegistryService,
    private readonly accounts: AccountRegistryService,
  ) {
    queue.register<{ jobId: string }>(PROVE_QUEUE, (job) => this.runJob(job.data.jobId), {
      // A proof job is not retried: its sealed input is deleted whatever the outcome.
      queue: { retryLimit: 0, expireInSeconds: 600 },
    });
  }

  async onModuleInit(): Promise<void> {
    await this.hsm.ensureAesKey(PROOF_JOB_KEK);
  }

  // ------------------------------------------------------------------------ statements

  async prepareBalance(principal: AuthenticatedPrincipal, req: BalanceProofRequestDto): Promise<PreparedProof> {
    const threshold = BigInt(req.threshold);
    if (threshold > MAX_UINT64) throw badRequest('threshold must be at most 2^64-1 (the circuit proves 64-bit balances)');
    const path = await this.accounts.path(principal.id, req.accountId, req.epoch);
    const witness: BalanceWitness = {
      accountSecret: req.accountSecret,
      balance: path.balance,
      salt: path.salt,
      pathElements: path.pathElements,
      pathIndices: path.pathIndices,
      root: path.root,
      threshold,
      challenge: req.challenge,
    };
    const input = this.shaped(() => balanceInput(witness));
    const errors = await balanceStatementErrors(witness);
    if (errors.length > 0) {
      const reason = errors.map((e) => (e.startsWith('account leaf') ? 'the account secret does not open this account\'s leaf' : e)).join('; ');
      throw unprocessable('statement-false', `no balance proof exists: ${reason}`, { reasons: errors });
    }
    return { circuit: 'balance', subject: req.accountId, input };
  }

  async prepareEligibility(principal: AuthenticatedPrincipal, req: EligibilityProofRequestDto): Promise<PreparedProof> {
    const identity = await this.identities.witness(principal.id, req.identityId);
    const witness: EligibilityWitness = {
      identitySecret: req.identitySecret,
      birthDate: identity.birthDate,
      jurisdiction: identity.jurisdiction,
      pathElements: identity.pathElements,
      pathIndices: identity.pathIndices,
      root: identity.root,
      currentDate: req.currentDate ?? yyyymmdd(new Date()),
      minAge: req.minAge,
      denylist: req.denylist,
      scope: req.scope,
      challenge: req.challenge,
    };
    const input = this.shaped(() => eligibilityInput(witness));
    const errors = await eligibilityStatementErrors(witness);
    if (errors.length > 0) {
      const reason = errors.map((e) => (e.startsWith('identity leaf') ? 'the identity secret does not open this identity\'s leaf' : e)).join('; ');
      throw unprocessable('statement-false', `no eligibility proof exists: ${reason}`, { reasons: errors });
    }
    return { circuit: 'eligibility', subject: req.identityId, input };
  }

  // ------------------------------------------------------------------------ synchronous

  async prove(principal: AuthenticatedPrincipal, prepared: PreparedProof): Promise<ProofResponseDto> {
    const result = await this.prover.prove(prepared.circuit, prepared.input);
    await this.ds.transaction((m) => this.audit.append(this.issuedEvent(principal.name, prepared, result, null), m));
    return this.response(prepared.circuit, result);
  }

  // ------------------------------------------------------------------------ asynchronous

  /** Seals the input, stores the job and queues it, in one transaction. */
  async enqueue(principal: AuthenticatedPrincipal, prepared: PreparedProof): Promise<{ jobId: string; status: 'queued' }> {
    const jobId = randomUUID();
    const plaintext = Buffer.from(JSON.stringify({ subject: prepared.subject, input: prepared.input }), 'utf8');
    let sealed: SealedEnvelope;
    try {
      sealed = await this.hsm.seal(PROOF_JOB_KEK, plaintext, jobContext(jobId, principal.id, prepared.circuit));
    } finally {
      plaintext.fill(0);
    }
    await this.ds.transaction(async (m) => {
      await m.query(`INSERT INTO zk_proof_job (id, circuit, owner_principal_id, status, sealed_input) VALUES ($1, $2, $3, 'queued', $4)`, [
        jobId,
        prepared.circuit,
        principal.id,
        JSON.stringify(sealed),
      ]);
      await this.audit.append(
        { type: 'zk.proof.queued', actor: principal.name, subject: prepared.subject, body: { circuit: prepared.circuit, jobId } },
        m,
      );
      await this.queue.send(PROVE_QUEUE, { jobId }, { manager: m });
    });
    return { jobId, status: 'queued' };
  }

  /** The queue handler: opens the sealed input, proves, stores the proof and drops the input. */
  async runJob(jobId: string): Promise<void> {
    type ClaimedJob = { circuit: CircuitName; owner_principal_id: string; sealed_input: unknown; owner_name: string };
    const job = await this.ds.transaction(async (m): Promise<ClaimedJob | undefined> => {
      const [row] = (await m.query(
        `SELECT j.circuit, j.owner_principal_id, j.sealed_input, p.name AS owner_name
           FROM zk_proof_job j JOIN principal p ON p.id = j.owner_principal_id
          WHERE j.id = $1 AND j.status = 'queued' FOR UPDATE OF j`,
        [jobId],
      )) as ClaimedJob[];
      if (row) await m.query(`UPDATE zk_proof_job SET status = 'running', updated_at = now() WHERE id = $1`, [jobId]);
      return row;
    });
    if (!job) return; // already run, or unknown
    let prepared: PreparedProof;
    let result: Groth16Result;
    try {
      // Re-parsed here: the driver's objects may come from another realm (a test runner's VM
      // context), which the envelope's strict plain-object checks refuse.
      const sealed = typeof job.sealed_input === 'string' ? job.sealed_input : JSON.stringify(job.sealed_input);
      const envelope = JSON.parse(sealed) as SealedEnvelope;
      const opened = await this.hsm.open(envelope, jobContext(jobId, job.owner_principal_id, job.circuit));
      const { subject, input } = JSON.parse(opened.toString('utf8')) as { subject: string; input: Record<string, unknown> };
      opened.fill(0);
      prepared = { circuit: job.circuit, subject, input };
      result = await this.prover.prove(job.circuit, input);
    } catch {
      // The reason stays generic: the envelope or the prover must not leak through the job.
      await this.ds.query(`UPDATE zk_proof_job SET status = 'failed', error = $2, sealed_input = NULL, updated_at = now() WHERE id = $1`, [
        jobId,
        'the proof could not be made',
      ]);
      return;
    }
    await this.ds.transaction(async (m) => {
      await m.query(
        `UPDATE zk_proof_job SET status = 'done', proof = $2, public_signals = $3, sealed_input = NULL, updated_at = now() WHERE id = $1`,
        [jobId, JSON.stringify(result.proof), JSON.stringify(result.publicSignals)],
      );
      await this.audit.append(this.issuedEvent(job.owner_name, prepared, result, jobId), m);
    });
  }

  /** A job of `principal` (404 for anyone else's). */
  async job(principal: AuthenticatedPrincipal, jobId: string): Promise<ProofJobDto> {
    const [row] = await this.ds.query(
      `SELECT id, circuit, status, proof, public_signals, error, created_at, updated_at FROM zk_proof_job WHERE id = $1 AND owner_principal_id = $2`,
      [jobId, principal.id],
    );
    if (!row) throw notFound(`no proof job ${jobId}`);
    const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    const circuit = row.circuit as CircuitName;
    return {
      id: String(row.id),
      circuit,
      status: String(row.status),
      ...(row.status === 'done' ? { proof: json(row.proof), publicSignals: json(row.public_signals), verificationKeyUrl: verificationKeyUrl(circuit) } : {}),
      ...(row.error ? { error: String(row.error) } : {}),
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  // ------------------------------------------------------------------------ helpers

  private issuedEvent(actor: string, prepared: PreparedProof, result: Groth16Result, jobId: string | null) {
    return {
      type: 'zk.proof.issued',
      actor,
      subject: prepared.subject,
      body: { circuit: prepared.circuit, publicSignals: result.publicSignals, ...(jobId ? { jobId } : {}) },
    };
  }

  private response(circuit: CircuitName, result: Groth16Result): ProofResponseDto {
    return { circuit, proof: result.proof as ProofResponseDto['proof'], publicSignals: result.publicSignals, verificationKeyUrl: verificationKeyUrl(circuit) };
  }

  /** Builds a circuit input; a malformed value is a 400 naming the field, never quoting it. */
  private shaped<T>(build: () => T): T {
    try {
      return build();
    } catch (e) {
      if (e instanceof CircuitInputError) throw badRequest(`${e.field} is not a valid circuit input: ${e.message.slice(e.field.length + 2)}`);
      throw e;
    }
  }
}
