/**
 * The client the service uses to drive signer nodes over HTTP: a dealerless t-of-n FROST key
 * generation (runDkg) and a FROST signature by a quorum (sign), with identifiable abort.
 *
 * Every request is signed with the coordinator's HSM key; every answer must carry a valid signature
 * of the node's key, pinned from GET /identity on first contact. A node that is down, answers with an
 * error, signs wrongly or returns an invalid signature share is named, left out, and the signature is
 * retried with another quorum while one exists.
 */
import { randomUUID } from 'node:crypto';
import {
  aggregate, identifierOf, verifyShare, verifySignature, type WireCommitments, type WirePublic,
} from '../signer/frost-adapter.js';
import {
  canonicalJson, newRequestPayload, parsePublicKeyHex, signMessage, verifyMessage, MAX_CLOCK_SKEW_MS,
  type MessageSigner, type ResponsePayload, type SignedMessage,
} from '../signer/message-auth.js';

export interface SignerNodeRef { id: string; url: string }

export type NodeFailureKind = 'unavailable' | 'refused' | 'bad-signature' | 'bad-share' | 'inconsistent';

/** A node that could not take part, and why. `kind` says whether it misbehaved or was merely unreachable. */
export class NodeFailure extends Error {
  constructor(
    readonly nodeId: string,
    readonly kind: NodeFailureKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
    /** Public facts the node attached to a refusal (e.g. the culprits of a reshare). */
    readonly details?: Record<string, unknown>,
  ) {
    super(`node ${nodeId}: ${message}`);
    this.name = 'NodeFailure';
  }
}

export class QuorumError extends Error {
  constructor(message: string, readonly failures: NodeFailure[], readonly learned?: WirePublic) {
    super(`${message}${failures.length ? `: ${failures.map((f) => f.message).join('; ')}` : ''}`);
    this.name = 'QuorumError';
  }
}

export interface DkgResult {
  walletId: string;
  threshold: number;
  /** Group public key, compressed secp256k1 point, hex. */
  groupPublicKey: string;
  /** Verifying share of each node, hex. */
  verifyingShares: Record<string, string>;
  /** FROST identifier of each node. */
  identifiers: Record<string, string>;
  public: WirePublic;
}

export interface SignResult {
  /** FROST(secp256k1, SHA-256) signature, 65 bytes (R compressed || z), hex. */
  signature: string;
  groupPublicKey: string;
  quorum: string[];
  /** Nodes left out on the way, with the reason. */
  failures: NodeFailure[];
}

export interface CoordinatorOptions {
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number;
}

export class SignerCoordinator {
  private readonly pinned = new Map<string, Uint8Array>();
  private readonly timeoutMs: number;

