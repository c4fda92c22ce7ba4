//! Hashing to secp256k1, many messages at a time: RFC 9380's
//! `secp256k1_XMD:SHA-256_SSWU_RO_` suite (section 8.7), with the same
//! output as `k256::hash2curve::hash_from_bytes` but about four times
//! cheaper, which base OT needs (three hashes per OT).
//!
//! The steps of RFC 9380, section 3, `hash_to_curve`:
//! 1. `hash_to_field(msg, 2)` (section 5.2, `expand_message_xmd` with
//!    SHA-256, `L = 48`): taken from the `hash2curve` crate.
//! 2. `map_to_curve` for each of `u0`, `u1`: the simplified SWU map onto
//!    the isogenous curve `E'` (section 6.6.2, in the straight-line form of
//!    appendix F.2 with `sqrt_ratio` for `q = 3 mod 4`, F.2.1.2), then the
//!    3-isogeny `E' → secp256k1` (appendix E.1). Here both stay fractions:
//!    the map's `x` as `xn / xd`, the isogeny's outputs over a common
//!    denominator, so a map costs one exponentiation (in `sqrt_ratio`), not
//!    the four of a version that inverts at each step.
//! 3. The denominators of the whole batch are inverted together
//!    (Montgomery's trick: one inversion and three multiplications each),
//!    and `Q0 + Q1` is returned (`clear_cofactor` is the identity: the
//!    cofactor is 1).
//!
//! Every step is constant time in the message, as RFC 9380 asks (section
//! 4): selections are `CMOV`s, and the exponent is fixed.

use std::sync::OnceLock;

use k256::elliptic_curve::consts::{U16, U48};
use k256::elliptic_curve::hazmat::FieldArithmetic;
use k256::elliptic_curve::sec1::FromSec1Point;
use k256::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use k256::hash2curve::{ExpandMsgXmd, hash_to_field};
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Sec1Point, Secp256k1};
use sha2::Sha256;

use super::OtError;

type Fe = <Secp256k1 as FieldArithmetic>::FieldElement;

