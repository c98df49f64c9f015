/**
 * The operators' command-line client's `maintenance` commands as a child process against the
 * service over HTTP (real database, real operator keys): list shows a requested reshare; show
 * prints the old and new node set and threshold and the digest recomputed locally; approve --yes by
 * two operators moves the ceremony to approved (running it needs signer node processes: covered by
 * test/custody/maintenance/maintenance.test.ts); a server digest or field altered by a proxy is
 * refused before anything is signed or sent; an operator outside the wallet's policy gets the
 * API's 403 message; reject and follow end a refresh; usage errors exit 2; no private key is printed.
 *
 * The signer nodes are only named here (a reshare request checks its node ids against each
 * configured node's GET /identity), so small HTTP servers answer that one route; nothing is dealt.
 */
import { createPrivateKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { buildEntryPoints } from '../../support/build-entry-points.js';
import { bearer, insertWallet, openCustodyApp, type CustodyApp } from '../service/support.js';

const ENTRY = 'src/custody/cli/operator.ts';
const NODE_IDS = ['node-1', 'node-2', 'node-3', 'node-4'];
const POLICY = { quorum: 2, operators: ['alice', 'bob', 'carol'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: ['0x' + '11'.repeat(20)] };

type Op = 'alice' | 'bob' | 'carol' | 'dave';
interface Run { code: number; stdout: string; stderr: string }

let c: CustodyApp;
let build: Awaited<ReturnType<typeof buildEntryPoints>>;
let url: string;
let dir: string;
const identities: http.Server[] = [];
const outputs: string[] = [];
const secrets: string[] = [];

function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [build.js(ENTRY), ...args],
      { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        outputs.push(stdout, stderr);
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

const as = (op: Op, extra: Record<string, string> = {}) => ({
  OPERATOR_API_URL: url,
  OPERATOR_API_KEY: c.keys[op],
  OPERATOR_NAME: op,
  OPERATOR_KEY_FILE: path.join(dir, `${op}.key`),
  ...extra,
});

/** A proxy in front of the service that rewrites successful GET bodies with `alter`. */
async function withProxy<T>(alter: (body: string) => string, body: (proxyUrl: string) => Promise<T>): Promise<T> {
  const proxy = http.createServer((req, res) => {
    const up = http.request(new URL(req.url!, url), { method: req.method, headers: req.headers }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (d: Buffer) => chunks.push(d));
      upRes.on('end', () => {
        let text = Buffer.concat(chunks).toString();
        if (req.method === 'GET' && upRes.statusCode === 200) text = alter(text);
        res.writeHead(upRes.statusCode!, { ...upRes.headers, 'content-length': String(Buffer.byteLength(text)) }).end(text);
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    return await body(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
}

/** A wallet with a key generation record (what maintenance needs) and a 2-of-3 operator policy. */
async function maintainableWallet(): Promise<{ id: string; address: string }> {
  const wallet = await insertWallet(c.ds);
  await c.ds.query(`UPDATE custody_wallet SET public_package = $2::jsonb WHERE id = $1`, [wallet.id, JSON.stringify({ recordedBy: 'test' })]);
  await request(c.server).put(`/custody/wallets/${wallet.id}/policy`).set(bearer(c.keys.admin)).send(POLICY).expect(200);
  return wallet;
}

const getMaintenance = async (id: string) => (await request(c.server).get(`/custody/maintenance/${id}`).set(bearer(c.keys.admin)).expect(200)).body;

beforeAll(async () => {
  const ports: number[] = [];
  for (const nodeId of NODE_IDS) {
    const s = http.createServer((req, res) => {
      if (req.url === '/identity') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nodeId }));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    identities.push(s);
    ports.push((s.address() as AddressInfo).port);
  }
  [c, build] = await Promise.all([
    openCustodyApp({ CUSTODY_SIGNER_URLS: ports.map((p) => `http://127.0.0.1:${p}`).join(',') }),
    buildEntryPoints([ENTRY], 'operator-maint-cli-'),
  ]);
  await c.app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(c.app.getHttpServer().address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? build.dir, 'operator-maint-keys-'));
  for (const [op, curve] of [['alice', 'secp256k1'], ['bob', 'p256'], ['carol', 'secp256k1'], ['dave', 'p256']] as const) {
    const file = path.join(dir, `${op}.key`);
    const r = await cli(['keygen', '--out', file, '--curve', curve]);
    expect(r.code).toBe(0);
    const publicKey = /publicKey: (0[23][0-9a-f]{64})/.exec(r.stdout)![1];
    const jwk = createPrivateKey(fs.readFileSync(file, 'utf8')).export({ format: 'jwk' });
    secrets.push(Buffer.from(jwk.d!, 'base64url').toString('hex'), fs.readFileSync(file, 'utf8').split('\n')[1]!);
    await request(c.server).post('/custody/operators').set(bearer(c.keys.admin)).send({ name: op, principal: `custody-${op}`, curve, publicKey }).expect(201);
  }
}, 180_000);

afterAll(async () => {
  await c?.close();
  build?.remove();
  for (const s of identities) await new Promise((r) => s.close(r));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('operator command-line client: maintenance ceremonies', () => {
  let reshare: Record<string, any>;
  let wallet: { id: string; address: string };

  it('maintenance list shows a requested reshare', async () => {
    wallet = await maintainableWallet();
    reshare = (await request(c.server).post(`/custody/wallets/${wallet.id}/maintenance`).set(bearer(c.keys.carol))
      .send({ kind: 'reshare', nodes: ['node-2', 'node-3', 'node-4'], threshold: 3 }).expect(201)).body;
    const r = await cli(['maintenance', 'list', '--wallet', wallet.id], as('alice'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+KIND\s+STATUS\s+APPROVALS/);
    expect(r.stdout).toMatch(new RegExp(`${reshare.id}\\s+reshare\\s+requested\\s+0/2\\s+${wallet.id}\\s+2-of-3 -> 3-of-3`));
    const other = await cli(['maintenance', 'list', '--wallet', '00000000-0000-4000-8000-000000000000'], as('alice'));
    expect(other.stdout).toContain('no maintenance ceremonies awaiting approval');
  });

  it('maintenance show prints the old and new node set and threshold and the locally recomputed digest', async () => {
    const r = await cli(['maintenance', 'show', reshare.id], as('bob'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kind\s+reshare \(same key, new node set/);
    expect(r.stdout).toContain('2-of-3 {node-1, node-2, node-3} -> 3-of-3 {node-2, node-3, node-4}');
    expect(r.stdout).toMatch(/leaving\s+node-1 \(their shares are deleted\)/);
    expect(r.stdout).toMatch(/joining\s+node-4/);
    expect(r.stdout).toMatch(/threshold\s+2 -> 3\s+<- changes/);
    expect(r.stdout).toMatch(/shares\s+version 1 -> 2/);
    expect(r.stdout).toContain(`${reshare.digest} (server)`);
    expect(r.stdout).toContain(`${reshare.digest} (recomputed here)`);
    expect(r.stdout).toContain('digests match');
  });

  it('refuses to sign when a proxy alters the server digest or a field shown, sending nothing', async () => {
    const tampered = '0x' + 'cd'.repeat(32);
    await withProxy((b) => b.replace(/"digest":"0x[0-9a-f]{64}"/g, `"digest":"${tampered}"`), async (proxyUrl) => {
      const show = await cli(['maintenance', 'show', reshare.id], as('alice', { OPERATOR_API_URL: proxyUrl }));
      expect(show.code).toBe(1);
      expect(show.stdout).toContain(`${tampered} (server)`);
      expect(show.stdout).toContain(`${reshare.digest} (recomputed here)`);
      expect(show.stderr).toMatch(/differs.*refusing to sign/);
      const approve = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('alice', { OPERATOR_API_URL: proxyUrl }));
      expect(approve.code).toBe(1);
      expect(approve.stderr).toMatch(/refusing to sign/);
    });
    // The digest is left alone but the shown threshold is lowered: the local digest no longer matches.
    await withProxy((b) => b.replace(/"toThreshold":3/g, '"toThreshold":2'), async (proxyUrl) => {
      const approve = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('alice', { OPERATOR_API_URL: proxyUrl }));
      expect(approve.code).toBe(1);
      expect(approve.stdout).toMatch(/threshold\s+2 -> 2/);
      expect(approve.stderr).toMatch(/differs.*refusing to sign/);
    });
    expect((await getMaintenance(reshare.id)).approvals).toEqual([]);
  });

  it('an operator outside the wallet\'s policy is refused with the API\'s message; so is a principal naming another operator', async () => {
    const dave = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('dave'));
    expect(dave.code).toBe(1);
    expect(dave.stdout).toContain('digests match');
    expect(dave.stderr).toContain("403 Forbidden: operator dave is not an approver of this wallet's policy");
    const impostor = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('dave', { OPERATOR_NAME: 'alice', OPERATOR_KEY_FILE: path.join(dir, 'dave.key') }));
    expect(impostor.code).toBe(1);
    expect(impostor.stderr).toContain('403 Forbidden: the caller is not operator alice');
    const rej = await cli(['maintenance', 'reject', reshare.id, '--reason', 'not mine'], as('dave'));
    expect(rej.code).toBe(1);
    expect(rej.stderr).toMatch(/403 Forbidden/);
    expect(await getMaintenance(reshare.id)).toMatchObject({ status: 'requested', approvals: [] });
  });

  it('approve without --yes asks, and a "no" approves nothing', async () => {
    const r = await cli(['maintenance', 'approve', reshare.id], as('alice'), 'n\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('approve the reshare of');
    expect(r.stderr).toContain('not approved');
    expect((await getMaintenance(reshare.id)).approvals).toEqual([]);
  });

  it('approve --yes by two operators moves the ceremony to approved; a duplicate exits 1 with the 409 detail', async () => {
    const a = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('alice'));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('status requested, 1 of 2 approvals');
    const dup = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('alice'));
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/409 Conflict: operator alice has already approved/);
    // bob's key is P-256: the client signs with whichever curve the key file holds.
    const b = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('bob'));
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('status approved, 2 of 2 approvals; the ceremony is queued');
    const got = await getMaintenance(reshare.id);
    expect(got).toMatchObject({ status: 'approved', kind: 'reshare', toNodes: ['node-2', 'node-3', 'node-4'], toThreshold: 3 });
    expect([...got.approvals].sort()).toEqual(['alice', 'bob']);
    const late = await cli(['maintenance', 'approve', reshare.id, '--yes'], as('carol'));
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/409 Conflict: .*takes no more approvals/);
    const all = await cli(['maintenance', 'list', '--all', '--wallet', wallet.id], as('carol'));
    expect(all.stdout).toMatch(new RegExp(`${reshare.id}\\s+reshare\\s+approved\\s+2/2`));
  });

  it('reject ends a requested refresh with the reason; follow prints each transition to the final state', async () => {
    const w = await maintainableWallet();
    const refresh = (await request(c.server).post(`/custody/wallets/${w.id}/maintenance`).set(bearer(c.keys.alice)).send({ kind: 'refresh' }).expect(201)).body;
    const show = await cli(['maintenance', 'show', refresh.id], as('carol'));
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('2-of-3 {node-1, node-2, node-3} -> 2-of-3 {node-1, node-2, node-3}');
    expect(show.stdout).toMatch(/threshold\s+2 -> 2\n/);
    expect(show.stdout).toContain('digests match');
    const follow = cli(['maintenance', 'follow', refresh.id, '--interval', '0.2', '--timeout', '30'], as('carol'));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await cli(['maintenance', 'approve', refresh.id, '--yes'], as('carol'))).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const rej = await cli(['maintenance', 'reject', refresh.id, '--reason', 'node-3 is being replaced first'], as('bob'));
    expect(rej.code).toBe(0);
    expect(rej.stdout).toContain('rejected as bob: status rejected');
    const f = await follow;
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/requested \(0\/2 approvals\)\n.*requested \(1\/2 approvals\)\n.*rejected \(1\/2 approvals\): rejected by bob: node-3 is being replaced first/);
    const again = await cli(['maintenance', 'reject', refresh.id, '--reason', 'again'], as('alice'));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409 Conflict: .*can no longer be rejected/);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [['maintenance'], ['maintenance', 'bogus'], ['maintenance', 'show'], ['maintenance', 'show', 'nope'], ['maintenance', 'list', 'x'],
      ['maintenance', 'list', '--wallet', 'x'], ['maintenance', 'reject', reshare.id], ['maintenance', 'follow', reshare.id, '--timeout', '-1']]) {
      const r = await cli(args, as('alice'));
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain('usage: operator');
    }
    expect((await cli(['maintenance', 'approve', reshare.id, '--yes'], as('alice', { OPERATOR_KEY_FILE: path.join(dir, 'missing.key') }))).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.stdout).toContain('maintenance approve <maintenanceId> [--yes]');
  });

  it('never prints a private key', () => {
    expect(secrets.length).toBe(8);
    const all = outputs.join('\n').toLowerCase();
    for (const s of secrets) expect(all).not.toContain(s.toLowerCase());
    expect(all).not.toContain('private key-----');
  });
});
