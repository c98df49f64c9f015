/**
 * The `payment` circuit (circuits/payment.circom, docs/analytics-payment-circuit.md) from the
 * outside: the witness input builder, the public-signal layout and its parser, the binding of a
 * payment's public metadata, and Groth16 proving and verification helpers.
 *
 * A payment carries a Poseidon commitment of its amount and six exponential-ElGamal ciphertexts on
 * BabyJubJub (one per feature slot of src/analytics/features.ts, each under its own regulator
 * threshold key), with a proof that the ciphertexts encrypt the committed amount's feature vector.
 * The public signals are written down once, here: the service recomputes them from the commitment,
 * the binding, the slot keys and the ciphertexts it stores (`paymentPublicSignals`) and never
 * verifies against signals a client sent.
 *
 * A plain module (no NestJS, no database): the service, client-side provers (a wallet app or the
 * bank's payment gateway), tests and benchmarks share it. Points are @noble/curves BabyJubJub
 * points (src/analytics/crypto), Poseidon is circomlibjs's, proofs are snarkjs's.
 *
 * Errors are `CircuitInputError` naming the offending field, never its value: the amount, the
 * blinding and the randomness are secrets.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { randomBytes } from '@noble/hashes/utils.js';
import * as snarkjs from 'snarkjs';
import {
  FIELD_PRIME,
  InvalidPointError,
  MalformedMessageError,
  SUBGROUP_ORDER,
  decodePoint,
  encodePoints,
  encrypt,
  randomScalar,
  type Ciphertext,
  type GroupPoint,
} from '../crypto/index.js';
import { assertSubgroupPoint, bytesToBigInt } from '../crypto/group.js';
import { FEATURE_SLOTS, MAX_AMOUNT, featureVector } from '../features.js';
import { CircuitInputError, loadPoseidon } from '../../zk/circuit-inputs.js';
import { MalformedProofError, parseGroth16Proof } from '../../zk/verification/groth16-proof.js';
import { projectRoot } from '../../zk/proving/prover-pool.js';

export { CircuitInputError, MalformedProofError };

/** The circuit's name in circuits/circuits.json and its artifacts' base name. */
export const PAYMENT_CIRCUIT = 'payment';

/** Number of feature slots: one slot key and one ciphertext each. */
export const PAYMENT_SLOT_COUNT = FEATURE_SLOTS.length;

/**
 * The circuit decomposes each slot's randomness into this many bits. 2^251 > n (the subgroup
 * order, ~2^250.6), so every scalar in [1, n) fits; the builder draws r uniformly in [1, n).
 */
export const RANDOMNESS_BITS = 251;

/**
 * Names of the public signals, in the order the circuit, snarkjs and the Solidity verifier use:
 * commitment, binding, then each slot key (x, y) in FEATURE_SLOTS order, then each ciphertext
 * (c1.x, c1.y, c2.x, c2.y) in FEATURE_SLOTS order. 38 in all.
 */
export const PAYMENT_PUBLIC_SIGNALS: readonly string[] = Object.freeze([
  'commitment',
  'binding',
  ...FEATURE_SLOTS.flatMap((s) => [`slotKey.${s}.x`, `slotKey.${s}.y`]),
  ...FEATURE_SLOTS.flatMap((s) => [`ciphertext.${s}.c1.x`, `ciphertext.${s}.c1.y`, `ciphertext.${s}.c2.x`, `ciphertext.${s}.c2.y`]),
]);

export const PAYMENT_PUBLIC_SIGNAL_COUNT = PAYMENT_PUBLIC_SIGNALS.length;

/** The public part of a payment's statement. */
export interface PaymentPublicInputs {
  /** Poseidon(amount, blinding). */
  commitment: bigint;
  /** paymentBinding(...) of the payment's public metadata. */
  binding: bigint;
  /** One key per slot, FEATURE_SLOTS order; prime-order subgroup points, not the identity. */
  slotKeys: readonly GroupPoint[];
  /** One ciphertext per slot, FEATURE_SLOTS order. */
  ciphertexts: readonly Ciphertext[];
}

