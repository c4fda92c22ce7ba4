//! Times the steps of FROST and key generation in one thread:
//! `cargo run --release -p quorate-engine --example sign_phases`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use k256::{ProjectivePoint, Scalar};
use quorate_engine::sign::frost::{self, CommitmentList, KeyAdjust, Suite};
use quorate_engine::sign::{SecretScalar, dkg, dkls};

fn time<T>(label: &str, reps: u32, mut f: impl FnMut() -> T) -> T {
    let start = Instant::now();
    let mut out = None;
    for _ in 0..reps {
        out = Some(f());
    }
    println!(
        "{label:40} {:9.1} us",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(reps)
    );
    out.unwrap()
}

fn main() {
    let s = Scalar::from(12345u64);
    time("G * s", 200, || ProjectivePoint::GENERATOR * s);
    time("mul_by_generator(s)", 200, || {
        ProjectivePoint::mul_by_generator(&s)
    });
    let p = ProjectivePoint::GENERATOR * s;
    time("P * s", 200, || p * s);
    let shares = dkg::run_local(2, 3, 0).unwrap();
    let refs: Vec<&dkg::KeyShare> = shares.iter().take(2).collect();
    time("frost::sign_local 2-of-3 (both signers)", 50, || {
        frost::sign_local(Suite::Rfc9591, &refs, &KeyAdjust::IDENTITY, b"m").unwrap()
    });
    let sec = SecretScalar::new(s);
    let id = shares[0].identifier;
    time("frost::commit", 200, || {
        frost::commit(Suite::Rfc9591, id, &sec).unwrap()
    });
    let c1 = frost::commit(Suite::Rfc9591, shares[0].identifier, &shares[0].secret).unwrap();
    let c2 = frost::commit(Suite::Rfc9591, shares[1].identifier, &shares[1].secret).unwrap();
    let list = CommitmentList::new(vec![c1.commitments(), c2.commitments()]).unwrap();
    let pk = shares[0].group_key;
    time("binding_factors", 200, || {
        frost::binding_factors(Suite::Rfc9591, &pk, &list, b"m")
    });
    let bytes = c1.commitments().to_bytes();
    time("SigningCommitments::from_bytes", 200, || {
        frost::SigningCommitments::from_bytes(&bytes).unwrap()
    });
    time("dkg::run_local 2-of-3", 5, || {
        dkg::run_local(2, 3, 0).unwrap()
    });
    time("dkls::keygen_local 2-of-3", 5, || {
        dkls::keygen_local(2, 3, 0).unwrap()
    });
}
