/**
 * Fiat-Shamir transcripts: SHA-256 over a domain tag and length-prefixed fields, so no two
 * different statements (or protocols) can hash the same byte string.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { type GroupPoint, bytesToBigInt, modN, pointBytes, scalarBytes } from './group.js';

export class Transcript {
  private readonly parts: Uint8Array[] = [];

  constructor(domain: string) {
    this.bytes('domain', utf8ToBytes(domain));
  }

  bytes(label: string, data: Uint8Array): this {
    const l = utf8ToBytes(label);
    this.parts.push(u32(l.length), l, u32(data.length), data);
    return this;
  }

  text(label: string, value: string): this {
    return this.bytes(label, utf8ToBytes(value));
  }

  point(label: string, p: GroupPoint): this {
    return this.bytes(label, pointBytes(p));
  }

  scalar(label: string, s: bigint): this {
    return this.bytes(label, scalarBytes(s));
  }

  /** A challenge scalar: 512 bits (two counter-separated SHA-256 blocks) reduced mod n. */
  challenge(): bigint {
    const t = concatBytes(...this.parts);
    return modN(bytesToBigInt(concatBytes(sha256(concatBytes(t, Uint8Array.of(0))), sha256(concatBytes(t, Uint8Array.of(1))))));
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
