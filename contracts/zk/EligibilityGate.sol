// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IEligibilityVerifier} from "./IGroth16Verifiers.sol";
import {IRootRegistry} from "./IRootRegistry.sol";
import {CallerChallenge} from "./CallerChallenge.sol";
import {UtcDate} from "./UtcDate.sol";

/**
 * @title EligibilityGate
 * @notice Admits each KYC'd identity once per scope, on an eligibility proof: "I hold an identity
 * in the issuer's tree, I am at least `minAge` years old today, my jurisdiction is not in
 * `denylist`", without revealing who, how old or where from.
 *
 * The proof's public signals are [nullifier, root, currentDate, minAge, denylist[0..7], scope,
 * challenge] (circuits/eligibility.circom). The gate fixes the policy (scope, minAge, denylist) at
 * deployment and accepts a claim when:
 * - every signal is a canonical field element;
 * - minAge, denylist and scope equal the gate's policy;
 * - currentDate is the UTC date of the block, or the day before (a proof made just before
 *   midnight stays usable for a day);
 * - root is valid in the identity root registry (current, or superseded within its window);
 * - challenge binds the proof to this chain, this gate and the caller (see `CallerChallenge`),
 *   so an observed proof cannot be front-run or replayed by another account;
 * - the nullifier = Poseidon(identitySecret, scope) was never used here: one claim per identity;
 * - the Groth16 proof verifies.
 * Then it records the nullifier and emits `Claimed`.
 */
