#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// What to compute: the circuit IR, gadgets, Bristol files, the evaluator.
pub use quorate_circuits as circuits;
/// The Quorate language.
pub use quorate_dsl as dsl;
/// How to compute it privately: OT, garbling, secret sharing, signing.
pub use quorate_engine as engine;
pub mod custody;
pub mod keystore;
pub mod query;

pub use quorate_circuits::{Bits, Circuit, CircuitBuilder, evaluate};
