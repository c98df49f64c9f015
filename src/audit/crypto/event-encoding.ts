/**
 * The leaf of the audit log: one security-relevant event, encoded as bytes
 * that anyone can reproduce.
 *
 *   leaf data = UTF-8( JCS( { "actor", "body", "seq", "subject", "time", "type" } ) )
 *   leaf hash = SHA-256(0x00 || leaf data)                      (RFC 9162 2.1.1)
 *
 * JCS is the JSON Canonicalization Scheme of RFC 8785: members sorted by
 * UTF-16 code units, no whitespace, strings in their shortest JSON escape
 * form, numbers as ECMAScript's Number-to-String. The encoding is what is
 * hashed, so it must not depend on key order, on the language that built the
 * object, or on anything JSON cannot say. Values JSON cannot carry (undefined,
 * NaN, Infinity, functions, symbols, bigint, Dates and other class instances,
 * sparse arrays, lone surrogates) are refused rather than silently dropped or
 * converted, as JSON.stringify would do.
 *
 * `seq` is the leaf index, so an event names its own position in the log and
 * a verifier can check that a proof is for the index the event claims.
 */
import canonicalize from 'canonicalize';
import { utf8DecodeStrict, utf8Encode } from './bytes.js';
import { EventEncodingError } from './errors.js';
import { leafHash } from './merkle.js';

/** A value JSON can represent exactly. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One event of the audit log. */
export interface AuditEvent {
  /** The leaf index of this event in the log (0-based), below 2^53. */
  readonly seq: number | bigint;
  /** What happened, e.g. "custody.ceremony.approved". Non-empty. */
  readonly type: string;
  /** Who did it (an API client, operator, regulator or the service itself). Non-empty. */
  readonly actor: string;
  /** What it was done to (a wallet, ceremony, task...). May be empty. */
  readonly subject: string;
  /** When, as ISO 8601 UTC with milliseconds: "2026-01-31T12:00:00.000Z". */
  readonly time: string;
  /** Event details: any JSON value. Never put secrets here: the leaf is served to anyone holding a proof. */
  readonly body: JsonValue;
}

/** The six members of the encoded object, in JCS order. */
const EVENT_MEMBERS = ['actor', 'body', 'seq', 'subject', 'time', 'type'] as const;

/** Nesting limit for `body`, so a hostile value cannot exhaust the stack. */
export const MAX_BODY_DEPTH = 64;

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}

function requireString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new EventEncodingError(`${path} must be a string, got ${describe(value)}`);
  if (LONE_SURROGATE.test(value)) throw new EventEncodingError(`${path} contains a lone UTF-16 surrogate, which UTF-8 cannot encode`);
  return value;
}

/**
 * Checks that `value` is plain JSON and returns a fresh copy made only of
 * JSON values (so getters, toJSON methods or later mutation cannot change what
 * is hashed). Throws {@link EventEncodingError} naming the offending path.
 */
