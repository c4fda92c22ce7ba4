//! Times Beaver triple generation over Z_2^64 for 2 and 3 parties in memory.
//! `cargo run --release -p quorate-engine --example arith_triples [N]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::arith::Party;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::memory::mesh;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1 << 18, |s| s.parse().unwrap());
    for parties in [2usize, 3] {
        let names: Vec<String> = (0..parties).map(|i| format!("p{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let session = SessionId::random().unwrap();
        let rows = mesh(&names);
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
                        let tr = p.triples::<u64>(n).unwrap();
                        assert_eq!(tr.len(), n);
                        (t.elapsed().as_secs_f64(), p.traffic().0 - before)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let secs = times.iter().map(|t| t.0).fold(0.0, f64::max);
        let bytes: u64 = times.iter().map(|t| t.1).sum();
        println!(
            "{parties} parties: {n} triples in {secs:.3} s = {:.0} triples/s, {:.0} bytes per triple (all parties)",
            n as f64 / secs,
            bytes as f64 / n as f64
        );
    }
}
