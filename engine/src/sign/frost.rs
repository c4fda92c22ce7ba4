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
//!
//! The same rounds also sign BIP-340 signatures ([`Suite::Taproot`]), as the
//! Zcash Foundation's `FROST(secp256k1, SHA-256)`-TR ciphersuite does (not an
//! RFC; its known-answer vectors are in `../shared/vectors/frost-secp256k1-tr`):
//! - the context string is `FROST-secp256k1-SHA256-TR-v1`;
//! - `H2` is BIP-340's tagged hash `BIP0340/challenge` over `x(R) || x(PK) || m`,
//!   reduced modulo the order (BIP-340, "Default Signing", step 5);
//! - the group key is used with an even y: if `PK` has an odd y, the key, every
//!   key share and every verifying share are negated ([`KeyAdjust`], BIP-340's
//!   "Default Signing" step 2 applied to a sharing, which is linear);
//! - the BIP-341 key tweak `t = hash_TapTweak(x(P) || merkle_root)` is added to
//!   every key share (the Lagrange coefficients of any signing set sum to one),
//!   and the tweaked key is made even in turn ([`taproot_adjust`]);
//! - if the group commitment `R` has an odd y, each signer negates its nonces
//!   (BIP-340's step 4 on a sharing of `k`) and share verification negates the
//!   signer's commitment share;
//! - the signature is `x(R) || z`, 64 bytes, and is checked with the standard
//!   BIP-340 verifier before it is released.

use k256::elliptic_curve::array::Array;
use k256::elliptic_curve::consts::{U16, U48};
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::ops::Reduce;
use k256::hash2curve::{ExpandMsgXmd, hash_to_field};
use k256::{ProjectivePoint, Scalar, WideBytes};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::encoding::{
    check_distinct, peer_point, point_from_bytes, point_to_bytes, random_bytes, reduce32,
    scalar_from_bytes, scalar_to_bytes,
};
use super::{Identifier, SecretScalar, SignError};

/// The ciphersuite's context string (section 6.5).
pub const CONTEXT: &[u8] = b"FROST-secp256k1-SHA256-v1";

/// The taproot ciphersuite's context string.
pub const CONTEXT_TR: &[u8] = b"FROST-secp256k1-SHA256-TR-v1";

/// Which ciphersuite a signing session runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// FROST(secp256k1, SHA-256) of RFC 9591: 65-byte signatures `R || z`.
    Rfc9591,
    /// The BIP-340 form: x-only even-y keys, 64-byte signatures.
    Taproot,
}

impl Suite {
    /// The context string of the ciphersuite.
    pub fn context(self) -> &'static [u8] {
        match self {
            Suite::Rfc9591 => CONTEXT,
            Suite::Taproot => CONTEXT_TR,
        }
    }

    /// `H1`: binding factors.
    pub fn h1(self, msg: &[&[u8]]) -> Scalar {
        hash_to_scalar(self.context(), b"rho", msg)
    }

    /// `H2`: the challenge hash (`chal` under RFC 9591, BIP-340's tagged
    /// challenge hash under taproot).
    pub fn h2(self, msg: &[&[u8]]) -> Scalar {
        match self {
            Suite::Rfc9591 => hash_to_scalar(self.context(), b"chal", msg),
            Suite::Taproot => reduce32(&tagged_hash(b"BIP0340/challenge", msg)),
        }
    }

    /// `H3`: nonces.
    pub fn h3(self, msg: &[&[u8]]) -> Scalar {
        hash_to_scalar(self.context(), b"nonce", msg)
    }

    /// `H4`: the message digest.
    pub fn h4(self, msg: &[u8]) -> [u8; 32] {
        sha(self.context(), b"msg", msg)
    }

    /// `H5`: the commitment list digest.
    pub fn h5(self, msg: &[u8]) -> [u8; 32] {
        sha(self.context(), b"com", msg)
    }
}

/// A 48-byte `hash_to_field` output reduced modulo the group order.
struct Reduced(Scalar);

impl Reduce<Array<u8, U48>> for Reduced {
    fn reduce(v: &Array<u8, U48>) -> Self {
        let mut wide = WideBytes::default();
        wide[16..].copy_from_slice(v);
        Reduced(<Scalar as Reduce<WideBytes>>::reduce(&wide))
    }
}

