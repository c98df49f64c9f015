// eligibility: "a KYC'd identity, of age, outside the denylist, once per scope".
//
// Statement (public: root, currentDate, minAge, denylist[8], scope, challenge;
// private: identitySecret, birthDate, jurisdiction, pathElements, pathIndices;
// output: nullifier):
//
//     "I know identitySecret, birthDate and jurisdiction such that
//        leaf = Poseidon(Poseidon(identitySecret), birthDate, jurisdiction)
//      is a leaf of the depth-20 Poseidon Merkle tree with root `root`,
//      birthDate + minAge * 10000 <= currentDate,
//      jurisdiction is not 0 and not in denylist,
//      and nullifier = Poseidon(identitySecret, scope)."
//
// Public signals, in order (snarkjs puts outputs first):
//   [nullifier, root, currentDate, minAge, denylist[0..7], scope, challenge]  (14)
//
// The KYC issuer checks a customer's documents and inserts the leaf, built from the
// attested birth date (YYYYMMDD integer) and jurisdiction (ISO 3166-1 numeric,
// 1..999) and the identity commitment the customer's wallet hands over; it never
// learns the secret. Revocation sets the leaf back to 0, which changes the root:
// proofs against roots anchored after the revocation fail. A relying party checks
// `root` is a recent anchored root and currentDate is today, picks minAge, the
// denylist, the scope and the challenge, and learns nothing else about the person.
//
// Why each part is there:
// - identityCommitment = Poseidon(identitySecret): only the secret's holder can
//   prove for the identity; the issuer sees the commitment only.
// - MerkleRoot: the attested leaf is in the issuer's tree (index bits boolean).
// - Age: YYYYMMDD integers compare like dates, and adding minAge * 10000 moves the
//   birth date minAge years forward, so "birthDate + minAge * 10000 <= currentDate"
//   is exactly "the minAge-th birthday is on or before today" (someone born on
//   29 February reaches it on 1 March in non-leap years). birthDate and currentDate
//   are range-checked to 27 bits (99,991,231 < 2^27) and minAge to 8 bits, so the
//   sum stays below 2^28 and the comparison (LessEqThan(28)) cannot wrap around
//   the field modulus. The checks hold whatever the prover supplies: a field
//   element posing as a date or an age cannot wrap the comparison around, even
//   for a verifier that forgot to check currentDate and minAge.
// - Jurisdiction: the product jurisdiction * (jurisdiction - denylist[0]) * ... *
//   (jurisdiction - denylist[7]) must have an inverse, i.e. be nonzero; a field has
//   no zero divisors, so that holds exactly when jurisdiction != 0 and
//   jurisdiction != denylist[i] for every i (9 constraints). Unused denylist slots
//   are 0 and never match, because jurisdiction != 0.
// - nullifier = Poseidon(identitySecret, scope): deterministic per identity and
//   scope, so a gate contract that stores it accepts one proof per identity per
//   scope (Semaphore-style); unlinkable across scopes without the secret.
// - challengeSquare: binds the verifier's challenge into the proof, so a proof
//   made for one challenge fails verification for any other.
pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

// MerkleRoot(depth): the root of a binary Poseidon Merkle tree of fixed `depth`,
// recomputed from a leaf and its authentication path. node = Poseidon(left, right);
// pathIndices[i] = 0 when the current node is the left child (pathElements[i] is
// its right sibling), 1 when it is the right child. pathIndices are the bits of
// the leaf index, least significant first. Per level: one constraint forcing the
// bit to 0 or 1 (otherwise a prover could hash a linear mix of the two children),
// one multiplication for the conditional swap and one Poseidon(2). The depth is
// fixed, so a proof always starts from a leaf, never from an inner node.
// (Repeated in balance.circom rather than included from a local file: the
// compiler's sandbox resolves a relative include only for sources under its
// working directory, and circuits:check also compiles copies kept elsewhere.)
template MerkleRoot(depth) {
    signal input leaf;
    signal input pathElements[depth];
    signal input pathIndices[depth];
    signal output root;

    signal nodes[depth + 1];
    signal swap[depth];
    component hashers[depth];

    nodes[0] <== leaf;
    for (var i = 0; i < depth; i++) {
        pathIndices[i] * (1 - pathIndices[i]) === 0;

        // swap = bit * (sibling - node): (left, right) = (node, sibling) when
        // bit = 0 and (sibling, node) when bit = 1.
        swap[i] <== pathIndices[i] * (pathElements[i] - nodes[i]);

        hashers[i] = Poseidon(2);
        hashers[i].inputs[0] <== nodes[i] + swap[i];
        hashers[i].inputs[1] <== pathElements[i] - swap[i];
        nodes[i + 1] <== hashers[i].out;
    }
    root <== nodes[depth];
}

template Eligibility(depth, denySize) {
    // private
    signal input identitySecret;
    signal input birthDate;
    signal input jurisdiction;
    signal input pathElements[depth];
    signal input pathIndices[depth];
    // public
    signal input root;
    signal input currentDate;
    signal input minAge;
    signal input denylist[denySize];
    signal input scope;
    signal input challenge;
    // output (public)
    signal output nullifier;

    // The identity's commitment and its attested leaf.
    component identityCommitment = Poseidon(1);
    identityCommitment.inputs[0] <== identitySecret;

    component leaf = Poseidon(3);
    leaf.inputs[0] <== identityCommitment.out;
    leaf.inputs[1] <== birthDate;
    leaf.inputs[2] <== jurisdiction;

    // The leaf is in the issuer's tree whose root is public.
    component tree = MerkleRoot(depth);
    tree.leaf <== leaf.out;
    for (var i = 0; i < depth; i++) {
        tree.pathElements[i] <== pathElements[i];
        tree.pathIndices[i] <== pathIndices[i];
    }
    root === tree.root;

    // Age: birthDate + minAge * 10000 <= currentDate on range-checked integers.
    component birthDateBits = Num2Bits(27);
    birthDateBits.in <== birthDate;
    component currentDateBits = Num2Bits(27);
    currentDateBits.in <== currentDate;
    component minAgeBits = Num2Bits(8);
    minAgeBits.in <== minAge;

    component oldEnough = LessEqThan(28);
    oldEnough.in[0] <== birthDate + minAge * 10000;
    oldEnough.in[1] <== currentDate;
    oldEnough.out === 1;

    // Jurisdiction: nonzero and different from every denylist entry.
    signal product[denySize + 1];
    product[0] <== jurisdiction;
    for (var i = 0; i < denySize; i++) {
        product[i + 1] <== product[i] * (jurisdiction - denylist[i]);
    }
    signal productInverse;
    productInverse <-- product[denySize] != 0 ? 1 / product[denySize] : 0;
    product[denySize] * productInverse === 1;

    // One nullifier per identity and scope.
    component nullifierHash = Poseidon(2);
    nullifierHash.inputs[0] <== identitySecret;
    nullifierHash.inputs[1] <== scope;
    nullifier <== nullifierHash.out;

    // Bind the verifier's challenge into the proof.
    signal challengeSquare;
    challengeSquare <== challenge * challenge;
}

component main {public [root, currentDate, minAge, denylist, scope, challenge]} = Eligibility(20, 8);
