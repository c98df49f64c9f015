/**
 * A signer node's part in share refresh and resharing (docs/custody-maintenance.md), the classic
 * resharing protocol of src/custody/frost/reshare.ts run across node processes, with a two-phase
 * commit so a wallet never ends up with mixed share versions:
 *
 *   /reshare/prepare  (each member of the new set) checks the plan against its own current share,
 *                     draws an ephemeral secp256k1 key for this ceremony (memory only) and returns it.
 *   /reshare/deal     (each dealer, an old member) opens its current share and deals its
 *                     Lagrange-weighted share to the new set: a public broadcast of commitments and
 *                     one sub-share per member, AES-256-GCM encrypted under
 *                     HKDF(ECDH(dealer's fresh key, member's key)) bound to (wallet, ceremony,
 *                     version, from, to), so the coordinator relays what it cannot read.
 *   /reshare/stage    (each member) decrypts and verifies every sub-share against its dealer's
 *                     commitment and the dealer's commitment against its old verifying share (a bad
 *                     dealer is named), checks the group key is unchanged, seals the new share at
 *                     rest as a STAGED version (never used to sign) and returns only public data.
 *   /reshare/commit   (every node of the old and new sets, once the coordinator has checked that all
 *                     members agree and the new public shares interpolate to the group key) makes the
 *                     staged version current if it carries the public package the coordinator
 *                     checked, and deletes the old sealed share; a node leaving the set deletes its
 *                     share. Idempotent.
 *   /reshare/abort    discards the staged version of the ceremony (idempotent; refused once committed).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { seal, type EnvelopeHsm } from '../../hsm/envelope.js';
import {
  identifierOf, reshareDealShares, reshareFinaliseShare, ReshareCulpritsError, verifyingShareOf,
  type WirePublic, type WireReshareCommitment,
} from './frost-adapter.js';
import { canonicalJson } from './message-auth.js';
import { HEX, ID_RE, SignerError, hex, isRecord, requireId, shareContext, type SignerNode } from './signer-node.js';
import { AlreadyCommittedError, NothingStagedError, StagedMismatchError, type SignerStore } from './signer-store.js';

const PREPARE_TTL_MS = 10 * 60_000;

/** What the coordinator plans: a new share version of `walletId` for `members`, dealt by `dealers`. */
interface Plan {
  walletId: string;
  ceremonyId: string;
  fromVersion: number;
  version: number;
  threshold: number;
  members: string[];
  dealers: string[];
}

interface Prepared extends Plan {
  oldPublic: WirePublic;
  /** SECRET: this member's ephemeral ECDH key for the ceremony. */
  ecdhKey: Uint8Array;
  expires: number;
}

export interface SealedSubShare { from: string; to: string; ephemeralKey: string; iv: string; ciphertext: string }

export class ShareMaintenance {
  /** One prepared ceremony per wallet, in memory only: a restarted member makes the ceremony abort. */
  private readonly prepared = new Map<string, Prepared>();

  constructor(
    private readonly node: SignerNode,
    private readonly hsm: EnvelopeHsm,
    private readonly store: SignerStore,
    private readonly kekLabel: string,
  ) {}

  async handle(path: string, b: Record<string, unknown>): Promise<unknown> {
    switch (path) {
      case '/reshare/prepare': return this.prepare(b);
      case '/reshare/deal': return this.deal(b);
      case '/reshare/stage': return this.stage(b);
      case '/reshare/commit': return this.commit(b);
      case '/reshare/abort': return this.abort(b);
      default: throw new SignerError(404, 'not-found', `no endpoint ${path}`);
    }
  }

  private async prepare(b: Record<string, unknown>): Promise<unknown> {
    const plan = requirePlan(b);
    const oldPublic = requirePublic(b.oldPublic);
    if (!plan.members.includes(this.node.nodeId)) throw new SignerError(400, 'bad-request', `node ${this.node.nodeId} is not a member of the new set`);
    this.checkDealers(plan, oldPublic);
    const current = await this.store.currentShare(plan.walletId);
    if (current !== undefined) {
      if (current.version !== plan.fromVersion) {
        throw new SignerError(409, 'version-mismatch', `node ${this.node.nodeId} holds share version ${current.version} of wallet ${plan.walletId}, not ${plan.fromVersion}`);
      }
      if (canonicalJson(current.publicPackage) !== canonicalJson(oldPublic)) {
        throw new SignerError(409, 'version-mismatch', `the old public package does not match the one node ${this.node.nodeId} holds for wallet ${plan.walletId}`);
      }
    }
    this.expire();
    const existing = this.prepared.get(plan.walletId);
    if (existing && existing.ceremonyId === plan.ceremonyId && canonicalJson(planOf(existing)) === canonicalJson(plan)) {
      return { nodeId: this.node.nodeId, identifier: this.node.identifier, encryptionKey: hex(secp256k1.getPublicKey(existing.ecdhKey, true)) };
    }
    if (existing) this.drop(plan.walletId);
    const ecdhKey = secp256k1.utils.randomSecretKey();
    this.prepared.set(plan.walletId, { ...plan, oldPublic, ecdhKey, expires: Date.now() + PREPARE_TTL_MS });
    return { nodeId: this.node.nodeId, identifier: this.node.identifier, encryptionKey: hex(secp256k1.getPublicKey(ecdhKey, true)) };
  }

