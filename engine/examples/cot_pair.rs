//! Times correlated OT between two threads over an in-memory channel, as
//! `quorate bench ot` does, for profiling (`perf record`) without the rest
//! of the bench. `cargo run --release -p quorate-engine --example cot_pair [N] [BATCH]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_circuits::PartyId;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::memory::pair;
use quorate_engine::ot::SecretBlocks;
use quorate_engine::ot::kos::{KosReceiver, KosSender};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(50_000_000, |s| s.parse().unwrap());
    let batch: usize = args.next().map_or(1 << 20, |s| s.parse().unwrap());
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = pair((PartyId(0), "sender"), (PartyId(1), "receiver"));
    let lens: Vec<usize> = (0..n).step_by(batch).map(|s| (n - s).min(batch)).collect();
    let secs = std::thread::scope(|s| {
        let lens = &lens;
        let session = &session;
        let r = s.spawn(move || {
            let mut r = KosReceiver::setup(&mut b, session).unwrap();
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
        "{timed} COTs in batches of {batch}: {secs:.3} s = {:.1} M/s",
        timed as f64 / secs / 1e6
    );
}