/// A big-endian 32-byte constant from 64 hex digits; the constants below
/// are evaluated at compile time, so a bad digit fails the build.
const fn hex32(s: &str) -> [u8; 32] {
    let s = s.as_bytes();
    assert!(s.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 64 {
        let d = match s[i] {
            b'0'..=b'9' => s[i] - b'0',
            b'a'..=b'f' => s[i] - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        };
        out[i / 2] |= if i % 2 == 0 { d << 4 } else { d };
        i += 1;
    }
    out
}

/// The constants of RFC 9380, section 8.7 (the map) and appendix E.1 (the
/// isogeny's coefficients `k_(i,j)`).
struct Consts {
    /// `A'` of `E': y^2 = x^3 + A'x + B'`.
    a: Fe,
    /// `B' = 1771`.
    b: Fe,
    /// `Z = -11`.
    z: Fe,
    /// `sqrt(-Z)`, the `c2` of `sqrt_ratio_3mod4`.
    sqrt_minus_z: Fe,
    /// `x_num`: `k_(1,0..=3)`.
    x_num: [Fe; 4],
    /// `x_den`: `k_(2,0..=1)` (monic, degree 2).
    x_den: [Fe; 2],
    /// `y_num`: `k_(3,0..=3)`.
    y_num: [Fe; 4],
    /// `y_den`: `k_(4,0..=2)` (monic, degree 3).
    y_den: [Fe; 3],
}

fn fe(bytes: [u8; 32]) -> Option<Fe> {
    Fe::from_bytes(&FieldBytes::from(bytes)).into()
}

/// The constants, checked once (each below `p`; `-Z` a square).
fn consts() -> Result<&'static Consts, OtError> {
    static C: OnceLock<Option<Consts>> = OnceLock::new();
    C.get_or_init(|| {
        let z = -Fe::from_u64(11);
        let sqrt_minus_z = Option::from(Fe::from_u64(11).sqrt())?;
        Some(Consts {
            a: fe(const { hex32("3f8731abdd661adca08a5558f0f5d272e953d363cb6f0e5d405447c01a444533") })?,
            b: Fe::from_u64(1771),
            z,
            sqrt_minus_z,
            x_num: [
                fe(const { hex32("8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa8c7") })?,
                fe(const { hex32("07d3d4c80bc321d5b9f315cea7fd44c5d595d2fc0bf63b92dfff1044f17c6581") })?,
                fe(const { hex32("534c328d23f234e6e2a413deca25caece4506144037c40314ecbd0b53d9dd262") })?,
                fe(const { hex32("8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa88c") })?,
            ],
            x_den: [
                fe(const { hex32("d35771193d94918a9ca34ccbb7b640dd86cd409542f8487d9fe6b745781eb49b") })?,
                fe(const { hex32("edadc6f64383dc1df7c4b2d51b54225406d36b641f5e41bbc52a56612a8c6d14") })?,
            ],
            y_num: [
                fe(const { hex32("4bda12f684bda12f684bda12f684bda12f684bda12f684bda12f684b8e38e23c") })?,
                fe(const { hex32("c75e0c32d5cb7c0fa9d0a54b12a0a6d5647ab046d686da6fdffc90fc201d71a3") })?,
                fe(const { hex32("29a6194691f91a73715209ef6512e576722830a201be2018a765e85a9ecee931") })?,
                fe(const { hex32("2f684bda12f684bda12f684bda12f684bda12f684bda12f684bda12f38e38d84") })?,
            ],
            y_den: [
                fe(const { hex32("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffff93b") })?,
                fe(const { hex32("7a06534bb8bdb49fd5e9e6632722c2989467c1bfc8e8d978dfb425d2685c2573") })?,
                fe(const { hex32("6484aa716545ca2cf3a70c3fa8fe337e0a3d21162f0d6299a7bf8192bfd2a76f") })?,
            ],
        })
    })
    .as_ref()
    .ok_or_else(|| OtError::HashToCurve("a bad constant".into()))
}

/// `x^(2^k)`.
fn sqn(x: Fe, k: usize) -> Fe {
    (0..k).fold(x, |x, _| x.square())
}

/// `x^((p - 3) / 4)`, by the addition chain of the `x^(2^n - 1)` blocks
/// that the exponent's bits are made of: 223 ones, a zero, 22 ones, then
/// `00001011`. 255 squarings and 14 multiplications.
fn pow_p_minus_3_over_4(x: Fe) -> Fe {
    let x2 = x.square() * x;
    let x3 = x2.square() * x;
    let x6 = sqn(x3, 3) * x3;
    let x9 = sqn(x6, 3) * x3;
    let x11 = sqn(x9, 2) * x2;
    let x22 = sqn(x11, 11) * x11;
    let x44 = sqn(x22, 22) * x22;
    let x88 = sqn(x44, 44) * x44;
    let x176 = sqn(x88, 88) * x88;
    let x220 = sqn(x176, 44) * x44;
    let x223 = sqn(x220, 3) * x3;
    let t = sqn(x223, 23) * x22;
    let t = sqn(t, 5) * x;
    sqn(t, 3) * x2
}

fn eq(a: &Fe, b: &Fe) -> Choice {
    a.normalize().ct_eq(&b.normalize())
}

fn sgn0(a: &Fe) -> Choice {
    a.normalize().is_odd()
}

/// `sqrt_ratio(u, v)` for `q = 3 mod 4` (RFC 9380, F.2.1.2): whether
/// `u / v` is a square, and `sqrt(u / v)` if it is, `sqrt(Z u / v)` if not.
fn sqrt_ratio(u: &Fe, v: &Fe, c: &Consts) -> (Choice, Fe) {
    let uv = *u * v;
    let uv3 = v.square() * uv;
    let y1 = pow_p_minus_3_over_4(uv3) * uv;
    let y2 = y1 * c.sqrt_minus_z;
    let is_qr = eq(&(y1.square() * v), u);
    (is_qr, Fe::conditional_select(&y2, &y1, is_qr))
}

