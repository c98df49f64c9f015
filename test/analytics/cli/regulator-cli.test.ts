/**
 * The regulators' command-line client as child processes against the service over HTTP (real
 * database, a SoftHSM token per regulator): init creates the keys (signing key inside the token,
 * encryption key sealed by it) and prints the public keys; three regulators run keygen as CLI
 * processes alongside two in-process ones in a 3-of-5 key set, one of which cheats a CLI
 * regulator, whose complaint disqualifies it; keygen re-runs idempotently; partial decryptions
 * from the sealed shares of three CLI regulators decrypt a ciphertext under a slot key and two do
 * not; a share file moved to another slot does not open; tasks / approve / decrypt take a
 * computation task through the task routes to its released total; the state folders and all
 * outputs hold no share or key in plaintext; usage errors exit 2.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import {
  G,
  QuorumNotReachedError,
  combinePartialDecryptions,
  decodePartialDecryption,
  encodeCiphertext,
  encrypt,
} from '../../../src/analytics/crypto/index.js';
import { FEATURE_SLOTS, featureVector } from '../../../src/analytics/features.js';
import { AnalyticsKeyService } from '../../../src/analytics/regulators/index.js';
import { runKeygen } from '../../../src/analytics/cli/regulator-protocol.js';
import { QueueService } from '../../../src/queue/queue.service.js';
import { ensureLocalToken } from '../../../src/hsm/local-token.js';
import { buildEntryPoints } from '../../support/build-entry-points.js';
import { backend, bearer, createKeySet, memoryRegulator, openAnalyticsApp, type AnalyticsApp, type MemoryRegulator } from '../regulators/support.js';

const ENTRY = 'src/analytics/cli/regulator.ts';
const UNSEAL_SCRIPT = 'test/analytics/cli/unseal-shares.ts';
const CLI_REGS = ['cli-a', 'cli-b', 'cli-c'];
const MEM_REGS = ['mem-d', 'mem-e'];

let c: AnalyticsApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
let scratch: string;
const outputs: string[] = [];
const homes: Record<string, { state: string; env: Record<string, string> }> = {};
const mem: Record<string, MemoryRegulator> = {};

interface Run { code: number; stdout: string; stderr: string }

function node(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', ...env }, timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

const cli = (who: string, args: string[], extra: Record<string, string> = {}) => node(build.js(ENTRY), args, { ...homes[who]!.env, ...extra });

/** Polls the task until it reaches `status` (the aggregation and combination run as queued jobs). */
async function waitForStatus(taskId: string, status: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await request(c.server).get(`/analytics/tasks/${taskId}`).set(bearer(c.keys['cli-a']!))).body.status;
    if (seen === status) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`task ${taskId} is ${seen}, not ${status}, after ${timeoutMs} ms`);
}

beforeAll(async () => {
  [c, build] = await Promise.all([openAnalyticsApp([...CLI_REGS, ...MEM_REGS]), buildEntryPoints([ENTRY, UNSEAL_SCRIPT], 'regulator-cli-')]);
  await c.app.get(QueueService).startWorkers();
  scratch = fs.mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), 'regulator-cli-'));
  for (const name of CLI_REGS) {
    const hsmDir = path.join(scratch, name, 'hsm');
    fs.mkdirSync(hsmDir, { recursive: true });
    const token = ensureLocalToken({ dir: hsmDir, label: `regulator-${name}` });
    const state = path.join(scratch, name, 'state');
    homes[name] = {
      state,
      env: {
        REGULATOR_STATE: state,
        REGULATOR_API_URL: c.url,
        REGULATOR_API_KEY: c.keys[name]!,
        SOFTHSM2_CONF: token.confPath,
        HSM_TOKEN_LABEL: token.label,
        HSM_PIN: token.pin,
      },
    };
  }
  for (const name of MEM_REGS) mem[name] = memoryRegulator(name);
}, 240_000);

