/**
 * Proving and verification over HTTP against real parts (database, SoftHSM token, Hardhat
 * node, the committed circuits): the service's proofs verify with the snarkjs CLI and with
 * POST /zk/verify; an eligibility proof is accepted once per scope even under 100 concurrent
 * verifications; bad input gets the right problem and stores nothing; a queued proof runs end
 * to end with its input sealed and then deleted; the wallet SDK's client-side proof verifies.
 * Proofs made: 2 balance and 2 eligibility in the service, 1 eligibility in the SDK.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../../src/config/config.js';
import { createApp } from '../../../src/app.js';
import { AuthService } from '../../../src/auth/auth.service.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import { commitment, FIELD_MODULUS } from '../../../src/zk/circuit-inputs.js';
import { circuitArtifacts } from '../../../src/zk/proving/prover-pool.js';
import { proveEligibility, WalletClient } from '../../../src/zk/sdk/index.js';
import { verifyWithCli } from './support.js';

let app: NestExpressApplication;
let ds: DataSource;
let baseUrl: string;
const keys: Record<'admin' | 'alice' | 'bob', string> = { admin: '', alice: '', bob: '' };

const IDENTITY_SECRET = '918273645546372819';
const ACCOUNT_SECRET = '192837465564738291';
const BALANCE = 1_000_000n;
let identityId: string;
let accountId: string;

const http = () => request(baseUrl);
const as = (who: keyof typeof keys) => ({ authorization: `Bearer ${keys[who]}` });

const problem = (res: request.Response, status: number, detail?: RegExp) => {
  expect({ status: res.status, body: res.body }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (detail) expect(res.body.detail).toMatch(detail);
};

/** Rows that a refused request must not have added. */
async function stored(): Promise<{ jobs: number; nullifiers: number; zkEvents: number }> {
  const [j] = await ds.query(`SELECT count(*)::int AS n FROM zk_proof_job`);
  const [n] = await ds.query(`SELECT count(*)::int AS n FROM zk_nullifier`);
  const [e] = await ds.query(`SELECT count(*)::int AS n FROM audit_event WHERE type LIKE 'zk.proof.%'`);
  return { jobs: Number(j.n), nullifiers: Number(n.n), zkEvents: Number(e.n) };
}

beforeAll(async () => {
  const config = loadConfig({ ...process.env, DATA_DIR: path.join(process.env.TEST_SCRATCH_DIR!, 'zk-proof-api') });
  app = await createApp(config, { quiet: true });
  await app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  ds = app.get(DataSource);
  const auth = app.get(AuthService);
  const tag = Date.now().toString(36);
  for (const [who, role] of [['admin', 'admin'], ['alice', 'wallet-app'], ['bob', 'wallet-app']] as const) {
    await auth.createPrincipal(`${who}-${tag}`, role);
    keys[who] = (await auth.issueKey(`${who}-${tag}`)).key;
  }
  await app.get(QueueService).startWorkers();

  const enrol = await http()
    .post('/zk/identities')
    .set(as('alice'))
    .send({ commitment: (await commitment(IDENTITY_SECRET)).toString(), birthDate: 19900517, jurisdiction: 276 })
    .expect(201);
  identityId = enrol.body.id;
  const account = await http().post('/zk/accounts').set(as('alice')).send({ commitment: (await commitment(ACCOUNT_SECRET)).toString() }).expect(201);
  accountId = account.body.id;
  await http().put(`/zk/accounts/${accountId}/balance`).set(as('admin')).send({ balance: BALANCE.toString() }).expect(200);
  await http().post('/zk/epochs').set(as('admin')).expect(201);
});

afterAll(async () => {
  await app?.close();
});

let balanceProof: { proof: Record<string, unknown>; publicSignals: string[] };
let eligibilityProof: { proof: Record<string, unknown>; publicSignals: string[] };
const BALANCE_CHALLENGE = '4242';
const ELIGIBILITY_CHALLENGE = '777001';
const SCOPE = '31337';

const verifyBody = (circuit: string, p: { proof: unknown; publicSignals: unknown }, expect: Record<string, unknown>) => ({
  circuit,
  proof: p.proof,
  publicSignals: p.publicSignals,
  expect,
});

