//! `quorate sign`: a 2-of-3 key made and used end to end through the CLI,
//! every signature checked by `sign verify` (the standard verifiers), and
//! the failures a custody operator meets: a wrong passphrase, a damaged
//! share file, too few shares, shares of two keys, a hardened path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const PASS: &str = "test passphrase";
const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn q(args: &[&str], pass: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quorate"));
    c.args(args).env_remove("QUORATE_PASSPHRASE");
    if let Some(p) = pass {
        c.env("QUORATE_PASSPHRASE", p);
    }
    c.output().expect("the quorate binary runs")
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", common::stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn fails(o: &Output, needle: &str) {
    let err = common::stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn keygen(dir: &Path) -> Value {
    json(&q(
        &[
            "sign",
            "keygen",
            "-t",
            "2",
            "-n",
            "3",
            "--kdf-memory-mib",
            "1",
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ],
        Some(PASS),
    ))
}

fn share(dir: &Path, i: u32) -> String {
    dir.join(format!("share-{i}.qshr")).display().to_string()
}

#[test]
fn keygen_sign_and_verify_every_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let pk = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(pk.len(), 66);
    assert!(key["ethereum_address"].as_str().unwrap().starts_with("0x"));
    assert!(key["taproot_address"].as_str().unwrap().starts_with("bc1p"));
    assert!(key["p2wpkh_address"].as_str().unwrap().starts_with("bc1q"));
    let shares = format!("{},{}", share(dir.path(), 1), share(dir.path(), 3));
    for (scheme, path) in [
        ("ecdsa", None),
        ("ecdsa", Some("m/0/7")),
        ("schnorr", None),
        ("taproot", None),
        ("taproot", Some("m/1")),
    ] {
        let mut args = vec![
            "sign", scheme, "--shares", &shares, "--digest", DIGEST, "--json",
        ];
        if let Some(p) = path {
            args.extend(["--path", p]);
        }
        let sig = json(&q(&args, Some(PASS)));
        let s = sig["signature"].as_str().unwrap();
        let k = sig["public_key"].as_str().unwrap();
        assert_eq!(s.len(), 128);
        match (scheme, path) {
            ("ecdsa", None) => assert_eq!(k, pk),
            ("ecdsa", Some(_)) => assert_ne!(k, pk),
            ("schnorr", None) => assert_eq!(k, &pk[2..]),
            _ => assert_eq!(k.len(), 64),
        }
        let verify = |digest: &str| {
            q(
                &[
                    "sign",
                    "verify",
                    "--scheme",
                    scheme,
                    "--public-key",
                    k,
                    "--digest",
                    digest,
                    "--signature",
                    s,
                ],
                None,
            )
        };
        assert!(verify(DIGEST).status.success(), "{scheme} {path:?}");
        let other = format!("{}0", &DIGEST[..63]);
        fails(&verify(&other), "does not verify");
    }
}

#[test]
fn operator_mistakes_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    let two = format!("{},{}", share(dir.path(), 1), share(dir.path(), 2));
    let sign = |shares: &str, pass: Option<&str>, extra: &[&str]| {
        let mut a = vec!["sign", "ecdsa", "--shares", shares, "--digest", DIGEST];
        a.extend(extra);
        q(&a, pass)
    };
    fails(&sign(&two, Some("wrong"), &[]), "passphrase");
    fails(&sign(&two, None, &[]), "QUORATE_PASSPHRASE");
    fails(&sign(&share(dir.path(), 1), Some(PASS), &[]), "needs 2");
    fails(
        &sign(&format!("{0},{0}", share(dir.path(), 1)), Some(PASS), &[]),
        "twice",
    );
    fails(
        &sign(&two, Some(PASS), &["--path", "m/0'/1"]),
        "non-hardened",
    );
    fails(
        &q(
            &["sign", "ecdsa", "--shares", &two, "--digest", "abcd"],
            Some(PASS),
        ),
        "32 bytes",
    );
    // A damaged share file is refused, and the others still sign.
    let p1 = dir.path().join("share-1.qshr");
    let mut bytes = std::fs::read(&p1).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 1;
    std::fs::write(&p1, &bytes).unwrap();
    fails(&sign(&two, Some(PASS), &[]), "share-1.qshr");
    let ok = format!("{},{}", share(dir.path(), 2), share(dir.path(), 3));
    assert!(sign(&ok, Some(PASS), &[]).status.success());
    // Shares of two different keys are refused before any passphrase use.
    let other = tempfile::tempdir().unwrap();
    keygen(other.path());
    let mixed = format!("{},{}", share(dir.path(), 2), share(other.path(), 3));
    fails(&sign(&mixed, Some(PASS), &[]), "different keys");
    // Existing shares are not overwritten without --force.
    fails(
        &q(
            &[
                "sign",
                "keygen",
                "-t",
                "2",
                "-n",
                "3",
                "--kdf-memory-mib",
                "1",
                "--out",
                dir.path().to_str().unwrap(),
            ],
            Some(PASS),
        ),
        "--force",
    );
}

