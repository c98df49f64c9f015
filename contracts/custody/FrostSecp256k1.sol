// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title FrostSecp256k1
 * @notice Verification of FROST(secp256k1, SHA-256) group signatures (RFC 9591) on the EVM.
 *
 * A FROST signature over message m is (R, z) with z*G = R + c*PK, where
 * c = H2(SerializeElement(R) || SerializeElement(PK) || m) (RFC 9591 section 4.6
 * compute_challenge; section 5.3 aggregate; section 6.5 for this ciphersuite: SerializeElement is
 * the 33-byte SEC1 compressed point, H2 is hash_to_field of RFC 9380 section 5.2 with
 * expand_message_xmd (section 5.3.1) over SHA-256, L = 48 and DST "FROST-secp256k1-SHA256-v1chal",
 * reduced modulo the group order n).
 *
 * The EVM has no secp256k1 scalar multiplication, but the ecrecover precompile computes one
 * linear combination. ecrecover(h, v, r, s) returns the address of
 *     Q = r^-1 * (s*K - h*G)
 * where K is the curve point with x = r and y parity v - 27 (SEC1 4.1.6 public key recovery).
 * Feeding it the group key itself as K (r = PK.x, v = 27 + PK.parity) and choosing
 *     s = -c * PK.x  (mod n),   h = -z * PK.x  (mod n)
 * gives Q = PK.x^-1 * (-c*PK.x*PK + z*PK.x*G) = z*G - c*PK, which is R exactly when the signature
 * is valid. ecrecover yields address(Q) = keccak256(Q.x || Q.y)[12:], so the signer passes R
 * uncompressed and the library compares address(R) with the recovered address: equality means
 * R = Q up to a 160-bit hash collision (the known "Schnorr verification with ecrecover" trick,
 * here with the exact RFC 9591 challenge instead of a BIP-340 or ad hoc one). R is then
 * a curve point, and its compressed form, taken from R.y's parity, is what enters the challenge.
 *
 * Preconditions the precompile imposes: 0 < PK.x < n (r must be a scalar; a key with x >= n,
 * probability ~2^-128, is refused when a wallet is set up) and s != 0 (c != 0).
 */
library FrostSecp256k1 {
    /// @dev secp256k1 group order n.
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    /// @dev secp256k1 field prime p.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev RFC 9380 section 5.3.1 DST_prime = DST || I2OSP(len(DST), 1), DST = contextString || "chal" (29 bytes).
    bytes30 internal constant DST_PRIME = "FROST-secp256k1-SHA256-v1chal\x1d";

    /// @notice A group public key: x coordinate and parity of y (0 even, 1 odd), i.e. its compressed form.
    struct GroupKey {
        uint256 x;
        uint8 parity;
    }

    /// @notice A group signature: commitment R in affine coordinates and the response z.
    struct Signature {
        uint256 rx;
        uint256 ry;
        uint256 z;
    }

    /**
     * @notice Whether `key` is usable for verification: 0 < x < n (an ecrecover `r`) and parity 0 or 1.
     * @dev Whether x lies on the curve is checked by ecrecover itself: a key off the curve never verifies.
     */
    function isValidKey(GroupKey memory key) internal pure returns (bool) {
        return key.x != 0 && key.x < N && key.parity <= 1;
    }

    /**
     * @notice RFC 9591 challenge c = H2(R || PK || message) for FROST(secp256k1, SHA-256).
     * @dev expand_message_xmd(msg, DST, 48) with SHA-256 (b_in_bytes 32, s_in_bytes 64, ell = 2):
     *      b0 = H(Z_pad || msg || I2OSP(48, 2) || I2OSP(0, 1) || DST_prime),
     *      b1 = H(b0 || I2OSP(1, 1) || DST_prime), b2 = H((b0 xor b1) || I2OSP(2, 1) || DST_prime),
     *      uniform_bytes = b1 || b2[0:16]; c = OS2IP(uniform_bytes) mod n = (b1 * 2^128 + b2 >> 128) mod n.
     */
    function challenge(uint256 rx, uint256 ry, GroupKey memory key, bytes32 message) internal pure returns (uint256) {
        bytes32 b0 = sha256(
            abi.encodePacked(
                bytes32(0),
                bytes32(0), // Z_pad: s_in_bytes = 64 zero bytes
                uint8(2 + (ry & 1)),
                rx, // SerializeElement(R)
                uint8(2 + key.parity),
                key.x, // SerializeElement(PK)
                message,
                uint16(48), // I2OSP(len_in_bytes, 2)
                uint8(0),
                DST_PRIME
            )
        );
        bytes32 b1 = sha256(abi.encodePacked(b0, uint8(1), DST_PRIME));
        bytes32 b2 = sha256(abi.encodePacked(b0 ^ b1, uint8(2), DST_PRIME));
        return addmod(mulmod(uint256(b1), 1 << 128, N), uint256(b2) >> 128, N);
    }

    /**
     * @notice Whether `sig` is a valid FROST(secp256k1, SHA-256) signature of `message` under `key`.
     * @param key The group public key.
     * @param message The 32-byte message that was signed (e.g. an EIP-712 digest).
     * @param sig The signature: R = (rx, ry) and z.
     */
    function verify(GroupKey memory key, bytes32 message, Signature memory sig) internal pure returns (bool) {
        if (!isValidKey(key) || sig.z == 0 || sig.z >= N || sig.rx >= P || sig.ry >= P) return false;
        uint256 c = challenge(sig.rx, sig.ry, key, message);
        uint256 s = mulmod(c, key.x, N);
        if (s == 0) return false;
        // Q = x^-1 * (s*PK - h*G) with s = -c*x and h = -z*x, i.e. Q = z*G - c*PK (see the contract notes).
        address q = ecrecover(bytes32(N - mulmod(sig.z, key.x, N)), 27 + key.parity, bytes32(key.x), bytes32(N - s));
        if (q == address(0)) return false;
        return q == address(uint160(uint256(keccak256(abi.encodePacked(sig.rx, sig.ry)))));
    }
}
