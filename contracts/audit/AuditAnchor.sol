// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title AuditAnchor
 * @notice Public, append-only record of checkpoints of the service's audit log.
 *
 * The audit log is a Merkle tree log as specified by RFC 9162 (Certificate Transparency v2):
 * a checkpoint (signed tree head, RFC 9162 section 4.10) commits to the first `treeSize` entries
 * with the 32-byte root hash of the tree over them. Anchoring a checkpoint here fixes that root in
 * a ledger the service cannot rewrite, so anyone holding a later checkpoint can ask the service for
 * a consistency proof (RFC 9162 section 2.1.4) between two anchored sizes and detect a forked or
 * rewritten log.
 *
 * Rules:
 * - only the anchoring account may anchor;
 * - tree sizes only grow: a new checkpoint must be larger than the latest anchored one;
 * - anchoring exactly the checkpoint already recorded for a size is a no-op, so a transaction
 *   retried after a crash is safe;
 * - a different root for a size that is already anchored is a fork attempt and reverts.
 *
 * The anchoring account can hand over its role in two steps (propose, then accept by the new
 * account), so a mistyped address can never lock the anchor.
 */
contract AuditAnchor {
    /// @dev Packed in one slot with `_latestTreeSize`: the authorisation check warms the slot
    ///      that the monotonicity update writes.
    address private _anchorer;
    uint64 private _latestTreeSize;

    address private _pendingAnchorer;

    mapping(uint64 treeSize => bytes32 rootHash) private _roots;

    /**
     * @notice A checkpoint of the audit log was anchored.
     * @param treeSize Number of log entries the checkpoint covers.
     * @param rootHash RFC 9162 Merkle tree hash over those entries.
     * @param previousTreeSize The latest anchored size before this one (0 for the first): auditors
     *        request the consistency proof from `previousTreeSize` to `treeSize`.
     */
    event CheckpointAnchored(uint64 indexed treeSize, bytes32 rootHash, uint64 previousTreeSize);

    /// @notice The anchoring account proposed `newAnchorer` as its successor.
    event AnchorerTransferStarted(address indexed previousAnchorer, address indexed newAnchorer);

    /// @notice The anchoring role moved from `previousAnchorer` to `newAnchorer`.
    event AnchorerTransferred(address indexed previousAnchorer, address indexed newAnchorer);

    /// @notice `account` is not allowed to perform the call.
    error UnauthorizedAccount(address account);

    /// @notice The zero address cannot be the anchoring account.
    error InvalidAnchorer(address account);

    /// @notice A checkpoint must cover at least one entry (the empty tree is never anchored).
    error EmptyTree();

    /// @notice The zero hash marks "not anchored" and cannot be a root.
    error ZeroRootHash(uint64 treeSize);

    /// @notice `treeSize` is not larger than the latest anchored size and was never anchored itself.
    error TreeSizeNotIncreasing(uint64 treeSize, uint64 latestTreeSize);

    /// @notice `treeSize` is already anchored with `anchoredRoot`; `proposedRoot` would fork the log.
    error ConflictingRoot(uint64 treeSize, bytes32 anchoredRoot, bytes32 proposedRoot);

    /// @notice A batch must hold one root per size and at least one checkpoint.
    error InvalidBatch(uint256 sizes, uint256 roots);

    /// @param initialAnchorer The account that may anchor checkpoints (the service's ledger account).
    constructor(address initialAnchorer) {
        if (initialAnchorer == address(0)) revert InvalidAnchorer(address(0));
        _anchorer = initialAnchorer;
        emit AnchorerTransferred(address(0), initialAnchorer);
    }

    modifier onlyAnchorer() {
        if (msg.sender != _anchorer) revert UnauthorizedAccount(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ anchoring

    /**
     * @notice Anchor one checkpoint of the audit log.
     * @dev Re-anchoring the exact (treeSize, rootHash) already recorded returns false and emits nothing.
     * @param treeSize Number of entries covered; larger than `latest()` unless already anchored.
     * @param rootHash RFC 9162 root hash of the tree of that size; never zero.
     * @return anchored True when the checkpoint was newly recorded, false for an idempotent retry.
     */
    function anchor(uint64 treeSize, bytes32 rootHash) external onlyAnchorer returns (bool anchored) {
        return _anchor(treeSize, rootHash);
    }

    /**
     * @notice Anchor several checkpoints in one transaction, in increasing tree size order.
     * @dev Each entry follows the rules of `anchor`; checkpoints already recorded with the same root
     *      are skipped, so a retried or overlapping batch is safe. Any violation reverts the whole batch.
     * @param treeSizes Tree sizes, strictly increasing after the already anchored ones are skipped.
     * @param rootHashes Root hash for each tree size, same length as `treeSizes`.
     * @return anchoredCount Number of checkpoints newly recorded.
     */
    function anchorBatch(uint64[] calldata treeSizes, bytes32[] calldata rootHashes)
        external
        onlyAnchorer
        returns (uint256 anchoredCount)
    {
        uint256 n = treeSizes.length;
        if (n == 0 || n != rootHashes.length) revert InvalidBatch(n, rootHashes.length);
        for (uint256 i = 0; i < n; ++i) {
            if (_anchor(treeSizes[i], rootHashes[i])) ++anchoredCount;
        }
    }

    // ------------------------------------------------------------------ views

    /**
     * @notice Root hash anchored for `treeSize`.
     * @param treeSize A tree size.
     * @return rootHash The anchored root, or zero when that size was never anchored.
     */
    function rootAt(uint64 treeSize) external view returns (bytes32 rootHash) {
        return _roots[treeSize];
    }

    /**
     * @notice The most recent anchored checkpoint.
     * @return treeSize Largest anchored tree size (0 when nothing is anchored yet).
     * @return rootHash Its root hash (zero when nothing is anchored yet).
     */
    function latest() external view returns (uint64 treeSize, bytes32 rootHash) {
        treeSize = _latestTreeSize;
        rootHash = _roots[treeSize];
    }

    /// @notice Largest anchored tree size (0 when nothing is anchored yet).
    function latestTreeSize() external view returns (uint64) {
        return _latestTreeSize;
    }

    /// @notice The account allowed to anchor checkpoints.
    function anchorer() external view returns (address) {
        return _anchorer;
    }

    /// @notice The account proposed as next anchorer, or zero when no transfer is pending.
    function pendingAnchorer() external view returns (address) {
        return _pendingAnchorer;
    }

    // ------------------------------------------------------------------ anchorer role

    /**
     * @notice Propose `newAnchorer` as the anchoring account; it takes over once it calls `acceptAnchorer`.
     * @dev Proposing the zero address cancels a pending transfer.
     * @param newAnchorer The proposed account.
     */
    function transferAnchorer(address newAnchorer) external onlyAnchorer {
        _pendingAnchorer = newAnchorer;
        emit AnchorerTransferStarted(_anchorer, newAnchorer);
    }

    /// @notice Accept the anchoring role proposed to the caller by `transferAnchorer`.
    function acceptAnchorer() external {
        address newAnchorer = msg.sender;
        if (newAnchorer != _pendingAnchorer || newAnchorer == address(0)) revert UnauthorizedAccount(newAnchorer);
        address previousAnchorer = _anchorer;
        delete _pendingAnchorer;
        _anchorer = newAnchorer;
        emit AnchorerTransferred(previousAnchorer, newAnchorer);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Checks, then effects, then the event; there are no external calls.
    function _anchor(uint64 treeSize, bytes32 rootHash) private returns (bool) {
        if (treeSize == 0) revert EmptyTree();
        if (rootHash == bytes32(0)) revert ZeroRootHash(treeSize);

        bytes32 anchoredRoot = _roots[treeSize];
        if (anchoredRoot != bytes32(0)) {
            if (anchoredRoot == rootHash) return false; // retry of a recorded checkpoint
            revert ConflictingRoot(treeSize, anchoredRoot, rootHash);
        }
        uint64 previousTreeSize = _latestTreeSize;
        if (treeSize <= previousTreeSize) revert TreeSizeNotIncreasing(treeSize, previousTreeSize);

        _roots[treeSize] = rootHash;
        _latestTreeSize = treeSize;
        emit CheckpointAnchored(treeSize, rootHash, previousTreeSize);
        return true;
    }
}
