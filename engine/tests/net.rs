//! The transport under bad conditions: an unpinned certificate, a peer that
//! vanishes or goes silent, an oversized frame, random bytes where frames
//! should be.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::{Duration, Instant};

use proptest::prelude::*;
use quorate_circuits::PartyId;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::tls::{
    Identity, Parties, PartyInfo, connect_mesh, free_port, loopback_pair,
};
use quorate_engine::net::{NetError, memory};

fn party(name: &str, address: String, id: &Identity) -> PartyInfo {
    PartyInfo {
        name: name.into(),
        address,
        cert: id.certificate().clone(),
    }
}

#[test]
fn a_peer_with_an_unpinned_certificate_cannot_connect() {
    let session = SessionId::random().unwrap();
    let program = program_hash(b"net test");
    let port = free_port().unwrap();
    let (alice, _) = Identity::generate("alice").unwrap();
    let (bob, _) = Identity::generate("bob").unwrap();
    let (mallory, _) = Identity::generate("mallory").unwrap();
    let addr = format!("127.0.0.1:{port}");
    // Alice pins Bob's certificate.
    let real = Parties::new(vec![
        party("alice", addr.clone(), &alice),
        party("bob", "127.0.0.1:0".into(), &bob),
    ])
    .unwrap();
    // Mallory claims to be Bob with her own certificate.
    let forged = Parties::new(vec![
        party("alice", addr.clone(), &alice),
        party("bob", "127.0.0.1:0".into(), &mallory),
    ])
    .unwrap();
    let t = std::thread::spawn(move || {
        connect_mesh(
            "bob",
            &forged,
            &mallory,
            &session,
            &program,
            Duration::from_secs(3),
        )
    });
    let start = Instant::now();
    let alice_side = connect_mesh(
        "alice",
        &real,
        &alice,
        &session,
        &program,
        Duration::from_secs(2),
    );
    let mallory_side = t.join().unwrap();
    assert!(mallory_side.is_err(), "mallory connected");
    match alice_side {
        Err(NetError::Timeout { peer, .. }) => assert_eq!(peer, "bob"),
        other => panic!("alice should time out waiting for the real bob, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(6));
}

#[test]
fn a_silent_client_does_not_hold_up_the_mesh() {
    let session = SessionId::random().unwrap();
    let program = program_hash(b"net test");
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let (alice, _) = Identity::generate("alice").unwrap();
    let (bob, _) = Identity::generate("bob").unwrap();
    let parties = Parties::new(vec![
        party("alice", addr.clone(), &alice),
        party("bob", "127.0.0.1:0".into(), &bob),
    ])
    .unwrap();
    let p2 = parties.clone();
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        connect_mesh(
            "alice",
            &p2,
            &alice,
            &session,
            &program,
            Duration::from_secs(8),
        )
    });
    // Someone connects first and never says a word.
    let _silent = loop {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(_) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("alice never listened: {e}"),
        }
    };
    let bob_side = connect_mesh(
        "bob",
        &parties,
        &bob,
        &session,
        &program,
        Duration::from_secs(8),
    );
    let alice_side = t.join().unwrap();
    assert!(bob_side.is_ok(), "{:?}", bob_side.err());
    assert!(alice_side.is_ok(), "{:?}", alice_side.err());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_server_with_the_wrong_certificate_is_refused() {
    let session = SessionId::random().unwrap();
    let program = program_hash(b"net test");
    let port = free_port().unwrap();
    let (alice, _) = Identity::generate("alice").unwrap();
    let (bob, _) = Identity::generate("bob").unwrap();
    let (impostor, _) = Identity::generate("impostor").unwrap();
    let addr = format!("127.0.0.1:{port}");
    let bobs_view = Parties::new(vec![
        party("alice", addr.clone(), &alice),
        party("bob", "127.0.0.1:0".into(), &bob),
    ])
    .unwrap();
    // The impostor listens at Alice's address with its own certificate and
    // pins Bob's, so the only thing wrong is its own certificate.
    let impostors_view = Parties::new(vec![
        party("alice", addr.clone(), &impostor),
        party("bob", "127.0.0.1:0".into(), &bob),
    ])
    .unwrap();
    let t = std::thread::spawn(move || {
        connect_mesh(
            "alice",
            &impostors_view,
            &impostor,
            &session,
            &program,
            Duration::from_secs(2),
        )
    });
    let bob_side = connect_mesh(
        "bob",
        &bobs_view,
        &bob,
        &session,
        &program,
        Duration::from_secs(2),
    );
    let e = bob_side.unwrap_err();
    assert!(e.to_string().contains("alice"), "{e}");
    let _ = t.join().unwrap();
}