  private async deal(b: Record<string, unknown>): Promise<unknown> {
    const plan = requirePlan(b);
    if (!plan.dealers.includes(this.node.nodeId)) throw new SignerError(400, 'bad-request', `node ${this.node.nodeId} is not a dealer of this ceremony`);
    const recipients = b.recipients;
    if (!Array.isArray(recipients) || !recipients.every((r) => isRecord(r) && typeof r.nodeId === 'string' && HEX(r.encryptionKey))) {
      throw new SignerError(400, 'bad-request', 'recipients must be a list of {nodeId, encryptionKey}');
    }
    const keys = new Map((recipients as { nodeId: string; encryptionKey: string }[]).map((r) => [r.nodeId, r.encryptionKey]));
    if (keys.size !== plan.members.length || !plan.members.every((m) => keys.has(m))) {
      throw new SignerError(400, 'bad-request', 'recipients must be exactly the members of the new set');
    }
    const row = await this.store.currentShare(plan.walletId);
    if (row === undefined) throw new SignerError(404, 'wallet-unknown', `node ${this.node.nodeId} holds no current share of wallet ${plan.walletId}`);
    if (row.version !== plan.fromVersion) {
      throw new SignerError(409, 'version-mismatch', `node ${this.node.nodeId} holds share version ${row.version} of wallet ${plan.walletId}, not ${plan.fromVersion}`);
    }
    // The dealer deals against its own stored public package, never one the coordinator supplies.
    this.checkDealers(plan, row.publicPackage);
    const { secret } = await this.node.openStored(row);
    let dealt: ReturnType<typeof reshareDealShares>;
    try {
      dealt = reshareDealShares(secret, row.publicPackage, plan.dealers.map(identifierOf), plan.threshold, plan.members.map(identifierOf));
    } catch (error) {
      throw new SignerError(400, 'bad-request', `cannot deal: ${(error as Error).message}`);
    } finally {
      secret.signingShare.fill(0);
    }
    const packages: SealedSubShare[] = [];
    try {
      for (const member of plan.members) {
        const subShare = dealt.subShares[identifierOf(member)]!;
        const ephemeral = secp256k1.utils.randomSecretKey();
        const key = subShareKey(ephemeral, keys.get(member)!, plan, this.node.nodeId, member);
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        cipher.setAAD(subShareAad(plan, this.node.nodeId, member));
        const ciphertext = Buffer.concat([cipher.update(subShare), cipher.final(), cipher.getAuthTag()]);
        key.fill(0);
        packages.push({ from: this.node.nodeId, to: member, ephemeralKey: hex(secp256k1.getPublicKey(ephemeral, true)), iv: iv.toString('hex'), ciphertext: ciphertext.toString('hex') });
        ephemeral.fill(0);
      }
    } finally {
      for (const s of Object.values(dealt.subShares)) s.fill(0);
    }
    return { nodeId: this.node.nodeId, identifier: this.node.identifier, broadcast: dealt.broadcast, packages };
  }

