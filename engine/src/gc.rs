//! Garbled circuits: free-XOR (Kolesnikov-Schneider 2008) with half-gates
//! (Zahur, Rosulek and Evans, "Two Halves Make a Whole", EUROCRYPT 2015,
//! figure 2) and point-and-permute. Each AND gate costs two ciphertexts
//! (32 bytes), four hashes to garble and two to evaluate; XOR, NOT and
//! constants cost nothing.
//!
//! The hash is the one-call tweakable circular correlation robust hash
//! `π(σ(x) ⊕ i) ⊕ σ(x)` ([`FixedKeyAes::tmmo`](crate::hash::FixedKeyAes::tmmo))
//! with a tweak unique to the session and the gate.
//!
//! Gates arrive as a stream, in windows ([`GateSource`]), or as a stored
//! circuit scheduled once. Either way both sides use the same schedule
//! ([`schedule`]): gates are grouped by
//! their AND-depth inside the window, so the AND gates of one level (the 16
//! S-boxes of an AES round, the many gates of a wide layer) are hashed in one
//! batch that keeps the AES units busy. The garbler emits the tables of a
//! window as soon as it is garbled; memory holds wire labels (one per wire
//! slot), never the whole table.
//!
//! Labels: the garbler holds each wire's zero label `W⁰` (the one label is
//! `W⁰ ⊕ Δ`), the evaluator one active label per wire. They are plain
//! blocks inside the two engines, which never mix; across the API they travel
//! as [`GarblerLabel`] and [`EvaluatorLabel`].

pub mod schedule;
pub mod stream;

mod evaluator;
mod garbler;

use std::fmt;

use quorate_circuits::{Circuit, Gate, Interface};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use evaluator::{Evaluator, TableMismatch};
pub use garbler::Garbler;
use schedule::{Plan, Scheduler};

use crate::block::Block;
use crate::net::handshake::SessionId;

/// A garbler's zero label for a wire: secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct GarblerLabel(pub(crate) Block);

/// An evaluator's active label for a wire.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EvaluatorLabel(pub(crate) Block);

impl GarblerLabel {
    /// Wraps a block.
    pub fn new(b: Block) -> Self {
        GarblerLabel(b)
    }

    /// The label's bits.
    pub fn expose(&self) -> Block {
        self.0
    }
}

impl EvaluatorLabel {
    /// Wraps a block.
    pub fn new(b: Block) -> Self {
        EvaluatorLabel(b)
    }

    /// The label's bits.
    pub fn expose(&self) -> Block {
        self.0
    }
}

impl fmt::Debug for GarblerLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GarblerLabel(<redacted>)")
    }
}

impl fmt::Debug for EvaluatorLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EvaluatorLabel(<redacted>)")
    }
}

/// A stream of gates: a stored circuit or a generator. Wire numbers index
/// `slots()` wire slots; a generator may reuse a slot once its old value is
/// dead, which keeps a huge circuit's memory bounded.
pub trait GateSource {
    /// Parties, inputs (wires `0..input_bits`) and outputs (read after the
    /// last gate).
    fn interface(&self) -> &Interface;
    /// Wire slots: every wire number is below this.
    fn slots(&self) -> usize;
    /// Appends up to `max` next gates to `out`; 0 at the end.
    fn fill(&mut self, out: &mut Vec<Gate>, max: usize) -> usize;
    /// AND gates in all, if known in advance.
    fn and_gates(&self) -> Option<u64> {
        None
    }
}

/// A stored circuit as a gate stream.
#[derive(Debug)]
pub struct CircuitSource<'a> {
    circuit: &'a Circuit,
    next: usize,
}

impl<'a> CircuitSource<'a> {
    /// Streams `circuit` from its first gate.
    pub fn new(circuit: &'a Circuit) -> Self {
        CircuitSource { circuit, next: 0 }
    }
}

impl GateSource for CircuitSource<'_> {
    fn interface(&self) -> &Interface {
        self.circuit.interface()
    }

    fn slots(&self) -> usize {
        self.circuit.num_wires()
    }

    fn fill(&mut self, out: &mut Vec<Gate>, max: usize) -> usize {
        let gates = self.circuit.gates();
        let end = (self.next + max).min(gates.len());
        out.extend_from_slice(&gates[self.next..end]);
        let n = end - self.next;
        self.next = end;
        n
    }

    fn and_gates(&self) -> Option<u64> {
        Some(self.circuit.stats().and)
    }
}

/// What both engines keep between windows: one label per wire slot (the
/// garbler's zero labels, the evaluator's active ones), the window
/// scheduler, the position in the session's tweak sequence, and the scratch
/// of one hash batch (`H` blocks, reused, zeroized on drop).
struct Wires<const H: usize> {
    /// One label per slot, padded to a power of two so the engines index
    /// it by `slot & mask` (no bounds checks in the inner loops). The
    /// crate's plans name only slots below `slots`, where the mask changes
    /// nothing; a hand-built plan naming a slot past them reads and writes
    /// the slot it wraps to.
    labels: Vec<Block>,
    /// Wire slots of the session (the labels past them are padding).
    slots: usize,
    /// Made on first use: only streamed windows need it.
    scheduler: Option<Scheduler>,
    plan: Plan,
    /// The high 64 bits of every hash tweak in the session: separates
    /// sessions that share the fixed AES key.
    salt: u128,
    /// Gates processed so far in the session: the low bits of the tweaks.
    gate: u64,
    x: Box<[Block; H]>,
}