#[test]
fn mismatched_programs_fail_the_handshake_over_tls() {
    let session = SessionId::random().unwrap();
    let port = free_port().unwrap();
    let (alice, _) = Identity::generate("alice").unwrap();
    let (bob, _) = Identity::generate("bob").unwrap();
    let parties = Parties::new(vec![
        party("alice", format!("127.0.0.1:{port}"), &alice),
        party("bob", "127.0.0.1:0".into(), &bob),
    ])
    .unwrap();
    let p2 = parties.clone();
    let t = std::thread::spawn(move || {
        connect_mesh(
            "bob",
            &p2,
            &bob,
            &session,
            &program_hash(b"other"),
            Duration::from_secs(5),
        )
    });
    let e = connect_mesh(
        "alice",
        &parties,
        &alice,
        &session,
        &program_hash(b"mine"),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("bob runs a different program"),
        "{e}"
    );
    assert!(t.join().unwrap().is_err());
}

#[test]
fn a_vanished_peer_is_an_error_within_the_deadline() {
    // In memory.
    let (mut a, b) = memory::pair((PartyId(0), "a"), (PartyId(1), "b"));
    a.set_timeout(Duration::from_millis(300));
    let t = std::thread::spawn(move || drop(b));
    t.join().unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 8];
    assert!(matches!(a.recv(&mut buf), Err(NetError::Closed { .. })));
    assert!(start.elapsed() < Duration::from_secs(1));
    // Over TLS: one side drops its channel; the other learns within its deadline.
    let s = SessionId::random().unwrap();
    let p = program_hash(b"x");
    let (mut a, b) = loopback_pair(&s, &p).unwrap();
    a.set_timeout(Duration::from_secs(2));
    drop(b);
    let start = Instant::now();
    let e = a.recv(&mut buf).unwrap_err();
    assert!(
        matches!(e, NetError::Closed { .. } | NetError::Timeout { .. }),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
    // A silent peer: a timeout, on time.
    let (mut a, _b) = loopback_pair(&s, &p).unwrap();
    a.set_timeout(Duration::from_millis(200));
    let start = Instant::now();
    assert!(matches!(a.recv(&mut buf), Err(NetError::Timeout { .. })));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_oversized_frame_is_refused_over_tls() {
    let s = SessionId::random().unwrap();
    let (mut a, mut b) = loopback_pair(&s, &program_hash(b"x")).unwrap();
    a.send(&u32::MAX.to_le_bytes()).unwrap();
    a.flush().unwrap();
    b.set_max_frame(1 << 20);
    let e = b.recv_frame().unwrap_err();
    assert!(
        matches!(e, NetError::FrameTooLarge { len, .. } if len == u64::from(u32::MAX)),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever bytes arrive, the frame and message decoders return values
    /// or errors, never panic, and never allocate past the frame limit.
    #[test]
    fn the_frame_decoder_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (mut a, mut b) = memory::pair((PartyId(0), "a"), (PartyId(1), "b"));
        a.send(&bytes).unwrap();
        a.flush().unwrap();
        drop(a);
        b.set_max_frame(256);
        b.set_timeout(Duration::from_millis(50));
        for _ in 0..8 {
            match b.recv_msg::<(u64, Vec<u8>, String)>("fuzz message") {
                Ok(_) | Err(NetError::Malformed { .. }) => {}
                Err(NetError::Closed { .. } | NetError::FrameTooLarge { .. }) => break,
                Err(e) => prop_assert!(false, "unexpected error {}", e),
            }
        }
    }
}
