//! The standard Bristol circuits in `../shared/circuits/bristol`: FIPS-197
//! and FIPS 180-4 known answers, random inputs against reference
//! implementations and integer arithmetic, writer/reader round trips, and
//! streaming evaluation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use common::{from_bytes, pad_one_block, to_bytes};

use std::path::{Path, PathBuf};

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use quorate_circuits::bristol::{self, BitOrder, Format, ReadOptions};
use quorate_circuits::{Bits, Circuit, StreamEvaluator, evaluate, evaluate_many};
use rand::{Rng, RngExt};
use sha2::Digest;

fn dir() -> Option<PathBuf> {
    common::shared().map(|d| d.join("circuits/bristol"))
}

fn load(dir: &Path, name: &str) -> bristol::Loaded {
    bristol::read_file(&dir.join(name), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn hex(text: &str, width: usize) -> Bits {
    Bits::from_hex(text, width).unwrap()
}

/// SHA padding of a message of at most 55 bytes: one 64-byte block.

#[test]
fn aes_fips197_vectors() {
    let Some(dir) = dir() else { return };
    let block = "00112233445566778899aabbccddeeff";
    for (file, key, expect) in [
        (
            "aes_128.txt",
            "000102030405060708090a0b0c0d0e0f",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
        (
            "aes_192.txt",
            "000102030405060708090a0b0c0d0e0f1011121314151617",
            "dda97ca4864cdfe06eaf70a0ec0d7191",
        ),
        (
            "aes_256.txt",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "8ea2b7ca516745bfeafc49904b496089",
        ),
    ] {
        let l = load(&dir, file);
        assert_eq!(l.format, Format::Fashion);
        let out = evaluate(&l.circuit, &[hex(key, key.len() * 4), hex(block, 128)]).unwrap();
        assert_eq!(out[0].to_hex(), expect, "{file}");
    }
    // The old format takes the block first, then the key, MSB first.
    let l = load(&dir, "AES-non-expanded.txt");
    assert_eq!((l.format, l.bit_order), (Format::Old, BitOrder::MsbFirst));
    let out = evaluate(
        &l.circuit,
        &[
            hex(block, 128),
            hex("000102030405060708090a0b0c0d0e0f", 128),
        ],
    )
    .unwrap();
    assert_eq!(out[0].to_hex(), "69c4e0d86a7b0430d8cdb78070b4c55a");
}

#[test]
fn aes_128_on_random_keys_and_blocks() {
    let Some(dir) = dir() else { return };
    let (mut rng, seed) = common::rng();
    let fashion = load(&dir, "aes_128.txt").circuit;
    let old = load(&dir, "AES-non-expanded.txt").circuit;
    let mut cases = Vec::new();
    for _ in 0..100 {
        let mut key = [0u8; 16];
        let mut block = [0u8; 16];
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut block);
        let mut expect = Array::from(block);
        aes::Aes128::new(&Array::from(key)).encrypt_block(&mut expect);
        cases.push((key, block, expect.to_vec()));
    }
    let fashion_out = evaluate_many(
        &fashion,
        &cases
            .iter()
            .map(|(k, b, _)| vec![from_bytes(k), from_bytes(b)])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let old_out = evaluate_many(
        &old,
        &cases
            .iter()
            .map(|(k, b, _)| vec![from_bytes(b), from_bytes(k)])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for (((_, _, expect), f), o) in cases.iter().zip(&fashion_out).zip(&old_out) {
        assert_eq!(&to_bytes(&f[0]), expect, "seed {seed}");
        assert_eq!(&to_bytes(&o[0]), expect, "seed {seed}");
    }
}

#[test]
fn sha256_compression_on_random_blocks() {
    let Some(dir) = dir() else { return };
    common::check_sha256_compression(&load(&dir, "sha256.txt").circuit, 64);
}

#[test]
fn old_format_sha256_and_sha1() {
    let Some(dir) = dir() else { return };
    let (mut rng, seed) = common::rng();
    let sha256 = load(&dir, "sha-256.txt").circuit;
    let sha1 = load(&dir, "sha-1.txt").circuit;
    for len in [0usize, 1, 3, 31, 55] {
        let mut msg = vec![0u8; len];
        rng.fill_bytes(&mut msg);
        let block = vec![from_bytes(&pad_one_block(&msg))];
        let out = evaluate(&sha256, &block).unwrap();
        assert_eq!(
            to_bytes(&out[0]),
            sha2::Sha256::digest(&msg).to_vec(),
            "seed {seed}"
        );
        let out = evaluate(&sha1, &block).unwrap();
        assert_eq!(
            to_bytes(&out[0]),
            sha1::Sha1::digest(&msg).to_vec(),
            "seed {seed}"
        );
    }
}

#[test]
fn arithmetic_circuits_match_integers() {
    let Some(dir) = dir() else { return };
    let (mut rng, seed) = common::rng();
    let pairs: Vec<(u64, u64)> = (0..200)
        .map(|i| match i {
            0 => (0, 0),
            1 => (u64::MAX, 1),
            2 => (i64::MIN as u64, u64::MAX),
            _ => (rng.random(), rng.random::<u64>() >> rng.random_range(0..64)),
        })
        .collect();
    let two = |x: u64, y: u64| vec![Bits::from_u64(x, 64), Bits::from_u64(y, 64)];
    let run =
        |c: &Circuit, f: &dyn Fn(u64, u64) -> Vec<Bits>, inputs: &dyn Fn(u64, u64) -> Vec<Bits>| {
            let ins: Vec<_> = pairs.iter().map(|&(x, y)| inputs(x, y)).collect();
            let outs = evaluate_many(c, &ins).unwrap();
            for (&(x, y), out) in pairs.iter().zip(outs) {
                assert_eq!(out, f(x, y), "x = {x:#x}, y = {y:#x}, seed {seed}");
            }
        };
    let b64 = |v: u64| Bits::from_u64(v, 64);
    run(
        &load(&dir, "adder64.txt").circuit,
        &|x, y| vec![b64(x.wrapping_add(y))],
        &two,
    );
    run(
        &load(&dir, "sub64.txt").circuit,
        &|x, y| vec![b64(x.wrapping_sub(y))],
        &two,
    );
    run(
        &load(&dir, "mult64.txt").circuit,
        &|x, y| vec![b64(x.wrapping_mul(y))],
        &two,
    );
    run(
        &load(&dir, "mult2_64.txt").circuit,
        &|x, y| {
            let p = u128::from(x) * u128::from(y);
            vec![b64((p >> 64) as u64), b64(p as u64)]
        },
        &two,
    );
    let nonzero = |x: u64, y: u64| two(x, y.max(1));
    run(
        &load(&dir, "udivide64.txt").circuit,
        &|x, y| vec![b64(x / y.max(1))],
        &nonzero,
    );
    run(
        &load(&dir, "divide64.txt").circuit,
        &|x, y| vec![b64((x as i64).wrapping_div(y.max(1) as i64) as u64)],
        &nonzero,
    );
    let one = |x: u64, _: u64| vec![Bits::from_u64(x, 64)];
    run(
        &load(&dir, "neg64.txt").circuit,
        &|x, _| vec![b64(x.wrapping_neg())],
        &one,
    );
    run(
        &load(&dir, "zero_equal.txt").circuit,
        &|x, _| vec![Bits::from_u64(u64::from(x == 0), 1)],
        &one,
    );
    // The old-format 32-bit adder numbers bits LSB first.
    let opts = ReadOptions {
        bit_order: Some(BitOrder::LsbFirst),
        ..ReadOptions::default()
    };
    let adder = bristol::read_file(&dir.join("adder_32bit.txt"), &opts)
        .unwrap()
        .circuit;
    run(
        &adder,
        &|x, y| vec![Bits::from_u64((x & 0xffff_ffff) + (y & 0xffff_ffff), 33)],
        &|x, y| vec![Bits::from_u64(x, 32), Bits::from_u64(y, 32)],
    );
}

#[test]
fn and_counts_match_the_catalogue() {
    let Some(dir) = dir() else { return };
    for (file, ands) in [
        ("aes_128.txt", 6400),
        ("aes_192.txt", 7168),
        ("aes_256.txt", 8832),
        ("sha256.txt", 22573),
        ("adder64.txt", 63),
        ("mult64.txt", 4033),
        ("mult2_64.txt", 8128),
        ("udivide64.txt", 4285),
        ("AES-non-expanded.txt", 6800),
        ("sha-256.txt", 22272),
        ("sha-1.txt", 37300),
        ("adder_32bit.txt", 127),
    ] {
        assert_eq!(load(&dir, file).circuit.stats().and, ands, "{file}");
    }
}

#[test]
fn write_then_read_evaluates_identically() {
    let Some(dir) = dir() else { return };
    let (mut rng, seed) = common::rng();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 16, "{names:?}");
    for name in names {
        let original = load(&dir, &name).circuit;
        let mut text = Vec::new();
        bristol::write(&original, &mut text).unwrap();
        let again = bristol::parse(std::str::from_utf8(&text).unwrap(), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name} rewritten: {e}"));
        assert_eq!(again.format, Format::Fashion);
        assert_eq!(again.circuit.stats().and, original.stats().and, "{name}");
        let instances: Vec<Vec<Bits>> = (0..64)
            .map(|_| {
                original
                    .interface()
                    .inputs
                    .iter()
                    .map(|i| {
                        let bools: Vec<bool> = (0..i.width).map(|_| rng.random()).collect();
                        Bits::from_bools(&bools)
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            evaluate_many(&original, &instances).unwrap(),
            evaluate_many(&again.circuit, &instances).unwrap(),
            "{name}, seed {seed}"
        );
    }
}

#[test]
fn streaming_read_evaluates_without_storing() {
    let Some(dir) = dir() else { return };
    let key = hex("000102030405060708090a0b0c0d0e0f", 128);
    let block = hex("00112233445566778899aabbccddeeff", 128);
    let mut flat: Vec<bool> = key.iter().collect();
    flat.extend(block.iter());
    let mut ev = StreamEvaluator::new(&flat);
    let file = std::fs::File::open(dir.join("aes_128.txt")).unwrap();
    let header = bristol::read_into(
        std::io::BufReader::new(file),
        &ReadOptions::default(),
        &mut ev,
    )
    .unwrap();
    let out = ev.outputs(&header.interface);
    assert_eq!(
        Bits::from_bools(&out[0]).to_hex(),
        "69c4e0d86a7b0430d8cdb78070b4c55a"
    );
}
