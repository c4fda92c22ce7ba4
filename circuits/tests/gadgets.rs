//! Every gadget against native Rust integer arithmetic, on random widths
//! 1..=64 and random values (signed and unsigned), with operands as wires and
//! as public constants; and the exact AND count of each gadget.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::OnceLock;

use proptest::prelude::*;
use quorate_circuits::{
    Bit, Bits, Circuit, CircuitBuilder, Cmp, Signedness, Word, evaluate, evaluate_many,
};

use Signedness::{Signed, Unsigned};

fn mask(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn sext(n: u32, x: u64) -> i64 {
    let s = 64 - n;
    ((x << s) as i64) >> s
}

fn bits_u128(b: &Bits) -> u128 {
    b.iter()
        .enumerate()
        .fold(0, |acc, (i, bit)| acc | u128::from(bit) << i)
}

type Build = fn(&mut CircuitBuilder, &Word, &Word, Bit) -> Word;
type Reference = fn(u32, u64, u64, bool) -> u128;

fn one(b: Bit) -> Word {
    Word::from_bits(vec![b])
}

/// Every gadget with two `n`-bit operands and a selector bit, and what it
/// must compute.
fn cases() -> Vec<(&'static str, Build, Reference)> {
    fn cmp_ref(op: Cmp, s: Signedness) -> impl Fn(u32, u64, u64) -> bool {
        move |n, x, y| {
            let ord = match s {
                Unsigned => x.cmp(&y),
                Signed => sext(n, x).cmp(&sext(n, y)),
            };
            match op {
                Cmp::Lt => ord.is_lt(),
                Cmp::Le => ord.is_le(),
                Cmp::Gt => ord.is_gt(),
                Cmp::Ge => ord.is_ge(),
                Cmp::Eq => ord.is_eq(),
                Cmp::Ne => ord.is_ne(),
            }
        }
    }
    macro_rules! cmp_case {
        ($name:literal, $op:expr, $s:expr) => {
            (
                $name,
                (|b, x, y, _| {
                    let r = b.compare($op, x, y, $s);
                    one(r)
                }) as Build,
                (|n, x, y, _| u128::from(cmp_ref($op, $s)(n, x, y))) as Reference,
            )
        };
    }
    vec![
        (
            "add",
            |b, x, y, _| b.add(x, y),
            |n, x, y, _| (u128::from(x) + u128::from(y)) & mask(n),
        ),
        (
            "add_carry",
            |b, x, y, s| {
                let (sum, c) = b.add_carry(x, y, s);
                sum.concat(&one(c))
            },
            |n, x, y, s| (u128::from(x) + u128::from(y) + u128::from(s)) & mask(n + 1),
        ),
        (
            "sub",
            |b, x, y, _| b.sub(x, y),
            |n, x, y, _| u128::from(x.wrapping_sub(y)) & mask(n),
        ),
        (
            "neg",
            |b, x, _, _| b.neg(x),
            |n, x, _, _| u128::from(x.wrapping_neg()) & mask(n),
        ),
        (
            "cond_neg",
            |b, x, _, s| b.cond_neg(x, s),
            |n, x, _, s| u128::from(if s { x.wrapping_neg() } else { x }) & mask(n),
        ),
        (
            "mul",
            |b, x, y, _| b.mul(x, y),
            |n, x, y, _| u128::from(x.wrapping_mul(y)) & mask(n),
        ),
        (
            "mul_wide_u",
            |b, x, y, _| b.mul_wide(x, y, Unsigned),
            |n, x, y, _| (u128::from(x) * u128::from(y)) & mask(2 * n),
        ),
        (
            "mul_wide_s",
            |b, x, y, _| b.mul_wide(x, y, Signed),
            |n, x, y, _| (i128::from(sext(n, x)) * i128::from(sext(n, y))) as u128 & mask(2 * n),
        ),
        (
            "div_u",
            |b, x, y, _| b.div(x, y, Unsigned),
            |n, x, y, _| x.checked_div(y).map_or(mask(n), u128::from),
        ),
        (
            "rem_u",
            |b, x, y, _| b.rem(x, y, Unsigned),
            |_, x, y, _| u128::from(if y == 0 { x } else { x % y }),
        ),
        (
            "div_s",
            |b, x, y, _| b.div(x, y, Signed),
            |n, x, y, _| {
                let (a, d) = (sext(n, x), sext(n, y));
                let q = if d == 0 { -1 } else { a.wrapping_div(d) };
                q as u64 as u128 & mask(n)
            },
        ),
        (
            "rem_s",
            |b, x, y, _| b.rem(x, y, Signed),
            |n, x, y, _| {
                let (a, d) = (sext(n, x), sext(n, y));
                let r = if d == 0 { a } else { a.wrapping_rem(d) };
                r as u64 as u128 & mask(n)
            },
        ),
        (
            "divrem_s",
            |b, x, y, _| {
                let (q, r) = b.div_rem(x, y, Signed);
                q.concat(&r)
            },
            |n, x, y, _| {
                let (a, d) = (sext(n, x), sext(n, y));
                let (q, r) = if d == 0 {
                    (-1, a)
                } else {
                    (a.wrapping_div(d), a.wrapping_rem(d))
                };
                (q as u64 as u128 & mask(n)) | (r as u64 as u128 & mask(n)) << n
            },
        ),
        cmp_case!("lt_u", Cmp::Lt, Unsigned),
        cmp_case!("le_u", Cmp::Le, Unsigned),
        cmp_case!("gt_u", Cmp::Gt, Unsigned),
        cmp_case!("ge_u", Cmp::Ge, Unsigned),
        cmp_case!("lt_s", Cmp::Lt, Signed),
        cmp_case!("le_s", Cmp::Le, Signed),
        cmp_case!("gt_s", Cmp::Gt, Signed),
        cmp_case!("ge_s", Cmp::Ge, Signed),
        cmp_case!("eq", Cmp::Eq, Unsigned),
        cmp_case!("ne", Cmp::Ne, Signed),
        (
            "mux",
            |b, x, y, s| b.mux(s, x, y),
            |_, x, y, s| u128::from(if s { x } else { y }),
        ),
        (
            "and",
            |b, x, y, _| b.and(x, y),
            |_, x, y, _| u128::from(x & y),
        ),
        (
            "or",
            |b, x, y, _| b.or(x, y),
            |_, x, y, _| u128::from(x | y),
        ),
        (
            "xor",
            |b, x, y, _| b.xor(x, y),
            |_, x, y, _| u128::from(x ^ y),
        ),
        (
            "not",
            |b, x, _, _| b.not(x),
            |n, x, _, _| u128::from(!x) & mask(n),
        ),
        (
            "min_u",
            |b, x, y, _| b.min(x, y, Unsigned),
            |_, x, y, _| u128::from(x.min(y)),
        ),
        (
            "max_u",
            |b, x, y, _| b.max(x, y, Unsigned),
            |_, x, y, _| u128::from(x.max(y)),
        ),
        (
            "min_s",
            |b, x, y, _| b.min(x, y, Signed),
            |n, x, y, _| u128::from(if sext(n, x) <= sext(n, y) { x } else { y }),
        ),
        (
            "max_s",
            |b, x, y, _| b.max(x, y, Signed),
            |n, x, y, _| u128::from(if sext(n, x) >= sext(n, y) { x } else { y }),
        ),
        (
            "abs",
            |b, x, _, _| b.abs(x),
            |n, x, _, _| sext(n, x).wrapping_abs() as u64 as u128 & mask(n),
        ),
        (
            "popcount",
            |b, x, _, _| b.popcount(x),
            |_, x, _, _| u128::from(x.count_ones()),
        ),
        (
            "is_zero",
            |b, x, _, _| {
                let z = b.is_zero(x);
                one(z)
            },
            |_, x, _, _| u128::from(x == 0),
        ),
    ]
}

/// Builds one circuit for width `n` holding every case as an output. The
/// operands are inputs, or public constants when given.
fn build(n: u32, x_const: Option<u64>, y_const: Option<u64>) -> Circuit {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("p"), b.party("q"));
    let x = b.input(p, "x", n).unwrap();
    let y = b.input(q, "y", n).unwrap();
    let s = b.input(q, "s", 1).unwrap().bit(0);
    let x = x_const.map_or(x, |v| Word::constant(v, n as usize));
    let y = y_const.map_or(y, |v| Word::constant(v, n as usize));
    for (name, f, _) in cases() {
        let out = f(&mut b, &x, &y, s);
        b.output(name, &out);
    }
    b.finish().unwrap()
}

