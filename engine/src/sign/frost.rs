//! FROST(secp256k1, SHA-256), exactly as RFC 9591 (C. Komlo, I. Goldberg
//! et al., "The Flexible Round-Optimized Schnorr Threshold (FROST)
//! Protocol for Two-Round Schnorr Signatures", June 2024).
//!
//! Which block implements which part of the RFC:
//! - [`h1`] .. [`h5`]: the ciphersuite's hash functions (section 6.5):
//!   `hash_to_field` of RFC 9380 with `expand_message_xmd` (SHA-256,
//!   `L = 48`) under the tags `rho`, `chal`, `nonce`; SHA-256 under `msg`
//!   and `com`;
//! - [`commit`]: round one (section 5.1), with `nonce_generate`
//!   (section 4.1): each nonce is `H3(random_bytes(32) || SerializeScalar(sk))`;
//! - [`CommitmentList`]: `encode_group_commitment_list` (section 4.3), with
//!   the list sorted by identifier and every entry checked;
//! - [`binding_factors`] (`compute_binding_factors`, section 4.4),
//!   [`group_commitment`] (section 4.5), [`challenge`] (section 4.6),
//!   [`lagrange_at_zero`] (`derive_interpolating_value`, section 4.2);
//! - [`sign`]: round two (section 5.2); the nonces are taken by value, so a
//!   pair of nonces signs once;
//! - [`verify_share`] (section 5.4) and [`aggregate`] (section 5.3): the
//!   aggregate is verified before it is returned; if it fails, every share
//!   is checked and the first bad one names its signer.
//!
//! Plain two-round Schnorr without binding factors is open to the ROS
//! attack (Benhamouda et al. 2021); the binding factors here are what
//! prevents it.

use k256::elliptic_curve::array::Array;
use k256::elliptic_curve::consts::{U16, U48};
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::ops::Reduce;
use k256::hash2curve::{ExpandMsgXmd, hash_to_field};
use k256::{ProjectivePoint, Scalar, WideBytes};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::encoding::{
    check_distinct, peer_point, point_from_bytes, point_to_bytes, random_bytes, scalar_from_bytes,
    scalar_to_bytes,
};
use super::{Identifier, SecretScalar, SignError};

/// The ciphersuite's context string (section 6.5).
pub const CONTEXT: &[u8] = b"FROST-secp256k1-SHA256-v1";

/// A 48-byte `hash_to_field` output reduced modulo the group order.
struct Reduced(Scalar);

impl Reduce<Array<u8, U48>> for Reduced {
    fn reduce(v: &Array<u8, U48>) -> Self {
        let mut wide = WideBytes::default();
        wide[16..].copy_from_slice(v);
        Reduced(<Scalar as Reduce<WideBytes>>::reduce(&wide))
    }
}

/// `hash_to_field(msg, 1)` under `CONTEXT || tag`.
fn hash_to_scalar(tag: &[u8], msg: &[&[u8]]) -> Scalar {
    match hash_to_field::<1, ExpandMsgXmd<Sha256>, U16, Reduced, U48>(msg, &[CONTEXT, tag]) {
        Ok([r]) => r.0,
        // Only a DST over 255 bytes or an empty one fails: ours is fixed.
        Err(_) => Scalar::ZERO,
    }
}

/// `H1`: binding factors.
pub fn h1(msg: &[&[u8]]) -> Scalar {
    hash_to_scalar(b"rho", msg)
}

/// `H2`: the challenge.
pub fn h2(msg: &[&[u8]]) -> Scalar {
    hash_to_scalar(b"chal", msg)
}

/// `H3`: nonces.
pub fn h3(msg: &[&[u8]]) -> Scalar {
    hash_to_scalar(b"nonce", msg)
}

fn sha(tag: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CONTEXT);
    h.update(tag);
    h.update(msg);
    h.finalize().into()
}

/// `H4`: the message digest.
pub fn h4(msg: &[u8]) -> [u8; 32] {
    sha(b"msg", msg)
}

/// `H5`: the commitment list digest.
pub fn h5(msg: &[u8]) -> [u8; 32] {
    sha(b"com", msg)
}

/// `nonce_generate` with the random bytes given (section 4.1).
fn nonce_from(random: &[u8; 32], secret: &Scalar) -> Scalar {
    let mut enc = scalar_to_bytes(secret);
    let k = h3(&[random, &enc]);
    enc.zeroize();
    k
}

