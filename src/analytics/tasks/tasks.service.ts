import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap } from '@nestjs/common';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import { canonicalJsonBytes } from '../../audit/crypto/event-encoding.js';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { QueueService } from '../../queue/queue.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { ProblemError, conflict, notFound, unprocessable } from '../../common/problem.js';
import {
  DiscreteLogOutOfRangeError,
  InvalidPointError,
  MalformedMessageError,
  combinePartialDecryptions,
  decodePartialDecryption,
  encodePartialDecryption,
  verifyPartialDecryption,
  type EncodedCiphertext,
  type EncodedPartialDecryption,
  type PartialDecryption,
} from '../crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';
import { AnalyticsKeyService, RegulatorDirectory, signedDigest, type CompletedKeySet, type Regulator } from '../regulators/index.js';
import { GroupAccumulator, storedCiphertext } from './aggregation.js';
import { MAX_TOTAL, configureDiscreteLogCache, solveTotalAsync } from './discrete-log-solver.js';
import { NO_GROUP, TaskDefinitionError, canonicalDefinition, computeResult, slotMax, slotsOf, type GroupTotals, type ReleasedResult, type TaskDefinition } from './statistics.js';
import type { AggregateViewDto, ApproveTaskDto, DefineTaskDto, RejectTaskDto, SubmitPartialsDto, TaskDto, TaskResultDto } from './tasks.dto.js';

/** Smallest number of payments a released group may cover (groups below it are suppressed). */
export const MIN_COHORT = 5;
/** Each regulator's total differential-privacy budget (sum of the epsilons of the tasks it approves). */
export const EPSILON_BUDGET = 10;
/**
 * Largest cohort of one task. Aggregation runs as a background job that streams the cohort in
 * batches (memory O(groups), not O(payments)); at about 35 us per payment and decrypted slot a
 * cohort this size takes minutes per slot on one core (docs/analytics-service.md).
 */
export const MAX_COHORT = 10_000_000;
/** Payments read per batch while aggregating. */
export const AGGREGATION_BATCH = 5_000;
/** Queue of the aggregation step (approved -> aggregating -> decrypting). */
export const AGGREGATE_QUEUE = 'analytics-task-aggregate';
/** Queue of the combination step (decrypting -> released). */
export const COMBINE_QUEUE = 'analytics-task-combine';
/** Queue of the sweep that re-enqueues steps whose job is gone (pg-boss cron, every 5 minutes). */
export const TASK_SWEEP_QUEUE = 'analytics-task-sweep';
const TASK_SWEEP_CRON = '*/5 * * * *';
const LIVE_JOB_STATES = new Set(['created', 'retry', 'active']);
/** A task not released within this time expires (its intermediates are deleted). */
export const TASK_TTL_MS = 7 * 24 * 3600 * 1000;
/** Serialises task definitions, so the differencing check sees every earlier task. */
const DEFINITION_LOCK = 0x616e616c_7461736bn; // "anal" "task"

export const TASK_DIGEST_DOMAIN = 'analytics-task';
export const PARTIALS_DIGEST_DOMAIN = 'analytics-partials';
/** The context every partial decryption proof of an aggregate is bound to. */
export const partialContext = (taskId: string, aggregateId: string) => `analytics-task:${taskId}:${aggregateId}`;

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};
const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown): string => new Date(v as string).toISOString();
const rowsOf = (r: unknown): unknown[] => (Array.isArray(r) && Array.isArray(r[0]) ? (r[0] as unknown[]) : (r as unknown[]));
const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);
const hashHex = (value: unknown) => bytesToHex(sha256(canonicalJsonBytes(value)));

interface TaskRow {
  id: string;
  status: string;
  definition: unknown;
  digest: string;
  key_set_id: string;
  min_cohort: number;
  window_from: unknown;
  window_to: unknown;
  group_by: string;
  suppressed_groups: number | null;
  expires_at: unknown;
  due: boolean | string;
}

interface AggregateRow {
  id: string;
  slot: FeatureSlot;
  group_key: string;
  payments: number;
  ciphertext: unknown;
}

/**
 * Regulators' computation tasks, the JOCONDE lifecycle (docs/analytics-service.md):
 *
 *   defined -> approved (k signed approvals) -> aggregating -> decrypting (aggregates stored)
 *     -> released (k valid partial decryption sets combined; aggregates and partials deleted)
 *   or rejected / expired, with the reason.
 *
 * Every step is a conditional UPDATE ... WHERE status = <expected> in one transaction with its
 * audit event; the task row is locked (FOR UPDATE) while approvals and partials are counted, so
 * concurrent submissions cannot both believe they completed the quorum.
 *
 * Aggregation and combination are pg-boss jobs (AGGREGATE_QUEUE, COMBINE_QUEUE) enqueued in the
 * transaction of the request that completes the quorum; a sweep re-enqueues steps whose job is
 * gone. The jobs' heavy work runs outside transactions and is committed by a conditional
 * transition, so retried or duplicated jobs are harmless.
 */