fn all_widths() -> &'static Vec<Circuit> {
    static CIRCUITS: OnceLock<Vec<Circuit>> = OnceLock::new();
    CIRCUITS.get_or_init(|| (1..=64).map(|n| build(n, None, None)).collect())
}

fn check(circuit: &Circuit, n: u32, triples: &[(u64, u64, bool)]) {
    let instances: Vec<Vec<Bits>> = triples
        .iter()
        .map(|&(x, y, s)| {
            vec![
                Bits::from_u64(x, n as usize),
                Bits::from_u64(y, n as usize),
                Bits::from_u64(u64::from(s), 1),
            ]
        })
        .collect();
    let outs = evaluate_many(circuit, &instances).unwrap();
    let cases = cases();
    for (&(x, y, s), out) in triples.iter().zip(&outs) {
        for ((name, _, reference), got) in cases.iter().zip(out) {
            assert_eq!(
                bits_u128(got),
                reference(n, x, y, s),
                "{name}, n = {n}, x = {x:#x}, y = {y:#x}, s = {s}"
            );
        }
    }
}

fn value(n: u32) -> impl Strategy<Value = u64> {
    let m = mask(n) as u64;
    prop_oneof![
        any::<u64>().prop_map(move |v| v & m),
        Just(0),
        Just(1),
        Just(m),
        Just(m >> 1),
        Just(1u64 << (n - 1)),
        Just(m.wrapping_sub(1) & m),
    ]
}

