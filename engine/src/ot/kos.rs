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
//!    reveals it after the last chunk; the `χ_j` derive from it (see
//!    `Challenge` for the polynomial form and its bound). The
//!    receiver sends `x = Σ r_j·χ_j` and `t = Σ t_j·χ_j`; the sender accepts
//!    iff `Σ q_j·χ_j = t ⊕ x·Δ`. A failure aborts, names the receiver, and
//!    taints this sender: its base-OT seeds are never used again.
//! 3. *Output.* The first `n` rows: correlated OT `(q_j, q_j ⊕ Δ)` to the
//!    sender and `(r_j, t_j)` to the receiver. Random and chosen-message OT
//!    hash them with the one-call TCCR hash of Guo, Katz, Wang, Weng and Yu
//!    ([`FixedKeyAes::tmmo`]) under a tweak unique to the session, batch and
//!    row.
//!
//! Column PRGs are stateful streams, so every batch uses fresh
//! pseudorandomness; the check PRG is seeded afresh per batch.
//!
//! *One-message form* ([`KosReceiver::rot_one_message`],
//! [`KosSender::rot_one_message`]): for protocols whose round structure
//! leaves no room for the challenge to travel back (DKLs23's two-round
//! multiplication), the challenge seed is the hash of the salt, the batch
//! index and the whole extension message (Fiat-Shamir, as SoftSpokenOT
//! section 5 allows with a random oracle), and the receiver sends its
//! answer with the message. A receiver that searches for a favourable
//! challenge needs about `2^115` hash evaluations per success (the bound
//! above), so the check stays sound.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{Delta, OtError, SecretBlocks, base, pack_bits};
use crate::block::Block;
use crate::hash::FixedKeyAes;
use crate::net::Channel;
use crate::net::handshake::SessionId;
use crate::prg::{Prg, Seed};
use crate::simd::{Gf128Acc, gf128_mul, masked_xor, transpose_128};

/// Columns of the extension matrix: the computational security parameter.
pub const KAPPA: usize = 128;
/// Extra rows per batch for the consistency check (κ + s, s = 128).
pub const CHECK_ROWS: usize = 256;
/// Rows per chunk: the matrices of one chunk (128 × CHUNK bits each) stay
/// in the L2 cache.
pub const CHUNK: usize = 8192;

fn tweak_salt(session: &SessionId) -> u64 {
    session.tag64("quorate/ot/kos/tweak/v1")
}

/// The tweak of OT number `first` of a session (the next ones follow).
fn tweak_base(salt: u64, first: u64) -> u128 {
    (u128::from(salt) << 64) | u128::from(first)
}

/// The challenge seed of a one-message batch: a hash of the salt, the
/// batch index and the whole extension message.
fn one_message_seed(salt: u64, batch: u64, u: &[u8]) -> Seed {
    let d = SessionId::derive(
        "quorate/ot/kos/one-message-challenge/v1",
        &[&salt.to_le_bytes(), &batch.to_le_bytes(), u],
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.0[..16]);
    Seed::new(Block::from_bytes(b))
}

fn base_session(session: &SessionId) -> SessionId {
    SessionId::derive("quorate/ot/kos/base", &[&session.0])
}

/// Rows of a batch of `n` OTs, check rows included.
fn batch_rows(n: usize) -> usize {
    n.div_ceil(128) * 128 + CHECK_ROWS
}

/// The check's challenges `χ_j = α^(j mod B) · β^⌊j/B⌋` (B = [`CHUNK`]) for
/// uniform `α, β` drawn from the challenge seed: a polynomial universal hash
/// of the rows. For any fixed nonzero error in the receiver's rows, the
/// combined error vanishes with probability at most `(B + L/B) / 2^128`
/// over `α, β` (Schwartz-Zippel), against `2^-128` for independent
/// challenges; in exchange no block cipher call per row is needed, only a
/// carry-less product with a table of powers of `α`.
struct Challenge {
    powers: Vec<Block>,
    beta: Block,
    beta_k: Block,
}

impl Challenge {
    fn new(seed: &Seed, batch: u64, rows: usize) -> Self {
        let mut prg = Prg::new(seed, batch);
        let mut draw = || loop {
            let b = prg.block();
            if b != Block::ZERO {
                break b;
            }
        };
        let (alpha, beta) = (draw(), draw());
        let len = rows.min(CHUNK);
        let mut powers = Vec::with_capacity(len);
        let mut p = Block(1);
        for _ in 0..len {
            powers.push(p);
            p = gf128_mul(p, alpha);
        }
        Challenge {
            powers,
            beta,
            beta_k: Block(1),
        }
    }

