//! Round-trip latency of a 16-byte message over loopback TLS and over
//! in-memory channels (2000 round trips each; median, p10, p90).
//! `cargo run --release -p quorate-engine --example pingpong`
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use quorate_circuits::PartyId;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::{memory, tls};
use std::time::Instant;

fn main() {
    let session = SessionId::random().unwrap();
    let program = program_hash(b"pingpong");
    for name in ["tls", "memory"] {
        let (mut a, mut b) = if name == "tls" {
            tls::loopback_pair(&session, &program).unwrap()
        } else {
            memory::pair((PartyId(0), "a"), (PartyId(1), "b"))
        };
        let n = 2000;
        let t = std::thread::spawn(move || {
            let mut x = [0u8; 16];
            for _ in 0..n {
                b.recv(&mut x).unwrap();
                b.send(&x).unwrap();
                b.flush().unwrap();
            }
        });
        let mut x = [1u8; 16];
        let mut v = Vec::new();
        for _ in 0..n {
            let s = Instant::now();
            a.send(&x).unwrap();
            a.flush().unwrap();
            a.recv(&mut x).unwrap();
            v.push(s.elapsed().as_secs_f64() * 1e6);
        }
        t.join().unwrap();
        v.sort_by(f64::total_cmp);
        println!(
            "{name}: round trip median {:.1} us, p10 {:.1}, p90 {:.1}",
            v[n / 2],
            v[n / 10],
            v[9 * n / 10]
        );
    }
}
