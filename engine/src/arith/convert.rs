//! Conversions between additive (`Z_2^64`) and XOR (GMW) shares, so that
//! comparisons, equality, max and ReLU-like steps work on arithmetic values.
//!
//! - [`Party::eval_shared`] evaluates a Boolean circuit on XOR-shared wires
//!   for many instances at once: each wire is a vector of words, instance
//!   `k` in bit `k mod 64` of word `k / 64`, so one AND opening serves 64
//!   instances per word.
//! - **A2B** ([`Party::a2b`]): each party's additive share is already an
//!   XOR sharing of itself (the party holds its bits, the others zeros), so
//!   `x = Σ x_i` is a Boolean circuit of N inputs: a tree of ripple-carry
//!   adders, 63 AND gates per addition (the edaBits observation of
//!   D. Escudero, S. Ghosh, M. Keller, R. Rachuri and P. Scholl, "Improved
//!   primitives for MPC over mixed arithmetic-binary circuits", CRYPTO 2020,
//!   section 3: shares fed as inputs to a binary adder).
//! - **B2A** ([`Party::b2a`]): the XOR shares themselves are added as
//!   arithmetic bits with `u ⊕ v = u + v - 2uv`, one party at a time; each
//!   product of the running shared sum with one party's own bit is a
//!   correlated OT per other party (as in Gilboa's product, one bit wide),
//!   not a Beaver triple. This is the doubly-shared-bit idea of D. Rotaru
//!   and T. Wood, "MArBled circuits", INDOCRYPT 2019, section 3, applied to
//!   the bits to convert rather than to random ones.
//! - Through Yao for two parties: a two-party program runs its comparisons
//!   in garbled circuits already (`quorate run --backend yao`); these
//!   conversions serve the N-party arithmetic backend.

use quorate_circuits::{Circuit, CircuitBuilder, Gate, Word};

use super::gmw::{BitShares, BitTriples};
use super::{ArithError, Party, Ring, Shares};

/// XOR shares of a vector of instances of each of several wires (or bits):
/// `wires[w]` holds wire `w` of every instance, 64 instances a word.
pub type Lanes = Vec<BitShares>;

/// The circuit `Σ_i x_i mod 2^64` of one 64-bit input per party; outputs
/// the sum, or only its top bit when `msb_only`.
fn sum_circuit(parties: usize, msb_only: bool) -> Result<Circuit, ArithError> {
    let bad = |e: quorate_circuits::BuildError| ArithError::Setup(format!("A2B circuit: {e}"));
    let mut b = CircuitBuilder::new();
    let mut words: Vec<Word> = Vec::with_capacity(parties);
    for i in 0..parties {
        let p = b.party(&format!("p{i}"));
        words.push(b.input(p, &format!("x{i}"), 64).map_err(bad)?);
    }
    // A balanced tree of additions: depth ⌈log2 N⌉ adders.
    while words.len() > 1 {
        let mut next = Vec::with_capacity(words.len().div_ceil(2));
        for pair in words.chunks(2) {
            let sum = pair[1..].iter().fold(pair[0].clone(), |s, y| b.add(&s, y));
            next.push(sum);
        }
        words = next;
    }
    let sum = &words[0];
    if msb_only {
        b.output("msb", &sum.slice(63..64));
    } else {
        b.output("sum", sum);
    }
    b.finish().map_err(bad)
}

impl Party {
    /// Evaluates `circuit` on XOR-shared input wires for many instances:
    /// `inputs[w]` is input wire `w` of every instance (all of the same
    /// length in words). Returns the shares of the output wires, in the
    /// order of the outputs and their bits. No input or output is opened.
    pub fn eval_shared(&mut self, circuit: &Circuit, inputs: &Lanes) -> Result<Lanes, ArithError> {
        let words = inputs.first().map_or(0, BitShares::len);
        let mut triples = self.bit_triples(Self::and_words(circuit, words))?;
        self.eval_shared_with(circuit, inputs, &mut triples)
    }

    /// Words of AND triples [`eval_shared`](Self::eval_shared) uses on
    /// `circuit` with `words` words per wire: make them ahead of time with
    /// [`Party::bit_triples`] (they do not depend on the inputs) and pass
    /// them to [`eval_shared_with`](Self::eval_shared_with).
    pub fn and_words(circuit: &Circuit, words: usize) -> usize {
        let super::gmw_run::Plan { ands, .. } = super::gmw_run::plan(circuit);
        ands.iter().map(|a| a.len() * words).sum()
    }

