//! Oblivious transfer: 128 base OTs, correlated OT extension in memory (one
//! thread per party; IKNP and SoftSpokenOT with k = 2 and 4), and the two
//! kernels under it.
//! Run: `cargo bench --bench ot`; figures in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorate::circuits::PartyId;
use quorate::engine::net::handshake::SessionId;
use quorate::engine::net::memory;
use quorate::engine::ot::kos::{KosReceiver, KosSender};
use quorate::engine::ot::{SecretBlocks, base};
use quorate::engine::simd::{Gf128Acc, transpose_128};
use quorate::engine::{Block, Prg};

fn ot(c: &mut Criterion) {
    let session = SessionId::random().unwrap();
    let mut g = c.benchmark_group("ot");
    g.sample_size(10);

    g.bench_function("base_ot_128", |b| {
        b.iter(|| {
            let (mut x, mut y) = memory::pair((PartyId(0), "s"), (PartyId(1), "r"));
            let t =
                std::thread::spawn(move || base::receive(&mut y, &session, &[true; 128]).unwrap());
            let keys = base::send(&mut x, &session, 128).unwrap();
            black_box((keys, t.join().unwrap()))
        })
    });

    const N: usize = 1 << 20;
    g.throughput(Throughput::Elements(N as u64));
    // SoftSpokenOT's k: 1 is IKNP (the in-memory default), 2 the network
    // default, 4 a quarter of IKNP's message.
    for k in [1usize, 2, 4] {
        let name = if k == 1 {
            "cot_1m_memory".to_owned()
        } else {
            format!("cot_1m_memory_k{k}")
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (mut x, mut y) = memory::pair((PartyId(0), "s"), (PartyId(1), "r"));
                let t = std::thread::spawn(move || {
                    let mut r = KosReceiver::setup_with(&mut y, &session, k).unwrap();
                    let choices = vec![false; N];
                    let mut out = SecretBlocks::default();
                    for _ in 0..iters {
                        r.cot_into(&mut y, &choices, &mut out).unwrap();
                    }
                });
                let mut s = KosSender::setup(&mut x, &session).unwrap();
                let mut out = SecretBlocks::default();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    s.cot_into(&mut x, N, &mut out).unwrap();
                    total += start.elapsed();
                }
                t.join().unwrap();
                total
            })
        });
    }

    let m = 8192;
    let mut rows = vec![0u8; 16 * m];
    Prg::from_entropy().unwrap().fill_bytes(&mut rows);
    let mut out = vec![Block::ZERO; m];
    g.sample_size(50);
    g.throughput(Throughput::Elements(m as u64));
    g.bench_function("transpose_128x8192", |b| {
        b.iter(|| transpose_128(black_box(&rows), m, &mut out))
    });
    let mut xs = vec![Block::ZERO; m];
    Prg::from_entropy().unwrap().fill_blocks(&mut xs);
    g.bench_function("gf128_inner_8192", |b| {
        b.iter(|| {
            let mut acc = Gf128Acc::default();
            acc.add_inner(black_box(&xs), black_box(&out));
            acc.value()
        })
    });
    g.finish();
}

criterion_group!(benches, ot);
criterion_main!(benches);
