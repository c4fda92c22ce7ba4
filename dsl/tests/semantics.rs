//! The documented semantics of the language against native Rust: programs
//! for every integer type (and `fix`) are compiled once, run in the clear on
//! random inputs (with the edge values MIN, MAX, 0 and -1 drawn often), and
//! every output is compared with what Rust computes.
//!
//! - integers: `+ - *` and unary `-` wrap; `/` and `%` round toward zero
//!   with RISC-V results for `/ 0` and `MIN / -1`; `& | ^ !`; shifts by
//!   public and secret amounts of any integer type (read as unsigned; an
//!   amount of the width or more gives the fill); comparisons by
//!   signedness; `as` casts; compound assignments; public operands;
//! - `fix` (Q47.16): `+ -` wrap, `*` floors the 128-bit product, `/` rounds
//!   toward zero on 80 bits, casts to and from integers;
//! - built-ins `min`, `max`, `abs`, `sum`, `dot`, `select` (an index past
//!   the end gives the last element), `len`;
//! - `if` on a secret condition: variables assigned in either branch and the
//!   value of the `if` are multiplexed;
//! - the AND-gate counts of a few operations against the cost table of
//!   `quorate_circuits::gadgets`.
//!
//! The last two tests pin bugs this file found (assignments nested in
//! expressions under a secret `if`; public negative typed shift amounts).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quorate_dsl::types::fix_to_string;
use quorate_dsl::{Limits, Program, Value, compile, decode, parse_value};

/// Cases per property: every program is run this many times.
const CASES: u32 = 128;
/// Cases of the properties that compile a program per case.
const PUBLIC_CASES: u32 = 24;

fn build(src: &str) -> Program {
    match compile(src, &[], Limits::default()) {
        Ok(p) => p,
        Err(d) => panic!("{}\n{src}", d.render("test.quo", src)),
    }
}

/// Compiles a program once per test, however many cases run.
macro_rules! program {
    ($src:expr) => {{
        static P: OnceLock<Program> = OnceLock::new();
        P.get_or_init(|| build(&$src))
    }};
}

