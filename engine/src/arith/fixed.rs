//! Fixed-point numbers on additive shares.
//!
//! A real `v` with `f` fractional bits (default [`DEFAULT_FRAC`] = 16) is
//! the integer `round(v · 2^f)`, two's complement, shared in `Z_2^128`.
//! Addition and public-integer scaling are local; a product of two such
//! numbers has `2f` fractional bits and is brought back to `f` by
//! [`Party::truncate`].
//!
//! # Truncation and its error bound
//!
//! Probabilistic truncation by a statistically hiding mask (the method of
//! O. Catrina and S. de Hoogh, "Improved primitives for secure multiparty
//! integer computation", SCN 2010, section 3.1, protocol `TruncPR`), with
//! the mask made without interaction: each party `i` draws
//! `r_i < 2^121` and keeps `⌊r_i / 2^f⌋`. For a shared `x` with
//! `|x| < 2^80` ([`BOUND_BITS`]):
//! 1. open `c = x + 2^80 + Σ r_i` (below `2^126`: it never wraps);
//! 2. party `i` holds `-⌊r_i / 2^f⌋`, and party 0 adds `⌊c / 2^f⌋ - 2^(80-f)`.
//!
//! The result is `⌊x / 2^f⌋ + e` with `0 ≤ e ≤ N` (N the number of
//! parties): at most 1 from the carry out of the low bits of `c`, at most
//! `N - 1` from flooring the `r_i` one by one. There is no rare large
//! error: the bound holds always, given `|x| < 2^80`. A real product must
//! therefore stay below `2^(80 - 2f)` in magnitude (`2^48` with `f = 16`).
//! Opening `c` reveals nothing beyond statistical distance `2^-40`
//! ([`SIGMA`]): any one honest party's `r_i`, uniform on `2^121` values,
//! hides `x + 2^80 < 2^81`.
//!
//! `Z_2^128` rather than `Z_2^64` gives that headroom: in `Z_2^64` a masked
//! opening leaves about `2^-11` statistical security for the same values,
//! and local share truncation (SecureML) fails with probability about
//! `2^-15` per product, too often for a million customers.

use super::{ArithError, Party, Shares, Triples};

/// Default fractional bits.
pub const DEFAULT_FRAC: u32 = 16;

/// A value entering [`Party::truncate`] must satisfy `|x| < 2^BOUND_BITS`.
pub const BOUND_BITS: u32 = 80;

/// Statistical security of the truncation mask, in bits.
pub const SIGMA: u32 = 40;

/// Bits of each party's mask `r_i`: `BOUND_BITS + 1 + SIGMA`.
const MASK_BITS: u32 = BOUND_BITS + 1 + SIGMA;

/// `v` with `frac` fractional bits, rounded to nearest; `None` if `v` is
/// not finite or `|v · 2^frac| ≥ 2^63` (outside the language's 64-bit
/// `fix`). A product must also stay within [`BOUND_BITS`].
pub fn encode(v: f64, frac: u32) -> Option<u128> {
    let scaled = (v * f64::from(frac).exp2()).round();
    let limit = 63f64.exp2();
    (scaled.is_finite() && scaled.abs() < limit).then_some(scaled as i128 as u128)
}

/// The real that `x` stands for with `frac` fractional bits.
pub fn decode(x: u128, frac: u32) -> f64 {
    x as i128 as f64 / f64::from(frac).exp2()
}

impl Party {
    /// `⌊x / 2^frac⌋ + e`, `0 ≤ e ≤ N`, for `|x| < 2^80`; one round (see
    /// the module documentation for the protocol and its bound).
    pub fn truncate(&mut self, x: &Shares<u128>, frac: u32) -> Result<Shares<u128>, ArithError> {
        if frac == 0 || frac >= BOUND_BITS {
            return Err(ArithError::Setup(format!(
                "fractional bits must be between 1 and {}, not {frac}",
                BOUND_BITS - 1
            )));
        }
        let r: Vec<u128> = (0..x.len())
            .map(|_| {
                let v: u128 = super::Ring::random(&mut self.prg);
                v >> (128 - MASK_BITS)
            })
            .collect();
        let shift = 1u128 << BOUND_BITS;
        let first = self.me == 0;
        let masked = Shares::new(
            x.expose()
                .iter()
                .zip(&r)
                .map(|(&v, &m)| {
                    let v = v.wrapping_add(m);
                    if first { v.wrapping_add(shift) } else { v }
                })
                .collect(),
        );
        let c = self.open(&masked)?;
        Ok(Shares::new(
            c.iter()
                .zip(&r)
                .map(|(&c, &m)| {
                    let mine = (m >> frac).wrapping_neg();
                    if first {
                        mine.wrapping_add(c >> frac).wrapping_sub(shift >> frac)
                    } else {
                        mine
                    }
                })
                .collect(),
        ))
    }

