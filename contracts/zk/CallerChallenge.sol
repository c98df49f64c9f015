// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title CallerChallenge
 * @notice The challenge a gate contract expects in a proof submitted by `account`:
 * `uint256(keccak256(abi.encode(chainId, gate, account))) % FIELD_MODULUS`.
 *
 * A Groth16 proof is bound to the challenge it was made with (a public signal), so binding the
 * challenge to (chain, gate, caller) means a proof seen in the mempool or on chain cannot be
 * submitted by anyone else, to another gate, or on another chain. The reduction modulo the BN254
 * scalar field makes it a canonical field element, as the circuits take it.
 */
library CallerChallenge {
    /// @notice The BN254 scalar field modulus: every public signal is below it.
    uint256 internal constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /**
     * @notice The challenge a proof submitted by `account` to `gate` on chain `chainId` must carry.
     * @param chainId The chain id (`block.chainid`).
     * @param gate The gate contract.
     * @param account The account that submits the proof.
     * @return challenge A field element.
     */
    function challengeOf(uint256 chainId, address gate, address account) internal pure returns (uint256 challenge) {
        return uint256(keccak256(abi.encode(chainId, gate, account))) % FIELD_MODULUS;
    }
}
