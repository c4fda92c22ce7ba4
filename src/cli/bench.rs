//! `quorate bench`: quick measurements of the engine on this machine.

use std::io::Write;
use std::time::Instant;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Subcommand};
use quorate_circuits::PartyId;
use quorate_engine::Prg;
use quorate_engine::arith;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::{Channel, memory, tls};
use quorate_engine::ot::kos::{self, KosReceiver, KosSender};
use quorate_engine::ot::{OtError, SecretBlocks, base};
use serde_json::json;

use super::{CliError, CliResult, Out, fail, two_parties};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Oblivious transfer: 128 base OTs, then correlated and random OT
    /// extension (actively secure, in batches of 2^20) in memory and over
    /// loopback TLS, one thread per party. Takes well under 20 s.
    #[command(
        after_help = "JSON keys: base_ot_ms, cot_per_s_memory, cot_per_s_tls, rot_per_s_memory, \
bytes_per_cot, ots, runs. Rates are medians over the runs."
    )]
    Ot(OtArgs),
    /// Garbled circuits: garbling and evaluation throughput (one thread, in
    /// memory) on a wide circuit of 2^20 AND gates and on AES-128; AES-128
    /// and 64-bit Millionaires two-party runs after setup, in memory and over
    /// loopback TLS; bytes per AND gate.
    #[command(
        after_help = "JSON keys: garble_and_per_s, eval_and_per_s (the slower of the wide and AES \
circuits), garble_and_per_s_wide, eval_and_per_s_wide, garble_and_per_s_aes, eval_and_per_s_aes, \
aes_2pc_us_memory, aes_2pc_us_tls, millionaires_us_memory, setup_ms, bytes_per_and. Times are medians."
    )]
    Gc(GcArgs),
    /// Arithmetic sharing: Beaver triples over Z_2^64 made from OT for 2 and
    /// 3 parties, bytes per triple, and a dot product of secret vectors
    /// among 3 parties (triples included), all parties in this process.
    #[command(
        after_help = "JSON keys: triples_per_s_2p, triples_per_s_3p, bytes_per_triple (all parties' \
traffic, 2 parties), bytes_per_triple_3p, dot_1m_3p_s (the whole dot product of --dot elements: \
triples, inputs, multiplication, opening), dot_1m_3p_online_s (after the triples), \
joint_risk_100k_s (examples/joint_risk.quo for --customers customers x 3 banks x 8 features, \
--backend arith, in memory, after setup), joint_risk_100k_s_tls (the same over loopback TLS), \
joint_risk_setup_ms, joint_risk_peak_rss_bytes (this process: all three parties), triples, dot, \
customers, runs. Rates and times are medians."
    )]
    Arith(ArithArgs),
    /// Threshold signing: key generation (DKG and the pairs' base OTs), and
    /// ECDSA (DKLs23) and FROST signing for 2-of-3 and 3-of-5, one thread
    /// per signer, in memory and over loopback TLS.
    #[command(
        after_help = "JSON keys: keygen_2of3_ms, keygen_3of5_ms (every party's work in one thread, \
in memory), keygen_2of3_ms_threads, keygen_3of5_ms_threads (one thread per party, in memory), \
keygen_2of3_ms_tls, keygen_3of5_ms_tls (the same over loopback TLS), ecdsa_2of3_ms, ecdsa_3of5_ms, frost_2of3_ms, frost_3of5_ms, taproot_2of3_ms (end to end, \
one thread per signer, in memory), the same with _tls (loopback TLS, after connecting), \
ecdsa_bytes_per_signer, frost_bytes_per_signer (bytes each signer sends per signature, 2-of-3), runs. \
Times are medians."
    )]
    Sign(SignArgs),
    /// Signer nodes under load: a group of node processes on loopback, a
    /// key made through the API, then signature requests with many in
    /// flight (throughput, p50/p99 latency, none lost).
    #[command(after_help = super::node::BENCH_HELP)]
    Signer(super::node::BenchSignerArgs),
    /// Private queries: PSI and a join-sum of two tables, in memory and
    /// over loopback TLS, bytes per row.
    #[command(after_help = super::query::BENCH_HELP)]
    Query(super::query::BenchQueryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 20, value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ArithArgs {
    /// Triples per measurement.
    #[arg(long, default_value_t = 1 << 18, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 26))]
    triples: usize,
    /// Elements of the 3-party dot product.
    #[arg(long, default_value_t = 1_000_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 26))]
    dot: usize,
    /// Customers of the joint risk run (0 skips it).
    #[arg(long, default_value_t = 100_000, value_parser = RangedU64ValueParser::<usize>::new().range(0..=10_000_000))]
    customers: usize,
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Two-party runs per latency measurement.
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    runs: usize,
    /// Instead, garble and evaluate one streamed circuit of N AND gates
    /// (generated as it goes, 2^16 wire slots) between two parties in this
    /// process, and report the time and the process's peak resident memory.
    /// 1000000000 takes about a minute.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(64..=1_000_000_000_000))]
    stream_ands: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OtArgs {
    /// OTs per extension run (each holds 16 bytes per party in memory).
    #[arg(long, default_value_t = 10_000_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    ots: usize,
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    runs: usize,
    /// SoftSpokenOT's k for the extension (1 is IKNP; the message is 16/k
    /// bytes per OT, the computation grows with 2^k/k). Default: 1 in
    /// memory, 2 over TLS.
    #[arg(long, value_parser = ["1", "2", "4", "8"])]
    k: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: BenchCommand) -> CliResult {
    match cmd {
        BenchCommand::Ot(args) => ot(&args),
        BenchCommand::Gc(args) => gc(&args),
        BenchCommand::Arith(args) => arith(&args),
        BenchCommand::Sign(args) => sign(&args),
        BenchCommand::Signer(args) => super::node::bench_signer(&args),
        BenchCommand::Query(args) => super::query::bench(&args),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn progress(json: bool, msg: &str) {
    if !json {
        let mut e = std::io::stderr();
        let _ = writeln!(e, "{msg}");
    }
}

/// OTs per extension batch: a streaming consumer's working size.
const BATCH: usize = 1 << 20;

/// `n` split into batches of at most [`BATCH`].
fn batches(n: usize) -> impl Iterator<Item = usize> {
    (0..n)
        .step_by(BATCH)
        .map(move |start| (n - start).min(BATCH))
}

fn mem_pair() -> (Channel, Channel) {
    memory::pair((PartyId(0), "sender"), (PartyId(1), "receiver"))
}

fn ot(args: &OtArgs) -> CliResult {
    let session = SessionId::random().map_err(fail)?;
    let program = program_hash(b"quorate bench ot");

    progress(
        args.json,
        "base OT: 128 Masny-Rindal OTs over secp256k1 ...",
    );
    let mut base_ms = Vec::new();
    // One run first, not counted: it pays one-time costs (k256's basepoint
    // table, the hash's constants, thread start-up) that a running party
    // pays once.
    for run in 0..=args.runs.max(5) {
        let start = Instant::now();
        two_parties(
            mem_pair(),
            ("receiver", |mut ch| {
                base::receive(&mut ch, &session, &[true; 128]).map(drop)
            }),
            ("sender", |mut ch| {
                base::send(&mut ch, &session, 128).map(drop)
            }),
        )?;
        if run > 0 {
            base_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let base_ot_ms = median(base_ms);

    let n = args.ots;
    let runs = args.runs;
    let k_arg: Option<usize> = args.k.as_deref().and_then(|k| k.parse().ok());
    let measure = |label: &str,
                   pair: &mut dyn FnMut() -> Result<(Channel, Channel), CliError>,
                   random: bool| {
        progress(args.json, &format!("{label}: {n} OTs x {runs} runs ..."));
        // Setup (base OTs) is not part of the rate; outputs are reused
        // across runs, as a streaming consumer would.
        let ((bytes, k), times) = two_parties(
            pair()?,
            ("receiver", |mut b| -> Result<(u64, usize), OtError> {
                let k = k_arg.unwrap_or_else(|| kos::default_k(&b));
                let mut r = KosReceiver::setup_with(&mut b, &session, k)?;
                let choices = Prg::from_entropy()
                    .map_err(OtError::Entropy)?
                    .bits(n.min(BATCH));
                let mut out = SecretBlocks::default();
                let before = b.traffic();
                for _ in 0..runs {
                    for len in batches(n) {
                        if random {
                            r.rot_into(&mut b, &choices[..len], &mut out)?;
                        } else {
                            r.cot_into(&mut b, &choices[..len], &mut out)?;
                        }
                    }
                }
                let after = b.traffic();
                Ok((
                    (after.sent - before.sent) + (after.received - before.received),
                    k,
                ))
            }),
            ("sender", |mut a| {
                let mut s = KosSender::setup(&mut a, &session)?;
                let mut out = SecretBlocks::default();
                let mut pairs = Vec::new();
                let mut times = Vec::new();
                for _ in 0..runs {
                    let start = Instant::now();
                    for len in batches(n) {
                        if random {
                            s.rot_into(&mut a, len, &mut out, &mut pairs)?;
                        } else {
                            s.cot_into(&mut a, len, &mut out)?;
                        }
                    }
                    times.push(start.elapsed().as_secs_f64());
                }
                Ok(times)
            }),
        )?;
        let rates = times.iter().map(|t| n as f64 / t).collect();
        Ok::<(f64, f64, usize), CliError>((median(rates), bytes as f64 / (n * runs) as f64, k))
    };
    let (cot_mem, bytes_per_cot, k_mem) = measure("COT in memory", &mut || Ok(mem_pair()), false)?;
    let (rot_mem, _, _) = measure("ROT in memory", &mut || Ok(mem_pair()), true)?;
    let (cot_tls, bytes_per_cot_tls, k_tls) = measure(
        "COT over loopback TLS",
        &mut || tls::loopback_pair(&session, &program).map_err(fail),
        false,
    )?;
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "base_ot_ms": base_ot_ms,
            "cot_per_s_memory": cot_mem,
            "cot_per_s_tls": cot_tls,
            "rot_per_s_memory": rot_mem,
            "bytes_per_cot": bytes_per_cot,
            "bytes_per_cot_tls": bytes_per_cot_tls,
            "softspoken_k_memory": k_mem,
            "softspoken_k_tls": k_tls,
            "ots": n,
            "runs": args.runs,
        }));
    }
    out.line(format!("base OT (128)          {base_ot_ms:.1} ms"))?;
    out.line(format!("COT, in memory         {:.1} M/s", cot_mem / 1e6))?;
    out.line(format!("ROT, in memory         {:.1} M/s", rot_mem / 1e6))?;
    out.line(format!("COT, loopback TLS      {:.1} M/s", cot_tls / 1e6))?;
    out.line(format!(
        "bytes per COT          {bytes_per_cot:.2} in memory, {bytes_per_cot_tls:.2} over TLS"
    ))?;
    out.line(format!(
        "SoftSpokenOT k         {} in memory, {} over TLS",
        k_mem, k_tls
    ))?;
    Ok(())
}

/// Garbling and evaluation rates of the engines, one thread, no channel:
/// (garble AND/s, evaluate AND/s).
fn engine_rates(circuit: &quorate_circuits::Circuit, reps: usize) -> Result<(f64, f64), CliError> {
    use quorate_engine::gc::schedule::schedule_circuit;
    use quorate_engine::gc::{Evaluator, EvaluatorLabel, Garbler, GarblerLabel};
    use quorate_engine::ot::Delta;
    let session = SessionId::random().map_err(fail)?;
    let sched = schedule_circuit(circuit);
    let mut garbles = Vec::new();
    let mut evals = Vec::new();
    let slots = sched.slots;
    let inputs = sched.circuit.stats().input_bits as usize;
    let mut tables = Vec::with_capacity(2 * sched.plan.ands);
    for _ in 0..5 {
        let mut g = Garbler::new(Delta::random().map_err(fail)?, slots, &session);
        let mut e = Evaluator::new(slots, &session);
        for w in 0..inputs {
            g.set_input(w, GarblerLabel::new(quorate_engine::Block(w as u128)));
            e.set_input(w, EvaluatorLabel::new(quorate_engine::Block(w as u128)));
        }
        let start = Instant::now();
        for _ in 0..reps {
            tables.clear();
            g.garble_plan(&sched.plan, &mut tables);
        }
        garbles.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..reps {
            // The tables of the last garbling stand in for each repetition's.
            let _ = e.evaluate_plan(&sched.plan, &tables);
        }
        evals.push(start.elapsed().as_secs_f64());
    }
    let ands = (circuit.stats().and * reps as u64) as f64;
    Ok((ands / median(garbles), ands / median(evals)))
}

/// Median microseconds of `runs` two-party runs of `circuit` after setup
/// (timed on the evaluator, from its first message to its outputs), the
/// setup time, and the garbler's bytes per AND gate.
fn two_party_runs(
    circuit: &quorate_circuits::Circuit,
    g_in: Vec<quorate_circuits::Bits>,
    e_in: Vec<quorate_circuits::Bits>,
    pair: (Channel, Channel),
    runs: usize,
) -> Result<(f64, f64, f64), CliError> {
    use quorate_engine::gc::schedule::schedule_circuit;
    use quorate_engine::yao::{Program, Reveal, YaoError, YaoEvaluator, YaoGarbler};
    let session = SessionId::random().map_err(fail)?;
    let sched = &schedule_circuit(circuit);
    let e_in = &e_in;
    let eval_bits: usize = e_in.iter().map(|b| b.width()).sum();
    let g_bits: usize = g_in.iter().map(|b| b.width()).sum();
    let out_bits = circuit.stats().output_bits as usize;
    let ots = eval_bits * (runs + 1);
    let ((setup_ms, bytes), times) = two_parties(
        pair,
        ("garbler", |mut a| -> Result<_, YaoError> {
            let setup_start = Instant::now();
            let mut gb = YaoGarbler::setup(&mut a, &session)?;
            gb.precompute(&mut a, ots)?;
            let setup_ms = setup_start.elapsed().as_secs_f64() * 1e3;
            let mut bytes = 0u64;
            for _ in 0..runs {
                let o = gb.run(&mut a, Program::Scheduled(sched), &g_in, Reveal::Evaluator)?;
                bytes = o.traffic.sent;
            }
            Ok((setup_ms, bytes))
        }),
        ("evaluator", |mut b| {
            let mut ev = YaoEvaluator::setup(&mut b, &session)?;
            ev.precompute(&mut b, ots)?;
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let start = Instant::now();
                ev.run(&mut b, Program::Scheduled(sched), e_in, Reveal::Evaluator)?;
                times.push(start.elapsed().as_secs_f64() * 1e6);
            }
            Ok(times)
        }),
    )?;
    let tables = bytes as f64 - 16.0 * g_bits as f64 - out_bits.div_ceil(8) as f64;
    Ok((
        median(times),
        setup_ms,
        tables / circuit.stats().and.max(1) as f64,
    ))
}

/// Peak resident memory of this process (VmHWM), in bytes, where known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn gc_stream(n: u64, json: bool) -> CliResult {
    use quorate_circuits::Bits;
    use quorate_engine::gc::stream::WideStream;
    use quorate_engine::yao::{Program, Reveal, YaoEvaluator, YaoGarbler};
    let ring = 1u32 << 16;
    progress(
        json,
        &format!("streaming {n} AND gates (and as many XOR) between two parties in memory ..."),
    );
    let session = SessionId::random().map_err(fail)?;
    let start = Instant::now();
    let (g, e) = two_parties(
        mem_pair(),
        ("garbler", |mut a| {
            let mut gb = YaoGarbler::setup(&mut a, &session)?;
            let mut s = WideStream::new(n, ring);
            gb.run(
                &mut a,
                Program::Stream(&mut s),
                &[Bits::from_u64(5, 64)],
                Reveal::Evaluator,
            )
        }),
        ("evaluator", |mut b| {
            let mut ev = YaoEvaluator::setup(&mut b, &session)?;
            let mut s = WideStream::new(n, ring);
            ev.run(
                &mut b,
                Program::Stream(&mut s),
                &[Bits::from_u64(7, 64)],
                Reveal::Evaluator,
            )
        }),
    )?;
    let secs = start.elapsed().as_secs_f64();
    let rss = peak_rss();
    let mut out = Out::new();
    if json {
        return out.json(&json!({
            "stream_and_gates": g.ands,
            "seconds": secs,
            "and_per_s": g.ands as f64 / secs,
            "peak_rss_bytes_both_parties": rss,
            "bytes_per_and": g.traffic.sent as f64 / g.ands as f64,
            "evaluator_ands": e.ands,
        }));
    }
    out.line(format!("AND gates          {}", g.ands))?;
    out.line(format!(
        "time               {secs:.1} s ({:.1} M AND/s end to end)",
        g.ands as f64 / secs / 1e6
    ))?;
    match rss {
        Some(r) => out.line(format!(
            "peak resident      {:.0} MiB for both parties together",
            r as f64 / (1 << 20) as f64
        ))?,
        None => out.line("peak resident      unknown on this system")?,
    }
    Ok(())
}

