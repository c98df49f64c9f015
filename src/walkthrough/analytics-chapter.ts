/**
 * Walkthrough chapter: regulator analytics over encrypted payments. Five regulators, each with
 * its own command-line client and its own HSM token, run a 3-of-5 key ceremony (one DKG per
 * feature slot); a wallet app proves and submits payments whose features are encrypted under
 * the slot keys; one regulator defines a structuring task, three approve it and return partial
 * decryptions, and the flagged payers come out without any single payment being decrypted.
 * Then a sum task shows that fewer than three regulators' partials decrypt nothing.
 *
 * The regulators' tokens and state folders live in a temporary folder removed at the end: the
 * walkthrough plays all five regulators, who in production each run the client on their own
 * machine.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { ensureLocalToken } from '../hsm/local-token.js';
import { decodeThresholdPublicKey } from '../analytics/crypto/index.js';
import { FEATURE_SLOTS, JUST_UNDER_THRESHOLD_BUCKET, amountBucket } from '../analytics/features.js';
import { paymentBinding, provePayment } from '../analytics/payment/index.js';
import { http, type HttpResult } from './http.js';
import type { ChapterContext } from './chapters.js';

const run = promisify(execFile);

function expectStatus(r: HttpResult, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
}

/** The regulator client next to this module in the build (dist/src/analytics/cli/regulator.js). */
function regulatorCli(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const cli = path.resolve(here, '../analytics/cli/regulator.js');
  if (!existsSync(cli)) throw new Error(`the regulator client ${cli} is not built (npm run build)`);
  return cli;
}

interface Regulator {
  name: string;
  apiKey: string;
  env: NodeJS.ProcessEnv;
}

async function cli(r: Regulator, args: string[], timeoutMs = 180_000): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [regulatorCli(), ...args], { env: r.env, timeout: timeoutMs, maxBuffer: 4 << 20 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`regulator ${r.name} ${args[0]}: ${(err.stderr || err.message).trim()}`);
  }
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still not done after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface DemoPayment {
  payer: string;
  payee: string;
  amount: bigint;
  crossBorder: boolean;
}

