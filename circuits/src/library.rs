//! Built-in circuits, made by the builder: AES-128, SHA-256, and Yao's
//! Millionaires comparison. Each is available by name (`builtin:aes128` on
//! the command line) and as a function on [`CircuitBuilder`] for use inside
//! larger circuits.

pub mod aes;
pub mod sha256;

use crate::builder::{BuildError, CircuitBuilder, Word};
use crate::circuit::Circuit;
use crate::gadgets::Signedness;

/// A built-in circuit: its name and what it computes.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// The name (`aes128`).
    pub name: &'static str,
    /// One line on what it computes and its inputs.
    pub description: &'static str,
    build: fn() -> Result<Circuit, BuildError>,
}

impl Builtin {
    /// Builds the circuit.
    pub fn build(&self) -> Result<Circuit, BuildError> {
        (self.build)()
    }
}

/// Every built-in circuit.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "aes128",
        description: "AES-128 encryption (FIPS-197): key (128 bits, party `keyholder`), block (128 bits, party `dataholder`) -> ciphertext",
        build: aes128_circuit,
    },
    Builtin {
        name: "sha256",
        description: "SHA-256 compression with feed-forward (FIPS 180-4): block (512 bits), chaining value (256 bits) -> next chaining value",
        build: sha256_circuit,
    },
    Builtin {
        name: "millionaires",
        description: "Yao's Millionaires: a (u64, party `alice`), b (u64, party `bob`) -> 1 if a > b",
        build: millionaires_circuit,
    },
];

/// The built-in circuit called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

fn aes128_circuit() -> Result<Circuit, BuildError> {
    let mut b = CircuitBuilder::new();
    let (k, d) = (b.party("keyholder"), b.party("dataholder"));
    let key = b.input(k, "key", 128)?;
    let block = b.input(d, "block", 128)?;
    let out = aes::aes128(&mut b, &key, &block);
    b.output("ciphertext", &out);
    b.finish()
}

fn sha256_circuit() -> Result<Circuit, BuildError> {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("p0"), b.party("p1"));
    let block = b.input(p, "block", 512)?;
    let state = b.input(q, "state", 256)?;
    let out = sha256::compress(&mut b, &block, &state);
    b.output("digest", &out);
    b.finish()
}

fn millionaires_circuit() -> Result<Circuit, BuildError> {
    let mut b = CircuitBuilder::new();
    let (alice, bob) = (b.party("alice"), b.party("bob"));
    let a = b.input(alice, "a", 64)?;
    let w = b.input(bob, "b", 64)?;
    let richer = b.gt(&a, &w, Signedness::Unsigned);
    b.output("alice_richer", &Word::from_bits(vec![richer]));
    b.finish()
}
