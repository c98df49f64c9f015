/**
 * Wire and key types of the custody FROST wrapper: FROST(secp256k1, SHA-256) of RFC 9591.
 *
 * Every type here is plain JSON (hex strings, numbers), so a message can travel between signer
 * processes over HTTP and a key package can be sealed at rest as bytes. Byte encodings are the
 * RFC 9591 ones for this ciphersuite (Section 6.5): a point is its 33-byte SEC1 compressed form,
 * a scalar is 32 bytes big-endian, an identifier is a non-zero scalar.
 *
 * Secret-bearing types are marked SECRET: they must never be logged, returned by an API or
 * sent unencrypted. A round-2 DKG package and a reshare share are SECRET in transit: send them
 * only over an authenticated, encrypted channel to their recipient.
 */

/** Hex string, lower case, no 0x prefix. */
export type Hex = string;

/** A participant identifier: the hex of a non-zero scalar (RFC 9591 Section 3.1, Identifier). */
export type Identifier = Hex;

/** Threshold parameters: `min` signers out of `max` participants (2 <= min <= max). */
export interface Threshold {
  min: number;
  max: number;
}

/** DKG round 1 broadcast: Feldman VSS commitment and a Schnorr proof of knowledge of the secret. */
export interface DkgRound1Package {
  identifier: Identifier;
  /** Commitments to the sender's polynomial coefficients; `[0]` commits to its secret. */
  commitment: Hex[];
  /** Proof of knowledge of the secret coefficient (binds identifier and commitment). */
  proofOfKnowledge: Hex;
}

/** SECRET. DKG round 2 message: the sender's polynomial evaluated at the recipient. */
export interface DkgRound2Package {
  from: Identifier;
  to: Identifier;
  signingShare: Hex;
}

/** SECRET. A participant's long-lived key share (RFC 9591 Section 5: `sk_i`). */
export interface KeyPackage {
  identifier: Identifier;
  signingShare: Hex;
  /** The group public key this share belongs to (compressed point). */
  groupPublicKey: Hex;
  threshold: Threshold;
}

/** Public data of a key set, identical for every participant: what the coordinator needs. */
export interface PublicKeyPackage {
  threshold: Threshold;
  /** Group public key `PK` (compressed point); equals `commitments[0]`. */
  groupPublicKey: Hex;
  /** Summed VSS commitments of the key polynomial. */
  commitments: Hex[];
  /** Public verifying share `PK_i = sk_i * G` of every participant. */
  verifyingShares: Record<Identifier, Hex>;
}

/** SECRET, single use. Signing round 1 nonces (RFC 9591 Section 5.1, `nonce_i`). */
export interface SigningNonces {
  hiding: Hex;
  binding: Hex;
}

/** Signing round 1 public commitments (RFC 9591 Section 5.1, `comm_i`). */
export interface SigningCommitments {
  identifier: Identifier;
  hiding: Hex;
  binding: Hex;
}

/** Signing round 2 output (RFC 9591 Section 5.2, `sig_share`). */
export interface SignatureShare {
  identifier: Identifier;
  share: Hex;
}

/** A group signature as the wallet contract takes it: R uncompressed, z (RFC 9591 Section 6.5). */
export interface ContractSignature {
  rx: bigint;
  ry: bigint;
  z: bigint;
}

/** A group public key as the wallet contract stores it: x coordinate and y parity (0 even, 1 odd). */
export interface ContractGroupKey {
  x: bigint;
  parity: number;
}

/** Public reshare broadcast of one old signer acting as dealer of its Lagrange-weighted share. */
export interface ReshareCommitment {
  from: Identifier;
  /** Feldman commitments of the dealer's new polynomial; `[0] = lambda_i * PK_i`. */
  commitment: Hex[];
}

/** SECRET. A reshare sub-share from an old signer to one member of the new set. */
export interface ReshareSharePackage {
  from: Identifier;
  to: Identifier;
  signingShare: Hex;
}
