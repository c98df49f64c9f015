/**
 * Cryptographic core of the regulators' AML analytics: exponential ElGamal on BabyJubJub,
 * a dealerless t-of-n key generation per slot key, partial decryptions with Chaum-Pedersen
 * proofs, and a baby-step giant-step search for the decrypted totals. Plain modules: no
 * framework, no storage; the analytics service orchestrates them.
 */
export * from './errors.js';
export { G, IDENTITY, SUBGROUP_ORDER, FIELD_PRIME, type GroupPoint, type EncodedPoint, encodePoint, encodePoints, decodePoint, randomScalar } from './group.js';
export * from './elgamal.js';
export * from './chaum-pedersen.js';
export * from './dkg.js';
export * from './threshold-decryption.js';
export * from './discrete-log.js';
