import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Encrypted payments and the regulators' computation tasks (see docs/analytics-service.md).
 * No table holds a plaintext payment feature: amounts, buckets and flags exist here only as
 * ElGamal ciphertexts under the key set's slot keys (wire form, decimal field elements).
 *
 *   analytics_payment          one payment between pseudonymous accounts: the Poseidon commitment
 *                              of its amount, the binding of its public facts, the six feature
 *                              ciphertexts and the Groth16 proof tying them together; unique per
 *                              (payer, reference)
 *   analytics_task             a computation task: its definition (what the approvers sign), the
 *                              key set it runs under, its cohort (payments of that key set in the
 *                              window, recorded up to the definition), status defined -> approved ->
 *                              aggregating -> decrypting -> released (or rejected / expired with a
 *                              reason), the number of groups suppressed below the minimum cohort
 *                              and, once released, its result
 *   analytics_task_approval    one regulator's signature over the task's definition digest
 *   analytics_aggregate        intermediate: the homomorphic sum of one slot over one group's
 *                              payments (deleted on release)
 *   analytics_partial          intermediate: one regulator's partial decryptions of every
 *                              aggregate of a task, with their Chaum-Pedersen proofs (deleted on
 *                              release)
 *   analytics_privacy_budget   per regulator: the differential-privacy budget (total epsilon) and
 *                              what its approvals have spent
 */
