//! The trial compile of `quorate run --backend auto`: the Boolean lowering
//! compiled against the budget the arithmetic lowering sets
//! ([`quorate_dsl::Trial`]).

#![allow(clippy::expect_used)]

use quorate_dsl::{Limits, Trial, compile, compile_arith};

fn joint_risk(n: usize) -> (String, Vec<(String, String)>) {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/joint_risk.quo"
    ))
    .expect("examples/joint_risk.quo");
    (src, vec![("N".into(), n.to_string())])
}

fn trial(max_and: u64, steps: u64) -> Limits {
    Limits {
        trial: Some(Trial { max_and, steps }),
        ..Limits::default()
    }
}

#[test]
fn a_boolean_lowering_far_dearer_pro_rata_is_given_up_early() {
    // Joint risk: about 42,000 AND gates a customer as Boolean, against a
    // budget of 1,000 a customer. The pro-rata rule stops the trial a few
    // dozen customers in, long before the total budget (and the gate
    // limit) would.
    let (src, params) = joint_risk(20_000);
    let arith = compile_arith(&src, &params, Limits::default()).expect("arith lowering");
    let budget = 1_000 * 20_000;
    let e = compile(&src, &params, trial(budget, arith.steps)).expect_err("trial must give up");
    assert!(e.message.contains("trial compile"), "{}", e.message);
    let and: u64 = e
        .message
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("the AND count in the message");
    assert!(and > Trial::FLOOR, "{and}");
    assert!(and < budget / 4, "given up only at {and} AND gates");
}

#[test]
fn the_total_budget_holds_below_the_floor_too() {
    let (src, params) = joint_risk(4);
    let arith = compile_arith(&src, &params, Limits::default()).expect("arith lowering");
    let e = compile(&src, &params, trial(10_000, arith.steps)).expect_err("over the budget");
    assert!(e.message.contains("trial compile"), "{}", e.message);
}

#[test]
fn a_trial_within_budget_gives_the_same_circuit() {
    let (src, params) = joint_risk(4);
    let plain = compile(&src, &params, Limits::default()).expect("Boolean lowering");
    let and = plain.circuit.stats().and;
    let tried = compile(&src, &params, trial(and, plain.steps)).expect("within budget");
    assert_eq!(tried.circuit, plain.circuit);
    assert_eq!(tried.steps, plain.steps);
    compile(&src, &params, trial(and - 1, plain.steps)).expect_err("one AND gate short");
}

#[test]
fn a_program_without_loops_is_compared_exactly() {
    // About 1.3 M AND gates before any loop or call: past the floor, with
    // no steps at all. Within its exact budget it must be kept.
    let src = "parties a, b;\n\
               fn main(x: [u64; 20000] @a, y: [u64; 20000] @b) -> bool @all { x == y }\n";
    let plain = compile(src, &[], Limits::default()).expect("Boolean lowering");
    let and = plain.circuit.stats().and;
    assert!(and > Trial::FLOOR, "{and}");
    assert_eq!(plain.steps, 0);
    let tried = compile(src, &[], trial(and, 0)).expect("within budget");
    assert_eq!(tried.circuit.stats().and, and);
}

#[test]
fn an_evenly_spread_program_within_budget_is_kept() {
    // Joint risk costs the same in every customer: a budget just above its
    // Boolean cost keeps it past the floor, whatever step it is at.
    let (src, params) = joint_risk(40);
    let plain = compile(&src, &params, Limits::default()).expect("Boolean lowering");
    let and = plain.circuit.stats().and;
    assert!(and > Trial::FLOOR, "{and}");
    compile(&src, &params, trial(and, plain.steps)).expect("within budget, pro rata too");
}
