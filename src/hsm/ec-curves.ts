/**
 * The two elliptic curves the HSM signs on, and the byte formats PKCS#11 uses for them.
 *
 * - CKA_EC_PARAMS holds the DER encoding of the curve's object identifier (SEC 1 v2, C.2).
 * - CKA_EC_POINT holds the public point as a DER OCTET STRING wrapping the SEC 1 uncompressed
 *   encoding 04 || X || Y (PKCS#11 v2.40 section 2.3.3); some modules return the bare point.
 * - CKM_ECDSA signs a caller-supplied digest and returns r || s, each padded to the field size.
 */

export type EcCurve = 'secp256k1' | 'P-256';

export interface EcCurveInfo {
  /** DER-encoded object identifier, the value of CKA_EC_PARAMS. */
  readonly oidDer: Buffer;
  /** Order n of the base point. */
  readonly order: bigint;
  /** Whether signatures are normalised to s <= n/2 (Ethereum and Bitcoin reject high s). */
  readonly lowS: boolean;
}

export const EC_CURVES: Readonly<Record<EcCurve, EcCurveInfo>> = {
  // 1.3.132.0.10 (SEC 2, 2.4.1)
  secp256k1: {
    oidDer: Buffer.from('06052b8104000a', 'hex'),
    order: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    lowS: true,
  },
  // 1.2.840.10045.3.1.7 (SEC 2, 2.4.2; NIST P-256)
  'P-256': {
    oidDer: Buffer.from('06082a8648ce3d030107', 'hex'),
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    lowS: false,
  },
};

export function isEcCurve(value: unknown): value is EcCurve {
  return value === 'secp256k1' || value === 'P-256';
}

/** The curve named by a CKA_EC_PARAMS value, or undefined for any other curve. */
export function curveFromParams(params: Uint8Array): EcCurve | undefined {
  for (const [name, info] of Object.entries(EC_CURVES) as [EcCurve, EcCurveInfo][]) {
    if (info.oidDer.equals(params)) return name;
  }
  return undefined;
}

/**
 * The 65-byte uncompressed point from a CKA_EC_POINT value: unwraps the DER OCTET STRING
 * (04 41 04 X Y) or accepts the bare point (04 X Y). Throws on anything else.
 */
export function decodeEcPoint(value: Uint8Array): Buffer {
  const bytes = Buffer.from(value);
  if (bytes.length === 67 && bytes[0] === 0x04 && bytes[1] === 0x41 && bytes[2] === 0x04) return bytes.subarray(2);
  if (bytes.length === 65 && bytes[0] === 0x04) return bytes;
  throw new Error(`unexpected CKA_EC_POINT encoding (${bytes.length} bytes)`);
}

/**
 * Check a raw r || s signature against the curve order and, for curves that require it, replace
 * s by n - s when s > n/2. Both (r, s) and (r, n - s) verify for the same key and digest; the
 * low-s form is the only one Ethereum (EIP-2) and Bitcoin (BIP-62/146) accept.
 */
export function normaliseSignature(signature: Uint8Array, curve: EcCurve): Buffer {
  if (signature.length !== 64) throw new Error(`ECDSA signature must be 64 bytes, got ${signature.length}`);
  const { order, lowS } = EC_CURVES[curve];
  const r = toBigInt(signature.subarray(0, 32));
  let s = toBigInt(signature.subarray(32, 64));
  if (r <= 0n || r >= order || s <= 0n || s >= order) throw new Error('ECDSA signature is out of range for the curve');
  if (lowS && s > order >> 1n) s = order - s;
  return Buffer.concat([Buffer.from(signature.subarray(0, 32)), toBytes32(s)]);
}

function toBigInt(bytes: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

function toBytes32(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}
