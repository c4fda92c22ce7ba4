//! BIP-340's test vectors (`../shared/vectors/bip340/test-vectors.csv`),
//! verify side: every row's expected result, variable-length messages
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use quorate_engine::sign::bip340;

#[test]
fn bip340_verify_vectors() {
    let Some(dir) = common::shared() else { return };
    let text = std::fs::read_to_string(dir.join("vectors/bip340/test-vectors.csv")).unwrap();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let (pk, msg, sig, want) = (
            common::hex(f[2]),
            common::hex(f[4]),
            common::hex(f[5]),
            f[6] == "TRUE",
        );
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
