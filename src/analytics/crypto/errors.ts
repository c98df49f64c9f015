/**
 * Domain errors of the analytics cryptographic core. Each names what was wrong (and, where a
 * party misbehaved, which party) without ever carrying secret material.
 */

/** A point (public key, ciphertext component, commitment, partial) failed decoding or validation. */
export class InvalidPointError extends Error {
  constructor(what: string, reason: string) {
    super(`invalid ${what}: ${reason}`);
    this.name = 'InvalidPointError';
  }
}

/** A message had the wrong shape (missing field, wrong length, non-canonical number). */
export class MalformedMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMessageError';
  }
}

/** A DKG dealer's broadcast or share did not verify: the dealer is to be disqualified. */
export class DealerMisbehaviourError extends Error {
  constructor(
    readonly dealer: number,
    reason: string,
  ) {
    super(`dealer ${dealer} misbehaved: ${reason}`);
    this.name = 'DealerMisbehaviourError';
  }
}

/** Fewer valid partial decryptions than the threshold: nothing can (or should) be combined. */
export class QuorumNotReachedError extends Error {
  constructor(
    readonly threshold: number,
    readonly valid: number,
    readonly rejected: readonly { index: number; reason: string }[],
  ) {
    const named = rejected.length ? `; rejected: ${rejected.map((r) => `regulator ${r.index} (${r.reason})`).join(', ')}` : '';
    super(`quorum not reached: ${valid} valid partial decryption(s), ${threshold} required${named}`);
    this.name = 'QuorumNotReachedError';
  }
}

/** The decrypted group element is not m*G for any m in the searched range. */
export class DiscreteLogOutOfRangeError extends Error {
  constructor(readonly maxValue: bigint) {
    super(`decrypted value is not in the range [0, ${maxValue}]`);
    this.name = 'DiscreteLogOutOfRangeError';
  }
}
