//! `quorate bench`: quick measurements of the engine on this machine.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use quorate_circuits::PartyId;
use quorate_engine::net::handshake::{SessionId, program_hash};
use quorate_engine::net::{Channel, memory, tls};
use quorate_engine::ot::kos::{KosReceiver, KosSender};
use quorate_engine::ot::{OtError, SecretBlocks, base};
use serde_json::json;

use super::{CliError, CliResult, Out};

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
}

#[derive(Debug, Args)]
pub(crate) struct OtArgs {
    /// OTs per extension run.
    #[arg(long, default_value_t = 10_000_000)]
    ots: usize,
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: BenchCommand) -> CliResult {
    match cmd {
        BenchCommand::Ot(args) => ot(&args),
    }
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
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

/// Runs `sender` on a new thread and `receiver` here, over `pair`; returns
/// the wall time and the receiver's channel afterwards.
fn two_party<S, R>(
    pair: (Channel, Channel),
    sender: S,
    receiver: R,
) -> Result<(Duration, Channel), CliError>
where
    S: FnOnce(&mut Channel) -> Result<(), OtError> + Send + 'static,
    R: FnOnce(&mut Channel) -> Result<(), OtError>,
{
    let (mut a, mut b) = pair;
    let start = Instant::now();
    let t = std::thread::spawn(move || sender(&mut a).map(|()| a));
    receiver(&mut b).map_err(fail)?;
    let _a = t
        .join()
        .map_err(|_| fail("the sender thread panicked"))?
        .map_err(fail)?;
    Ok((start.elapsed(), b))
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
    if args.runs == 0 || args.ots == 0 {
        return Err(fail("--runs and --ots must be at least 1"));
    }
    let session = SessionId::random().map_err(fail)?;
    let program = program_hash(b"quorate bench ot");

    progress(
        args.json,
        "base OT: 128 Masny-Rindal OTs over secp256k1 ...",
    );
    let mut base_ms = Vec::new();
    for _ in 0..args.runs.max(5) {
        let (d, _) = two_party(
            mem_pair(),
            move |ch| base::receive(ch, &session, &[true; 128]).map(drop),
            |ch| base::send(ch, &session, 128).map(drop),
        )?;
        base_ms.push(d.as_secs_f64() * 1e3);
    }
    let base_ot_ms = median(base_ms);

    let n = args.ots;
    let runs = args.runs;
    let measure = |label: &str,
                   pair: &mut dyn FnMut() -> Result<(Channel, Channel), CliError>,
                   random: bool| {
        progress(args.json, &format!("{label}: {n} OTs x {runs} runs ..."));
        let (mut a, mut b) = pair()?;
        // Setup (base OTs) is not part of the rate; outputs are reused
        // across runs, as a streaming consumer would.
        let sender = std::thread::spawn(move || -> Result<Vec<f64>, OtError> {
            let mut s = KosSender::setup(&mut a, &session)?;
            let mut out = SecretBlocks::default();
            let mut times = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                for len in batches(n) {
                    if random {
                        s.rot(&mut a, len)?;
                    } else {
                        s.cot_into(&mut a, len, &mut out)?;
                    }
                }
                times.push(start.elapsed().as_secs_f64());
            }
            Ok(times)
        });
        let mut r = KosReceiver::setup(&mut b, &session).map_err(fail)?;
        let choices = vec![false; n.min(BATCH)];
        let mut out = SecretBlocks::default();
        let before = b.traffic();
        for _ in 0..runs {
            for len in batches(n) {
                if random {
                    r.rot(&mut b, len).map_err(fail)?;
                } else {
                    r.cot_into(&mut b, &choices[..len], &mut out)
                        .map_err(fail)?;
                }
            }
        }
        let after = b.traffic();
        let times = sender
            .join()
            .map_err(|_| fail("the sender thread panicked"))?
            .map_err(fail)?;
        let bytes = (after.sent - before.sent) + (after.received - before.received);
        let rates = times.iter().map(|t| n as f64 / t).collect();
        Ok::<(f64, f64), CliError>((median(rates), bytes as f64 / (n * runs) as f64))
    };
    let (cot_mem, bytes_per_cot) = measure("COT in memory", &mut || Ok(mem_pair()), false)?;
    let (rot_mem, _) = measure("ROT in memory", &mut || Ok(mem_pair()), true)?;
    let (cot_tls, _) = measure(
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
            "ots": n,
            "runs": args.runs,
        }));
    }
    out.line(format!("base OT (128)          {base_ot_ms:.1} ms"))?;
    out.line(format!("COT, in memory         {:.1} M/s", cot_mem / 1e6))?;
    out.line(format!("ROT, in memory         {:.1} M/s", rot_mem / 1e6))?;
    out.line(format!("COT, loopback TLS      {:.1} M/s", cot_tls / 1e6))?;
    out.line(format!("bytes per COT          {bytes_per_cot:.2}"))?;
    Ok(())
}
