//! The language against native Rust arithmetic: programs compiled and run in
//! the clear.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use quorate_dsl::{Limits, Program, compile, decode, parse_value};

fn build(src: &str, params: &[(&str, &str)]) -> Program {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match compile(src, &params, Limits::default()) {
        Ok(p) => p,
        Err(d) => panic!("{}", d.render("test.quo", src)),
    }
}

/// Runs `src` on input texts, returning `name = value` lines.
fn run(src: &str, params: &[(&str, &str)], inputs: &[&str]) -> Vec<String> {
    let p = build(src, params);
    let vals: Vec<_> = p
        .inputs
        .iter()
        .zip(inputs)
        .map(|(i, t)| parse_value(t, &i.ty).unwrap())
        .collect();
    let outs = p.eval_plain(&vals).unwrap();
    p.outputs
        .iter()
        .zip(&outs)
        .map(|(o, b)| format!("{} = {}", o.name, decode(&o.ty, b)))
        .collect()
}

#[test]
fn millionaires() {
    let src = "parties alice, bob;\nfn main(a: u64 @alice, b: u64 @bob) -> bool @all { a > b }";
    assert_eq!(run(src, &[], &["10", "9"]), ["result = true"]);
    assert_eq!(run(src, &[], &["9", "10"]), ["result = false"]);
    let p = build(src, &[]);
    assert_eq!(p.circuit.stats().and, 64);
}
