//! Equality of two parties' 64-bit values, to XOR-shared bits, by
//! chunks: the private equality test of G. Couteau ("New protocols for
//! secure equality test and comparison", ACNS 2018, section 3), in the
//! form CrypTFlow2 gives its leaves (D. Rathee et al., "CrypTFlow2",
//! CCS 2020, section 3.1: chunk-wise 1-out-of-2^w OTs, then an AND of
//! the chunks' bits).
//!
//! Party 0 holds `x`, party 1 holds `y`, one per position; the output is
//! `e = [x = y]` shared as `e0 ⊕ e1`. Over a GMW circuit ([`super::gmw`])
//! the same test costs 63 AND gates, two OTs each; here it costs 64 OTs
//! and 10 AND gates, and the OTs are made before the inputs are known.
//!
//! 1. The 64 bits are cut into [`CHUNKS`]: ten of 6 bits and one of 4.
//!    Chunk `j` is chosen in by party `j mod 2` and offered by the other,
//!    so both directions of the duplex OT carry half.
//! 2. Preparation ([`Party::equality_prep`]), one 1-out-of-2^w random OT
//!    per chunk and position from `w` random OTs, as M. Naor and
//!    B. Pinkas build 1-out-of-N OT from log N 1-out-of-2 OTs
//!    ("Oblivious transfer and polynomial evaluation", STOC 1999,
//!    section 2.2): the chooser picks a random `c`, bit `i` of `c`
//!    choosing in OT `i`, whose messages are `2^w`-bit strings `m_i^0,
//!    m_i^1` (the first `2^w` bits of the extension's hashed keys). The
//!    offerer's key for value `v` is `K[v] = ⊕_i m_i^{v_i}[v]`, bit `v` of
//!    the messages `v` selects: on a domain of `2^w` values a random
//!    `2^w`-bit string is itself the pseudorandom function the
//!    construction asks for. The chooser learns `K[c]`; every other
//!    `K[v]` has a bit of a message it did not choose at a position no
//!    other key uses, so they are uniform and independent to it. The
//!    offerer stores the `2^w`-bit table `K`, the chooser `c` and `K[c]`.
//!    The AND triples of step 4 are made in the same preparation.
//! 3. Online ([`Party::equality`]): the chooser sends `d = x_j ⊕ c`; the
//!    offerer draws a bit `r` and sends the table
//!    `T[v] = K[v ⊕ d] ⊕ r ⊕ [v = y_j]`; the chooser's share is
//!    `T[x_j] ⊕ K[c] = r ⊕ [x_j = y_j]` and the offerer's is `r`.
//! 4. `e` is the AND of the eleven chunk bits, a tree of GMW ANDs
//!    ([`Party::and`]) four rounds deep.

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::gmw::{BitShares, BitTriples};
use super::{ArithError, Party, Peer, exchange_sized};
use crate::block::Block;

/// The chunks `(shift, width)` of a 64-bit value.
pub const CHUNKS: [(u32, u32); 11] = [
    (0, 6),
    (6, 6),
    (12, 6),
    (18, 6),
    (24, 6),
    (30, 6),
    (36, 6),
    (42, 6),
    (48, 6),
    (54, 6),
    (60, 4),
];

/// AND gates per position: the chunk bits' tree.
const ANDS: usize = CHUNKS.len() - 1;

/// Positions per OT batch: at most 34 OTs each way per position, so 2^14
/// positions is about half a million OTs, 9 MiB of keys each way.
const BATCH: usize = 1 << 14;

/// Bit `v` set for each value `v < 2^w` whose bit `i` is set.
const SELECT: [u64; 6] = [
    0xAAAA_AAAA_AAAA_AAAA,
    0xCCCC_CCCC_CCCC_CCCC,
    0xF0F0_F0F0_F0F0_F0F0,
    0xFF00_FF00_FF00_FF00,
    0xFFFF_0000_FFFF_0000,
    0xFFFF_FFFF_0000_0000,
];

/// The `2^w` low bits.
fn table_mask(width: u32) -> u64 {
    if width >= 6 {
        u64::MAX
    } else {
        (1u64 << (1u32 << width)) - 1
    }
}

