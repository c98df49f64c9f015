/**
 * Regulators' computation tasks over HTTP against real parts (PostgreSQL or PGlite, a real 3-of-5
 * DKG per slot, payments with real Groth16 proofs ingested through the service): the JOCONDE
 * lifecycle defined -> approved -> aggregating -> decrypting -> released, each step an audit
 * event, aggregation and combination run by the queued jobs (pg-boss workers in this process); results decrypted by 3 of 5 regulators equal a plaintext recomputation (structuring
 * flags, sum, histogram, linear score, count); two regulators cannot combine; refusals with
 * problem+json and nothing stored (non-regulators, bad signatures, invalid partial proofs,
 * replays, cohorts below the minimum, differencing, budget overspend); intermediates deleted on
 * release with the deletion logged; results only for the approvers.
 */
import request from 'supertest';
import {
  QuorumNotReachedError,
  SUBGROUP_ORDER,
  combinePartialDecryptions,
  decodeCiphertext,
  decodePartialDecryption,
  encodePartialDecryption,
  partialDecrypt,
} from '../../../src/analytics/crypto/index.js';
import { amountBucket, type FeatureSlot } from '../../../src/analytics/features.js';
import { PaymentsService } from '../../../src/analytics/payments/payments.service.js';
import { digestToHex, signedDigest } from '../../../src/analytics/regulators/index.js';
import { EPSILON_BUDGET, MIN_COHORT, TasksService, partialContext } from '../../../src/analytics/tasks/tasks.service.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import type { AuthenticatedPrincipal } from '../../../src/auth/roles.js';
import {
  ACCOUNTS,
  PLAIN_PAYMENTS,
  WINDOW,
  analyticsFixture,
  backend,
  bearer,
  bodyOf,
  expectProblem,
  insertKeySet,
  keyShare,
  openAnalyticsApp,
  regulatorSign,
  slotKey,
  type AnalyticsApp,
  type AnalyticsFixture,
  type RegulatorName,
} from '../support/key-set.js';

let c: AnalyticsApp;
let fx: AnalyticsFixture;
let walletPrincipal: AuthenticatedPrincipal;
const LATE = 'ref-b-late';

beforeAll(async () => {
  fx = await analyticsFixture();
  c = await openAnalyticsApp();
  await insertKeySet(c.ds, fx.keySet);
  const [w] = await c.ds.query(`SELECT id FROM principal WHERE name = 'analytics-wallet'`);
  walletPrincipal = { id: String(w.id), name: 'analytics-wallet', role: 'wallet-app', keyPrefix: 'test' };
  // Bulk ingestion through the service (everything but the HTTP layer: proofs are verified).
  // B's payment after the window is recorded later, by the differencing test.
  for (const p of fx.payments.filter((x) => x.reference !== LATE)) await c.app.get(PaymentsService).record(walletPrincipal, bodyOf(p));
  // The aggregation and combination jobs run here, as in the worker process or embedded mode.
  await c.app.get(QueueService).startWorkers();
}, 600_000);

afterAll(async () => {
  await c?.close();
});

type Json = Record<string, any>;
const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);
const events = (type: string, taskId?: string) =>
  count(`SELECT count(*) AS n FROM audit_event WHERE type = $1 AND ($2::text IS NULL OR subject = $2)`, [type, taskId ? `analytics-task:${taskId}` : null]);