export async function analyticsChapter(ctx: ChapterContext): Promise<void> {
  const { app, baseUrl, log, adminKey, walletKey, section } = ctx;
  section('6. analytics: five regulators, threshold slot keys, encrypted payments, a structuring task');

  const work = mkdtempSync(path.join(os.tmpdir(), 'privacy-service-regulators-'));
  try {
    // Five regulators: principals with API keys; each client creates its keys inside its own token.
    const auth = app.get(AuthService);
    const suffix = Date.now().toString(36);
    const regulators: Regulator[] = [];
    for (const letter of ['a', 'b', 'c', 'd', 'e']) {
      const name = `reg-${letter}-${suffix}`;
      await auth.createPrincipal(name, 'regulator', 'embedded-walkthrough');
      const apiKey = (await auth.issueKey(name, 'embedded-walkthrough')).key;
      const token = ensureLocalToken({ dir: path.join(work, name, 'hsm'), label: `regulator-${letter}` });
      const env = {
        ...process.env,
        SOFTHSM2_CONF: token.confPath,
        HSM_TOKEN_LABEL: token.label,
        HSM_PIN: token.pin,
        REGULATOR_STATE: path.join(work, name, 'state'),
        REGULATOR_API_URL: baseUrl,
        REGULATOR_API_KEY: apiKey,
      };
      const r = { name, apiKey, env };
      const out = await cli(r, ['init', '--name', name]);
      const field = (k: string) => new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '';
      const reg = await http(baseUrl, 'POST', '/analytics/regulators', {
        key: adminKey,
        body: { name, principal: name, signingCurve: field('signingCurve'), signingKey: field('signingKey'), encryptionKey: field('encryptionKey') },
      });
      expectStatus(reg, 201, `register regulator ${name}`);
      regulators.push(r);
    }
    log(`  5 regulators registered (${regulators.map((r) => r.name).join(', ')}); each client made its signing and encryption keys inside its own SoftHSM token`);

    // The key ceremony: one joint-Feldman DKG per slot, the service only relays public data.
    let t = Date.now();
    const ks = await http(baseUrl, 'POST', '/analytics/key-sets', { key: adminKey, body: { threshold: 3, regulators: regulators.map((r) => r.name) } });
    expectStatus(ks, 201, 'create key set');
    await Promise.all(regulators.map((r) => cli(r, ['keygen', ks.body.id, '--interval', '0.25'])));
    const keySet = await http(baseUrl, 'GET', `/analytics/key-sets/${ks.body.id}`, { key: adminKey });
    expectStatus(keySet, 200, 'get key set');
    if (keySet.body.status !== 'active') throw new Error(`key set ${ks.body.id} is ${keySet.body.status}: ${keySet.body.reason}`);
    log(`  key ceremony ${ks.body.id}: 3-of-5, ${FEATURE_SLOTS.length} independent slot keys, active after ${Date.now() - t} ms; every client sealed its shares with its token`);
    // The wallet app reads the slot keys from the public endpoint (public data: no key needed).
    const active = await http(baseUrl, 'GET', '/analytics/key-sets/active');
    expectStatus(active, 200, 'active key set');
    if (active.body.id !== ks.body.id) throw new Error(`the active key set is ${active.body.id}, not ${ks.body.id}`);
    const slotKeys = FEATURE_SLOTS.map((slot) => decodeThresholdPublicKey(active.body.slots.find((s: { slot: string }) => s.slot === slot).publicKey).groupPublicKey);

    // Payments: the wallet app encrypts each payment's features and proves them (client side).
    const acct = () => `acct_${randomBytes(8).toString('hex')}`;
    const [structurer, ordinary, merchant] = [acct(), acct(), acct()];
    const payments: DemoPayment[] = [
      ...[9_100n, 9_450n, 9_800n, 9_950n, 9_300n].map((amount) => ({ payer: structurer, payee: merchant, amount, crossBorder: true })),
      ...[120n, 4_500n, 9_200n, 15_000n, 700n].map((amount, i) => ({ payer: ordinary, payee: merchant, amount, crossBorder: i === 3 })),
    ];
    const windowFrom = new Date(Date.now() - 60_000).toISOString();
    t = Date.now();
    for (const [i, p] of payments.entries()) {
      const occurredAt = new Date().toISOString();
      const reference = `walkthrough-${suffix}-${i}`;
      const binding = paymentBinding({ payer: p.payer, payee: p.payee, timestamp: occurredAt, reference });
      const proved = await provePayment({ amount: p.amount, crossBorder: p.crossBorder, binding, slotKeys });
      const sent = await http(baseUrl, 'POST', '/analytics/payments', {
        key: walletKey,
        body: {
          payer: p.payer,
          payee: p.payee,
          occurredAt,
          reference,
          commitment: proved.commitment.toString(),
          ciphertexts: proved.ciphertexts.map((c) => ({ c1: [c.c1.toAffine().x.toString(), c.c1.toAffine().y.toString()], c2: [c.c2.toAffine().x.toString(), c.c2.toAffine().y.toString()] })),
          proof: proved.proof,
        },
      });
      expectStatus(sent, 201, `payment ${i}`);
    }
    log(`  ${payments.length} payments proven by the wallet app and recorded (${Math.round((Date.now() - t) / payments.length)} ms each, mostly proving):`);
    log(`    stored: commitment, 6 ciphertexts, Groth16 proof; the service verified the proof against the slot keys and never saw an amount`);

    // What a plaintext recomputation would give (the walkthrough knows the amounts, as the wallet does).
    const underThreshold = new Map<string, number>();
    for (const p of payments) if (amountBucket(p.amount) === JUST_UNDER_THRESHOLD_BUCKET) underThreshold.set(p.payer, (underThreshold.get(p.payer) ?? 0) + 1);
    const plaintextTotal = payments.reduce((s, p) => s + p.amount, 0n);

    // A structuring task: defined by one regulator, approved by three, decrypted by three.
    const [ra, rb, rc, rd, re] = regulators as [Regulator, Regulator, Regulator, Regulator, Regulator];
    const windowTo = new Date().toISOString();
    const N = 3;
    const task = await http(baseUrl, 'POST', '/analytics/tasks', {
      key: ra.apiKey,
      body: { kind: 'structuring', window: { from: windowFrom, to: windowTo }, threshold: N },
    });
    expectStatus(task, 201, 'define structuring task');
    log(`  ${ra.name} defines task ${task.body.id}: payers with more than ${N} payments just under the reporting threshold`);
    t = Date.now();
    for (const r of [ra, rb, rc]) await cli(r, ['approve', task.body.id]);
    log(`  ${ra.name}, ${rb.name}, ${rc.name} each recompute the digest and sign it (3 of 5 approvals)`);
    const taskUrl = `/analytics/tasks/${task.body.id}`;
    const decrypting = await waitFor('aggregation', () => http(baseUrl, 'GET', taskUrl, { key: ra.apiKey }), (r) => r.body.status !== 'approved' && r.body.status !== 'aggregating');
    expectStatus(decrypting, 200, 'get task');
    log(`  the service sums the ciphertexts per payer (${decrypting.body.aggregates?.length ?? 0} aggregate(s), groups under the minimum cohort suppressed): ${decrypting.body.status}`);
    for (const r of [ra, rb, rc]) await cli(r, ['decrypt', task.body.id]);
    await waitFor('release', () => http(baseUrl, 'GET', taskUrl, { key: ra.apiKey }), (r) => r.body.status === 'released');
    const result = await http(baseUrl, 'GET', `${taskUrl}/result`, { key: ra.apiKey });
    expectStatus(result, 200, 'task result');
    log(`  3 partial decryptions with Chaum-Pedersen proofs combined in ${Date.now() - t} ms; result released to the approvers:`);
    log(`    ${JSON.stringify(result.body.result ?? result.body)}`);
    const expectedFlagged = [...underThreshold].filter(([, n]) => n > N).map(([payer]) => payer);
    log(`  plaintext recomputation flags: ${expectedFlagged.join(', ') || 'nobody'} (${underThreshold.get(structurer) ?? 0} payments of ${structurer} just under the threshold)`);
    const forbidden = await http(baseUrl, 'GET', `${taskUrl}/result`, { key: rd.apiKey });
    log(`  ${rd.name} did not approve: GET result -> ${forbidden.status} ${forbidden.body.detail ?? ''}`);

    // A sum over the same payments: one, then two regulators' partials decrypt nothing.
    const sumTask = await http(baseUrl, 'POST', '/analytics/tasks', {
      key: rd.apiKey,
      body: { kind: 'sum', slot: 'amount', window: { from: windowFrom, to: windowTo } },
    });
    expectStatus(sumTask, 201, 'define sum task');
    for (const r of [rd, re, rb]) await cli(r, ['approve', sumTask.body.id]);
    const sumUrl = `/analytics/tasks/${sumTask.body.id}`;
    await waitFor('aggregation', () => http(baseUrl, 'GET', sumUrl, { key: rd.apiKey }), (r) => r.body.status === 'decrypting');
    await cli(rd, ['decrypt', sumTask.body.id]);
    const one = await http(baseUrl, 'GET', `${sumUrl}/result`, { key: rd.apiKey });
    log(`  sum task ${sumTask.body.id} approved by ${rd.name}, ${re.name}, ${rb.name}; only ${rd.name} decrypts -> GET result ${one.status}: ${one.body.detail ?? one.body.status}`);
    await cli(re, ['decrypt', sumTask.body.id]);
    const two = await http(baseUrl, 'GET', `${sumUrl}/result`, { key: rd.apiKey });
    log(`  ${re.name} adds its partials (2 of 3) -> GET result ${two.status}: ${two.body.detail ?? two.body.status}`);
    await cli(rb, ['decrypt', sumTask.body.id]);
    await waitFor('release', () => http(baseUrl, 'GET', sumUrl, { key: rd.apiKey }), (r) => r.body.status === 'released');
    const total = await http(baseUrl, 'GET', `${sumUrl}/result`, { key: rd.apiKey });
    expectStatus(total, 200, 'sum result');
    log(`  ${rb.name} adds the third -> released: ${JSON.stringify(total.body.result ?? total.body)} (plaintext total ${plaintextTotal})`);

    const events = await app.get(AuditService).store.eventsOfSubject(`analytics-task:${task.body.id}`);
    log(`  audit events of the structuring task:`);
    for (const e of events) log(`    #${String(e.seq).padEnd(4)} ${e.type.padEnd(36)} by ${e.actor}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
