/**
 * Test program, run as its own process on a stopped node's token and database: prints every share
 * row of a wallet (version, status, ceremony, verifying share) and the unsealed current share, if
 * any, so a test can compare shares across a refresh. Exists only in the tests.
 */
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { open } from '../../../src/hsm/envelope.js';
import { SignerStore } from '../../../src/custody/signer/signer-store.js';
import { shareContext } from '../../../src/custody/signer/signer-node.js';

const walletId = process.argv[2]!;
const nodeId = process.env.SIGNER_ID!;
const hsm = new Pkcs11Client();
await hsm.open({ modulePath: process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 1 });
const store = await SignerStore.open({ dataDir: process.env.SIGNER_DATA_DIR! });
const ds = (store as unknown as { ds: { query(q: string, p?: unknown[]): Promise<Record<string, unknown>[]> } }).ds;
const rows = await ds.query(`SELECT version, status, ceremony_id, verifying_share FROM signer_key_shares WHERE wallet_id = $1 ORDER BY version`, [walletId]);
const row = await store.currentShare(walletId);
const share = row ? (await open(hsm, row.sealedShare, shareContext(walletId, nodeId, row.version, row.verifyingShare))).toString('hex') : null;
process.stdout.write(JSON.stringify({ share, version: row?.version ?? null, rows }));
await store.close();
await hsm.close();