/// `hash_to_field(msg, 1)` under `context || tag`.
fn hash_to_scalar(context: &[u8], tag: &[u8], msg: &[&[u8]]) -> Scalar {
    match hash_to_field::<1, ExpandMsgXmd<Sha256>, U16, Reduced, U48>(msg, &[context, tag]) {
        Ok([r]) => r.0,
        // Only a DST over 255 bytes or an empty one fails: ours is fixed.
        Err(_) => Scalar::ZERO,
    }
}

/// BIP-340's `hash_tag(x) = SHA256(SHA256(tag) || SHA256(tag) || x)`.
pub fn tagged_hash(tag: &[u8], msg: &[&[u8]]) -> [u8; 32] {
    let t = Sha256::digest(tag);
    let mut h = Sha256::new();
    h.update(t);
    h.update(t);
    for m in msg {
        h.update(m);
    }
    h.finalize().into()
}

fn sha(context: &[u8], tag: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(context);
    h.update(tag);
    h.update(msg);
    h.finalize().into()
}

/// `H1` of RFC 9591.
pub fn h1(msg: &[&[u8]]) -> Scalar {
    Suite::Rfc9591.h1(msg)
}

/// `H4` of RFC 9591.
pub fn h4(msg: &[u8]) -> [u8; 32] {
    Suite::Rfc9591.h4(msg)
}

/// `H5` of RFC 9591.
pub fn h5(msg: &[u8]) -> [u8; 32] {
    Suite::Rfc9591.h5(msg)
}

/// True if the point's affine y is odd (the identity counts as even).
pub fn has_odd_y(p: &ProjectivePoint) -> bool {
    point_to_bytes(p)[0] == 0x03
}

/// The 32-byte x coordinate of a point (BIP-340's `bytes(P)`).
pub fn x_only(p: &ProjectivePoint) -> [u8; 32] {
    let mut x = [0u8; 32];
    x.copy_from_slice(&point_to_bytes(p)[1..]);
    x
}

/// An affine change of a shared key that every signer applies to its own
/// share: `s_i -> factor · s_i + offset`, with the group key and every
/// verifying share changed to match (`Y -> factor · Y + G · offset`).
/// Because the Lagrange coefficients of any signing set sum to one, the
/// shares stay a sharing of `factor · s + offset`. Used for BIP-340's even
/// y, BIP-341's tweak and BIP-32's child keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyAdjust {
    /// `1` or `-1` (even-y negation).
    pub factor: Scalar,
    /// Added to every share.
    pub offset: Scalar,
}

impl KeyAdjust {
    /// No change.
    pub const IDENTITY: KeyAdjust = KeyAdjust {
        factor: Scalar::ONE,
        offset: Scalar::ZERO,
    };

    /// The adjusted group key or verifying share.
    pub fn point(&self, p: &ProjectivePoint) -> ProjectivePoint {
        let scaled = if self.factor == Scalar::ONE {
            *p
        } else if self.factor == -Scalar::ONE {
            -*p
        } else {
            p * &self.factor
        };
        if self.offset == Scalar::ZERO {
            scaled
        } else {
            scaled + ProjectivePoint::mul_by_generator(&self.offset)
        }
    }

    /// The adjusted key share.
    pub fn share(&self, s: &SecretScalar) -> SecretScalar {
        SecretScalar::new(self.factor * s.expose() + self.offset)
    }

    /// `self` after `first`: the composition of both changes.
    pub fn after(&self, first: &KeyAdjust) -> KeyAdjust {
        KeyAdjust {
            factor: self.factor * first.factor,
            offset: self.factor * first.offset + self.offset,
        }
    }

    /// Negation if `p` (already adjusted by `self`) has an odd y.
    fn even_y(self, p: &ProjectivePoint) -> KeyAdjust {
        if has_odd_y(&self.point(p)) {
            KeyAdjust {
                factor: -Scalar::ONE,
                offset: Scalar::ZERO,
            }
            .after(&self)
        } else {
            self
        }
    }
}

/// BIP-341's `taproot_tweak_pubkey` as a [`KeyAdjust`] of the shared key
/// `group_key`: first even y (BIP-340's `lift_x`), then, if `merkle_root` is
/// given (empty for a key-path-only output, which BIP-341 recommends
/// committing to), `t = int(hash_TapTweak(x(P) || merkle_root))` added, then
/// even y of the output key `Q` for signing (BIP-340 signs with the key whose
/// y is even). `None` gives BIP-340's plain x-only key.
///
/// Fails only if `t` is not below the order (probability about 2^-128), as
/// BIP-341 says.
pub fn taproot_adjust(
    group_key: &ProjectivePoint,
    merkle_root: Option<&[u8]>,
) -> Result<KeyAdjust, SignError> {
    let even = KeyAdjust::IDENTITY.even_y(group_key);
    let Some(root) = merkle_root else {
        return Ok(even);
    };
    let t = taptweak(group_key, root)?;
    let tweaked = KeyAdjust {
        factor: Scalar::ONE,
        offset: t,
    }
    .after(&even);
    Ok(tweaked.even_y(group_key))
}

