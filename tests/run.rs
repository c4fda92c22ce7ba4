//! `quorate run` and `quorate compile` on the example programs: every MPC
//! run equals the plaintext run on random inputs, the two-process run over
//! TLS equals the in-process one, and bad programs and inputs fail cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

mod common;
use common::{keys_and_parties, quorate, stderr};

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn rng() -> (StdRng, u64) {
    let seed = std::env::var("QUORATE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    (StdRng::seed_from_u64(seed), seed)
}

/// The `outputs` object of `quorate run ... --json`.
fn outputs(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = quorate(&all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["outputs"].clone()
}

/// Runs `file` in the clear, in memory with the default backend, with
/// GMW and with the arith backend (and its lowering in the clear), and (if `tls`) over loopback TLS, and checks they all agree;
/// returns the outputs.
fn agree(file: &str, inputs: &[String], tls: bool, seed: u64) -> serde_json::Value {
    let mut args = vec![file];
    for i in inputs {
        args.extend(["--input", i.as_str()]);
    }
    let plain = {
        let mut a = args.clone();
        a.push("--plaintext");
        outputs(&a)
    };
    let mpc = outputs(&args);
    assert_eq!(mpc, plain, "{file} seed {seed}: MPC and plaintext differ");
    // Every backend that runs the program gives the same outputs.
    let mut a = args.clone();
    a.extend(["--backend", "gmw"]);
    assert_eq!(
        outputs(&a),
        plain,
        "{file} seed {seed}: GMW and plaintext differ"
    );
    let mut a = args.clone();
    a.extend(["--backend", "arith"]);
    assert_eq!(
        outputs(&a),
        plain,
        "{file} seed {seed}: arith and plaintext differ"
    );
    a.push("--plaintext");
    assert_eq!(
        outputs(&a),
        plain,
        "{file} seed {seed}: the arithmetic lowering's plaintext differs"
    );
    if tls {
        let mut a = args.clone();
        a.push("--tcp");
        assert_eq!(outputs(&a), plain, "{file} seed {seed}: over TLS");
    }
    plain
}

#[test]
fn millionaires_mpc_equals_plaintext() {
    let (mut r, seed) = rng();
    for k in 0..3 {
        let (a, b): (u64, u64) = (r.random(), if k == 0 { 7 } else { r.random() });
        let a = if k == 0 { 7 } else { a };
        let out = agree(
            &example("millionaires.quo"),
            &[format!("alice.a={a}"), format!("bob.b={b}")],
            k == 1,
            seed,
        );
        assert_eq!(
            out["alice_is_richer"],
            serde_json::json!(a > b),
            "seed {seed}"
        );
    }
}

#[test]
fn dark_pool_mpc_equals_plaintext() {
    let (mut r, seed) = rng();
    for _ in 0..3 {
        let bid: u64 = r.random_range(9_000..11_000);
        let ask: u64 = r.random_range(9_000..11_000);
        let (bq, aq): (u32, u32) = (r.random(), r.random());
        let out = agree(
            &example("dark_pool.quo"),
            &[
                format!("buyer.bid={bid}"),
                format!("buyer.bid_qty={bq}"),
                format!("seller.ask={ask}"),
                format!("seller.ask_qty={aq}"),
            ],
            false,
            seed,
        );
        let trade = bid >= ask;
        assert_eq!(out["trade"], serde_json::json!(trade));
        let (price, qty) = if trade {
            ((bid + ask) / 2, bq.min(aq))
        } else {
            (0, 0)
        };
        assert_eq!(out["price"], serde_json::json!(price), "seed {seed}");
        assert_eq!(out["quantity"], serde_json::json!(qty), "seed {seed}");
    }
}

#[test]
fn joint_risk_mpc_equals_plaintext() {
    let (mut r, seed) = rng();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let data_seed = r.random::<u64>().to_string();
    let o = quorate(&[
        "example-data",
        "joint-risk",
        "--customers",
        "8",
        "--out",
        data,
        "--seed",
        &data_seed,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Arrow IPC for two banks, CSV for the third.
    let out = agree(
        &example("joint_risk.quo"),
        &[
            format!("bank_a.features_a=@{data}/bank_a.arrow"),
            format!("bank_b.features_b=@{data}/bank_b.csv"),
            format!("bank_c.features_c=@{data}/bank_c.arrow"),
        ],
        true,
        seed,
    );
    // The same model in floating point decides every customer whose
    // probability is not within rounding of the threshold.
    let read = |bank: &str| -> Vec<Vec<f64>> {
        std::fs::read_to_string(format!("{data}/{bank}.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').skip(1).map(|c| c.parse().unwrap()).collect())
            .collect()
    };
    let w = [
        [0.42, -0.31, 0.18, 0.27, -0.12, 0.35, 0.08, -0.22],
        [0.25, 0.19, -0.28, 0.33, 0.11, -0.17, 0.29, 0.05],
        [-0.15, 0.38, 0.21, -0.09, 0.31, 0.14, -0.26, 0.23],
    ];
    let banks = [read("bank_a"), read("bank_b"), read("bank_c")];
    let mut flagged = 0;
    for i in 0..8 {
        let mut z = -1.1;
        for (b, wb) in banks.iter().zip(&w) {
            z += b[i].iter().zip(wb).map(|(x, w)| x * w).sum::<f64>();
        }
        let p = 0.5 + z * (0.15012 - 0.001593 * z * z);
        if (p - 0.7).abs() > 1e-3 {
            assert_eq!(
                out["flags"][i],
                serde_json::json!(p > 0.7),
                "seed {seed} row {i}"
            );
        }
        flagged += usize::from(out["flags"][i] == serde_json::json!(true));
    }
    assert_eq!(out["flagged"], serde_json::json!(flagged));
}

#[test]
fn psi_small_mpc_equals_plaintext_with_csv_inputs() {
    let (mut r, seed) = rng();
    let dir = tempfile::tempdir().unwrap();
    // Distinct ids from a small range, so the sets overlap.
    let pick = |r: &mut StdRng| -> Vec<u32> {
        let mut pool: Vec<u32> = (1000..1160).collect();
        for i in (1..pool.len()).rev() {
            pool.swap(i, r.random_range(0..=i));
        }
        pool.truncate(64);
        pool
    };
    let (a, b) = (pick(&mut r), pick(&mut r));
    let write = |name: &str, ids: &[u32]| -> String {
        let p = dir.path().join(name);
        let body: Vec<String> = ids.iter().map(u32::to_string).collect();
        std::fs::write(&p, format!("id\n{}\n", body.join("\n"))).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (fa, fb) = (write("a.csv", &a), write("b.csv", &b));
    let out = agree(
        &example("psi_small.quo"),
        &[format!("alice.a=@{fa}"), format!("bob.b=@{fb}")],
        false,
        seed,
    );
    let shared = a.iter().filter(|x| b.contains(x)).count();
    assert_eq!(out["shared"], serde_json::json!(shared), "seed {seed}");
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn millionaires_as_two_processes_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pf = keys_and_parties(dir.path(), &["alice", "bob"]);
    let pf = pf.to_str().unwrap();
    let prog = example("millionaires.quo");
    let expect = outputs(&[&prog, "--input", "alice.a=120", "--input", "bob.b=99"]);
    // The key is found beside the parties file (keys/NAME.key).
    let bob = spawn(&[
        "run",
        &prog,
        "--party",
        "bob",
        "--parties",
        pf,
        "--input",
        "b=99",
        "--timeout",
        "30",
        "--json",
    ]);
    let alice = quorate(&[
        "run",
        &prog,
        "--party",
        "alice",
        "--parties",
        pf,
        "--input",
        "a=120",
        "--timeout",
        "30",
        "--json",
    ]);
    let bob = bob.wait_with_output().unwrap();
    for o in [&alice, &bob] {
        assert!(o.status.success(), "{}", stderr(o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["outputs"], expect);
        assert_eq!(v["mode"], "party");
    }

    // A party that compiled another program fails the handshake, clearly.
    let other = dir.path().join("other.quo");
    std::fs::write(
        &other,
        std::fs::read_to_string(&prog)
            .unwrap()
            .replace("a > b", "a >= b"),
    )
    .unwrap();
    let bob = spawn(&[
        "run",
        &prog,
        "--party",
        "bob",
        "--parties",
        pf,
        "--input",
        "b=99",
        "--timeout",
        "20",
    ]);
    let alice = quorate(&[
        "run",
        other.to_str().unwrap(),
        "--party",
        "alice",
        "--parties",
        pf,
        "--input",
        "a=120",
        "--timeout",
        "20",
    ]);
    let bob = bob.wait_with_output().unwrap();
    for o in [&alice, &bob] {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert!(stderr(o).contains("program"), "{}", stderr(o));
    }
}

#[test]
fn compile_errors_show_the_line_and_a_caret() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.quo");
    std::fs::write(
        &f,
        "parties alice, bob;\nfn main(a: u64 @alice, b: u64) -> bool @all {\n    a > b\n}\n",
    )
    .unwrap();
    let o = quorate(&["compile", f.to_str().unwrap(), "--stats"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.quo:2:24: error: input `b` has no party"),
        "{err}"
    );
    assert!(
        err.contains("2 | fn main(a: u64 @alice, b: u64) -> bool @all {"),
        "{err}"
    );
    assert!(err.contains("  |                        ^"), "{err}");
    assert!(
        err.contains("help: say who provides it: `b: u64 @alice`"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn compile_reports_the_cost_and_emits_a_circuit() {
    let o = quorate(&["compile", &example("psi_small.quo"), "--stats", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // 64 x 64 equality tests of 31 AND and 63 ORs per id, then 64 additions
    // of at most 31 AND (fewer while the count's high bits are constant).
    let ands = v["and_gates"].as_u64().unwrap();
    let tests = 64 * (64 * 31 + 63);
    assert!((tests..=tests + 64 * 31).contains(&ands), "{ands}");
    assert_eq!(v["input_bits"], 2 * 64 * 32);
    assert!(v["estimated_bytes"].as_u64().unwrap() > 32 * v["and_gates"].as_u64().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.txt");
    let o = quorate(&[
        "compile",
        &example("millionaires.quo"),
        "--emit",
        "bristol",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quorate(&[
        "circuit",
        "eval",
        out.to_str().unwrap(),
        "-i",
        "0000000000000009",
        "-i",
        "0000000000000008",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1");
    // Parameters change the program.
    let o = quorate(&[
        "compile",
        &example("psi_small.quo"),
        "--param",
        "N=4",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input_bits"], 2 * 4 * 32);
    let o = quorate(&["compile", &example("psi_small.quo"), "--param", "M=4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no parameter `M`"), "{}", stderr(&o));
}

#[test]
fn bad_inputs_fail_with_one_line() {
    let m = example("millionaires.quo");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--input", "alice.a=5"],
            "missing input `bob.b` (u64); pass --input bob.b=VALUE",
        ),
        (
            &["--input", "alice.a=5", "--input", "carol.c=1"],
            "no party `carol`",
        ),
        (
            &["--input", "alice.a=5", "--input", "bob.x=1"],
            "bob has no input `x`; its inputs: bob.b",
        ),
        (
            &["--input", "alice.a=-5", "--input", "bob.b=1"],
            "-5 is out of range for u64",
        ),
        (
            &["--input", "alice.a=five", "--input", "bob.b=1"],
            "`five` is not an integer",
        ),
        (
            &[
                "--input",
                "alice.a=1",
                "--input",
                "alice.a=2",
                "--input",
                "bob.b=1",
            ],
            "given twice",
        ),
        (
            &["--input", "a=1", "--input", "bob.b=1"],
            "say whose input it is",
        ),
        (
            &["--input", "alice.a=@/nonexistent.csv", "--input", "bob.b=1"],
            "@FILE gives an array",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["run", m.as_str()];
        args.extend_from_slice(extra);
        let o = quorate(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
        assert!(
            err.contains(needle),
            "{extra:?}: {err:?} should contain {needle:?}"
        );
    }
}

#[test]
fn the_readme_main_command_works_as_printed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- run "))
        .expect("the README shows the main command");
    let args: Vec<&str> = line["cargo run --release -- ".len()..]
        .split_whitespace()
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_quorate"))
        .current_dir(&root)
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "alice_is_richer = true\n"
    );
    assert!(stderr(&o).contains("64 AND gates"), "{}", stderr(&o));
}

#[test]
fn csv_inputs_are_checked_before_and_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let prog = example("psi_small.quo");
    let big = dir.path().join("big.csv");
    std::fs::write(&big, "1\n".repeat(3 << 20)).unwrap();
    let two = dir.path().join("two.csv");
    std::fs::write(&two, "id,name\n1,x\n").unwrap();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, "id\n1\n2\n").unwrap();
    for (file, needle) in [
        (&big, "too large for an array of 64 values"),
        (&two, "more than one column"),
        (&short, "2 values for an array of 64"),
    ] {
        let arg = format!("alice.a=@{}", file.display());
        let o = quorate(&["run", &prog, "--input", &arg, "--input", "bob.b=@/dev/null"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    }
}

fn auction_inputs(bids: &[u32]) -> Vec<String> {
    ["a", "b", "c", "d", "e"]
        .iter()
        .zip(bids)
        .map(|(p, b)| format!("{p}.bid_{p}={b}"))
        .collect()
}

#[test]
fn sealed_auction_among_five_equals_plaintext() {
    let (mut rng, seed) = rng();
    let file = example("sealed_auction.quo");
    for round in 0..3 {
        // Small bids, so ties happen.
        let bids: Vec<u32> = (0..5).map(|_| rng.random_range(0..6) * 1000).collect();
        let out = agree(&file, &auction_inputs(&bids), round == 0, seed);
        let best = *bids.iter().max().unwrap();
        let winner = bids.iter().position(|&b| b == best).unwrap();
        let mut rest = bids.clone();
        rest.remove(winner);
        assert_eq!(out["winner"], winner as u64, "{bids:?}");
        assert_eq!(out["price"], *rest.iter().max().unwrap() as u64, "{bids:?}");
    }
}

#[test]
fn sealed_auction_as_five_processes_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["a", "b", "c", "d", "e"];
    let pf = keys_and_parties(dir.path(), &names);
    let pf = pf.to_str().unwrap();
    let prog = example("sealed_auction.quo");
    let bids = [300u32, 700, 500, 100, 650];
    let runs: Vec<_> = names
        .iter()
        .zip(bids)
        .map(|(name, bid)| {
            spawn(&[
                "run",
                &prog,
                "--party",
                name,
                "--parties",
                pf,
                "--input",
                &format!("bid_{name}={bid}"),
                "--timeout",
                "60",
                "--json",
            ])
        })
        .collect();
    for run in runs {
        let o = run.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["outputs"]["winner"], 1);
        assert_eq!(v["outputs"]["price"], 650);
        assert_eq!(v["backend"], "gmw");
    }
}

#[test]
fn backends_that_cannot_run_a_program_say_why() {
    let file = example("sealed_auction.quo");
    let mut args = vec!["run".to_owned(), file.clone()];
    for i in auction_inputs(&[1, 2, 3, 4, 5]) {
        args.extend(["--input".to_owned(), i]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut yao = args.clone();
    yao.extend(["--backend", "yao"]);
    let o = quorate(&yao);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("runs two: use --backend gmw"),
        "{}",
        stderr(&o)
    );
    // The arith backend's cost shows in compile --stats, and auto weighs it.
    let o = quorate(&["compile", &file, "--stats", "--json", "--backend", "arith"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "arith");
    assert!(v["arith"]["a2b"].as_u64().unwrap() > 0, "{v}");
    let arith_bytes = v["estimated_bytes"].as_u64().unwrap();
    // compile --stats names the backend and its cost.
    let o = quorate(&["compile", &file, "--stats", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "gmw");
    let gmw_bytes = v["estimated_bytes"].as_u64().unwrap();
    assert!(gmw_bytes > 644 * 20 * 16);
    assert!(
        gmw_bytes <= arith_bytes,
        "auto took gmw: {gmw_bytes} vs {arith_bytes}"
    );
}
