//! The mixed IR: Boolean gates and arithmetic gates over `Z_2^128` in one
//! circuit, for the N-party arithmetic backend.
//!
//! A [`MixedCircuit`] has one wire space. A wire carries either a bit (a
//! Boolean [`Gate`] drives it, or a bit input) or a ring element of
//! `Z_2^128` (an arithmetic [`Op`] drives it, or an arithmetic input).
//! Every op drives exactly one wire and reads only wires driven before it,
//! so the op list is in topological order, as in [`Circuit`](crate::Circuit).
//!
//! Integers of `w ≤ 64` bits live in the ring as their value modulo `2^w`
//! plus some multiple of `2^w`: addition, subtraction and multiplication
//! commute with reduction modulo `2^w`, so the low `w` bits are always
//! right, and [`Op::Bit`] (conversion to Boolean, A2B) reads only those.
//! Signed integers and fixed-point numbers enter sign-extended, so that the
//! ring element is the value itself while nothing overflows; [`Op::Trunc`]
//! (fixed-point rounding, `floor(x / 2^f)` of the signed value) relies on it.
//! The plaintext evaluator [`MixedCircuit::evaluate`] defines the meaning
//! of every op; the runtime in `engine::arith` must match it.

use thiserror::Error;

use crate::Bits;
use crate::circuit::{Gate, GateSink, Wire};
use crate::eval::EvalError;