@Injectable()
export class TasksService implements OnApplicationBootstrap {
  private readonly logger = new Logger('AnalyticsTasks');

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly directory: RegulatorDirectory,
    private readonly keys: AnalyticsKeyService,
    // Both optional so scripts can build the service by hand: without a queue, each step runs
    // right after the request that triggers it commits (as before jobs existed).
    @Optional() private readonly queue?: QueueService,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    if (config) configureDiscreteLogCache(path.join(config.DATA_DIR, 'analytics', 'discrete-log'));
    if (!queue) return;
    const policy = { queue: { retryLimit: 5, retryDelay: 5, retryBackoff: true, expireInSeconds: 3600 }, worker: { pollingIntervalSeconds: 0.5 } };
    queue.register<{ taskId: string }>(AGGREGATE_QUEUE, async (job) => this.runAggregation(job.data.taskId), policy);
    queue.register<{ taskId: string }>(COMBINE_QUEUE, async (job) => this.runCombination(job.data.taskId), policy);
    queue.register(TASK_SWEEP_QUEUE, async () => this.sweep(), { queue: { retryLimit: 0 } });
  }

  /** Schedules the sweep (one cron job for the deployment; upserting the schedule is idempotent). */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.queue) return;
    try {
      await this.queue.createQueue(TASK_SWEEP_QUEUE, { retryLimit: 0 });
      await (await this.queue.start()).schedule(TASK_SWEEP_QUEUE, TASK_SWEEP_CRON);
    } catch (e) {
      this.logger.warn(`cannot schedule the analytics task sweep: ${(e as Error).message}`);
    }
  }

  /**
   * Re-enqueues the step of every task that waits for a job no longer live (its retries used up,
   * or its queue state lost): approved / aggregating -> aggregation; decrypting with k partial
   * sets -> combination. Returns the task ids re-enqueued. Safe to race a live job: the steps
   * are idempotent.
   */
  async sweep(): Promise<string[]> {
    if (!this.queue) return [];
    const stuck: { id: string; status: string }[] = await this.ds.query(
      `SELECT t.id, t.status FROM analytics_task t JOIN analytics_key_set k ON k.id = t.key_set_id
        WHERE t.expires_at > now() AND (t.status IN ('approved', 'aggregating')
           OR (t.status = 'decrypting' AND (SELECT count(*) FROM analytics_partial p WHERE p.task_id = t.id) >= k.threshold))
        ORDER BY t.created_at LIMIT 500`,
    );
    const boss = await this.queue.start();
    const requeued: string[] = [];
    for (const t of stuck) {
      const id = String(t.id);
      const queue = t.status === 'decrypting' ? COMBINE_QUEUE : AGGREGATE_QUEUE;
      const jobs = await boss.findJobs(queue, { key: id });
      if (jobs.some((j) => LIVE_JOB_STATES.has(String(j.state)))) continue;
      await this.queue.send(queue, { taskId: id }, { singletonKey: id });
      requeued.push(id);
    }
    if (requeued.length) this.logger.log(`analytics task sweep: ${requeued.length} step(s) re-enqueued`);
    return requeued;
  }

  /**
   * What follows the commit of a request that enqueued a step: with a queue, nothing (a worker,
   * i.e. the worker process or this API process in embedded mode, picks the job up within a
   * polling interval); without one (a service built by hand in a script), the step runs now.
   */
  private async afterCommit(step: () => Promise<string>): Promise<void> {
    if (!this.queue) await step();
  }

  /**
   * Runs every job step that is due for the task, in this process, and returns the status it is
   * left in (what the queued jobs do; for tools and tests that run without workers).
   */
  async advance(taskId: string): Promise<string> {
    await this.runAggregation(taskId);
    return this.runCombination(taskId);
  }

  // ------------------------------------------------------------------------------ define

  async define(actor: AuthenticatedPrincipal, dto: DefineTaskDto): Promise<TaskDto> {
    const regulator = await this.directory.forPrincipal(actor.id);
    if (!regulator) throw forbidden('the caller is not a registered regulator');
    const keySet = await this.keys.activeKeySet();
    if (!keySet) throw conflict('no active regulator key set: there is nothing to compute over yet');
    if (!this.indexIn(keySet, regulator)) throw forbidden(`regulator ${regulator.name} holds no share of the active key set`);
    let definition: TaskDefinition;
    try {
      definition = canonicalDefinition(dto, keySet.id, MIN_COHORT);
    } catch (e) {
      if (e instanceof TaskDefinitionError) throw unprocessable('analytics-invalid-task', e.message);
      throw e;
    }
    const from = new Date(definition.window.from);
    const to = new Date(definition.window.to);
    if (to.getTime() > Date.now()) {
      throw unprocessable('analytics-open-window', 'window.to lies in the future: a task runs over a closed window, so its cohort cannot change under it');
    }
    const id = randomUUID();
    await this.ds.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [DEFINITION_LOCK.toString()]);
      // The cohort is cut here: payments record under a share lock on the key set and stamp
      // clock_timestamp() under it, so once this exclusive lock is granted every payment stamped
      // up to the cutoff has committed, and every later one is stamped after it.
      await m.query(`SELECT id FROM analytics_key_set WHERE id = $1 FOR UPDATE`, [keySet.id]);
      const [{ cutoff }] = await m.query(`SELECT date_trunc('milliseconds', clock_timestamp()) AS cutoff`);
      const recordedUpTo = new Date(cutoff);
      definition.recordedUpTo = recordedUpTo.toISOString();
      const groupExpr = definition.groupBy === 'payer' ? 'payer' : `'${NO_GROUP}'`;
      const [cohort] = await m.query(
        `SELECT count(*)::int AS groups, COALESCE(sum(n), 0)::int AS payments, count(*) FILTER (WHERE n >= $4)::int AS released
           FROM (SELECT ${groupExpr} AS g, count(*) AS n FROM analytics_payment
                  WHERE key_set_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND recorded_at <= $5 GROUP BY 1) x`,
        [keySet.id, from, to, MIN_COHORT, recordedUpTo],
      );
      if (Number(cohort.payments) > MAX_COHORT) {
        throw unprocessable('analytics-cohort-too-large', `the window holds ${cohort.payments} payments, more than the ${MAX_COHORT} one task may aggregate: split the window`);
      }
      if (Number(cohort.released) === 0) {
        throw unprocessable(
          'analytics-cohort-too-small',
          definition.groupBy === 'payer'
            ? `no payer has at least ${MIN_COHORT} payments in the window (${cohort.payments} payments over ${cohort.groups} payers): nothing could be released`
            : `the window holds ${cohort.payments} payments, fewer than the minimum cohort of ${MIN_COHORT}`,
        );
      }
      const [diff] = await m.query(
        `WITH marked AS (
           SELECT t.id AS task_id, ${groupExpr === 'payer' ? 'p.payer' : groupExpr} AS g,
                  (p.occurred_at >= t.window_from AND p.occurred_at < t.window_to AND p.recorded_at <= t.recorded_up_to) AS in_old,
                  (p.occurred_at >= $3 AND p.occurred_at < $4 AND p.recorded_at <= $6) AS in_new
             FROM analytics_task t
             JOIN analytics_payment p ON p.key_set_id = t.key_set_id
                  AND ((p.occurred_at >= t.window_from AND p.occurred_at < t.window_to AND p.recorded_at <= t.recorded_up_to)
                       OR (p.occurred_at >= $3 AND p.occurred_at < $4 AND p.recorded_at <= $6))
            WHERE t.key_set_id = $1 AND t.group_by = $2 AND t.status NOT IN ('rejected', 'expired'))
         SELECT task_id, count(*) FILTER (WHERE in_old <> in_new)::int AS diff FROM marked GROUP BY task_id, g
          HAVING count(*) FILTER (WHERE in_old <> in_new) BETWEEN 1 AND $5::int - 1
             AND count(*) FILTER (WHERE in_old) >= $5::int AND count(*) FILTER (WHERE in_new) >= $5::int
          LIMIT 1`,
        [keySet.id, definition.groupBy, from, to, MIN_COHORT, recordedUpTo],
      );
      if (diff) {
        throw unprocessable(
          'analytics-differencing',
          `the cohort differs from that of task ${diff.task_id} by ${diff.diff} payment(s) in a released group, fewer than the minimum cohort of ${MIN_COHORT}: the difference of the two results would reveal them`,
          { conflictingTask: String(diff.task_id) },
        );
      }
      const digest = bytesToHex(signedDigest(TASK_DIGEST_DOMAIN, { taskId: id, definition }));
      await m.query(
        `INSERT INTO analytics_task (id, kind, group_by, window_from, window_to, recorded_up_to, definition, digest, key_set_id, epsilon, min_cohort, defined_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          id,
          definition.kind,
          definition.groupBy,
          from,
          to,
          recordedUpTo,
          JSON.stringify(definition),
          digest,
          keySet.id,
          definition.epsilon === undefined ? null : String(definition.epsilon),
          MIN_COHORT,
          regulator.id,
          new Date(Date.now() + TASK_TTL_MS),
        ],
      );
      await this.audit.append(
        { type: 'analytics.task.defined', actor: actor.name, subject: `analytics-task:${id}`, body: { taskId: id, definition, digest, definedBy: regulator.name } },
        m,
      );
    });
    return this.get(id);
  }

  // ----------------------------------------------------------------------------- approve

  /**
   * One regulator's signed approval. Reaching the key set's threshold moves the task to
   * approved and, in the same transaction, enqueues the aggregation job (the job exists iff the
   * approval commits); the job moves it on (aggregating -> decrypting; a count task, which
   * decrypts nothing, is released at once).
   */
  async approve(actor: AuthenticatedPrincipal, taskId: string, dto: ApproveTaskDto): Promise<TaskDto> {
    await this.expireDue();
    let quorum = false;
    try {
      await this.ds.transaction(async (m) => {
        const task = await this.lockTask(m, taskId);
        const { regulator, keySet } = await this.participant(m, actor, dto.regulator, task);
        if (task.status !== 'defined') throw conflict(`task ${taskId} is ${task.status}; it takes no more approvals`);
        if (task.due === true || task.due === 't') throw conflict(`task ${taskId} has expired`);
        const digest = Uint8Array.from(Buffer.from(task.digest, 'hex'));
        if (!this.directory.verifyRegulatorSignature(regulator, digest, dto.signature)) {
          throw unprocessable('analytics-bad-signature', `the signature does not verify with regulator ${regulator.name}'s key over the task's digest ${task.digest}`);
        }
        const [dup] = await m.query(`SELECT 1 FROM analytics_task_approval WHERE task_id = $1 AND regulator_id = $2`, [taskId, regulator.id]);
        if (dup) throw conflict(`regulator ${regulator.name} has already approved task ${taskId}`);
        const definition = parseJson<TaskDefinition>(task.definition);
        if (definition.epsilon !== undefined) await this.spendBudget(m, regulator, definition.epsilon);
        await m.query(`INSERT INTO analytics_task_approval (task_id, regulator_id, signature) VALUES ($1, $2, $3)`, [taskId, regulator.id, dto.signature]);
        await this.audit.append(
          {
            type: 'analytics.task.approval',
            actor: actor.name,
            subject: `analytics-task:${taskId}`,
            body: { taskId, regulator: regulator.name, digest: task.digest, signature: dto.signature, epsilonSpent: definition.epsilon ?? 0 },
          },
          m,
        );
        const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM analytics_task_approval WHERE task_id = $1`, [taskId]);
        if (Number(n) >= keySet.threshold && (await this.transition(m, taskId, 'defined', 'approved'))) {
          await this.audit.append(
            { type: 'analytics.task.approved', actor: actor.name, subject: `analytics-task:${taskId}`, body: { taskId, approvals: Number(n), threshold: keySet.threshold } },
            m,
          );
          if (this.queue) await this.queue.send(AGGREGATE_QUEUE, { taskId }, { manager: m, singletonKey: taskId });
          quorum = true;
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`regulator ${dto.regulator} has already approved task ${taskId}`);
      throw e;
    }
    if (quorum) await this.afterCommit(() => this.runAggregation(taskId));
    return this.get(taskId);
  }

  /** Spends epsilon from the regulator's budget under a row lock; 422 (and nothing spent) when it would overspend. */
  private async spendBudget(m: EntityManager, regulator: Regulator, epsilon: number): Promise<void> {
    await m.query(`INSERT INTO analytics_privacy_budget (regulator_id, total) VALUES ($1, $2) ON CONFLICT (regulator_id) DO NOTHING`, [regulator.id, String(EPSILON_BUDGET)]);
    const [b] = await m.query(
      `SELECT total::text AS total, spent::text AS spent, (spent + $2::numeric <= total) AS fits FROM analytics_privacy_budget WHERE regulator_id = $1 FOR UPDATE`,
      [regulator.id, String(epsilon)],
    );
    if (!(b.fits === true || b.fits === 't')) {
      throw unprocessable(
        'analytics-budget-exhausted',
        `approving would spend epsilon ${epsilon} from regulator ${regulator.name}'s privacy budget, of which ${b.spent} of ${b.total} is already spent`,
      );
    }
    await m.query(`UPDATE analytics_privacy_budget SET spent = spent + $2::numeric WHERE regulator_id = $1`, [regulator.id, String(epsilon)]);
  }

  /**
   * The aggregation job: approved -> aggregating -> decrypting. Sums the cohort's ciphertexts per
   * group and slot, streaming the payments in keyset-paginated batches (only the slots the task
   * decrypts leave the database). Groups below the minimum cohort are counted first and
   * suppressed: their ciphertexts are never summed. Idempotent: each step is a conditional
   * transition, the summing runs outside any transaction over a cohort fixed at definition
   * (window and recordedUpTo), and its result is stored only while the task is still aggregating,
   * so a retried or duplicated job changes nothing twice.
   */
  async runAggregation(taskId: string): Promise<string> {
    const actor = 'analytics-service';
    let task = await this.ds.transaction(async (m) => {
      const t = await this.lockTask(m, taskId);
      if (t.status === 'approved' && (await this.transition(m, taskId, 'approved', 'aggregating'))) {
        await this.audit.append({ type: 'analytics.task.aggregating', actor, subject: `analytics-task:${taskId}`, body: { taskId } }, m);
        return { ...t, status: 'aggregating' };
      }
      return t;
    });
    if (task.status !== 'aggregating') return task.status;
    const definition = parseJson<TaskDefinition>(task.definition);
    const slots = slotsOf(definition);
    const t0 = performance.now();
    const { aggregates, suppressed, payments } = await this.sumCohort(task, definition, slots);
    const ms = Math.round(performance.now() - t0);
    task = await this.ds.transaction(async (m) => {
      const t = await this.lockTask(m, taskId);
      if (t.status !== 'aggregating') return t;
      await m.query(`DELETE FROM analytics_aggregate WHERE task_id = $1`, [taskId]);
      await m.query(`UPDATE analytics_task SET suppressed_groups = $2 WHERE id = $1`, [taskId, suppressed]);
      let stored = 0;
      for (const a of aggregates) {
        for (const slot of slots) {
          await m.query(`INSERT INTO analytics_aggregate (task_id, slot, group_key, payments, ciphertext) VALUES ($1, $2, $3, $4, $5)`, [
            taskId,
            slot,
            a.group,
            a.payments,
            JSON.stringify(a.ciphertexts[slot]),
          ]);
          stored += 1;
        }
      }
      await this.transition(m, taskId, 'aggregating', 'decrypting');
      await this.audit.append(
        {
          type: 'analytics.task.aggregated',
          actor,
          subject: `analytics-task:${taskId}`,
          body: { taskId, payments, groups: aggregates.length, suppressedGroups: suppressed, aggregates: stored },
        },
        m,
      );
      if (slots.length === 0) {
        // A count needs no decryption: the k approvals release it.
        const totals: GroupTotals[] = aggregates.map((a) => ({ group: a.group, payments: a.payments, sums: {} }));
        await this.release(m, actor, taskId, computeResult(definition, totals, suppressed), []);
        return { ...t, status: 'released' };
      }
      return { ...t, status: 'decrypting' };
    });
    this.logger.log(`task ${taskId}: aggregated ${payments} payments over ${slots.length} slot(s) in ${ms} ms`);
    return task.status;
  }

  /** Counts the cohort per group, then streams it in (occurred_at, id) order into the sums. */
  private async sumCohort(task: TaskRow, definition: TaskDefinition, slots: readonly FeatureSlot[]) {
    const byPayer = definition.groupBy === 'payer';
    const params = [task.key_set_id, new Date(definition.window.from), new Date(definition.window.to), new Date(definition.recordedUpTo!)];
    const cohortWhere = `key_set_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND recorded_at <= $4`;
    const counts: { g: string; n: number }[] = await this.ds.query(
      `SELECT ${byPayer ? 'payer' : `'${NO_GROUP}'`} AS g, count(*)::int AS n FROM analytics_payment WHERE ${cohortWhere} GROUP BY 1`,
      params,
    );
    const acc = new GroupAccumulator(slots, new Map(counts.map((c) => [String(c.g), Number(c.n)])), definition.minCohort);
    // Only the slots this task decrypts leave the database (positions are constants, not input).
    const positions = slots.map((slot) => FEATURE_SLOTS.indexOf(slot));
    const columns = positions.map((i) => `, ciphertexts->${i} AS c${i}`).join('');
    // The cursor is the last row's (occurred_at, id), occurred_at as text to keep its microseconds.
    let cursor: [string, string] | null = null;
    for (;;) {
      const rows: Record<string, unknown>[] = await this.ds.query(
        `SELECT id, occurred_at::text AS at, payer${columns} FROM analytics_payment
          WHERE ${cohortWhere} AND ($5::timestamptz IS NULL OR (occurred_at, id) > ($5::timestamptz, $6::uuid))
          ORDER BY occurred_at, id LIMIT ${AGGREGATION_BATCH}`,
        [...params, cursor?.[0] ?? null, cursor?.[1] ?? null],
      );
      for (const r of rows) {
        acc.add(byPayer ? String(r.payer) : NO_GROUP, positions.map((i) => parseJson<EncodedCiphertext>(r[`c${i}`])));
      }
      if (rows.length < AGGREGATION_BATCH) break;
      const last = rows[rows.length - 1]!;
      cursor = [String(last.at), String(last.id)];
    }
    return acc.finish();
  }

  // ---------------------------------------------------------------------------- partials

  /**
   * One regulator's partial decryptions of every aggregate of a decrypting task. Each is checked
   * against the slot key's verification share for that regulator; one invalid proof refuses the
   * whole submission (422 naming the regulator and the aggregate, nothing stored). The k-th
   * valid submission enqueues the combination job in this transaction; the job combines, solves
   * the discrete logs, releases the result and deletes the intermediates.
   */
  async submitPartials(actor: AuthenticatedPrincipal, taskId: string, dto: SubmitPartialsDto): Promise<TaskDto> {
    await this.expireDue();
    const submitted = dto.partials.map((p) => ({ aggregateId: p.aggregateId, partial: p.partial }));
    let quorum = false;
    try {
      await this.ds.transaction(async (m) => {
        const task = await this.lockTask(m, taskId);
        const { regulator, keySet, index } = await this.participant(m, actor, dto.regulator, task);
        if (task.status !== 'decrypting') throw conflict(`task ${taskId} is ${task.status}; it takes no partial decryptions`);
        const [dup] = await m.query(`SELECT 1 FROM analytics_partial WHERE task_id = $1 AND regulator_id = $2`, [taskId, regulator.id]);
        if (dup) throw conflict(`regulator ${regulator.name} has already submitted partial decryptions for task ${taskId}`);
        // k verified sets always combine: once they are stored the combination job owns the task.
        const [{ stored }] = await m.query(`SELECT count(*)::int AS stored FROM analytics_partial WHERE task_id = $1`, [taskId]);
        if (Number(stored) >= keySet.threshold) {
          throw conflict(`task ${taskId} already holds the ${keySet.threshold} partial decryption sets it needs and is being combined`);
        }
        const digest = signedDigest(PARTIALS_DIGEST_DOMAIN, { taskId, regulator: regulator.name, partials: submitted });
        if (!this.directory.verifyRegulatorSignature(regulator, digest, dto.signature)) {
          throw unprocessable('analytics-bad-signature', `the signature does not verify with regulator ${regulator.name}'s key over the submission's digest`);
        }
        const aggregates: AggregateRow[] = await m.query(`SELECT id, slot, group_key, payments, ciphertext FROM analytics_aggregate WHERE task_id = $1`, [taskId]);
        const byId = new Map(aggregates.map((a) => [String(a.id), a]));
        const seen = new Set<string>();
        for (const p of submitted) {
          if (!byId.has(p.aggregateId)) throw unprocessable('analytics-unknown-aggregate', `aggregate ${p.aggregateId} is not an aggregate of task ${taskId}`);
          if (seen.has(p.aggregateId)) throw unprocessable('analytics-duplicate-partial', `aggregate ${p.aggregateId} appears twice in the submission`);
          seen.add(p.aggregateId);
        }
        const missing = aggregates.filter((a) => !seen.has(String(a.id))).map((a) => String(a.id));
        if (missing.length) throw unprocessable('analytics-partials-incomplete', `the submission lacks partial decryptions of ${missing.length} aggregate(s): ${missing.slice(0, 5).join(', ')}`);
        const accepted: { aggregateId: string; partial: EncodedPartialDecryption }[] = [];
        for (const p of submitted) {
          const a = byId.get(p.aggregateId)!;
          const named = `regulator ${regulator.name}'s partial decryption of aggregate ${a.id} (${a.slot}, ${a.group_key === NO_GROUP ? 'all payments' : a.group_key})`;
          let partial: PartialDecryption;
          try {
            partial = decodePartialDecryption(p.partial);
          } catch (e) {
            if (e instanceof InvalidPointError || e instanceof MalformedMessageError) {
              throw unprocessable('analytics-invalid-partial', `${named} is malformed: ${e.message}`, { regulator: regulator.name, aggregateId: String(a.id) });
            }
            throw e;
          }
          if (partial.index !== index) {
            throw unprocessable('analytics-invalid-partial', `${named} carries index ${partial.index}, but the regulator's index is ${index}`, { regulator: regulator.name, aggregateId: String(a.id) });
          }
          const ct = storedCiphertext(parseJson<EncodedCiphertext>(a.ciphertext));
          if (!verifyPartialDecryption(ct, partial, keySet.slots[a.slot], partialContext(taskId, String(a.id)))) {
            throw unprocessable('analytics-invalid-partial', `${named} has an invalid Chaum-Pedersen proof`, { regulator: regulator.name, aggregateId: String(a.id) });
          }
          accepted.push({ aggregateId: String(a.id), partial: encodePartialDecryption(partial) });
        }
        await m.query(`INSERT INTO analytics_partial (task_id, regulator_id, regulator_index, partials, signature) VALUES ($1, $2, $3, $4, $5)`, [
          taskId,
          regulator.id,
          index,
          JSON.stringify(accepted),
          dto.signature,
        ]);
        await this.audit.append(
          {
            type: 'analytics.task.partials',
            actor: actor.name,
            subject: `analytics-task:${taskId}`,
            body: { taskId, regulator: regulator.name, index, aggregates: accepted.length, signature: dto.signature },
          },
          m,
        );
        const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM analytics_partial WHERE task_id = $1`, [taskId]);
        if (Number(n) >= keySet.threshold) {
          if (this.queue) await this.queue.send(COMBINE_QUEUE, { taskId }, { manager: m, singletonKey: taskId });
          quorum = true;
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`regulator ${dto.regulator} has already submitted partial decryptions for task ${taskId}`);
      throw e;
    }
    if (quorum) await this.afterCommit(() => this.runCombination(taskId));
    return this.get(taskId);
  }

  /**
   * The combination job: combines k partial sets per aggregate, recovers each total by the
   * discrete log (the large table off the event loop, see discrete-log-solver.ts), computes the
   * statistic and releases it (decrypting -> released). A total beyond the 40-bit search range
   * rejects the task. The solving runs outside any transaction; the release is a conditional
   * transition, so a retried or duplicated job releases once. Does nothing while fewer than k
   * partial sets are stored.
   */
  async runCombination(taskId: string): Promise<string> {
    const [t] = await this.ds.query(`SELECT * FROM analytics_task WHERE id = $1`, [taskId]);
    if (!t) return 'missing';
    const task = { ...t, id: String(t.id), key_set_id: String(t.key_set_id) } as TaskRow;
    if (task.status !== 'decrypting') return task.status;
    const keySet = await this.keys.completedKeySet(task.key_set_id);
    if (!keySet) return task.status;
    const subs: { regulator_index: number; partials: unknown }[] = await this.ds.query(
      `SELECT regulator_index, partials FROM analytics_partial WHERE task_id = $1 ORDER BY regulator_index`,
      [taskId],
    );
    if (subs.length < keySet.threshold) return task.status;
    const aggregates: AggregateRow[] = await this.ds.query(`SELECT id, slot, group_key, payments, ciphertext FROM analytics_aggregate WHERE task_id = $1`, [taskId]);
    const definition = parseJson<TaskDefinition>(task.definition);
    const partialsOf = new Map<string, PartialDecryption[]>();
    for (const s of subs) {
      for (const p of parseJson<{ aggregateId: string; partial: EncodedPartialDecryption }[]>(s.partials)) {
        const list = partialsOf.get(p.aggregateId) ?? [];
        list.push(decodePartialDecryption(p.partial));
        partialsOf.set(p.aggregateId, list);
      }
    }
    const totals = new Map<string, GroupTotals>();
    let used: readonly number[] = [];
    let outOfRange = false;
    try {
      for (const a of aggregates) {
        const id = String(a.id);
        const ct = storedCiphertext(parseJson<EncodedCiphertext>(a.ciphertext));
        const combined = combinePartialDecryptions(ct, partialsOf.get(id) ?? [], keySet.slots[a.slot], partialContext(taskId, id));
        used = combined.used;
        const bound = BigInt(a.payments) * slotMax(a.slot);
        const value = await solveTotalAsync(combined.plaintextPoint, bound < MAX_TOTAL ? bound : MAX_TOTAL);
        const g = totals.get(a.group_key) ?? { group: a.group_key, payments: Number(a.payments), sums: {} };
        g.sums[a.slot] = value;
        totals.set(a.group_key, g);
      }
    } catch (e) {
      if (!(e instanceof DiscreteLogOutOfRangeError)) throw e;
      outOfRange = true;
    }
    const regulators = used.map((i) => keySet.participants.find((p) => p.index === i)?.regulator ?? String(i));
    return this.ds.transaction(async (m) => {
      const locked = await this.lockTask(m, taskId);
      if (locked.status !== 'decrypting') return locked.status;
      if (outOfRange) {
        const reason = 'a decrypted total lies outside the searchable range [0, 2^40)';
        await this.transition(m, taskId, 'decrypting', 'rejected', reason);
        await this.audit.append({ type: 'analytics.task.rejected', actor: 'analytics-service', subject: `analytics-task:${taskId}`, body: { taskId, from: 'decrypting', reason } }, m);
        await this.deleteIntermediates(m, taskId, 'rejected');
        return 'rejected';
      }
      await this.release(m, 'analytics-service', taskId, computeResult(definition, [...totals.values()], Number(locked.suppressed_groups ?? 0)), regulators);
      return 'released';
    });
  }

  /** decrypting -> released with the result; then the intermediates go. */
  private async release(m: EntityManager, actor: string, taskId: string, result: ReleasedResult, regulators: string[]): Promise<void> {
    const r = await m.query(`UPDATE analytics_task SET status = 'released', result = $2, released_at = now() WHERE id = $1 AND status = 'decrypting' RETURNING id`, [
      taskId,
      JSON.stringify(result),
    ]);
    if (rowsOf(r).length === 0) throw conflict(`task ${taskId} is no longer decrypting`);
    // The log gets a hash of the result, not the result: only the approvers may read it.
    await this.audit.append(
      { type: 'analytics.task.released', actor, subject: `analytics-task:${taskId}`, body: { taskId, resultHash: hashHex(result), combinedFrom: regulators } },
      m,
    );
    await this.deleteIntermediates(m, taskId, 'released');
  }

  private async deleteIntermediates(m: EntityManager, taskId: string, after: string): Promise<void> {
    const aggregates = rowsOf(await m.query(`DELETE FROM analytics_aggregate WHERE task_id = $1 RETURNING id`, [taskId])).length;
    const partials = rowsOf(await m.query(`DELETE FROM analytics_partial WHERE task_id = $1 RETURNING task_id`, [taskId])).length;
    await this.audit.append(
      {
        type: 'analytics.task.intermediates-deleted',
        actor: 'analytics-service',
        subject: `analytics-task:${taskId}`,
        body: { taskId, after, aggregatesDeleted: aggregates, partialSubmissionsDeleted: partials },
      },
      m,
    );
  }

  // ------------------------------------------------------------------------ reject, read

  /** A participant stops a task before release: defined or decrypting -> rejected. */
  async reject(actor: AuthenticatedPrincipal, taskId: string, dto: RejectTaskDto): Promise<TaskDto> {
    await this.expireDue();
    await this.ds.transaction(async (m) => {
      const task = await this.lockTask(m, taskId);
      const { regulator } = await this.participant(m, actor, dto.regulator, task);
      const reason = `rejected by ${regulator.name}: ${dto.reason}`;
      if (!['defined', 'decrypting'].includes(task.status) || !(await this.transition(m, taskId, task.status, 'rejected', reason))) {
        throw conflict(`task ${taskId} is ${task.status}; it can no longer be rejected`);
      }
      await this.audit.append(
        { type: 'analytics.task.rejected', actor: actor.name, subject: `analytics-task:${taskId}`, body: { taskId, from: task.status, regulator: regulator.name, reason: dto.reason } },
        m,
      );
      if (task.status === 'decrypting') await this.deleteIntermediates(m, taskId, 'rejected');
    });
    return this.get(taskId);
  }

  async list(): Promise<TaskDto[]> {
    await this.expireDue();
    const rows: { id: string }[] = await this.ds.query(`SELECT id FROM analytics_task ORDER BY created_at DESC, id LIMIT 200`);
    const out: TaskDto[] = [];
    for (const r of rows) out.push(await this.get(String(r.id), false));
    return out;
  }

  async get(id: string, expire = true): Promise<TaskDto> {
    if (expire) await this.expireDue();
    const [t] = await this.ds.query(
      `SELECT t.*, r.name AS defined_by_name, k.threshold FROM analytics_task t
         JOIN analytics_regulator r ON r.id = t.defined_by JOIN analytics_key_set k ON k.id = t.key_set_id WHERE t.id = $1`,
      [id],
    );
    if (!t) throw notFound(`no task ${id}`);
    const approvals: { name: string; created_at: unknown }[] = await this.ds.query(
      `SELECT r.name, a.created_at FROM analytics_task_approval a JOIN analytics_regulator r ON r.id = a.regulator_id WHERE a.task_id = $1 ORDER BY a.created_at, r.name`,
      [id],
    );
    const partials: { name: string }[] = await this.ds.query(
      `SELECT r.name FROM analytics_partial p JOIN analytics_regulator r ON r.id = p.regulator_id WHERE p.task_id = $1 ORDER BY p.created_at, r.name`,
      [id],
    );
    const aggregates: AggregateRow[] = await this.ds.query(`SELECT id, slot, group_key, payments, ciphertext FROM analytics_aggregate WHERE task_id = $1 ORDER BY group_key, slot`, [id]);
    return {
      id: String(t.id),
      definition: parseJson<Record<string, unknown>>(t.definition),
      digest: t.digest,
      status: t.status,
      reason: t.reason ?? null,
      definedBy: t.defined_by_name,
      threshold: Number(t.threshold),
      approvals: approvals.map((a) => ({ regulator: a.name, createdAt: iso(a.created_at) })),
      partialsFrom: partials.map((p) => p.name),
      aggregates: aggregates.map(
        (a): AggregateViewDto => ({
          id: String(a.id),
          slot: a.slot,
          group: a.group_key === NO_GROUP ? null : a.group_key,
          payments: Number(a.payments),
          ciphertext: parseJson<Record<string, unknown>>(a.ciphertext),
        }),
      ),
      suppressedGroups: t.suppressed_groups === null ? null : Number(t.suppressed_groups),
      createdAt: iso(t.created_at),
      expiresAt: iso(t.expires_at),
      releasedAt: t.released_at ? iso(t.released_at) : null,
    };
  }

  /** The released result, for the regulators who approved the task only. */
  async result(actor: AuthenticatedPrincipal, id: string): Promise<TaskResultDto> {
    const regulator = await this.directory.forPrincipal(actor.id);
    if (!regulator) throw forbidden('the caller is not a registered regulator');
    const [t] = await this.ds.query(`SELECT status, result, released_at FROM analytics_task WHERE id = $1`, [id]);
    if (!t) throw notFound(`no task ${id}`);
    const [approved] = await this.ds.query(`SELECT 1 FROM analytics_task_approval WHERE task_id = $1 AND regulator_id = $2`, [id, regulator.id]);
    if (!approved) throw forbidden(`regulator ${regulator.name} did not approve task ${id}: only its approvers may read the result`);
    if (t.status !== 'released') throw conflict(`task ${id} is ${t.status}; there is no result`);
    return { taskId: id, releasedAt: iso(t.released_at), result: parseJson<Record<string, unknown>>(t.result) };
  }

  // ---------------------------------------------------------------------- shared steps

  private async lockTask(m: EntityManager, taskId: string): Promise<TaskRow> {
    const [t] = await m.query(`SELECT *, expires_at <= now() AS due FROM analytics_task WHERE id = $1 FOR UPDATE`, [taskId]);
    if (!t) throw notFound(`no task ${taskId}`);
    return { ...t, id: String(t.id), key_set_id: String(t.key_set_id) } as TaskRow;
  }

  private indexIn(keySet: CompletedKeySet, regulator: Regulator): number | undefined {
    return keySet.participants.find((p) => p.regulator === regulator.name || p.regulator === regulator.id)?.index;
  }

  /** The caller must be the named regulator (403) and hold a share of the task's key set (403). */
  private async participant(m: EntityManager, actor: AuthenticatedPrincipal, name: string, task: TaskRow): Promise<{ regulator: Regulator; keySet: CompletedKeySet; index: number }> {
    const regulator = await this.directory.byName(name, m);
    if (!regulator || regulator.principalId !== actor.id) throw forbidden(`the caller is not regulator ${name}`);
    const keySet = await this.keys.completedKeySet(task.key_set_id, m);
    if (!keySet) throw conflict(`the key set of task ${task.id} is no longer usable`);
    const index = this.indexIn(keySet, regulator);
    if (index === undefined) throw forbidden(`regulator ${name} holds no share of the key set of task ${task.id}`);
    return { regulator, keySet, index };
  }

  private async transition(m: EntityManager, taskId: string, from: string, to: string, reason?: string): Promise<boolean> {
    const r = await m.query(`UPDATE analytics_task SET status = $3, reason = COALESCE($4, reason) WHERE id = $1 AND status = $2 RETURNING id`, [taskId, from, to, reason ?? null]);
    return rowsOf(r).length > 0;
  }

  /** Tasks past their expiry that were not released: expired, with their intermediates deleted. */
  private async expireDue(): Promise<void> {
    const due: { id: string; status: string }[] = await this.ds.query(
      `SELECT id, status FROM analytics_task WHERE status IN ('defined', 'approved', 'aggregating', 'decrypting') AND expires_at <= now()`,
    );
    for (const d of due) {
      await this.ds.transaction(async (m) => {
        if (!(await this.transition(m, String(d.id), d.status, 'expired', `expired while ${d.status}`))) return;
        await this.audit.append({ type: 'analytics.task.expired', actor: 'analytics-service', subject: `analytics-task:${d.id}`, body: { taskId: String(d.id), from: d.status } }, m);
        await this.deleteIntermediates(m, String(d.id), 'expired');
      });
    }
  }
}
