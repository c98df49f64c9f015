/**
 * Two-round FROST signing (RFC 9591 Section 5) with identifiable abort at the coordinator.
 *
 *   round 1 (5.1)  each chosen signer draws nonces and publishes their commitments. The nonces
 *                  are returned apart from the commitments: they are SECRET and single use (a
 *                  nonce used for two messages reveals the share); storage must enforce that.
 *   round 2 (5.2)  given the message and the commitment list, each signer returns its share.
 *   aggregate      the coordinator checks every share against its signer's verifying share
 *                  (5.4, "Identifiable Abort") before combining them (5.3); a bad share aborts
 *                  with the culprits named.
 */
import { publicToNoble, secretToNoble } from './dkg.js';
import { fromHex, parseSignature, suite, toHex } from './suite.js';
import type {
  Hex,
  Identifier,
  KeyPackage,
  PublicKeyPackage,
  SignatureShare,
  SigningCommitments,
  SigningNonces,
} from './types.js';

/** A signing attempt aborted by invalid signature shares; `culprits` are their signers. */
export class InvalidSignatureSharesError extends Error {
  readonly culprits: Identifier[];
  constructor(culprits: Identifier[]) {
    super(`invalid signature share from ${culprits.join(', ')}`);
    this.name = 'InvalidSignatureSharesError';
    this.culprits = culprits;
  }
}

const commitmentsToNoble = (list: SigningCommitments[]) =>
  list.map((c) => ({
    identifier: c.identifier,
    hiding: fromHex(c.hiding, 'hiding commitment'),
    binding: fromHex(c.binding, 'binding commitment'),
  }));

/**
 * Round 1 (RFC 9591 Section 5.1 commit): fresh nonces and their public commitments.
 * `rng` is for test vectors only (RFC 9591 Appendix E); production uses the system CSPRNG.
 */
export function signRound1(
  key: KeyPackage,
  rng?: (bytes?: number) => Uint8Array<ArrayBuffer>,
): { nonces: SigningNonces; commitments: SigningCommitments } {
  const { nonces, commitments } = rng ? suite.commit(secretToNoble(key), rng) : suite.commit(secretToNoble(key));
  return {
    nonces: { hiding: toHex(nonces.hiding), binding: toHex(nonces.binding) },
    commitments: { identifier: commitments.identifier, hiding: toHex(commitments.hiding), binding: toHex(commitments.binding) },
  };
}

/**
 * Round 2 (RFC 9591 Section 5.2 sign): this signer's share of the signature on `message`.
 * `commitments` is the coordinator's list for this attempt and must include this signer's own.
 */
export function signRound2(
  key: KeyPackage,
  publicPackage: PublicKeyPackage,
  nonces: SigningNonces,
  commitments: SigningCommitments[],
  message: Uint8Array,
): SignatureShare {
  if (key.groupPublicKey !== publicPackage.groupPublicKey) throw new Error('key package belongs to another group key');
  if (!commitments.some((c) => c.identifier === key.identifier)) throw new Error('commitment list lacks this signer');
  const share = suite.signShare(
    secretToNoble(key),
    publicToNoble(publicPackage),
    { hiding: fromHex(nonces.hiding, 'hiding nonce'), binding: fromHex(nonces.binding, 'binding nonce') },
    commitmentsToNoble(commitments),
    message,
  );
  return { identifier: key.identifier, share: toHex(share) };
}

/** RFC 9591 Section 5.4 verify_signature_share: is `share` its signer's valid share? */
export function verifySignatureShare(
  publicPackage: PublicKeyPackage,
  commitments: SigningCommitments[],
  message: Uint8Array,
  share: SignatureShare,
): boolean {
  if (!(share.identifier in publicPackage.verifyingShares)) return false;
  try {
    return suite.verifyShare(
      publicToNoble(publicPackage),
      commitmentsToNoble(commitments),
      message,
      share.identifier,
      fromHex(share.share, 'signature share'),
    );
  } catch {
    return false;
  }
}

/**
 * The coordinator's aggregation (RFC 9591 Section 5.3) with identifiable abort (Section 5.4):
 * every share is verified first; any invalid or missing share throws InvalidSignatureSharesError
 * naming its signers, so the ceremony can exclude them and retry with fresh nonces.
 * Returns the 65-byte group signature (compressed R || z) as hex.
 */
export function aggregateSignature(
  publicPackage: PublicKeyPackage,
  commitments: SigningCommitments[],
  message: Uint8Array,
  shares: SignatureShare[],
): Hex {
  const { min } = publicPackage.threshold;
  if (commitments.length < min) throw new Error(`need at least ${min} signers, got ${commitments.length}`);
  const byId = new Map(shares.map((s) => [s.identifier, s]));
  const culprits = commitments
    .map((c) => c.identifier)
    .filter((id) => {
      const share = byId.get(id);
      return !share || !verifySignatureShare(publicPackage, commitments, message, share);
    });
  if (culprits.length > 0) throw new InvalidSignatureSharesError(culprits);
  const signature = suite.aggregate(
    publicToNoble(publicPackage),
    commitmentsToNoble(commitments),
    message,
    Object.fromEntries(commitments.map((c) => [c.identifier, fromHex(byId.get(c.identifier)!.share, 'signature share')])),
  );
  return toHex(signature);
}

/** Verifies a group signature on `message` under the group public key (RFC 9591 Section 6.5). */
export function verifySignature(signature: Hex, message: Uint8Array, groupPublicKey: Hex): boolean {
  try {
    parseSignature(signature);
    return suite.verify(fromHex(signature, 'signature'), message, fromHex(groupPublicKey, 'group public key'));
  } catch {
    return false;
  }
}