fn header_epoch(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let h = quorate::keystore::read_header(&bytes).unwrap();
    serde_json::from_slice::<Value>(&h).unwrap()["epoch"]
        .as_u64()
        .unwrap()
}

fn signs_under(shares: &str, pk: &str) {
    let sig = json(&q(
        &[
            "sign", "ecdsa", "--shares", shares, "--digest", DIGEST, "--json",
        ],
        Some(PASS),
    ));
    assert_eq!(sig["public_key"], pk);
    let v = q(
        &[
            "sign",
            "verify",
            "--scheme",
            "ecdsa",
            "--public-key",
            pk,
            "--digest",
            DIGEST,
            "--signature",
            sig["signature"].as_str().unwrap(),
        ],
        None,
    );
    assert!(v.status.success());
}

#[test]
fn refresh_and_reshare_keep_the_key_and_retire_old_shares() {
    let dir = tempfile::tempdir().unwrap();
    let pk = keygen(dir.path())["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = dir.path().to_str().unwrap();
    // Keep a copy of an old share elsewhere, as a careless backup would.
    let stale = tempfile::tempdir().unwrap();
    let old3 = stale.path().join("share-3.qshr");
    std::fs::copy(dir.path().join("share-3.qshr"), &old3).unwrap();

    let two = format!("{},{}", share(dir.path(), 1), share(dir.path(), 2));
    fails(
        &q(&["sign", "refresh", "--shares", &two], Some(PASS)),
        "every party's share file",
    );
    let all = format!("{two},{}", share(dir.path(), 3));
    let r = json(&q(
        &[
            "sign",
            "refresh",
            "--shares",
            &all,
            "--kdf-memory-mib",
            "1",
            "--json",
        ],
        Some(PASS),
    ));
    assert_eq!(r["public_key"], pk);
    assert_eq!(r["epoch"], 1);
    for i in 1..=3 {
        assert_eq!(header_epoch(&dir.path().join(format!("share-{i}.qshr"))), 1);
    }
    signs_under(
        &format!("{},{}", share(dir.path(), 2), share(dir.path(), 3)),
        &pk,
    );
    // The old share and a new one do not sign together.
    let mixed = format!("{},{}", share(dir.path(), 1), old3.display());
    fails(
        &q(
            &["sign", "ecdsa", "--shares", &mixed, "--digest", DIGEST],
            Some(PASS),
        ),
        "epoch",
    );

    // Reshare 2-of-3 {1,2,3} to 3-of-4 {2,4,5,6}: 1 and 3 are retired.
    let dealers = format!("{},{}", share(dir.path(), 1), share(dir.path(), 3));
    let r = json(&q(
        &[
            "sign",
            "reshare",
            "--shares",
            &dealers,
            "-t",
            "3",
            "--to",
            "2,4,5,6",
            "--out",
            d,
            "--kdf-memory-mib",
            "1",
            "--json",
        ],
        Some(PASS),
    ));
    assert_eq!(r["public_key"], pk);
    assert_eq!(r["epoch"], 2);
    assert_eq!(r["threshold"], 3);
    assert_eq!(r["deleted"].as_array().unwrap().len(), 2, "{r}");
    assert!(!dir.path().join("share-1.qshr").exists());
    assert!(!dir.path().join("share-3.qshr").exists());
    // The stale copy elsewhere was not given and is not touched.
    assert!(old3.exists());
    let three = format!(
        "{},{},{}",
        share(dir.path(), 2),
        share(dir.path(), 5),
        share(dir.path(), 6)
    );
    signs_under(&three, &pk);
    let two_new = format!("{},{}", share(dir.path(), 4), share(dir.path(), 5));
    fails(
        &q(
            &["sign", "ecdsa", "--shares", &two_new, "--digest", DIGEST],
            Some(PASS),
        ),
        "needs 3",
    );
    fails(
        &q(
            &[
                "sign", "reshare", "--shares", &three, "-t", "5", "--to", "1,2,3",
            ],
            Some(PASS),
        ),
        "cannot exceed",
    );
}

#[test]
fn an_imported_key_keeps_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("old.hex");
    // The private key 3: its public key is 3·G.
    std::fs::write(&key, format!("{}3\n", "0".repeat(63))).unwrap();
    let out = dir.path().join("keys");
    let import = |key: &Path, extra: &[&str]| {
        let mut a = vec![
            "sign",
            "import",
            "--key-file",
            key.to_str().unwrap(),
            "-t",
            "2",
            "-n",
            "3",
            "--out",
            out.to_str().unwrap(),
            "--kdf-memory-mib",
            "1",
            "--json",
        ];
        a.extend(extra);
        q(&a, Some(PASS))
    };
    let chain = "11".repeat(32);
    let r = json(&import(&key, &["--chain-code", &chain]));
    let pk = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";
    assert_eq!(r["public_key"], pk);
    assert_eq!(r["chain_code"], chain);
    signs_under(&format!("{},{}", share(&out, 1), share(&out, 3)), pk);
    fails(&import(&key, &[]), "--force");
    std::fs::write(&key, "0".repeat(64)).unwrap();
    fails(&import(&key, &["--force"]), "zero");
    std::fs::write(&key, "not a key").unwrap();
    let o = import(&key, &["--force"]);
    fails(&o, "64 hex digits");
    assert!(!common::stderr(&o).contains("not a key"));
    fails(
        &import(&dir.path().join("missing"), &["--force"]),
        "missing",
    );
}

