/**
 * A task over many payments through the job path, against the real database (PostgreSQL or
 * PGlite): 12,003 payments inserted directly (no proofs; the proof is checked on ingestion, which
 * other tests cover) carrying real ElGamal ciphertexts under the key set's slot keys. The
 * aggregation job streams them in batches of AGGREGATION_BATCH (several pages, with ties on
 * occurred_at resolved by id), suppresses the payer below the minimum cohort, and the 3-of-5
 * decryption equals the plaintext recomputation.
 */
import request from 'supertest';
import { encodeCiphertexts, encrypt, partialDecrypt, decodeCiphertext, encodePartialDecryption } from '../../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, featureVector, type FeatureSlot } from '../../../src/analytics/features.js';
import { digestToHex, signedDigest } from '../../../src/analytics/regulators/index.js';
import { AGGREGATION_BATCH, partialContext } from '../../../src/analytics/tasks/tasks.service.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import { analyticsFixture, backend, bearer, insertKeySet, keyShare, openAnalyticsApp, regulatorSign, slotKey, type AnalyticsApp, type AnalyticsFixture, type RegulatorName } from '../support/key-set.js';

type Json = Record<string, any>;
let c: AnalyticsApp;
let fx: AnalyticsFixture;

const WINDOW = { from: '2025-06-01T00:00:00.000Z', to: '2025-06-02T00:00:00.000Z' };
const PAYERS = ['acct_d0000000000000d1', 'acct_d0000000000000d2', 'acct_d0000000000000d3'];
const SMALL_PAYER = 'acct_d0000000000000d4';
const BIG = 12_000;
const POOL = 40;
/** Plaintexts of the ciphertext pool (each row reuses pool[i % POOL]). */
const pool: { amount: number; crossBorder: boolean; ciphertexts: unknown }[] = [];

beforeAll(async () => {
  fx = await analyticsFixture();
  c = await openAnalyticsApp();
  await insertKeySet(c.ds, fx.keySet);
  const keys = FEATURE_SLOTS.map((s) => slotKey(fx.keySet, s).groupPublicKey);
  for (let i = 0; i < POOL; i++) {
    const amount = 1 + ((i * 7919) % 20_000);
    const crossBorder = i % 3 === 0;
    const vector = featureVector({ amount: BigInt(amount), crossBorder });
    pool.push({ amount, crossBorder, ciphertexts: encodeCiphertexts(vector.map((m, k) => encrypt(m, keys[k]!))) });
  }
  // Rows 0..BIG-1 over three payers (two rows per timestamp, so pages split ties), then three
  // rows of a fourth payer, below the minimum cohort.
  await c.ds.query(
    `INSERT INTO analytics_payment (payer, payee, occurred_at, reference, commitment, binding, ciphertexts, ciphertexts_hash, proof, key_set_id, submitted_by)
     SELECT CASE WHEN i < $3 THEN ($4::text[])[(i % 3) + 1] ELSE $5 END, 'acct_f0000000000000ff',
            $1::timestamptz + make_interval(secs => (i / 2) * 5), 'bulk-' || i, '0', '0',
            ($6::jsonb) -> (i % $7), md5(i::text) || md5(i::text), '{}'::jsonb, $2, 'bulk-test'
       FROM generate_series(0, $3 + 2) AS i`,
    [WINDOW.from, fx.keySet.id, BIG, PAYERS, SMALL_PAYER, JSON.stringify(pool.map((p) => p.ciphertexts)), POOL],
  );
  await c.app.get(QueueService).startWorkers();
}, 600_000);

afterAll(async () => {
  await c?.close();
});

