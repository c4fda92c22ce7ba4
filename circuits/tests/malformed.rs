//! Malformed Bristol files get an error naming the line and what is wrong,
//! never a panic: a corpus of bad files with their exact errors
//! (`tests/malformed/expected.tsv`), and random bytes, token streams and
//! mutations of a good file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use quorate_circuits::bristol::{self, Malformed, ReadOptions};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed")
}

#[test]
fn every_corpus_file_gets_its_expected_error() {
    let dir = corpus();
    let expected: BTreeMap<String, String> = std::fs::read_to_string(dir.join("expected.tsv"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, e)| (f.to_owned(), e.to_owned()))
        .collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name} has no line in expected.tsv"));
        let got = bristol::read_file(&path, &ReadOptions::default())
            .map(|_| "ok".to_owned())
            .unwrap_or_else(|e| e.to_string());
        assert_eq!(&got, want, "{name}");
        assert!(got.starts_with("line "), "{name}: {got}");
        seen += 1;
    }
    assert_eq!(
        seen,
        expected.len(),
        "expected.tsv names files that are missing"
    );
    assert!(seen >= 20);
}

#[test]
fn an_overlong_line_is_refused_without_reading_it_whole() {
    let mut text = String::from("1 3\n2 1 1\n1 1\n\n2 1 0 1 2 XOR");
    text.push_str(&" ".repeat(bristol::MAX_LINE + 10));
    let e = bristol::parse(&text, &ReadOptions::default()).unwrap_err();
    assert_eq!(
        (e.line(), e.malformed()),
        (Some(5), Some(&Malformed::LineTooLong))
    );
}

#[test]
fn a_header_cannot_make_the_reader_allocate() {
    // A few bytes that claim billions of input bits or wires, or drive one
    // far-away wire: refused or read without allocating for the claim.
    for text in [
        "0 4000000000\n1 4000000000\n1 1\n",
        "1 4294967295\n2 2147483648 2147483647\n1 1\n\n1 1 0 4294967294 INV\n",
        "1 300000000\n1 299999999\n1 1\n\n1 1 0 299999999 INV\n",
        "0 268435455\n1 268435455\n1 1\n\n",
    ] {
        let e = bristol::parse(text, &ReadOptions::default()).unwrap_err();
        assert!(
            matches!(
                e.malformed(),
                Some(Malformed::TooManyWires { .. } | Malformed::WidthsExceedContent { .. })
            ),
            "{e}"
        );
    }
    // One gate driving wire 4e9 is a legitimate (sparse) circuit, read
    // without a dense map of that size.
    let l = bristol::parse(
        "1 4000000000\n1 1\n1 1\n\n1 1 0 3999999999 INV\n",
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(l.circuit.num_wires(), 2);
    // Blank padding does not raise the budget.
    let mut padded = String::from("0 268435455\n1 268435455\n1 1\n");
    padded.push_str(&"\n".repeat(1 << 20));
    assert!(bristol::parse(&padded, &ReadOptions::default()).is_err());
}

#[test]
fn more_inputs_than_parties_is_refused_on_its_line() {
    let mut text = String::from("0 70000\n70000");
    text.push_str(&" 1".repeat(70000));
    text.push_str("\n1 1\n");
    let e = bristol::parse(&text, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
    assert!(matches!(
        e.malformed(),
        Some(Malformed::TooManyInputs(70000))
    ));
}

const GOOD: &str = "4 8\n2 2 2\n1 2\n\n2 1 0 2 4 XOR\n2 1 1 3 5 AND\n1 1 5 6 INV\n1 1 4 7 EQW\n";

#[test]
fn the_fuzz_seed_is_valid() {
    let l = bristol::parse(GOOD, &ReadOptions::default()).unwrap();
    assert_eq!(l.circuit.stats().and, 1);
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..12).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "XOR", "AND", "INV", "EQ", "EQW", "MAND", "NOT", "-1", "", "\n", "\n\n", " "
        ])
        .prop_map(str::to_owned),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = bristol::read(&bytes[..], &ReadOptions::default());
    }

    #[test]
    fn random_token_streams_never_panic(tokens in prop::collection::vec(token(), 0..60)) {
        let text = tokens.join(" ");
        if let Err(e) = bristol::parse(&text, &ReadOptions::default()) {
            prop_assert!(e.line().is_some_and(|l| l >= 1), "{}", e);
        }
    }

    #[test]
    fn mutated_good_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), token()), 1..4)) {
        let mut words: Vec<String> = GOOD.split(' ').map(str::to_owned).collect();
        for (at, t) in edits {
            let i = at.index(words.len());
            words[i] = t;
        }
        let text = words.join(" ");
        match bristol::parse(&text, &ReadOptions::default()) {
            Ok(l) => prop_assert!(l.circuit.num_wires() > 0),
            Err(e) => prop_assert!(e.line().is_some_and(|l| l >= 1), "{}", e),
        }
    }
}
