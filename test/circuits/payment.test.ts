/**
 * payment: six exponential-ElGamal ciphertexts (BabyJubJub) encrypt the feature vector of the
 * amount committed by Poseidon(amount, blinding). Inputs come from src/analytics/payment; witnesses
 * are computed with the committed wasm, proofs made with the committed zkey and checked with the
 * committed verification key in-process, with the snarkjs CLI and with the generated Solidity
 * verifier on the test ledger. Each false statement fails witness generation at the constraint that
 * catches it (template and line, found by the statement's text in payment.circom).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContractFactory, JsonRpcProvider } from 'ethers';
import * as snarkjs from 'snarkjs';
import { FIELD_PRIME, G, IDENTITY, encodeCiphertext, encodePoint, encrypt, keyGen, type Ciphertext, type GroupPoint } from '../../src/analytics/crypto/index.js';
import { featureVector } from '../../src/analytics/features.js';
import {
  PAYMENT_PUBLIC_SIGNAL_COUNT,
  buildPaymentProofInput,
  paymentBinding,
  paymentCommitment,
  paymentPublicSignals,
  parsePaymentPublicSignals,
  verifyPaymentProof,
  type PaymentCircuitInput,
  type PaymentProofInput,
} from '../../src/analytics/payment/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'circuits/build/payment');
const WASM = path.join(BUILD, 'payment.wasm');
const ZKEY = path.join(BUILD, 'payment_final.zkey');
const VKEY = path.join(BUILD, 'verification_key.json');
const SOURCE = path.join(ROOT, 'circuits/payment.circom');
const SNARKJS_CLI = path.join(ROOT, 'node_modules/snarkjs/build/cli.cjs');
const VERIFIER_ARTIFACT = path.join(ROOT, 'artifacts/contracts/verifiers/PaymentVerifier.sol/PaymentVerifier.json');

const AMOUNT = 9_500n; // bucket 2: just under the reporting threshold
const BINDING = paymentBinding({ payer: 'acct-7f3a', payee: 'acct-19c2', timestamp: '2026-11-02T10:15:00.000Z', reference: 'inv-0042' });
const RANDOMNESS = [11n, 22n, 33n, 44n, 55n, 66n].map((r) => r * 0x1234567890abcdef1234567890abcdefn);
const BLINDING = 0xb11d1n;

const dec = (n: bigint): string => n.toString(10);
const ciphertextSignals = (ct: Ciphertext): string[] => {
  const e = encodeCiphertext(ct);
  return [...e.c1, ...e.c2];
};

function snarkjsCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SNARKJS_CLI, ...args], (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
    });
  });
}

/** The public part of a witness (wires 1..38), after computing it with the committed wasm. */
async function witnessPublicSignals(input: PaymentCircuitInput): Promise<string[]> {
  const wtns = { type: 'mem' } as { type: 'mem'; data?: Uint8Array };
  await snarkjs.wtns.calculate(input as unknown as snarkjs.CircuitSignals, WASM, wtns);
  const values = (await snarkjs.wtns.exportJson(wtns as unknown as string)) as bigint[];
  return values.slice(1, 1 + PAYMENT_PUBLIC_SIGNAL_COUNT).map((v) => v.toString());
}

/** Witness generation fails; returns what the witness calculator reported (templates and lines). */
async function expectNoWitness(input: PaymentCircuitInput): Promise<string> {
  const consoleError = console.error;
  const reported: unknown[] = [];
  console.error = (...args: unknown[]) => void reported.push(...args);
  try {
    let message = '';
    await snarkjs.wtns.calculate(input as unknown as snarkjs.CircuitSignals, WASM, { type: 'mem' }).then(
      () => {
        throw new Error('a witness exists for a false statement');
      },
      (e: unknown) => {
        message = e instanceof Error ? e.message : String(e);
      },
    );
    expect(message).toMatch(/Assert Failed/);
    return `${message} ${reported.join(' ')}`;
  } finally {
    console.error = consoleError;
  }
}

