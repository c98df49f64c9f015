import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Zero-knowledge proofs (see docs/zk-service.md). Field elements (commitments, leaves, roots,
 * salts, tree nodes) are stored as canonical decimal text, as the circuits' public signals are.
 *
 * Registry (data the proofs are about):
 *   zk_tree_head         one row per tree ('identity', 'balance'); writers lock it FOR UPDATE, which
 *                        gives enrolments distinct leaf indices and serialises every tree update
 *   zk_identity          enrolled identities: the bank's attestation (birth date, jurisdiction) of a
 *                        wallet's identity commitment, and its leaf in the identity tree
 *   zk_identity_node     the identity tree's non-empty nodes (level 0 = leaves, level 20 = root);
 *                        an enrolment or revocation rewrites the depth+1 nodes of one path
 *   zk_account           accounts: an account commitment and the balance the bank holds for it
 *   zk_balance_epoch     balance snapshots: epoch number, root, number of leaves
 *   zk_balance_leaf      per epoch and account: leaf index, balance, salt, leaf
 *   zk_balance_node      per epoch, the balance tree's non-empty nodes (written once; epochs are immutable)
 *   zk_root              root history of both trees: version (identity change number or epoch),
 *                        root, created_at, superseded_at; validity = current or superseded_at + window
 *   zk_root_publication  outbox of roots to publish on the RootRegistry contracts
 * Proving and verification:
 *   zk_nullifier         consumed eligibility nullifiers, unique per scope
 *   zk_proof_job         asynchronous proof jobs (private inputs sealed, deleted after proving)
 */
const FIELD = `'^(0|[1-9][0-9]{0,76})$'`;

