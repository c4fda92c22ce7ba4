//! One-way throughput of a loopback TLS channel: 1 GiB in 1 MiB sends.
//! `cargo run --release -p quorate-engine --example tls_throughput`
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::tls;
use std::time::Instant;

fn main() {
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = tls::loopback_pair(&session, &program_hash(b"tput")).unwrap();
    let piece = 1 << 20;
    let n = 1024;
    let t = std::thread::spawn(move || {
        let mut buf = vec![0u8; piece];
        for _ in 0..n {
            b.recv(&mut buf).unwrap();
        }
        b.send(&[1]).unwrap();
        b.flush().unwrap();
    });
    let data = vec![7u8; piece];
    let start = Instant::now();
    for _ in 0..n {
        a.send(&data).unwrap();
    }
    a.flush().unwrap();
    let mut ack = [0u8; 1];
    a.recv(&mut ack).unwrap();
    let s = start.elapsed().as_secs_f64();
    t.join().unwrap();
    println!("{:.0} MB/s one way", (piece * n) as f64 / s / 1e6);
}
