// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IBalanceVerifier} from "./IGroth16Verifiers.sol";
import {IRootRegistry} from "./IRootRegistry.sol";
import {CallerChallenge} from "./CallerChallenge.sol";

/**
 * @title BalanceGate
 * @notice Checks a balance proof on chain: "the account behind this proof held at least
 * `threshold` in a recent balance epoch", without revealing the account or its balance.
 *
 * The proof's public signals are [root, threshold, challenge] (circuits/balance.circom). The gate
 * accepts a proof when every signal is a canonical field element, threshold >= `minThreshold`,
 * root is valid in the balance root registry (the current epoch's root, or the previous one within
 * the window), challenge binds the proof to this chain, this gate and the caller (see
 * `CallerChallenge`), and the Groth16 proof verifies; it then emits `BalanceProven`.
 *
 * There is no nullifier: proving a balance again is harmless, and the challenge already stops
 * anyone but the prover's account from using the proof.
 */
contract BalanceGate {
    /// @notice The BN254 scalar field modulus: every public signal is below it.
    uint256 public constant FIELD_MODULUS = CallerChallenge.FIELD_MODULUS;

    uint256 private constant SIGNAL_COUNT = 3;
    // Positions in the public-signal array.
    uint256 private constant ROOT = 0;
    uint256 private constant THRESHOLD = 1;
    uint256 private constant CHALLENGE = 2;

    /// @notice The generated Groth16 verifier of the balance circuit.
    IBalanceVerifier public immutable verifier;

    /// @notice The registry of balance tree roots (one per epoch).
    IRootRegistry public immutable registry;

    /// @notice The smallest threshold a proof may show.
    uint64 public immutable minThreshold;

    /**
     * @notice `account` proved a balance of at least `threshold` in the epoch with `root`.
     * @param account The caller the proof was bound to.
     * @param threshold The proven lower bound.
     * @param root The balance tree root the proof is against.
     */
    event BalanceProven(address indexed account, uint256 threshold, uint256 root);

    /// @notice A constructor address was zero.
    error ZeroAddress();

    /// @notice Public signal `index` is not below FIELD_MODULUS.
    error SignalNotInField(uint256 index);

    /// @notice The proven threshold is below the gate's minimum.
    error ThresholdBelowMinimum(uint256 threshold, uint64 minThreshold);

    /// @notice The proof's root is unknown to the registry, or was superseded longer than the window ago.
    error RootNotValid(uint256 root);

    /// @notice The proof was made for another caller, gate or chain.
    error ChallengeMismatch(uint256 expected, uint256 actual);

    /// @notice The Groth16 proof does not verify for these public signals.
    error InvalidProof();

    /**
     * @param verifier_ The deployed BalanceVerifier.
     * @param registry_ The balance tree's RootRegistry.
     * @param minThreshold_ The smallest threshold accepted.
     */
    constructor(address verifier_, address registry_, uint64 minThreshold_) {
        if (verifier_ == address(0) || registry_ == address(0)) revert ZeroAddress();
        verifier = IBalanceVerifier(verifier_);
        registry = IRootRegistry(registry_);
        minThreshold = minThreshold_;
    }

    /**
     * @notice Prove, as the caller, a balance of at least the proof's threshold.
     * @dev Only checks and an event; the two external calls (registry, verifier) are view
     *      functions, made with STATICCALL. Reverts with the custom error of the first failed check.
     * @param a Proof point A.
     * @param b Proof point B.
     * @param c Proof point C.
     * @param signals [root, threshold, challenge].
     */
    function prove(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[SIGNAL_COUNT] calldata signals
    ) external {
        for (uint256 i = 0; i < SIGNAL_COUNT; ++i) {
            if (signals[i] >= FIELD_MODULUS) revert SignalNotInField(i);
        }
        if (signals[THRESHOLD] < minThreshold) revert ThresholdBelowMinimum(signals[THRESHOLD], minThreshold);
        if (!registry.isValidRoot(signals[ROOT])) revert RootNotValid(signals[ROOT]);
        uint256 expected = challengeFor(msg.sender);
        if (signals[CHALLENGE] != expected) revert ChallengeMismatch(expected, signals[CHALLENGE]);
        if (!verifier.verifyProof(a, b, c, signals)) revert InvalidProof();

        emit BalanceProven(msg.sender, signals[THRESHOLD], signals[ROOT]);
    }

    /**
     * @notice The challenge a proof submitted by `account` must carry:
     *         keccak256(abi.encode(block.chainid, address(this), account)) mod FIELD_MODULUS.
     * @param account The account that will call `prove`.
     * @return challenge A field element.
     */
    function challengeFor(address account) public view returns (uint256 challenge) {
        return CallerChallenge.challengeOf(block.chainid, address(this), account);
    }
}