fn gc(args: &GcArgs) -> CliResult {
    use quorate_circuits::{Bits, CircuitBuilder, library};
    let json = args.json;
    if let Some(n) = args.stream_ands {
        return gc_stream(n, json);
    }
    let runs = args.runs.max(1);
    progress(
        json,
        "engines: a wide circuit of 2^20 AND gates, and AES-128 ...",
    );
    let wide = {
        let mut b = CircuitBuilder::new();
        let (p, q) = (b.party("g"), b.party("e"));
        let (x, y) = (
            b.input(p, "x", 1 << 20).map_err(fail)?,
            b.input(q, "y", 1 << 20).map_err(fail)?,
        );
        let z = b.and(&x, &y);
        b.output("z", &z);
        b.finish().map_err(fail)?
    };
    let aes = library::builtin("aes128")
        .ok_or_else(|| fail("no aes128"))?
        .build()
        .map_err(fail)?;
    let (gw, ew) = engine_rates(&wide, 3)?;
    let (ga, ea) = engine_rates(&aes, 300)?;
    let key = Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).map_err(fail)?;
    let block = Bits::from_hex("00112233445566778899aabbccddeeff", 128).map_err(fail)?;
    progress(
        json,
        &format!("AES-128 two-party runs in memory ({runs}) ..."),
    );
    let (aes_mem, setup_ms, bytes_per_and) = two_party_runs(
        &aes,
        vec![key.clone()],
        vec![block.clone()],
        mem_pair(),
        runs,
    )?;
    progress(
        json,
        &format!("AES-128 two-party runs over loopback TLS ({runs}) ..."),
    );
    let session = SessionId::random().map_err(fail)?;
    let pair = tls::loopback_pair(&session, &program_hash(b"quorate bench gc")).map_err(fail)?;
    let (aes_tls, _, _) = two_party_runs(&aes, vec![key], vec![block], pair, runs)?;
    progress(
        json,
        &format!(
            "Millionaires (64-bit) two-party runs in memory ({}) ...",
            5 * runs
        ),
    );
    let mill = library::builtin("millionaires")
        .ok_or_else(|| fail("no millionaires"))?
        .build()
        .map_err(fail)?;
    let (mill_mem, _, _) = two_party_runs(
        &mill,
        vec![Bits::from_u64(5, 64)],
        vec![Bits::from_u64(7, 64)],
        mem_pair(),
        5 * runs,
    )?;
    let mut out = Out::new();
    if json {
        return out.json(&json!({
            "garble_and_per_s": gw.min(ga),
            "eval_and_per_s": ew.min(ea),
            "garble_and_per_s_wide": gw,
            "eval_and_per_s_wide": ew,
            "garble_and_per_s_aes": ga,
            "eval_and_per_s_aes": ea,
            "aes_2pc_us_memory": aes_mem,
            "aes_2pc_us_tls": aes_tls,
            "millionaires_us_memory": mill_mem,
            "setup_ms": setup_ms,
            "bytes_per_and": bytes_per_and,
        }));
    }
    out.line(format!(
        "garble, wide (2^20 AND)     {:.1} M AND/s",
        gw / 1e6
    ))?;
    out.line(format!(
        "evaluate, wide              {:.1} M AND/s",
        ew / 1e6
    ))?;
    out.line(format!(
        "garble, AES-128             {:.1} M AND/s",
        ga / 1e6
    ))?;
    out.line(format!(
        "evaluate, AES-128           {:.1} M AND/s",
        ea / 1e6
    ))?;
    out.line(format!(
        "AES-128 2PC, in memory      {aes_mem:.0} us (after setup)"
    ))?;
    out.line(format!(
        "AES-128 2PC, loopback TLS   {aes_tls:.0} us (after setup)"
    ))?;
    out.line(format!(
        "Millionaires 64-bit, memory {mill_mem:.1} us (after setup)"
    ))?;
    out.line(format!("setup (base OT + OT pool)   {setup_ms:.1} ms"))?;
    out.line(format!("bytes per AND gate          {bytes_per_and:.2}"))?;
    Ok(())
}

