/**
 * Custody operators' command-line client. Talks only to the REST API (no database, no Nest).
 * The operator's approval key stays in its file: the client reads it, signs the digest it has
 * recomputed itself from the ceremony's fields, and never prints or sends the key. Usage:
 *
 *   npm run operator -- keygen --out <file> [--curve p256|secp256k1]
 *   npm run operator -- pending
 *   npm run operator -- show <ceremonyId>
 *   npm run operator -- approve <ceremonyId> [--yes]
 *   npm run operator -- reject <ceremonyId> --reason "..."
 *   npm run operator -- follow <ceremonyId> [--timeout <s>]
 *   npm run operator -- abort <ceremonyId> --reason "..."
 *   npm run operator -- policy list [--wallet <walletId>] [--all]
 *   npm run operator -- policy show <proposalId>
 *   npm run operator -- policy approve <proposalId> [--yes]
 *   npm run operator -- policy reject <proposalId> --reason "..."
 *   npm run operator -- maintenance list [--wallet <walletId>] [--all]
 *   npm run operator -- maintenance show <maintenanceId>
 *   npm run operator -- maintenance approve <maintenanceId> [--yes]
 *   npm run operator -- maintenance reject <maintenanceId> --reason "..."
 *   npm run operator -- maintenance follow <maintenanceId> [--timeout <s>]
 *
 * Exit codes: 0 ok, 1 the API refused (or the server's digest did not match, or nothing was
 * approved), 2 usage.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { p256 } from '@noble/curves/nist.js';
import { keccak256 } from 'ethers';
import { ceremonyDigest, digestHex, policyProposalDigest, type OperatorCurve, type PolicyTerms } from '../service/approval-digest.js';
import { maintenanceDigest } from '../service/share-maintenance-digest.js';

const USAGE = `usage: operator [options] <command>
commands:
  keygen --out <file> [--curve p256|secp256k1]   create an approval key file (mode 600); prints the public key
  pending                                         ceremonies awaiting approval or signing
  show <ceremonyId>                               details, approvals, digest (checked locally)
  approve <ceremonyId> [--yes]                    sign the locally recomputed digest and send the approval
  reject <ceremonyId> --reason "..."              reject a pending ceremony
  follow <ceremonyId> [--timeout <s>]             poll until a final state, printing each transition
  abort <ceremonyId> --reason "..."               abort a ceremony that is not signed yet
  policy list [--wallet <id>] [--all]             policy proposals awaiting approval (--all: any status)
  policy show <proposalId>                        current and proposed policy, approvals, digest (checked locally)
  policy approve <proposalId> [--yes]             sign the locally recomputed proposal digest and send the approval
  policy reject <proposalId> --reason "..."       reject a policy proposal
  maintenance list [--wallet <id>] [--all]        share refresh/reshare ceremonies awaiting approval (--all: any status)
  maintenance show <maintenanceId>                old and new node set and threshold, approvals, digest (checked locally)
  maintenance approve <maintenanceId> [--yes]     sign the locally recomputed maintenance digest and send the approval
  maintenance reject <maintenanceId> --reason "..."  reject a maintenance ceremony before it runs
  maintenance follow <maintenanceId> [--timeout <s>] poll until completed, rejected, expired or aborted
options (or environment):
  --url <url>           API base URL (OPERATOR_API_URL)
  --api-key <key>       the operator principal's API key (OPERATOR_API_KEY)
  --operator <name>     operator name for approve/reject (OPERATOR_NAME)
  --key-file <file>     approval private key, PEM or hex (OPERATOR_KEY_FILE)
  --curve <curve>       curve of a hex key file, or of keygen (default secp256k1)
  --interval <s>        follow: seconds between polls (default 2)
  --wallet <id>         policy list / maintenance list: only this wallet's
exit codes: 0 ok, 1 the API refused or the check failed, 2 usage`;

const FINAL = new Set(['confirmed', 'rejected', 'expired', 'aborted']);
const CURVES = { secp256k1, p256 } as const;

class UsageError extends Error {}
class Refused extends Error {}

interface Ceremony {
  id: string;
  walletId: string;
  wallet: string;
  policyVersion: number;
  to: string;
  value: string;
  data: string;
  dataHash: string;
  nonce: string;
  digest: string;
  status: string;
  reason: string | null;
  quorum: number;
  approvals: { operator: string; createdAt: string }[];
  notBefore: string;
  expiresAt: string;
  createdAt: string;
}

interface PolicyProposal {
  id: string;
  walletId: string;
  wallet: string;
  baseVersion: number;
  policy: PolicyTerms;
  digest: string;
  status: string;
  reason: string | null;
  appliedVersion: number | null;
  quorum: number;
  approvers: string[];
  approvals: { operator: string; createdAt: string }[];
  requestedBy: string;
  expiresAt: string;
  createdAt: string;
}

interface Policy extends PolicyTerms {
  walletId: string;
  version: number;
}

type Opts = Record<string, string | boolean | undefined>;

function need(opts: Opts, name: string, env?: string): string {
  const v = (opts[name] as string | undefined) ?? (env ? process.env[env] : undefined);
  if (!v) throw new UsageError(`missing --${name}${env ? ` (or ${env})` : ''}`);
  return v;
}

function curveOf(v: string | boolean | undefined): OperatorCurve {
  const c = (v as string | undefined) ?? 'secp256k1';
  if (c !== 'secp256k1' && c !== 'p256') throw new UsageError('--curve must be p256 or secp256k1');
  return c;
}

// ------------------------------------------------------------------------------------- keys

interface ApprovalKey {
  curve: OperatorCurve;
  publicKey: string;
  sign(digest: Uint8Array): string;
}

/** Reads the key file. Errors never quote the file's content. */
function loadKey(file: string, hexCurve: OperatorCurve): ApprovalKey {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    throw new UsageError(`cannot read the key file ${file}`);
  }
  let curve = hexCurve;
  let secret: Uint8Array;
  try {
    if (text.includes('-----BEGIN')) {
      const jwk = createPrivateKey(text).export({ format: 'jwk' });
      if (jwk.kty !== 'EC' || !jwk.d || (jwk.crv !== 'P-256' && jwk.crv !== 'secp256k1')) throw new Error();
      curve = jwk.crv === 'P-256' ? 'p256' : 'secp256k1';
      secret = Uint8Array.from(Buffer.from(jwk.d, 'base64url'));
    } else {
      const hex = text.replace(/^0x/i, '');
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error();
      secret = Uint8Array.from(Buffer.from(hex, 'hex'));
    }
    const c = CURVES[curve];
    const publicKey = Buffer.from(c.getPublicKey(secret, true)).toString('hex');
    return {
      curve,
      publicKey,
      sign: (digest) => Buffer.from(c.sign(digest, secret, { prehash: false })).toString('hex'),
    };
  } catch {
    throw new UsageError(`the key file ${file} is not a P-256 or secp256k1 private key (PEM, or 32 bytes hex)`);
  }
}

