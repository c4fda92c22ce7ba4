//! Times the two parts of a threshold ECDSA key generation in one process:
//! the DKG and the pairwise OT setup (`cargo run --release -p
//! quorate-engine --example keygen_phases [T N]`).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use quorate_engine::sign::{dkg, dkls};

fn main() {
    let args: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (t, n) = match args[..] {
        [t, n] => (t, n),
        _ => (2, 3),
    };
    for _ in 0..20 {
        let start = Instant::now();
        let shares = dkg::run_local(t, n, 0).unwrap();
        let dkg_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let keys = dkls::pairs_local(shares).unwrap();
        let ot_ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "{t}-of-{n}: dkg {dkg_ms:.1} ms, OT setup {ot_ms:.1} ms ({} keys)",
            keys.len()
        );
    }
}
