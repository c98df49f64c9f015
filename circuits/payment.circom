// payment: "these six ElGamal ciphertexts encrypt the feature vector of the committed amount".
//
// Statement (public: commitment, binding, slotKeys, ciphertexts; private: amount, blinding,
// crossBorder, randomness):
//
//     "I know amount, blinding, crossBorder and r_0..r_5 such that
//        commitment = Poseidon(amount, blinding),   0 <= amount < 2^32,   crossBorder in {0, 1},
//      and for every feature slot i with value m_i (FEATURE_SLOTS order):
//        ciphertexts[i] = (c1, c2) = (r_i*G, m_i*G + r_i*Y_i),   Y_i = slotKeys[i],   c1 != O,
//      where m = [amount, bucket0, bucket1, bucket2, bucket3, crossBorder] and the buckets are the
//      one-hot encoding of the amount's bucket for the lower bounds 0, 3000, 9000, 10000."
//
// Public signals, in order (38; circom orders public inputs by declaration, and this template
// declares them in this order; src/analytics/payment/payment-circuit.ts holds the same layout):
//     [commitment, binding,
//      slotKeys[0].x, slotKeys[0].y, ..., slotKeys[5].x, slotKeys[5].y,
//      ciphertexts[0].c1.x, .c1.y, .c2.x, .c2.y, ..., ciphertexts[5].c1.x, .c1.y, .c2.x, .c2.y]
//
// G is circomlib's Base8 (noble's babyjubjub BASE), the generator of the prime-order subgroup of
// order n ~ 2^250.6. Exponential ElGamal as in src/analytics/crypto/elgamal.ts: regulators add
// ciphertexts of many payments per slot and decrypt only the sum, k-of-n.
//
// Why each part is there:
// - commitment = Poseidon(amount, blinding): the payment's amount is bound to a commitment that the
//   service records and the audit log covers; the random blinding hides the amount (few likely
//   values) from anyone who sees the commitment.
// - Num2Bits(32) on amount: the amount slot is summed by regulators, so it must be a small
//   non-negative integer; without it a bank could encrypt p - 1 ("-1") and under-report a total.
// - The buckets are derived here from the range-checked amount (LessThan(32) against compiled-in
//   bounds), never taken from the prover: a bank cannot move a payment out of the bucket just under
//   the reporting threshold. The bounds must stay equal to BUCKET_LOWER_BOUNDS in
//   src/analytics/features.ts (a test compares them).
// - crossBorder * (crossBorder - 1) = 0: a flag, so its slot sums to a count.
// - Each r_i is decomposed by Num2Bits(251): 2^251 > n, so every scalar in [1, n) that the
//   builder draws fits, and a value >= n only acts as r mod n. The same bits drive both scalar
//   multiplications, so c1 and c2 use the same r_i.
// - c1 = r_i*G (EscalarMulFix), r_i*Y_i (EscalarMulAny, the key is a public input so one
//   circuit serves every key ceremony), c2 = m_i*G + r_i*Y_i (BabyAdd). m_i*G is a scalar
//   multiplication only for the amount (EscalarMulFix over its 32 bits); for the 0/1 slots it is
//   the point (m*Gx, 1 + m*(Gy - 1)), a linear select between O and G that costs no constraint.
// - c1 != O (c1.x has an inverse): r_i = 0 (or n) would publish c2 = m_i*G, i.e. the value in
//   the clear to anyone who tries the few likely amounts.
// - bindingSquare: `binding` (derived by the service from the payment's public metadata: payer,
//   payee, time, reference) is not otherwise used; squaring it puts it in a constraint so a proof
//   made for one payment fails verification for any other.
//
// Assumption, checked outside the circuit: every slot key Y_i is a point of the prime-order
// subgroup and not the identity (the service decodes keys with decodePoint, which checks the curve
// equation, n*Y = O and Y != O). EscalarMulAny's Montgomery formulas have exceptional cases
// (adding a point to itself leaves the slope unconstrained; adding it to its negation has no
// solution); with boolean scalar bits and a base of prime order n > 2^250 the accumulator never
// equals +-the point added to it (their multiples of the base differ and are below n), but that
// argument fails for a point with a small-order component. The ciphertext points need no such check: they are
// outputs of complete Edwards formulas over constrained inputs, and a ciphertext that is not
// r*G, m*G + r*Y simply has no witness.
pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/babyjub.circom";
include "circomlib/circuits/escalarmulfix.circom";
include "circomlib/circuits/escalarmulany.circom";

