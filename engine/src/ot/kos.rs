//! OT extension: IKNP (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003), or
//! its generalisation SoftSpokenOT (below), with the
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
//! *SoftSpokenOT* (Roy, CRYPTO 2022, eprint 2022/192, sections 3 and 4)
//! generalises step 1 with a parameter `k` dividing 128; `k = 1` is IKNP
//! exactly, message for message. The 128 columns fall into `128/k` groups
//! of `k`:
//! - *Setup* (section 3.1, `(2^k − 1)`-out-of-`2^k` OT from `k` base OTs
//!   by a GGM tree): for group `g` the receiver grows a tree whose level 1
//!   is base OT `gk`'s seed pair, and for each deeper level `l` sends the
//!   corrections `c_{l,b} = m_{l,b} ⊕ ⊕_y child_b(y)` (`receiver_tree`).
//!   The sender, holding `m_{l,Δ_{gk+l}}`, rebuilds every leaf but
//!   `p_g = ¬Δ_g` (`sender_tree`). The receiver announces `k` first.
//! - *Extend* (section 4, the subspace VOLE of figure 4 over `F_2^k`):
//!   each leaf `x` gives a stream `r_x`. The receiver's columns are
//!   `v_j = ⊕_{x: x_j = 0} r_x` and it sends `d_g = ⊕_x r_x ⊕ r`, one
//!   column per group: `16/k` bytes per OT. The sender's columns are
//!   `w_j = ⊕_{x ≠ p} (x ⊕ p)_j·r_x ⊕ Δ_{gk+j}·d_g = v_j ⊕ Δ_{gk+j}·r`,
//!   so after the transpose the rows are IKNP's `q_j = t_j ⊕ r_j·Δ`, and
//!   step 2's check is the one Roy proves for this VOLE (section 5).
//! - A receiver that sends corrections inconsistent with any one tree
//!   makes the sender's columns err by an amount that depends on a few
//!   bits of `Δ`: like an inconsistent `r` in KOS, this is a guess at
//!   those bits that the check catches unless the guess is right, and it
//!   taints the sender.
//!
//! The cost: the receiver expands `2^k/k` leaves per column, the sender
//! `(2^k − 1)/k`, against IKNP's 2 and 1. [`default_k`] picks 1 in memory
//! and 2 over a network.
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

/// Whether SoftSpokenOT's `k` is one this module runs: a divisor of
/// [`KAPPA`] up to 8 (a group of `k` bits has `2^k` leaves).
fn valid_k(k: usize) -> bool {
    matches!(k, 1 | 2 | 4 | 8)
}

/// SoftSpokenOT's `k` when the receiver does not choose: 1 (IKNP) on an
/// in-memory channel, where moving bytes is nearly free and the
/// extension's computation is the whole cost; 2 on a network channel,
/// where every byte is also encrypted, copied and decrypted, and halving
/// the message is worth the sender's extra half leaf per column. `k = 4`
/// quarters the message but, on the 2-core machine of `BENCHMARKS.md`,
/// costs more computation than it saves over loopback TLS.
pub fn default_k(ch: &Channel) -> usize {
    if ch.is_network() { 2 } else { 1 }
}

/// The setup header: a tag and `k`.
const HEADER_TAG: u128 = u128::from_le_bytes(*b"quorate/ssot/v1\0");

fn header(k: usize) -> Block {
    Block(HEADER_TAG ^ k as u128)
}

fn parse_header(b: Block) -> Option<usize> {
    let k = usize::try_from(b.0 ^ HEADER_TAG).ok()?;
    valid_k(k).then_some(k)
}

/// Blocks of tree corrections for `k`: two per level below the first, per
/// group.
fn correction_blocks(k: usize) -> usize {
    if valid_k(k) {
        (KAPPA / k) * 2 * (k - 1)
    } else {
        0
    }
}

/// Bytes of the extension message for `m` rows (a multiple of 128): one
/// column of `m` bits per group.
fn ext_bytes(k: usize, m: usize) -> usize {
    (KAPPA / k) * m / 8
}

/// Stream of the tree's length-doubling generator (the leaves' streams are
/// stream 0 of the leaf seeds).
const TREE_STREAM: u64 = u64::from_le_bytes(*b"ggm/tree");

/// The two children of a tree node (GGM).
fn children(node: Block) -> [Block; 2] {
    let mut out = [Block::ZERO; 2];
    Prg::new(&Seed::new(node), TREE_STREAM).fill_blocks(&mut out);
    out
}

/// All-ones if `a == b`, in constant time.
fn eq_mask(a: usize, b: usize) -> Block {
    Block::ONES.and_bit((a as u64).ct_eq(&(b as u64)).into())
}

