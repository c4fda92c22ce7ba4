//! The circuit layer: plaintext evaluation (one instance and 64 bit-sliced),
//! building AES-128 with the builder, reading a Bristol file.
//! Run: `cargo bench --bench circuits`; figures in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorate::circuits::bristol::{self, ReadOptions};
use quorate::circuits::library;
use quorate::circuits::{Bits, evaluate, evaluate_lanes};

fn circuits(c: &mut Criterion) {
    let aes = library::builtin("aes128").unwrap().build().unwrap();
    let gates = aes.stats().gates();
    let inputs = [
        Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).unwrap(),
        Bits::from_hex("00112233445566778899aabbccddeeff", 128).unwrap(),
    ];
    let mut g = c.benchmark_group("circuits");

    g.throughput(Throughput::Elements(gates));
    g.bench_function("eval_aes128_one", |b| {
        b.iter(|| evaluate(&aes, black_box(&inputs)).unwrap())
    });

    let lanes: Vec<u64> = (0..256u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    g.throughput(Throughput::Elements(gates * 64));
    g.bench_function("eval_aes128_x64_bitsliced", |b| {
        b.iter(|| evaluate_lanes(&aes, black_box(&lanes)).unwrap())
    });

    g.throughput(Throughput::Elements(gates));
    g.bench_function("build_aes128", |b| {
        b.iter(|| library::builtin("aes128").unwrap().build().unwrap())
    });

    let mut text = Vec::new();
    bristol::write(&aes, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("read_bristol_aes128", |b| {
        b.iter(|| bristol::parse(black_box(&text), &ReadOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, circuits);
criterion_main!(benches);
