/**
 * Aborting ceremonies and the stuck-ceremony sweep against real parts (PostgreSQL or PGlite, the
 * pg-boss queue in the same database): an operator of the ceremony's policy or an admin aborts a
 * requested, approved or signing ceremony with a reason, once, releasing the nonce; a signed one
 * is refused (409: its signature stays valid on chain); the sweep expires requested / approved /
 * signing ceremonies past their deadline, re-queues in-flight ones whose job is gone, leaves
 * alone those with a live job, never expires a signed one, and is idempotent.
 */
import request from 'supertest';
import { CeremonySigningService, SIGN_QUEUE, SWEEP_CRON, SWEEP_QUEUE } from '../../../src/custody/service/ceremony-signing.service.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import { approvalKey, backend, bearer, expectProblem, insertWallet, openCustodyApp, type CustodyApp } from './support.js';

let c: CustodyApp;
const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256'), carol: approvalKey('secp256k1'), dave: approvalKey('p256') };
type Op = keyof typeof keys;
const DEST = '0x' + '11'.repeat(20);
const policy = { quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '100000', allowlist: [DEST] };

const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);
const eventsOf = (id: string, type: string) => count(`SELECT count(*) AS n FROM audit_event WHERE type = $1 AND subject = $2`, [type, `custody-ceremony:${id}`]);
const abort = (id: string, body: Record<string, unknown>, key: string) => request(c.server).post(`/custody/ceremonies/${id}/abort`).set(bearer(key)).send(body);
const status = async (id: string) => String((await c.ds.query(`SELECT status FROM custody_ceremony WHERE id = $1`, [id]))[0].status);

