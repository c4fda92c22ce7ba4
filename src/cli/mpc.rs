//! `quorate circuit mpc`: a circuit between two parties with Yao's garbled
//! circuits, both in this process or one per process over TLS.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use quorate_circuits::{Bits, Circuit, Input, Interface, PartyId, bristol};
use quorate_engine::gc::schedule::{ScheduledCircuit, schedule_circuit};
use quorate_engine::net::handshake::{ProgramHash, ProgramHasher, SessionId};
use quorate_engine::net::tls::{Identity, Parties, connect_mesh};
use quorate_engine::net::{Channel, Traffic, memory, tls};
use quorate_engine::yao::{
    Disclosure, Outcome, Program, Reveal, YaoEvaluator, YaoGarbler, check_two_parties,
    evaluator_input_bits, role_inputs,
};
use serde_json::json;

use super::circuit::{Source, load_circuit, parse_inputs};
use super::{CliResult, Out, fail, shown, two_parties};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RevealArg {
    /// Only the evaluator learns the outputs.
    Evaluator,
    /// Only the garbler learns the outputs.
    Garbler,
    /// Both learn them.
    Both,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Role {
    /// Party 0: garbles, provides the inputs of the circuit's first party.
    Garbler,
    /// Party 1: evaluates, provides the inputs of the second party.
    Evaluator,
}

#[derive(Debug, Args)]
pub(crate) struct MpcArgs {
    #[command(flatten)]
    source: Source,
    /// The garbler's input values (the circuit's first party's inputs, in
    /// order), as hex.
    #[arg(long = "garbler-input", short = 'g', value_name = "HEX")]
    garbler_inputs: Vec<String>,
    /// The evaluator's input values (the second party's), as hex.
    #[arg(long = "evaluator-input", short = 'e', value_name = "HEX")]
    evaluator_inputs: Vec<String>,
    /// Who learns the outputs.
    #[arg(long, value_enum, default_value_t = RevealArg::Both)]
    reveal: RevealArg,
    /// Run the two parties over loopback TCP with TLS instead of in memory.
    #[arg(long)]
    tcp: bool,
    /// Run one party only, against the other in another process (needs
    /// --party, --parties and --key).
    #[arg(long, value_enum, requires_all = ["party", "parties", "key"])]
    role: Option<Role>,
    /// This party's name in the parties file.
    #[arg(long, value_name = "NAME")]
    party: Option<String>,
    /// The parties file (TOML) pinning both parties' certificates.
    #[arg(long, value_name = "FILE")]
    parties: Option<PathBuf>,
    /// This party's private key (PEM), from `quorate keys gen`.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// How long to wait for the other party (seconds, at most a day).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) const MPC_HELP: &str = "\
Values are hex, as for `quorate circuit eval`. The circuit's first party's \
inputs are the garbler's, the second party's the evaluator's.\n\n\
Examples:\n  \
quorate circuit mpc builtin:millionaires -g 0000000000989680 -e 0000000000895440\n  \
quorate circuit mpc aes_128.txt -g 000102030405060708090a0b0c0d0e0f -e 00112233445566778899aabbccddeeff --tcp\n\n\
Two processes (or machines): each party runs `quorate keys gen`, both entries go in one \
parties file (the garbler first), then:\n  \
quorate circuit mpc FILE --role garbler --party alice --parties parties.toml --key keys/alice.key -g HEX\n  \
quorate circuit mpc FILE --role evaluator --party bob --parties parties.toml --key keys/bob.key -e HEX";

/// This role's values from the command line.
fn values_for(iface: &Interface, role: Role, args: &MpcArgs) -> CliResult<Vec<Bits>> {
    let (party, texts, flag) = match role {
        Role::Garbler => (PartyId(0), &args.garbler_inputs, "--garbler-input"),
        Role::Evaluator => (PartyId(1), &args.evaluator_inputs, "--evaluator-input"),
    };
    let inputs: Vec<&Input> = role_inputs(iface, party).collect();
    parse_inputs(&inputs, texts, flag)
}

fn reveal(r: RevealArg) -> Reveal {
    match r {
        RevealArg::Evaluator => Reveal::Evaluator,
        RevealArg::Garbler => Reveal::Garbler,
        RevealArg::Both => Reveal::Both,
    }
}

/// The program hash both sides check in the handshake: the circuit as
/// Bristol Fashion text, hashed as it is written.
fn circuit_hash(c: &Circuit) -> CliResult<ProgramHash> {
    let mut h = ProgramHasher::new();
    bristol::write(c, &mut h).map_err(fail)?;
    Ok(h.finish())
}

struct Report {
    garbler: Outcome,
    evaluator: Option<Outcome>,
    setup: Duration,
}

/// Both parties in this process: the evaluator on a thread.
fn run_both(
    sched: &ScheduledCircuit,
    g_in: &[Bits],
    e_in: &[Bits],
    rev: Reveal,
    pair: (Channel, Channel),
) -> CliResult<Report> {
    let session = SessionId::random().map_err(fail)?;
    let ((garbler, setup), (evaluator, _)) = two_parties(
        pair,
        ("garbler", |mut a| {
            run_role(&mut a, &session, sched, true, g_in, rev.into())
        }),
        ("evaluator", |mut b| {
            run_role(&mut b, &session, sched, false, e_in, rev.into())
        }),
    )?;
    Ok(Report {
        garbler,
        evaluator: Some(evaluator),
        setup,
    })
}

pub(crate) fn mpc(args: &MpcArgs) -> CliResult {
    let loaded = load_circuit(&args.source)?;
    let circuit = loaded.circuit;
    let iface = circuit.interface();
    check_two_parties(iface).map_err(fail)?;
    let rev = reveal(args.reveal);
    // Inputs are checked before the circuit is scheduled or a peer called.
    let report = match args.role {
        None => {
            let g_in = values_for(iface, Role::Garbler, args)?;
            let e_in = values_for(iface, Role::Evaluator, args)?;
            let pair = if args.tcp {
                let s = SessionId::random().map_err(fail)?;
                tls::loopback_pair(&s, &circuit_hash(&circuit)?).map_err(fail)?
            } else {
                memory::pair((PartyId(0), "garbler"), (PartyId(1), "evaluator"))
            };
            run_both(&schedule_circuit(&circuit), &g_in, &e_in, rev, pair)?
        }
        Some(role) => {
            let values = values_for(iface, role, args)?;
            run_one(args, role, &circuit, &values, rev)?
        }
    };
    print_report(args, &report, rev, args.role)
}

fn run_one(
    args: &MpcArgs,
    role: Role,
    circuit: &Circuit,
    values: &[Bits],
    rev: Reveal,
) -> CliResult<Report> {
    let (Some(party), Some(parties_path), Some(key)) = (&args.party, &args.parties, &args.key)
    else {
        return Err(fail("--role needs --party, --parties and --key"));
    };
    let base_ctx = "quorate circuit mpc";
    let (mut ch, base) = connect_peer(
        parties_path,
        party,
        key,
        base_ctx,
        &circuit_hash(circuit)?,
        Duration::from_secs(args.timeout),
    )?;
    // Each side says its role: two garblers (or two evaluators) would
    // otherwise fail later with an error that blames the peer.
    let mine = role as u8;
    ch.send(&[mine]).map_err(fail)?;
    let mut theirs = [0u8; 1];
    ch.recv(&mut theirs).map_err(fail)?;
    if theirs[0] == mine {
        let name = role.to_possible_value().map(|v| v.get_name().to_owned());
        return Err(fail(format!(
            "both parties chose --role {}; one must be the garbler and the other the evaluator",
            name.unwrap_or_default()
        )));
    }
    let garbler = matches!(role, Role::Garbler);
    let session = fresh_session(&mut ch, &base, garbler, "quorate circuit mpc run")?;
    let sched = &schedule_circuit(circuit);
    let outcome = run_role(&mut ch, &session, sched, garbler, values, rev.into())?;
    Ok(Report {
        garbler: outcome.0,
        evaluator: None,
        setup: outcome.1,
    })
}

/// Connects this party to the other one over TLS, as the parties file
/// pins them, and runs the handshake on `program`. Returns the channel and
/// the session both sides derive from the parties' names and `context`.
pub(crate) fn connect_peer(
    parties_path: &std::path::Path,
    party: &str,
    key: &std::path::Path,
    context: &str,
    program: &ProgramHash,
    timeout: Duration,
) -> CliResult<(Channel, SessionId)> {
    let mut c = connect_all(parties_path, party, key, context, program, timeout, Some(2))?;
    let peer = 1 - c.me;
    let ch = c.channels[peer]
        .take()
        .ok_or_else(|| fail("no channel to the other party"))?;
    Ok((ch, c.base))
}

/// This party's TLS connections to every party of a parties file.
pub(crate) struct Connected {
    /// Channels by the file's party order (`None` at this party).
    pub(crate) channels: Vec<Option<Channel>>,
    /// This party's index in the file.
    pub(crate) me: usize,
    /// The file's party names, in order.
    pub(crate) names: Vec<String>,
    /// The session every party derives from the names.
    pub(crate) base: SessionId,
}

/// Connects `party` to every party of `parties_path` over mutually
/// authenticated TLS with `key`; `count` is the number of parties the file
/// must list, if fixed.
pub(crate) fn connect_all(
    parties_path: &std::path::Path,
    party: &str,
    key: &std::path::Path,
    context: &str,
    program: &ProgramHash,
    timeout: Duration,
    count: Option<usize>,
) -> CliResult<Connected> {
    let parties = Parties::load(parties_path).map_err(fail)?;
    if let Some(count) = count.filter(|&c| c != parties.list().len()) {
        return Err(fail(format!(
            "{}: {count} parties are needed, the file lists {}",
            shown(parties_path.display()),
            parties.list().len()
        )));
    }
    let me = parties.id_of(party).ok_or_else(|| {
        fail(format!(
            "party `{}` is not in {}",
            shown(party),
            shown(parties_path.display())
        ))
    })?;
    let cert = parties.list()[usize::from(me.0)].cert.clone();
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(key).map_err(|e| fail(format!("{}: {e}", shown(key.display()))))?,
    );
    let identity = Identity::from_cert_and_key_pem(cert, &key_pem)
        .map_err(|e| fail(format!("{}: {e}", shown(key.display()))))?;
    // The session names the parties only, so that a peer running another
    // program is told exactly that by the handshake.
    let names: Vec<&[u8]> = parties.list().iter().map(|p| p.name.as_bytes()).collect();
    let base = SessionId::derive(context, &names);
    let mut channels =
        connect_mesh(party, &parties, &identity, &base, program, timeout).map_err(fail)?;
    for ch in channels.iter_mut().flatten() {
        ch.set_timeout(timeout);
    }
    Ok(Connected {
        channels,
        me: usize::from(me.0),
        names: parties.list().iter().map(|p| p.name.clone()).collect(),
        base,
    })
}

/// A fresh session per run: the garbler picks a nonce and sends it.
pub(crate) fn fresh_session(
    ch: &mut Channel,
    base: &SessionId,
    garbler: bool,
    context: &str,
) -> CliResult<SessionId> {
    let mut nonce = [0u8; 32];
    if garbler {
        nonce = SessionId::random().map_err(fail)?.0;
        ch.send(&nonce).map_err(fail)?;
        ch.flush().map_err(fail)?;
    } else {
        ch.recv(&mut nonce).map_err(fail)?;
    }
    Ok(SessionId::derive(context, &[&base.0, &nonce]))
}

/// Runs one side of Yao: base OTs, the OTs the evaluator's inputs need,
/// then the circuit. Returns the outcome and the setup time.
pub(crate) fn run_role(
    ch: &mut Channel,
    session: &SessionId,
    sched: &ScheduledCircuit,
    garbler: bool,
    values: &[Bits],
    disclosure: Disclosure,
) -> CliResult<(Outcome, Duration)> {
    let setup_start = Instant::now();
    let bits = evaluator_input_bits(&sched.interface).max(1);
    if garbler {
        let mut g = YaoGarbler::setup(ch, session).map_err(fail)?;
        g.precompute(ch, bits).map_err(fail)?;
        let setup = setup_start.elapsed();
        let out = g
            .run(ch, Program::Scheduled(sched), values, disclosure)
            .map_err(fail)?;
        Ok((out, setup))
    } else {
        let mut e = YaoEvaluator::setup(ch, session).map_err(fail)?;
        e.precompute(ch, bits).map_err(fail)?;
        let setup = setup_start.elapsed();
        let out = e
            .run(ch, Program::Scheduled(sched), values, disclosure)
            .map_err(fail)?;
        Ok((out, setup))
    }
}

fn print_report(args: &MpcArgs, r: &Report, rev: Reveal, role: Option<Role>) -> CliResult {
    // In one process the evaluator's outcome carries its outputs; with --role
    // the single outcome is this party's.
    let outputs = match (&r.evaluator, role) {
        (Some(e), _) if matches!(rev, Reveal::Evaluator | Reveal::Both) => e.all_outputs(),
        _ => r.garbler.all_outputs(),
    };
    let t: Traffic = r.garbler.traffic;
    let (to_peer, from_peer) = (t.sent, t.received);
    let mut out = Out::new();
    if args.json {
        let hex: Option<Vec<String>> = outputs
            .as_ref()
            .map(|o| o.iter().map(Bits::to_hex).collect());
        let mut v = json!({
            "outputs": hex,
            "and_gates": r.garbler.ands,
            "setup_ms": r.setup.as_secs_f64() * 1e3,
            "run_us": r.garbler.time.as_secs_f64() * 1e6,
        });
        match role {
            None | Some(Role::Garbler) => {
                v["bytes_garbler_to_evaluator"] = json!(to_peer);
                v["bytes_evaluator_to_garbler"] = json!(from_peer);
            }
            Some(Role::Evaluator) => {
                v["bytes_evaluator_to_garbler"] = json!(to_peer);
                v["bytes_garbler_to_evaluator"] = json!(from_peer);
            }
        }
        return out.json(&v);
    }
    if let Some(outputs) = &outputs {
        for o in outputs {
            out.line(o.to_hex())?;
        }
    }
    let (g2e, e2g) = match role {
        Some(Role::Evaluator) => (from_peer, to_peer),
        _ => (to_peer, from_peer),
    };
    let mut err = std::io::stderr();
    let _ = std::io::Write::write_fmt(
        &mut err,
        format_args!(
            "{} AND gates; garbler -> evaluator {} bytes, evaluator -> garbler {} bytes; setup {:.1} ms, run {:.0} us\n",
            r.garbler.ands,
            g2e,
            e2g,
            r.setup.as_secs_f64() * 1e3,
            r.garbler.time.as_secs_f64() * 1e6
        ),
    );
    Ok(())
}
