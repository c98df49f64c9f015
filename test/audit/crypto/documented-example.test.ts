/**
 * The worked example in docs/audit-log.md, as a test vector: if the code or
 * the page changes, one of them is wrong. The leaf hashes, root and digest
 * were also recomputed with Python's hashlib while the page was written.
 */
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import { type Checkpoint, checkpointBody, checkpointDigest, checkpointFromSignedNote, keyIdOf, verifyCheckpoint } from '../../../src/audit/crypto/checkpoint.js';
import { type AuditEvent, encodeEvent, eventLeafHash } from '../../../src/audit/crypto/event-encoding.js';
import { rootFromLeafHashes } from '../../../src/audit/crypto/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../../src/audit/crypto/verifier.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const EVENTS: AuditEvent[] = [0, 1, 2].map((seq) => ({
  seq,
  type: 'proof.issued',
  actor: 'wallet-app:demo',
  subject: `account:${seq}`,
  time: `2026-01-01T00:00:0${seq}.000Z`,
  body: { circuit: 'balance', threshold: '100.00' },
}));

const PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECW9Xma2J4IDf99tYOngeGWCx5qoU
R7CTyrTn4EmKHMEmG22oCjqZGGoJUr+kPl1kUL9EpygXyXEZhERiNucwTA==
-----END PUBLIC KEY-----
`;

const CHECKPOINT: Checkpoint = {
  origin: 'bank.example/audit',
  treeSize: 3,
  rootHash: 'YEpI8ibtUaM/FntE9Coa1Al3uRw/o7nzza6kK80YQcQ=',
  timestamp: 1767225603000,
  keyId: 'e1faacb9ac2e9a9afa748c018de31fd4f4261c8b2f3b791d287c8c9f2a0d74aa',
  signature: '5VOdo3uBZR/n3Xk31s0dDEFrGxTd8KZhNCgHqQVW6WNfkNKe54c5Idvl5dvhynP8mCpA9vIa+GVYm4xjM61PyA==',
};

const CHECKPOINT_2: Omit<Checkpoint, 'keyId' | 'signature'> = {
  origin: 'bank.example/audit',
  treeSize: 2,
  rootHash: 'Ij+IsSd1q2RjHX5XwNvPb2kZbHAqqibYJPf3HjVeIWY=',
  timestamp: 0,
};

const NOTE =
  'bank.example/audit\n3\nYEpI8ibtUaM/FntE9Coa1Al3uRw/o7nzza6kK80YQcQ=\ntimestamp-ms 1767225603000\n\n' +
  '\u2014 bank.example/audit 4fqsuTBFAiEA5VOdo3uBZR/n3Xk31s0dDEFrGxTd8KZhNCgHqQVW6WMCIF+Q0p7nhzkh2+Xl2+HKc/yYKkD28hr4ZVibjGMzrU/I\n';

describe('the worked example of docs/audit-log.md', () => {
  it('encodes the events and hashes the leaves and root as documented', () => {
    expect(new TextDecoder().decode(encodeEvent(EVENTS[0]!))).toBe(
      '{"actor":"wallet-app:demo","body":{"circuit":"balance","threshold":"100.00"},"seq":0,"subject":"account:0","time":"2026-01-01T00:00:00.000Z","type":"proof.issued"}',
    );
    const leaves = EVENTS.map(eventLeafHash);
    expect(leaves.map(hex)).toEqual([
      '9bd962a669487356797adc143d69d0af981d76933f37f83b0f064b71070ba77f',
      '5223777bbc91c78f2249fa3194d41f825ab3b8af6b12eb3ec20faabb15c42e74',
      '19ab99816a046f42ec85977afded1b5e7f81b9eb83e1457ad39f1f1dda843066',
    ]);
    expect(hex(rootFromLeafHashes(leaves))).toBe('604a48f226ed51a33f167b44f42a1ad40977b91c3fa3b9f3cdaea42bcd1841c4');
  });

  it('signs the documented body, which OpenSSL verifies with the documented key', () => {
    expect(checkpointBody(CHECKPOINT)).toBe('bank.example/audit\n3\nYEpI8ibtUaM/FntE9Coa1Al3uRw/o7nzza6kK80YQcQ=\ntimestamp-ms 1767225603000\n');
    expect(hex(checkpointDigest(CHECKPOINT))).toBe('5299e45dc6f4dd5450eb229bd35ad799028b2b9c8342c530f06a18f6ff4e4d31');
    expect(keyIdOf(PEM)).toBe(CHECKPOINT.keyId);
    expect(verifyCheckpoint(CHECKPOINT, PEM)).toEqual({ ok: true });
    const ok = opensslVerify(
      'sha256',
      Buffer.from(checkpointBody(CHECKPOINT)),
      { key: createPublicKey(PEM), dsaEncoding: 'ieee-p1363' },
      Buffer.from(CHECKPOINT.signature, 'base64'),
    );
    expect(ok).toBe(true);
    expect(checkpointFromSignedNote(NOTE, PEM)).toEqual(CHECKPOINT);
  });

  it('verifies the documented proofs', () => {
    const inclusion = { leafIndex: 1, treeSize: 3, hashes: ['m9lipmlIc1Z5etwUPWnQr5gddpM/N/g7DwZLcQcLp38=', 'GauZgWoEb0LshZd6/e0bXn+BueuD4UV6058fHdqEMGY='] };
    expect(verifyInclusion(EVENTS[1]!, 1, inclusion, CHECKPOINT, { publicKey: PEM })).toEqual({ ok: true });
    const consistency = { size1: 2, size2: 3, hashes: ['GauZgWoEb0LshZd6/e0bXn+BueuD4UV6058fHdqEMGY='] };
    expect(verifyConsistency({ ...CHECKPOINT_2, keyId: '', signature: '' }, CHECKPOINT, consistency)).toEqual({ ok: true });
  });
});
