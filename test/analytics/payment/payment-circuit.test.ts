/**
 * The payment circuit's TypeScript side (src/analytics/payment): the witness input builder, the
 * public-signal layout and its parser, the binding of a payment's public metadata, and the prover
 * and verifier helpers, against the committed circuit and its artifacts. The ciphertexts the builder
 * makes are decrypted with the secret keys of in-process key pairs; proofs are real snarkjs proofs.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { babyjubjub } from '@noble/curves/misc.js';
import {
  FIELD_PRIME,
  G,
  IDENTITY,
  SUBGROUP_ORDER,
  DiscreteLogTable,
  decryptToPoint,
  encodePoint,
  encrypt,
  keyGen,
  type ElGamalKeyPair,
} from '../../../src/analytics/crypto/index.js';
import { AMOUNT_BITS, BUCKET_LOWER_BOUNDS, FEATURE_SLOTS, MAX_AMOUNT, featureVector } from '../../../src/analytics/features.js';
import {
  CircuitInputError,
  MalformedProofError,
  PAYMENT_BINDING_DOMAIN,
  PAYMENT_PUBLIC_SIGNALS,
  PAYMENT_PUBLIC_SIGNAL_COUNT,
  PaymentProverError,
  RANDOMNESS_BITS,
  buildPaymentProofInput,
  parsePaymentPublicSignals,
  paymentBinding,
  paymentCircuitArtifacts,
  paymentCommitment,
  paymentPublicSignals,
  provePayment,
  verifyPaymentProof,
  type PaymentProof,
} from '../../../src/analytics/payment/index.js';
import { poseidon } from '../../../src/zk/circuit-inputs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const mG = (m: bigint) => (m === 0n ? IDENTITY : G.multiplyUnsafe(m));
const BINDING_FIELDS = { payer: 'acct-7f3a', payee: 'acct-19c2', timestamp: '2026-11-02T10:15:00.000Z', reference: 'inv-0042' };

describe('payment circuit module', () => {
  let regulators: ElGamalKeyPair[];
  const slotKeys = () => regulators.map((k) => k.publicKey);

  beforeAll(() => {
    regulators = FEATURE_SLOTS.map(() => keyGen());
  });

  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  describe('constants shared with circuits/payment.circom', () => {
    it('compiles in the bucket bounds, the amount width and the randomness width of features.ts and this module', async () => {
      const circom = await readFile(path.join(ROOT, 'circuits/payment.circom'), 'utf8');
      const bounds = /var BUCKET_LOWER_BOUNDS\[BUCKETS\] = \[([^\]]*)\];/.exec(circom)?.[1];
      expect(bounds?.split(',').map((b) => BigInt(b.trim()))).toEqual([...BUCKET_LOWER_BOUNDS]);
      expect(/var BUCKETS = (\d+);/.exec(circom)?.[1]).toBe(String(BUCKET_LOWER_BOUNDS.length));
      expect(/var SLOTS = (\d+);/.exec(circom)?.[1]).toBe(String(FEATURE_SLOTS.length));
      expect(/component main .* = Payment\((\d+), (\d+)\);/.exec(circom)?.slice(1)).toEqual([String(AMOUNT_BITS), String(RANDOMNESS_BITS)]);
      // The generator the circuit multiplies is noble's BASE (circomlib Base8).
      const base = /var BASE8\[2\] = \[\s*(\d+),\s*(\d+)\s*\];/.exec(circom)?.slice(1);
      expect(base).toEqual(encodePoint(G));
      // The randomness bound covers every scalar.
      expect(SUBGROUP_ORDER < 2n ** BigInt(RANDOMNESS_BITS)).toBe(true);
    });

    it('names 38 public signals: commitment, binding, 6 keys, 6 ciphertexts', () => {
      expect(PAYMENT_PUBLIC_SIGNAL_COUNT).toBe(38);
      expect(PAYMENT_PUBLIC_SIGNALS.slice(0, 4)).toEqual(['commitment', 'binding', 'slotKey.amount.x', 'slotKey.amount.y']);
      expect(PAYMENT_PUBLIC_SIGNALS[14]).toBe('ciphertext.amount.c1.x');
      expect(PAYMENT_PUBLIC_SIGNALS[37]).toBe('ciphertext.crossBorder.c2.y');
      expect(new Set(PAYMENT_PUBLIC_SIGNALS).size).toBe(38);
    });
  });

  describe('buildPaymentProofInput', () => {
    it('encrypts the feature vector: each ciphertext decrypts, with its slot secret key, to the slot value', async () => {
      const table = DiscreteLogTable.build(1 << 12);
      for (const [amount, crossBorder] of [[0n, false], [2_999n, true], [3_000n, false], [9_000n, true], [9_999n, false], [10_000n, true], [MAX_AMOUNT, true]] as const) {
        const built = await buildPaymentProofInput({ amount, crossBorder, binding: 1n, slotKeys: slotKeys() });
        const expected = featureVector({ amount, crossBorder });
        expect(expected.slice(1, 5).reduce((a, b) => a + b, 0n)).toBe(1n);
        built.ciphertexts.forEach((ct, i) => {
          const point = decryptToPoint(ct, regulators[i]!.secretKey);
          expect(point.equals(mG(expected[i]!))).toBe(true);
          // A wrong key does not decrypt it.
          expect(decryptToPoint(ct, regulators[(i + 1) % 6]!.secretKey).equals(mG(expected[i]!))).toBe(false);
        });
        if (amount < 1n << 24n) expect(table.solve(decryptToPoint(built.ciphertexts[0]!, regulators[0]!.secretKey), 1n << 24n)).toBe(amount);
        expect(built.commitment).toBe(await poseidon([amount, built.blinding]));
        expect(built.input.amount).toBe(amount.toString());
        expect(built.input.crossBorder).toBe(crossBorder ? '1' : '0');
      }
    });

    it('sums of many payments decrypt to the plaintext totals per slot', async () => {
      const payments = [[120n, false], [9_100n, true], [9_900n, false], [15_000n, true], [3_500n, false]] as const;
      const built = await Promise.all(payments.map(([amount, crossBorder]) => buildPaymentProofInput({ amount, crossBorder, binding: 1n, slotKeys: slotKeys() })));
      const table = DiscreteLogTable.build(1 << 10);
      FEATURE_SLOTS.forEach((_, slot) => {
        const total = built.map((b) => b.ciphertexts[slot]!).reduce((a, b) => ({ c1: a.c1.add(b.c1), c2: a.c2.add(b.c2) }));
        const expected = payments.map(([amount, crossBorder]) => featureVector({ amount, crossBorder })[slot]!).reduce((a, b) => a + b, 0n);
        expect(table.solve(decryptToPoint(total, regulators[slot]!.secretKey), 1n << 20n)).toBe(expected);
      });
    });

    it('is deterministic given the blinding and the randomness; draws randomness in [1, n) otherwise', async () => {
      const args = { amount: 777n, crossBorder: true, binding: 5n, slotKeys: slotKeys(), blinding: 99n, randomness: [1n, 2n, 3n, 4n, 5n, SUBGROUP_ORDER - 1n] };
      const a = await buildPaymentProofInput(args);
      const b = await buildPaymentProofInput(args);
      expect(a.publicSignals).toEqual(b.publicSignals);
      expect(a.input).toEqual(b.input);
      expect(a.ciphertexts[5]!.c1.equals(G.multiplyUnsafe(SUBGROUP_ORDER - 1n))).toBe(true);
      const drawn = await buildPaymentProofInput({ ...args, blinding: undefined, randomness: undefined });
      expect(drawn.blinding).not.toBe(99n);
      for (const r of drawn.input.randomness) {
        expect(BigInt(r) >= 1n && BigInt(r) < SUBGROUP_ORDER).toBe(true);
      }
      expect(drawn.publicSignals).not.toEqual(a.publicSignals);
    });

    it('refuses inputs that no witness exists for, naming the field and never the value', async () => {
      const good = { amount: 123_456n, crossBorder: false, binding: 7n, slotKeys: slotKeys() };
      const cases: [Record<string, unknown>, string][] = [
        [{ amount: -1n }, 'amount'],
        [{ amount: 1n << 32n }, 'amount'],
        [{ amount: 5 }, 'amount'],
        [{ crossBorder: 1 }, 'crossBorder'],
        [{ binding: FIELD_PRIME }, 'binding'],
        [{ blinding: FIELD_PRIME + 123_456n }, 'blinding'],
        [{ slotKeys: slotKeys().slice(0, 5) }, 'slotKeys'],
        [{ slotKeys: [...slotKeys().slice(0, 5), IDENTITY] }, 'slotKeys[5]'],
        // A point of order 8 (on the curve, outside the prime-order subgroup) added to a key.
        [{ slotKeys: [babyjubjub.Point.fromAffine({ x: 0n, y: FIELD_PRIME - 1n }).add(regulators[0]!.publicKey), ...slotKeys().slice(1)] }, 'slotKeys[0]'],
        [{ randomness: [1n, 2n, 3n] }, 'randomness'],
        [{ randomness: [1n, 2n, 3n, 4n, 5n, 0n] }, 'randomness[5]'],
        [{ randomness: [SUBGROUP_ORDER, 2n, 3n, 4n, 5n, 6n] }, 'randomness[0]'],
      ];
      for (const [change, field] of cases) {
        const error = await buildPaymentProofInput({ ...good, ...change } as never).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CircuitInputError);
        expect((error as CircuitInputError).field).toBe(field);
        expect((error as Error).message).not.toContain('123456');
      }
    });
  });

  describe('public signals', () => {
    it('round-trips through paymentPublicSignals and parsePaymentPublicSignals', async () => {
      const built = await buildPaymentProofInput({ amount: 5_000n, crossBorder: true, binding: 42n, slotKeys: slotKeys() });
      const parsed = parsePaymentPublicSignals(built.publicSignals);
      expect(parsed.commitment).toBe(built.commitment);
      expect(parsed.binding).toBe(42n);
      parsed.slotKeys.forEach((k, i) => expect(k.equals(regulators[i]!.publicKey)).toBe(true));
      parsed.ciphertexts.forEach((ct, i) => {
        expect(ct.c1.equals(built.ciphertexts[i]!.c1) && ct.c2.equals(built.ciphertexts[i]!.c2)).toBe(true);
      });
      expect(paymentPublicSignals(parsed)).toEqual(built.publicSignals);
    });

    it('refuses signals of the wrong count or form, and points off the curve, outside the subgroup or the identity', async () => {
      const built = await buildPaymentProofInput({ amount: 5_000n, crossBorder: true, binding: 42n, slotKeys: slotKeys() });
      const torsion = babyjubjub.Point.fromAffine({ x: 0n, y: FIELD_PRIME - 1n }); // order 2
      const mixed = encodePoint(regulators[0]!.publicKey.add(torsion));
      const set = (at: number, values: string[]) => {
        const s = [...built.publicSignals];
        s.splice(at, values.length, ...values);
        return s;
      };
      const cases: [unknown[], RegExp][] = [
        [built.publicSignals.slice(1), /publicSignals/],
        [[...built.publicSignals, '0'], /publicSignals/],
        [set(1, ['042']), /binding/],
        [set(0, [FIELD_PRIME.toString()]), /commitment/],
        [set(1, [7 as unknown as string]), /binding/],
        [set(2, ['1', '2']), /slotKey\.amount.*not on the BabyJubJub curve/],
        [set(4, ['0', '1']), /slotKey\.bucket0.*identity/],
        [set(6, mixed), /slotKey\.bucket1.*(subgroup|small-order)/],
        [set(14, ['0', '1']), /ciphertext\.amount\.c1.*identity/],
        [set(36, mixed), /ciphertext\.crossBorder\.c2.*(subgroup|small-order)/],
      ];
      for (const [signals, message] of cases) {
        expect(() => parsePaymentPublicSignals(signals)).toThrow(CircuitInputError);
        expect(() => parsePaymentPublicSignals(signals)).toThrow(message);
      }
      // c2 may be the identity (a legitimate ciphertext component).
      expect(() => parsePaymentPublicSignals(set(36, ['0', '1']))).not.toThrow();
    });
  });

  describe('paymentBinding', () => {
    it('is SHA-256(domain || 0x00 || RFC 8785 JSON) mod p, the same for a Date and its ISO string', () => {
      const json = `{"payee":"acct-19c2","payer":"acct-7f3a","reference":"inv-0042","timestamp":"2026-11-02T10:15:00.000Z"}`;
      const digest = createHash('sha256').update(Buffer.concat([Buffer.from(PAYMENT_BINDING_DOMAIN), Buffer.of(0), Buffer.from(json)])).digest('hex');
      const expected = BigInt('0x' + digest) % FIELD_PRIME;
      expect(paymentBinding(BINDING_FIELDS)).toBe(expected);
      expect(paymentBinding({ ...BINDING_FIELDS, timestamp: new Date('2026-11-02T10:15:00Z') })).toBe(expected);
    });

    it('changes with every field', () => {
      const base = paymentBinding(BINDING_FIELDS);
      for (const change of [{ payer: 'acct-7f3b' }, { payee: 'acct-19c3' }, { reference: 'inv-0043' }, { timestamp: '2026-11-02T10:15:00.001Z' }]) {
        expect(paymentBinding({ ...BINDING_FIELDS, ...change })).not.toBe(base);
      }
      // Field boundaries are unambiguous (JSON, not concatenation).
      expect(paymentBinding({ ...BINDING_FIELDS, payer: 'ab', payee: 'c' })).not.toBe(paymentBinding({ ...BINDING_FIELDS, payer: 'a', payee: 'bc' }));
    });

    it('refuses non-canonical timestamps and non-string fields', () => {
      for (const timestamp of ['2026-11-02T10:15:00Z', '2026-11-02', 'yesterday', new Date(Number.NaN)]) {
        expect(() => paymentBinding({ ...BINDING_FIELDS, timestamp })).toThrow(CircuitInputError);
      }
      expect(() => paymentBinding({ ...BINDING_FIELDS, payer: 42 as unknown as string })).toThrow(/payer/);
    });
  });

  describe('provePayment and verifyPaymentProof', () => {
    let made: PaymentProof;
    let binding: bigint;

    beforeAll(async () => {
      binding = paymentBinding(BINDING_FIELDS);
      made = await provePayment({ amount: 9_250n, crossBorder: false, binding, slotKeys: slotKeys() });
    });

    it('proves a payment; the service recomputes the signals from the stored values and verifies them', async () => {
      expect(made.commitment).toBe(await paymentCommitment(9_250n, made.blinding));
      const recomputed = paymentPublicSignals({ commitment: made.commitment, binding, slotKeys: slotKeys(), ciphertexts: made.ciphertexts });
      expect(made.publicSignals).toEqual(recomputed);
      expect(await verifyPaymentProof(made.proof, recomputed)).toBe(true);
      const vkey = JSON.parse(await readFile(paymentCircuitArtifacts().verificationKey, 'utf8')) as Record<string, unknown>;
      expect(await verifyPaymentProof(made.proof, recomputed, vkey)).toBe(true);
      // The ciphertexts carry bucket 2 (just under the threshold), readable only with the slot key.
      expect(decryptToPoint(made.ciphertexts[3]!, regulators[3]!.secretKey).equals(G)).toBe(true);
    });

    it('does not verify for a swapped ciphertext or for another payment', async () => {
      const swapped = [...made.ciphertexts];
      swapped[0] = encrypt(9_250n, regulators[0]!.publicKey);
      expect(await verifyPaymentProof(made.proof, paymentPublicSignals({ commitment: made.commitment, binding, slotKeys: slotKeys(), ciphertexts: swapped }))).toBe(false);
      const otherPayment = paymentBinding({ ...BINDING_FIELDS, reference: 'inv-0043' });
      expect(await verifyPaymentProof(made.proof, paymentPublicSignals({ commitment: made.commitment, binding: otherPayment, slotKeys: slotKeys(), ciphertexts: made.ciphertexts }))).toBe(false);
    });

    it('refuses a malformed proof or malformed signals before any pairing', async () => {
      await expect(verifyPaymentProof({ ...made.proof, pi_a: ['1', '2'] }, made.publicSignals)).rejects.toThrow(MalformedProofError);
      await expect(verifyPaymentProof(null, made.publicSignals)).rejects.toThrow(MalformedProofError);
      await expect(verifyPaymentProof(made.proof, made.publicSignals.slice(1))).rejects.toThrow(CircuitInputError);
      const aliased = [...made.publicSignals];
      aliased[1] = (BigInt(aliased[1]!) + FIELD_PRIME).toString();
      await expect(verifyPaymentProof(made.proof, aliased)).rejects.toThrow(/binding/);
    });

    it('proves from artifacts given as bytes (a wallet bundle) as from files', async () => {
      const files = paymentCircuitArtifacts();
      const bytes = { wasm: new Uint8Array(await readFile(files.wasm)), zkey: new Uint8Array(await readFile(files.zkey)) };
      const fromBytes = await provePayment({ amount: 1n, crossBorder: true, binding, slotKeys: slotKeys() }, bytes);
      expect(await verifyPaymentProof(fromBytes.proof, fromBytes.publicSignals)).toBe(true);
    });

    it('reports artifacts of another circuit as a prover error, without the inputs', async () => {
      const other = path.join(ROOT, 'circuits/build/poseidon_preimage');
      const error = await provePayment(
        { amount: 424_242n, crossBorder: true, binding, slotKeys: slotKeys() },
        { wasm: path.join(other, 'poseidon_preimage.wasm'), zkey: path.join(other, 'poseidon_preimage_final.zkey') },
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PaymentProverError);
      expect((error as Error).message).not.toContain('424242');
    });
  });
});