/// Chunk `j` of `x`.
fn chunk(x: u64, j: usize) -> u64 {
    let (shift, width) = CHUNKS[j];
    x >> shift & ((1u64 << width) - 1)
}

/// `T[v] = K[v ⊕ d]` for a table of `2^width` bits: a swap of halves for
/// each set bit of `d`.
fn permute(mut table: u64, d: u64, width: u32) -> u64 {
    for (i, &sel) in SELECT.iter().enumerate().take(width as usize) {
        let step = 1u32 << i;
        let swapped = ((table >> step) & !sel) | ((table & !sel) << step);
        let take = (d >> i & 1).wrapping_neg();
        table = (swapped & take) | (table & !take);
    }
    table
}

/// The chunks party `me` chooses in (`true`) or offers (`false`).
fn chunks_of(me: usize, choosing: bool) -> Vec<usize> {
    (0..CHUNKS.len())
        .filter(|j| (j % 2 == me) == choosing)
        .collect()
}

/// The bits of each chunk in `list`, summed.
fn bits_of(list: &[usize]) -> usize {
    list.iter().map(|&j| CHUNKS[j].1 as usize).sum()
}

/// One party's preparation for `len` equality tests with its peer.
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub struct EqualityPrep {
    len: usize,
    /// Per position, per offered chunk: the key table `K`.
    tables: Vec<u64>,
    /// Per position, per chosen chunk: the random choice `c`.
    choices: Vec<u8>,
    /// Per position, per chosen chunk: the key `K[c]`.
    keys: Vec<u8>,
    triples: BitTriples,
}

impl std::fmt::Debug for EqualityPrep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EqualityPrep")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl EqualityPrep {
    /// How many tests it prepares.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it prepares none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Step 2 for one batch of `m` positions (`choices` and `keys` and
/// `tables` are this batch's slices).
fn prep_batch(
    p: &mut Peer,
    me: usize,
    m: usize,
    choices: &[u8],
    keys: &mut [u8],
    tables: &mut [u64],
) -> Result<(), ArithError> {
    let (chosen, offered) = (chunks_of(me, true), chunks_of(me, false));
    // Each chosen chunk's random value, bit by bit, in OT order.
    let mut bits = Zeroizing::new(Vec::with_capacity(m * bits_of(&chosen)));
    for at in choices.chunks_exact(chosen.len()) {
        for (&c, &j) in at.iter().zip(&chosen) {
            bits.extend((0..CHUNKS[j].1).map(|i| c >> i & 1 == 1));
        }
    }
    // Where each offered OT of a position lands: its chunk's slot, the
    // values it selects and the table's width.
    let mut lands = Vec::new();
    for (s, &j) in offered.iter().enumerate() {
        let width = CHUNKS[j].1;
        for sel in SELECT.iter().take(width as usize) {
            lands.push((s, sel & table_mask(width), table_mask(width)));
        }
    }
    let (mut pos, mut o) = (0usize, 0usize);
    crate::ot::kos::rot_duplex_spans(
        &mut p.ch,
        &mut p.sender,
        &mut p.receiver,
        &bits,
        m * lands.len(),
        &mut p.bufs,
        |k0, k1| {
            for (a, b) in k0.iter().zip(k1) {
                let (slot, sel, full) = lands[o];
                let (a, b) = (a.0 as u64, b.0 as u64);
                tables[pos * offered.len() + slot] ^= ((a & !sel) | (b & sel)) & full;
                o += 1;
                if o == lands.len() {
                    (o, pos) = (0, pos + 1);
                }
            }
        },
    )?;
    // The chooser's keys: bit `c` of each chosen message.
    let hashed: &[Block] = &p.bufs[0].expose()[..bits.len()];
    let mut at = 0;
    for (cs, ks) in choices
        .chunks_exact(chosen.len())
        .zip(keys.chunks_exact_mut(chosen.len()))
    {
        for ((&c, k), &j) in cs.iter().zip(ks.iter_mut()).zip(&chosen) {
            let width = CHUNKS[j].1 as usize;
            *k = hashed[at..at + width]
                .iter()
                .fold(0u8, |acc, h| acc ^ (h.0 as u64 >> c & 1) as u8);
            at += width;
        }
    }
    Ok(())
}