// ElGamalSlot(randomnessBits): constrains `ciphertext` = (c1.x, c1.y, c2.x, c2.y) to be the
// encryption of the slot value whose point valuePoint = m*G the caller computed, under `key`, with
// the randomness given as boolean bits (least significant first; the caller constrains them).
template ElGamalSlot(randomnessBits) {
    signal input valuePoint[2];
    signal input randomness[randomnessBits];
    signal input key[2];
    signal input ciphertext[4];

    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];

    // c1 = r*G.
    component rG = EscalarMulFix(randomnessBits, BASE8);
    // r*Y.
    component rY = EscalarMulAny(randomnessBits);
    for (var b = 0; b < randomnessBits; b++) {
        rG.e[b] <== randomness[b];
        rY.e[b] <== randomness[b];
    }
    rY.p[0] <== key[0];
    rY.p[1] <== key[1];

    // c2 = m*G + r*Y.
    component c2 = BabyAdd();
    c2.x1 <== valuePoint[0];
    c2.y1 <== valuePoint[1];
    c2.x2 <== rY.out[0];
    c2.y2 <== rY.out[1];

    ciphertext[0] === rG.out[0];
    ciphertext[1] === rG.out[1];
    ciphertext[2] === c2.xout;
    ciphertext[3] === c2.yout;

    // c1 is not the identity (0, 1): its x has an inverse.
    signal c1xInverse;
    c1xInverse <-- ciphertext[0] != 0 ? 1 / ciphertext[0] : 0;
    ciphertext[0] * c1xInverse === 1;
}

template Payment(amountBits, randomnessBits) {
    var SLOTS = 6;          // amount, bucket0..bucket3, crossBorder
    var BUCKETS = 4;
    // Lower bounds of the amount buckets (src/analytics/features.ts BUCKET_LOWER_BOUNDS).
    var BUCKET_LOWER_BOUNDS[BUCKETS] = [0, 3000, 9000, 10000];
    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];

    // public, in this order
    signal input commitment;
    signal input binding;
    signal input slotKeys[SLOTS][2];
    signal input ciphertexts[SLOTS][4];
    // private
    signal input amount;
    signal input blinding;
    signal input crossBorder;
    signal input randomness[SLOTS];

    // The commitment opens to the amount.
    component committed = Poseidon(2);
    committed.inputs[0] <== amount;
    committed.inputs[1] <== blinding;
    commitment === committed.out;

    // 0 <= amount < 2^amountBits.
    component amountBitsOf = Num2Bits(amountBits);
    amountBitsOf.in <== amount;

    // atLeast[k] = (amount >= BUCKET_LOWER_BOUNDS[k]); atLeast[0] = 1 since the first bound is 0.
    // With ascending bounds, bucket k = atLeast[k] - atLeast[k+1] is one-hot.
    signal atLeast[BUCKETS + 1];
    component below[BUCKETS];
    atLeast[0] <== 1;
    for (var k = 1; k < BUCKETS; k++) {
        below[k] = LessThan(amountBits);
        below[k].in[0] <== amount;
        below[k].in[1] <== BUCKET_LOWER_BOUNDS[k];
        atLeast[k] <== 1 - below[k].out;
    }
    atLeast[BUCKETS] <== 0;

    // crossBorder is a flag.
    crossBorder * (crossBorder - 1) === 0;

    // The slot values' points m*G. The amount by a fixed-base multiplication of its bits; the
    // 0/1 slots by the select (m*Gx, 1 + m*(Gy - 1)), which is O for 0 and G for 1.
    component amountG = EscalarMulFix(amountBits, BASE8);
    for (var b = 0; b < amountBits; b++) amountG.e[b] <== amountBitsOf.out[b];

    // flag[i - 1] is the value of 0/1 slot i (bucket0..bucket3, crossBorder).
    signal flag[SLOTS - 1];
    for (var k = 0; k < BUCKETS; k++) flag[k] <== atLeast[k] - atLeast[k + 1];
    flag[SLOTS - 2] <== crossBorder;

    // Each slot's randomness as bits (shared by r*G and r*Y).
    component randomnessBitsOf[SLOTS];
    component slots[SLOTS];
    for (var i = 0; i < SLOTS; i++) {
        randomnessBitsOf[i] = Num2Bits(randomnessBits);
        randomnessBitsOf[i].in <== randomness[i];

        slots[i] = ElGamalSlot(randomnessBits);
        if (i == 0) {
            slots[i].valuePoint[0] <== amountG.out[0];
            slots[i].valuePoint[1] <== amountG.out[1];
        } else {
            slots[i].valuePoint[0] <== flag[i - 1] * BASE8[0];
            slots[i].valuePoint[1] <== 1 + flag[i - 1] * (BASE8[1] - 1);
        }
        for (var b = 0; b < randomnessBits; b++) slots[i].randomness[b] <== randomnessBitsOf[i].out[b];
        slots[i].key[0] <== slotKeys[i][0];
        slots[i].key[1] <== slotKeys[i][1];
        for (var c = 0; c < 4; c++) slots[i].ciphertext[c] <== ciphertexts[i][c];
    }

    // Bind the payment's public metadata into the proof.
    signal bindingSquare;
    bindingSquare <== binding * binding;
}

component main {public [commitment, binding, slotKeys, ciphertexts]} = Payment(32, 251);
