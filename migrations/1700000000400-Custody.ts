import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Custody service (see docs/custody-service.md). Amounts are wei as numeric(78,0); addresses and
 * hashes are lower-case 0x-hex text.
 *
 *   custody_operator  named operators: an 'operator' principal and the ECDSA public key (secp256k1
 *                     or P-256, compressed) its approvals are verified with
 *   custody_wallet    contract wallets: address, FROST group key, threshold, signer node ids, the DKG's
 *                     public package (pinned when signing), and
 *                     the wallet contract's next execute nonce (as of the last confirmed ceremony)
 *   custody_policy    per wallet, versioned: approval quorum m of the named operators, limits,
 *                     destination allowlist, time delay above an amount
 *   custody_ceremony  signing ceremonies: the transfer, its digest, status and reason, the group's
 *                     FROST signature (R || z) and the execute transaction
 *   custody_approval  one operator signature over a ceremony's digest (unique per operator)
 */
const HEX = (n: number) => `'^0x[0-9a-f]{${n}}$'`;

export class Custody1700000000400 implements MigrationInterface {
  name = 'Custody1700000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE custody_operator (
        id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text        NOT NULL CONSTRAINT custody_operator_name_key UNIQUE
                                 CONSTRAINT custody_operator_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
        principal_id uuid        NOT NULL CONSTRAINT custody_operator_principal_key UNIQUE
                                 CONSTRAINT custody_operator_principal_fk REFERENCES principal (id),
        curve        text        NOT NULL CONSTRAINT custody_operator_curve_check CHECK (curve IN ('secp256k1', 'p256')),
        public_key   text        NOT NULL CONSTRAINT custody_operator_public_key_check CHECK (public_key ~ '^0[23][0-9a-f]{64}$'),
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE custody_wallet (
        id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        address    text        NOT NULL CONSTRAINT custody_wallet_address_key UNIQUE
                               CONSTRAINT custody_wallet_address_check CHECK (address ~ ${HEX(40)}),
        group_key  text        NOT NULL CONSTRAINT custody_wallet_group_key_check CHECK (group_key ~ '^0[23][0-9a-f]{64}$'),
        threshold  integer     NOT NULL CONSTRAINT custody_wallet_threshold_check CHECK (threshold >= 1),
        node_ids   jsonb       NOT NULL,
        public_package jsonb   NULL,
        next_nonce bigint      NOT NULL DEFAULT 0 CONSTRAINT custody_wallet_next_nonce_check CHECK (next_nonce >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE custody_policy (
        wallet_id       uuid          NOT NULL CONSTRAINT custody_policy_wallet_fk REFERENCES custody_wallet (id),
        version         integer       NOT NULL CONSTRAINT custody_policy_version_check CHECK (version >= 1),
        quorum          integer       NOT NULL CONSTRAINT custody_policy_quorum_check CHECK (quorum >= 1),
        operators       jsonb         NOT NULL,
        per_tx_limit    numeric(78,0) NOT NULL CONSTRAINT custody_policy_per_tx_check CHECK (per_tx_limit >= 0),
        daily_limit     numeric(78,0) NOT NULL CONSTRAINT custody_policy_daily_check CHECK (daily_limit >= 0),
        allowlist       jsonb         NOT NULL,
        delay_above     numeric(78,0) NULL,
        delay_seconds   integer       NOT NULL DEFAULT 0 CONSTRAINT custody_policy_delay_check CHECK (delay_seconds >= 0),
        created_by      text          NOT NULL,
        created_at      timestamptz   NOT NULL DEFAULT now(),
        PRIMARY KEY (wallet_id, version)
      )`);
    await q.query(`
      CREATE TABLE custody_ceremony (
        id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
        wallet_id      uuid          NOT NULL CONSTRAINT custody_ceremony_wallet_fk REFERENCES custody_wallet (id),
        policy_version integer       NOT NULL,
        to_address     text          NOT NULL CONSTRAINT custody_ceremony_to_check CHECK (to_address ~ ${HEX(40)}),
        value          numeric(78,0) NOT NULL CONSTRAINT custody_ceremony_value_check CHECK (value >= 0),
        data           text          NOT NULL CONSTRAINT custody_ceremony_data_check CHECK (data ~ '^0x([0-9a-f]{2})*$'),
        data_hash      text          NOT NULL CONSTRAINT custody_ceremony_data_hash_check CHECK (data_hash ~ ${HEX(64)}),
        nonce          bigint        NOT NULL,
        digest         text          NOT NULL CONSTRAINT custody_ceremony_digest_check CHECK (digest ~ ${HEX(64)}),
        status         text          NOT NULL DEFAULT 'requested' CONSTRAINT custody_ceremony_status_check
                                     CHECK (status IN ('requested', 'approved', 'signing', 'signed', 'submitted', 'confirmed',
                                                       'rejected', 'expired', 'aborted')),
        reason         text          NULL,
        signature      text          NULL CONSTRAINT custody_ceremony_signature_check CHECK (signature ~ '^[0-9a-f]{130}$'),
        tx_hash        text          NULL CONSTRAINT custody_ceremony_tx_hash_check CHECK (tx_hash ~ ${HEX(64)}),
        requested_by   text          NOT NULL,
        not_before     timestamptz   NOT NULL,
        expires_at     timestamptz   NOT NULL,
        created_at     timestamptz   NOT NULL DEFAULT now(),
        updated_at     timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT custody_ceremony_policy_fk FOREIGN KEY (wallet_id, policy_version) REFERENCES custody_policy (wallet_id, version),
        CONSTRAINT custody_ceremony_reason_check CHECK ((status IN ('rejected', 'expired', 'aborted')) = (reason IS NOT NULL))
      )`);
    // The wallet contract's nonce is sequential: one open ceremony per wallet holds the next nonce;
    // a rejected, expired or aborted one releases it, a confirmed one consumes it.
    await q.query(`CREATE UNIQUE INDEX custody_ceremony_open_key ON custody_ceremony (wallet_id)
                    WHERE status IN ('requested', 'approved', 'signing', 'signed', 'submitted')`);
    await q.query(`CREATE UNIQUE INDEX custody_ceremony_nonce_key ON custody_ceremony (wallet_id, nonce)
                    WHERE status NOT IN ('rejected', 'expired', 'aborted')`);
    await q.query(`CREATE INDEX custody_ceremony_status_idx ON custody_ceremony (status, created_at)`);
    await q.query(`CREATE INDEX custody_ceremony_wallet_idx ON custody_ceremony (wallet_id, created_at)`);
    await q.query(`
      CREATE TABLE custody_approval (
        ceremony_id uuid        NOT NULL CONSTRAINT custody_approval_ceremony_fk REFERENCES custody_ceremony (id),
        operator_id uuid        NOT NULL CONSTRAINT custody_approval_operator_fk REFERENCES custody_operator (id),
        signature   text        NOT NULL CONSTRAINT custody_approval_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (ceremony_id, operator_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE custody_approval, custody_ceremony, custody_policy, custody_wallet, custody_operator`);
  }
}