function keygen(opts: Opts): number {
  const out = need(opts, 'out');
  const curve = curveOf(opts.curve);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve === 'p256' ? 'prime256v1' : 'secp256k1' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  try {
    fs.writeFileSync(out, pem, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new UsageError(`cannot create ${out}: ${(e as NodeJS.ErrnoException).code ?? 'error'} (an existing file is never overwritten)`);
  }
  fs.chmodSync(out, 0o600);
  const key = loadKey(out, curve);
  console.error(`wrote ${out} (mode 600); give the curve and public key below to an admin to register you`);
  console.log(`curve:     ${key.curve}`);
  console.log(`publicKey: ${key.publicKey}`);
  return 0;
}

// -------------------------------------------------------------------------------------- API

class Api {
  constructor(
    private readonly base: string,
    private readonly apiKey: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base.endsWith('/') ? this.base : `${this.base}/`), {
        method,
        headers: { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new Refused(`cannot reach ${this.base}: ${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`);
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const detail = json?.detail ?? (text.slice(0, 500) || res.statusText);
      const errors = Array.isArray(json?.errors) ? json.errors.map((x: { field: string; message: string }) => `\n  ${x.field}: ${x.message}`).join('') : '';
      throw new Refused(`${res.status} ${json?.title ?? res.statusText}: ${detail}${errors}`);
    }
    return json as T;
  }
}

function api(opts: Opts): Api {
  const url = need(opts, 'url', 'OPERATOR_API_URL');
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL`);
  }
  return new Api(url, need(opts, 'api-key', 'OPERATOR_API_KEY'));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function ceremonyId(args: string[]): string {
  if (args.length !== 1 || !UUID.test(args[0]!)) throw new UsageError('expected one ceremony id (a UUID)');
  return args[0]!;
}

/** The digest recomputed from the ceremony's fields (dataHash too, from its data). */
function localDigest(c: Ceremony): { digest: Uint8Array; hex: string; dataHashOk: boolean } {
  const dataHash = keccak256(c.data);
  const digest = ceremonyDigest({
    wallet: c.wallet,
    to: c.to,
    value: BigInt(c.value),
    dataHash,
    nonce: BigInt(c.nonce),
    ceremonyId: c.id,
    expiresAt: new Date(c.expiresAt),
  });
  return { digest, hex: digestHex(digest), dataHashOk: dataHash.toLowerCase() === c.dataHash.toLowerCase() };
}

function printCeremony(c: Ceremony): void {
  const rows: [string, string][] = [
    ['ceremony', c.id],
    ['status', c.status + (c.reason ? ` (${c.reason})` : '')],
    ['wallet', `${c.wallet} (${c.walletId}, policy v${c.policyVersion})`],
    ['to', c.to],
    ['value', `${c.value} wei`],
    ['data', c.data.length > 74 ? `${c.data.slice(0, 74)}... (${(c.data.length - 2) / 2} bytes)` : c.data],
    ['dataHash', c.dataHash],
    ['nonce', c.nonce],
    ['notBefore', c.notBefore],
    ['expiresAt', c.expiresAt],
    ['approvals', `${c.approvals.length} of ${c.quorum}${c.approvals.length ? ': ' + c.approvals.map((a) => `${a.operator} (${a.createdAt})`).join(', ') : ''}`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(10)} ${v}`);
}

