import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Policy changes under an operator quorum (see docs/custody-service.md). A wallet's first policy is
 * set by an admin; every later version comes from a proposal approved by m-of-k operators of the
 * policy version it is based on.
 *
 *   custody_policy_proposal  a proposed policy for a wallet: the version it is based on, the
 *                            proposed policy (canonical JSON object), the digest operators sign,
 *                            status requested -> applied | rejected | expired | superseded with
 *                            the reason, the version it became when applied, expiry
 *   custody_policy_approval  one operator's ECDSA signature over a proposal's digest (unique per
 *                            operator)
 *   custody_policy           gains proposal_id: the proposal a version came from (NULL for the
 *                            first version set by an admin)
 *   custody_node_quarantine  signer nodes left out of signing after they misbehaved (an invalid
 *                            signature share, an answer not signed by their pinned key, an
 *                            inconsistent answer): the kind, the reason, the ceremony that caught
 *                            it; an admin releases a node by deleting its row
 *
 * The base version is a foreign key to custody_policy; at most one proposal per wallet and base
 * version can be applied (a partial unique index), so two proposals racing on the same base cannot
 * both become the next version.
 */
const HEX64 = `'^0x[0-9a-f]{64}$'`;

export class CustodyPolicyQuorum1700000000410 implements MigrationInterface {
  name = 'CustodyPolicyQuorum1700000000410';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE custody_policy_proposal (
        id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        wallet_id       uuid        NOT NULL CONSTRAINT custody_policy_proposal_wallet_fk REFERENCES custody_wallet (id),
        base_version    integer     NOT NULL,
        proposed        jsonb       NOT NULL,
        digest          text        NOT NULL CONSTRAINT custody_policy_proposal_digest_check CHECK (digest ~ ${HEX64}),
        status          text        NOT NULL DEFAULT 'requested' CONSTRAINT custody_policy_proposal_status_check
                                    CHECK (status IN ('requested', 'applied', 'rejected', 'expired', 'superseded')),
        reason          text        NULL,
        applied_version integer     NULL,
        requested_by    text        NOT NULL,
        expires_at      timestamptz NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT custody_policy_proposal_base_fk FOREIGN KEY (wallet_id, base_version) REFERENCES custody_policy (wallet_id, version),
        CONSTRAINT custody_policy_proposal_reason_check CHECK ((status IN ('rejected', 'expired', 'superseded')) = (reason IS NOT NULL)),
        CONSTRAINT custody_policy_proposal_applied_check CHECK ((status = 'applied') = (applied_version IS NOT NULL)),
        CONSTRAINT custody_policy_proposal_next_check CHECK (applied_version IS NULL OR applied_version = base_version + 1)
      )`);
    await q.query(`CREATE UNIQUE INDEX custody_policy_proposal_applied_key ON custody_policy_proposal (wallet_id, base_version) WHERE status = 'applied'`);
    await q.query(`CREATE INDEX custody_policy_proposal_status_idx ON custody_policy_proposal (status, created_at)`);
    await q.query(`CREATE INDEX custody_policy_proposal_wallet_idx ON custody_policy_proposal (wallet_id, created_at)`);
    await q.query(`
      CREATE TABLE custody_policy_approval (
        proposal_id uuid        NOT NULL CONSTRAINT custody_policy_approval_proposal_fk REFERENCES custody_policy_proposal (id),
        operator_id uuid        NOT NULL CONSTRAINT custody_policy_approval_operator_fk REFERENCES custody_operator (id),
        signature   text        NOT NULL CONSTRAINT custody_policy_approval_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (proposal_id, operator_id)
      )`);
    await q.query(`
      CREATE TABLE custody_node_quarantine (
        node_id     text        PRIMARY KEY,
        kind        text        NOT NULL CONSTRAINT custody_node_quarantine_kind_check CHECK (kind IN ('bad-share', 'bad-signature', 'inconsistent')),
        reason      text        NOT NULL,
        ceremony_id uuid        NULL CONSTRAINT custody_node_quarantine_ceremony_fk REFERENCES custody_ceremony (id),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE custody_policy ADD COLUMN proposal_id uuid NULL CONSTRAINT custody_policy_proposal_fk REFERENCES custody_policy_proposal (id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE custody_policy DROP COLUMN proposal_id`);
    await q.query(`DROP TABLE custody_node_quarantine, custody_policy_approval, custody_policy_proposal`);
  }
}
