import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Principals (who calls the service) and their API keys (stored as hashes only). */
export class Foundation1700000000000 implements MigrationInterface {
  name = 'Foundation1700000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE principal (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name        text NOT NULL CONSTRAINT principal_name_key UNIQUE,
        role        text NOT NULL CONSTRAINT principal_role_check
                      CHECK (role IN ('wallet-app', 'regulator', 'operator', 'admin')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        disabled_at timestamptz NULL
      )`);
    await q.query(`
      CREATE TABLE api_key (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        principal_id uuid NOT NULL CONSTRAINT api_key_principal_fk REFERENCES principal (id),
        prefix       text NOT NULL CONSTRAINT api_key_prefix_key UNIQUE,
        key_hash     bytea NOT NULL CONSTRAINT api_key_key_hash_key UNIQUE
                       CONSTRAINT api_key_key_hash_check CHECK (octet_length(key_hash) = 32),
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz NULL,
        last_used_at timestamptz NULL
      )`);
    await q.query(`CREATE INDEX api_key_principal_idx ON api_key (principal_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_key`);
    await q.query(`DROP TABLE principal`);
  }
}