export function toJsonValue(value: unknown, path = 'value', depth = 0): JsonValue {
  if (depth > MAX_BODY_DEPTH) throw new EventEncodingError(`${path} is nested deeper than ${MAX_BODY_DEPTH} levels`);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return requireString(value, path);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new EventEncodingError(`${path} is ${value}, which is not a JSON number`);
    return value;
  }
  if (typeof value === 'bigint') {
    throw new EventEncodingError(`${path} is a bigint; JSON numbers are IEEE doubles, so encode it as a decimal string`);
  }
  if (typeof value !== 'object') throw new EventEncodingError(`${path} is ${describe(value)}, which is not a JSON value`);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw new EventEncodingError(`${path} is not a plain array`);
    const out: JsonValue[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new EventEncodingError(`${path}[${i}] is a hole in a sparse array`);
      out.push(toJsonValue(value[i], `${path}[${i}]`, depth + 1));
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new EventEncodingError(`${path} is ${describe(value)}, not a plain object; convert it to JSON values first`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) throw new EventEncodingError(`${path} has symbol keys`);
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) {
    const child = `${path}.${key}`;
    requireString(key, `the key of ${child}`);
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) throw new EventEncodingError(`${child} is undefined; omit the member or use null`);
    Object.defineProperty(out, key, { value: toJsonValue(member, child, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** RFC 8785 JCS of a plain JSON value, as UTF-8 bytes. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  const text = canonicalize(toJsonValue(value));
  if (text === undefined) throw new EventEncodingError('the value has no JSON representation');
  return utf8Encode(text);
}

function requireSeq(seq: unknown): number {
  if (typeof seq === 'bigint') {
    if (seq < 0n || seq > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new EventEncodingError(`seq must be between 0 and 2^53 - 1, got ${seq}`);
    }
    return Number(seq);
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new EventEncodingError(`seq must be a non-negative integer below 2^53, got ${describe(seq)}`);
  }
  return seq;
}

function requireTime(time: unknown): string {
  requireString(time, 'time');
  const text = time as string;
  if (!ISO_UTC_MS.test(text) || Number.isNaN(Date.parse(text)) || new Date(text).toISOString() !== text) {
    throw new EventEncodingError(`time must be ISO 8601 UTC with milliseconds (2026-01-31T12:00:00.000Z), got ${JSON.stringify(text)}`);
  }
  return text;
}

/** The checked, JSON-only object that is canonicalized (members exactly those of {@link EVENT_MEMBERS}). */
function eventObject(event: AuditEvent): Record<(typeof EVENT_MEMBERS)[number], JsonValue> {
  if (event === null || typeof event !== 'object') throw new EventEncodingError(`an audit event must be an object, got ${describe(event)}`);
  const type = requireString(event.type, 'type');
  const actor = requireString(event.actor, 'actor');
  if (type === '') throw new EventEncodingError('type must not be empty');
  if (actor === '') throw new EventEncodingError('actor must not be empty');
  if (event.body === undefined) throw new EventEncodingError('body is undefined; use null for an event without details');
  return {
    actor,
    body: toJsonValue(event.body, 'body', 0),
    seq: requireSeq(event.seq),
    subject: requireString(event.subject, 'subject'),
    time: requireTime(event.time),
    type,
  };
}

/**
 * The leaf data of an event: UTF-8 of the JCS encoding of its six members.
 * Other properties of the object (a database id, say) are not part of the leaf.
 */
export function encodeEvent(event: AuditEvent): Uint8Array {
  return utf8Encode(canonicalize(eventObject(event))!);
}

/** RFC 9162 leaf hash of an event: SHA-256(0x00 || encodeEvent(event)). */
export function eventLeafHash(event: AuditEvent): Uint8Array {
  return leafHash(encodeEvent(event));
}

/**
 * Parses leaf data back into an event, accepting only the canonical encoding
 * (so one event has exactly one leaf). `seq` comes back as a number.
 */
export function decodeEvent(data: Uint8Array): AuditEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8DecodeStrict(data));
  } catch {
    throw new EventEncodingError('the leaf data is not UTF-8 JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EventEncodingError('the leaf data is not a JSON object');
  }
  const keys = Object.keys(parsed).sort();
  if (keys.join(',') !== EVENT_MEMBERS.join(',')) {
    throw new EventEncodingError(`the leaf data must have exactly the members ${EVENT_MEMBERS.join(', ')}; it has ${keys.join(', ')}`);
  }
  const event = parsed as unknown as AuditEvent;
  const reencoded = encodeEvent(event);
  if (reencoded.length !== data.length || reencoded.some((b, i) => b !== data[i])) {
    throw new EventEncodingError('the leaf data is not in canonical (RFC 8785) form');
  }
  return { seq: event.seq, type: event.type, actor: event.actor, subject: event.subject, time: event.time, body: event.body };
}
