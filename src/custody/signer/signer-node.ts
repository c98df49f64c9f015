/**
 * What one signer node does, independent of HTTP: its part of the FROST DKG and of FROST signing,
 * with its signing share sealed at rest (envelope encryption under the node's HSM key) and its
 * nonces single-use in storage.
 *
 * DKG round-2 packages carry secret shares for one recipient each; they travel through the
 * coordinator encrypted to the recipient: each node publishes an ephemeral secp256k1 key with its
 * round-1 broadcast, and a package is AES-256-GCM encrypted under HKDF(ECDH(sender, recipient)),
 * bound to (wallet, from, to). Round secrets live in memory only, for at most DKG_TTL_MS.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { open, seal, type EnvelopeHsm } from '../../hsm/envelope.js';
import {
  commit, dkgClean, dkgFinalise, dkgRound1, dkgRound2, identifierOf, noncesFromBytes, noncesToBytes, signShare,
  verifyingShareOf, type DkgRoundSecret, type WireCommitments, type WirePublic, type WireRound1,
} from './frost-adapter.js';
import { NonceUnknownError, NonceUsedError, type SignerStore, type StoredShare } from './signer-store.js';
import { canonicalJson } from './message-auth.js';
import { ShareMaintenance } from './share-maintenance.js';

export class SignerError extends Error {
  /** `details`: public facts the caller needs to act on (e.g. the culprits of a reshare), never secrets. */
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const DKG_TTL_MS = 10 * 60_000;
const SHARE_VERSION = 1;
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

interface Ceremony {
  threshold: number;
  participants: string[];
  secret: DkgRoundSecret;
  ecdhKey: Uint8Array;
  round1?: DkgParticipant[];
  expires: number;
}

export interface DkgParticipant { nodeId: string; identifier: string; round1: WireRound1; encryptionKey: string }
export interface EncryptedPackage { from: string; to: string; iv: string; ciphertext: string }

export class SignerNode {
  private readonly ceremonies = new Map<string, Ceremony>();
  private readonly maintenance: ShareMaintenance;

  constructor(
    readonly nodeId: string,
    private readonly hsm: EnvelopeHsm,
    private readonly store: SignerStore,
    private readonly kekLabel: string,
  ) {
    this.maintenance = new ShareMaintenance(this, hsm, store, kekLabel);
  }

  get identifier(): string {
    return identifierOf(this.nodeId);
  }

  async handle(path: string, body: unknown): Promise<unknown> {
    const b = requireObject(body);
    switch (path) {
      case '/dkg/round1': return this.dkgRound1(b);
      case '/dkg/round2': return this.dkgRound2(b);
      case '/dkg/finalise': return this.dkgFinalise(b);
      case '/sign/commit': return this.signCommit(b);
      case '/sign/share': return this.signShare(b);
      case '/reshare/prepare':
      case '/reshare/deal':
      case '/reshare/stage':
      case '/reshare/commit':
      case '/reshare/abort':
        return this.maintenance.handle(path, b);
      default: throw new SignerError(404, 'not-found', `no endpoint ${path}`);
    }
  }

  // --- DKG -----------------------------------------------------------------------------------

  private async dkgRound1(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const threshold = b.threshold;
    const participants = b.participants;
    if (!Array.isArray(participants) || participants.length < 2 || participants.length > 64 || !participants.every((p) => typeof p === 'string' && ID_RE.test(p))) {
      throw new SignerError(400, 'bad-request', 'participants must be 2 to 64 node ids');
    }
    if (new Set(participants).size !== participants.length) throw new SignerError(400, 'bad-request', 'participants must be distinct');
    if (!participants.includes(this.nodeId)) throw new SignerError(400, 'bad-request', `node ${this.nodeId} is not among the participants`);
    if (!Number.isInteger(threshold) || (threshold as number) < 2 || (threshold as number) > participants.length) {
      throw new SignerError(400, 'bad-request', 'threshold must be an integer from 2 to the number of participants');
    }
    if (await this.store.hasShare(walletId)) throw new SignerError(409, 'wallet-exists', `node ${this.nodeId} already holds a share of wallet ${walletId}`);
    this.expireCeremonies();
    if (this.ceremonies.has(walletId)) throw new SignerError(409, 'ceremony-running', `a key generation for wallet ${walletId} is already running`);
    const { secret, broadcast } = dkgRound1(this.identifier, threshold as number, participants.length);
    const ecdhKey = secp256k1.utils.randomSecretKey();
    this.ceremonies.set(walletId, { threshold: threshold as number, participants: [...participants], secret, ecdhKey, expires: Date.now() + DKG_TTL_MS });
    return { nodeId: this.nodeId, identifier: this.identifier, round1: broadcast, encryptionKey: hex(secp256k1.getPublicKey(ecdhKey, true)) };
  }