/// A signer's pair of nonces from round one. Not `Clone`: [`sign`] takes
/// it by value, so a pair signs at most once.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SigningNonces {
    hiding: Scalar,
    binding: Scalar,
    #[zeroize(skip)]
    commitments: SigningCommitments,
}

impl SigningNonces {
    /// The commitments these nonces open.
    pub fn commitments(&self) -> SigningCommitments {
        self.commitments
    }
}

impl std::fmt::Debug for SigningNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningNonces")
            .field("commitments", &self.commitments)
            .finish_non_exhaustive()
    }
}

/// A signer's public nonce commitments, sent to the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigningCommitments {
    /// The signer.
    pub identifier: Identifier,
    /// `G · hiding_nonce`.
    pub hiding: ProjectivePoint,
    /// `G · binding_nonce`.
    pub binding: ProjectivePoint,
}

impl SigningCommitments {
    /// Wire form: identifier (2 bytes, big-endian), then both points
    /// compressed.
    pub fn to_bytes(&self) -> [u8; 68] {
        let mut out = [0u8; 68];
        out[..2].copy_from_slice(&self.identifier.get().to_be_bytes());
        out[2..35].copy_from_slice(&point_to_bytes(&self.hiding));
        out[35..].copy_from_slice(&point_to_bytes(&self.binding));
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form; every point checked.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        if b.len() != 68 {
            return Err(SignError::Length {
                party: 0,
                what: "signing commitments (bytes)",
                expected: 68,
                got: b.len(),
            });
        }
        let identifier = Identifier::new(u16::from_be_bytes([b[0], b[1]]))?;
        Ok(Self {
            identifier,
            hiding: peer_point(identifier, "hiding nonce commitment", &b[2..35])?,
            binding: peer_point(identifier, "binding nonce commitment", &b[35..])?,
        })
    }
}

/// Round one (section 5.1): fresh nonces from the OS generator (each bound
/// to the key share, as `nonce_generate` asks) and their commitments.
pub fn commit(
    identifier: Identifier,
    key_share: &SecretScalar,
) -> Result<SigningNonces, SignError> {
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut hr = random_bytes().map_err(entropy)?;
    let mut br = random_bytes().map_err(entropy)?;
    let n = commit_with(identifier, key_share, &hr, &br);
    hr.zeroize();
    br.zeroize();
    Ok(n)
}

/// [`commit`] with the random bytes given: for known-answer tests only.
#[doc(hidden)]
pub fn commit_with(
    identifier: Identifier,
    key_share: &SecretScalar,
    hiding_randomness: &[u8; 32],
    binding_randomness: &[u8; 32],
) -> SigningNonces {
    let hiding = nonce_from(hiding_randomness, key_share.expose());
    let binding = nonce_from(binding_randomness, key_share.expose());
    SigningNonces {
        hiding,
        binding,
        commitments: SigningCommitments {
            identifier,
            hiding: ProjectivePoint::GENERATOR * hiding,
            binding: ProjectivePoint::GENERATOR * binding,
        },
    }
}

/// The commitments of one signing session, sorted by identifier, with no
/// identifier twice and no identity point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentList(Vec<SigningCommitments>);

impl CommitmentList {
    /// Sorts and checks `list`.
    pub fn new(mut list: Vec<SigningCommitments>) -> Result<Self, SignError> {
        if list.is_empty() {
            return Err(SignError::Participants("no signers".into()));
        }
        list.sort_by_key(|c| c.identifier);
        let ids: Vec<Identifier> = list.iter().map(|c| c.identifier).collect();
        check_distinct(&ids)?;
        for c in &list {
            if bool::from(c.hiding.is_identity()) || bool::from(c.binding.is_identity()) {
                return Err(SignError::Malformed {
                    party: c.identifier.get(),
                    what: "nonce commitment",
                    kind: "point (the identity)",
                });
            }
        }
        Ok(Self(list))
    }

    /// The entries, by identifier.
    pub fn entries(&self) -> &[SigningCommitments] {
        &self.0
    }

    /// The signers.
    pub fn identifiers(&self) -> Vec<Identifier> {
        self.0.iter().map(|c| c.identifier).collect()
    }

    fn get(&self, id: Identifier) -> Option<&SigningCommitments> {
        self.0
            .binary_search_by_key(&id, |c| c.identifier)
            .ok()
            .map(|k| &self.0[k])
    }

