//! Addresses of a group public key, so a threshold key can receive funds
//! without any party holding its private key.
//!
//! - [`ethereum`]: the last 20 bytes of Keccak-256 of the uncompressed key
//!   `x || y` (Ethereum yellow paper, appendix F), written with EIP-55's
//!   mixed-case checksum ([`eip55`]);
//! - [`p2wpkh`]: a segwit version 0 output paying to
//!   `HASH160(compressed key)` = RIPEMD-160(SHA-256(·)), as a BIP-173 bech32
//!   address;
//! - [`p2tr`]: a key-path-only taproot output (BIP-86): the output key
//!   `Q = P + G · int(hash_TapTweak(x(P)))` of BIP-341 with an empty merkle
//!   root, as a segwit version 1 BIP-350 bech32m address of `x(Q)`. Signing
//!   for it uses the same [`taproot_adjust`].
//!
//! All of this is public data: nothing here is constant-time.

use std::fmt::Write as _;

use bech32::segwit::{VERSION_0, VERSION_1};
use bech32::{Fe32, Hrp, hrp};
use k256::ProjectivePoint;
use k256::elliptic_curve::sec1::ToSec1Point;
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use super::SignError;
use super::encoding::point_to_bytes;
use super::frost::{taproot_adjust, x_only};

/// A Bitcoin network, for the human-readable part of a segwit address
/// (BIP-173, "Segwit address format").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// `bc`.
    Mainnet,
    /// `tb` (testnet and signet).
    Testnet,
    /// `bcrt`.
    Regtest,
}

impl Network {
    /// The human-readable part: `bc`, `tb` or `bcrt`.
    pub fn hrp(self) -> &'static str {
        match self {
            Network::Mainnet => "bc",
            Network::Testnet => "tb",
            Network::Regtest => "bcrt",
        }
    }

    fn bech32_hrp(self) -> Hrp {
        match self {
            Network::Mainnet => hrp::BC,
            Network::Testnet => hrp::TB,
            Network::Regtest => hrp::BCRT,
        }
    }
}

/// The Ethereum address of `key`, EIP-55 checksummed (`0x` and 40 hex
/// digits). The identity, which is no one's key and which key generation
/// refuses, has no encoding; it is hashed as 64 zero bytes.
pub fn ethereum(key: &ProjectivePoint) -> String {
    let enc = key.to_affine().to_sec1_point(false);
    let mut xy = [0u8; 64];
    if let Some(b) = enc.as_bytes().get(1..65) {
        xy.copy_from_slice(b);
    }
    let hash = Keccak256::digest(xy);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    eip55(&address)
}

