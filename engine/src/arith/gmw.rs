//! GMW: the Boolean backend for N parties (O. Goldreich, S. Micali and
//! A. Wigderson, "How to play any mental game", STOC 1987), semi-honest,
//! with XOR shares bit-sliced in 64-bit words: lane `l` of word `w` is one
//! bit of one instance, so one word operation works on 64 bits at once.
//!
//! XOR and NOT are local. AND uses a Boolean Beaver triple per bit
//! (`c = a ∧ b`), made from random OT: with `a = ⊕_i a_i`,
//! `b = ⊕_i b_i`, `c = ⊕_i (a_i ∧ b_i) ⊕ ⊕_{i≠j} (a_i ∧ b_j)`; each cross
//! term is shared between `i` and `j` by one OT in which `i` chooses by
//! its bit of `a_i` and `j` offers `(s0, s0 ⊕ b_j)`, sent as the
//! one-bit correction `s0 ⊕ s1 ⊕ b_j` on a random OT's keys `(s0, s1)`
//! (the OT-based triples of G. Asharov, Y. Lindell, T. Schneider and
//! M. Zohner, "More efficient oblivious transfer and extensions for faster
//! secure computation", CCS 2013, section 5.3).

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{ArithError, Party, Peer, exchange};
use crate::prg::{Prg, Seed};

/// One party's XOR shares of bit-sliced words; zeroized on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BitShares(Vec<u64>);

impl std::fmt::Debug for BitShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitShares(<{} words redacted>)", self.0.len())
    }
}

impl BitShares {
    /// Wraps this party's shares.
    pub fn new(words: Vec<u64>) -> Self {
        BitShares(words)
    }

    /// The shares.
    pub fn expose(&self) -> &[u64] {
        &self.0
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `x ⊕ y`, locally.
    pub fn xor(&self, o: &Self) -> Result<Self, ArithError> {
        if self.len() != o.len() {
            return Err(ArithError::Length(self.len(), o.len()));
        }
        Ok(BitShares(
            self.0.iter().zip(&o.0).map(|(a, b)| a ^ b).collect(),
        ))
    }

    /// `¬x`: party 0 flips its shares.
    pub fn not(&self, party: usize) -> Self {
        if party == 0 {
            BitShares(self.0.iter().map(|a| !a).collect())
        } else {
            self.clone()
        }
    }

    /// `x ∧ c` for public `c`, locally.
    pub fn and_public(&self, c: &[u64]) -> Result<Self, ArithError> {
        if self.len() != c.len() {
            return Err(ArithError::Length(self.len(), c.len()));
        }
        Ok(BitShares(
            self.0.iter().zip(c).map(|(a, b)| a & b).collect(),
        ))
    }
}

/// One party's shares of Boolean triples, 64 per word.
#[derive(Debug, Default, Zeroize, ZeroizeOnDrop)]
pub struct BitTriples {
    a: Vec<u64>,
    b: Vec<u64>,
    c: Vec<u64>,
}

impl BitTriples {
    /// Words left.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether none are left.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Takes `n` words of triples off the end.
    pub fn take(&mut self, n: usize) -> Result<BitTriples, ArithError> {
        if n > self.len() {
            return Err(ArithError::OutOfTriples {
                need: n * 64,
                have: self.len() * 64,
            });
        }
        let at = self.len() - n;
        Ok(BitTriples {
            a: self.a.split_off(at),
            b: self.b.split_off(at),
            c: self.c.split_off(at),
        })
    }

