//! Robustness of the compiler against any input: whatever the source (random
//! bytes, random strings, random streams of the language's tokens, valid
//! programs with tokens or characters deleted, duplicated, swapped, replaced
//! or inserted, random statements and expressions from a small grammar in
//! the body of a `main`), `compile` returns a program or a diagnostic, never
//! panics, and the diagnostic renders without panicking.
//!
//! The limits are small so that no random program runs long; the inputs are
//! short for the same reason.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use proptest::prelude::*;
use proptest::sample::select;
use quorate_dsl::{Limits, compile};

/// Small limits: a random program must not unroll into a large circuit.
const LIMITS: Limits = Limits {
    max_gates: 200_000,
    max_steps: 20_000,
    max_value_bits: 1 << 16,
    trial: None,
};

/// Compiles `src` (with `--param N=...` when it declares `param N`) and
/// renders the diagnostic, if any; a panic in either fails the test.
fn check(src: &str, n: &str) {
    let params = if src.contains("param N") {
        vec![("N".to_owned(), n.to_owned())]
    } else {
        Vec::new()
    };
    if let Err(d) = compile(src, &params, LIMITS) {
        let r = d.render("fuzz.quo", src);
        assert!(r.starts_with("fuzz.quo:"), "{r}");
        assert!(r.contains(": error: "), "{r}");
        assert!(r.contains('^'), "{r}");
        let (line, col) = d.line_col(src);
        assert!(line >= 1 && col >= 1, "{line}:{col}");
        let _ = d.to_string();
    }
}

/// Valid programs covering most of the language: they are mutated below.
const PROGRAMS: &[&str] = &[
    "parties alice, bob; fn main(a: u64 @alice, b: u64 @bob) -> bool @all { a > b }",
    "parties bank, client;
const FEE: u16 = 25;
fn main(balances: [u16; 4] @client, limit: u16 @bank) -> (total: u16 @bank, over: bool @client) {
    let mut total: u16 = 0;
    let mut count: u8 = 0;
    for i in 0..4 {
        total += balances[i];
        if balances[i] > limit { count += 1; } else { total -= FEE; }
    }
    (total, count > 2)
}",
    "parties lender, borrower;
param N = 3;
// Monthly payment against the total income.
fn monthly(principal: fix, rate: fix) -> fix {
    principal * rate
}
fn main(principal: fix @borrower, rate: fix @lender, incomes: [fix; N] @borrower) -> bool @all {
    let mut income = 0.0;
    for i in 0..N { income = income + incomes[i]; }
    monthly(principal, rate) < income - 1.5
}",
    "parties a, b, c;
fn clamp(x: i8, lo: i8, hi: i8) -> i8 { max(lo, min(x, hi)) }
fn main(xs: [i8; 3] @a, ys: [i8; 3] @b, k: u8 @c) -> (i8, i8, u8) @(a, b) {
    let d = dot(xs, ys);
    let s = sum(xs) - abs(sum(ys));
    (clamp(d, -100, 100), select(xs, k) + s, (k << 2) >> 1)
}",
    "parties alice, bob;
fn main(a: u16 @alice, b: u8 @bob, f: bool @bob) -> (u16 @alice, bool @bob) {
    let t = (a, b as u16);
    let mut m = [0 as u16; 3];
    m[1] = t.0 ^ t.1;
    let r = if f && a != 0 { m[1] } else { a | 7 };
    (r, !f || (a as u8) >= b)
}",
    "parties p, q;
const K = 4;
param BITS: u8 = 8;
/* a block as a value, a public if, built-ins */
fn main(v: [u8; K] @p, w: u8 @q) -> u8 @all {
    let x = { let y = v[0] + w; y * 2 };
    let z = if BITS > 4 { x } else { w };
    len(v) as u8 + z + max(v)
}",
];

const KEYWORDS: &[&str] = &[
    "parties", "fn", "let", "mut", "if", "else", "for", "in", "const", "param", "true", "false",
    "as",
];

const PUNCT: &[&str] = &[
    "<<=", ">>=", "..", "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "+=", "-=", "*=",
    "/=", "%=", "&=", "|=", "^=", "(", ")", "{", "}", "[", "]", ",", ";", ":", "@", "=", "<", ">",
    "+", "-", "*", "/", "%", "&", "|", "^", "!", ".",
];

/// Binary operators: one may stand for another.
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=", "&&",
    "||",
];