impl Party {
    /// Prepares `len` equality tests with the one peer of a two-party
    /// run: the random OTs of step 2 and the AND triples of step 4.
    pub fn equality_prep(&mut self, len: usize) -> Result<EqualityPrep, ArithError> {
        if self.n != 2 {
            return Err(ArithError::Setup(format!(
                "the equality test takes two parties, not {}",
                self.n
            )));
        }
        let me = self.me;
        let (chosen, offered) = (chunks_of(me, true).len(), chunks_of(me, false).len());
        let mut prep = EqualityPrep {
            len,
            tables: vec![0u64; len * offered],
            choices: vec![0u8; len * chosen],
            keys: vec![0u8; len * chosen],
            triples: BitTriples::default(),
        };
        // Random choices: a byte each, cut to its chunk's width.
        self.prg.fill_bytes(&mut prep.choices);
        let widths: Vec<u32> = chunks_of(me, true).iter().map(|&j| CHUNKS[j].1).collect();
        for at in prep.choices.chunks_exact_mut(chosen) {
            for (c, &w) in at.iter_mut().zip(&widths) {
                *c &= (1u8 << w) - 1;
            }
        }
        let peer = self.peer(1 - me)?;
        let mut start = 0;
        while start < len {
            let m = (len - start).min(BATCH);
            prep_batch(
                peer,
                me,
                m,
                &prep.choices[start * chosen..(start + m) * chosen],
                &mut prep.keys[start * chosen..(start + m) * chosen],
                &mut prep.tables[start * offered..(start + m) * offered],
            )?;
            start += m;
        }
        prep.triples = self.bit_triples(ANDS * len.div_ceil(64))?;
        Ok(prep)
    }

