/**
 * The standalone verifier's procedure (docs/audit-log.md, "Verifying" and "Standalone verifier").
 * It trusts one thing, the log's public key, and checks everything else itself with ../crypto:
 *
 *  1. the trusted key: the one given with --public-key (and the service must serve the same), or
 *     the served one, trusted on first use;
 *  2. each distinct checkpoint it sees: its signature under the trusted key;
 *  3. an event: its leaf hash, recomputed from the event (RFC 9162 2.1.1, JCS leaf), and its
 *     inclusion proof up to the checkpoint's root (RFC 9162 2.1.3.2);
 *  4. an older checkpoint: the consistency proof up to the newer one (RFC 9162 2.1.4.2);
 *  5. the ledger: the anchor contract holds the checkpoint's root, or a later anchored checkpoint
 *     provably extends it;
 *  6. forks: two validly signed checkpoints of one size with different roots.
 *
 * The service is only a source of data. Every failure becomes a report line, never an exception.
 */
import { getAddress, isAddress } from 'ethers';
import {
  AuditCryptoError,
  HASH_SIZE,
  bytesEqual,
  detectFork,
  eventLeafHash,
  fromBase64,
  fromHex,
  keyIdOf,
  rootFromInclusionProof,
  shortHex,
  toHex,
  validateTreeHead,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  type AuditEvent,
  type Checkpoint,
  type ConsistencyProof,
  type InclusionProof,
} from '../crypto/index.js';
import { AnchorContract, AnchorReadError } from './anchor-contract.js';
import { AuditApi, AuditApiError } from './audit-api.js';
import { isObject, type VerifierOptions } from './options.js';
import type { VerificationReport } from './report.js';

const SERVICE = 'the service';

/** Runs every check the options ask for and records each outcome in `report`. */
export async function verifyLog(options: VerifierOptions, report: VerificationReport): Promise<void> {
  await new LogVerifier(options, report).run();
}

/** Expected failures (network, ledger) become report lines; anything else is a bug and propagates. */
function reasonOf(error: unknown): string {
  if (error instanceof AuditApiError || error instanceof AnchorReadError || error instanceof AuditCryptoError) return error.message;
  throw error;
}

const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const short = (hex: string) => `${hex.slice(0, 8)}..`;
/** "a", "a and b", "a, b and c". */
const listing = (items: readonly string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

interface SeenCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly sources: Set<string>;
  readonly signed: boolean;
}

/**
 * Every distinct checkpoint the verifier has seen, from files or the service. A checkpoint's
 * signature is checked (one report line) the first time it is seen; the same checkpoint from
 * another source only adds the source. Identity is the whole signed statement plus signature.
 */
class CheckpointBook {
  readonly #seen = new Map<string, SeenCheckpoint>();

  constructor(
    private readonly report: VerificationReport,
    private readonly trustedKey: string,
  ) {}

  add(value: unknown, source: string): SeenCheckpoint {
    const cp = (isObject(value) ? value : {}) as unknown as Checkpoint;
    const id = JSON.stringify([cp.origin, cp.treeSize, cp.rootHash, cp.timestamp, cp.keyId, cp.signature]);
    const known = this.#seen.get(id);
    if (known) {
      known.sources.add(source);
      return known;
    }
    const result = isObject(value) ? verifyCheckpoint(cp, this.trustedKey) : { ok: false, reason: 'the checkpoint is not a JSON object' };
    const size = isSize(cp.treeSize) ? String(cp.treeSize) : '?';
    const key = typeof cp.keyId === 'string' ? `key ${short(cp.keyId)}, ` : '';
    this.report.record(`checkpoint ${size} signature`, result, `${key}from ${source}`);
    const seen = { checkpoint: cp, sources: new Set([source]), signed: result.ok };
    this.#seen.set(id, seen);
    return seen;
  }