fn width_and_values() -> impl Strategy<Value = (u32, Vec<(u64, u64, bool)>)> {
    (1u32..=64).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((value(n), value(n), any::<bool>()), 1..48),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn gadgets_match_native_arithmetic((n, triples) in width_and_values()) {
        check(&all_widths()[n as usize - 1], n, &triples);
    }

    #[test]
    fn gadgets_with_a_constant_operand_match((n, triples) in width_and_values(), first in any::<bool>()) {
        let (x0, y0, _) = triples[0];
        let circuit = if first { build(n, Some(x0), None) } else { build(n, None, Some(y0)) };
        let fixed: Vec<_> = triples
            .iter()
            .map(|&(x, y, s)| if first { (x0, y, s) } else { (x, y0, s) })
            .collect();
        check(&circuit, n, &fixed);
    }

    #[test]
    fn shifts_and_rotations_match((n, triples) in width_and_values(), k in 0usize..70) {
        let mut b = CircuitBuilder::new();
        let p = b.party("p");
        let x = b.input(p, "x", n).unwrap();
        b.output("shl", &x.shl(k));
        b.output("shr", &x.shr_logical(k));
        b.output("sar", &x.shr_arithmetic(k));
        b.output("rotl", &x.rotl(k));
        b.output("rotr", &x.rotr(k));
        let c = b.finish().unwrap();
        prop_assert_eq!(c.stats().and + c.stats().xor, 0);
        let m = mask(n) as u64;
        for &(x, _, _) in &triples {
            let out = evaluate(&c, &[Bits::from_u64(x, n as usize)]).unwrap();
            let r = k as u32 % n;
            let rotl = if r == 0 { x } else { (x << r | x >> (n - r)) & m };
            let rotr = if r == 0 { x } else { (x >> r | x << (n - r)) & m };
            let expect = [
                if k >= 64 { 0 } else { (x << k) & m },
                if k >= 64 { 0 } else { x >> k },
                (sext(n, x) >> k.min(63)) as u64 & m,
                rotl,
                rotr,
            ];
            for (got, want) in out.iter().zip(expect) {
                prop_assert_eq!(got.to_u64(), Some(want), "n = {}, k = {}, x = {:#x}", n, k, x);
            }
        }
    }
}

#[test]
fn small_widths_exhaustively() {
    for n in 1..=5u32 {
        let mut triples = Vec::new();
        for x in 0..1u64 << n {
            for y in 0..1u64 << n {
                triples.push((x, y, (x + y) % 3 == 0));
            }
        }
        check(&all_widths()[n as usize - 1], n, &triples);
    }
}

/// Builds `f` on two fresh `n`-bit inputs and a selector; returns its AND count.
fn ands(n: u32, f: impl FnOnce(&mut CircuitBuilder, &Word, &Word, Bit)) -> u64 {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("p"), b.party("q"));
    let x = b.input(p, "x", n).unwrap();
    let y = b.input(q, "y", n).unwrap();
    let s = b.input(q, "s", 1).unwrap().bit(0);
    f(&mut b, &x, &y, s);
    b.and_count()
}