/// Runs `p` on input texts and compares every output with `want`, listing
/// the outputs that differ.
fn check(p: &Program, inputs: &[String], want: &[Value]) -> Result<(), TestCaseError> {
    assert_eq!(p.inputs.len(), inputs.len(), "one text per input");
    assert_eq!(p.outputs.len(), want.len(), "one expected value per output");
    let vals: Vec<_> = p
        .inputs
        .iter()
        .zip(inputs)
        .map(|(i, t)| {
            parse_value(t, &i.ty).unwrap_or_else(|e| panic!("input {} = {t}: {e}", i.name))
        })
        .collect();
    let outs = p.eval_plain(&vals).unwrap();
    let bad: Vec<String> = p
        .outputs
        .iter()
        .zip(&outs)
        .zip(want)
        .filter_map(|((o, bits), w)| {
            let got = decode(&o.ty, bits);
            (got != *w).then(|| format!("{}: got {got:?}, want {w:?}", o.name))
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        let named: Vec<String> = p
            .inputs
            .iter()
            .zip(inputs)
            .map(|(i, t)| format!("{} = {t}", i.name))
            .collect();
        Err(TestCaseError::fail(format!(
            "inputs {}: {}",
            named.join(", "),
            bad.join("; ")
        )))
    }
}

fn int(x: impl Into<i128>) -> Value {
    Value::Int(x.into())
}

fn fix(raw: i64) -> Value {
    Value::Fix(raw)
}

fn boolean(b: bool) -> Value {
    Value::Bool(b)
}

/// `[a, b, c]`.
fn list<X: ToString>(xs: &[X]) -> String {
    let items: Vec<String> = xs.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// A `fix` input: the exact decimal of a raw word.
fn fix_text(raw: i64) -> String {
    fix_to_string(raw)
}

/// An index past the end reads the last element; `idx` is unsigned.
fn sel<X: Copy>(xs: &[X], idx: u128) -> X {
    xs[usize::try_from(idx).unwrap_or(usize::MAX).min(xs.len() - 1)]
}

/// Shift amounts of the other amount types: small ones mostly, some of
/// them past every width, and the edges.
fn amount_u8() -> BoxedStrategy<u8> {
    prop_oneof![3 => 0u8..=70, 1 => any::<u8>()].boxed()
}

fn amount_i8() -> BoxedStrategy<i8> {
    prop_oneof![3 => 0i8..=70, 1 => any::<i8>()].boxed()
}

fn amount_u64() -> BoxedStrategy<u64> {
    prop_oneof![
        3 => 0u64..=70,
        1 => any::<u64>(),
        1 => prop::sample::select(vec![1u64 << 31, 1 << 32, (1 << 31) + 3, u64::MAX, 1 << 63]),
    ]
    .boxed()
}

/// Secret indexes: in range, just past the end, or anything.
fn index_u8() -> BoxedStrategy<u8> {
    prop_oneof![3 => 0u8..=10, 1 => any::<u8>()].boxed()
}

macro_rules! int_tests {
    ($($m:ident: $t:ident, $u:ident;)*) => {$(
        /// The properties for one integer type.
        mod $m {
            #![allow(clippy::unnecessary_cast)] // the same code for every type
            use super::*;

            type T = $t;
            const TY: &str = stringify!($t);
            const BITS: u32 = $t::BITS;
            const SIGNED: bool = $t::MIN != 0;

            /// The template with `$T` replaced by this type, after the
            /// parties.
            fn src(template: &str) -> String {
                format!("parties alice, bob;\n{}", template.replace("$T", TY))
            }

            /// Any value, small values, or an edge.
            fn edge() -> BoxedStrategy<T> {
                prop_oneof![
                    4 => any::<T>(),
                    2 => (-8i8..=8).prop_map(|x| x as T),
                    2 => prop::sample::select(vec![
                        T::MIN,
                        T::MAX,
                        T::MIN.wrapping_add(1),
                        T::MAX.wrapping_sub(1),
                        !0,
                        0,
                        1,
                    ]),
                ]
                .boxed()
            }

            /// Two values, sometimes equal or adjacent.
            fn pair() -> BoxedStrategy<(T, T)> {
                prop_oneof![
                    4 => (edge(), edge()),
                    1 => edge().prop_map(|a| (a, a)),
                    1 => edge().prop_map(|a| (a, a.wrapping_add(1))),
                ]
                .boxed()
            }

            /// A shift amount of this type: mostly around the width.
            fn amount() -> BoxedStrategy<T> {
                prop_oneof![3 => (0u8..=(BITS as u8 + 2)).prop_map(|k| k as T), 1 => edge()]
                    .boxed()
            }

            /// RISC-V: `x / 0` is all ones, `MIN / -1` is `MIN`.
            fn div(a: T, b: T) -> T {
                if b == 0 { !0 } else { a.wrapping_div(b) }
            }

            /// RISC-V: `x % 0` is `x`, `MIN % -1` is 0.
            fn rem(a: T, b: T) -> T {
                if b == 0 { a } else { a.wrapping_rem(b) }
            }

            fn shl(a: T, amt: u128) -> T {
                if amt >= u128::from(BITS) { 0 } else { a << amt }
            }

            /// Arithmetic on signed types; past the width, the sign fills.
            fn shr(a: T, amt: u128) -> T {
                if amt >= u128::from(BITS) { (a >> (BITS - 1)) >> 1 } else { a >> amt }
            }

            /// The amount, read as unsigned in its own type.
            fn amt(k: T) -> u128 {
                u128::from(k as $u)
            }

            fn abs(a: T) -> T {
                if SIGNED && (a >> (BITS - 1)) & 1 == 1 { a.wrapping_neg() } else { a }
            }

            fn v(x: T) -> Value {
                int(x)
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(CASES))]

                #[test]
                fn arithmetic_wraps((a, b) in pair()) {
                    let p = program!(src(
                        "fn main(a: $T @alice, b: $T @bob) -> (add: $T, sub: $T, mul: $T, \
                         neg: $T, not: $T, and: $T, or: $T, xor: $T, add7: $T, from100: $T, \
                         mul3: $T, mul100: $T, and5a: $T, or1: $T, xor7f: $T, neg_pub: $T, \
                         chain: $T) @all {
                            let mut x = a;
                            x += b;
                            x *= b;
                            x ^= a;
                            x -= b;
                            x |= a;
                            x &= !b;
                            x <<= 1;
                            x >>= 2;
                            x *= 3;
                            (a + b, a - b, a * b, -a, !a, a & b, a | b, a ^ b, a + 7, 100 - a,
                             a * 3, a * 100, a & 0x5a, a | 1, a ^ 0x7f, -(5 as $T) * a, x)
                        }"
                    ));
                    let mut x = a;
                    x = x.wrapping_add(b);
                    x = x.wrapping_mul(b);
                    x ^= a;
                    x = x.wrapping_sub(b);
                    x |= a;
                    x &= !b;
                    x = shl(x, 1);
                    x = shr(x, 2);
                    x = x.wrapping_mul(3);
                    let want = [
                        a.wrapping_add(b),
                        a.wrapping_sub(b),
                        a.wrapping_mul(b),
                        a.wrapping_neg(),
                        !a,
                        a & b,
                        a | b,
                        a ^ b,
                        a.wrapping_add(7),
                        (100 as T).wrapping_sub(a),
                        a.wrapping_mul(3),
                        a.wrapping_mul(100),
                        a & 0x5a,
                        a | 1,
                        a ^ 0x7f,
                        (5 as T).wrapping_neg().wrapping_mul(a),
                        x,
                    ];
                    check(p, &[a.to_string(), b.to_string()], &want.map(v))?;
                }

                #[test]
                fn division_rounds_toward_zero_risc_v_at_zero(
                    (a, b) in prop_oneof![
                        3 => pair(),
                        1 => edge().prop_map(|a| (a, 0)),
                        1 => edge().prop_map(|a| (a, !0)),
                        1 => edge().prop_map(|b| (T::MIN, b)),
                    ]
                ) {
                    let p = program!(src(
                        "fn main(a: $T @alice, b: $T @bob) -> (div: $T, rem: $T, div7: $T, \
                         rem7: $T, div1: $T, from100: $T, mod100: $T, chain: $T) @all {
                            let mut x = a;
                            x /= b;
                            x %= a;
                            x += b / a;
                            (a / b, a % b, a / 7, a % 7, a / 1, 100 / b, 100 % b, x)
                        }"
                    ));
                    let mut x = div(a, b);
                    x = rem(x, a);
                    x = x.wrapping_add(div(b, a));
                    let want = [
                        div(a, b),
                        rem(a, b),
                        div(a, 7),
                        rem(a, 7),
                        a,
                        div(100, b),
                        rem(100, b),
                        x,
                    ];
                    check(p, &[a.to_string(), b.to_string()], &want.map(v))?;
                }

                #[test]
                fn comparisons_follow_signedness((a, b) in pair()) {
                    let p = program!(src(
                        "fn main(a: $T @alice, b: $T @bob) -> (eq: bool, ne: bool, lt: bool, \
                         le: bool, gt: bool, ge: bool, and: bool, or: bool, not: bool, \
                         xor: bool, beq: bool, arr_eq: bool, tup_ne: bool, lt5: bool, \
                         ge10: bool, band: bool, bor: bool) @all {
                            (a == b, a != b, a < b, a <= b, a > b, a >= b,
                             (a < b) && (b != 0), (a < b) || (a == 0), !(a <= b),
                             (a > b) ^ (b > 0), (a < b) == (b > 5), [a, b] == [b, a],
                             (a, b) != (b, a), a < 5, 10 >= a, (a >= b) & (a != 1),
                             (a == 3) | (b <= a))
                        }"
                    ));
                    let want = [
                        a == b,
                        a != b,
                        a < b,
                        a <= b,
                        a > b,
                        a >= b,
                        a < b && b != 0,
                        a < b || a == 0,
                        a > b,
                        (a > b) ^ (b > 0),
                        (a < b) == (b > 5),
                        a == b,
                        a != b,
                        a < 5,
                        10 >= a,
                        a >= b && a != 1,
                        a == 3 || b <= a,
                    ];
                    check(p, &[a.to_string(), b.to_string()], &want.map(boolean))?;
                }

                #[test]
                fn secret_shifts_read_the_amount_unsigned(
                    a in edge(),
                    k in amount(),
                    k8 in amount_u8(),
                    ks in amount_i8(),
                    k64 in amount_u64(),
                ) {
                    let p = program!(src(
                        "fn main(a: $T @alice, k: $T @bob, k8: u8 @bob, ks: i8 @bob, \
                         k64: u64 @bob) -> (shl: $T, shr: $T, shl8: $T, shr8: $T, shls: $T, \
                         shrs: $T, shl64: $T, shr64: $T, one_shl: $T, min_shr: $T, \
                         chain: $T) @all {
                            let mut x = a;
                            x <<= k8;
                            x >>= ks;
                            (a << k, a >> k, a << k8, a >> k8, a << ks, a >> ks, a << k64,
                             a >> k64, (1 as $T) << k, (-128 as i8 as $T) >> k8, x)
                        }"
                    ));
                    let (a8, as8, a64) = (u128::from(k8), u128::from(ks as u8), u128::from(k64));
                    let min8 = -128i8 as T;
                    let want = [
                        shl(a, amt(k)),
                        shr(a, amt(k)),
                        shl(a, a8),
                        shr(a, a8),
                        shl(a, as8),
                        shr(a, as8),
                        shl(a, a64),
                        shr(a, a64),
                        shl(1, amt(k)),
                        shr(min8, a8),
                        shr(shl(a, a8), as8),
                    ];
                    let inputs =
                        [a.to_string(), k.to_string(), k8.to_string(), ks.to_string(), k64.to_string()];
                    check(p, &inputs, &want.map(v))?;
                }

                #[test]
                fn public_shifts(a in edge()) {
                    let p = program!({
                        let mut exprs = Vec::new();
                        for k in 0..=BITS + 1 {
                            exprs.push(format!("a << {k}"));
                            exprs.push(format!("a >> {k}"));
                        }
                        exprs.extend(
                            ["a << (3 as u8)", "a >> (200 as u8)", "a << 1000", "a >> 1000"]
                                .map(String::from),
                        );
                        let tys = vec!["$T"; exprs.len()];
                        src(&format!(
                            "fn main(a: $T @alice) -> ({}) @all {{ ({}) }}",
                            tys.join(", "),
                            exprs.join(", ")
                        ))
                    });
                    let mut want = Vec::new();
                    for k in 0..=BITS + 1 {
                        want.push(shl(a, u128::from(k)));
                        want.push(shr(a, u128::from(k)));
                    }
                    want.extend([shl(a, 3), shr(a, 200), shl(a, 1000), shr(a, 1000)]);
                    let want: Vec<Value> = want.into_iter().map(v).collect();
                    check(p, &[a.to_string()], &want)?;
                }

                #[test]
                fn casts_truncate_or_extend_by_the_source(a in edge(), c in any::<bool>()) {
                    let p = program!(src(
                        "fn main(a: $T @alice, c: bool @bob) -> (to_u8: u8, to_u16: u16, \
                         to_u32: u32, to_u64: u64, to_i8: i8, to_i16: i16, to_i32: i32, \
                         to_i64: i64, to_fix: fix, from_bool: $T, bool_fix: fix, \
                         round_trip: $T, same: $T, twice: $T) @all {
                            (a as u8, a as u16, a as u32, a as u64, a as i8, a as i16,
                             a as i32, a as i64, a as fix, c as $T, c as fix,
                             (a as fix) as $T, a as $T, (a as i8) as $T)
                        }"
                    ));
                    let raw = (a as i64).wrapping_shl(16);
                    let want = [
                        int(a as u8),
                        int(a as u16),
                        int(a as u32),
                        int(a as u64),
                        int(a as i8),
                        int(a as i16),
                        int(a as i32),
                        int(a as i64),
                        fix(raw),
                        int(T::from(c)),
                        fix(i64::from(c) << 16),
                        int((raw >> 16) as T),
                        int(a),
                        int(a as i8 as T),
                    ];
                    check(p, &[a.to_string(), c.to_string()], &want)?;
                }

                #[test]
                fn builtins(
                    xs in prop::array::uniform5(edge()),
                    ys in prop::array::uniform5(edge()),
                    i in index_u8(),
                    j in amount_i8(),
                    k in amount_u64(),
                ) {
                    let p = program!(src(
                        "fn main(xs: [$T; 5] @alice, ys: [$T; 5] @bob, i: u8 @bob, j: i8 @bob, \
                         k: u64 @bob) -> (min2: $T, max2: $T, abs: $T, sum: $T, dot: $T, \
                         min: $T, max: $T, len: $T, sel1: $T, sel4: $T, sel5: $T, sel8: $T, \
                         sel_i8: $T, sel_u64: $T, sel_pub: $T, sel_pair: ($T, bool), \
                         sel_lit: $T) @all {
                            let ys4 = [ys[0], ys[1], ys[2], ys[3]];
                            let eight = [xs[0], xs[1], xs[2], xs[3], xs[4], ys[0], ys[1], ys[2]];
                            let pairs = [(xs[0], true), (xs[1], false), (xs[2], true)];
                            (min(xs[0], ys[0]), max(xs[1], ys[1]), abs(xs[2]), sum(xs),
                             dot(xs, ys), min(xs), max(ys), len(xs) as $T, select([xs[3]], i),
                             select(ys4, i), select(xs, i), select(eight, i), select(xs, j),
                             select(ys, k), select(ys, 2), select(pairs, i),
                             select([1, 2, 3 as $T], i))
                        }"
                    ));
                    let eight = [xs[0], xs[1], xs[2], xs[3], xs[4], ys[0], ys[1], ys[2]];
                    let pairs = [(xs[0], true), (xs[1], false), (xs[2], true)];
                    let iu = u128::from(i);
                    let pair = sel(&pairs, iu);
                    let want = [
                        v(xs[0].min(ys[0])),
                        v(xs[1].max(ys[1])),
                        v(abs(xs[2])),
                        v(xs.iter().fold(0, |s: T, x| s.wrapping_add(*x))),
                        v(xs.iter().zip(&ys).fold(0, |s: T, (x, y)| s.wrapping_add(x.wrapping_mul(*y)))),
                        v(*xs.iter().min().unwrap()),
                        v(*ys.iter().max().unwrap()),
                        v(5),
                        v(xs[3]),
                        v(sel(&ys[..4], iu)),
                        v(sel(&xs, iu)),
                        v(sel(&eight, iu)),
                        v(sel(&xs, u128::from(j as u8))),
                        v(sel(&ys, u128::from(k))),
                        v(ys[2]),
                        Value::Tuple(vec![v(pair.0), boolean(pair.1)]),
                        v(sel(&[1, 2, 3], iu)),
                    ];
                    let inputs =
                        [list(&xs), list(&ys), i.to_string(), j.to_string(), k.to_string()];
                    check(p, &inputs, &want)?;
                }

                #[test]
                fn secret_if_multiplexes((a, b) in pair(), c in any::<bool>()) {
                    let p = program!(src(
                        "fn bump(x: $T, c: bool) -> $T {
                            let mut y = x;
                            if c { y += 1; }
                            y
                        }
                        fn main(a: $T @alice, b: $T @bob, c: bool @bob) -> (x: $T, y: $T, \
                         z: $T, w: $T, v: $T, cnt: u8, m: $T, arr: [$T; 2], t: ($T, bool), \
                         f: $T, e: $T, q: u8) @all {
                            let mut x = a;
                            let mut y = b;
                            let mut z: $T = 0;
                            if a < b {
                                x = b - a;
                                z = 1;
                            } else {
                                y = a - b;
                                x ^= b;
                            }
                            if c { y += 1; }
                            let w = if a == b { a } else if c { b * 3 } else { a ^ b };
                            let mut v = a;
                            if c {
                                if a > b { v = b; } else { v = v + 1; }
                            }
                            let mut cnt: u8 = 0;
                            let mut m = a;
                            for k in 0..4 {
                                let s = b >> k;
                                if s > m {
                                    m = s;
                                    cnt += 1;
                                }
                            }
                            let mut arr = [a, b];
                            let mut t = (a, false);
                            if c != (a > b) {
                                arr[1] = a & b;
                                t.1 = true;
                            } else {
                                t.0 = b;
                            }
                            let e = if c { 7 } else { a };
                            let mut q: u8 = 0;
                            if a < b {
                                q = 1;
                            } else if a == b {
                                q = 2;
                            } else if c {
                                q = 3;
                            }
                            (x, y, z, w, v, cnt, m, arr, t, bump(a, a > b), e, q)
                        }"
                    ));
                    let (mut x, mut y, mut z) = (a, b, 0 as T);
                    if a < b {
                        x = b.wrapping_sub(a);
                        z = 1;
                    } else {
                        y = a.wrapping_sub(b);
                        x ^= b;
                    }
                    if c {
                        y = y.wrapping_add(1);
                    }
                    let w = if a == b {
                        a
                    } else if c {
                        b.wrapping_mul(3)
                    } else {
                        a ^ b
                    };
                    let mut vv = a;
                    if c {
                        if a > b {
                            vv = b;
                        } else {
                            vv = vv.wrapping_add(1);
                        }
                    }
                    let (mut cnt, mut m) = (0u8, a);
                    for k in 0..4 {
                        let s = b >> k;
                        if s > m {
                            m = s;
                            cnt += 1;
                        }
                    }
                    let (mut arr, mut t) = ([a, b], (a, false));
                    if c != (a > b) {
                        arr[1] = a & b;
                        t.1 = true;
                    } else {
                        t.0 = b;
                    }
                    let f = if a > b { a.wrapping_add(1) } else { a };
                    let e = if c { 7 } else { a };
                    let q: u8 = if a < b {
                        1
                    } else if a == b {
                        2
                    } else if c {
                        3
                    } else {
                        0
                    };
                    let want = [
                        v(x),
                        v(y),
                        v(z),
                        v(w),
                        v(vv),
                        int(cnt),
                        v(m),
                        Value::Array(vec![v(arr[0]), v(arr[1])]),
                        Value::Tuple(vec![v(t.0), boolean(t.1)]),
                        v(f),
                        v(e),
                        int(q),
                    ];
                    check(p, &[a.to_string(), b.to_string(), c.to_string()], &want)?;
                }
            }

            proptest! {
                // Compiled once per case: fewer cases.
                #![proptest_config(ProptestConfig::with_cases(PUBLIC_CASES))]

                /// Public operands fold while compiling (and fold into the
                /// gadgets beside a secret one): the same results.
                #[test]
                fn public_operands_fold_to_the_same_results(
                    (pa, pb) in pair(),
                    k in amount_u8(),
                    a in edge(),
                ) {
                    let src = src(
                        "param A: $T;
                        param B: $T;
                        param K: u8;
                        fn main(a: $T @alice) -> (add: $T, sub: $T, mul: $T, div: $T, rem: $T, \
                         and: $T, or: $T, xor: $T, neg: $T, not: $T, shl: $T, shr: $T, lt: bool, \
                         eq: bool, min: $T, max: $T, abs: $T, to_i8: i8, to_u64: u64, to_fix: fix, \
                         sa_add: $T, sa_mul: $T, sa_div: $T, as_div: $T, sa_rem: $T, as_rem: $T, \
                         sa_lt: bool, sa_shl: $T, sa_shr: $T, as_shl: $T) @all {
                            (A + B, A - B, A * B, A / B, A % B, A & B, A | B, A ^ B, -A, !A,
                             A << K, A >> K, A < B, A == B, min(A, B), max(A, B), abs(A),
                             A as i8, A as u64, A as fix, a + A, a * A, a / A, A / a, a % A,
                             A % a, a < A, a << K, a >> K, A << a)
                        }"
                    );
                    let params = [
                        ("A".to_owned(), pa.to_string()),
                        ("B".to_owned(), pb.to_string()),
                        ("K".to_owned(), k.to_string()),
                    ];
                    let p = match compile(&src, &params, Limits::default()) {
                        Ok(p) => p,
                        Err(d) => panic!("{}", d.render("test.quo", &src)),
                    };
                    let k = u128::from(k);
                    let want = [
                        v(pa.wrapping_add(pb)),
                        v(pa.wrapping_sub(pb)),
                        v(pa.wrapping_mul(pb)),
                        v(div(pa, pb)),
                        v(rem(pa, pb)),
                        v(pa & pb),
                        v(pa | pb),
                        v(pa ^ pb),
                        v(pa.wrapping_neg()),
                        v(!pa),
                        v(shl(pa, k)),
                        v(shr(pa, k)),
                        boolean(pa < pb),
                        boolean(pa == pb),
                        v(pa.min(pb)),
                        v(pa.max(pb)),
                        v(abs(pa)),
                        int(pa as i8),
                        int(pa as u64),
                        fix((pa as i64).wrapping_shl(16)),
                        v(a.wrapping_add(pa)),
                        v(a.wrapping_mul(pa)),
                        v(div(a, pa)),
                        v(div(pa, a)),
                        v(rem(a, pa)),
                        v(rem(pa, a)),
                        boolean(a < pa),
                        v(shl(a, k)),
                        v(shr(a, k)),
                        v(shl(pa, amt(a))),
                    ];
                    check(&p, &[a.to_string()], &want)?;
                }
            }
        }
    )*};
}

