/**
 * Custody operators, policies and ceremony approvals over HTTP against real parts (PostgreSQL or
 * PGlite, real secp256k1 / P-256 keys): operator registration checks the principal and the key;
 * a policy refuses over-limit and non-allowlisted transfers with nothing stored; a ceremony's
 * digest is the SHA-256 of the canonical request JSON; an approval is a verified ECDSA
 * signature by the calling operator (403 / 409 / 422 otherwise); the quorum moves the ceremony
 * to approved exactly once, also under concurrent approvals; expiry; rejection; the audit log has
 * each step.
 */
import request from 'supertest';
import { ceremonyDigest, digestHex } from '../../../src/custody/service/approval-digest.js';
import { approvalKey, backend, bearer, expectProblem, insertWallet, openCustodyApp, type CustodyApp } from './support.js';

let c: CustodyApp;
const keys = { alice: approvalKey('secp256k1'), bob: approvalKey('p256'), carol: approvalKey('secp256k1'), dave: approvalKey('p256') };
const DEST = '0x' + '11'.repeat(20);
const OTHER = '0x' + '22'.repeat(20);
let wallet: { id: string; address: string };

beforeAll(async () => {
  c = await openCustodyApp();
}, 120_000);

afterAll(async () => {
  await c?.close();
});

const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);
const events = (type: string) => count(`SELECT count(*) AS n FROM audit_event WHERE type = $1`, [type]);

async function setPolicy(walletId: string, body: Record<string, unknown>) {
  return request(c.server).put(`/custody/wallets/${walletId}/policy`).set(bearer(c.keys.admin)).send(body);
}
const policy = {
  quorum: 2,
  operators: ['alice', 'bob', 'carol'],
  perTransactionLimit: '1000',
  dailyLimit: '1500',
  allowlist: [DEST],
  delayAbove: '500',
  delaySeconds: 600,
};
const requestTransfer = (walletId: string, body: Record<string, unknown>, key = c.keys.alice) =>
  request(c.server).post(`/custody/wallets/${walletId}/ceremonies`).set(bearer(key)).send(body);
const approve = (id: string, operator: string, signature: string, key: string) =>
  request(c.server).post(`/custody/ceremonies/${id}/approvals`).set(bearer(key)).send({ operator, signature });