/** The circuit's input object (snarkjs takes decimal strings; arrays as the circuit declares them). */
export interface PaymentCircuitInput {
  commitment: string;
  binding: string;
  slotKeys: string[][];
  ciphertexts: string[][];
  amount: string;
  blinding: string;
  crossBorder: string;
  randomness: string[];
  [signal: string]: string | string[] | string[][];
}

export interface PaymentProofArgs {
  /** Whole currency units, 0 <= amount < 2^32. */
  amount: bigint;
  crossBorder: boolean;
  /** The commitment's blinding, a field element; drawn at random when absent. */
  blinding?: bigint;
  /** paymentBinding(...) of the payment's public metadata. */
  binding: bigint;
  /** The six slot keys (each slot's threshold group public key), FEATURE_SLOTS order. */
  slotKeys: readonly GroupPoint[];
  /** Encryption randomness per slot, each in [1, n); drawn at random when absent. */
  randomness?: readonly bigint[];
}

export interface PaymentProofInput {
  input: PaymentCircuitInput;
  commitment: bigint;
  blinding: bigint;
  ciphertexts: Ciphertext[];
  /** The public signals a proof of `input` has (paymentPublicSignals of the above). */
  publicSignals: string[];
}

const dec = (n: bigint): string => n.toString(10);

function fieldElement(value: unknown, name: string): bigint {
  if (typeof value !== 'bigint') throw new CircuitInputError(name, 'must be a bigint');
  if (value < 0n || value >= FIELD_PRIME) throw new CircuitInputError(name, 'not a canonical field element');
  return value;
}

function slotKeyList(keys: readonly GroupPoint[] | undefined): readonly GroupPoint[] {
  if (!Array.isArray(keys) || keys.length !== PAYMENT_SLOT_COUNT) {
    throw new CircuitInputError('slotKeys', `expected ${PAYMENT_SLOT_COUNT} keys (${FEATURE_SLOTS.join(', ')})`);
  }
  keys.forEach((k, i) => {
    try {
      assertSubgroupPoint(k, `slot key ${FEATURE_SLOTS[i]}`);
    } catch (e) {
      throw new CircuitInputError(`slotKeys[${i}]`, e instanceof Error ? e.message : 'invalid point');
    }
  });
  return keys;
}

/** A uniformly random field element (512 random bits reduced mod p). */
export function randomBlinding(): bigint {
  return bytesToBigInt(randomBytes(64)) % FIELD_PRIME;
}

/** Poseidon(amount, blinding), the payment's amount commitment. */
export async function paymentCommitment(amount: bigint, blinding: bigint): Promise<bigint> {
  return (await loadPoseidon()).hash([amount, blinding]);
}

/**
 * The public signals of a payment proof, in PAYMENT_PUBLIC_SIGNALS order, from the values the
 * service stores. Ciphertext c1 components must not be the identity (the circuit refuses them).
 */
export function paymentPublicSignals(p: PaymentPublicInputs): string[] {
  const commitment = fieldElement(p.commitment, 'commitment');
  const binding = fieldElement(p.binding, 'binding');
  const keys = slotKeyList(p.slotKeys);
  if (!Array.isArray(p.ciphertexts) || p.ciphertexts.length !== PAYMENT_SLOT_COUNT) {
    throw new CircuitInputError('ciphertexts', `expected ${PAYMENT_SLOT_COUNT} ciphertexts (${FEATURE_SLOTS.join(', ')})`);
  }
  p.ciphertexts.forEach((ct, i) => {
    try {
      assertSubgroupPoint(ct.c1, `ciphertext ${FEATURE_SLOTS[i]} c1`);
      assertSubgroupPoint(ct.c2, `ciphertext ${FEATURE_SLOTS[i]} c2`, { allowIdentity: true });
    } catch (e) {
      throw new CircuitInputError(`ciphertexts[${i}]`, e instanceof Error ? e.message : 'invalid point');
    }
  });
  const points = encodePoints([...keys, ...p.ciphertexts.flatMap((ct) => [ct.c1, ct.c2])]);
  return [dec(commitment), dec(binding), ...points.flat()];
}

