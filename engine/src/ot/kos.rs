//! OT extension: IKNP (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003) with the
//! consistency check of Keller, Orsini and Scholl, "Actively Secure OT
//! Extension with Optimal Overhead" (CRYPTO 2015, eprint 2015/546), in the
//! form its revised version and Roy's SoftSpokenOT analysis (CRYPTO 2022,
//! eprint 2022/192, section 5) prove secure: the check is a random linear
//! combination over GF(2^128) of *all* extended rows, with a fresh challenge
//! the receiver learns only after its whole extension message is fixed, and
//! `κ + s = 256` extra OTs (κ = 128, statistical s = 128) whose random
//! choice bits mask the combined choice bits and are then thrown away.
//!
//! Roles. The extension *sender* holds `Δ` (lsb 1) and plays base-OT
//! *receiver* with choice bits `Δ_i`, learning one seed `k_i^{Δ_i}` per
//! column; the extension *receiver* plays base-OT sender with seed pairs
//! `(k_i^0, k_i^1)` ([`super::base`]).
//!
//! One batch of `n` OTs (KOS figure 7, steps named as there):
//! 1. *Extend.* `L = ⌈n/128⌉·128 + 256` rows; the receiver picks choice
//!    bits `r` (the caller's, then random for the extra rows). For each
//!    column `i`: `t_i = G(k_i^0)`, `u_i = t_i ⊕ G(k_i^1) ⊕ r`; it sends `u`.
//!    The sender computes `q_i = G(k_i^{Δ_i}) ⊕ Δ_i·u_i`. Transposed, row
//!    `j` gives `q_j = t_j ⊕ r_j·Δ`. Done in chunks so matrices stay in cache.
//! 2. *Check.* The sender picks a challenge seed before the batch and
//!    reveals it after the last chunk; `χ_j` are its PRG blocks. The
//!    receiver sends `x = Σ r_j·χ_j` and `t = Σ t_j·χ_j`; the sender accepts
//!    iff `Σ q_j·χ_j = t ⊕ x·Δ`. A failure aborts, names the receiver, and
//!    taints this sender: its base-OT seeds are never used again.
//! 3. *Output.* The first `n` rows: correlated OT `(q_j, q_j ⊕ Δ)` to the
//!    sender and `(r_j, t_j)` to the receiver. Random and chosen-message OT
//!    hash them with the TCCR hash under a tweak unique to the session,
//!    batch and row.
//!
//! Column PRGs are stateful streams, so every batch uses fresh
//! pseudorandomness; the check PRG is seeded afresh per batch.

use sha2::{Digest, Sha256};

use super::{Delta, OtError, SecretBlocks, base, pack_bits};
use crate::block::Block;
use crate::hash::FixedKeyAes;
use crate::net::Channel;
use crate::net::handshake::SessionId;
use crate::prg::{Prg, Seed};
use crate::simd::{Gf128Acc, gf128_mul, transpose_128};

/// Columns of the extension matrix: the computational security parameter.
pub const KAPPA: usize = 128;
/// Extra rows per batch for the consistency check (κ + s, s = 128).
pub const CHECK_ROWS: usize = 256;
/// Rows per chunk: the matrices of one chunk (128 × CHUNK bits each) stay
/// in the L2 cache.
pub const CHUNK: usize = 8192;

fn tweak_salt(session: &SessionId) -> u64 {
    let d = Sha256::new()
        .chain_update(b"quorate/ot/kos/tweak/v1")
        .chain_update(session.0)
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

fn base_session(session: &SessionId) -> SessionId {
    SessionId::derive("quorate/ot/kos/base", &[&session.0])
}

/// Rows of a batch of `n` OTs, check rows included.
fn batch_rows(n: usize) -> usize {
    n.div_ceil(128) * 128 + CHECK_ROWS
}

/// The receiver's answer to the challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckMsg {
    /// `Σ r_j·χ_j`.
    pub x: Block,
    /// `Σ t_j·χ_j`.
    pub t: Block,
}

/// The extension sender: holds `Δ` and one seed per column.
pub struct KosSender {
    delta: Delta,
    columns: Vec<Prg>,
    salt: u64,
    batch: u64,
    next_index: u64,
    tainted: bool,
    peer: String,
}

