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

#[test]
fn the_same_source_always_compiles_to_the_same_circuit() {
    // Parties running the same program must agree on its circuit bit for
    // bit: the handshake compares hashes. A secret `if` assigning several
    // variables once muxed them in hash order.
    let mut sources: Vec<String> = ["millionaires", "dark_pool", "joint_risk", "psi_small"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(format!(
                "{}/../examples/{n}.quo",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        })
        .collect();
    sources.push(
        "parties alice, bob;
fn main(x: u32 @alice, y: u32 @bob) -> (u32, u32, u32) @all {
    let mut a: u32 = 0; let mut b: u32 = 0; let mut c: u32 = 1; let mut d: u32 = 2;
    if x > y { a = x; b = y; c = x + y; d = x ^ y; } else { d = 5; }
    (a, b + c, d)
}"
        .to_owned(),
    );
    for src in &sources {
        let text = |p: &Program| {
            let mut out = Vec::new();
            quorate_circuits::bristol::write(&p.circuit, &mut out).unwrap();
            out
        };
        let first = text(&build(src, &[]));
        for _ in 0..8 {
            assert!(text(&build(src, &[])) == first, "{src}");
        }
    }
}
