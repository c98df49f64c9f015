// poseidon_preimage: knowledge of a Poseidon preimage, bound to a challenge.
//
// Statement (public: hash, challenge; private: preimage):
//
//     "I know a field element `preimage` such that Poseidon(preimage) = hash."
//
// This is the smallest circuit that exercises the whole pipeline (compile,
// trusted setup, witness, proof, on-chain verifier) with the same hash the
// later circuits use for commitments and nullifiers (circomlib Poseidon over
// the BN254 scalar field, t = 2, the same constants as circomlibjs).
//
// `challenge` is a public input that the statement does not otherwise use: a
// verifier picks it (a nonce, a session id, a message hash) so that a proof made
// for one challenge cannot be replayed for another. A Groth16 proof is bound to
// every public input, but an input with no constraint on it could be optimised
// away or left malleable, so it is squared into a constraint of its own (the
// same defence Semaphore and Tornado Cash use for their message/recipient inputs).
pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

template PoseidonPreimage() {
    signal input preimage;   // private
    signal input hash;       // public: Poseidon(preimage)
    signal input challenge;  // public: chosen by the verifier, bound into the proof

    component poseidon = Poseidon(1);
    poseidon.inputs[0] <== preimage;
    hash === poseidon.out;

    signal challengeSquare;
    challengeSquare <== challenge * challenge;
}

component main {public [hash, challenge]} = PoseidonPreimage();