    /// [`eval_shared`](Self::eval_shared) with triples made beforehand.
    pub fn eval_shared_with(
        &mut self,
        circuit: &Circuit,
        inputs: &Lanes,
        triples: &mut BitTriples,
    ) -> Result<Lanes, ArithError> {
        let stats = circuit.stats();
        if inputs.len() != stats.input_bits as usize {
            return Err(ArithError::Length(inputs.len(), stats.input_bits as usize));
        }
        let words = inputs.first().map_or(0, BitShares::len);
        if let Some(bad) = inputs.iter().find(|w| w.len() != words) {
            return Err(ArithError::Length(bad.len(), words));
        }
        let mut wires: Vec<u64> = vec![0; stats.wires as usize * words];
        for (w, x) in inputs.iter().enumerate() {
            wires[w * words..(w + 1) * words].copy_from_slice(x.expose());
        }
        let super::gmw_run::Plan { linear, ands } = super::gmw_run::plan(circuit);
        let gates = circuit.gates();
        let first = self.me == 0;
        for (lin, and) in linear.iter().zip(&ands) {
            for &k in lin {
                let out = gates[k].out().idx() * words;
                match gates[k] {
                    Gate::Xor { a, b, .. } => {
                        let (a, b) = (a.idx() * words, b.idx() * words);
                        for i in 0..words {
                            wires[out + i] = wires[a + i] ^ wires[b + i];
                        }
                    }
                    Gate::Not { a, .. } => {
                        let (a, flip) = (a.idx() * words, if first { !0 } else { 0 });
                        for i in 0..words {
                            wires[out + i] = wires[a + i] ^ flip;
                        }
                    }
                    Gate::Const { value, .. } => {
                        let v = if value && first { !0 } else { 0 };
                        wires[out..out + words].fill(v);
                    }
                    Gate::And { .. } => {}
                }
            }
            if and.is_empty() {
                continue;
            }
            let gather = |left: bool| {
                let mut v = Vec::with_capacity(and.len() * words);
                for &k in and {
                    if let Gate::And { a, b, .. } = gates[k] {
                        let w = if left { a } else { b }.idx() * words;
                        v.extend_from_slice(&wires[w..w + words]);
                    }
                }
                BitShares::new(v)
            };
            let (x, y) = (gather(true), gather(false));
            let z = self.and(&x, &y, triples)?;
            for (j, &k) in and.iter().enumerate() {
                let out = gates[k].out().idx() * words;
                wires[out..out + words].copy_from_slice(&z.expose()[j * words..(j + 1) * words]);
            }
        }
        let outs = circuit
            .interface()
            .outputs
            .iter()
            .flat_map(|o| o.wires.iter())
            .map(|w| BitShares::new(wires[w.idx() * words..(w.idx() + 1) * words].to_vec()))
            .collect();
        wires.iter_mut().for_each(|w| *w = 0);
        Ok(outs)
    }

    /// This party's trivial XOR sharing of every party's additive share:
    /// the input wires of [`sum_circuit`] for `x`.
    fn share_inputs(&self, x: &Shares<u64>) -> Lanes {
        let words = x.len().div_ceil(64);
        let mut lanes: Lanes = Vec::with_capacity(64 * self.n);
        for i in 0..self.n {
            for bit in 0..64 {
                let mut v = vec![0u64; words];
                if i == self.me {
                    for (k, &s) in x.expose().iter().enumerate() {
                        v[k / 64] |= (s >> bit & 1) << (k % 64);
                    }
                }
                lanes.push(BitShares::new(v));
            }
        }
        lanes
    }

    /// A2B: XOR shares of the 64 bits of each element of `x` (bit `k` of
    /// element `j` is lane `j` of `result[k]`).
    pub fn a2b(&mut self, x: &Shares<u64>) -> Result<Lanes, ArithError> {
        let c = sum_circuit(self.n, false)?;
        let inputs = self.share_inputs(x);
        self.eval_shared(&c, &inputs)
    }

    /// The sign bit of each element of `x` (as `i64`): XOR shares of
    /// `x < 0`, lane `j` for element `j`. With `x = a - b` this compares
    /// `a < b` for values whose difference fits in `i64`.
    pub fn ltz(&mut self, x: &Shares<u64>) -> Result<BitShares, ArithError> {
        let c = sum_circuit(self.n, true)?;
        let inputs = self.share_inputs(x);
        let mut out = self.eval_shared(&c, &inputs)?;
        Ok(out.remove(0))
    }

