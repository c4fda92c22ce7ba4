//! KKRT16 batched OPRF (semi-honest), over a [`Channel`].
//!
//! Notation of the paper (figure 2), with code width `k = 512`:
//!
//! 1. Base OTs, roles reversed: the OPRF *sender* chooses `s ∈ {0,1}^k`
//!    and receives `k_i^{s_i}`; the OPRF *receiver* sends both seeds
//!    `(k_i^0, k_i^1)` of each of the `k` base OTs ([`crate::ot::base`]).
//! 2. The receiver, with inputs `r_1..r_m`, expands each seed into an
//!    `m`-bit column, `t_i = G(k_i^0)` and `t'_i = G(k_i^1)`, and sends
//!    `u_j = t_j ⊕ t'_j ⊕ C(r_j)` row by row (rows are the transposed
//!    columns), where `C` is a pseudorandom code of width `k`.
//! 3. The sender expands its seeds into `g_i = G(k_i^{s_i})` and computes
//!    `q_j = g_j ⊕ (u_j ∧ s) = t_j ⊕ (C(r_j) ∧ s)`.
//! 4. Outputs: the receiver's `F(j, r_j) = H(j, t_j)`; the sender's
//!    `F(j, x) = H(j, q_j ⊕ (C(x) ∧ s))` for any `x`.
//!
//! `C(x)` is AES-128 under a key derived from the session, applied to the
//! item block `x` xored with four constants (four 128-bit blocks of
//! code); `H` is SHA-256 of a tag, `j` and the 64 bytes, truncated to 128
//! bits (a random oracle, as the paper's proof uses). Items are 128-bit
//! blocks: hash longer keys to 128 bits first.

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::block::Block;
use crate::hash::Aes;
use crate::net::Channel;
use crate::net::handshake::SessionId;
use crate::ot::OtError;
use crate::ot::base;
use crate::prg::{Prg, Seed};
use crate::simd::transpose_128;

/// Code width in bits.
pub const K: usize = 512;
/// Code width in 128-bit blocks.
const KB: usize = K / 128;
/// The most OPRF instances in one batch (the receiver's matrix is
/// `m × 64` bytes).
pub const MAX_BATCH: usize = 1 << 26;

/// One OPRF output.
pub type Output = [u8; 16];

/// The pseudorandom code, keyed by the session.
struct Code(Aes);

impl Code {
    fn new(session: &SessionId) -> Self {
        let key = session.tag64("quorate/psi/kkrt code") as u128
            | (u128::from(session.tag64("quorate/psi/kkrt code 2")) << 64);
        Code(Aes::new(Block(key)))
    }

    /// `C(x)` for each item, 4 blocks each.
    fn encode(&self, items: &[Block]) -> Vec<[Block; KB]> {
        let mut blocks = vec![Block::ZERO; items.len() * KB];
        self.encode_into(items.iter().copied(), &mut blocks);
        blocks
            .chunks_exact(KB)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect()
    }

    /// `C(x)` for each item into `out`, 4 blocks each, one item after
    /// another (`out` is as long as that).
    fn encode_into(&self, items: impl Iterator<Item = Block>, out: &mut [Block]) {
        const C: [u128; KB] = [
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            0x1f2e_3d4c_5b6a_7988_9786_a5b4_c3d2_e1f0,
            0x2d3c_4b5a_6978_8796_a5b4_c3d2_e1f0_0f1e,
            0x3c4b_5a69_7887_96a5_b4c3_d2e1_f00f_1e2d,
        ];
        for (x, o) in items.zip(out.chunks_exact_mut(KB)) {
            for (o, c) in o.iter_mut().zip(C) {
                *o = x ^ Block(c);
            }
        }
        self.0.encrypt_many(out);
    }
}

