import { Column, Entity, PrimaryGeneratedColumn, Unique, type ValueTransformer } from 'typeorm';

/** PostgreSQL bigint comes back as a string; chain ids and block numbers fit in a JS number. */
const bigintAsNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/**
 * One deployment of a compiled contract on one chain, under a stable key (for example
 * 'AuditAnchor'). The service looks contracts up by (chain_id, key), so deploying twice on the
 * same chain returns the recorded contract, and a reset chain (no code at the address) gets a
 * fresh deployment that replaces the row.
 */
@Entity({ name: 'deployed_contract' })
@Unique('uq_deployed_contract_chain_key', ['chainId', 'key'])
export class DeployedContract {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Contract name in the compiled artifacts. */
  @Column({ type: 'text' })
  name!: string;

  /** Stable name the service uses to find this deployment (defaults to the contract name). */
  @Column({ type: 'text' })
  key!: string;

  @Column({ name: 'chain_id', type: 'bigint', transformer: bigintAsNumber })
  chainId!: number;

  /** EIP-55 checksummed address. */
  @Column({ type: 'text' })
  address!: string;

  @Column({ name: 'tx_hash', type: 'text' })
  txHash!: string;

  @Column({ name: 'block_number', type: 'bigint', transformer: bigintAsNumber })
  blockNumber!: number;

  /** keccak256 of the runtime code found at the address right after deployment. */
  @Column({ name: 'bytecode_hash', type: 'text' })
  bytecodeHash!: string;

  @Column({ name: 'deployed_at', type: 'timestamptz', default: () => 'now()' })
  deployedAt!: Date;
}
