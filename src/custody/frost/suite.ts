/**
 * The one ciphersuite the custody wallets use: FROST(secp256k1, SHA-256), RFC 9591 Section 6.5,
 * as implemented by @noble/curves. This file holds the suite, its byte codecs and the few
 * helpers the contract side needs (challenge, key and signature in contract form).
 */
import { secp256k1, secp256k1_FROST, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import type { ContractGroupKey, ContractSignature, Hex, Identifier } from './types.js';

/** The noble FROST(secp256k1, SHA-256) suite (context string "FROST-secp256k1-SHA256-v1"). */
export const suite = secp256k1_FROST;

/** RFC 9591 Section 6.5 H2 domain separation tag: contextString || "chal". */
export const CHALLENGE_DST = 'FROST-secp256k1-SHA256-v1chal';

/** secp256k1 group order n. */
export const CURVE_ORDER = secp256k1.Point.Fn.ORDER;

/** Length of a serialized group signature: compressed R (33) || z (32). */
export const SIGNATURE_LENGTH = 65;

export const toHex = (bytes: Uint8Array): Hex => bytesToHex(bytes);

/** Hex (with or without 0x) to bytes; rejects anything else with a message that carries no data. */
export function fromHex(hex: Hex, what: string): Uint8Array<ArrayBuffer> {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new TypeError(`${what}: expected hex`);
  return Uint8Array.from(hexToBytes(clean));
}

/** The identifier of participant number `n` (1, 2, ...), RFC 9591 Section 5.1. */
export function identifierFromNumber(n: number): Identifier {
  return suite.Identifier.fromNumber(n);
}

/** An identifier derived from a stable name (e.g. an operator's node id), as frost-rs derives it. */
export function identifierFromName(name: string): Identifier {
  return suite.Identifier.derive(name);
}

/**
 * The RFC 9591 challenge for this suite, c = H2(SerializeElement(R) || SerializeElement(PK) || msg)
 * (Section 4.6 compute_challenge, H2 of Section 6.5: hash_to_field with expand_message_xmd SHA-256,
 * L = 48, DST "FROST-secp256k1-SHA256-v1chal"). noble's hasher is the same function its FROST uses.
 */
export function challenge(groupCommitment: Uint8Array, groupPublicKey: Uint8Array, msg: Uint8Array): bigint {
  const input = new Uint8Array(groupCommitment.length + groupPublicKey.length + msg.length);
  input.set(groupCommitment, 0);
  input.set(groupPublicKey, groupCommitment.length);
  input.set(msg, groupCommitment.length + groupPublicKey.length);
  return secp256k1_hasher.hashToScalar(input, { DST: CHALLENGE_DST });
}

/** Splits a 65-byte group signature into R (compressed) and z. */
export function parseSignature(signature: Hex): { R: Uint8Array; z: bigint } {
  const bytes = fromHex(signature, 'signature');
  if (bytes.length !== SIGNATURE_LENGTH) throw new TypeError('signature: expected 65 bytes');
  const z = BigInt(`0x${toHex(bytes.subarray(33))}`);
  if (z >= CURVE_ORDER) throw new TypeError('signature: z out of range');
  return { R: bytes.subarray(0, 33), z };
}

/** A group signature in the form the wallet contract verifies: R as (x, y), and z. */
export function signatureForContract(signature: Hex): ContractSignature {
  const { R, z } = parseSignature(signature);
  const point = secp256k1.Point.fromBytes(R).toAffine();
  return { rx: point.x, ry: point.y, z };
}

/**
 * A group public key in the form the wallet contract stores: x and the parity of y.
 * The contract feeds x to ecrecover as its `r`, which must be below n: such a key (probability
 * about 2^-128) is refused here, and the group runs a new DKG.
 */
export function groupKeyForContract(groupPublicKey: Hex): ContractGroupKey {
  const point = secp256k1.Point.fromBytes(fromHex(groupPublicKey, 'group public key')).toAffine();
  if (point.x >= CURVE_ORDER) throw new RangeError('group public key: x >= n, not usable with ecrecover');
  return { x: point.x, parity: Number(point.y & 1n) };
}