    /// The shares `(a_i, b_i, c_i)`.
    pub fn expose(&self) -> (&[u64], &[u64], &[u64]) {
        (&self.a, &self.b, &self.c)
    }
}

/// Words of triples per OT batch with one peer (2^20 OTs each way: on
/// this 2-core machine 2^18 made 12.6 M triples/s, 2^20 17.5 M/s, 2^22
/// 15.8 M/s, `cargo run --release -p quorate-engine --example
/// bit_triples`).
const WORD_BATCH: usize = 1 << 14;

/// This party's share of both cross terms with peer `p`: `a ∧ b'` (this
/// party chooses by `a`) and `a' ∧ b` (the peer chooses by `a'`), from one
/// duplex run of random bit OTs. As the offerer this side keeps `s0` and
/// sends `s0 ⊕ s1 ⊕ b`; as the chooser it holds `s_a` and adds the peer's
/// correction where `a` is set, so the two shares XOR to `a ∧ b'`.
fn cross_terms(p: &mut Peer, a: &[u64], b: &[u64]) -> Result<Vec<u64>, ArithError> {
    let [mut chosen, mut s0, mut s1] = crate::ot::kos::rot_bits_duplex(
        &mut p.ch,
        &mut p.sender,
        &mut p.receiver,
        a,
        b.len(),
        &mut p.bufs,
    )?;
    let mine: Vec<u8> = s0
        .iter()
        .zip(&s1)
        .zip(b)
        .flat_map(|((x, y), b)| (x ^ y ^ b).to_le_bytes())
        .collect();
    let theirs = exchange(&mut p.ch, &mine)?;
    let out = theirs
        .chunks_exact(8)
        .zip(&chosen)
        .zip(a)
        .zip(&s0)
        .map(|(((c, k), a), s)| {
            let tau = u64::from_le_bytes(c.try_into().unwrap_or_default());
            k ^ (tau & a) ^ s
        })
        .collect();
    chosen.zeroize();
    s0.zeroize();
    s1.zeroize();
    Ok(out)
}

impl Party {
    /// Makes `words · 64` Boolean triples.
    pub fn bit_triples(&mut self, words: usize) -> Result<BitTriples, ArithError> {
        let mut all = BitTriples::default();
        let mut left = words;
        while left > 0 {
            let m = left.min(WORD_BATCH);
            let mut t = self.bit_triple_batch(m)?;
            all.a.append(&mut t.a);
            all.b.append(&mut t.b);
            all.c.append(&mut t.c);
            left -= m;
        }
        Ok(all)
    }

    fn bit_triple_batch(&mut self, words: usize) -> Result<BitTriples, ArithError> {
        let mut a = vec![0u64; words];
        let mut b = vec![0u64; words];
        for v in a.iter_mut().chain(b.iter_mut()) {
            *v = self.prg.block().0 as u64;
        }
        let (ar, br) = (&a, &b);
        let cross = self.each_peer(|_, p| cross_terms(p, ar, br))?;
        let mut c: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x & y).collect();
        for mut part in cross.into_iter().flatten() {
            for (c, v) in c.iter_mut().zip(&part) {
                *c ^= v;
            }
            part.zeroize();
        }
        Ok(BitTriples { a, b, c })
    }

    /// XOR-shares `words`, known to party `owner`, of length `len`.
    pub fn input_bits(
        &mut self,
        owner: usize,
        words: Option<&[u64]>,
        len: usize,
    ) -> Result<BitShares, ArithError> {
        let words = self.share_by_seeds(owner, words, len, |s| stream(s, len), |a, b| a ^ b)?;
        Ok(BitShares(words))
    }

