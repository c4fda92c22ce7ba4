//! Garbling and evaluation rates of a Bristol-library circuit, one thread,
//! no channel, for profiling: `cargo run --release -p quorate-engine
//! --example gc_rates -- [CIRCUIT] [REPS] [garble|eval|both|hist]`
//! (`hist` writes the plan's steps by kind and size to stderr instead).

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use quorate_circuits::library;
use quorate_engine::Block;
use quorate_engine::gc::schedule::schedule_circuit;
use quorate_engine::gc::{Evaluator, EvaluatorLabel, Garbler, GarblerLabel};
use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::Delta;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("aes128", String::as_str);
    let reps: usize = args.get(1).map_or(300, |s| s.parse().expect("REPS"));
    let what = args.get(2).map_or("both", String::as_str);
    let circuit = library::builtin(name)
        .expect("a library circuit")
        .build()
        .expect("it builds");
    let sched = schedule_circuit(&circuit);
    if what == "hist" {
        histogram(&sched.plan);
        return;
    }
    let ands = circuit.stats().and as f64 * reps as f64;
    let inputs = sched.circuit.stats().input_bits as usize;
    let session = SessionId::random().expect("entropy");
    let mut g = Garbler::new(Delta::random().expect("entropy"), sched.slots, &session);
    let mut e = Evaluator::new(sched.slots, &session);
    for w in 0..inputs {
        g.set_input(w, GarblerLabel::new(Block(w as u128)));
        e.set_input(w, EvaluatorLabel::new(Block(w as u128)));
    }
    let mut tables = Vec::with_capacity(2 * sched.plan.ands);
    g.garble_plan(&sched.plan, &mut tables);
    for _ in 0..7 {
        if what != "eval" {
            let start = Instant::now();
            for _ in 0..reps {
                tables.clear();
                g.garble_plan(&sched.plan, &mut tables);
            }
            let s = start.elapsed().as_secs_f64();
            print!("garble {:.1} M AND/s  ", ands / s / 1e6);
        }
        if what != "garble" {
            let start = Instant::now();
            for _ in 0..reps {
                e.evaluate_plan(&sched.plan, &tables).expect("tables fit");
            }
            let s = start.elapsed().as_secs_f64();
            print!("eval {:.1} M AND/s", ands / s / 1e6);
        }
        println!();
    }
}

fn histogram(plan: &quorate_engine::gc::schedule::Plan) {
    use quorate_engine::gc::schedule::Step;
    let mut h = std::collections::BTreeMap::new();
    for s in &plan.steps {
        let kind = match s {
            Step::Ands(_) => "and",
            Step::Xors(_) => "xor",
            Step::Nots(_) => "not",
            Step::Consts(_) => "const",
        };
        let b = s.len().next_power_of_two();
        h.entry((kind, b)).or_insert((0usize, 0usize)).0 += 1;
        h.get_mut(&(kind, b)).expect("there").1 += s.len();
    }
    for ((k, b), (n, g)) in h {
        eprintln!("{k:5} <= {b:6}: {n:5} steps, {g:6} gates");
    }
}