int_tests! {
    ty_u8: u8, u8;
    ty_u16: u16, u16;
    ty_u32: u32, u32;
    ty_u64: u64, u64;
    ty_i8: i8, u8;
    ty_i16: i16, u16;
    ty_i32: i32, u32;
    ty_i64: i64, u64;
}

/// `fix` properties: raw words are `i64`, `value * 2^16`.
mod fixed {
    use super::*;

    const ONE: i64 = 1 << 16;

    fn src(body: &str) -> String {
        format!("parties alice, bob;\n{body}")
    }

    /// Any raw word, a moderate value (up to about ±16384.0), or an edge.
    fn raw() -> BoxedStrategy<i64> {
        prop_oneof![
            2 => any::<i64>(),
            4 => -(1i64 << 30)..(1i64 << 30),
            2 => prop::sample::select(vec![
                i64::MIN,
                i64::MAX,
                0,
                1,
                -1,
                ONE,
                -ONE,
                ONE / 2,
                -ONE / 2,
                i64::MIN + 1,
            ]),
        ]
        .boxed()
    }

    /// Divisors: nonzero mostly, zero sometimes.
    fn divisor() -> BoxedStrategy<i64> {
        prop_oneof![
            6 => (-(1i64 << 24)..(1i64 << 24)).prop_filter("nonzero", |d| *d != 0),
            2 => any::<i64>(),
            1 => Just(0),
            1 => prop::sample::select(vec![1, -1, ONE, -ONE, i64::MIN, i64::MAX]),
        ]
        .boxed()
    }