    /// Opens `x` to every party.
    pub fn open_bits(&mut self, x: &BitShares) -> Result<Vec<u64>, ArithError> {
        let mine: Vec<u8> = x.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        let theirs = self.each_peer(|_, p| exchange(&mut p.ch, &mine))?;
        let mut out = x.0.clone();
        for bytes in theirs.iter().flatten() {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                *o ^= u64::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// Opens `x` to the parties in `to` only: `Some` there, `None`
    /// elsewhere.
    pub fn open_bits_to(
        &mut self,
        x: &BitShares,
        to: &[usize],
    ) -> Result<Option<Vec<u64>>, ArithError> {
        if let Some(bad) = to.iter().find(|&&p| p >= self.n) {
            return Err(ArithError::Setup(format!("no party {bad} to reveal to")));
        }
        let mine: Vec<u8> = x.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        let (me, len) = (self.me, x.len());
        let receiving = to.contains(&me);
        let theirs = self.each_peer(|j, p| {
            if to.contains(&j) {
                p.ch.send(&mine)?;
                p.ch.flush()?;
            }
            if receiving {
                let mut bytes = vec![0u8; len * 8];
                p.ch.recv(&mut bytes)?;
                return Ok(Some(bytes));
            }
            Ok(None)
        })?;
        if !receiving {
            return Ok(None);
        }
        let mut out = x.0.clone();
        for bytes in theirs.iter().flatten().flatten() {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                *o ^= u64::from_le_bytes(c.try_into().unwrap_or_default());
            }
        }
        Ok(Some(out))
    }

    /// `x ∧ y`, 64 bits per word, one triple per bit, in one round.
    pub fn and(
        &mut self,
        x: &BitShares,
        y: &BitShares,
        triples: &mut BitTriples,
    ) -> Result<BitShares, ArithError> {
        if x.len() != y.len() {
            return Err(ArithError::Length(x.len(), y.len()));
        }
        let t = triples.take(x.len())?;
        let de: Vec<u64> = (x.0.iter().zip(&t.a).map(|(v, a)| v ^ a))
            .chain(y.0.iter().zip(&t.b).map(|(v, b)| v ^ b))
            .collect();
        let opened = self.open_bits(&BitShares(de))?;
        let (d, e) = opened.split_at(x.len());
        let first = self.me == 0;
        Ok(BitShares(
            (0..x.len())
                .map(|k| {
                    let z = t.c[k] ^ (d[k] & t.b[k]) ^ (e[k] & t.a[k]);
                    if first { z ^ (d[k] & e[k]) } else { z }
                })
                .collect(),
        ))
    }
}

/// `len` words of the stream of `seed`.
fn stream(seed: &Seed, len: usize) -> Vec<u64> {
    let mut prg = Prg::new(seed, 2);
    (0..len).map(|_| prg.block().0 as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use super::*;

    #[test]
    fn bit_triples_and_for_2_to_5_parties() {
        for n in 2..=5 {
            let out = run(n, |mut p| {
                let t = p.bit_triples(70)?;
                let (a, b, c) = t.expose();
                Ok((a.to_vec(), b.to_vec(), c.to_vec()))
            });
            let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
            for w in 0..70 {
                let xor = |part: usize| {
                    out.iter()
                        .fold(0u64, |acc, o| acc ^ [&o.0, &o.1, &o.2][part][w])
                };
                let (a, b, c) = (xor(0), xor(1), xor(2));
                assert_eq!(a & b, c, "{n} parties, word {w}");
            }
        }
    }

    #[test]
    fn and_xor_not_match_plaintext() {
        for n in [2, 3, 5] {
            let mut prg = Prg::from_entropy().unwrap();
            let x: Vec<u64> = (0..33).map(|_| prg.block().0 as u64).collect();
            let y: Vec<u64> = (0..33).map(|_| prg.block().0 as u64).collect();
            let (xr, yr) = (&x, &y);
            let out = run(n, |mut p| {
                let me = p.id();
                let a = p.input_bits(0, (me == 0).then_some(xr.as_slice()), 33)?;
                let b = p.input_bits(n - 1, (me == n - 1).then_some(yr.as_slice()), 33)?;
                let mut t = p.bit_triples(33)?;
                let and = p.and(&a, &b, &mut t)?;
                let f = and.xor(&a)?.not(me);
                Ok((p.open_bits(&and)?, p.open_bits(&f)?))
            });
            for o in out {
                let (and, f) = o.unwrap();
                for k in 0..33 {
                    assert_eq!(and[k], x[k] & y[k]);
                    assert_eq!(f[k], !((x[k] & y[k]) ^ x[k]));
                }
            }
        }
    }
}
