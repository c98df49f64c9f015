/**
 * A test program, run as its own process with a stopped signer node's environment (token, PIN,
 * SIGNER_ID, SIGNER_DATA_DIR): unseals every key share the node holds through its HSM (so the test
 * knows what to look for) and dumps every row of every table of the node's database as
 * PostgreSQL's text form. Exists only in the tests; the node itself never reveals a share.
 */
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { open } from '../../../src/hsm/envelope.js';
import { SignerStore } from '../../../src/custody/signer/signer-store.js';
import { shareContext } from '../../../src/custody/signer/signer-node.js';

const nodeId = process.env.SIGNER_ID!;
const hsm = new Pkcs11Client();
await hsm.open({ modulePath: process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 1 });
const store = await SignerStore.open({ dataDir: process.env.SIGNER_DATA_DIR! });
const ds = (store as unknown as { ds: { query(q: string, p?: unknown[]): Promise<Record<string, unknown>[]> } }).ds;
const shares: { walletId: string; version: number; share: string }[] = [];
for (const row of await ds.query(`SELECT wallet_id, version, verifying_share, sealed_share FROM signer_key_shares`)) {
  const sealed = typeof row.sealed_share === 'string' ? JSON.parse(row.sealed_share) : row.sealed_share;
  const share = await open(hsm, sealed, shareContext(String(row.wallet_id), nodeId, Number(row.version), String(row.verifying_share)));
  shares.push({ walletId: String(row.wallet_id), version: Number(row.version), share: share.toString('hex') });
}
const tables = await ds.query(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`);
const dump: string[] = [];
for (const { s, t } of tables) {
  for (const r of await ds.query(`SELECT x::text AS row FROM "${String(s)}"."${String(t)}" x`)) dump.push(`${String(s)}.${String(t)}: ${String(r.row)}`);
}
process.stdout.write(JSON.stringify({ shares, tables: tables.length, dump }));
await store.close();
await hsm.close();
