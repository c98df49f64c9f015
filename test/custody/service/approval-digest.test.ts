/**
 * The approval digest and signature check, against independent implementations: the canonical
 * JSON is a fixed string, its digest equals Node's SHA-256 of it, and a P-256 signature made by
 * Node's own ECDSA (OpenSSL, ECDSA-SHA256 over the JSON, high or low S) verifies; secp256k1
 * signatures must be low-S; tampering with the request changes the digest.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  canonicalCeremonyJson, canonicalPolicyProposalJson, ceremonyDigest, isValidPublicKey, policyProposalDigest, verifyApproval,
} from '../../../src/custody/service/approval-digest.js';

const facts = {
  wallet: '0xAbCdEf0000000000000000000000000000000001',
  to: '0x1111111111111111111111111111111111111111',
  value: 10n ** 18n,
  dataHash: '0xC5D2460186F7233C927E7DB2DCC703C0E500B653CA82273B7BFAD8045D85A470',
  nonce: 7n,
  ceremonyId: '5A0C0C1E-0000-4000-8000-000000000001',
  expiresAt: new Date('2026-01-02T03:04:05.678Z'),
};

describe('ceremony approval digest', () => {
  it('is the SHA-256 of a fixed canonical JSON', () => {
    const json = canonicalCeremonyJson(facts);
    expect(json).toBe(
      '{"ceremonyId":"5a0c0c1e-0000-4000-8000-000000000001","dataHash":"0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",' +
        '"expiresAt":"2026-01-02T03:04:05.678Z","nonce":"7","to":"0x1111111111111111111111111111111111111111","value":"1000000000000000000",' +
        '"wallet":"0xabcdef0000000000000000000000000000000001"}',
    );
    expect(Buffer.from(ceremonyDigest(facts)).toString('hex')).toBe(createHash('sha256').update(json).digest('hex'));
    expect(Buffer.from(ceremonyDigest({ ...facts, value: facts.value + 1n }))).not.toEqual(Buffer.from(ceremonyDigest(facts)));
  });

  it('verifies P-256 signatures made by an independent ECDSA implementation', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const raw = publicKey.export({ format: 'der', type: 'spki' });
    // The last 65 bytes of the SPKI are the uncompressed point; compress it.
    const point = raw.subarray(raw.length - 65);
    const compressed = Buffer.concat([Buffer.from([point[64]! & 1 ? 3 : 2]), point.subarray(1, 33)]).toString('hex');
    expect(isValidPublicKey('p256', compressed)).toBe(true);
    const digest = ceremonyDigest(facts);
    for (let i = 0; i < 8; i++) {
      const sig = sign('sha256', Buffer.from(canonicalCeremonyJson(facts)), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex');
      expect(verifyApproval('p256', compressed, digest, sig)).toBe(true);
      expect(verifyApproval('p256', compressed, ceremonyDigest({ ...facts, nonce: 8n }), sig)).toBe(false);
    }
  });

  it('accepts low-S secp256k1 signatures only, and nothing malformed', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const pk = Buffer.from(secp256k1.getPublicKey(sk, true)).toString('hex');
    const digest = ceremonyDigest(facts);
    const sig = secp256k1.sign(digest, sk, { prehash: false });
    expect(verifyApproval('secp256k1', pk, digest, Buffer.from(sig).toString('hex'))).toBe(true);
    const n = secp256k1.Point.CURVE().n;
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'));
    const highS = Buffer.concat([Buffer.from(sig.subarray(0, 32)), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]).toString('hex');
    expect(verifyApproval('secp256k1', pk, digest, highS)).toBe(false);
    expect(verifyApproval('secp256k1', pk, digest, 'zz'.repeat(64))).toBe(false);
    expect(verifyApproval('secp256k1', '02' + 'ff'.repeat(32), digest, Buffer.from(sig).toString('hex'))).toBe(false);
    expect(isValidPublicKey('secp256k1', '02' + 'ff'.repeat(32))).toBe(false);
  });
});

describe('policy proposal digest', () => {
  const proposal = {
    wallet: '0xAbCdEf0000000000000000000000000000000001',
    proposalId: '5A0C0C1E-0000-4000-8000-000000000002',
    baseVersion: 3,
    expiresAt: new Date('2026-01-02T03:04:05.678Z'),
    // Keys out of order on purpose: the canonical form sorts them.
    policy: { quorum: 2, operators: ['bob', 'alice'], perTransactionLimit: '1000', dailyLimit: '5000', allowlist: ['0x1111111111111111111111111111111111111111', '0xABCDEF0000000000000000000000000000000002'], delayAbove: null, delaySeconds: 0 },
  };

  it('is the SHA-256 of a fixed canonical JSON, distinct from any ceremony digest', () => {
    const json = canonicalPolicyProposalJson(proposal);
    expect(json).toBe(
      '{"baseVersion":3,"expiresAt":"2026-01-02T03:04:05.678Z","policy":{"allowlist":["0x1111111111111111111111111111111111111111",' +
        '"0xabcdef0000000000000000000000000000000002"],"dailyLimit":"5000","delayAbove":null,"delaySeconds":0,"operators":["bob","alice"],' +
        '"perTransactionLimit":"1000","quorum":2},"proposalId":"5a0c0c1e-0000-4000-8000-000000000002","type":"custody-policy-proposal",' +
        '"wallet":"0xabcdef0000000000000000000000000000000001"}',
    );
    expect(Buffer.from(policyProposalDigest(proposal)).toString('hex')).toBe(createHash('sha256').update(json).digest('hex'));
    for (const changed of [{ baseVersion: 4 }, { policy: { ...proposal.policy, quorum: 1 } }, { policy: { ...proposal.policy, delayAbove: '0' } }]) {
      expect(Buffer.from(policyProposalDigest({ ...proposal, ...changed }))).not.toEqual(Buffer.from(policyProposalDigest(proposal)));
    }
    // An operator's signature over it verifies with the ceremony approvals' convention.
    const sk = secp256k1.utils.randomSecretKey();
    const pk = Buffer.from(secp256k1.getPublicKey(sk, true)).toString('hex');
    const sig = Buffer.from(secp256k1.sign(policyProposalDigest(proposal), sk, { prehash: false })).toString('hex');
    expect(verifyApproval('secp256k1', pk, policyProposalDigest(proposal), sig)).toBe(true);
    expect(verifyApproval('secp256k1', pk, policyProposalDigest({ ...proposal, baseVersion: 2 }), sig)).toBe(false);
  });
});