/// BIP-341's tweak `int(hash_TapTweak(x(P) || merkle_root))`, refused if
/// not below the order.
pub fn taptweak(internal_key: &ProjectivePoint, merkle_root: &[u8]) -> Result<Scalar, SignError> {
    let h = tagged_hash(b"TapTweak", &[&x_only(internal_key), merkle_root]);
    scalar_from_bytes(&h)
        .ok_or_else(|| SignError::Parameters("the taproot tweak is not below the order".into()))
}

/// `nonce_generate` with the random bytes given (section 4.1).
fn nonce_from(suite: Suite, random: &[u8; 32], secret: &Scalar) -> Scalar {
    let mut enc = scalar_to_bytes(secret);
    let k = suite.h3(&[random, &enc]);
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
    #[zeroize(skip)]
    suite: Suite,
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
    suite: Suite,
    identifier: Identifier,
    key_share: &SecretScalar,
) -> Result<SigningNonces, SignError> {
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut hr = random_bytes().map_err(entropy)?;
    let mut br = random_bytes().map_err(entropy)?;
    let n = commit_with(suite, identifier, key_share, &hr, &br);
    hr.zeroize();
    br.zeroize();
    Ok(n)
}

/// [`commit`] with the random bytes given: for known-answer tests only.
#[doc(hidden)]
pub fn commit_with(
    suite: Suite,
    identifier: Identifier,
    key_share: &SecretScalar,
    hiding_randomness: &[u8; 32],
    binding_randomness: &[u8; 32],
) -> SigningNonces {
    let hiding = nonce_from(suite, hiding_randomness, key_share.expose());
    let binding = nonce_from(suite, binding_randomness, key_share.expose());
    SigningNonces {
        suite,
        hiding,
        binding,
        commitments: SigningCommitments {
            identifier,
            hiding: ProjectivePoint::mul_by_generator(&hiding),
            binding: ProjectivePoint::mul_by_generator(&binding),
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
    suite: Suite,
    group_key: &ProjectivePoint,
    list: &CommitmentList,
    msg: &[u8],
) -> Vec<(Identifier, Scalar)> {
    let pk = point_to_bytes(group_key);
    let msg_hash = suite.h4(msg);
    let com_hash = suite.h5(&list.encode());
    list.0
        .iter()
        .map(|c| {
            let id = c.identifier.to_bytes();
            (c.identifier, suite.h1(&[&pk, &msg_hash, &com_hash, &id]))
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

/// `compute_challenge` (section 4.6): `H2(R || PK || msg)`; under taproot
/// only the x coordinates are hashed (BIP-340).
pub fn challenge(
    suite: Suite,
    r: &ProjectivePoint,
    group_key: &ProjectivePoint,
    msg: &[u8],
) -> Scalar {
    match suite {
        Suite::Rfc9591 => suite.h2(&[&point_to_bytes(r), &point_to_bytes(group_key), msg]),
        Suite::Taproot => suite.h2(&[&x_only(r), &x_only(group_key), msg]),
    }
}

/// The group commitment as it enters the signature: under taproot, with an
/// even y; and the sign each signer's nonce part takes (`-1` if `R` was
/// negated).
fn signing_commitment(suite: Suite, r: ProjectivePoint) -> (ProjectivePoint, Scalar) {
    if suite == Suite::Taproot && has_odd_y(&r) {
        (-r, -Scalar::ONE)
    } else {
        (r, Scalar::ONE)
    }
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
    /// `R` (with an even y under taproot).
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
        Ok(Self {
            r: point_from_bytes(&b[..33]).ok_or(malformed("signature R", "point"))?,
            z: scalar_from_bytes(&b[33..]).ok_or(malformed("signature z", "scalar"))?,
        })
    }

    /// BIP-340's encoding `bytes(R) || bytes(z)`: 64 bytes, `R` x-only.
    pub fn to_bip340_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&x_only(&self.r));
        out[32..].copy_from_slice(&scalar_to_bytes(&self.z));
        out
    }

    /// Parses BIP-340's 64-byte form (`R` lifted with an even y).
    pub fn from_bip340_bytes(b: &[u8]) -> Result<Self, SignError> {
        if b.len() != 64 {
            return Err(SignError::Length {
                party: 0,
                what: "BIP-340 signature (bytes)",
                expected: 64,
                got: b.len(),
            });
        }
        let mut r = [0x02u8; 33];
        r[1..].copy_from_slice(&b[..32]);
        Ok(Self {
            r: point_from_bytes(&r).ok_or(malformed("signature R", "x coordinate"))?,
            z: scalar_from_bytes(&b[32..]).ok_or(malformed("signature z", "scalar"))?,
        })
    }

    /// The suite's encoding: 65 bytes under RFC 9591, 64 under taproot.
    pub fn encode(&self, suite: Suite) -> Vec<u8> {
        match suite {
            Suite::Rfc9591 => self.to_bytes().to_vec(),
            Suite::Taproot => self.to_bip340_bytes().to_vec(),
        }
    }
}

fn malformed(what: &'static str, kind: &'static str) -> SignError {
    SignError::Malformed {
        party: 0,
        what,
        kind,
    }
}

/// Schnorr verification of the suite. RFC 9591: `G·z == R + PK·c` (the
/// cofactor is 1). Taproot: BIP-340's `Verify` with the x-only key of
/// `group_key` (which must already have an even y, as [`taproot_adjust`]
/// makes it) and the 64-byte encoding.
pub fn verify(suite: Suite, group_key: &ProjectivePoint, msg: &[u8], sig: &Signature) -> bool {
    match suite {
        Suite::Rfc9591 => {
            let c = challenge(suite, &sig.r, group_key, msg);
            ProjectivePoint::mul_by_generator(&sig.z) == sig.r + group_key * &c
        }
        Suite::Taproot => {
            !has_odd_y(group_key)
                && !has_odd_y(&sig.r)
                && super::bip340::verify(&x_only(group_key), msg, &sig.to_bip340_bytes())
        }
    }
}

/// Round two (section 5.2): this signer's share
/// `z_i = d_i + e_i ρ_i + λ_i s_i c` (under taproot, the nonce part
/// negated if `R` has an odd y).
///
/// `key_share` and `group_key` are those the suite signs with: under
/// taproot, already changed by [`taproot_adjust`].
///
/// Checks first that the list holds this signer's own commitments exactly
/// as made in round one (a coordinator that swaps them would otherwise
/// learn a share on nonces of its choosing), and that the nonces were made
/// for this suite.
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
    let suite = nonces.suite;
    if suite == Suite::Taproot && has_odd_y(group_key) {
        return Err(SignError::Parameters(
            "a taproot signing key must have an even y (apply taproot_adjust)".into(),
        ));
    }
    let factors = binding_factors(suite, group_key, list, msg);
    let rho = factor_of(&factors, identifier)?;
    let (r, sign) = signing_commitment(suite, group_commitment(list, &factors));
    let lambda = lagrange_at_zero(&list.identifiers(), identifier)?;
    let c = challenge(suite, &r, group_key, msg);
    Ok(sign * (nonces.hiding + nonces.binding * rho) + lambda * key_share.expose() * c)
}

fn factor_of(factors: &[(Identifier, Scalar)], id: Identifier) -> Result<Scalar, SignError> {
    factors
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, r)| *r)
        .ok_or_else(|| SignError::Participants(format!("no binding factor for {}", id.get())))
}

