//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

use std::path::PathBuf;

use quorate_circuits::Bits;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `../shared/` beside the checkout (or `$QUORATE_SHARED`): the known-answer
/// vectors and standard circuits. Under CI (`CI` set) a missing directory
/// fails the test; elsewhere the test says so and is skipped.
pub(crate) fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("QUORATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("circuits/bristol").is_dir() {
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

/// A random generator seeded from the OS, or from `$QUORATE_TEST_SEED`; the
/// seed goes into failure messages so a failure can be replayed.
pub(crate) fn rng() -> (StdRng, u64) {
    let seed = std::env::var("QUORATE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    (StdRng::seed_from_u64(seed), seed)
}

/// A byte string as a value: the first byte is the most significant (the
/// order in which FIPS-197 and FIPS 180-4 write keys, blocks and digests).
pub(crate) fn from_bytes(bytes: &[u8]) -> Bits {
    let mut b = Bits::zeros(bytes.len() * 8);
    for (i, byte) in bytes.iter().rev().enumerate() {
        for j in 0..8 {
            b.set(8 * i + j, byte >> j & 1 == 1);
        }
    }
    b
}

/// The inverse of [`from_bytes`].
pub(crate) fn to_bytes(b: &Bits) -> Vec<u8> {
    (0..b.width() / 8)
        .rev()
        .map(|i| (0..8).fold(0u8, |acc, j| acc | u8::from(b.get(8 * i + j)) << j))
        .collect()
}
