//! AES-128 between two parties: one holds the key, the other the plaintext;
//! only the plaintext's owner learns the ciphertext, and neither learns the
//! other's input. Both parties run here on two threads over an in-memory
//! channel; see `quorate circuit mpc --help` for two machines.
//!
//! Run: `cargo run --release --example aes_2pc -- 000102030405060708090a0b0c0d0e0f 00112233445566778899aabbccddeeff`
#![allow(clippy::print_stdout)] // an example prints its result

use std::process::ExitCode;

use quorate::circuits::{Bits, PartyId, library};
use quorate::engine::gc::schedule::schedule_circuit;
use quorate::engine::net::handshake::SessionId;
use quorate::engine::net::memory;
use quorate::engine::yao::{Program, Reveal, YaoEvaluator, YaoGarbler};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (key, plaintext) = match args.as_slice() {
        [k, p] => (k.clone(), p.clone()),
        _ => {
            eprintln!("usage: aes_2pc KEY PLAINTEXT (32 hex digits each)");
            return ExitCode::from(2);
        }
    };
    match run(&key, &plaintext) {
        Ok(ct) => {
            println!("ciphertext (learnt by the plaintext's owner only): {ct}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(key: &str, plaintext: &str) -> Result<String, Box<dyn std::error::Error>> {
    // The key holder garbles (party 0 of the circuit), the data holder evaluates.
    let key = Bits::from_hex(key, 128)?;
    let plaintext = Bits::from_hex(plaintext, 128)?;
    let circuit = library::builtin("aes128")
        .ok_or("no built-in aes128")?
        .build()?;
    let scheduled = schedule_circuit(&circuit);
    let session = SessionId::random()?;
    let (mut key_holder, mut data_holder) =
        memory::pair((PartyId(0), "key holder"), (PartyId(1), "data holder"));

    let for_evaluator = scheduled.clone();
    let evaluator = std::thread::spawn(
        move || -> Result<Option<Vec<Bits>>, quorate::engine::yao::YaoError> {
            let mut party = YaoEvaluator::setup(&mut data_holder, &session)?;
            let outcome = party.run(
                &mut data_holder,
                Program::Scheduled(&for_evaluator),
                &[plaintext],
                Reveal::Evaluator,
            )?;
            Ok(outcome.all_outputs())
        },
    );
    let mut party = YaoGarbler::setup(&mut key_holder, &session)?;
    let garbler = party.run(
        &mut key_holder,
        Program::Scheduled(&scheduled),
        &[key],
        Reveal::Evaluator,
    )?;
    assert!(
        garbler.all_outputs().is_none(),
        "the key holder learns nothing"
    );
    let outputs = evaluator
        .join()
        .map_err(|_| "the evaluator thread panicked")??;
    let ciphertext = outputs.ok_or("the evaluator learnt no output")?;
    Ok(ciphertext[0].to_hex())
}