describe(`custody operators, policy and approvals (${backend})`, () => {
  it('registers operators with their public keys (admin only; operator principal; valid point; unique)', async () => {
    for (const name of ['alice', 'bob', 'carol', 'dave'] as const) {
      const res = await request(c.server)
        .post('/custody/operators')
        .set(bearer(c.keys.admin))
        .send({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name, principal: `custody-${name}`, curve: keys[name].curve, publicKey: keys[name].publicKey });
    }
    const body = { name: 'eve', principal: 'custody-alice', curve: 'secp256k1', publicKey: approvalKey('secp256k1').publicKey };
    expectProblem(await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send(body), 409); // principal taken
    expectProblem(await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ ...body, name: 'alice', principal: 'custody-admin' }), 422);
    expectProblem(await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ ...body, principal: 'custody-wallet' }), 422);
    // 0x02 || 0xff..ff is not on secp256k1 (x >= p).
    expectProblem(await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ ...body, publicKey: '02' + 'ff'.repeat(32) }), 422);
    expectProblem(await request(c.server).post('/custody/operators').set(bearer(c.keys.alice)).send(body), 403);
    expect(await count(`SELECT count(*) AS n FROM custody_operator`)).toBe(4);
    expect(await events('custody.operator.registered')).toBe(4);
  });

  it('sets the first policy (admin) and refuses inconsistent ones; a second PUT is a 409 (changes need a quorum)', async () => {
    wallet = await insertWallet(c.ds);
    expectProblem(await setPolicy(wallet.id, { ...policy, quorum: 4 }), 422);
    expectProblem(await setPolicy(wallet.id, { ...policy, operators: ['alice', 'mallory'] }), 422);
    expectProblem(await setPolicy(wallet.id, { ...policy, perTransactionLimit: '-1' }), 400);
    expectProblem(await setPolicy('00000000-0000-4000-8000-000000000000', policy), 404);
    expectProblem(await request(c.server).put(`/custody/wallets/${wallet.id}/policy`).set(bearer(c.keys.alice)).send(policy), 403);
    const first = await setPolicy(wallet.id, policy);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, quorum: 2, allowlist: [DEST], delayAbove: '500', delaySeconds: 600, proposalId: null });
    const second = await setPolicy(wallet.id, { ...policy, quorum: 3 });
    expectProblem(second, 409);
    expect(second.body.detail).toMatch(/policy-proposals/);
    expect(await count(`SELECT count(*) AS n FROM custody_policy WHERE wallet_id = $1`, [wallet.id])).toBe(1);
    expect(await events('custody.policy.set')).toBe(1);
    const got = await request(c.server).get(`/custody/wallets/${wallet.id}/policy`).set(bearer(c.keys.bob)).expect(200);
    expect(got.body).toMatchObject({ version: 1, quorum: 2 });
  });

  it('refuses transfers the policy does not allow, storing nothing', async () => {
    expectProblem(await requestTransfer(wallet.id, { to: OTHER, value: '1' }), 422);
    expectProblem(await requestTransfer(wallet.id, { to: DEST, value: '1001' }), 422);
    expectProblem(await requestTransfer(wallet.id, { to: DEST, value: '1' }, c.keys.wallet), 403);
    expectProblem(await requestTransfer(wallet.id, { to: DEST, value: '1', data: 'zz' }), 400);
    expect(await count(`SELECT count(*) AS n FROM custody_ceremony`)).toBe(0);
    expect(await events('custody.ceremony.requested')).toBe(0);
  });

  let ceremony: Record<string, any>;

  it('requests a ceremony whose digest is the SHA-256 of the canonical request JSON', async () => {
    const res = await requestTransfer(wallet.id, { to: DEST.toUpperCase().replace('0X', '0x'), value: '900', data: '0xABCD' });
    expect(res.status).toBe(201);
    ceremony = res.body;
    expect(ceremony).toMatchObject({ walletId: wallet.id, wallet: wallet.address, to: DEST, value: '900', data: '0xabcd', nonce: '0', status: 'requested', reason: null, quorum: 2, approvals: [], policyVersion: 1 });
    const expected = ceremonyDigest({
      wallet: wallet.address,
      to: DEST,
      value: 900n,
      dataHash: ceremony.dataHash,
      nonce: 0n,
      ceremonyId: ceremony.id,
      expiresAt: new Date(ceremony.expiresAt),
    });
    expect(ceremony.digest).toBe(digestHex(expected));
    // Above delayAbove: signing waits delaySeconds.
    expect(new Date(ceremony.notBefore).getTime() - new Date(ceremony.createdAt).getTime()).toBeGreaterThanOrEqual(599_000);
    // One open ceremony per wallet (sequential contract nonce).
    expectProblem(await requestTransfer(wallet.id, { to: DEST, value: '1' }), 409);
    const pending = await request(c.server).get('/custody/ceremonies?status=pending').set(bearer(c.keys.bob)).expect(200);
    expect(pending.body.map((x: { id: string }) => x.id)).toEqual([ceremony.id]);
    expectProblem(await request(c.server).get('/custody/ceremonies?status=bogus').set(bearer(c.keys.bob)), 400);
  });

  it('accepts only verified signatures by the calling, listed operator; the quorum approves once', async () => {
    const id = ceremony.id as string;
    // Signature over another digest, and another key's signature: 422.
    expectProblem(await approve(id, 'alice', keys.alice.sign('0x' + '00'.repeat(32)), c.keys.alice), 422);
    expectProblem(await approve(id, 'alice', keys.carol.sign(ceremony.digest), c.keys.alice), 422);
    // Alice's key does not make Bob's caller Alice; dave is not in the policy; a wallet app is no operator.
    expectProblem(await approve(id, 'alice', keys.alice.sign(ceremony.digest), c.keys.bob), 403);
    expectProblem(await approve(id, 'dave', keys.dave.sign(ceremony.digest), c.keys.dave), 403);
    expectProblem(await approve(id, 'alice', keys.alice.sign(ceremony.digest), c.keys.wallet), 403);
    expect(await count(`SELECT count(*) AS n FROM custody_approval`)).toBe(0);

    const a = await approve(id, 'alice', keys.alice.sign(ceremony.digest), c.keys.alice);
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ status: 'requested', approvals: [{ operator: 'alice' }] });
    expectProblem(await approve(id, 'alice', keys.alice.sign(ceremony.digest), c.keys.alice), 409);

    const b = await approve(id, 'bob', keys.bob.sign(ceremony.digest), c.keys.bob);
    expect(b.status).toBe(201);
    expect(b.body.status).toBe('approved');
    expect(b.body.approvals.map((x: { operator: string }) => x.operator).sort()).toEqual(['alice', 'bob']);
    expectProblem(await approve(id, 'carol', keys.carol.sign(ceremony.digest), c.keys.carol), 409);

    const got = await request(c.server).get(`/custody/ceremonies/${id}`).set(bearer(c.keys.admin)).expect(200);
    expect(got.body.status).toBe('approved');
    expect(await events('custody.ceremony.approval')).toBe(2);
    expect(await events('custody.ceremony.approved')).toBe(1);
    expectProblem(await request(c.server).get(`/custody/ceremonies/00000000-0000-4000-8000-000000000000`).set(bearer(c.keys.admin)), 404);
  });

  it('under concurrent approvals records each operator once and approves exactly once', async () => {
    const w = await insertWallet(c.ds);
    expect((await setPolicy(w.id, { ...policy, quorum: 2, delayAbove: undefined })).status).toBe(200);
    const cer = (await requestTransfer(w.id, { to: DEST, value: '10' })).body;
    const calls = [];
    for (let i = 0; i < 3; i++) {
      for (const op of ['alice', 'bob', 'carol'] as const) calls.push(approve(cer.id, op, keys[op].sign(cer.digest), c.keys[op]));
    }
    const results = await Promise.all(calls);
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBe(2);
    const final = await request(c.server).get(`/custody/ceremonies/${cer.id}`).set(bearer(c.keys.alice)).expect(200);
    expect(final.body.status).toBe('approved');
    expect(await count(`SELECT count(*) AS n FROM custody_approval WHERE ceremony_id = $1`, [cer.id])).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM audit_event WHERE type = 'custody.ceremony.approved' AND subject = $1`, [`custody-ceremony:${cer.id}`])).toBe(1);
  });

  it('expires a ceremony past its expiry; it takes no approvals and releases the nonce', async () => {
    const w = await insertWallet(c.ds);
    await setPolicy(w.id, { ...policy, delayAbove: undefined });
    const cer = (await requestTransfer(w.id, { to: DEST, value: '10', ttlSeconds: 60 })).body;
    await c.ds.query(`UPDATE custody_ceremony SET expires_at = now() - interval '1 second' WHERE id = $1`, [cer.id]);
    expectProblem(await approve(cer.id, 'alice', keys.alice.sign(cer.digest), c.keys.alice), 409);
    const got = await request(c.server).get(`/custody/ceremonies/${cer.id}`).set(bearer(c.keys.alice)).expect(200);
    expect(got.body).toMatchObject({ status: 'expired', reason: expect.any(String) });
    const next = await requestTransfer(w.id, { to: DEST, value: '10' });
    expect(next.status).toBe(201);
    expect(next.body.nonce).toBe('0');
    expect(await count(`SELECT count(*) AS n FROM audit_event WHERE type = 'custody.ceremony.expired' AND subject = $1`, [`custody-ceremony:${cer.id}`])).toBe(1);
  });

  it('enforces the daily limit over the ceremonies of the last 24 h', async () => {
    const w = await insertWallet(c.ds);
    await setPolicy(w.id, { ...policy, quorum: 1, dailyLimit: '1500' });
    const first = (await requestTransfer(w.id, { to: DEST, value: '1000' })).body;
    // Close the first ceremony as the contract would have consumed its nonce.
    await c.ds.query(`UPDATE custody_ceremony SET status = 'confirmed' WHERE id = $1`, [first.id]);
    await c.ds.query(`UPDATE custody_wallet SET next_nonce = 1 WHERE id = $1`, [w.id]);
    expectProblem(await requestTransfer(w.id, { to: DEST, value: '501' }), 422);
    const ok = await requestTransfer(w.id, { to: DEST, value: '500' });
    expect(ok.status).toBe(201);
    expect(ok.body.nonce).toBe('1');
  });

  it('lets an operator of the policy reject a pending ceremony, once, releasing the nonce', async () => {
    const w = await insertWallet(c.ds);
    await setPolicy(w.id, { ...policy, delayAbove: undefined });
    const cer = (await requestTransfer(w.id, { to: DEST, value: '10' })).body;
    const reject = (operator: string, key: string) =>
      request(c.server).post(`/custody/ceremonies/${cer.id}/rejection`).set(bearer(key)).send({ operator, reason: 'destination under review' });
    expectProblem(await reject('dave', c.keys.dave), 403);
    expectProblem(await reject('alice', c.keys.bob), 403);
    expectProblem(await reject('alice', c.keys.wallet), 403);
    const res = await reject('carol', c.keys.carol);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'rejected', reason: 'rejected by carol: destination under review' });
    expectProblem(await reject('alice', c.keys.alice), 409);
    expectProblem(await approve(cer.id, 'alice', keys.alice.sign(cer.digest), c.keys.alice), 409);
    expect(await count(`SELECT count(*) AS n FROM audit_event WHERE type = 'custody.ceremony.rejected' AND subject = $1`, [`custody-ceremony:${cer.id}`])).toBe(1);
    const next = await requestTransfer(w.id, { to: DEST, value: '10' });
    expect(next.status).toBe(201);
    expect(next.body.nonce).toBe('0');
  });
});