export class AnalyticsTasks1700000000510 implements MigrationInterface {
  name = 'AnalyticsTasks1700000000510';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_payment (
        id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        payer            text        NOT NULL CONSTRAINT analytics_payment_payer_check CHECK (payer ~ '^acct_[0-9a-f]{8,64}$'),
        payee            text        NOT NULL CONSTRAINT analytics_payment_payee_check CHECK (payee ~ '^acct_[0-9a-f]{8,64}$'),
        occurred_at      timestamptz NOT NULL,
        reference        text        NOT NULL CONSTRAINT analytics_payment_reference_check CHECK (reference ~ '^[A-Za-z0-9._:-]{1,64}$'),
        commitment       text        NOT NULL CONSTRAINT analytics_payment_commitment_check CHECK (commitment ~ '^(0|[1-9][0-9]{0,77})$'),
        binding          text        NOT NULL CONSTRAINT analytics_payment_binding_check CHECK (binding ~ '^(0|[1-9][0-9]{0,77})$'),
        ciphertexts      jsonb       NOT NULL,
        ciphertexts_hash text        NOT NULL CONSTRAINT analytics_payment_ciphertexts_hash_check CHECK (ciphertexts_hash ~ '^[0-9a-f]{64}$'),
        proof            jsonb       NOT NULL,
        key_set_id       uuid        NOT NULL CONSTRAINT analytics_payment_key_set_fk REFERENCES analytics_key_set (id),
        submitted_by     text        NOT NULL,
        recorded_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT analytics_payment_payer_reference_key UNIQUE (payer, reference)
      )`);
    await q.query(`CREATE INDEX analytics_payment_window_idx ON analytics_payment (key_set_id, occurred_at)`);
    await q.query(`
      CREATE TABLE analytics_task (
        id          uuid        PRIMARY KEY,
        kind        text        NOT NULL CONSTRAINT analytics_task_kind_check CHECK (kind IN ('sum', 'count', 'histogram', 'linear-score', 'structuring')),
        group_by    text        NOT NULL CONSTRAINT analytics_task_group_by_check CHECK (group_by IN ('none', 'payer')),
        window_from timestamptz NOT NULL,
        window_to   timestamptz NOT NULL,
        recorded_up_to timestamptz NOT NULL,
        definition  jsonb       NOT NULL,
        digest      text        NOT NULL CONSTRAINT analytics_task_digest_check CHECK (digest ~ '^[0-9a-f]{64}$'),
        key_set_id  uuid        NOT NULL CONSTRAINT analytics_task_key_set_fk REFERENCES analytics_key_set (id),
        epsilon     numeric     NULL CONSTRAINT analytics_task_epsilon_check CHECK (epsilon > 0),
        min_cohort  integer     NOT NULL CONSTRAINT analytics_task_min_cohort_check CHECK (min_cohort >= 1),
        status      text        NOT NULL DEFAULT 'defined' CONSTRAINT analytics_task_status_check
                                CHECK (status IN ('defined', 'approved', 'aggregating', 'decrypting', 'released', 'rejected', 'expired')),
        reason      text        NULL,
        defined_by  uuid        NOT NULL CONSTRAINT analytics_task_defined_by_fk REFERENCES analytics_regulator (id),
        suppressed_groups integer NULL CONSTRAINT analytics_task_suppressed_check CHECK (suppressed_groups >= 0),
        result      jsonb       NULL,
        expires_at  timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        released_at timestamptz NULL,
        CONSTRAINT analytics_task_window_check CHECK (window_from < window_to),
        CONSTRAINT analytics_task_reason_check CHECK ((status IN ('rejected', 'expired')) = (reason IS NOT NULL)),
        CONSTRAINT analytics_task_result_check CHECK ((status = 'released') = (result IS NOT NULL))
      )`);
    await q.query(`
      CREATE TABLE analytics_task_approval (
        task_id      uuid        NOT NULL CONSTRAINT analytics_task_approval_task_fk REFERENCES analytics_task (id),
        regulator_id uuid        NOT NULL CONSTRAINT analytics_task_approval_regulator_fk REFERENCES analytics_regulator (id),
        signature    text        NOT NULL CONSTRAINT analytics_task_approval_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, regulator_id)
      )`);
    await q.query(`
      CREATE TABLE analytics_aggregate (
        id         uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
        task_id    uuid    NOT NULL CONSTRAINT analytics_aggregate_task_fk REFERENCES analytics_task (id),
        slot       text    NOT NULL CONSTRAINT analytics_aggregate_slot_check
                           CHECK (slot IN ('amount', 'bucket0', 'bucket1', 'bucket2', 'bucket3', 'crossBorder')),
        group_key  text    NOT NULL,
        payments   integer NOT NULL CONSTRAINT analytics_aggregate_payments_check CHECK (payments >= 1),
        ciphertext jsonb   NOT NULL,
        CONSTRAINT analytics_aggregate_task_slot_group_key UNIQUE (task_id, slot, group_key)
      )`);
    await q.query(`
      CREATE TABLE analytics_partial (
        task_id         uuid        NOT NULL CONSTRAINT analytics_partial_task_fk REFERENCES analytics_task (id),
        regulator_id    uuid        NOT NULL CONSTRAINT analytics_partial_regulator_fk REFERENCES analytics_regulator (id),
        regulator_index integer     NOT NULL CONSTRAINT analytics_partial_index_check CHECK (regulator_index >= 1),
        partials        jsonb       NOT NULL,
        signature       text        NOT NULL CONSTRAINT analytics_partial_signature_check CHECK (signature ~ '^[0-9a-f]{128}$'),
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, regulator_id)
      )`);
    await q.query(`
      CREATE TABLE analytics_privacy_budget (
        regulator_id uuid    PRIMARY KEY CONSTRAINT analytics_privacy_budget_regulator_fk REFERENCES analytics_regulator (id),
        total        numeric NOT NULL CONSTRAINT analytics_privacy_budget_total_check CHECK (total >= 0),
        spent        numeric NOT NULL DEFAULT 0 CONSTRAINT analytics_privacy_budget_spent_check CHECK (spent >= 0),
        CONSTRAINT analytics_privacy_budget_overspend_check CHECK (spent <= total)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE analytics_privacy_budget, analytics_partial, analytics_aggregate, analytics_task_approval, analytics_task, analytics_payment`);
  }
}
