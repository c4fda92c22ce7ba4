//! `quorate policy check` and `quorate audit verify` on files a node would
//! hold: decisions with the refusing rule named, and a log tampered in each
//! way caught with its line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use quorate::custody::audit::AuditLog;
use serde_json::{Value, json};

const POLICY: &str = r#"
[groups]
all = ["n1", "n2", "n3", "n4", "n5"]

[[tier]]
name = "small"
asset = "ETH"
below = "10"
require = [{ group = "all", at_least = 3 }]

[[tier]]
name = "medium"
asset = "ETH"
from = "10"
below = "100"
require = [{ group = "all", at_least = 4 }]

[[tier]]
name = "large"
asset = "ETH"
from = "100"
require = [{ group = "all", at_least = 5 }]

[[allow]]
name = "book"
asset = "ETH"
destinations = ["0xabc"]

[[limit]]
name = "daily"
key = "*"
asset = "ETH"
daily = "150"
"#;

fn decide(
    policy: &Path,
    amount: &str,
    dest: &str,
    signers: &str,
    spent: Option<&str>,
) -> (bool, Value) {
    let p = policy.to_str().unwrap();
    let mut args = vec![
        "policy",
        "check",
        "--policy",
        p,
        "--asset",
        "ETH",
        "--amount",
        amount,
        "--destination",
        dest,
        "--signers",
        signers,
        "--json",
    ];
    if let Some(s) = spent {
        args.extend(["--spent-today", s]);
    }
    let o = common::quorate(&args);
    assert!(!common::stderr(&o).contains("panicked"));
    (
        o.status.success(),
        serde_json::from_slice(&o.stdout).unwrap(),
    )
}

