//! The Boolean circuit IR: wires, gates, parties, inputs, outputs, and the
//! validated [`Circuit`].
//!
//! # Normal form
//!
//! A [`Circuit`] with `I` input bits and `G` gates has exactly `I + G` wires.
//! Wires `0..I` carry the inputs, in the order the inputs are declared and,
//! inside an input, least significant bit first. Every gate drives one wire
//! that nothing else drives, and reads only wires driven before it (an input,
//! or an earlier gate's output), so the gate list is in topological order and
//! every wire is driven exactly once. [`Circuit::new`] checks all of this and
//! refuses anything else with a [`CircuitError`] naming the gate and wire.
//!
//! A gate stream (see [`GateSink`]) follows the same rules without being held
//! in memory: a consumer sees each gate once, in order.

use std::fmt;

use thiserror::Error;

/// A wire: an index into a circuit's wire array.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wire(u32);

impl Wire {
    /// The wire with this index.
    pub const fn new(index: u32) -> Self {
        Self(index)
    }

    /// This wire's index.
    pub const fn index(self) -> u32 {
        self.0
    }

    /// This wire's index as a `usize`, for indexing arrays.
    pub const fn idx(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Boolean gate. Each gate drives exactly one wire, `out`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Gate {
    /// `out = a ^ b`: free in garbled circuits and in GMW.
    Xor {
        /// First input.
        a: Wire,
        /// Second input.
        b: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = a & b`: the gate that costs communication.
    And {
        /// First input.
        a: Wire,
        /// Second input.
        b: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = !a`.
    Not {
        /// The input.
        a: Wire,
        /// The driven wire.
        out: Wire,
    },
    /// `out = value`, a public constant.
    Const {
        /// The constant.
        value: bool,
        /// The driven wire.
        out: Wire,
    },
}

impl Gate {
    /// The wire this gate drives.
    pub const fn out(&self) -> Wire {
        match *self {
            Gate::Xor { out, .. } | Gate::And { out, .. } | Gate::Not { out, .. } => out,
            Gate::Const { out, .. } => out,
        }
    }

    /// The kind of gate.
    pub const fn kind(&self) -> GateKind {
        match self {
            Gate::Xor { .. } => GateKind::Xor,
            Gate::And { .. } => GateKind::And,
            Gate::Not { .. } => GateKind::Not,
            Gate::Const { .. } => GateKind::Const,
        }
    }

    /// The same gate with every wire it reads or drives replaced by `f`'s.
    pub fn map_wires(self, mut f: impl FnMut(Wire) -> Wire) -> Gate {
        match self {
            Gate::Xor { a, b, out } => Gate::Xor {
                a: f(a),
                b: f(b),
                out: f(out),
            },
            Gate::And { a, b, out } => Gate::And {
                a: f(a),
                b: f(b),
                out: f(out),
            },
            Gate::Not { a, out } => Gate::Not {
                a: f(a),
                out: f(out),
            },
            Gate::Const { value, out } => Gate::Const { value, out: f(out) },
        }
    }

    /// The wires this gate reads: zero, one or two of them.
    pub fn inputs(&self) -> impl Iterator<Item = Wire> + use<> {
        let (first, second) = match *self {
            Gate::Xor { a, b, .. } | Gate::And { a, b, .. } => (Some(a), Some(b)),
            Gate::Not { a, .. } => (Some(a), None),
            Gate::Const { .. } => (None, None),
        };
        first.into_iter().chain(second)
    }
}

/// The kinds of [`Gate`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum GateKind {
    /// [`Gate::Xor`].
    Xor,
    /// [`Gate::And`].
    And,
    /// [`Gate::Not`].
    Not,
    /// [`Gate::Const`].
    Const,
}

impl GateKind {
    /// Upper-case name, as in reports.
    pub const fn name(self) -> &'static str {
        match self {
            GateKind::Xor => "XOR",
            GateKind::And => "AND",
            GateKind::Not => "NOT",
            GateKind::Const => "CONST",
        }
    }
}

/// Identifies a party among a circuit's parties (its index in
/// [`Interface::parties`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PartyId(pub u16);

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A party that provides inputs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Party {
    /// The party's name, unique in the circuit (`alice`, `bank_a`, `p0`).
    pub name: String,
}

/// One named input value of a party: `width` consecutive input wires, least
/// significant bit first.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Input {
    /// The input's name, unique among the inputs.
    pub name: String,
    /// The party that provides it.
    pub party: PartyId,
    /// Its width in bits, at least 1.
    pub width: u32,
}

