/**
 * Errors raised by the audit log's cryptographic core.
 *
 * Every error here means "this input is not acceptable", never "something is
 * wrong with the process", except {@link MerkleStorageError}, which says the
 * node store answered with something that cannot be right (a missing or
 * malformed node): that is a server-side fault, not a client's.
 */
export class AuditCryptoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A Merkle proof, tree size or leaf index is malformed or does not fit the tree. */
export class MerkleProofError extends AuditCryptoError {}

/** The node store returned missing, extra or malformed nodes. */
export class MerkleStorageError extends AuditCryptoError {}

/** An audit event cannot be encoded as a leaf (or leaf bytes are not a canonical event). */
export class EventEncodingError extends AuditCryptoError {}

/** A checkpoint, its text body, a public key or a signature is malformed, or the signer misbehaved. */
export class CheckpointError extends AuditCryptoError {}
