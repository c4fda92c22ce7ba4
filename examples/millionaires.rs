//! Yao's Millionaires with the circuit builder: two 64-bit fortunes, one
//! comparison, evaluated in the clear with the reference evaluator. (Under
//! MPC the same circuit runs garbled; see the engine.)
//!
//! Run: `cargo run --example millionaires -- 5000000 3000000`
#![allow(clippy::print_stdout)] // an example prints its result

use std::process::ExitCode;

use quorate::circuits::{Bits, CircuitBuilder, Signedness, Word, evaluate};

fn main() -> ExitCode {
    let args: Vec<u64> = match std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<Vec<u64>, _>>()
    {
        Ok(v) if v.len() == 2 => v,
        _ => {
            eprintln!("usage: millionaires ALICE_WEALTH BOB_WEALTH (unsigned integers)");
            return ExitCode::from(2);
        }
    };
    let mut b = CircuitBuilder::new();
    let (alice, bob) = (b.party("alice"), b.party("bob"));
    let (Ok(a), Ok(w)) = (b.input(alice, "a", 64), b.input(bob, "b", 64)) else {
        eprintln!("could not declare the inputs");
        return ExitCode::FAILURE;
    };
    let richer = b.gt(&a, &w, Signedness::Unsigned);
    b.output("alice_richer", &Word::from_bits(vec![richer]));
    let circuit = match b.finish() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let s = circuit.stats();
    println!(
        "circuit: {} AND gates, {} XOR, AND-depth {}",
        s.and, s.xor, s.and_depth
    );
    match evaluate(
        &circuit,
        &[Bits::from_u64(args[0], 64), Bits::from_u64(args[1], 64)],
    ) {
        Ok(out) => {
            let verdict = if out[0].get(0) {
                "Alice is richer"
            } else {
                "Alice is not richer"
            };
            println!("{verdict}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
