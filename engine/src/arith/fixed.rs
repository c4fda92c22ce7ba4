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
//! # Exact truncation
//!
//! [`Party::truncate_exact`] removes the error, so that the arithmetic
//! backend rounds exactly like the Boolean circuits (`⌊x / 2^f⌋`). This is
//! Catrina and de Hoogh's exact `Trunc` (SCN 2010, section 3.2: `Mod2m`
//! with a bit comparison), with the mask made by the parties separately:
//! write `r_i = 2^f h_i + l_i` and `Σ l_i = 2^f q + ρ` (`q < N`, `ρ < 2^f`).
//! After opening `c` as above, with `c = 2^f C + γ`,
//! `⌊(x + 2^80) / 2^f⌋ = C - Σ h_i - q - [γ < ρ]`.
//! The correction `q + [γ < ρ]` (at most `N`) is a small Boolean circuit on
//! the parties' `l_i` (each party's own bits are a trivial XOR sharing) and
//! the public `γ`: an adder tree and an `f`-bit comparison, evaluated with
//! GMW for all values at once, then converted to arithmetic shares with
//! daBits. Cost per value: about `(N - 1)(f + 5) + f` AND gates and five
//! daBits, in about `f` rounds for all values together.
//!
//! `Z_2^128` rather than `Z_2^64` gives that headroom: in `Z_2^64` a masked
//! opening leaves about `2^-11` statistical security for the same values,
//! and local share truncation (SecureML) fails with probability about
//! `2^-15` per product, too often for a million customers.

use quorate_circuits::{Circuit, CircuitBuilder, Cmp, Signedness, Word};

use super::convert::Lanes;
use super::gmw::BitShares;
use super::{ArithError, Party, Shares, Triples};

/// Bits of the correction `q + [γ < ρ]` (at most 16 for 16 parties).
const CORR_BITS: usize = 5;

