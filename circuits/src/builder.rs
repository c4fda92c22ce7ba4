//! [`CircuitBuilder`]: writes circuits bit by bit or word by word (see
//! [`crate::gadgets`]), folding constants as it goes.
//!
//! A [`Bit`] is either a public constant or a wire. Operations on constants
//! emit no AND or XOR gate (`x & 0 = 0`, `x & 1 = x`, `x ^ x = 0`; `x ^ 1`
//! becomes a free NOT, and `!!x` is `x` again), so a gadget applied
//! to a constant operand costs only what the constant leaves to compute: a
//! multiplication by a public constant becomes shifts and additions of the
//! set bits, a comparison with a constant shrinks.
//!
//! Gates go to a [`GateSink`] as they are made. The default sink, a
//! `Vec<Gate>`, gives a stored [`Circuit`] from [`CircuitBuilder::finish`];
//! any other sink (an evaluator, a garbler, a writer) consumes the circuit as
//! it is generated, and [`CircuitBuilder::finish_stream`] hands back the sink
//! and the interface. Inputs are declared before the first gate so that they
//! occupy wires `0..input_bits`, the circuit's normal form.

use std::collections::HashMap;

use thiserror::Error;

use crate::circuit::{
    Circuit, CircuitError, CircuitStats, Gate, GateKind, GateSink, Input, Interface, Output, Party,
    PartyId, Wire,
};

/// One bit of a value being built: a public constant, or a wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bit {
    /// A public constant, known when the circuit is built.
    Const(bool),
    /// A wire, known only when the circuit runs.
    Wire(Wire),
}

impl Bit {
    /// Constant 0.
    pub const ZERO: Bit = Bit::Const(false);
    /// Constant 1.
    pub const ONE: Bit = Bit::Const(true);

    /// The constant, if this bit is one.
    pub const fn as_const(self) -> Option<bool> {
        match self {
            Bit::Const(v) => Some(v),
            Bit::Wire(_) => None,
        }
    }
}

/// A word: bits, least significant first. Whether it is signed is up to the
/// gadget applied to it ([`crate::gadgets::Signedness`]).
///
/// A word whose bits are consecutive wires (a value made by another kind of
/// op, whose bits are made only if something reads them) is stored as the
/// range alone, so a program with millions of such values does not hold a
/// list of bits for each.
#[derive(Clone, Debug)]
pub struct Word(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Bits(Vec<Bit>),
    /// Wires `first..first + width`.
    Run {
        first: u32,
        width: u32,
    },
}

impl Default for Word {
    fn default() -> Self {
        Word(Repr::Bits(Vec::new()))
    }
}

impl PartialEq for Word {
    fn eq(&self, other: &Self) -> bool {
        self.width() == other.width() && self.iter().eq(other.iter())
    }
}

impl Eq for Word {}

impl std::hash::Hash for Word {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.width().hash(state);
        for b in self.iter() {
            b.hash(state);
        }
    }
}

impl Word {
    /// A word of these bits, least significant first.
    pub fn from_bits(bits: Vec<Bit>) -> Self {
        Self(Repr::Bits(bits))
    }

    /// The word of wires `first..first + width`, stored without a list of
    /// its bits.
    ///
    /// # Panics
    /// If the last wire's index does not fit in 32 bits.
    pub fn wire_run(first: Wire, width: u32) -> Self {
        assert!(
            first.index().checked_add(width).is_some(),
            "wire run past 2^32"
        );
        Self(Repr::Run {
            first: first.index(),
            width,
        })
    }

    /// The first wire and width, if this word is a run of consecutive wires.
    pub fn as_wire_run(&self) -> Option<(Wire, u32)> {
        match &self.0 {
            Repr::Run { first, width } => Some((Wire::new(*first), *width)),
            Repr::Bits(bits) => {
                let Some(&Bit::Wire(first)) = bits.first() else {
                    return None;
                };
                let width = u32::try_from(bits.len()).ok()?;
                bits.iter()
                    .enumerate()
                    .all(|(i, b)| {
                        first
                            .index()
                            .checked_add(i as u32)
                            .is_some_and(|w| *b == Bit::Wire(Wire::new(w)))
                    })
                    .then_some((first, width))
            }
        }
    }