/// An operation of the mixed IR. Each drives one wire, `out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A Boolean gate on bit wires.
    Bool(Gate),
    /// `out = value`, a public ring element.
    Const {
        /// The constant.
        value: u128,
        /// The driven wire.
        out: Wire,
    },
    /// `out = a + b`.
    Add {
        /// First operand.
        a: Wire,
        /// Second operand.
        b: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = a - b`.
    Sub {
        /// First operand.
        a: Wire,
        /// Second operand.
        b: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = a · k` for a public `k`: local.
    MulConst {
        /// The operand.
        a: Wire,
        /// The public factor.
        k: u128,
        /// The driven wire.
        out: Wire,
    },
    /// `out = a · b`: one Beaver triple, one round.
    Mul {
        /// First operand.
        a: Wire,
        /// Second operand.
        b: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = floor(a / 2^frac)`, `a` read as a signed 128-bit integer:
    /// fixed-point rounding after a product.
    Trunc {
        /// The operand.
        a: Wire,
        /// Bits shifted out.
        frac: u32,
        /// The driven wire.
        out: Wire,
    },
    /// `out` = bit `index` (below 64) of `a`: conversion to Boolean.
    Bit {
        /// The arithmetic operand.
        a: Wire,
        /// Which bit, 0 the least significant.
        index: u32,
        /// The driven bit wire.
        out: Wire,
    },
    /// `out = Σ_i 2^i bits[i]`, less `2^w` times the top bit when `signed`
    /// (`w` bits): conversion from Boolean.
    FromBits {
        /// The bits, least significant first.
        bits: Vec<Wire>,
        /// Two's complement.
        signed: bool,
        /// The driven wire.
        out: Wire,
    },
}

impl Op {
    /// The wire this op drives.
    pub fn out(&self) -> Wire {
        match self {
            Op::Bool(g) => g.out(),
            Op::Const { out, .. }
            | Op::Add { out, .. }
            | Op::Sub { out, .. }
            | Op::MulConst { out, .. }
            | Op::Mul { out, .. }
            | Op::Trunc { out, .. }
            | Op::Bit { out, .. }
            | Op::FromBits { out, .. } => *out,
        }
    }

    /// The wires this op reads.
    pub fn inputs(&self) -> Vec<Wire> {
        match self {
            Op::Bool(g) => g.inputs().collect(),
            Op::Const { .. } => Vec::new(),
            Op::Add { a, b, .. } | Op::Sub { a, b, .. } | Op::Mul { a, b, .. } => vec![*a, *b],
            Op::MulConst { a, .. } | Op::Trunc { a, .. } | Op::Bit { a, .. } => vec![*a],
            Op::FromBits { bits, .. } => bits.clone(),
        }
    }
}

/// One place of a port: a bit wire, or an arithmetic wire standing for a
/// `width`-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// One bit.
    Bit(Wire),
    /// An integer or fixed-point value of `width` bits, in one ring wire.
    Arith {
        /// The wire.
        wire: Wire,
        /// Its width in bits (at most 64).
        width: u32,
        /// Whether it enters sign-extended.
        signed: bool,
    },
}

impl Slot {
    /// The slot's wire.
    pub fn wire(&self) -> Wire {
        match *self {
            Slot::Bit(w) | Slot::Arith { wire: w, .. } => w,
        }
    }
}

impl Slot {
    /// Bits this slot stands for.
    pub fn width(&self) -> usize {
        match self {
            Slot::Bit(_) => 1,
            Slot::Arith { width, .. } => *width as usize,
        }
    }
}

/// An input or output: a name and its slots, least significant first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The name.
    pub name: String,
    /// The providing party (inputs); unused for outputs.
    pub party: usize,
    /// The slots, in the order of the value's bits.
    pub slots: Vec<Slot>,
}

impl Port {
    /// The value's width in bits.
    pub fn width(&self) -> usize {
        self.slots.iter().map(Slot::width).sum()
    }
}

/// Why a mixed circuit is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MixedError {
    /// An op reads a wire no earlier op or input drives.
    #[error("op {op} reads wire {wire}, which nothing before it drives")]
    Undriven {
        /// The op's index.
        op: usize,
        /// The wire.
        wire: u32,
    },
    /// A wire is driven twice, or out of range.
    #[error("op {op} drives wire {wire}, which is driven already or out of range")]
    Redriven {
        /// The op's index.
        op: usize,
        /// The wire.
        wire: u32,
    },
    /// An output names a wire nothing drives.
    #[error("output `{0}` reads a wire that nothing drives")]
    Output(String),
    /// A bit index or width out of range.
    #[error("op {0}: bit index, width or shift out of range")]
    Range(usize),
}

/// A validated mixed circuit. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MixedCircuit {
    wires: u32,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    ops: Vec<Op>,
}

/// Counts of the ops that cost communication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixedStats {
    /// Boolean AND gates (GMW).
    pub and: u64,
    /// Ring products (Beaver triples).
    pub mul: u64,
    /// Fixed-point truncations.
    pub trunc: u64,
    /// Values converted to Boolean ([`Op::Bit`] groups: one A2B each).
    pub a2b: u64,
    /// Bits converted to ring elements (one daBit each).
    pub b2a_bits: u64,
    /// Every op.
    pub ops: u64,
}

impl MixedCircuit {
    /// Checks the normal form: inputs drive their wires first, then each
    /// op drives a fresh wire and reads only driven ones.
    pub fn new(
        wires: u32,
        inputs: Vec<Port>,
        outputs: Vec<Port>,
        ops: Vec<Op>,
    ) -> Result<Self, MixedError> {
        let mut driven = vec![false; wires as usize];
        fn drive(driven: &mut [bool], w: Wire, op: usize) -> Result<(), MixedError> {
            match driven.get_mut(w.idx()) {
                Some(d) if !*d => {
                    *d = true;
                    Ok(())
                }
                _ => Err(MixedError::Redriven {
                    op,
                    wire: w.index(),
                }),
            }
        }
        for port in &inputs {
            for s in &port.slots {
                match *s {
                    Slot::Bit(w) => drive(&mut driven, w, 0)?,
                    Slot::Arith { wire, width, .. } => {
                        if width == 0 || width > 64 {
                            return Err(MixedError::Range(0));
                        }
                        drive(&mut driven, wire, 0)?
                    }
                }
            }
        }
        for (k, op) in ops.iter().enumerate() {
            for w in op.inputs() {
                if !driven.get(w.idx()).copied().unwrap_or(false) {
                    return Err(MixedError::Undriven {
                        op: k,
                        wire: w.index(),
                    });
                }
            }
            match op {
                Op::Bit { index, .. } if *index >= 64 => return Err(MixedError::Range(k)),
                Op::Trunc { frac, .. } if *frac == 0 || *frac >= 64 => {
                    return Err(MixedError::Range(k));
                }
                Op::FromBits { bits, .. } if bits.is_empty() || bits.len() > 64 => {
                    return Err(MixedError::Range(k));
                }
                _ => {}
            }
            drive(&mut driven, op.out(), k)?;
        }
        for port in &outputs {
            for s in &port.slots {
                let w = match *s {
                    Slot::Bit(w) | Slot::Arith { wire: w, .. } => w,
                };
                if !driven.get(w.idx()).copied().unwrap_or(false) {
                    return Err(MixedError::Output(port.name.clone()));
                }
            }
        }
        Ok(Self {
            wires,
            inputs,
            outputs,
            ops,
        })
    }

    /// Number of wires.
    pub fn num_wires(&self) -> usize {
        self.wires as usize
    }

    /// The inputs, in order.
    pub fn inputs(&self) -> &[Port] {
        &self.inputs
    }

    /// The outputs, in order.
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }

    /// The ops, in topological order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Counts of the costly ops.
    pub fn stats(&self) -> MixedStats {
        let mut s = MixedStats {
            ops: self.ops.len() as u64,
            ..MixedStats::default()
        };
        let mut converted = std::collections::HashSet::new();
        for op in &self.ops {
            match op {
                Op::Bool(Gate::And { .. }) => s.and += 1,
                Op::Mul { .. } => s.mul += 1,
                Op::Trunc { .. } => s.trunc += 1,
                Op::Bit { a, .. } if converted.insert(*a) => s.a2b += 1,
                Op::FromBits { bits, .. } => s.b2a_bits += bits.len() as u64,
                _ => {}
            }
        }
        s
    }

    /// Evaluates in the clear: one value per input, one per output. This
    /// is the meaning of the IR that every protocol run must match.
    pub fn evaluate(&self, inputs: &[Bits]) -> Result<Vec<Bits>, EvalError> {
        if inputs.len() != self.inputs.len() {
            return Err(EvalError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let mut w = vec![0u128; self.wires as usize];
        for (index, (port, v)) in self.inputs.iter().zip(inputs).enumerate() {
            if v.width() != port.width() {
                return Err(EvalError::InputWidth {
                    index,
                    name: port.name.clone(),
                    expected: port.width(),
                    got: v.width(),
                });
            }
            let mut at = 0;
            for s in &port.slots {
                match *s {
                    Slot::Bit(x) => w[x.idx()] = u128::from(v.get(at)),
                    Slot::Arith {
                        wire,
                        width,
                        signed,
                    } => {
                        let bits: Vec<bool> = (at..at + width as usize).map(|i| v.get(i)).collect();
                        w[wire.idx()] = from_bits(&bits, signed);
                    }
                }
                at += s.width();
            }
        }
        for op in &self.ops {
            let r = op.eval(|x| w[x.idx()]);
            w[op.out().idx()] = r;
        }
        Ok(self
            .outputs
            .iter()
            .map(|port| {
                let mut bits = Vec::with_capacity(port.width());
                for s in &port.slots {
                    match *s {
                        Slot::Bit(x) => bits.push(w[x.idx()] & 1 == 1),
                        Slot::Arith { wire, width, .. } => {
                            bits.extend((0..width).map(|i| w[wire.idx()] >> i & 1 == 1))
                        }
                    }
                }
                Bits::from_bools(&bits)
            })
            .collect())
    }
}

/// The ring element of `bits` (least significant first), sign-extended
/// when `signed`.
pub fn from_bits(bits: &[bool], signed: bool) -> u128 {
    let mut v = 0u128;
    for (i, &b) in bits.iter().enumerate() {
        v |= u128::from(b) << i;
    }
    match bits.last() {
        Some(true) if signed => v | (u128::MAX << (bits.len() - 1)),
        _ => v,
    }
}

/// Where a [`CircuitBuilder`](crate::CircuitBuilder) sends its gates while a
/// compiler builds either a plain Boolean circuit or a mixed one.
#[derive(Debug)]
pub enum OpSink {
    /// Boolean gates only.
    Gates(Vec<Gate>),
    /// Boolean gates and arithmetic ops, in order.
    Ops(MixedOps),
}

/// The ops of a mixed circuit being built, with the bit conversions that
/// are declared but made only when something reads them.
#[derive(Debug, Default)]
pub struct MixedOps {
    ops: Vec<Op>,
    /// Blocks of bit wires standing for the low bits of a ring wire, sorted
    /// by first wire: (first wire, ring wire, width, bits made so far).
    /// A sorted list rather than a tree: the compiler declares blocks in
    /// the order it numbers wires, so each is appended at the end.
    lazy: Vec<(u32, Wire, u32, u64)>,
}

impl MixedOps {
    /// Declares wires `first..first + width` as the low bits of ring wire
    /// `a`; each gets its [`Op::Bit`] just before its first reader.
    pub fn declare_bits(&mut self, first: Wire, a: Wire, width: u32) {
        let entry = (first.index(), a, width.min(64), 0);
        match self.lazy.last() {
            // Out of order: a shift of the later blocks, O(n). The compiler
            // declares blocks as it numbers wires, so this is rare.
            Some(last) if last.0 >= first.index() => {
                match self.lazy.binary_search_by_key(&first.index(), |e| e.0) {
                    Ok(k) => self.lazy[k] = entry,
                    Err(k) => self.lazy.insert(k, entry),
                }
            }
            _ => self.lazy.push(entry),
        }
    }

    /// How many blocks start at or before wire `w`. Searched from the end,
    /// in steps that double, then by halves: an op mostly reads wires made
    /// shortly before it, whose blocks are among the last.
    fn blocks_to(&self, w: u32) -> usize {
        let n = self.lazy.len();
        let (mut lo, mut hi, mut step) = (n, n, 1);
        // Invariant: every block at `hi..` starts after `w`.
        while lo > 0 && self.lazy[lo - 1].0 > w {
            hi = lo - 1;
            lo = lo.saturating_sub(step);
            step *= 2;
        }
        // Now the block at `lo - 1` (if any) starts at or before `w`.
        lo + self.lazy[lo..hi].partition_point(|e| e.0 <= w)
    }

    /// The declared block that starts at `first`.
    fn block(&self, first: u32) -> Option<&(u32, Wire, u32, u64)> {
        let k = self.blocks_to(first).checked_sub(1)?;
        self.lazy.get(k).filter(|e| e.0 == first)
    }

    /// The ring wire whose bits are exactly `first..first + width`.
    pub fn ring_of(&self, first: Wire, width: u32) -> Option<Wire> {
        self.block(first.index())
            .filter(|e| e.2 == width)
            .map(|e| e.1)
    }

    /// Makes bit wire `w`'s conversion if it is a declared, unmade one.
    pub fn need(&mut self, w: Wire) {
        // The last block starting at or before `w`.
        let k = self.blocks_to(w.index());
        let Some(entry) = k.checked_sub(1).and_then(|k| self.lazy.get_mut(k)) else {
            return;
        };
        let index = w.index() - entry.0;
        if index >= entry.2 || entry.3 >> index & 1 == 1 {
            return;
        }
        entry.3 |= 1 << index;
        let a = entry.1;
        self.ops.push(Op::Bit { a, index, out: w });
    }

    fn push(&mut self, op: Op) {
        for w in op.inputs() {
            self.need(w);
        }
        self.ops.push(op);
    }

    /// The ops, in order.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

impl GateSink for OpSink {
    fn push(&mut self, gate: Gate) {
        match self {
            OpSink::Gates(g) => g.push(gate),
            OpSink::Ops(o) => o.push(Op::Bool(gate)),
        }
    }
}

impl OpSink {
    /// Appends an arithmetic op (ignored by a Boolean-only sink, which a
    /// compiler in Boolean mode never gives one).
    pub fn push_op(&mut self, op: Op) {
        match self {
            OpSink::Gates(_) => {}
            OpSink::Ops(o) => o.push(op),
        }
    }

    /// The mixed ops, if this sink takes them.
    pub fn mixed(&mut self) -> Option<&mut MixedOps> {
        match self {
            OpSink::Gates(_) => None,
            OpSink::Ops(o) => Some(o),
        }
    }
}

/// Removes the ops no output depends on, then numbers the wires that are
/// left densely (inputs first). Returns the wire count and the renumbered
/// inputs, outputs and ops.
pub fn prune(
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    ops: Vec<Op>,
    wires: u32,
) -> (u32, Vec<Port>, Vec<Port>, Vec<Op>) {
    let ops = prune_ops(&outputs, ops, wires);
    // Old number -> new. A map, not a table over every old number: a
    // program may reserve far more wire numbers than it ends up using.
    let mut map: WireMap = WireMap::default();
    map.reserve(ops.len() + inputs.iter().map(|p| p.slots.len()).sum::<usize>());
    let mut next = 0u32;
    // A driven wire gets the next number; a read one keeps the number its
    // driver got (every read wire is driven earlier).
    let mut fresh = |w: Wire, map: &mut WireMap| {
        Wire::new(*map.entry(w.index()).or_insert_with(|| {
            next += 1;
            next - 1
        }))
    };
    let read = |w: Wire, map: &WireMap| Wire::new(map.get(&w.index()).copied().unwrap_or(u32::MAX));
    let inputs: Vec<Port> = inputs
        .into_iter()
        .map(|p| Port {
            slots: p
                .slots
                .into_iter()
                .map(|s| s.map(|w| fresh(w, &mut map)))
                .collect(),
            ..p
        })
        .collect();
    // In place: the list is rewritten into its own allocation, not copied.
    let mut out_ops: Vec<Op> = ops
        .into_iter()
        .map(|op| {
            let op = op.map_inputs(|w| read(w, &map));
            let out = fresh(op.out(), &mut map);
            op.with_out(out)
        })
        .collect();
    let outputs: Vec<Port> = outputs
        .into_iter()
        .map(|p| Port {
            slots: p
                .slots
                .into_iter()
                .map(|s| s.map(|w| read(w, &map)))
                .collect(),
            ..p
        })
        .collect();
    // The list was grown by doubling and may have lost ops: give back the
    // slack the circuit would otherwise hold for the whole run.
    out_ops.shrink_to_fit();
    (next, inputs, outputs, out_ops)
}

impl Slot {
    /// The slot with its wire replaced by `f`'s.
    fn map(self, mut f: impl FnMut(Wire) -> Wire) -> Slot {
        match self {
            Slot::Bit(w) => Slot::Bit(f(w)),
            Slot::Arith {
                wire,
                width,
                signed,
            } => Slot::Arith {
                wire: f(wire),
                width,
                signed,
            },
        }
    }
}

impl Op {
    /// The op with every wire it reads replaced by `f`'s.
    fn map_inputs(self, mut f: impl FnMut(Wire) -> Wire) -> Op {
        match self {
            Op::Bool(g) => Op::Bool(match g {
                Gate::Xor { a, b, out } => Gate::Xor {
                    a: f(a),
                    b: f(b),
                    out,
                },
                Gate::And { a, b, out } => Gate::And {
                    a: f(a),
                    b: f(b),
                    out,
                },
                Gate::Not { a, out } => Gate::Not { a: f(a), out },
                c @ Gate::Const { .. } => c,
            }),
            Op::Add { a, b, out } => Op::Add {
                a: f(a),
                b: f(b),
                out,
            },
            Op::Sub { a, b, out } => Op::Sub {
                a: f(a),
                b: f(b),
                out,
            },
            Op::Mul { a, b, out } => Op::Mul {
                a: f(a),
                b: f(b),
                out,
            },
            Op::MulConst { a, k, out } => Op::MulConst { a: f(a), k, out },
            Op::Trunc { a, frac, out } => Op::Trunc { a: f(a), frac, out },
            Op::Bit { a, index, out } => Op::Bit {
                a: f(a),
                index,
                out,
            },
            Op::FromBits { bits, signed, out } => Op::FromBits {
                bits: bits.into_iter().map(f).collect(),
                signed,
                out,
            },
            c @ Op::Const { .. } => c,
        }
    }

    /// The op driving `o` instead.
    fn with_out(mut self, o: Wire) -> Op {
        match &mut self {
            Op::Bool(g) => {
                *g = match *g {
                    Gate::Xor { a, b, .. } => Gate::Xor { a, b, out: o },
                    Gate::And { a, b, .. } => Gate::And { a, b, out: o },
                    Gate::Not { a, .. } => Gate::Not { a, out: o },
                    Gate::Const { value, .. } => Gate::Const { value, out: o },
                }
            }
            Op::Const { out, .. }
            | Op::Add { out, .. }
            | Op::Sub { out, .. }
            | Op::MulConst { out, .. }
            | Op::Mul { out, .. }
            | Op::Trunc { out, .. }
            | Op::Bit { out, .. }
            | Op::FromBits { out, .. } => *out = o,
        }
        self
    }
}

impl Op {
    /// The op's value in the clear, given each input wire's value (a bit
    /// wire's is 0 or 1): what every backend must compute for it.
    pub fn eval(&self, w: impl Fn(Wire) -> u128) -> u128 {
        match *self {
            Op::Bool(g) => match g {
                Gate::Xor { a, b, .. } => w(a) ^ w(b),
                Gate::And { a, b, .. } => w(a) & w(b),
                Gate::Not { a, .. } => w(a) ^ 1,
                Gate::Const { value, .. } => u128::from(value),
            },
            Op::Const { value, .. } => value,
            Op::Add { a, b, .. } => w(a).wrapping_add(w(b)),
            Op::Sub { a, b, .. } => w(a).wrapping_sub(w(b)),
            Op::MulConst { a, k, .. } => w(a).wrapping_mul(k),
            Op::Mul { a, b, .. } => w(a).wrapping_mul(w(b)),
            Op::Trunc { a, frac, .. } => ((w(a) as i128) >> frac) as u128,
            Op::Bit { a, index, .. } => w(a) >> index & 1,
            Op::FromBits {
                ref bits, signed, ..
            } => {
                let b: Vec<bool> = bits.iter().map(|&x| w(x) & 1 == 1).collect();
                from_bits(&b, signed)
            }
        }
    }

    /// Whether the op drives a bit wire (rather than a ring wire).
    pub fn drives_bit(&self) -> bool {
        matches!(self, Op::Bool(_) | Op::Bit { .. })
    }
}

/// Wire numbers to wire numbers (the keys are distinct integers, not
/// adversarial: they come from the compiler).
type WireMap = std::collections::HashMap<u32, u32, std::hash::BuildHasherDefault<WireHasher>>;

/// A `u32` kept (with its high bits folded in) in the low bits of its
/// hash, so that the table puts wires with near numbers in near buckets:
/// an op reads wires driven shortly before it, whose buckets are then
/// still in cache. The top seven bits, which the table compares within a
/// group of buckets, come from a Fibonacci hash so that they differ
/// between neighbours.
#[derive(Default)]
struct WireHasher(u64);

impl std::hash::Hasher for WireHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        let n = u64::from(n);
        // High bits folded into the low ones: wires within 2^11 of each
        // other mostly stay near, while wires an even stride apart do not
        // all fall on every stride-th bucket.
        let low = n ^ (n >> 11) ^ (n >> 22);
        self.0 = low | (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) & !(u64::MAX >> 7));
    }
}

fn prune_ops(outputs: &[Port], ops: Vec<Op>, wires: u32) -> Vec<Op> {
    // One bit per wire number.
    let mut live = vec![0u64; (wires as usize).div_ceil(64)];
    let mut mark = |w: Wire| {
        if let Some(word) = live.get_mut(w.idx() / 64) {
            *word |= 1 << (w.idx() % 64);
        }
    };
    for port in outputs {
        for s in &port.slots {
            match *s {
                Slot::Bit(w) | Slot::Arith { wire: w, .. } => mark(w),
            }
        }
    }
    let mut keep = vec![false; ops.len()];
    for (k, op) in ops.iter().enumerate().rev() {
        let out = op.out().idx();
        if live
            .get(out / 64)
            .is_some_and(|word| word >> (out % 64) & 1 == 1)
        {
            keep[k] = true;
            for w in op.inputs() {
                if let Some(word) = live.get_mut(w.idx() / 64) {
                    *word |= 1 << (w.idx() % 64);
                }
            }
        }
    }
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, k)| k.then_some(op))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bit_ops(m: &MixedOps) -> Vec<(u32, u32, u32)> {
        m.ops
            .iter()
            .filter_map(|op| match *op {
                Op::Bit { a, index, out } => Some((a.index(), index, out.index())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn need_and_ring_of_agree_with_a_tree_over_many_blocks() {
        use std::collections::BTreeMap;
        // Blocks at irregular places, a few declared out of order; every
        // wire around them asked for, far back and near.
        let mut m = MixedOps::default();
        let mut tree: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
        let mut at = 7u32;
        for k in 0..600u32 {
            let width = 1 + (k * 37 % 64);
            let first = if k % 50 == 49 { at / 2 * 2 + 1 } else { at };
            if tree.range(first..first + 1).next().is_none() {
                m.declare_bits(Wire::new(first), Wire::new(k), width);
                tree.insert(first, (k, width));
            }
            at += width + k * 13 % 97;
        }
        for w in (0..at + 10).rev().step_by(3).chain(0..at) {
            let expect = tree
                .range(..=w)
                .next_back()
                .filter(|(f, (_, width))| w - **f < *width)
                .map(|(f, (a, _))| (*a, w - f));
            let before = m.ops.len();
            m.need(Wire::new(w));
            let made = m.ops[before..].iter().find_map(|op| match *op {
                Op::Bit { a, index, .. } => Some((a.index(), index)),
                _ => None,
            });
            let first_time = m.ops[..before].iter().all(|op| op.out() != Wire::new(w));
            assert_eq!(made, expect.filter(|_| first_time), "wire {w}");
            if let Some((a, width)) = tree.get(&w) {
                assert_eq!(m.ring_of(Wire::new(w), *width), Some(Wire::new(*a)));
            } else {
                assert_eq!(m.ring_of(Wire::new(w), 1), None, "wire {w}");
            }
        }
    }

    #[test]
    fn declared_bits_are_made_once_each_whatever_the_declaration_order() {
        let mut m = MixedOps::default();
        // Blocks at 100..164 (ring wire 1), 10..18 (ring wire 2, declared
        // out of order), 300..302 (ring wire 3), and far past them
        // 10_000..10_004 (ring wire 4), then 10 redeclared.
        m.declare_bits(Wire::new(100), Wire::new(1), 64);
        m.declare_bits(Wire::new(300), Wire::new(3), 2);
        m.declare_bits(Wire::new(10), Wire::new(9), 8);
        m.declare_bits(Wire::new(10_000), Wire::new(4), 4);
        m.declare_bits(Wire::new(10), Wire::new(2), 8);
        assert_eq!(m.ring_of(Wire::new(100), 64), Some(Wire::new(1)));
        assert_eq!(m.ring_of(Wire::new(100), 8), None);
        assert_eq!(m.ring_of(Wire::new(10), 8), Some(Wire::new(2)));
        assert_eq!(m.ring_of(Wire::new(11), 7), None);
        assert_eq!(m.ring_of(Wire::new(10_000), 4), Some(Wire::new(4)));
        for w in [
            163, 17, 10, 301, 17, 302, 5, 18, 99, 164, 10_003, 10_004, 100, 163,
        ] {
            m.need(Wire::new(w));
        }
        assert_eq!(
            bit_ops(&m),
            vec![
                (1, 63, 163),
                (2, 7, 17),
                (2, 0, 10),
                (3, 1, 301),
                (4, 3, 10_003),
                (1, 0, 100),
            ]
        );
    }
}