/// The correction circuit of [`Party::truncate_exact`]: inputs `l_0 ..
/// l_{n-1}` then `γ`, `frac` bits each; output `q + [γ < ρ]`.
fn correction_circuit(n: usize, frac: usize) -> Result<Circuit, ArithError> {
    let bad = |e: quorate_circuits::BuildError| ArithError::Setup(format!("Trunc circuit: {e}"));
    let mut b = CircuitBuilder::new();
    let wide = frac + CORR_BITS;
    let mut terms = Vec::with_capacity(n);
    for i in 0..n {
        let p = b.party(&format!("p{i}"));
        terms.push(
            b.input(p, &format!("l{i}"), frac as u32)
                .map_err(bad)?
                .zext(wide),
        );
    }
    let p0 = b.party("public");
    let gamma = b.input(p0, "gamma", frac as u32).map_err(bad)?;
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        for pair in terms.chunks(2) {
            next.push(pair[1..].iter().fold(pair[0].clone(), |s, y| b.add(&s, y)));
        }
        terms = next;
    }
    let sum = &terms[0];
    let rho = sum.slice(0..frac);
    let q = sum.slice(frac..wide);
    let borrow = b.compare(Cmp::Lt, &gamma, &rho, Signedness::Unsigned);
    let t = b.add(&q, &Word::from_bits(vec![borrow]).zext(CORR_BITS));
    b.output("t", &t);
    b.finish().map_err(bad)
}

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
        let (r, c) = self.masked_open(x)?;
        Ok(Shares::new(self.shifted(&r, &c, frac)))
    }

    /// Step 1 of both truncations: this party's mask `r_i < 2^121`, and
    /// the opened `c = x + 2^80 + Σ r_i`.
    fn masked_open(&mut self, x: &Shares<u128>) -> Result<(Vec<u128>, Vec<u128>), ArithError> {
        let r: Vec<u128> = (0..x.len())
            .map(|_| {
                let v: u128 = super::Ring::random(&mut self.prg);
                v >> (128 - MASK_BITS)
            })
            .collect();
        let first = self.me == 0;
        let masked = Shares::new(
            x.expose()
                .iter()
                .zip(&r)
                .map(|(&v, &m)| {
                    let v = v.wrapping_add(m);
                    if first {
                        v.wrapping_add(1 << BOUND_BITS)
                    } else {
                        v
                    }
                })
                .collect(),
        );
        let c = self.open(&masked)?;
        Ok((r, c))
    }

    /// Step 2: shares of `⌊c / 2^f⌋ - Σ ⌊r_i / 2^f⌋ - 2^(80-f)`: party `i`
    /// holds `-⌊r_i / 2^f⌋`, party 0 adds the public part.
    fn shifted(&self, r: &[u128], c: &[u128], frac: u32) -> Vec<u128> {
        let first = self.me == 0;
        c.iter()
            .zip(r)
            .map(|(&c, &m)| {
                let mine = (m >> frac).wrapping_neg();
                if first {
                    mine.wrapping_add(c >> frac)
                        .wrapping_sub(1 << (BOUND_BITS - frac))
                } else {
                    mine
                }
            })
            .collect()
    }

    /// `⌊x / 2^frac⌋` exactly, for `|x| < 2^80` (see the module
    /// documentation: `Trunc` with a GMW correction).
    pub fn truncate_exact(
        &mut self,
        x: &Shares<u128>,
        frac: u32,
    ) -> Result<Shares<u128>, ArithError> {
        if frac == 0 || frac >= 64 {
            return Err(ArithError::Setup(format!(
                "fractional bits must be between 1 and 63, not {frac}"
            )));
        }
        let len = x.len();
        if len == 0 {
            return Ok(Shares::new(Vec::new()));
        }
        let f = frac as usize;
        let first = self.me == 0;
        let (r, c) = self.masked_open(x)?;
        // The correction's inputs: each party's own low mask bits, and γ
        // (public: party 0 holds it, the others zeros).
        let words = len.div_ceil(64);
        let lanes_of = |vals: &dyn Fn(usize) -> u128| -> Vec<BitShares> {
            (0..f)
                .map(|bit| {
                    let mut v = vec![0u64; words];
                    for (k, w) in v.iter_mut().enumerate() {
                        for j in 0..64.min(len - k * 64) {
                            *w |= ((vals(k * 64 + j) >> bit & 1) as u64) << j;
                        }
                    }
                    BitShares::new(v)
                })
                .collect()
        };
        let zeros = || (0..f).map(|_| BitShares::new(vec![0u64; words]));
        let mut lanes: Lanes = Vec::with_capacity(f * (self.n + 1));
        for i in 0..self.n {
            if i == self.me {
                lanes.extend(lanes_of(&|k| r[k]));
            } else {
                lanes.extend(zeros());
            }
        }
        if first {
            lanes.extend(lanes_of(&|k| c[k]));
        } else {
            lanes.extend(zeros());
        }
        let circuit = correction_circuit(self.n, f)?;
        let t_bits = self.eval_shared(&circuit, &lanes)?;
        let mut t = Shares::new(vec![0u128; len]);
        for (j, bits) in t_bits.iter().enumerate() {
            let tj: Shares<u128> = self.b2a(bits, len)?;
            t = t.add(&tj.scale(1u128 << j))?;
        }
        let base = self.shifted(&r, &c, frac);
        Shares::new(base).sub(&t)
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

    /// Exact truncation gives `⌊x / 2^f⌋` on random values over the whole
    /// range and its edges (carries into and out of the low bits), for 2
    /// to 5 parties.
    #[test]
    fn exact_truncation_is_exact() {
        let mut prg = Prg::from_entropy().unwrap();
        for (n, frac) in [(2, 1u32), (2, 40), (3, 16), (5, 16)] {
            {
                let xs: Vec<i128> = (0..100)
                    .map(|k| {
                        let v = prg.block().0 as i128 >> (128 - BOUND_BITS);
                        match k {
                            0 => (1i128 << BOUND_BITS) - 1,
                            1 => 1 - (1i128 << BOUND_BITS),
                            2 => 0,
                            3 => -1,
                            4 => (1i128 << frac) - 1,
                            5 => -(1i128 << frac),
                            6 => v >> 40,
                            _ => v,
                        }
                    })
                    .collect();
                let raw: Vec<u128> = xs.iter().map(|&v| v as u128).collect();
                let raw = &raw;
                let out = run(n, |mut p| {
                    let me = p.id();
                    let x = p.input(0, (me == 0).then_some(raw.as_slice()), raw.len())?;
                    let t = p.truncate_exact(&x, frac)?;
                    p.open(&t)
                });
                for o in out {
                    for (got, &x) in o.unwrap().iter().zip(&xs) {
                        assert_eq!(*got as i128, x >> frac, "{n} parties, f={frac}, x={x}");
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