    /// The public constant `value`, truncated to `width` bits or
    /// zero-extended past 64.
    pub fn constant(value: u64, width: usize) -> Self {
        (0..width)
            .map(|i| Bit::Const(i < 64 && value >> i & 1 == 1))
            .collect()
    }

    /// The signed public constant `value` in `width` bits, sign-extended past 64.
    pub fn constant_signed(value: i64, width: usize) -> Self {
        (0..width)
            .map(|i| Bit::Const(value >> i.min(63) & 1 == 1))
            .collect()
    }

    /// Width in bits.
    pub fn width(&self) -> usize {
        match &self.0 {
            Repr::Bits(bits) => bits.len(),
            Repr::Run { width, .. } => *width as usize,
        }
    }

    /// Bit `i`, if `i < width`.
    pub fn get(&self, i: usize) -> Option<Bit> {
        match &self.0 {
            Repr::Bits(bits) => bits.get(i).copied(),
            Repr::Run { first, width } => {
                (i < *width as usize).then(|| Bit::Wire(Wire::new(first.wrapping_add(i as u32))))
            }
        }
    }

    /// The bits, least significant first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Bit> + '_ {
        (0..self.width()).map(|i| self.get(i).unwrap_or(Bit::ZERO))
    }

    /// The bits, least significant first (borrowed unless the word is a
    /// run of wires).
    pub fn bits(&self) -> std::borrow::Cow<'_, [Bit]> {
        match &self.0 {
            Repr::Bits(bits) => std::borrow::Cow::Borrowed(bits),
            Repr::Run { .. } => std::borrow::Cow::Owned(self.iter().collect()),
        }
    }

    /// Bit `i`.
    ///
    /// # Panics
    /// If `i >= width`.
    pub fn bit(&self, i: usize) -> Bit {
        match self.get(i) {
            Some(b) => b,
            None => panic!("bit {i} of a {}-bit word", self.width()),
        }
    }

    /// The most significant bit: the sign of a signed word.
    ///
    /// # Panics
    /// If the word is empty.
    pub fn msb(&self) -> Bit {
        self.bit(self.width().wrapping_sub(1))
    }

    /// The value, if every bit is a constant and the width is at most 64.
    pub fn as_const(&self) -> Option<u64> {
        if self.width() > 64 {
            return None;
        }
        self.iter().enumerate().try_fold(0u64, |acc, (i, b)| {
            b.as_const().map(|v| acc | u64::from(v) << i)
        })
    }

    /// Bits `range` as a word.
    ///
    /// # Panics
    /// If `range` is not within the word.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Word {
        assert!(
            range.start <= range.end && range.end <= self.width(),
            "bits {range:?} of a {}-bit word",
            self.width()
        );
        if let Repr::Run { first, .. } = self.0 {
            // Within the run (checked above), so the sum fits in 32 bits.
            return Word(Repr::Run {
                first: first + range.start as u32,
                width: range.len() as u32,
            });
        }
        range.map(|i| self.bit(i)).collect()
    }

    /// `self` in the low bits, `high` above it.
    pub fn concat(&self, high: &Word) -> Word {
        self.iter().chain(high.iter()).collect()
    }

    /// Zero-extends or truncates to `width` bits.
    pub fn zext(&self, width: usize) -> Word {
        (0..width)
            .map(|i| self.get(i).unwrap_or(Bit::ZERO))
            .collect()
    }

    /// Sign-extends or truncates to `width` bits.
    ///
    /// # Panics
    /// If the word is empty.
    pub fn sext(&self, width: usize) -> Word {
        let sign = self.msb();
        (0..width).map(|i| self.get(i).unwrap_or(sign)).collect()
    }

    /// Shift left by a public amount: free. Amounts of the width or more give 0.
    pub fn shl(&self, k: usize) -> Word {
        (0..self.width())
            .map(|i| {
                i.checked_sub(k)
                    .and_then(|j| self.get(j))
                    .unwrap_or(Bit::ZERO)
            })
            .collect()
    }

    /// Logical shift right by a public amount (zeros come in): free.
    pub fn shr_logical(&self, k: usize) -> Word {
        (0..self.width())
            .map(|i| {
                i.checked_add(k)
                    .and_then(|j| self.get(j))
                    .unwrap_or(Bit::ZERO)
            })
            .collect()
    }

    /// Arithmetic shift right by a public amount (copies of the sign come
    /// in): free.
    ///
    /// # Panics
    /// If the word is empty.
    pub fn shr_arithmetic(&self, k: usize) -> Word {
        let sign = self.msb();
        (0..self.width())
            .map(|i| i.checked_add(k).and_then(|j| self.get(j)).unwrap_or(sign))
            .collect()
    }

    /// Rotate left by a public amount (taken modulo the width): free.
    pub fn rotl(&self, k: usize) -> Word {
        let n = self.width();
        if n == 0 {
            return self.clone();
        }
        let k = k % n;
        (0..n).map(|i| self.bit((i + n - k) % n)).collect()
    }

    /// Rotate right by a public amount (taken modulo the width): free.
    pub fn rotr(&self, k: usize) -> Word {
        let n = self.width();
        if n == 0 {
            return self.clone();
        }
        self.rotl(n - k % n)
    }
}

