//! The SHA-256 compression function (FIPS 180-4 section 6.2.2) with its
//! feed-forward, as a circuit: 22 573 AND gates, as many as the standard
//! Bristol Fashion `sha256.txt`.
//!
//! Inputs are a 512-bit message block and a 256-bit chaining value, both as
//! big-endian integers of their byte strings (word 0 most significant), the
//! layout of the standard Bristol Fashion `sha256.txt`. Hashing a message of
//! up to 55 bytes is one call on its padded block from [`initial_hash`].
//!
//! Per round: seven 32-bit additions (31 AND each, fewer where adding the
//! round constant meets its low zero bits), `Ch` and `Maj` (32 AND each);
//! the message schedule adds three per word for 48 words; the feed-forward
//! eight. The round constants are computed, not tabulated:
//! the first 32 bits of the fractional part of the cube root of each of the
//! first 64 primes (section 4.2.2), by integer root.

use crate::builder::{CircuitBuilder, Word};
use crate::circuit::GateSink;

/// The first `n` primes.
fn primes(n: usize) -> Vec<u64> {
    let mut ps: Vec<u64> = Vec::with_capacity(n);
    let mut k = 2u64;
    while ps.len() < n {
        if ps.iter().all(|&p| !k.is_multiple_of(p)) {
            ps.push(k);
        }
        k += 1;
    }
    ps
}

/// `floor(root_k(v))` for `v < 2^127`, by bisection.
fn iroot(v: u128, k: u32) -> u128 {
    let (mut lo, mut hi) = (0u128, 1u128 << (128 / k + 1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        match mid.checked_pow(k) {
            Some(p) if p <= v => lo = mid,
            _ => hi = mid - 1,
        }
    }
    lo
}

/// The 64 round constants K (FIPS 180-4 section 4.2.2).
pub fn round_constants() -> Vec<u32> {
    // frac(cbrt(p)) * 2^32 = floor(cbrt(p * 2^96)) mod 2^32
    primes(64)
        .iter()
        .map(|&p| iroot(u128::from(p) << 96, 3) as u32)
        .collect()
}

/// The initial hash value H(0) (section 5.3.3): square roots of the first
/// eight primes.
pub fn initial_hash() -> [u32; 8] {
    let mut h = [0u32; 8];
    for (slot, p) in h.iter_mut().zip(primes(8)) {
        *slot = iroot(u128::from(p) << 64, 2) as u32;
    }
    h
}

/// 32-bit word `i` of a big-endian value of `n` words (word 0 is the most
/// significant).
fn word(w: &Word, i: usize, n: usize) -> Word {
    w.slice(32 * (n - 1 - i)..32 * (n - i))
}

/// The compression function with feed-forward: `H' = H + compress(H, M)`.
///
/// # Panics
/// If `block` is not 512 bits or `state` not 256 bits wide.
pub fn compress<S: GateSink>(b: &mut CircuitBuilder<S>, block: &Word, state: &Word) -> Word {
    assert_eq!(
        (block.width(), state.width()),
        (512, 256),
        "SHA-256 compresses a 512-bit block into a 256-bit state"
    );
    let k = round_constants();
    let mut w: Vec<Word> = (0..16).map(|i| word(block, i, 16)).collect();
    for t in 16..64 {
        let x = &w[t - 15];
        let s0 = b.xor(&x.rotr(7), &x.rotr(18));
        let s0 = b.xor(&s0, &x.shr_logical(3));
        let y = &w[t - 2];
        let s1 = b.xor(&y.rotr(17), &y.rotr(19));
        let s1 = b.xor(&s1, &y.shr_logical(10));
        let a = b.add(&s1, &w[t - 7]);
        let c = b.add(&s0, &w[t - 16]);
        let next = b.add(&a, &c);
        w.push(next);
    }
    let h0: Vec<Word> = (0..8).map(|i| word(state, i, 8)).collect();
    let (mut a, mut bb, mut c, mut d) =
        (h0[0].clone(), h0[1].clone(), h0[2].clone(), h0[3].clone());
    let (mut e, mut f, mut g, mut h) = (h0[4].clone(), h0[5].clone(), h0[6].clone(), h0[7].clone());
    for t in 0..64 {
        let s1 = b.xor(&e.rotr(6), &e.rotr(11));
        let s1 = b.xor(&s1, &e.rotr(25));
        let ch: Word = (0..32)
            .map(|i| b.mux_bit(e.bit(i), f.bit(i), g.bit(i)))
            .collect();
        let kw = b.add(&w[t], &Word::constant(u64::from(k[t]), 32));
        let t1 = b.add(&h, &s1);
        let t1 = b.add(&t1, &ch);
        let t1 = b.add(&t1, &kw);
        let s0 = b.xor(&a.rotr(2), &a.rotr(13));
        let s0 = b.xor(&s0, &a.rotr(22));
        let maj: Word = (0..32)
            .map(|i| b.majority(a.bit(i), bb.bit(i), c.bit(i)))
            .collect();
        let t2 = b.add(&s0, &maj);
        h = g;
        g = f;
        f = e;
        e = b.add(&d, &t1);
        d = c;
        c = bb;
        bb = a;
        a = b.add(&t1, &t2);
    }
    let fin = [a, bb, c, d, e, f, g, h];
    let mut out = Word::default();
    for i in (0..8).rev() {
        let sum = b.add(&h0[i], &fin[i]);
        out = out.concat(&sum);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_standard_ones() {
        let k = round_constants();
        assert_eq!((k[0], k[1], k[63]), (0x428a2f98, 0x71374491, 0xc67178f2));
        assert_eq!(initial_hash()[0], 0x6a09e667);
        assert_eq!(initial_hash()[7], 0x5be0cd19);
    }
}
