import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log (see docs/audit-log.md).
 *   audit_event       one row per event, seq = its leaf index; leaf_data is the exact hashed bytes
 *   audit_node        every perfect subtree hash (level, idx), written once when it completes
 *   audit_head        one row: the tree size; appenders lock it, which makes seq gap-free
 *   audit_checkpoint  signed tree heads
 *   audit_anchor      the anchoring outbox: one row per checkpoint, pending -> submitted -> confirmed
 * Events, nodes and checkpoints are append-only, enforced by triggers (UPDATE, DELETE and TRUNCATE
 * raise), so not even a bug in the service can rewrite history without dropping the triggers.
 */
export class Audit1700000000200 implements MigrationInterface {
  name = 'Audit1700000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_event (
        seq         bigint      PRIMARY KEY CONSTRAINT audit_event_seq_check CHECK (seq >= 0),
        type        text        NOT NULL CONSTRAINT audit_event_type_check CHECK (type ~ '^[a-z][a-z0-9_.-]{0,127}$'),
        actor       text        NOT NULL CONSTRAINT audit_event_actor_check CHECK (length(actor) BETWEEN 1 AND 256),
        subject     text        NOT NULL CONSTRAINT audit_event_subject_check CHECK (length(subject) <= 256),
        occurred_at timestamptz NOT NULL,
        body        jsonb       NOT NULL,
        leaf_data   bytea       NOT NULL,
        leaf_hash   bytea       NOT NULL CONSTRAINT audit_event_leaf_hash_key UNIQUE
                                CONSTRAINT audit_event_leaf_hash_check CHECK (octet_length(leaf_hash) = 32)
      )`);
    await q.query(`CREATE INDEX audit_event_type_idx ON audit_event (type, seq)`);
    await q.query(`CREATE INDEX audit_event_subject_idx ON audit_event (subject, seq)`);
    await q.query(`
      CREATE TABLE audit_node (
        level smallint NOT NULL CONSTRAINT audit_node_level_check CHECK (level BETWEEN 0 AND 63),
        idx   bigint   NOT NULL CONSTRAINT audit_node_idx_check CHECK (idx >= 0),
        hash  bytea    NOT NULL CONSTRAINT audit_node_hash_check CHECK (octet_length(hash) = 32),
        CONSTRAINT audit_node_pk PRIMARY KEY (level, idx)
      )`);
    await q.query(`
      CREATE TABLE audit_head (
        id   smallint PRIMARY KEY CONSTRAINT audit_head_single_row CHECK (id = 1),
        size bigint   NOT NULL CONSTRAINT audit_head_size_check CHECK (size >= 0)
      )`);
    await q.query(`INSERT INTO audit_head (id, size) VALUES (1, 0)`);
    await q.query(`
      CREATE TABLE audit_checkpoint (
        tree_size    bigint      PRIMARY KEY CONSTRAINT audit_checkpoint_size_check CHECK (tree_size >= 0),
        origin       text        NOT NULL,
        root_hash    bytea       NOT NULL CONSTRAINT audit_checkpoint_root_check CHECK (octet_length(root_hash) = 32),
        timestamp_ms bigint      NOT NULL,
        key_id       text        NOT NULL,
        signature    bytea       NOT NULL CONSTRAINT audit_checkpoint_signature_check CHECK (octet_length(signature) = 64),
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_anchor (
        tree_size        bigint      PRIMARY KEY REFERENCES audit_checkpoint (tree_size),
        status           text        NOT NULL DEFAULT 'pending'
                                     CONSTRAINT audit_anchor_status_check CHECK (status IN ('pending', 'submitted', 'confirmed')),
        chain_id         bigint      NULL,
        contract_address text        NULL,
        tx_hash          text        NULL,
        block_number     bigint      NULL,
        attempts         integer     NOT NULL DEFAULT 0,
        last_error       text        NULL,
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_anchor_open_idx ON audit_anchor (tree_size) WHERE status <> 'confirmed'`);
    await q.query(`
      CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'restrict_violation';
      END $$`);
    for (const table of ['audit_event', 'audit_node', 'audit_checkpoint']) {
      await q.query(`CREATE TRIGGER ${table}_no_update BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_append_only()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_anchor, audit_checkpoint, audit_head, audit_node, audit_event`);
    await q.query(`DROP FUNCTION audit_append_only()`);
  }
}
