#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bits;
pub mod bristol;
pub mod builder;
pub mod circuit;
pub mod eval;
pub mod gadgets;
pub mod library;
pub mod mixed;

pub use bits::{Bits, HexError};
pub use builder::{Bit, BuildError, CircuitBuilder, Word};
pub use circuit::{
    Circuit, CircuitError, CircuitStats, Gate, GateKind, GateSink, Input, Interface, Output, Party,
    PartyId, StatsSink, Wire,
};
pub use eval::{EvalError, Lane, StreamEvaluator, evaluate, evaluate_lanes, evaluate_many};
pub use gadgets::{Cmp, Signedness};
pub use mixed::{MixedCircuit, MixedError, MixedStats, Op, OpSink, Port, Slot};