#[test]
fn and_counts_are_as_documented() {
    for n in 1..=64u32 {
        let m = u64::from(n);
        assert_eq!(ands(n, |b, x, y, _| drop(b.add(x, y))), m - 1, "add {n}");
        assert_eq!(
            ands(n, |b, x, y, s| drop(b.add_carry(x, y, s))),
            m,
            "add_carry {n}"
        );
        assert_eq!(ands(n, |b, x, y, _| drop(b.sub(x, y))), m - 1, "sub {n}");
        assert_eq!(
            ands(n, |b, x, _, _| drop(b.neg(x))),
            m.saturating_sub(2),
            "neg {n}"
        );
        assert_eq!(
            ands(n, |b, x, _, s| drop(b.cond_neg(x, s))),
            m - 1,
            "cond_neg {n}"
        );
        assert_eq!(ands(n, |b, x, _, _| drop(b.abs(x))), m - 1, "abs {n}");
        assert_eq!(
            ands(n, |b, x, y, _| drop(b.mul(x, y))),
            m * m - m + 1,
            "mul {n}"
        );
        for s in [Unsigned, Signed] {
            assert_eq!(
                ands(n, |b, x, y, _| drop(b.mul_wide(x, y, s))),
                2 * m * m - m,
                "mul_wide {s:?} {n}"
            );
            assert_eq!(
                ands(n, |b, x, y, _| {
                    let _ = b.lt(x, y, s);
                }),
                m,
                "lt {s:?} {n}"
            );
            assert_eq!(
                ands(n, |b, x, y, _| {
                    let _ = b.ge(x, y, s);
                }),
                m,
                "ge {s:?} {n}"
            );
            assert_eq!(
                ands(n, |b, x, y, _| drop(b.min(x, y, s))),
                2 * m,
                "min {s:?} {n}"
            );
        }
        assert_eq!(
            ands(n, |b, x, y, _| {
                let _ = b.eq(x, y);
            }),
            m - 1,
            "eq {n}"
        );
        assert_eq!(
            ands(n, |b, x, y, _| {
                let _ = b.ne(x, y);
            }),
            m - 1,
            "ne {n}"
        );
        assert_eq!(ands(n, |b, x, y, s| drop(b.mux(s, x, y))), m, "mux {n}");
        assert_eq!(ands(n, |b, x, y, _| drop(b.and(x, y))), m, "and {n}");
        assert_eq!(ands(n, |b, x, y, _| drop(b.or(x, y))), m, "or {n}");
        assert_eq!(ands(n, |b, x, y, _| drop(b.xor(x, y))), 0, "xor {n}");
        assert!(
            ands(n, |b, x, _, _| drop(b.popcount(x))) < m,
            "popcount {n}"
        );
        let udiv = if n == 1 { 2 } else { m * m + 3 * m - 3 };
        assert_eq!(
            ands(n, |b, x, y, _| drop(b.div_rem(x, y, Unsigned))),
            udiv,
            "divrem_u {n}"
        );
        let uq = if n == 1 { 1 } else { m * m + 2 * m - 3 };
        assert_eq!(
            ands(n, |b, x, y, _| drop(b.div(x, y, Unsigned))),
            uq,
            "div_u {n}"
        );
        let sdiv = udiv + 5 * m - 4;
        assert_eq!(
            ands(n, |b, x, y, _| drop(b.div_rem(x, y, Signed))),
            sdiv,
            "divrem_s {n}"
        );
        let sq = uq + 4 * m - 3;
        assert_eq!(
            ands(n, |b, x, y, _| drop(b.div(x, y, Signed))),
            sq,
            "div_s {n}"
        );
    }
    // The 64-bit figures, next to the Bristol files in ../shared/circuits.
    assert_eq!(ands(64, |b, x, y, _| drop(b.add(x, y))), 63); // adder64.txt: 63
    assert_eq!(ands(64, |b, x, y, _| drop(b.mul(x, y))), 4033); // mult64.txt: 4033
    assert_eq!(
        ands(64, |b, x, y, _| drop(b.mul_wide(x, y, Unsigned))),
        8128
    ); // mult2_64.txt: 8128
    assert_eq!(ands(64, |b, x, y, _| drop(b.div_rem(x, y, Unsigned))), 4285); // udivide64.txt: 4285
}

#[test]
fn constant_operands_cost_less() {
    // x * 10 = (x << 1) + (x << 3): one addition, no partial products.
    let n = 32;
    let mut b = CircuitBuilder::new();
    let p = b.party("p");
    let x = b.input(p, "x", n).unwrap();
    let ten = Word::constant(10, n as usize);
    let _ = b.mul(&x, &ten);
    assert!(
        b.and_count() <= u64::from(n),
        "x * 10 took {} AND",
        b.and_count()
    );
    // The same with the constant on the left: the gadget puts it where its
    // zero bits save rows.
    let mut b = CircuitBuilder::new();
    let p = b.party("p");
    let x = b.input(p, "x", n).unwrap();
    let _ = b.mul(&ten, &x);
    assert!(
        b.and_count() <= u64::from(n),
        "10 * x took {} AND",
        b.and_count()
    );
    // Comparing with a constant costs at most n - 1.
    let mut b = CircuitBuilder::new();
    let p = b.party("p");
    let x = b.input(p, "x", n).unwrap();
    let _ = b.lt(&x, &Word::constant(1000, n as usize), Unsigned);
    assert!(b.and_count() < u64::from(n));
}
