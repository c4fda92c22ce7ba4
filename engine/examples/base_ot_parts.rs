//! Times the three steps of one batch of 128 base OTs (the number a KOS
//! extension needs), medians of 30 runs: `cargo run --release -p
//! quorate-engine --example base_ot_parts`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::base::{BaseReceiver, BaseSender};
use std::time::Instant;
fn main() {
    let sid = SessionId([1u8; 32]);
    let choices: Vec<bool> = (0..128).map(|i| i % 3 == 0).collect();
    let (mut rn, mut sf, mut rf) = (vec![], vec![], vec![]);
    for _ in 0..30 {
        let t = Instant::now();
        let (s, smsg) = BaseSender::new().unwrap();
        let (r, rmsg) = BaseReceiver::new(&choices, &sid).unwrap();
        rn.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        s.finish(&sid, &rmsg, "r").unwrap();
        sf.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        r.finish(&sid, &smsg, "s").unwrap();
        rf.push(t.elapsed().as_secs_f64() * 1e3);
    }
    for (n, v) in [
        ("receiver new", &mut rn),
        ("sender finish", &mut sf),
        ("receiver finish", &mut rf),
    ] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{n}: median {:.2} ms min {:.2}", v[v.len() / 2], v[0]);
    }
}
