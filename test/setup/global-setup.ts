/**
 * Starts what the integration tests talk to, as the embedded mode does, but isolated from it:
 *   - a fresh PostgreSQL database per run when DATABASE_URL is set (dropped afterwards);
 *     otherwise tests use PGlite in temporary folders
 *   - a SoftHSM2 token in a temporary folder
 *   - a Hardhat node on its own loopback port
 * The settings reach the tests through process.env (tests run in band, in this process).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

// Jest loads global setup outside its module mapper, so the project's modules are imported by
// file URL (Node runs their TypeScript directly: both use only erasable syntax).
const load = <T>(file: string): Promise<T> => import(pathToFileURL(path.resolve(file)).href) as Promise<T>;

export default async function globalSetup(): Promise<void> {
  const { ensureLocalToken } = await load<typeof import('../../src/hsm/local-token.js')>('src/hsm/local-token.ts');
  const { startLocalLedgerNode } = await load<typeof import('../../src/ledger/local-node.js')>('src/ledger/local-node.ts');
  const g = globalThis as Record<string, unknown>;
  const scratch = mkdtempSync(path.join(tmpdir(), 'privacy-test-'));
  process.env.TEST_SCRATCH_DIR = scratch;

  if (process.env.DATABASE_URL) {
    const base = new URL(process.env.DATABASE_URL);
    const name = `privacy_test_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: base.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    base.pathname = `/${name}`;
    process.env.TEST_ADMIN_DATABASE_URL = process.env.DATABASE_URL;
    process.env.DATABASE_URL = base.toString();
    g.__testDatabase = name;
  }

  const token = await ensureLocalToken({ dir: path.join(scratch, 'hsm'), label: 'test-token' });
  process.env.SOFTHSM2_CONF = token.confPath;
  process.env.HSM_TOKEN_LABEL = token.label;
  process.env.HSM_PIN = token.pin;

  const port = 18545 + (process.pid % 1000);
  const ledger = await startLocalLedgerNode({ port });
  process.env.LEDGER_RPC_URL = ledger.url;
  g.__testLedger = ledger;
  process.env.DATA_DIR = path.join(scratch, 'data');
  process.env.LOG_LEVEL = 'silent';
}