/// A point of secp256k1 as `(X / D, Y / D)`; `D = 0` for the identity.
struct Fraction {
    x: Fe,
    y: Fe,
    d: Fe,
}

/// `map_to_curve(u)` (RFC 9380, section 6.6.3): simplified SWU onto `E'`
/// (appendix F.2's steps), then the 3-isogeny (appendix E.1), kept as a
/// fraction.
fn map_to_curve(u: &Fe, c: &Consts) -> Fraction {
    // Simplified SWU, steps 1-24 of F.2, with x left as xn / xd.
    let tv1 = c.z * u.square();
    let tv2 = (tv1.square() + tv1).normalize_weak();
    let tv3 = c.b * (tv2 + Fe::ONE);
    let tv4 = c.a * Fe::conditional_select(&c.z, &-tv2, !tv2.normalizes_to_zero());
    let tv4_2 = tv4.square();
    let gxd = tv4_2 * tv4;
    let gx1 = (tv3.square() + c.a * tv4_2) * tv3 + c.b * gxd;
    let (is_gx1_square, y1) = sqrt_ratio(&gx1, &gxd, c);
    let xn = Fe::conditional_select(&(tv1 * tv3), &tv3, is_gx1_square);
    let y = Fe::conditional_select(&(tv1 * u * y1), &y1, is_gx1_square);
    let y = Fe::conditional_select(&-y, &y, sgn0(u).ct_eq(&sgn0(&y)));
    let xd = tv4;

    // The 3-isogeny with x = xn / xd:
    //   x' = x_num(x) / x_den(x) = nx / (dx xd),  y' = y y_num(x) / y_den(x) = y ny / dy,
    // where nx, ny, dy are the polynomials times xd^3 and dx times xd^2.
    let xn2 = xn.square();
    let xn3 = xn2 * xn;
    let xd2 = xd.square();
    let xd3 = xd2 * xd;
    let (xn2xd, xnxd2) = (xn2 * xd, xn * xd2);
    let cubic = |k: &[Fe; 4]| k[3] * xn3 + k[2] * xn2xd + k[1] * xnxd2 + k[0] * xd3;
    let nx = cubic(&c.x_num);
    let ny = cubic(&c.y_num);
    let dx = (xn2 + c.x_den[1] * (xn * xd) + c.x_den[0] * xd2).normalize_weak();
    let dy = (xn3 + c.y_den[2] * xn2xd + c.y_den[1] * xnxd2 + c.y_den[0] * xd3).normalize_weak();
    let dxxd = dx * xd;
    // A zero denominator is an exceptional point, which the isogeny sends
    // to the identity (RFC 9380, section 6.6.3); D = dx xd dy is then 0.
    Fraction {
        x: nx * dy,
        y: y * ny * dxxd,
        d: dxxd * dy,
    }
}

