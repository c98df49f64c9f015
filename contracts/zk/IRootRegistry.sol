// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title IRootRegistry
 * @notice Anchored roots of a Poseidon Merkle tree (the identity tree or a balance epoch tree) with
 * a history window.
 *
 * The service publishes the tree's root whenever the tree changes. Proofs are made against the
 * root a wallet fetched a moment ago, so a root stays valid for `windowSeconds` after a newer one
 * supersedes it; after that, proofs against it are refused (for the identity tree this is what
 * makes a revocation take effect).
 */
interface IRootRegistry {
    /**
     * @notice `root` became the current root.
     * @param root The new current root.
     * @param previousRoot The root it superseded (0 for the first publication).
     * @param validUntilOfPrevious Last timestamp at which `previousRoot` is still valid (0 when there was none).
     */
    event RootPublished(uint256 indexed root, uint256 previousRoot, uint64 validUntilOfPrevious);

    /**
     * @notice Make `root` the current root; the previous current root stays valid for `windowSeconds`.
     * @dev Only the publisher. Republishing the current root is a no-op; publishing an older root
     *      makes it current again. Zero is never a root.
     * @param root The new current root, a nonzero field element.
     */
    function publishRoot(uint256 root) external;

    /// @notice The current root (0 before the first publication).
    function currentRoot() external view returns (uint256);

    /**
     * @notice Whether a proof against `root` is accepted now.
     * @param root A tree root.
     * @return valid True when `root` is current, or was superseded at most `windowSeconds` ago.
     */
    function isValidRoot(uint256 root) external view returns (bool valid);
}
