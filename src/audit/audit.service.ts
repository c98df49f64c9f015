import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { HsmService } from '../hsm/hsm.service.js';
import { AuditStore, type AuditEventInput, type CheckpointRow, type StoredEvent } from './audit-store.js';
import { hsmCheckpointSigner } from './checkpoint-signer.js';
import {
  keyIdOf,
  publicKeyToPem,
  toSignedNote,
  type Checkpoint,
  type CheckpointSigner,
} from './crypto/index.js';

/** Advisory lock that serialises first-time creation of the signing key across processes. */
const KEY_LOCK = 0x6175646974_6b6579n; // "audit" "key"

/**
 * The audit log as other modules see it: append events, sign checkpoints. Capabilities call
 * append() for every security-relevant action; nothing ever updates or deletes an event.
 */
@Injectable()
export class AuditService implements OnModuleInit {
  private readonly logger = new Logger('AuditLog');
  readonly store: AuditStore;
  private signer?: CheckpointSigner;

  constructor(
    private readonly ds: DataSource,
    private readonly hsm: HsmService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.store = new AuditStore(ds);
  }

  async onModuleInit(): Promise<void> {
    this.signer = await this.ds.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock($1)`, [KEY_LOCK.toString()]);
      return hsmCheckpointSigner(this.hsm);
    });
  }

  /** Appends one event; returns it with its seq (leaf index) and leaf hash. */
  async append(event: AuditEventInput, manager?: EntityManager): Promise<StoredEvent> {
    const [stored] = await this.store.append([event], manager);
    return stored!;
  }

  /** Appends several events atomically and in order. */
  appendMany(events: AuditEventInput[]): Promise<StoredEvent[]> {
    return this.store.append(events);
  }

  get origin(): string {
    return this.config.AUDIT_ORIGIN;
  }

  /** The checkpoint signing key: SPKI PEM and key id (SHA-256 of the SPKI DER). */
  publicKey(): { pem: string; keyId: string; algorithm: string } {
    const signer = this.requireSigner();
    return { pem: publicKeyToPem(signer.publicKey), keyId: keyIdOf(signer.publicKey), algorithm: 'ECDSA P-256 SHA-256' };
  }

  /**
   * Signs a checkpoint of the current tree if it has grown since the latest one; otherwise returns
   * the latest. Returns null while the log is empty. Safe to call from many processes at once.
   */
  async checkpoint(): Promise<Checkpoint | null> {
    const signed = await this.store.checkpointIfGrown(this.origin, this.requireSigner());
    if (signed) this.logger.debug(`checkpoint ${signed.treeSize} signed`);
    const row = signed ?? (await this.store.latestCheckpoint());
    return row ? this.toCheckpoint(row) : null;
  }

  toCheckpoint(row: CheckpointRow): Checkpoint {
    return {
      origin: row.origin,
      treeSize: row.treeSize,
      rootHash: row.rootHash.toString('base64'),
      timestamp: row.timestamp,
      keyId: row.keyId,
      signature: row.signature.toString('base64'),
    };
  }

  signedNote(cp: Checkpoint): string {
    return toSignedNote(cp);
  }

  private requireSigner(): CheckpointSigner {
    if (!this.signer) throw new Error('the audit log signing key is not loaded yet');
    return this.signer;
  }
}
