/**
 * Policy changes under an operator quorum, over HTTP against real parts (PostgreSQL or PGlite,
 * real secp256k1 / P-256 keys): the first policy is an admin's, every later one a proposal that
 * takes effect only when m-of-k operators of the current version have signed its digest (the
 * SHA-256 of its canonical JSON); refusals (403 / 409 / 422) store nothing; a proposal on an old
 * version is superseded and cannot apply; expiry; rejection; concurrent approvals apply once;
 * transfers awaiting approval under the old version are aborted; every step is audited.
 */
import request from 'supertest';
import { policyProposalDigest, digestHex } from '../../../src/custody/service/approval-digest.js';
import { approvalKey, backend, bearer, expectProblem, insertWallet, openCustodyApp, type CustodyApp } from './support.js';

let c: CustodyApp;
const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256'), carol: approvalKey('secp256k1'), dave: approvalKey('p256') };
type Op = keyof typeof keys;
const DEST = '0x' + '11'.repeat(20);
const OTHER = '0x' + '22'.repeat(20);
const base = { quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: [DEST] };

const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);
const eventsFor = async (walletId: string, type: string) =>
  count(`SELECT count(*) AS n FROM audit_event WHERE type = $1 AND subject = $2`, [type, `custody-wallet:${walletId}`]);
const propose = (walletId: string, body: Record<string, unknown>, key = c.keys.alice) =>
  request(c.server).post(`/custody/wallets/${walletId}/policy-proposals`).set(bearer(key)).send(body);
const approve = (id: string, op: Op, signature: string, key = c.keys[op]) =>
  request(c.server).post(`/custody/policy-proposals/${id}/approvals`).set(bearer(key)).send({ operator: op, signature });
const sign = (op: Op, digest: string) => keys[op].sign(digest);

async function walletWithPolicy(policy: Record<string, unknown> = base) {
  const w = await insertWallet(c.ds);
  await request(c.server).put(`/custody/wallets/${w.id}/policy`).set(bearer(c.keys.admin)).send(policy).expect(200);
  return w;
}

beforeAll(async () => {
  c = await openCustodyApp();
  for (const name of Object.keys(keys) as Op[]) {
    await request(c.server)
      .post('/custody/operators')
      .set(bearer(c.keys.admin))
      .send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey })
      .expect(201);
  }
}, 120_000);

afterAll(async () => {
  await c?.close();
});

