/**
 * Byte encodings used on the wire: lowercase hex and standard padded base64
 * (RFC 4648 section 4). Decoders are strict: a value has exactly one accepted
 * spelling, so two different strings never name the same hash.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/** Decodes lowercase hex; returns null for anything else (odd length, uppercase, other characters, wrong length). */
export function fromHex(text: unknown, expectedLength?: number): Uint8Array | null {
  if (typeof text !== 'string' || !HEX_RE.test(text)) return null;
  const bytes = hexToBytes(text);
  if (expectedLength !== undefined && bytes.length !== expectedLength) return null;
  return bytes;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary);
}

/**
 * Decodes standard padded base64; returns null for anything else (URL-safe
 * alphabet, missing padding, whitespace, non-zero trailing bits, wrong length).
 */
export function fromBase64(text: unknown, expectedLength?: number): Uint8Array | null {
  if (typeof text !== 'string' || !BASE64_RE.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Non-zero padding bits decode to the same bytes: insist on the one canonical spelling.
  if (toBase64(bytes) !== text) return null;
  if (expectedLength !== undefined && bytes.length !== expectedLength) return null;
  return bytes;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** The first 4 bytes in hex followed by "..": enough for a person to tell two hashes apart in a message. */
export function shortHex(bytes: Uint8Array): string {
  return `${toHex(bytes.subarray(0, 4))}..`;
}

export function utf8Encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Decodes UTF-8, throwing on invalid sequences instead of substituting U+FFFD. */
export function utf8DecodeStrict(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
}