/** Prints both digests; throws Refused when the server's differs from the local one. */
function checkDigest(c: Ceremony): Uint8Array {
  const local = localDigest(c);
  console.log(`${'digest'.padEnd(10)} ${c.digest} (server)`);
  console.log(`${''.padEnd(10)} ${local.hex} (recomputed here)`);
  if (!local.dataHashOk) throw new Refused(`the server's dataHash does not match the ceremony's data: refusing to sign`);
  if (local.hex !== String(c.digest).toLowerCase()) throw new Refused(`the server's digest differs from the one recomputed from the ceremony's fields: refusing to sign`);
  console.log(`${''.padEnd(10)} digests match`);
  return local.digest;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await Promise.race([rl.question(question), new Promise<string>((r) => rl.once('close', () => r('')))]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function seconds(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds`);
  return n;
}

// ---------------------------------------------------------------------------- policy changes

const POLICY_FIELDS: (keyof PolicyTerms)[] = ['quorum', 'operators', 'perTransactionLimit', 'dailyLimit', 'allowlist', 'delayAbove', 'delaySeconds'];
const show = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : v === null ? '-' : String(v));

function proposalId(args: string[]): string {
  if (args.length !== 1 || !UUID.test(args[0]!)) throw new UsageError('expected one policy proposal id (a UUID)');
  return args[0]!;
}

/** Prints the proposal and, field by field, the current policy against the proposed one. */
function printProposal(p: PolicyProposal, current: Policy | undefined): void {
  const rows: [string, string][] = [
    ['proposal', p.id],
    ['status', p.status + (p.reason ? ` (${p.reason})` : '') + (p.appliedVersion ? ` as version ${p.appliedVersion}` : '')],
    ['wallet', `${p.wallet} (${p.walletId})`],
    ['replaces', `version ${p.baseVersion}${current && current.version !== p.baseVersion ? ` (the current version is ${current.version}: this proposal can no longer apply)` : ''}`],
    ['requested', `by ${p.requestedBy} at ${p.createdAt}`],
    ['expiresAt', p.expiresAt],
    ['approvals', `${p.approvals.length} of ${p.quorum} from [${p.approvers.join(', ')}]${p.approvals.length ? ': ' + p.approvals.map((a) => `${a.operator} (${a.createdAt})`).join(', ') : ''}`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(10)} ${v}`);
  console.log(`${'field'.padEnd(20)} ${'current'.padEnd(30)} proposed`);
  for (const f of POLICY_FIELDS) {
    const now = current && current.version === p.baseVersion ? show(current[f]) : '?';
    const next = show(p.policy[f]);
    console.log(`${f.padEnd(20)} ${now.padEnd(30)} ${next}${now !== next ? '   <- changes' : ''}`);
  }
}

/** Prints both digests; throws Refused when the server's differs from the one recomputed here. */
function checkProposalDigest(p: PolicyProposal): Uint8Array {
  const digest = policyProposalDigest({ wallet: p.wallet, proposalId: p.id, baseVersion: p.baseVersion, policy: p.policy, expiresAt: new Date(p.expiresAt) });
  const hex = digestHex(digest);
  console.log(`${'digest'.padEnd(10)} ${p.digest} (server)`);
  console.log(`${''.padEnd(10)} ${hex} (recomputed here)`);
  if (hex !== String(p.digest).toLowerCase()) throw new Refused(`the server's digest differs from the one recomputed from the proposal's fields: refusing to sign`);
  console.log(`${''.padEnd(10)} digests match`);
  return digest;
}

async function policyCommand(opts: Opts, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      if (rest.length) throw new UsageError('policy list takes no arguments');
      const wallet = opts.wallet as string | undefined;
      if (wallet !== undefined && !UUID.test(wallet)) throw new UsageError('--wallet must be a wallet id (a UUID)');
      const query = new URLSearchParams({ ...(opts.all ? {} : { status: 'requested' }), ...(wallet ? { walletId: wallet } : {}) }).toString();
      const list = await api(opts).call<PolicyProposal[]>('GET', `custody/policy-proposals${query ? `?${query}` : ''}`);
      if (!list.length) {
        console.log(opts.all ? 'no policy proposals' : 'no policy proposals awaiting approval');
        return 0;
      }
      const rows = [['ID', 'STATUS', 'APPROVALS', 'WALLET', 'BASE', 'BY', 'EXPIRES']];
      for (const p of list) rows.push([p.id, p.status, `${p.approvals.length}/${p.quorum}`, p.walletId, `v${p.baseVersion}`, p.requestedBy, p.expiresAt]);
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd());
      return 0;
    }
    case 'show': {
      const id = proposalId(rest);
      const client = api(opts);
      const p = await client.call<PolicyProposal>('GET', `custody/policy-proposals/${id}`);
      printProposal(p, await client.call<Policy>('GET', `custody/wallets/${p.walletId}/policy`));
      checkProposalDigest(p);
      return 0;
    }
    case 'approve': {
      const id = proposalId(rest);
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const key = loadKey(need(opts, 'key-file', 'OPERATOR_KEY_FILE'), curveOf(opts.curve));
      const p = await client.call<PolicyProposal>('GET', `custody/policy-proposals/${id}`);
      printProposal(p, await client.call<Policy>('GET', `custody/wallets/${p.walletId}/policy`));
      const digest = checkProposalDigest(p);
      if (!opts.yes && !(await confirm(`approve replacing policy version ${p.baseVersion} of ${p.wallet} as shown, as ${operator}? [y/N] `))) {
        console.error('not approved');
        return 1;
      }
      const after = await client.call<PolicyProposal>('POST', `custody/policy-proposals/${id}/approvals`, { operator, signature: key.sign(digest) });
      console.log(`approved as ${operator}: status ${after.status}, ${after.approvals.length} of ${after.quorum} approvals${after.appliedVersion ? `; policy version ${after.appliedVersion} is in force` : ''}`);
      return 0;
    }
    case 'reject': {
      const id = proposalId(rest);
      const reason = need(opts, 'reason');
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const after = await client.call<PolicyProposal>('POST', `custody/policy-proposals/${id}/rejection`, { operator, reason });
      console.log(`rejected as ${operator}: status ${after.status}`);
      return 0;
    }
    default:
      throw new UsageError(sub ? `unknown policy command "${sub}"` : 'missing policy command (list, show, approve, reject)');
  }
}

