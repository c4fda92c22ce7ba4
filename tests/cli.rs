//! The `quorate` binary, run as a user runs it: outputs, JSON, exit codes,
//! and a one-line error (never a panic) for every kind of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::{keys_and_parties, quorate, stderr, stdout};

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
        // Numbers out of range are refused by the parser, not overflowed.
        &[
            "circuit",
            "mpc",
            "builtin:millionaires",
            "--timeout",
            "18446744073709551615",
        ],
        &["bench", "ot", "--ots", "0"],
        &["bench", "gc", "--stream-ands", "10"],
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
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{mode:o}");
    }
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

#[test]
fn mpc_in_memory_and_over_tls_match_eval() {
    for extra in [&[][..], &["--tcp"][..]] {
        let mut args = vec!["circuit", "mpc", "builtin:aes128", "-g", KEY, "-e", BLOCK];
        args.extend_from_slice(extra);
        let o = quorate(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("{CT}\n"));
        assert!(stderr(&o).contains("6400 AND gates"), "{}", stderr(&o));
    }
    let o = quorate(&[
        "circuit",
        "mpc",
        "builtin:millionaires",
        "-g",
        "0000000000000005",
        "-e",
        "0000000000000007",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outputs"], serde_json::json!(["0"]));
    assert_eq!(v["and_gates"], 64);
    // 32 bytes per AND gate, 16 per garbler input bit, one byte of decoding bits.
    assert_eq!(v["bytes_garbler_to_evaluator"], 64 * 32 + 64 * 16 + 1);
    fails(
        &quorate(&["circuit", "mpc", "builtin:millionaires", "-g", "1"]),
        "--garbler-input",
    );
    fails(
        &quorate(&[
            "circuit",
            "mpc",
            "builtin:millionaires",
            "-g",
            "0000000000000005",
        ]),
        "--evaluator-input",
    );
}

#[test]
fn mpc_as_two_processes_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pf = keys_and_parties(d, &["alice", "bob"]);
    // Keys are never overwritten without --force; the private key is the
    // owner's only.
    let regen = |force: bool| {
        let mut args = vec!["keys", "gen", "--party", "carol", "--out"];
        let out = d.join("keys");
        args.push(out.to_str().unwrap());
        if force {
            args.push("--force");
        }
        quorate(&args)
    };
    assert!(regen(false).status.success());
    let first = std::fs::read(d.join("keys/carol.key")).unwrap();
    fails(&regen(false), "exists; pass --force");
    assert_eq!(std::fs::read(d.join("keys/carol.key")).unwrap(), first);
    assert!(regen(true).status.success());
    assert_ne!(std::fs::read(d.join("keys/carol.key")).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (mode("keys/carol.key"), mode("keys/carol.crt")),
            (0o600, 0o644)
        );
    }
    let key = |n: &str| {
        d.join("keys")
            .join(format!("{n}.key"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let spawn_bob = || {
        Command::new(env!("CARGO_BIN_EXE_quorate"))
            .args([
                "circuit",
                "mpc",
                "builtin:aes128",
                "--role",
                "evaluator",
                "--party",
                "bob",
                "--parties",
                pf.to_str().unwrap(),
                "--key",
                &key("bob"),
                "-e",
                BLOCK,
                "--timeout",
                "30",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let evaluator = spawn_bob();
    let g = quorate(&[
        "circuit",
        "mpc",
        "builtin:aes128",
        "--role",
        "garbler",
        "--party",
        "alice",
        "--parties",
        pf.to_str().unwrap(),
        "--key",
        &key("alice"),
        "-g",
        KEY,
        "--timeout",
        "30",
    ]);
    let e = evaluator.wait_with_output().unwrap();
    assert!(g.status.success(), "garbler: {}", stderr(&g));
    assert!(e.status.success(), "evaluator: {}", stderr(&e));
    assert_eq!(stdout(&g), format!("{CT}\n"));
    assert_eq!(stdout(&e), format!("{CT}\n"));
    // Two evaluators: both are told so, neither blames the other.
    let evaluator = spawn_bob();
    let alice = quorate(&[
        "circuit",
        "mpc",
        "builtin:aes128",
        "--role",
        "evaluator",
        "--party",
        "alice",
        "--parties",
        pf.to_str().unwrap(),
        "--key",
        &key("alice"),
        "-e",
        BLOCK,
        "--timeout",
        "30",
    ]);
    let bob = evaluator.wait_with_output().unwrap();
    fails(&alice, "both parties chose --role evaluator");
    fails(&bob, "both parties chose --role evaluator");
    // A key that is not bob's is refused before anything is sent.
    fails(
        &quorate(&[
            "circuit",
            "mpc",
            "builtin:aes128",
            "--role",
            "evaluator",
            "--party",
            "bob",
            "--parties",
            pf.to_str().unwrap(),
            "--key",
            &key("alice"),
            "-e",
            BLOCK,
            "--timeout",
            "2",
        ]),
        "does not belong to the certificate",
    );
}
