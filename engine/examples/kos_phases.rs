//! Times the two sides of one KOS batch separately, in one thread, without a
//! channel: where the extension's time goes. `cargo run --release --example kos_phases`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::kos::{CHUNK, KAPPA, KosReceiver, KosSender};
use quorate_engine::ot::{Delta, SecretBlocks};
use quorate_engine::{Block, Seed};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let session = SessionId::random().unwrap();
    let delta = Delta::random().unwrap();
    let pairs: Vec<[Seed; 2]> = (0..KAPPA)
        .map(|_| [Seed::from_entropy().unwrap(), Seed::from_entropy().unwrap()])
        .collect();
    let chosen: Vec<Seed> = (0..KAPPA)
        .map(|i| pairs[i][usize::from(delta.expose().bit(i))].clone())
        .collect();
    let mut s = KosSender::new(delta, &chosen, &session, "r");
    let mut r = KosReceiver::new(&pairs, &session, "s");
    let choices = vec![false; n];
    let (mut qo, mut to) = (SecretBlocks::default(), SecretBlocks::default());
    for round in 0..3 {
        let mut u = Vec::with_capacity(16 * CHUNK);
        let (mut recv_ns, mut send_ns) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let t0 = Instant::now();
        let mut rb = r.start_into(&choices, std::mem::take(&mut to)).unwrap();
        let mut sb = s.start_into(n, std::mem::take(&mut qo)).unwrap();
        recv_ns += t0.elapsed();
        loop {
            u.clear();
            let a = Instant::now();
            let more = rb.next_chunk_into(&mut u);
            let b = Instant::now();
            recv_ns += b - a;
            if !more {
                break;
            }
            sb.absorb(&u).unwrap();
            send_ns += b.elapsed();
        }
        let t1 = t0 + recv_ns;
        let t2 = Instant::now();
        let t1b = t2 - send_ns;
        let (check, t) = rb.respond(sb.challenge());
        let t3 = Instant::now();
        let q = sb.verify(check).unwrap();
        let t4 = Instant::now();
        let ns = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e9 / n as f64;
        println!(
            "round {round}: receiver extend {:.2} ns/OT, sender absorb {:.2}, receiver respond {:.2}, verify {:.2}",
            ns(t0, t1),
            ns(t1b, t2),
            ns(t2, t3),
            ns(t3, t4)
        );
        assert_eq!(q.expose()[7] ^ Block::ZERO, t.expose()[7]);
        qo = q;
        to = t;
    }
}
