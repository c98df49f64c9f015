import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Custody share maintenance: refresh and resharing ceremonies (see docs/custody-maintenance.md).
 *
 *   custody_wallet.share_version   the share version the wallet's nodes hold (1 after key
 *                                  generation, +1 per completed refresh or reshare)
 *   custody_maintenance            one refresh ('refresh': same nodes and threshold, new shares) or
 *                                  resharing ('reshare': a new node set and/or threshold) of a
 *                                  wallet's key: the from/to node sets, thresholds and versions,
 *                                  the digest operators sign, status (requested -> approved ->
 *                                  running -> completed, or rejected / expired / aborted with the
 *                                  reason), the running phase (staging, then committing once the
 *                                  coordinator has decided to commit), dealers, the staged public
 *                                  package and the nodes that failed or cheated
 *   custody_maintenance_approval   one operator signature over a maintenance ceremony's digest
 *   custody_wallet_activity        at most one row per wallet: the signing ceremony that is open on
 *                                  it, or the maintenance ceremony that is running on it. Its
 *                                  primary key makes signing and maintenance mutually exclusive;
 *                                  signing ceremonies enter and leave it by a trigger on
 *                                  custody_ceremony, maintenance ceremonies explicitly.
 */
const OPEN_CEREMONY = `('requested', 'approved', 'signing', 'signed', 'submitted')`;

export class CustodyShareMaintenance1700000000420 implements MigrationInterface {
  name = 'CustodyShareMaintenance1700000000420';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE custody_wallet ADD COLUMN share_version integer NOT NULL DEFAULT 1
                     CONSTRAINT custody_wallet_share_version_check CHECK (share_version >= 1)`);
    await q.query(`
      CREATE TABLE custody_maintenance (
        id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        wallet_id          uuid        NOT NULL CONSTRAINT custody_maintenance_wallet_fk REFERENCES custody_wallet (id),
        policy_version     integer     NOT NULL,
        kind               text        NOT NULL CONSTRAINT custody_maintenance_kind_check CHECK (kind IN ('refresh', 'reshare')),
        group_key          text        NOT NULL CONSTRAINT custody_maintenance_group_key_check CHECK (group_key ~ '^0[23][0-9a-f]{64}$'),
        from_version       integer     NOT NULL CONSTRAINT custody_maintenance_from_version_check CHECK (from_version >= 1),
        from_threshold     integer     NOT NULL,
        from_nodes         jsonb       NOT NULL,
        to_version         integer     NOT NULL,
        to_threshold       integer     NOT NULL CONSTRAINT custody_maintenance_to_threshold_check CHECK (to_threshold >= 2),
        to_nodes           jsonb       NOT NULL,
        digest             text        NOT NULL CONSTRAINT custody_maintenance_digest_check CHECK (digest ~ '^0x[0-9a-f]{64}$'),
        status             text        NOT NULL DEFAULT 'requested' CONSTRAINT custody_maintenance_status_check
                                       CHECK (status IN ('requested', 'approved', 'running', 'completed', 'rejected', 'expired', 'aborted')),
        phase              text        NULL CONSTRAINT custody_maintenance_phase_check CHECK (phase IN ('staging', 'committing')),
        reason             text        NULL,
        dealers            jsonb       NULL,
        new_public_package jsonb       NULL,
        failures           jsonb       NULL,
        requested_by       text        NOT NULL,
        expires_at         timestamptz NOT NULL,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        completed_at       timestamptz NULL,
        CONSTRAINT custody_maintenance_policy_fk FOREIGN KEY (wallet_id, policy_version) REFERENCES custody_policy (wallet_id, version),
        CONSTRAINT custody_maintenance_version_step CHECK (to_version = from_version + 1),
        CONSTRAINT custody_maintenance_running_phase CHECK (status <> 'running' OR phase IS NOT NULL),
        CONSTRAINT custody_maintenance_reason_check CHECK ((status IN ('rejected', 'expired', 'aborted')) = (reason IS NOT NULL))
      )`);
    // One open maintenance ceremony per wallet.
    await q.query(`CREATE UNIQUE INDEX custody_maintenance_open_key ON custody_maintenance (wallet_id)
                    WHERE status IN ('requested', 'approved', 'running')`);
    await q.query(`CREATE INDEX custody_maintenance_status_idx ON custody_maintenance (status, created_at)`);
    await q.query(`
      CREATE TABLE custody_maintenance_approval (
        maintenance_id uuid        NOT NULL CONSTRAINT custody_maintenance_approval_fk REFERENCES custody_maintenance (id),
        operator_id    uuid        NOT NULL CONSTRAINT custody_maintenance_approval_operator_fk REFERENCES custody_operator (id),
        signature      text        NOT NULL CONSTRAINT custody_maintenance_approval_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (maintenance_id, operator_id)
      )`);
    await q.query(`
      CREATE TABLE custody_wallet_activity (
        wallet_id uuid        PRIMARY KEY CONSTRAINT custody_wallet_activity_wallet_fk REFERENCES custody_wallet (id),
        activity  text        NOT NULL CONSTRAINT custody_wallet_activity_check CHECK (activity IN ('signing', 'maintenance')),
        ref_id    uuid        NOT NULL,
        since     timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO custody_wallet_activity (wallet_id, activity, ref_id)
                   SELECT wallet_id, 'signing', id FROM custody_ceremony WHERE status IN ${OPEN_CEREMONY}`);
    // A signing ceremony holds its wallet's activity row from its request until it ends; while a
    // maintenance ceremony holds it, the insert fails with a unique violation (SQLSTATE 23505).
    await q.query(`
      CREATE FUNCTION custody_ceremony_activity() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status IN ${OPEN_CEREMONY} THEN
          IF TG_OP = 'INSERT' OR OLD.status NOT IN ${OPEN_CEREMONY} THEN
            BEGIN
              INSERT INTO custody_wallet_activity (wallet_id, activity, ref_id) VALUES (NEW.wallet_id, 'signing', NEW.id);
            EXCEPTION WHEN unique_violation THEN
              RAISE EXCEPTION 'custody wallet % is busy (share maintenance running): no signing ceremony may start', NEW.wallet_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'custody_wallet_activity_pkey';
            END;
          END IF;
        ELSE
          DELETE FROM custody_wallet_activity WHERE wallet_id = NEW.wallet_id AND ref_id = NEW.id;
        END IF;
        RETURN NULL;
      END
      $$`);
    await q.query(`CREATE TRIGGER custody_ceremony_activity AFTER INSERT OR UPDATE OF status ON custody_ceremony
                   FOR EACH ROW EXECUTE FUNCTION custody_ceremony_activity()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER custody_ceremony_activity ON custody_ceremony`);
    await q.query(`DROP FUNCTION custody_ceremony_activity()`);
    await q.query(`DROP TABLE custody_wallet_activity, custody_maintenance_approval, custody_maintenance`);
    await q.query(`ALTER TABLE custody_wallet DROP COLUMN share_version`);
  }
}
