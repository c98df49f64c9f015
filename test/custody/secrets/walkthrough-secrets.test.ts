/**
 * "A dump of every database and log after the walkthrough contains no share in plaintext."
 *
 * Runs the embedded service as an operator would (its own process, EXIT_AFTER_WALKTHROUGH=1, its
 * own DATA_DIR, port and SoftHSM token, PGlite, debug logging) against three signer node processes
 * (own tokens and databases) whose whole output is captured with the service's. Then, with every
 * process stopped: dumps every row of every table of the service's PGlite database and of each
 * node's database, reads every file under those folders raw, unseals each node's actual shares
 * through its HSM, and looks for each share as hex (both cases, with or without 0x), decimal,
 * base64 and base64url, and as raw bytes in the files. The same scan must find a share planted in
 * a control file in each of those forms, so a scan that could not fail would be caught.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureLocalToken } from '../../../src/hsm/local-token.js';
import { buildEntryPoints, exited, filesUnder, nodeHome, runHelper, startNode, type NodeHome, type RunningNode } from '../signer/support.js';

const ROOT = process.cwd();
const ENTRIES = {
  embedded: 'src/embedded.ts',
  signer: 'src/custody/signer/main.ts',
  verifier: 'src/audit/verifier/cli.ts',
  regulator: 'src/analytics/cli/regulator.ts',
  coordinatorKey: 'test/custody/secrets/coordinator-key.ts',
  dumpNode: 'test/custody/secrets/dump-node.ts',
  dumpPglite: 'test/custody/secrets/dump-pglite.ts',
};
const NODE_IDS = ['node-1', 'node-2', 'node-3'];

let build: Awaited<ReturnType<typeof buildEntryPoints>>;
const nodes: RunningNode[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The environment of a child that must not inherit the test run's database, token or PIN. */
function childEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  for (const k of ['DATABASE_URL', 'NODE_OPTIONS', 'HSM_PIN', 'HSM_TOKEN_LABEL', 'SOFTHSM2_CONF']) if (!(k in extra)) delete env[k];
  return env;
}

/** Every textual form a 32-byte share could be written in. */
function shareForms(hex: string): string[] {
  const bytes = Buffer.from(hex, 'hex');
  const b64 = bytes.toString('base64');
  return [hex.toLowerCase(), hex.toUpperCase(), BigInt(`0x${hex}`).toString(10), b64.replace(/=+$/, ''), bytes.toString('base64url')];
}

/** Where any share occurs in `data` (as text in any form, or as raw bytes). */
function findShares(label: string, data: Buffer, shares: string[]): string[] {
  const hits: string[] = [];
  for (const share of shares) {
    if (data.includes(Buffer.from(share, 'hex'))) hits.push(`${label}: raw bytes of a share`);
    for (const form of shareForms(share)) if (data.includes(Buffer.from(form, 'latin1'))) hits.push(`${label}: share as ${form.slice(0, 12)}...`);
  }
  return hits;
}

beforeAll(async () => {
  if (!process.env.DATABASE_URL) build = await buildEntryPoints(Object.values(ENTRIES));
}, 240_000);

afterAll(async () => {
  for (const n of nodes) {
    n.child.kill('SIGKILL');
    await exited(n.child);
  }
  build?.remove();
});

// The embedded service always runs on PGlite whatever DATABASE_URL says, so one pass of the suite is enough:
// it runs in the PGlite pass (CI runs both).
const embeddedPass = process.env.DATABASE_URL ? describe.skip : describe;

