//! Times the phases of 128 base OTs (ten times: the first runs warm up).
//! `cargo run --release --example base_ot_phases`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::net::handshake::SessionId;
use quorate_engine::ot::base::{BaseReceiver, BaseSender};

fn main() {
    let session = SessionId::random().unwrap();
    let choices: Vec<bool> = (0..128).map(|i| i % 2 == 0).collect();
    for _ in 0..10 {
        let t0 = Instant::now();
        let (s, smsg) = BaseSender::new().unwrap();
        let t1 = Instant::now();
        let (r, rmsg) = BaseReceiver::new(&choices, &session).unwrap();
        let t2 = Instant::now();
        let keys = s.finish(&session, &rmsg, "r").unwrap();
        let t3 = Instant::now();
        let got = r.finish(&session, &smsg, "s").unwrap();
        let t4 = Instant::now();
        assert_eq!(keys[0][1].expose(), got[0].expose());
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        println!(
            "sender new {:.2} ms, receiver new {:.2} ms, sender finish {:.2} ms, receiver finish {:.2} ms",
            ms(t0, t1),
            ms(t1, t2),
            ms(t2, t3),
            ms(t3, t4)
        );
    }
}
