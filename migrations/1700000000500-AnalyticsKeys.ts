import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Regulators and their threshold key ceremonies (see docs/analytics-regulators.md). The service
 * only coordinates and stores public data: commitments, dealer shares encrypted to their
 * recipients, verdicts and the resulting public keys. No secret share is ever stored here.
 *
 *   analytics_regulator     named regulators: a 'regulator' principal, the ECDSA key (P-256 or
 *                           secp256k1, compressed) its submissions are verified with, and the
 *                           secp256k1 key dealer shares are encrypted to
 *   analytics_key_set       one threshold key ceremony: t, the participants {regulator, index}
 *                           (indices 1..n in the order listed), status dealing -> verifying ->
 *                           active -> retired, or failed with a reason; at most one is active
 *   analytics_slot_key      the public result of one DKG per feature slot of a key set (the
 *                           encoded threshold public key: group key and verification shares)
 *   analytics_dkg_deal      one dealer's signed submission for a key set: for every slot its
 *                           dealer commitment and its shares, each encrypted to one recipient
 *   analytics_dkg_verdict   one participant's signed verdicts: per slot ok, or complaints with
 *                           the revealed share and envelope key as evidence
 *   analytics_dkg_complaint complaints the service checked and upheld (the dealer is disqualified
 *                           from that slot's key)
 */
export class AnalyticsKeys1700000000500 implements MigrationInterface {
  name = 'AnalyticsKeys1700000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_regulator (
        id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name           text        NOT NULL CONSTRAINT analytics_regulator_name_key UNIQUE
                                   CONSTRAINT analytics_regulator_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
        principal_id   uuid        NOT NULL CONSTRAINT analytics_regulator_principal_key UNIQUE
                                   CONSTRAINT analytics_regulator_principal_fk REFERENCES principal (id),
        signing_curve  text        NOT NULL CONSTRAINT analytics_regulator_signing_curve_check CHECK (signing_curve IN ('p256', 'secp256k1')),
        signing_key    text        NOT NULL CONSTRAINT analytics_regulator_signing_key_check CHECK (signing_key ~ '^0[23][0-9a-f]{64}$'),
        encryption_key text        NOT NULL CONSTRAINT analytics_regulator_encryption_key_check CHECK (encryption_key ~ '^0[23][0-9a-f]{64}$'),
        created_at     timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE analytics_key_set (
        id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        threshold    integer     NOT NULL CONSTRAINT analytics_key_set_threshold_check CHECK (threshold >= 1),
        participants jsonb       NOT NULL,
        status       text        NOT NULL DEFAULT 'dealing' CONSTRAINT analytics_key_set_status_check
                                 CHECK (status IN ('dealing', 'verifying', 'active', 'failed', 'retired')),
        reason       text        NULL,
        created_by   text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz NULL,
        CONSTRAINT analytics_key_set_reason_check CHECK ((status = 'failed') = (reason IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_key_set_active_key ON analytics_key_set ((true)) WHERE status = 'active'`);
    await q.query(`
      CREATE TABLE analytics_slot_key (
        key_set_id uuid  NOT NULL CONSTRAINT analytics_slot_key_key_set_fk REFERENCES analytics_key_set (id),
        slot       text  NOT NULL CONSTRAINT analytics_slot_key_slot_check
                         CHECK (slot IN ('amount', 'bucket0', 'bucket1', 'bucket2', 'bucket3', 'crossBorder')),
        public_key jsonb NOT NULL,
        PRIMARY KEY (key_set_id, slot)
      )`);
    await q.query(`
      CREATE TABLE analytics_dkg_deal (
        key_set_id   uuid        NOT NULL CONSTRAINT analytics_dkg_deal_key_set_fk REFERENCES analytics_key_set (id),
        dealer_index integer     NOT NULL CONSTRAINT analytics_dkg_deal_dealer_check CHECK (dealer_index >= 1),
        regulator_id uuid        NOT NULL CONSTRAINT analytics_dkg_deal_regulator_fk REFERENCES analytics_regulator (id),
        slots        jsonb       NOT NULL,
        signature    text        NOT NULL CONSTRAINT analytics_dkg_deal_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key_set_id, dealer_index)
      )`);
    await q.query(`
      CREATE TABLE analytics_dkg_verdict (
        key_set_id      uuid        NOT NULL CONSTRAINT analytics_dkg_verdict_key_set_fk REFERENCES analytics_key_set (id),
        regulator_index integer     NOT NULL CONSTRAINT analytics_dkg_verdict_index_check CHECK (regulator_index >= 1),
        regulator_id    uuid        NOT NULL CONSTRAINT analytics_dkg_verdict_regulator_fk REFERENCES analytics_regulator (id),
        verdicts        jsonb       NOT NULL,
        signature       text        NOT NULL CONSTRAINT analytics_dkg_verdict_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key_set_id, regulator_index)
      )`);
    await q.query(`
      CREATE TABLE analytics_dkg_complaint (
        key_set_id uuid        NOT NULL CONSTRAINT analytics_dkg_complaint_key_set_fk REFERENCES analytics_key_set (id),
        slot       text        NOT NULL,
        accuser    integer     NOT NULL,
        dealer     integer     NOT NULL,
        reason     text        NOT NULL,
        evidence   jsonb       NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key_set_id, slot, accuser, dealer)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE analytics_dkg_complaint, analytics_dkg_verdict, analytics_dkg_deal, analytics_slot_key, analytics_key_set, analytics_regulator`);
  }
}