describe('proofs from the service', () => {
  it('balance: the proof verifies with the snarkjs CLI and POST /zk/verify; the audit event holds public signals only', async () => {
    const res = await http()
      .post('/zk/proofs/balance')
      .set(as('alice'))
      .send({ accountId, accountSecret: ACCOUNT_SECRET, threshold: '500000', challenge: BALANCE_CHALLENGE })
      .expect(200);
    expect(res.body).toMatchObject({ circuit: 'balance', verificationKeyUrl: '/zk/circuits/balance/verification-key' });
    expect(res.body.publicSignals.slice(1)).toEqual(['500000', BALANCE_CHALLENGE]);
    expect(JSON.stringify(res.body)).not.toContain(ACCOUNT_SECRET);
    balanceProof = res.body;
    expect(await verifyWithCli('balance', res.body.proof, res.body.publicSignals)).toBe(true);

    const vkey = await http().get('/zk/circuits/balance/verification-key').expect(200);
    expect(vkey.body).toMatchObject({ protocol: 'groth16', curve: 'bn128', nPublic: 3 });

    const ok = await http()
      .post('/zk/verify')
      .send(verifyBody('balance', balanceProof, { challenge: BALANCE_CHALLENGE, threshold: '400000' }))
      .expect(200);
    expect(ok.body).toMatchObject({ valid: true, circuit: 'balance', threshold: '500000', challenge: BALANCE_CHALLENGE });

    const events: { body: unknown }[] = await ds.query(`SELECT body FROM audit_event WHERE type = 'zk.proof.issued' AND subject = $1`, [accountId]);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(ACCOUNT_SECRET);
    expect(JSON.stringify(events)).toContain(balanceProof.publicSignals[0]);
  });

  it('eligibility: 100 concurrent verifications of one proof accept exactly one', async () => {
    const res = await http()
      .post('/zk/proofs/eligibility')
      .set(as('alice'))
      .send({ identityId, identitySecret: IDENTITY_SECRET, minAge: 18, denylist: [408, 364], scope: SCOPE, challenge: ELIGIBILITY_CHALLENGE })
      .expect(200);
    eligibilityProof = res.body;
    expect(res.body.publicSignals).toHaveLength(14);
    expect(JSON.stringify(res.body)).not.toContain(IDENTITY_SECRET);
    expect(await verifyWithCli('eligibility', res.body.proof, res.body.publicSignals)).toBe(true);

    const before = await stored();
    const body = verifyBody('eligibility', eligibilityProof, { challenge: ELIGIBILITY_CHALLENGE, scope: SCOPE, minAge: 18, denylist: [408] });
    const answers = await Promise.all(Array.from({ length: 100 }, () => http().post('/zk/verify').send(body)));
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 409 && a.body.detail === 'nullifier already used for this scope');
    expect({ accepted: accepted.length, refused: refused.length }).toEqual({ accepted: 1, refused: 99 });
    expect(accepted[0]!.body).toMatchObject({ valid: true, nullifier: eligibilityProof.publicSignals[0], scope: SCOPE });
    const after = await stored();
    expect(after.nullifiers - before.nullifiers).toBe(1);
    const [verified] = await ds.query(`SELECT count(*)::int AS n FROM audit_event WHERE type = 'zk.proof.verified' AND body->>'nullifier' = $1`, [
      eligibilityProof.publicSignals[0],
    ]);
    expect(Number(verified.n)).toBe(1);
  });
});