/// Triples per second and bytes per triple (all parties' traffic) for
/// `parties` parties making `n` triples over `Z_2^64`.
fn triple_rate(parties: usize, n: usize) -> Result<(f64, f64), CliError> {
    let names = ["p0", "p1", "p2"];
    let out = arith::run_in_memory(&names[..parties], |mut p| {
        let before = p.traffic().0;
        let start = Instant::now();
        let t = p.triples::<u64>(n)?;
        let secs = start.elapsed().as_secs_f64();
        debug_assert_eq!(t.len(), n);
        Ok((secs, p.traffic().0 - before))
    })
    .map_err(fail)?;
    let secs = out.iter().map(|o| o.0).fold(0.0, f64::max);
    let bytes: u64 = out.iter().map(|o| o.1).sum();
    Ok((n as f64 / secs, bytes as f64 / n as f64))
}

fn arith(args: &ArithArgs) -> CliResult {
    let (n, runs) = (args.triples, args.runs);
    let mut rates = [Vec::new(), Vec::new()];
    let mut bytes = [0.0; 2];
    for (k, parties) in [2usize, 3].into_iter().enumerate() {
        progress(
            args.json,
            &format!("{parties} parties: {n} Z_2^64 triples x {runs} runs ..."),
        );
        for _ in 0..runs {
            let (rate, b) = triple_rate(parties, n)?;
            rates[k].push(rate);
            bytes[k] = b;
        }
    }
    let [r2, r3] = rates.map(median);
    let len = args.dot;
    progress(
        args.json,
        &format!("3 parties: dot product of {len} elements x {runs} runs ..."),
    );
    let (mut total, mut online) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        // Party 0 holds x, party 1 holds y; all learn x . y.
        let x: Vec<u64> = (0..len as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9))
            .collect();
        let y: Vec<u64> = (0..len as u64).map(|i| i ^ 0x5555).collect();
        let want = x
            .iter()
            .zip(&y)
            .fold(0u64, |a, (p, q)| a.wrapping_add(p.wrapping_mul(*q)));
        let (xr, yr) = (&x, &y);
        let out = arith::run_in_memory(&["p0", "p1", "p2"], |mut p| {
            let start = Instant::now();
            let mut t = p.triples::<u64>(len)?;
            let me = p.id();
            let online = Instant::now();
            let a = p.input(0, (me == 0).then_some(xr.as_slice()), len)?;
            let b = p.input(1, (me == 1).then_some(yr.as_slice()), len)?;
            let prod = p.mul(&a, &b, &mut t)?;
            let dot = arith::Shares::new(vec![prod.sum()]);
            let got = p.open(&dot)?[0];
            Ok((
                got,
                start.elapsed().as_secs_f64(),
                online.elapsed().as_secs_f64(),
            ))
        })
        .map_err(fail)?;
        if out.iter().any(|o| o.0 != want) {
            return Err(fail("the dot product came out wrong"));
        }
        total.push(out.iter().map(|o| o.1).fold(0.0, f64::max));
        online.push(out.iter().map(|o| o.2).fold(0.0, f64::max));
    }
    let (dot_s, dot_online_s) = (median(total), median(online));
    let (mut jr_mem, mut jr_tls, mut jr_setup) = (Vec::new(), Vec::new(), Vec::new());
    if args.customers > 0 {
        let prog = joint_risk_program(args.customers)?;
        for tcp in [false, true] {
            progress(
                args.json,
                &format!(
                    "3 banks: joint risk for {} customers{} x {runs} runs ...",
                    args.customers,
                    if tcp { " over loopback TLS" } else { "" }
                ),
            );
            for _ in 0..runs {
                let (secs, setup) = joint_risk_run(&prog, tcp)?;
                if tcp { &mut jr_tls } else { &mut jr_mem }.push(secs);
                jr_setup.push(setup);
            }
        }
    }
    let jr = (!jr_mem.is_empty()).then(|| (median(jr_mem), median(jr_tls), median(jr_setup)));
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "triples_per_s_2p": r2,
            "triples_per_s_3p": r3,
            "bytes_per_triple": bytes[0],
            "bytes_per_triple_3p": bytes[1],
            "dot_1m_3p_s": dot_s,
            "dot_1m_3p_online_s": dot_online_s,
            "joint_risk_100k_s": jr.map(|j| j.0),
            "joint_risk_100k_s_tls": jr.map(|j| j.1),
            "joint_risk_setup_ms": jr.map(|j| j.2 * 1e3),
            "joint_risk_peak_rss_bytes": peak_rss(),
            "customers": args.customers,
            "triples": n,
            "dot": len,
            "runs": runs,
        }));
    }
    out.line(format!("Z_2^64 triples, 2 parties   {:.0} k/s", r2 / 1e3))?;
    out.line(format!("Z_2^64 triples, 3 parties   {:.0} k/s", r3 / 1e3))?;
    out.line(format!(
        "bytes per triple            {:.0} (2 parties), {:.0} (3 parties)",
        bytes[0], bytes[1]
    ))?;
    out.line(format!(
        "dot product, {len} x 3 parties   {dot_s:.2} s ({dot_online_s:.3} s after the triples)"
    ))?;
    if let Some((m, t, setup)) = jr {
        out.line(format!(
            "joint risk, {} customers x 3 banks x 8 features   {m:.2} s in memory, {t:.2} s over \
             TLS (after a {:.0} ms setup); peak RSS {} MiB",
            args.customers,
            setup * 1e3,
            peak_rss().map_or("?".to_owned(), |b| (b >> 20).to_string())
        ))?;
    }
    Ok(())
}