    /// `Σ_i χ_{kB+i} · rows[i]` for the next chunk `k`, and, if given,
    /// `Σ_{i: bit i set} χ_{kB+i}`; then moves to chunk `k + 1`.
    fn fold(&mut self, rows: &[Block], bits: Option<&[u8]>) -> (Block, Block) {
        let mut acc = Gf128Acc::default();
        acc.add_inner(&self.powers[..rows.len()], rows);
        let x = bits.map_or(Block::ZERO, |bits| {
            masked_xor(&self.powers[..rows.len()], bits)
        });
        let out = (
            gf128_mul(acc.value(), self.beta_k),
            gf128_mul(x, self.beta_k),
        );
        self.beta_k = gf128_mul(self.beta_k, self.beta);
        out
    }
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
    /// A batch is started and not finished: if it is dropped, the columns
    /// have moved on without the receiver's.
    in_batch: bool,
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
            in_batch: false,
            peer: peer.to_owned(),
        }
    }

    /// Runs the base OTs over `ch` (as their receiver, with a fresh random
    /// `Δ` as choice bits) and returns a ready sender.
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, OtError> {
        let delta = Delta::random()?;
        let mut bits: Vec<bool> = (0..KAPPA).map(|i| delta.expose().bit(i)).collect();
        let seeds = base::receive(ch, &base_session(session), &bits);
        bits.zeroize();
        Ok(KosSender::new(delta, &seeds?, session, ch.peer_name()))
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
        self.start_into(n, SecretBlocks::default())
    }

    /// [`start`](Self::start), reusing `out`'s memory for the outputs.
    pub fn start_into(&mut self, n: usize, out: SecretBlocks) -> Result<SenderBatch<'_>, OtError> {
        let chi_seed = Seed::from_entropy().map_err(OtError::Entropy)?;
        self.start_with(n, out, chi_seed)
    }

    fn start_with(
        &mut self,
        n: usize,
        mut out: SecretBlocks,
        chi_seed: Seed,
    ) -> Result<SenderBatch<'_>, OtError> {
        if self.tainted {
            return Err(OtError::Tainted {
                peer: self.peer.clone(),
            });
        }
        if self.in_batch {
            return Err(OtError::Abandoned {
                peer: self.peer.clone(),
            });
        }
        let rows = batch_rows(n);
        let chi = Challenge::new(&chi_seed, self.batch, rows);
        out.resize_for_overwrite(rows);
        self.in_batch = true;
        Ok(SenderBatch {
            n,
            rows,
            done: 0,
            q: out,
            chi,
            chi_seed,
            acc: Block::ZERO,
            matrix: vec![Block::ZERO; KAPPA * rows.min(CHUNK) / 128],
            sender: self,
        })
    }

    /// Correlated OT: `n` blocks `q_j`; the pairs are `(q_j, q_j ⊕ Δ)`.
    pub fn cot(&mut self, ch: &mut Channel, n: usize) -> Result<SecretBlocks, OtError> {
        let mut out = SecretBlocks::default();
        self.cot_into(ch, n, &mut out)?;
        Ok(out)
    }

    /// [`cot`](Self::cot) into `out`, reusing its memory.
    pub fn cot_into(
        &mut self,
        ch: &mut Channel,
        n: usize,
        out: &mut SecretBlocks,
    ) -> Result<(), OtError> {
        let mut batch = self.start_into(n, std::mem::take(out))?;
        let mut buf = vec![0u8; 16 * batch.rows.min(CHUNK)];
        while let Some(len) = batch.next_chunk_len() {
            let part = &mut buf[..len];
            ch.recv(part)?;
            batch.absorb(part)?;
        }
        ch.send_blocks(&[batch.challenge()])?;
        ch.flush()?;
        let mut check = [Block::ZERO; 2];
        ch.recv_blocks(&mut check)?;
        *out = batch.verify(CheckMsg {
            x: check[0],
            t: check[1],
        })?;
        Ok(())
    }

    /// Random OT: `n` pairs of independent random blocks.
    pub fn rot(&mut self, ch: &mut Channel, n: usize) -> Result<Vec<[Block; 2]>, OtError> {
        let first = self.next_index;
        let mut q = self.cot(ch, n)?;
        Ok(self.hash_pairs(first, q.expose_mut()))
    }

    /// Chosen-message OT: the receiver learns `messages[j][r_j]` only.
    pub fn send_chosen(
        &mut self,
        ch: &mut Channel,
        messages: &[[Block; 2]],
    ) -> Result<(), OtError> {
        let mut keys = self.rot(ch, messages.len())?;
        let mut out = Vec::with_capacity(2 * messages.len());
        for (k, m) in keys.iter().zip(messages) {
            out.push(k[0] ^ m[0]);
            out.push(k[1] ^ m[1]);
        }
        keys.zeroize();
        ch.send_blocks(&out)?;
        ch.flush()?;
        Ok(())
    }

    /// Random OT from one message of the receiver
    /// ([`KosReceiver::rot_one_message`]): checks it against the challenge
    /// its own hash gives and returns `n` pairs of random keys. A failed
    /// check taints this sender, as in the interactive form.
    pub fn rot_one_message(&mut self, n: usize, msg: &[u8]) -> Result<Vec<[Block; 2]>, OtError> {
        let rows = batch_rows(n);
        if msg.len() != 16 * rows + 32 {
            return Err(OtError::BadLength {
                peer: self.peer.clone(),
                what: "one-message extension bytes",
                expected: 16 * rows as u64 + 32,
                got: msg.len() as u64,
            });
        }
        let (u, check) = msg.split_at(16 * rows);
        let seed = one_message_seed(self.salt, self.batch, u);
        let first = self.next_index;
        let mut batch = self.start_with(n, SecretBlocks::default(), seed)?;
        let mut at = 0;
        while let Some(len) = batch.next_chunk_len() {
            batch.absorb(&u[at..at + len])?;
            at += len;
        }
        let block = |b: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Block::from_bytes(a)
        };
        let mut q = batch.verify(CheckMsg {
            x: block(&check[..16]),
            t: block(&check[16..]),
        })?;
        Ok(self.hash_pairs(first, q.expose_mut()))
    }

    /// The random-OT pairs `(H(q), H(q ⊕ Δ))` of the outputs `q` of the
    /// OTs from index `first` on, both keys under their row's tweak, span
    /// by span: `q` is hashed in place and `pairs` gets each span's first
    /// and second keys.
    fn hash_pair_spans(
        &self,
        first: u64,
        q: &mut [Block],
        mut pairs: impl FnMut(&[Block], &[Block]),
    ) {
        const SPAN: usize = 1024;
        let h = FixedKeyAes::get();
        let d = self.delta.expose();
        let mut at = tweak_base(self.salt, first);
        let mut second = vec![Block::ZERO; SPAN];
        for span in q.chunks_mut(SPAN) {
            let second = &mut second[..span.len()];
            for (p, q) in second.iter_mut().zip(span.iter()) {
                *p = *q ^ d;
            }
            h.tmmo_many_seq(at, span);
            h.tmmo_many_seq(at, second);
            at = at.wrapping_add(span.len() as u128);
            pairs(span, second);
        }
        second.zeroize();
    }

    /// [`hash_pair_spans`](Self::hash_pair_spans) collected into pairs.
    fn hash_pairs(&self, first: u64, q: &mut [Block]) -> Vec<[Block; 2]> {
        let mut pairs = Vec::with_capacity(q.len());
        // Both keys of row j hash under tweak j: they differ by Δ, which the
        // TCCR property covers.
        self.hash_pair_spans(first, q, |k0, k1| {
            pairs.extend(k0.iter().zip(k1).map(|(&a, &b)| [a, b]));
        });
        pairs
    }
}

