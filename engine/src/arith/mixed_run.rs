//! Runs a [`MixedCircuit`] (ring ops over `Z_2^128` and Boolean gates)
//! among N parties: the runtime of `quorate run --backend arith`.
//!
//! Ring wires hold additive shares, bit wires XOR shares. The ops are
//! grouped into levels: an interactive op (AND, ring product, truncation,
//! A2B, B2A) sits one level above the latest of its inputs, a local op at
//! the level of its latest input. Level by level, every interactive op of
//! the level runs at once, one batch per kind (so a vector of a million
//! products costs the rounds of one), then the local ops in circuit order.
//! - AND: GMW ([`Party::and`]); ring product: Beaver ([`Party::mul`]);
//! - truncation: exact ([`Party::truncate_exact`]);
//! - A2B ([`Op::Bit`]): the value's low 64 bits by [`Party::a2b`], or only
//!   its sign by [`Party::ltz`] when the sign is all that is read;
//! - B2A ([`Op::FromBits`]): daBits ([`Party::b2a`]), one per distinct bit.

use std::collections::HashMap;

use quorate_circuits::mixed::{MixedStats, Op, Slot};
use quorate_circuits::{Bits, Gate, MixedCircuit, Wire};

use super::gmw::BitShares;
use super::gmw_run::pack;
use super::{ArithError, Party, Shares};

/// What a run of a mixed circuit did.
#[derive(Debug)]
pub struct MixedOutcome {
    /// Each output's value, `Some` where this party is among its recipients.
    pub outputs: Vec<Option<Bits>>,
    /// Counts of the costly ops.
    pub stats: MixedStats,
    /// Levels of interactive ops.
    pub levels: u32,
    /// Ops that one party (or every party, on public values) computed in
    /// the clear, because all their inputs were its own.
    pub local_ops: usize,
}

/// [`Party::local_prepass`]'s mark of a wire every party must compute on.
const SHARED: u8 = u8::MAX;
/// Its mark of a public wire.
const PUBLIC: u8 = u8::MAX - 1;