  private async dkgRound2(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const ceremony = this.ceremony(walletId);
    if (ceremony.round1) throw new SignerError(409, 'wrong-step', `round 2 of wallet ${walletId} already ran`);
    const all = b.round1;
    if (!Array.isArray(all)) throw new SignerError(400, 'bad-request', 'round1 must be the list of every participant\'s round-1 broadcast');
    const entries = all.map((e) => requireParticipant(e));
    const ids = entries.map((e) => e.nodeId).sort();
    if (canonicalJson(ids) !== canonicalJson([...ceremony.participants].sort())) {
      throw new SignerError(400, 'bad-request', 'round-1 broadcasts do not match the participants of this key generation');
    }
    for (const e of entries) {
      if (e.identifier !== identifierOf(e.nodeId) || e.round1.identifier !== e.identifier) {
        throw new SignerError(400, 'bad-request', `round-1 broadcast of ${e.nodeId} carries the wrong identifier`);
      }
    }
    const others = entries.filter((e) => e.nodeId !== this.nodeId);
    let shares: Record<string, Uint8Array>;
    try {
      shares = dkgRound2(ceremony.secret, others.map((e) => e.round1));
    } catch (error) {
      this.abort(walletId);
      throw new SignerError(400, 'dkg-invalid', `round-1 broadcasts rejected: ${(error as Error).message}`);
    }
    ceremony.round1 = entries;
    const packages: EncryptedPackage[] = others.map((peer) => {
      const share = shares[peer.identifier];
      if (share === undefined) throw new SignerError(500, 'internal', `no round-2 package for ${peer.nodeId}`);
      const key = packageKey(ceremony.ecdhKey, peer.encryptionKey, walletId, this.nodeId, peer.nodeId);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(packageAad(walletId, this.nodeId, peer.nodeId));
      const ciphertext = Buffer.concat([cipher.update(share), cipher.final(), cipher.getAuthTag()]);
      share.fill(0);
      key.fill(0);
      return { from: this.nodeId, to: peer.nodeId, iv: iv.toString('hex'), ciphertext: ciphertext.toString('hex') };
    });
    return { nodeId: this.nodeId, packages };
  }

