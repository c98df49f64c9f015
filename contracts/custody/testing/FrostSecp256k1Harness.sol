// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {FrostSecp256k1} from "../FrostSecp256k1.sol";

/// @notice Test-only exposure of the FrostSecp256k1 library (challenge against the TypeScript value; gas).
contract FrostSecp256k1Harness {
    function challenge(uint256 rx, uint256 ry, FrostSecp256k1.GroupKey memory key, bytes32 message) external pure returns (uint256) {
        return FrostSecp256k1.challenge(rx, ry, key, message);
    }

    function verify(FrostSecp256k1.GroupKey memory key, bytes32 message, FrostSecp256k1.Signature memory sig) external pure returns (bool) {
        return FrostSecp256k1.verify(key, message, sig);
    }

    /// @notice verify() and the gas it used inside the EVM (no call or calldata overhead).
    function verifyWithGas(FrostSecp256k1.GroupKey memory key, bytes32 message, FrostSecp256k1.Signature memory sig)
        external
        view
        returns (bool valid, uint256 gasUsed)
    {
        uint256 start = gasleft();
        valid = FrostSecp256k1.verify(key, message, sig);
        gasUsed = start - gasleft();
    }
}