/// Runs `args` for each party as its own process (with `--party NAME
/// --parties pf --key`), all at once; returns each one's JSON output.
fn per_process(d: &Path, pf: &Path, runs: &[(&str, Vec<String>)]) -> Vec<Value> {
    let children: Vec<_> = runs
        .iter()
        .map(|(name, args)| {
            let key = d.join("keys").join(format!("{name}.key"));
            Command::new(env!("CARGO_BIN_EXE_quorate"))
                .args(args)
                .args([
                    "--party",
                    name,
                    "--parties",
                    pf.to_str().unwrap(),
                    "--key",
                    key.to_str().unwrap(),
                    "--timeout",
                    "30",
                    "--json",
                ])
                .env("QUORATE_PASSPHRASE", PASS)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| json(&c.wait_with_output().unwrap()))
        .collect()
}

#[test]
fn one_party_per_process_over_tls_keygen_and_sign() {
    let d = tempfile::tempdir().unwrap();
    let pf = common::keys_and_parties(d.path(), &["alice", "bob", "carol"]);
    let out = |n: &str| d.path().join(n).display().to_string();
    let keygen: Vec<(&str, Vec<String>)> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|n| {
            let args = [
                "sign",
                "keygen",
                "-t",
                "2",
                "--kdf-memory-mib",
                "1",
                "--out",
            ]
            .map(String::from)
            .into_iter()
            .chain([out(n)])
            .collect();
            (n, args)
        })
        .collect();
    let keys = per_process(d.path(), &pf, &keygen);
    let pk = keys[0]["public_key"].as_str().unwrap().to_owned();
    assert!(keys.iter().all(|k| k["public_key"] == pk.as_str()));
    assert!(std::path::Path::new(&share(&d.path().join("carol"), 3)).exists());

    // Two of the three sign, over their own TLS identities.
    let d2 = tempfile::tempdir().unwrap();
    let pf2 = common::keys_and_parties(d2.path(), &["x", "z"]);
    for scheme in ["ecdsa", "taproot"] {
        let sign = |n: &'static str, file: String| {
            let args = ["sign", scheme, "--digest", DIGEST, "--shares"]
                .map(String::from)
                .into_iter()
                .chain([file])
                .collect();
            (n, args)
        };
        let sigs = per_process(
            d2.path(),
            &pf2,
            &[
                sign("x", share(&d.path().join("alice"), 1)),
                sign("z", share(&d.path().join("carol"), 3)),
            ],
        );
        assert_eq!(sigs[0]["signature"], sigs[1]["signature"]);
        let v = q(
            &[
                "sign",
                "verify",
                "--scheme",
                scheme,
                "--public-key",
                sigs[0]["public_key"].as_str().unwrap(),
                "--digest",
                DIGEST,
                "--signature",
                sigs[0]["signature"].as_str().unwrap(),
            ],
            None,
        );
        assert!(v.status.success(), "{scheme}");
        if scheme == "ecdsa" {
            assert_eq!(sigs[0]["public_key"], pk.as_str());
        }
    }
}

