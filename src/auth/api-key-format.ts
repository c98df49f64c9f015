/**
 * API key format and hashing. Plain module (used by the service and the admin CLI).
 *
 * A key is `psk_<prefix>_<secret>`: the prefix (8 hex chars) is a public handle shown in listings
 * and used to revoke a key; the secret is 32 random bytes (base64url). Only SHA-256 of the whole
 * key is stored. Keys carry 256 bits of entropy, so a fast hash is sufficient (no password
 * stretching needed) and lookups are by hash under a unique index.
 */
import { createHash, randomBytes } from 'node:crypto';

const KEY_PATTERN = /^psk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  /** The full key, shown once to its holder and never stored. */
  key: string;
  prefix: string;
  hash: Buffer;
}

export function generateApiKey(): NewApiKey {
  const prefix = randomBytes(4).toString('hex');
  const key = `psk_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Returns the prefix of a well-formed key, or null. */
export function parseApiKey(key: string): { prefix: string } | null {
  const m = KEY_PATTERN.exec(key);
  return m ? { prefix: m[1]! } : null;
}
