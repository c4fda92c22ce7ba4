//! BIP-340's test vectors (`../shared/vectors/bip340/test-vectors.csv`),
//! verify side: every row's expected result, variable-length messages
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use quorate_engine::sign::bip340;

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("QUORATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("vectors").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the shared vectors are missing: expected {}",
        dir.display()
    );
    eprintln!("skipped: {} not found (set QUORATE_SHARED)", dir.display());
    None
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn bip340_verify_vectors() {
    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(dir.join("vectors/bip340/test-vectors.csv")).unwrap();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let (pk, msg, sig, want) = (hex(f[2]), hex(f[4]), hex(f[5]), f[6] == "TRUE");
        assert_eq!(
            bip340::verify(&pk, &msg, &sig),
            want,
            "vector {}: {}",
            f[0],
            f.get(7).unwrap_or(&"")
        );
        rows += 1;
    }
    assert_eq!(rows, 19);
}