/// The receiver's trees (SoftSpokenOT section 3.1, a GGM tree per group
/// punctured through `k` base OTs): group `g`'s leaf `x` (bit `j` of `x`
/// taken at depth `j`) for every `g` and `x`, and the corrections
/// `c_{l,b} = m_{l,b} ⊕ ⊕_y child_b(y)` of each level `l ≥ 1`, where
/// `m_{l,b}` is base OT `g·k + l`'s seed `b` and `y` runs over the level's
/// nodes. Level 1 is base OT `g·k`'s pair itself.
fn receiver_tree(pairs: &[[Seed; 2]], k: usize) -> (Vec<Block>, Vec<Block>) {
    let mut leaves = Vec::with_capacity((KAPPA / k) << k);
    let mut corrections = Vec::with_capacity(correction_blocks(k));
    for group in pairs.chunks_exact(k) {
        let mut nodes = vec![group[0][0].expose(), group[0][1].expose()];
        for (l, pair) in group.iter().enumerate().skip(1) {
            let mut next = vec![Block::ZERO; 2 << l];
            let mut sums = [Block::ZERO; 2];
            for (y, node) in nodes.iter().enumerate() {
                for (b, c) in children(*node).into_iter().enumerate() {
                    next[y | b << l] = c;
                    sums[b] ^= c;
                }
            }
            corrections.push(pair[0].expose() ^ sums[0]);
            corrections.push(pair[1].expose() ^ sums[1]);
            bytemuck::cast_slice_mut::<Block, u8>(&mut sums).zeroize();
            nodes.zeroize();
            nodes = next;
        }
        // Stored complemented (leaf ¬x at position x), so that the
        // reduction of `subspace_sums` yields the receiver's columns
        // directly.
        nodes.reverse();
        leaves.extend_from_slice(&nodes);
        nodes.zeroize();
    }
    (leaves, corrections)
}

/// The sender's side of [`receiver_tree`]: it holds base OT `g·k + l`'s
/// seed `m_{l,Δ}` for `Δ = Δ_{g·k+l}`, so it learns every leaf but the one
/// at `p_g = ¬(Δ_{g·k}, …, Δ_{g·k+k−1})`. At level `l` it expands the
/// nodes off the path and recovers the path's sibling
/// `c_{l,Δ} ⊕ m_{l,Δ} ⊕ ⊕_{y ≠ path} child_Δ(y)`. Returns, per group,
/// leaf `y ⊕ p_g` at position `y` for `y = 1 .. 2^k` (the unknown leaf,
/// `y = 0`, left out), so that the extension indexes nothing by `Δ`.
/// Constant time in `Δ`.
fn sender_tree(chosen: &[Seed], delta: Block, k: usize, corrections: &[Block]) -> Vec<Block> {
    let mut leaves = Vec::with_capacity((KAPPA / k) << k);
    for (g, (group, corr)) in chosen
        .chunks_exact(k)
        .zip(corrections.chunks_exact(2 * (k - 1)))
        .enumerate()
    {
        let d0 = delta.bit(g * k);
        let m0 = group[0].expose();
        let mut nodes = vec![m0.and_bit(!d0), m0.and_bit(d0)];
        // The path so far: the leaf the sender may not learn.
        let mut path = usize::from(!d0);
        for l in 1..k {
            let d = delta.bit(g * k + l);
            let mut next = vec![Block::ZERO; 2 << l];
            let mut sums = [Block::ZERO; 2];
            for (y, node) in nodes.iter().enumerate() {
                let off_path = !eq_mask(y, path);
                for (b, c) in children(*node).into_iter().enumerate() {
                    let c = c & off_path;
                    next[y | b << l] = c;
                    sums[b] ^= c;
                }
            }
            let (c0, c1) = (corr[2 * (l - 1)], corr[2 * (l - 1) + 1]);
            let c = (c1 ^ sums[1]).and_bit(d) ^ (c0 ^ sums[0]).and_bit(!d);
            let mut sibling_value = [c ^ group[l].expose()];
            let sibling = path | usize::from(d) << l;
            for (y, node) in next.iter_mut().enumerate() {
                *node ^= sibling_value[0] & eq_mask(y, sibling);
            }
            bytemuck::cast_slice_mut::<Block, u8>(&mut sums).zeroize();
            bytemuck::cast_slice_mut::<Block, u8>(&mut sibling_value).zeroize();
            path |= usize::from(!d) << l;
            nodes.zeroize();
            nodes = next;
        }
        // Relative order: position y holds leaf y ⊕ path.
        for y in 1..nodes.len() {
            let mut leaf = Block::ZERO;
            for (x, node) in nodes.iter().enumerate() {
                leaf ^= *node & eq_mask(x, y ^ path);
            }
            leaves.push(leaf);
        }
        nodes.zeroize();
    }
    leaves
}

