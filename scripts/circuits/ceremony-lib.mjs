/**
 * Helpers of the phase-2 ceremony tool (ceremony.mjs): a progress logger for
 * snarkjs, a small reader of a zkey's header and contribution list (to give a
 * clear error before a long verification), and hash formatting.
 */
import { open } from 'node:fs/promises';

export class CeremonyError extends Error {}

/**
 * A snarkjs logger that prints every info line and (at most once a second, or
 * all of them with `verbose`) the debug progress lines, each with the seconds
 * elapsed since the tool started. Info lines are kept in `lines` so that the
 * contribution list printed by snarkjs's verifier can be read back.
 */
export function progressLogger({ verbose = false, out = console.log, started = Date.now() } = {}) {
  let lastDebug = 0;
  const lines = [];
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  const print = (level, msg) => {
    const text = String(msg).replace(/\n\t\t/g, '\n          ').replace(/\t/g, ' ');
    out(`${stamp()} ${level === 'info' ? '' : `${level}: `}${text}`);
  };
  return {
    lines,
    stamp,
    step: (msg) => out(`${stamp()} ${msg}`),
    info: (msg) => {
      lines.push(String(msg));
      print('info', msg);
    },
    debug: (msg) => {
      const now = Date.now();
      if (verbose || now - lastDebug >= 1000) {
        lastDebug = now;
        print('debug', msg);
      }
    },
    warn: (msg) => print('warn', msg),
    error: (msg) => {
      lines.push(`ERROR ${msg}`);
      print('error', msg);
    },
  };
}

/** 64-byte blake2b hash -> 128 hex characters. */
export function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

/** A hash as snarkjs prints it (4 rows of 4 words), for contributors to compare. */
export function formatHash(hexHash, indent = '    ') {
  const words = hexHash.match(/.{8}/g) ?? [];
  const rows = [];
  for (let i = 0; i < words.length; i += 4) rows.push(indent + words.slice(i, i + 4).join(' '));
  return rows.join('\n');
}

/**
 * Contributions listed by snarkjs's zkey verifier (info lines
 * "contribution #N <name>:" + hash, optionally followed by the beacon lines),
 * in chain order.
 */
export function contributionsFromLog(lines) {
  const list = [];
  let current;
  for (const line of lines) {
    const m = /^contribution #(\d+) ?([\s\S]*?):\n([\s\S]*)$/.exec(line);
    if (m) {
      current = { index: Number(m[1]), name: m[2], hash: m[3].replace(/\s+/g, '') };
      list.push(current);
      continue;
    }
    const g = /^Beacon generator: ([0-9a-fA-F]+)$/.exec(line);
    if (g && current) current.beaconHash = g[1].toLowerCase();
    const e = /^Beacon iterations Exp: (\d+)$/.exec(line);
    if (e && current) current.beaconIterationsExp = Number(e[1]);
  }
  return list.sort((a, b) => a.index - b.index);
}

const GROTH16 = 1;
const G1_BYTES = 64;
const G2_BYTES = 128;

/**
 * Reads what the ceremony needs from a zkey without snarkjs: the circuit size
 * (header), the circuit hash that every contribution builds on, and each
 * contribution's name, type and beacon. Throws CeremonyError for anything that
 * is not a Groth16 zkey.
 */
export async function readZkeyInfo(file) {
  const fh = await open(file, 'r').catch((err) => {
    throw new CeremonyError(`${file}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`);
  });
  try {
    const { size } = await fh.stat();
    const read = async (pos, len) => {
      if (pos + len > size) throw new CeremonyError(`${file}: truncated zkey`);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      return buf;
    };
    const head = size >= 12 ? await read(0, 12) : Buffer.alloc(12);
    if (head.toString('latin1', 0, 4) !== 'zkey') throw new CeremonyError(`${file}: not a zkey file`);
    const nSections = head.readUInt32LE(8);
    const sections = {};
    let pos = 12;
    for (let i = 0; i < nSections; i++) {
      const h = await read(pos, 12);
      const type = h.readUInt32LE(0);
      const len = Number(h.readBigUInt64LE(4));
      sections[type] = { pos: pos + 12, len };
      pos += 12 + len;
      if (pos > size) throw new CeremonyError(`${file}: truncated zkey`);
    }
    if (!sections[1] || !sections[2] || !sections[10]) throw new CeremonyError(`${file}: zkey sections missing`);
    if ((await read(sections[1].pos, 4)).readUInt32LE(0) !== GROTH16) {
      throw new CeremonyError(`${file}: not a Groth16 zkey`);
    }

    const h = await read(sections[2].pos, sections[2].len);
    let o = 0;
    const n8q = h.readUInt32LE(o);
    o += 4 + n8q;
    const n8r = h.readUInt32LE(o);
    o += 4 + n8r;
    const header = { nVars: h.readUInt32LE(o), nPublic: h.readUInt32LE(o + 4), domainSize: h.readUInt32LE(o + 8) };

    const m = await read(sections[10].pos, sections[10].len);
    const circuitHash = hex(m.subarray(0, 64));
    const n = m.readUInt32LE(64);
    o = 68;
    const contributions = [];
    for (let i = 0; i < n; i++) {
      o += G1_BYTES * 3 + G2_BYTES + 64; // deltaAfter, g1_s, g1_sx, g2_spx, transcript
      const type = m.readUInt32LE(o);
      const paramLength = m.readUInt32LE(o + 4);
      o += 8;
      const end = o + paramLength;
      const c = { index: i + 1, type: type === 1 ? 'beacon' : 'contribution' };
      while (o < end) {
        const t = m[o++];
        if (t === 1) {
          const len = m[o++];
          c.name = m.toString('utf8', o, o + len);
          o += len;
        } else if (t === 2) {
          c.beaconIterationsExp = m[o++];
        } else if (t === 3) {
          const len = m[o++];
          c.beaconHash = hex(m.subarray(o, o + len));
          o += len;
        } else {
          throw new CeremonyError(`${file}: unknown contribution parameter ${t}`);
        }
      }
      contributions.push(c);
    }
    return { ...header, circuitHash, contributions };
  } catch (err) {
    if (err instanceof CeremonyError) throw err;
    throw new CeremonyError(`${file}: unreadable zkey (${err.message})`);
  } finally {
    await fh.close();
  }
}