/// `verify_signature_share` (section 5.4): `G·z_i == D_i + ρ_i E_i + PK_i (c λ_i)`
/// (under taproot the commitment share negated if `R` has an odd y).
pub fn verify_share(
    suite: Suite,
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
    let factors = binding_factors(suite, group_key, list, msg);
    let rho = factor_of(&factors, identifier)?;
    let (r, sign) = signing_commitment(suite, group_commitment(list, &factors));
    let lambda = lagrange_at_zero(&list.identifiers(), identifier)?;
    let c = challenge(suite, &r, group_key, msg);
    let lhs = ProjectivePoint::mul_by_generator(share);
    let rhs = (comm.hiding + comm.binding * rho) * sign + verifying_share * &(c * lambda);
    if lhs == rhs {
        Ok(())
    } else {
        Err(culprit("its signature share does not verify"))
    }
}

/// Aggregation (section 5.3): `z = Σ z_i`, `R` the group commitment (even
/// y under taproot). The signature is verified with the suite's standard
/// verifier before it is returned; if it does not verify, each share is
/// checked against its signer's verifying share and the first bad one is
/// named.
///
/// `shares` and `verifying_shares` are by identifier; each must hold every
/// signer of `list` exactly once. Under taproot, `group_key` and the
/// verifying shares are the adjusted ones ([`taproot_adjust`]).
pub fn aggregate(
    suite: Suite,
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
    let factors = binding_factors(suite, group_key, list, msg);
    let (r, _) = signing_commitment(suite, group_commitment(list, &factors));
    let z = shares.iter().fold(Scalar::ZERO, |acc, (_, s)| acc + s);
    let sig = Signature { r, z };
    if verify(suite, group_key, msg, &sig) {
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
        verify_share(suite, *i, &vs, s, list, group_key, msg)?;
    }
    Err(SignError::InvalidSignature)
}