  private async dkgFinalise(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const ceremony = this.ceremony(walletId);
    if (!ceremony.round1) throw new SignerError(409, 'wrong-step', `round 2 of wallet ${walletId} has not run on node ${this.nodeId}`);
    const packages = b.packages;
    if (!Array.isArray(packages)) throw new SignerError(400, 'bad-request', 'packages must be a list');
    const others = ceremony.round1.filter((e) => e.nodeId !== this.nodeId);
    const received: { from: string; signingShare: Uint8Array }[] = [];
    for (const peer of others) {
      const p = packages.find((x) => isRecord(x) && x.from === peer.nodeId && x.to === this.nodeId) as EncryptedPackage | undefined;
      if (p === undefined) throw new SignerError(400, 'bad-request', `no round-2 package from ${peer.nodeId}`);
      const key = packageKey(ceremony.ecdhKey, peer.encryptionKey, walletId, peer.nodeId, this.nodeId);
      try {
        const data = Buffer.from(String(p.ciphertext), 'hex');
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(String(p.iv), 'hex'));
        decipher.setAAD(packageAad(walletId, peer.nodeId, this.nodeId));
        decipher.setAuthTag(data.subarray(data.length - 16));
        const share = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
        received.push({ from: peer.identifier, signingShare: Uint8Array.from(share) });
        share.fill(0);
      } catch {
        throw new SignerError(400, 'dkg-invalid', `the round-2 package from ${peer.nodeId} does not decrypt`);
      } finally {
        key.fill(0);
      }
    }
    let result: ReturnType<typeof dkgFinalise>;
    try {
      result = dkgFinalise(ceremony.secret, others.map((e) => e.round1), received);
    } catch (error) {
      this.abort(walletId);
      throw new SignerError(400, 'dkg-invalid', `key generation failed: ${(error as Error).message}`);
    } finally {
      for (const r of received) r.signingShare.fill(0);
    }
    const publicPackage = result.public;
    const verifyingShare = hex(verifyingShareOf(result.secret.signingShare));
    const sealedShare = await seal(this.hsm, this.kekLabel, result.secret.signingShare, shareContext(walletId, this.nodeId, SHARE_VERSION, verifyingShare));
    result.secret.signingShare.fill(0);
    await this.store.insertShare({ walletId, version: SHARE_VERSION, identifier: this.identifier, verifyingShare, publicPackage, sealedShare });
    this.abort(walletId);
    return { nodeId: this.nodeId, identifier: this.identifier, verifyingShare, groupPublicKey: publicPackage.commitments[0], public: publicPackage };
  }

  // --- signing -------------------------------------------------------------------------------

  /** RFC 9591 section 5.1: nonces are sealed and stored, single-use, before the commitments leave the node. */
  private async signCommit(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const sessionId = requireId(b.sessionId, 'sessionId');
    const { secret, publicPackage, version } = await this.openShare(walletId);
    if (b.version !== undefined && b.version !== version) {
      secret.signingShare.fill(0);
      throw new SignerError(409, 'version-not-current', `share version ${String(b.version)} of wallet ${walletId} is not current on node ${this.nodeId} (current: ${version})`);
    }
    const { nonces, commitments } = commit(secret, publicPackage);
    secret.signingShare.fill(0);
    const raw = noncesToBytes(nonces);
    nonces.hiding.fill(0);
    nonces.binding.fill(0);
    let stored: boolean;
    try {
      const sealed = await seal(this.hsm, this.kekLabel, raw, nonceContext(walletId, this.nodeId, sessionId, commitments));
      stored = await this.store.insertNonces(sessionId, walletId, commitments, sealed, version);
    } finally {
      raw.fill(0);
    }
    if (!stored) throw new SignerError(409, 'session-exists', `signing session ${sessionId} already has a commitment on node ${this.nodeId}`);
    return { nodeId: this.nodeId, identifier: this.identifier, commitments, public: publicPackage, version };
  }

  /** RFC 9591 section 5.2: the nonce is marked used in the same transaction, before the share is computed. */
  private async signShare(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const sessionId = requireId(b.sessionId, 'sessionId');
    if (typeof b.message !== 'string' || !/^[0-9a-f]{64}$/.test(b.message)) throw new SignerError(400, 'bad-request', 'message must be 32 bytes in lower-case hex');
    const message = Uint8Array.from(Buffer.from(b.message, 'hex'));
    const list = b.commitments;
    if (!Array.isArray(list) || !list.every(isCommitments)) throw new SignerError(400, 'bad-request', 'commitments must be a list of {identifier, hiding, binding}');
    const { secret, publicPackage, version } = await this.openShare(walletId);
    try {
      if (list.length < publicPackage.signers.min) throw new SignerError(400, 'bad-request', `at least ${publicPackage.signers.min} commitments are needed`);
      return await this.store.consumeNonces(sessionId, walletId, async (sealed, stored, nonceVersion) => {
        // A nonce drawn under a share version that has since been replaced is spent, never used with the new share.
        if (nonceVersion !== null && nonceVersion !== version) {
          throw new SignerError(409, 'version-not-current', `session ${sessionId} was committed under share version ${nonceVersion}, which is no longer current on node ${this.nodeId}`);
        }
        const mine = list.filter((c) => c.identifier === this.identifier);
        if (mine.length !== 1 || mine[0]!.hiding !== stored.hiding || mine[0]!.binding !== stored.binding) {
          throw new SignerError(400, 'bad-request', `the commitment list does not carry node ${this.nodeId}'s commitment for session ${sessionId}`);
        }
        const raw = await open(this.hsm, sealed, nonceContext(walletId, this.nodeId, sessionId, stored));
        const nonces = noncesFromBytes(raw);
        raw.fill(0);
        try {
          const share = signShare(secret, publicPackage, nonces, list, message);
          return { nodeId: this.nodeId, identifier: this.identifier, share };
        } catch (error) {
          throw new SignerError(400, 'bad-request', `cannot sign: ${(error as Error).message}`);
        } finally {
          nonces.hiding.fill(0);
          nonces.binding.fill(0);
        }
      });
    } catch (error) {
      if (error instanceof NonceUsedError) throw new SignerError(409, 'nonce-used', error.message);
      if (error instanceof NonceUnknownError) throw new SignerError(404, 'nonce-unknown', error.message);
      throw error;
    } finally {
      secret.signingShare.fill(0);
    }
  }

  /** Opens the current sealed share and checks it against the public verifying share it was stored with. */
  async openShare(walletId: string) {
    const row = await this.store.currentShare(walletId);
    if (row === undefined) throw new SignerError(404, 'wallet-unknown', `node ${this.nodeId} holds no current share of wallet ${walletId}`);
    return this.openStored(row);
  }

  /** Opens a stored share row (current or staged) and checks it against its public data. */
  async openStored(row: StoredShare) {
    const walletId = row.walletId;
    let signingShare: Uint8Array<ArrayBuffer>;
    try {
      signingShare = new Uint8Array(await open(this.hsm, row.sealedShare, shareContext(walletId, this.nodeId, row.version, row.verifyingShare)));
    } catch (error) {
      throw new SignerError(500, 'share-unavailable', `the sealed share of wallet ${walletId} does not open on node ${this.nodeId}: ${(error as Error).message}`);
    }
    const recomputed = Buffer.from(verifyingShareOf(signingShare));
    const expected = Buffer.from(row.publicPackage.verifyingShares[row.identifier] ?? '', 'hex');
    const stored = Buffer.from(row.verifyingShare, 'hex');
    if (row.identifier !== this.identifier || recomputed.length !== expected.length || !timingSafeEqual(recomputed, expected) || !recomputed.equals(stored)) {
      signingShare.fill(0);
      throw new SignerError(500, 'share-mismatch', `the share of wallet ${walletId} on node ${this.nodeId} does not match its verifying share`);
    }
    return { secret: { identifier: row.identifier, signingShare }, publicPackage: row.publicPackage, version: row.version };
  }

  private ceremony(walletId: string): Ceremony {
    this.expireCeremonies();
    const c = this.ceremonies.get(walletId);
    if (c === undefined) throw new SignerError(409, 'no-ceremony', `no key generation for wallet ${walletId} is running on node ${this.nodeId} (round 1 first)`);
    return c;
  }

  private abort(walletId: string): void {
    const c = this.ceremonies.get(walletId);
    if (c === undefined) return;
    dkgClean(c.secret);
    c.ecdhKey.fill(0);
    this.ceremonies.delete(walletId);
  }

  private expireCeremonies(): void {
    const now = Date.now();
    for (const [walletId, c] of this.ceremonies) if (c.expires < now) this.abort(walletId);
  }
}