impl Drop for SenderBatch<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.matrix);
    }
}

/// A batch in progress on the sender's side.
pub struct SenderBatch<'a> {
    sender: &'a mut KosSender,
    n: usize,
    rows: usize,
    done: usize,
    q: SecretBlocks,
    chi: Challenge,
    chi_seed: Seed,
    acc: Block,
    matrix: Vec<Block>,
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
        let out = &mut self.q.expose_mut()[self.done..self.done + m];
        transpose_128(Block::slice_as_bytes(matrix), m, out);
        self.acc ^= self.chi.fold(out, None).0;
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
        self.sender.in_batch = false;
        let expected = msg.t ^ gf128_mul(msg.x, self.sender.delta.expose());
        let ok = self.done == self.rows
            && bool::from(self.acc.0.to_le_bytes().ct_eq(&expected.0.to_le_bytes()));
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
    /// As [`KosSender`]'s: a started batch not yet answered.
    in_batch: bool,
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
            in_batch: false,
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
        self.start_into(choices, SecretBlocks::default())
    }

    /// [`start`](Self::start), reusing `out`'s memory for the outputs.
    pub fn start_into(
        &mut self,
        choices: &[bool],
        out: SecretBlocks,
    ) -> Result<ReceiverBatch<'_>, OtError> {
        self.start_with_bits(choices.len(), out, |bytes| {
            let n = choices.len();
            let whole = n / 8;
            pack_bits(&choices[..8 * whole], &mut bytes[..whole]);
            for (j, &c) in choices.iter().enumerate().skip(8 * whole) {
                bytes[j / 8] = (bytes[j / 8] & !(1 << (j % 8))) | u8::from(c) << (j % 8);
            }
        })
    }

    /// [`start_into`](Self::start_into) with the choice bits packed, 64 to
    /// a word (OT `64 w + l` chooses by bit `l` of word `w`).
    pub fn start_packed_into(
        &mut self,
        choices: &[u64],
        out: SecretBlocks,
    ) -> Result<ReceiverBatch<'_>, OtError> {
        self.start_with_bits(64 * choices.len(), out, |bytes| {
            for (b, w) in bytes.chunks_exact_mut(8).zip(choices) {
                b.copy_from_slice(&w.to_le_bytes());
            }
        })
    }

    /// Starts a batch of `n` OTs whose first `n` choice bits `put` writes
    /// (bit `j` at bit `j % 8` of byte `j / 8`) over random bits.
    fn start_with_bits(
        &mut self,
        n: usize,
        mut out: SecretBlocks,
        put: impl FnOnce(&mut [u8]),
    ) -> Result<ReceiverBatch<'_>, OtError> {
        if self.in_batch {
            return Err(OtError::Abandoned {
                peer: self.peer.clone(),
            });
        }
        let rows = batch_rows(n);
        // Random choice bits for the padding and check rows, then the
        // caller's in front.
        let mut choice_blocks = vec![Block::ZERO; rows / 128];
        let bytes = Block::slice_as_bytes_mut(&mut choice_blocks);
        Prg::from_entropy()
            .map_err(OtError::Entropy)?
            .fill_bytes(bytes);
        put(&mut bytes[..n.div_ceil(8)]);
        out.resize_for_overwrite(rows);
        self.in_batch = true;
        let words = rows.min(CHUNK) / 128;
        Ok(ReceiverBatch {
            n,
            rows,
            done: 0,
            choice_blocks,
            t: out,
            matrix: vec![Block::ZERO; KAPPA * words],
            g1: vec![Block::ZERO; words],
            receiver: self,
        })
    }

    /// Correlated OT with these choice bits: the blocks `t_j = q_j ⊕ r_j·Δ`.
    pub fn cot(&mut self, ch: &mut Channel, choices: &[bool]) -> Result<SecretBlocks, OtError> {
        let mut out = SecretBlocks::default();
        self.cot_into(ch, choices, &mut out)?;
        Ok(out)
    }

    /// [`cot`](Self::cot) into `out`, reusing its memory.
    pub fn cot_into(
        &mut self,
        ch: &mut Channel,
        choices: &[bool],
        out: &mut SecretBlocks,
    ) -> Result<(), OtError> {
        let mut batch = self.start_into(choices, std::mem::take(out))?;
        loop {
            let mut u = ch.buffer(16 * CHUNK);
            if !batch.next_chunk_into(&mut u) {
                break;
            }
            ch.send_vec(u)?;
        }
        ch.flush()?;
        let mut seed = [Block::ZERO];
        ch.recv_blocks(&mut seed)?;
        let (check, t) = batch.respond(seed[0]);
        *out = t;
        ch.send_blocks(&[check.x, check.t])?;
        ch.flush()?;
        Ok(())
    }

    /// Random OT: random choice bits and the chosen random block of each pair.
    pub fn rot(
        &mut self,
        ch: &mut Channel,
        n: usize,
    ) -> Result<(Vec<bool>, SecretBlocks), OtError> {
        let mut prg = Prg::from_entropy().map_err(OtError::Entropy)?;
        let choices = prg.bits(n);
        let t = self.cot_hashed(ch, &choices)?;
        Ok((choices, t))
    }

    /// Chosen-message OT: `messages[j][choices[j]]` for each `j`.
    pub fn receive_chosen(
        &mut self,
        ch: &mut Channel,
        choices: &[bool],
    ) -> Result<SecretBlocks, OtError> {
        let mut keys = self.cot_hashed(ch, choices)?;
        let mut cts = vec![Block::ZERO; 2 * choices.len()];
        ch.recv_blocks(&mut cts)?;
        for (j, k) in keys.expose_mut().iter_mut().enumerate() {
            *k ^= cts[2 * j + usize::from(choices[j])];
        }
        Ok(keys)
    }

    /// Random OT with chosen choice bits: the key `k_{c_j}` of each pair
    /// that the sender's [`KosSender::rot`] returns (the correlated OT's
    /// output hashed under its OT's tweak).
    pub fn rot_chosen(
        &mut self,
        ch: &mut Channel,
        choices: &[bool],
    ) -> Result<SecretBlocks, OtError> {
        self.cot_hashed(ch, choices)
    }

    /// Random OT with chosen choice bits in one message: returns the
    /// message (the extension matrix and the answer to the challenge its
    /// hash gives) and the chosen keys, which equal those the sender's
    /// [`KosSender::rot_one_message`] returns.
    pub fn rot_one_message(
        &mut self,
        choices: &[bool],
    ) -> Result<(Vec<u8>, SecretBlocks), OtError> {
        let (salt, batch_index, first) = (self.salt, self.batch, self.next_index);
        let mut batch = self.start(choices)?;
        let mut msg = Vec::with_capacity(16 * batch.rows + 32);
        while batch.next_chunk_into(&mut msg) {}
        let seed = one_message_seed(salt, batch_index, &msg);
        let (check, mut t) = batch.respond(seed.expose());
        msg.extend_from_slice(&check.x.to_bytes());
        msg.extend_from_slice(&check.t.to_bytes());
        FixedKeyAes::get().tmmo_many_seq(tweak_base(salt, first), t.expose_mut());
        Ok((msg, t))
    }

    /// Correlated OT, each output hashed under its OT's tweak: the chosen
    /// key of a random OT.
    fn cot_hashed(&mut self, ch: &mut Channel, choices: &[bool]) -> Result<SecretBlocks, OtError> {
        let first = self.next_index;
        let mut t = self.cot(ch, choices)?;
        FixedKeyAes::get().tmmo_many_seq(tweak_base(self.salt, first), t.expose_mut());
        Ok(t)
    }
}

