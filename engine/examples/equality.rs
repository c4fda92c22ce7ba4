//! Times the chunked equality test ([`quorate_engine::arith::equal`]) for
//! 2 parties in memory: the preparation (random OTs and AND triples),
//! then the online test, as the private join uses them.
//! `cargo run --release -p quorate-engine --example equality [N]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::arith::Party;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::memory::mesh;
use quorate_engine::prg::Prg;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_270_000, |s| s.parse().unwrap());
    let session = SessionId::random().unwrap();
    let rows = mesh(&["p0", "p1"]);
    let mut prg = Prg::from_entropy().unwrap();
    let x: Vec<u64> = (0..n).map(|_| prg.block().0 as u64).collect();
    let y: Vec<u64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 3 == 0 { v } else { v ^ 1 })
        .collect();
    let times: Vec<(f64, f64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let (session, mine) = (&session, if i == 0 { &x } else { &y });
                s.spawn(move || {
                    let mut p = Party::setup(i, row, session).unwrap();
                    let before = p.traffic().0;
                    let t = Instant::now();
                    let prep = p.equality_prep(n).unwrap();
                    let t_prep = t.elapsed().as_secs_f64();
                    let t = Instant::now();
                    let e = p.equality(prep, mine).unwrap();
                    assert_eq!(e.len(), n.div_ceil(64));
                    (t_prep, t.elapsed().as_secs_f64(), p.traffic().0 - before)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let prep = times.iter().map(|t| t.0).fold(0.0, f64::max);
    let online = times.iter().map(|t| t.1).fold(0.0, f64::max);
    let bytes: u64 = times.iter().map(|t| t.2).sum();
    println!(
        "2 parties, {n} equality tests: preparation {prep:.3} s, online {online:.3} s, {:.1} bytes per test (both parties)",
        bytes as f64 / n as f64
    );
}
