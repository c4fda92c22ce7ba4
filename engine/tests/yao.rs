//! Yao under MPC equals the plaintext evaluator: random circuits, every
//! gadget, AES-128 and SHA-256 known answers; garbage from the garbler gives
//! wrong outputs or clean errors, a forged output label is caught.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::time::Duration;

use proptest::prelude::*;
use quorate_circuits::bristol::{self, ReadOptions};
use quorate_circuits::{Bits, Circuit, CircuitBuilder, PartyId, Signedness, Word, evaluate};
use quorate_engine::Block;
use quorate_engine::gc::schedule::schedule_circuit;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::net::{Channel, memory};
use quorate_engine::prg::Prg;
use quorate_engine::yao::{Disclosure, Program, Reveal, YaoError, YaoEvaluator, YaoGarbler};

fn pair() -> (Channel, Channel) {
    memory::pair((PartyId(0), "garbler"), (PartyId(1), "evaluator"))
}

/// Runs the circuit under Yao (both learn the outputs); checks both agree.
fn mpc(circuit: &Circuit, inputs: &[Bits]) -> Vec<Bits> {
    let session = SessionId::random().unwrap();
    let sched = schedule_circuit(circuit);
    let iface = circuit.interface();
    let (g_in, e_in): (Vec<_>, Vec<_>) = iface
        .inputs
        .iter()
        .zip(inputs)
        .partition(|(i, _)| i.party == PartyId(0));
    let g_in: Vec<Bits> = g_in.into_iter().map(|(_, v)| v.clone()).collect();
    let e_in: Vec<Bits> = e_in.into_iter().map(|(_, v)| v.clone()).collect();
    let (mut a, mut b) = pair();
    let sched2 = sched.clone();
    let t = std::thread::spawn(move || {
        let mut ev = YaoEvaluator::setup(&mut b, &session).unwrap();
        ev.run(&mut b, Program::Scheduled(&sched2), &e_in, Reveal::Both)
            .unwrap()
    });
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    let g_out = gb
        .run(&mut a, Program::Scheduled(&sched), &g_in, Reveal::Both)
        .unwrap();
    let e_out = t.join().unwrap();
    assert_eq!(g_out.outputs, e_out.outputs);
    assert_eq!(g_out.ands, circuit.stats().and);
    assert_eq!(e_out.ands, circuit.stats().and);
    e_out.all_outputs().unwrap()
}

fn random_inputs(circuit: &Circuit, prg: &mut Prg) -> Vec<Bits> {
    circuit
        .interface()
        .inputs
        .iter()
        .map(|i| Bits::from_bools(&prg.bits(i.width as usize)))
        .collect()
}

#[test]
fn every_gadget_under_mpc_matches_plaintext() {
    let mut prg = Prg::from_entropy().unwrap();
    for n in [1u32, 7, 32, 64] {
        let mut b = CircuitBuilder::new();
        let (p, q) = (b.party("g"), b.party("e"));
        let x = b.input(p, "x", n).unwrap();
        let y = b.input(q, "y", n).unwrap();
        let s = b.input(q, "s", 1).unwrap().bit(0);
        for sg in [Signedness::Unsigned, Signedness::Signed] {
            let outs = [
                b.add(&x, &y),
                b.sub(&x, &y),
                b.mul(&x, &y),
                b.mul_wide(&x, &y, sg),
                b.div(&x, &y, sg),
                b.rem(&x, &y, sg),
                b.min(&x, &y, sg),
                b.max(&x, &y, sg),
                Word::from_bits(vec![b.lt(&x, &y, sg), b.ge(&x, &y, sg), b.eq(&x, &y)]),
            ];
            for (k, o) in outs.iter().enumerate() {
                b.output(&format!("{sg:?}{k}"), o);
            }
        }
        let extra = [
            b.neg(&x),
            b.abs(&x),
            b.popcount(&y),
            b.mux(s, &x, &y),
            b.or(&x, &y),
            b.not(&x),
        ];
        for (k, o) in extra.iter().enumerate() {
            b.output(&format!("extra{k}"), o);
        }
        let c = b.finish().unwrap();
        for _ in 0..3 {
            let inputs = random_inputs(&c, &mut prg);
            assert_eq!(
                mpc(&c, &inputs),
                evaluate(&c, &inputs).unwrap(),
                "width {n}"
            );
        }
    }
}

