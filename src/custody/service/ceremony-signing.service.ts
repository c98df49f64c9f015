import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Contract, type TransactionReceipt } from 'ethers';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import { LedgerService } from '../../ledger/ledger.service.js';
import { QueueService } from '../../queue/queue.service.js';
import { NodeFailure, QuorumError } from '../coordinator/signer-coordinator.js';
import { signatureForContract } from '../frost/index.js';
import type { WirePublic } from '../signer/frost-adapter.js';
import { CustodyWalletService } from './custody-wallet.service.js';

export const SIGN_QUEUE = 'custody-ceremony';
/** Queue of the periodic sweep of stuck ceremonies (a pg-boss cron schedule, once a minute). */
export const SWEEP_QUEUE = 'custody-ceremony-sweep';
export const SWEEP_CRON = '* * * * *';
/** Statuses a signing job carries on; a ceremony in one of them needs a live job. */
const IN_FLIGHT = ['approved', 'signing', 'signed', 'submitted'];
/** Statuses that expire at the ceremony's deadline: nothing has been signed yet. */
const EXPIRABLE = ['requested', 'approved', 'signing'];
/** pg-boss job states in which a job will still run. */
const LIVE_JOB_STATES = new Set(['created', 'retry', 'active']);
/** Failures that show a node misbehaving (rather than being down): it is quarantined. */
const QUARANTINE_KINDS = new Set(['bad-share', 'bad-signature', 'inconsistent']);

export interface SweepResult {
  expired: string[];
  requeued: string[];
}
const ACTOR = 'custody-service';

/** A conditional status change (UPDATE ... WHERE status = from); true when this call made it. */
export async function transitionCeremony(
  m: EntityManager | DataSource,
  id: string,
  from: string,
  to: string,
  set: { reason?: string; signature?: string; txHash?: string } = {},
): Promise<boolean> {
  const r: unknown[] = await m.query(
    `UPDATE custody_ceremony SET status = $3, reason = COALESCE($4, reason), signature = COALESCE($5, signature),
            tx_hash = COALESCE($6, tx_hash), updated_at = now()
      WHERE id = $1 AND status = $2 RETURNING id`,
    [id, from, to, set.reason ?? null, set.signature ?? null, set.txHash ?? null],
  );
  // Drivers answer an UPDATE ... RETURNING with [rows, count] or with the rows.
  const rows = Array.isArray(r[0]) ? (r[0] as unknown[]) : r;
  return rows.length > 0;
}

/**
 * Carries an approved ceremony to the ledger, one persisted step at a time, each a conditional
 * transition with its audit event, so a job that is retried or runs twice only repeats what did
 * not commit:
 *   approved  -> signing    once notBefore has passed
 *   signing   -> signed     FROST signature of the wallet's EIP-712 execute digest by a quorum of
 *                           its signer nodes (repeating it only yields another valid signature)
 *   signed    -> submitted  CustodyWallet.execute sent from the service's ledger account (or, when
 *                           the wallet already used the nonce, the mined Executed transaction adopted)
 *   submitted -> confirmed  receipt successful; the wallet's next nonce moves on
 * A failed quorum or a reverted transaction ends the ceremony as aborted, with the reason.
 */
