/**
 * The 32 bytes a regulator signs for any analytics submission (deals, verdicts, task approvals,
 * partial decryptions): SHA-256 of the RFC 8785 canonical JSON of `{ domain, ...body }`. The
 * domain names the kind of submission, so a signature over one kind is never valid for another.
 * Canonical JSON lets any client recompute the digest from the facts alone, whatever its
 * language or key order. Values JSON cannot carry exactly (bigint, undefined, NaN...) are refused.
 *
 * Plain module: no framework or database imports.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJsonBytes } from '../audit/crypto/event-encoding.js';

export function signedDigest(domain: string, body: object): Uint8Array {
  if (typeof domain !== 'string' || domain.length === 0) throw new TypeError('domain must be a non-empty string');
  if ('domain' in body) throw new TypeError('body must not have a member named domain');
  return sha256(canonicalJsonBytes({ domain, ...body }));
}

/** Lower-case hex of a digest, as the API shows it (no 0x). */
export const digestToHex = (digest: Uint8Array): string => Buffer.from(digest).toString('hex');
