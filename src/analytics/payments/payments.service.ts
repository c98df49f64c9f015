import { Injectable } from '@nestjs/common';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service.js';
import { canonicalJsonBytes } from '../../audit/crypto/event-encoding.js';
import type { AuthenticatedPrincipal } from '../../auth/roles.js';
import { badRequest, conflict, notFound, unprocessable } from '../../common/problem.js';
import { FIELD_PRIME, InvalidPointError, MalformedMessageError, decodeCiphertext, encodeCiphertexts, type Ciphertext, type EncodedCiphertext } from '../crypto/index.js';
import { FEATURE_SLOTS } from '../features.js';
import { CircuitInputError, MalformedProofError, paymentBinding, paymentPublicSignals, verifyPaymentProof } from '../payment/index.js';
import { AnalyticsKeyService, type CompletedKeySet } from '../regulators/index.js';
import { storedCiphertext } from '../tasks/aggregation.js';
import type { PaymentDto, RecordPaymentDto } from './payments.dto.js';

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; driverError?: { code?: string } };
  return err?.code === UNIQUE_VIOLATION || err?.driverError?.code === UNIQUE_VIOLATION;
};
const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown): string => new Date(v as string).toISOString();

/** How far in the future a payment's time may lie (clock skew between the wallet app and us). */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

/** SHA-256 (hex) of the canonical JSON of the wire ciphertexts: what the audit event records. */
export function ciphertextsHash(ciphertexts: readonly EncodedCiphertext[]): string {
  return bytesToHex(sha256(canonicalJsonBytes(ciphertexts)));
}

/** The slot keys of a key set in FEATURE_SLOTS order (the circuit's order). */
export const slotKeysOf = (ks: CompletedKeySet) => FEATURE_SLOTS.map((s) => ks.slots[s].groupPublicKey);

interface PaymentRow {
  id: string;
  payer: string;
  payee: string;
  occurred_at: unknown;
  reference: string;
  commitment: string;
  binding: string;
  ciphertexts: unknown;
  ciphertexts_hash: string;
  proof: unknown;
  key_set_id: string;
  recorded_at: unknown;
}