impl std::fmt::Debug for KosSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KosSender")
            .field("batch", &self.batch)
            .field("tainted", &self.tainted)
            .finish_non_exhaustive()
    }
}

impl KosSender {
    /// A sender from its `Δ` and the base-OT seeds `k_i^{Δ_i}`.
    ///
    /// # Panics
    /// If there are not [`KAPPA`] seeds.
    pub fn new(delta: Delta, seeds: &[Seed], session: &SessionId, peer: &str) -> Self {
        assert_eq!(seeds.len(), KAPPA, "one base-OT seed per column");
        KosSender {
            delta,
            columns: seeds.iter().map(|s| Prg::new(s, 0)).collect(),
            salt: tweak_salt(session),
            batch: 0,
            next_index: 0,
            tainted: false,
            peer: peer.to_owned(),
        }
    }

    /// Runs the base OTs over `ch` (as their receiver, with a fresh random
    /// `Δ` as choice bits) and returns a ready sender.
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, OtError> {
        let delta = Delta::random()?;
        let bits: Vec<bool> = (0..KAPPA).map(|i| delta.expose().bit(i)).collect();
        let seeds = base::receive(ch, &base_session(session), &bits)?;
        Ok(KosSender::new(delta, &seeds, session, ch.peer_name()))
    }

    /// The global correlation.
    pub fn delta(&self) -> &Delta {
        &self.delta
    }

    /// Whether a failed check has discarded this sender.
    pub fn is_tainted(&self) -> bool {
        self.tainted
    }

    /// Starts a batch of `n` OTs. The returned state absorbs the receiver's
    /// extension message chunk by chunk and yields outputs only through
    /// [`SenderBatch::verify`].
    pub fn start(&mut self, n: usize) -> Result<SenderBatch<'_>, OtError> {
        if self.tainted {
            return Err(OtError::Tainted {
                peer: self.peer.clone(),
            });
        }
        let rows = batch_rows(n);
        let chi_seed = Seed::from_entropy().map_err(OtError::Entropy)?;
        let chi = Prg::new(&chi_seed, self.batch);
        Ok(SenderBatch {
            n,
            rows,
            done: 0,
            q: SecretBlocks::new(Vec::with_capacity(rows)),
            chi,
            chi_seed,
            acc: Gf128Acc::default(),
            matrix: vec![Block::ZERO; KAPPA * CHUNK / 128],
            chi_buf: vec![Block::ZERO; CHUNK],
            sender: self,
        })
    }

    /// Correlated OT: `n` blocks `q_j`; the pairs are `(q_j, q_j ⊕ Δ)`.
    pub fn cot(&mut self, ch: &mut Channel, n: usize) -> Result<SecretBlocks, OtError> {
        let mut batch = self.start(n)?;
        let mut buf = vec![0u8; 16 * CHUNK];
        while let Some(len) = batch.next_chunk_len() {
            let part = &mut buf[..len];
            ch.recv(part)?;
            batch.absorb(part)?;
        }
        ch.send_blocks(&[batch.challenge()])?;
        ch.flush()?;
        let mut check = [Block::ZERO; 2];
        ch.recv_blocks(&mut check)?;
        batch.verify(CheckMsg {
            x: check[0],
            t: check[1],
        })
    }

    /// Random OT: `n` pairs of independent random blocks.
    pub fn rot(&mut self, ch: &mut Channel, n: usize) -> Result<Vec<[Block; 2]>, OtError> {
        let first = self.next_index;
        let q = self.cot(ch, n)?;
        Ok(self.hash_pairs(first, q.expose()))
    }

    /// Chosen-message OT: the receiver learns `messages[j][r_j]` only.
    pub fn send_chosen(
        &mut self,
        ch: &mut Channel,
        messages: &[[Block; 2]],
    ) -> Result<(), OtError> {
        let keys = self.rot(ch, messages.len())?;
        let mut out = Vec::with_capacity(2 * messages.len());
        for (k, m) in keys.iter().zip(messages) {
            out.push(k[0] ^ m[0]);
            out.push(k[1] ^ m[1]);
        }
        ch.send_blocks(&out)?;
        ch.flush()?;
        Ok(())
    }

    fn hash_pairs(&self, first: u64, q: &[Block]) -> Vec<[Block; 2]> {
        let h = FixedKeyAes::get();
        let d = self.delta.expose();
        let base = (u128::from(self.salt) << 64) | u128::from(first);
        let mut k0 = q.to_vec();
        let mut k1: Vec<Block> = q.iter().map(|&x| x ^ d).collect();
        h.tccr_many_seq(base, &mut k0);
        h.tccr_many_seq(base, &mut k1);
        let pairs = k0.iter().zip(&k1).map(|(&a, &b)| [a, b]).collect();
        zeroize::Zeroize::zeroize(&mut k0);
        zeroize::Zeroize::zeroize(&mut k1);
        pairs
    }
}

