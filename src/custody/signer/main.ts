/**
 * Entry point of one signer node (a separate OS process per node; see docs/custody-signer.md).
 *
 * Environment:
 *   SIGNER_ID                  node id (also the source of its FROST identifier)
 *   SIGNER_PORT                TCP port (0 = any free port); SIGNER_HOST (default 127.0.0.1)
 *   SIGNER_COORDINATOR_PUBKEY  the coordinator's P-256 public key, uncompressed, hex
 *   SIGNER_DATA_DIR            folder of the node's PGlite database (unless DATABASE_URL is set)
 *   DATABASE_URL               PostgreSQL database of this node (optional)
 *   HSM_MODULE, HSM_TOKEN_LABEL, HSM_PIN, SOFTHSM2_CONF   the node's own token
 *   SIGNER_KEK_LABEL (default signer-kek), SIGNER_IDENTITY_LABEL (default signer-identity)
 * Prints one line "signer <id> listening on <host>:<port>" when ready.
 */
import { Pkcs11Client } from '../../hsm/pkcs11-client.js';
import { parsePublicKeyHex, type MessageSigner } from './message-auth.js';
import { SignerNode } from './signer-node.js';
import { SignerStore } from './signer-store.js';
import { createSignerServer, listen } from './signer-server.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const nodeId = required('SIGNER_ID');
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(nodeId)) throw new Error('SIGNER_ID must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  const port = Number(process.env.SIGNER_PORT ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('SIGNER_PORT must be a port number');
  const host = process.env.SIGNER_HOST || '127.0.0.1';
  const coordinatorPublicKey = parsePublicKeyHex(required('SIGNER_COORDINATOR_PUBKEY'), 'SIGNER_COORDINATOR_PUBKEY');
  const modulePath = process.env.HSM_MODULE || '/usr/lib/softhsm/libsofthsm2.so';
  if (/softhsm/i.test(modulePath) && !process.env.SOFTHSM2_CONF) throw new Error('SOFTHSM2_CONF is not set (the node\'s SoftHSM2 token configuration)');
  const kekLabel = process.env.SIGNER_KEK_LABEL || 'signer-kek';
  const identityLabel = process.env.SIGNER_IDENTITY_LABEL || 'signer-identity';

  const hsm = new Pkcs11Client();
  await hsm.open({ modulePath, tokenLabel: required('HSM_TOKEN_LABEL'), pin: required('HSM_PIN'), sessions: 2 });
  await hsm.ensureAesKey(kekLabel);
  const { publicKey } = await hsm.ensureEcKeyPair(identityLabel, 'P-256');
  const identity: MessageSigner = { publicKey, signDigest: (digest) => hsm.signEcdsaDigest(identityLabel, digest) };

  const store = await SignerStore.open({ databaseUrl: process.env.DATABASE_URL || undefined, dataDir: process.env.SIGNER_DATA_DIR || 'data/signer' });
  const node = new SignerNode(nodeId, hsm, store, kekLabel);
  const server = createSignerServer({ node, store, identity, coordinatorPublicKey, log: (line) => console.log(`signer ${nodeId}: ${line}`) });
  const bound = await listen(server, port, host);
  console.log(`signer ${nodeId} listening on ${host}:${bound}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await store.close().catch(() => undefined);
    await hsm.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  console.error(`signer node failed to start: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
