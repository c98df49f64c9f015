import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { isValidPublicKey } from '../../custody/service/approval-digest.js';
import { ProblemError, conflict, notFound, unprocessable } from '../../common/problem.js';
import {
  DealerMisbehaviourError,
  InvalidPointError,
  MalformedMessageError,
  decodeDealerCommitment,
  encodeThresholdPublicKey,
  qualifiedDealers,
  thresholdPublicKey,
  verifyDealerCommitment,
  verifyDealerShare,
  type DealerCommitment,
  type DkgComplaint,
  type DkgParameters,
} from '../crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';
import { signedDigest } from '../signed-digest.js';
import { DEAL_DOMAIN, VERDICTS_DOMAIN, slotCeremonyId } from './ceremony-ids.js';
import { parseJson, type KeySetParticipant, type KeySetStatus } from './analytics-key.service.js';
import { RegulatorDirectory, type Regulator } from './regulator-directory.js';
import type {
  CreateKeySetDto,
  DealReceiptDto,
  DealsForRegulatorDto,
  KeySetDto,
  RegisterRegulatorDto,
  RegulatorDto,
  SubmitDealDto,
  SubmitVerdictsDto,
  VerdictReceiptDto,
} from './regulators.dto.js';
import { ShareTransportError, assertShareEnvelope, openWithRevealedKey, type ShareEnvelope } from './share-transport.js';


const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);
const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};
const iso = (v: unknown): string => new Date(v as string).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/** What a deal stores per slot: the public commitment and one envelope per recipient. */
export interface StoredSlotDeal {
  slot: FeatureSlot;
  commitment: unknown;
  shares: { recipient: number; envelope: ShareEnvelope }[];
}

/** What a verdict stores per slot (the evidence of a complaint is public once revealed). */
export interface StoredSlotVerdict {
  slot: FeatureSlot;
  complaints: { dealer: number; reason: string; share: string; envelopeKey: string }[];
}

interface KeySetRow {
  id: string;
  threshold: number;
  participants: unknown;
  status: KeySetStatus;
  reason: string | null;
  created_by: string;
  created_at: unknown;
  activated_at: unknown;
}

/** Plain JSON copy (drops class prototypes the validation pipe gave the body). */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The facts a deal's signature covers. */
export const dealDigest = (keySetId: string, regulator: string, slots: StoredSlotDeal[]): Uint8Array => signedDigest(DEAL_DOMAIN, { keySetId, regulator, slots });
/** The facts a verdicts submission's signature covers. */
export const verdictsDigest = (keySetId: string, regulator: string, verdicts: StoredSlotVerdict[]): Uint8Array =>
  signedDigest(VERDICTS_DOMAIN, { keySetId, regulator, verdicts });

/**
 * Regulators and their key ceremonies: one joint-Feldman DKG per feature slot, t-of-n among the
 * key set's participants. The service relays and checks public data (commitments, encrypted
 * shares, verdicts and complaint evidence) and computes the public outcome; it never sees a
 * secret share in the clear (except a disputed one, revealed by its recipient as evidence).
 * Every step runs in one transaction with its audit event; the key set row is locked
 * (SELECT ... FOR UPDATE) so concurrent submissions see each other.
 */
