import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from './roles.js';

/**
 * Someone who calls the service: a wallet app, a regulator, an operator or an administrator.
 * Principals are disabled, never deleted, so audit records keep pointing at them.
 * Table created by migrations/1700000000000-Foundation.ts.
 */
@Entity({ name: 'principal' })
export class Principal {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Unique, human-chosen name (e.g. "acme-wallet"). */
  @Column({ type: 'text', unique: true })
  name!: string;

  @Column({ type: 'text' })
  role!: Role;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;
}