/// SoftSpokenOT's small-field VOLE on one group's leaf outputs (section
/// 3.2): `arr` holds `2^k` vectors `a_x` of `words` blocks. Writes
/// `S_j = ⊕_{x: x_j = 1} a_x` to `cols[j]` and leaves `⊕_x a_x` in
/// `arr`'s first vector: a pairwise reduction, about `2^(k+1)` vector
/// additions in all, instead of `k·2^(k−1)` for the sums one by one.
///
/// The receiver stores leaf `¬x` at `x`, so `S_j` is its `v_j = ⊕_{x:
/// x_j = 0} r_x`; the sender stores leaf `y ⊕ p` at `y` (zero at `y =
/// 0`), so `S_j = ⊕_{x ≠ p: (x ⊕ p)_j = 1} r_x`.
fn subspace_sums(arr: &mut [Block], words: usize, k: usize, cols: &mut [Block]) {
    for (j, col) in cols.chunks_exact_mut(words).enumerate().take(k) {
        // Live vectors sit at multiples of 2^j; pair x with x + 2^j.
        let step = words << j;
        for (i, pair) in arr.chunks_exact_mut(2 * step).enumerate() {
            let (lo, hi) = pair.split_at_mut(step);
            let (lo, hi) = (&mut lo[..words], &hi[..words]);
            if i == 0 {
                col.copy_from_slice(hi);
            } else {
                for (c, b) in col.iter_mut().zip(hi) {
                    *c ^= *b;
                }
            }
            for (a, b) in lo.iter_mut().zip(hi) {
                *a ^= *b;
            }
        }
    }
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
    /// SoftSpokenOT's `k`: bits of `Δ` per group (1 is IKNP).
    k: usize,
    /// k = 1: one generator per column, seeded `k_i^{Δ_i}`. k > 1: the
    /// `2^k − 1` leaves it knows of each group's punctured tree, in the
    /// order of `sender_tree`.
    leaves: Vec<Prg>,
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
            .field("k", &self.k)
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
            k: 1,
            leaves: seeds.iter().map(|s| Prg::new(s, 0)).collect(),
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
    ///
    /// The receiver then announces SoftSpokenOT's `k` (see
    /// [`KosReceiver::setup_with`]) and, for `k > 1`, sends the corrections
    /// that turn the base OTs into punctured trees.
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, OtError> {
        let delta = Delta::random()?;
        let mut bits: Vec<bool> = (0..KAPPA).map(|i| delta.expose().bit(i)).collect();
        let seeds = base::receive(ch, &base_session(session), &bits);
        bits.zeroize();
        let seeds = seeds?;
        let mut header = [Block::ZERO];
        ch.recv_blocks(&mut header)?;
        let k = parse_header(header[0]).ok_or_else(|| OtError::BadSetup {
            peer: ch.peer_name().to_owned(),
            what: format!(
                "its OT extension header {:032x} names no SoftSpokenOT k this build knows (1, 2, 4 or 8)",
                header[0].0
            ),
        })?;
        let mut corrections = vec![Block::ZERO; correction_blocks(k)];
        ch.recv_blocks(&mut corrections)?;
        KosSender::new_spoken(delta, &seeds, k, &corrections, session, ch.peer_name())
    }

    /// A SoftSpokenOT sender: from `Δ`, the base-OT seeds `k_i^{Δ_i}` and
    /// the receiver's tree corrections ([`KosReceiver::new_spoken`]), the
    /// `2^k − 1` leaves of each group that it may know.
    pub fn new_spoken(
        delta: Delta,
        seeds: &[Seed],
        k: usize,
        corrections: &[Block],
        session: &SessionId,
        peer: &str,
    ) -> Result<Self, OtError> {
        if seeds.len() != KAPPA || !valid_k(k) {
            return Err(OtError::Usage(format!(
                "a SoftSpokenOT sender needs {KAPPA} seeds (got {}) and k in 1, 2, 4, 8 (got {k})",
                seeds.len()
            )));
        }
        if corrections.len() != correction_blocks(k) {
            return Err(OtError::BadLength {
                peer: peer.to_owned(),
                what: "tree correction blocks",
                expected: correction_blocks(k) as u64,
                got: corrections.len() as u64,
            });
        }
        let mut sender = KosSender::new(delta, seeds, session, peer);
        if k > 1 {
            let mut leaves = sender_tree(seeds, sender.delta.expose(), k, corrections);
            sender.leaves = leaves.iter().map(|b| Prg::new(&Seed::new(*b), 0)).collect();
            leaves.zeroize();
            sender.k = k;
        }
        Ok(sender)
    }

    /// SoftSpokenOT's `k` for this setup (1: IKNP).
    pub fn k(&self) -> usize {
        self.k
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
            leaf_out: leaf_scratch(self.k, rows),
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
        let mut buf = vec![0u8; ext_bytes(batch.sender.k, batch.rows.min(CHUNK))];
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

    /// [`rot`](Self::rot) into `pairs`, with `scratch` holding the
    /// correlated OTs: a caller making many batches reuses both buffers'
    /// memory (the peer calls [`KosReceiver::rot_into`]).
    pub fn rot_into(
        &mut self,
        ch: &mut Channel,
        n: usize,
        scratch: &mut SecretBlocks,
        pairs: &mut Vec<[Block; 2]>,
    ) -> Result<(), OtError> {
        let first = self.next_index;
        self.cot_into(ch, n, scratch)?;
        // Keys of an earlier, longer batch that this one does not
        // overwrite are wiped; the rest are overwritten below.
        if pairs.len() > n {
            bytemuck::cast_slice_mut::<[Block; 2], u8>(&mut pairs[n..]).zeroize();
        }
        pairs.clear();
        pairs.reserve(n);
        self.hash_pair_spans(first, scratch.expose_mut(), |k0, k1| {
            pairs.extend(k0.iter().zip(k1).map(|(&a, &b)| [a, b]));
        });
        Ok(())
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
        let ext = ext_bytes(self.k, rows);
        if msg.len() != ext + 32 {
            return Err(OtError::BadLength {
                peer: self.peer.clone(),
                what: "one-message extension bytes",
                expected: ext as u64 + 32,
                got: msg.len() as u64,
            });
        }
        let (u, check) = msg.split_at(ext);
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
        zeroize::Zeroize::zeroize(&mut self.leaf_out);
    }
}

/// Scratch for one group's `2^k` leaf outputs of a chunk (none for IKNP).
fn leaf_scratch(k: usize, rows: usize) -> Vec<Block> {
    // The receiver's 2^k leaves; the sender's 2^k − 1 and a zero vector.
    if k == 1 {
        Vec::new()
    } else {
        vec![Block::ZERO; (rows.min(CHUNK) / 128) << k]
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
    /// One group's leaf outputs (k > 1).
    leaf_out: Vec<Block>,
}

impl SenderBatch<'_> {
    /// Bytes of the next chunk of the receiver's message, or `None` when
    /// every chunk has been absorbed.
    pub fn next_chunk_len(&self) -> Option<usize> {
        (self.done < self.rows)
            .then(|| ext_bytes(self.sender.k, (self.rows - self.done).min(CHUNK)))
    }

    /// Absorbs the next chunk of the receiver's message `u` (one column of
    /// `m` bits per group, group after group).
    pub fn absorb(&mut self, u: &[u8]) -> Result<(), OtError> {
        let m = (self.rows - self.done).min(CHUNK);
        let k = self.sender.k;
        if u.len() != ext_bytes(k, m) || m == 0 {
            return Err(OtError::BadLength {
                peer: self.sender.peer.clone(),
                what: "extension bytes",
                expected: ext_bytes(k, m) as u64,
                got: u.len() as u64,
            });
        }
        let words = m / 128;
        let delta = self.sender.delta.expose();
        let matrix = &mut self.matrix[..KAPPA * words];
        let block = |c: &[u8]| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            Block::from_bytes(b)
        };
        if k == 1 {
            // IKNP: q_i = G(k_i^{Δ_i}) ⊕ Δ_i·u_i.
            for (i, (row, prg)) in matrix
                .chunks_mut(words)
                .zip(self.sender.leaves.iter_mut())
                .enumerate()
            {
                prg.fill_blocks(row);
                // Masked, not branched on the secret bit.
                let di = delta.bit(i);
                let ui = &u[16 * words * i..16 * words * (i + 1)];
                for (r, c) in row.iter_mut().zip(ui.chunks_exact(16)) {
                    *r ^= block(c).and_bit(di);
                }
            }
        } else {
            // SoftSpokenOT figure 4, the VOLE receiver: with p = ¬Δ_g the
            // leaf it lacks, column j of group g is
            // w_j = ⊕_{x ≠ p} (x ⊕ p)_j·r_x ⊕ Δ_{gk+j}·d_g, which equals
            // the receiver's v_j ⊕ Δ_{gk+j}·r.
            let known = (1 << k) - 1;
            let arr = &mut self.leaf_out[..words << k];
            for (g, (cols, prgs)) in matrix
                .chunks_exact_mut(k * words)
                .zip(self.sender.leaves.chunks_exact_mut(known))
                .enumerate()
            {
                let (zero, rest) = arr.split_at_mut(words);
                zero.fill(Block::ZERO);
                for (v, prg) in rest.chunks_exact_mut(words).zip(prgs.iter_mut()) {
                    prg.fill_blocks(v);
                }
                subspace_sums(arr, words, k, cols);
                let d = &u[16 * words * g..16 * words * (g + 1)];
                for (j, col) in cols.chunks_exact_mut(words).enumerate() {
                    let dj = delta.bit(g * k + j);
                    for (c, dd) in col.iter_mut().zip(d.chunks_exact(16)) {
                        *c ^= block(dd).and_bit(dj);
                    }
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
            self.sender.leaves.clear();
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
    /// SoftSpokenOT's `k`: bits of the peer's `Δ` per group (1 is IKNP).
    k: usize,
    /// The `2^k` leaf generators of each group (k = 1: the column's two
    /// seeds).
    leaves: Vec<Prg>,
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
            .field("k", &self.k)
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
            k: 1,
            leaves: seeds
                .iter()
                .flat_map(|[a, b]| [Prg::new(a, 0), Prg::new(b, 0)])
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
    ///
    /// SoftSpokenOT's `k` is [`default_k`] for this channel.
    pub fn setup(ch: &mut Channel, session: &SessionId) -> Result<Self, OtError> {
        Self::setup_with(ch, session, default_k(ch))
    }

    /// [`setup`](Self::setup) with SoftSpokenOT's `k` (1, 2, 4 or 8): the
    /// extension message is `16/k` bytes per OT. The receiver announces
    /// `k` to the sender with the tree corrections.
    pub fn setup_with(ch: &mut Channel, session: &SessionId, k: usize) -> Result<Self, OtError> {
        if !valid_k(k) {
            return Err(OtError::Usage(format!(
                "SoftSpokenOT's k must be 1, 2, 4 or 8, not {k}"
            )));
        }
        let seeds = base::send(ch, &base_session(session), KAPPA)?;
        let (receiver, corrections) = KosReceiver::new_spoken(&seeds, k, session, ch.peer_name())?;
        ch.send_blocks(&[header(k)])?;
        ch.send_blocks(&corrections)?;
        ch.flush()?;
        Ok(receiver)
    }

    /// A SoftSpokenOT receiver from the base-OT seed pairs, and the tree
    /// corrections its sender needs ([`KosSender::new_spoken`]).
    pub fn new_spoken(
        seeds: &[[Seed; 2]],
        k: usize,
        session: &SessionId,
        peer: &str,
    ) -> Result<(Self, Vec<Block>), OtError> {
        if seeds.len() != KAPPA || !valid_k(k) {
            return Err(OtError::Usage(format!(
                "a SoftSpokenOT receiver needs {KAPPA} seed pairs (got {}) and k in 1, 2, 4, 8 (got {k})",
                seeds.len()
            )));
        }
        let mut receiver = KosReceiver::new(seeds, session, peer);
        if k == 1 {
            return Ok((receiver, Vec::new()));
        }
        let (mut leaves, corrections) = receiver_tree(seeds, k);
        receiver.leaves = leaves.iter().map(|b| Prg::new(&Seed::new(*b), 0)).collect();
        leaves.zeroize();
        receiver.k = k;
        Ok((receiver, corrections))
    }

    /// SoftSpokenOT's `k` for this setup (1: IKNP).
    pub fn k(&self) -> usize {
        self.k
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
            leaf_out: leaf_scratch(self.k, rows),
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
            let mut u = ch.buffer(ext_bytes(batch.receiver.k, CHUNK));
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

    /// [`rot_chosen`](Self::rot_chosen) into `out`, reusing its memory: the
    /// chosen keys of the pairs the sender's [`KosSender::rot_into`] gives.
    pub fn rot_into(
        &mut self,
        ch: &mut Channel,
        choices: &[bool],
        out: &mut SecretBlocks,
    ) -> Result<(), OtError> {
        let first = self.next_index;
        self.cot_into(ch, choices, out)?;
        FixedKeyAes::get().tmmo_many_seq(tweak_base(self.salt, first), out.expose_mut());
        Ok(())
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
        let mut msg = Vec::with_capacity(ext_bytes(batch.receiver.k, batch.rows) + 32);
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
    let mut inbound = vec![0u8; ext_bytes(sb.sender.k, CHUNK)];
    let mut more_out = true;
    let mut ahead = 2;
    loop {
        while more_out && ahead > 0 {
            let mut u = ch.buffer(ext_bytes(rb.receiver.k, CHUNK));
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
    /// One group's leaf outputs (k > 1).
    leaf_out: Vec<Block>,
}

impl Drop for ReceiverBatch<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.matrix);
        zeroize::Zeroize::zeroize(&mut self.g1);
        zeroize::Zeroize::zeroize(&mut self.leaf_out);
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
        let k = self.receiver.k;
        u.reserve(ext_bytes(k, m));
        let matrix = &mut self.matrix[..KAPPA * words];
        let g1 = &mut self.g1[..words];
        let r: &[Block] = &self.choice_blocks[self.done / 128..(self.done + m) / 128];
        if k == 1 {
            // IKNP: t_i = G(k_i^0), u_i = t_i ⊕ G(k_i^1) ⊕ r.
            for (row, p) in matrix
                .chunks_mut(words)
                .zip(self.receiver.leaves.chunks_exact_mut(2))
            {
                p[0].fill_blocks(row);
                p[1].fill_blocks(g1);
                for ((g, t), rv) in g1.iter_mut().zip(row.iter()).zip(r) {
                    *g ^= *t ^ *rv;
                }
                u.extend_from_slice(Block::slice_as_bytes(g1));
            }
        } else {
            // SoftSpokenOT figure 4, the VOLE sender: column j of group g
            // is v_j = ⊕_{x: x_j = 0} r_x, and the group's message is
            // d_g = U ⊕ r with U = ⊕_x r_x, so that the sender's columns
            // are v_j ⊕ Δ_{gk+j}·r.
            let leaves = 1 << k;
            let arr = &mut self.leaf_out[..words << k];
            for (cols, prgs) in matrix
                .chunks_exact_mut(k * words)
                .zip(self.receiver.leaves.chunks_exact_mut(leaves))
            {
                for (v, prg) in arr.chunks_exact_mut(words).zip(prgs.iter_mut()) {
                    prg.fill_blocks(v);
                }
                subspace_sums(arr, words, k, cols);
                let sum = &arr[..words];
                for ((g, s), rv) in g1.iter_mut().zip(sum).zip(r) {
                    *g = *s ^ *rv;
                }
                u.extend_from_slice(Block::slice_as_bytes(g1));
            }
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

    /// A sender and receiver with SoftSpokenOT's `k`, built without a
    /// channel.
    fn spoken(k: usize) -> (Delta, KosSender, KosReceiver) {
        let session = SessionId::random().unwrap();
        let (delta, chosen, pairs) = seeds();
        let (r, corrections) = KosReceiver::new_spoken(&pairs, k, &session, "sender").unwrap();
        let s = KosSender::new_spoken(
            delta.clone(),
            &chosen,
            k,
            &corrections,
            &session,
            "receiver",
        )
        .unwrap();
        (delta, s, r)
    }

    /// Runs one batch with SoftSpokenOT's `k` in memory without a channel,
    /// optionally tampering with one byte of the first chunk.
    fn run_k(
        k: usize,
        n: usize,
        tamper: Option<usize>,
    ) -> (
        Delta,
        Vec<bool>,
        Result<SecretBlocks, OtError>,
        SecretBlocks,
    ) {
        let (delta, mut s, mut r) = spoken(k);
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
    fn correlated_outputs_for_every_k_and_many_sizes() {
        for k in [1usize, 2, 4, 8] {
            for n in [0usize, 1, 127, 128, 129, 1000, 8191, 8192, 8193, 20_000] {
                let (delta, choices, q, t) = run_k(k, n, None);
                let q = q.unwrap();
                assert_eq!((q.len(), t.len()), (n, n));
                for (j, &c) in choices.iter().enumerate() {
                    let want = q.expose()[j] ^ delta.expose().and_bit(c);
                    assert_eq!(t.expose()[j], want, "k = {k}, n = {n}, OT {j}");
                }
            }
        }
    }

    #[test]
    fn softspoken_messages_are_16_over_k_bytes_per_ot() {
        for k in [1usize, 2, 4, 8] {
            let (_, _, mut r) = spoken(k);
            let mut rb = r.start(&[false; 8192 - 256]).unwrap();
            let mut u = Vec::new();
            assert!(rb.next_chunk_into(&mut u));
            assert_eq!(u.len(), 8192 * 16 / k, "k = {k}");
        }
    }

    /// Any byte flipped in a group's message moves that group's columns
    /// where `Δ` has a one, and every group's first column may be one, so
    /// flips in every group (all of whose bits are set in some `Δ`) are
    /// caught over the runs.
    #[test]
    fn a_tampered_softspoken_message_fails_the_check() {
        for k in [2usize, 4, 8] {
            let group_bytes = 1000usize.div_ceil(128) * 128 / 8 + CHECK_ROWS / 8;
            for g in [0, KAPPA / k - 1] {
                let mut caught = 0;
                for _ in 0..8 {
                    let (_, _, q, _) = run_k(k, 1000, Some(g * group_bytes + 3));
                    if let Err(e) = q {
                        assert!(matches!(e, OtError::ConsistencyCheck { .. }), "{e}");
                        caught += 1;
                    }
                }
                // Caught unless Δ is zero on all k of the group's columns.
                assert!(caught >= 1, "k = {k}, group {g}: never caught");
            }
            // Group 0's column 0 is Δ's lsb, always one: always caught.
            let (_, _, q, _) = run_k(k, 1000, Some(0));
            assert!(matches!(q, Err(OtError::ConsistencyCheck { .. })));
        }
    }

    /// Corrections that do not match the receiver's trees leave the sender
    /// with leaves the receiver does not have: the check fails.
    #[test]
    fn tampered_tree_corrections_fail_the_check() {
        for k in [2usize, 4] {
            let session = SessionId::random().unwrap();
            let (delta, chosen, pairs) = seeds();
            let (mut r, mut corrections) =
                KosReceiver::new_spoken(&pairs, k, &session, "sender").unwrap();
            // Both corrections of group 0's level 1: whichever the sender
            // uses is wrong.
            corrections[0] ^= Block(1 << 77);
            corrections[1] ^= Block(1 << 77);
            let mut s =
                KosSender::new_spoken(delta, &chosen, k, &corrections, &session, "receiver")
                    .unwrap();
            let mut rb = r.start(&[true; 500]).unwrap();
            let mut sb = s.start(500).unwrap();
            let mut u = Vec::new();
            while rb.next_chunk_into(&mut u) {
                sb.absorb(&u).unwrap();
                u.clear();
            }
            let (check, _) = rb.respond(sb.challenge());
            assert!(matches!(
                sb.verify(check),
                Err(OtError::ConsistencyCheck { .. })
            ));
            assert!(s.is_tainted());
            // Corrections of the wrong length are refused, naming the peer.
            let (delta, chosen, _) = seeds();
            let e = KosSender::new_spoken(delta, &chosen, k, &corrections[1..], &session, "r")
                .unwrap_err();
            assert!(
                matches!(e, OtError::BadLength { .. }) && e.culprit() == Some("r"),
                "{e}"
            );
        }
    }

    /// The sender's relative leaves are the receiver's leaves moved by the
    /// punctured point, for Δ patterns that put every group at its edge
    /// cases (all ones, all zeros but the lsb, alternating).
    #[test]
    fn sender_and_receiver_trees_agree_off_the_punctured_leaf() {
        let pairs: Vec<[Seed; 2]> = (0..KAPPA)
            .map(|_| [Seed::from_entropy().unwrap(), Seed::from_entropy().unwrap()])
            .collect();
        for k in [2usize, 4, 8] {
            let (receiver_leaves, corrections) = receiver_tree(&pairs, k);
            let alt = u128::from_le_bytes([0x55; 16]);
            for d in [u128::MAX, 1, alt, !alt | 1] {
                let delta = Block(d);
                let chosen: Vec<Seed> = (0..KAPPA)
                    .map(|i| pairs[i][usize::from(delta.bit(i))].clone())
                    .collect();
                let sender_leaves = sender_tree(&chosen, delta, k, &corrections);
                let n = 1usize << k;
                for g in 0..KAPPA / k {
                    let p = !((d >> (g * k)) as usize) & (n - 1);
                    for y in 1..n {
                        // The receiver stores leaf x at position ¬x.
                        let x = y ^ p;
                        assert_eq!(
                            sender_leaves[g * (n - 1) + y - 1],
                            receiver_leaves[g * n + (n - 1 - x)],
                            "k = {k}, delta {d:032x}, group {g}, y {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn one_message_random_ot_for_every_k() {
        for k in [2usize, 4, 8] {
            let (_, mut s, mut r) = spoken(k);
            let choices = Prg::from_entropy().unwrap().bits(1000);
            let (msg, keys) = r.rot_one_message(&choices).unwrap();
            assert_eq!(msg.len(), ext_bytes(k, batch_rows(1000)) + 32);
            let pairs = s.rot_one_message(1000, &msg).unwrap();
            for (j, &c) in choices.iter().enumerate() {
                assert_eq!(keys.expose()[j], pairs[j][usize::from(c)]);
            }
            let (mut msg, _) = r.rot_one_message(&choices).unwrap();
            msg[0] ^= 1;
            assert!(matches!(
                s.rot_one_message(1000, &msg),
                Err(OtError::ConsistencyCheck { .. })
            ));
            assert!(s.is_tainted());
        }
    }

    /// Each direction of a duplex run may use its own k.
    #[test]
    fn duplex_random_ot_with_a_k_per_direction() {
        for (ka, kb) in [(1usize, 4usize), (8, 2), (4, 4)] {
            let (s01, s10) = (SessionId::random().unwrap(), SessionId::random().unwrap());
            let (mut a, mut b) = pair((PartyId(0), "a"), (PartyId(1), "b"));
            let cb = Prg::from_entropy().unwrap().bits(900);
            let cb2 = cb.clone();
            let t = std::thread::spawn(move || {
                let mut s = KosSender::setup(&mut b, &s10).unwrap();
                let mut r = KosReceiver::setup_with(&mut b, &s01, kb).unwrap();
                rot_duplex(&mut b, &mut s, &mut r, &cb2, 500).unwrap()
            });
            let mut r = KosReceiver::setup_with(&mut a, &s10, ka).unwrap();
            let mut s = KosSender::setup(&mut a, &s01).unwrap();
            assert_eq!((r.k(), s.k()), (ka, kb));
            let ca = Prg::from_entropy().unwrap().bits(500);
            let (keys_a, pairs_a) = rot_duplex(&mut a, &mut s, &mut r, &ca, 900).unwrap();
            let (keys_b, pairs_b) = t.join().unwrap();
            for (j, &c) in ca.iter().enumerate() {
                assert_eq!(keys_a.expose()[j], pairs_b[j][usize::from(c)]);
            }
            for (j, &c) in cb.iter().enumerate() {
                assert_eq!(keys_b.expose()[j], pairs_a[j][usize::from(c)]);
            }
        }
    }

    #[test]
    fn a_bad_setup_header_is_refused() {
        for k in [0usize, 3, 16, 1 << 40] {
            assert_eq!(parse_header(header(k)), None);
        }
        for k in [1usize, 2, 4, 8] {
            assert_eq!(parse_header(header(k)), Some(k));
        }
        assert_eq!(parse_header(Block(2)), None);
        let session = SessionId::random().unwrap();
        let (mut a, mut b) = pair((PartyId(0), "s"), (PartyId(1), "r"));
        let t = std::thread::spawn(move || {
            let _ = base::send(&mut b, &base_session(&session), KAPPA).unwrap();
            b.send_blocks(&[header(3)]).unwrap();
            b.flush().unwrap();
            b
        });
        let e = KosSender::setup(&mut a, &session).unwrap_err();
        let _b = t.join().unwrap();
        assert!(
            matches!(e, OtError::BadSetup { ref peer, .. } if peer == "r"),
            "{e}"
        );
    }

    #[test]
    fn a_tampered_extension_message_fails_the_check() {
        // Byte 0 is in column 0, whose Δ bit (the lsb) is always 1.
        let (_, _, q, _) = run_k(1, 1000, Some(0));
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
        for k in [1usize, 2, 4, 8] {
            let session = SessionId::random().unwrap();
            let (mut a, mut b) = pair((PartyId(0), "s"), (PartyId(1), "r"));
            let msgs: Vec<[Block; 2]> = (0..777u128)
                .map(|i| [Block(i), Block(i << 64 | 5)])
                .collect();
            let m2 = msgs.clone();
            let t = std::thread::spawn(move || {
                let mut r = KosReceiver::setup_with(&mut b, &session, k).unwrap();
                let (rc, rk) = r.rot(&mut b, 1000).unwrap();
                let choices: Vec<bool> = (0..777).map(|i| i % 3 == 1).collect();
                let got = r.receive_chosen(&mut b, &choices).unwrap();
                for (j, g) in got.expose().iter().enumerate() {
                    assert_eq!(*g, m2[j][usize::from(choices[j])]);
                }
                let cc = vec![true; 300];
                let ct = r.cot(&mut b, &cc).unwrap();
                (rc, rk, ct, b.traffic().sent)
            });
            let mut s = KosSender::setup(&mut a, &session).unwrap();
            assert_eq!(s.k(), k);
            let keys = s.rot(&mut a, 1000).unwrap();
            s.send_chosen(&mut a, &msgs).unwrap();
            let q = s.cot(&mut a, 300).unwrap();
            let (rc, rk, ct, sent) = t.join().unwrap();
            for j in 0..1000 {
                assert_eq!(rk.expose()[j], keys[j][usize::from(rc[j])]);
                assert_ne!(rk.expose()[j], keys[j][usize::from(!rc[j])]);
            }
            for j in 0..300 {
                assert_eq!(ct.expose()[j], q.expose()[j] ^ s.delta().expose());
            }
            // The three batches' rows, 16/k bytes each, plus a constant:
            // base OTs, corrections, checks.
            let rows = (batch_rows(1000) + batch_rows(777) + batch_rows(300)) as u64;
            let setup = 128 * 130 + 16 * (1 + correction_blocks(k) as u64);
            assert!(
                sent >= rows * 16 / k as u64 && sent <= rows * 16 / k as u64 + setup + 1024,
                "k = {k}: {sent} bytes"
            );
        }
    }

    /// The buffer-reusing random OT gives the same relation as `rot`,
    /// batch after batch, whatever the buffers held before.
    #[test]
    fn rot_into_reuses_buffers() {
        let session = SessionId::random().unwrap();
        let (mut a, mut b) = pair((PartyId(0), "s"), (PartyId(1), "r"));
        let t = std::thread::spawn(move || {
            let mut r = KosReceiver::setup_with(&mut b, &session, 2).unwrap();
            let mut out = SecretBlocks::default();
            let mut got = Vec::new();
            for n in [3000usize, 10, 700] {
                let choices = Prg::from_entropy().unwrap().bits(n);
                r.rot_into(&mut b, &choices, &mut out).unwrap();
                got.push((choices, out.clone()));
            }
            got
        });
        let mut s = KosSender::setup(&mut a, &session).unwrap();
        let (mut scratch, mut pairs) = (SecretBlocks::default(), Vec::new());
        let mut sent = Vec::new();
        for n in [3000usize, 10, 700] {
            s.rot_into(&mut a, n, &mut scratch, &mut pairs).unwrap();
            assert_eq!(pairs.len(), n);
            sent.push(pairs.clone());
        }
        for ((choices, keys), pairs) in t.join().unwrap().into_iter().zip(sent) {
            assert_eq!(keys.len(), choices.len());
            for (j, &c) in choices.iter().enumerate() {
                assert_eq!(keys.expose()[j], pairs[j][usize::from(c)]);
                assert_ne!(keys.expose()[j], pairs[j][usize::from(!c)]);
            }
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