    /// `floor(a * b / 2^16)` on 128 bits, truncated.
    fn mul(a: i64, b: i64) -> i64 {
        ((i128::from(a) * i128::from(b)) >> 16) as i64
    }

    /// `(a << 16) / b` rounding toward zero, truncated; `/ 0` is raw -1.
    fn div(a: i64, b: i64) -> i64 {
        if b == 0 {
            -1
        } else {
            ((i128::from(a) << 16) / i128::from(b)) as i64
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        #[test]
        fn arithmetic(a in raw(), b in raw(), d in divisor()) {
            let p = program!(src(
                "fn main(a: fix @alice, b: fix @bob, d: fix @bob) -> (add: fix, sub: fix, \
                 mul: fix, div: fix, div_b: fix, neg: fix, lt: bool, le: bool, gt: bool, \
                 ge: bool, eq: bool, ne: bool, min: fix, max: fix, abs: fix, half: fix, \
                 plus: fix, twice: fix, third: fix) @all {
                    (a + b, a - b, a * b, a / d, a / b, -a, a < b, a <= b, a > b, a >= b,
                     a == b, a != b, min(a, b), max(a, b), abs(a), a * 0.5, a + 1.25, a * 2,
                     a / 3)
                }"
            ));
            let want = [
                fix(a.wrapping_add(b)),
                fix(a.wrapping_sub(b)),
                fix(mul(a, b)),
                fix(div(a, d)),
                fix(div(a, b)),
                fix(a.wrapping_neg()),
                boolean(a < b),
                boolean(a <= b),
                boolean(a > b),
                boolean(a >= b),
                boolean(a == b),
                boolean(a != b),
                fix(a.min(b)),
                fix(a.max(b)),
                fix(a.wrapping_abs()),
                fix(mul(a, ONE / 2)),
                fix(a.wrapping_add(ONE + ONE / 4)),
                fix(mul(a, 2 * ONE)),
                fix(div(a, 3 * ONE)),
            ];
            check(p, &[fix_text(a), fix_text(b), fix_text(d)], &want)?;
        }

        #[test]
        fn casts_floor_then_convert(a in raw(), n in any::<i64>(), m in any::<u64>()) {
            let p = program!(src(
                "fn main(a: fix @alice, n: i64 @bob, m: u64 @bob) -> (to_i64: i64, \
                 to_i32: i32, to_i16: i16, to_i8: i8, to_u64: u64, to_u32: u32, to_u16: u16, \
                 to_u8: u8, via_i32: fix, from_i64: fix, from_u64: fix, same: fix) @all {
                    (a as i64, a as i32, a as i16, a as i8, a as u64, a as u32, a as u16,
                     a as u8, (a as i32) as fix, n as fix, m as fix, a as fix)
                }"
            ));
            let f = a >> 16;
            let want = [
                int(f),
                int(f as i32),
                int(f as i16),
                int(f as i8),
                int(f as u64),
                int(f as u32),
                int(f as u16),
                int(f as u8),
                fix(i64::from(f as i32) << 16),
                fix(n.wrapping_shl(16)),
                fix((m as i64).wrapping_shl(16)),
                fix(a),
            ];
            check(p, &[fix_text(a), n.to_string(), m.to_string()], &want)?;
        }