/// Random OT both ways at once between two parties, each holding a
/// sender to the other and a receiver from it: this side receives with
/// `choices` while it sends `n_send` pairs, and the two extension messages
/// travel interleaved chunk by chunk, so both parties compute all the time
/// instead of taking turns. Returns this side's chosen keys (as
/// [`KosReceiver::rot_chosen`]) and its pairs (as [`KosSender::rot`]). The
/// peer must call this with its own sender and receiver, `n_send` equal to
/// this side's number of choices and the reverse.
pub fn rot_duplex(
    ch: &mut Channel,
    sender: &mut KosSender,
    receiver: &mut KosReceiver,
    choices: &[bool],
    n_send: usize,
) -> Result<(SecretBlocks, Vec<[Block; 2]>), OtError> {
    let (send_first, recv_first) = (sender.next_index, receiver.next_index);
    let rb = receiver.start(choices)?;
    let sb = sender.start(n_send)?;
    let (mut t, mut q) = run_duplex(ch, rb, sb)?;
    FixedKeyAes::get().tmmo_many_seq(tweak_base(receiver.salt, recv_first), t.expose_mut());
    Ok((t, sender.hash_pairs(send_first, q.expose_mut())))
}

/// Both extension messages of a duplex run, interleaved chunk by chunk,
/// then both checks: this side's outputs as receiver (`t`) and as sender
/// (`q`), unhashed. Two chunks go out before the first is absorbed, so
/// neither party waits on the other's every chunk.
fn run_duplex(
    ch: &mut Channel,
    mut rb: ReceiverBatch<'_>,
    mut sb: SenderBatch<'_>,
) -> Result<(SecretBlocks, SecretBlocks), OtError> {
    let mut inbound = vec![0u8; 16 * CHUNK];
    let mut more_out = true;
    let mut ahead = 2;
    loop {
        while more_out && ahead > 0 {
            let mut u = ch.buffer(16 * CHUNK);
            more_out = rb.next_chunk_into(&mut u);
            if more_out {
                ch.send_vec(u)?;
                ch.flush()?;
            }
            ahead -= 1;
        }
        ahead = 1;
        let len = sb.next_chunk_len();
        if let Some(len) = len {
            ch.recv(&mut inbound[..len])?;
            sb.absorb(&inbound[..len])?;
        }
        if !more_out && len.is_none() {
            break;
        }
    }
    // Each side reveals its challenge only after the whole message it
    // checks has arrived.
    ch.send_blocks(&[sb.challenge()])?;
    ch.flush()?;
    let mut seed = [Block::ZERO];
    ch.recv_blocks(&mut seed)?;
    let (check, t) = rb.respond(seed[0]);
    ch.send_blocks(&[check.x, check.t])?;
    ch.flush()?;
    let mut answer = [Block::ZERO; 2];
    ch.recv_blocks(&mut answer)?;
    let q = sb.verify(CheckMsg {
        x: answer[0],
        t: answer[1],
    })?;
    Ok((t, q))
}

