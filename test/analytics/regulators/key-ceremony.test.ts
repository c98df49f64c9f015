/**
 * Regulators and their key ceremonies through the REST API (real database, real HTTP, real
 * keys; in-memory regulators run the command-line client's protocol code): registration and its
 * refusals; a 3-of-5 key set with one DKG per feature slot, where a cheating dealer's share is
 * named by its recipient's complaint and the dealer is disqualified from that slot only; slot keys
 * independent; a ciphertext under a slot key decrypts with 3 partials and not with 2; bad
 * signature 422, non-member 403, duplicate deal 409, invalid commitment 422 with nothing stored;
 * false complaints refuted; a key set with too few qualified dealers fails; a newer key set
 * retires the active one.
 */
import request from 'supertest';
import {
  QuorumNotReachedError,
  G,
  combinePartialDecryptions,
  encrypt,
  partialDecrypt,
} from '../../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS } from '../../../src/analytics/features.js';
import { AnalyticsKeyService } from '../../../src/analytics/regulators/index.js';
import { signedDigest } from '../../../src/analytics/signed-digest.js';
import { buildDeal, buildVerdicts, runKeygen, CeremonyError, type KeySetView, type KeygenOptions } from '../../../src/analytics/cli/regulator-protocol.js';
import { backend, bearer, counts, createKeySet, expectProblem, memoryRegulator, openAnalyticsApp, registerRegulator, type AnalyticsApp, type MemoryRegulator } from './support.js';

/** A deep copy with this realm's plain arrays and objects (what canonical JSON accepts). */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const NAMES = ['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e', 'reg-out'];
let c: AnalyticsApp;
const regs: Record<string, MemoryRegulator> = {};

beforeAll(async () => {
  c = await openAnalyticsApp(NAMES);
  for (const n of NAMES) regs[n] = memoryRegulator(n);
}, 180_000);

afterAll(async () => {
  await c?.close();
});

const keygen = (name: string, keySetId: string, alterShare?: KeygenOptions['alterShare']) =>
  runKeygen(c.api(name), regs[name]!, regs[name]!, keySetId, { intervalSeconds: 0.2, timeoutSeconds: 120, alterShare });

const getKeySet = async (id: string): Promise<KeySetView> => (await request(c.server).get(`/analytics/key-sets/${id}`).set(bearer(c.adminKey))).body;