// ----------------------------------------------------------------------- share maintenance

interface Maintenance {
  id: string;
  walletId: string;
  wallet: string;
  kind: string;
  status: string;
  phase: string | null;
  reason: string | null;
  groupKey: string;
  policyVersion: number;
  quorum: number;
  fromNodes: string[];
  fromThreshold: number;
  fromVersion: number;
  toNodes: string[];
  toThreshold: number;
  toVersion: number;
  digest: string;
  approvals: string[];
  dealers: string[] | null;
  failures: { node: string; kind: string }[] | null;
  expiresAt: string;
  createdAt: string;
  completedAt: string | null;
}

const MAINTENANCE_FINAL = new Set(['completed', 'rejected', 'expired', 'aborted']);

function maintenanceId(args: string[]): string {
  if (args.length !== 1 || !UUID.test(args[0]!)) throw new UsageError('expected one maintenance ceremony id (a UUID)');
  return args[0]!;
}

const nodeSet = (nodes: string[], t: number) => `${t}-of-${nodes.length} {${nodes.join(', ')}}`;

/** Prints the ceremony and what it changes: node set, threshold and share version, old against new. */
function printMaintenance(m: Maintenance): void {
  const leaving = m.fromNodes.filter((n) => !m.toNodes.includes(n));
  const joining = m.toNodes.filter((n) => !m.fromNodes.includes(n));
  const rows: [string, string][] = [
    ['maintenance', m.id],
    ['kind', m.kind === 'refresh' ? 'refresh (same key, same nodes and threshold, new shares)' : m.kind === 'reshare' ? 'reshare (same key, new node set and/or threshold)' : m.kind],
    ['status', m.status + (m.phase ? `/${m.phase}` : '') + (m.reason ? ` (${m.reason})` : '')],
    ['wallet', `${m.wallet} (${m.walletId}, policy v${m.policyVersion})`],
    ['groupKey', `${m.groupKey} (unchanged by maintenance)`],
    ['nodes', `${nodeSet(m.fromNodes, m.fromThreshold)} -> ${nodeSet(m.toNodes, m.toThreshold)}`],
    ['leaving', leaving.length ? `${leaving.join(', ')} (their shares are deleted)` : '-'],
    ['joining', joining.length ? joining.join(', ') : '-'],
    ['threshold', `${m.fromThreshold} -> ${m.toThreshold}${m.fromThreshold !== m.toThreshold ? '   <- changes' : ''}`],
    ['shares', `version ${m.fromVersion} -> ${m.toVersion}`],
    ['expiresAt', m.expiresAt],
    ['approvals', `${m.approvals.length} of ${m.quorum}${m.approvals.length ? ': ' + m.approvals.join(', ') : ''}`],
  ];
  if (m.dealers) rows.push(['dealers', m.dealers.join(', ')]);
  if (m.failures?.length) rows.push(['failures', m.failures.map((f) => `${f.node}: ${f.kind}`).join(', ')]);
  if (m.completedAt) rows.push(['completed', m.completedAt]);
  for (const [k, v] of rows) console.log(`${k.padEnd(11)} ${v}`);
}

