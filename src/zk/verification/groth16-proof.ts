/**
 * The shape of a Groth16 proof as snarkjs writes it (proof.json), checked before any pairing is
 * computed. A plain module: relying parties can use it as is.
 *
 * snarkjs gives the points in projective coordinates over the BN254 base field:
 *   pi_a = [x, y, "1"]                      (G1)
 *   pi_b = [[x0, x1], [y0, y1], ["1", "0"]] (G2, coordinates in Fp2)
 *   pi_c = [x, y, "1"]                      (G1)
 * Every coordinate is a canonical decimal string below the base field modulus q. Whether the
 * points are on the curve and in the right subgroup is checked by snarkjs' verifier, which
 * answers false (an invalid proof) when they are not.
 */
import type { Groth16Proof } from 'snarkjs';

/** BN254 base field modulus (coordinates of proof points). */
export const BASE_FIELD_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

/** A proof that is not a well-formed Groth16 proof; the message says which part. */
export class MalformedProofError extends Error {
  override readonly name = 'MalformedProofError';
}

function coordinate(value: unknown, where: string): string {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,76})$/.test(value) || BigInt(value) >= BASE_FIELD_MODULUS) {
    throw new MalformedProofError(`${where} is not a canonical decimal coordinate`);
  }
  return value;
}

function g1(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length !== 3) throw new MalformedProofError(`${name} must be an array of 3 decimal strings`);
  const p = value.map((v, i) => coordinate(v, `${name}[${i}]`));
  if (p[2] !== '1') throw new MalformedProofError(`${name}[2] must be "1" (affine point)`);
  return p;
}

function g2(value: unknown, name: string): string[][] {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((pair) => Array.isArray(pair) && pair.length === 2)) {
    throw new MalformedProofError(`${name} must be an array of 3 pairs of decimal strings`);
  }
  const p = (value as unknown[][]).map((pair, i) => pair.map((v, j) => coordinate(v, `${name}[${i}][${j}]`)));
  if (p[2]![0] !== '1' || p[2]![1] !== '0') throw new MalformedProofError(`${name}[2] must be ["1", "0"] (affine point)`);
  return p;
}

/**
 * Checks and normalises a Groth16 proof object: returns a fresh object holding only the fields
 * the verifier reads, so nothing else a caller sent reaches snarkjs.
 */
export function parseGroth16Proof(value: unknown): Groth16Proof {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MalformedProofError('the proof must be an object');
  const p = value as Record<string, unknown>;
  if (p.protocol !== undefined && p.protocol !== 'groth16') throw new MalformedProofError('protocol must be "groth16"');
  if (p.curve !== undefined && p.curve !== 'bn128') throw new MalformedProofError('curve must be "bn128"');
  return {
    pi_a: g1(p.pi_a, 'pi_a'),
    pi_b: g2(p.pi_b, 'pi_b'),
    pi_c: g1(p.pi_c, 'pi_c'),
    protocol: 'groth16',
    curve: 'bn128',
  };
}