describe(`regulators and key ceremonies (${backend})`, () => {
  it('registers regulators, refusing a non-regulator principal, a bad key and a duplicate', async () => {
    for (const n of NAMES) expect((await registerRegulator(c, regs[n]!)).status).toBe(201);
    const before = await counts(c.ds);
    const notRegulator = await request(c.server)
      .post('/analytics/regulators')
      .set(bearer(c.adminKey))
      .send({ name: 'admin-as-regulator', principal: 'analytics-admin', signingCurve: 'p256', signingKey: regs['reg-a']!.signingKey, encryptionKey: regs['reg-a']!.encryptionKey });
    expectProblem(notRegulator, 422);
    expect(notRegulator.body.detail).toContain('does not have the role regulator');
    const offCurve = await request(c.server)
      .post('/analytics/regulators')
      .set(bearer(c.adminKey))
      .send({ name: 'x', principal: 'reg-a', signingCurve: 'p256', signingKey: '02' + 'ff'.repeat(32), encryptionKey: regs['reg-a']!.encryptionKey });
    expectProblem(offCurve, 422);
    const dup = await registerRegulator(c, regs['reg-a']!);
    expectProblem(dup, 409);
    const unknownField = await request(c.server).post('/analytics/key-sets').set(bearer(c.adminKey)).send({ threshold: 2, regulators: ['reg-a', 'reg-b'], extra: 1 });
    expectProblem(unknownField, 400);
    expectProblem(await createKeySet(c, 3, ['reg-a', 'nobody']), 422);
    expectProblem(await createKeySet(c, 3, ['reg-a', 'reg-b']), 422);
    const asRegulator = await request(c.server).post('/analytics/key-sets').set(bearer(c.keys['reg-a']!)).send({ threshold: 1, regulators: ['reg-a'] });
    expectProblem(asRegulator, 403);
    expect(await counts(c.ds)).toEqual(before);
    const list = await request(c.server).get('/analytics/regulators').set(bearer(c.keys['reg-b']!));
    expect(list.status).toBe(200);
    expect(list.body.map((r: { name: string }) => r.name)).toEqual([...NAMES].sort());
  });

  let k1: string;
  it('runs a 3-of-5 key set end to end; a tampered share is named by its recipient and its dealer disqualified from that slot', async () => {
    const res = await createKeySet(c, 3, ['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e']);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'dealing', threshold: 3 });
    expect(res.body.participants).toEqual(['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e'].map((regulator, i) => ({ regulator, index: i + 1 })));
    k1 = res.body.id;
    // reg-b (index 2) sends reg-d (index 4) a wrong share of the bucket2 slot key.
    const cheat = (slot: string, s: { recipient: number; share: bigint }) => (slot === 'bucket2' && s.recipient === 4 ? s.share + 1n : s.share);
    const results = await Promise.all(['reg-a', 'reg-b', 'reg-c', 'reg-d', 'reg-e'].map((n) => keygen(n, k1, n === 'reg-b' ? cheat : undefined)));
    for (const r of results) expect(r.status).toBe('active');

    const ks = await getKeySet(k1);
    expect(ks.status).toBe('active');
    expect(ks.dealt).toHaveLength(5);
    expect(ks.verified).toHaveLength(5);
    for (const s of ks.slots) {
      const pk = s.publicKey as { ceremony: string; qualified: number[]; groupPublicKey: string[] };
      expect(pk.ceremony).toBe(`analytics-key:${k1}:${s.slot}`);
      if (s.slot === 'bucket2') {
        expect(s.complaints).toEqual([{ accuser: 4, dealer: 2, reason: expect.stringContaining('does not match the commitments') }]);
        expect(pk.qualified).toEqual([1, 3, 4, 5]);
      } else {
        expect(s.complaints).toEqual([]);
        expect(pk.qualified).toEqual([1, 2, 3, 4, 5]);
      }
    }
    // One independent DKG per slot: six different group keys.
    const groupKeys = ks.slots.map((s) => JSON.stringify((s.publicKey as { groupPublicKey: string[] }).groupPublicKey));
    expect(new Set(groupKeys).size).toBe(FEATURE_SLOTS.length);

    const events: { type: string }[] = await c.ds.query(`SELECT type FROM audit_event WHERE subject = $1 ORDER BY seq`, [`analytics-key-set:${k1}`]);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('analytics.keyset.created');
    expect(types.filter((t) => t === 'analytics.keyset.deal')).toHaveLength(5);
    expect(types.filter((t) => t === 'analytics.keyset.verdict')).toHaveLength(5);
    expect(types.at(-1)).toBe('analytics.keyset.activated');
    // The service stores ciphertext only: no share of reg-a appears in any stored row.
    const share = regs['reg-a']!.shares.get(`${k1}/amount`)!.secretShare;
    const dump = JSON.stringify(await c.ds.query(`SELECT * FROM analytics_dkg_deal`)) + JSON.stringify(await c.ds.query(`SELECT body FROM audit_event`));
    expect(dump).not.toContain(share.toString(10));
    expect(dump).not.toContain(share.toString(16));
  });

  it('exposes the active key set to other modules, decoded', async () => {
    const active = await c.app.get(AnalyticsKeyService).activeKeySet();
    expect(active).not.toBeNull();
    expect(active!.id).toBe(k1);
    expect(active!.threshold).toBe(3);
    expect(Object.keys(active!.slots).sort()).toEqual([...FEATURE_SLOTS].sort());
  });

  it('decrypts a ciphertext under a slot key with 3 partials, and not with 2', async () => {
    const active = (await c.app.get(AnalyticsKeyService).activeKeySet())!;
    for (const [slot, trio] of [['amount', ['reg-a', 'reg-c', 'reg-e']], ['bucket2', ['reg-b', 'reg-d', 'reg-e']]] as const) {
      const key = active.slots[slot];
      const ct = encrypt(4242n, key.groupPublicKey);
      const context = `analytics-task:test:${slot}`;
      const partials = await Promise.all(trio.map(async (n) => partialDecrypt(ct, await regs[n]!.loadShare(k1, slot), context)));
      const result = combinePartialDecryptions(ct, partials, key, context);
      expect(result.plaintextPoint.equals(G.multiply(4242n))).toBe(true);
      expect(() => combinePartialDecryptions(ct, partials.slice(0, 2), key, context)).toThrow(QuorumNotReachedError);
      // reg-e's share of another slot key (crossBorder) is useless here: its partial is rejected.
      const wrong = partialDecrypt(ct, await regs['reg-e']!.loadShare(k1, 'crossBorder'), context);
      expect(() => combinePartialDecryptions(ct, [...partials.slice(0, 2), wrong], key, context)).toThrow(QuorumNotReachedError);
    }
  });

  it('refuses a non-member (403), a bad signature (422), an invalid commitment (422) and a duplicate deal (409), storing nothing', async () => {
    const res = await createKeySet(c, 3, ['reg-a', 'reg-b', 'reg-c']);
    const ks: KeySetView = res.body;
    const k2 = ks.id;
    const regulators = new Map(NAMES.map((n) => [n, regs[n]!.encryptionKey]));
    const post = (name: string, body: unknown) => request(c.server).post(`/analytics/key-sets/${k2}/deals`).set(bearer(c.keys[name]!)).send(body as object);
    const before = await counts(c.ds);

    // reg-out deals as itself into a key set it is not part of.
    const outsider = await buildDeal({ ...ks, participants: [...ks.participants, { regulator: 'reg-out', index: 4 }] }, regs['reg-out']!, regulators);
    expectProblem(await post('reg-out', outsider), 403);
    // reg-b posting reg-a's deal: the caller acts as reg-b.
    const dealA = await buildDeal(ks, regs['reg-a']!, regulators);
    expectProblem(await post('reg-b', dealA), 403);
    // Signed by the wrong key.
    const forged = { ...dealA, signature: (await buildDeal(ks, regs['reg-b']!, regulators)).signature };
    const badSig = await post('reg-a', forged);
    expectProblem(badSig, 422);
    expect(badSig.body.type).toMatch(/analytics-invalid-signature$/);
    // An invalid proof of possession, properly signed: named by dealer and slot.
    const broken = clone(dealA);
    const slot = broken.slots.find((s) => s.slot === 'crossBorder')!;
    slot.commitment.proof.response = ((BigInt(slot.commitment.proof.response) + 1n) % 2736030358979909402780800718157159386076813972158567259200215660948447373041n).toString();
    broken.signature = await regs['reg-a']!.sign(signedDigest('analytics-dkg-deal', { keySetId: k2, regulator: 'reg-a', slots: broken.slots }));
    const invalid = await post('reg-a', broken);
    expectProblem(invalid, 422);
    expect(invalid.body.detail).toMatch(/dealer 1 \(reg-a\), slot crossBorder: invalid dealer commitment/);
    // A commitment point off the curve.
    const offCurve = clone(dealA);
    offCurve.slots[0]!.commitment.commitments[1] = ['1', '2'];
    offCurve.signature = await regs['reg-a']!.sign(signedDigest('analytics-dkg-deal', { keySetId: k2, regulator: 'reg-a', slots: offCurve.slots }));
    const off = await post('reg-a', offCurve);
    expectProblem(off, 422);
    expect(off.body.detail).toContain('slot amount');
    // A slot missing.
    const partial = { ...dealA, slots: dealA.slots.slice(1) };
    partial.signature = await regs['reg-a']!.sign(signedDigest('analytics-dkg-deal', { keySetId: k2, regulator: 'reg-a', slots: partial.slots }));
    expectProblem(await post('reg-a', partial), 422);
    expect(await counts(c.ds)).toEqual(before);

    // The same deal twice at once: exactly one is stored, the other is a 409.
    const raced = await Promise.all([post('reg-a', dealA), post('reg-a', dealA)]);
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409]);
    expect((await c.ds.query(`SELECT count(*)::int AS n FROM analytics_dkg_deal WHERE key_set_id = $1`, [k2]))[0].n).toBe(1);
    const dup = await post('reg-a', dealA);
    expectProblem(dup, 409);
    // Verdicts before everyone has dealt; another regulator's mailbox.
    // The deals stay hidden while dealing (no one picks a polynomial after seeing the others').
    expectProblem(await request(c.server).get(`/analytics/key-sets/${k2}/deals/for/reg-a`).set(bearer(c.keys['reg-a']!)), 409);
    const earlyVerdicts = FEATURE_SLOTS.map((slot) => ({ slot, complaints: [] }));
    const early = { regulator: 'reg-a', verdicts: earlyVerdicts, signature: await regs['reg-a']!.sign(signedDigest('analytics-dkg-verdicts', { keySetId: k2, regulator: 'reg-a', verdicts: earlyVerdicts })) };
    expectProblem(await request(c.server).post(`/analytics/key-sets/${k2}/verdicts`).set(bearer(c.keys['reg-a']!)).send(early), 409);
    expectProblem(await request(c.server).get(`/analytics/key-sets/${k2}/deals/for/reg-a`).set(bearer(c.keys['reg-b']!)), 403);
    expectProblem(await request(c.server).get(`/analytics/key-sets/not-a-uuid`).set(bearer(c.adminKey)), 400);

    // reg-c cheats reg-a on the amount slot: with 3-of-3, one disqualified dealer fails the key set.
    expect((await post('reg-b', await buildDeal(ks, regs['reg-b']!, regulators))).status).toBe(201);
    const cheat = await buildDeal(ks, regs['reg-c']!, regulators, (s, share) => (s === 'amount' && share.recipient === 1 ? share.share + 5n : share.share));
    const last = await post('reg-c', cheat);
    expect(last.status).toBe(201);
    expect(last.body.status).toBe('verifying');

    // A false complaint (reg-b accuses reg-a with the true share) is refuted; so is evidence that does not open the envelope.
    const viewB = (await request(c.server).get(`/analytics/key-sets/${k2}/deals/for/reg-b`).set(bearer(c.keys['reg-b']!))).body;
    const honest = await buildVerdicts(await getKeySet(k2), regs['reg-b']!, viewB);
    const { decryptDealerShare } = await import('../../../src/analytics/regulators/share-transport.js');
    const envA = viewB.shares.find((x: { slot: string; dealer: number }) => x.slot === 'bucket0' && x.dealer === 1).envelope;
    const opened = decryptDealerShare({ keySetId: k2, slot: 'bucket0', dealer: 1, recipient: 2 }, envA, regs['reg-b']!.encryptionKey, (p) => regs['reg-b']!.ecdh(p));
    const falseComplaint = clone(honest);
    falseComplaint.verdicts.find((v) => v.slot === 'bucket0')!.complaints.push({ dealer: 1, reason: 'made up', share: opened.share.toString(10), envelopeKey: opened.envelopeKey });
    falseComplaint.signature = await regs['reg-b']!.sign(signedDigest('analytics-dkg-verdicts', { keySetId: k2, regulator: 'reg-b', verdicts: falseComplaint.verdicts }));
    const refuted = await request(c.server).post(`/analytics/key-sets/${k2}/verdicts`).set(bearer(c.keys['reg-b']!)).send(falseComplaint);
    expectProblem(refuted, 422);
    expect(refuted.body.type).toMatch(/analytics-complaint-refuted$/);
    const wrongKey = clone(falseComplaint);
    wrongKey.verdicts.find((v) => v.slot === 'bucket0')!.complaints[0]!.envelopeKey = 'ab'.repeat(32);
    wrongKey.signature = await regs['reg-b']!.sign(signedDigest('analytics-dkg-verdicts', { keySetId: k2, regulator: 'reg-b', verdicts: wrongKey.verdicts }));
    const unopened = await request(c.server).post(`/analytics/key-sets/${k2}/verdicts`).set(bearer(c.keys['reg-b']!)).send(wrongKey);
    expectProblem(unopened, 422);
    expect(unopened.body.detail).toContain('does not open');
    expect((await c.ds.query(`SELECT count(*)::int AS n FROM analytics_dkg_verdict WHERE key_set_id = $1`, [k2]))[0].n).toBe(0);

    const outcomes = await Promise.allSettled(['reg-a', 'reg-b', 'reg-c'].map((n) => keygen(n, k2)));
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(CeremonyError);
    }
    const failed = await getKeySet(k2);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toContain('slot amount: only 2 qualified dealer(s): at least 3 are needed');
    expect(failed.slots.find((s) => s.slot === 'amount')!.complaints).toEqual([{ accuser: 1, dealer: 3, reason: expect.any(String) }]);
    expect(failed.slots.every((s) => s.publicKey === null)).toBe(true);
    const audit: { type: string }[] = await c.ds.query(`SELECT type FROM audit_event WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, [`analytics-key-set:${k2}`]);
    expect(audit[0]!.type).toBe('analytics.keyset.failed');
    // The active key set is untouched.
    expect((await getKeySet(k1)).status).toBe('active');
  });

  it('a newer completed key set retires the active one; tasks can still read the retired one', async () => {
    const res = await createKeySet(c, 2, ['reg-d', 'reg-e']);
    const k3 = res.body.id;
    await Promise.all(['reg-d', 'reg-e'].map((n) => keygen(n, k3)));
    expect((await getKeySet(k3)).status).toBe('active');
    expect((await getKeySet(k1)).status).toBe('retired');
    const keys = c.app.get(AnalyticsKeyService);
    expect((await keys.activeKeySet())!.id).toBe(k3);
    const listed = await request(c.server).get('/analytics/key-sets?status=retired').set(bearer(c.keys['reg-a']!));
    expect(listed.status).toBe(200);
    expect(listed.body.map((k: { id: string }) => k.id)).toEqual([k1]);
    expect((await request(c.server).get('/analytics/key-sets').set(bearer(c.adminKey))).body.map((k: { status: string }) => k.status)).toEqual(['active', 'failed', 'retired']);
    expectProblem(await request(c.server).get('/analytics/key-sets?status=bogus').set(bearer(c.adminKey)), 400);
    expect((await keys.completedKeySet(k1))!.status).toBe('retired');
    // Re-running keygen on a completed key set changes nothing.
    const again = await keygen('reg-d', k3);
    expect(again.status).toBe('active');
  });
});
