/**
 * The signer node's own database (its PGlite folder, or a PostgreSQL database of its own): three
 * small tables, created by the node's migration below, never by the service's migrations.
 *
 * - signer_key_shares: one row per wallet and share version; the signing share only as a sealed envelope.
 * - signer_nonces: signing nonces, sealed, with a single-use flag; a used nonce's envelope is erased.
 * - signer_seen_messages: ids of accepted coordinator messages, unique, so a replay is refused.
 */
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource, initializeDataSource, runMigrations } from '../../db/data-source.js';
import type { AppConfig } from '../../config/config.js';
import type { SealedEnvelope } from '../../hsm/envelope.js';
import type { WireCommitments, WirePublic } from './frost-adapter.js';

export class SignerTables1763800000000 implements MigrationInterface {
  name = 'SignerTables1763800000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE signer_key_shares (
      wallet_id text NOT NULL,
      version integer NOT NULL,
      identifier text NOT NULL,
      verifying_share text NOT NULL,
      public_package jsonb NOT NULL,
      sealed_share jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (wallet_id, version))`);
    await q.query(`CREATE TABLE signer_nonces (
      session_id text PRIMARY KEY,
      wallet_id text NOT NULL,
      commitments jsonb NOT NULL,
      sealed_nonces jsonb,
      used boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      used_at timestamptz,
      CHECK (used = (sealed_nonces IS NULL)))`);
    await q.query(`CREATE TABLE signer_seen_messages (
      message_id text PRIMARY KEY,
      received_at timestamptz NOT NULL DEFAULT now())`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE signer_seen_messages');
    await q.query('DROP TABLE signer_nonces');
    await q.query('DROP TABLE signer_key_shares');
  }
}

export interface StoredShare {
  walletId: string;
  version: number;
  identifier: string;
  verifyingShare: string;
  publicPackage: WirePublic;
  sealedShare: SealedEnvelope;
}

export class NonceUsedError extends Error {}
export class NonceUnknownError extends Error {}

export class SignerStore {
  private constructor(private readonly ds: DataSource) {}

  /** Opens the database (DATABASE_URL, else PGlite in `${dataDir}/pglite`) and applies the node's migration. */
  static async open(options: { databaseUrl?: string; dataDir: string }): Promise<SignerStore> {
    const config = { DATABASE_URL: options.databaseUrl, DATA_DIR: options.dataDir } as AppConfig;
    const ds = createDataSource(config, { entities: [], migrations: [SignerTables1763800000000] });
    await initializeDataSource(ds);
    await runMigrations(ds);
    return new SignerStore(ds);
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }

  /** Records a message id; false when it was seen before (a replay). Forgets ids older than `keepMs`. */
  async rememberMessage(messageId: string, keepMs: number): Promise<boolean> {
    const rows = (await this.ds.query(
      'INSERT INTO signer_seen_messages (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING RETURNING message_id',
      [messageId],
    )) as unknown[];
    if (Math.random() < 0.05) {
      await this.ds.query(`DELETE FROM signer_seen_messages WHERE received_at < now() - ($1::text || ' milliseconds')::interval`, [String(keepMs)]);
    }
    return rows.length === 1;
  }

  async insertShare(share: StoredShare): Promise<void> {
    await this.ds.query(
      `INSERT INTO signer_key_shares (wallet_id, version, identifier, verifying_share, public_package, sealed_share)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [share.walletId, share.version, share.identifier, share.verifyingShare, JSON.stringify(share.publicPackage), JSON.stringify(share.sealedShare)],
    );
  }

  async latestShare(walletId: string): Promise<StoredShare | undefined> {
    const rows = (await this.ds.query(
      `SELECT wallet_id, version, identifier, verifying_share, public_package, sealed_share FROM signer_key_shares
       WHERE wallet_id = $1 ORDER BY version DESC LIMIT 1`,
      [walletId],
    )) as { wallet_id: string; version: number; identifier: string; verifying_share: string; public_package: WirePublic; sealed_share: SealedEnvelope }[];
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      walletId: row.wallet_id,
      version: row.version,
      identifier: row.identifier,
      verifyingShare: row.verifying_share,
      publicPackage: row.public_package,
      sealedShare: row.sealed_share,
    };
  }

  /** Stores sealed nonces; false when the session id is taken. */
  async insertNonces(sessionId: string, walletId: string, commitments: WireCommitments, sealed: SealedEnvelope): Promise<boolean> {
    const rows = (await this.ds.query(
      `INSERT INTO signer_nonces (session_id, wallet_id, commitments, sealed_nonces) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_id) DO NOTHING RETURNING session_id`,
      [sessionId, walletId, JSON.stringify(commitments), JSON.stringify(sealed)],
    )) as unknown[];
    return rows.length === 1;
  }

  /**
   * Single use of a nonce: in one transaction, lock the row, refuse if used, mark it used and erase
   * its envelope, then run `use` (which computes the signature share). The mark commits even if
   * `use` fails: a nonce that may have been used is never offered again.
   */
  async consumeNonces<T>(
    sessionId: string,
    walletId: string,
    use: (sealed: SealedEnvelope, commitments: WireCommitments) => Promise<T>,
  ): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    await this.ds.transaction(async (m) => {
      const rows = (await m.query(
        'SELECT wallet_id, commitments, sealed_nonces, used FROM signer_nonces WHERE session_id = $1 FOR UPDATE',
        [sessionId],
      )) as { wallet_id: string; commitments: WireCommitments; sealed_nonces: SealedEnvelope | null; used: boolean }[];
      const row = rows[0];
      if (row === undefined || row.wallet_id !== walletId) throw new NonceUnknownError(`no nonce commitment for session ${sessionId} and this wallet`);
      if (row.used || row.sealed_nonces === null) throw new NonceUsedError(`the nonce of session ${sessionId} was already used`);
      await m.query('UPDATE signer_nonces SET used = true, sealed_nonces = NULL, used_at = now() WHERE session_id = $1', [sessionId]);
      try {
        outcome = { ok: true, value: await use(row.sealed_nonces, row.commitments) };
      } catch (error) {
        outcome = { ok: false, error };
      }
    });
    if (outcome === undefined) throw new Error('nonce transaction ended without an outcome');
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
}