/// The joint risk example compiled for `customers` customers, with
/// random standardised features for each bank.
struct JointRisk {
    program: quorate_dsl::Program,
    inputs: Vec<quorate_circuits::Bits>,
    want: Vec<quorate_circuits::Bits>,
}

fn joint_risk_program(customers: usize) -> Result<JointRisk, CliError> {
    let src = include_str!("../../examples/joint_risk.quo");
    let params = [("N".to_owned(), customers.to_string())];
    let program = quorate_dsl::compile_arith(src, &params, quorate_dsl::Limits::default())
        .map_err(|d| fail(d.render("examples/joint_risk.quo", src)))?;
    let mixed = program
        .mixed
        .as_ref()
        .ok_or_else(|| fail("no arithmetic lowering"))?;
    let mut prg = quorate_engine::prg::Prg::from_entropy().map_err(fail)?;
    let inputs: Vec<quorate_circuits::Bits> = (0..3)
        .map(|_| {
            let mut bits = quorate_circuits::Bits::zeros(customers * 8 * 64);
            for k in 0..customers * 8 {
                // A feature in [-2, 2) with 16 fractional bits.
                let raw = (prg.block().0 as u64 % (4 << 16)) as i64 - (2 << 16);
                for b in 0..64 {
                    bits.set(k * 64 + b, raw >> b & 1 == 1);
                }
            }
            bits
        })
        .collect();
    let want = mixed.evaluate(&inputs).map_err(fail)?;
    Ok(JointRisk {
        program,
        inputs,
        want,
    })
}