/**
 * Recomputes the digest from the fields just printed (share-maintenance-digest.ts) and prints both;
 * throws Refused when the server's differs, or when the fields contradict the kind shown.
 */
function checkMaintenanceDigest(m: Maintenance): Uint8Array {
  if (m.kind !== 'refresh' && m.kind !== 'reshare') throw new Refused(`unknown maintenance kind "${m.kind}": refusing to sign`);
  const digest = maintenanceDigest({
    ceremonyId: m.id,
    kind: m.kind,
    wallet: m.wallet,
    groupKey: m.groupKey,
    fromNodes: m.fromNodes,
    fromThreshold: m.fromThreshold,
    fromVersion: m.fromVersion,
    toNodes: m.toNodes,
    toThreshold: m.toThreshold,
    toVersion: m.toVersion,
    expiresAt: new Date(m.expiresAt),
  });
  const hex = digestHex(digest);
  console.log(`${'digest'.padEnd(11)} ${m.digest} (server)`);
  console.log(`${''.padEnd(11)} ${hex} (recomputed here)`);
  if (hex !== String(m.digest).toLowerCase()) throw new Refused(`the server's digest differs from the one recomputed from the maintenance ceremony's fields: refusing to sign`);
  // The digest binds what is shown; these catch a ceremony whose fields say something other than its kind.
  if (m.kind === 'refresh' && (m.fromThreshold !== m.toThreshold || m.fromNodes.join() !== m.toNodes.join())) {
    throw new Refused('a refresh that changes the node set or threshold: refusing to sign');
  }
  if (m.toVersion !== m.fromVersion + 1) throw new Refused(`the new share version ${m.toVersion} does not follow ${m.fromVersion}: refusing to sign`);
  if (m.toThreshold < 2 || m.toThreshold > m.toNodes.length) throw new Refused(`threshold ${m.toThreshold} of ${m.toNodes.length} nodes is not valid: refusing to sign`);
  console.log(`${''.padEnd(11)} digests match`);
  return digest;
}

