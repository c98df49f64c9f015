/**
 * The canonical leaf encoding of audit events: RFC 8785 (JCS) + UTF-8, and
 * the refusal of everything JSON cannot represent exactly.
 */
import { canonicalJsonBytes, decodeEvent, encodeEvent, eventLeafHash, type AuditEvent } from '../../../src/audit/crypto/event-encoding.js';
import { EventEncodingError } from '../../../src/audit/crypto/errors.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const EVENT: AuditEvent = {
  seq: 41,
  type: 'custody.ceremony.approved',
  actor: 'operator:alice',
  subject: 'ceremony:7f3a',
  time: '2026-01-31T12:00:00.000Z',
  body: { wallet: '0xabc', approvals: 2, note: 'café €' },
};

describe('audit event leaf encoding', () => {
  it('encodes the six members with JCS, as an outside implementation computes it', () => {
    const expected =
      '{"actor":"operator:alice","body":{"approvals":2,"note":"café €","wallet":"0xabc"},"seq":41,' +
      '"subject":"ceremony:7f3a","time":"2026-01-31T12:00:00.000Z","type":"custody.ceremony.approved"}';
    const bytes = encodeEvent(EVENT);
    expect(text(bytes)).toBe(expected);
    expect(bytes.length).toBe(189); // UTF-8: é and € are 2 and 3 bytes
    // SHA-256(0x00 || bytes), computed independently (Python hashlib)
    expect(Buffer.from(eventLeafHash(EVENT)).toString('hex')).toBe('8a16fcd7ca89393493eadf54f54d02845d7b5e319d0a3adbbce6ef6461fff18d');
  });

  it('does not depend on member order, and ignores properties outside the six', () => {
    const reordered = {
      id: 'db-row-9',
      body: { note: 'café €', approvals: 2, wallet: '0xabc' },
      time: EVENT.time,
      subject: EVENT.subject,
      actor: EVENT.actor,
      type: EVENT.type,
      seq: 41n,
    } as AuditEvent;
    expect(encodeEvent(reordered)).toEqual(encodeEvent(EVENT));
  });

  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3)', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(text(canonicalJsonBytes(value))).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('serializes numbers, strings and literals as RFC 8785 section 3.2.4 shows', () => {
    const value = {
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    expect(text(canonicalJsonBytes(value))).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('writes non-ASCII text as raw UTF-8 and -0 as 0', () => {
    const bytes = canonicalJsonBytes({ s: '€😀', z: -0 });
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from('{"s":"€😀","z":0}', 'utf8').toString('hex'));
  });

  it('accepts seq as a number or a bigint, with the same bytes', () => {
    expect(encodeEvent({ ...EVENT, seq: 9007199254740991n })).toEqual(encodeEvent({ ...EVENT, seq: Number.MAX_SAFE_INTEGER }));
  });

  const bad: [string, unknown, RegExp][] = [
    ['undefined body', undefined, /body is undefined/],
    ['undefined member', { a: undefined }, /body\.a is undefined/],
    ['undefined array element', [1, undefined], /body\[1\]/],
    ['NaN', { n: Number.NaN }, /NaN/],
    ['Infinity', [Infinity], /Infinity/],
    ['-Infinity', -Infinity, /Infinity/],
    ['a function', { f: () => 1 }, /function/],
    ['a symbol', { s: Symbol('x') }, /symbol/],
    ['a bigint', { amount: 10n }, /bigint.*decimal string/],
    ['a Date', { at: new Date(0) }, /Date.*plain object/],
    ['a Map', new Map([['a', 1]]), /Map/],
    ['a class instance', new (class Payment {})(), /Payment/],
    ['a sparse array', [1, , 3], /hole/], // eslint-disable-line no-sparse-arrays
    ['a lone surrogate', { s: 'a\ud800b' }, /lone UTF-16 surrogate/],
    ['a lone surrogate key', { ['\udc00']: 1 }, /lone UTF-16 surrogate/],
    ['symbol keys', { [Symbol('k')]: 1 }, /symbol keys/],
  ];
  it.each(bad)('rejects %s in the body', (_name, body, message) => {
    expect(() => encodeEvent({ ...EVENT, body: body as never })).toThrow(EventEncodingError);
    expect(() => encodeEvent({ ...EVENT, body: body as never })).toThrow(message);
  });

  it('rejects cycles and deep nesting instead of overflowing the stack', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeEvent({ ...EVENT, body: cycle as never })).toThrow(/nested deeper/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => encodeEvent({ ...EVENT, body: deep as never })).toThrow(EventEncodingError);
  });

  it.each([
    ['seq', -1],
    ['seq', 1.5],
    ['seq', 2 ** 53],
    ['seq', 2n ** 53n],
    ['seq', '41'],
    ['type', ''],
    ['type', 7],
    ['actor', ''],
    ['subject', null],
    ['time', '2026-01-31T12:00:00Z'],
    ['time', '2026-01-31T12:00:00.000+01:00'],
    ['time', '2026-02-30T12:00:00.000Z'],
    ['time', '2026-01-31 12:00:00.000Z'],
    ['time', 1769860800000],
  ])('rejects %s = %p', (member, value) => {
    expect(() => encodeEvent({ ...EVENT, [member]: value } as AuditEvent)).toThrow(EventEncodingError);
  });

  it('accepts an empty subject and a null body', () => {
    expect(text(encodeEvent({ ...EVENT, subject: '', body: null }))).toContain('"body":null');
  });

  it('copies the body, so getters and later mutation cannot change what was hashed', () => {
    let reads = 0;
    const body = {
      get value() {
        reads++;
        return reads;
      },
    };
    expect(text(encodeEvent({ ...EVENT, body }))).toContain('"body":{"value":1}');
  });

  it('decodes canonical leaf data and nothing else', () => {
    const bytes = encodeEvent(EVENT);
    expect(decodeEvent(bytes)).toEqual({ ...EVENT });
    const json = text(bytes);
    const reject = (s: string) => expect(() => decodeEvent(new TextEncoder().encode(s))).toThrow(EventEncodingError);
    reject(json.replace('{"actor"', '{ "actor"')); // whitespace
    reject(json.replace('"approvals":2,', '').replace('"wallet":"0xabc"', '"wallet":"0xabc","approvals":2')); // order
    reject(json.replace('{"actor":"operator:alice",', '{"actor":"x","actor":"operator:alice",')); // duplicate
    reject(json.replace('{"actor"', '{"extra":1,"actor"')); // extra member
    reject(json.replace('"seq":41', '"seq":41.0'));
    reject(json.replace('café', 'caf\\u00e9'));
    reject('[]');
    expect(() => decodeEvent(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow(/not UTF-8 JSON/);
  });
});
