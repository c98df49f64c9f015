// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {CustodyWallet} from "./CustodyWallet.sol";
import {FrostSecp256k1} from "./FrostSecp256k1.sol";

/**
 * @title CustodyWalletFactory
 * @notice Deploys CustodyWallets with CREATE2, so a wallet's address is known from its initial
 *         group key and a salt before it exists (funds can be sent to it first). The address stays
 *         the wallet's after a key rotation.
 */
contract CustodyWalletFactory {
    /// @notice A wallet already exists for this key and salt.
    error WalletAlreadyDeployed(address wallet);

    /// @notice A wallet was deployed.
    event WalletDeployed(address indexed wallet, uint256 indexed groupKeyX, uint8 groupKeyParity, bytes32 salt);

    /**
     * @notice Deploys the wallet of `key` and `salt` (reverts with InvalidGroupKey for an unusable key).
     * @return wallet Its address, equal to `predictAddress(key, salt)`.
     */
    function deploy(FrostSecp256k1.GroupKey calldata key, bytes32 salt) external returns (address wallet) {
        address predicted = predictAddress(key, salt);
        if (predicted.code.length != 0) revert WalletAlreadyDeployed(predicted);
        wallet = address(new CustodyWallet{salt: _salt(key, salt)}(key));
        emit WalletDeployed(wallet, key.x, key.parity, salt);
    }

    /// @notice The address `deploy(key, salt)` deploys to (EIP-1014).
    function predictAddress(FrostSecp256k1.GroupKey calldata key, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(CustodyWallet).creationCode, abi.encode(key)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(key, salt), initCodeHash)))));
    }

    /// @dev The CREATE2 salt binds the group key, so the same user salt gives each group its own address.
    function _salt(FrostSecp256k1.GroupKey calldata key, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(key.x, key.parity, salt));
    }
}
