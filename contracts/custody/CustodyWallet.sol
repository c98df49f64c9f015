// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {FrostSecp256k1} from "./FrostSecp256k1.sol";

/**
 * @title CustodyWallet
 * @notice A smart-contract account controlled by a FROST(secp256k1, SHA-256) threshold group
 *         (RFC 9591): it holds ETH and runs calls that the group signed. No one holds the whole key.
 *
 * The group signs EIP-712 typed data; the domain (name "CustodyWallet", version "1", chainId,
 * verifyingContract = this wallet) binds every signature to one wallet on one chain.
 *   Execute(address to,uint256 value,bytes data,uint256 nonce)
 *   RotateKey(uint256 newKeyX,uint8 newKeyParity,uint256 nonce)
 * Both share one nonce counter: a signature is valid only for the wallet's next nonce and is
 * spent by its use, so no signature can be replayed, reordered or used on another wallet/chain.
 * Anyone may submit a signed operation (a relayer pays the gas); only the signature authorizes.
 */
contract CustodyWallet {
    using FrostSecp256k1 for FrostSecp256k1.GroupKey;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("CustodyWallet");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @notice EIP-712 type hash of an Execute operation.
    bytes32 public constant EXECUTE_TYPEHASH = keccak256("Execute(address to,uint256 value,bytes data,uint256 nonce)");
    /// @notice EIP-712 type hash of a RotateKey operation.
    bytes32 public constant ROTATE_KEY_TYPEHASH = keccak256("RotateKey(uint256 newKeyX,uint8 newKeyParity,uint256 nonce)");

    /// @notice The group public key that authorizes operations.
    FrostSecp256k1.GroupKey public groupKey;
    /// @notice The nonce the next signed operation must carry.
    uint256 public nonce;

    /// @notice A group key that the verifier cannot use (x zero or >= n, parity not 0/1).
    error InvalidGroupKey();
    /// @notice The operation carries `provided` but the wallet expects `expected`.
    error InvalidNonce(uint256 expected, uint256 provided);
    /// @notice The signature is not the group's over this operation on this wallet and chain.
    error InvalidSignature();
    /// @notice The executed call reverted; `reason` is its revert data.
    error CallFailed(bytes reason);

    /// @notice ETH received.
    event Deposited(address indexed from, uint256 value);
    /// @notice A signed call was executed.
    event Executed(uint256 indexed nonce, address indexed to, uint256 value, bytes32 dataHash);
    /// @notice The group key was replaced (after a reshare to a new group, or a new DKG).
    event KeyRotated(uint256 indexed nonce, uint256 oldKeyX, uint8 oldKeyParity, uint256 newKeyX, uint8 newKeyParity);

    /// @param key The initial group public key (compressed: x and y parity).
    constructor(FrostSecp256k1.GroupKey memory key) {
        if (!key.isValidKey()) revert InvalidGroupKey();
        groupKey = key;
    }

    /// @notice Accepts ETH.
    receive() external payable {
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice The EIP-712 domain separator of this wallet on the current chain.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 digest the group signs to authorize `execute(to, value, data, nonce_)`.
    function executeDigest(address to, uint256 value, bytes calldata data, uint256 nonce_) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(EXECUTE_TYPEHASH, to, value, keccak256(data), nonce_)));
    }

    /// @notice The EIP-712 digest the group signs to authorize `rotateKey(newKey, nonce_)`.
    function rotateKeyDigest(FrostSecp256k1.GroupKey calldata newKey, uint256 nonce_) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(ROTATE_KEY_TYPEHASH, newKey.x, newKey.parity, nonce_)));
    }

    /**
     * @notice Runs `to.call{value: value}(data)` as signed by the group.
     * @param to Call target.
     * @param value Wei to send.
     * @param data Calldata.
     * @param nonce_ Must equal `nonce()`; it is consumed before the call (checks-effects-interactions).
     * @param signature The group's FROST signature over `executeDigest(to, value, data, nonce_)`.
     * @return result The call's return data.
     */
    function execute(
        address to,
        uint256 value,
        bytes calldata data,
        uint256 nonce_,
        FrostSecp256k1.Signature calldata signature
    ) external returns (bytes memory result) {
        _useNonce(nonce_, executeDigest(to, value, data, nonce_), signature);
        emit Executed(nonce_, to, value, keccak256(data));
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) revert CallFailed(result);
    }

    /**
     * @notice Replaces the group key, as signed by the current group.
     * @param newKey The new group public key.
     * @param nonce_ Must equal `nonce()`.
     * @param signature The current group's signature over `rotateKeyDigest(newKey, nonce_)`.
     */
    function rotateKey(
        FrostSecp256k1.GroupKey calldata newKey,
        uint256 nonce_,
        FrostSecp256k1.Signature calldata signature
    ) external {
        if (!FrostSecp256k1.isValidKey(newKey)) revert InvalidGroupKey();
        _useNonce(nonce_, rotateKeyDigest(newKey, nonce_), signature);
        FrostSecp256k1.GroupKey memory old = groupKey;
        groupKey = newKey;
        emit KeyRotated(nonce_, old.x, old.parity, newKey.x, newKey.parity);
    }

    function _useNonce(uint256 nonce_, bytes32 digest, FrostSecp256k1.Signature calldata signature) private {
        uint256 expected = nonce;
        if (nonce_ != expected) revert InvalidNonce(expected, nonce_);
        if (!FrostSecp256k1.verify(groupKey, digest, signature)) revert InvalidSignature();
        nonce = expected + 1;
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }
}