afterAll(async () => {
  await c?.close();
  build?.remove();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const register = (body: Record<string, string>) => request(c.server).post('/analytics/regulators').set(bearer(c.adminKey)).send(body);

let keySetId: string;
const sealed: Record<string, { shares: Record<string, string>; partial: unknown; encryptionSecret: string }> = {};

describe(`regulator command-line client (${backend})`, () => {
  it('init creates the keys in the state folder and prints the public keys; the admin registers them', async () => {
    for (const name of CLI_REGS) {
      const r = await cli(name, ['init', '--name', name]);
      expect(r.code).toBe(0);
      const signingKey = /signingKey:\s+(0[23][0-9a-f]{64})/.exec(r.stdout)?.[1];
      const encryptionKey = /encryptionKey:\s+(0[23][0-9a-f]{64})/.exec(r.stdout)?.[1];
      expect(signingKey).toBeDefined();
      expect(encryptionKey).toBeDefined();
      expect(r.stdout).toContain('signingCurve:  p256');
      const file = path.join(homes[name]!.state, 'regulator.json');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect((await register({ name, principal: name, signingCurve: 'p256', signingKey: signingKey!, encryptionKey: encryptionKey! })).status).toBe(201);
    }
    for (const name of MEM_REGS) {
      const m = mem[name]!;
      expect((await register({ name, principal: name, signingCurve: 'p256', signingKey: m.signingKey, encryptionKey: m.encryptionKey })).status).toBe(201);
    }
    // A state folder holds one regulator: init never overwrites it.
    const again = await cli('cli-a', ['init', '--name', 'cli-a']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const usage = await cli('cli-a', ['init']);
    expect(usage.code).toBe(2);
    expect((await cli('cli-a', ['keygen', 'not-a-uuid'])).code).toBe(2);
    expect((await cli('cli-a', ['frobnicate'])).code).toBe(2);
  });

  it('three CLI regulators and two in-process ones run a 3-of-5 key set; a cheating dealer is named by the CLI and disqualified', async () => {
    const res = await createKeySet(c, 3, [...CLI_REGS, ...MEM_REGS]);
    expect(res.status).toBe(201);
    keySetId = res.body.id;
    // mem-d (index 4) sends cli-a (index 1) a wrong share of the amount slot key.
    const cheat = (slot: string, s: { recipient: number; share: bigint }) => (slot === 'amount' && s.recipient === 1 ? s.share + 7n : s.share);
    const [runs] = await Promise.all([
      Promise.all(CLI_REGS.map((n) => cli(n, ['keygen', keySetId, '--interval', '0.3', '--timeout', '150']))),
      Promise.all(MEM_REGS.map((n) => runKeygen(c.api(n), mem[n]!, mem[n]!, keySetId, { intervalSeconds: 0.3, timeoutSeconds: 150, alterShare: n === 'mem-d' ? cheat : undefined }))),
    ]);
    for (const r of runs) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`key set ${keySetId} is active: 3-of-5`);
      expect(r.stdout).toContain(`key shares sealed for ${FEATURE_SLOTS.length} slots`);
    }
    expect(runs[0]!.stdout).toContain('complaint(s): amount: dealer 4');
    expect(runs[0]!.stdout).toMatch(/amount\s+qualified 1,2,3,5\s+complaints: 1->4/);
    const ks = (await request(c.server).get(`/analytics/key-sets/${keySetId}`).set(bearer(c.adminKey))).body;
    expect(ks.status).toBe('active');
    expect(ks.slots.find((s: { slot: string }) => s.slot === 'amount').publicKey.qualified).toEqual([1, 2, 3, 5]);
    for (const name of CLI_REGS) {
      for (const slot of FEATURE_SLOTS) {
        const file = path.join(homes[name]!.state, 'shares', keySetId, `${slot}.json`);
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      }
    }
  }, 200_000);

  it('keygen re-runs idempotently', async () => {
    const r = await cli('cli-b', ['keygen', keySetId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('deal already recorded');
    expect(r.stdout).toContain('key shares already sealed');
  });

  it('three sealed shares decrypt a ciphertext under a slot key; two do not', async () => {
    const active = (await c.app.get(AnalyticsKeyService).activeKeySet())!;
    expect(active.id).toBe(keySetId);
    const key = active.slots.amount;
    const ct = encrypt(1_234_567n, key.groupPublicKey);
    const context = `analytics-task:cli-test:amount`;
    for (const name of CLI_REGS) {
      const r = await node(build.js(UNSEAL_SCRIPT), [keySetId, JSON.stringify([...FEATURE_SLOTS]), JSON.stringify(encodeCiphertext(ct)), context], homes[name]!.env);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      sealed[name] = JSON.parse(r.stdout);
      outputs.pop();
      outputs.pop(); // the unsealing script's own output holds the secrets on purpose: not part of the scan below
    }
    const partials = CLI_REGS.map((n) => decodePartialDecryption(sealed[n]!.partial));
    const result = combinePartialDecryptions(ct, partials, key, context);
    expect(result.plaintextPoint.equals(G.multiply(1_234_567n))).toBe(true);
    expect(result.used).toEqual([1, 2, 3]);
    expect(() => combinePartialDecryptions(ct, partials.slice(0, 2), key, context)).toThrow(QuorumNotReachedError);
    // A partial bound to another context (task) is rejected.
    expect(() => combinePartialDecryptions(ct, partials, key, 'analytics-task:other:amount')).toThrow(QuorumNotReachedError);
  });

  it('a share file moved to another slot does not open', async () => {
    const dir = path.join(homes['cli-c']!.state, 'shares', keySetId);
    fs.copyFileSync(path.join(dir, 'bucket0.json'), path.join(scratch, 'bucket0.backup'));
    const moved = JSON.parse(fs.readFileSync(path.join(dir, 'amount.json'), 'utf8'));
    moved.slot = 'bucket0';
    moved.publicKey = JSON.parse(fs.readFileSync(path.join(dir, 'bucket0.json'), 'utf8')).publicKey;
    fs.writeFileSync(path.join(dir, 'bucket0.json'), JSON.stringify(moved));
    const ct = encrypt(1n, (await c.app.get(AnalyticsKeyService).activeKeySet())!.slots.bucket0.groupPublicKey);
    const r = await node(build.js(UNSEAL_SCRIPT), [keySetId, JSON.stringify(['bucket0']), JSON.stringify(encodeCiphertext(ct)), 'x'], homes['cli-c']!.env);
    outputs.pop();
    outputs.pop();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/EnvelopeError|different context/);
    fs.copyFileSync(path.join(scratch, 'bucket0.backup'), path.join(dir, 'bucket0.json'));
  });

  it('tasks, approve and decrypt drive a computation task to its released total through the task routes', async () => {
    // Payment rows as the payments route stores them, ciphertexts under the active slot keys. The
    // route's Groth16 proof is not what this test is about, so the rows are inserted directly.
    const active = (await c.app.get(AnalyticsKeyService).activeKeySet())!;
    const amounts = [1200n, 9500n, 20n, 700n, 15000n, 3333n];
    const occurred = new Date(Date.now() - 3600_000);
    for (const [i, amount] of amounts.entries()) {
      const values = featureVector({ amount, crossBorder: i % 2 === 0 });
      const ciphertexts = FEATURE_SLOTS.map((slot, k) => encodeCiphertext(encrypt(values[k]!, active.slots[slot].groupPublicKey)));
      await c.ds.query(
        `INSERT INTO analytics_payment (payer, payee, occurred_at, reference, commitment, binding, ciphertexts, ciphertexts_hash, proof, key_set_id, submitted_by)
         VALUES ($1, $2, $3, $4, '1', '1', $5, $6, '{}', $7, 'test')`,
        [`acct_${'0'.repeat(7)}${i}`, 'acct_ffffffff', occurred, `ref-${i}`, JSON.stringify(ciphertexts), 'ab'.repeat(32), keySetId],
      );
    }
    const window = { from: new Date(occurred.getTime() - 60_000).toISOString(), to: new Date(occurred.getTime() + 60_000).toISOString() };
    const defined = await request(c.server).post('/analytics/tasks').set(bearer(c.keys['mem-d']!)).send({ kind: 'sum', slot: 'amount', window });
    expect(defined.status).toBe(201);
    const taskId: string = defined.body.id;

    const listed = await cli('cli-a', ['tasks']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+DIGEST/);
    expect(listed.stdout).toContain(taskId);
    // Nothing to decrypt before the quorum has approved.
    const early = await cli('cli-a', ['decrypt', taskId]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('not decrypting');
    // A server (or a proxy in between) showing a digest that does not match the definition: refused, nothing signed or sent.
    const proxy = http.createServer((req, res) => {
      const up = http.request(new URL(req.url!, c.url), { method: req.method, headers: req.headers }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (d: Buffer) => chunks.push(d));
        upRes.on('end', () => {
          let body = Buffer.concat(chunks).toString();
          if (req.method === 'GET' && upRes.statusCode === 200) body = body.replace(/"digest":"[0-9a-fx]+"/g, `"digest":"${'ab'.repeat(32)}"`);
          res.writeHead(upRes.statusCode!, { ...upRes.headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = await cli('cli-a', ['approve', taskId], { REGULATOR_API_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      expect(viaProxy.code).toBe(1);
      expect(viaProxy.stderr).toContain('does not match the definition; nothing signed');
    } finally {
      proxy.close();
    }
    expect((await request(c.server).get(`/analytics/tasks/${taskId}`).set(bearer(c.keys['cli-a']!))).body.approvals).toEqual([]);
    for (const name of CLI_REGS) {
      const r = await cli(name, ['approve', taskId]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`${defined.body.digest.replace(/^0x/, '')} (recomputed here)`);
    }
    const again = await cli('cli-a', ['approve', taskId]);
    expect(again.code).toBe(1);
    // The quorum's approval enqueued the aggregation job; the workers of this app run it.
    await waitForStatus(taskId, 'decrypting');
    for (const name of ['cli-a', 'cli-b']) {
      const r = await cli(name, ['decrypt', taskId]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    }
    const afterTwo = await request(c.server).get(`/analytics/tasks/${taskId}`).set(bearer(c.keys['cli-a']!));
    expect(afterTwo.body.status).toBe('decrypting');
    const third = await cli('cli-c', ['decrypt', taskId]);
    expect({ code: third.code, stderr: third.stderr }).toEqual({ code: 0, stderr: '' });
    await waitForStatus(taskId, 'released');
    const result = await request(c.server).get(`/analytics/tasks/${taskId}/result`).set(bearer(c.keys['cli-b']!));
    expect(result.status).toBe(200);
    expect(JSON.stringify(result.body.result)).toContain(`"value":"${amounts.reduce((a, b) => a + b, 0n)}"`);
  }, 200_000);

  it('the state folders and every client output hold no share and no secret key in plaintext', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else files.push(path.join(d, e.name));
      }
    };
    for (const name of CLI_REGS) walk(homes[name]!.state);
    expect(files.length).toBeGreaterThanOrEqual(CLI_REGS.length * (1 + FEATURE_SLOTS.length));
    const haystack = [...files.map((f) => fs.readFileSync(f).toString('latin1')), ...outputs].join('\n').toLowerCase();
    let needles = 0;
    for (const name of CLI_REGS) {
      for (const decimal of Object.values(sealed[name]!.shares)) {
        const hex = BigInt(decimal).toString(16);
        for (const needle of [decimal, hex, hex.padStart(64, '0'), Buffer.from(hex.padStart(64, '0'), 'hex').toString('base64').toLowerCase()]) {
          expect(haystack.includes(needle)).toBe(false);
          needles++;
        }
      }
      expect(haystack.includes(sealed[name]!.encryptionSecret)).toBe(false);
    }
    expect(needles).toBe(CLI_REGS.length * FEATURE_SLOTS.length * 4);
  });
});