@Injectable()
export class KeyCeremonyService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly directory: RegulatorDirectory,
  ) {}

  // ------------------------------------------------------------------------------ regulators

  async register(actor: AuthenticatedPrincipal, dto: RegisterRegulatorDto): Promise<RegulatorDto> {
    if (!isValidPublicKey(dto.signingCurve, dto.signingKey)) throw unprocessable('analytics-invalid-public-key', `signingKey is not a point of ${dto.signingCurve}`);
    if (!isValidPublicKey('secp256k1', dto.encryptionKey)) throw unprocessable('analytics-invalid-public-key', 'encryptionKey is not a point of secp256k1');
    try {
      return await this.ds.transaction(async (m) => {
        const [p] = await m.query(`SELECT id, role, disabled_at FROM principal WHERE name = $1`, [dto.principal]);
        if (!p || p.disabled_at) throw unprocessable('analytics-unknown-principal', `no active principal ${dto.principal}`);
        if (p.role !== 'regulator') throw unprocessable('analytics-not-a-regulator', `principal ${dto.principal} does not have the role regulator`);
        const [row] = await m.query(
          `INSERT INTO analytics_regulator (name, principal_id, signing_curve, signing_key, encryption_key) VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`,
          [dto.name, p.id, dto.signingCurve, dto.signingKey, dto.encryptionKey],
        );
        const view: RegulatorDto = {
          id: String(row.id),
          name: dto.name,
          principal: dto.principal,
          signingCurve: dto.signingCurve,
          signingKey: dto.signingKey,
          encryptionKey: dto.encryptionKey,
          createdAt: iso(row.created_at),
        };
        await this.audit.append({ type: 'analytics.regulator.registered', actor: actor.name, subject: `analytics-regulator:${dto.name}`, body: { ...view } }, m);
        return view;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('a regulator with this name or principal is already registered');
      throw e;
    }
  }

  async listRegulators(): Promise<RegulatorDto[]> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `SELECT r.id, r.name, p.name AS principal, r.signing_curve, r.signing_key, r.encryption_key, r.created_at
         FROM analytics_regulator r JOIN principal p ON p.id = r.principal_id ORDER BY r.name`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      name: String(r.name),
      principal: String(r.principal),
      signingCurve: String(r.signing_curve),
      signingKey: String(r.signing_key),
      encryptionKey: String(r.encryption_key),
      createdAt: iso(r.created_at),
    }));
  }

  // -------------------------------------------------------------------------------- key sets

  async createKeySet(actor: AuthenticatedPrincipal, dto: CreateKeySetDto): Promise<KeySetDto> {
    if (dto.threshold > dto.regulators.length) {
      throw unprocessable('analytics-invalid-key-set', `threshold ${dto.threshold} exceeds the ${dto.regulators.length} listed regulators`);
    }
    const id = await this.ds.transaction(async (m) => {
      const known: { name: string }[] = await m.query(`SELECT name FROM analytics_regulator WHERE name = ANY($1)`, [dto.regulators]);
      const missing = dto.regulators.filter((n) => !known.some((k) => k.name === n));
      if (missing.length) throw unprocessable('analytics-unknown-regulator', `not registered as regulators: ${missing.join(', ')}`);
      const participants: KeySetParticipant[] = dto.regulators.map((regulator, i) => ({ regulator, index: i + 1 }));
      const [row] = await m.query(`INSERT INTO analytics_key_set (threshold, participants, created_by) VALUES ($1, $2, $3) RETURNING id`, [
        dto.threshold,
        JSON.stringify(participants),
        actor.name,
      ]);
      const keySetId = String(row.id);
      await this.audit.append(
        {
          type: 'analytics.keyset.created',
          actor: actor.name,
          subject: `analytics-key-set:${keySetId}`,
          body: { keySetId, threshold: dto.threshold, participants: participants.map((p) => ({ ...p })), ceremonies: FEATURE_SLOTS.map((s) => slotCeremonyId(keySetId, s)) },
        },
        m,
      );
      return keySetId;
    });
    return this.keySet(id);
  }

  async keySet(id: string, manager?: EntityManager): Promise<KeySetDto> {
    const m = manager ?? this.ds.manager;
    const [ks]: KeySetRow[] = await m.query(`SELECT * FROM analytics_key_set WHERE id = $1`, [id]);
    if (!ks) throw notFound(`no key set ${id}`);
    const participants = parseJson<KeySetParticipant[]>(ks.participants);
    const nameOf = (i: number) => participants.find((p) => p.index === i)?.regulator ?? String(i);
    const deals: { dealer_index: number; slots: unknown }[] = await m.query(`SELECT dealer_index, slots FROM analytics_dkg_deal WHERE key_set_id = $1 ORDER BY dealer_index`, [id]);
    const verdicts: { regulator_index: number }[] = await m.query(`SELECT regulator_index FROM analytics_dkg_verdict WHERE key_set_id = $1 ORDER BY regulator_index`, [id]);
    const complaints: { slot: string; accuser: number; dealer: number; reason: string }[] = await m.query(
      `SELECT slot, accuser, dealer, reason FROM analytics_dkg_complaint WHERE key_set_id = $1 ORDER BY slot, dealer, accuser`,
      [id],
    );
    const keys: { slot: string; public_key: unknown }[] = await m.query(`SELECT slot, public_key FROM analytics_slot_key WHERE key_set_id = $1`, [id]);
    const perSlotCommitments = new Map<string, number>();
    for (const d of deals) for (const s of parseJson<StoredSlotDeal[]>(d.slots)) perSlotCommitments.set(s.slot, (perSlotCommitments.get(s.slot) ?? 0) + 1);
    return {
      id: String(ks.id),
      threshold: Number(ks.threshold),
      participants,
      status: ks.status,
      reason: ks.reason,
      dealt: deals.map((d) => nameOf(Number(d.dealer_index))),
      verified: verdicts.map((v) => nameOf(Number(v.regulator_index))),
      slots: FEATURE_SLOTS.map((slot) => ({
        slot,
        commitments: perSlotCommitments.get(slot) ?? 0,
        complaints: complaints.filter((c) => c.slot === slot).map((c) => ({ accuser: Number(c.accuser), dealer: Number(c.dealer), reason: c.reason })),
        publicKey: (() => {
          const k = keys.find((x) => x.slot === slot);
          return k ? parseJson<Record<string, unknown>>(k.public_key) : null;
        })(),
      })),
      createdBy: ks.created_by,
      createdAt: iso(ks.created_at),
      activatedAt: isoOrNull(ks.activated_at),
    };
  }

  /** Key sets, newest first, optionally of one status. */
  async listKeySets(status?: KeySetStatus): Promise<KeySetDto[]> {
    const rows: { id: string }[] = await this.ds.query(
      `SELECT id FROM analytics_key_set WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT 100`,
      [status ?? null],
    );
    const out: KeySetDto[] = [];
    for (const r of rows) out.push(await this.keySet(String(r.id)));
    return out;
  }

  /** Locks the key set (for a submission) and resolves the calling regulator's participation in it. */
  private async participation(m: EntityManager, keySetId: string, caller: AuthenticatedPrincipal, claimed: string, lock = true) {
    const [ks]: KeySetRow[] = await m.query(`SELECT * FROM analytics_key_set WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [keySetId]);
    if (!ks) throw notFound(`no key set ${keySetId}`);
    const regulator = await this.directory.forPrincipal(caller.id, m);
    if (!regulator) throw forbidden(`principal ${caller.name} is not registered as a regulator`);
    if (regulator.name !== claimed) throw forbidden(`the caller acts as regulator ${regulator.name}, not ${claimed}`);
    const participants = parseJson<KeySetParticipant[]>(ks.participants);
    const me = participants.find((p) => p.regulator === regulator.name);
    if (!me) throw forbidden(`regulator ${regulator.name} is not a participant of key set ${keySetId}`);
    return { ks, participants, regulator, index: me.index };
  }

  private params(keySetId: string, slot: FeatureSlot, ks: KeySetRow, n: number): DkgParameters {
    return { ceremony: slotCeremonyId(keySetId, slot), threshold: Number(ks.threshold), participants: n };
  }

  private verifySignature(regulator: Regulator, digest: Uint8Array, signature: string, what: string): void {
    if (!this.directory.verifyRegulatorSignature(regulator, digest, signature)) {
      throw unprocessable('analytics-invalid-signature', `the signature does not verify with regulator ${regulator.name}'s signing key over the ${what} digest`);
    }
  }

  // ----------------------------------------------------------------------------------- deals

  async submitDeal(caller: AuthenticatedPrincipal, keySetId: string, dto: SubmitDealDto): Promise<DealReceiptDto> {
    const slots: StoredSlotDeal[] = plain(dto.slots).map((s) => ({
      slot: s.slot,
      commitment: s.commitment,
      shares: s.shares.map((x) => ({ recipient: x.recipient, envelope: { ephemeralKey: x.envelope.ephemeralKey, iv: x.envelope.iv, ciphertext: x.envelope.ciphertext } })),
    }));
    return this.withConflicts(() => this.ds.transaction(async (m) => {
      const { ks, participants, regulator, index } = await this.participation(m, keySetId, caller, dto.regulator);
      this.verifySignature(regulator, dealDigest(keySetId, regulator.name, slots), dto.signature, 'deal');
      const [dup] = await m.query(`SELECT 1 FROM analytics_dkg_deal WHERE key_set_id = $1 AND dealer_index = $2`, [keySetId, index]);
      if (dup) throw conflict(`regulator ${regulator.name} has already dealt in key set ${keySetId}`);
      if (ks.status !== 'dealing') throw conflict(`key set ${keySetId} is ${ks.status}, no longer accepting deals`);
      this.checkSlotCoverage(slots.map((s) => s.slot));
      const n = participants.length;
      for (const s of slots) {
        const params = this.params(keySetId, s.slot, ks, n);
        let commitment: DealerCommitment;
        try {
          commitment = decodeDealerCommitment(s.commitment);
          if (commitment.dealer !== index) throw new MalformedMessageError(`dealer must be ${regulator.name}'s index ${index}, got ${commitment.dealer}`);
          verifyDealerCommitment(params, commitment);
        } catch (e) {
          if (e instanceof MalformedMessageError || e instanceof InvalidPointError || e instanceof DealerMisbehaviourError) {
            throw unprocessable('analytics-invalid-commitment', `dealer ${index} (${regulator.name}), slot ${s.slot}: invalid dealer commitment: ${e.message}`, { dealer: index, slot: s.slot });
          }
          throw e;
        }
        const recipients = s.shares.map((x) => x.recipient).sort((a, b) => a - b);
        if (recipients.length !== n || recipients.some((r, i) => r !== i + 1)) {
          throw unprocessable('analytics-invalid-deal', `dealer ${index}, slot ${s.slot}: exactly one encrypted share for each participant 1..${n} is required`);
        }
        for (const x of s.shares) {
          try {
            assertShareEnvelope(x.envelope);
          } catch (e) {
            if (e instanceof ShareTransportError) throw unprocessable('analytics-invalid-deal', `dealer ${index}, slot ${s.slot}, share for ${x.recipient}: ${e.message}`);
            throw e;
          }
        }
      }
      const ordered = FEATURE_SLOTS.map((slot) => slots.find((s) => s.slot === slot)!);
      await m.query(`INSERT INTO analytics_dkg_deal (key_set_id, dealer_index, regulator_id, slots, signature) VALUES ($1, $2, $3, $4, $5)`, [
        keySetId,
        index,
        regulator.id,
        JSON.stringify(ordered),
        dto.signature,
      ]);
      await this.audit.append(
        {
          type: 'analytics.keyset.deal',
          actor: caller.name,
          subject: `analytics-key-set:${keySetId}`,
          // A digest of the deal, not the commitments: until every participant has dealt, nobody
          // (reading the public log either) sees another dealer's commitments and can choose its
          // own after them. The signature covers the same digest's facts, so anyone can check it
          // once the deals are readable.
          body: { keySetId, regulator: regulator.name, dealer: index, dealDigest: Buffer.from(dealDigest(keySetId, regulator.name, slots)).toString('hex'), signature: dto.signature },
        },
        m,
      );
      const [{ count }] = await m.query(`SELECT count(*)::int AS count FROM analytics_dkg_deal WHERE key_set_id = $1`, [keySetId]);
      let status: KeySetStatus = 'dealing';
      if (Number(count) === n) {
        await m.query(`UPDATE analytics_key_set SET status = 'verifying' WHERE id = $1 AND status = 'dealing'`, [keySetId]);
        status = 'verifying';
      }
      return { keySetId, regulator: regulator.name, dealer: index, status };
    }));
  }

  private checkSlotCoverage(slots: string[]): void {
    const missing = FEATURE_SLOTS.filter((s) => !slots.includes(s));
    if (missing.length || new Set(slots).size !== slots.length) {
      throw unprocessable('analytics-incomplete-submission', `exactly one entry per feature slot (${FEATURE_SLOTS.join(', ')}) is required${missing.length ? `; missing: ${missing.join(', ')}` : ''}`);
    }
  }

  async dealsFor(caller: AuthenticatedPrincipal, keySetId: string, regulatorName: string): Promise<DealsForRegulatorDto> {
    return this.ds.transaction(async (m) => {
      const { ks, participants, index } = await this.participation(m, keySetId, caller, regulatorName, false);
      // Commitments stay hidden until every participant has dealt (no dealer can choose its
      // polynomial after seeing the others').
      if (ks.status === 'dealing') throw conflict(`key set ${keySetId} is still dealing: the deals are readable once every participant has dealt`);
      const deals: { dealer_index: number; slots: unknown }[] = await m.query(`SELECT dealer_index, slots FROM analytics_dkg_deal WHERE key_set_id = $1 ORDER BY dealer_index`, [keySetId]);
      const commitments: DealsForRegulatorDto['commitments'] = [];
      const shares: DealsForRegulatorDto['shares'] = [];
      for (const d of deals) {
        for (const s of parseJson<StoredSlotDeal[]>(d.slots)) {
          commitments.push({ slot: s.slot, dealer: Number(d.dealer_index), commitment: s.commitment });
          const mine = s.shares.find((x) => x.recipient === index);
          if (mine) shares.push({ slot: s.slot, dealer: Number(d.dealer_index), envelope: mine.envelope });
        }
      }
      return { keySetId, threshold: Number(ks.threshold), participants, recipient: index, commitments, shares };
    });
  }

  // -------------------------------------------------------------------------------- verdicts

  async submitVerdicts(caller: AuthenticatedPrincipal, keySetId: string, dto: SubmitVerdictsDto): Promise<VerdictReceiptDto> {
    const verdicts: StoredSlotVerdict[] = plain(dto.verdicts).map((v) => ({
      slot: v.slot,
      complaints: v.complaints.map((c) => ({ dealer: c.dealer, reason: c.reason, share: c.share, envelopeKey: c.envelopeKey })),
    }));
    return this.withConflicts(() => this.ds.transaction(async (m) => {
      const { ks, participants, regulator, index } = await this.participation(m, keySetId, caller, dto.regulator);
      this.verifySignature(regulator, verdictsDigest(keySetId, regulator.name, verdicts), dto.signature, 'verdicts');
      const [dup] = await m.query(`SELECT 1 FROM analytics_dkg_verdict WHERE key_set_id = $1 AND regulator_index = $2`, [keySetId, index]);
      if (dup) throw conflict(`regulator ${regulator.name} has already posted verdicts for key set ${keySetId}`);
      if (ks.status === 'dealing') throw conflict(`key set ${keySetId} is still dealing: verdicts are accepted once every participant has dealt`);
      if (ks.status !== 'verifying') throw conflict(`key set ${keySetId} is ${ks.status}, no longer accepting verdicts`);
      this.checkSlotCoverage(verdicts.map((v) => v.slot));
      const n = participants.length;
      const deals = await this.loadDeals(m, keySetId);
      const upheld: { slot: FeatureSlot; dealer: number; reason: string; evidence: { share: string; envelopeKey: string } }[] = [];
      for (const v of verdicts) {
        const params = this.params(keySetId, v.slot, ks, n);
        const seen = new Set<number>();
        for (const c of v.complaints) {
          const where = `complaint by ${index} (${regulator.name}) against dealer ${c.dealer}, slot ${v.slot}`;
          if (seen.has(c.dealer)) throw unprocessable('analytics-invalid-complaint', `${where}: the dealer is accused twice`);
          seen.add(c.dealer);
          const deal = deals.get(c.dealer);
          if (!deal) throw unprocessable('analytics-invalid-complaint', `${where}: no such dealer in key set ${keySetId}`);
          const slotDeal = deal.find((s) => s.slot === v.slot)!;
          const envelope = slotDeal.shares.find((x) => x.recipient === index)!.envelope;
          // The evidence must open the dealer's own envelope to the accuser and yield the revealed share...
          let opened: bigint;
          try {
            opened = openWithRevealedKey({ keySetId, slot: v.slot, dealer: c.dealer, recipient: index }, envelope, c.envelopeKey);
          } catch (e) {
            if (e instanceof ShareTransportError) throw unprocessable('analytics-invalid-complaint', `${where}: the revealed envelope key does not open the dealer's envelope`);
            throw e;
          }
          if (opened !== BigInt(c.share)) throw unprocessable('analytics-invalid-complaint', `${where}: the revealed share is not what the dealer's envelope contains`);
          // ...and that share must fail the public check against the dealer's commitments.
          const commitment = decodeDealerCommitment(slotDeal.commitment);
          try {
            verifyDealerShare(params, commitment, { ceremony: params.ceremony, dealer: c.dealer, recipient: index, share: opened });
          } catch (e) {
            if (e instanceof DealerMisbehaviourError || e instanceof MalformedMessageError) {
              upheld.push({ slot: v.slot, dealer: c.dealer, reason: e.message, evidence: { share: c.share, envelopeKey: c.envelopeKey } });
              continue;
            }
            throw e;
          }
          throw unprocessable('analytics-complaint-refuted', `${where}: the revealed share matches the dealer's commitments; the complaint is refuted`);
        }
      }
      await m.query(`INSERT INTO analytics_dkg_verdict (key_set_id, regulator_index, regulator_id, verdicts, signature) VALUES ($1, $2, $3, $4, $5)`, [
        keySetId,
        index,
        regulator.id,
        JSON.stringify(verdicts),
        dto.signature,
      ]);
      for (const u of upheld) {
        await m.query(`INSERT INTO analytics_dkg_complaint (key_set_id, slot, accuser, dealer, reason, evidence) VALUES ($1, $2, $3, $4, $5, $6)`, [
          keySetId,
          u.slot,
          index,
          u.dealer,
          u.reason,
          JSON.stringify(u.evidence),
        ]);
      }
      await this.audit.append(
        {
          type: 'analytics.keyset.verdict',
          actor: caller.name,
          subject: `analytics-key-set:${keySetId}`,
          body: {
            keySetId,
            regulator: regulator.name,
            index,
            // Revealed evidence is public by construction (a disputed share of a disqualified dealer).
            complaints: upheld.map((u) => ({ slot: u.slot, dealer: u.dealer, reason: u.reason, share: u.evidence.share, envelopeKey: u.evidence.envelopeKey })),
            signature: dto.signature,
          },
        },
        m,
      );
      const [{ count }] = await m.query(`SELECT count(*)::int AS count FROM analytics_dkg_verdict WHERE key_set_id = $1`, [keySetId]);
      let status: KeySetStatus = 'verifying';
      if (Number(count) === n) status = await this.conclude(m, caller, keySetId, ks, n, deals);
      return { keySetId, regulator: regulator.name, upheld: upheld.length, status };
    }));
  }

  /** A unique violation that slipped past the checks (a concurrent activation or submission) is a 409. */
  private async withConflicts<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('a concurrent submission or activation won the race; fetch the key set and retry if still needed');
      throw e;
    }
  }

  private async loadDeals(m: EntityManager, keySetId: string): Promise<Map<number, StoredSlotDeal[]>> {
    const rows: { dealer_index: number; slots: unknown }[] = await m.query(`SELECT dealer_index, slots FROM analytics_dkg_deal WHERE key_set_id = $1`, [keySetId]);
    return new Map(rows.map((r) => [Number(r.dealer_index), parseJson<StoredSlotDeal[]>(r.slots)]));
  }

  /**
   * Every participant has posted verdicts: per slot, QUAL = dealers without an upheld complaint,
   * and the slot key = the sum of their constant-term commitments. The key set becomes active
   * (the previous active one retired), or failed when a slot has fewer than t qualified dealers.
   */
  private async conclude(m: EntityManager, caller: AuthenticatedPrincipal, keySetId: string, ks: KeySetRow, n: number, deals: Map<number, StoredSlotDeal[]>): Promise<KeySetStatus> {
    const rows: { slot: string; accuser: number; dealer: number; reason: string }[] = await m.query(
      `SELECT slot, accuser, dealer, reason FROM analytics_dkg_complaint WHERE key_set_id = $1`,
      [keySetId],
    );
    const keys: { slot: FeatureSlot; publicKey: ReturnType<typeof encodeThresholdPublicKey> }[] = [];
    for (const slot of FEATURE_SLOTS) {
      const params = this.params(keySetId, slot, ks, n);
      const commitments = [...deals.values()].map((d) => decodeDealerCommitment(d.find((s) => s.slot === slot)!.commitment));
      const complaints: DkgComplaint[] = rows
        .filter((r) => r.slot === slot)
        .map((r) => ({ ceremony: params.ceremony, accuser: Number(r.accuser), dealer: Number(r.dealer), reason: r.reason }));
      let qualified: number[];
      try {
        qualified = qualifiedDealers(params, commitments, complaints);
      } catch (e) {
        if (!(e instanceof MalformedMessageError)) throw e;
        const reason = `slot ${slot}: ${e.message} (disqualified: ${[...new Set(complaints.map((c) => c.dealer))].sort((a, b) => a - b).join(', ')})`;
        await m.query(`UPDATE analytics_key_set SET status = 'failed', reason = $2 WHERE id = $1 AND status = 'verifying'`, [keySetId, reason]);
        await this.audit.append({ type: 'analytics.keyset.failed', actor: caller.name, subject: `analytics-key-set:${keySetId}`, body: { keySetId, reason } }, m);
        return 'failed';
      }
      keys.push({ slot, publicKey: encodeThresholdPublicKey(thresholdPublicKey(params, commitments, qualified)) });
    }
    for (const k of keys) {
      await m.query(`INSERT INTO analytics_slot_key (key_set_id, slot, public_key) VALUES ($1, $2, $3)`, [keySetId, k.slot, JSON.stringify(k.publicKey)]);
    }
    const answer: unknown[] = await m.query(`UPDATE analytics_key_set SET status = 'retired' WHERE status = 'active' AND id <> $1 RETURNING id`, [keySetId]);
    // Drivers answer an UPDATE ... RETURNING with [rows, count] or with the rows.
    const retired = (Array.isArray(answer[0]) ? answer[0] : answer) as { id: string }[];
    await m.query(`UPDATE analytics_key_set SET status = 'active', activated_at = now() WHERE id = $1 AND status = 'verifying'`, [keySetId]);
    await this.audit.append(
      {
        type: 'analytics.keyset.activated',
        actor: caller.name,
        subject: `analytics-key-set:${keySetId}`,
        body: {
          keySetId,
          retired: retired.map((r) => String(r.id)),
          slots: keys.map((k) => ({ slot: k.slot, ceremony: k.publicKey.ceremony, qualified: k.publicKey.qualified, groupPublicKey: k.publicKey.groupPublicKey })),
        },
      },
      m,
    );
    return 'active';
  }
}
