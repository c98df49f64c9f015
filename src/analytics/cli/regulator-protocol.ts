/**
 * A regulator's side of the key ceremony and of decryption, over the REST API only. No framework
 * or database imports: the command-line client runs it with the regulator's vault, and tests can
 * run it with in-memory identities.
 *
 * Key ceremony of key set K (one joint-Feldman DKG per feature slot s, ceremony id
 * `analytics-key:<K>:<s>`):
 *   1. deal: for every slot, a fresh polynomial; post the dealer commitment and one share per
 *      participant (itself included), each encrypted to the recipient's encryption key; signed.
 *   2. verify: once every participant has dealt, open the shares addressed to us, check each
 *      dealer's commitment and share; post per slot "ok" or complaints revealing the share and its
 *      envelope key as evidence; signed.
 *   3. finalize: once the key set is active, x_j = sum of the shares from the slot's qualified
 *      dealers, checked against the public key the service computed; seal it.
 * Every step is skipped when already done, so a re-run resumes where the last one stopped.
 */
import {
  DealerMisbehaviourError,
  MalformedMessageError,
  decodeCiphertext,
  decodeDealerCommitment,
  deal,
  encodeDealerCommitment,
  encodePartialDecryption,
  encodeThresholdPublicKey,
  finalizeKeyShare,
  partialDecrypt,
  verifyDealerCommitment,
  verifyDealerShare,
  type DealerCommitment,
  type DealerShare,
  type DkgParameters,
  type EncodedCiphertext,
  type EncodedPartialDecryption,
  type ThresholdKeyShare,
} from '../crypto/index.js';
import { FEATURE_SLOTS, type FeatureSlot } from '../features.js';
import { canonicalJsonBytes } from '../../audit/crypto/event-encoding.js';
import { signedDigest } from '../signed-digest.js';
import { DEAL_DOMAIN, VERDICTS_DOMAIN, slotCeremonyId } from '../regulators/ceremony-ids.js';
import { decryptDealerShare, encryptDealerShare, type ShareEnvelope } from '../regulators/share-transport.js';
import type { KeyShareStore, RegulatorIdentity } from './regulator-vault.js';

export const TASK_DOMAIN = 'analytics-task';
export const PARTIALS_DOMAIN = 'analytics-partials';


