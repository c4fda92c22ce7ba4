//! Times the two sides of one KOS batch separately, in one thread, without a
//! channel: where the extension's time goes.
//! `cargo run --release -p quorate-engine --example kos_phases -- [N] [K]`
//! (K: SoftSpokenOT's k, default 1, IKNP).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use quorate_engine::Seed;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::kos::{CHUNK, KAPPA, KosReceiver, KosSender};
use quorate_engine::ot::{Delta, SecretBlocks};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let k: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let session = SessionId::random().unwrap();
    let delta = Delta::random().unwrap();
    let pairs: Vec<[Seed; 2]> = (0..KAPPA)
        .map(|_| [Seed::from_entropy().unwrap(), Seed::from_entropy().unwrap()])
        .collect();
    let chosen: Vec<Seed> = (0..KAPPA)
        .map(|i| pairs[i][usize::from(delta.expose().bit(i))].clone())
        .collect();
    let (mut r, corrections) = KosReceiver::new_spoken(&pairs, k, &session, "s").unwrap();
    let mut s = KosSender::new_spoken(delta, &chosen, k, &corrections, &session, "r").unwrap();
    let choices = vec![false; n];
    let (mut qo, mut to) = (SecretBlocks::default(), SecretBlocks::default());
    for round in 0..3 {
        let mut u = Vec::with_capacity(16 * CHUNK);
        // Time each side's share of the extension separately.
        let (mut extend, mut absorb) = (Duration::ZERO, Duration::ZERO);
        let t = Instant::now();
        let mut rb = r.start_into(&choices, std::mem::take(&mut to)).unwrap();
        let mut sb = s.start_into(n, std::mem::take(&mut qo)).unwrap();
        extend += t.elapsed();
        loop {
            u.clear();
            let t = Instant::now();
            let more = rb.next_chunk_into(&mut u);
            extend += t.elapsed();
            if !more {
                break;
            }
            let t = Instant::now();
            sb.absorb(&u).unwrap();
            absorb += t.elapsed();
        }
        let t = Instant::now();
        let (check, t_out) = rb.respond(sb.challenge());
        let respond = t.elapsed();
        let t = Instant::now();
        let q = sb.verify(check).unwrap();
        let verify = t.elapsed();
        let ns = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
        println!(
            "round {round}: receiver extend {:.2} ns/OT, sender absorb {:.2}, receiver respond {:.2}, verify {:.2}",
            ns(extend),
            ns(absorb),
            ns(respond),
            ns(verify)
        );
        qo = q;
        to = t_out;
    }
}
