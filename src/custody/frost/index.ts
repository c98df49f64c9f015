/**
 * Custody FROST: RFC 9591 FROST(secp256k1, SHA-256) over @noble/curves, as JSON-serialisable
 * pure functions. See docs/custody-frost.md for the protocol, message formats and the
 * on-chain verification.
 */
export * from './types.js';
export {
  CHALLENGE_DST,
  CURVE_ORDER,
  SIGNATURE_LENGTH,
  challenge,
  groupKeyForContract,
  identifierFromName,
  identifierFromNumber,
  parseSignature,
  signatureForContract,
} from './suite.js';
export { dkgAbort, dkgFinalize, dkgRound1, dkgRound2, type DkgState } from './dkg.js';
export {
  InvalidSignatureSharesError,
  aggregateSignature,
  signRound1,
  signRound2,
  verifySignature,
  verifySignatureShare,
} from './signing.js';
export { InvalidReshareError, reshareDeal, reshareFinalize } from './reshare.js';
