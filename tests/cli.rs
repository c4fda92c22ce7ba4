//! The `quorate` binary, run as a user runs it: outputs, JSON, exit codes,
//! and a one-line error (never a panic) for every kind of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Output};

fn quorate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(args)
        .output()
        .expect("the quorate binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: exit code 1 and one line `error: ...` on stderr.
fn fails(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("QUORATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("circuits/bristol").is_dir() {
        return Some(dir.join("circuits/bristol"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "shared vectors missing at {}",
        dir.display()
    );
    eprintln!("skipped: {} not found", dir.display());
    None
}

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const BLOCK: &str = "00112233445566778899aabbccddeeff";
const CT: &str = "69c4e0d86a7b0430d8cdb78070b4c55a";

#[test]
fn readme_aes_command() {
    let Some(dir) = shared() else { return };
    let file = dir.join("aes_128.txt");
    let o = quorate(&[
        "circuit",
        "eval",
        file.to_str().unwrap(),
        "--input",
        KEY,
        "--input",
        BLOCK,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{CT}\n"));
}

#[test]
fn builtin_aes_text_and_json() {
    let o = quorate(&["circuit", "eval", "builtin:aes128", "-i", KEY, "-i", BLOCK]);
    assert_eq!(stdout(&o), format!("{CT}\n"));
    let o = quorate(&[
        "circuit",
        "eval",
        "builtin:aes128",
        "-i",
        KEY,
        "-i",
        BLOCK,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, serde_json::json!({ "outputs": [CT] }));
}

#[test]
fn stats_json() {
    let o = quorate(&["circuit", "stats", "builtin:aes128", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["and_count"], 6400);
    assert_eq!(v["gates"]["and"], 6400);
    assert_eq!(v["inputs"][0]["width"], 128);
    assert_eq!(v["inputs"][1]["party"], "dataholder");
    assert_eq!(v["outputs"][0]["name"], "ciphertext");
    assert!(v["and_depth"].as_u64().unwrap() > 0);
    let text = stdout(&quorate(&["circuit", "stats", "builtin:aes128"]));
    assert!(text.contains("AND gates  6400"), "{text}");
}

#[test]
fn convert_old_format_to_fashion() {
    let Some(dir) = shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aes.txt");
    let src = dir.join("AES-non-expanded.txt");
    let o = quorate(&[
        "circuit",
        "convert",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quorate(&["circuit", "stats", out.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "bristol-fashion");
    // The old file takes the block first, then the key.
    let o = quorate(&[
        "circuit",
        "eval",
        out.to_str().unwrap(),
        "-i",
        BLOCK,
        "-i",
        KEY,
    ]);
    assert_eq!(stdout(&o), format!("{CT}\n"));
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    fails(
        &quorate(&["circuit", "stats", "/no/such/file.txt"]),
        "No such file",
    );
    fails(
        &quorate(&["circuit", "stats", "builtin:nope"]),
        "no built-in circuit `nope`",
    );
    fails(
        &quorate(&["circuit", "eval", "builtin:aes128", "-i", KEY]),
        "takes 2 inputs",
    );
    fails(
        &quorate(&["circuit", "eval", "builtin:aes128", "-i", KEY, "-i", "0011"]),
        "expected 32 hex digits",
    );
    fails(
        &quorate(&[
            "circuit",
            "eval",
            "builtin:aes128",
            "-i",
            KEY,
            "-i",
            &BLOCK.replace('a', "g"),
        ]),
        "not a hex digit",
    );
    fails(
        &quorate(&[
            "circuit",
            "eval",
            "builtin:millionaires",
            "-i",
            "1",
            "-i",
            "2",
        ]),
        "pad with leading zeros",
    );
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("circuits/tests/malformed");
    for entry in std::fs::read_dir(corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            fails(
                &quorate(&["circuit", "stats", path.to_str().unwrap()]),
                "line ",
            );
        }
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["circuit", "eval"][..],
        &["circuit", "frobnicate"],
        &["circuit", "stats", "x", "--format", "bogus"],
    ] {
        let o = quorate(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
    }
    // User text with control characters stays on one line.
    fails(
        &quorate(&["circuit", "stats", "/tmp/no\nsuch"]),
        "No such file",
    );
    fails(
        &quorate(&[
            "circuit",
            "eval",
            "builtin:millionaires",
            "-i",
            "000000000000000\n",
            "-i",
            "0000000000000000",
        ]),
        "",
    );
    let o = quorate(&["circuit", "eval", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("ceil(width/4)"));
}

#[test]
fn list_builtins() {
    let o = quorate(&["circuit", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["builtins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"builtin:aes128") && names.contains(&"builtin:sha256"));
}

#[test]
fn convert_leaves_other_files_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("res.txt");
    let sibling = tmp.path().join("res.partial");
    std::fs::write(&sibling, "keep me").unwrap();
    let o = quorate(&[
        "circuit",
        "convert",
        "builtin:millionaires",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&sibling).unwrap(), "keep me");
    // A failed conversion leaves no file behind.
    let bad = tmp.path().join("bad.txt");
    fails(
        &quorate(&[
            "circuit",
            "convert",
            "builtin:nope",
            "-o",
            bad.to_str().unwrap(),
        ]),
        "nope",
    );
    assert!(!bad.exists());
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