/// `hash_to_curve(msg)` of RFC 9380's `secp256k1_XMD:SHA-256_SSWU_RO_`
/// with domain separation tag `dst`, for every message.
pub fn hash_to_curve(msgs: &[&[u8]], dst: &[u8]) -> Result<Vec<ProjectivePoint>, OtError> {
    let c = consts()?;
    let mut maps = Vec::with_capacity(2 * msgs.len());
    for msg in msgs {
        let us = hash_to_field::<2, ExpandMsgXmd<Sha256>, U16, Fe, U48>(&[msg], &[dst])
            .map_err(|e| OtError::HashToCurve(format!("{e:?}")))?;
        maps.extend(us.iter().map(|u| map_to_curve(u, c)));
    }
    // Montgomery's trick: prefix products, one inversion, then back.
    let identity: Vec<Choice> = maps.iter().map(|m| m.d.normalizes_to_zero()).collect();
    let ds: Vec<Fe> = maps
        .iter()
        .zip(&identity)
        .map(|(m, &z)| Fe::conditional_select(&m.d, &Fe::ONE, z))
        .collect();
    let mut prefix = Vec::with_capacity(ds.len());
    let mut acc = Fe::ONE;
    for d in &ds {
        prefix.push(acc);
        acc *= d;
    }
    let mut inv = Option::<Fe>::from(acc.invert())
        .ok_or_else(|| OtError::HashToCurve("a zero denominator".into()))?;
    let mut points = vec![ProjectivePoint::IDENTITY; maps.len()];
    for i in (0..maps.len()).rev() {
        let d_inv = inv * prefix[i];
        inv *= ds[i];
        if bool::from(identity[i]) {
            continue;
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(&(maps[i].x * d_inv).normalize().to_bytes());
        sec1[33..].copy_from_slice(&(maps[i].y * d_inv).normalize().to_bytes());
        let p = Sec1Point::from_bytes(sec1)
            .ok()
            .and_then(|s| Option::<AffinePoint>::from(AffinePoint::from_sec1_point(&s)))
            .ok_or_else(|| OtError::HashToCurve("the map left the curve".into()))?;
        points[i] = p.into();
    }
    Ok(points.chunks_exact(2).map(|q| q[0] + q[1]).collect())
}

#[cfg(test)]
mod tests {
    use k256::elliptic_curve::Field;
    use k256::elliptic_curve::sec1::ToSec1Point;
    use k256::hash2curve::hash_from_bytes;

    use super::*;

    fn reference(msg: &[u8], dst: &[u8]) -> ProjectivePoint {
        hash_from_bytes::<Secp256k1, ExpandMsgXmd<Sha256>>(&[msg], &[dst]).unwrap()
    }

    /// RFC 9380, appendix J.8.1 (`secp256k1_XMD:SHA-256_SSWU_RO_`).
    #[test]
    fn rfc9380_vectors() {
        let dst = b"QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_";
        let cases: [(&[u8], &str, &str); 2] = [
            (
                b"",
                "c1cae290e291aee617ebaef1be6d73861479c48b841eaba9b7b5852ddfeb1346",
                "64fa678e07ae116126f08b022a94af6de15985c996c3a91b64c406a960e51067",
            ),
            (
                b"abc",
                "3377e01eab42db296b512293120c6cee72b6ecf9f9205760bd9ff11fb3cb2c4b",
                "7f95890f33efebd1044d382a01b1bee0900fb6116f94688d487c6c7b9c8371f6",
            ),
        ];
        let msgs: Vec<&[u8]> = cases.iter().map(|c| c.0).collect();
        let got = hash_to_curve(&msgs, dst).unwrap();
        for ((_, x, y), p) in cases.iter().zip(got) {
            let p = p.to_affine().to_sec1_point(false);
            assert_eq!(&p.as_bytes()[1..33], &hex32(x));
            assert_eq!(&p.as_bytes()[33..], &hex32(y));
        }
    }

    /// The same points as k256's own (slower) implementation, on many
    /// random messages.
    #[test]
    fn agrees_with_k256() {
        let dst = b"quorate-test";
        let msgs: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                let mut m = i.to_le_bytes().to_vec();
                m.extend_from_slice(&k256::Scalar::random(&mut rand::rng()).to_bytes());
                m
            })
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let got = hash_to_curve(&refs, dst).unwrap();
        for (m, p) in msgs.iter().zip(got) {
            assert_eq!(p, reference(m, dst));
        }
        assert!(hash_to_curve(&[], dst).unwrap().is_empty());
    }

    #[test]
    fn the_addition_chain_is_the_exponent() {
        let c1 = [
            0xffff_ffff_bfff_ff0b,
            0xffff_ffff_ffff_ffff,
            0xffff_ffff_ffff_ffff,
            0x3fff_ffff_ffff_ffff,
        ];
        for _ in 0..20 {
            let x = Fe::random(&mut rand::rng());
            assert_eq!(
                pow_p_minus_3_over_4(x).normalize(),
                x.pow_vartime(c1).normalize()
            );
        }
    }
}