async function maintenanceCommand(opts: Opts, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list': {
      if (rest.length) throw new UsageError('maintenance list takes no arguments');
      const wallet = opts.wallet as string | undefined;
      if (wallet !== undefined && !UUID.test(wallet)) throw new UsageError('--wallet must be a wallet id (a UUID)');
      const all = await api(opts).call<Maintenance[]>('GET', `custody/maintenance${opts.all ? '' : '?status=requested'}`);
      const list = wallet ? all.filter((m) => m.walletId.toLowerCase() === wallet.toLowerCase()) : all;
      if (!list.length) {
        console.log(opts.all ? 'no maintenance ceremonies' : 'no maintenance ceremonies awaiting approval');
        return 0;
      }
      const rows = [['ID', 'KIND', 'STATUS', 'APPROVALS', 'WALLET', 'NODES', 'EXPIRES']];
      for (const m of list) {
        rows.push([m.id, m.kind, m.status + (m.phase ? `/${m.phase}` : ''), `${m.approvals.length}/${m.quorum}`, m.walletId,
          `${m.fromThreshold}-of-${m.fromNodes.length} -> ${m.toThreshold}-of-${m.toNodes.length}`, m.expiresAt]);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd());
      return 0;
    }
    case 'show': {
      const m = await api(opts).call<Maintenance>('GET', `custody/maintenance/${maintenanceId(rest)}`);
      printMaintenance(m);
      checkMaintenanceDigest(m);
      return 0;
    }
    case 'approve': {
      const id = maintenanceId(rest);
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const key = loadKey(need(opts, 'key-file', 'OPERATOR_KEY_FILE'), curveOf(opts.curve));
      const m = await client.call<Maintenance>('GET', `custody/maintenance/${id}`);
      printMaintenance(m);
      const digest = checkMaintenanceDigest(m);
      const what = `${m.kind} of ${m.wallet}: ${nodeSet(m.fromNodes, m.fromThreshold)} -> ${nodeSet(m.toNodes, m.toThreshold)}`;
      if (!opts.yes && !(await confirm(`approve the ${what} as ${operator}? [y/N] `))) {
        console.error('not approved');
        return 1;
      }
      const after = await client.call<Maintenance>('POST', `custody/maintenance/${id}/approvals`, { operator, signature: key.sign(digest) });
      console.log(`approved as ${operator}: status ${after.status}, ${after.approvals.length} of ${after.quorum} approvals${after.status === 'approved' ? '; the ceremony is queued to run on the signer nodes' : ''}`);
      return 0;
    }
    case 'reject': {
      const id = maintenanceId(rest);
      const reason = need(opts, 'reason');
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const after = await client.call<Maintenance>('POST', `custody/maintenance/${id}/rejection`, { operator, reason });
      console.log(`rejected as ${operator}: status ${after.status}`);
      return 0;
    }
    case 'follow': {
      const id = maintenanceId(rest);
      const timeout = seconds(opts.timeout, 'timeout', 600);
      const interval = seconds(opts.interval, 'interval', 2);
      const client = api(opts);
      const end = Date.now() + timeout * 1000;
      let last = '';
      for (;;) {
        const m = await client.call<Maintenance>('GET', `custody/maintenance/${id}`);
        const failures = m.failures?.length ? ` [${m.failures.map((f) => `${f.node}: ${f.kind}`).join(', ')}]` : '';
        const state = `${m.status}${m.phase ? `/${m.phase}` : ''} (${m.approvals.length}/${m.quorum} approvals)${m.reason ? `: ${m.reason}` : ''}${failures}`;
        if (state !== last) console.log(`${new Date().toISOString()} ${state}`);
        last = state;
        if (MAINTENANCE_FINAL.has(m.status)) return 0;
        if (Date.now() + interval * 1000 > end) {
          console.error(`still ${m.status} after ${timeout} s`);
          return 1;
        }
        await sleep(interval * 1000);
      }
    }
    default:
      throw new UsageError(sub ? `unknown maintenance command "${sub}"` : 'missing maintenance command (list, show, approve, reject, follow)');
  }
}