impl<const H: usize> Wires<H> {
    fn new(slots: usize, session: &SessionId) -> Self {
        Wires {
            labels: vec![Block::ZERO; slots.max(1).next_power_of_two()],
            slots,
            scheduler: None,
            plan: Plan::default(),
            salt: tweak_salt(session),
            gate: 0,
            x: Box::new([Block::ZERO; H]),
        }
    }

    /// Starts over for a new session with `slots` wire slots, keeping the
    /// allocations. Labels are cleared: a slot a malformed program reads
    /// before writing holds zero, not a label of the last session.
    fn reset(&mut self, slots: usize, session: &SessionId) {
        self.labels.clear();
        self.labels
            .resize(slots.max(1).next_power_of_two(), Block::ZERO);
        self.slots = slots;
        self.scheduler = None;
        self.salt = tweak_salt(session);
        self.gate = 0;
    }

    /// Schedules a prefix of `gates` into `self.plan`; returns the gates
    /// taken.
    fn schedule(&mut self, gates: &[Gate]) -> usize {
        let slots = self.slots;
        self.scheduler
            .get_or_insert_with(|| Scheduler::new(slots))
            .plan(gates, &mut self.plan)
    }
}

impl<const H: usize> Wires<H> {
    /// The label of `wire`, which must be below the slot count.
    ///
    /// # Panics
    /// If it is not.
    fn label(&self, wire: usize) -> Block {
        self.labels[..self.slots][wire]
    }

    /// Sets the label of `wire` (see [`label`](Self::label)).
    fn set_label(&mut self, wire: usize, label: Block) {
        self.labels[..self.slots][wire] = label;
    }
}

impl<const H: usize> Drop for Wires<H> {
    fn drop(&mut self) {
        self.labels.zeroize();
        self.x.zeroize();
    }
}

fn tweak_salt(session: &SessionId) -> u128 {
    u128::from(session.tag64("quorate/gc/tweak")) << 64
}

/// The tweak of AND gate number `gate` of a session; its second hash uses
/// the tweak `| 1`.
#[inline]
fn and_tweak(salt: u128, gate: u64) -> u128 {
    salt | u128::from(gate) << 1
}

/// The evaluator's public label of constant gate number `gate`: the
/// evaluator knows the constant, so it may know the label for it; the
/// garbler sets the zero label so that this is the label of the constant's
/// value.
#[inline]
fn constant_label(salt: u128, gate: u64) -> Block {
    Block(salt ^ 0x636f_6e73_7461_6e74 ^ u128::from(gate) << 1)
}

#[cfg(test)]
pub(crate) mod tests {
    use quorate_circuits::{Bits, CircuitBuilder, Signedness, Word, evaluate};

    use super::*;
    use crate::ot::Delta;
    use crate::prg::Prg;

    /// Garbles and evaluates in memory, passing tables directly; returns
    /// the decoded outputs.
    pub(crate) fn run_local(circuit: &Circuit, inputs: &[Bits], window: usize) -> Vec<Bits> {
        let session = SessionId::random().unwrap();
        let delta = Delta::random().unwrap();
        let d = delta.expose();
        let mut g = Garbler::new(delta, circuit.num_wires(), &session);
        let mut e = Evaluator::new(circuit.num_wires(), &session);
        let mut prg = Prg::from_entropy().unwrap();
        let flat: Vec<bool> = inputs.iter().flat_map(Bits::iter).collect();
        for (w, &bit) in flat.iter().enumerate() {
            let zero = prg.block();
            g.set_input(w, GarblerLabel(zero));
            e.set_input(w, EvaluatorLabel(zero ^ d.and_bit(bit)));
        }
        let mut src = CircuitSource::new(circuit);
        let mut buf = Vec::new();
        let mut tables = Vec::new();
        loop {
            let room = window - buf.len();
            src.fill(&mut buf, room);
            if buf.is_empty() {
                break;
            }
            tables.clear();
            let used = g.garble(&buf, &mut tables);
            let (used_e, ands) = e.plan(&buf);
            assert_eq!((used, 2 * ands), (used_e, tables.len()));
            e.execute(&tables).unwrap();
            buf.drain(..used);
        }
        circuit
            .interface()
            .outputs
            .iter()
            .map(|o| {
                let bits: Vec<bool> = o
                    .wires
                    .iter()
                    .map(|&w| {
                        e.label(w.idx()).expose().lsb() ^ g.zero_label(w.idx()).expose().lsb()
                    })
                    .collect();
                Bits::from_bools(&bits)
            })
            .collect()
    }

    #[test]
    fn garbled_adder_and_comparison_match_plaintext() {
        let mut b = CircuitBuilder::new();
        let (p, q) = (b.party("g"), b.party("e"));
        let x = b.input(p, "x", 32).unwrap();
        let y = b.input(q, "y", 32).unwrap();
        let s = b.add(&x, &y);
        let m = b.mul(&x, &y);
        let lt = b.lt(&x, &y, Signedness::Signed);
        let nx = b.not(&x);
        b.output("sum", &s);
        b.output("prod", &m);
        b.output("lt", &Word::from_bits(vec![lt]));
        b.output("not", &nx);
        b.output("const", &Word::constant(0b1011, 4));
        let c = b.finish().unwrap();
        let mut prg = Prg::from_entropy().unwrap();
        for window in [1usize, 7, 64, 4096] {
            for _ in 0..5 {
                let inputs = [
                    Bits::from_u64(prg.block().0 as u64, 32),
                    Bits::from_u64(prg.block().0 as u64, 32),
                ];
                assert_eq!(
                    run_local(&c, &inputs, window),
                    evaluate(&c, &inputs).unwrap(),
                    "window {window}"
                );
            }
        }
    }
}