/// One run among three parties in this process: seconds after setup, and
/// the setup's seconds. Checks the outputs against the plaintext.
fn joint_risk_run(jr: &JointRisk, tcp: bool) -> Result<(f64, f64), CliError> {
    let p = &jr.program;
    let mixed = p
        .mixed
        .as_ref()
        .ok_or_else(|| fail("no arithmetic lowering"))?;
    let names: Vec<&str> = p.parties.iter().map(String::as_str).collect();
    let session = SessionId::random().map_err(fail)?;
    let rows = if tcp {
        tls::loopback_mesh(&names, &session, &program_hash(b"quorate bench arith")).map_err(fail)?
    } else {
        memory::mesh(&names)
    };
    let to: Vec<Vec<usize>> = p.outputs.iter().map(|o| o.to.clone()).collect();
    let start = Instant::now();
    let out = arith::run_parties(rows, &session, |mut party| {
        let setup = start.elapsed().as_secs_f64();
        let me = party.id();
        let mine: Vec<Option<quorate_circuits::Bits>> = p
            .inputs
            .iter()
            .zip(&jr.inputs)
            .map(|(i, v)| (i.party == me).then(|| v.clone()))
            .collect();
        let t = Instant::now();
        let o = party.run_mixed(mixed, &mine, &to)?;
        Ok((o.outputs, t.elapsed().as_secs_f64(), setup))
    })
    .map_err(fail)?;
    for (outs, _, _) in &out {
        for (got, want) in outs.iter().zip(&jr.want) {
            if got.as_ref() != Some(want) {
                return Err(fail("the joint risk outputs differ from the plaintext"));
            }
        }
    }
    let secs = out.iter().map(|o| o.1).fold(0.0, f64::max);
    let setup = out.iter().map(|o| o.2).fold(0.0, f64::max);
    Ok((secs, setup))
}