describe(`custody policy changes under an operator quorum (${backend})`, () => {
  it('a proposal applies only with a quorum of signatures of the current operators; refusals store nothing', async () => {
    const w = await walletWithPolicy();
    const proposed = { ...base, quorum: 3, operators: ['alice', 'bob', 'carol', 'dave'], allowlist: [DEST, OTHER.toUpperCase().replace('0X', '0x')], delayAbove: '500', delaySeconds: 60 };
    // Only an admin or an operator of the current policy may propose; the proposal must be consistent.
    expectProblem(await propose(w.id, proposed, c.keys.dave), 403);
    expectProblem(await propose(w.id, proposed, c.keys.wallet), 403);
    expectProblem(await propose(w.id, { ...proposed, quorum: 5 }), 422);
    expectProblem(await propose(w.id, { ...proposed, operators: ['alice', 'mallory'] }), 422);
    expectProblem(await propose(w.id, { ...proposed, ttlSeconds: 5 }), 400);
    expectProblem(await propose('00000000-0000-4000-8000-000000000000', proposed), 404);
    const bare = await insertWallet(c.ds);
    expectProblem(await propose(bare.id, proposed), 409); // no first policy yet
    expect(await count(`SELECT count(*) AS n FROM custody_policy_proposal`)).toBe(0);

    const res = await propose(w.id, proposed);
    expect(res.status).toBe(201);
    const p = res.body;
    expect(p).toMatchObject({
      walletId: w.id, wallet: w.address, baseVersion: 1, status: 'requested', reason: null, appliedVersion: null, quorum: 2,
      approvers: ['alice', 'bob', 'carol'], approvals: [], requestedBy: 'custody-alice',
      policy: { quorum: 3, operators: ['alice', 'bob', 'carol', 'dave'], allowlist: [DEST, OTHER], delayAbove: '500', delaySeconds: 60, perTransactionLimit: '1000', dailyLimit: '5000' },
    });
    // The digest is recomputable from what the operator sees.
    const expected = policyProposalDigest({ wallet: w.address, proposalId: p.id, baseVersion: 1, policy: p.policy, expiresAt: new Date(p.expiresAt) });
    expect(p.digest).toBe(digestHex(expected));

    // Refusals, none of which stores anything.
    expectProblem(await approve(p.id, 'alice', sign('alice', '0x' + '00'.repeat(32))), 422); // wrong digest
    expectProblem(await approve(p.id, 'alice', sign('carol', p.digest)), 422); // another operator's key
    expectProblem(await approve(p.id, 'alice', sign('alice', p.digest), c.keys.bob), 403); // caller is not alice
    expectProblem(await approve(p.id, 'dave', sign('dave', p.digest)), 403); // dave is only in the proposed policy
    expectProblem(await approve(p.id, 'alice', sign('alice', p.digest), c.keys.wallet), 403);
    expectProblem(await approve('00000000-0000-4000-8000-000000000000', 'alice', sign('alice', p.digest)), 404);
    expect(await count(`SELECT count(*) AS n FROM custody_policy_approval`)).toBe(0);
    const first = await approve(p.id, 'alice', sign('alice', p.digest));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'requested', approvals: [{ operator: 'alice' }] });
    expectProblem(await approve(p.id, 'alice', sign('alice', p.digest)), 409); // duplicate
    expect((await request(c.server).get(`/custody/wallets/${w.id}/policy`).set(bearer(c.keys.admin)).expect(200)).body.version).toBe(1);

    const second = await approve(p.id, 'bob', sign('bob', p.digest));
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ status: 'applied', appliedVersion: 2 });
    expectProblem(await approve(p.id, 'carol', sign('carol', p.digest)), 409); // applied: no more approvals
    const current = await request(c.server).get(`/custody/wallets/${w.id}/policy`).set(bearer(c.keys.alice)).expect(200);
    expect(current.body).toMatchObject({ version: 2, quorum: 3, operators: ['alice', 'bob', 'carol', 'dave'], allowlist: [DEST, OTHER], proposalId: p.id });
    expect(await eventsFor(w.id, 'custody.policy.proposed')).toBe(1);
    expect(await eventsFor(w.id, 'custody.policy.approval')).toBe(2);
    expect(await eventsFor(w.id, 'custody.policy.applied')).toBe(1);
    // The approvals' signatures are in the audit log, re-verifiable by anyone.
    const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE type = 'custody.policy.approval' AND subject = $1 ORDER BY seq LIMIT 1`, [`custody-wallet:${w.id}`]);
    const body = typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body;
    expect(body).toMatchObject({ proposalId: p.id, operator: 'alice', digest: p.digest, signature: expect.stringMatching(/^[0-9a-f]{128}$/) });

    // The new version governs: dave may now propose, and the next change needs 3 of the 4.
    const next = (await propose(w.id, { ...base, quorum: 1 }, c.keys.dave).expect(201)).body;
    expect(next).toMatchObject({ baseVersion: 2, quorum: 3, approvers: ['alice', 'bob', 'carol', 'dave'] });
    await approve(next.id, 'dave', sign('dave', next.digest)).expect(201);
    expect((await approve(next.id, 'carol', sign('carol', next.digest)).expect(201)).body.status).toBe('requested');
    expect((await approve(next.id, 'alice', sign('alice', next.digest)).expect(201)).body).toMatchObject({ status: 'applied', appliedVersion: 3 });
    // A PUT by an admin never bypasses the quorum.
    expectProblem(await request(c.server).put(`/custody/wallets/${w.id}/policy`).set(bearer(c.keys.admin)).send(base), 409);
  });

  it('a proposal based on an old version is superseded and cannot apply (409); proposals list by status', async () => {
    const w = await walletWithPolicy();
    const a = (await propose(w.id, { ...base, perTransactionLimit: '2000' }).expect(201)).body;
    const b = (await propose(w.id, { ...base, perTransactionLimit: '3000' }, c.keys.admin).expect(201)).body;
    expect(b.requestedBy).toBe('custody-admin');
    await approve(b.id, 'carol', sign('carol', b.digest)).expect(201);
    await approve(a.id, 'alice', sign('alice', a.digest)).expect(201);
    await approve(a.id, 'bob', sign('bob', a.digest)).expect(201); // a applies as version 2
    const res = await approve(b.id, 'alice', sign('alice', b.digest));
    expectProblem(res, 409);
    expect(res.body.detail).toMatch(/superseded/);
    const got = (await request(c.server).get(`/custody/policy-proposals/${b.id}`).set(bearer(c.keys.bob)).expect(200)).body;
    expect(got).toMatchObject({ status: 'superseded', reason: expect.stringMatching(/version 2/), appliedVersion: null });
    expect(await count(`SELECT count(*) AS n FROM custody_policy WHERE wallet_id = $1`, [w.id])).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM custody_policy_approval WHERE proposal_id = $1`, [b.id])).toBe(1);
    expect(await eventsFor(w.id, 'custody.policy.superseded')).toBe(1);
    const list = await request(c.server).get(`/custody/policy-proposals?status=superseded&walletId=${w.id}`).set(bearer(c.keys.admin)).expect(200);
    expect(list.body.map((x: { id: string }) => x.id)).toEqual([b.id]);
    expectProblem(await request(c.server).get('/custody/policy-proposals?status=bogus').set(bearer(c.keys.admin)), 400);
    expectProblem(await request(c.server).get('/custody/policy-proposals').set(bearer(c.keys.wallet)), 403);
  });

  it('concurrent approvals of two competing proposals apply exactly one version', async () => {
    const w = await walletWithPolicy();
    const a = (await propose(w.id, { ...base, dailyLimit: '6000' }).expect(201)).body;
    const b = (await propose(w.id, { ...base, dailyLimit: '7000' }).expect(201)).body;
    const calls = [];
    for (const op of ['alice', 'bob', 'carol'] as const) {
      calls.push(approve(a.id, op, sign(op, a.digest)), approve(b.id, op, sign(op, b.digest)));
    }
    const results = await Promise.all(calls);
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const statuses = [(await request(c.server).get(`/custody/policy-proposals/${a.id}`).set(bearer(c.keys.admin))).body.status, (await request(c.server).get(`/custody/policy-proposals/${b.id}`).set(bearer(c.keys.admin))).body.status].sort();
    expect(statuses).toEqual(['applied', 'superseded']);
    expect(await count(`SELECT count(*) AS n FROM custody_policy WHERE wallet_id = $1`, [w.id])).toBe(2);
    expect(await eventsFor(w.id, 'custody.policy.applied')).toBe(1);
  });

  it('an expired proposal takes no approvals (409) and never applies', async () => {
    const w = await walletWithPolicy();
    const p = (await propose(w.id, { ...base, quorum: 1, ttlSeconds: 60 }).expect(201)).body;
    await approve(p.id, 'alice', sign('alice', p.digest)).expect(201);
    await c.ds.query(`UPDATE custody_policy_proposal SET expires_at = now() - interval '1 second' WHERE id = $1`, [p.id]);
    const res = await approve(p.id, 'bob', sign('bob', p.digest));
    expectProblem(res, 409);
    expect(res.body.detail).toMatch(/expired/);
    const got = (await request(c.server).get(`/custody/policy-proposals/${p.id}`).set(bearer(c.keys.bob)).expect(200)).body;
    expect(got).toMatchObject({ status: 'expired', reason: expect.any(String) });
    expect(await count(`SELECT count(*) AS n FROM custody_policy WHERE wallet_id = $1`, [w.id])).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM custody_policy_approval WHERE proposal_id = $1`, [p.id])).toBe(1);
    expect(await eventsFor(w.id, 'custody.policy.expired')).toBe(1);
  });

  it('an operator of the base policy rejects a proposal once', async () => {
    const w = await walletWithPolicy();
    const p = (await propose(w.id, { ...base, quorum: 1 }).expect(201)).body;
    const reject = (op: Op, key = c.keys[op]) => request(c.server).post(`/custody/policy-proposals/${p.id}/rejection`).set(bearer(key)).send({ operator: op, reason: 'quorum of one is too weak' });
    expectProblem(await reject('dave'), 403);
    expectProblem(await reject('alice', c.keys.bob), 403);
    const res = await reject('carol');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'rejected', reason: 'rejected by carol: quorum of one is too weak' });
    expectProblem(await reject('bob'), 409);
    expectProblem(await approve(p.id, 'alice', sign('alice', p.digest)), 409);
    expect(await eventsFor(w.id, 'custody.policy.rejected')).toBe(1);
  });

  it('applying a new version aborts transfers still awaiting approval under the old one, releasing the nonce', async () => {
    const w = await walletWithPolicy({ ...base, quorum: 3 });
    const cer = (await request(c.server).post(`/custody/wallets/${w.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '10' }).expect(201)).body;
    const p = (await propose(w.id, { ...base, operators: ['alice', 'bob'], quorum: 2 }).expect(201)).body;
    for (const op of ['alice', 'bob', 'carol'] as const) await approve(p.id, op, sign(op, p.digest)).expect(201);
    const got = (await request(c.server).get(`/custody/ceremonies/${cer.id}`).set(bearer(c.keys.alice)).expect(200)).body;
    expect(got).toMatchObject({ status: 'aborted', reason: expect.stringMatching(/policy changed to version 2/) });
    const again = (await request(c.server).post(`/custody/wallets/${w.id}/ceremonies`).set(bearer(c.keys.alice)).send({ to: DEST, value: '10' }).expect(201)).body;
    expect(again).toMatchObject({ nonce: '0', policyVersion: 2, quorum: 2 });
    // carol is no approver any more.
    expectProblem(await request(c.server).post(`/custody/ceremonies/${again.id}/approvals`).set(bearer(c.keys.carol)).send({ operator: 'carol', signature: sign('carol', again.digest) }), 403);
  });
});