/// A batch in progress on the sender's side.
pub struct SenderBatch<'a> {
    sender: &'a mut KosSender,
    n: usize,
    rows: usize,
    done: usize,
    q: SecretBlocks,
    chi: Prg,
    chi_seed: Seed,
    acc: Gf128Acc,
    matrix: Vec<Block>,
    chi_buf: Vec<Block>,
}

impl SenderBatch<'_> {
    /// Bytes of the next chunk of the receiver's message, or `None` when
    /// every chunk has been absorbed.
    pub fn next_chunk_len(&self) -> Option<usize> {
        (self.done < self.rows).then(|| 16 * (self.rows - self.done).min(CHUNK))
    }

    /// Absorbs the next chunk of the receiver's message `u` (128 columns of
    /// `m` bits, column after column).
    pub fn absorb(&mut self, u: &[u8]) -> Result<(), OtError> {
        let m = (self.rows - self.done).min(CHUNK);
        if u.len() != 16 * m || m == 0 {
            return Err(OtError::BadLength {
                peer: self.sender.peer.clone(),
                what: "extension bytes",
                expected: 16 * m as u64,
                got: u.len() as u64,
            });
        }
        let words = m / 128;
        let delta = self.sender.delta.expose();
        let matrix = &mut self.matrix[..KAPPA * words];
        for (i, (row, prg)) in matrix
            .chunks_mut(words)
            .zip(self.sender.columns.iter_mut())
            .enumerate()
        {
            prg.fill_blocks(row);
            if delta.bit(i) {
                let ui = &u[16 * words * i..16 * words * (i + 1)];
                for (r, c) in row.iter_mut().zip(ui.chunks_exact(16)) {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(c);
                    *r ^= Block::from_bytes(b);
                }
            }
        }
        let start = self.q.len();
        let out = self.q.expose_mut();
        out.resize(start + m, Block::ZERO);
        transpose_128(Block::slice_as_bytes(matrix), m, &mut out[start..]);
        let chi = &mut self.chi_buf[..m];
        self.chi.fill_blocks(chi);
        self.acc.add_inner(chi, &out[start..]);
        zeroize::Zeroize::zeroize(matrix);
        self.done += m;
        Ok(())
    }

    /// The challenge seed, revealed once the whole message is absorbed.
    ///
    /// # Panics
    /// If chunks are still missing.
    pub fn challenge(&self) -> Block {
        assert_eq!(
            self.done, self.rows,
            "the challenge is revealed only after the whole extension message"
        );
        self.chi_seed.expose()
    }

    /// Checks the receiver's answer; on success, the correlated-OT outputs
    /// `q_j` of this batch. On failure the sender is tainted for good.
    pub fn verify(mut self, msg: CheckMsg) -> Result<SecretBlocks, OtError> {
        let batch = self.sender.batch;
        self.sender.batch += 1;
        let expected = msg.t ^ gf128_mul(msg.x, self.sender.delta.expose());
        let ok = self.done == self.rows && self.acc.value() == expected;
        if !ok {
            self.sender.tainted = true;
            self.sender.columns.clear();
            return Err(OtError::ConsistencyCheck {
                peer: self.sender.peer.clone(),
                batch,
            });
        }
        self.sender.next_index += self.n as u64;
        self.q.expose_mut().truncate(self.n);
        Ok(std::mem::take(&mut self.q))
    }
}

/// The extension receiver: holds two seeds per column.
pub struct KosReceiver {
    columns: Vec<[Prg; 2]>,
    salt: u64,
    batch: u64,
    next_index: u64,
    peer: String,
}