    /// `encode_group_commitment_list` (section 4.3).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 98);
        for c in &self.0 {
            out.extend_from_slice(&c.identifier.to_bytes());
            out.extend_from_slice(&point_to_bytes(&c.hiding));
            out.extend_from_slice(&point_to_bytes(&c.binding));
        }
        out
    }
}

/// `compute_binding_factors` (section 4.4): one factor per signer, in the
/// list's order.
pub fn binding_factors(
    group_key: &ProjectivePoint,
    list: &CommitmentList,
    msg: &[u8],
) -> Vec<(Identifier, Scalar)> {
    let pk = point_to_bytes(group_key);
    let msg_hash = h4(msg);
    let com_hash = h5(&list.encode());
    list.0
        .iter()
        .map(|c| {
            let id = c.identifier.to_bytes();
            (c.identifier, h1(&[&pk, &msg_hash, &com_hash, &id]))
        })
        .collect()
}

/// `compute_group_commitment` (section 4.5): `Σ D_i + ρ_i · E_i`.
pub fn group_commitment(
    list: &CommitmentList,
    factors: &[(Identifier, Scalar)],
) -> ProjectivePoint {
    list.0
        .iter()
        .zip(factors)
        .fold(ProjectivePoint::IDENTITY, |acc, (c, (_, rho))| {
            acc + c.hiding + c.binding * rho
        })
}

/// `compute_challenge` (section 4.6): `H2(R || PK || msg)`.
pub fn challenge(r: &ProjectivePoint, group_key: &ProjectivePoint, msg: &[u8]) -> Scalar {
    h2(&[&point_to_bytes(r), &point_to_bytes(group_key), msg])
}

/// `derive_interpolating_value` (section 4.2): the Lagrange coefficient of
/// `x_i` at 0 over the identifiers `ids`.
pub fn lagrange_at_zero(ids: &[Identifier], x_i: Identifier) -> Result<Scalar, SignError> {
    check_distinct(ids)?;
    if !ids.contains(&x_i) {
        return Err(SignError::Participants(format!(
            "identifier {} is not among the signers",
            x_i.get()
        )));
    }
    let xi = x_i.scalar();
    let (mut num, mut den) = (Scalar::ONE, Scalar::ONE);
    for &x in ids.iter().filter(|&&x| x != x_i) {
        num *= x.scalar();
        den *= x.scalar() - xi;
    }
    // Distinct identifiers make every factor non-zero.
    Option::<Scalar>::from(den.invert())
        .map(|inv| num * inv)
        .ok_or_else(|| SignError::Participants("repeated identifier".into()))
}

/// A FROST signature: the group commitment `R` and the response `z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `R`.
    pub r: ProjectivePoint,
    /// `z`.
    pub z: Scalar,
}

impl Signature {
    /// `SerializeElement(R) || SerializeScalar(z)`: 65 bytes (section 5.3).
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..33].copy_from_slice(&point_to_bytes(&self.r));
        out[33..].copy_from_slice(&scalar_to_bytes(&self.z));
        out
    }

    /// Parses the 65-byte form, checking both parts.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        if b.len() != 65 {
            return Err(SignError::Length {
                party: 0,
                what: "signature (bytes)",
                expected: 65,
                got: b.len(),
            });
        }
        let malformed = |what, kind| SignError::Malformed {
            party: 0,
            what,
            kind,
        };
        Ok(Self {
            r: point_from_bytes(&b[..33]).ok_or(malformed("signature R", "point"))?,
            z: scalar_from_bytes(&b[33..]).ok_or(malformed("signature z", "scalar"))?,
        })
    }
}

/// Schnorr verification of the RFC (`G·z == R + PK·c`; the cofactor is 1).
pub fn verify(group_key: &ProjectivePoint, msg: &[u8], sig: &Signature) -> bool {
    let c = challenge(&sig.r, group_key, msg);
    ProjectivePoint::GENERATOR * sig.z == sig.r + group_key * &c
}

