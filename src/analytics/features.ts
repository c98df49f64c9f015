/**
 * The payment feature vector that regulators can aggregate, and its feature slots.
 *
 * Each slot is encrypted under its own threshold ElGamal key (one DKG per slot: related keys
 * would leak differences between slots). The bucket slots are a one-hot encoding of the amount,
 * with one bucket just under the reporting threshold, so "how many payments of this account fell
 * just under the threshold" is a sum of one slot: the structuring rule.
 *
 * The same constants are compiled into circuits/payment.circom: changing them here means changing
 * the circuit, rebuilding its artifacts and running new key ceremonies.
 *
 * Plain TypeScript: no framework or database imports.
 */

/** Amounts are whole currency units below 2^32, proven in the payment circuit by a range check. */
export const AMOUNT_BITS = 32;
export const MAX_AMOUNT = (1n << BigInt(AMOUNT_BITS)) - 1n;

/** The reporting threshold (currency units) that structuring tries to stay under. */
export const REPORTING_THRESHOLD = 10_000n;

/**
 * Lower bounds of the amount buckets, ascending; bucket i holds lower[i] <= amount < lower[i+1].
 * Bucket 2 is "just under the reporting threshold" (90 % to 100 % of it).
 */
export const BUCKET_LOWER_BOUNDS: readonly bigint[] = [0n, 3_000n, 9_000n, REPORTING_THRESHOLD];
export const JUST_UNDER_THRESHOLD_BUCKET = 2;

/** Slot names, in the order the circuit takes keys and produces ciphertexts. */
export const FEATURE_SLOTS = ['amount', 'bucket0', 'bucket1', 'bucket2', 'bucket3', 'crossBorder'] as const;
export type FeatureSlot = (typeof FEATURE_SLOTS)[number];

export interface PaymentFeatures {
  amount: bigint;
  crossBorder: boolean;
}

/** The bucket an amount falls into. */
export function amountBucket(amount: bigint): number {
  if (amount < 0n || amount > MAX_AMOUNT) throw new RangeError(`amount must be an integer in [0, 2^${AMOUNT_BITS})`);
  let bucket = 0;
  for (let i = 1; i < BUCKET_LOWER_BOUNDS.length; i += 1) if (amount >= BUCKET_LOWER_BOUNDS[i]!) bucket = i;
  return bucket;
}

/** The plaintext value of every slot, in FEATURE_SLOTS order. */
export function featureVector(f: PaymentFeatures): bigint[] {
  const bucket = amountBucket(f.amount);
  return [f.amount, ...BUCKET_LOWER_BOUNDS.map((_, i) => (i === bucket ? 1n : 0n)), f.crossBorder ? 1n : 0n];
}
