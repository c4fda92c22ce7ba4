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

/// Bytes from hex digits (either case).
///
/// # Panics
/// On an odd length or a non-hex digit: test vectors are trusted input.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}