    /// The fixed-point product: [`mul`](Party::mul) then
    /// [`truncate`](Party::truncate); two rounds.
    pub fn mul_fix(
        &mut self,
        x: &Shares<u128>,
        y: &Shares<u128>,
        triples: &mut Triples<u128>,
        frac: u32,
    ) -> Result<Shares<u128>, ArithError> {
        let z = self.mul(x, y, triples)?;
        self.truncate(&z, frac)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use super::*;
    use crate::prg::Prg;

    /// The truncation's result is `⌊x / 2^f⌋ + e` with `0 ≤ e ≤ N`, on
    /// random values up to the bound, for 2 to 5 parties and several `f`.
    #[test]
    fn truncation_error_within_bound() {
        let mut prg = Prg::from_entropy().unwrap();
        for n in 2..=5 {
            for frac in [1u32, 16, 30] {
                let xs: Vec<i128> = (0..500)
                    .map(|k| {
                        let v = prg.block().0 as i128 >> (128 - BOUND_BITS);
                        // Include the extremes of the range.
                        match k {
                            0 => (1i128 << BOUND_BITS) - 1,
                            1 => 1 - (1i128 << BOUND_BITS),
                            2 => 0,
                            _ => v,
                        }
                    })
                    .collect();
                let raw: Vec<u128> = xs.iter().map(|&v| v as u128).collect();
                let raw = &raw;
                let out = run(n, |mut p| {
                    let me = p.id();
                    let x = p.input(0, (me == 0).then_some(raw.as_slice()), raw.len())?;
                    let t = p.truncate(&x, frac)?;
                    p.open(&t)
                });
                for o in out {
                    for (got, &x) in o.unwrap().iter().zip(&xs) {
                        let floor = x >> frac;
                        let e = (*got as i128).wrapping_sub(floor);
                        assert!(
                            (0..=n as i128).contains(&e),
                            "{n} parties, f={frac}, x={x}: error {e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fixed_point_products_match_plaintext() {
        let frac = DEFAULT_FRAC;
        let ulp = f64::from(frac).exp2().recip();
        let mut prg = Prg::from_entropy().unwrap();
        let mut real = || (prg.block().0 as i64 as f64) / 2f64.powi(63) * 1e6;
        let a: Vec<f64> = (0..200).map(|_| real()).collect();
        let b: Vec<f64> = (0..200).map(|_| real() / 1e3).collect();
        let enc =
            |v: &[f64]| -> Vec<u128> { v.iter().map(|&x| encode(x, frac).unwrap()).collect() };
        let (ea, eb) = (enc(&a), enc(&b));
        let (ea, eb) = (&ea, &eb);
        for n in [2, 3] {
            let out = run(n, |mut p| {
                let me = p.id();
                let x = p.input(0, (me == 0).then_some(ea.as_slice()), 200)?;
                let y = p.input(n - 1, (me == n - 1).then_some(eb.as_slice()), 200)?;
                let mut t = p.triples::<u128>(200)?;
                let z = p.mul_fix(&x, &y, &mut t, frac)?;
                p.open(&z)
            });
            for o in out {
                for (k, got) in o.unwrap().into_iter().enumerate() {
                    // Inputs were rounded (half an ulp each, scaled by the
                    // other factor); then the truncation's bound.
                    let exact = decode(ea[k], frac) * decode(eb[k], frac);
                    let err = decode(got, frac) - exact;
                    assert!(
                        (-ulp..=(n as f64 + 1.0) * ulp).contains(&err),
                        "{} * {}: got {}, error {err}",
                        a[k],
                        b[k],
                        decode(got, frac)
                    );
                }
            }
        }
    }

    #[test]
    fn encode_refuses_what_cannot_be_multiplied() {
        assert_eq!(decode(encode(-1.5, 16).unwrap(), 16), -1.5);
        assert_eq!(encode(f64::NAN, 16), None);
        assert_eq!(encode(2f64.powi(47), 16), None);
        assert!(encode(2f64.powi(46), 16).is_some());
    }

    #[test]
    fn bad_fractional_bits_are_refused() {
        let out = run(2, |mut p| p.truncate(&Shares::new(vec![0u128]), 0));
        for o in out {
            assert!(o.unwrap_err().to_string().contains("fractional bits"));
        }
    }
}
