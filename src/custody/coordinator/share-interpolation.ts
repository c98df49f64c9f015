/**
 * The coordinator's check before it lets the nodes commit a refresh/reshare: the new public shares
 * must interpolate to the unchanged group public key. Shamir shares s_j of a secret s on a
 * degree t-1 polynomial satisfy s = sum_{j in T} lambda_j(T) * s_j for any t-subset T (RFC 9591
 * section 4.2 Lagrange coefficients), so in the exponent PK = sum_{j in T} lambda_j(T) * PK_j.
 * Every verifying share is also checked to lie on the published commitment polynomial
 * (PK_j = sum_k C_k * x_j^k) whose constant term is the group key. Plain code, no I/O.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { WirePublic } from '../signer/frost-adapter.js';

const { Point } = secp256k1;
const Fn = Point.Fn;
type P = typeof Point.BASE;

const scalar = (idHex: string): bigint => Fn.fromBytes(Uint8Array.from(Buffer.from(idHex, 'hex')));
const point = (h: string): P => Point.fromBytes(Uint8Array.from(Buffer.from(h, 'hex')));

/** lambda_i(T) at 0 over the identifiers of T. */
function lagrangeAtZero(xi: bigint, xs: bigint[]): bigint {
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const xj of xs) {
    if (xj === xi) continue;
    num = Fn.mul(num, xj);
    den = Fn.mul(den, Fn.sub(xj, xi));
  }
  return Fn.div(num, den);
}

/** sum_{j in T} lambda_j(T) * PK_j for a subset of identifiers. */
export function interpolateAtZero(shares: [identifier: string, verifyingShare: string][]): string {
  const xs = shares.map(([id]) => scalar(id));
  let acc: P | undefined;
  shares.forEach(([, vs], i) => {
    const term = point(vs).multiply(lagrangeAtZero(xs[i]!, xs));
    acc = acc === undefined ? term : acc.add(term);
  });
  return Buffer.from(acc!.toBytes(true)).toString('hex');
}

function* subsets<T>(items: T[], k: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === k) {
    yield prefix;
    return;
  }
  for (let i = start; i <= items.length - (k - prefix.length); i++) yield* subsets(items, k, i + 1, [...prefix, items[i]!]);
}

/**
 * Null when `pub` is consistent with `groupPublicKey`; otherwise what is wrong. Checks up to
 * `maxSubsets` t-subsets of the verifying shares (every one for the usual small sets).
 */
export function checkSharesInterpolate(pub: WirePublic, groupPublicKey: string, maxSubsets = 256): string | null {
  try {
    const t = pub.signers.min;
    const entries = Object.entries(pub.verifyingShares).sort(([a], [b]) => (a < b ? -1 : 1));
    if (entries.length !== pub.signers.max || t < 2 || t > entries.length) return 'the threshold does not match the verifying shares';
    if (pub.commitments.length !== t) return `the commitment has ${pub.commitments.length} coefficients, not ${t}`;
    if (pub.commitments[0] !== groupPublicKey) return 'the commitment does not open to the group key';
    const coeffs = pub.commitments.map(point);
    for (const [id, vs] of entries) {
      const x = scalar(id);
      let acc = coeffs[coeffs.length - 1]!;
      for (let k = coeffs.length - 2; k >= 0; k--) acc = acc.multiply(x).add(coeffs[k]!);
      if (!acc.equals(point(vs))) return `the verifying share of ${id} is not on the committed polynomial`;
    }
    let checked = 0;
    for (const subset of subsets(entries, t)) {
      if (checked++ >= maxSubsets) break;
      if (interpolateAtZero(subset) !== groupPublicKey) return `the verifying shares of ${subset.map(([id]) => id.slice(0, 8)).join(', ')} do not interpolate to the group key`;
    }
    return null;
  } catch (error) {
    return `malformed public package: ${(error as Error).message}`;
  }
}