/** The API answered with an error (its problem detail, never a secret of ours). */
export class ApiRefusal extends Error {
  override readonly name = 'ApiRefusal';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The ceremony cannot go on (failed, not a participant, a check failed, timed out). */
export class CeremonyError extends Error {
  override readonly name = 'CeremonyError';
}

export class RegulatorApi {
  constructor(
    private readonly base: string,
    private readonly apiKey: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path.replace(/^\//, ''), this.base.endsWith('/') ? this.base : `${this.base}/`), {
        method,
        headers: { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new ApiRefusal(0, `cannot reach ${this.base}: ${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`);
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
      throw new ApiRefusal(res.status, `${res.status} ${json?.title ?? res.statusText}: ${detail}`);
    }
    return json as T;
  }
}

// ------------------------------------------------------------------------------ key ceremony

export interface KeySetView {
  id: string;
  threshold: number;
  participants: { regulator: string; index: number }[];
  status: 'dealing' | 'verifying' | 'active' | 'failed' | 'retired';
  reason: string | null;
  dealt: string[];
  verified: string[];
  slots: { slot: FeatureSlot; commitments: number; complaints: { accuser: number; dealer: number; reason: string }[]; publicKey: Record<string, unknown> | null }[];
}

interface DealsForView {
  recipient: number;
  commitments: { slot: FeatureSlot; dealer: number; commitment: unknown }[];
  shares: { slot: FeatureSlot; dealer: number; envelope: ShareEnvelope }[];
}

export interface SlotDealBody {
  slot: FeatureSlot;
  commitment: ReturnType<typeof encodeDealerCommitment>;
  shares: { recipient: number; envelope: ShareEnvelope }[];
}

export interface SlotVerdictBody {
  slot: FeatureSlot;
  complaints: { dealer: number; reason: string; share: string; envelopeKey: string }[];
}

/**
 * Round 1 for every slot: the signed body of POST /analytics/key-sets/:id/deals. `alterShare`
 * exists for tests that play a cheating dealer.
 */
export async function buildDeal(
  keySet: Pick<KeySetView, 'id' | 'threshold' | 'participants'>,
  me: RegulatorIdentity,
  encryptionKeys: ReadonlyMap<string, string>,
  alterShare?: (slot: FeatureSlot, share: DealerShare) => bigint,
): Promise<{ regulator: string; slots: SlotDealBody[]; signature: string }> {
  const index = indexOf(keySet, me.name);
  const slots: SlotDealBody[] = FEATURE_SLOTS.map((slot) => {
    const params = paramsOf(keySet, slot);
    const { commitment, shares } = deal(params, index);
    return {
      slot,
      commitment: encodeDealerCommitment(commitment),
      shares: shares.map((s) => {
        const recipient = keySet.participants.find((p) => p.index === s.recipient)!.regulator;
        const key = encryptionKeys.get(recipient);
        if (!key) throw new CeremonyError(`no encryption key for participant ${recipient}`);
        const value = alterShare ? alterShare(slot, s) : s.share;
        return { recipient: s.recipient, envelope: encryptDealerShare({ keySetId: keySet.id, slot, dealer: index, recipient: s.recipient }, value, key) };
      }),
    };
  });
  const signature = await me.sign(signedDigest(DEAL_DOMAIN, { keySetId: keySet.id, regulator: me.name, slots }));
  return { regulator: me.name, slots, signature };
}

function indexOf(keySet: Pick<KeySetView, 'participants'>, name: string): number {
  const p = keySet.participants.find((x) => x.regulator === name);
  if (!p) throw new CeremonyError(`regulator ${name} is not a participant of this key set`);
  return p.index;
}

const paramsOf = (keySet: Pick<KeySetView, 'id' | 'threshold' | 'participants'>, slot: FeatureSlot): DkgParameters => ({
  ceremony: slotCeremonyId(keySet.id, slot),
  threshold: keySet.threshold,
  participants: keySet.participants.length,
});

/** Opens and checks every share addressed to `me`: per slot, the shares and the complaints. */
function checkReceived(keySet: KeySetView, me: RegulatorIdentity, view: DealsForView) {
  const index = indexOf(keySet, me.name);
  if (view.recipient !== index) throw new CeremonyError(`the service addressed the shares to index ${view.recipient}, not ${index}`);
  const result = new Map<FeatureSlot, { commitments: DealerCommitment[]; shares: DealerShare[]; complaints: SlotVerdictBody['complaints'] }>();
  for (const slot of FEATURE_SLOTS) {
    const params = paramsOf(keySet, slot);
    const commitments: DealerCommitment[] = [];
    for (const c of view.commitments.filter((x) => x.slot === slot)) {
      const decoded = decodeDealerCommitment(c.commitment);
      // The service checked it on receipt; a regulator does not take that on trust.
      if (decoded.dealer !== c.dealer) throw new CeremonyError(`slot ${slot}: commitment of dealer ${c.dealer} names dealer ${decoded.dealer}`);
      verifyDealerCommitment(params, decoded);
      commitments.push(decoded);
    }
    // Verdicts are due once every participant has dealt: a missing dealer means the service
    // withheld a deal, and QUAL would be computed over data this regulator never checked.
    const dealers = commitments.map((c) => c.dealer).sort((a, b) => a - b);
    if (dealers.length !== keySet.participants.length || dealers.some((d, i) => d !== i + 1)) {
      throw new CeremonyError(`slot ${slot}: expected commitments from dealers 1..${keySet.participants.length}, got ${dealers.join(',') || 'none'}`);
    }
    const shares: DealerShare[] = [];
    const complaints: SlotVerdictBody['complaints'] = [];
    for (const c of commitments) {
      const env = view.shares.find((x) => x.slot === slot && x.dealer === c.dealer);
      if (!env) throw new CeremonyError(`slot ${slot}: no share from dealer ${c.dealer}`);
      const binding = { keySetId: keySet.id, slot, dealer: c.dealer, recipient: index };
      const { share, envelopeKey } = decryptDealerShare(binding, env.envelope, me.encryptionKey, (peer) => me.ecdh(peer));
      const dealerShare: DealerShare = { ceremony: params.ceremony, dealer: c.dealer, recipient: index, share };
      try {
        verifyDealerShare(params, c, dealerShare);
        shares.push(dealerShare);
      } catch (e) {
        if (!(e instanceof DealerMisbehaviourError || e instanceof MalformedMessageError)) throw e;
        // Revealing this one share and its envelope key exposes nothing else: the dealer is
        // disqualified, so the share never becomes part of anyone's key share.
        complaints.push({ dealer: c.dealer, reason: e.message, share: share.toString(10), envelopeKey });
      }
    }
    result.set(slot, { commitments, shares, complaints });
  }
  return result;
}

export async function buildVerdicts(keySet: KeySetView, me: RegulatorIdentity, view: DealsForView): Promise<{ regulator: string; verdicts: SlotVerdictBody[]; signature: string }> {
  const checked = checkReceived(keySet, me, view);
  const verdicts = FEATURE_SLOTS.map((slot) => ({ slot, complaints: checked.get(slot)!.complaints }));
  const signature = await me.sign(signedDigest(VERDICTS_DOMAIN, { keySetId: keySet.id, regulator: me.name, verdicts }));
  return { regulator: me.name, verdicts, signature };
}

/** Every slot's key share of `me`, each checked against the public key the service published. */
export function finalizeShares(keySet: KeySetView, me: RegulatorIdentity, view: DealsForView): Map<FeatureSlot, ThresholdKeyShare> {
  const checked = checkReceived(keySet, me, view);
  const index = indexOf(keySet, me.name);
  const out = new Map<FeatureSlot, ThresholdKeyShare>();
  for (const slot of FEATURE_SLOTS) {
    const published = keySet.slots.find((s) => s.slot === slot)?.publicKey as ReturnType<typeof encodeThresholdPublicKey> | null;
    if (!published) throw new CeremonyError(`the service published no public key for slot ${slot}`);
    const { commitments, shares } = checked.get(slot)!;
    const share = finalizeKeyShare(paramsOf(keySet, slot), index, commitments, shares, published.qualified);
    const mine = encodeThresholdPublicKey(share.publicKey);
    // Compared canonically: the service's JSON may order members differently.
    if (Buffer.compare(canonicalJsonBytes(mine), canonicalJsonBytes(published)) !== 0) {
      throw new CeremonyError(`slot ${slot}: the public key recomputed from the commitments differs from the one the service published`);
    }
    out.set(slot, share);
  }
  return out;
}

export interface KeygenOptions {
  /** Seconds between polls while waiting for other participants. */
  intervalSeconds?: number;
  /** Give up waiting after this many seconds. */
  timeoutSeconds?: number;
  log?: (line: string) => void;
  /** Tests: play a cheating dealer. */
  alterShare?: (slot: FeatureSlot, share: DealerShare) => bigint;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs (or resumes) this regulator's whole part of key set `keySetId`. Returns the final key set. */
export async function runKeygen(api: RegulatorApi, me: RegulatorIdentity, store: KeyShareStore, keySetId: string, options: KeygenOptions = {}): Promise<KeySetView> {
  const log = options.log ?? (() => undefined);
  const interval = (options.intervalSeconds ?? 1) * 1000;
  const deadline = Date.now() + (options.timeoutSeconds ?? 600) * 1000;
  const get = () => api.call<KeySetView>('GET', `/analytics/key-sets/${keySetId}`);
  const waitWhile = async (statuses: KeySetView['status'][], what: string): Promise<KeySetView> => {
    for (;;) {
      const ks = await get();
      if (!statuses.includes(ks.status)) return ks;
      if (Date.now() > deadline) throw new CeremonyError(`timed out waiting for ${what} (key set is ${ks.status})`);
      await sleep(interval);
    }
  };
  const failed = (ks: KeySetView) => new CeremonyError(`key set ${keySetId} failed: ${ks.reason}`);

  let ks = await get();
  indexOf(ks, me.name);
  if (ks.status === 'failed') throw failed(ks);
  if (ks.status === 'dealing' && !ks.dealt.includes(me.name)) {
    const regulators = await api.call<{ name: string; encryptionKey: string }[]>('GET', '/analytics/regulators');
    const keys = new Map(regulators.map((r) => [r.name, r.encryptionKey]));
    const body = await buildDeal(ks, me, keys, options.alterShare);
    try {
      await api.call('POST', `/analytics/key-sets/${keySetId}/deals`, body);
      log(`dealt: commitments and encrypted shares for ${FEATURE_SLOTS.length} slots`);
    } catch (e) {
      if (!(e instanceof ApiRefusal && e.status === 409)) throw e;
      log('deal already recorded');
    }
  } else if (ks.dealt.includes(me.name)) log('deal already recorded');

  ks = await waitWhile(['dealing'], 'the other participants to deal');
  if (ks.status === 'failed') throw failed(ks);
  if (ks.status === 'verifying' && !ks.verified.includes(me.name)) {
    const view = await api.call<DealsForView>('GET', `/analytics/key-sets/${keySetId}/deals/for/${encodeURIComponent(me.name)}`);
    const body = await buildVerdicts(ks, me, view);
    try {
      await api.call('POST', `/analytics/key-sets/${keySetId}/verdicts`, body);
      const n = body.verdicts.reduce((a, v) => a + v.complaints.length, 0);
      log(n ? `verdicts posted with ${n} complaint(s): ${body.verdicts.flatMap((v) => v.complaints.map((c) => `${v.slot}: dealer ${c.dealer}`)).join(', ')}` : 'verdicts posted: every share verified');
    } catch (e) {
      if (!(e instanceof ApiRefusal && e.status === 409)) throw e;
      log('verdicts already recorded');
    }
  }

  ks = await waitWhile(['dealing', 'verifying'], 'the other participants to verify');
  if (ks.status === 'failed') throw failed(ks);
  const pending = FEATURE_SLOTS.filter((s) => !store.hasShare(keySetId, s));
  if (pending.length) {
    const view = await api.call<DealsForView>('GET', `/analytics/key-sets/${keySetId}/deals/for/${encodeURIComponent(me.name)}`);
    const shares = finalizeShares(ks, me, view);
    for (const slot of pending) await store.saveShare(keySetId, slot, shares.get(slot)!);
    log(`key shares sealed for ${pending.length} slot(s)`);
  } else log('key shares already sealed');
  // Opening every share checks the sealed state end to end (AAD and verification shares).
  for (const slot of FEATURE_SLOTS) await store.loadShare(keySetId, slot);
  return ks;
}

// ------------------------------------------------------------------------------------ tasks

export interface TaskAggregate {
  id: string;
  slot: FeatureSlot;
  group: string | null;
  ciphertext: EncodedCiphertext;
}

export interface TaskView {
  id: string;
  definition: unknown;
  digest: string;
  status: string;
  keySetId?: string;
  aggregates?: TaskAggregate[];
  [more: string]: unknown;
}

/** The digest a task approval signs, recomputed here from the task's id and definition. */
export const taskDigest = (taskId: string, definition: unknown): Uint8Array => signedDigest(TASK_DOMAIN, { taskId, definition });

export const partialContext = (taskId: string, aggregateId: string): string => `analytics-task:${taskId}:${aggregateId}`;

/**
 * The key set a task decrypts under: the one its definition names (what the approvers signed),
 * which a top-level keySetId, when the service sends one, must agree with.
 */
export function taskKeySetId(task: Pick<TaskView, 'id' | 'keySetId' | 'definition'>): string {
  const signed = (task.definition as { keySetId?: unknown } | null)?.keySetId;
  const id = typeof signed === 'string' ? signed : task.keySetId;
  if (typeof id !== 'string') throw new CeremonyError(`task ${task.id} names no key set`);
  if (task.keySetId !== undefined && task.keySetId !== id) throw new CeremonyError(`task ${task.id}: keySetId ${task.keySetId} differs from the definition's ${id}`);
  return id;
}

/** The partial decryptions of every aggregate of a task, with the regulator's signature over them. */
export async function buildPartials(
  task: Pick<TaskView, 'id' | 'keySetId' | 'definition' | 'aggregates'>,
  me: RegulatorIdentity,
  store: KeyShareStore,
): Promise<{ regulator: string; partials: { aggregateId: string; partial: EncodedPartialDecryption }[]; signature: string }> {
  if (!task.aggregates?.length) throw new CeremonyError(`task ${task.id} has no aggregates to decrypt`);
  const keySetId = taskKeySetId(task);
  const shares = new Map<FeatureSlot, ThresholdKeyShare>();
  const partials: { aggregateId: string; partial: EncodedPartialDecryption }[] = [];
  for (const a of task.aggregates) {
    if (!FEATURE_SLOTS.includes(a.slot)) throw new CeremonyError(`aggregate ${a.id} names an unknown slot ${String(a.slot)}`);
    if (!shares.has(a.slot)) shares.set(a.slot, await store.loadShare(keySetId, a.slot));
    const ct = decodeCiphertext(a.ciphertext, `aggregate ${a.id}`);
    partials.push({ aggregateId: a.id, partial: encodePartialDecryption(partialDecrypt(ct, shares.get(a.slot)!, partialContext(task.id, a.id))) });
  }
  const signature = await me.sign(signedDigest(PARTIALS_DOMAIN, { taskId: task.id, regulator: me.name, partials }));
  return { regulator: me.name, partials, signature };
}