impl FromIterator<Bit> for Word {
    fn from_iter<I: IntoIterator<Item = Bit>>(iter: I) -> Self {
        Word(Repr::Bits(iter.into_iter().collect()))
    }
}

/// Why a circuit could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An input was declared after a gate was emitted.
    #[error("input `{0}` is declared after the first gate; declare every input first")]
    InputAfterGates(String),
    /// The interface or gates are not well formed.
    #[error(transparent)]
    Circuit(#[from] CircuitError),
}

/// Builds a circuit gate by gate into a [`GateSink`]. See the module docs.
#[derive(Debug)]
pub struct CircuitBuilder<S: GateSink = Vec<Gate>> {
    sink: S,
    interface: Interface,
    next_wire: u64,
    consts: [Option<Wire>; 2],
    /// `w -> !w` for wires made by or fed to a NOT gate, so `!!x` is `x` and
    /// `!x` is made once. A cache: cleared when it grows past
    /// [`NOT_CACHE_LIMIT`], which only costs free NOT gates.
    negations: HashMap<Wire, Wire>,
    stats: CircuitStats,
}

const NOT_CACHE_LIMIT: usize = 1 << 20;

impl Default for CircuitBuilder<Vec<Gate>> {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBuilder<Vec<Gate>> {
    /// A builder that stores its gates, for [`CircuitBuilder::finish`].
    pub fn new() -> Self {
        Self::with_sink(Vec::new())
    }

    /// Validates and returns the circuit.
    pub fn finish(self) -> Result<Circuit, BuildError> {
        let (interface, gates) = self.finish_stream()?;
        Ok(Circuit::new(interface, gates)?)
    }
}

impl<S: GateSink> CircuitBuilder<S> {
    /// A builder that sends each gate to `sink` as soon as it is made.
    pub fn with_sink(sink: S) -> Self {
        Self {
            sink,
            interface: Interface::default(),
            next_wire: 0,
            consts: [None, None],
            negations: HashMap::new(),
            stats: CircuitStats::default(),
        }
    }

    /// Declares a party; inputs name it by the returned id.
    pub fn party(&mut self, name: &str) -> PartyId {
        let id = PartyId(self.interface.parties.len().min(usize::from(u16::MAX)) as u16);
        self.interface.parties.push(Party {
            name: name.to_owned(),
        });
        id
    }

    /// Declares an input of `width` bits provided by `party`. Inputs must be
    /// declared before any gate is made.
    pub fn input(&mut self, party: PartyId, name: &str, width: u32) -> Result<Word, BuildError> {
        if self.stats.gates() > 0 {
            return Err(BuildError::InputAfterGates(name.to_owned()));
        }
        let first = self.next_wire;
        let end = first + u64::from(width);
        let first = u32::try_from(first)
            .ok()
            .filter(|_| end <= u64::from(u32::MAX))
            .ok_or(CircuitError::TooManyWires)?;
        self.next_wire = end;
        self.interface.inputs.push(Input {
            name: name.to_owned(),
            party,
            width,
        });
        // A run, not a list of bits: an input of millions of bits costs
        // nothing until its bits are read.
        Ok(Word::wire_run(Wire::new(first), width))
    }

    /// Declares an output. Constant bits get a constant gate (one per value,
    /// shared).
    pub fn output(&mut self, name: &str, word: &Word) {
        let wires = word.bits().iter().map(|&b| self.wire_of(b)).collect();
        self.interface.outputs.push(Output {
            name: name.to_owned(),
            wires,
        });
    }

