//! Times the key-value store of the private join on its own: encoding
//! `--keys` keys (default 3M, a million-row sender's three placements)
//! with three values each, and decoding a million.
//!
//! `cargo run --release -p quorate-engine --example okvs_encode [KEYS]`
#![allow(clippy::print_stdout)]

use std::time::Instant;

use quorate_engine::block::Block;
use quorate_engine::prg::Prg;
use quorate_engine::psi::okvs::Okvs;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3_000_000);
    let fields = 3;
    let mut prg = Prg::from_entropy()?;
    let keys: Vec<Block> = (0..n).map(|_| prg.block()).collect();
    let values: Vec<u64> = (0..n * fields).map(|i| i as u64).collect();
    for _ in 0..3 {
        let t = Instant::now();
        let o = Okvs::encode(&keys, &values, fields, &mut prg)?;
        let enc = t.elapsed();
        let t = Instant::now();
        let got = o.decode_many(&keys[..n.min(1_000_000)]);
        let acc = got
            .iter()
            .step_by(fields)
            .fold(0u64, |a, v| a.wrapping_add(*v));
        println!(
            "encode {n} keys: {:.3} s; decode 1M: {:.3} s ({acc})",
            enc.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
