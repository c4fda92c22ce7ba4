//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/` beside the checkout (or `$QUORATE_SHARED`); under CI a
/// missing directory fails the test, elsewhere it is skipped.
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