/// One named output value: its bits, least significant first. The same wire
/// may appear in several outputs, or several times in one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Output {
    /// The output's name, unique among the outputs.
    pub name: String,
    /// The wires carrying its bits, least significant first.
    pub wires: Vec<Wire>,
}

impl Output {
    /// Width in bits.
    pub fn width(&self) -> usize {
        self.wires.len()
    }
}

/// What a circuit takes and gives: parties, their inputs, the outputs.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Interface {
    /// The parties, indexed by [`PartyId`].
    pub parties: Vec<Party>,
    /// The inputs, in wire order: input 0 drives the first wires.
    pub inputs: Vec<Input>,
    /// The outputs.
    pub outputs: Vec<Output>,
}

impl Interface {
    /// Total input bits (the number of input wires).
    pub fn input_bits(&self) -> u64 {
        self.inputs.iter().map(|i| u64::from(i.width)).sum()
    }

    /// Total output bits.
    pub fn output_bits(&self) -> u64 {
        self.outputs.iter().map(|o| o.wires.len() as u64).sum()
    }

    /// The first wire of each input, in order.
    pub fn input_offsets(&self) -> Vec<u32> {
        let mut offsets = Vec::with_capacity(self.inputs.len());
        let mut next = 0u32;
        for input in &self.inputs {
            offsets.push(next);
            next = next.saturating_add(input.width);
        }
        offsets
    }

    /// The inputs of one party, with their index among all inputs.
    pub fn inputs_of(&self, party: PartyId) -> impl Iterator<Item = (usize, &Input)> {
        self.inputs
            .iter()
            .enumerate()
            .filter(move |(_, i)| i.party == party)
    }

    /// Checks names and widths: parties, inputs and outputs have unique
    /// non-empty names, every input belongs to a declared party, every input
    /// and output has at least one bit.
    pub fn check(&self) -> Result<(), CircuitError> {
        if self.parties.len() > usize::from(u16::MAX) {
            return Err(CircuitError::TooManyParties(self.parties.len()));
        }
        check_names("party", self.parties.iter().map(|p| p.name.as_str()))?;
        check_names("input", self.inputs.iter().map(|i| i.name.as_str()))?;
        check_names("output", self.outputs.iter().map(|o| o.name.as_str()))?;
        for input in &self.inputs {
            if usize::from(input.party.0) >= self.parties.len() {
                return Err(CircuitError::UnknownParty {
                    input: input.name.clone(),
                    party: input.party,
                });
            }
            if input.width == 0 {
                return Err(CircuitError::EmptyInput(input.name.clone()));
            }
        }
        if let Some(o) = self.outputs.iter().find(|o| o.wires.is_empty()) {
            return Err(CircuitError::EmptyOutput(o.name.clone()));
        }
        if self.input_bits() > u64::from(u32::MAX) {
            return Err(CircuitError::TooManyWires);
        }
        Ok(())
    }
}