describe('payment circuit', () => {
  let source: string[];
  /** The report of a failed constraint in `template`, found by the statement's text. */
  const failsAt = (template: string, statement: string): RegExp => {
    const line = source.findIndex((l) => l.trim() === statement) + 1;
    if (line === 0) throw new Error(`no line ${statement} in payment.circom`);
    return new RegExp(`Error in template ${template}_\\d+ line: ${line}\\b`);
  };
  let keys: GroupPoint[];
  let valid: PaymentProofInput;
  let vkey: Record<string, unknown>;
  let proof: { proof: snarkjs.Groth16Proof; publicSignals: snarkjs.PublicSignals };

  /** The input with the ciphertexts replaced, keeping everything else (the private inputs too). */
  const withCiphertexts = (cts: Ciphertext[]): PaymentCircuitInput => ({ ...valid.input, ciphertexts: cts.map(ciphertextSignals) });

  beforeAll(async () => {
    source = (await readFile(SOURCE, 'utf8')).split('\n');
    keys = Array.from({ length: 6 }, () => keyGen().publicKey);
    valid = await buildPaymentProofInput({ amount: AMOUNT, crossBorder: true, blinding: BLINDING, binding: BINDING, slotKeys: keys, randomness: RANDOMNESS });
    vkey = JSON.parse(await readFile(VKEY, 'utf8')) as Record<string, unknown>;
    proof = await snarkjs.groth16.fullProve(valid.input as unknown as snarkjs.CircuitSignals, WASM, ZKEY);
  });

  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it('proves a valid payment; the public signals are the layout of paymentPublicSignals', async () => {
    expect(proof.publicSignals).toEqual(valid.publicSignals);
    expect(proof.publicSignals).toHaveLength(38);
    expect(proof.publicSignals.slice(0, 2)).toEqual([dec(valid.commitment), dec(BINDING)]);
    expect(proof.publicSignals.slice(2, 4)).toEqual(encodePoint(keys[0]!));
    expect(proof.publicSignals.slice(14, 18)).toEqual(ciphertextSignals(valid.ciphertexts[0]!));
    expect(proof.publicSignals.slice(34, 38)).toEqual(ciphertextSignals(valid.ciphertexts[5]!));
    expect(await snarkjs.groth16.verify(vkey, proof.publicSignals, proof.proof)).toBe(true);
    expect(await verifyPaymentProof(proof.proof, proof.publicSignals.map(String))).toBe(true);
  });

  it('has a witness at every bucket boundary, for amount 0 and 2^32 - 1, with and without the flag', async () => {
    const amounts = [0n, 1n, 2_999n, 3_000n, 8_999n, 9_000n, 9_999n, 10_000n, 2n ** 32n - 1n];
    for (const [i, amount] of amounts.entries()) {
      const built = await buildPaymentProofInput({ amount, crossBorder: i % 2 === 0, binding: BINDING, slotKeys: keys });
      expect(await witnessPublicSignals(built.input)).toEqual(built.publicSignals);
    }
  });

  it('has no witness for an amount of 2^32 or more (32-bit range check)', async () => {
    for (const amount of [2n ** 32n, FIELD_PRIME - 1n]) {
      // A consistent commitment, so the range check is the first constraint that fails.
      const input = { ...valid.input, amount: dec(amount), commitment: dec(await paymentCommitment(amount, BLINDING)) };
      const reported = await expectNoWitness(input);
      expect(reported).toContain('Error in template Num2Bits');
      expect(reported).toMatch(failsAt('Payment', 'amountBitsOf.in <== amount;'));
    }
  });

  it('has no witness when the bucket ciphertexts encrypt another bucket than the amount falls in', async () => {
    const claim = (amountForBuckets: bigint) => {
      const m = featureVector({ amount: AMOUNT, crossBorder: true });
      const claimed = featureVector({ amount: amountForBuckets, crossBorder: true });
      for (let slot = 1; slot <= 4; slot++) m[slot] = claimed[slot]!;
      return m.map((v, i) => encrypt(v, keys[i]!, RANDOMNESS[i]!));
    };
    // bucket 1 (3000..8999) instead of bucket 2: the payment hides that it is just under the threshold.
    expect(await expectNoWitness(withCiphertexts(claim(8_999n)))).toMatch(failsAt('ElGamalSlot', 'ciphertext[2] === c2.xout;'));
    // no bucket at all
    const none = featureVector({ amount: AMOUNT, crossBorder: true }).map((v, i) => encrypt(i >= 1 && i <= 4 ? 0n : v, keys[i]!, RANDOMNESS[i]!));
    expect(await expectNoWitness(withCiphertexts(none))).toMatch(failsAt('ElGamalSlot', 'ciphertext[2] === c2.xout;'));
    // exactly on a bound: 9000 is in bucket 2, not bucket 1
    const atBound = await buildPaymentProofInput({ amount: 9_000n, crossBorder: false, binding: BINDING, slotKeys: keys, randomness: RANDOMNESS });
    const shifted = featureVector({ amount: 8_999n, crossBorder: false }).map((v, i) => (i === 0 ? 9_000n : v));
    const input = { ...atBound.input, ciphertexts: shifted.map((v, i) => ciphertextSignals(encrypt(v, keys[i]!, RANDOMNESS[i]!))) };
    expect(await expectNoWitness(input)).toMatch(failsAt('ElGamalSlot', 'ciphertext[2] === c2.xout;'));
  });

  it('has no witness for a cross-border flag of 2, even with a ciphertext that encrypts 2', async () => {
    const m = featureVector({ amount: AMOUNT, crossBorder: true });
    m[5] = 2n;
    const input = { ...withCiphertexts(m.map((v, i) => encrypt(v, keys[i]!, RANDOMNESS[i]!))), crossBorder: '2' };
    expect(await expectNoWitness(input)).toMatch(failsAt('Payment', 'crossBorder * (crossBorder - 1) === 0;'));
  });

  it('has no witness when a ciphertext encrypts another amount or value than the committed one', async () => {
    for (const [slot, value] of [[0, AMOUNT + 1n], [0, AMOUNT - 1n], [0, 0n], [5, 0n]] as const) {
      const cts = [...valid.ciphertexts];
      cts[slot] = encrypt(value, keys[slot]!, RANDOMNESS[slot]!);
      expect(await expectNoWitness(withCiphertexts(cts))).toMatch(failsAt('ElGamalSlot', 'ciphertext[2] === c2.xout;'));
    }
    // The right value under another slot's key.
    const cts = [...valid.ciphertexts];
    cts[0] = encrypt(AMOUNT, keys[1]!, RANDOMNESS[0]!);
    expect(await expectNoWitness(withCiphertexts(cts))).toMatch(failsAt('ElGamalSlot', 'ciphertext[2] === c2.xout;'));
  });

  it('has no witness when c1 does not match the randomness', async () => {
    const cts = [...valid.ciphertexts];
    cts[3] = { c1: encrypt(0n, keys[3]!, RANDOMNESS[3]! + 1n).c1, c2: valid.ciphertexts[3]!.c2 };
    expect(await expectNoWitness(withCiphertexts(cts))).toMatch(failsAt('ElGamalSlot', 'ciphertext[0] === rG.out[0];'));
    // The prover claims other randomness for the same ciphertexts.
    const randomness = [...valid.input.randomness];
    randomness[0] = dec(RANDOMNESS[0]! + 1n);
    expect(await expectNoWitness({ ...valid.input, randomness })).toMatch(failsAt('ElGamalSlot', 'ciphertext[0] === rG.out[0];'));
  });

  it('has no witness for c1 = O (randomness 0 would publish m*G in the clear)', async () => {
    const m = featureVector({ amount: AMOUNT, crossBorder: true });
    const cts = [...valid.ciphertexts];
    cts[0] = { c1: IDENTITY, c2: G.multiply(m[0]!) };
    const randomness = [...valid.input.randomness];
    randomness[0] = '0';
    expect(await expectNoWitness({ ...withCiphertexts(cts), randomness })).toMatch(failsAt('ElGamalSlot', 'ciphertext[0] * c1xInverse === 1;'));
  });

  it('has no witness for randomness of 2^251 or more (the bit decomposition bound)', async () => {
    const r = 2n ** 251n + 5n;
    const cts = [...valid.ciphertexts];
    cts[1] = encrypt(0n, keys[1]!, r); // r*G for r mod n: a valid ciphertext, but r has 252 bits
    const randomness = [...valid.input.randomness];
    randomness[1] = dec(r);
    expect(await expectNoWitness({ ...withCiphertexts(cts), randomness })).toContain('Error in template Num2Bits');
  });

  it('has no witness for a commitment to another amount or blinding', async () => {
    for (const commitment of [await paymentCommitment(AMOUNT + 1n, BLINDING), await paymentCommitment(AMOUNT, BLINDING + 1n)]) {
      expect(await expectNoWitness({ ...valid.input, commitment: dec(commitment) })).toMatch(failsAt('Payment', 'commitment === committed.out;'));
    }
    expect(await expectNoWitness({ ...valid.input, blinding: dec(BLINDING + 1n) })).toMatch(failsAt('Payment', 'commitment === committed.out;'));
  });

  it('rejects the proof when a ciphertext is swapped for another valid ciphertext', async () => {
    const s = parsePaymentPublicSignals(proof.publicSignals);
    // Another encryption of the same amount under the same key (fresh randomness).
    const reencrypted = [...s.ciphertexts];
    reencrypted[0] = encrypt(AMOUNT, keys[0]!);
    // Two bucket ciphertexts exchanged.
    const exchanged = [...s.ciphertexts];
    [exchanged[2], exchanged[3]] = [exchanged[3]!, exchanged[2]!];
    // The flag's ciphertext of another payment.
    const other = await buildPaymentProofInput({ amount: 20n, crossBorder: false, binding: BINDING, slotKeys: keys });
    const borrowed = [...s.ciphertexts];
    borrowed[5] = other.ciphertexts[5]!;
    for (const ciphertexts of [reencrypted, exchanged, borrowed]) {
      const signals = paymentPublicSignals({ ...s, ciphertexts });
      expect(await snarkjs.groth16.verify(vkey, signals, proof.proof)).toBe(false);
      expect(await verifyPaymentProof(proof.proof, signals)).toBe(false);
    }
  });

  it('rejects the proof for another binding, commitment or slot key', async () => {
    const s = parsePaymentPublicSignals(proof.publicSignals);
    const otherBinding = paymentBinding({ payer: 'acct-7f3a', payee: 'acct-19c2', timestamp: '2026-11-02T10:15:00.000Z', reference: 'inv-0043' });
    const keys2 = [...s.slotKeys];
    keys2[4] = keyGen().publicKey;
    for (const changed of [
      { ...s, binding: otherBinding },
      { ...s, commitment: await paymentCommitment(AMOUNT, BLINDING + 1n) },
      { ...s, slotKeys: keys2 },
    ]) {
      expect(await verifyPaymentProof(proof.proof, paymentPublicSignals(changed))).toBe(false);
    }
  });

  describe('with the snarkjs command line', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'payment-proof-'));
      await writeFile(path.join(dir, 'proof.json'), JSON.stringify(proof.proof));
      await writeFile(path.join(dir, 'public.json'), JSON.stringify(proof.publicSignals));
      const s = parsePaymentPublicSignals(proof.publicSignals);
      const swapped = [...s.ciphertexts];
      swapped[0] = encrypt(AMOUNT, keys[0]!);
      await writeFile(path.join(dir, 'swapped.json'), JSON.stringify(paymentPublicSignals({ ...s, ciphertexts: swapped })));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('verifies the proof and rejects it with a swapped ciphertext', async () => {
      const ok = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'public.json'), path.join(dir, 'proof.json')]);
      expect(ok.stdout).toContain('OK!');
      expect(ok.code).toBe(0);
      const swapped = await snarkjsCli(['groth16', 'verify', VKEY, path.join(dir, 'swapped.json'), path.join(dir, 'proof.json')]);
      expect(swapped.stdout).toContain('Invalid proof');
      expect(swapped.code).not.toBe(0);
    });
  });

  describe('PaymentVerifier on the ledger', () => {
    type Calldata = [string[], string[][], string[], string[]];
    let provider: JsonRpcProvider;
    let verifier: any;
    let calldata: Calldata;

    beforeAll(async () => {
      provider = new JsonRpcProvider(process.env.LEDGER_RPC_URL, undefined, { cacheTimeout: -1 });
      const artifact = JSON.parse(await readFile(VERIFIER_ARTIFACT, 'utf8'));
      verifier = await new ContractFactory(artifact.abi, artifact.bytecode, await provider.getSigner(0)).deploy();
      await verifier.waitForDeployment();
      calldata = JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(proof.proof, proof.publicSignals)}]`) as Calldata;
    });

    afterAll(() => {
      provider?.destroy();
    });

    it('accepts the proof and rejects it with a swapped ciphertext', async () => {
      const [a, b, c, signals] = calldata;
      expect(await verifier.verifyProof(a, b, c, signals)).toBe(true);
      expect(await verifier.verifyProof.estimateGas(a, b, c, signals)).toBeGreaterThan(21_000n);
      const s = parsePaymentPublicSignals(proof.publicSignals);
      const swapped = [...s.ciphertexts];
      swapped[0] = encrypt(AMOUNT, keys[0]!);
      const other = paymentPublicSignals({ ...s, ciphertexts: swapped }).map((v) => '0x' + BigInt(v).toString(16).padStart(64, '0'));
      expect(await verifier.verifyProof(a, b, c, other)).toBe(false);
    });
  });
});