@Injectable()
export class CeremonySigningService implements OnApplicationBootstrap {
  private readonly logger = new Logger('CustodySigning');

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly ledger: LedgerService,
    private readonly queue: QueueService,
    private readonly wallets: CustodyWalletService,
  ) {
    queue.register<{ ceremonyId: string }>(SIGN_QUEUE, async (job) => this.advance(job.data.ceremonyId), {
      queue: { retryLimit: 5, retryDelay: 5, retryBackoff: true },
      worker: { pollingIntervalSeconds: 1 },
    });
    queue.register(SWEEP_QUEUE, async () => this.sweep(), { queue: { retryLimit: 0 } });
  }

  /**
   * Schedules the sweep (pg-boss cron: one job a minute for the whole deployment, run by whichever
   * worker takes it). Upserting the schedule is idempotent, so every process may do it.
   */
  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.queue.createQueue(SWEEP_QUEUE, { retryLimit: 0 });
      await (await this.queue.start()).schedule(SWEEP_QUEUE, SWEEP_CRON);
    } catch (e) {
      this.logger.warn(`cannot schedule the stuck-ceremony sweep: ${(e as Error).message}`);
    }
  }

  /**
   * Finds ceremonies a dead job left behind, idempotently (every step it triggers is a conditional
   * transition, so a sweep racing a live job changes nothing twice):
   *   - requested / approved / signing past their expiry -> expired (nothing is signed yet, and the
   *     operators approved the transfer only until then); the nonce is released;
   *   - approved / signing / signed / submitted with no job that will still run (its retries used
   *     up, or the process died between the approval's commit and sending the job) and untouched
   *     for `graceSeconds` -> a new job. Signed and submitted ceremonies never expire: their
   *     signature is valid on the wallet contract, so they are carried to the ledger.
   */
  async sweep(graceSeconds = 60): Promise<SweepResult> {
    const result: SweepResult = { expired: [], requeued: [] };
    const due: { id: string; status: string }[] = await this.ds.query(
      `SELECT id, status FROM custody_ceremony WHERE status = ANY($1::text[]) AND expires_at <= now() ORDER BY created_at`,
      [EXPIRABLE],
    );
    for (const d of due) {
      const id = String(d.id);
      if (await this.step(id, d.status, 'expired', { reason: `expired while ${d.status}` }, { sweep: true })) result.expired.push(id);
    }
    const stuck: { id: string; not_before: unknown }[] = await this.ds.query(
      `SELECT id, not_before FROM custody_ceremony
        WHERE status = ANY($1::text[]) AND updated_at <= now() - make_interval(secs => $2) ORDER BY created_at LIMIT 500`,
      [IN_FLIGHT, graceSeconds],
    );
    if (stuck.length === 0) return result;
    const boss = await this.queue.start();
    for (const c of stuck) {
      const id = String(c.id);
      const jobs = await boss.findJobs(SIGN_QUEUE, { key: id });
      if (jobs.some((j) => LIVE_JOB_STATES.has(String(j.state)))) continue;
      await this.requestSigning(id, new Date(c.not_before as string));
      result.requeued.push(id);
    }
    if (result.expired.length || result.requeued.length) {
      this.logger.log(`ceremony sweep: ${result.expired.length} expired, ${result.requeued.length} re-queued`);
    }
    return result;
  }

  /** Asks a worker to carry the ceremony on (after notBefore). */
  async requestSigning(ceremonyId: string, notBefore?: Date): Promise<void> {
    await this.queue.send(SIGN_QUEUE, { ceremonyId }, { singletonKey: ceremonyId, ...(notBefore && notBefore > new Date() ? { startAfter: notBefore } : {}) });
  }

  /** Runs every step that is due; returns the status the ceremony is left in. */
  async advance(ceremonyId: string): Promise<string> {
    for (;;) {
      const [c] = await this.ds.query(
        `SELECT c.*, c.not_before <= now() AS due, w.address, w.node_ids, w.public_package
           FROM custody_ceremony c JOIN custody_wallet w ON w.id = c.wallet_id WHERE c.id = $1`,
        [ceremonyId],
      );
      if (!c) throw new Error(`no ceremony ${ceremonyId}`);
      const status = String(c.status);
      if (status === 'approved') {
        if (!(c.due === true || c.due === 't')) {
          await this.requestSigning(ceremonyId, new Date(c.not_before));
          return status;
        }
        await this.step(ceremonyId, 'approved', 'signing', {}, { notBefore: new Date(c.not_before).toISOString() });
      } else if (status === 'signing') {
        await this.sign(c);
      } else if (status === 'signed') {
        await this.submit(c);
      } else if (status === 'submitted') {
        await this.confirm(c);
      } else {
        return status;
      }
    }
  }

  private async step(id: string, from: string, to: string, set: Parameters<typeof transitionCeremony>[4], body: Record<string, unknown>): Promise<boolean> {
    return this.ds.transaction(async (m) => {
      const moved = await transitionCeremony(m, id, from, to, set);
      if (moved) await this.audit.append({ type: `custody.ceremony.${to}`, actor: ACTOR, subject: `custody-ceremony:${id}`, body: { ceremonyId: id, from, ...body } }, m);
      return moved;
    });
  }

  private async walletContract(address: string): Promise<Contract> {
    const artifact = await this.ledger.loadArtifact('CustodyWallet');
    return new Contract(address, artifact.abi, await this.ledger.signer());
  }

  private async sign(c: Record<string, unknown>): Promise<void> {
    const id = String(c.id);
    const wallet = await this.walletContract(String(c.address));
    const digest: string = await wallet.getFunction('executeDigest')(c.to_address, BigInt(String(c.value)), c.data, BigInt(String(c.nonce)));
    const nodeIds = (typeof c.node_ids === 'string' ? JSON.parse(c.node_ids) : c.node_ids) as string[];
    const pub = (typeof c.public_package === 'string' ? JSON.parse(c.public_package) : c.public_package) as WirePublic;
    // Quarantined nodes are left out until an admin releases them.
    const quarantined = new Set(((await this.ds.query(`SELECT node_id FROM custody_node_quarantine`)) as { node_id: string }[]).map((r) => String(r.node_id)));
    const nodes = (await this.wallets.nodes()).filter((n) => nodeIds.includes(n.id) && !quarantined.has(n.id));
    const skipped = nodeIds.filter((n) => quarantined.has(n));
    try {
      const coordinator = await this.wallets.coordinator();
      const result = await coordinator.sign(nodes, String(c.wallet_id), Uint8Array.from(Buffer.from(digest.slice(2), 'hex')), pub);
      await this.ds.transaction(async (m) => {
        if (!(await transitionCeremony(m, id, 'signing', 'signed', { signature: result.signature }))) return;
        await this.audit.append(
          {
            type: 'custody.ceremony.signed',
            actor: ACTOR,
            subject: `custody-ceremony:${id}`,
            body: {
              ceremonyId: id,
              from: 'signing',
              executeDigest: digest,
              signature: result.signature,
              quorum: result.quorum,
              failures: result.failures.map((f) => ({ node: f.nodeId, kind: f.kind, message: f.message })),
              quarantinedSkipped: skipped,
            },
          },
          m,
        );
        await this.quarantine(m, id, result.failures);
      });
    } catch (e) {
      if (!(e instanceof QuorumError) && !(e instanceof NodeFailure)) throw e;
      const failures = e instanceof QuorumError ? e.failures : [e];
      const reason = `no signing quorum: ${e.message}${skipped.length ? ` (quarantined, not asked: ${skipped.join(', ')})` : ''}`;
      await this.ds.transaction(async (m) => {
        if (!(await transitionCeremony(m, id, 'signing', 'aborted', { reason }))) return;
        await this.audit.append(
          {
            type: 'custody.ceremony.aborted',
            actor: ACTOR,
            subject: `custody-ceremony:${id}`,
            body: { ceremonyId: id, from: 'signing', reason, failures: failures.map((f) => ({ node: f.nodeId, kind: f.kind, message: f.message })), quarantinedSkipped: skipped },
          },
          m,
        );
        await this.quarantine(m, id, failures);
      });
    }
  }

  /**
   * Quarantines the nodes that misbehaved (not those merely unreachable or refusing): an invalid
   * signature share, an answer not signed by the node's pinned key (forged or altered in transit),
   * an inconsistent answer. Each is named in an audit event.
   */
  private async quarantine(m: EntityManager, ceremonyId: string, failures: NodeFailure[]): Promise<void> {
    for (const f of failures) {
      if (!QUARANTINE_KINDS.has(f.kind)) continue;
      const inserted: unknown[] = await m.query(
        `INSERT INTO custody_node_quarantine (node_id, kind, reason, ceremony_id) VALUES ($1, $2, $3, $4) ON CONFLICT (node_id) DO NOTHING RETURNING node_id`,
        [f.nodeId, f.kind, f.message, ceremonyId],
      );
      if ((Array.isArray(inserted[0]) ? (inserted[0] as unknown[]) : inserted).length === 0) continue;
      this.logger.warn(`signer node ${f.nodeId} quarantined (${f.kind}) during ceremony ${ceremonyId}`);
      await this.audit.append(
        { type: 'custody.node.quarantined', actor: ACTOR, subject: `custody-node:${f.nodeId}`, body: { node: f.nodeId, kind: f.kind, reason: f.message, ceremonyId } },
        m,
      );
    }
  }

  private async submit(c: Record<string, unknown>): Promise<void> {
    const id = String(c.id);
    const wallet = await this.walletContract(String(c.address));
    const nonce = BigInt(String(c.nonce));
    // A run that sent the transaction but died before storing its hash: the wallet has used the
    // nonce already. Adopt the transaction that did, if it is this transfer; otherwise abort.
    if ((await wallet.getFunction('nonce')()) > nonce) {
      const [ev] = await wallet.queryFilter(wallet.filters.Executed!(nonce));
      const args = ev && 'args' in ev ? ev.args : undefined;
      if (ev && args && String(args[1]).toLowerCase() === c.to_address && BigInt(args[2]) === BigInt(String(c.value)) && String(args[3]) === c.data_hash) {
        const txHash = ev.transactionHash.toLowerCase();
        await this.step(id, 'signed', 'submitted', { txHash }, { txHash, adopted: true });
      } else {
        await this.step(id, 'signed', 'aborted', { reason: `the wallet has used nonce ${nonce} for another transaction` }, {});
      }
      return;
    }
    const sig = signatureForContract(String(c.signature));
    const tx = await wallet.getFunction('execute')(c.to_address, BigInt(String(c.value)), c.data, nonce, [sig.rx, sig.ry, sig.z]);
    await this.step(id, 'signed', 'submitted', { txHash: String(tx.hash).toLowerCase() }, { txHash: String(tx.hash).toLowerCase() });
  }

  private async confirm(c: Record<string, unknown>): Promise<void> {
    const id = String(c.id);
    const provider = (await this.ledger.signer()).provider!;
    const receipt: TransactionReceipt | null = await provider.waitForTransaction(String(c.tx_hash), 1, 120_000);
    if (!receipt) throw new Error(`transaction ${String(c.tx_hash)} of ceremony ${id} is not mined yet`);
    await this.ds.transaction(async (m) => {
      const ok = receipt.status === 1;
      const moved = await transitionCeremony(m, id, 'submitted', ok ? 'confirmed' : 'aborted', ok ? {} : { reason: 'the execute transaction reverted' });
      if (!moved) return;
      if (ok) await m.query(`UPDATE custody_wallet SET next_nonce = GREATEST(next_nonce, $2::bigint + 1) WHERE id = $1`, [c.wallet_id, String(c.nonce)]);
      await this.audit.append(
        {
          type: `custody.ceremony.${ok ? 'confirmed' : 'aborted'}`,
          actor: ACTOR,
          subject: `custody-ceremony:${id}`,
          body: { ceremonyId: id, from: 'submitted', txHash: receipt.hash, blockNumber: receipt.blockNumber },
        },
        m,
      );
    });
    if (receipt.status !== 1) this.logger.warn(`ceremony ${id}: execute reverted in ${receipt.hash}`);
  }
}
