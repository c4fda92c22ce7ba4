//! Times correlated OT between two threads over an in-memory channel or
//! loopback TLS, as `quorate bench ot` does, for profiling (`perf record`)
//! without the rest of the bench.
//! `cargo run --release -p quorate-engine --example cot_pair [N] [BATCH] [K] [memory|tls]`
//! (K: SoftSpokenOT's k; default: the channel's default).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_circuits::PartyId;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::memory::pair;
use quorate_engine::ot::SecretBlocks;
use quorate_engine::ot::kos::{KosReceiver, KosSender, default_k};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(50_000_000, |s| s.parse().unwrap());
    let batch: usize = args.next().map_or(1 << 20, |s| s.parse().unwrap());
    let k: Option<usize> = args.next().map(|s| s.parse().unwrap());
    let tls = args.next().as_deref() == Some("tls");
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = if tls {
        quorate_engine::net::tls::loopback_pair(&session, &[7; 32]).unwrap()
    } else {
        pair((PartyId(0), "sender"), (PartyId(1), "receiver"))
    };
    let lens: Vec<usize> = (0..n).step_by(batch).map(|s| (n - s).min(batch)).collect();
    let secs = std::thread::scope(|s| {
        let lens = &lens;
        let session = &session;
        let r = s.spawn(move || {
            let k = k.unwrap_or_else(|| default_k(&b));
            let mut r = KosReceiver::setup_with(&mut b, session, k).unwrap();
            let choices = vec![false; batch];
            let mut out = SecretBlocks::default();
            for &len in lens {
                r.cot_into(&mut b, &choices[..len], &mut out).unwrap();
            }
        });
        let mut sender = KosSender::setup(&mut a, session).unwrap();
        let mut out = SecretBlocks::default();
        // The first batch pays the buffers' page faults; time the rest.
        sender.cot_into(&mut a, lens[0], &mut out).unwrap();
        let t = Instant::now();
        for &len in &lens[1..] {
            sender.cot_into(&mut a, len, &mut out).unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        r.join().unwrap();
        secs
    });
    let timed = n - lens[0];
    println!(
        "{timed} COTs in batches of {batch} over {}: {secs:.3} s = {:.1} M/s",
        if tls { "TLS" } else { "memory" },
        timed as f64 / secs / 1e6
    );
}
