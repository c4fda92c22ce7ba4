//! Times Boolean (GMW) triple generation for 2 parties in memory.
//! `cargo run --release -p quorate-engine --example bit_triples [WORDS]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::arith::Party;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::memory::mesh;

fn main() {
    let words: usize = std::env::args()
        .nth(1)
        .map_or(1 << 18, |s| s.parse().unwrap());
    let session = SessionId::random().unwrap();
    let rows = mesh(&["p0", "p1"]);
    let times: Vec<(f64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let session = &session;
                s.spawn(move || {
                    let mut p = Party::setup(i, row, session).unwrap();
                    let before = p.traffic().0;
                    let t = Instant::now();
                    let tr = p.bit_triples(words).unwrap();
                    assert_eq!(tr.len(), words);
                    (t.elapsed().as_secs_f64(), p.traffic().0 - before)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = times.iter().map(|t| t.0).fold(0.0, f64::max);
    let bytes: u64 = times.iter().map(|t| t.1).sum();
    let n = words * 64;
    println!(
        "2 parties: {n} AND triples in {secs:.3} s = {:.1} M/s, {:.2} bytes per triple (both parties)",
        n as f64 / secs / 1e6,
        bytes as f64 / n as f64
    );
}
