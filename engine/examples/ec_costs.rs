//! Single-thread costs of the curve operations base OT is made of, medians
//! of 15 runs of 128: `cargo run --release -p quorate-engine --example
//! ec_costs`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use k256::elliptic_curve::Field;
use k256::{ProjectivePoint, Scalar};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time(name: &str, mut f: impl FnMut()) {
    let runs: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6 / 128.0
        })
        .collect();
    println!("{name}: {:.1} us each", median(runs));
}

fn main() {
    let mut rng = rand::rng();
    let ks: Vec<Scalar> = (0..128).map(|_| Scalar::random(&mut rng)).collect();
    let ps: Vec<ProjectivePoint> = ks.iter().map(ProjectivePoint::mul_by_generator).collect();
    let a = Scalar::random(&mut rng);
    time("k*G (mul_by_generator)", || {
        for k in &ks {
            std::hint::black_box(ProjectivePoint::mul_by_generator(k));
        }
    });
    time("a*P (variable base)", || {
        for p in &ps {
            std::hint::black_box(*p * a);
        }
    });
    let msgs: Vec<Vec<u8>> = (0..128u32).map(|i| i.to_le_bytes().repeat(20)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    time("hash to curve (batch of 128)", || {
        std::hint::black_box(quorate_engine::ot::h2c::hash_to_curve(&refs, b"dst").unwrap());
    });
    let p = ps[0];
    time("P + Q", || {
        let mut acc = p;
        for q in &ps {
            acc += q;
        }
        std::hint::black_box(acc);
    });
    time("2P", || {
        let mut acc = p;
        for _ in 0..128 {
            acc = acc.double();
        }
        std::hint::black_box(acc);
    });
}
