//! BIP-32 child keys of a threshold key, derived from public data alone
//! (BIP-32, "Child key derivation (CKD) functions", "Public parent key →
//! public child key").
//!
//! `CKDpub((K_par, c_par), i)` for a non-hardened index `i < 2^31`:
//! `I = HMAC-SHA512(Key = c_par, Data = ser_P(K_par) || ser32(i))`, split into
//! `I_L` and `I_R`; the child key is `K_i = point(parse256(I_L)) + K_par` and
//! its chain code `c_i = I_R`. The matching private key is
//! `k_i = parse256(I_L) + k_par`, so along a whole path the child private key
//! is the parent's plus the sum of the `I_L`: a [`KeyAdjust`] with factor one
//! that every signer adds to its own share (the Lagrange coefficients of any
//! signing set sum to one), while anyone who knows the group key and the
//! chain code can compute the child's public key and addresses.
//!
//! Only non-hardened children exist for a threshold key: a hardened child
//! (`i >= 2^31`) hashes `ser256(k_par)`, the parent's private key itself, into
//! the HMAC, and no party holds that key; computing the hash jointly would
//! need a multi-party HMAC-SHA512 over the shared key, which this module does
//! not do. A path with a hardened step is refused.
//!
//! Where BIP-32 says to proceed with the next index (`parse256(I_L) >= n`,
//! or a child key at infinity, each with probability below 2^-127), this
//! module reports an error naming the index instead, so that a caller never
//! silently gets a different key than the path it asked for.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use k256::elliptic_curve::group::Group;
use k256::{ProjectivePoint, Scalar};
use sha2::Sha512;

use super::SignError;
use super::encoding::{point_to_bytes, scalar_from_bytes};
use super::frost::KeyAdjust;

/// The first hardened index, `2^31`.
pub const HARDENED: u32 = 1 << 31;

/// A BIP-32 path of non-hardened indices, such as `m/0/1/2` (`m` alone is
/// the empty path: the key itself).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DerivationPath(Vec<u32>);

/// The refusal of a hardened step.
fn hardened_refused(step: &str) -> SignError {
    SignError::Parameters(format!(
        "derivation path step {step} is hardened; a threshold key can only derive \
         non-hardened children (a hardened child needs the parent private key, \
         which no party holds)"
    ))
}

impl DerivationPath {
    /// The path of the given indices; each must be below `2^31`.
    pub fn new(indices: Vec<u32>) -> Result<Self, SignError> {
        if let Some(i) = indices.iter().find(|&&i| i >= HARDENED) {
            return Err(hardened_refused(&i.to_string()));
        }
        Ok(Self(indices))
    }

    /// The indices, from the key down.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }
}

impl FromStr for DerivationPath {
    type Err = SignError;

    /// `m`, then `/i` for each step with `i` in decimal, below `2^31`.
    /// Hardened steps (`i'`, `ih`, `iH`, or `i >= 2^31`) are refused.
    fn from_str(s: &str) -> Result<Self, SignError> {
        let mut parts = s.split('/');
        if parts.next() != Some("m") {
            return Err(SignError::Parameters(format!(
                "derivation path {s:?} does not start with \"m\""
            )));
        }
        let mut indices = Vec::new();
        for part in parts {
            if part.ends_with(['\'', 'h', 'H']) {
                return Err(hardened_refused(part));
            }
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SignError::Parameters(format!(
                    "derivation path {s:?}: step {part:?} is not a decimal index"
                )));
            }
            match part.parse::<u32>() {
                Ok(i) if i < HARDENED => indices.push(i),
                Ok(_) => return Err(hardened_refused(part)),
                Err(_) => {
                    return Err(SignError::Parameters(format!(
                        "derivation path {s:?}: step {part} is not below 2^32"
                    )));
                }
            }
        }
        Ok(Self(indices))
    }
}

impl fmt::Display for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for i in &self.0 {
            write!(f, "/{i}")?;
        }
        Ok(())
    }
}

/// A child of a threshold key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Derived {
    /// The change of the shared key: factor one, offset the sum of the
    /// `I_L` along the path. Signers apply it to their shares (and to the
    /// verifying shares) to sign for the child.
    pub adjust: KeyAdjust,
    /// The child's public key, `adjust.point(group_key)`.
    pub public_key: ProjectivePoint,
    /// The child's chain code.
    pub chain_code: [u8; 32],
}