/// Parties, variables (those of [`MAIN_HEAD`] among them) and functions.
const NAMES: &[&str] = &[
    "alice", "bob", "all", "main", "x", "y", "xs", "c", "r", "a", "b", "i", "t", "f", "N", "sum",
    "min", "max", "abs", "dot", "select", "len",
];

const TYPES: &[&str] = &[
    "bool", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "fix", "int",
];

/// Numbers that lex, at the edges of the types among them.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "16",
    "63",
    "64",
    "126",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "4294967296",
    "9223372036854775808",
    "18446744073709551615",
    "170141183460469231731687303715884105727",
    "0x7f",
    "0b101",
    "1.5",
    "0.25",
    "99999999999999999999.5",
    "1_000",
];

/// Things that do not lex.
const JUNK: &[&str] = &[
    "340282366920938463463374607431768211456",
    "0x",
    "1e6",
    "5u8",
    "/*",
    "#",
    "é",
    "\u{0}",
    "$",
];

/// Every token class: random streams draw from all of them.
const CLASSES: &[&[&str]] = &[KEYWORDS, PUNCT, NAMES, TYPES, NUMBERS, JUNK];

/// Every token that lexes.
fn vocab() -> Vec<&'static str> {
    CLASSES[..CLASSES.len() - 1].concat()
}

/// Every token, and some that do not lex.
fn vocab_and_junk() -> Vec<&'static str> {
    CLASSES.concat()
}

/// Values for `--param N=...`.
const PARAM_VALUES: &[&str] = &["3", "0", "1", "-1", "300", "true", "1.5", "abc", "0x10"];