    /// The interface declared so far.
    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// Gate counts so far: `and_count()` before and after a gadget gives its
    /// cost.
    pub fn stats(&self) -> &CircuitStats {
        &self.stats
    }

    /// AND gates made so far.
    pub fn and_count(&self) -> u64 {
        self.stats.and
    }

    /// Checks the interface and returns it with the sink.
    pub fn finish_stream(self) -> Result<(Interface, S), BuildError> {
        self.interface.check()?;
        if self.next_wire > u64::from(u32::MAX) {
            return Err(CircuitError::TooManyWires.into());
        }
        Ok((self.interface, self.sink))
    }

    /// A wire carrying `bit`: the bit's wire, or a shared constant gate.
    pub fn wire_of(&mut self, bit: Bit) -> Wire {
        match bit {
            Bit::Wire(w) => w,
            Bit::Const(v) => match self.consts[usize::from(v)] {
                Some(w) => w,
                None => {
                    let out = self.fresh();
                    self.emit(Gate::Const { value: v, out });
                    self.consts[usize::from(v)] = Some(out);
                    out
                }
            },
        }
    }

    /// A new wire that the caller drives itself (an arithmetic op of a
    /// mixed circuit, pushed through [`CircuitBuilder::sink_mut`]).
    pub fn fresh_wire(&mut self) -> Wire {
        self.fresh()
    }

    /// `n` consecutive fresh wires; returns the first.
    pub fn fresh_wires(&mut self, n: u32) -> Wire {
        let first = self.fresh();
        self.next_wire += u64::from(n.saturating_sub(1));
        first
    }

    /// The sink, for a caller that interleaves its own ops with the gates.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Wires allocated so far.
    pub fn wires_used(&self) -> u64 {
        self.next_wire
    }

    fn fresh(&mut self) -> Wire {
        let w = Wire::new(self.next_wire.min(u64::from(u32::MAX)) as u32);
        // Past 2^32 - 1 wires the ids saturate; finish() reports TooManyWires.
        self.next_wire += 1;
        w
    }

    fn emit(&mut self, gate: Gate) {
        match gate.kind() {
            GateKind::Xor => self.stats.xor += 1,
            GateKind::And => self.stats.and += 1,
            GateKind::Not => self.stats.not += 1,
            GateKind::Const => self.stats.constant += 1,
        }
        self.sink.push(gate);
    }

    /// `a ^ b`. Free: XOR gates cost nothing in the protocols.
    pub fn xor_bit(&mut self, a: Bit, b: Bit) -> Bit {
        match (a, b) {
            (Bit::Const(x), Bit::Const(y)) => Bit::Const(x ^ y),
            (Bit::Const(false), w) | (w, Bit::Const(false)) => w,
            (Bit::Const(true), w) | (w, Bit::Const(true)) => self.not_bit(w),
            (Bit::Wire(x), Bit::Wire(y)) if x == y => Bit::ZERO,
            (Bit::Wire(a), Bit::Wire(b)) => {
                let out = self.fresh();
                self.emit(Gate::Xor { a, b, out });
                Bit::Wire(out)
            }
        }
    }

    /// `a & b`: 1 AND unless an operand is constant or they are the same wire.
    pub fn and_bit(&mut self, a: Bit, b: Bit) -> Bit {
        match (a, b) {
            (Bit::Const(x), Bit::Const(y)) => Bit::Const(x & y),
            (Bit::Const(false), _) | (_, Bit::Const(false)) => Bit::ZERO,
            (Bit::Const(true), w) | (w, Bit::Const(true)) => w,
            (Bit::Wire(x), Bit::Wire(y)) if x == y => a,
            (Bit::Wire(a), Bit::Wire(b)) => {
                let out = self.fresh();
                self.emit(Gate::And { a, b, out });
                Bit::Wire(out)
            }
        }
    }

    /// `!a`. Free.
    pub fn not_bit(&mut self, a: Bit) -> Bit {
        match a {
            Bit::Const(x) => Bit::Const(!x),
            Bit::Wire(a) => {
                if let Some(&n) = self.negations.get(&a) {
                    return Bit::Wire(n);
                }
                let out = self.fresh();
                self.emit(Gate::Not { a, out });
                if self.negations.len() >= NOT_CACHE_LIMIT {
                    self.negations.clear();
                }
                self.negations.insert(a, out);
                self.negations.insert(out, a);
                Bit::Wire(out)
            }
        }
    }