/// Round two (section 5.2): this signer's share
/// `z_i = d_i + e_i ρ_i + λ_i s_i c`.
///
/// Checks first that the list holds this signer's own commitments exactly
/// as made in round one (a coordinator that swaps them would otherwise
/// learn a share on nonces of its choosing).
pub fn sign(
    identifier: Identifier,
    key_share: &SecretScalar,
    group_key: &ProjectivePoint,
    nonces: SigningNonces,
    msg: &[u8],
    list: &CommitmentList,
) -> Result<Scalar, SignError> {
    match list.get(identifier) {
        Some(c) if *c == nonces.commitments => {}
        _ => {
            return Err(SignError::Participants(format!(
                "the commitment list does not hold signer {}'s own commitments",
                identifier.get()
            )));
        }
    }
    let factors = binding_factors(group_key, list, msg);
    let rho = factor_of(&factors, identifier)?;
    let r = group_commitment(list, &factors);
    let lambda = lagrange_at_zero(&list.identifiers(), identifier)?;
    let c = challenge(&r, group_key, msg);
    Ok(nonces.hiding + nonces.binding * rho + lambda * key_share.expose() * c)
}

fn factor_of(factors: &[(Identifier, Scalar)], id: Identifier) -> Result<Scalar, SignError> {
    factors
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, r)| *r)
        .ok_or_else(|| SignError::Participants(format!("no binding factor for {}", id.get())))
}

/// `verify_signature_share` (section 5.4): `G·z_i == D_i + ρ_i E_i + PK_i (c λ_i)`.
pub fn verify_share(
    identifier: Identifier,
    verifying_share: &ProjectivePoint,
    share: &Scalar,
    list: &CommitmentList,
    group_key: &ProjectivePoint,
    msg: &[u8],
) -> Result<(), SignError> {
    let culprit = |reason: &str| SignError::Culprit {
        culprit: identifier.get(),
        reason: reason.into(),
    };
    let comm = list
        .get(identifier)
        .ok_or_else(|| culprit("sent a share without a commitment"))?;
    let factors = binding_factors(group_key, list, msg);
    let rho = factor_of(&factors, identifier)?;
    let r = group_commitment(list, &factors);
    let lambda = lagrange_at_zero(&list.identifiers(), identifier)?;
    let c = challenge(&r, group_key, msg);
    let lhs = ProjectivePoint::GENERATOR * share;
    let rhs = comm.hiding + comm.binding * rho + verifying_share * &(c * lambda);
    if lhs == rhs {
        Ok(())
    } else {
        Err(culprit("its signature share does not verify"))
    }
}

/// Aggregation (section 5.3): `z = Σ z_i`, `R` the group commitment. The
/// signature is verified before it is returned; if it does not verify,
/// each share is checked against its signer's verifying share and the
/// first bad one is named.
///
/// `shares` and `verifying_shares` are by identifier; each must hold every
/// signer of `list` exactly once.
pub fn aggregate(
    list: &CommitmentList,
    msg: &[u8],
    group_key: &ProjectivePoint,
    shares: &[(Identifier, Scalar)],
    verifying_shares: &[(Identifier, ProjectivePoint)],
) -> Result<Signature, SignError> {
    if shares.len() != list.0.len() {
        return Err(SignError::Length {
            party: 0,
            what: "signature shares",
            expected: list.0.len(),
            got: shares.len(),
        });
    }
    let ids: Vec<Identifier> = shares.iter().map(|(i, _)| *i).collect();
    check_distinct(&ids)?;
    if let Some((i, _)) = shares.iter().find(|(i, _)| list.get(*i).is_none()) {
        return Err(SignError::Culprit {
            culprit: i.get(),
            reason: "sent a share without a commitment".into(),
        });
    }
    let factors = binding_factors(group_key, list, msg);
    let r = group_commitment(list, &factors);
    let z = shares.iter().fold(Scalar::ZERO, |acc, (_, s)| acc + s);
    let sig = Signature { r, z };
    if verify(group_key, msg, &sig) {
        return Ok(sig);
    }
    for (i, s) in shares {
        let vs = verifying_shares
            .iter()
            .find(|(j, _)| j == i)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                SignError::Participants(format!("no verifying share for {}", i.get()))
            })?;
        verify_share(*i, &vs, s, list, group_key, msg)?;
    }
    Err(SignError::InvalidSignature)
}

/// A secret split among `n` identifiers: each one's share, and the
/// commitments to the polynomial's coefficients (the first is the group
/// key).
#[derive(Debug)]
pub struct Split {
    /// `(identifier, f(identifier))` for identifiers `1..=n`.
    pub shares: Vec<(Identifier, SecretScalar)>,
    /// `G · a_k` for each coefficient `a_k`.
    pub commitments: Vec<ProjectivePoint>,
}