const getTask = async (id: string): Promise<Json> => (await request(c.server).get(`/analytics/tasks/${id}`).set(bearer(c.keys['reg-a'])).expect(200)).body;
async function settle(id: string, statuses: string[]): Promise<Json> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const t = await getTask(id);
    if (statuses.includes(t.status)) return t;
    if (Date.now() > deadline) throw new Error(`task ${id} stayed ${t.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe(`aggregation over many payments (${backend})`, () => {
  it(`streams ${BIG + 3} payments in batches of ${AGGREGATION_BATCH}, suppresses the small payer, and decrypts to the plaintext sums`, async () => {
    expect(BIG / AGGREGATION_BATCH).toBeGreaterThan(2);
    const defined = await request(c.server).post('/analytics/tasks').set(bearer(c.keys['reg-a'])).send({ kind: 'sum', slot: 'amount', groupBy: 'payer', window: WINDOW });
    expect(defined.status).toBe(201);
    let task: Json = defined.body;
    const t0 = Date.now();
    for (const r of ['reg-a', 'reg-b', 'reg-c'] as const) {
      const signature = regulatorSign(fx.keySet, r, signedDigest('analytics-task', { taskId: task.id, definition: task.definition }));
      const res = await request(c.server).post(`/analytics/tasks/${task.id}/approvals`).set(bearer(c.keys[r])).send({ regulator: r, signature });
      expect(res.status).toBe(201);
      // The approval answers at once: the aggregation is the job's.
      if (r === 'reg-c') expect(['approved', 'aggregating', 'decrypting']).toContain(res.body.status);
    }
    expect(task.digest).toBe(digestToHex(signedDigest('analytics-task', { taskId: task.id, definition: task.definition })));
    task = await settle(task.id, ['decrypting', 'rejected', 'expired']);
    const aggregationMs = Date.now() - t0;
    expect(task.status).toBe('decrypting');
    expect(task.suppressedGroups).toBe(1);
    expect(task.aggregates.map((a: Json) => `${a.group}/${a.slot}/${a.payments}`).sort()).toEqual(PAYERS.map((p) => `${p}/amount/${BIG / 3}`));
    const [ev] = await c.ds.query(`SELECT body FROM audit_event WHERE type = 'analytics.task.aggregated' AND subject = $1`, [`analytics-task:${task.id}`]);
    expect(typeof ev.body === 'string' ? JSON.parse(ev.body) : ev.body).toMatchObject({ payments: BIG + 3, groups: 3, suppressedGroups: 1, aggregates: 3 });

    for (const r of ['reg-b', 'reg-d', 'reg-e'] as RegulatorName[]) {
      const partials = task.aggregates.map((a: Json) => ({
        aggregateId: a.id,
        partial: encodePartialDecryption(partialDecrypt(decodeCiphertext(a.ciphertext), keyShare(fx.keySet, r, a.slot as FeatureSlot), partialContext(task.id, a.id))),
      }));
      const signature = regulatorSign(fx.keySet, r, signedDigest('analytics-partials', { taskId: task.id, regulator: r, partials }));
      expect((await request(c.server).post(`/analytics/tasks/${task.id}/partials`).set(bearer(c.keys[r])).send({ regulator: r, partials, signature })).status).toBe(201);
    }
    expect((await settle(task.id, ['released', 'rejected', 'expired'])).status).toBe('released');
    const res = await request(c.server).get(`/analytics/tasks/${task.id}/result`).set(bearer(c.keys['reg-a'])).expect(200);
    const expected = PAYERS.map((payer, k) => {
      let total = 0;
      for (let i = k; i < BIG; i += 3) total += pool[i % POOL]!.amount;
      return { group: payer, payments: BIG / 3, slot: 'amount', value: String(total) };
    });
    expect(res.body.result).toMatchObject({ kind: 'sum', groupBy: 'payer', suppressedGroups: 1 });
    expect([...res.body.result.groups].sort((a: Json, b: Json) => a.group.localeCompare(b.group))).toEqual(expected);
    console.log(`[bulk-aggregation ${backend}] ${BIG + 3} payments: approvals + aggregation job ${aggregationMs} ms`);
  });
});