  /**
   * Fork detection (docs/audit-log.md, "Verifying", step 4): validly signed checkpoints of one
   * origin and size must have one root. Reports a line for each size seen from more than one source.
   */
  reportForks(): void {
    const bySize = new Map<string, SeenCheckpoint[]>();
    for (const seen of this.#seen.values()) {
      if (!seen.signed) continue; // an unsigned statement is no evidence of anything
      const key = `${seen.checkpoint.origin}\n${seen.checkpoint.treeSize}`;
      bySize.set(key, [...(bySize.get(key) ?? []), seen]);
    }
    for (const group of bySize.values()) {
      const sources = new Set(group.flatMap((s) => [...s.sources]));
      if (sources.size < 2) continue;
      const size = group[0]!.checkpoint.treeSize;
      const check = `fork check at size ${size}`;
      const first = group[0]!;
      const fork = group.slice(1).map((other) => ({ other, result: detectFork(first.checkpoint, other.checkpoint) })).find((f) => !f.result.ok);
      if (fork) {
        this.report.fail(check, `${fork.result.reason} (one from ${listing([...first.sources])}, the other from ${listing([...fork.other.sources])})`);
      } else {
        this.report.pass(check, `no fork: ${listing([...sources])} show the same root`);
      }
    }
  }
}

class LogVerifier {
  private readonly api: AuditApi | undefined;
  private book!: CheckpointBook;
  private trustedKey!: string;

  constructor(
    private readonly options: VerifierOptions,
    private readonly report: VerificationReport,
  ) {
    this.api = options.url ? new AuditApi(options.url, options.apiKey) : undefined;
  }

  async run(): Promise<void> {
    const key = await this.establishTrustedKey();
    if (key === undefined) return;
    this.trustedKey = key;
    this.book = new CheckpointBook(this.report, key);

    const target = await this.targetCheckpoint();
    if (!target) return;
    const { options } = this;
    if (options.seq !== undefined || options.leafHash !== undefined || options.event !== undefined) await this.checkEvent(target);
    if (options.oldSize !== undefined || options.oldCheckpoint !== undefined) await this.checkConsistency(target);
    if (options.rpc !== undefined) await this.checkAnchor(target);
    this.book.reportForks();
  }

  // ---------------------------------------------------------------- 1. the trusted key