describe('bad input: the right problem, nothing stored', () => {
  let before: Awaited<ReturnType<typeof stored>>;
  beforeEach(async () => {
    before = await stored();
  });
  afterEach(async () => {
    expect(await stored()).toEqual(before);
  });

  it('a malformed proof', async () => {
    const proof = { ...balanceProof.proof, pi_a: ['1', '2'] };
    const res = await http().post('/zk/verify').send(verifyBody('balance', { proof, publicSignals: balanceProof.publicSignals }, { challenge: BALANCE_CHALLENGE }));
    problem(res, 422, /^malformed proof: pi_a/);
    const notDecimal = { ...balanceProof.proof, pi_c: ['0x01', '2', '1'] };
    problem(await http().post('/zk/verify').send(verifyBody('balance', { proof: notDecimal, publicSignals: balanceProof.publicSignals }, { challenge: BALANCE_CHALLENGE })), 422, /^malformed proof/);
  });

  it('a public signal >= p, and a wrong number of signals', async () => {
    const signals = [...balanceProof.publicSignals];
    signals[2] = (BigInt(BALANCE_CHALLENGE) + FIELD_MODULUS).toString();
    problem(await http().post('/zk/verify').send(verifyBody('balance', { proof: balanceProof.proof, publicSignals: signals }, { challenge: BALANCE_CHALLENGE })), 422, /not a canonical field element/);
    problem(await http().post('/zk/verify').send(verifyBody('eligibility', balanceProof, { challenge: BALANCE_CHALLENGE })), 422, /expected 14 signals/);
  });

  it('an unknown root', async () => {
    const signals = ['12345', ...balanceProof.publicSignals.slice(1)];
    problem(await http().post('/zk/verify').send(verifyBody('balance', { proof: balanceProof.proof, publicSignals: signals }, { challenge: BALANCE_CHALLENGE })), 422, /unknown or expired root/);
  });

  it('a wrong challenge, a policy mismatch, a tampered signal', async () => {
    problem(await http().post('/zk/verify').send(verifyBody('balance', balanceProof, { challenge: '4243' })), 422, /challenge mismatch/);
    problem(await http().post('/zk/verify').send(verifyBody('balance', balanceProof, { challenge: BALANCE_CHALLENGE, threshold: '600000' })), 422, /policy mismatch/);
    const signals = [balanceProof.publicSignals[0]!, '1', BALANCE_CHALLENGE];
    problem(await http().post('/zk/verify').send(verifyBody('balance', { proof: balanceProof.proof, publicSignals: signals }, { challenge: BALANCE_CHALLENGE })), 422, /invalid proof/);
  });

  it('a reused nullifier', async () => {
    const body = verifyBody('eligibility', eligibilityProof, { challenge: ELIGIBILITY_CHALLENGE, scope: SCOPE });
    problem(await http().post('/zk/verify').send(body), 409, /^nullifier already used for this scope$/);
  });

  it('a threshold above 2^64-1', async () => {
    const res = await http()
      .post('/zk/proofs/balance')
      .set(as('alice'))
      .send({ accountId, accountSecret: ACCOUNT_SECRET, threshold: (1n << 64n).toString(), challenge: '1' });
    problem(res, 400, /2\^64-1/);
    expect(JSON.stringify(res.body)).not.toContain(ACCOUNT_SECRET);
  });

  it('false statements: below the threshold, too young, a wrong secret (422, no secret in the answer)', async () => {
    const below = await http()
      .post('/zk/proofs/balance')
      .set(as('alice'))
      .send({ accountId, accountSecret: ACCOUNT_SECRET, threshold: (BALANCE + 1n).toString(), challenge: '1' });
    problem(below, 422, /balance is below threshold/);
    const young = await http()
      .post('/zk/proofs/eligibility')
      .set(as('alice'))
      .send({ identityId, identitySecret: IDENTITY_SECRET, minAge: 99, denylist: [], scope: '1', challenge: '1' });
    problem(young, 422, /younger than minAge/);
    const wrong = await http()
      .post('/zk/proofs/eligibility?async=true')
      .set(as('alice'))
      .send({ identityId, identitySecret: '5', minAge: 18, denylist: [], scope: '1', challenge: '1' });
    problem(wrong, 422, /identity secret does not open/);
    for (const r of [below, young, wrong]) {
      expect(JSON.stringify(r.body)).not.toContain(ACCOUNT_SECRET);
      expect(JSON.stringify(r.body)).not.toContain(IDENTITY_SECRET);
    }
  });

  it("someone else's account or identity: 404", async () => {
    problem(
      await http().post('/zk/proofs/balance').set(as('bob')).send({ accountId, accountSecret: ACCOUNT_SECRET, threshold: '1', challenge: '1' }),
      404,
    );
    problem(
      await http()
        .post('/zk/proofs/eligibility?async=true')
        .set(as('bob'))
        .send({ identityId, identitySecret: IDENTITY_SECRET, minAge: 18, denylist: [], scope: '1', challenge: '1' }),
      404,
    );
  });

  it('a revoked identity', async () => {
    const secret = '5550001';
    const enrol = await http()
      .post('/zk/identities')
      .set(as('alice'))
      .send({ commitment: (await commitment(secret)).toString(), birthDate: 19800101, jurisdiction: 250 })
      .expect(201);
    await http().delete(`/zk/identities/${enrol.body.id}`).set(as('admin')).expect(200);
    before = await stored(); // enrolment and revocation are audited by the registry
    const res = await http()
      .post('/zk/proofs/eligibility')
      .set(as('alice'))
      .send({ identityId: enrol.body.id, identitySecret: secret, minAge: 18, denylist: [], scope: '1', challenge: '1' });
    expect([409, 422]).toContain(res.status);
    problem(res, res.status, /revoked/);
  });

  it('validation: bad ids, unknown fields, unknown circuit', async () => {
    problem(await http().post('/zk/proofs/balance').set(as('alice')).send({ accountId: 'x', accountSecret: '1', threshold: '1', challenge: '1' }), 400);
    problem(await http().post('/zk/verify').send({ circuit: 'other', proof: {}, publicSignals: [], expect: { challenge: '1' } }), 400);
    problem(await http().get('/zk/circuits/other/verification-key'), 404);
    problem(await http().get('/zk/proofs/jobs/not-a-uuid').set(as('alice')), 400);
  });
});