/// Random OTs of single bits both ways at once (as [`rot_duplex`]), the
/// raw material of GMW's AND triples. This side receives `64 ·
/// choices.len()` OTs choosing by the packed bits of `choices` and sends
/// `64 · send_words`; each key is the lsb of the same TCCR hash
/// [`rot_duplex`] uses, and the bits come back packed 64 to a word: this
/// side's chosen bits, then its pairs' first and second bits. `bufs`
/// holds the extension's blocks between calls, so a caller making many
/// batches reuses their memory.
pub fn rot_bits_duplex(
    ch: &mut Channel,
    sender: &mut KosSender,
    receiver: &mut KosReceiver,
    choices: &[u64],
    send_words: usize,
    bufs: &mut [SecretBlocks; 2],
) -> Result<[Vec<u64>; 3], OtError> {
    let (send_first, recv_first) = (sender.next_index, receiver.next_index);
    let [tb, qb] = bufs;
    let rb = receiver.start_packed_into(choices, std::mem::take(tb))?;
    let sb = sender.start_into(64 * send_words, std::mem::take(qb))?;
    (*tb, *qb) = run_duplex(ch, rb, sb)?;
    let h = FixedKeyAes::get();
    // The receiver's keys: hashed in place, lsb kept.
    const SPAN: usize = 1024;
    let mut chosen = Vec::with_capacity(choices.len());
    let mut at = tweak_base(receiver.salt, recv_first);
    for span in tb.expose_mut().chunks_mut(SPAN) {
        h.tmmo_many_seq(at, span);
        at = at.wrapping_add(span.len() as u128);
        chosen.extend(span.chunks(64).map(lsbs));
    }
    let (mut first, mut second) = (
        Vec::with_capacity(send_words),
        Vec::with_capacity(send_words),
    );
    sender.hash_pair_spans(send_first, qb.expose_mut(), |k0, k1| {
        first.extend(k0.chunks(64).map(lsbs));
        second.extend(k1.chunks(64).map(lsbs));
    });
    Ok([chosen, first, second])
}