impl std::fmt::Debug for KosReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KosReceiver")
            .field("peer", &self.peer)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl KosReceiver {
    /// A receiver from the base-OT seed pairs.
    ///
    /// # Panics
    /// If there are not [`KAPPA`] pairs.
    pub fn new(seeds: &[[Seed; 2]], session: &SessionId, peer: &str) -> Self {
        assert_eq!(seeds.len(), KAPPA, "one base-OT seed pair per column");
        KosReceiver {
            columns: seeds
                .iter()
                .map(|[a, b]| [Prg::new(a, 0), Prg::new(b, 0)])
                .collect(),
            salt: tweak_salt(session),
            batch: 0,
            next_index: 0,
            peer: peer.to_owned(),
        }
    }

    /// Runs the base OTs over `ch` (as their sender) and returns a ready
    /// receiver.
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, OtError> {
        let seeds = base::send(ch, &base_session(session), KAPPA)?;
        Ok(KosReceiver::new(&seeds, session, ch.peer_name()))
    }

    /// Starts a batch with these choice bits.
    pub fn start(&mut self, choices: &[bool]) -> Result<ReceiverBatch<'_>, OtError> {
        let n = choices.len();
        let rows = batch_rows(n);
        let mut all = choices.to_vec();
        let mut extra = Prg::from_entropy().map_err(OtError::Entropy)?;
        all.extend(extra.bits(rows - n));
        let mut packed = vec![0u8; rows / 8];
        pack_bits(&all, &mut packed);
        zeroize::Zeroize::zeroize(&mut all);
        Ok(ReceiverBatch {
            n,
            rows,
            done: 0,
            choices: packed,
            t: SecretBlocks::new(Vec::with_capacity(rows)),
            matrix: vec![Block::ZERO; KAPPA * CHUNK / 128],
            receiver: self,
        })
    }

    /// Correlated OT with these choice bits: the blocks `t_j = q_j ⊕ r_j·Δ`.
    pub fn cot(&mut self, ch: &mut Channel, choices: &[bool]) -> Result<SecretBlocks, OtError> {
        let mut batch = self.start(choices)?;
        let mut u = vec![0u8; 16 * CHUNK];
        while let Some(len) = batch.next_chunk(&mut u) {
            ch.send(&u[..len])?;
        }
        ch.flush()?;
        let mut seed = [Block::ZERO];
        ch.recv_blocks(&mut seed)?;
        let (check, t) = batch.respond(seed[0]);
        ch.send_blocks(&[check.x, check.t])?;
        ch.flush()?;
        Ok(t)
    }

    /// Random OT: random choice bits and the chosen random block of each pair.
    pub fn rot(
        &mut self,
        ch: &mut Channel,
        n: usize,
    ) -> Result<(Vec<bool>, SecretBlocks), OtError> {
        let mut prg = Prg::from_entropy().map_err(OtError::Entropy)?;
        let choices = prg.bits(n);
        let first = self.next_index;
        let t = self.cot(ch, &choices)?;
        let mut keys = t.expose().to_vec();
        let base = (u128::from(self.salt) << 64) | u128::from(first);
        FixedKeyAes::get().tccr_many_seq(base, &mut keys);
        Ok((choices, SecretBlocks::new(keys)))
    }

    /// Chosen-message OT: `messages[j][choices[j]]` for each `j`.
    pub fn receive_chosen(
        &mut self,
        ch: &mut Channel,
        choices: &[bool],
    ) -> Result<SecretBlocks, OtError> {
        let first = self.next_index;
        let t = self.cot(ch, choices)?;
        let mut keys = t.expose().to_vec();
        let base = (u128::from(self.salt) << 64) | u128::from(first);
        FixedKeyAes::get().tccr_many_seq(base, &mut keys);
        let mut cts = vec![Block::ZERO; 2 * choices.len()];
        ch.recv_blocks(&mut cts)?;
        for (j, k) in keys.iter_mut().enumerate() {
            *k ^= cts[2 * j + usize::from(choices[j])];
        }
        Ok(SecretBlocks::new(keys))
    }
}

