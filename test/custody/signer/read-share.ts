/**
 * Test helper, run as its own process on a stopped node's token and database: prints the node's
 * unsealed signing share (so the test can look for it in the database files) and every row of the
 * node's tables. Exists only in the tests; the node itself never returns a share.
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
const row = await store.latestShare(walletId);
if (!row) throw new Error('no share');
const share = await open(hsm, row.sealedShare, shareContext(walletId, nodeId, row.version, row.verifyingShare));
const ds = (store as unknown as { ds: { query(q: string): Promise<unknown[]> } }).ds;
const rows: unknown[] = [];
for (const table of ['signer_key_shares', 'signer_nonces', 'signer_seen_messages']) rows.push(...(await ds.query(`SELECT * FROM ${table}`)));
process.stdout.write(JSON.stringify({ share: share.toString('hex'), rows }));
await store.close();
await hsm.close();