/// Random OT both ways at once (as [`rot_duplex`]) with the outputs left
/// in `bufs` or handed over span by span instead of returned: afterwards
/// `bufs[0]` holds this side's chosen keys (hashed, as
/// [`KosReceiver::rot_chosen`] gives them), and `pairs` is called on
/// consecutive spans of this side's pairs, first keys then second keys
/// (as [`KosSender::rot`] gives them), so a caller that only sums over
/// them keeps no pair in memory.
pub fn rot_duplex_spans(
    ch: &mut Channel,
    sender: &mut KosSender,
    receiver: &mut KosReceiver,
    choices: &[bool],
    n_send: usize,
    bufs: &mut [SecretBlocks; 2],
    pairs: impl FnMut(&[Block], &[Block]),
) -> Result<(), OtError> {
    let (send_first, recv_first) = (sender.next_index, receiver.next_index);
    let [tb, qb] = bufs;
    let rb = receiver.start_into(choices, std::mem::take(tb))?;
    let sb = sender.start_into(n_send, std::mem::take(qb))?;
    (*tb, *qb) = run_duplex(ch, rb, sb)?;
    FixedKeyAes::get().tmmo_many_seq(tweak_base(receiver.salt, recv_first), tb.expose_mut());
    sender.hash_pair_spans(send_first, qb.expose_mut(), pairs);
    Ok(())
}

/// The low bits of up to 64 blocks, packed.
fn lsbs(blocks: &[Block]) -> u64 {
    blocks
        .iter()
        .enumerate()
        .fold(0u64, |acc, (l, b)| acc | (b.0 as u64 & 1) << l)
}

