// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @notice The generated Groth16 verifier of the `eligibility` circuit (contracts/verifiers/EligibilityVerifier.sol).
 * Public signals: [nullifier, root, currentDate, minAge, denylist[0..7], scope, challenge].
 */
interface IEligibilityVerifier {
    /// @notice True when (a, b, c) is a valid proof for `publicSignals`.
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[14] calldata publicSignals
    ) external view returns (bool);
}

/**
 * @notice The generated Groth16 verifier of the `balance` circuit (contracts/verifiers/BalanceVerifier.sol).
 * Public signals: [root, threshold, challenge].
 */
interface IBalanceVerifier {
    /// @notice True when (a, b, c) is a valid proof for `publicSignals`.
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[3] calldata publicSignals
    ) external view returns (bool);
}