    /// Shares of `[x_i = y_i]` for each position `i`, where `mine` holds
    /// this party's values (`x` at party 0, `y` at party 1), packed 64
    /// to a word as [`BitShares`]; uses up `prep`.
    pub fn equality(
        &mut self,
        mut prep: EqualityPrep,
        mine: &[u64],
    ) -> Result<BitShares, ArithError> {
        if mine.len() != prep.len {
            return Err(ArithError::Length(mine.len(), prep.len));
        }
        let me = self.me;
        let (chosen, offered) = (chunks_of(me, true), chunks_of(me, false));
        let len = prep.len;
        let words = len.div_ceil(64);
        if len == 0 {
            return Ok(BitShares::new(Vec::new()));
        }
        // This party's shares r of the chunks it offers.
        let mut r = Zeroizing::new(vec![0u8; len * offered.len()]);
        self.prg.fill_bytes(&mut r);
        let peer = self.peer(1 - me)?;
        // Step 3: d = x_j ⊕ c for the chosen chunks, both ways at once.
        let mut ds = Zeroizing::new(Vec::with_capacity(len * chosen.len()));
        for (x, cs) in mine.iter().zip(prep.choices.chunks_exact(chosen.len())) {
            for (&j, &c) in chosen.iter().zip(cs) {
                ds.push(chunk(*x, j) as u8 ^ c);
            }
        }
        let theirs = exchange_sized(&mut peer.ch, &ds, len * offered.len())?;
        // The tables, and the shares, chunk by chunk.
        let mut shares = Zeroizing::new(vec![vec![0u64; words]; CHUNKS.len()]);
        let sizes: Vec<usize> = offered
            .iter()
            .map(|&j| (1usize << CHUNKS[j].1).div_ceil(8))
            .collect();
        let row: usize = sizes.iter().sum();
        let mut out = Zeroizing::new(Vec::with_capacity(len * row));
        for i in 0..len {
            for (s, &j) in offered.iter().enumerate() {
                let at = i * offered.len() + s;
                let width = CHUNKS[j].1;
                let d = u64::from(theirs[at]);
                if d >> width != 0 {
                    return Err(ArithError::Malformed {
                        peer: peer.ch.peer_name().to_owned(),
                        what: "equality test's chunk offset",
                    });
                }
                let bit = u64::from(r[at] & 1);
                let t = permute(prep.tables[at], d, width)
                    ^ (bit.wrapping_neg() & table_mask(width))
                    ^ (1u64 << chunk(mine[i], j));
                out.extend_from_slice(&t.to_le_bytes()[..sizes[s]]);
                shares[j][i / 64] |= bit << (i % 64);
            }
        }
        let got = exchange_sized(
            &mut peer.ch,
            &out,
            len * chosen
                .iter()
                .map(|&j| (1usize << CHUNKS[j].1).div_ceil(8))
                .sum::<usize>(),
        )?;
        drop((out, r));
        let mut at = 0;
        for (i, ks) in prep.keys.chunks_exact(chosen.len()).enumerate() {
            for (&j, &k) in chosen.iter().zip(ks) {
                let size = (1usize << CHUNKS[j].1).div_ceil(8);
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(&got[at..at + size]);
                at += size;
                let t = u64::from_le_bytes(b);
                let bit = (t >> chunk(mine[i], j) & 1) ^ u64::from(k & 1);
                shares[j][i / 64] |= bit << (i % 64);
            }
        }
        // Step 4: the AND tree, one level per round.
        let mut level = shares;
        while level.len() > 1 {
            let pairs = level.len() / 2;
            let carry = (level.len() % 2 == 1).then(|| level.pop()).flatten();
            let (mut x, mut y) = (
                Vec::with_capacity(pairs * words),
                Vec::with_capacity(pairs * words),
            );
            for k in 0..pairs {
                x.extend_from_slice(&level[2 * k]);
                y.extend_from_slice(&level[2 * k + 1]);
            }
            let z = self.and(&BitShares::new(x), &BitShares::new(y), &mut prep.triples)?;
            level = Zeroizing::new(z.expose().chunks(words).map(<[u64]>::to_vec).collect());
            level.truncate(pairs);
            level.extend(carry);
        }
        Ok(BitShares::new(level.pop().unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use super::*;
    use crate::prg::Prg;

    #[test]
    fn permute_moves_each_bit_by_the_offset() {
        for width in [4u32, 6] {
            let n = 1u64 << width;
            let mut prg = Prg::from_entropy().unwrap();
            let table = (prg.block().0 as u64) & table_mask(width);
            for d in 0..n {
                let t = permute(table, d, width);
                for v in 0..n {
                    assert_eq!(t >> v & 1, table >> (v ^ d) & 1, "w {width} d {d} v {v}");
                }
                assert_eq!(t & !table_mask(width), 0);
            }
        }
    }

    #[test]
    fn equality_matches_the_plaintext() {
        let mut prg = Prg::from_entropy().unwrap();
        // 25,000: the two sides' tables need different numbers of
        // exchange chunks (1,000,000 bytes against 1,050,000).
        for len in [0usize, 1, 63, 64, 65, 1000, 25_000, 40_000] {
            let x: Vec<u64> = (0..len).map(|_| prg.block().0 as u64).collect();
            // Equal at random positions, and equal but for one chunk or
            // one bit elsewhere.
            let y: Vec<u64> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| match i % 4 {
                    0 => v,
                    1 => v ^ 1 << (prg.block().0 % 64),
                    2 => v ^ (prg.block().0 as u64 | 1) << 60,
                    _ => prg.block().0 as u64,
                })
                .collect();
            let (xr, yr) = (&x, &y);
            let out = run(2, |mut p| {
                let prep = p.equality_prep(len)?;
                let mine = if p.id() == 0 { xr } else { yr };
                Ok(p.equality(prep, mine)?.expose().to_vec())
            });
            let out: Vec<Vec<u64>> = out.into_iter().map(Result::unwrap).collect();
            for i in 0..len {
                let e = (out[0][i / 64] ^ out[1][i / 64]) >> (i % 64) & 1;
                assert_eq!(e == 1, x[i] == y[i], "len {len} position {i}");
            }
        }
    }

    #[test]
    fn equality_refuses_three_parties_and_a_wrong_length() {
        let out = run(3, |mut p| p.equality_prep(4).map(|_| ()));
        assert!(out.into_iter().all(|r| r.is_err()));
        let out = run(2, |mut p| {
            let prep = p.equality_prep(4)?;
            p.equality(prep, &[1, 2, 3]).map(|_| ())
        });
        assert!(out.into_iter().all(|r| r.is_err()));
    }
}