contract EligibilityGate {
    /// @notice The BN254 scalar field modulus: every public signal is below it.
    uint256 public constant FIELD_MODULUS = CallerChallenge.FIELD_MODULUS;

    uint256 private constant SIGNAL_COUNT = 14;
    uint256 private constant DENYLIST_SIZE = 8;
    // Positions in the public-signal array.
    uint256 private constant NULLIFIER = 0;
    uint256 private constant ROOT = 1;
    uint256 private constant CURRENT_DATE = 2;
    uint256 private constant MIN_AGE = 3;
    uint256 private constant DENYLIST = 4;
    uint256 private constant SCOPE = 12;
    uint256 private constant CHALLENGE = 13;

    /// @notice The generated Groth16 verifier of the eligibility circuit.
    IEligibilityVerifier public immutable verifier;

    /// @notice The registry of identity tree roots.
    IRootRegistry public immutable registry;

    /// @notice The scope of the nullifiers: one claim per identity per scope.
    uint256 public immutable scope;

    /// @notice The minimum age in whole years on the claim date.
    uint8 public immutable minAge;

    /// @dev keccak256(abi.encode(denylist)): compared with the proof's 8 denylist signals.
    bytes32 private immutable _denylistHash;

    uint256[DENYLIST_SIZE] private _denylist;

    mapping(uint256 nullifier => bool) private _nullifierUsed;

    /**
     * @notice An identity claimed its admission.
     * @param nullifier Poseidon(identitySecret, scope): the same for every proof of that identity here.
     * @param account The caller the proof was bound to.
     */
    event Claimed(uint256 indexed nullifier, address indexed account);

    /// @notice A constructor address was zero.
    error ZeroAddress();

    /// @notice The scope or a denylist entry is not a field element, so no proof could ever match.
    error PolicyNotInField();

    /// @notice Public signal `index` is not below FIELD_MODULUS.
    error SignalNotInField(uint256 index);

    /// @notice The proof is for another minimum age.
    error MinAgeMismatch(uint256 expected, uint256 actual);

    /// @notice The proof is for another denylist.
    error DenylistMismatch();

    /// @notice The proof is for another scope.
    error ScopeMismatch(uint256 expected, uint256 actual);

    /// @notice The proof's date is neither today nor yesterday (UTC, by the block's timestamp).
    error CurrentDateNotAccepted(uint256 currentDate, uint256 today);

    /// @notice The proof's root is unknown to the registry, or was superseded longer than the window ago.
    error RootNotValid(uint256 root);

    /// @notice The proof was made for another caller, gate or chain.
    error ChallengeMismatch(uint256 expected, uint256 actual);

    /// @notice This identity has already claimed in this scope.
    error NullifierAlreadyUsed(uint256 nullifier);

    /// @notice The Groth16 proof does not verify for these public signals.
    error InvalidProof();

    /**
     * @param verifier_ The deployed EligibilityVerifier.
     * @param registry_ The identity tree's RootRegistry.
     * @param scope_ Nullifier scope (e.g. a hash naming the relying party and the campaign); a field element.
     * @param minAge_ Minimum age in whole years.
     * @param denylist_ Excluded jurisdictions (ISO 3166-1 numeric); unused slots are 0.
     */
    constructor(
        address verifier_,
        address registry_,
        uint256 scope_,
        uint8 minAge_,
        uint256[DENYLIST_SIZE] memory denylist_
    ) {
        if (verifier_ == address(0) || registry_ == address(0)) revert ZeroAddress();
        if (scope_ >= FIELD_MODULUS) revert PolicyNotInField();
        for (uint256 i = 0; i < DENYLIST_SIZE; ++i) {
            if (denylist_[i] >= FIELD_MODULUS) revert PolicyNotInField();
        }
        verifier = IEligibilityVerifier(verifier_);
        registry = IRootRegistry(registry_);
        scope = scope_;
        minAge = minAge_;
        _denylist = denylist_;
        _denylistHash = keccak256(abi.encode(denylist_));
    }

    /**
     * @notice Claim admission with an eligibility proof bound to the caller.
     * @dev Checks, then effects, then the event. The two external calls (registry, verifier) are
     *      view functions, made with STATICCALL, so they cannot re-enter. Reverts with the custom
     *      error of the first failed check (see the contract description for the order).
     * @param a Proof point A.
     * @param b Proof point B.
     * @param c Proof point C.
     * @param signals [nullifier, root, currentDate, minAge, denylist[0..7], scope, challenge].
     */
    function claim(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[SIGNAL_COUNT] calldata signals
    ) external {
        for (uint256 i = 0; i < SIGNAL_COUNT; ++i) {
            if (signals[i] >= FIELD_MODULUS) revert SignalNotInField(i);
        }
        if (signals[MIN_AGE] != minAge) revert MinAgeMismatch(minAge, signals[MIN_AGE]);
        if (_hashDenylist(signals) != _denylistHash) revert DenylistMismatch();
        if (signals[SCOPE] != scope) revert ScopeMismatch(scope, signals[SCOPE]);
        _checkDate(signals[CURRENT_DATE]);
        if (!registry.isValidRoot(signals[ROOT])) revert RootNotValid(signals[ROOT]);
        uint256 expected = challengeFor(msg.sender);
        if (signals[CHALLENGE] != expected) revert ChallengeMismatch(expected, signals[CHALLENGE]);
        uint256 nullifier = signals[NULLIFIER];
        if (_nullifierUsed[nullifier]) revert NullifierAlreadyUsed(nullifier);
        if (!verifier.verifyProof(a, b, c, signals)) revert InvalidProof();

        _nullifierUsed[nullifier] = true;
        emit Claimed(nullifier, msg.sender);
    }

    /**
     * @notice The challenge a proof submitted by `account` must carry:
     *         keccak256(abi.encode(block.chainid, address(this), account)) mod FIELD_MODULUS.
     * @param account The account that will call `claim`.
     * @return challenge A field element.
     */
    function challengeFor(address account) public view returns (uint256 challenge) {
        return CallerChallenge.challengeOf(block.chainid, address(this), account);
    }

    /**
     * @notice The dates (YYYYMMDD, UTC) a proof's currentDate may have at the current block.
     * @return today The date of `block.timestamp`.
     * @return yesterday The day before.
     */
    function acceptedDates() external view returns (uint256 today, uint256 yesterday) {
        today = UtcDate.yyyymmdd(block.timestamp);
        yesterday = block.timestamp >= 1 days ? UtcDate.yyyymmdd(block.timestamp - 1 days) : 0;
    }

    /// @notice The excluded jurisdictions (unused slots are 0).
    function denylist() external view returns (uint256[DENYLIST_SIZE] memory) {
        return _denylist;
    }

    /**
     * @notice Whether an identity with this nullifier has already claimed.
     * @param nullifier Poseidon(identitySecret, scope).
     * @return used True once a claim with `nullifier` succeeded.
     */
    function isNullifierUsed(uint256 nullifier) external view returns (bool used) {
        return _nullifierUsed[nullifier];
    }

    /// @dev Today or yesterday (UTC): yesterday is computed only when today does not match.
    function _checkDate(uint256 currentDate) private view {
        uint256 today = UtcDate.yyyymmdd(block.timestamp);
        if (currentDate == today) return;
        if (block.timestamp >= 1 days && currentDate == UtcDate.yyyymmdd(block.timestamp - 1 days)) return;
        revert CurrentDateNotAccepted(currentDate, today);
    }

    function _hashDenylist(uint256[SIGNAL_COUNT] calldata signals) private pure returns (bytes32) {
        uint256[DENYLIST_SIZE] memory d;
        for (uint256 i = 0; i < DENYLIST_SIZE; ++i) {
            d[i] = signals[DENYLIST + i];
        }
        return keccak256(abi.encode(d));
    }
}