  constructor(private readonly key: MessageSigner, options: CoordinatorOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Pins a node's public key known out of band (instead of trusting the first GET /identity). */
  pin(nodeId: string, publicKeyHex: string): void {
    this.pinned.set(nodeId, parsePublicKeyHex(publicKeyHex, `public key of node ${nodeId}`));
  }

  /** The node's pinned key, fetched from GET /identity on first use. */
  async identity(node: SignerNodeRef): Promise<Uint8Array> {
    const known = this.pinned.get(node.id);
    if (known) return known;
    let answer: { nodeId?: unknown; publicKey?: unknown };
    try {
      const res = await fetch(new URL('/identity', node.url), { signal: AbortSignal.timeout(this.timeoutMs) });
      answer = (await res.json()) as typeof answer;
    } catch (error) {
      throw new NodeFailure(node.id, 'unavailable', `identity not reachable (${describeFetchError(error)})`);
    }
    if (answer.nodeId !== node.id) throw new NodeFailure(node.id, 'inconsistent', `GET /identity names node ${String(answer.nodeId)}`);
    const key = parsePublicKeyHex(String(answer.publicKey), `public key of node ${node.id}`);
    this.pinned.set(node.id, key);
    return key;
  }

  /** One authenticated request. Throws NodeFailure naming the node on any problem. */
  async call<T = Record<string, unknown>>(node: SignerNodeRef, path: string, body: unknown): Promise<T> {
    const nodeKey = await this.identity(node);
    const request = await signMessage(this.key, newRequestPayload(node.id, path, body));
    let response: SignedMessage<ResponsePayload>;
    let httpStatus: number;
    try {
      const res = await fetch(new URL(path, node.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      httpStatus = res.status;
      response = (await res.json()) as SignedMessage<ResponsePayload>;
    } catch (error) {
      throw new NodeFailure(node.id, 'unavailable', `${path} failed (${describeFetchError(error)})`);
    }
    const p = response?.payload;
    if (p === null || typeof p !== 'object' || !verifyMessage(response, nodeKey)) {
      throw new NodeFailure(node.id, 'bad-signature', `the answer to ${path} is not signed by the node's pinned key: rejected`);
    }
    if (p.nodeId !== node.id || (p.inReplyTo !== request.payload.messageId && p.inReplyTo !== '') || p.status !== httpStatus) {
      throw new NodeFailure(node.id, 'inconsistent', `the answer to ${path} belongs to another node, request or status`);
    }
    if (Math.abs(Date.now() - p.timestamp) > MAX_CLOCK_SKEW_MS) throw new NodeFailure(node.id, 'inconsistent', `the answer to ${path} is stale`);
    if (p.status >= 400) {
      const b = (p.body ?? {}) as { error?: string; message?: string; details?: unknown };
      const details = b.details !== null && typeof b.details === 'object' && !Array.isArray(b.details) ? (b.details as Record<string, unknown>) : undefined;
      throw new NodeFailure(node.id, 'refused', `${path} refused with ${p.status} ${b.error ?? ''}: ${b.message ?? ''}`, p.status, b.error, details);
    }
    if (p.inReplyTo !== request.payload.messageId) throw new NodeFailure(node.id, 'inconsistent', `the answer to ${path} is for another request`);
    return p.body as T;
  }

  /**
   * Dealerless t-of-n key generation across `nodes` (FROST DKG: round 1 broadcast with proofs of
   * knowledge, round 2 secret packages encrypted node-to-node, finalise). All nodes must agree on
   * the public package; any failure aborts the ceremony and names the node.
   */
  async runDkg(nodes: SignerNodeRef[], threshold: number, walletId: string = randomUUID()): Promise<DkgResult> {
    if (nodes.length < 2 || new Set(nodes.map((n) => n.id)).size !== nodes.length) throw new Error('runDkg needs at least 2 distinct nodes');
    if (!Number.isInteger(threshold) || threshold < 2 || threshold > nodes.length) throw new Error('threshold must be from 2 to the number of nodes');
    const participants = nodes.map((n) => n.id);
    const round1 = await all(nodes, (n) => this.call<Record<string, unknown>>(n, '/dkg/round1', { walletId, threshold, participants }));
    const round2 = await all(nodes, (n) => this.call<{ packages: { from: string; to: string }[] }>(n, '/dkg/round2', { walletId, round1 }));
    const packages = round2.flatMap((r) => r.packages);
    const finals = await all(nodes, (n) =>
      this.call<{ identifier: string; verifyingShare: string; groupPublicKey: string; public: WirePublic }>(n, '/dkg/finalise', {
        walletId,
        packages: packages.filter((p) => p.to === n.id),
      }),
    );
    const reference = canonicalJson(finals[0]!.public);
    const failures: NodeFailure[] = [];
    finals.forEach((f, i) => {
      const node = nodes[i]!;
      if (canonicalJson(f.public) !== reference) failures.push(new NodeFailure(node.id, 'inconsistent', 'finished with a different public package'));
      else if (f.identifier !== identifierOf(node.id) || f.public.verifyingShares[f.identifier] !== f.verifyingShare) {
        failures.push(new NodeFailure(node.id, 'inconsistent', 'reports a verifying share that is not in the public package'));
      }
    });
    if (failures.length) throw new QuorumError(`key generation of wallet ${walletId} is inconsistent`, failures);
    const pub = finals[0]!.public;
    return {
      walletId,
      threshold,
      groupPublicKey: pub.commitments[0]!,
      verifyingShares: Object.fromEntries(nodes.map((n, i) => [n.id, finals[i]!.verifyingShare])),
      identifiers: Object.fromEntries(nodes.map((n, i) => [n.id, finals[i]!.identifier])),
      public: pub,
    };
  }

  /**
   * Signs a 32-byte message for a wallet with a quorum of `nodes` (RFC 9591 section 5): commitments,
   * signature shares, each share checked (a bad one names its node), aggregation and a final check.
   * A node that fails is left out and another quorum is tried while enough nodes remain.
   * `expected` (from runDkg) pins the wallet's public package; pass it. Without it the first node's
   * package is used and the others must match it (a node that disagrees is excluded).
   */
  async sign(nodes: SignerNodeRef[], walletId: string, message: Uint8Array, expected?: WirePublic, options: { version?: number } = {}): Promise<SignResult> {
    if (!(message instanceof Uint8Array) || message.length !== 32) throw new Error('the message must be 32 bytes');
    const failures: NodeFailure[] = [];
    const excluded = new Set<string>();
    let pub = expected;
    for (let attempt = 0; attempt < 2 * nodes.length; attempt++) {
      const available = nodes.filter((n) => !excluded.has(n.id));
      const threshold = pub?.signers.min ?? 2;
      if (available.length < threshold) break;
      const quorum = available.slice(0, threshold);
      try {
        const result = await this.signWith(quorum, walletId, message, pub, options.version);
        return { ...result, quorum: quorum.map((n) => n.id), failures };
      } catch (error) {
        if (error instanceof QuorumError) {
          for (const f of error.failures) {
            failures.push(f);
            excluded.add(f.nodeId);
          }
          if (error.learned) pub = error.learned;
          continue;
        }
        throw error;
      }
    }
    throw new QuorumError(`no quorum of ${pub?.signers.min ?? '?'} nodes could sign for wallet ${walletId}`, failures);
  }

  private async signWith(quorum: SignerNodeRef[], walletId: string, message: Uint8Array, expected?: WirePublic, version?: number) {
    const sessionId = randomUUID();
    // With `version`, a node whose current share version differs refuses (version-not-current).
    const commits = await allOrFail(quorum, (n) =>
      this.call<{ identifier: string; commitments: WireCommitments; public: WirePublic }>(n, '/sign/commit', { walletId, sessionId, ...(version === undefined ? {} : { version }) }),
    );
    // The wallet's public package: the one pinned by the caller, else the one the quorum agrees on.
    const pub = expected ?? commits[0]!.public;
    const learned = expected ? undefined : pub;
    const bad: NodeFailure[] = [];
    commits.forEach((c, i) => {
      const node = quorum[i]!;
      if (canonicalJson(c.public) !== canonicalJson(pub)) bad.push(new NodeFailure(node.id, 'inconsistent', 'holds a different public package for this wallet'));
      else if (c.identifier !== identifierOf(node.id) || c.commitments.identifier !== c.identifier) bad.push(new NodeFailure(node.id, 'inconsistent', 'committed under a wrong identifier'));
    });
    // Without a pinned package the first quorum assumes t = 2; a larger threshold is learned here and the next attempt uses it.
    if (pub.signers.min > quorum.length) throw new QuorumError('the quorum is smaller than the threshold', [], learned);
    if (bad.length) throw new QuorumError('inconsistent commitments', bad, learned);
    const list = commits.map((c) => c.commitments);
    const messageHex = Buffer.from(message).toString('hex');
    const shares = await allOrFail(quorum, (n) => this.call<{ identifier: string; share: string }>(n, '/sign/share', { walletId, sessionId, message: messageHex, commitments: list }), learned);
    // Identifiable abort (RFC 9591 section 5.4): a share that does not verify names its signer.
    shares.forEach((s, i) => {
      const node = quorum[i]!;
      const id = identifierOf(node.id);
      if (typeof s.share !== 'string' || !verifyShare(pub, list, message, id, s.share)) {
        bad.push(new NodeFailure(node.id, 'bad-share', 'returned a signature share that does not verify'));
      }
    });
    if (bad.length) throw new QuorumError('invalid signature shares', bad, learned);
    const signature = aggregate(pub, list, message, Object.fromEntries(shares.map((s, i) => [identifierOf(quorum[i]!.id), s.share])));
    const groupPublicKey = Buffer.from(pub.commitments[0]!, 'hex');
    if (!verifySignature(signature, message, groupPublicKey)) throw new Error('the aggregated signature does not verify');
    return { signature: Buffer.from(signature).toString('hex'), groupPublicKey: pub.commitments[0]! };
  }
}

/** Runs `f` on every node; the first failure aborts (DKG needs every participant). */
async function all<T>(nodes: SignerNodeRef[], f: (n: SignerNodeRef) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(nodes.map(f));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [asFailure(s.reason)] : []));
  if (failures.length) throw new QuorumError('key generation aborted', failures);
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

async function allOrFail<T>(nodes: SignerNodeRef[], f: (n: SignerNodeRef) => Promise<T>, learned?: WirePublic): Promise<T[]> {
  const settled = await Promise.allSettled(nodes.map(f));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [asFailure(s.reason)] : []));
  if (failures.length) throw new QuorumError('signing attempt failed', failures, learned);
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

function asFailure(error: unknown): NodeFailure {
  if (error instanceof NodeFailure) return error;
  throw error;
}

function describeFetchError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.message ?? String(error);
}
