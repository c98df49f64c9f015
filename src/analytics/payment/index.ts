/**
 * The payment circuit's plain module: witness inputs, public-signal layout, binding of a
 * payment's public metadata, proving and verification (circuits/payment.circom).
 */
export * from './payment-circuit.js';
