//! Raw garbling and evaluation speed, one thread, no channel.
//! `cargo run --release --example gc_speed`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_circuits::library;
use quorate_circuits::{Circuit, CircuitBuilder};
use quorate_engine::gc::schedule::schedule_circuit;
use quorate_engine::gc::{Evaluator, EvaluatorLabel, Garbler, GarblerLabel};
use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::Delta;

fn wide(n: u32) -> Circuit {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("g"), b.party("e"));
    let x = b.input(p, "x", n).unwrap();
    let y = b.input(q, "y", n).unwrap();
    let z = b.and(&x, &y);
    b.output("z", &z);
    b.finish().unwrap()
}

fn run(name: &str, c: &Circuit, reps: usize) {
    let session = SessionId::random().unwrap();
    for _ in 0..2 {
        let mut g = Garbler::new(Delta::random().unwrap(), c.num_wires(), &session);
        let mut e = Evaluator::new(c.num_wires(), &session);
        for w in 0..c.stats().input_bits as usize {
            g.set_input(w, GarblerLabel::new(quorate_engine::Block(w as u128 * 77)));
            e.set_input(
                w,
                EvaluatorLabel::new(quorate_engine::Block(w as u128 * 77)),
            );
        }
        let sched = schedule_circuit(c);
        let plan = &sched.plan;
        // One table buffer, reused (as the channel's recycled buffers are).
        let mut tables = Vec::with_capacity(2 * c.stats().and as usize);
        g.garble_plan(plan, &mut tables);
        let t0 = Instant::now();
        for _ in 0..reps {
            tables.clear();
            g.garble_plan(plan, &mut tables);
        }
        let t1 = Instant::now();
        for _ in 0..reps {
            let _ = e.evaluate_plan(plan, &tables);
        }
        let t2 = Instant::now();
        let ands = (c.stats().and * reps as u64) as f64;
        println!(
            "{name}: garble {:.1} M AND/s, evaluate {:.1} M AND/s",
            ands / (t1 - t0).as_secs_f64() / 1e6,
            ands / (t2 - t1).as_secs_f64() / 1e6
        );
    }
}

fn main() {
    let aes = library::builtin("aes128").unwrap().build().unwrap();
    run("AES-128 x 200", &aes, 200);
    run("wide 2^20", &wide(1 << 20), 2);
}
