/**
 * The audit log's cryptographic core: RFC 9162 Merkle tree, stored-subtree
 * proofs, the canonical event leaf, signed checkpoints and the verifier.
 * Plain modules with no framework or database imports; see docs/audit-log.md.
 */
export * from './bytes.js';
export * from './checkpoint.js';
export * from './errors.js';
export * from './event-encoding.js';
export * from './merkle.js';
export * from './merkle-storage.js';
export * from './verification-result.js';
export * from './verifier.js';
