/**
 * A node's sealed shares against a real SoftHSM token and PGlite: a share whose envelope is swapped
 * with another wallet's, or whose stored verifying share is altered, is refused on open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { Pkcs11Client } from '../../../src/hsm/pkcs11-client.js';
import { seal } from '../../../src/hsm/envelope.js';
import { SignerStore } from '../../../src/custody/signer/signer-store.js';
import { SignerError, SignerNode, shareContext } from '../../../src/custody/signer/signer-node.js';
import { identifierOf, verifyingShareOf, type WirePublic } from '../../../src/custody/signer/frost-adapter.js';

const hsm = new Pkcs11Client();
const kek = `test-signer-kek-${randomUUID().slice(0, 8)}`;
const dir = fs.mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), 'custody-sealed-'));
let store: SignerStore;
let node: SignerNode;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Stores a share of a fresh trusted-dealer key for `walletId`, sealed as the node does after its DKG. */
async function storeWallet(walletId: string): Promise<WirePublic> {
  const ids = ['node-x', 'node-y', 'node-z'].map(identifierOf);
  const deal = secp256k1_FROST.trustedDealer({ min: 2, max: 3 }, ids);
  const mine = deal.secretShares[identifierOf('node-x')]!;
  const publicPackage: WirePublic = {
    signers: { min: 2, max: 3 },
    commitments: deal.public.commitments.map(hex),
    verifyingShares: Object.fromEntries(Object.entries(deal.public.verifyingShares).map(([k, v]) => [k, hex(v)])),
  };
  const verifyingShare = hex(verifyingShareOf(mine.signingShare));
  const sealedShare = await seal(hsm, kek, mine.signingShare, shareContext(walletId, 'node-x', 1, verifyingShare));
  await store.insertShare({ walletId, version: 1, identifier: mine.identifier, verifyingShare, publicPackage, sealedShare });
  return publicPackage;
}

const ds = () => (store as unknown as { ds: { query(q: string, p?: unknown[]): Promise<unknown> } }).ds;

beforeAll(async () => {
  await hsm.open({ modulePath: process.env.HSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: process.env.HSM_TOKEN_LABEL!, pin: process.env.HSM_PIN!, sessions: 2 });
  await hsm.ensureAesKey(kek);
  store = await SignerStore.open({ dataDir: dir });
  node = new SignerNode('node-x', hsm, store, kek);
}, 120_000);

afterAll(async () => {
  await store?.close();
  await hsm.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an intact share opens and commits', async () => {
  const w = `w-${randomUUID()}`;
  await storeWallet(w);
  const answer = (await node.handle('/sign/commit', { walletId: w, sessionId: randomUUID() })) as { identifier: string };
  expect(answer.identifier).toBe(identifierOf('node-x'));
});

test('an envelope swapped between wallets is refused', async () => {
  const a = `w-${randomUUID()}`;
  const b = `w-${randomUUID()}`;
  await storeWallet(a);
  await storeWallet(b);
  await ds().query(`UPDATE signer_key_shares SET sealed_share = (SELECT sealed_share FROM signer_key_shares WHERE wallet_id = $2) WHERE wallet_id = $1`, [a, b]);
  const error = await node.handle('/sign/commit', { walletId: a, sessionId: randomUUID() }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SignerError);
  expect((error as SignerError).code).toBe('share-unavailable');
  expect((error as SignerError).message).toMatch(/fields differing: publicShare, wallet/);
});

test('a share whose verifying share was replaced (with a matching envelope context) is refused', async () => {
  const a = `w-${randomUUID()}`;
  const b = `w-${randomUUID()}`;
  await storeWallet(a);
  const other = await storeWallet(b);
  // The envelope still opens (its context is untouched), but the public package now names another
  // verifying share: the share recomputed from the secret no longer matches it.
  const foreign = other.verifyingShares[identifierOf('node-y')]!;
  await ds().query(
    `UPDATE signer_key_shares SET public_package = jsonb_set(public_package, ARRAY['verifyingShares', $2::text], to_jsonb($3::text)) WHERE wallet_id = $1`,
    [a, identifierOf('node-x'), foreign],
  );
  const error = await node.handle('/sign/commit', { walletId: a, sessionId: randomUUID() }).catch((e: unknown) => e);
  expect((error as SignerError).code).toBe('share-mismatch');
});

test('nothing is committed for an unknown wallet', async () => {
  const error = await node.handle('/sign/commit', { walletId: 'no-such-wallet', sessionId: randomUUID() }).catch((e: unknown) => e);
  expect((error as SignerError).status).toBe(404);
});