// ------------------------------------------------------------------------------------- main

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        'api-key': { type: 'string' },
        'key-file': { type: 'string' },
        operator: { type: 'string' },
        curve: { type: 'string' },
        out: { type: 'string' },
        yes: { type: 'boolean', short: 'y' },
        reason: { type: 'string' },
        timeout: { type: 'string' },
        interval: { type: 'string' },
        wallet: { type: 'string' },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const opts = parsed.values as Opts;
  const [cmd, ...args] = parsed.positionals;
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (!cmd) throw new UsageError('missing command');

  switch (cmd) {
    case 'keygen':
      if (args.length) throw new UsageError('keygen takes no arguments');
      return keygen(opts);

    case 'pending': {
      if (args.length) throw new UsageError('pending takes no arguments');
      const list = await api(opts).call<Ceremony[]>('GET', 'custody/ceremonies?status=pending');
      if (!list.length) {
        console.log('no pending ceremonies');
        return 0;
      }
      const rows = [['ID', 'STATUS', 'APPROVALS', 'WALLET', 'TO', 'VALUE (wei)', 'EXPIRES']];
      for (const c of list) rows.push([c.id, c.status, `${c.approvals.length}/${c.quorum}`, c.wallet, c.to, c.value, c.expiresAt]);
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd());
      return 0;
    }

    case 'show': {
      const id = ceremonyId(args);
      const c = await api(opts).call<Ceremony>('GET', `custody/ceremonies/${id}`);
      printCeremony(c);
      checkDigest(c);
      return 0;
    }

    case 'approve': {
      const id = ceremonyId(args);
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const key = loadKey(need(opts, 'key-file', 'OPERATOR_KEY_FILE'), curveOf(opts.curve));
      const c = await client.call<Ceremony>('GET', `custody/ceremonies/${id}`);
      printCeremony(c);
      const digest = checkDigest(c);
      if (!opts.yes && !(await confirm(`approve sending ${c.value} wei from ${c.wallet} to ${c.to} as ${operator}? [y/N] `))) {
        console.error('not approved');
        return 1;
      }
      const after = await client.call<Ceremony>('POST', `custody/ceremonies/${id}/approvals`, { operator, signature: key.sign(digest) });
      console.log(`approved as ${operator}: status ${after.status}, ${after.approvals.length} of ${after.quorum} approvals`);
      return 0;
    }

    case 'reject': {
      const id = ceremonyId(args);
      const reason = need(opts, 'reason');
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const after = await client.call<Ceremony>('POST', `custody/ceremonies/${id}/rejection`, { operator, reason });
      console.log(`rejected as ${operator}: status ${after.status}`);
      return 0;
    }

    case 'abort': {
      const id = ceremonyId(args);
      const reason = need(opts, 'reason');
      const client = api(opts);
      const operator = need(opts, 'operator', 'OPERATOR_NAME');
      const after = await client.call<Ceremony>('POST', `custody/ceremonies/${id}/abort`, { operator, reason });
      console.log(`aborted as ${operator}: status ${after.status}`);
      return 0;
    }
    case 'policy':
      return policyCommand(opts, args);
    case 'maintenance':
      return maintenanceCommand(opts, args);
    case 'follow': {
      const id = ceremonyId(args);
      const timeout = seconds(opts.timeout, 'timeout', 600);
      const interval = seconds(opts.interval, 'interval', 2);
      const client = api(opts);
      const end = Date.now() + timeout * 1000;
      let last = '';
      for (;;) {
        const c = await client.call<Ceremony>('GET', `custody/ceremonies/${id}`);
        const state = `${c.status} (${c.approvals.length}/${c.quorum} approvals)${c.reason ? `: ${c.reason}` : ''}`;
        if (state !== last) console.log(`${new Date().toISOString()} ${state}`);
        last = state;
        if (FINAL.has(c.status)) return 0;
        if (Date.now() + interval * 1000 > end) {
          console.error(`still ${c.status} after ${timeout} s`);
          return 1;
        }
        await sleep(interval * 1000);
      }
    }

    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`operator: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`operator: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
