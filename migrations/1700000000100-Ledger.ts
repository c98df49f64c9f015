import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Contracts deployed by the service, one row per (chain, key). See src/ledger/deployed-contract.entity.ts. */
export class Ledger1700000000100 implements MigrationInterface {
  name = 'Ledger1700000000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE deployed_contract (
        id            uuid        NOT NULL DEFAULT gen_random_uuid(),
        name          text        NOT NULL,
        key           text        NOT NULL,
        chain_id      bigint      NOT NULL,
        address       text        NOT NULL,
        tx_hash       text        NOT NULL,
        block_number  bigint      NOT NULL,
        bytecode_hash text        NOT NULL,
        deployed_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_deployed_contract PRIMARY KEY (id),
        CONSTRAINT uq_deployed_contract_chain_key UNIQUE (chain_id, key),
        CONSTRAINT ck_deployed_contract_address CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
        CONSTRAINT ck_deployed_contract_tx_hash CHECK (tx_hash ~ '^0x[0-9a-fA-F]{64}$'),
        CONSTRAINT ck_deployed_contract_bytecode_hash CHECK (bytecode_hash ~ '^0x[0-9a-fA-F]{64}$'),
        CONSTRAINT ck_deployed_contract_block_number CHECK (block_number >= 0)
      )
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE deployed_contract`);
  }
}