const define = (body: Json, key = c.keys['reg-a']) => request(c.server).post('/analytics/tasks').set(bearer(key)).send(body);
const getTask = async (id: string): Promise<Json> => (await request(c.server).get(`/analytics/tasks/${id}`).set(bearer(c.keys['reg-a'])).expect(200)).body;
/** Polls the task (as a client would) until its status is one of `statuses`. */
async function settle(id: string, statuses: string[] = ['decrypting', 'released', 'rejected', 'expired']): Promise<Json> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const t = await getTask(id);
    if (statuses.includes(t.status)) return t;
    if (Date.now() > deadline) throw new Error(`task ${id} stayed ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const released = (id: string) => settle(id, ['released', 'rejected', 'expired']);
const approvalSignature = (task: Json, as: RegulatorName) => regulatorSign(fx.keySet, as, signedDigest('analytics-task', { taskId: task.id, definition: task.definition }));
const approve = (task: Json, regulator: RegulatorName, opts: { key?: string; signature?: string } = {}) =>
  request(c.server)
    .post(`/analytics/tasks/${task.id}/approvals`)
    .set(bearer(opts.key ?? c.keys[regulator]))
    .send({ regulator, signature: opts.signature ?? approvalSignature(task, regulator) });

/** A regulator's partial decryptions of every aggregate of the task, signed. */
function partialsBody(task: Json, regulator: RegulatorName, tamper?: string): Json {
  const partials = task.aggregates.map((a: Json) => {
    const p = encodePartialDecryption(partialDecrypt(decodeCiphertext(a.ciphertext), keyShare(fx.keySet, regulator, a.slot as FeatureSlot), partialContext(task.id, a.id)));
    if (a.id === tamper) p.proof.response = ((BigInt(p.proof.response) + 1n) % SUBGROUP_ORDER).toString();
    return { aggregateId: a.id, partial: p };
  });
  return { regulator, partials, signature: regulatorSign(fx.keySet, regulator, signedDigest('analytics-partials', { taskId: task.id, regulator, partials })) };
}
const submit = (task: Json, body: Json, key = c.keys[body.regulator as RegulatorName]) => request(c.server).post(`/analytics/tasks/${task.id}/partials`).set(bearer(key)).send(body);
const result = (task: Json, as: RegulatorName | 'outsider') => request(c.server).get(`/analytics/tasks/${task.id}/result`).set(bearer(c.keys[as]));

/** Defines, approves (3 of 5) and decrypts (3 of 5) a task; returns the task and its released result. */
async function runTask(body: Json, approvers: RegulatorName[] = ['reg-a', 'reg-b', 'reg-c'], decryptors: RegulatorName[] = ['reg-c', 'reg-d', 'reg-e']) {
  const d = await define(body, c.keys[approvers[0]!]);
  expect(d.status).toBe(201);
  let task: Json = d.body;
  for (const r of approvers) expect((await approve(task, r)).status).toBe(201);
  task = await settle(task.id);
  if (task.status === 'decrypting') {
    for (const r of decryptors) {
      const res = await submit(task, partialsBody(task, r));
      expect(res.status).toBe(201);
    }
  }
  task = await released(task.id);
  expect(task.status).toBe('released');
  const res = await result(task, approvers[0]!).expect(200);
  return { task, result: res.body.result as Json };
}

// ----------------------------------------------------------------- plaintext recomputation

const inWindow = (from = WINDOW.from, to = WINDOW.to) => PLAIN_PAYMENTS.filter((p) => p.occurredAt >= from && p.occurredAt < to);
function plainGroups(): Map<string, typeof PLAIN_PAYMENTS> {
  const groups = new Map<string, typeof PLAIN_PAYMENTS>();
  for (const p of inWindow()) groups.set(p.payer, [...(groups.get(p.payer) ?? []), p]);
  for (const [k, v] of groups) if (v.length < MIN_COHORT) groups.delete(k);
  return groups;
}
const total = (ps: typeof PLAIN_PAYMENTS) => ps.reduce((a, p) => a + p.amount, 0);

describe(`computation tasks (${backend})`, () => {
  it('refuses definitions from non-regulators, below the minimum cohort, over open windows or not fitting their kind; stores nothing', async () => {
    const sum = { kind: 'sum', slot: 'amount', window: WINDOW };
    expectProblem(await define(sum, c.keys.outsider), 403, /not a registered regulator/);
    expectProblem(await define(sum, c.keys.wallet), 403);
    // Only C's two payments in this window.
    const onlyC = { from: '2026-01-05T02:55:00.000Z', to: '2026-01-05T03:30:00.000Z' };
    expectProblem(await define({ ...sum, window: onlyC }), 422, /fewer than the minimum cohort of 5/);
    expectProblem(await define({ kind: 'histogram', groupBy: 'payer', window: onlyC }), 422, /no payer has at least 5 payments/);
    expectProblem(await define({ ...sum, window: { from: WINDOW.from, to: new Date(Date.now() + 86_400_000).toISOString() } }), 422, /future/);
    expectProblem(await define({ kind: 'sum', window: WINDOW }), 422, /needs slot/);
    expectProblem(await define({ kind: 'structuring', threshold: 3, epsilon: 1, window: WINDOW }), 422, /epsilon does not apply/);
    expectProblem(await define({ kind: 'structuring', threshold: 3, groupBy: 'none', window: WINDOW }), 422, /grouped by payer/);
    expectProblem(await define({ kind: 'linear-score', weights: { amount: 1.5 }, window: WINDOW }), 422, /weights\.amount/);
    expectProblem(await define({ kind: 'linear-score', weights: { height: 1 }, window: WINDOW }), 422, /not a feature slot/);
    expectProblem(await define({ ...sum, window: { from: WINDOW.to, to: WINDOW.from } }), 422, /before/);
    expectProblem(await define({ ...sum, slot: 'colour' }), 400);
    expectProblem(await define({ ...sum, extra: true }), 400);
    expect(await count(`SELECT count(*) AS n FROM analytics_task`)).toBe(0);
    expect(await events('analytics.task.defined')).toBe(0);
  });

  let task: Json;

  it('defines a structuring task whose digest is signedDigest(analytics-task, {taskId, definition})', async () => {
    const res = await define({ kind: 'structuring', threshold: 3, window: WINDOW });
    expect(res.status).toBe(201);
    task = res.body;
    expect(task).toMatchObject({
      status: 'defined',
      definedBy: 'reg-a',
      threshold: 3,
      approvals: [],
      aggregates: [],
      definition: { kind: 'structuring', groupBy: 'payer', threshold: 3, minCohort: MIN_COHORT, keySetId: fx.keySet.id, window: WINDOW },
    });
    expect(task.digest).toBe(digestToHex(signedDigest('analytics-task', { taskId: task.id, definition: task.definition })));
    expect(await events('analytics.task.defined', task.id)).toBe(1);
  });

  it('takes k = 3 signed approvals from distinct regulators, then aggregates (groups below the minimum cohort suppressed)', async () => {
    // Not the caller's regulator, not a regulator at all, or another regulator's key: refused.
    expectProblem(await approve(task, 'reg-a', { key: c.keys.outsider }), 403, /not regulator reg-a/);
    expectProblem(await approve(task, 'reg-a', { key: c.keys['reg-b'] }), 403);
    expectProblem(await approve(task, 'reg-a', { key: c.keys.wallet }), 403);
    expectProblem(await approve(task, 'reg-a', { signature: approvalSignature(task, 'reg-b') }), 422, /does not verify/);
    expectProblem(await approve(task, 'reg-a', { signature: regulatorSign(fx.keySet, 'reg-a', signedDigest('analytics-task', { taskId: task.id, definition: { ...task.definition, threshold: 9 } })) }), 422);
    expect(await count(`SELECT count(*) AS n FROM analytics_task_approval`)).toBe(0);

    expect((await approve(task, 'reg-a')).body.status).toBe('defined');
    expectProblem(await approve(task, 'reg-a'), 409, /already approved/);
    expect((await approve(task, 'reg-b')).body.status).toBe('defined');
    const third = await approve(task, 'reg-c');
    expect(third.status).toBe(201);
    // The k-th approval only enqueues the aggregation; the job takes it on to decrypting.
    expect(['approved', 'aggregating', 'decrypting']).toContain(third.body.status);
    expectProblem(await approve(task, 'reg-d'), 409, /takes no more approvals/);
    task = await settle(task.id);
    expect(task.status).toBe('decrypting');
    expect(task.approvals.map((a: Json) => a.regulator).sort()).toEqual(['reg-a', 'reg-b', 'reg-c']);
    // A and B have >= 5 payments; C (2) is suppressed. Structuring decrypts bucket2 and amount.
    expect(task.suppressedGroups).toBe(1);
    expect(task.aggregates.map((a: Json) => `${a.group}/${a.slot}/${a.payments}`).sort()).toEqual(
      [`${ACCOUNTS.A}/amount/6`, `${ACCOUNTS.A}/bucket2/6`, `${ACCOUNTS.B}/amount/5`, `${ACCOUNTS.B}/bucket2/5`].sort(),
    );
    for (const t of ['analytics.task.approval', 'analytics.task.approved', 'analytics.task.aggregating', 'analytics.task.aggregated']) {
      expect(await events(t, task.id)).toBe(t === 'analytics.task.approval' ? 3 : 1);
    }
  });

  it('refuses an invalid partial (naming regulator and aggregate), bad signatures and replays; two sets cannot combine', async () => {
    expect((await submit(task, partialsBody(task, 'reg-a'))).status).toBe(201);

    const bad = task.aggregates[1].id as string;
    const forged = await submit(task, partialsBody(task, 'reg-b', bad));
    expectProblem(forged, 422, new RegExp(`regulator reg-b's partial decryption of aggregate ${bad} .*invalid Chaum-Pedersen proof`));
    expect(forged.body).toMatchObject({ regulator: 'reg-b', aggregateId: bad });
    expectProblem(await submit(task, { ...partialsBody(task, 'reg-b'), signature: '00'.repeat(64) }), 422, /signature does not verify/);
    // reg-c's valid partials submitted as reg-b: they carry reg-c's index.
    const asOther = partialsBody(task, 'reg-c');
    const relabelled = { ...asOther, regulator: 'reg-b', signature: regulatorSign(fx.keySet, 'reg-b', signedDigest('analytics-partials', { taskId: task.id, regulator: 'reg-b', partials: asOther.partials })) };
    expectProblem(await submit(task, relabelled), 422, /carries index 3, but the regulator's index is 2/);
    expectProblem(await submit(task, partialsBody(task, 'reg-b'), c.keys.outsider), 403);
    const incomplete = partialsBody(task, 'reg-b');
    incomplete.partials = incomplete.partials.slice(1);
    incomplete.signature = regulatorSign(fx.keySet, 'reg-b', signedDigest('analytics-partials', { taskId: task.id, regulator: 'reg-b', partials: incomplete.partials }));
    expectProblem(await submit(task, incomplete), 422, /lacks partial decryptions of 1 aggregate/);
    expectProblem(await submit(task, partialsBody(task, 'reg-a')), 409, /already submitted/);
    expect(await count(`SELECT count(*) AS n FROM analytics_partial WHERE task_id = $1`, [task.id])).toBe(1);

    expect((await submit(task, partialsBody(task, 'reg-b'))).body.status).toBe('decrypting');
    // Two regulators' partials: the combination fails for every aggregate, and the task waits.
    const stored: { regulator_index: number; partials: unknown }[] = await c.ds.query(`SELECT regulator_index, partials FROM analytics_partial WHERE task_id = $1`, [task.id]);
    expect(stored).toHaveLength(2);
    for (const a of task.aggregates) {
      const partials = stored.map((s) => {
        const list = (typeof s.partials === 'string' ? JSON.parse(s.partials) : s.partials) as Json[];
        return decodePartialDecryption(list.find((p) => p.aggregateId === a.id)!.partial);
      });
      expect(() => combinePartialDecryptions(decodeCiphertext(a.ciphertext), partials, slotKey(fx.keySet, a.slot), partialContext(task.id, a.id))).toThrow(QuorumNotReachedError);
    }
    expect((await getTask(task.id)).status).toBe('decrypting');
    expect(await events('analytics.task.partials', task.id)).toBe(2);
  });

  it('releases with a third valid set (a non-approver may decrypt): flags equal the plaintext recomputation', async () => {
    const third = await submit(task, partialsBody(task, 'reg-d'));
    expect(third.status).toBe(201);
    // The k-th valid set enqueues the combination; the job releases.
    expect(['decrypting', 'released']).toContain(third.body.status);
    expect(await released(task.id)).toMatchObject({ status: 'released', aggregates: [], partialsFrom: [] });
    const res = await result(task, 'reg-a').expect(200);
    const expected = [...plainGroups()]
      .map(([payer, ps]) => ({ payer, payments: ps.length, justUnderThreshold: ps.filter((p) => amountBucket(BigInt(p.amount)) === 2).length, total: total(ps) }))
      .filter((g) => g.justUnderThreshold > 3)
      .map((g) => ({ ...g, justUnderThreshold: String(g.justUnderThreshold), total: String(g.total) }));
    expect(expected).toEqual([{ payer: ACCOUNTS.A, payments: 6, justUnderThreshold: '5', total: '49699' }]);
    expect(res.body.result).toEqual({ kind: 'structuring', groupBy: 'payer', suppressedGroups: 1, noise: null, threshold: 3, flagged: expected });
  });

  it('deletes the intermediates on release, logs the deletion, and serves the result to approvers only', async () => {
    expect(await count(`SELECT count(*) AS n FROM analytics_aggregate WHERE task_id = $1`, [task.id])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM analytics_partial WHERE task_id = $1`, [task.id])).toBe(0);
    const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE type = 'analytics.task.intermediates-deleted' AND subject = $1`, [`analytics-task:${task.id}`]);
    expect(typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body).toEqual({ taskId: task.id, after: 'released', aggregatesDeleted: 4, partialSubmissionsDeleted: 3 });
    expect(await events('analytics.task.released', task.id)).toBe(1);
    for (const r of ['reg-b', 'reg-c'] as const) expect((await result(task, r)).status).toBe(200);
    expectProblem(await result(task, 'reg-d'), 403, /did not approve/);
    expectProblem(await result(task, 'reg-e'), 403);
    expectProblem(await result(task, 'outsider'), 403);
    expectProblem(await submit(task, partialsBody({ ...task, aggregates: [] }, 'reg-e')), 409);
  });

  it('sum, histogram, linear score and count decrypted 3-of-5 equal the plaintext recomputation', async () => {
    const all = inWindow();
    const sum = await runTask({ kind: 'sum', slot: 'amount', window: WINDOW });
    expect(sum.result).toEqual({ kind: 'sum', groupBy: 'none', suppressedGroups: 0, noise: null, groups: [{ group: null, payments: all.length, slot: 'amount', value: String(total(all)) }] });

    const crossBorder = await runTask({ kind: 'sum', slot: 'crossBorder', window: WINDOW });
    expect(crossBorder.result.groups[0].value).toBe(String(all.filter((p) => p.crossBorder).length));

    const groups = plainGroups();
    const histogram = await runTask({ kind: 'histogram', groupBy: 'payer', window: WINDOW }, ['reg-e', 'reg-d', 'reg-a'], ['reg-a', 'reg-b', 'reg-e']);
    expect(histogram.result.groups).toEqual(
      [...groups].map(([payer, ps]) => ({ group: payer, payments: ps.length, buckets: [0, 1, 2, 3].map((b) => String(ps.filter((p) => amountBucket(BigInt(p.amount)) === b).length)) })),
    );

    const weights = { amount: 2, bucket2: 500, crossBorder: 10_000 };
    const score = await runTask({ kind: 'linear-score', groupBy: 'payer', weights: { ...weights, bucket0: 0 }, window: WINDOW });
    expect(score.task.definition.weights).toEqual(weights);
    expect(score.result.groups).toEqual(
      [...groups].map(([payer, ps]) => ({
        group: payer,
        payments: ps.length,
        score: String(ps.reduce((a, p) => a + 2 * p.amount + (amountBucket(BigInt(p.amount)) === 2 ? 500 : 0) + (p.crossBorder ? 10_000 : 0), 0)),
      })),
    );

    // A count decrypts nothing: the approvals release it.
    const countTask = await runTask({ kind: 'count', groupBy: 'payer', window: WINDOW });
    expect(countTask.result.groups).toEqual([...groups].map(([payer, ps]) => ({ group: payer, value: String(ps.length) })));
    expect(countTask.result.suppressedGroups).toBe(1);
  });

  it('cuts the cohort at definition, and refuses a task whose cohort differs from an earlier one by fewer than the minimum (differencing)', async () => {
    const wider = { from: WINDOW.from, to: '2026-01-06T02:00:00.000Z' };
    // Before B's late payment is recorded, the wider window holds the same payments: allowed.
    const early = (await define({ kind: 'sum', slot: 'amount', window: wider })).body;
    expect(early.status).toBe('defined');
    expect(Date.parse(early.definition.recordedUpTo)).toBeLessThanOrEqual(Date.now());
    // Then B's payment one hour after WINDOW (inside the wider window) is recorded.
    await c.app.get(PaymentsService).record(walletPrincipal, bodyOf(fx.payments.find((p) => p.reference === LATE)!));
    expect(inWindow(wider.from, wider.to).length - inWindow().length).toBe(1);
    // The task defined before it does not include it.
    for (const r of ['reg-a', 'reg-b', 'reg-c'] as const) expect((await approve(early, r)).status).toBe(201);
    let t = await settle(early.id);
    for (const r of ['reg-a', 'reg-b', 'reg-c'] as const) expect((await submit(t, partialsBody(t, r))).status).toBe(201);
    t = await released(early.id);
    expect((await result(t, 'reg-a').expect(200)).body.result.groups[0]).toMatchObject({ payments: inWindow().length, value: String(total(inWindow())) });

    // A task that would include it differs by one payment from the earlier tasks: refused.
    const before = await count(`SELECT count(*) AS n FROM analytics_task`);
    expectProblem(await define({ kind: 'sum', slot: 'amount', window: wider }), 422, /differs from that of task .* by 1 payment/);
    expectProblem(await define({ kind: 'histogram', groupBy: 'payer', window: wider }), 422, /differs from that of task .* by 1 payment/);
    expect(await count(`SELECT count(*) AS n FROM analytics_task`)).toBe(before);
  });

  it('spends epsilon from each approver\'s budget under a lock and refuses an overspend; noisy results stay integers', async () => {
    const dp = await runTask({ kind: 'sum', slot: 'bucket2', window: WINDOW, epsilon: 6 }, ['reg-a', 'reg-b', 'reg-c']);
    expect(dp.result.noise).toEqual({ mechanism: 'discrete-laplace', epsilon: 6, sensitivity: '1' });
    expect(dp.result.groups[0]).not.toHaveProperty('payments');
    expect(dp.result.groups[0].value).toMatch(/^-?[0-9]+$/);
    const spent = async (r: RegulatorName) => (await c.ds.query(`SELECT spent::text AS s FROM analytics_privacy_budget b JOIN analytics_regulator g ON g.id = b.regulator_id WHERE g.name = $1`, [r]))[0]?.s;
    expect(Number(await spent('reg-a'))).toBe(6);

    const next = (await define({ kind: 'count', window: WINDOW, epsilon: 6 }, c.keys['reg-d'])).body;
    expectProblem(await approve(next, 'reg-a'), 422, new RegExp(`6 of ${EPSILON_BUDGET} is already spent`));
    expect(Number(await spent('reg-a'))).toBe(6);
    expect(await count(`SELECT count(*) AS n FROM analytics_task_approval WHERE task_id = $1`, [next.id])).toBe(0);
    expect((await approve(next, 'reg-d')).status).toBe(201);
    expect(Number(await spent('reg-d'))).toBe(6);

    // reg-b has 4 left: of two concurrent approvals spending 3 each, exactly one fits.
    const t1 = (await define({ kind: 'count', window: WINDOW, epsilon: 3 }, c.keys['reg-e'])).body;
    const t2 = (await define({ kind: 'count', window: WINDOW, epsilon: 3 }, c.keys['reg-e'])).body;
    const both = await Promise.all([approve(t1, 'reg-b'), approve(t2, 'reg-b')]);
    expect(both.map((r) => r.status).sort()).toEqual([201, 422]);
    expect(Number(await spent('reg-b'))).toBe(9);
  });

  it('counts concurrent approvals and partial submissions exactly once', async () => {
    const t = (await define({ kind: 'sum', slot: 'bucket0', window: WINDOW })).body;
    const approvals = await Promise.all((['reg-a', 'reg-b', 'reg-c', 'reg-d'] as const).map((r) => approve(t, r)));
    expect(approvals.map((r) => r.status).sort()).toEqual([201, 201, 201, 409]);
    expect(await events('analytics.task.approved', t.id)).toBe(1);
    const task = await settle(t.id);
    expect(task.status).toBe('decrypting');
    expect(await events('analytics.task.aggregated', t.id)).toBe(1);
    const bodies = (['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e'] as const).map((r) => partialsBody(task, r));
    const submissions = await Promise.all(bodies.map((b) => submit(task, b)));
    expect(submissions.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409]);
    await released(t.id);
    expect(await events('analytics.task.released', t.id)).toBe(1);
    const approver = (task.approvals as Json[])[0]!.regulator as RegulatorName;
    const res = await result(task, approver).expect(200);
    expect(res.body.result.groups[0].value).toBe(String(inWindow().filter((p) => amountBucket(BigInt(p.amount)) === 0).length));
  });

  it('job steps are idempotent: duplicated and retried aggregation and combination change nothing twice', async () => {
    const tasks = c.app.get(TasksService);
    const t = (await define({ kind: 'sum', slot: 'bucket1', window: WINDOW })).body;
    for (const r of ['reg-a', 'reg-b'] as const) expect((await approve(t, r)).status).toBe(201);
    // Before the quorum there is nothing to aggregate.
    expect(await tasks.runAggregation(t.id)).toBe('defined');
    expect((await approve(t, 'reg-c')).status).toBe(201);
    // The queued job and two duplicates race; exactly one aggregation is stored and logged.
    const statuses = await Promise.all([tasks.runAggregation(t.id), tasks.runAggregation(t.id)]);
    for (const s of statuses) expect(['aggregating', 'decrypting']).toContain(s);
    const task = await settle(t.id);
    expect(task.aggregates).toHaveLength(1);
    expect(await count(`SELECT count(*) AS n FROM analytics_aggregate WHERE task_id = $1`, [t.id])).toBe(1);
    for (const e of ['analytics.task.aggregating', 'analytics.task.aggregated']) expect(await events(e, t.id)).toBe(1);
    // A combination job with fewer than k partial sets leaves the task decrypting.
    expect((await submit(task, partialsBody(task, 'reg-a'))).status).toBe(201);
    expect(await tasks.runCombination(t.id)).toBe('decrypting');
    expect((await submit(task, partialsBody(task, 'reg-b'))).status).toBe(201);
    expect((await submit(task, partialsBody(task, 'reg-c'))).status).toBe(201);
    const combined = await Promise.all([tasks.runCombination(t.id), tasks.advance(t.id)]);
    for (const s of combined) expect(s).toBe('released');
    await released(t.id);
    // A retry after release finds nothing to do.
    expect(await tasks.advance(t.id)).toBe('released');
    for (const e of ['analytics.task.released', 'analytics.task.intermediates-deleted', 'analytics.task.aggregated']) expect(await events(e, t.id)).toBe(1);
    const res = await result(task, 'reg-a').expect(200);
    expect(res.body.result.groups[0].value).toBe(String(inWindow().filter((p) => amountBucket(BigInt(p.amount)) === 1).length));
  });

  it('the sweep re-enqueues a step whose job is gone, and leaves tasks with a live job or nothing due alone', async () => {
    const tasks = c.app.get(TasksService);
    const t = (await define({ kind: 'sum', slot: 'crossBorder', window: WINDOW }, c.keys['reg-b'])).body;
    for (const r of ['reg-a', 'reg-b', 'reg-c'] as const) expect((await approve(t, r)).status).toBe(201);
    await settle(t.id);
    expect(await tasks.sweep()).not.toContain(t.id);
    // As if the worker died after moving the task to aggregating and the job used up its retries.
    await c.ds.query(`DELETE FROM analytics_aggregate WHERE task_id = $1`, [t.id]);
    await c.ds.query(`UPDATE analytics_task SET status = 'aggregating' WHERE id = $1`, [t.id]);
    expect(await tasks.sweep()).toEqual([t.id]);
    const task = await settle(t.id);
    expect(task).toMatchObject({ status: 'decrypting', suppressedGroups: 0 });
    expect(task.aggregates).toHaveLength(1);
    expect(await tasks.sweep()).not.toContain(t.id);
  });

  it('expires a task past its deadline, deleting its intermediates', async () => {
    const t = (await define({ kind: 'sum', slot: 'bucket3', window: WINDOW })).body;
    for (const r of ['reg-a', 'reg-b', 'reg-c'] as const) await approve(t, r);
    expect((await settle(t.id)).aggregates.length).toBe(1);
    await submit(await getTask(t.id), partialsBody(await getTask(t.id), 'reg-a'));
    await c.ds.query(`UPDATE analytics_task SET expires_at = now() - interval '1 second' WHERE id = $1`, [t.id]);
    const expired = await getTask(t.id);
    expect(expired).toMatchObject({ status: 'expired', reason: 'expired while decrypting', aggregates: [], partialsFrom: [] });
    expect(await count(`SELECT count(*) AS n FROM analytics_aggregate WHERE task_id = $1`, [t.id])).toBe(0);
    const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE type = 'analytics.task.intermediates-deleted' AND subject = $1`, [`analytics-task:${t.id}`]);
    expect(typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body).toEqual({ taskId: t.id, after: 'expired', aggregatesDeleted: 1, partialSubmissionsDeleted: 1 });
    expect(await events('analytics.task.expired', t.id)).toBe(1);
    expectProblem(await submit(expired, partialsBody({ ...expired, aggregates: [] }, 'reg-b')), 409);
    expectProblem(await result(expired, 'reg-a'), 409, /expired/);
  });

  it('lets a regulator of the key set reject a task before release', async () => {
    const t = (await define({ kind: 'count', window: WINDOW }, c.keys['reg-e'])).body;
    const res = await request(c.server).post(`/analytics/tasks/${t.id}/rejection`).set(bearer(c.keys['reg-e'])).send({ regulator: 'reg-e', reason: 'duplicate of an earlier task' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'rejected', reason: 'rejected by reg-e: duplicate of an earlier task' });
    expectProblem(await approve(t, 'reg-a'), 409);
    expect(await events('analytics.task.rejected', t.id)).toBe(1);
    const list = await request(c.server).get('/analytics/tasks').set(bearer(c.keys['reg-b'])).expect(200);
    expect(list.body.length).toBe(await count(`SELECT count(*) AS n FROM analytics_task`));
    expectProblem(await request(c.server).get(`/analytics/tasks/${t.id}`).set(bearer(c.keys.wallet)), 403);
  });

  it('refuses a registered regulator that holds no share of the key set', async () => {
    const [p] = await c.ds.query(`SELECT id FROM principal WHERE name = 'analytics-outsider'`);
    const r = fx.keySet.regulators[0]!;
    await c.ds.query(`INSERT INTO analytics_regulator (name, principal_id, signing_curve, signing_key, encryption_key) VALUES ('reg-x', $1, $2, $3, $3)`, [p.id, r.curve, r.signingKey]);
    expectProblem(await define({ kind: 'count', window: WINDOW }, c.keys.outsider), 403, /holds no share of the active key set/);
    const t = (await define({ kind: 'count', window: WINDOW })).body;
    // reg-x's key is reg-a's, so the signature verifies: the share check is what refuses it.
    const res = await request(c.server)
      .post(`/analytics/tasks/${t.id}/approvals`)
      .set(bearer(c.keys.outsider))
      .send({ regulator: 'reg-x', signature: approvalSignature(t, 'reg-a') });
    expectProblem(res, 403, /holds no share of the key set/);
    expect(await count(`SELECT count(*) AS n FROM analytics_task_approval WHERE task_id = $1`, [t.id])).toBe(0);
  });
});
