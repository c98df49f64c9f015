/**
 * Differential-privacy noise for released statistics: the discrete Laplace mechanism (the
 * two-sided geometric distribution of Ghosh, Roughgarden and Sundararajan), which keeps integer
 * statistics integer. With scale b = sensitivity / epsilon, P(k) is proportional to
 * exp(-|k| / b); adding it to a statistic whose value changes by at most `sensitivity` when one
 * payment is added or removed gives epsilon-differential privacy for that release.
 *
 * A two-sided geometric variable is the difference of two independent one-sided geometric ones
 * with success probability 1 - exp(-1/b); each is drawn by inversion, floor(ln U / ln alpha),
 * from 53 random bits of node:crypto.
 *
 * Known limit: the inversion uses IEEE doubles, so the tails of the distribution are those of
 * floating point, not the exact mathematical ones (Mironov 2012 showed how floating-point
 * Laplace noise can leak through its low bits; the geometric form, being integer-valued, does
 * not have that least-significant-bit attack, but its far tails are truncated at ~2^53).
 *
 * Plain module: no framework or database imports.
 */
import { randomBytes } from 'node:crypto';

/** A uniform double in (0, 1], from 53 bits of the operating system's CSPRNG. */
function uniformOpenZero(): number {
  const b = randomBytes(8);
  const hi = b.readUInt32BE(0) >>> 11; // 21 bits
  const lo = b.readUInt32BE(4); // 32 bits
  return (hi * 2 ** 32 + lo + 1) / 2 ** 53;
}

/** One-sided geometric on {0, 1, ...} with P(k) = (1 - alpha) alpha^k, alpha = exp(-1/scale). */
function geometric(scale: number): bigint {
  // ln(alpha) = -1/scale, so floor(ln U / ln alpha) = floor(-ln(U) * scale).
  const k = Math.floor(-Math.log(uniformOpenZero()) * scale);
  return BigInt(Math.min(k, Number.MAX_SAFE_INTEGER));
}

/** Discrete Laplace noise with scale sensitivity / epsilon. */
export function discreteLaplaceNoise(sensitivity: bigint, epsilon: number): bigint {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError('epsilon must be a positive finite number');
  if (sensitivity < 1n) throw new RangeError('sensitivity must be at least 1');
  const scale = Number(sensitivity) / epsilon;
  return geometric(scale) - geometric(scale);
}