fn h(j: u64, row: &[Block; KB]) -> Output {
    let mut hasher = Sha256::new();
    hasher.update(b"quorate/psi/kkrt H");
    hasher.update(j.to_le_bytes());
    for b in row {
        hasher.update(b.0.to_le_bytes());
    }
    let d = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// `m` rows of `K` bits from `K` seeds: column `i` is `G(seed_i)`.
fn rows_from_seeds(seeds: &[Seed], m: usize, nonce: u64) -> Vec<[Block; KB]> {
    if m == 0 {
        return Vec::new();
    }
    let mp = m.next_multiple_of(8);
    let bytes = mp / 8;
    let mut rows = vec![[Block::ZERO; KB]; mp];
    let mut cols = vec![0u8; 128 * bytes];
    let mut out = vec![Block::ZERO; mp];
    for g in 0..KB {
        for (i, col) in cols.chunks_exact_mut(bytes).enumerate() {
            Prg::new(&seeds[g * 128 + i], nonce).fill_bytes(col);
        }
        transpose_128(&cols, mp, &mut out);
        for (r, b) in rows.iter_mut().zip(&out) {
            r[g] = *b;
        }
    }
    cols.zeroize();
    rows.truncate(m);
    rows
}

fn check_batch(m: usize) -> Result<(), OtError> {
    if m > MAX_BATCH {
        return Err(OtError::BadLength {
            peer: "the peer".into(),
            what: "OPRF instances",
            expected: MAX_BATCH as u64,
            got: m as u64,
        });
    }
    Ok(())
}

/// The OPRF receiver: `F(j, inputs[j])` for each `j`.
pub fn receive(
    ch: &mut Channel,
    session: &SessionId,
    inputs: &[Block],
) -> Result<Vec<Output>, OtError> {
    let m = inputs.len();
    check_batch(m)?;
    ch.send(&(m as u64).to_le_bytes())?;
    let pairs = base::send(
        ch,
        &SessionId::derive("quorate/psi/kkrt base", &[&session.0]),
        K,
    )?;
    let s0: Vec<Seed> = pairs.iter().map(|p| p[0].clone()).collect();
    let s1: Vec<Seed> = pairs.iter().map(|p| p[1].clone()).collect();
    let t = rows_from_seeds(&s0, m, 0);
    let t1 = rows_from_seeds(&s1, m, 0);
    let code = Code::new(session).encode(inputs);
    let mut u: Vec<Block> = Vec::with_capacity(m * KB);
    for j in 0..m {
        for g in 0..KB {
            u.push(t[j][g] ^ t1[j][g] ^ code[j][g]);
        }
    }
    // In chunks, so the pipe's frames stay bounded.
    for chunk in u.chunks(1 << 16) {
        ch.send_blocks(chunk)?;
    }
    ch.flush()?;
    Ok(t.iter().enumerate().map(|(j, r)| h(j as u64, r)).collect())
}

/// The OPRF sender after a batch: evaluates `F(j, x)` for any `x`.
pub struct Sender {
    s: [Block; KB],
    q: Vec<[Block; KB]>,
    code: Code,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("batch", &self.q.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.s.zeroize();
        for r in &mut self.q {
            r.zeroize();
        }
    }
}

impl Sender {
    /// The batch size the receiver asked for.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// `F(j, x)` for each `(j, x)`; `j` must be below [`len`](Self::len).
    pub fn eval(&self, points: &[(usize, Block)]) -> Result<Vec<Output>, OtError> {
        // In spans, so the codewords stay in cache between the cipher
        // and the hash and no code table of the whole batch is built.
        const SPAN: usize = 1024;
        let mut out = Vec::with_capacity(points.len());
        let mut codes = vec![Block::ZERO; SPAN * KB];
        for span in points.chunks(SPAN) {
            let codes = &mut codes[..span.len() * KB];
            self.code.encode_into(span.iter().map(|(_, x)| *x), codes);
            for ((j, _), c) in span.iter().zip(codes.chunks_exact(KB)) {
                let q = self.q.get(*j).ok_or_else(|| {
                    OtError::Usage(format!("OPRF instance {j} of a batch of {}", self.q.len()))
                })?;
                let row = [0, 1, 2, 3].map(|g| q[g] ^ (c[g] & self.s[g]));
                out.push(h(*j as u64, &row));
            }
        }
        Ok(out)
    }
}

/// The OPRF sender: answers one batch of the receiver's size.
pub fn send(ch: &mut Channel, session: &SessionId) -> Result<Sender, OtError> {
    let mut len = [0u8; 8];
    ch.recv(&mut len)?;
    let m = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
    check_batch(m)?;
    let s_bits: Vec<bool> = {
        let mut b = [0u8; K / 8];
        getrandom::fill(&mut b).map_err(OtError::Entropy)?;
        (0..K).map(|i| b[i / 8] >> (i % 8) & 1 == 1).collect()
    };
    let seeds = base::receive(
        ch,
        &SessionId::derive("quorate/psi/kkrt base", &[&session.0]),
        &s_bits,
    )?;
    let g = rows_from_seeds(&seeds, m, 0);
    let mut s = [Block::ZERO; KB];
    for (i, &bit) in s_bits.iter().enumerate() {
        if bit {
            s[i / 128].0 |= 1u128 << (i % 128);
        }
    }
    let mut u = vec![Block::ZERO; m * KB];
    for chunk in u.chunks_mut(1 << 16) {
        ch.recv_blocks(chunk)?;
    }
    let q = g
        .iter()
        .zip(u.chunks_exact(KB))
        .map(|(gj, uj)| [0, 1, 2, 3].map(|k| gj[k] ^ (uj[k] & s[k])))
        .collect();
    Ok(Sender {
        s,
        q,
        code: Code::new(session),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory::pair;
    use quorate_circuits::PartyId;

    fn run(inputs: Vec<Block>) -> (Vec<Output>, Sender) {
        let (mut a, mut b) = pair((PartyId(0), "r"), (PartyId(1), "s"));
        let session = SessionId::random().unwrap();
        let s2 = session;
        std::thread::scope(|sc| {
            let h = sc.spawn(move || send(&mut b, &s2).unwrap());
            let out = receive(&mut a, &session, &inputs).unwrap();
            (out, h.join().unwrap())
        })
    }

    #[test]
    fn outputs_match_on_inputs_and_differ_elsewhere() {
        for m in [0usize, 1, 7, 8, 127, 128, 129, 1000] {
            let inputs: Vec<Block> = (0..m).map(|_| Block::random().unwrap()).collect();
            let (out, sender) = run(inputs.clone());
            assert_eq!(out.len(), m);
            assert_eq!(sender.len(), m);
            let pts: Vec<(usize, Block)> = inputs.iter().copied().enumerate().collect();
            assert_eq!(sender.eval(&pts).unwrap(), out, "m = {m}");
            // Another point, or the same point in another instance, gives
            // an unrelated value.
            let other: Vec<(usize, Block)> =
                (0..m).map(|j| (j, Block::random().unwrap())).collect();
            let e = sender.eval(&other).unwrap();
            assert!(e.iter().zip(&out).all(|(a, b)| a != b));
            if m > 1 {
                let shifted: Vec<(usize, Block)> =
                    (0..m).map(|j| ((j + 1) % m, inputs[j])).collect();
                let e = sender.eval(&shifted).unwrap();
                assert!(e.iter().zip(&out).all(|(a, b)| a != b));
            }
            assert!(sender.eval(&[(m, Block::ZERO)]).is_err());
        }
    }
}