/**
 * The public signals as field elements: exactly PAYMENT_PUBLIC_SIGNAL_COUNT canonical decimal
 * strings below p (a value >= p would alias another signal in the verifier's arithmetic).
 */
function paymentSignalValues(signals: readonly unknown[]): bigint[] {
  if (!Array.isArray(signals) || signals.length !== PAYMENT_PUBLIC_SIGNAL_COUNT) {
    throw new CircuitInputError('publicSignals', `expected ${PAYMENT_PUBLIC_SIGNAL_COUNT} public signals`);
  }
  return signals.map((v, i) => {
    if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(v) || BigInt(v) >= FIELD_PRIME) {
      throw new CircuitInputError(PAYMENT_PUBLIC_SIGNALS[i]!, 'not a canonical decimal field element');
    }
    return BigInt(v);
  });
}

/**
 * Parses public signals in PAYMENT_PUBLIC_SIGNALS order: canonical field elements, slot keys and
 * ciphertext components on the curve and in the prime-order subgroup (keys and c1 not the identity).
 */
export function parsePaymentPublicSignals(signals: readonly unknown[]): PaymentPublicInputs {
  const values = paymentSignalValues(signals);
  const point = (at: number, what: string, allowIdentity: boolean): GroupPoint => {
    try {
      return decodePoint([dec(values[at]!), dec(values[at + 1]!)], what, { allowIdentity });
    } catch (e) {
      if (e instanceof InvalidPointError || e instanceof MalformedMessageError) throw new CircuitInputError(what, e.message);
      throw e;
    }
  };
  const keysAt = 2;
  const ciphertextsAt = keysAt + 2 * PAYMENT_SLOT_COUNT;
  const slotKeys = FEATURE_SLOTS.map((s, i) => point(keysAt + 2 * i, `slotKey.${s}`, false));
  const ciphertexts = FEATURE_SLOTS.map((s, i) => {
    const c1 = point(ciphertextsAt + 4 * i, `ciphertext.${s}.c1`, false);
    const c2 = point(ciphertextsAt + 4 * i + 2, `ciphertext.${s}.c2`, true);
    return { c1, c2 };
  });
  return { commitment: values[0]!, binding: values[1]!, slotKeys, ciphertexts };
}

/**
 * The circuit input for a payment: encrypts the feature vector of (amount, crossBorder) under the
 * slot keys with fresh (or given) randomness, commits to the amount, and returns the input object
 * together with the public values and the expected public signals.
 */