    /// B2A: additive shares (0 or 1) of the first `len` lanes of `bits`.
    ///
    /// The bit is `b = ⊕ b_i` of the parties' XOR shares, and
    /// `a ⊕ b_i = a + b_i - 2 a b_i` adds one party's share at a time to an
    /// arithmetic `a`: the product of the shared `a` with party `i`'s own
    /// bit costs one OT per element from each other party
    /// ([`Party::own_bits_times`]), `(N - 1)^2` OTs per bit in all and
    /// `N - 1` rounds.
    pub fn b2a<R: Ring>(&mut self, bits: &BitShares, len: usize) -> Result<Shares<R>, ArithError> {
        if len > bits.len() * 64 {
            return Err(ArithError::Length(len, bits.len() * 64));
        }
        let ring = |b: bool| if b { R::one() } else { R::zero() };
        let mine: Vec<bool> = (0..len)
            .map(|k| bits.expose()[k / 64] >> (k % 64) & 1 == 1)
            .collect();
        let mut acc = Shares::new(if self.me == 0 {
            mine.iter().map(|&b| ring(b)).collect()
        } else {
            vec![R::zero(); len]
        });
        let two = R::one().double();
        for i in 1..self.n {
            let own = (self.me == i).then_some(mine.as_slice());
            let prod = self.own_bits_times(i, own, &acc)?;
            let with = if self.me == i {
                acc.add(&Shares::new(mine.iter().map(|&b| ring(b)).collect()))?
            } else {
                acc
            };
            acc = with.sub(&prod.scale(two))?;
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use crate::prg::Prg;

    fn values(n: usize) -> Vec<u64> {
        let mut prg = Prg::from_entropy().unwrap();
        let mut v: Vec<u64> = (0..n).map(|_| prg.block().0 as u64).collect();
        v[0] = 0;
        v[1] = u64::MAX;
        v[2] = 1 << 63;
        v
    }

    #[test]
    fn a2b_gives_the_bits_for_2_to_5_parties() {
        for n in [2, 3, 5] {
            let xs = values(100);
            let xr = &xs;
            let out = run(n, |mut p| {
                let me = p.id();
                let x = p.input(n - 1, (me == n - 1).then_some(xr.as_slice()), xr.len())?;
                let bits = p.a2b(&x)?;
                bits.iter()
                    .map(|b| p.open_bits(b))
                    .collect::<Result<Vec<_>, _>>()
            });
            for o in out {
                let o = o.unwrap();
                for (j, &x) in xs.iter().enumerate() {
                    for (k, lane) in o.iter().enumerate() {
                        assert_eq!(lane[j / 64] >> (j % 64) & 1, x >> k & 1, "{n} parties");
                    }
                }
            }
        }
    }

    #[test]
    fn comparisons_through_ltz_and_b2a() {
        for n in [2, 3, 4] {
            let a = values(130);
            let mut b = values(130);
            b[3] = a[3]; // equal
            let (ar, br) = (&a, &b);
            let out = run(n, |mut p| {
                let me = p.id();
                let x = p.input(0, (me == 0).then_some(ar.as_slice()), 130)?;
                let y = p.input(1, (me == 1).then_some(br.as_slice()), 130)?;
                // The sign of a - b (wrapping), and from it a ReLU.
                let lt = p.ltz(&x.sub(&y)?)?;
                let lt_a = p.b2a(&lt, 130)?;
                // ReLU-like step: max(a - b, 0) = d - [d < 0] d.
                let d = x.sub(&y)?;
                let mut t = p.triples::<u64>(130)?;
                let neg_part = p.mul(&lt_a, &d, &mut t)?;
                let relu = d.sub(&neg_part)?;
                Ok((p.open(&lt_a)?, p.open(&relu)?))
            });
            for o in out {
                let (lt, relu) = o.unwrap();
                for j in 0..130 {
                    let d = a[j].wrapping_sub(b[j]) as i64;
                    assert_eq!(lt[j], u64::from(d < 0), "{n} parties, {j}");
                    assert_eq!(relu[j], d.max(0) as u64, "{n} parties, {j}");
                }
            }
        }
    }
}
