//! AES-128 two-party runs after setup, over loopback TLS or in memory:
//! median and spread of the evaluator's time per run, for profiling the
//! transport (`perf record`). `cargo run --release -p quorate-engine --example aes_tls [tls|memory] [RUNS]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_circuits::{Bits, PartyId, library};
use quorate_engine::gc::schedule::schedule_circuit;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::{memory, tls};
use quorate_engine::yao::{Program, Reveal, YaoEvaluator, YaoGarbler};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "tls".into());
    let runs: usize = args.next().map_or(500, |s| s.parse().unwrap());
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = if mode == "tls" {
        tls::loopback_pair(&session, &program_hash(b"aes_tls")).unwrap()
    } else {
        memory::pair((PartyId(0), "g"), (PartyId(1), "e"))
    };
    let aes = library::builtin("aes128").unwrap().build().unwrap();
    let sched = &schedule_circuit(&aes);
    let key = Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).unwrap();
    let block = Bits::from_hex("00112233445566778899aabbccddeeff", 128).unwrap();
    let ots = 128 * (runs + 1);
    let mut times = std::thread::scope(|s| {
        let g = s.spawn(move || {
            let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
            gb.precompute(&mut a, ots).unwrap();
            for _ in 0..runs {
                gb.run(
                    &mut a,
                    Program::Scheduled(sched),
                    std::slice::from_ref(&key),
                    Reveal::Evaluator,
                )
                .unwrap();
            }
        });
        let mut ev = YaoEvaluator::setup(&mut b, &session).unwrap();
        ev.precompute(&mut b, ots).unwrap();
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            ev.run(
                &mut b,
                Program::Scheduled(sched),
                std::slice::from_ref(&block),
                Reveal::Evaluator,
            )
            .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        g.join().unwrap();
        times
    });
    times.sort_by(f64::total_cmp);
    let n = times.len();
    println!(
        "{mode}: AES-128 2PC median {:.0} us, p10 {:.0}, p90 {:.0} ({n} runs)",
        times[n / 2],
        times[n / 10],
        times[9 * n / 10]
    );
}
