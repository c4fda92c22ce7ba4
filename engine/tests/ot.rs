//! OT over real channels: correct outputs for many sizes (random, correlated,
//! chosen), in memory and over loopback TLS; a receiver that cheats is caught
//! and named; a vanished peer is an error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::Duration;

use quorate_circuits::PartyId;
use quorate_engine::Block;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::{Channel, memory, tls};
use quorate_engine::ot::OtError;
use quorate_engine::ot::kos::{KosReceiver, KosSender};
use quorate_engine::prg::Prg;

fn check_all(pair: (Channel, Channel), sizes: &[usize]) {
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = pair;
    let sizes2 = sizes.to_vec();
    let receiver = std::thread::spawn(move || {
        let mut r = KosReceiver::setup(&mut b, &session).unwrap();
        let mut prg = Prg::from_entropy().unwrap();
        let mut results = Vec::new();
        for &n in &sizes2 {
            let choices = prg.bits(n);
            let t = r.cot(&mut b, &choices).unwrap();
            let (rc, rk) = r.rot(&mut b, n).unwrap();
            let chosen = r.receive_chosen(&mut b, &choices).unwrap();
            results.push((choices, t, rc, rk, chosen));
        }
        results
    });
    let mut s = KosSender::setup(&mut a, &session).unwrap();
    let delta = s.delta().expose();
    assert!(delta.lsb());
    let mut sent = Vec::new();
    for &n in sizes {
        let q = s.cot(&mut a, n).unwrap();
        let keys = s.rot(&mut a, n).unwrap();
        let msgs: Vec<[Block; 2]> = (0..n as u128)
            .map(|i| [Block(i * 3 + 1), Block(i * 5 + 2)])
            .collect();
        s.send_chosen(&mut a, &msgs).unwrap();
        sent.push((q, keys, msgs));
    }
    let got = receiver.join().unwrap();
    for ((n, (q, keys, msgs)), (choices, t, rc, rk, chosen)) in sizes.iter().zip(sent).zip(got) {
        assert_eq!(
            (q.len(), t.len(), keys.len(), rk.len(), chosen.len()),
            (*n, *n, *n, *n, *n)
        );
        for j in 0..*n {
            assert_eq!(
                t.expose()[j],
                q.expose()[j] ^ delta.and_bit(choices[j]),
                "COT n={n} j={j}"
            );
            assert_eq!(
                rk.expose()[j],
                keys[j][usize::from(rc[j])],
                "ROT n={n} j={j}"
            );
            assert_ne!(
                rk.expose()[j],
                keys[j][usize::from(!rc[j])],
                "ROT n={n} j={j}"
            );
            assert_eq!(
                chosen.expose()[j],
                msgs[j][usize::from(choices[j])],
                "chosen n={n} j={j}"
            );
        }
    }
}

#[test]
fn outputs_are_correct_for_many_sizes_in_memory() {
    let pair = memory::pair((PartyId(0), "sender"), (PartyId(1), "receiver"));
    check_all(
        pair,
        &[
            0, 1, 3, 127, 128, 129, 1001, 8191, 8192, 8193, 65_537, 1_000_001,
        ],
    );
}

#[test]
fn outputs_are_correct_over_loopback_tls() {
    let s = SessionId::random().unwrap();
    let pair = tls::loopback_pair(&s, &program_hash(b"ot test")).unwrap();
    check_all(pair, &[1, 129, 100_003]);
}

#[test]
fn a_cheating_receiver_is_caught_and_named() {
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = memory::pair((PartyId(0), "sender"), (PartyId(1), "mallory"));
    let t = std::thread::spawn(move || {
        let mut r = KosReceiver::setup(&mut b, &session).unwrap();
        // Run the protocol by hand and flip one bit of column 0 (where Δ has
        // its lsb, always 1) in the extension message.
        let choices = vec![true; 5000];
        let mut batch = r.start(&choices).unwrap();
        let mut first = true;
        let mut u = Vec::new();
        while batch.next_chunk_into(&mut u) {
            if first {
                u[3] ^= 0x10;
                first = false;
            }
            b.send(&u).unwrap();
            u.clear();
        }
        b.flush().unwrap();
        let mut seed = [Block::ZERO];
        b.recv_blocks(&mut seed).unwrap();
        let (check, _) = batch.respond(seed[0]);
        b.send_blocks(&[check.x, check.t]).unwrap();
        b.flush().unwrap();
        b
    });
    let mut s = KosSender::setup(&mut a, &session).unwrap();
    let e = s.cot(&mut a, 5000).unwrap_err();
    assert!(
        matches!(&e, OtError::ConsistencyCheck { peer, .. } if peer == "mallory"),
        "{e}"
    );
    assert_eq!(e.culprit(), Some("mallory"));
    assert!(s.is_tainted());
    // The tainted sender refuses to run again.
    assert!(matches!(s.cot(&mut a, 10), Err(OtError::Tainted { .. })));
    let _ = t.join().unwrap();
}

#[test]
fn a_receiver_that_vanishes_mid_extension_is_an_error() {
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = memory::pair((PartyId(0), "sender"), (PartyId(1), "receiver"));
    a.set_timeout(Duration::from_secs(2));
    let t = std::thread::spawn(move || {
        let _r = KosReceiver::setup(&mut b, &session).unwrap();
        // ... and goes away without extending.
    });
    let mut s = KosSender::setup(&mut a, &session).unwrap();
    t.join().unwrap();
    let e = s.cot(&mut a, 1000).unwrap_err();
    assert!(matches!(e, OtError::Net(_)), "{e}");
    assert_eq!(e.culprit(), Some("receiver"));
}