#[test]
fn aes_and_sha256_known_answers_under_mpc() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("circuits/bristol");
    let aes = bristol::read_file(&dir.join("aes_128.txt"), &ReadOptions::default())
        .unwrap()
        .circuit;
    let out = mpc(
        &aes,
        &[
            Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).unwrap(),
            Bits::from_hex("00112233445566778899aabbccddeeff", 128).unwrap(),
        ],
    );
    assert_eq!(out[0].to_hex(), "69c4e0d86a7b0430d8cdb78070b4c55a");
    // SHA-256 of "abc": one padded block from the standard IV.
    let sha = bristol::read_file(&dir.join("sha256.txt"), &ReadOptions::default())
        .unwrap()
        .circuit;
    let block = format!("616263{}{:016x}", "80".to_owned() + &"00".repeat(52), 24u64);
    let iv = "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19";
    let out = mpc(
        &sha,
        &[
            Bits::from_hex(&block, 512).unwrap(),
            Bits::from_hex(iv, 256).unwrap(),
        ],
    );
    assert_eq!(
        out[0].to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// A random circuit over two 8-bit inputs: `gates` random gates, 16 outputs.
fn random_circuit(seed: Vec<u8>) -> Circuit {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("g"), b.party("e"));
    let mut pool: Vec<quorate_circuits::Bit> = b.input(p, "x", 8).unwrap().bits().to_vec();
    pool.extend_from_slice(&b.input(q, "y", 8).unwrap().bits());
    for chunk in seed.chunks(3) {
        let (k, i, j) = (
            chunk[0] % 4,
            chunk.get(1).copied().unwrap_or(0) as usize,
            chunk.get(2).copied().unwrap_or(0) as usize,
        );
        let (a, c) = (pool[i % pool.len()], pool[j % pool.len()]);
        let v = match k {
            0 => b.and_bit(a, c),
            1 => b.xor_bit(a, c),
            2 => b.not_bit(a),
            _ => b.or_bit(a, c),
        };
        pool.push(v);
    }
    let outs: Vec<_> = pool.iter().rev().take(16).copied().collect();
    b.output("out", &Word::from_bits(outs));
    b.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_circuits_under_mpc_match_plaintext(seed in prop::collection::vec(any::<u8>(), 3..600), x in any::<u8>(), y in any::<u8>()) {
        let c = random_circuit(seed);
        let inputs = [Bits::from_u64(u64::from(x), 8), Bits::from_u64(u64::from(y), 8)];
        prop_assert_eq!(mpc(&c, &inputs), evaluate(&c, &inputs).unwrap());
    }
}

#[test]
fn only_the_named_party_learns_the_outputs() {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("alice"), b.party("bob"));
    let x = b.input(p, "a", 64).unwrap();
    let y = b.input(q, "b", 64).unwrap();
    let gt = b.gt(&x, &y, Signedness::Unsigned);
    b.output("alice_richer", &Word::from_bits(vec![gt]));
    let sched = schedule_circuit(&b.finish().unwrap());
    for (reveal, g_learns, e_learns) in [
        (Reveal::Evaluator, false, true),
        (Reveal::Garbler, true, false),
    ] {
        let session = SessionId::random().unwrap();
        let (mut a, mut bch) = pair();
        let s2 = sched.clone();
        let t = std::thread::spawn(move || {
            let mut ev = YaoEvaluator::setup(&mut bch, &session).unwrap();
            ev.run(
                &mut bch,
                Program::Scheduled(&s2),
                &[Bits::from_u64(3, 64)],
                reveal,
            )
            .unwrap()
        });
        let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
        let g = gb
            .run(
                &mut a,
                Program::Scheduled(&sched),
                &[Bits::from_u64(5, 64)],
                reveal,
            )
            .unwrap();
        let e = t.join().unwrap();
        assert_eq!(g.all_outputs().is_some(), g_learns);
        assert_eq!(e.all_outputs().is_some(), e_learns);
        let out = g.all_outputs().or(e.all_outputs()).unwrap();
        assert_eq!(out[0].to_u64(), Some(1));
    }
}