/// A batch in progress on the receiver's side.
pub struct ReceiverBatch<'a> {
    receiver: &'a mut KosReceiver,
    n: usize,
    rows: usize,
    done: usize,
    choices: Vec<u8>,
    t: SecretBlocks,
    matrix: Vec<Block>,
}

impl ReceiverBatch<'_> {
    /// Writes the next chunk of the extension message `u` into `out` and
    /// returns its length, or `None` when the message is complete.
    ///
    /// # Panics
    /// If `out` is shorter than `16 * CHUNK` bytes.
    pub fn next_chunk(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.done == self.rows {
            return None;
        }
        let m = (self.rows - self.done).min(CHUNK);
        let words = m / 128;
        let r = &self.choices[self.done / 8..(self.done + m) / 8];
        let matrix = &mut self.matrix[..KAPPA * words];
        let mut g1 = vec![Block::ZERO; words];
        for (i, (row, [p0, p1])) in matrix
            .chunks_mut(words)
            .zip(self.receiver.columns.iter_mut())
            .enumerate()
        {
            p0.fill_blocks(row);
            p1.fill_blocks(&mut g1);
            let ui = &mut out[16 * words * i..16 * words * (i + 1)];
            for (k, (t, g)) in row.iter().zip(&g1).enumerate() {
                let mut rb = [0u8; 16];
                rb.copy_from_slice(&r[16 * k..16 * k + 16]);
                let u = *t ^ *g ^ Block::from_bytes(rb);
                ui[16 * k..16 * k + 16].copy_from_slice(&u.to_bytes());
            }
        }
        let start = self.t.len();
        let t = self.t.expose_mut();
        t.resize(start + m, Block::ZERO);
        transpose_128(Block::slice_as_bytes(matrix), m, &mut t[start..]);
        zeroize::Zeroize::zeroize(matrix);
        zeroize::Zeroize::zeroize(&mut g1);
        self.done += m;
        Some(16 * m)
    }

    /// Answers the challenge; returns the answer and this batch's outputs
    /// `t_j`.
    ///
    /// # Panics
    /// If the extension message is not complete.
    pub fn respond(mut self, chi_seed: Block) -> (CheckMsg, SecretBlocks) {
        assert_eq!(
            self.done, self.rows,
            "respond after the whole extension message"
        );
        let mut chi = Prg::new(&Seed::new(chi_seed), self.receiver.batch);
        let mut acc = Gf128Acc::default();
        let mut x = Block::ZERO;
        let mut buf = vec![Block::ZERO; CHUNK];
        let t = self.t.expose();
        for (start, part) in (0..self.rows).step_by(CHUNK).zip(t.chunks(CHUNK)) {
            let c = &mut buf[..part.len()];
            chi.fill_blocks(c);
            acc.add_inner(c, part);
            for (k, &cj) in c.iter().enumerate() {
                let j = start + k;
                x ^= cj.and_bit(self.choices[j / 8] >> (j % 8) & 1 == 1);
            }
        }
        self.receiver.batch += 1;
        self.receiver.next_index += self.n as u64;
        zeroize::Zeroize::zeroize(&mut self.choices);
        self.t.expose_mut().truncate(self.n);
        (CheckMsg { x, t: acc.value() }, std::mem::take(&mut self.t))
    }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::PartyId;

    use super::*;
    use crate::net::memory::pair;

    fn seeds() -> (Delta, Vec<Seed>, Vec<[Seed; 2]>) {
        let delta = Delta::random().unwrap();
        let mut pairs = Vec::new();
        let mut chosen = Vec::new();
        for i in 0..KAPPA {
            let pair = [Seed::from_entropy().unwrap(), Seed::from_entropy().unwrap()];
            chosen.push(pair[usize::from(delta.expose().bit(i))].clone());
            pairs.push(pair);
        }
        (delta, chosen, pairs)
    }

    /// Runs one batch in memory without a channel, optionally tampering
    /// with one byte of the first chunk.
    fn run(
        n: usize,
        tamper: Option<usize>,
    ) -> (
        Delta,
        Vec<bool>,
        Result<SecretBlocks, OtError>,
        SecretBlocks,
    ) {
        let session = SessionId::random().unwrap();
        let (delta, chosen, pairs) = seeds();
        let mut s = KosSender::new(delta.clone(), &chosen, &session, "receiver");
        let mut r = KosReceiver::new(&pairs, &session, "sender");
        let choices = Prg::from_entropy().unwrap().bits(n);
        let mut rb = r.start(&choices).unwrap();
        let mut sb = s.start(n).unwrap();
        let mut u = vec![0u8; 16 * CHUNK];
        let mut first = true;
        while let Some(len) = rb.next_chunk(&mut u) {
            if let (Some(at), true) = (tamper, first) {
                u[at] ^= 1;
            }
            first = false;
            sb.absorb(&u[..len]).unwrap();
        }
        let (check, t) = rb.respond(sb.challenge());
        let q = sb.verify(check);
        (delta, choices, q, t)
    }

    #[test]
    fn correlated_outputs_for_many_sizes() {
        for n in [0usize, 1, 127, 128, 129, 1000, 8191, 8192, 8193, 20_000] {
            let (delta, choices, q, t) = run(n, None);
            let q = q.unwrap();
            assert_eq!((q.len(), t.len()), (n, n));
            for (j, &c) in choices.iter().enumerate() {
                let want = q.expose()[j] ^ delta.expose().and_bit(c);
                assert_eq!(t.expose()[j], want, "n = {n}, OT {j}");
            }
        }
    }

    #[test]
    fn a_tampered_extension_message_fails_the_check() {
        // Byte 0 is in column 0, whose Δ bit (the lsb) is always 1.
        let (_, _, q, _) = run(1000, Some(0));
        assert!(
            matches!(q, Err(OtError::ConsistencyCheck { ref peer, batch: 0 }) if peer == "receiver")
        );
    }

    #[test]
    fn a_failed_check_taints_the_sender() {
        let session = SessionId::random().unwrap();
        let (delta, chosen, pairs) = seeds();
        let mut s = KosSender::new(delta, &chosen, &session, "receiver");
        let mut r = KosReceiver::new(&pairs, &session, "sender");
        let mut rb = r.start(&[true; 300]).unwrap();
        let mut sb = s.start(300).unwrap();
        let mut u = vec![0u8; 16 * CHUNK];
        while let Some(len) = rb.next_chunk(&mut u) {
            sb.absorb(&u[..len]).unwrap();
        }
        let (mut check, _) = rb.respond(sb.challenge());
        check.x ^= Block(1);
        assert!(sb.verify(check).is_err());
        assert!(s.is_tainted());
        assert!(matches!(s.start(10), Err(OtError::Tainted { .. })));
    }

    #[test]
    fn rot_chosen_and_cot_over_a_channel() {
        let session = SessionId::random().unwrap();
        let (mut a, mut b) = pair((PartyId(0), "s"), (PartyId(1), "r"));
        let msgs: Vec<[Block; 2]> = (0..777u128)
            .map(|i| [Block(i), Block(i << 64 | 5)])
            .collect();
        let m2 = msgs.clone();
        let t = std::thread::spawn(move || {
            let mut r = KosReceiver::setup(&mut b, &session).unwrap();
            let (rc, rk) = r.rot(&mut b, 1000).unwrap();
            let choices: Vec<bool> = (0..777).map(|i| i % 3 == 1).collect();
            let got = r.receive_chosen(&mut b, &choices).unwrap();
            for (j, g) in got.expose().iter().enumerate() {
                assert_eq!(*g, m2[j][usize::from(choices[j])]);
            }
            let cc = vec![true; 300];
            let ct = r.cot(&mut b, &cc).unwrap();
            (rc, rk, ct)
        });
        let mut s = KosSender::setup(&mut a, &session).unwrap();
        let keys = s.rot(&mut a, 1000).unwrap();
        s.send_chosen(&mut a, &msgs).unwrap();
        let q = s.cot(&mut a, 300).unwrap();
        let (rc, rk, ct) = t.join().unwrap();
        for j in 0..1000 {
            assert_eq!(rk.expose()[j], keys[j][usize::from(rc[j])]);
            assert_ne!(rk.expose()[j], keys[j][usize::from(!rc[j])]);
        }
        for j in 0..300 {
            assert_eq!(ct.expose()[j], q.expose()[j] ^ s.delta().expose());
        }
    }
}
