//! The built-in circuits against FIPS-197, FIPS 180-4, the `aes` and `sha2`
//! crates, and the standard Bristol files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use common::{from_bytes, to_bytes};

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use quorate_circuits::bristol::{self, ReadOptions};
use quorate_circuits::library::{self, sha256};
use quorate_circuits::{Bits, evaluate, evaluate_many};
use rand::Rng;

#[test]
fn aes128_fips197_and_random() {
    let c = library::builtin("aes128").unwrap().build().unwrap();
    assert_eq!(c.stats().and, 6400);
    let key = Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).unwrap();
    let block = Bits::from_hex("00112233445566778899aabbccddeeff", 128).unwrap();
    assert_eq!(
        evaluate(&c, &[key, block]).unwrap()[0].to_hex(),
        "69c4e0d86a7b0430d8cdb78070b4c55a"
    );
    // FIPS-197 appendix B.
    let key = Bits::from_hex("2b7e151628aed2a6abf7158809cf4f3c", 128).unwrap();
    let block = Bits::from_hex("3243f6a8885a308d313198a2e0370734", 128).unwrap();
    assert_eq!(
        evaluate(&c, &[key, block]).unwrap()[0].to_hex(),
        "3925841d02dc09fbdc118597196a0b32"
    );

    let (mut rng, seed) = common::rng();
    let mut instances = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..128 {
        let (mut k, mut p) = ([0u8; 16], [0u8; 16]);
        rng.fill_bytes(&mut k);
        rng.fill_bytes(&mut p);
        let mut ct = Array::from(p);
        aes::Aes128::new(&Array::from(k)).encrypt_block(&mut ct);
        instances.push(vec![from_bytes(&k), from_bytes(&p)]);
        expected.push(ct.to_vec());
    }
    let outs = evaluate_many(&c, &instances).unwrap();
    for (out, want) in outs.iter().zip(&expected) {
        assert_eq!(&to_bytes(&out[0]), want, "seed {seed}");
    }
    // The same function as the standard Bristol file.
    if let Some(shared) = common::shared() {
        let file = bristol::read_file(
            &shared.join("circuits/bristol/aes_128.txt"),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(evaluate_many(&file.circuit, &instances).unwrap(), outs);
    }
}

#[test]
fn sha256_messages_and_random_states() {
    let c = library::builtin("sha256").unwrap().build().unwrap();
    assert_eq!(c.stats().and, 22_573);
    assert_eq!(sha256::initial_hash(), common::SHA256_IV);
    common::check_sha256_compression(&c, 40);
}

#[test]
fn millionaires() {
    let c = library::builtin("millionaires").unwrap().build().unwrap();
    assert_eq!(c.stats().and, 64);
    for (a, b) in [(5u64, 3u64), (3, 5), (7, 7), (u64::MAX, 0)] {
        let out = evaluate(&c, &[Bits::from_u64(a, 64), Bits::from_u64(b, 64)]).unwrap();
        assert_eq!(out[0].to_u64(), Some(u64::from(a > b)));
    }
}
