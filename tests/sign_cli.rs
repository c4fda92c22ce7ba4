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
