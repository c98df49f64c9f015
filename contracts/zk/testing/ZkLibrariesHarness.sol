// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CallerChallenge} from "../CallerChallenge.sol";
import {UtcDate} from "../UtcDate.sol";

/**
 * @title ZkLibrariesHarness
 * @notice Exposes the internal functions of `UtcDate` and `CallerChallenge` for tests against
 * known vectors (any timestamp, any chain). Never deployed by the service.
 */
contract ZkLibrariesHarness {
    /// @notice `UtcDate.yyyymmdd(timestamp)`.
    function yyyymmdd(uint256 timestamp) external pure returns (uint256) {
        return UtcDate.yyyymmdd(timestamp);
    }

    /// @notice `CallerChallenge.challengeOf(chainId, gate, account)`.
    function challengeOf(uint256 chainId, address gate, address account) external pure returns (uint256) {
        return CallerChallenge.challengeOf(chainId, gate, account);
    }
}