export function shareContext(walletId: string, nodeId: string, version: number, verifyingShare: string): Record<string, string> {
  return { purpose: 'frost-signing-share', suite: 'FROST-secp256k1-SHA256-v1', wallet: walletId, party: nodeId, version: String(version), publicShare: verifyingShare };
}

function nonceContext(walletId: string, nodeId: string, sessionId: string, c: WireCommitments): Record<string, string> {
  return { purpose: 'frost-signing-nonces', wallet: walletId, party: nodeId, session: sessionId, hiding: c.hiding, binding: c.binding };
}

function packageAad(walletId: string, from: string, to: string): Buffer {
  return Buffer.from(canonicalJson({ purpose: 'frost-dkg-round2', wallet: walletId, from, to }), 'utf8');
}

function packageKey(own: Uint8Array, peerPublicHex: string, walletId: string, from: string, to: string): Buffer {
  let shared: Uint8Array;
  try {
    shared = secp256k1.getSharedSecret(own, Buffer.from(peerPublicHex, 'hex'), true);
  } catch {
    throw new SignerError(400, 'bad-request', 'a participant\'s encryption key is not a secp256k1 point');
  }
  const key = Buffer.from(hkdfSync('sha256', shared.subarray(1), Buffer.alloc(0), packageAad(walletId, from, to), 32));
  shared.fill(0);
  return key;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function requireObject(v: unknown): Record<string, unknown> {
  if (!isRecord(v)) throw new SignerError(400, 'bad-request', 'the request body must be a JSON object');
  return v;
}

export function requireId(v: unknown, what: string): string {
  if (typeof v !== 'string' || !ID_RE.test(v)) throw new SignerError(400, 'bad-request', `${what} must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
  return v;
}

export const HEX = (v: unknown): v is string => typeof v === 'string' && /^([0-9a-f]{2})+$/.test(v);

function isCommitments(v: unknown): v is WireCommitments {
  return isRecord(v) && HEX(v.identifier) && HEX(v.hiding) && HEX(v.binding);
}

function requireParticipant(v: unknown): DkgParticipant {
  if (!isRecord(v) || typeof v.nodeId !== 'string' || !HEX(v.identifier) || !HEX(v.encryptionKey) || !isRecord(v.round1)) {
    throw new SignerError(400, 'bad-request', 'each round-1 entry needs nodeId, identifier, encryptionKey and round1');
  }
  const r = v.round1;
  if (!HEX(r.identifier) || !Array.isArray(r.commitment) || !r.commitment.every(HEX) || !HEX(r.proofOfKnowledge)) {
    throw new SignerError(400, 'bad-request', `the round-1 broadcast of ${v.nodeId} is malformed`);
  }
  return { nodeId: v.nodeId, identifier: v.identifier, encryptionKey: v.encryptionKey, round1: r as unknown as WireRound1 };
}
