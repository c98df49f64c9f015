/** Byte formats of EC keys and signatures, checked against the curve orders and noble. */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { curveFromParams, decodeEcPoint, EC_CURVES, normaliseSignature } from '../../src/hsm/ec-curves.js';

const hex32 = (n: bigint) => n.toString(16).padStart(64, '0');
const sig = (r: bigint, s: bigint) => Buffer.from(hex32(r) + hex32(s), 'hex');

describe('EC curve constants', () => {
  it('match noble', () => {
    expect(EC_CURVES.secp256k1.order).toBe(secp256k1.Point.Fn.ORDER);
  });

  it('map CKA_EC_PARAMS to curve names', () => {
    expect(curveFromParams(Buffer.from('06052b8104000a', 'hex'))).toBe('secp256k1');
    expect(curveFromParams(Buffer.from('06082a8648ce3d030107', 'hex'))).toBe('P-256');
    expect(curveFromParams(Buffer.from('06052b81040022', 'hex'))).toBeUndefined(); // P-384
  });
});

describe('decodeEcPoint', () => {
  const point = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]);
  it('unwraps the DER OCTET STRING and accepts a bare point', () => {
    expect(decodeEcPoint(Buffer.concat([Buffer.from([4, 0x41]), point]))).toEqual(point);
    expect(decodeEcPoint(point)).toEqual(point);
  });
  it('rejects compressed or truncated points', () => {
    expect(() => decodeEcPoint(Buffer.concat([Buffer.from([2]), Buffer.alloc(32)]))).toThrow('33 bytes');
    expect(() => decodeEcPoint(Buffer.from([4, 0x41, 4]))).toThrow();
  });
});

describe('normaliseSignature', () => {
  const n = EC_CURVES.secp256k1.order;
  it('replaces a high s by n - s on secp256k1 only', () => {
    expect(normaliseSignature(sig(5n, n - 1n), 'secp256k1')).toEqual(sig(5n, 1n));
    expect(normaliseSignature(sig(5n, n / 2n), 'secp256k1')).toEqual(sig(5n, n / 2n));
    expect(normaliseSignature(sig(5n, n / 2n + 1n), 'secp256k1')).toEqual(sig(5n, n - (n / 2n + 1n)));
    const pn = EC_CURVES['P-256'].order;
    expect(normaliseSignature(sig(5n, pn - 1n), 'P-256')).toEqual(sig(5n, pn - 1n));
  });

  it('keeps a signature valid when it flips s', () => {
    const secretKey = secp256k1.utils.randomSecretKey();
    const digest = new Uint8Array(32).fill(9);
    const low = secp256k1.sign(digest, secretKey, { prehash: false });
    const s = BigInt('0x' + Buffer.from(low.subarray(32)).toString('hex'));
    const high = Buffer.concat([Buffer.from(low.subarray(0, 32)), Buffer.from(hex32(n - s), 'hex')]);
    const fixed = normaliseSignature(high, 'secp256k1');
    expect(fixed).toEqual(Buffer.from(low));
    expect(secp256k1.verify(fixed, digest, secp256k1.getPublicKey(secretKey, false), { prehash: false })).toBe(true);
  });

  it('rejects values outside [1, n-1] and wrong lengths', () => {
    expect(() => normaliseSignature(sig(0n, 1n), 'secp256k1')).toThrow('out of range');
    expect(() => normaliseSignature(sig(1n, n), 'secp256k1')).toThrow('out of range');
    expect(() => normaliseSignature(Buffer.alloc(63), 'secp256k1')).toThrow('64 bytes');
  });
});