  private async stage(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const ceremonyId = requireId(b.ceremonyId, 'ceremonyId');
    this.expire();
    const p = this.prepared.get(walletId);
    if (p === undefined || p.ceremonyId !== ceremonyId) {
      // A retry after a stage that succeeded: answer with what was staged.
      const staged = await this.store.stagedShare(walletId);
      if (staged && staged.ceremonyId === ceremonyId) return this.stagedAnswer(staged.version, staged.verifyingShare, staged.publicPackage);
      throw new SignerError(409, 'no-ceremony', `ceremony ${ceremonyId} is not prepared on node ${this.node.nodeId} (prepare first)`);
    }
    const broadcasts = b.broadcasts;
    const packages = b.packages;
    if (!Array.isArray(broadcasts) || !Array.isArray(packages)) throw new SignerError(400, 'bad-request', 'broadcasts and packages must be lists');
    const culprits: string[] = [];
    const commitments: WireReshareCommitment[] = [];
    const received: { from: string; signingShare: Uint8Array }[] = [];
    try {
      for (const dealer of p.dealers) {
        const entry = broadcasts.find((x) => isRecord(x) && x.nodeId === dealer) as { broadcast?: unknown } | undefined;
        const bc = entry?.broadcast;
        const pkg = packages.find((x) => isRecord(x) && x.from === dealer && x.to === this.node.nodeId) as SealedSubShare | undefined;
        if (!isRecord(bc) || bc.from !== identifierOf(dealer) || !Array.isArray(bc.commitment) || !bc.commitment.every(HEX) || pkg === undefined) {
          culprits.push(dealer);
          continue;
        }
        const subShare = this.openSubShare(p, dealer, pkg);
        if (subShare === undefined) {
          culprits.push(dealer);
          continue;
        }
        commitments.push({ from: bc.from, commitment: bc.commitment as string[] });
        received.push({ from: identifierOf(dealer), signingShare: subShare });
      }
      if (culprits.length) throw culpritsError(ceremonyId, culprits);
      let result: ReturnType<typeof reshareFinaliseShare>;
      try {
        result = reshareFinaliseShare(this.node.identifier, p.oldPublic, p.dealers.map(identifierOf), p.threshold, p.members.map(identifierOf), commitments, received);
      } catch (error) {
        if (error instanceof ReshareCulpritsError) {
          throw culpritsError(ceremonyId, p.dealers.filter((d) => error.culprits.includes(identifierOf(d))));
        }
        throw new SignerError(400, 'reshare-invalid', `ceremony ${ceremonyId}: ${(error as Error).message}`);
      }
      const verifyingShare = hex(verifyingShareOf(result.secret.signingShare));
      try {
        const sealedShare = await seal(this.hsm, this.kekLabel, result.secret.signingShare, shareContext(walletId, this.node.nodeId, p.version, verifyingShare));
        await this.store.stageShare({ walletId, version: p.version, identifier: this.node.identifier, verifyingShare, publicPackage: result.public, sealedShare, ceremonyId });
      } finally {
        result.secret.signingShare.fill(0);
      }
      this.drop(walletId);
      return this.stagedAnswer(p.version, verifyingShare, result.public);
    } catch (error) {
      // A ceremony that failed verification is over on this node: the coordinator aborts it.
      if (error instanceof SignerError && error.code === 'reshare-invalid') this.drop(walletId);
      throw error;
    } finally {
      for (const r of received) r.signingShare.fill(0);
    }
  }

  private async commit(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const ceremonyId = requireId(b.ceremonyId, 'ceremonyId');
    const version = requireVersion(b.version, 'version');
    if (b.role === 'leaving') {
      try {
        const deleted = await this.store.retireShares(walletId, version);
        this.drop(walletId);
        return { nodeId: this.node.nodeId, outcome: 'retired', version, deleted };
      } catch (error) {
        if (error instanceof AlreadyCommittedError) throw new SignerError(409, 'version-conflict', error.message);
        throw error;
      }
    }
    if (b.role !== 'member') throw new SignerError(400, 'bad-request', "role must be 'member' or 'leaving'");
    const expected = requirePublic(b.public, 'public');
    try {
      const outcome = await this.store.commitStaged(walletId, ceremonyId, version, expected);
      const current = await this.store.currentShare(walletId);
      return { nodeId: this.node.nodeId, outcome, version, verifyingShare: current?.verifyingShare };
    } catch (error) {
      if (error instanceof NothingStagedError) throw new SignerError(409, 'nothing-staged', `node ${this.node.nodeId}: ${error.message}`);
      if (error instanceof StagedMismatchError) throw new SignerError(409, 'staged-mismatch', `node ${this.node.nodeId}: ${error.message}`);
      throw error;
    }
  }

  private async abort(b: Record<string, unknown>): Promise<unknown> {
    const walletId = requireId(b.walletId, 'walletId');
    const ceremonyId = requireId(b.ceremonyId, 'ceremonyId');
    if (this.prepared.get(walletId)?.ceremonyId === ceremonyId) this.drop(walletId);
    try {
      const discarded = await this.store.abortStaged(walletId, ceremonyId);
      return { nodeId: this.node.nodeId, discarded };
    } catch (error) {
      if (error instanceof AlreadyCommittedError) throw new SignerError(409, 'already-committed', error.message);
      throw error;
    }
  }

  private stagedAnswer(version: number, verifyingShare: string, pub: WirePublic) {
    return { nodeId: this.node.nodeId, identifier: this.node.identifier, version, verifyingShare, public: pub };
  }