export async function buildPaymentProofInput(args: PaymentProofArgs): Promise<PaymentProofInput> {
  const { amount, crossBorder, binding } = args;
  if (typeof amount !== 'bigint' || amount < 0n || amount > MAX_AMOUNT) {
    throw new CircuitInputError('amount', `must be an integer in [0, ${MAX_AMOUNT}]`);
  }
  if (typeof crossBorder !== 'boolean') throw new CircuitInputError('crossBorder', 'must be a boolean');
  fieldElement(binding, 'binding');
  const blinding = args.blinding === undefined ? randomBlinding() : fieldElement(args.blinding, 'blinding');
  const slotKeys = slotKeyList(args.slotKeys);
  let randomness: readonly bigint[];
  if (args.randomness === undefined) {
    randomness = FEATURE_SLOTS.map(() => randomScalar());
  } else {
    if (!Array.isArray(args.randomness) || args.randomness.length !== PAYMENT_SLOT_COUNT) {
      throw new CircuitInputError('randomness', `expected ${PAYMENT_SLOT_COUNT} scalars`);
    }
    args.randomness.forEach((r, i) => {
      // [1, n): r = 0 would give c1 = O (refused by the circuit), and n <= r < 2^251 only aliases r - n.
      if (typeof r !== 'bigint' || r < 1n || r >= SUBGROUP_ORDER) throw new CircuitInputError(`randomness[${i}]`, 'must be a scalar in [1, n)');
    });
    randomness = args.randomness;
  }

  const values = featureVector({ amount, crossBorder });
  const ciphertexts = values.map((m, i) => encrypt(m, slotKeys[i]!, randomness[i]!));
  const commitment = await paymentCommitment(amount, blinding);
  const publicSignals = paymentPublicSignals({ commitment, binding, slotKeys, ciphertexts });

  const keySignals = publicSignals.slice(2, 2 + 2 * PAYMENT_SLOT_COUNT);
  const ciphertextSignals = publicSignals.slice(2 + 2 * PAYMENT_SLOT_COUNT);
  const input: PaymentCircuitInput = {
    commitment: dec(commitment),
    binding: dec(binding),
    slotKeys: FEATURE_SLOTS.map((_, i) => keySignals.slice(2 * i, 2 * i + 2)),
    ciphertexts: FEATURE_SLOTS.map((_, i) => ciphertextSignals.slice(4 * i, 4 * i + 4)),
    amount: dec(amount),
    blinding: dec(blinding),
    crossBorder: crossBorder ? '1' : '0',
    randomness: randomness.map(dec),
  };
  return { input, commitment, blinding, ciphertexts, publicSignals };
}

/** The public metadata of a payment that its proof is bound to. */
export interface PaymentBindingFields {
  /** The payer's pseudonymous account id. */
  payer: string;
  /** The payee's pseudonymous account id. */
  payee: string;
  /** When the payment was made; a string must be the canonical ISO 8601 UTC form (Date#toISOString). */
  timestamp: Date | string;
  /** The payment's reference (unique per payer, e.g. the wallet app's idempotency key). */
  reference: string;
}

/** Domain tag of the binding hash (versioned: a change of the encoding is a new tag). */
export const PAYMENT_BINDING_DOMAIN = 'privacy-service/analytics/payment-binding/v1';

/**
 * The `binding` public input: SHA-256(domain ‖ 0x00 ‖ JCS({payer, payee, reference, timestamp}))
 * read as a 256-bit big-endian integer and reduced mod p (BN254's scalar field). JCS is RFC 8785
 * canonical JSON, so any implementation can recompute it. The reduction's bias does not matter:
 * the binding needs collision resistance only, and a collision mod p still costs ~2^126 hashes.
 */
export function paymentBinding(fields: PaymentBindingFields): bigint {
  for (const key of ['payer', 'payee', 'reference'] as const) {
    if (typeof fields[key] !== 'string') throw new CircuitInputError(key, 'must be a string');
  }
  const { timestamp } = fields;
  let iso: string;
  if (timestamp instanceof Date) {
    if (Number.isNaN(timestamp.getTime())) throw new CircuitInputError('timestamp', 'is not a valid date');
    iso = timestamp.toISOString();
  } else if (typeof timestamp === 'string') {
    const parsed = new Date(timestamp);
    if (Number.isNaN(parsed.getTime()) || parsed.toISOString() !== timestamp) {
      throw new CircuitInputError('timestamp', 'must be an ISO 8601 UTC timestamp as Date#toISOString writes it (YYYY-MM-DDTHH:mm:ss.sssZ)');
    }
    iso = timestamp;
  } else {
    throw new CircuitInputError('timestamp', 'must be a Date or an ISO 8601 string');
  }
  const json = canonicalize({ payer: fields.payer, payee: fields.payee, reference: fields.reference, timestamp: iso })!;
  const digest = createHash('sha256').update(PAYMENT_BINDING_DOMAIN).update(Uint8Array.of(0)).update(json, 'utf8').digest();
  return bytesToBigInt(digest) % FIELD_PRIME;
}

// ---------------------------------------------------------------------------------------
// Proving and verification
// ---------------------------------------------------------------------------------------