/// Splits `secret` with a random polynomial of degree `t - 1` among
/// identifiers `1..=n` (RFC 9591 appendix C, `trusted_dealer_keygen`):
/// used for key import, where one machine held the key before. Returns the
/// shares and the coefficients' commitments (the first is the group key).
pub fn split(secret: &SecretScalar, t: u16, n: u16) -> Result<Split, SignError> {
    if t < 2 || t > n {
        return Err(SignError::Parameters(format!(
            "threshold must satisfy 2 <= t <= n, not t = {t}, n = {n}"
        )));
    }
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut coeffs = vec![SecretScalar::new(*secret.expose())];
    for _ in 1..t {
        coeffs.push(SecretScalar::random().map_err(entropy)?);
    }
    Ok(split_with(&coeffs, n))
}

/// [`split`] with the coefficients given (constant term first).
pub(crate) fn split_with(coeffs: &[SecretScalar], n: u16) -> Split {
    let shares = (1..=n)
        .map(|i| {
            let id = Identifier(i);
            (id, SecretScalar::new(poly_eval(coeffs, id.scalar())))
        })
        .collect();
    let commitments = coeffs
        .iter()
        .map(|c| ProjectivePoint::GENERATOR * c.expose())
        .collect();
    Split {
        shares,
        commitments,
    }
}

/// `f(x)` by Horner's rule.
pub(crate) fn poly_eval(coeffs: &[SecretScalar], x: Scalar) -> Scalar {
    coeffs
        .iter()
        .rev()
        .fold(Scalar::ZERO, |acc, c| acc * x + c.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_shares_verify() {
        let secret = SecretScalar::random().unwrap();
        let Split {
            shares,
            commitments,
        } = split(&secret, 2, 3).unwrap();
        let pk = commitments[0];
        let vs: Vec<(Identifier, ProjectivePoint)> = shares
            .iter()
            .map(|(i, s)| (*i, ProjectivePoint::GENERATOR * s.expose()))
            .collect();
        let signers = [&shares[0], &shares[2]];
        let nonces: Vec<SigningNonces> = signers
            .iter()
            .map(|(i, s)| commit(*i, s).unwrap())
            .collect();
        assert_ne!(nonces[0].hiding, nonces[1].hiding);
        let list = CommitmentList::new(nonces.iter().map(|n| n.commitments()).collect()).unwrap();
        let msg = b"pay 1 BTC";
        let mut zs = Vec::new();
        for ((i, s), n) in signers.iter().zip(nonces) {
            zs.push((*i, sign(*i, s, &pk, n, msg, &list).unwrap()));
        }
        let sig = aggregate(&list, msg, &pk, &zs, &vs).unwrap();
        assert!(verify(&pk, msg, &sig));
        assert!(!verify(&pk, b"pay 2 BTC", &sig));
        // A tampered share is caught and its signer named.
        zs[1].1 += Scalar::ONE;
        assert_eq!(
            aggregate(&list, msg, &pk, &zs, &vs),
            Err(SignError::Culprit {
                culprit: 3,
                reason: "its signature share does not verify".into()
            })
        );
    }

    #[test]
    fn a_swapped_own_commitment_is_refused() {
        let secret = SecretScalar::random().unwrap();
        let Split {
            shares,
            commitments,
        } = split(&secret, 2, 2).unwrap();
        let n1 = commit(shares[0].0, &shares[0].1).unwrap();
        let n2 = commit(shares[1].0, &shares[1].1).unwrap();
        let mut forged = n1.commitments();
        forged.binding = forged.hiding;
        let list = CommitmentList::new(vec![forged, n2.commitments()]).unwrap();
        assert!(matches!(
            sign(shares[0].0, &shares[0].1, &commitments[0], n1, b"m", &list),
            Err(SignError::Participants(_))
        ));
    }

    #[test]
    fn lists_with_a_repeated_signer_are_refused() {
        let secret = SecretScalar::random().unwrap();
        let shares = split(&secret, 2, 3).unwrap().shares;
        let c = commit(shares[0].0, &shares[0].1).unwrap().commitments();
        assert!(CommitmentList::new(vec![c, c]).is_err());
        assert!(lagrange_at_zero(&[shares[0].0, shares[0].0], shares[0].0).is_err());
    }
}
