//! The arithmetic lowering means what the Boolean one means: on random
//! inputs (within range: no value overflows its type), the mixed circuit's
//! plaintext evaluator gives the Boolean circuit's outputs, bit for bit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quorate_circuits::Bits;
use quorate_dsl::{Limits, Program, Type, compile, compile_arith};
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn random_value(ty: &Type, rng: &mut StdRng, out: &mut Vec<bool>) {
    let push = |v: i128, w: u32, out: &mut Vec<bool>| {
        out.extend((0..w).map(|i| (v >> i) & 1 == 1));
    };
    match ty {
        Type::Bool => out.push(rng.random_bool(0.5)),
        Type::Int(t) => {
            let lim: i128 = if t.bits >= 32 {
                1 << 20
            } else {
                1 << (t.bits / 2 - 1)
            };
            let v = if t.signed {
                rng.random_range(-lim..lim)
            } else {
                rng.random_range(0..lim)
            };
            push(v, t.bits, out);
        }
        Type::Fix => push(rng.random_range(-(1i128 << 30)..(1i128 << 30)), 64, out),
        Type::Array(e, n) => (0..*n).for_each(|_| random_value(e, rng, out)),
        Type::Tuple(ts) => ts.iter().for_each(|t| random_value(t, rng, out)),
    }
}

fn agree(name: &str, src: &str, trials: usize) {
    let boolean = compile(src, &[], Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let arith: Program =
        compile_arith(src, &[], Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mixed = arith.mixed.as_ref().expect("a mixed circuit");
    let s = mixed.stats();
    assert!(
        s.mul + s.trunc + s.a2b > 0 || !src.contains("@"),
        "{name}: no ring op in {s:?}"
    );
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..trials {
        let inputs: Vec<Bits> = boolean
            .inputs
            .iter()
            .map(|i| {
                let mut v = Vec::new();
                random_value(&i.ty, &mut rng, &mut v);
                Bits::from_bools(&v)
            })
            .collect();
        let want = boolean.eval_plain(&inputs).unwrap();
        let got = mixed.evaluate(&inputs).unwrap();
        assert_eq!(got, want, "{name}: inputs {inputs:?}");
    }
}

#[test]
fn examples_agree_under_both_lowerings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "quo") {
            let src = std::fs::read_to_string(&path).unwrap();
            agree(&path.display().to_string(), &src, 40);
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} examples found");
}

#[test]
fn every_ring_operation_agrees() {
    let programs = [
        "parties a, b; fn main(x: i32 @a, y: i32 @b) -> (i32, i32, i32, i32, bool, bool, bool, bool, bool, bool) @all {
            (x + y, x - y, x * y, -x, x < y, x <= y, x > y, x >= y, x == y, x != y)
        }",
        "parties a, b; fn main(x: u16 @a, y: u16 @b) -> (u16, u16, u16, bool, bool, u16) @all {
            (x + y, x - y, x * y + 3, x < y, x == y, max(x, y))
        }",
        "parties a, b, c; fn main(x: fix @a, y: fix @b, z: fix @c) -> (fix, fix, fix, fix, bool, fix, fix) @all {
            (x * y, x * 2.0 + z, x * 0.3 - y * z, dot([x, y, z], [0.25, -1.5, y]), x > z, max(x, y), min(y, z))
        }",
        "parties a, b; fn main(xs: [i64; 4] @a, ys: [i64; 4] @b, c: bool @a) -> (i64, i64, i64) @all {
            let s = sum(xs);
            let t = if c { s } else { dot(xs, ys) };
            let mut m = xs[0];
            for i in 1..4 { if ys[i] > m { m = ys[i]; } }
            (s, t, m)
        }",
        "parties a, b; fn main(x: u8 @a, f: fix @b, k: bool @b) -> (u32, fix, u8) @all {
            let n = (x as u32) * 7 + (k as u32);
            let g = (x as fix) * f;
            (n, g, x & 0x0f)
        }",
    ];
    for (i, p) in programs.iter().enumerate() {
        agree(&format!("program {i}"), p, 200);
    }
}
