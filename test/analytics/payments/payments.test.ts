/**
 * Encrypted payments over HTTP against real parts (PostgreSQL or PGlite, a real 3-of-5 DKG per
 * slot, real Groth16 payment proofs): a payment needs an active key set; a valid one is stored
 * with its audit event (commitment and ciphertext hash) and readable by anyone with the public
 * signals the proof verifies against; replays, points off the curve or outside the subgroup, and
 * proofs that do not match the ciphertexts, the commitment or the payment's facts are refused
 * with problem+json, and nothing is stored.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import request from 'supertest';
import { canonicalJsonBytes } from '../../../src/audit/crypto/event-encoding.js';
import { FIELD_PRIME } from '../../../src/analytics/crypto/index.js';
import { verifyPaymentProof } from '../../../src/analytics/payment/index.js';
import { analyticsFixture, backend, bearer, bodyOf, expectProblem, insertKeySet, openAnalyticsApp, type AnalyticsApp, type AnalyticsFixture, type PaymentBody } from '../support/key-set.js';

let c: AnalyticsApp;
let fx: AnalyticsFixture;

beforeAll(async () => {
  fx = await analyticsFixture();
  c = await openAnalyticsApp();
}, 600_000);

afterAll(async () => {
  await c?.close();
});

const count = async (sql: string, params: unknown[] = []) => Number((await c.ds.query(sql, params))[0].n);
const payments = () => count(`SELECT count(*) AS n FROM analytics_payment`);
const events = () => count(`SELECT count(*) AS n FROM audit_event WHERE type = 'analytics.payment.recorded'`);
const post = (body: object, key = c.keys.wallet) => request(c.server).post('/analytics/payments').set(bearer(key)).send(body);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe(`encrypted payments (${backend})`, () => {
  it('refuses payments while no key set is active (409), storing nothing', async () => {
    expectProblem(await post(bodyOf(fx.payments[0]!)), 409, /no active regulator key set/);
    expect(await payments()).toBe(0);
  });

  let recorded: Record<string, any>;

  it('records a payment whose proof verifies against the recomputed signals, with its audit event', async () => {
    await insertKeySet(c.ds, fx.keySet);
    const p = fx.payments[0]!;
    const res = await post(bodyOf(p));
    expect(res.status).toBe(201);
    recorded = res.body;
    expect(recorded).toMatchObject({ payer: p.payer, payee: p.payee, occurredAt: p.occurredAt, reference: p.reference, commitment: p.commitment, ciphertexts: p.ciphertexts, keySetId: fx.keySet.id });
    expect(recorded.ciphertextsHash).toBe(bytesToHex(sha256(canonicalJsonBytes(p.ciphertexts))));
    // Nothing in the row is a plaintext feature: the amount appears nowhere.
    const [row] = await c.ds.query(`SELECT * FROM analytics_payment WHERE id = $1`, [recorded.id]);
    expect(JSON.stringify(row)).not.toContain(`"${p.amount}"`);
    expect(Object.keys(row).sort()).toEqual(
      ['binding', 'ciphertexts', 'ciphertexts_hash', 'commitment', 'id', 'key_set_id', 'occurred_at', 'payee', 'payer', 'proof', 'recorded_at', 'reference', 'submitted_by'].sort(),
    );
    const [ev] = await c.ds.query(`SELECT actor, subject, body FROM audit_event WHERE type = 'analytics.payment.recorded'`);
    const body = typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body;
    expect(body).toEqual({ paymentId: recorded.id, keySetId: fx.keySet.id, commitment: p.commitment, binding: recorded.binding, ciphertextsHash: recorded.ciphertextsHash });
    expect(ev.subject).toBe(`analytics-payment:${recorded.id}`);
  });

  it('serves the payment to anyone, verifiable with the published verification key', async () => {
    const res = await request(c.server).get(`/analytics/payments/${recorded.id}`).expect(200);
    expect(res.body).toEqual(recorded);
    expect(res.body.publicSignals).toHaveLength(38);
    expect(res.body.publicSignals.slice(0, 2)).toEqual([recorded.commitment, recorded.binding]);
    expect(await verifyPaymentProof(res.body.proof, res.body.publicSignals)).toBe(true);
    expectProblem(await request(c.server).get('/analytics/payments/00000000-0000-4000-8000-000000000000'), 404);
    expectProblem(await request(c.server).get('/analytics/payments/nope'), 400);
  });

  it('refuses a replayed (payer, reference) with 409', async () => {
    expectProblem(await post(bodyOf(fx.payments[0]!)), 409, /already recorded/);
    expect(await payments()).toBe(1);
  });

  it('refuses bad points, naming the field, and mismatching proofs; stores nothing', async () => {
    const base = bodyOf(fx.payments[1]!);
    const other = bodyOf(fx.payments[2]!);

    const offCurve = clone(base);
    offCurve.ciphertexts[1]!.c1 = ['1', '2'];
    const r1 = await post(offCurve);
    expectProblem(r1, 422, /ciphertexts\[1\] \(bucket0\)\.c1.*not on the BabyJubJub curve/);
    expect(r1.body.field).toBe('ciphertexts[1] (bucket0)');

    // (x, y) + (0, -1) = (-x, -y): on the curve, but with an order-2 component.
    const torsion = clone(base);
    const [x, y] = torsion.ciphertexts[3]!.c2;
    torsion.ciphertexts[3]!.c2 = [(FIELD_PRIME - BigInt(x)).toString(), (FIELD_PRIME - BigInt(y)).toString()];
    expectProblem(await post(torsion), 422, /ciphertexts\[3\] \(bucket2\)\.c2.*not in the prime-order subgroup/);

    const nonCanonical = clone(base);
    nonCanonical.ciphertexts[0]!.c2 = [nonCanonical.ciphertexts[0]!.c2[0], (BigInt(nonCanonical.ciphertexts[0]!.c2[1]) + FIELD_PRIME).toString()];
    expectProblem(await post(nonCanonical), 400, /ciphertexts\[0\] \(amount\)\.c2\.y/);

    // Valid points, but another payment's ciphertexts: the proof does not match them.
    const swappedCiphertexts: PaymentBody = { ...clone(base), ciphertexts: other.ciphertexts };
    expectProblem(await post(swappedCiphertexts), 422, /does not verify/);
    // One ciphertext re-randomised by hand would need the randomness; swapping one slot is enough.
    const oneSlot = clone(base);
    oneSlot.ciphertexts[0] = other.ciphertexts[0]!;
    expectProblem(await post(oneSlot), 422, /does not verify/);
    // Another commitment (of another amount) with the same ciphertexts and proof.
    expectProblem(await post({ ...clone(base), commitment: other.commitment }), 422, /does not verify/);
    // The facts the proof is bound to: a changed reference, payee or time is another payment.
    expectProblem(await post({ ...clone(base), reference: 'ref-forged' }), 422, /does not verify/);
    expectProblem(await post({ ...clone(base), payee: 'acct_0000000000000bad' }), 422, /does not verify/);
    expectProblem(await post({ ...clone(base), occurredAt: '2026-01-05T03:00:00.000Z' }), 422, /does not verify/);
    // Malformed proof, shapes, roles.
    expectProblem(await post({ ...clone(base), proof: { pi_a: ['1'] } }), 422, /malformed proof/);
    expectProblem(await post({ ...clone(base), ciphertexts: base.ciphertexts.slice(0, 5) }), 400);
    expectProblem(await post({ ...clone(base), occurredAt: '2026-01-05T03:00:00Z' }), 400);
    expectProblem(await post({ ...clone(base), payer: 'alice' }), 400);
    expectProblem(await post({ ...clone(base), payee: base.payer }), 422);
    expectProblem(await post({ ...clone(base), extra: 1 }), 400);
    expectProblem(await post({ ...clone(base), commitment: FIELD_PRIME.toString() }), 400);
    expectProblem(await post(base, c.keys['reg-a']), 403);
    expectProblem(await request(c.server).post('/analytics/payments').send(base), 401);

    expect(await payments()).toBe(1);
    expect(await events()).toBe(1);
  });

  it('documents the analytics routes in the OpenAPI description', async () => {
    const doc = (await request(c.server).get('/docs/openapi.json').expect(200)).body;
    for (const route of ['/analytics/payments', '/analytics/payments/{id}', '/analytics/tasks', '/analytics/tasks/{id}/approvals', '/analytics/tasks/{id}/partials', '/analytics/tasks/{id}/result']) {
      expect(Object.keys(doc.paths)).toContain(route);
    }
    expect(doc.components.schemas.RecordPaymentDto.required).toEqual(expect.arrayContaining(['payer', 'payee', 'occurredAt', 'reference', 'commitment', 'ciphertexts', 'proof']));
  });

  it('records the other payments, which stay distinct', async () => {
    for (const p of fx.payments.slice(1, 4)) expect((await post(bodyOf(p))).status).toBe(201);
    expect(await payments()).toBe(4);
    expect(await events()).toBe(4);
  });
});
