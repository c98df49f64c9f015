/**
 * Walkthrough chapter: custody. Two operators register the public keys of approval keys they hold
 * on their own devices; the admin creates a 2-of-3 wallet (a distributed key generation across the
 * three signer nodes, then a CustodyWallet contract for the group key); the ledger account funds
 * it; a policy names the operators, limits and an allowlist; a transfer is requested and approved
 * by both operators' signatures over the ceremony digest; the background worker has the nodes
 * FROST-sign it, executes it on the wallet contract and confirms it; the audit trail follows.
 */
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { formatEther, parseEther, Wallet } from 'ethers';
import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { CeremonySigningService } from '../custody/service/ceremony-signing.service.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { http, type HttpResult } from './http.js';
import type { ChapterContext } from './chapters.js';

const short = (v: string) => (v.length > 14 ? `${v.slice(0, 6)}..${v.slice(-6)}` : v);

function expectStatus(r: HttpResult, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
}

/** An approval key an operator holds on their own device (here generated in the walkthrough). */
function deviceKey(curve: 'secp256k1' | 'p256') {
  const c = curve === 'secp256k1' ? secp256k1 : p256;
  const secretKey = c.utils.randomSecretKey();
  return {
    curve,
    publicKey: Buffer.from(c.getPublicKey(secretKey, true)).toString('hex'),
    /** Compact r||s hex over the 0x-hex 32-byte ceremony digest. */
    sign: (digestHex: string) => Buffer.from(c.sign(Buffer.from(digestHex.slice(2), 'hex'), secretKey, { prehash: false })).toString('hex'),
  };
}

const FINAL = new Set(['confirmed', 'failed', 'rejected', 'expired', 'aborted']);

export async function custodyChapter(ctx: ChapterContext): Promise<void> {
  const { app, baseUrl, log, adminKey, section } = ctx;
  section('5. custody: a 2-of-3 FROST wallet, operator approvals, a transfer on the ledger');

  // Two operators: principals with API keys, and approval keys on their own devices.
  const auth = app.get(AuthService);
  const suffix = Date.now().toString(36);
  const ops = [
    { name: `alice-${suffix}`, key: deviceKey('secp256k1'), apiKey: '' },
    { name: `bob-${suffix}`, key: deviceKey('p256'), apiKey: '' },
  ];
  for (const op of ops) {
    await auth.createPrincipal(op.name, 'operator', 'embedded-walkthrough');
    op.apiKey = (await auth.issueKey(op.name, 'embedded-walkthrough')).key;
    const reg = await http(baseUrl, 'POST', '/custody/operators', {
      key: adminKey,
      body: { name: op.name, principal: op.name, curve: op.key.curve, publicKey: op.key.publicKey },
    });
    expectStatus(reg, 201, `register operator ${op.name}`);
    log(`  POST /custody/operators ${op.name.padEnd(16)} -> ${reg.status} (${op.key.curve} approval key ${short(op.key.publicKey)}, held on the operator's device)`);
  }

  let t = Date.now();
  const wallet = await http(baseUrl, 'POST', '/custody/wallets', { key: adminKey, body: { threshold: 2 } });
  expectStatus(wallet, 201, 'create wallet');
  log(`  POST /custody/wallets {threshold: 2} -> ${wallet.status} in ${Date.now() - t} ms: DKG across ${wallet.body.nodes.join(', ')}`);
  log(`    group key ${short(wallet.body.groupKey)}; CustodyWallet contract ${wallet.body.address} (no share left its node)`);

  const ledger = app.get(LedgerService);
  const signer = await ledger.signer();
  const provider = signer.provider!;
  await (await signer.sendTransaction({ to: wallet.body.address, value: parseEther('1') })).wait();
  log(`  the ledger account funds the wallet: balance ${formatEther(await provider.getBalance(wallet.body.address))} ETH`);

  const dest = Wallet.createRandom().address.toLowerCase();
  const policy = await http(baseUrl, 'PUT', `/custody/wallets/${wallet.body.id}/policy`, {
    key: adminKey,
    body: {
      quorum: 2,
      operators: ops.map((o) => o.name),
      perTransactionLimit: parseEther('0.5').toString(),
      dailyLimit: parseEther('2').toString(),
      allowlist: [dest],
    },
  });
  expectStatus(policy, 200, 'set policy');
  log(`  PUT policy -> ${policy.status}: quorum 2 of ${ops.map((o) => o.name).join(', ')}; <= 0.5 ETH per transfer, 2 ETH a day; allowlist [${short(dest)}]`);

  const value = parseEther('0.25');
  const cer = await http(baseUrl, 'POST', `/custody/wallets/${wallet.body.id}/ceremonies`, { key: ops[0].apiKey, body: { to: dest, value: value.toString() } });
  expectStatus(cer, 201, 'request transfer');
  log(`  ${ops[0].name} requests 0.25 ETH to ${short(dest)} -> ${cer.status} ceremony ${cer.body.id} (${cer.body.status}, nonce ${cer.body.nonce}, digest ${short(cer.body.digest)})`);
  const over = await http(baseUrl, 'POST', `/custody/wallets/${wallet.body.id}/ceremonies`, { key: ops[1].apiKey, body: { to: dest, value: parseEther('0.75').toString() } });
  log(`  a 0.75 ETH request (above the limit) -> ${over.status}: ${over.body.detail}`);

  const before = await provider.getBalance(dest);
  t = Date.now();
  for (const op of ops) {
    const ap = await http(baseUrl, 'POST', `/custody/ceremonies/${cer.body.id}/approvals`, {
      key: op.apiKey,
      body: { operator: op.name, signature: op.key.sign(cer.body.digest) },
    });
    expectStatus(ap, 201, `approval of ${op.name}`);
    log(`  ${op.name} signs the digest on their device and approves -> ${ap.status} (${ap.body.status}, ${ap.body.approvals.length}/${ap.body.quorum})`);
  }

  // The worker runs the signing job: the nodes FROST-sign, the wallet contract executes.
  let status = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const got = await http(baseUrl, 'GET', `/custody/ceremonies/${cer.body.id}`, { key: adminKey });
    expectStatus(got, 200, 'get ceremony');
    status = got.body.status;
    if (FINAL.has(status)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (FINAL.has(status)) {
    log(`  the background worker signs, submits and confirms it: ${status} after ${Date.now() - t} ms`);
  } else {
    log(`  the worker had not finished within 60 s (status ${status}); advancing the ceremony in-process`);
    status = await app.get(CeremonySigningService).advance(cer.body.id);
    log(`  advance() -> ${status} after ${Date.now() - t} ms`);
  }
  if (status !== 'confirmed') throw new Error(`ceremony ${cer.body.id} ended ${status}`);

  const events = await app.get(AuditService).store.eventsOfSubject(`custody-ceremony:${cer.body.id}`);
  const txHash = [...events].reverse().map((e) => (e.body as { txHash?: string } | undefined)?.txHash).find((h) => typeof h === 'string');
  if (txHash) {
    const receipt = await provider.getTransactionReceipt(txHash);
    log(`  tx ${txHash}: block ${receipt?.blockNumber}, gas used ${receipt?.gasUsed} (execute with one Schnorr signature checked on-chain)`);
  }
  const after = await provider.getBalance(dest);
  log(`  recipient balance ${formatEther(before)} -> ${formatEther(after)} ETH (+${formatEther(after - before)}); wallet now ${formatEther(await provider.getBalance(wallet.body.address))} ETH`);
  log(`  audit events of the ceremony:`);
  for (const e of events) log(`    #${String(e.seq).padEnd(4)} ${e.type.padEnd(28)} by ${e.actor}`);
}
