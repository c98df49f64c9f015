/**
 * Walkthrough chapter: zero-knowledge proofs. A wallet app enrols an identity and an account;
 * the bank snapshots balances into an epoch; the wallet asks the service for an eligibility proof
 * and a balance proof bound to a relying party's challenge; the relying party verifies them over
 * REST (the nullifier then refuses a second use); the same statements are then proven to gate
 * contracts on the ledger, bound to the caller's address.
 */
import { randomBytes } from 'node:crypto';
import { AbiCoder, keccak256 } from 'ethers';
import { LedgerService } from '../ledger/ledger.service.js';
import { RootPublisherService } from '../zk/registry/root-publisher.service.js';
import { FIELD_MODULUS, commitment, yyyymmdd } from '../zk/circuit-inputs.js';
import { http, type HttpResult } from './http.js';
import type { ChapterContext } from './chapters.js';

const randomField = () => BigInt('0x' + randomBytes(32).toString('hex')) % FIELD_MODULUS;
const short = (v: string) => (v.length > 14 ? `${v.slice(0, 6)}..${v.slice(-6)}` : v);

function expectStatus(r: HttpResult, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
}

async function waitPublished(baseUrl: string, tree: 'identity' | 'balance', root: string): Promise<void> {
  for (let i = 0; i < 160; i++) {
    const roots = await http(baseUrl, 'GET', `/zk/roots/${tree}`);
    const entry = (roots.body.history as { root: string; publication: { status: string } | null }[]).find((h) => h.root === root);
    if (entry?.publication?.status === 'confirmed') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the ${tree} root ${root} was not published on the ledger`);
}

export async function zkChapter(ctx: ChapterContext): Promise<void> {
  const { app, baseUrl, log, adminKey, walletKey, section } = ctx;
  section('4. zero-knowledge proofs: eligibility and balance, verified off-chain and on-chain');

  // The wallet keeps its secrets; the service stores only commitments.
  const identitySecret = randomField();
  const accountSecret = randomField();
  const enrolled = await http(baseUrl, 'POST', '/zk/identities', {
    key: walletKey,
    body: { commitment: (await commitment(identitySecret)).toString(), birthDate: 19900515, jurisdiction: 276 },
  });
  expectStatus(enrolled, 201, 'enrol identity');
  log(`  wallet enrols an identity (KYC: born 1990-05-15, jurisdiction 276): leaf ${enrolled.body.leafIndex}, root ${short(enrolled.body.root)}`);

  const account = await http(baseUrl, 'POST', '/zk/accounts', { key: walletKey, body: { commitment: (await commitment(accountSecret)).toString() } });
  expectStatus(account, 201, 'register account');
  expectStatus(await http(baseUrl, 'PUT', `/zk/accounts/${account.body.id}/balance`, { key: adminKey, body: { balance: '250000' } }), 200, 'set balance');
  const epoch = await http(baseUrl, 'POST', '/zk/epochs', { key: adminKey });
  expectStatus(epoch, 201, 'balance epoch');
  log(`  bank sets the balance to 250000 and snapshots epoch ${epoch.body.epoch}: balance root ${short(epoch.body.root)}`);

  // Off-chain: the relying party picks a challenge and a policy; the wallet asks for a proof.
  const scope = randomField().toString();
  const policy = { minAge: 18, denylist: [408, 364], scope };
  const challenge = randomField().toString();
  let t = Date.now();
  const eligibility = await http(baseUrl, 'POST', '/zk/proofs/eligibility', {
    key: walletKey,
    body: { identityId: enrolled.body.id, identitySecret: identitySecret.toString(), ...policy, challenge },
  });
  expectStatus(eligibility, 200, 'eligibility proof');
  log(`  eligibility proof (age >= 18, jurisdiction not in [408, 364]) proved by the service in ${Date.now() - t} ms`);
  const verified = await http(baseUrl, 'POST', '/zk/verify', {
    body: { circuit: 'eligibility', proof: eligibility.body.proof, publicSignals: eligibility.body.publicSignals, expect: { challenge, ...policy } },
  });
  expectStatus(verified, 200, 'verify eligibility');
  log(`  relying party verifies it: valid, nullifier ${short(String(verified.body.nullifier ?? eligibility.body.publicSignals[0]))}; no birth date, no identity revealed`);
  const replay = await http(baseUrl, 'POST', '/zk/verify', {
    body: { circuit: 'eligibility', proof: eligibility.body.proof, publicSignals: eligibility.body.publicSignals, expect: { challenge, ...policy } },
  });
  log(`  the same proof again -> ${replay.status}: ${replay.body.detail}`);

  t = Date.now();
  const balance = await http(baseUrl, 'POST', '/zk/proofs/balance', {
    key: walletKey,
    body: { accountId: account.body.id, accountSecret: accountSecret.toString(), threshold: '100000', challenge },
  });
  expectStatus(balance, 200, 'balance proof');
  const balanceOk = await http(baseUrl, 'POST', '/zk/verify', {
    body: { circuit: 'balance', proof: balance.body.proof, publicSignals: balance.body.publicSignals, expect: { challenge, threshold: '100000' } },
  });
  expectStatus(balanceOk, 200, 'verify balance');
  log(`  balance proof "holds >= 100000" proved in ${Date.now() - t} ms and verified; the balance itself is not revealed`);
  const tooMuch = await http(baseUrl, 'POST', '/zk/proofs/balance', {
    key: walletKey,
    body: { accountId: account.body.id, accountSecret: accountSecret.toString(), threshold: '300000', challenge },
  });
  log(`  asking to prove >= 300000 -> ${tooMuch.status}: ${tooMuch.body.detail}`);

  // On-chain: the roots are published by a worker; gate contracts verify and consume nullifiers.
  await waitPublished(baseUrl, 'identity', enrolled.body.root);
  await waitPublished(baseUrl, 'balance', epoch.body.root);
  const ledger = app.get(LedgerService);
  const publisher = app.get(RootPublisherService);
  const identityRegistry = await publisher.registryInfo('identity');
  const balanceRegistry = await publisher.registryInfo('balance');
  log(`  roots published on the ledger: identity registry ${identityRegistry.address}, balance registry ${balanceRegistry.address}`);

  const eligibilityVerifier = await ledger.deploy('EligibilityVerifier');
  const balanceVerifier = await ledger.deploy('BalanceVerifier');
  const gate = await ledger.deploy(
    'EligibilityGate',
    [eligibilityVerifier.address, identityRegistry.address, scope, policy.minAge, [...policy.denylist, 0, 0, 0, 0, 0, 0]],
    { key: `EligibilityGate:${scope}` },
  );
  const balanceGate = await ledger.deploy('BalanceGate', [balanceVerifier.address, balanceRegistry.address, 100000], { key: 'BalanceGate:100000' });
  const caller = await ledger.address();
  const bound = (gateAddress: string) =>
    (BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'address', 'address'], [eligibilityVerifier.chainId, gateAddress, caller]))) % FIELD_MODULUS).toString();

  const onchainProof = await http(baseUrl, 'POST', '/zk/proofs/eligibility', {
    key: walletKey,
    body: { identityId: enrolled.body.id, identitySecret: identitySecret.toString(), ...policy, challenge: bound(gate.address), currentDate: yyyymmdd(new Date()) },
  });
  expectStatus(onchainProof, 200, 'eligibility proof for the gate');
  const calldata = async (p: HttpResult) => {
    const snarkjs = await import('snarkjs');
    return JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(p.body.proof, p.body.publicSignals)}]`);
  };
  const claim = await (await gate.contract.claim(...(await calldata(onchainProof)))).wait();
  log(`  EligibilityGate.claim by ${caller}: ok in block ${claim.blockNumber}, gas ${claim.gasUsed}`);
  try {
    await gate.contract.claim.staticCall(...(await calldata(onchainProof)));
    throw new Error('the gate accepted a nullifier twice');
  } catch (e) {
    const reason = gate.contract.interface.parseError((e as { data?: string }).data ?? '0x')?.name ?? (e as Error).message;
    log(`  the same claim again is refused on chain: ${reason}`);
  }

  const balanceProof = await http(baseUrl, 'POST', '/zk/proofs/balance', {
    key: walletKey,
    body: { accountId: account.body.id, accountSecret: accountSecret.toString(), threshold: '100000', challenge: bound(balanceGate.address) },
  });
  expectStatus(balanceProof, 200, 'balance proof for the gate');
  const proven = await (await balanceGate.contract.prove(...(await calldata(balanceProof)))).wait();
  log(`  BalanceGate.prove (>= 100000): ok in block ${proven.blockNumber}, gas ${proven.gasUsed}`);
}
