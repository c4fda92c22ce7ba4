//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

use std::path::PathBuf;

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
