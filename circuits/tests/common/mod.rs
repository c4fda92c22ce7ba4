//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

use std::path::PathBuf;

use quorate_circuits::{Bits, Circuit, evaluate_many};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use sha2::Digest;

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

/// A message of at most 55 bytes padded to one SHA-256/SHA-1 block.
pub(crate) fn pad_one_block(msg: &[u8]) -> [u8; 64] {
    assert!(msg.len() <= 55);
    let mut block = [0u8; 64];
    block[..msg.len()].copy_from_slice(msg);
    block[msg.len()] = 0x80;
    block[56..].copy_from_slice(&(msg.len() as u64 * 8).to_be_bytes());
    block
}

/// SHA-256's initial hash value H(0) (FIPS 180-4 section 5.3.3).
pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Checks a SHA-256 compression circuit (inputs: block, chaining value;
/// output: the next chaining value, all big-endian) against `sha2`: every
/// one-block message of 0 to 55 random bytes from the standard IV, then
/// `random` random blocks from random chaining values.
pub(crate) fn check_sha256_compression(c: &Circuit, random: usize) {
    let (mut rng, seed) = rng();
    let iv: Vec<u8> = SHA256_IV.iter().flat_map(|w| w.to_be_bytes()).collect();
    let mut instances = Vec::new();
    let mut expected = Vec::new();
    for len in 0..=55usize {
        let mut msg = vec![0u8; len];
        rng.fill_bytes(&mut msg);
        instances.push(vec![from_bytes(&pad_one_block(&msg)), from_bytes(&iv)]);
        expected.push(sha2::Sha256::digest(&msg).to_vec());
    }
    for _ in 0..random {
        let mut block = [0u8; 64];
        rng.fill_bytes(&mut block);
        let mut state: [u32; 8] = rng.random();
        let cv: Vec<u8> = state.iter().flat_map(|w| w.to_be_bytes()).collect();
        instances.push(vec![from_bytes(&block), from_bytes(&cv)]);
        sha2::block_api::compress256(&mut state, &[block]);
        expected.push(state.iter().flat_map(|w| w.to_be_bytes()).collect());
    }
    let outs = evaluate_many(c, &instances).unwrap();
    for (out, want) in outs.iter().zip(&expected) {
        assert_eq!(&to_bytes(&out[0]), want, "seed {seed}");
    }
}
