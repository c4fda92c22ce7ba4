//! Canonical encodings of points, scalars and identifiers, checked on the
//! way in (RFC 9591, section 6.5: `SerializeElement` is SEC1 compressed,
//! `DeserializeElement` rejects the identity; `SerializeScalar` is 32 bytes
//! big-endian and `DeserializeScalar` rejects values not below the order).

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::CurveAffine;
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::sec1::{FromSec1Point, ToSec1Point};
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, Sec1Point, WideBytes};
use zeroize::Zeroize;

use super::SignError;

/// A participant's identifier: a non-zero scalar, here from 1 to 65535
/// (RFC 9591 section 4.1 allows any non-zero scalar; signer sets are small).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identifier(pub(super) u16);

impl Identifier {
    /// Identifier `i`; 0 is refused.
    pub fn new(i: u16) -> Result<Self, SignError> {
        if i == 0 {
            return Err(SignError::Participants(
                "identifier 0 is not allowed".into(),
            ));
        }
        Ok(Self(i))
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// As a scalar.
    pub fn scalar(self) -> Scalar {
        Scalar::from(u64::from(self.0))
    }

    /// `SerializeScalar(identifier)`.
    pub fn to_bytes(self) -> [u8; 32] {
        scalar_to_bytes(&self.scalar())
    }
}

/// Checks a participant list: non-empty, no duplicates (identifiers are
/// non-zero by construction).
pub(crate) fn check_distinct(ids: &[Identifier]) -> Result<(), SignError> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(SignError::Participants(format!(
            "identifier {} appears twice",
            w[0].get()
        )));
    }
    Ok(())
}

/// `SerializeScalar`: 32 bytes, big-endian.
pub fn scalar_to_bytes(s: &Scalar) -> [u8; 32] {
    s.to_bytes().into()
}

/// `DeserializeScalar`: refuses a value not below the group order.
pub fn scalar_from_bytes(bytes: &[u8]) -> Option<Scalar> {
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Option::from(Scalar::from_repr(FieldBytes::from(arr)))
}

/// `SerializeElement`: SEC1 compressed, 33 bytes. The identity (which has
/// no such encoding) is never passed here by this module's callers.
pub fn point_to_bytes(p: &ProjectivePoint) -> [u8; 33] {
    let enc = p.to_affine().to_sec1_point(true);
    let mut out = [0u8; 33];
    let b = enc.as_bytes();
    if b.len() == 33 {
        out.copy_from_slice(b);
    }
    out
}

/// `DeserializeElement`: a compressed or uncompressed SEC1 point on the
/// curve; the identity is refused.
pub fn point_from_bytes(bytes: &[u8]) -> Option<ProjectivePoint> {
    let sec1 = Sec1Point::from_bytes(bytes).ok()?;
    let p = Option::<AffinePoint>::from(AffinePoint::from_sec1_point(&sec1))?;
    if bool::from(p.is_identity()) {
        return None;
    }
    Some(p.into())
}

/// A point from a peer, or an error naming it.
pub(crate) fn peer_point(
    party: Identifier,
    what: &'static str,
    bytes: &[u8],
) -> Result<ProjectivePoint, SignError> {
    point_from_bytes(bytes).ok_or(SignError::Malformed {
        party: party.get(),
        what,
        kind: "point",
    })
}

/// A uniform scalar: 64 bytes from the operating system reduced modulo the
/// order (bias below 2^-256).
pub(crate) fn random_scalar() -> Result<Scalar, getrandom::Error> {
    let mut wide = WideBytes::default();
    getrandom::fill(&mut wide)?;
    let s = <Scalar as Reduce<WideBytes>>::reduce(&wide);
    wide.zeroize();
    Ok(s)
}

/// A 32-byte big-endian integer (a hash, a digest, an x coordinate)
/// modulo the group order: ECDSA's `bits2int` for a 32-byte digest,
/// BIP-340's `int(h) mod n`; for uniform input the bias is below 2^-127.
pub(crate) fn reduce32(d: &[u8; 32]) -> Scalar {
    let mut wide = WideBytes::default();
    wide[32..].copy_from_slice(d);
    <Scalar as Reduce<WideBytes>>::reduce(&wide)
}

/// 32 random bytes from the operating system.
pub(crate) fn random_bytes() -> Result<[u8; 32], getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(b)
}