fn lane(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

fn interactive(op: &Op) -> bool {
    matches!(
        op,
        Op::Bool(Gate::And { .. })
            | Op::Mul { .. }
            | Op::Trunc { .. }
            | Op::Bit { .. }
            | Op::FromBits { .. }
    )
}

impl Party {
    /// Runs `c` among all parties: `inputs[i]` is `Some` for each input
    /// this party owns; `to[o]` names the parties that learn output `o`.
    pub fn run_mixed(
        &mut self,
        c: &MixedCircuit,
        inputs: &[Option<Bits>],
        to: &[Vec<usize>],
    ) -> Result<MixedOutcome, ArithError> {
        if inputs.len() != c.inputs().len() || to.len() != c.outputs().len() {
            return Err(ArithError::Setup(format!(
                "the program has {} inputs and {} outputs; {} input values and {} recipient \
                 lists were given",
                c.inputs().len(),
                c.outputs().len(),
                inputs.len(),
                to.len()
            )));
        }
        if let Some(bad) = to.iter().flatten().find(|&&p| p >= self.n) {
            return Err(ArithError::Setup(format!("no party {bad} to reveal to")));
        }
        for (port, v) in c.inputs().iter().zip(inputs) {
            let mine = port.party == self.me;
            match v {
                Some(v) if mine && v.width() == port.width() => {}
                None if !mine => {}
                _ => {
                    return Err(ArithError::Setup(format!(
                        "input `{}`: {}",
                        port.name,
                        if mine {
                            format!("this party owns it and must give {} bits", port.width())
                        } else {
                            "another party owns it".to_owned()
                        }
                    )));
                }
            }
        }
        if let Some(p) = c.inputs().iter().find(|p| p.party >= self.n) {
            return Err(ArithError::Setup(format!(
                "input `{}` belongs to party {}, and this run has {}",
                p.name, p.party, self.n
            )));
        }
        let mut ring = vec![0u128; c.num_wires()];
        let mut bits = vec![false; c.num_wires()];
        let known = self.local_prepass(c, inputs, &mut ring, &mut bits);
        let local_ops = c
            .ops()
            .iter()
            .filter(|op| known[op.out().idx()] != SHARED)
            .count();

        // Levels, of the ops that need every party.
        let mut level = vec![0u32; c.num_wires()];
        let mut levels: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for (k, op) in c.ops().iter().enumerate() {
            if known[op.out().idx()] != SHARED {
                continue;
            }
            let base = op
                .inputs()
                .iter()
                .map(|w| level[w.idx()])
                .max()
                .unwrap_or(0);
            let l = base + u32::from(interactive(op));
            level[op.out().idx()] = l;
            let l = l as usize;
            if levels.len() <= l {
                levels.resize_with(l + 1, Default::default);
            }
            if interactive(op) {
                levels[l].0.push(k);
            } else {
                levels[l].1.push(k);
            }
        }
        drop(known);
        drop(level);
        let ops = c.ops();
        let first = self.me == 0;
        for (inter, local) in &levels {
            if !inter.is_empty() {
                self.interactive_level(ops, inter, &mut ring, &mut bits)?;
            }
            for &k in local {
                match ops[k] {
                    Op::Bool(g) => match g {
                        Gate::Xor { a, b, out } => bits[out.idx()] = bits[a.idx()] ^ bits[b.idx()],
                        Gate::Not { a, out } => bits[out.idx()] = bits[a.idx()] ^ first,
                        Gate::Const { value, out } => bits[out.idx()] = value && first,
                        Gate::And { .. } => {}
                    },
                    Op::Const { value, out } => ring[out.idx()] = if first { value } else { 0 },
                    Op::Add { a, b, out } => {
                        ring[out.idx()] = ring[a.idx()].wrapping_add(ring[b.idx()])
                    }
                    Op::Sub { a, b, out } => {
                        ring[out.idx()] = ring[a.idx()].wrapping_sub(ring[b.idx()])
                    }
                    Op::MulConst { a, k, out } => ring[out.idx()] = ring[a.idx()].wrapping_mul(k),
                    _ => {}
                }
            }
        }

        // A fresh sharing of zero on every output before it is opened: a
        // wire computed locally (say the sum of two parties' inputs) has
        // shares that would tell each input apart.
        let (ring_total, bit_total) = c.outputs().iter().fold((0, 0), |(r, b), port| {
            let nb = port
                .slots
                .iter()
                .filter(|s| matches!(s, Slot::Bit(_)))
                .count();
            (r + port.slots.len() - nb, b + nb.div_ceil(64))
        });
        let (zero_ring, zero_bits) = if ring_total + bit_total > 0 {
            self.zero_sharing::<u128>(ring_total, bit_total)?
        } else {
            (Vec::new(), Vec::new())
        };
        let (mut zr, mut zb) = (zero_ring.iter(), zero_bits.iter());
        let mut outputs = Vec::with_capacity(c.outputs().len());
        for (port, recipients) in c.outputs().iter().zip(to) {
            let mut bit_words = pack(port.slots.iter().filter_map(|s| match s {
                Slot::Bit(w) => Some(bits[w.idx()]),
                Slot::Arith { .. } => None,
            }));
            for (w, z) in bit_words.iter_mut().zip(&mut zb) {
                *w ^= z;
            }
            let ring_vals: Vec<u128> = port
                .slots
                .iter()
                .filter_map(|s| match s {
                    Slot::Arith { wire, .. } => {
                        Some(ring[wire.idx()].wrapping_add(zr.next().copied().unwrap_or(0)))
                    }
                    Slot::Bit(_) => None,
                })
                .collect();
            let opened_bits = if bit_words.is_empty() {
                recipients.contains(&self.me).then(Vec::new)
            } else {
                self.open_bits_to(&BitShares::new(bit_words), recipients)?
            };
            let mut opened_ring = None;
            if !ring_vals.is_empty() {
                let shares = Shares::new(ring_vals);
                for &r in recipients {
                    if let Some(v) = self.open_to(&shares, r)? {
                        opened_ring = Some(v);
                    }
                }
            }
            if !recipients.contains(&self.me) {
                outputs.push(None);
                continue;
            }
            let (bw, rv) = (
                opened_bits.unwrap_or_default(),
                opened_ring.unwrap_or_default(),
            );
            let (mut bi, mut ri) = (0, 0);
            let mut value = Vec::with_capacity(port.width());
            for s in &port.slots {
                match *s {
                    Slot::Bit(_) => {
                        value.push(lane(&bw, bi));
                        bi += 1;
                    }
                    Slot::Arith { width, .. } => {
                        let v = rv.get(ri).copied().unwrap_or(0);
                        value.extend((0..width).map(|i| v >> i & 1 == 1));
                        ri += 1;
                    }
                }
            }
            outputs.push(Some(Bits::from_bools(&value)));
        }
        ring.iter_mut().for_each(|v| *v = 0);
        Ok(MixedOutcome {
            outputs,
            stats: c.stats(),
            local_ops,
            levels: levels.len().saturating_sub(1) as u32,
        })
    }

    /// Computes in the clear every wire that one party can compute alone:
    /// its inputs and what is made only from them and public constants
    /// (a bank's weighted sum of its own features, with its rounding, costs
    /// nothing). Returns each wire's mark: the party that knows it,
    /// [`PUBLIC`], or [`SHARED`].
    ///
    /// Such a wire enters the shared computation trivially shared (its
    /// knower holds the value, everyone else 0; party 0 holds public
    /// values). That is safe because every protocol that reads shares
    /// opens them only masked by fresh randomness (Beaver triples, the
    /// truncation's mask, GMW's bit triples, OT), and outputs get a fresh
    /// sharing of zero before they are opened.
    fn local_prepass(
        &self,
        c: &MixedCircuit,
        inputs: &[Option<Bits>],
        ring: &mut [u128],
        bits: &mut [bool],
    ) -> Vec<u8> {
        let me = self.me as u8;
        let mut known = vec![SHARED; c.num_wires()];
        // Pass one: values in `ring` (a bit as 0 or 1) where this party
        // knows them.
        for (port, v) in c.inputs().iter().zip(inputs) {
            let mut at = 0;
            for s in &port.slots {
                let w = s.wire();
                known[w.idx()] = port.party as u8;
                if let Some(v) = v {
                    ring[w.idx()] = match *s {
                        Slot::Bit(_) => u128::from(v.get(at)),
                        Slot::Arith { width, signed, .. } => {
                            let b: Vec<bool> =
                                (at..at + width as usize).map(|i| v.get(i)).collect();
                            quorate_circuits::mixed::from_bits(&b, signed)
                        }
                    };
                }
                at += s.width();
            }
        }
        for op in c.ops() {
            let mark = op
                .inputs()
                .iter()
                .fold(PUBLIC, |m, w| match (m, known[w.idx()]) {
                    (PUBLIC, k) | (k, PUBLIC) => k,
                    (a, b) if a == b => a,
                    _ => SHARED,
                });
            known[op.out().idx()] = mark;
            if mark == PUBLIC || mark == me {
                ring[op.out().idx()] = op.eval(|x| ring[x.idx()]);
            }
        }
        // Pass two: the values become shares.
        let mut share = |w: Wire, is_bit: bool, ring: &mut [u128]| {
            let k = known[w.idx()];
            if k == SHARED {
                return;
            }
            let holder = if k == PUBLIC { 0 } else { k };
            let v = if me == holder { ring[w.idx()] } else { 0 };
            if is_bit {
                bits[w.idx()] = v & 1 == 1;
                ring[w.idx()] = 0;
            } else {
                ring[w.idx()] = v;
            }
        };
        for port in c.inputs() {
            for s in &port.slots {
                share(s.wire(), matches!(s, Slot::Bit(_)), ring);
            }
        }
        for op in c.ops() {
            share(op.out(), op.drives_bit(), ring);
        }
        known
    }

    /// One level's interactive ops, a batch per kind.
    fn interactive_level(
        &mut self,
        ops: &[Op],
        ks: &[usize],
        ring: &mut [u128],
        bits: &mut [bool],
    ) -> Result<(), ArithError> {
        let (mut ands, mut muls, mut truncs, mut a2b, mut b2a) = (
            Vec::new(),
            Vec::new(),
            HashMap::new(),
            Vec::new(),
            Vec::new(),
        );
        for &k in ks {
            match &ops[k] {
                Op::Bool(Gate::And { a, b, out }) => ands.push((*a, *b, *out)),
                Op::Mul { a, b, out } => muls.push((*a, *b, *out)),
                Op::Trunc { a, frac, out } => truncs
                    .entry(*frac)
                    .or_insert_with(Vec::new)
                    .push((*a, *out)),
                Op::Bit { a, index, out } => a2b.push((*a, *index, *out)),
                Op::FromBits { .. } => b2a.push(k),
                _ => {}
            }
        }
        if !ands.is_empty() {
            let x = BitShares::new(pack(ands.iter().map(|t| bits[t.0.idx()])));
            let y = BitShares::new(pack(ands.iter().map(|t| bits[t.1.idx()])));
            let mut triples = self.bit_triples(x.len())?;
            let z = self.and(&x, &y, &mut triples)?;
            for (i, t) in ands.iter().enumerate() {
                bits[t.2.idx()] = lane(z.expose(), i);
            }
        }
        if !muls.is_empty() {
            let x = Shares::new(muls.iter().map(|t| ring[t.0.idx()]).collect());
            let y = Shares::new(muls.iter().map(|t| ring[t.1.idx()]).collect());
            let mut triples = self.triples::<u128>(muls.len())?;
            let z = self.mul(&x, &y, &mut triples)?;
            for (t, v) in muls.iter().zip(z.expose()) {
                ring[t.2.idx()] = *v;
            }
        }
        let mut fracs: Vec<u32> = truncs.keys().copied().collect();
        fracs.sort_unstable();
        for frac in fracs {
            let list = &truncs[&frac];
            let x = Shares::new(list.iter().map(|t| ring[t.0.idx()]).collect());
            let z = self.truncate_exact(&x, frac)?;
            for (t, v) in list.iter().zip(z.expose()) {
                ring[t.1.idx()] = *v;
            }
        }
        if !a2b.is_empty() {
            // One conversion per ring wire; the sign alone when only the
            // sign is read.
            let mut sources: Vec<Wire> = Vec::new();
            let mut slot: HashMap<Wire, usize> = HashMap::new();
            let mut sign_only = true;
            for &(a, index, _) in &a2b {
                sign_only &= index == 63;
                slot.entry(a).or_insert_with(|| {
                    sources.push(a);
                    sources.len() - 1
                });
            }
            let x = Shares::new(sources.iter().map(|a| ring[a.idx()] as u64).collect());
            if sign_only {
                let s = self.ltz(&x)?;
                for &(a, _, out) in &a2b {
                    bits[out.idx()] = lane(s.expose(), slot[&a]);
                }
            } else {
                let lanes = self.a2b(&x)?;
                for &(a, index, out) in &a2b {
                    let l = &lanes[index as usize];
                    bits[out.idx()] = lane(l.expose(), slot[&a]);
                }
            }
        }
        if !b2a.is_empty() {
            let mut sources: Vec<Wire> = Vec::new();
            let mut slot: HashMap<Wire, usize> = HashMap::new();
            for &k in &b2a {
                if let Op::FromBits { bits: bw, .. } = &ops[k] {
                    for w in bw {
                        slot.entry(*w).or_insert_with(|| {
                            sources.push(*w);
                            sources.len() - 1
                        });
                    }
                }
            }
            let words = BitShares::new(pack(sources.iter().map(|w| bits[w.idx()])));
            let arith: Shares<u128> = self.b2a(&words, sources.len())?;
            for &k in &b2a {
                if let Op::FromBits {
                    bits: bw,
                    signed,
                    out,
                } = &ops[k]
                {
                    let mut v = 0u128;
                    for (i, w) in bw.iter().enumerate() {
                        let b = arith.expose()[slot[w]];
                        let weight = if *signed && i + 1 == bw.len() {
                            (1u128 << i).wrapping_neg()
                        } else {
                            1u128 << i
                        };
                        v = v.wrapping_add(b.wrapping_mul(weight));
                    }
                    ring[out.idx()] = v;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::mixed::Port;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::tests::run;
    use super::*;

    fn w(i: u32) -> Wire {
        Wire::new(i)
    }

    fn arith(wire: u32) -> Vec<Slot> {
        vec![Slot::Arith {
            wire: w(wire),
            width: 64,
            signed: true,
        }]
    }

    /// Party 0's `x`, party 1's `y`, party 2's (or party 0's, with two
    /// parties) bit `b`:
    /// - `t = floor(3x / 2^4)` and its sign: party 0's alone;
    /// - `s = x + y`: a local sum of two parties' values, opened;
    /// - `p = floor((t + y)^2 / 2^8)`, and its sign, and `b` xor it.
    fn circuit(parties: usize) -> MixedCircuit {
        let b_owner = if parties > 2 { 2 } else { 0 };
        let inputs = vec![
            Port {
                name: "x".into(),
                party: 0,
                slots: arith(0),
            },
            Port {
                name: "y".into(),
                party: 1,
                slots: arith(1),
            },
            Port {
                name: "b".into(),
                party: b_owner,
                slots: vec![Slot::Bit(w(2))],
            },
        ];
        let ops = vec![
            Op::MulConst {
                a: w(0),
                k: 3,
                out: w(3),
            },
            Op::Trunc {
                a: w(3),
                frac: 4,
                out: w(4),
            },
            Op::Bit {
                a: w(4),
                index: 63,
                out: w(5),
            },
            Op::Add {
                a: w(0),
                b: w(1),
                out: w(6),
            },
            Op::Add {
                a: w(4),
                b: w(1),
                out: w(7),
            },
            Op::Mul {
                a: w(7),
                b: w(7),
                out: w(8),
            },
            Op::Trunc {
                a: w(8),
                frac: 8,
                out: w(9),
            },
            Op::Bit {
                a: w(9),
                index: 63,
                out: w(10),
            },
            Op::Bool(Gate::Xor {
                a: w(10),
                b: w(2),
                out: w(11),
            }),
        ];
        let outputs = vec![
            Port {
                name: "t".into(),
                party: 0,
                slots: arith(4),
            },
            Port {
                name: "t_sign".into(),
                party: 0,
                slots: vec![Slot::Bit(w(5))],
            },
            Port {
                name: "s".into(),
                party: 0,
                slots: arith(6),
            },
            Port {
                name: "p".into(),
                party: 0,
                slots: arith(9),
            },
            Port {
                name: "mixed".into(),
                party: 0,
                slots: vec![Slot::Bit(w(10)), Slot::Bit(w(11))],
            },
        ];
        MixedCircuit::new(12, inputs, outputs, ops).unwrap()
    }

    #[test]
    fn local_and_shared_ops_match_the_evaluator_for_2_to_4_parties() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for parties in 2..=4 {
            let c = circuit(parties);
            let x: i64 = rng.random_range(-(1 << 30)..1 << 30);
            let y: i64 = rng.random_range(-(1 << 30)..1 << 30);
            let b: bool = rng.random();
            let values = [
                Bits::from_u64(x as u64, 64),
                Bits::from_u64(y as u64, 64),
                Bits::from_bools(&[b]),
            ];
            let want = c.evaluate(&values).unwrap();
            // Every output to the last party only.
            let to = vec![vec![parties - 1]; c.outputs().len()];
            let results = run(parties, |mut p| {
                let me = p.id();
                let mine: Vec<Option<Bits>> = c
                    .inputs()
                    .iter()
                    .zip(&values)
                    .map(|(port, v)| (port.party == me).then(|| v.clone()))
                    .collect();
                p.run_mixed(&c, &mine, &to)
            });
            for (i, r) in results.into_iter().enumerate() {
                let o = r.unwrap();
                // MulConst, Trunc and Bit on x are party 0's alone.
                assert_eq!(o.local_ops, 3, "{parties} parties");
                if i == parties - 1 {
                    let got: Vec<Bits> = o.outputs.into_iter().map(Option::unwrap).collect();
                    assert_eq!(got, want, "{parties} parties, x {x}, y {y}, b {b}");
                } else {
                    assert!(o.outputs.iter().all(Option::is_none));
                }
            }
        }
    }

    #[test]
    fn zero_sharings_sum_to_zero_and_are_not_zero() {
        for parties in 2..=4 {
            let results = run(parties, |mut p| p.zero_sharing::<u128>(5, 2));
            let parts: Vec<(Vec<u128>, Vec<u64>)> =
                results.into_iter().map(Result::unwrap).collect();
            for k in 0..5 {
                let sum = parts.iter().fold(0u128, |a, p| a.wrapping_add(p.0[k]));
                assert_eq!(sum, 0);
            }
            for k in 0..2 {
                assert_eq!(parts.iter().fold(0u64, |a, p| a ^ p.1[k]), 0);
            }
            assert!(parts.iter().all(|p| p.0.iter().all(|&v| v != 0)));
        }
    }
}