  /** Decrypts one dealer's sub-share; undefined when it does not authenticate (the dealer is named). */
  private openSubShare(p: Prepared, dealer: string, pkg: SealedSubShare): Uint8Array | undefined {
    let key: Buffer | undefined;
    try {
      key = subShareKey(p.ecdhKey, String(pkg.ephemeralKey), p, dealer, this.node.nodeId);
      const data = Buffer.from(String(pkg.ciphertext), 'hex');
      if (data.length !== 32 + 16) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(String(pkg.iv), 'hex'));
      decipher.setAAD(subShareAad(p, dealer, this.node.nodeId));
      decipher.setAuthTag(data.subarray(32));
      const plain = Buffer.concat([decipher.update(data.subarray(0, 32)), decipher.final()]);
      const out = Uint8Array.from(plain);
      plain.fill(0);
      return out;
    } catch {
      return undefined;
    } finally {
      key?.fill(0);
    }
  }

  private checkDealers(plan: Plan, oldPublic: WirePublic): void {
    if (plan.dealers.length < oldPublic.signers.min) {
      throw new SignerError(400, 'bad-request', `at least ${oldPublic.signers.min} old signers must deal, not ${plan.dealers.length}`);
    }
    for (const d of plan.dealers) {
      if (!(identifierOf(d) in oldPublic.verifyingShares)) throw new SignerError(400, 'bad-request', `dealer ${d} holds no share of the old version`);
    }
  }

  private drop(walletId: string): void {
    const p = this.prepared.get(walletId);
    if (p === undefined) return;
    p.ecdhKey.fill(0);
    this.prepared.delete(walletId);
  }

  private expire(): void {
    const now = Date.now();
    for (const [walletId, p] of this.prepared) if (p.expires < now) this.drop(walletId);
  }
}

function culpritsError(ceremonyId: string, culprits: string[]): SignerError {
  return new SignerError(400, 'reshare-invalid', `ceremony ${ceremonyId}: invalid sub-share or commitment from ${culprits.join(', ')}`, { culprits });
}

const planOf = (p: Plan): Plan => ({
  walletId: p.walletId, ceremonyId: p.ceremonyId, fromVersion: p.fromVersion, version: p.version, threshold: p.threshold, members: p.members, dealers: p.dealers,
});

function requireVersion(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 1_000_000) throw new SignerError(400, 'bad-request', `${what} must be a positive integer`);
  return v as number;
}

function requireNodeList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > 64 || !v.every((x) => typeof x === 'string' && ID_RE.test(x)) || new Set(v).size !== v.length) {
    throw new SignerError(400, 'bad-request', `${what} must be 1 to 64 distinct node ids`);
  }
  return [...(v as string[])];
}

function requirePlan(b: Record<string, unknown>): Plan {
  const walletId = requireId(b.walletId, 'walletId');
  const ceremonyId = requireId(b.ceremonyId, 'ceremonyId');
  const fromVersion = requireVersion(b.fromVersion, 'fromVersion');
  const version = requireVersion(b.version, 'version');
  if (version !== fromVersion + 1) throw new SignerError(400, 'bad-request', 'version must be fromVersion + 1');
  const members = requireNodeList(b.members, 'members');
  const dealers = requireNodeList(b.dealers, 'dealers');
  if (members.length < 2) throw new SignerError(400, 'bad-request', 'the new set needs at least 2 members');
  const threshold = b.threshold;
  if (!Number.isInteger(threshold) || (threshold as number) < 2 || (threshold as number) > members.length) {
    throw new SignerError(400, 'bad-request', 'threshold must be an integer from 2 to the number of members');
  }
  return { walletId, ceremonyId, fromVersion, version, threshold: threshold as number, members, dealers };
}

function requirePublic(v: unknown, what = 'oldPublic'): WirePublic {
  if (!isRecord(v) || !isRecord(v.signers) || !Array.isArray(v.commitments) || !v.commitments.every(HEX) || !isRecord(v.verifyingShares) ||
      !Object.entries(v.verifyingShares).every(([k, x]) => HEX(k) && HEX(x)) || !Number.isInteger(v.signers.min) || !Number.isInteger(v.signers.max)) {
    throw new SignerError(400, 'bad-request', `${what} must be a public key package {signers, commitments, verifyingShares}`);
  }
  return v as unknown as WirePublic;
}

function subShareAad(plan: Plan, from: string, to: string): Buffer {
  return Buffer.from(canonicalJson({ purpose: 'frost-reshare-subshare', wallet: plan.walletId, ceremony: plan.ceremonyId, version: plan.version, from, to }), 'utf8');
}

function subShareKey(own: Uint8Array, peerPublicHex: string, plan: Plan, from: string, to: string): Buffer {
  let shared: Uint8Array;
  try {
    shared = secp256k1.getSharedSecret(own, Buffer.from(peerPublicHex, 'hex'), true);
  } catch {
    throw new SignerError(400, 'bad-request', 'an encryption key of the ceremony is not a secp256k1 point');
  }
  const key = Buffer.from(hkdfSync('sha256', shared.subarray(1), Buffer.alloc(0), subShareAad(plan, from, to), 32));
  shared.fill(0);
  return key;
}
