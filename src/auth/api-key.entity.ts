import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Principal } from './principal.entity.js';

/**
 * An API key of a principal. Only a hash of the key is stored; `prefix` is the public handle shown
 * in listings and used to revoke it. Table created by migrations/1700000000000-Foundation.ts.
 */
@Entity({ name: 'api_key' })
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'principal_id', type: 'uuid' })
  principalId!: string;

  @ManyToOne(() => Principal, { nullable: false })
  @JoinColumn({ name: 'principal_id' })
  principal?: Principal;

  @Column({ type: 'text', unique: true })
  prefix!: string;

  /** SHA-256 of the whole key (32 bytes). */
  @Column({ name: 'key_hash', type: 'bytea', unique: true })
  keyHash!: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