#[test]
fn each_output_goes_to_the_parties_named() {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("alice"), b.party("bob"));
    let x = b.input(p, "a", 16).unwrap();
    let y = b.input(q, "b", 16).unwrap();
    let sum = b.add(&x, &y);
    let gt = b.gt(&x, &y, Signedness::Unsigned);
    let diff = b.sub(&x, &y);
    b.output("sum", &sum);
    b.output("gt", &Word::from_bits(vec![gt]));
    b.output("diff", &diff);
    let sched = schedule_circuit(&b.finish().unwrap());
    let plan = Disclosure::PerOutput(vec![Reveal::Garbler, Reveal::Evaluator, Reveal::Both]);
    let session = SessionId::random().unwrap();
    let (mut a, mut bch) = pair();
    let (s2, plan2) = (sched.clone(), plan.clone());
    let t = std::thread::spawn(move || {
        let mut ev = YaoEvaluator::setup(&mut bch, &session).unwrap();
        ev.run(
            &mut bch,
            Program::Scheduled(&s2),
            &[Bits::from_u64(7, 16)],
            plan2,
        )
        .unwrap()
    });
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    let g = gb
        .run(
            &mut a,
            Program::Scheduled(&sched),
            &[Bits::from_u64(9, 16)],
            plan,
        )
        .unwrap();
    let e = t.join().unwrap();
    let v = |o: &Option<Bits>| o.as_ref().map(|b| b.to_u64().unwrap());
    assert_eq!(
        g.outputs.iter().map(v).collect::<Vec<_>>(),
        [Some(16), None, Some(2)]
    );
    assert_eq!(
        e.outputs.iter().map(v).collect::<Vec<_>>(),
        [None, Some(1), Some(2)]
    );
    // A plan that does not match the outputs is refused before any message.
    let err = gb
        .run(
            &mut a,
            Program::Scheduled(&sched),
            &[Bits::from_u64(9, 16)],
            Disclosure::PerOutput(vec![Reveal::Both]),
        )
        .unwrap_err();
    assert!(
        matches!(err, YaoError::Inputs(ref m) if m.contains("1 output choices")),
        "{err}"
    );
}