embeddedPass('secrets after the embedded walkthrough', () => {
  it('no database dump, data file or log holds a share; a planted share is found', async () => {
    const started = Date.now();
    // The embedded launcher works from its folder: its token in hsm/, the verifier at dist/src/...
    const home = build.dir;
    fs.symlinkSync(home, path.join(home, 'dist'));
    const hsmDir = path.join(home, 'hsm');
    fs.mkdirSync(hsmDir, { recursive: true });
    for (const f of ['setup-token.sh', 'softhsm2.conf.template']) fs.symlinkSync(path.join(ROOT, 'hsm', f), path.join(hsmDir, f));
    const token = ensureLocalToken({ dir: hsmDir, label: 'privacy-service' });
    const tokenEnv = { SOFTHSM2_CONF: token.confPath, HSM_TOKEN_LABEL: token.label, HSM_PIN: token.pin };
    const { stdout: coordinatorKey } = await promisify(execFile)(process.execPath, [build.js(ENTRIES.coordinatorKey)], { env: childEnv(tokenEnv), cwd: home });
    expect(coordinatorKey).toMatch(/^04[0-9a-f]{128}$/);

    const homes: NodeHome[] = NODE_IDS.map((id) => nodeHome(`walkthrough-${id}`, coordinatorKey));
    homes.forEach((h, i) => {
      h.id = NODE_IDS[i]!;
      h.env.SIGNER_ID = NODE_IDS[i]!;
    });
    for (const h of homes) nodes.push(await startNode(build.js(ENTRIES.signer), h));

    const dataDir = path.join(process.env.TEST_SCRATCH_DIR!, 'walkthrough-data');
    const port = await freePort();
    const env = childEnv({
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      EXIT_AFTER_WALKTHROUGH: '1',
      LOG_LEVEL: 'debug',
      LEDGER_RPC_URL: process.env.LEDGER_RPC_URL!,
      CUSTODY_SIGNER_URLS: nodes.map((n) => n.url).join(','),
    });
    const child = spawn(process.execPath, [build.js(ENTRIES.embedded)], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString('latin1')));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString('latin1')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect({ code, tail: code === 0 ? '' : log.slice(-4000) }).toEqual({ code: 0, tail: '' });
    expect(log).toContain('custody');
    const walkthroughSeconds = (Date.now() - started) / 1000;

    for (const n of nodes) {
      n.child.kill('SIGTERM');
      await exited(n.child);
    }

    // The shares, unsealed through each node's HSM, and each node's database, dumped row by row.
    const shares: string[] = [];
    const dumps: { label: string; data: Buffer }[] = [];
    for (const h of homes) {
      const out = JSON.parse(await runHelper(build.js(ENTRIES.dumpNode), h, [])) as { shares: { share: string }[]; tables: number; dump: string[] };
      expect(out.shares.length).toBeGreaterThanOrEqual(1);
      expect(out.tables).toBeGreaterThanOrEqual(3);
      for (const s of out.shares) {
        expect(s.share).toMatch(/^[0-9a-f]{64}$/);
        shares.push(s.share);
      }
      dumps.push({ label: `${h.id} database dump (${out.dump.length} rows)`, data: Buffer.from(out.dump.join('\n'), 'latin1') });
      for (const f of filesUnder(h.dataDir)) dumps.push({ label: `${h.id} file ${path.relative(h.dataDir, f)}`, data: fs.readFileSync(f) });
    }
    expect(new Set(shares).size).toBe(shares.length);

    const service = JSON.parse(
      (await promisify(execFile)(process.execPath, [build.js(ENTRIES.dumpPglite), path.join(dataDir, 'pglite')], { env: childEnv({}), cwd: home, maxBuffer: 256 * 1024 * 1024 })).stdout,
    ) as { tables: string[]; dump: string[] };
    expect(service.tables).toEqual(expect.arrayContaining(['public.custody_wallet', 'public.custody_ceremony', 'public.audit_event']));
    expect(service.dump.some((r) => r.startsWith('public.custody_ceremony: ') && r.includes('confirmed'))).toBe(true);
    dumps.push({ label: `service database dump (${service.dump.length} rows)`, data: Buffer.from(service.dump.join('\n'), 'latin1') });
    const serviceFiles = filesUnder(dataDir);
    for (const f of serviceFiles) dumps.push({ label: `service file ${path.relative(dataDir, f)}`, data: fs.readFileSync(f) });
    dumps.push({ label: 'service log', data: Buffer.from(log, 'latin1') });
    for (const n of nodes) dumps.push({ label: `${n.id} log`, data: Buffer.from(n.output(), 'latin1') });

    const hits = dumps.flatMap((d) => findShares(d.label, d.data, shares));
    expect(hits).toEqual([]);

    // The scan can fail: a share planted in a control file, in each form, is found.
    const control = path.join(dataDir, 'control.log');
    for (const form of [...shareForms(shares[0]!), `0x${shares[0]}`]) {
      fs.writeFileSync(control, `{"level":30,"msg":"leak ${form} here"}\n`);
      expect(findShares('control', fs.readFileSync(control), shares).length).toBeGreaterThan(0);
    }
    fs.writeFileSync(control, Buffer.concat([Buffer.from('binary '), Buffer.from(shares[1]!, 'hex'), Buffer.from(' end')]));
    expect(findShares('control', fs.readFileSync(control), shares)).toEqual(['control: raw bytes of a share']);
    fs.rmSync(control);

    const scanned = dumps.reduce((n, d) => n + d.data.length, 0);
    console.log(
      `walkthrough secrets scan: ${shares.length} shares, ${dumps.length} dumps/files/logs, ${(scanned / 1e6).toFixed(1)} MB scanned; ` +
        `walkthrough ${walkthroughSeconds.toFixed(0)} s, total ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }, 600_000);
});