    /// `a | b = a ^ b ^ (a & b)`: 1 AND.
    pub fn or_bit(&mut self, a: Bit, b: Bit) -> Bit {
        match (a, b) {
            (Bit::Const(true), _) | (_, Bit::Const(true)) => Bit::ONE,
            (Bit::Const(false), w) | (w, Bit::Const(false)) => w,
            (Bit::Wire(x), Bit::Wire(y)) if x == y => a,
            _ => {
                let t = self.and_bit(a, b);
                let s = self.xor_bit(a, b);
                self.xor_bit(s, t)
            }
        }
    }

    /// `if s { t } else { f }` as `f ^ (s & (t ^ f))`: 1 AND.
    pub fn mux_bit(&mut self, s: Bit, t: Bit, f: Bit) -> Bit {
        match s {
            Bit::Const(true) => t,
            Bit::Const(false) => f,
            Bit::Wire(_) => {
                let d = self.xor_bit(t, f);
                let m = self.and_bit(s, d);
                self.xor_bit(f, m)
            }
        }
    }

    /// The carry of `a + b + c`: `c ^ ((a ^ c) & (b ^ c))`, the majority of
    /// the three: 1 AND.
    pub fn majority(&mut self, a: Bit, b: Bit, c: Bit) -> Bit {
        let ac = self.xor_bit(a, c);
        let bc = self.xor_bit(b, c);
        let t = self.and_bit(ac, bc);
        self.xor_bit(c, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bits;
    use crate::eval::evaluate;

    #[test]
    fn constants_fold() {
        let mut b = CircuitBuilder::new();
        let p = b.party("p");
        let x = b.input(p, "x", 1).unwrap().bit(0);
        assert_eq!(b.and_bit(x, Bit::ZERO), Bit::ZERO);
        assert_eq!(b.and_bit(x, Bit::ONE), x);
        assert_eq!(b.xor_bit(x, x), Bit::ZERO);
        assert_eq!(b.and_bit(x, x), x);
        assert_eq!(b.or_bit(x, Bit::ONE), Bit::ONE);
        assert_eq!(b.mux_bit(Bit::ONE, x, Bit::ZERO), x);
        assert_eq!(b.stats().gates(), 0);
        let nx = b.xor_bit(x, Bit::ONE);
        assert_eq!(b.stats().not, 1);
        assert_ne!(nx, x);
    }

    #[test]
    fn input_after_gate_is_refused() {
        let mut b = CircuitBuilder::new();
        let p = b.party("p");
        let x = b.input(p, "x", 1).unwrap().bit(0);
        let _ = b.not_bit(x);
        assert_eq!(
            b.input(p, "y", 1),
            Err(BuildError::InputAfterGates("y".into()))
        );
    }

    #[test]
    fn constant_outputs_share_gates() {
        let mut b = CircuitBuilder::new();
        b.output("k", &Word::constant(0b101, 3));
        b.output("z", &Word::constant(0, 2));
        let c = b.finish().unwrap();
        assert_eq!(c.stats().constant, 2);
        let out = evaluate(&c, &[]).unwrap();
        assert_eq!(out, vec![Bits::from_u64(5, 3), Bits::from_u64(0, 2)]);
    }

    #[test]
    fn word_shifts() {
        let w = Word::constant(0b1011, 4);
        assert_eq!(w.shl(1).as_const(), Some(0b0110));
        assert_eq!(w.shr_logical(1).as_const(), Some(0b0101));
        assert_eq!(w.shr_arithmetic(1).as_const(), Some(0b1101));
        assert_eq!(w.rotl(1).as_const(), Some(0b0111));
        assert_eq!(w.rotr(1).as_const(), Some(0b1101));
        assert_eq!(w.shl(9).as_const(), Some(0));
        assert_eq!(w.shr_arithmetic(9).as_const(), Some(0b1111));
        assert_eq!(Word::constant_signed(-2, 4).as_const(), Some(0b1110));
        assert_eq!(w.sext(6).as_const(), Some(0b111011));
        assert_eq!(w.zext(6).as_const(), Some(0b001011));
    }
}