/**
 * Encrypted payments (docs/analytics-service.md). A wallet app submits a payment's commitment,
 * its six feature ciphertexts and a Groth16 proof that they encrypt the committed amount's
 * feature vector under the active key set's slot keys. The service never takes public signals
 * from the client: it decodes every point (curve and subgroup checks), derives the binding from
 * the payment's facts and recomputes the signals from what it is about to store.
 */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly keys: AnalyticsKeyService,
  ) {}

  /**
   * Checks and records one payment with its audit event. Bad input is refused before anything is
   * written; the insert and the event commit together. Also the entry point for bulk ingestion
   * (it skips nothing but the HTTP layer).
   */
  async record(actor: AuthenticatedPrincipal, dto: RecordPaymentDto): Promise<PaymentDto> {
    if (dto.payer === dto.payee) throw unprocessable('analytics-same-account', 'payer and payee must be different accounts');
    const occurredAt = new Date(dto.occurredAt);
    if (Number.isNaN(occurredAt.getTime()) || occurredAt.toISOString() !== dto.occurredAt) {
      throw badRequest('occurredAt must be a valid ISO 8601 UTC timestamp with milliseconds (as Date#toISOString writes it)');
    }
    if (occurredAt.getTime() > Date.now() + FUTURE_SKEW_MS) throw unprocessable('analytics-future-payment', 'occurredAt lies in the future');
    const commitment = BigInt(dto.commitment);
    if (commitment >= FIELD_PRIME) throw badRequest('commitment must be below the BN254 scalar field modulus');

    const ciphertexts: Ciphertext[] = dto.ciphertexts.map((c, i) => {
      const field = `ciphertexts[${i}] (${FEATURE_SLOTS[i]})`;
      try {
        const ct = decodeCiphertext(c, field);
        if (ct.c1.is0()) throw new InvalidPointError(`${field}.c1`, 'the identity is not a valid encryption randomness commitment');
        return ct;
      } catch (e) {
        if (e instanceof InvalidPointError) throw unprocessable('analytics-invalid-point', e.message, { field });
        if (e instanceof MalformedMessageError) throw badRequest(e.message, { field });
        throw e;
      }
    });

    const [seen] = await this.ds.query(`SELECT id FROM analytics_payment WHERE payer = $1 AND reference = $2`, [dto.payer, dto.reference]);
    if (seen) throw conflict(`payer ${dto.payer} already recorded a payment with reference ${dto.reference}`);

    const keySet = await this.keys.activeKeySet();
    if (!keySet) throw conflict('no active regulator key set: payments cannot be encrypted for analytics yet');

    const binding = paymentBinding({ payer: dto.payer, payee: dto.payee, timestamp: dto.occurredAt, reference: dto.reference });
    let valid: boolean;
    try {
      const publicSignals = paymentPublicSignals({ commitment, binding, slotKeys: slotKeysOf(keySet), ciphertexts });
      valid = await verifyPaymentProof(dto.proof, publicSignals);
    } catch (e) {
      if (e instanceof MalformedProofError) throw unprocessable('analytics-malformed-proof', `malformed proof: ${e.message}`);
      if (e instanceof CircuitInputError) throw unprocessable('analytics-invalid-payment', e.message);
      throw e;
    }
    if (!valid) {
      throw unprocessable(
        'analytics-invalid-payment-proof',
        "the proof does not verify for this payment: the ciphertexts, the commitment, the payment's facts (payer, payee, occurredAt, reference) and the active key set's slot keys must be exactly those it was made for",
      );
    }

    const encoded = encodeCiphertexts(ciphertexts);
    const hash = ciphertextsHash(encoded);
    try {
      const id = await this.ds.transaction(async (m) => {
        // The key set must still be the active one when the row commits (it could be retired while we verified).
        const [ks] = await m.query(`SELECT status FROM analytics_key_set WHERE id = $1 FOR SHARE`, [keySet.id]);
        if (ks?.status !== 'active') throw conflict('the regulator key set changed while the payment was verified: encrypt under the new key set');
        const [row] = await m.query(
          // clock_timestamp(), taken under the key set's share lock: a task definition (which locks it
          // exclusively) sees every payment recorded up to its cutoff committed (tasks.service.ts).
          `INSERT INTO analytics_payment (payer, payee, occurred_at, reference, commitment, binding, ciphertexts, ciphertexts_hash, proof, key_set_id, submitted_by, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, clock_timestamp()) RETURNING id`,
          [dto.payer, dto.payee, occurredAt, dto.reference, commitment.toString(), binding.toString(), JSON.stringify(encoded), hash, JSON.stringify(dto.proof), keySet.id, actor.name],
        );
        const paymentId = String(row.id);
        // Pseudonyms stay out of the (publicly readable) log; the binding commits to them.
        await this.audit.append(
          {
            type: 'analytics.payment.recorded',
            actor: actor.name,
            subject: `analytics-payment:${paymentId}`,
            body: { paymentId, keySetId: keySet.id, commitment: commitment.toString(), binding: binding.toString(), ciphertextsHash: hash },
          },
          m,
        );
        return paymentId;
      });
      return this.get(id);
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`payer ${dto.payer} already recorded a payment with reference ${dto.reference}`);
      throw e;
    }
  }

  /** A payment as anyone may check it: commitment, ciphertexts, proof, key set and the public signals. */
  async get(id: string): Promise<PaymentDto> {
    const [r]: PaymentRow[] = await this.ds.query(`SELECT * FROM analytics_payment WHERE id = $1`, [id]);
    if (!r) throw notFound(`no payment ${id}`);
    const ciphertexts = parseJson<EncodedCiphertext[]>(r.ciphertexts);
    const keySet = await this.keys.completedKeySet(String(r.key_set_id));
    const publicSignals = keySet
      ? paymentPublicSignals({ commitment: BigInt(r.commitment), binding: BigInt(r.binding), slotKeys: slotKeysOf(keySet), ciphertexts: ciphertexts.map(storedCiphertext) })
      : [];
    return {
      id: String(r.id),
      payer: r.payer,
      payee: r.payee,
      occurredAt: iso(r.occurred_at),
      reference: r.reference,
      commitment: String(r.commitment),
      binding: String(r.binding),
      ciphertexts,
      ciphertextsHash: r.ciphertexts_hash,
      proof: parseJson<Record<string, unknown>>(r.proof),
      publicSignals,
      keySetId: String(r.key_set_id),
      recordedAt: iso(r.recorded_at),
    };
  }
}