/// The child of `group_key` (with chain code `chain_code`) along `path`,
/// by `CKDpub` at each step.
///
/// Fails if the group key is the identity, or if a step hits one of
/// BIP-32's invalid cases (`parse256(I_L) >= n`, or a child at infinity);
/// the error names the step.
pub fn derive(
    group_key: &ProjectivePoint,
    chain_code: &[u8; 32],
    path: &DerivationPath,
) -> Result<Derived, SignError> {
    if bool::from(group_key.is_identity()) {
        return Err(SignError::Parameters(
            "cannot derive from the identity: it is no one's key".into(),
        ));
    }
    let mut key = *group_key;
    let mut chain = *chain_code;
    let mut offset = Scalar::ZERO;
    for (depth, &i) in path.0.iter().enumerate() {
        if i >= HARDENED {
            return Err(hardened_refused(&i.to_string()));
        }
        let step = || format!("index {i} (step {} of {path})", depth + 1);
        let mut mac = Hmac::<Sha512>::new_from_slice(&chain)
            .map_err(|_| SignError::Parameters("HMAC-SHA512 refused a 32-byte key".into()))?;
        mac.update(&point_to_bytes(&key));
        mac.update(&i.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let (il, ir) = out.split_at(32);
        let tweak = scalar_from_bytes(il).ok_or_else(|| {
            SignError::Parameters(format!(
                "BIP-32 child at {}: I_L is not below the group order; use another index",
                step()
            ))
        })?;
        key += ProjectivePoint::mul_by_generator(&tweak);
        if bool::from(key.is_identity()) {
            return Err(SignError::Parameters(format!(
                "BIP-32 child at {}: the child key is the point at infinity; use another index",
                step()
            )));
        }
        offset += tweak;
        chain.copy_from_slice(ir);
    }
    Ok(Derived {
        adjust: KeyAdjust {
            factor: Scalar::ONE,
            offset,
        },
        public_key: key,
        chain_code: chain,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sign::{SecretScalar, point_from_bytes};
    use sha2::{Digest, Sha256};

    use crate::sign::test_vectors as vectors;

    /// Base58Check decoding (the Bitcoin alphabet; the last four bytes are
    /// the first four of SHA-256(SHA-256(payload))).
    fn base58check(s: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let mut bytes: Vec<u8> = Vec::new(); // little-endian
        for c in s.bytes() {
            let mut carry = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
            for b in bytes.iter_mut() {
                carry += u32::from(*b) * 58;
                *b = carry as u8;
                carry >>= 8;
            }
            while carry > 0 {
                bytes.push(carry as u8);
                carry >>= 8;
            }
        }
        let zeros = s.bytes().take_while(|&c| c == b'1').count();
        bytes.extend(std::iter::repeat_n(0, zeros));
        bytes.reverse();
        let (payload, check) = bytes.split_at(bytes.len() - 4);
        assert_eq!(&Sha256::digest(Sha256::digest(payload))[..4], check);
        payload.to_vec()
    }

    /// An extended key: (chain code, key data of 33 bytes).
    fn extended(s: &str) -> ([u8; 32], Vec<u8>) {
        let b = base58check(s);
        assert_eq!(b.len(), 78);
        (b[13..45].try_into().unwrap(), b[45..].to_vec())
    }

    struct Entry {
        /// (index, hardened) per step.
        path: Vec<(u32, bool)>,
        xpub: String,
        xprv: String,
    }

    /// The test vectors of BIP-32, one list of chains per vector.
    fn parse_vectors(text: &str) -> Vec<Vec<Entry>> {
        let mut all: Vec<Vec<Entry>> = Vec::new();
        let mut path = None;
        let mut xpub = None;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("===Test vector") {
                all.push(Vec::new());
            } else if let Some(chain) = line.strip_prefix("* Chain ") {
                // `<sub>H</sub>` marks a hardened step (and holds a `/`).
                let steps = chain
                    .replace("<sub>H</sub>", "H")
                    .split('/')
                    .skip(1)
                    .map(|p| match p.strip_suffix('H') {
                        Some(n) => (n.parse().unwrap(), true),
                        None => (p.parse().unwrap(), false),
                    })
                    .collect::<Vec<(u32, bool)>>();
                path = Some(steps);
            } else if let Some(k) = line.strip_prefix("** ext pub: ") {
                xpub = Some(k.to_string());
            } else if let Some(k) = line.strip_prefix("** ext prv: ") {
                all.last_mut().unwrap().push(Entry {
                    path: path.take().unwrap(),
                    xpub: xpub.take().unwrap(),
                    xprv: k.to_string(),
                });
            }
        }
        all
    }

    #[test]
    fn bip32_vectors_non_hardened_steps() {
        let Some(text) = vectors("bip32/bip-0032-test-vectors-section.mediawiki.txt") else {
            return;
        };
        let all = parse_vectors(&text);
        assert!(all.len() >= 2);
        let mut checked = Vec::new();
        for (v, chains) in all.iter().enumerate() {
            for child in chains {
                // Every ancestor reached from `child` by non-hardened steps
                // only: derive from it along those steps.
                for parent in chains {
                    let n = parent.path.len();
                    if n >= child.path.len()
                        || child.path[..n] != parent.path[..]
                        || child.path[n..].iter().any(|&(_, h)| h)
                    {
                        continue;
                    }
                    let (c_par, k_par) = extended(&parent.xprv);
                    let k_par = scalar_from_bytes(&k_par[1..]).unwrap();
                    let (c_child, pub_child) = extended(&child.xpub);
                    let (_, prv_child) = extended(&child.xprv);
                    let k_child = scalar_from_bytes(&prv_child[1..]).unwrap();

                    let steps: Vec<u32> = child.path[n..].iter().map(|&(i, _)| i).collect();
                    let path = DerivationPath::new(steps).unwrap();
                    let got = derive(&(ProjectivePoint::GENERATOR * k_par), &c_par, &path).unwrap();

                    assert_eq!(point_to_bytes(&got.public_key).to_vec(), pub_child);
                    assert_eq!(got.chain_code, c_child);
                    assert_eq!(
                        got.public_key,
                        got.adjust.point(&(ProjectivePoint::GENERATOR * k_par))
                    );
                    assert_eq!(got.adjust.factor, Scalar::ONE);
                    assert_eq!(k_par + got.adjust.offset, k_child);
                    assert_eq!(
                        got.adjust.share(&SecretScalar::new(k_par)).expose(),
                        &k_child
                    );
                    checked.push(format!("vector {}: {} from {}", v + 1, path, parent.xpub));
                }
            }
        }
        // Vector 1: m/0H -> /1, m/0H/1/2H -> /2 and /2/1000000000,
        // m/0H/1/2H/2 -> /1000000000; vector 2: m -> /0,
        // m/0/2147483647H -> /1, m/0/2147483647H/1/2147483646H -> /2.
        assert_eq!(checked.len(), 7, "{checked:#?}");
    }

    #[test]
    fn threshold_shares_follow_the_child_key() {
        // Shares of a 2-of-3 key, adjusted for a child: any two of them
        // interpolate the child's private key.
        let secret = SecretScalar::random().unwrap();
        let split = crate::sign::frost::split(&secret, 2, 3).unwrap();
        let group = split.commitments[0];
        let chain = [7u8; 32];
        let child = derive(&group, &chain, &"m/3/1/4".parse().unwrap()).unwrap();
        let ids: Vec<_> = split.shares[1..].iter().map(|(i, _)| *i).collect();
        let mut k = Scalar::ZERO;
        for (i, s) in &split.shares[1..] {
            let l = crate::sign::frost::lagrange_at_zero(&ids, *i).unwrap();
            k += l * child.adjust.share(s).expose();
        }
        assert_eq!(ProjectivePoint::GENERATOR * k, child.public_key);
        // Step by step equals all at once.
        let a = derive(&group, &chain, &"m/3".parse().unwrap()).unwrap();
        let b = derive(&a.public_key, &a.chain_code, &"m/1/4".parse().unwrap()).unwrap();
        assert_eq!(b.public_key, child.public_key);
        assert_eq!(b.chain_code, child.chain_code);
        assert_eq!(b.adjust.after(&a.adjust), child.adjust);
    }

    #[test]
    fn empty_path_is_the_key_itself() {
        let k = point_from_bytes(&point_to_bytes(&ProjectivePoint::GENERATOR)).unwrap();
        let d = derive(&k, &[1; 32], &"m".parse().unwrap()).unwrap();
        assert_eq!(d.adjust, KeyAdjust::IDENTITY);
        assert_eq!(d.public_key, k);
        assert_eq!(d.chain_code, [1; 32]);
    }

    #[test]
    fn hardened_paths_are_refused() {
        for s in [
            "m/0'",
            "m/0h",
            "m/0H",
            "m/1/2147483648",
            "m/4294967295",
            "m/44'/0'/0'/0/0",
        ] {
            match s.parse::<DerivationPath>() {
                Err(SignError::Parameters(msg)) => {
                    assert!(msg.contains("non-hardened"), "{s}: {msg}")
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        assert!(matches!(
            DerivationPath::new(vec![0, HARDENED]),
            Err(SignError::Parameters(_))
        ));
        // A path built around the constructor is refused by `derive` too.
        let sneaky = DerivationPath(vec![HARDENED + 1]);
        assert!(matches!(
            derive(&ProjectivePoint::GENERATOR, &[0; 32], &sneaky),
            Err(SignError::Parameters(_))
        ));
    }

    #[test]
    fn malformed_paths_are_refused() {
        for s in [
            "",
            "M/0",
            "0/1",
            "m/",
            "m//1",
            "m/+1",
            "m/-1",
            "m/0x1",
            "m/1 ",
            "m/4294967296",
        ] {
            assert!(s.parse::<DerivationPath>().is_err(), "{s:?}");
        }
        assert!(matches!(
            derive(
                &ProjectivePoint::IDENTITY,
                &[0; 32],
                &DerivationPath::default()
            ),
            Err(SignError::Parameters(_))
        ));
    }

    #[test]
    fn paths_print_and_parse_back() {
        for s in ["m", "m/0/1", "m/0/2147483647/1000000000"] {
            let p: DerivationPath = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(p.to_string().parse::<DerivationPath>().unwrap(), p);
        }
        assert_eq!(
            "m/0/1".parse::<DerivationPath>().unwrap().indices(),
            &[0, 1]
        );
    }
}