fn check_names<'a>(
    what: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), CircuitError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if name.is_empty() {
            return Err(CircuitError::EmptyName(what));
        }
        if !seen.insert(name) {
            return Err(CircuitError::DuplicateName {
                what,
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// Why a circuit is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CircuitError {
    /// A gate reads a wire that no input and no earlier gate drives.
    #[error("gate {gate} reads wire {wire}, which no input and no earlier gate drives")]
    UndrivenRead {
        /// Index of the gate in the gate list.
        gate: u64,
        /// The wire.
        wire: Wire,
    },
    /// A gate drives a wire that is already driven.
    #[error("gate {gate} drives wire {wire}, which is already driven")]
    DrivenTwice {
        /// Index of the gate.
        gate: u64,
        /// The wire.
        wire: Wire,
    },
    /// A gate or output names a wire past the end of the wire array.
    #[error("{place} names wire {wire}, but the circuit has only {wires} wires")]
    WireOutOfRange {
        /// Where: `gate 12` or `output sum`.
        place: String,
        /// The wire.
        wire: Wire,
        /// The number of wires.
        wires: u64,
    },
    /// Two parties, inputs or outputs share a name.
    #[error("two {what}s are named `{name}`")]
    DuplicateName {
        /// `party`, `input` or `output`.
        what: &'static str,
        /// The shared name.
        name: String,
    },
    /// A party, input or output has an empty name.
    #[error("a {0} has an empty name")]
    EmptyName(&'static str),
    /// An input belongs to a party the circuit does not declare.
    #[error("input `{input}` belongs to party {party}, which is not declared")]
    UnknownParty {
        /// The input's name.
        input: String,
        /// The undeclared party.
        party: PartyId,
    },
    /// An input of width 0.
    #[error("input `{0}` has no bits")]
    EmptyInput(String),
    /// An output of width 0.
    #[error("output `{0}` has no bits")]
    EmptyOutput(String),
    /// More than 2^32 - 1 wires.
    #[error("the circuit needs more than 2^32 - 1 wires")]
    TooManyWires,
    /// More than 65535 parties.
    #[error("{0} parties; at most 65535 are supported")]
    TooManyParties(usize),
}

/// Counts that describe a circuit's cost.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CircuitStats {
    /// XOR gates.
    pub xor: u64,
    /// AND gates: what garbling and GMW pay for.
    pub and: u64,
    /// NOT gates.
    pub not: u64,
    /// Constant gates.
    pub constant: u64,
    /// The largest number of AND gates on any path from an input to a wire:
    /// the number of communication rounds GMW needs.
    pub and_depth: u32,
    /// Wires (input bits plus gates).
    pub wires: u64,
    /// Input bits.
    pub input_bits: u64,
    /// Output bits.
    pub output_bits: u64,
}

impl CircuitStats {
    /// All gates.
    pub fn gates(&self) -> u64 {
        self.xor + self.and + self.not + self.constant
    }

    /// Gates of one kind.
    pub fn count(&self, kind: GateKind) -> u64 {
        match kind {
            GateKind::Xor => self.xor,
            GateKind::And => self.and,
            GateKind::Not => self.not,
            GateKind::Const => self.constant,
        }
    }

    fn add_gate(&mut self, kind: GateKind) {
        match kind {
            GateKind::Xor => self.xor += 1,
            GateKind::And => self.and += 1,
            GateKind::Not => self.not += 1,
            GateKind::Const => self.constant += 1,
        }
    }
}

/// Receives gates one at a time, in topological order: a circuit being
/// stored ([`Vec<Gate>`]), evaluated as it is generated
/// ([`crate::eval::StreamEvaluator`]), garbled, or written out.
pub trait GateSink {
    /// Takes the next gate.
    fn push(&mut self, gate: Gate);
}

impl GateSink for Vec<Gate> {
    fn push(&mut self, gate: Gate) {
        Vec::push(self, gate);
    }
}

impl<S: GateSink + ?Sized> GateSink for &mut S {
    fn push(&mut self, gate: Gate) {
        (**self).push(gate);
    }
}

/// Counts gates and tracks AND-depth as gates stream past, without storing
/// them; forwards each gate to an inner sink.
#[derive(Debug, Default)]
pub struct StatsSink<S> {
    inner: S,
    stats: CircuitStats,
    depth: Vec<u32>,
}

impl<S: GateSink> StatsSink<S> {
    /// Counts the gates that go to `inner`. `input_bits` wires are inputs
    /// (depth 0).
    pub fn new(inner: S, input_bits: u32) -> Self {
        Self {
            inner,
            stats: CircuitStats::default(),
            depth: vec![0; input_bits as usize],
        }
    }

    /// The inner sink and the counts so far (wires, input and output bits
    /// are left for the caller to fill in).
    pub fn finish(self) -> (S, CircuitStats) {
        (self.inner, self.stats)
    }
}

impl<S: GateSink> GateSink for StatsSink<S> {
    fn push(&mut self, gate: Gate) {
        self.stats.add_gate(gate.kind());
        let read = |w: Wire| self.depth.get(w.idx()).copied().unwrap_or(0);
        let d = match gate {
            Gate::Xor { a, b, .. } => read(a).max(read(b)),
            Gate::And { a, b, .. } => read(a).max(read(b)) + 1,
            Gate::Not { a, .. } => read(a),
            Gate::Const { .. } => 0,
        };
        self.stats.and_depth = self.stats.and_depth.max(d);
        let out = gate.out().idx();
        if out >= self.depth.len() {
            self.depth.resize(out + 1, 0);
        }
        self.depth[out] = d;
        self.inner.push(gate);
    }
}

/// A validated Boolean circuit in normal form (see the module docs).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Circuit {
    interface: Interface,
    gates: Vec<Gate>,
    stats: CircuitStats,
}

impl Circuit {
    /// Checks `gates` against `interface` and builds the circuit: names and
    /// widths as in [`Interface::check`]; wires `0..input_bits` are the inputs;
    /// gate `k` reads only driven wires and drives a wire not yet driven;
    /// there are exactly `input_bits + gates.len()` wires, each driven once;
    /// outputs name existing wires.
    pub fn new(interface: Interface, gates: Vec<Gate>) -> Result<Self, CircuitError> {
        interface.check()?;
        let input_bits = interface.input_bits();
        let wires = input_bits + gates.len() as u64;
        if wires > u64::from(u32::MAX) {
            return Err(CircuitError::TooManyWires);
        }
        let n = wires as usize;
        // One depth per wire, plus a driven flag: depth u32::MAX marks "not yet driven".
        const UNDRIVEN: u32 = u32::MAX;
        let mut depth = vec![UNDRIVEN; n];
        depth[..input_bits as usize].fill(0);
        let mut stats = CircuitStats {
            wires,
            input_bits,
            output_bits: interface.output_bits(),
            ..CircuitStats::default()
        };
        for (k, gate) in gates.iter().enumerate() {
            let k = k as u64;
            let mut d = 0;
            for w in gate.inputs() {
                match depth.get(w.idx()) {
                    None => {
                        return Err(CircuitError::WireOutOfRange {
                            place: format!("gate {k}"),
                            wire: w,
                            wires,
                        });
                    }
                    Some(&UNDRIVEN) => return Err(CircuitError::UndrivenRead { gate: k, wire: w }),
                    Some(&dw) => d = d.max(dw),
                }
            }
            if gate.kind() == GateKind::And {
                d += 1;
            }
            let out = gate.out();
            match depth.get_mut(out.idx()) {
                None => {
                    return Err(CircuitError::WireOutOfRange {
                        place: format!("gate {k}"),
                        wire: out,
                        wires,
                    });
                }
                Some(slot) if *slot != UNDRIVEN => {
                    return Err(CircuitError::DrivenTwice { gate: k, wire: out });
                }
                Some(slot) => *slot = d,
            }
            stats.add_gate(gate.kind());
            stats.and_depth = stats.and_depth.max(d);
        }
        // Every gate drove a distinct wire and inputs fill the rest, so all
        // `wires` wires are driven exactly once. Outputs must name one of them.
        for output in &interface.outputs {
            if let Some(&w) = output.wires.iter().find(|w| u64::from(w.index()) >= wires) {
                return Err(CircuitError::WireOutOfRange {
                    place: format!("output `{}`", output.name),
                    wire: w,
                    wires,
                });
            }
        }
        Ok(Self {
            interface,
            gates,
            stats,
        })
    }

    /// Parties, inputs and outputs.
    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// The gates in topological order.
    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    /// The gates as a stream: each gate once, in topological order. This is
    /// how protocols consume a circuit, so that a generated circuit and a
    /// stored one look the same to them.
    pub fn stream(&self) -> impl ExactSizeIterator<Item = Gate> + '_ {
        self.gates.iter().copied()
    }

    /// Sends every gate, in order, to `sink`.
    pub fn stream_into<S: GateSink>(&self, sink: &mut S) {
        for &g in &self.gates {
            sink.push(g);
        }
    }

    /// Gate counts, AND count and depth, wires.
    pub fn stats(&self) -> &CircuitStats {
        &self.stats
    }

    /// Number of wires: input bits plus gates.
    pub fn num_wires(&self) -> usize {
        self.stats.wires as usize
    }

    /// Splits the circuit into its interface and gates.
    pub fn into_parts(self) -> (Interface, Vec<Gate>) {
        (self.interface, self.gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(i: u32) -> Wire {
        Wire::new(i)
    }

    fn two_party(width: u32) -> Interface {
        Interface {
            parties: vec![Party { name: "a".into() }, Party { name: "b".into() }],
            inputs: vec![
                Input {
                    name: "x".into(),
                    party: PartyId(0),
                    width,
                },
                Input {
                    name: "y".into(),
                    party: PartyId(1),
                    width,
                },
            ],
            outputs: vec![],
        }
    }

    #[test]
    fn accepts_well_formed_and_counts() {
        let mut iface = two_party(1);
        iface.outputs.push(Output {
            name: "z".into(),
            wires: vec![w(4)],
        });
        let gates = vec![
            Gate::And {
                a: w(0),
                b: w(1),
                out: w(2),
            },
            Gate::Xor {
                a: w(2),
                b: w(0),
                out: w(3),
            },
            Gate::And {
                a: w(3),
                b: w(2),
                out: w(4),
            },
        ];
        let c = Circuit::new(iface, gates).unwrap();
        assert_eq!(c.stats().and, 2);
        assert_eq!(c.stats().xor, 1);
        assert_eq!(c.stats().and_depth, 2);
        assert_eq!(c.num_wires(), 5);
    }

    #[test]
    fn rejects_read_before_drive() {
        let gates = vec![
            Gate::And {
                a: w(0),
                b: w(3),
                out: w(2),
            },
            Gate::Xor {
                a: w(2),
                b: w(0),
                out: w(3),
            },
        ];
        assert_eq!(
            Circuit::new(two_party(1), gates),
            Err(CircuitError::UndrivenRead {
                gate: 0,
                wire: w(3)
            })
        );
    }

    #[test]
    fn rejects_double_drive_and_input_drive() {
        let gates = vec![
            Gate::Not { a: w(0), out: w(1) },
            Gate::Not { a: w(0), out: w(2) },
        ];
        assert_eq!(
            Circuit::new(two_party(1), gates),
            Err(CircuitError::DrivenTwice {
                gate: 0,
                wire: w(1)
            })
        );
        let gates = vec![
            Gate::Not { a: w(0), out: w(2) },
            Gate::Not { a: w(0), out: w(2) },
        ];
        assert_eq!(
            Circuit::new(two_party(1), gates),
            Err(CircuitError::DrivenTwice {
                gate: 1,
                wire: w(2)
            })
        );
    }

    #[test]
    fn rejects_out_of_range_and_bad_interface() {
        let gates = vec![Gate::Not { a: w(0), out: w(9) }];
        assert!(matches!(
            Circuit::new(two_party(1), gates),
            Err(CircuitError::WireOutOfRange { wire, .. }) if wire == w(9)
        ));
        let mut iface = two_party(1);
        iface.outputs.push(Output {
            name: "z".into(),
            wires: vec![w(7)],
        });
        assert!(matches!(
            Circuit::new(iface, vec![]),
            Err(CircuitError::WireOutOfRange { wire, .. }) if wire == w(7)
        ));
        let mut iface = two_party(1);
        iface.inputs[1].name = "x".into();
        assert!(matches!(
            Circuit::new(iface, vec![]),
            Err(CircuitError::DuplicateName { what: "input", .. })
        ));
        let mut iface = two_party(1);
        iface.inputs[1].party = PartyId(5);
        assert!(matches!(
            Circuit::new(iface, vec![]),
            Err(CircuitError::UnknownParty { .. })
        ));
        assert!(matches!(
            Circuit::new(two_party(0), vec![]),
            Err(CircuitError::EmptyInput(_))
        ));
    }

    #[test]
    fn stats_sink_matches_validation() {
        let mut iface = two_party(1);
        iface.outputs.push(Output {
            name: "z".into(),
            wires: vec![w(4)],
        });
        let gates = vec![
            Gate::And {
                a: w(0),
                b: w(1),
                out: w(2),
            },
            Gate::Not { a: w(2), out: w(3) },
            Gate::And {
                a: w(3),
                b: w(2),
                out: w(4),
            },
        ];
        let c = Circuit::new(iface, gates).unwrap();
        let mut sink = StatsSink::new(Vec::new(), 2);
        c.stream_into(&mut sink);
        let (stored, s) = sink.finish();
        assert_eq!(stored, c.gates());
        assert_eq!(s.and, c.stats().and);
        assert_eq!(s.and_depth, c.stats().and_depth);
    }
}
