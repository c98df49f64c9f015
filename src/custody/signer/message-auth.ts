/**
 * Authentication of the messages between the coordinator and a signer node.
 *
 * A request is { payload: { nodeId, messageId, timestamp, path, body }, signature }: the coordinator
 * signs SHA-256 of the payload's canonical JSON (sorted keys, no whitespace) with its HSM-held P-256
 * key. `nodeId` names the node it is meant for and `path` the endpoint, so a request cannot be
 * redirected; `messageId` is random and stored by the node, so it cannot be replayed; `timestamp`
 * bounds how long the node must remember ids. A response is { payload: { nodeId, inReplyTo, timestamp,
 * status, body }, signature } signed by the node's own HSM key, which the coordinator pinned.
 *
 * Signatures are ECDSA P-256 over the 32-byte digest, raw r || s (64 bytes, hex).
 */
import { createHash, randomUUID } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

/** Anything that signs a 32-byte digest with a P-256 key (an HSM key pair). */
export interface MessageSigner {
  /** Uncompressed public key, 65 bytes. */
  readonly publicKey: Uint8Array;
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

export const MAX_CLOCK_SKEW_MS = 60_000;

export interface RequestPayload { nodeId: string; messageId: string; timestamp: number; path: string; body: unknown }
export interface ResponsePayload { nodeId: string; inReplyTo: string; timestamp: number; status: number; body: unknown }
export interface SignedMessage<P> { payload: P; signature: string }

/** Canonical JSON of plain data (objects with sorted keys, arrays, strings, finite numbers, booleans, null). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
}

export function messageDigest(payload: unknown): Uint8Array {
  return createHash('sha256').update(canonicalJson(payload), 'utf8').digest();
}

export async function signMessage<P>(signer: MessageSigner, payload: P): Promise<SignedMessage<P>> {
  const signature = await signer.signDigest(messageDigest(payload));
  return { payload, signature: Buffer.from(signature).toString('hex') };
}

/** True when `signature` (hex r || s) is a P-256 signature of the payload under `publicKey`. */
export function verifyMessage(message: SignedMessage<unknown>, publicKey: Uint8Array): boolean {
  if (typeof message.signature !== 'string' || !/^[0-9a-f]{128}$/.test(message.signature)) return false;
  try {
    return p256.verify(Buffer.from(message.signature, 'hex'), messageDigest(message.payload), publicKey, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

export function newRequestPayload(nodeId: string, path: string, body: unknown): RequestPayload {
  return { nodeId, messageId: randomUUID(), timestamp: Date.now(), path, body };
}

export function parsePublicKeyHex(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !/^04[0-9a-fA-F]{128}$/.test(text)) throw new Error(`${what} must be an uncompressed P-256 point in hex (65 bytes)`);
  const key = Uint8Array.from(Buffer.from(text, 'hex'));
  p256.Point.fromBytes(key); // throws when not on the curve
  return key;
}