#[test]
fn repeated_runs_reuse_the_setup() {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("alice"), b.party("bob"));
    let x = b.input(p, "a", 32).unwrap();
    let y = b.input(q, "b", 32).unwrap();
    let s = b.add(&x, &y);
    b.output("sum", &s);
    let sched = schedule_circuit(&b.finish().unwrap());
    let session = SessionId::random().unwrap();
    let (mut a, mut bch) = pair();
    let s2 = sched.clone();
    let t = std::thread::spawn(move || {
        let mut ev = YaoEvaluator::setup(&mut bch, &session).unwrap();
        (0..200u64)
            .map(|i| {
                ev.run(
                    &mut bch,
                    Program::Scheduled(&s2),
                    &[Bits::from_u64(i, 32)],
                    Reveal::Evaluator,
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
    });
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    for i in 0..200u64 {
        gb.run(
            &mut a,
            Program::Scheduled(&sched),
            &[Bits::from_u64(1000 * i, 32)],
            Reveal::Evaluator,
        )
        .unwrap();
    }
    for (i, o) in t.join().unwrap().iter().enumerate() {
        assert_eq!(o.all_outputs().unwrap()[0].to_u64(), Some(1001 * i as u64));
    }
}

#[test]
fn garbage_from_the_garbler_gives_wrong_outputs_or_errors_never_a_panic() {
    let aes = quorate_circuits::library::builtin("aes128")
        .unwrap()
        .build()
        .unwrap();
    let sched = schedule_circuit(&aes);
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = pair();
    b.set_timeout(Duration::from_secs(2));
    let s2 = sched.clone();
    let t = std::thread::spawn(move || {
        let mut ev = YaoEvaluator::setup(&mut b, &session).unwrap();
        let first = ev.run(
            &mut b,
            Program::Scheduled(&s2),
            &[Bits::zeros(128)],
            Reveal::Evaluator,
        );
        let second = ev.run(
            &mut b,
            Program::Scheduled(&s2),
            &[Bits::zeros(128)],
            Reveal::Evaluator,
        );
        (first, second)
    });
    // A fake garbler: real setup, then random bytes of the right sizes, then
    // a truncated run and a hang-up.
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    gb.precompute(&mut a, 4096).unwrap();
    let mut prg = Prg::from_entropy().unwrap();
    let mut d = [0u8; 16];
    a.recv(&mut d).unwrap();
    let mut junk = vec![Block::ZERO; 128 + 2 * aes.stats().and as usize];
    prg.fill_blocks(&mut junk);
    a.send_blocks(&junk).unwrap();
    a.send(&[0u8; 16]).unwrap();
    a.flush().unwrap();
    a.recv(&mut d).unwrap();
    a.send_blocks(&junk[..100]).unwrap();
    a.flush().unwrap();
    drop(a);
    let (first, second) = t.join().unwrap();
    let out = first.unwrap().all_outputs().unwrap();
    let want = evaluate(&aes, &[Bits::zeros(128), Bits::zeros(128)]).unwrap();
    assert_ne!(out, want, "garbage tables gave the right answer");
    assert!(matches!(second, Err(YaoError::Net(_))), "{second:?}");
}

#[test]
fn a_forged_output_label_is_caught() {
    let mut b = CircuitBuilder::new();
    let (p, q) = (b.party("alice"), b.party("bob"));
    let x = b.input(p, "a", 8).unwrap();
    let y = b.input(q, "b", 8).unwrap();
    let s = b.add(&x, &y);
    b.output("sum", &s);
    let sched = schedule_circuit(&b.finish().unwrap());
    let session = SessionId::random().unwrap();
    let (mut a, mut bch) = pair();
    let t = std::thread::spawn(move || {
        // A fake evaluator: derandomization bits, swallow everything, send random labels.
        let mut ev = YaoEvaluator::setup(&mut bch, &session).unwrap();
        ev.precompute(&mut bch, 4096).unwrap();
        let d = [0u8; 1];
        bch.send(&d).unwrap();
        bch.flush().unwrap();
        let mut sink = vec![Block::ZERO; 8];
        bch.recv_blocks(&mut sink).unwrap();
        let mut tables = vec![Block::ZERO; 2 * 7];
        bch.recv_blocks(&mut tables).unwrap();
        let mut forged = vec![Block::ZERO; 8];
        Prg::from_entropy().unwrap().fill_blocks(&mut forged);
        bch.send_blocks(&forged).unwrap();
        bch.flush().unwrap();
        bch
    });
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    gb.precompute(&mut a, 4096).unwrap();
    let r = gb.run(
        &mut a,
        Program::Scheduled(&sched),
        &[Bits::from_u64(1, 8)],
        Reveal::Garbler,
    );
    assert!(
        matches!(&r, Err(YaoError::ForgedOutput { peer, .. }) if peer == "evaluator"),
        "{r:?}"
    );
    drop(t.join());
}

#[test]
fn a_streamed_circuit_under_mpc_matches_the_streaming_evaluator() {
    use quorate_circuits::{GateSink, StreamEvaluator};
    use quorate_engine::gc::GateSource;
    use quorate_engine::gc::stream::WideStream;
    let (ands, ring) = (300_000u64, 1u32 << 14);
    let x = Bits::from_u64(0x0123_4567_89ab_cdef, 64);
    let y = Bits::from_u64(0x0f1e_2d3c_4b5a_6978, 64);
    // Plaintext, streamed.
    let mut plain = WideStream::new(ands, ring);
    let flat: Vec<bool> = x.iter().chain(y.iter()).collect();
    let mut ev = StreamEvaluator::new(&flat);
    let mut buf = Vec::new();
    while plain.fill(&mut buf, 8192) > 0 {
        for &g in &buf {
            ev.push(g);
        }
        buf.clear();
    }
    let want = Bits::from_bools(&ev.outputs(plain.interface())[0]);
    // Under MPC, each side generating the same stream.
    let session = SessionId::random().unwrap();
    let (mut a, mut b) = pair();
    let y2 = y.clone();
    let t = std::thread::spawn(move || {
        let mut ev = YaoEvaluator::setup(&mut b, &session).unwrap();
        let mut s = WideStream::new(ands, ring);
        ev.run(&mut b, Program::Stream(&mut s), &[y2], Reveal::Evaluator)
            .unwrap()
    });
    let mut gb = YaoGarbler::setup(&mut a, &session).unwrap();
    let mut s = WideStream::new(ands, ring);
    let g = gb
        .run(&mut a, Program::Stream(&mut s), &[x], Reveal::Evaluator)
        .unwrap();
    let e = t.join().unwrap();
    assert_eq!(g.ands, ands);
    assert_eq!(e.all_outputs().unwrap()[0], want);
}