/// The share file of party `i` under `d/name`.
fn party_share(d: &Path, name: &str, i: u32) -> String {
    share(&d.join(name), i)
}

#[test]
fn one_party_per_process_over_tls_refresh_reshare_and_import() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("k");
    let pk = keygen(&k)["public_key"].as_str().unwrap().to_owned();
    for (i, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        std::fs::create_dir_all(d.path().join(name)).unwrap();
        std::fs::copy(share(&k, i), party_share(d.path(), name, i)).unwrap();
    }
    let run = |args: &[&str], file: Option<String>| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--kdf-memory-mib".into(), "1".into()]);
        if let Some(f) = file {
            v.extend(["--shares".into(), f]);
        }
        v
    };

    // Refresh: every holder, one process each.
    let pf = common::keys_and_parties(d.path(), &["alice", "bob", "carol"]);
    let refreshed = per_process(
        d.path(),
        &pf,
        &[
            (
                "alice",
                run(
                    &["sign", "refresh"],
                    Some(party_share(d.path(), "alice", 1)),
                ),
            ),
            (
                "bob",
                run(&["sign", "refresh"], Some(party_share(d.path(), "bob", 2))),
            ),
            (
                "carol",
                run(
                    &["sign", "refresh"],
                    Some(party_share(d.path(), "carol", 3)),
                ),
            ),
        ],
    );
    assert!(refreshed.iter().all(|r| r["public_key"] == pk.as_str()));
    for (i, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        let f = party_share(d.path(), name, i);
        assert_eq!(header_epoch(Path::new(&f)), 1, "{name}");
        assert!(
            !d.path()
                .join(name)
                .join(format!(".share-{i}.qshr.next"))
                .exists()
        );
    }
    signs_under(
        &format!(
            "{},{}",
            party_share(d.path(), "alice", 1),
            party_share(d.path(), "carol", 3)
        ),
        &pk,
    );

    // Reshare: bob leaves, dave (a new party, fourth in the file) joins.
    let d2 = tempfile::tempdir().unwrap();
    let pf2 = common::keys_and_parties(d2.path(), &["alice", "bob", "carol", "dave"]);
    let reshare = ["sign", "reshare", "-t", "2", "--to", "1,3,4"];
    let dave_dir = d.path().join("dave").display().to_string();
    let mut dave = run(&reshare, None);
    dave.extend(["--out".into(), dave_dir]);
    let r = per_process(
        d2.path(),
        &pf2,
        &[
            (
                "alice",
                run(&reshare, Some(party_share(d.path(), "alice", 1))),
            ),
            ("bob", run(&reshare, Some(party_share(d.path(), "bob", 2)))),
            (
                "carol",
                run(&reshare, Some(party_share(d.path(), "carol", 3))),
            ),
            ("dave", dave),
        ],
    );
    assert_eq!(r[1]["retired"], true);
    assert!(!Path::new(&party_share(d.path(), "bob", 2)).exists());
    for k in [0, 2, 3] {
        assert_eq!(r[k]["public_key"], pk.as_str());
    }
    let dave_share = party_share(d.path(), "dave", 4);
    assert_eq!(header_epoch(Path::new(&dave_share)), 2);
    signs_under(
        &format!("{},{dave_share}", party_share(d.path(), "carol", 3)),
        &pk,
    );

    // Import: the second party holds the private key 3 (public key 3·G).
    let d3 = tempfile::tempdir().unwrap();
    let pf3 = common::keys_and_parties(d3.path(), &["x", "y"]);
    let keyfile = d3.path().join("old.hex");
    std::fs::write(&keyfile, format!("{}3\n", "0".repeat(63))).unwrap();
    let import = |name: &str| {
        let mut v = run(&["sign", "import", "-t", "2", "--out"], None);
        v.insert(5, d3.path().join(name).display().to_string());
        v
    };
    let mut y = import("y");
    y.extend(["--key-file".into(), keyfile.display().to_string()]);
    let r = per_process(d3.path(), &pf3, &[("x", import("x")), ("y", y)]);
    let three_g = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";
    assert!(r.iter().all(|r| r["public_key"] == three_g));
    signs_under(
        &format!(
            "{},{}",
            party_share(d3.path(), "x", 1),
            party_share(d3.path(), "y", 2)
        ),
        three_g,
    );
}