/// A batch in progress on the receiver's side.
pub struct ReceiverBatch<'a> {
    receiver: &'a mut KosReceiver,
    n: usize,
    rows: usize,
    done: usize,
    /// The choice bits of every row, 128 to a block.
    choice_blocks: Vec<Block>,
    t: SecretBlocks,
    matrix: Vec<Block>,
    g1: Vec<Block>,
}

impl Drop for ReceiverBatch<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.matrix);
        zeroize::Zeroize::zeroize(&mut self.g1);
        zeroize::Zeroize::zeroize(&mut self.choice_blocks);
    }
}

impl ReceiverBatch<'_> {
    /// Appends the next chunk of the extension message to `u` (which should
    /// be empty); false when the message is complete.
    pub fn next_chunk_into(&mut self, u: &mut Vec<u8>) -> bool {
        if self.done == self.rows {
            return false;
        }
        let m = (self.rows - self.done).min(CHUNK);
        let words = m / 128;
        u.reserve(16 * m);
        let matrix = &mut self.matrix[..KAPPA * words];
        let g1 = &mut self.g1[..words];
        let r: &[Block] = &self.choice_blocks[self.done / 128..(self.done + m) / 128];
        for (row, [p0, p1]) in matrix
            .chunks_mut(words)
            .zip(self.receiver.columns.iter_mut())
        {
            p0.fill_blocks(row);
            p1.fill_blocks(g1);
            for ((g, t), rv) in g1.iter_mut().zip(row.iter()).zip(r) {
                *g ^= *t ^ *rv;
            }
            u.extend_from_slice(Block::slice_as_bytes(g1));
        }
        let t = &mut self.t.expose_mut()[self.done..self.done + m];
        transpose_128(Block::slice_as_bytes(matrix), m, t);
        self.done += m;
        true
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
        let mut chi = Challenge::new(&Seed::new(chi_seed), self.receiver.batch, self.rows);
        let (mut t_acc, mut x) = (Block::ZERO, Block::ZERO);
        let t = self.t.expose();
        let choices = Block::slice_as_bytes(&self.choice_blocks);
        for (start, part) in (0..self.rows).step_by(CHUNK).zip(t.chunks(CHUNK)) {
            let bits = &choices[start / 8..(start + part.len()).div_ceil(8)];
            let (tk, xk) = chi.fold(part, Some(bits));
            t_acc ^= tk;
            x ^= xk;
        }
        self.receiver.batch += 1;
        self.receiver.in_batch = false;
        self.receiver.next_index += self.n as u64;
        self.t.expose_mut().truncate(self.n);
        (CheckMsg { x, t: t_acc }, std::mem::take(&mut self.t))
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
        let mut u = Vec::new();
        let mut first = true;
        while rb.next_chunk_into(&mut u) {
            if let (Some(at), true) = (tamper, first) {
                u[at] ^= 1;
            }
            first = false;
            sb.absorb(&u).unwrap();
            u.clear();
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
        let mut u = Vec::new();
        while rb.next_chunk_into(&mut u) {
            sb.absorb(&u).unwrap();
            u.clear();
        }
        let (mut check, _) = rb.respond(sb.challenge());
        check.x ^= Block(1);
        assert!(sb.verify(check).is_err());
        assert!(s.is_tainted());
        assert!(matches!(s.start(10), Err(OtError::Tainted { .. })));
    }

    /// A batch dropped part-way (a transport error mid-batch) leaves the
    /// sides out of step: both refuse to go on, blaming no one, instead of
    /// failing the next check against an honest peer or yielding wrong keys.
    #[test]
    fn an_abandoned_batch_stops_both_sides() {
        let session = SessionId::random().unwrap();
        let (delta, chosen, pairs) = seeds();
        let mut s = KosSender::new(delta, &chosen, &session, "receiver");
        let mut r = KosReceiver::new(&pairs, &session, "sender");
        {
            let mut rb = r.start(&[true; 20_000]).unwrap();
            let mut sb = s.start(20_000).unwrap();
            let mut u = Vec::new();
            assert!(rb.next_chunk_into(&mut u));
            sb.absorb(&u).unwrap();
        }
        let Err(e) = s.start(10) else {
            panic!("the sender went on")
        };
        assert!(
            matches!(e, OtError::Abandoned { .. }) && e.culprit().is_none(),
            "{e}"
        );
        let Err(e) = r.start(&[false; 10]) else {
            panic!("the receiver went on")
        };
        assert!(
            matches!(e, OtError::Abandoned { .. }) && e.culprit().is_none(),
            "{e}"
        );
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

    #[test]
    fn bit_ots_both_ways_match_the_choices() {
        use crate::prg::Prg;
        let (s01, s10) = (SessionId::random().unwrap(), SessionId::random().unwrap());
        let (mut a, mut b) = pair((PartyId(0), "a"), (PartyId(1), "b"));
        // Word counts: none, one, and one more than a batch's rows use.
        for (wa, wb) in [(0usize, 3usize), (1, 1), (129, 17)] {
            let (ca, cb) = (Prg::from_entropy().unwrap(), Prg::from_entropy().unwrap());
            let words =
                |mut p: Prg, n: usize| -> Vec<u64> { (0..n).map(|_| p.block().0 as u64).collect() };
            let (ca, cb) = (words(ca, wa), words(cb, wb));
            let cb2 = cb.clone();
            let t = std::thread::spawn(move || {
                let mut s = KosSender::setup(&mut b, &s10).unwrap();
                let mut r = KosReceiver::setup(&mut b, &s01).unwrap();
                let mut bufs = Default::default();
                let out = rot_bits_duplex(&mut b, &mut s, &mut r, &cb2, wa, &mut bufs).unwrap();
                (out, b)
            });
            let mut r = KosReceiver::setup(&mut a, &s10).unwrap();
            let mut s = KosSender::setup(&mut a, &s01).unwrap();
            let mut bufs = Default::default();
            let [chosen_a, s0_a, s1_a] =
                rot_bits_duplex(&mut a, &mut s, &mut r, &ca, wb, &mut bufs).unwrap();
            let ([chosen_b, s0_b, s1_b], back) = t.join().unwrap();
            b = back;
            assert_eq!((chosen_a.len(), s0_a.len(), s1_a.len()), (wa, wb, wb));
            assert_eq!((chosen_b.len(), s0_b.len(), s1_b.len()), (wb, wa, wa));
            // The chooser holds s_c: s0 where c = 0, s1 where c = 1.
            for w in 0..wa {
                assert_eq!(chosen_a[w], (s0_b[w] & !ca[w]) | (s1_b[w] & ca[w]));
            }
            for w in 0..wb {
                assert_eq!(chosen_b[w], (s0_a[w] & !cb[w]) | (s1_a[w] & cb[w]));
            }
            // The other key is independent of the chosen one: they differ
            // in about half the bits.
            if wb > 10 {
                let differ: u32 = s0_a
                    .iter()
                    .zip(&s1_a)
                    .map(|(x, y)| (x ^ y).count_ones())
                    .sum();
                let n = 64 * wb as u32;
                assert!(differ > n / 3 && differ < 2 * n / 3, "{differ} of {n}");
            }
        }
    }

    #[test]
    fn one_message_random_ot_and_its_check() {
        let session = SessionId::random().unwrap();
        let (delta, chosen, pairs) = seeds();
        let mut s = KosSender::new(delta, &chosen, &session, "receiver");
        let mut r = KosReceiver::new(&pairs, &session, "sender");
        for n in [1usize, 416, 9000] {
            let choices = Prg::from_entropy().unwrap().bits(n);
            let (msg, keys) = r.rot_one_message(&choices).unwrap();
            let pairs = s.rot_one_message(n, &msg).unwrap();
            for (j, &c) in choices.iter().enumerate() {
                assert_eq!(keys.expose()[j], pairs[j][usize::from(c)]);
                assert_ne!(keys.expose()[j], pairs[j][usize::from(!c)]);
            }
        }
        // A wrong length is refused without tainting; a flipped bit in the
        // matrix or in the answer fails the check and taints the sender.
        let (msg, _) = r.rot_one_message(&[true; 100]).unwrap();
        assert!(matches!(
            s.rot_one_message(100, &msg[1..]),
            Err(OtError::BadLength { .. })
        ));
        let mut bad = msg.clone();
        bad[0] ^= 1;
        assert!(matches!(
            s.rot_one_message(100, &bad),
            Err(OtError::ConsistencyCheck { .. })
        ));
        assert!(s.is_tainted());
        let (mut s2, mut r2) = {
            let (delta, chosen, pairs) = seeds();
            (
                KosSender::new(delta, &chosen, &session, "receiver"),
                KosReceiver::new(&pairs, &session, "sender"),
            )
        };
        let (mut msg, _) = r2.rot_one_message(&[false; 100]).unwrap();
        let last = msg.len() - 1;
        msg[last] ^= 0x80;
        assert!(s2.rot_one_message(100, &msg).is_err());
        assert!(s2.is_tainted());
    }
}