        #[test]
        fn builtins_and_branches(
            xs in prop::array::uniform4(raw()),
            ys in prop::array::uniform4(raw()),
            i in index_u8(),
        ) {
            let p = program!(src(
                "fn main(xs: [fix; 4] @alice, ys: [fix; 4] @bob, i: u8 @bob) -> (sum: fix, \
                 dot: fix, min: fix, max: fix, sel: fix, acc: fix, pick: fix) @all {
                    let mut acc = 0 as fix;
                    for k in 0..4 {
                        if xs[k] > ys[k] {
                            acc = acc + xs[k] - ys[k];
                        }
                    }
                    let pick = if xs[0] < 0.0 { -xs[0] } else { xs[0] * 1.5 };
                    (sum(xs), dot(xs, ys), min(xs), max(ys), select(xs, i), acc, pick)
                }"
            ));
            let mut acc = 0i64;
            for k in 0..4 {
                if xs[k] > ys[k] {
                    acc = acc.wrapping_add(xs[k]).wrapping_sub(ys[k]);
                }
            }
            let pick = if xs[0] < 0 {
                xs[0].wrapping_neg()
            } else {
                mul(xs[0], ONE + ONE / 2)
            };
            let want = [
                fix(xs.iter().fold(0, |s, x| s.wrapping_add(*x))),
                // `dot` rounds once: the exact sum of the exact products.
                fix((xs.iter().zip(&ys).fold(0i128, |s, (x, y)| {
                    s.wrapping_add(i128::from(*x) * i128::from(*y))
                }) >> 16) as i64),
                fix(*xs.iter().min().unwrap()),
                fix(*ys.iter().max().unwrap()),
                fix(sel(&xs, u128::from(i))),
                fix(acc),
                fix(pick),
            ];
            let texts = |v: &[i64; 4]| {
                let items: Vec<String> = v.iter().map(|r| fix_text(*r)).collect();
                format!("[{}]", items.join(", "))
            };
            check(p, &[texts(&xs), texts(&ys), i.to_string()], &want)?;
        }
    }
}