describe('queued proofs', () => {
  it('?async=true seals the input, the worker proves, the input is deleted; owner only', async () => {
    const accepted = await http()
      .post('/zk/proofs/balance?async=true')
      .set(as('alice'))
      .send({ accountId, accountSecret: ACCOUNT_SECRET, threshold: '1000000', challenge: '99' })
      .expect(202);
    const jobId: string = accepted.body.jobId;
    expect(accepted.body).toEqual({ jobId, status: 'queued' });
    const [row] = await ds.query(`SELECT sealed_input::text AS sealed FROM zk_proof_job WHERE id = $1`, [jobId]);
    if (row.sealed !== null) {
      expect(row.sealed).not.toContain(ACCOUNT_SECRET); // sealed, unless the worker already ran
      expect(JSON.parse(row.sealed)).toMatchObject({ v: 1, kek: expect.any(String) });
    }
    problem(await http().get(`/zk/proofs/jobs/${jobId}`).set(as('bob')), 404);

    let job: request.Response;
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((r) => setTimeout(r, 500));
      job = await http().get(`/zk/proofs/jobs/${jobId}`).set(as('alice')).expect(200);
    } while (!['done', 'failed'].includes(job.body.status) && Date.now() < deadline);
    expect(job.body).toMatchObject({ id: jobId, circuit: 'balance', status: 'done', verificationKeyUrl: '/zk/circuits/balance/verification-key' });
    const [after] = await ds.query(`SELECT sealed_input FROM zk_proof_job WHERE id = $1`, [jobId]);
    expect(after.sealed_input).toBeNull();
    await http()
      .post('/zk/verify')
      .send(verifyBody('balance', job.body, { challenge: '99', threshold: '1000000' }))
      .expect(200);
    const events: unknown[] = await ds.query(`SELECT body FROM audit_event WHERE type = 'zk.proof.issued' AND body->>'jobId' = $1`, [jobId]);
    expect(events).toHaveLength(1);
  });
});

describe('wallet SDK', () => {
  it('a client-side eligibility proof from the served path verifies through /zk/verify', async () => {
    const wallet = new WalletClient({ baseUrl, apiKey: keys.alice });
    const identityPath = await wallet.fetchIdentityPath(identityId);
    const scope = '8080';
    const proof = await proveEligibility({
      path: identityPath,
      identitySecret: IDENTITY_SECRET,
      birthDate: 19900517,
      jurisdiction: 276,
      minAge: 21,
      denylist: [408],
      scope,
      challenge: '123',
      artifacts: circuitArtifacts('eligibility'),
    });
    const res = await http().post('/zk/verify').send(verifyBody('eligibility', proof, { challenge: '123', scope, minAge: 21 })).expect(200);
    expect(res.body).toMatchObject({ valid: true, scope, minAge: '21' });
    await expect(new WalletClient({ baseUrl, apiKey: keys.bob }).fetchIdentityPath(identityId)).rejects.toMatchObject({ status: 404 });
  });
});