export class Zk1700000000300 implements MigrationInterface {
  name = 'Zk1700000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE zk_tree_head (
        tree       text        PRIMARY KEY CONSTRAINT zk_tree_head_tree_check CHECK (tree IN ('identity', 'balance')),
        size       bigint      NOT NULL DEFAULT 0 CONSTRAINT zk_tree_head_size_check CHECK (size >= 0),
        version    bigint      NOT NULL DEFAULT 0 CONSTRAINT zk_tree_head_version_check CHECK (version >= 0),
        root       text        NULL CONSTRAINT zk_tree_head_root_check CHECK (root ~ ${FIELD}),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO zk_tree_head (tree) VALUES ('identity'), ('balance')`);

    await q.query(`
      CREATE TABLE zk_identity (
        id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        leaf_index         bigint      NOT NULL CONSTRAINT zk_identity_leaf_index_key UNIQUE
                                       CONSTRAINT zk_identity_leaf_index_check CHECK (leaf_index BETWEEN 0 AND 1048575),
        commitment         text        NOT NULL CONSTRAINT zk_identity_commitment_check CHECK (commitment ~ ${FIELD}),
        birth_date         integer     NOT NULL CONSTRAINT zk_identity_birth_date_check CHECK (birth_date BETWEEN 10101 AND 99991231),
        jurisdiction       smallint    NOT NULL CONSTRAINT zk_identity_jurisdiction_check CHECK (jurisdiction BETWEEN 1 AND 999),
        leaf               text        NOT NULL CONSTRAINT zk_identity_leaf_check CHECK (leaf ~ ${FIELD}),
        status             text        NOT NULL DEFAULT 'enrolled'
                                       CONSTRAINT zk_identity_status_check CHECK (status IN ('enrolled', 'revoked')),
        owner_principal_id uuid        NOT NULL CONSTRAINT zk_identity_owner_fk REFERENCES principal (id),
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        revoked_at         timestamptz NULL,
        CONSTRAINT zk_identity_revoked_check CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
      )`);
    // One live enrolment per commitment (a revoked one may be enrolled again).
    await q.query(`CREATE UNIQUE INDEX zk_identity_commitment_live_key ON zk_identity (commitment) WHERE status = 'enrolled'`);
    await q.query(`CREATE INDEX zk_identity_owner_idx ON zk_identity (owner_principal_id)`);
    await q.query(`
      CREATE TABLE zk_identity_node (
        level smallint NOT NULL CONSTRAINT zk_identity_node_level_check CHECK (level BETWEEN 0 AND 32),
        idx   bigint   NOT NULL CONSTRAINT zk_identity_node_idx_check CHECK (idx >= 0),
        hash  text     NOT NULL CONSTRAINT zk_identity_node_hash_check CHECK (hash ~ ${FIELD}),
        CONSTRAINT zk_identity_node_pk PRIMARY KEY (level, idx)
      )`);

    await q.query(`
      CREATE TABLE zk_account (
        id                 uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_principal_id uuid           NOT NULL CONSTRAINT zk_account_owner_fk REFERENCES principal (id),
        commitment         text           NOT NULL CONSTRAINT zk_account_commitment_key UNIQUE
                                          CONSTRAINT zk_account_commitment_check CHECK (commitment ~ ${FIELD}),
        balance            numeric(20, 0) NOT NULL DEFAULT 0
                                          CONSTRAINT zk_account_balance_check CHECK (balance BETWEEN 0 AND 18446744073709551615),
        created_at         timestamptz    NOT NULL DEFAULT now(),
        updated_at         timestamptz    NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX zk_account_owner_idx ON zk_account (owner_principal_id)`);
    await q.query(`
      CREATE TABLE zk_balance_epoch (
        epoch      bigint      PRIMARY KEY CONSTRAINT zk_balance_epoch_epoch_check CHECK (epoch >= 1),
        root       text        NOT NULL CONSTRAINT zk_balance_epoch_root_check CHECK (root ~ ${FIELD}),
        size       integer     NOT NULL CONSTRAINT zk_balance_epoch_size_check CHECK (size BETWEEN 0 AND 1048576),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE zk_balance_leaf (
        epoch      bigint         NOT NULL CONSTRAINT zk_balance_leaf_epoch_fk REFERENCES zk_balance_epoch (epoch),
        account_id uuid           NOT NULL CONSTRAINT zk_balance_leaf_account_fk REFERENCES zk_account (id),
        leaf_index integer        NOT NULL CONSTRAINT zk_balance_leaf_index_check CHECK (leaf_index BETWEEN 0 AND 1048575),
        balance    numeric(20, 0) NOT NULL CONSTRAINT zk_balance_leaf_balance_check CHECK (balance BETWEEN 0 AND 18446744073709551615),
        salt       text           NOT NULL CONSTRAINT zk_balance_leaf_salt_check CHECK (salt ~ ${FIELD}),
        leaf       text           NOT NULL CONSTRAINT zk_balance_leaf_leaf_check CHECK (leaf ~ ${FIELD}),
        CONSTRAINT zk_balance_leaf_pk PRIMARY KEY (epoch, leaf_index),
        CONSTRAINT zk_balance_leaf_account_key UNIQUE (epoch, account_id)
      )`);
    await q.query(`CREATE INDEX zk_balance_leaf_account_idx ON zk_balance_leaf (account_id, epoch)`);
    await q.query(`
      CREATE TABLE zk_balance_node (
        epoch bigint   NOT NULL CONSTRAINT zk_balance_node_epoch_fk REFERENCES zk_balance_epoch (epoch),
        level smallint NOT NULL CONSTRAINT zk_balance_node_level_check CHECK (level BETWEEN 0 AND 32),
        idx   bigint   NOT NULL CONSTRAINT zk_balance_node_idx_check CHECK (idx >= 0),
        hash  text     NOT NULL CONSTRAINT zk_balance_node_hash_check CHECK (hash ~ ${FIELD}),
        CONSTRAINT zk_balance_node_pk PRIMARY KEY (epoch, level, idx)
      )`);

    await q.query(`
      CREATE TABLE zk_root (
        tree          text        NOT NULL CONSTRAINT zk_root_tree_check CHECK (tree IN ('identity', 'balance')),
        version       bigint      NOT NULL CONSTRAINT zk_root_version_check CHECK (version >= 1),
        root          text        NOT NULL CONSTRAINT zk_root_root_check CHECK (root ~ ${FIELD}),
        created_at    timestamptz NOT NULL DEFAULT now(),
        superseded_at timestamptz NULL,
        CONSTRAINT zk_root_pk PRIMARY KEY (tree, version)
      )`);
    await q.query(`CREATE INDEX zk_root_lookup_idx ON zk_root (tree, root)`);
    await q.query(`CREATE UNIQUE INDEX zk_root_current_key ON zk_root (tree) WHERE superseded_at IS NULL`);
    await q.query(`
      CREATE TABLE zk_root_publication (
        tree             text        NOT NULL,
        version          bigint      NOT NULL,
        root             text        NOT NULL CONSTRAINT zk_root_publication_root_check CHECK (root ~ ${FIELD}),
        status           text        NOT NULL DEFAULT 'pending'
                                     CONSTRAINT zk_root_publication_status_check CHECK (status IN ('pending', 'submitted', 'confirmed')),
        chain_id         bigint      NULL,
        contract_address text        NULL,
        tx_hash          text        NULL,
        block_number     bigint      NULL,
        attempts         integer     NOT NULL DEFAULT 0,
        last_error       text        NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT zk_root_publication_pk PRIMARY KEY (tree, version),
        CONSTRAINT zk_root_publication_root_fk FOREIGN KEY (tree, version) REFERENCES zk_root (tree, version)
      )`);
    await q.query(`CREATE INDEX zk_root_publication_open_idx ON zk_root_publication (tree, version) WHERE status <> 'confirmed'`);

    await q.query(`
      CREATE TABLE zk_nullifier (
        scope       text        NOT NULL CONSTRAINT zk_nullifier_scope_check CHECK (scope ~ ${FIELD}),
        nullifier   text        NOT NULL CONSTRAINT zk_nullifier_nullifier_check CHECK (nullifier ~ ${FIELD}),
        circuit     text        NOT NULL,
        consumed_at timestamptz NOT NULL DEFAULT now(),
        verifier    text        NULL,
        CONSTRAINT zk_nullifier_pk PRIMARY KEY (scope, nullifier)
      )`);
    await q.query(`
      CREATE TABLE zk_proof_job (
        id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        circuit            text        NOT NULL,
        owner_principal_id uuid        NOT NULL CONSTRAINT zk_proof_job_owner_fk REFERENCES principal (id),
        status             text        NOT NULL DEFAULT 'queued'
                                       CONSTRAINT zk_proof_job_status_check CHECK (status IN ('queued', 'running', 'done', 'failed')),
        sealed_input       jsonb       NULL,
        proof              jsonb       NULL,
        public_signals     jsonb       NULL,
        error              text        NULL,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX zk_proof_job_owner_idx ON zk_proof_job (owner_principal_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE zk_proof_job, zk_nullifier, zk_root_publication, zk_root`);
    await q.query(`DROP TABLE zk_balance_node, zk_balance_leaf, zk_balance_epoch, zk_account`);
    await q.query(`DROP TABLE zk_identity_node, zk_identity, zk_tree_head`);
  }
}
