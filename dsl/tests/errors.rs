//! Snapshot tests of the compiler's diagnostics: every `tests/errors/NN_name.quo`
//! is a wrong program (a mistake a first-time author makes) that must fail to
//! compile, and `NN_name.err` holds the error exactly as the compiler prints
//! it (`Diagnostic::render("NN_name.quo", src)`).
//!
//! A first line `// params: N=3 M=4` gives `--param` values. Run with
//! `UPDATE_SNAPSHOTS=1` to rewrite the `.err` files from the current compiler
//! (then read every changed one: the caret must sit under the culprit).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use quorate_dsl::{Limits, compile};

/// The corpus must not shrink below this.
const MIN_CASES: usize = 35;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors")
}

/// The `--param` values from a first line `// params: K=V K=V`.
fn params_of(src: &str) -> Result<Vec<(String, String)>, String> {
    let Some(rest) = src
        .lines()
        .next()
        .and_then(|l| l.trim().strip_prefix("// params:"))
    else {
        return Ok(Vec::new());
    };
    rest.split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("`{kv}` in the params line is not KEY=VALUE"))
        })
        .collect()
}

/// Whether `name` is `NN_short_name.quo` (or `.err`): two digits, `_`, then
/// lower-case letters, digits and `_`.
fn well_named(stem: &str) -> bool {
    let b = stem.as_bytes();
    b.len() > 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'_'
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// The rendered diagnostic of `file`, or why there is none.
fn diagnose(name: &str, src: &str) -> Result<String, String> {
    let params = params_of(src)?;
    let result = catch_unwind(AssertUnwindSafe(|| {
        compile(src, &params, Limits::default()).map(|_| ())
    }));
    match result {
        Err(_) => Err("the compiler panicked".to_owned()),
        Ok(Ok(())) => Err("it compiled, but it is in the corpus of wrong programs".to_owned()),
        Ok(Err(d)) => Ok(d.render(name, src)),
    }
}

fn normalize(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_owned()
}

#[test]
fn every_wrong_program_gives_its_recorded_diagnostic() {
    let dir = corpus_dir();
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();

    let mut failures = Vec::new();
    let mut numbers = Vec::new();
    let mut cases = 0;
    for name in &names {
        let path = dir.join(name);
        let Some((stem, ext)) = name.rsplit_once('.') else {
            failures.push(format!("{name}: not a .quo or .err file"));
            continue;
        };
        if !well_named(stem) {
            failures.push(format!("{name}: not named NN_short_name"));
        }
        match ext {
            "quo" => {}
            "err" => {
                if !dir.join(format!("{stem}.quo")).exists() {
                    failures.push(format!("{name}: no {stem}.quo for it"));
                }
                continue;
            }
            _ => {
                failures.push(format!("{name}: not a .quo or .err file"));
                continue;
            }
        }
        cases += 1;
        numbers.push((stem.get(..2).unwrap_or("").to_owned(), name.clone()));
        let src = fs::read_to_string(&path).unwrap();
        let err_path = dir.join(format!("{stem}.err"));
        let actual = match diagnose(name, &src) {
            Ok(r) => r,
            Err(why) => {
                failures.push(format!("{name}: {why}"));
                continue;
            }
        };
        if update {
            fs::write(&err_path, format!("{actual}\n")).unwrap();
            continue;
        }
        let Ok(expected) = fs::read_to_string(&err_path) else {
            failures.push(format!(
                "{name}: no {stem}.err (run with UPDATE_SNAPSHOTS=1 to write it); the compiler says:\n{actual}"
            ));
            continue;
        };
        if normalize(&expected) != normalize(&actual) {
            failures.push(format!(
                "{name}: the diagnostic changed\n--- expected ({stem}.err)\n{}\n--- actual\n{}",
                normalize(&expected),
                normalize(&actual)
            ));
        }
    }
    numbers.sort();
    for pair in numbers.windows(2) {
        if pair[0].0 == pair[1].0 {
            failures.push(format!(
                "{} and {} share the number {}",
                pair[0].1, pair[1].1, pair[0].0
            ));
        }
    }
    if cases < MIN_CASES {
        failures.push(format!(
            "only {cases} cases in {}, at least {MIN_CASES} wanted",
            dir.display()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the error corpus:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn params_lines_are_read() {
    assert_eq!(params_of("parties a;\n"), Ok(Vec::new()));
    assert_eq!(
        params_of("// params: N=3 M=4\nparties a;"),
        Ok(vec![("N".into(), "3".into()), ("M".into(), "4".into())])
    );
    assert!(params_of("// params: N\n").is_err());
    assert!(well_named("07_literal_out_of_range"));
    assert!(!well_named("7_x") && !well_named("07-x") && !well_named("07_X"));
}
