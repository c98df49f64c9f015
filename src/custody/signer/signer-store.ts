/**
 * The signer node's own database (its PGlite folder, or a PostgreSQL database of its own): three
 * small tables, created by the node's migration below, never by the service's migrations.
 *
 * - signer_key_shares: one row per wallet and share version; the signing share only as a sealed envelope.
 *   A row is 'current' (the one version the node signs with) or 'staged' (a refresh/reshare result
 *   awaiting the coordinator's commit); at most one of each per wallet.
 * - signer_nonces: signing nonces, sealed, with a single-use flag; a used nonce's envelope is erased.
 * - signer_seen_messages: ids of accepted coordinator messages, unique, so a replay is refused.
 */
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource, initializeDataSource, runMigrations } from '../../db/data-source.js';
import type { AppConfig } from '../../config/config.js';
import type { SealedEnvelope } from '../../hsm/envelope.js';
import type { WireCommitments, WirePublic } from './frost-adapter.js';
import { canonicalJson } from './message-auth.js';

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

/**
 * Share versions for refresh and resharing (docs/custody-maintenance.md): a share row is 'current'
 * or 'staged' (sealed, never used to sign) and names the maintenance ceremony that produced it;
 * nonces record the share version they were committed under, so a nonce drawn before a commit is
 * never used with the share that replaced it.
 */
