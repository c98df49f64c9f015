// balance: "the account behind this proof holds at least `threshold`".
//
// Statement (public: root, threshold, challenge; private: accountSecret, balance,
// salt, pathElements, pathIndices):
//
//     "I know accountSecret, balance and salt such that
//        leaf = Poseidon(Poseidon(accountSecret), balance, salt)
//      is a leaf of the depth-20 Poseidon Merkle tree with root `root`,
//      and threshold <= balance < 2^64."
//
// Public signals, in order: [root, threshold, challenge].
//
// The service publishes `root` (the balance commitment tree of an epoch) on the
// ledger; a relying party checks the root is an anchored one, picks `threshold`
// and `challenge`, and learns nothing else: not the account, not the balance, not
// the leaf's position.
//
// Why each part is there:
// - accountCommitment = Poseidon(accountSecret): only the holder of the secret
//   can prove for an account; the service stores the commitment, never the secret.
// - leaf = Poseidon(accountCommitment, balance, salt): the balance is bound to the
//   account; the per-epoch random salt hides the balance from anyone who sees the
//   leaves (a balance has few likely values and would otherwise be brute-forced)
//   and makes a leaf unlinkable across epochs.
// - MerkleRoot: the leaf is in the anchored tree (index bits constrained boolean).
// - Num2Bits(64) on balance and threshold: comparisons in a prime field are only
//   meaningful on range-checked values. Without them a prover could present a
//   "balance" of p - 1 (i.e. -1) or a threshold that wraps around. 64 bits covers
//   any amount in minor units (2^64 - 1 ~ 1.8e19).
// - GreaterEqThan(64): balance >= threshold on the range-checked values.
// - challengeSquare: `challenge` is not otherwise used; squaring it puts it in a
//   constraint so it cannot be optimised away, and a proof made for one challenge
//   (a relying party's nonce) fails verification for any other.
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
// (Repeated in eligibility.circom rather than included from a local file: the
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

template Balance(depth) {
    // private
    signal input accountSecret;
    signal input balance;
    signal input salt;
    signal input pathElements[depth];
    signal input pathIndices[depth];
    // public
    signal input root;
    signal input threshold;
    signal input challenge;

    // The account's commitment and its leaf in the balance tree.
    component accountCommitment = Poseidon(1);
    accountCommitment.inputs[0] <== accountSecret;

    component leaf = Poseidon(3);
    leaf.inputs[0] <== accountCommitment.out;
    leaf.inputs[1] <== balance;
    leaf.inputs[2] <== salt;

    // The leaf is in the tree whose root is public.
    component tree = MerkleRoot(depth);
    tree.leaf <== leaf.out;
    for (var i = 0; i < depth; i++) {
        tree.pathElements[i] <== pathElements[i];
        tree.pathIndices[i] <== pathIndices[i];
    }
    root === tree.root;

    // Both sides of the comparison are 64-bit integers.
    component balanceBits = Num2Bits(64);
    balanceBits.in <== balance;
    component thresholdBits = Num2Bits(64);
    thresholdBits.in <== threshold;

    // balance >= threshold.
    component enough = GreaterEqThan(64);
    enough.in[0] <== balance;
    enough.in[1] <== threshold;
    enough.out === 1;

    // Bind the verifier's challenge into the proof.
    signal challengeSquare;
    challengeSquare <== challenge * challenge;
}

component main {public [root, threshold, challenge]} = Balance(20);