async function wallet() {
  const w = await insertWallet(c.ds);
  await request(c.server).put(`/custody/wallets/${w.id}/policy`).set(bearer(c.keys.admin)).send(policy).expect(200);
  return w;
}
async function requested(walletId: string) {
  return (await request(c.server).post(`/custody/wallets/${walletId}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '10' }).expect(201)).body;
}
async function approved(walletId: string) {
  const cer = await requested(walletId);
  for (const op of ['alice', 'bob'] as Op[]) {
    await request(c.server).post(`/custody/ceremonies/${cer.id}/approvals`).set(bearer(c.keys[op])).send({ operator: op, signature: keys[op].sign(cer.digest) }).expect(201);
  }
  return cer;
}
async function jobs(ceremonyId: string) {
  return (await c.app.get(QueueService).start()).findJobs(SIGN_QUEUE, { key: ceremonyId });
}
/** What a worker that died for good leaves behind: the ceremony's jobs are no longer live. */
async function killJobs(ceremonyId: string) {
  const boss = await c.app.get(QueueService).start();
  for (const j of await boss.findJobs(SIGN_QUEUE, { key: ceremonyId })) await boss.cancel(SIGN_QUEUE, j.id);
}

beforeAll(async () => {
  c = await openCustodyApp();
  for (const name of Object.keys(keys) as Op[]) {
    await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey }).expect(201);
  }
}, 120_000);

afterAll(async () => {
  await c?.close();
});

describe(`custody ceremony abort (${backend})`, () => {
  it('an operator of the policy aborts a requested ceremony once, with a reason; the nonce is released', async () => {
    const w = await wallet();
    const cer = await requested(w.id);
    const reason = 'signer node under investigation';
    expectProblem(await abort(cer.id, { operator: 'dave', reason }, c.keys.dave), 403); // not in the policy
    expectProblem(await abort(cer.id, { operator: 'alice', reason }, c.keys.bob), 403); // not the caller
    expectProblem(await abort(cer.id, { reason }, c.keys.bob), 403); // an operator must name itself
    expectProblem(await abort(cer.id, { operator: 'bob', reason }, c.keys.wallet), 403);
    expectProblem(await abort(cer.id, { operator: 'bob' }, c.keys.bob), 400);
    expectProblem(await abort(cer.id, { operator: 'bob', reason: 'x\u0001' }, c.keys.bob), 400);
    expectProblem(await abort('00000000-0000-4000-8000-000000000000', { operator: 'bob', reason }, c.keys.bob), 404);
    expect(await status(cer.id)).toBe('requested');
    const res = await abort(cer.id, { operator: 'bob', reason }, c.keys.bob);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'aborted', reason: `aborted by bob: ${reason}` });
    expectProblem(await abort(cer.id, { operator: 'carol', reason }, c.keys.carol), 409);
    expect(await eventsOf(cer.id, 'custody.ceremony.aborted')).toBe(1);
    expect((await requested(w.id)).nonce).toBe('0');
  });

  it('an admin aborts an approved ceremony; its queued job then changes nothing', async () => {
    const w = await wallet();
    const cer = await approved(w.id);
    expect((await jobs(cer.id)).length).toBe(1);
    const res = await abort(cer.id, { reason: 'customer withdrew the instruction' }, c.keys.admin);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'aborted', reason: 'aborted by custody-admin: customer withdrew the instruction' });
    // The job runs later (or twice): it finds the ceremony aborted and stops.
    expect(await c.app.get(CeremonySigningService).advance(cer.id)).toBe('aborted');
    expect(await eventsOf(cer.id, 'custody.ceremony.signing')).toBe(0);
    expect((await requested(w.id)).nonce).toBe('0');
  });

  it('aborts a ceremony that is signing; a signed one is refused with the reason, nothing changed', async () => {
    const w = await wallet();
    const cer = await approved(w.id);
    // Where the job leaves it while the nodes sign (moved here without nodes).
    await c.ds.query(`UPDATE custody_ceremony SET status = 'signing' WHERE id = $1`, [cer.id]);
    const res = await abort(cer.id, { operator: 'carol', reason: 'nodes unreachable for an hour' }, c.keys.carol);
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('aborted');
    const [row] = await c.ds.query(`SELECT signature FROM custody_ceremony WHERE id = $1`, [cer.id]);
    expect(row.signature).toBeNull();

    const w2 = await wallet();
    const signed = await approved(w2.id);
    await c.ds.query(`UPDATE custody_ceremony SET status = 'signed', signature = $2 WHERE id = $1`, [signed.id, 'ab'.repeat(65)]);
    const refused = await abort(signed.id, { operator: 'alice', reason: 'too late' }, c.keys.alice);
    expectProblem(refused, 409);
    expect(refused.body.detail).toMatch(/signed.*valid on the wallet contract/);
    expect(await status(signed.id)).toBe('signed');
    expect(await eventsOf(signed.id, 'custody.ceremony.aborted')).toBe(0);
  });
});

describe(`custody stuck-ceremony sweep (${backend})`, () => {
  it('is scheduled once a minute on the queue', async () => {
    const boss = await c.app.get(QueueService).start();
    const schedules = await boss.getSchedules(SWEEP_QUEUE);
    expect(schedules.map((s) => s.cron)).toEqual([SWEEP_CRON]);
  });

  it('re-queues in-flight ceremonies whose job is gone, skips live ones, expires due ones, idempotently', async () => {
    const sweeper = c.app.get(CeremonySigningService);
    // An approved ceremony whose job died for good.
    const dead = await approved((await wallet()).id);
    await killJobs(dead.id);
    // A signed one whose job died: never expired, even past its deadline (its signature is valid on chain).
    const signed = await approved((await wallet()).id);
    await killJobs(signed.id);
    await c.ds.query(`UPDATE custody_ceremony SET status = 'signed', signature = $2, expires_at = now() - interval '1 minute' WHERE id = $1`, [signed.id, 'cd'.repeat(65)]);
    // An approved one with its job still queued.
    const live = await approved((await wallet()).id);
    // Past the deadline: requested, approved and signing ones.
    const lateRequested = await requested((await wallet()).id);
    const lateSigning = await approved((await wallet()).id);
    await c.ds.query(`UPDATE custody_ceremony SET status = 'signing' WHERE id = $1`, [lateSigning.id]);
    await c.ds.query(`UPDATE custody_ceremony SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, [[lateRequested.id, lateSigning.id]]);

    // Within the grace period nothing in flight is touched (a job may be about to be sent).
    const early = await sweeper.sweep(3600);
    expect(early.requeued).toEqual([]);
    expect(early.expired.sort()).toEqual([lateRequested.id, lateSigning.id].sort());

    const first = await sweeper.sweep(0);
    expect(first.expired).toEqual([]);
    expect(first.requeued.sort()).toEqual([dead.id, signed.id].sort());
    for (const id of [dead.id, signed.id]) expect((await jobs(id)).filter((j) => j.state === 'created')).toHaveLength(1);
    expect((await jobs(live.id))).toHaveLength(1);
    expect(await status(signed.id)).toBe('signed');
    for (const id of [lateRequested.id, lateSigning.id]) {
      expect(await status(id)).toBe('expired');
      expect(await eventsOf(id, 'custody.ceremony.expired')).toBe(1);
    }

    // A second sweep finds every in-flight ceremony with a live job: nothing to do.
    expect(await sweeper.sweep(0)).toEqual({ expired: [], requeued: [] });
    // The nonce of the expired ceremonies is released.
    const again = await requested(String((await c.ds.query(`SELECT wallet_id FROM custody_ceremony WHERE id = $1`, [lateSigning.id]))[0].wallet_id));
    expect(again.nonce).toBe('0');
  });
});
