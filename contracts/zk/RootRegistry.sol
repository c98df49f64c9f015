// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IRootRegistry} from "./IRootRegistry.sol";

/**
 * @title RootRegistry
 * @notice Anchored roots of one Poseidon Merkle tree of the service (the identity tree, or the
 * balance tree of successive epochs), with a history window.
 *
 * A root `r` is valid when it is the current root, or when it was superseded at time `t` and
 * `block.timestamp <= t + windowSeconds`. The window lets a proof made against the root a wallet
 * fetched just before an update still be accepted; once it closes, proofs against the old root
 * are refused, which is how a revoked identity (its leaf set to 0, hence a new root) loses access.
 *
 * Only the publisher (the service's ledger account) publishes. Republishing the current root is a
 * no-op; publishing a root seen before makes it current again (e.g. an update rolled back), and it
 * is then valid without limit until superseded again. Zero is never a root (it marks "none").
 */
contract RootRegistry is IRootRegistry {
    /// @dev One slot per root: whether it was ever published and when it was last superseded
    ///      (0 while it is current or was never superseded).
    struct RootRecord {
        bool known;
        uint64 supersededAt;
    }

    /// @notice The account allowed to publish roots.
    address public immutable publisher;

    /// @notice How long (seconds) a superseded root stays valid.
    uint64 public immutable windowSeconds;

    uint256 private _currentRoot;

    mapping(uint256 root => RootRecord) private _roots;

    /// @notice `account` may not publish roots.
    error UnauthorizedPublisher(address account);

    /// @notice The zero address cannot be the publisher.
    error InvalidPublisher();

    /// @notice Zero marks "no root" and cannot be published.
    error ZeroRoot();

    /**
     * @param publisher_ The account allowed to publish roots (the service's ledger account).
     * @param windowSeconds_ How long a superseded root stays valid (0: only within the block that superseded it).
     */
    constructor(address publisher_, uint64 windowSeconds_) {
        if (publisher_ == address(0)) revert InvalidPublisher();
        publisher = publisher_;
        windowSeconds = windowSeconds_;
    }

    /**
     * @inheritdoc IRootRegistry
     * @dev Emits `RootPublished` unless `root` is already current. Reverts `UnauthorizedPublisher`
     *      for any other caller and `ZeroRoot` for 0.
     */
    function publishRoot(uint256 root) external {
        if (msg.sender != publisher) revert UnauthorizedPublisher(msg.sender);
        if (root == 0) revert ZeroRoot();
        uint256 previousRoot = _currentRoot;
        if (root == previousRoot) return; // retry of the current root

        uint64 validUntilOfPrevious;
        if (previousRoot != 0) {
            uint64 now_ = uint64(block.timestamp);
            _roots[previousRoot].supersededAt = now_;
            validUntilOfPrevious = _validUntil(now_);
        }
        _roots[root] = RootRecord({known: true, supersededAt: 0});
        _currentRoot = root;
        emit RootPublished(root, previousRoot, validUntilOfPrevious);
    }

    /// @inheritdoc IRootRegistry
    function currentRoot() external view returns (uint256) {
        return _currentRoot;
    }

    /// @inheritdoc IRootRegistry
    function isValidRoot(uint256 root) external view returns (bool valid) {
        if (root == 0) return false;
        if (root == _currentRoot) return true;
        RootRecord memory record = _roots[root];
        return record.known && block.timestamp <= uint256(record.supersededAt) + windowSeconds;
    }

    /**
     * @notice What the registry knows about `root`.
     * @param root A tree root.
     * @return known Whether `root` was ever published.
     * @return current Whether `root` is the current root.
     * @return validUntil Last timestamp at which `root` is valid; 0 when it is current (no limit yet) or unknown.
     */
    function rootInfo(uint256 root) external view returns (bool known, bool current, uint64 validUntil) {
        if (root == 0) return (false, false, 0);
        RootRecord memory record = _roots[root];
        known = record.known;
        current = root == _currentRoot;
        if (known && !current) validUntil = _validUntil(record.supersededAt);
    }

    /// @dev `supersededAt + windowSeconds`, saturated at the largest uint64.
    function _validUntil(uint64 supersededAt) private view returns (uint64) {
        uint256 until = uint256(supersededAt) + windowSeconds;
        return until > type(uint64).max ? type(uint64).max : uint64(until);
    }
}
