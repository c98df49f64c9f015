/**
 * The standalone verifier's command line: what it accepts, and the checks on it that make a bad
 * invocation a usage error (exit code 2) before anything is fetched. Saved files are read here too,
 * so a missing or unreadable file is a usage error, not a failed check.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getAddress, isAddress } from 'ethers';
import { AuditCryptoError, keyIdOf } from '../crypto/index.js';

export const USAGE = `usage: npm run audit:verify -- [options]

Checks the audit log without trusting the service: checkpoint signatures, that an event is in
the log, that the log only grew, that no two checkpoints of one size disagree (a fork), and that
the checkpoint's root is the one anchored on the ledger.

Where the data comes from (the service, saved files, or both):
  --url <base URL>              the service's public audit API, e.g. http://127.0.0.1:3000
  --checkpoint <file.json>      a saved checkpoint to verify (default with --url: the latest)
  --old-checkpoint <file.json>  a saved older checkpoint; checked to be consistent with the newer one
  --event <file.json>           a saved event, as served by GET /audit/events/:seq
  --proof <file.json>           a saved inclusion or consistency proof (may be given twice)

What to trust:
  --public-key <file.pem>       the log's public key (SPKI PEM). Without it the key served by --url
                                is used and the report says it was trusted on first use.
  --contract <address>          the audit anchor contract. Without it the address served by --url is
                                used and the report says so.

What to check (a checkpoint's signature is always checked):
  --seq <n>                     the event with this seq (leaf index)
  --leaf-hash <hex>             the event with this leaf hash (without the event, only the hash)
  --api-key <key>               API key to fetch the event's body (or set AUDIT_API_KEY)
  --old-size <n>                the checkpoint of this size must be consistent with the newer one
  --rpc <JSON-RPC URL>          the ledger: the checkpoint's root must be anchored on the contract

Output:
  --json                        a machine-readable report on stdout
  -h, --help                    this text

Exit codes: 0 everything asked for verified, 1 a check failed (the report says why),
2 usage error (bad or missing options, unreadable files).`;

/** The command line was wrong: exit code 2 with this message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A JSON file given on the command line, as read. */
export interface SavedFile {
  readonly file: string;
  readonly value: unknown;
}

/** What the user asked for, checked for shape (not for truth: that is the verifier's job). */
export interface VerifierOptions {
  readonly url?: URL;
  readonly publicKey?: { readonly file: string; readonly pem: string; readonly keyId: string };
  readonly checkpoint?: SavedFile;
  readonly oldCheckpoint?: SavedFile;
  readonly event?: SavedFile;
  readonly inclusionProof?: SavedFile;
  readonly consistencyProof?: SavedFile;
  readonly seq?: number;
  readonly leafHash?: string;
  readonly apiKey?: string;
  readonly oldSize?: number;
  readonly rpc?: string;
  readonly contract?: string;
  readonly json: boolean;
  readonly help: boolean;
}

