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
}

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
        self.share_inputs_mixed(c, inputs, &mut ring, &mut bits)?;

        // Levels.
        let mut level = vec![0u32; c.num_wires()];
        let mut levels: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for (k, op) in c.ops().iter().enumerate() {
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

        let mut outputs = Vec::with_capacity(c.outputs().len());
        for (port, recipients) in c.outputs().iter().zip(to) {
            let bit_words = pack(port.slots.iter().filter_map(|s| match s {
                Slot::Bit(w) => Some(bits[w.idx()]),
                Slot::Arith { .. } => None,
            }));
            let ring_vals: Vec<u128> = port
                .slots
                .iter()
                .filter_map(|s| match s {
                    Slot::Arith { wire, .. } => Some(ring[wire.idx()]),
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
            levels: levels.len().saturating_sub(1) as u32,
        })
    }

    /// Shares every input: each owner's ring values in one batch, its bits
    /// in another.
    fn share_inputs_mixed(
        &mut self,
        c: &MixedCircuit,
        inputs: &[Option<Bits>],
        ring: &mut [u128],
        bits: &mut [bool],
    ) -> Result<(), ArithError> {
        for owner in 0..self.n {
            let mut ring_wires: Vec<Wire> = Vec::new();
            let mut ring_vals: Vec<u128> = Vec::new();
            let mut bit_wires: Vec<Wire> = Vec::new();
            let mut bit_vals: Vec<bool> = Vec::new();
            for (port, v) in c.inputs().iter().zip(inputs) {
                if port.party != owner {
                    continue;
                }
                let mut at = 0;
                for s in &port.slots {
                    match *s {
                        Slot::Bit(w) => {
                            bit_wires.push(w);
                            if let Some(v) = v {
                                bit_vals.push(v.get(at));
                            }
                        }
                        Slot::Arith {
                            wire,
                            width,
                            signed,
                        } => {
                            ring_wires.push(wire);
                            if let Some(v) = v {
                                let b: Vec<bool> =
                                    (at..at + width as usize).map(|i| v.get(i)).collect();
                                ring_vals.push(quorate_circuits::mixed::from_bits(&b, signed));
                            }
                        }
                    }
                    at += s.width();
                }
            }
            let mine = owner == self.me;
            if !ring_wires.is_empty() {
                let s = self.input::<u128>(
                    owner,
                    mine.then_some(ring_vals.as_slice()),
                    ring_wires.len(),
                )?;
                for (w, v) in ring_wires.iter().zip(s.expose()) {
                    ring[w.idx()] = *v;
                }
            }
            if !bit_wires.is_empty() {
                let words = pack(bit_vals.iter().copied());
                let s = self.input_bits(
                    owner,
                    mine.then_some(words.as_slice()),
                    bit_wires.len().div_ceil(64),
                )?;
                for (i, w) in bit_wires.iter().enumerate() {
                    bits[w.idx()] = lane(s.expose(), i);
                }
            }
        }
        Ok(())
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