/// Declarations of every kind of value around a random body, so that random
/// tokens get past the parties and the inputs into the checker.
const MAIN_HEAD: &str = "parties alice, bob;
param N = 3;
fn main(x: u64 @alice, y: i8 @bob, xs: [u8; 4] @alice, c: bool @bob, r: fix @alice) -> u64 @all {
    let t = (x, c);
    let a = x as u32;
    let b = y as u32;
    let mut m: u32 = 0;
    let mut k = 0;
";

/// One edit of a program, at positions taken modulo its length.
#[derive(Clone, Debug)]
enum Edit {
    DeleteToken(usize),
    DuplicateToken(usize),
    SwapTokens(usize, usize),
    /// A token replaced by any token.
    ReplaceToken(usize, usize),
    /// A name by a name or a type, a number by a number, an operator by an
    /// operator: the program still parses more often than not.
    ReplaceAlike(usize, usize),
    InsertToken(usize, usize),
    DeleteChar(usize),
    DuplicateChar(usize),
    SwapChars(usize),
    InsertChar(usize, char),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let i = any::<usize>();
    prop_oneof![
        1 => i.prop_map(Edit::DeleteToken),
        1 => i.prop_map(Edit::DuplicateToken),
        1 => (i, i).prop_map(|(a, b)| Edit::SwapTokens(a, b)),
        1 => (i, i).prop_map(|(a, b)| Edit::ReplaceToken(a, b)),
        8 => (i, i).prop_map(|(a, b)| Edit::ReplaceAlike(a, b)),
        1 => (i, i).prop_map(|(a, b)| Edit::InsertToken(a, b)),
        1 => i.prop_map(Edit::DeleteChar),
        1 => i.prop_map(Edit::DuplicateChar),
        1 => i.prop_map(Edit::SwapChars),
        1 => (
            i,
            prop_oneof![
                select(&b"(){}[];:,.@=<>+-*/%&|^!_ \n0123456789abxyz"[..]).prop_map(char::from),
                any::<char>(),
            ]
        )
            .prop_map(|(a, c)| Edit::InsertChar(a, c)),
    ]
}

/// The source's tokens as written (comments and spaces dropped), or its
/// whitespace-separated words when it does not lex.
fn tokens(src: &str) -> Vec<String> {
    match quorate_dsl::lexer::lex(src) {
        Ok(toks) => toks
            .iter()
            .map(|(_, s)| src[s.start as usize..s.end as usize].to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        Err(_) => src.split_whitespace().map(str::to_owned).collect(),
    }
}

fn is_name(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !KEYWORDS.contains(&t)
}

/// What may stand in for token `t` of `toks`: nothing for keywords and
/// punctuation other than binary operators.
fn alike(t: &str, toks: &[String]) -> Vec<String> {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    if BINOPS.contains(&t) {
        own(BINOPS)
    } else if t.starts_with(|c: char| c.is_ascii_digit()) {
        own(NUMBERS)
    } else if t == "true" || t == "false" {
        own(&["true", "false"])
    } else if is_name(t) {
        // The program's own names first: they are in scope.
        let mut names: Vec<String> = toks.iter().filter(|x| is_name(x)).cloned().collect();
        names.extend(own(NAMES));
        names.extend(own(TYPES));
        names
    } else {
        Vec::new()
    }
}

/// `src` with `edits` applied in turn.
fn apply(src: &str, edits: &[Edit]) -> String {
    let vocab = vocab_and_junk();
    let mut src = src.to_owned();
    for e in edits {
        let mut toks = tokens(&src);
        let mut chars: Vec<char> = src.chars().collect();
        let (nt, nc) = (toks.len().max(1), chars.len().max(1));
        let by_tokens = match *e {
            Edit::DeleteToken(i) if !toks.is_empty() => {
                toks.remove(i % nt);
                true
            }
            Edit::DuplicateToken(i) if !toks.is_empty() => {
                let t = toks[i % nt].clone();
                toks.insert(i % nt, t);
                true
            }
            Edit::SwapTokens(i, j) if !toks.is_empty() => {
                toks.swap(i % nt, j % nt);
                true
            }
            Edit::ReplaceToken(i, k) if !toks.is_empty() => {
                toks[i % nt] = vocab[k % vocab.len()].to_owned();
                true
            }
            Edit::ReplaceAlike(i, k) => {
                let places: Vec<usize> = (0..toks.len())
                    .filter(|&p| !alike(&toks[p], &toks).is_empty())
                    .collect();
                if let Some(&p) = places.get(i % places.len().max(1)) {
                    let choices = alike(&toks[p], &toks);
                    toks[p] = choices[k % choices.len()].clone();
                }
                true
            }
            Edit::InsertToken(i, k) => {
                toks.insert(i % (toks.len() + 1), vocab[k % vocab.len()].to_owned());
                true
            }
            Edit::DeleteChar(i) if !chars.is_empty() => {
                chars.remove(i % nc);
                false
            }
            Edit::DuplicateChar(i) if !chars.is_empty() => {
                chars.insert(i % nc, chars[i % nc]);
                false
            }
            Edit::SwapChars(i) if chars.len() > 1 => {
                let k = i % (chars.len() - 1);
                chars.swap(k, k + 1);
                false
            }
            Edit::InsertChar(i, c) => {
                chars.insert(i % (chars.len() + 1), c);
                false
            }
            _ => false,
        };
        src = if by_tokens {
            toks.join(" ")
        } else {
            chars.into_iter().collect()
        };
    }
    src
}

/// Leaves of random expressions: the variables of [`MAIN_HEAD`], literals at
/// the edges of the types, elements and fields.
const LEAVES: &[&str] = &[
    "x",
    "y",
    "xs",
    "c",
    "r",
    "t",
    "m",
    "k",
    "N",
    "0",
    "1",
    "3",
    "7",
    "63",
    "64",
    "126",
    "127",
    "128",
    "255",
    "256",
    "9223372036854775808",
    "18446744073709551615",
    "170141183460469231731687303715884105727",
    "1.5",
    "0.25",
    "true",
    "false",
    "xs[0]",
    "xs[3]",
    "t.0",
    "t.1",
    "[]",
    "()",
    "len(xs)",
];

/// Random expressions over [`LEAVES`], nested a few levels: most are
/// well-formed, many are ill-typed, and they reach every part of the checker.
fn expr_strategy() -> impl Strategy<Value = String> + Clone {
    let leaf = select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |e| {
        prop_oneof![
            (select(&["-", "!"][..]), e.clone()).prop_map(|(o, a)| format!("{o}{a}")),
            (e.clone(), select(BINOPS), e.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (e.clone(), select(TYPES)).prop_map(|(a, t)| format!("({a} as {t})")),
            (select(&["abs", "sum", "min", "max", "len"][..]), e.clone())
                .prop_map(|(f, a)| format!("{f}({a})")),
            (
                select(&["min", "max", "dot", "select"][..]),
                e.clone(),
                e.clone()
            )
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (cond(e.clone()), e.clone(), e.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            (cond(e.clone()), e.clone()).prop_map(|(c, a)| format!("if {c} {{ {a} }}")),
            prop::collection::vec(e.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(e.clone(), 0..3).prop_map(|v| if v.is_empty() {
                "()".to_owned()
            } else {
                format!("({},)", v.join(", "))
            }),
            // Small lengths only: see the report on nested `[[0; n]; n]`.
            (e.clone(), select(&["0", "1", "3", "N"][..])).prop_map(|(a, n)| format!("[{a}; {n}]")),
            (e.clone(), e.clone()).prop_map(|(a, i)| format!("{a}[{i}]")),
            (e.clone(), select(&["0", "1", "2"][..])).prop_map(|(a, i)| format!("({a}).{i}")),
            (e.clone(), e.clone()).prop_map(|(a, b)| format!("{{ let v = {a}; v + {b} }}")),
        ]
    })
}

/// A condition: mostly a comparison of two expressions.
fn cond(e: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        1 => e.clone(),
        1 => select(&["c", "!c", "true"][..]).prop_map(str::to_owned),
        3 => (e.clone(), select(&["==", "!=", "<", "<=", ">", ">="][..]), e)
            .prop_map(|(a, o, b)| format!("({a} {o} {b})")),
    ]
}

/// Random `u32` expressions over the variables of [`MAIN_HEAD`]: they
/// type-check far more often, so they reach the lowering to gates.
fn u32_expr_strategy() -> impl Strategy<Value = String> + Clone {
    let leaf = select(
        &[
            "a",
            "b",
            "m",
            "0",
            "1",
            "7",
            "255",
            "65536",
            "4294967295",
            "(xs[1] as u32)",
            "(r as u32)",
            "(c as u32)",
            "len(xs)",
            "(k as u32)",
        ][..],
    )
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |e| {
        let ops = &[
            "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "+", "-", "*",
        ][..];
        prop_oneof![
            3 => (e.clone(), select(ops), e.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            1 => e.clone().prop_map(|a| format!("!{a}")),
            1 => (select(&["min", "max"][..]), e.clone(), e.clone())
                .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            1 => (cond(e.clone()), e.clone(), e.clone())
                .prop_map(|(c, a, b)| format!("if {c} {{ {a} }} else {{ {b} }}")),
            1 => (e.clone(), e.clone(), e.clone())
                .prop_map(|(a, b, i)| format!("select([{a}, {b}, m], {i})")),
            1 => (e.clone(), e.clone()).prop_map(|(a, b)| format!("sum([{a}, {b}, 3])")),
            1 => (e.clone(), e.clone()).prop_map(|(a, b)| format!("dot([{a}, 2], [{b}, m])")),
            1 => e.clone().prop_map(|a| format!("((({a}) as i16) as u32)")),
            1 => e.clone().prop_map(|a| format!("((({a}) as fix) * 1.5) as u32")),
        ]
    })
}

/// A statement using a random `u32` expression.
fn u32_stmt_strategy() -> impl Strategy<Value = String> {
    let e = u32_expr_strategy();
    prop_oneof![
        e.clone().prop_map(|a| format!("m = {a};")),
        (select(&["+=", "-=", "*=", "^=", ">>="][..]), e.clone())
            .prop_map(|(o, a)| format!("m {o} {a};")),
        (cond(e.clone()), e.clone(), e.clone())
            .prop_map(|(c, a, b)| format!("if {c} {{ m = {a}; }} else {{ m += {b}; }}")),
        (cond(e.clone()), e.clone()).prop_map(|(c, a)| format!("if {c} {{ m = {a}; }}")),
        e.prop_map(|a| format!("for i in 0..3 {{ m += {a} + i; }}")),
    ]
}

/// A statement using a random expression.
fn stmt_strategy() -> impl Strategy<Value = String> {
    let e = expr_strategy();
    prop_oneof![
        e.clone().prop_map(|a| format!("let v = {a};")),
        e.clone().prop_map(|a| format!("m = {a};")),
        (
            select(&["+=", "-=", "*=", "<<=", "%=", "^="][..]),
            e.clone()
        )
            .prop_map(|(o, a)| format!("k {o} {a};")),
        (cond(e.clone()), e.clone(), e.clone())
            .prop_map(|(c, a, b)| format!("if {c} {{ m = {a}; }} else {{ k = {b}; }}")),
        (e.clone(), e.clone()).prop_map(|(n, a)| format!("for i in 0..{n} {{ m += {a}; }}")),
        e.prop_map(|a| format!("{a};")),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Inputs are small: shrinking a failure should not take long either.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_programs_to_mutate_compile() {
    for src in PROGRAMS.iter().chain([&&*format!("{MAIN_HEAD}x\n}}")]) {
        if let Err(d) = compile(src, &[], LIMITS) {
            panic!("{}", d.render("template.quo", src));
        }
    }
}

#[test]
fn edits_apply() {
    let src = PROGRAMS[0];
    assert_eq!(tokens(src).len(), 29);
    let swapped = apply(src, &[Edit::SwapTokens(1, 3)]);
    assert!(swapped.starts_with("parties bob , alice ;"), "{swapped}");
    let renamed = apply(src, &[Edit::ReplaceAlike(26, 0)]);
    assert!(renamed.ends_with("{ a + b }"), "{renamed}");
    assert_eq!(apply("ab", &[Edit::SwapChars(7)]), "ba");
    assert_eq!(apply("", &[Edit::DeleteChar(3), Edit::DeleteToken(2)]), "");
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes), "3");
    }

    #[test]
    fn random_strings(s in "(?s).{0,200}") {
        check(&s, "3");
    }

    #[test]
    fn random_strings_of_the_language_characters(
        s in "[a-z0-9_ \n(){}\\[\\];:,.@=<>+*/%&|^!-]{0,200}"
    ) {
        check(&s, "3");
    }

    #[test]
    fn random_u32_programs(
        stmts in prop::collection::vec(u32_stmt_strategy(), 1..4),
        tail in u32_expr_strategy(),
    ) {
        check(&format!("{MAIN_HEAD}{}\n({tail}) as u64\n}}", stmts.join("\n")), "3");
    }

    #[test]
    fn random_statements_in_main(
        stmts in prop::collection::vec(stmt_strategy(), 1..4),
        tail in expr_strategy(),
    ) {
        check(&format!("{MAIN_HEAD}{}\n({tail}) as u64\n}}", stmts.join("\n")), "3");
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_token_streams(toks in prop::collection::vec(select(vocab_and_junk()), 0..80)) {
        check(&toks.join(" "), "3");
    }

    #[test]
    fn random_bodies_of_main(toks in prop::collection::vec(select(vocab()), 0..60)) {
        check(&format!("{MAIN_HEAD}{}\n}}", toks.join(" ")), "3");
    }

    #[test]
    fn mutated_programs(
        which in 0..PROGRAMS.len(),
        edits in prop::collection::vec(edit_strategy(), 1..4),
        n in select(PARAM_VALUES),
    ) {
        check(&apply(PROGRAMS[which], &edits), n);
    }
}

// Reproducers of problems these tests found, kept as regressions.

/// An untyped literal can reach `i128::MIN` through `<<`, which skips the
/// range check of the other operators; `-` and `abs` then overflow: a panic
/// in a debug build, a silently wrong value in a release build.
#[test]

fn negating_the_smallest_literal_is_an_error_not_a_panic() {
    for body in ["-(-2 << 126)", "abs(-2 << 126)"] {
        let src = format!("parties a, b;\nfn main(x: u64 @a) -> u64 @all {{ let y = {body}; x }}");
        check(&src, "3");
        assert!(compile(&src, &[], LIMITS).is_err(), "{src}");
    }
}

/// `[v; n]` counts an untyped literal as no bits, so nested repeats of
/// literals pass `max_value_bits` however large they are:
/// `[[0; 65536]; 65536]` allocates 2^32 values and aborts on memory.
#[test]

fn nested_repeats_of_literals_respect_the_value_limit() {
    let src = "parties a, b;\nfn main(x: u8 @a) -> u8 @all { let big = [[0; 300]; 300]; x }";
    assert!(
        compile(src, &[], LIMITS).is_err(),
        "90000 elements passed a limit of 65536 bits"
    );
}

/// `max_gates` is only checked at loop iterations and calls: straight-line
/// code grows past it unchecked (here 65 multiplications, about 766 000
/// gates, against a limit of 200 000).
#[test]

fn straight_line_code_respects_the_gate_limit() {
    let src = format!(
        "parties a, b;\nfn main(x: u64 @a) -> u64 @all {{ x{} }}",
        "*x".repeat(65)
    );
    assert!(
        compile(&src, &[], LIMITS).is_err(),
        "the gate limit was not enforced"
    );
}