/// Runs a whole signing in memory among `shares` (tests, benchmarks and
/// the one-process CLI): every signer's round one, round two on the
/// shares changed by `adjust` (for taproot, an adjust ending in
/// [`taproot_adjust`]), and aggregation, verified before it is returned.
pub fn sign_local(
    suite: Suite,
    shares: &[&super::dkg::KeyShare],
    adjust: &KeyAdjust,
    msg: &[u8],
) -> Result<Signature, SignError> {
    let first = shares
        .first()
        .ok_or_else(|| SignError::Participants("no signers".into()))?;
    if shares.len() < usize::from(first.threshold) {
        return Err(SignError::Participants(format!(
            "{} signers for a key that needs {}",
            shares.len(),
            first.threshold
        )));
    }
    let key = adjust.point(&first.group_key);
    let mut signers = Vec::with_capacity(shares.len());
    for s in shares {
        if s.group_key != first.group_key {
            return Err(SignError::Participants(
                "the shares belong to different keys".into(),
            ));
        }
        let secret = adjust.share(&s.secret);
        let nonces = commit(suite, s.identifier, &secret)?;
        signers.push((s.identifier, secret, nonces));
    }
    let list = CommitmentList::new(signers.iter().map(|(_, _, n)| n.commitments()).collect())?;
    let mut zs = Vec::with_capacity(signers.len());
    for (id, secret, nonces) in signers {
        zs.push((id, sign(id, &secret, &key, nonces, msg, &list)?));
    }
    let vs: Vec<(Identifier, ProjectivePoint)> = first
        .verification_shares
        .iter()
        .map(|(i, p)| (*i, adjust.point(p)))
        .collect();
    aggregate(suite, &list, msg, &key, &zs, &vs)
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
        .map(|c| ProjectivePoint::mul_by_generator(c.expose()))
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
            .map(|(i, s)| commit(Suite::Rfc9591, *i, s).unwrap())
            .collect();
        assert_ne!(nonces[0].hiding, nonces[1].hiding);
        let list = CommitmentList::new(nonces.iter().map(|n| n.commitments()).collect()).unwrap();
        let msg = b"pay 1 BTC";
        let mut zs = Vec::new();
        for ((i, s), n) in signers.iter().zip(nonces) {
            zs.push((*i, sign(*i, s, &pk, n, msg, &list).unwrap()));
        }
        let sig = aggregate(Suite::Rfc9591, &list, msg, &pk, &zs, &vs).unwrap();
        assert!(verify(Suite::Rfc9591, &pk, msg, &sig));
        assert!(!verify(Suite::Rfc9591, &pk, b"pay 2 BTC", &sig));
        // A tampered share is caught and its signer named.
        zs[1].1 += Scalar::ONE;
        assert_eq!(
            aggregate(Suite::Rfc9591, &list, msg, &pk, &zs, &vs),
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
        let n1 = commit(Suite::Rfc9591, shares[0].0, &shares[0].1).unwrap();
        let n2 = commit(Suite::Rfc9591, shares[1].0, &shares[1].1).unwrap();
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
        let c = commit(Suite::Rfc9591, shares[0].0, &shares[0].1)
            .unwrap()
            .commitments();
        assert!(CommitmentList::new(vec![c, c]).is_err());
        assert!(lagrange_at_zero(&[shares[0].0, shares[0].0], shares[0].0).is_err());
    }
}