/// EIP-55: `0x` and the address in hex, where a letter is upper case if the
/// matching nibble of Keccak-256 of the lower-case hex (ASCII, without `0x`)
/// is 8 or more.
pub fn eip55(address: &[u8; 20]) -> String {
    let lower: String = address.iter().fold(String::with_capacity(40), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (4 * (1 - i % 2))) & 0x0f;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// `HASH160(x)` = RIPEMD-160(SHA-256(x)).
fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

/// The BIP-173 bech32 address of the segwit version 0 output paying to
/// `HASH160` of the compressed key (P2WPKH, BIP-141).
pub fn p2wpkh(key: &ProjectivePoint, network: Network) -> String {
    segwit_address(network, VERSION_0, &hash160(&point_to_bytes(key)))
}

/// The BIP-350 bech32m address of the key-path-only taproot output of the
/// internal key `key` (BIP-86; BIP-341's `taproot_output_script` with no
/// script tree, whose tweak commits to an empty merkle root). Any y works:
/// BIP-341 uses the internal key's x alone.
///
/// Fails only if the tweak is not below the group order (probability
/// about 2^-128, as BIP-341 says).
pub fn p2tr(key: &ProjectivePoint, network: Network) -> Result<String, SignError> {
    let output = taproot_adjust(key, Some(&[]))?.point(key);
    Ok(segwit_address(network, VERSION_1, &x_only(&output)))
}

/// A segwit address: bech32 for version 0, bech32m for version 1 (BIP-350).
/// The checks of `bech32::segwit::encode` hold by construction here
/// (version 0 with 20 bytes, version 1 with 32, at most 64 characters with
/// the longest prefix, below bech32's 90), and writing to a `String` cannot
/// fail, so the unchecked encoder has nothing to report.
fn segwit_address(network: Network, version: Fe32, program: &[u8]) -> String {
    let mut s = String::with_capacity(64);
    let _ = bech32::segwit::encode_to_fmt_unchecked(&mut s, network.bech32_hrp(), version, program);
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sign::point_from_bytes;
    use k256::Scalar;

    const NETWORKS: [Network; 3] = [Network::Mainnet, Network::Testnet, Network::Regtest];

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn key(s: &str) -> ProjectivePoint {
        point_from_bytes(&hex(s)).unwrap()
    }

    use crate::sign::test_vectors as vectors;

    #[test]
    fn ethereum_address_of_private_key_one() {
        assert_eq!(
            ethereum(&ProjectivePoint::GENERATOR),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }

    #[test]
    fn ethereum_address_of_private_key_two() {
        // A second well-known address (private key 2).
        let k2 = ProjectivePoint::GENERATOR * Scalar::from(2u64);
        assert_eq!(ethereum(&k2), "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF");
    }

    #[test]
    fn eip55_spec_examples() {
        for expected in [
            // All caps.
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            // All lower.
            "0xde709f2102306220921060314715629080e2fb77",
            "0x27b1fdb04752bbc536007a920d24acb045561c26",
            // Mixed.
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let bytes: [u8; 20] = hex(&expected[2..].to_ascii_lowercase()).try_into().unwrap();
            assert_eq!(eip55(&bytes), expected);
        }
    }

    #[test]
    fn bip173_p2wpkh_example() {
        let g = key("0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798");
        assert_eq!(
            hash160(&point_to_bytes(&g)).to_vec(),
            hex("751e76e8199196d454941c45d1b3a323f1433bd6")
        );
        assert_eq!(
            p2wpkh(&g, Network::Mainnet),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        assert_eq!(
            p2wpkh(&g, Network::Testnet),
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
        );
    }

    #[test]
    fn addresses_agree_with_the_checked_encoder_and_decode_back() {
        let keys = [
            ProjectivePoint::GENERATOR,
            -ProjectivePoint::GENERATOR * Scalar::from(7u64),
        ];
        for k in keys {
            for net in NETWORKS {
                let v0 = p2wpkh(&k, net);
                let program = hash160(&point_to_bytes(&k));
                assert_eq!(
                    v0,
                    bech32::segwit::encode_v0(net.bech32_hrp(), &program).unwrap()
                );
                let (hrp, version, decoded) = bech32::segwit::decode(&v0).unwrap();
                assert_eq!(
                    (hrp.to_string(), version, decoded),
                    (net.hrp().to_string(), VERSION_0, program.to_vec())
                );

                let v1 = p2tr(&k, net).unwrap();
                let (hrp, version, decoded) = bech32::segwit::decode(&v1).unwrap();
                assert_eq!(
                    (hrp.to_string(), version),
                    (net.hrp().to_string(), VERSION_1)
                );
                assert_eq!(
                    v1,
                    bech32::segwit::encode_v1(net.bech32_hrp(), &decoded).unwrap()
                );
                assert!(v1.starts_with(&format!("{}1p", net.hrp())));
            }
        }
    }

    #[test]
    fn p2tr_uses_only_the_internal_keys_x() {
        let p = ProjectivePoint::GENERATOR * Scalar::from(12345u64);
        assert_eq!(
            p2tr(&p, Network::Mainnet).unwrap(),
            p2tr(&-p, Network::Mainnet).unwrap()
        );
    }

    #[test]
    fn bip341_key_path_only_addresses() {
        let Some(text) = vectors("bip341/wallet-test-vectors.json") else {
            return;
        };
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut checked = 0;
        for case in json["scriptPubKey"].as_array().unwrap() {
            if !case["given"]["scriptTree"].is_null() {
                continue;
            }
            let internal = format!("02{}", case["given"]["internalPubkey"].as_str().unwrap());
            let expected = case["expected"]["bip350Address"].as_str().unwrap();
            assert_eq!(p2tr(&key(&internal), Network::Mainnet).unwrap(), expected);
            checked += 1;
        }
        assert!(checked > 0, "no key-path-only vector in the file");
    }
}