/** The payment circuit's published artifacts in circuits/build/payment/. */
export interface PaymentCircuitArtifacts {
  wasm: string;
  zkey: string;
  verificationKey: string;
}

export function paymentCircuitArtifacts(root = projectRoot()): PaymentCircuitArtifacts {
  const dir = path.join(root, 'circuits', 'build', PAYMENT_CIRCUIT);
  return {
    wasm: path.join(dir, `${PAYMENT_CIRCUIT}.wasm`),
    zkey: path.join(dir, `${PAYMENT_CIRCUIT}_final.zkey`),
    verificationKey: path.join(dir, 'verification_key.json'),
  };
}

/** Proving artifacts as file paths (Node) or their bytes (a browser or a wallet bundle). */
export interface PaymentProvingArtifacts {
  wasm: string | Uint8Array;
  zkey: string | Uint8Array;
}

export interface PaymentProof {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
  commitment: bigint;
  ciphertexts: Ciphertext[];
  /** The commitment's opening: the payer's wallet keeps it; the service never needs it. */
  blinding: bigint;
}

/** A proof could not be made (inputs that satisfy no witness, or broken artifacts); never carries inputs. */
export class PaymentProverError extends Error {
  override readonly name = 'PaymentProverError';
}

/**
 * Client-side proving: builds the input, runs snarkjs groth16.fullProve with the published wasm and
 * zkey, and checks the proof's public signals are the expected ones (about 4.5 CPU-seconds per proof).
 */
export async function provePayment(args: PaymentProofArgs, artifacts: PaymentProvingArtifacts = paymentCircuitArtifacts()): Promise<PaymentProof> {
  const built = await buildPaymentProofInput(args);
  const file = (a: string | Uint8Array) => (typeof a === 'string' ? a : { type: 'mem' as const, data: a });
  let result: { proof: snarkjs.Groth16Proof; publicSignals: snarkjs.PublicSignals };
  try {
    result = await snarkjs.groth16.fullProve(
      built.input as unknown as snarkjs.CircuitSignals,
      file(artifacts.wasm) as snarkjs.ZKArtifact,
      file(artifacts.zkey) as snarkjs.ZKArtifact,
    );
  } catch (e) {
    // The witness calculator's message names a template and line, never a signal value.
    throw new PaymentProverError(`payment proof failed: ${e instanceof Error ? e.message.split('\n')[0] : 'unknown error'}`);
  }
  const publicSignals = result.publicSignals.map(String);
  if (publicSignals.length !== built.publicSignals.length || publicSignals.some((s, i) => s !== built.publicSignals[i])) {
    throw new PaymentProverError('the proof has other public signals than the payment: the artifacts do not match this module');
  }
  return { proof: result.proof, publicSignals, commitment: built.commitment, ciphertexts: built.ciphertexts, blinding: built.blinding };
}

let cachedVerificationKey: Record<string, unknown> | undefined;

/** The committed verification key (circuits/build/payment/verification_key.json), read once. */
export function paymentVerificationKey(): Record<string, unknown> {
  cachedVerificationKey ??= JSON.parse(readFileSync(paymentCircuitArtifacts().verificationKey, 'utf8')) as Record<string, unknown>;
  return cachedVerificationKey;
}

/**
 * Verifies a payment proof against public signals (compute them with paymentPublicSignals from
 * stored values; never take them from the prover). Throws MalformedProofError or CircuitInputError
 * for a proof or signals of the wrong shape; returns false when the pairing check fails.
 */
export async function verifyPaymentProof(
  proof: unknown,
  publicSignals: readonly string[],
  verificationKey: Record<string, unknown> = paymentVerificationKey(),
): Promise<boolean> {
  const checked = parseGroth16Proof(proof);
  // Shape only: points off the curve or outside the subgroup have no witness, so they fail the
  // pairing check; the service decodes stored points (parsePaymentPublicSignals) when it ingests them.
  paymentSignalValues(publicSignals);
  return snarkjs.groth16.verify(verificationKey, [...publicSignals], checked);
}