#[test]
fn policy_check_names_the_tier_or_the_refusing_rule() {
    let d = tempfile::tempdir().unwrap();
    let policy = d.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let three = "n1,n2,n3";
    let five = "n1,n2,n3,n4,n5";
    assert_eq!(
        decide(&policy, "9.5", "0xabc", three, None),
        (true, json!({"allowed": true, "tier": "small"}))
    );
    let (ok, v) = decide(&policy, "10", "0xabc", three, None);
    assert!(!ok);
    assert_eq!(v["rule"], "tier medium");
    let (ok, v) = decide(&policy, "120", "0xabc", five, None);
    assert!(ok, "{v}");
    let (ok, v) = decide(&policy, "1", "0xdead", five, None);
    assert!(!ok);
    assert_eq!(v["rule"], "allow book");
    let (ok, v) = decide(&policy, "60", "0xabc", five, Some("100"));
    assert!(!ok);
    assert_eq!(v["rule"], "limit daily");

    let o = common::quorate(&["policy", "check", "--policy", policy.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(common::stdout(&o).contains("valid"));
    std::fs::write(&policy, POLICY.replace("at_least = 5", "at_least = 6")).unwrap();
    let o = common::quorate(&["policy", "check", "--policy", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("requires 6 of group `all`, which has 5"),
        "{}",
        common::stderr(&o)
    );
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write(p: &Path, lines: &[String]) {
    std::fs::write(
        p,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn audit_verify_names_each_kind_of_tampering() {
    let d = tempfile::tempdir().unwrap();
    let log_path = d.path().join("audit.log");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).unwrap();
    let key = k256::ecdsa::SigningKey::from_slice(&key).unwrap();
    let pk: String = key
        .verifying_key()
        .to_sec1_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut log = AuditLog::open(&log_path, "n1", key).unwrap();
    for i in 0..6 {
        log.append(
            "sign",
            json!({"request": i, "amount": "2", "decision": "allowed"}),
        )
        .unwrap();
    }
    drop(log);
    let good = lines(&log_path);
    let verify = |p: &Path| {
        let o = common::quorate(&[
            "audit",
            "verify",
            p.to_str().unwrap(),
            "--public-key",
            &pk,
            "--json",
        ]);
        assert!(!common::stderr(&o).contains("panicked"));
        (
            o.status.code(),
            serde_json::from_slice::<Value>(&o.stdout).unwrap(),
        )
    };
    let (code, v) = verify(&log_path);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["entries"], 7);

    type Tamper = Box<dyn Fn(&mut Vec<String>)>;
    let cases: Vec<(&str, Tamper, u64, &str)> = vec![
        (
            "edited",
            Box::new(|l: &mut Vec<String>| l[3] = l[3].replace("\"2\"", "\"200\"")),
            4,
            "signature",
        ),
        (
            "dropped",
            Box::new(|l: &mut Vec<String>| {
                l.remove(2);
            }),
            3,
            "dropped",
        ),
        (
            "inserted",
            Box::new(|l: &mut Vec<String>| {
                let c = l[1].clone();
                l.insert(5, c);
            }),
            6,
            "duplicated",
        ),
        (
            "reordered",
            Box::new(|l: &mut Vec<String>| l.swap(4, 5)),
            5,
            "reordered",
        ),
    ];
    for (what, tamper, line, needle) in cases {
        let mut l = good.clone();
        tamper(&mut l);
        let p = d.path().join(format!("{what}.log"));
        write(&p, &l);
        let (code, v) = verify(&p);
        assert_eq!(code, Some(1), "{what}: {v}");
        let first = &v["problems"][0];
        assert_eq!(first["line"], line, "{what}: {v}");
        assert!(
            first["what"].as_str().unwrap().contains(needle),
            "{what}: {v}"
        );
    }
    // Text output, and a key that is not the node's.
    let o = common::quorate(&["audit", "verify", log_path.to_str().unwrap()]);
    assert!(common::stdout(&o).contains("intact") && common::stdout(&o).contains("not pinned"));
    // The generator: a valid key, but not the node's.
    let other = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    let o = common::quorate(&[
        "audit",
        "verify",
        log_path.to_str().unwrap(),
        "--public-key",
        other,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stdout(&o).contains("another node key"),
        "{}",
        common::stdout(&o)
    );
    let o = common::quorate(&[
        "audit",
        "verify",
        d.path().join("missing").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

fn q(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(args)
        .env("QUORATE_PASSPHRASE", "backup test")
        .output()
        .unwrap()
}

#[test]
fn backup_and_restore_with_a_quorum_then_refresh_before_ecdsa() {
    let d = tempfile::tempdir().unwrap();
    let node = d.path().join("node");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let o = q(&[
        "sign",
        "keygen",
        "-t",
        "2",
        "-n",
        "3",
        "--kdf-memory-mib",
        "1",
        "--out",
        &s(&node),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let out = d.path().join("bk");
    let o = q(&[
        "signer",
        "backup",
        "--dir",
        &s(&node),
        "-t",
        "2",
        "-n",
        "3",
        "--out",
        &s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = v["backup"].as_str().unwrap().to_owned();
    let piece = |i: u32| s(&out.join(format!("piece-{i}.json")));

    // One piece is not enough; a piece of another backup is named.
    let restored = d.path().join("restored");
    let o = q(&[
        "signer",
        "restore",
        "--backup",
        &file,
        "--pieces",
        &piece(2),
        "--dir",
        &s(&restored),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("needs 2"),
        "{}",
        common::stderr(&o)
    );
    let out2 = d.path().join("bk2");
    let o = q(&[
        "signer",
        "backup",
        "--dir",
        &s(&node),
        "-t",
        "2",
        "-n",
        "3",
        "--out",
        &s(&out2),
    ]);
    assert!(o.status.success());
    let foreign = s(&out2.join("piece-1.json"));
    let o = q(&[
        "signer",
        "restore",
        "--backup",
        &file,
        "--pieces",
        &format!("{},{foreign}", piece(3)),
        "--dir",
        &s(&restored),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("another backup"),
        "{}",
        common::stderr(&o)
    );

    let o = q(&[
        "signer",
        "restore",
        "--backup",
        &file,
        "--pieces",
        &format!("{},{}", piece(1), piece(3)),
        "--dir",
        &s(&restored),
        "--json",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    for i in 1..=3 {
        let a = std::fs::read(node.join(format!("share-{i}.qshr"))).unwrap();
        let b = std::fs::read(restored.join(format!("share-{i}.qshr"))).unwrap();
        assert_eq!(a, b);
    }
    let o = q(&[
        "signer",
        "restore",
        "--backup",
        &file,
        "--pieces",
        &format!("{},{}", piece(1), piece(3)),
        "--dir",
        &s(&restored),
    ]);
    assert!(common::stderr(&o).contains("not empty"));

    // ECDSA refuses restored shares until a refresh; BIP-340 (fresh random
    // nonces, no OT) does not need one.
    let shares = |dir: &Path| {
        format!(
            "{},{}",
            s(&dir.join("share-1.qshr")),
            s(&dir.join("share-2.qshr"))
        )
    };
    let digest = "11".repeat(32);
    let o = q(&[
        "sign",
        "ecdsa",
        "--shares",
        &shares(&restored),
        "--digest",
        &digest,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("restored from a backup"),
        "{}",
        common::stderr(&o)
    );
    let o = q(&[
        "sign",
        "schnorr",
        "--shares",
        &shares(&restored),
        "--digest",
        &digest,
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let all = format!(
        "{},{}",
        shares(&restored),
        s(&restored.join("share-3.qshr"))
    );
    let o = q(&["sign", "refresh", "--shares", &all, "--kdf-memory-mib", "1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(!restored.join("share-1.restored").exists());
    let o = q(&[
        "sign",
        "ecdsa",
        "--shares",
        &shares(&restored),
        "--digest",
        &digest,
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
}