  private async establishTrustedKey(): Promise<string | undefined> {
    const { options, api, report } = this;
    const pinned = options.publicKey;
    if (pinned) {
      if (api) {
        try {
          const served = await api.publicKey();
          const servedId = keyIdOf(served.pem);
          if (servedId === pinned.keyId) report.pass('public key', `the service serves the trusted key ${short(pinned.keyId)} from ${pinned.file}`);
          else {
            report.fail(
              'public key',
              `the service serves key ${short(servedId)}, but the trusted key in ${pinned.file} is ${short(pinned.keyId)}: the log's key changed, or this is another log`,
            );
          }
        } catch (error) {
          report.fail('public key', `cannot read the service's key: ${reasonOf(error)}`);
        }
      }
      return pinned.pem;
    }
    try {
      const served = await api!.publicKey();
      const id = keyIdOf(served.pem);
      report.note(`the log's public key ${short(id)} was taken from the service and trusted on first use; pin it with --public-key <file.pem>`);
      return served.pem;
    } catch (error) {
      report.fail('public key', `no trusted key: cannot read the service's key: ${reasonOf(error)}`);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- 2. the checkpoint to verify

  private async targetCheckpoint(): Promise<Checkpoint | undefined> {
    const { options, api, report } = this;
    let value: unknown;
    let source: string;
    const embedded = isObject(options.inclusionProof?.value) ? options.inclusionProof.value.checkpoint : undefined;
    if (options.checkpoint) {
      value = options.checkpoint.value;
      source = `file ${options.checkpoint.file}`;
    } else if (!api) {
      value = embedded;
      source = `file ${options.inclusionProof!.file}`;
    } else {
      try {
        value = await api.latestCheckpoint();
      } catch (error) {
        report.fail('latest checkpoint', reasonOf(error));
        return undefined;
      }
      source = SERVICE;
    }
    const { checkpoint, signed } = this.book.add(value, source);
    if (!signed) {
      try {
        validateTreeHead(checkpoint);
      } catch {
        return undefined; // malformed: its signature line says why, and nothing else can be checked
      }
    }
    // A saved checkpoint is compared with what the service serves for the same size (fork detection).
    if (api && source !== SERVICE) await this.seeServedCheckpoint(checkpoint.treeSize);
    return checkpoint;
  }

  /** Fetches the service's checkpoint of `size`, so that it takes part in fork detection. */
  private async seeServedCheckpoint(size: number): Promise<void> {
    try {
      const served = await this.api!.checkpoint(size);
      if (served) this.book.add(served, SERVICE);
      else this.report.note(`the service serves no checkpoint of size ${size} to compare the saved one with`);
    } catch (error) {
      this.report.fail(`checkpoint ${size} from the service`, reasonOf(error));
    }
  }

  // ---------------------------------------------------------------- 3. an event

  private async checkEvent(target: Checkpoint): Promise<void> {
    const { options, api, report } = this;
    const size = target.treeSize;
    let event: unknown = options.event?.value;
    let eventSource = options.event ? `file ${options.event.file}` : SERVICE;
    let seq: number | undefined = options.seq ?? (isObject(event) && isSize(event.seq) ? event.seq : undefined);
    const inclusionCheck = () => `${seq === undefined ? 'event' : `event ${seq}`} inclusion in checkpoint ${size}`;

    // Where the proof comes from, as a source in the report and as the subject of a sentence.
    const proofOrigin = options.inclusionProof ? `file ${options.inclusionProof.file}` : SERVICE;
    const proofSource = options.inclusionProof ? `the inclusion proof in file ${options.inclusionProof.file}` : "the service's inclusion proof";
    let proof: Record<string, unknown>;
    if (options.inclusionProof) {
      proof = options.inclusionProof.value as Record<string, unknown>;
    } else {
      if (seq === undefined && options.leafHash === undefined) {
        report.fail(inclusionCheck(), 'the event has no valid seq; give --seq or --leaf-hash');
        return;
      }
      if (seq !== undefined && seq >= size) {
        report.fail(inclusionCheck(), `event ${seq} is not covered by checkpoint ${size}, which holds events 0 to ${size - 1}; run again after the next checkpoint`);
        return;
      }
      try {
        proof = await api!.inclusionProof(seq !== undefined ? { seq } : { leafHash: options.leafHash! }, size);
      } catch (error) {
        report.fail(inclusionCheck(), `no inclusion proof: ${reasonOf(error)}`);
        return;
      }
    }
    if (isObject(proof.checkpoint)) this.book.add(proof.checkpoint, proofOrigin);
    if (seq === undefined) {
      if (!isSize(proof.leafIndex)) {
        report.fail(inclusionCheck(), 'the inclusion proof names no leaf index');
        return;
      }
      seq = proof.leafIndex;
    }

    // Leaf hashes that others claim for this event; the verifier trusts only its own.
    const claims: { hash: string; source: string }[] = [];
    const claim = (hash: unknown, source: string) => {
      if (typeof hash === 'string') claims.push({ hash: hash.toLowerCase(), source });
    };
    if (isObject(event)) claim(event.leafHash, eventSource);
    claim(proof.leafHash, proofSource);
    claim(options.leafHash, '--leaf-hash');

    if (event === undefined && options.apiKey && api) {
      try {
        event = await api.event(seq);
        eventSource = SERVICE;
        claim((event as Record<string, unknown>).leafHash, 'the served event');
      } catch (error) {
        report.fail(`event ${seq} content`, reasonOf(error));
        return;
      }
    }
    if (event === undefined) {
      this.checkLeafHashInclusion(options.leafHash!, seq, proof, target);
      return;
    }

    const hashCheck = `event ${seq} leaf hash`;
    let computed: string | undefined;
    try {
      computed = toHex(eventLeafHash(event as AuditEvent));
    } catch (error) {
      report.fail(hashCheck, `the event from ${eventSource} cannot be encoded as a leaf: ${reasonOf(error)}`);
    }
    if (computed !== undefined) {
      const wrong = claims.filter((c) => c.hash !== computed);
      if (wrong.length > 0) {
        report.fail(
          hashCheck,
          `the event from ${eventSource} hashes to ${short(computed)}, but ${listing(wrong.map((w) => `${w.source} says ${short(w.hash)}`))}: ` +
            'the event was changed after it was logged, or it is not the event the log holds',
        );
      } else {
        const agreed = claims.length > 0 ? `, the same as ${listing(claims.map((c) => c.source))}` : '';
        report.pass(hashCheck, `recomputed from the event: ${short(computed)}${agreed}`);
      }
    }
    const result = verifyInclusion(event as AuditEvent, seq, proof as unknown as InclusionProof, target, { publicKey: this.trustedKey });
    report.record(inclusionCheck(), result, `RFC 9162 inclusion proof from ${proofOrigin}`);
  }

  /** Without the event itself, checks only that the leaf hash the user holds is in the tree. */
  private checkLeafHashInclusion(hashHex: string, seq: number, proof: Record<string, unknown>, target: Checkpoint): void {
    const size = target.treeSize;
    const check = `leaf ${short(hashHex)} inclusion in checkpoint ${size}`;
    const fail = (reason: string) => this.report.fail(check, reason);
    const signature = verifyCheckpoint(target, this.trustedKey);
    if (!signature.ok) return fail(`checkpoint ${size}: ${signature.reason}`);
    if (typeof proof.leafHash === 'string' && proof.leafHash.toLowerCase() !== hashHex) {
      return fail(`the inclusion proof is for leaf hash ${short(proof.leafHash)}, not ${short(hashHex)}`);
    }
    if (proof.treeSize !== undefined && proof.treeSize !== size) return fail(`the inclusion proof is for tree size ${String(proof.treeSize)}, not ${size}`);
    if (!Array.isArray(proof.hashes)) return fail('the inclusion proof has no list of hashes');
    const hashes: Uint8Array[] = [];
    for (const [i, h] of proof.hashes.entries()) {
      const bytes = fromBase64(h, HASH_SIZE);
      if (!bytes) return fail(`hash ${i} of the inclusion proof is not a 32-byte hash in standard base64`);
      hashes.push(bytes);
    }
    let computed: Uint8Array;
    try {
      computed = rootFromInclusionProof(seq, size, fromHex(hashHex, HASH_SIZE)!, hashes);
    } catch (error) {
      return fail(`the inclusion proof is malformed: ${reasonOf(error)}`);
    }
    const root = validateTreeHead(target);
    if (!bytesEqual(computed, root)) {
      return fail(`root mismatch: the inclusion proof for leaf ${seq} leads to ${shortHex(computed)} but checkpoint ${size} says ${shortHex(root)}`);
    }
    this.report.pass(check, `leaf ${seq}; the event's content was not checked: give --event or an API key for that`);
  }

  // ---------------------------------------------------------------- 4. consistency

  private async checkConsistency(target: Checkpoint): Promise<void> {
    const { options, api, report } = this;
    const size = target.treeSize;
    let old: unknown;
    let source: string;
    if (options.oldCheckpoint) {
      old = options.oldCheckpoint.value;
      source = `file ${options.oldCheckpoint.file}`;
    } else {
      const check = `consistency ${options.oldSize} -> ${size}`;
      try {
        old = await api!.checkpoint(options.oldSize!);
      } catch (error) {
        report.fail(check, reasonOf(error));
        return;
      }
      if (old === null) {
        report.fail(check, `the service serves no checkpoint of size ${options.oldSize}`);
        return;
      }
      source = SERVICE;
    }
    const older = this.book.add(old, source).checkpoint;
    const oldSize = older.treeSize;
    if (api && source !== SERVICE && isSize(oldSize)) await this.seeServedCheckpoint(oldSize);

    const check = `consistency ${isSize(oldSize) ? oldSize : '?'} -> ${size}`;
    let proof: unknown = { hashes: [] }; // verifyConsistency explains sizes that admit no proof
    if (options.consistencyProof) proof = options.consistencyProof.value;
    else if (isSize(oldSize) && oldSize >= 1 && oldSize <= size) {
      try {
        proof = await api!.consistencyProof(oldSize, size);
      } catch (error) {
        report.fail(check, `no consistency proof: ${reasonOf(error)}`);
        return;
      }
    }
    const result = verifyConsistency(older, target, proof as ConsistencyProof, { publicKey: this.trustedKey });
    report.record(check, result, 'RFC 9162 consistency proof: the newer tree extends the older one');
  }

  // ---------------------------------------------------------------- 5. the ledger

  private async checkAnchor(target: Checkpoint): Promise<void> {
    const { options, api, report } = this;
    const size = target.treeSize;
    const check = `anchor of checkpoint ${size}`;
    let address = options.contract;
    let servedChainId: number | undefined;
    if (!address) {
      try {
        const info = await api!.anchorContract();
        if (!isAddress(info.address)) throw new AuditApiError(`the service names "${info.address}" as its contract, which is not an address`);
        address = getAddress(info.address);
        servedChainId = info.chainId;
        report.note(`the anchor contract address ${address} (chain ${info.chainId}) was taken from the service; pin it with --contract <address>`);
      } catch (error) {
        report.fail(check, `cannot learn the contract's address from the service: ${reasonOf(error)}`);
        return;
      }
    }
    const root = validateTreeHead(target);
    let chain: AnchorContract;
    try {
      chain = await AnchorContract.connect(options.rpc!, address);
    } catch (error) {
      report.fail(check, reasonOf(error));
      return;
    }
    try {
      const where = `contract ${address} on chain ${chain.chainId}`;
      if (servedChainId !== undefined && servedChainId !== chain.chainId) {
        report.fail(check, `the service says its contract is on chain ${servedChainId}, but the --rpc node is on chain ${chain.chainId}`);
        return;
      }
      const anchored = await chain.rootAt(size);
      if (anchored) {
        if (bytesEqual(anchored, root)) report.pass(check, `${where} holds the same root ${shortHex(root)}`);
        else {
          report.fail(
            check,
            `${where} holds root ${shortHex(anchored)} for size ${size}, but the checkpoint says ${shortHex(root)}: the log was rewritten, or this is not the log's contract`,
          );
        }
        return;
      }
      const latest = await chain.latest();
      const notYet = `checkpoint ${size} is not anchored yet`;
      if (latest.treeSize === 0 || !latest.root) report.fail(check, `${notYet}, and ${where} holds no checkpoint at all`);
      else if (latest.treeSize < size) {
        report.fail(check, `${notYet}; the latest checkpoint anchored on ${where} is the older ${latest.treeSize}: run again after the next anchoring`);
      } else if (!api) {
        report.fail(check, `${notYet}; checkpoint ${latest.treeSize} is anchored, but showing that it extends ${size} needs the service's consistency proof (--url)`);
      } else {
        await this.checkCoveredByLaterAnchor(check, target, { treeSize: latest.treeSize, root: latest.root }, where);
      }
    } catch (error) {
      report.fail(check, reasonOf(error));
    } finally {
      chain.close();
    }
  }

  /**
   * The checkpoint is not on the ledger yet, but a later one is: it is covered when the service's
   * signed checkpoint of the anchored size has the anchored root and provably extends this one.
   */
  private async checkCoveredByLaterAnchor(
    check: string,
    target: Checkpoint,
    anchored: { treeSize: number; root: Uint8Array },
    where: string,
  ): Promise<void> {
    const { api, report } = this;
    const size = target.treeSize;
    const later = anchored.treeSize;
    const notYet = `checkpoint ${size} is not anchored yet`;
    let served: Record<string, unknown> | null;
    try {
      served = await api!.checkpoint(later);
    } catch (error) {
      report.fail(check, `${notYet}, and the service's checkpoint ${later} (anchored) cannot be fetched: ${reasonOf(error)}`);
      return;
    }
    if (!served) {
      report.fail(check, `${notYet}, and the service serves no checkpoint of the anchored size ${later}`);
      return;
    }
    const seen = this.book.add(served, SERVICE);
    if (!seen.signed) {
      report.fail(check, `${notYet}, and the service's checkpoint ${later} (anchored) has no valid signature`);
      return;
    }
    const servedRoot = validateTreeHead(seen.checkpoint);
    if (!bytesEqual(servedRoot, anchored.root)) {
      report.fail(
        check,
        `${notYet}; ${where} holds root ${shortHex(anchored.root)} for size ${later}, but the service's signed checkpoint ${later} says ${shortHex(servedRoot)}: ` +
          'the service signed a history other than the anchored one',
      );
      return;
    }
    let proof: unknown;
    try {
      proof = await api!.consistencyProof(size, later);
    } catch (error) {
      report.fail(check, `${notYet}, and there is no consistency proof to the anchored checkpoint ${later}: ${reasonOf(error)}`);
      return;
    }
    const result = verifyConsistency(target, seen.checkpoint, proof as ConsistencyProof, { publicKey: this.trustedKey });
    if (!result.ok) report.fail(check, `${notYet}, and the anchored checkpoint ${later} does not extend it: ${result.reason}`);
    else report.pass(check, `not anchored yet; checkpoint ${later}, anchored on ${where}, extends it: consistency ${size} -> ${later} verified`);
  }
}