/// AND gates of single operations on secret operands, against the cost
/// table of `quorate_circuits::gadgets` (`n` the width).
#[test]
fn and_counts_match_the_cost_table() {
    let cases: &[(&str, &str, &str, u64)] = &[
        // type, expression, result type, AND gates
        ("u64", "a > b", "bool", 64),
        ("i64", "a < b", "bool", 64),
        ("u32", "a + b", "u32", 32 - 1),
        ("i64", "a - b", "i64", 64 - 1),
        ("u8", "a * b", "u8", 8 * 8 - 8 + 1),
        ("u32", "a * b", "u32", 32 * 32 - 32 + 1),
        ("i32", "-a", "i32", 32 - 2),
        ("u16", "a == b", "bool", 16 - 1),
        ("i16", "a != b", "bool", 16 - 1),
        ("u32", "a & b", "u32", 32),
        ("u32", "a | b", "u32", 32),
        ("u32", "a ^ b", "u32", 0),
        ("u32", "!a", "u32", 0),
        ("i32", "a >> 5", "i32", 0),
        ("u32", "a << 7", "u32", 0),
        ("u16", "min(a, b)", "u16", 2 * 16),
        ("i8", "max(a, b)", "i8", 2 * 8),
        ("i32", "abs(a)", "i32", 32 - 1),
        ("u32", "if c { a } else { b }", "u32", 32),
        // Unsigned division: n^2 + 2n - 3 for the quotient alone, n^2 + 3n - 3
        // with the remainder; signed adds 4n - 3 and 5n - 4.
        ("u16", "a / b", "u16", 16 * 16 + 2 * 16 - 3),
        ("u16", "a % b", "u16", 16 * 16 + 3 * 16 - 3),
        ("i16", "a / b", "i16", 16 * 16 + 2 * 16 - 3 + 4 * 16 - 3),
        ("i16", "a % b", "i16", 16 * 16 + 3 * 16 - 3 + 5 * 16 - 4),
        ("fix", "a + b", "fix", 64 - 1),
        ("fix", "a < b", "bool", 64),
    ];
    let mut bad = Vec::new();
    for &(ty, expr, ret, want) in cases {
        let src = format!(
            "parties alice, bob;\n\
             fn main(a: {ty} @alice, b: {ty} @bob, c: bool @bob) -> {ret} @all {{ {expr} }}"
        );
        let got = build(&src).circuit.stats().and;
        if got != want {
            bad.push(format!(
                "{ty} `{expr}`: {got} AND gates, the table says {want}"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Runs a program of inputs `a: u8 @alice, c: bool @bob` on every `c` and a
/// few `a`, against `want(a, c)`; the mismatches, described.
fn exhaustive_u8_bool(src: &str, want: impl Fn(u8, bool) -> Vec<Value>) -> Vec<String> {
    let p = build(src);
    let mut bad = Vec::new();
    for a in [0u8, 3, 9, 200] {
        for c in [false, true] {
            if let Err(e) = check(&p, &[a.to_string(), c.to_string()], &want(a, c)) {
                bad.push(format!("{src}\n    {e}"));
            }
        }
    }
    bad
}

/// An assignment to an outer `let mut` happens only when the secret
/// condition of the `if` around it holds, wherever in the branch it is
/// written: in the value of an assignment, in a block used as an operand, in
/// the condition of an inner `if`.
#[test]
fn secret_if_multiplexes_assignments_nested_in_expressions() {
    let head = "parties alice, bob;\nfn main(a: u8 @alice, c: bool @bob)";
    let mut bad = Vec::new();
    bad.extend(exhaustive_u8_bool(
        &format!(
            "{head} -> (x: u8, y: u8) @all {{
                let mut x: u8 = 0;
                let mut y: u8 = 0;
                if c {{ y = if a > 3 {{ x = 1; 3 as u8 }} else {{ 4 }}; }}
                (x, y)
            }}"
        ),
        |a, c| {
            let (x, y) = match (c, a > 3) {
                (false, _) => (0u8, 0u8),
                (true, true) => (1, 3),
                (true, false) => (0, 4),
            };
            vec![int(x), int(y)]
        },
    ));
    bad.extend(exhaustive_u8_bool(
        &format!(
            "{head} -> (x: u8, y: u8) @all {{
                let mut x: u8 = 0;
                let mut y: u8 = 0;
                if c {{ y = {{ x = 9; 3 }}; }}
                (x, y)
            }}"
        ),
        |_, c| vec![int(if c { 9u8 } else { 0 }), int(if c { 3u8 } else { 0 })],
    ));
    bad.extend(exhaustive_u8_bool(
        &format!(
            "{head} -> u8 @all {{
                let mut x: u8 = 0;
                if c {{ let t = a + {{ x = 5; 2 }}; }}
                x
            }}"
        ),
        |_, c| vec![int(if c { 5u8 } else { 0 })],
    ));
    bad.extend(exhaustive_u8_bool(
        &format!(
            "{head} -> u8 @all {{
                let mut x: u8 = 0;
                if c {{ if {{ x = 7; true }} {{ }} }}
                x
            }}"
        ),
        |_, c| vec![int(if c { 7u8 } else { 0 })],
    ));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The amount of a shift is read as unsigned in its own type, public or
/// secret: a secret `i8` of -1 shifts by 255 (all fill), and so should a
/// public one.
#[test]
fn public_negative_shift_amount_reads_unsigned() {
    let head = "parties alice, bob;\nfn main(a: u8 @alice, c: bool @bob)";
    let bad = exhaustive_u8_bool(
        &format!(
            "{head} -> (l: u8, r: u8, s: i8) @all {{ (a << (-1 as i8), a >> (-1 as i8), (a as i8) >> (-8 as i8)) }}"
        ),
        |a, _| {
            vec![
                int(0u8),
                int(0u8),
                int(if (a as i8) < 0 { -1i8 } else { 0 }),
            ]
        },
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