export class SignerShareVersions1763900000000 implements MigrationInterface {
  name = 'SignerShareVersions1763900000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE signer_key_shares ADD COLUMN status text NOT NULL DEFAULT 'current'
      CONSTRAINT signer_key_shares_status_check CHECK (status IN ('current', 'staged'))`);
    await q.query('ALTER TABLE signer_key_shares ADD COLUMN ceremony_id text NULL');
    await q.query(`CREATE UNIQUE INDEX signer_key_shares_current_key ON signer_key_shares (wallet_id) WHERE status = 'current'`);
    await q.query(`CREATE UNIQUE INDEX signer_key_shares_staged_key ON signer_key_shares (wallet_id) WHERE status = 'staged'`);
    await q.query('ALTER TABLE signer_nonces ADD COLUMN share_version integer NULL');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE signer_nonces DROP COLUMN share_version');
    await q.query('DROP INDEX signer_key_shares_staged_key');
    await q.query('DROP INDEX signer_key_shares_current_key');
    await q.query('ALTER TABLE signer_key_shares DROP COLUMN ceremony_id');
    await q.query('ALTER TABLE signer_key_shares DROP COLUMN status');
  }
}

export type ShareStatus = 'current' | 'staged';

export interface StoredShare {
  walletId: string;
  version: number;
  identifier: string;
  verifyingShare: string;
  publicPackage: WirePublic;
  sealedShare: SealedEnvelope;
  status?: ShareStatus;
  ceremonyId?: string | null;
}

interface ShareRow {
  wallet_id: string;
  version: number;
  identifier: string;
  verifying_share: string;
  public_package: WirePublic;
  sealed_share: SealedEnvelope;
  status: ShareStatus;
  ceremony_id: string | null;
}

const SHARE_COLUMNS = 'wallet_id, version, identifier, verifying_share, public_package, sealed_share, status, ceremony_id';

function shareFromRow(row: ShareRow): StoredShare {
  return {
    walletId: row.wallet_id,
    version: Number(row.version),
    identifier: row.identifier,
    verifyingShare: row.verifying_share,
    publicPackage: typeof row.public_package === 'string' ? JSON.parse(row.public_package) : row.public_package,
    sealedShare: typeof row.sealed_share === 'string' ? JSON.parse(row.sealed_share) : row.sealed_share,
    status: row.status,
    ceremonyId: row.ceremony_id,
  };
}

/** What a commit did: made the staged version current, or found it already current (a retry). */
export type CommitOutcome = 'committed' | 'already-committed';

export class NothingStagedError extends Error {}
export class StagedMismatchError extends Error {}
export class AlreadyCommittedError extends Error {}

export class NonceUsedError extends Error {}
export class NonceUnknownError extends Error {}

export class SignerStore {
  private constructor(private readonly ds: DataSource) {}

  /** Opens the database (DATABASE_URL, else PGlite in `${dataDir}/pglite`) and applies the node's migration. */
  static async open(options: { databaseUrl?: string; dataDir: string }): Promise<SignerStore> {
    const config = { DATABASE_URL: options.databaseUrl, DATA_DIR: options.dataDir } as AppConfig;
    const ds = createDataSource(config, { entities: [], migrations: [SignerTables1763800000000, SignerShareVersions1763900000000] });
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
      `INSERT INTO signer_key_shares (wallet_id, version, identifier, verifying_share, public_package, sealed_share, status, ceremony_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [share.walletId, share.version, share.identifier, share.verifyingShare, JSON.stringify(share.publicPackage), JSON.stringify(share.sealedShare),
        share.status ?? 'current', share.ceremonyId ?? null],
    );
  }

  /** True when the node holds any share row (current or staged) of the wallet. */
  async hasShare(walletId: string): Promise<boolean> {
    const rows = (await this.ds.query('SELECT 1 FROM signer_key_shares WHERE wallet_id = $1 LIMIT 1', [walletId])) as unknown[];
    return rows.length > 0;
  }

  /** The version the node signs with; staged versions are never returned here. */
  async currentShare(walletId: string): Promise<StoredShare | undefined> {
    const rows = (await this.ds.query(`SELECT ${SHARE_COLUMNS} FROM signer_key_shares WHERE wallet_id = $1 AND status = 'current'`, [walletId])) as ShareRow[];
    return rows[0] === undefined ? undefined : shareFromRow(rows[0]);
  }

  async stagedShare(walletId: string): Promise<StoredShare | undefined> {
    const rows = (await this.ds.query(`SELECT ${SHARE_COLUMNS} FROM signer_key_shares WHERE wallet_id = $1 AND status = 'staged'`, [walletId])) as ShareRow[];
    return rows[0] === undefined ? undefined : shareFromRow(rows[0]);
  }

  /** The current share (the name earlier callers use). */
  latestShare(walletId: string): Promise<StoredShare | undefined> {
    return this.currentShare(walletId);
  }

  /**
   * Stages a refresh/reshare result: replaces any staged row of the wallet (a staged share is
   * never used, and only one maintenance ceremony runs per wallet), in one transaction.
   */
  async stageShare(share: StoredShare & { ceremonyId: string }): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query(`SELECT version FROM signer_key_shares WHERE wallet_id = $1 FOR UPDATE`, [share.walletId]);
      await m.query(`DELETE FROM signer_key_shares WHERE wallet_id = $1 AND status = 'staged'`, [share.walletId]);
      await m.query(
        `INSERT INTO signer_key_shares (wallet_id, version, identifier, verifying_share, public_package, sealed_share, status, ceremony_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'staged', $7)`,
        [share.walletId, share.version, share.identifier, share.verifyingShare, JSON.stringify(share.publicPackage), JSON.stringify(share.sealedShare), share.ceremonyId],
      );
    });
  }

  /**
   * Phase two of a maintenance ceremony, for a member of the new set, in one transaction: the staged
   * version of `ceremonyId` becomes current (if its public package is `expectedPublic`), the previous version's row (its sealed share) is
   * deleted, and unused nonces of the wallet are dropped. A retry after success answers
   * 'already-committed'; nothing staged for the ceremony throws NothingStagedError.
   */
  async commitStaged(walletId: string, ceremonyId: string, version: number, expectedPublic: WirePublic): Promise<CommitOutcome> {
    const expected = canonicalJson(expectedPublic);
    return this.ds.transaction(async (m) => {
      const rows = (await m.query(`SELECT version, status, ceremony_id, public_package FROM signer_key_shares WHERE wallet_id = $1 FOR UPDATE`, [walletId])) as
        { version: number; status: ShareStatus; ceremony_id: string | null; public_package: unknown }[];
      const matches = (r: { public_package: unknown }) =>
        canonicalJson(typeof r.public_package === 'string' ? JSON.parse(r.public_package) : r.public_package) === expected;
      const staged = rows.find((r) => r.status === 'staged' && r.ceremony_id === ceremonyId && Number(r.version) === version);
      if (staged === undefined) {
        const current = rows.find((r) => r.status === 'current');
        if (current && current.ceremony_id === ceremonyId && Number(current.version) === version && matches(current)) return 'already-committed';
        throw new NothingStagedError(`no staged share version ${version} of ceremony ${ceremonyId}`);
      }
      // Only the very result the coordinator checked commits (never a share staged by another run).
      if (!matches(staged)) throw new StagedMismatchError(`the staged share version ${version} of ceremony ${ceremonyId} belongs to another public package`);
      await m.query(`DELETE FROM signer_key_shares WHERE wallet_id = $1 AND status = 'current'`, [walletId]);
      await m.query(`UPDATE signer_key_shares SET status = 'current' WHERE wallet_id = $1 AND version = $2 AND status = 'staged'`, [walletId, version]);
      await m.query(`DELETE FROM signer_nonces WHERE wallet_id = $1 AND used = false`, [walletId]);
      return 'committed';
    });
  }

  /**
   * Phase two for a node that leaves the wallet's set: every share row of the wallet older than
   * `version` is deleted (idempotent). Refused when the node holds `version` or newer (it is a member).
   */
  async retireShares(walletId: string, version: number): Promise<number> {
    return this.ds.transaction(async (m) => {
      const rows = (await m.query(`SELECT version FROM signer_key_shares WHERE wallet_id = $1 FOR UPDATE`, [walletId])) as { version: number }[];
      if (rows.some((r) => Number(r.version) >= version)) throw new AlreadyCommittedError(`the node holds share version ${version} or newer of wallet ${walletId}`);
      await m.query(`DELETE FROM signer_key_shares WHERE wallet_id = $1`, [walletId]);
      await m.query(`DELETE FROM signer_nonces WHERE wallet_id = $1 AND used = false`, [walletId]);
      return rows.length;
    });
  }

  /** Discards what `ceremonyId` staged (idempotent); refused once that ceremony's version is current. */
  async abortStaged(walletId: string, ceremonyId: string): Promise<number> {
    return this.ds.transaction(async (m) => {
      const rows = (await m.query(`SELECT status, ceremony_id FROM signer_key_shares WHERE wallet_id = $1 FOR UPDATE`, [walletId])) as
        { status: ShareStatus; ceremony_id: string | null }[];
      if (rows.some((r) => r.status === 'current' && r.ceremony_id === ceremonyId)) {
        throw new AlreadyCommittedError(`ceremony ${ceremonyId} is already committed on this node`);
      }
      const staged = rows.filter((r) => r.status === 'staged' && r.ceremony_id === ceremonyId).length;
      await m.query(`DELETE FROM signer_key_shares WHERE wallet_id = $1 AND status = 'staged' AND ceremony_id = $2`, [walletId, ceremonyId]);
      return staged;
    });
  }

  /** Stores sealed nonces; false when the session id is taken. */
  async insertNonces(sessionId: string, walletId: string, commitments: WireCommitments, sealed: SealedEnvelope, shareVersion: number): Promise<boolean> {
    const rows = (await this.ds.query(
      `INSERT INTO signer_nonces (session_id, wallet_id, commitments, sealed_nonces, share_version) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id) DO NOTHING RETURNING session_id`,
      [sessionId, walletId, JSON.stringify(commitments), JSON.stringify(sealed), shareVersion],
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
    use: (sealed: SealedEnvelope, commitments: WireCommitments, shareVersion: number | null) => Promise<T>,
  ): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    await this.ds.transaction(async (m) => {
      const rows = (await m.query(
        'SELECT wallet_id, commitments, sealed_nonces, used, share_version FROM signer_nonces WHERE session_id = $1 FOR UPDATE',
        [sessionId],
      )) as { wallet_id: string; commitments: WireCommitments; sealed_nonces: SealedEnvelope | null; used: boolean; share_version: number | null }[];
      const row = rows[0];
      if (row === undefined || row.wallet_id !== walletId) throw new NonceUnknownError(`no nonce commitment for session ${sessionId} and this wallet`);
      if (row.used || row.sealed_nonces === null) throw new NonceUsedError(`the nonce of session ${sessionId} was already used`);
      await m.query('UPDATE signer_nonces SET used = true, sealed_nonces = NULL, used_at = now() WHERE session_id = $1', [sessionId]);
      try {
        outcome = { ok: true, value: await use(row.sealed_nonces, row.commitments, row.share_version === null ? null : Number(row.share_version)) };
      } catch (error) {
        outcome = { ok: false, error };
      }
    });
    if (outcome === undefined) throw new Error('nonce transaction ended without an outcome');
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
}