/// Which signing a bench run measures.
#[derive(Clone, Copy)]
enum Scheme {
    Ecdsa,
    Frost(quorate_engine::sign::frost::Suite),
}

/// Times `runs` signings by the first `signers` of `keys`, one thread per
/// signer over `mesh` (rows of channels, as `memory::mesh` gives); returns
/// the median in ms and the bytes the first signer sent per signature.
fn sign_runs(
    keys: &mut [quorate_engine::sign::dkls::EcdsaKey],
    mesh: &mut [Vec<Option<Channel>>],
    signers: usize,
    scheme: Scheme,
    runs: usize,
) -> Result<(f64, u64), CliError> {
    use quorate_engine::sign::dkls::SignRequest;
    use quorate_engine::sign::frost::{KeyAdjust, taproot_adjust};
    use quorate_engine::sign::{Identifier, driver};

    let ids: Vec<Identifier> = keys[..signers].iter().map(|k| k.share.identifier).collect();
    let group_key = keys[0].share.group_key;
    let adjust = match scheme {
        Scheme::Frost(quorate_engine::sign::frost::Suite::Taproot) => {
            taproot_adjust(&group_key, Some(&[])).map_err(fail)?
        }
        _ => KeyAdjust::IDENTITY,
    };
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for run in 0..runs {
        let mut digest = [0u8; 32];
        getrandom::fill(&mut digest).map_err(fail)?;
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(fail)?;
        let request = SignRequest {
            signers: ids.clone(),
            nonce,
            digest,
            adjust,
        };
        let sent_before = mesh[0]
            .iter()
            .flatten()
            .map(|c| c.traffic().sent)
            .sum::<u64>();
        let start = Instant::now();
        let results: Vec<Result<(), quorate_engine::sign::SignError>> = std::thread::scope(|s| {
            let handles: Vec<_> = keys[..signers]
                .iter_mut()
                .zip(mesh.iter_mut())
                .map(|(key, row)| {
                    let (request, ids, adjust) = (request.clone(), &ids, &adjust);
                    s.spawn(move || {
                        let mut links: Vec<(Identifier, &mut Channel)> = row[..signers]
                            .iter_mut()
                            .enumerate()
                            .filter_map(|(j, c)| c.as_mut().map(|c| (ids[j], c)))
                            .collect();
                        match scheme {
                            Scheme::Ecdsa => driver::ecdsa(
                                key,
                                &mut links,
                                request,
                                &mut quorate_engine::sign::consumed::MemoryLog::default(),
                            )
                            .map(drop),
                            Scheme::Frost(suite) => driver::frost(
                                &key.share, &mut links, suite, ids, adjust, &digest, &nonce,
                            )
                            .map(drop),
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(quorate_engine::sign::SignError::Parameters(
                            "a signer's thread panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let secs = start.elapsed().as_secs_f64();
        for r in results {
            r.map_err(fail)?;
        }
        if run == 0 {
            bytes = mesh[0]
                .iter()
                .flatten()
                .map(|c| c.traffic().sent)
                .sum::<u64>()
                - sent_before;
        }
        times.push(secs * 1e3);
    }
    Ok((median(times), bytes))
}

/// Times `runs` key generations among the first `n` parties of `mesh`,
/// threshold `t`, one thread per party ([`driver::keygen`]); the median in
/// ms.
fn keygen_runs(
    mesh: &mut [Vec<Option<Channel>>],
    t: u16,
    n: usize,
    runs: usize,
) -> Result<f64, CliError> {
    use quorate_engine::sign::{Identifier, SignError, driver};
    let ids = (1..=n as u16)
        .map(Identifier::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(fail)?;
        let start = Instant::now();
        let results: Vec<Result<(), SignError>> = std::thread::scope(|s| {
            let handles: Vec<_> = mesh[..n]
                .iter_mut()
                .enumerate()
                .map(|(k, row)| {
                    let ids = &ids;
                    s.spawn(move || {
                        let mut links: Vec<(Identifier, &mut Channel)> = row[..n]
                            .iter_mut()
                            .enumerate()
                            .filter_map(|(j, c)| c.as_mut().map(|c| (ids[j], c)))
                            .collect();
                        driver::keygen(ids[k], &mut links, ids, t, nonce).map(drop)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(SignError::Parameters("a party's thread panicked".into()))
                    })
                })
                .collect()
        });
        let secs = start.elapsed().as_secs_f64();
        for r in results {
            r.map_err(fail)?;
        }
        times.push(secs * 1e3);
    }
    Ok(median(times))
}

fn sign(args: &SignArgs) -> CliResult {
    use quorate_engine::sign::dkls;
    use quorate_engine::sign::frost::Suite;

    let runs = args.runs;
    let keygen = |t: u16, n: u16| -> Result<(f64, Vec<dkls::EcdsaKey>), CliError> {
        let mut times = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..runs.clamp(1, 11) {
            let start = Instant::now();
            keys = dkls::keygen_local(t, n, 0).map_err(fail)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok((median(times), keys))
    };
    progress(args.json, "key generation 2-of-3 and 3-of-5 ...");
    let (keygen_23, mut keys23) = keygen(2, 3)?;
    let (keygen_35, mut keys35) = keygen(3, 5)?;
    let names: Vec<String> = (1..=5).map(|i| format!("party-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut results = Vec::new();
    for tls_mode in [false, true] {
        progress(
            args.json,
            &format!(
                "ECDSA and FROST signing, {runs} runs each, {} ...",
                if tls_mode {
                    "over loopback TLS"
                } else {
                    "in memory"
                }
            ),
        );
        let mut mesh3 = if tls_mode {
            let session = SessionId::random().map_err(fail)?;
            tls::loopback_mesh(&names[..3], &session, &program_hash(b"quorate bench sign"))
                .map_err(fail)?
        } else {
            memory::mesh(&names[..3])
        };
        let mut mesh5 = if tls_mode {
            let session = SessionId::random().map_err(fail)?;
            tls::loopback_mesh(&names, &session, &program_hash(b"quorate bench sign"))
                .map_err(fail)?
        } else {
            memory::mesh(&names)
        };
        let kg_runs = runs.clamp(1, 11);
        let kg = (
            keygen_runs(&mut mesh3, 2, 3, kg_runs)?,
            keygen_runs(&mut mesh5, 3, 5, kg_runs)?,
        );
        let e23 = sign_runs(&mut keys23, &mut mesh3, 2, Scheme::Ecdsa, runs)?;
        let e35 = sign_runs(&mut keys35, &mut mesh5, 3, Scheme::Ecdsa, runs)?;
        let f23 = sign_runs(
            &mut keys23,
            &mut mesh3,
            2,
            Scheme::Frost(Suite::Rfc9591),
            runs,
        )?;
        let f35 = sign_runs(
            &mut keys35,
            &mut mesh5,
            3,
            Scheme::Frost(Suite::Rfc9591),
            runs,
        )?;
        let tr23 = sign_runs(
            &mut keys23,
            &mut mesh3,
            2,
            Scheme::Frost(Suite::Taproot),
            runs,
        )?;
        results.push((e23, e35, f23, f35, tr23, kg));
    }
    let (m, t) = (results[0], results[1]);
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "keygen_2of3_ms": keygen_23,
            "keygen_3of5_ms": keygen_35,
            "keygen_2of3_ms_threads": m.5.0,
            "keygen_3of5_ms_threads": m.5.1,
            "keygen_2of3_ms_tls": t.5.0,
            "keygen_3of5_ms_tls": t.5.1,
            "ecdsa_2of3_ms": m.0.0,
            "ecdsa_3of5_ms": m.1.0,
            "frost_2of3_ms": m.2.0,
            "frost_3of5_ms": m.3.0,
            "taproot_2of3_ms": m.4.0,
            "ecdsa_2of3_ms_tls": t.0.0,
            "ecdsa_3of5_ms_tls": t.1.0,
            "frost_2of3_ms_tls": t.2.0,
            "frost_3of5_ms_tls": t.3.0,
            "taproot_2of3_ms_tls": t.4.0,
            "ecdsa_bytes_per_signer": m.0.1,
            "frost_bytes_per_signer": m.2.1,
            "runs": runs,
        }));
    }
    out.line(format!(
        "keygen 2-of-3 (all parties, one thread)  {keygen_23:.1} ms"
    ))?;
    out.line(format!(
        "keygen 3-of-5 (all parties, one thread)  {keygen_35:.1} ms"
    ))?;
    for (label, r) in [("in memory", m), ("loopback TLS", t)] {
        out.line(format!("-- one thread per party, {label}"))?;
        out.line(format!("keygen 2-of-3    {:.1} ms", r.5.0))?;
        out.line(format!("keygen 3-of-5    {:.1} ms", r.5.1))?;
        out.line(format!("ECDSA 2-of-3     {:.2} ms", r.0.0))?;
        out.line(format!("ECDSA 3-of-5     {:.2} ms", r.1.0))?;
        out.line(format!("FROST 2-of-3     {:.2} ms", r.2.0))?;
        out.line(format!("FROST 3-of-5     {:.2} ms", r.3.0))?;
        out.line(format!("taproot 2-of-3   {:.2} ms", r.4.0))?;
    }
    out.line(format!(
        "bytes sent per signer per signature (2-of-3): ECDSA {}, FROST {}",
        m.0.1, m.2.1
    ))
}