const OPTIONS = {
  url: { type: 'string' },
  checkpoint: { type: 'string' },
  'old-checkpoint': { type: 'string' },
  event: { type: 'string' },
  proof: { type: 'string', multiple: true },
  'public-key': { type: 'string' },
  seq: { type: 'string' },
  'leaf-hash': { type: 'string' },
  'api-key': { type: 'string' },
  'old-size': { type: 'string' },
  rpc: { type: 'string' },
  contract: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses and checks the arguments (without the node and script names). Throws {@link UsageError}. */
export function parseVerifierOptions(argv: readonly string[], env: NodeJS.ProcessEnv): VerifierOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    // parseArgs explains how to pass a positional that starts with "-"; the first sentence is the point.
    throw new UsageError((error as Error).message.split(/\.\s/)[0]!.replace(/\.$/, ''));
  }
  if (values.help) return { json: false, help: true };

  const url = values.url === undefined ? undefined : httpUrl(values.url, '--url');
  const rpc = values.rpc === undefined ? undefined : httpUrl(values.rpc, '--rpc').href;
  const seq = values.seq === undefined ? undefined : integer(values.seq, '--seq', 0);
  const oldSize = values['old-size'] === undefined ? undefined : integer(values['old-size'], '--old-size', 1);
  const leafHash = values['leaf-hash'] === undefined ? undefined : hash(values['leaf-hash']);
  const contract = values.contract === undefined ? undefined : address(values.contract);
  const apiKey = values['api-key'] ?? (env.AUDIT_API_KEY || undefined);

  const publicKey = values['public-key'] === undefined ? undefined : readPublicKey(values['public-key']);
  const checkpoint = values.checkpoint === undefined ? undefined : readJson(values.checkpoint, '--checkpoint');
  const oldCheckpoint = values['old-checkpoint'] === undefined ? undefined : readJson(values['old-checkpoint'], '--old-checkpoint');
  const event = values.event === undefined ? undefined : readJson(values.event, '--event');
  let inclusionProof: SavedFile | undefined;
  let consistencyProof: SavedFile | undefined;
  for (const file of values.proof ?? []) {
    const proof = readJson(file, '--proof');
    const kind = proofKind(proof.value);
    if (kind === undefined) {
      throw new UsageError(
        `--proof ${file} is neither an inclusion proof ({leafIndex, treeSize, hashes}) nor a consistency proof ({size1, size2, hashes})`,
      );
    }
    if ((kind === 'inclusion' ? inclusionProof : consistencyProof) !== undefined) {
      throw new UsageError(`give at most one ${kind} proof (--proof ${file} is the second one)`);
    }
    if (kind === 'inclusion') inclusionProof = proof;
    else consistencyProof = proof;
  }

  if (seq !== undefined && leafHash !== undefined) throw new UsageError('give one of --seq or --leaf-hash, not both');
  if (!url && !publicKey) {
    throw new UsageError('no trusted key: give --public-key <file.pem>, or --url to use the key the service serves');
  }
  const proofCheckpoint = isObject(inclusionProof?.value) && isObject(inclusionProof.value.checkpoint);
  if (!url && !checkpoint && !proofCheckpoint) {
    throw new UsageError('nothing to verify: give --url, or a saved --checkpoint <file.json>');
  }

  const eventAsked = seq !== undefined || leafHash !== undefined || event !== undefined;
  if (eventAsked && !url && !inclusionProof) {
    throw new UsageError('to check an event without --url, give its inclusion proof: --proof <file.json>');
  }
  if (seq !== undefined && !event && !apiKey) {
    throw new UsageError(
      `to check event ${seq}, give the event (--event <file.json>) or an API key to fetch it (--api-key or AUDIT_API_KEY); ` +
        'or give --leaf-hash to check only that a leaf hash is in the log',
    );
  }
  if (!eventAsked && inclusionProof) throw new UsageError('an inclusion proof was given but no event: add --event, --seq or --leaf-hash');

  if (oldCheckpoint && oldSize !== undefined && isObject(oldCheckpoint.value) && oldCheckpoint.value.treeSize !== oldSize) {
    throw new UsageError(`--old-size ${oldSize} does not match the size of --old-checkpoint (${String(oldCheckpoint.value.treeSize)})`);
  }
  const oldAsked = oldSize !== undefined || oldCheckpoint !== undefined;
  if (oldAsked && !url && (!oldCheckpoint || !consistencyProof)) {
    throw new UsageError('to check consistency without --url, give --old-checkpoint <file.json> and its consistency proof (--proof <file.json>)');
  }
  if (!oldAsked && consistencyProof) throw new UsageError('a consistency proof was given but no old checkpoint: add --old-checkpoint or --old-size');

  if (contract && !rpc) throw new UsageError('--contract needs --rpc <JSON-RPC URL> to read the contract');
  if (rpc && !contract && !url) {
    throw new UsageError('--rpc needs --contract <address> (or --url, to use the address the service serves)');
  }

  return {
    url, publicKey, checkpoint, oldCheckpoint, event, inclusionProof, consistencyProof,
    seq, leafHash, apiKey, oldSize, rpc, contract,
    json: values.json ?? false,
    help: false,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function proofKind(value: unknown): 'inclusion' | 'consistency' | undefined {
  if (!isObject(value) || !Array.isArray(value.hashes)) return undefined;
  if ('leafIndex' in value || 'treeSize' in value) return 'inclusion';
  if ('size1' in value || 'size2' in value) return 'consistency';
  return undefined;
}

function httpUrl(text: string, option: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${option} "${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${option} must be an http:// or https:// URL`);
  return url;
}

function integer(text: string, option: string, min: number): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${option} must be an integer >= ${min}, got "${text}"`);
  return n;
}

function hash(text: string): string {
  const hex = text.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new UsageError(`--leaf-hash must be 64 hex digits (a SHA-256 leaf hash), got "${text}"`);
  return hex.toLowerCase();
}

function address(text: string): string {
  if (!isAddress(text)) throw new UsageError(`--contract "${text}" is not an address (0x and 40 hex digits)`);
  return getAddress(text);
}

function readText(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? (error as Error).message);
    throw new UsageError(`cannot read ${option} ${file}: ${why}`);
  }
}

function readJson(file: string, option: string): SavedFile {
  const text = readText(file, option);
  try {
    return { file, value: JSON.parse(text) as unknown };
  } catch {
    throw new UsageError(`${option} ${file} is not JSON`);
  }
}

function readPublicKey(file: string): { file: string; pem: string; keyId: string } {
  const pem = readText(file, '--public-key');
  try {
    return { file, pem, keyId: keyIdOf(pem) };
  } catch (error) {
    if (error instanceof AuditCryptoError) throw new UsageError(`--public-key ${file}: ${error.message}`);
    throw error;
  }
}
