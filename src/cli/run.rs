//! `quorate run` and `quorate compile`: programs in the Quorate language.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use quorate_circuits::{Bits, bristol};
use quorate_dsl::{
    Limits, Program, Trial, Type, Value, compile, decode, parse_elements, parse_value,
};
use quorate_engine::arith;
use quorate_engine::gc::schedule::schedule_circuit;
use quorate_engine::net::handshake::{ProgramHash, ProgramHasher, SessionId};
use quorate_engine::net::{Channel, Traffic, memory, tls};
use quorate_engine::yao::{Disclosure, Outcome, Reveal};
use serde_json::{Value as Json, json};

use super::mpc::{connect_all, connect_peer, fresh_session, run_role};
use super::{CliError, CliResult, Out, fail, shown, two_parties, write_atomic};

pub(crate) const RUN_HELP: &str = "\
Inputs are `--input PARTY.NAME=VALUE`: decimal or 0x-hex integers, true/false, decimals for fix \
(e.g. 12.5), [1,2,3] for arrays, (1,true) for tuples, or @file.csv for an array read from a \
one-column CSV file (a non-numeric first line is a header). With --party, `--input NAME=VALUE` \
names this party's inputs only.\n\n\
Examples:\n  \
quorate run examples/millionaires.quo --input alice.a=5000000 --input bob.b=4200000\n  \
quorate run examples/psi_small.quo --input alice.a=@alice.csv --input bob.b=@bob.csv --json\n  \
quorate run examples/millionaires.quo --plaintext --input alice.a=1 --input bob.b=2\n\n\
On two machines (or two terminals): each party runs `quorate keys gen --party NAME --out keys/`, \
both entries go in one parties file, then each runs\n  \
quorate run examples/millionaires.quo --party alice --parties parties.toml --key keys/alice.key --input a=5000000\n  \
quorate run examples/millionaires.quo --party bob --parties parties.toml --key keys/bob.key --input b=4200000\n\
The first party in the program's `parties` line garbles, the second evaluates; each prints the \
outputs revealed to it. Parties that compiled different programs (or parameters) fail the handshake.";

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The program (.quo).
    #[arg(value_name = "FILE.quo")]
    file: PathBuf,
    /// An input value: PARTY.NAME=VALUE (or NAME=VALUE with --party).
    #[arg(long = "input", short = 'i', value_name = "PARTY.NAME=VALUE")]
    inputs: Vec<String>,
    /// A public parameter of the program: NAME=VALUE.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Evaluate in the clear, in this process, for debugging: no
    /// cryptography, every output shown.
    #[arg(long, conflicts_with_all = ["tcp", "party"])]
    plaintext: bool,
    /// Run the parties in this process over loopback TCP with TLS instead of
    /// in-memory channels.
    #[arg(long)]
    tcp: bool,
    /// Run only this party, against the others over TLS (needs --parties).
    #[arg(long, value_name = "NAME", requires = "parties")]
    party: Option<String>,
    /// The parties file (TOML) pinning every party's address and certificate.
    #[arg(long, value_name = "FILE")]
    parties: Option<PathBuf>,
    /// This party's private key (PEM) from `quorate keys gen`. Default:
    /// NAME.key, then keys/NAME.key, beside the parties file.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// How long to wait for the other parties (seconds, at most a day).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// The protocol: yao (garbled circuits, two parties), gmw (secret-shared
    /// Boolean circuits, 2 to 16 parties), arith (additive shares with
    /// Beaver triples, 2 to 16 parties), or auto (arith, or yao for two
    /// parties and gmw for more, whichever is estimated to send fewer
    /// bytes; `compile --stats` shows the choice, docs/language.md section
    /// 11 the rule).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Print `{"outputs": {"name": value}, ...}` instead of `name = value` lines.
    #[arg(long)]
    json: bool,
}

/// The protocols a program can run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// Arith, or yao (two parties) / gmw (more), whichever is estimated to
    /// send fewer bytes.
    Auto,
    /// Yao's garbled circuits: two parties, constant rounds, 32 bytes per AND.
    Yao,
    /// GMW: XOR shares among 2 to 16 parties, one round per AND layer.
    Gmw,
    /// Additive shares with Beaver triples (engine::arith).
    Arith,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Yao => "yao",
            Backend::Gmw => "gmw",
            Backend::Arith => "arith",
        }
    }
}

/// The Boolean backend that runs `p` when `asked` is requested: `auto` is
/// yao for two parties and gmw for more. ([`load_for`] weighs these against
/// the arithmetic lowering.)
pub(crate) fn choose_backend(p: &Program, asked: Backend) -> CliResult<Backend> {
    let n = p.parties.len();
    match asked {
        Backend::Auto if n == 2 => Ok(Backend::Yao),
        Backend::Auto | Backend::Gmw if n > arith::MAX_PARTIES => Err(fail(format!(
            "this program has {n} parties; GMW runs at most {}",
            arith::MAX_PARTIES
        ))),
        Backend::Auto | Backend::Gmw => Ok(Backend::Gmw),
        Backend::Yao if n == 2 => Ok(Backend::Yao),
        Backend::Yao => Err(fail(format!(
            "this program has {n} parties; the garbled-circuit backend (yao) runs two: \
             use --backend gmw (or auto)"
        ))),
        Backend::Arith if p.mixed.is_some() && n <= arith::MAX_PARTIES => Ok(Backend::Arith),
        Backend::Arith if n > arith::MAX_PARTIES => Err(fail(format!(
            "this program has {n} parties; the arith backend runs at most {}",
            arith::MAX_PARTIES
        ))),
        Backend::Arith => Err(fail(
            "internal: the arith backend needs the arithmetic lowering (load_for)",
        )),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Emit {
    /// Bristol Fashion: the circuit alone.
    Bristol,
    /// The program's interface and circuit statistics as JSON.
    Ir,
}

#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// The program (.quo).
    #[arg(value_name = "FILE.quo")]
    file: PathBuf,
    /// A public parameter of the program: NAME=VALUE.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Print the cost: AND gates, depth, inputs, outputs, estimated bytes.
    #[arg(long)]
    stats: bool,
    /// Write the compiled circuit (to -o, or stdout).
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Where --emit writes (atomically).
    #[arg(short = 'o', long = "out", value_name = "OUT", requires = "emit")]
    out: Option<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
    /// The backend whose cost --stats estimates (see `quorate run --help`).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Print the statistics as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads and compiles `path`, printing a diagnostic with the source line on
/// failure.
pub(crate) fn load(path: &Path, params: &[String]) -> CliResult<Program> {
    load_with(path, params, false, Limits::default())
}

/// Compiles the program for the backend asked, and says which backend runs
/// it. `auto` compiles the arithmetic lowering, estimates its traffic
/// ([`arith_estimated_bytes`]), then compiles the Boolean lowering as a
/// trial that gives up once it would cost more, in all or pro rata
/// ([`Trial`]), and keeps the cheaper: yao for two parties or gmw for more,
/// or arith.
pub(crate) fn load_for(
    path: &Path,
    params: &[String],
    asked: Backend,
) -> CliResult<(Program, Backend)> {
    match asked {
        Backend::Arith => {
            let p = load_with(path, params, true, Limits::default())?;
            let b = choose_backend(&p, asked)?;
            Ok((p, b))
        }
        Backend::Auto => {
            // A program the arithmetic lowering cannot take (or a compile
            // error, which the Boolean compile then reports) goes Boolean.
            let Ok(a) = load_with(path, params, true, Limits::default()) else {
                let p = load(path, params)?;
                let b = choose_backend(&p, asked)?;
                return Ok((p, b));
            };
            let n = a.parties.len();
            if n > arith::MAX_PARTIES {
                return Err(fail(format!(
                    "this program has {n} parties; at most {} are supported",
                    arith::MAX_PARTIES
                )));
            }
            let est_a = arith_estimated_bytes(&a);
            let per_and = if n == 2 {
                32
            } else {
                gmw_bytes_per_and(n as u64)
            };
            // The Boolean lowering is compiled only as far as it could still
            // cost less (see `quorate_dsl::Trial`). All gates count against
            // the gate limit, and XOR gates are free: allow many per AND.
            let max_and = (est_a / per_and).max(10_000);
            let limits = Limits {
                max_gates: max_and.saturating_mul(16).min(Limits::default().max_gates),
                trial: Some(Trial {
                    max_and,
                    steps: a.steps,
                }),
                ..Limits::default()
            };
            match load_with(path, params, false, limits) {
                Ok(b) => {
                    let kind = choose_backend(&b, Backend::Auto)?;
                    let est_b = if kind == Backend::Gmw {
                        gmw_estimated_bytes(&b)
                    } else {
                        estimated_bytes(&b)
                    };
                    if est_b <= est_a {
                        Ok((b, kind))
                    } else {
                        Ok((a, Backend::Arith))
                    }
                }
                Err(_) => Ok((a, Backend::Arith)),
            }
        }
        _ => {
            let p = load(path, params)?;
            let b = choose_backend(&p, asked)?;
            Ok((p, b))
        }
    }
}

fn load_with(
    path: &Path,
    params: &[String],
    arith_lowering: bool,
    limits: Limits,
) -> CliResult<Program> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("{}: {e}", shown(path.display()))))?;
    let mut kv = Vec::new();
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            return Err(fail(format!("--param {}: expected NAME=VALUE", shown(p))));
        };
        kv.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let compiled = if arith_lowering {
        quorate_dsl::compile_arith(&src, &kv, limits)
    } else {
        compile(&src, &kv, limits)
    };
    compiled.map_err(|d| CliError::Diagnostic(d.render(&path.display().to_string(), &src)))
}

/// The hash both sides check in the handshake: the circuit, every input's
/// and output's name, type and party, and the parameters.
fn program_hash(p: &Program) -> CliResult<ProgramHash> {
    let mut h = ProgramHasher::new();
    let mut meta = format!("quorate-dsl v1\nparties {}\n", p.parties.join(","));
    for i in &p.inputs {
        meta.push_str(&format!("input {} {} {}\n", i.name, i.party, i.ty));
    }
    for o in &p.outputs {
        meta.push_str(&format!("output {} {} {:?}\n", o.name, o.ty, o.to));
    }
    for (k, v) in &p.params {
        meta.push_str(&format!("param {k}={v}\n"));
    }
    h.write_all(meta.as_bytes()).map_err(fail)?;
    match &p.mixed {
        Some(m) => {
            for port in m.inputs().iter().chain(m.outputs()) {
                writeln!(h, "{port:?}").map_err(fail)?;
            }
            for op in m.ops() {
                writeln!(h, "{op:?}").map_err(fail)?;
            }
        }
        None => bristol::write(&p.circuit, &mut h).map_err(fail)?,
    }
    Ok(h.finish())
}

/// Reads a one-column CSV file: one value per line, blank lines skipped, a
/// first line that is not a value taken as a header.
fn csv_column(path: &str, elem: &Type, n: usize) -> CliResult<Vec<String>> {
    // A value is at most ~45 characters; a much larger file is not this
    // input, and is refused before it is read.
    let limit = (n as u64).saturating_mul(64).max(1 << 20);
    let size = std::fs::metadata(path)
        .map_err(|e| fail(format!("{}: {e}", shown(path))))?
        .len();
    if size > limit {
        return Err(fail(format!(
            "{}: {size} bytes is too large for an array of {n} values",
            shown(path)
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("{}: {e}", shown(path))))?;
    let mut items: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cell = line.trim().trim_matches('"').trim();
        if cell.is_empty() {
            continue;
        }
        if cell.contains(',') {
            return Err(fail(format!(
                "{}:{}: more than one column; the file must hold one value per line",
                shown(path),
                n + 1
            )));
        }
        if items.is_empty() && n == 0 && parse_value(cell, elem).is_err() {
            continue; // a header
        }
        items.push(cell.to_owned());
    }
    Ok(items)
}

fn value_of(text: &str, ty: &Type, what: &str) -> CliResult<Bits> {
    if let Some(path) = text.strip_prefix('@') {
        let Type::Array(elem, n) = ty else {
            return Err(fail(format!(
                "{what}: @FILE gives an array, but the input is {ty}"
            )));
        };
        let items = match &**elem {
            // A table: one column per element of each row.
            Type::Array(_, cols) => super::tables::read_rows(path, *cols, *n)?
                .into_iter()
                .map(|row| format!("[{}]", row.join(", ")))
                .collect(),
            _ if super::tables::is_arrow(path) => super::tables::read_rows(path, 1, *n)?
                .into_iter()
                .flatten()
                .collect(),
            _ => csv_column(path, elem, *n)?,
        };
        let refs: Vec<&str> = items.iter().map(String::as_str).collect();
        return parse_elements(&refs, ty)
            .map_err(|e| fail(format!("{what} from {}: {e}", shown(path))));
    }
    parse_value(text, ty).map_err(|e| fail(format!("{what}: {e}")))
}

/// The values of every input (`me` = None) or of one party's, in the
/// program's input order; `None` for inputs of other parties.
fn input_values(p: &Program, args: &[String], me: Option<usize>) -> CliResult<Vec<Option<Bits>>> {
    let mut given: HashMap<(usize, String), &str> = HashMap::new();
    for a in args {
        let Some((key, value)) = a.split_once('=') else {
            return Err(fail(format!(
                "--input {}: expected PARTY.NAME=VALUE",
                shown(a)
            )));
        };
        let (party, name) = match (key.split_once('.'), me) {
            (Some((party, name)), _) => {
                let idx = p.party(party.trim()).ok_or_else(|| {
                    fail(format!(
                        "--input {}: no party `{}`; the parties are {}",
                        shown(a),
                        shown(party),
                        p.parties.join(", ")
                    ))
                })?;
                if me.is_some_and(|m| m != idx) {
                    return Err(fail(format!(
                        "--input {}: that is {}'s input; this process runs {} only",
                        shown(a),
                        p.parties[idx],
                        p.parties[me.unwrap_or(0)]
                    )));
                }
                (idx, name.trim().to_owned())
            }
            (None, Some(m)) => (m, key.trim().to_owned()),
            (None, None) => {
                return Err(fail(format!(
                    "--input {}: say whose input it is: PARTY.NAME=VALUE",
                    shown(a)
                )));
            }
        };
        if !p.inputs.iter().any(|i| i.party == party && i.name == name) {
            let theirs: Vec<String> = p
                .inputs
                .iter()
                .filter(|i| i.party == party)
                .map(|i| format!("{}.{}", p.parties[party], i.name))
                .collect();
            return Err(fail(format!(
                "--input {}: {} has no input `{}`; its inputs: {}",
                shown(a),
                p.parties[party],
                shown(&name),
                if theirs.is_empty() {
                    "none".to_owned()
                } else {
                    theirs.join(", ")
                }
            )));
        }
        if given.insert((party, name.clone()), value).is_some() {
            return Err(fail(format!(
                "--input {}.{} is given twice",
                p.parties[party],
                shown(&name)
            )));
        }
    }
    let mut out = Vec::new();
    for i in &p.inputs {
        if me.is_some_and(|m| m != i.party) {
            out.push(None);
            continue;
        }
        let full = format!("{}.{}", p.parties[i.party], i.name);
        let Some(text) = given.get(&(i.party, i.name.clone())) else {
            let flag = if me.is_some() {
                i.name.clone()
            } else {
                full.clone()
            };
            return Err(fail(format!(
                "missing input `{full}` ({}); pass --input {flag}=VALUE",
                i.ty
            )));
        };
        out.push(Some(value_of(text, &i.ty, &format!("--input {full}"))?));
    }
    Ok(out)
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(x) => match (i64::try_from(*x), u64::try_from(*x)) {
            (Ok(i), _) => json!(i),
            (_, Ok(u)) => json!(u),
            _ => json!(x.to_string()),
        },
        Value::Fix(raw) => json!(*raw as f64 / 65536.0),
        Value::Array(items) | Value::Tuple(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
    }
}

fn disclosure(p: &Program) -> Disclosure {
    let plan = p
        .outputs
        .iter()
        .map(|o| match (o.to.contains(&0), o.to.contains(&1)) {
            (true, true) => Reveal::Both,
            (true, false) => Reveal::Garbler,
            (false, _) => Reveal::Evaluator,
        })
        .collect();
    Disclosure::PerOutput(plan)
}

struct Ran {
    /// Each output's value, where known to this process.
    outputs: Vec<Option<Bits>>,
    backend: Backend,
    ands: u64,
    traffic: Option<Traffic>,
    setup: Duration,
    time: Duration,
    mode: &'static str,
}

pub(crate) fn run(args: &RunArgs) -> CliResult {
    let (program, backend) = load_for(&args.file, &args.params, args.backend)?;
    let ran = if args.plaintext {
        let values: Vec<Bits> = input_values(&program, &args.inputs, None)?
            .into_iter()
            .flatten()
            .collect();
        let start = Instant::now();
        let outs = match &program.mixed {
            Some(m) => m.evaluate(&values).map_err(fail)?,
            None => program.eval_plain(&values).map_err(fail)?,
        };
        Ran {
            outputs: outs.into_iter().map(Some).collect(),
            ands: ands_of(&program),
            traffic: None,
            setup: Duration::ZERO,
            time: start.elapsed(),
            mode: "plaintext",
            backend: Backend::Auto,
        }
    } else if let Some(party) = &args.party {
        run_party(args, &program, party, backend)?
    } else {
        run_all(args, &program, backend)?
    };
    report(args, &program, &ran)
}

/// AND gates of whichever lowering `p` holds.
fn ands_of(p: &Program) -> u64 {
    p.mixed
        .as_ref()
        .map_or(p.circuit.stats().and, |m| m.stats().and)
}

fn run_all(args: &RunArgs, p: &Program, backend: Backend) -> CliResult<Ran> {
    if matches!(backend, Backend::Gmw | Backend::Arith) {
        return run_gmw_all(args, p, backend);
    }
    let values = input_values(p, &args.inputs, None)?;
    let mine = |party: usize| -> Vec<Bits> {
        p.inputs
            .iter()
            .zip(&values)
            .filter(|(i, _)| i.party == party)
            .filter_map(|(_, v)| v.clone())
            .collect()
    };
    let (g_in, e_in) = (mine(0), mine(1));
    let plan = disclosure(p);
    let session = SessionId::random().map_err(fail)?;
    let pair = if args.tcp {
        let (mut a, mut b) = tls::loopback_pair(&session, &program_hash(p)?).map_err(fail)?;
        a.set_timeout(Duration::from_secs(args.timeout));
        b.set_timeout(Duration::from_secs(args.timeout));
        (a, b)
    } else {
        let name = |i: usize| p.parties.get(i).map_or("evaluator", String::as_str);
        memory::pair(
            (quorate_circuits::PartyId(0), name(0)),
            (quorate_circuits::PartyId(1), name(1)),
        )
    };
    let sched = schedule_circuit(&p.circuit);
    let start = Instant::now();
    let plan2 = plan.clone();
    let ((g, setup), (e, _)) = two_parties(
        pair,
        (p.parties[0].as_str(), |mut a| {
            run_role(&mut a, &session, &sched, true, &g_in, plan)
        }),
        (
            p.parties.get(1).map_or("evaluator", String::as_str),
            |mut b| run_role(&mut b, &session, &sched, false, &e_in, plan2),
        ),
    )?;
    let time = start.elapsed();
    let outputs = g
        .outputs
        .iter()
        .zip(&e.outputs)
        .map(|(a, b)| a.clone().or_else(|| b.clone()))
        .collect();
    Ok(Ran {
        outputs,
        ands: g.ands,
        traffic: Some(g.traffic),
        setup,
        time: time.saturating_sub(setup),
        mode: if args.tcp { "tls" } else { "memory" },
        backend: Backend::Yao,
    })
}

/// Which parties learn each output.
fn recipients(p: &Program) -> Vec<Vec<usize>> {
    p.outputs.iter().map(|o| o.to.clone()).collect()
}

/// Party `k`'s input values: `Some` for its inputs, `None` for others'.
fn inputs_of(p: &Program, values: &[Option<Bits>], k: usize) -> Vec<Option<Bits>> {
    p.inputs
        .iter()
        .zip(values)
        .map(|(i, v)| if i.party == k { v.clone() } else { None })
        .collect()
}

/// Runs every party with GMW, or the arith backend, in this process, over
/// memory or loopback TLS.
fn run_gmw_all(args: &RunArgs, p: &Program, backend: Backend) -> CliResult<Ran> {
    let values = input_values(p, &args.inputs, None)?;
    let names: Vec<&str> = p.parties.iter().map(String::as_str).collect();
    let session = SessionId::random().map_err(fail)?;
    let rows = if args.tcp {
        let mut rows = tls::loopback_mesh(&names, &session, &program_hash(p)?).map_err(fail)?;
        // The loopback mesh connects with a short deadline; the run waits
        // as long as --timeout says, as it does between processes.
        for ch in rows.iter_mut().flatten().flatten() {
            ch.set_timeout(Duration::from_secs(args.timeout));
        }
        rows
    } else {
        memory::mesh(&names)
    };
    let to = recipients(p);
    let start = Instant::now();
    let out = arith::run_parties(rows, &session, |mut party| {
        let setup = start.elapsed();
        let mine = inputs_of(p, &values, party.id());
        let o = match &p.mixed {
            Some(m) => party.run_mixed(m, &mine, &to)?.outputs,
            None => party.run_circuit(&p.circuit, &mine, &to)?.outputs,
        };
        Ok((o, setup, party.traffic().0))
    })
    .map_err(fail)?;
    let time = start.elapsed();
    let setup = out.iter().map(|o| o.1).max().unwrap_or_default();
    let outputs = (0..p.outputs.len())
        .map(|k| out.iter().find_map(|o| o.0[k].clone()))
        .collect();
    let sent: u64 = out.iter().map(|o| o.2).sum();
    Ok(Ran {
        outputs,
        ands: ands_of(p),
        traffic: Some(Traffic {
            sent,
            received: sent,
        }),
        setup,
        time: time.saturating_sub(setup),
        mode: if args.tcp { "tls" } else { "memory" },
        backend,
    })
}

/// Runs this party with GMW, or the arith backend, against the others over
/// TLS.
fn run_gmw_party(
    args: &RunArgs,
    p: &Program,
    me: usize,
    key: &Path,
    backend: Backend,
) -> CliResult<Ran> {
    let values = input_values(p, &args.inputs, Some(me))?;
    let Some(parties_path) = &args.parties else {
        return Err(fail("--party needs --parties FILE"));
    };
    let timeout = Duration::from_secs(args.timeout);
    let mut c = connect_all(
        parties_path,
        &p.parties[me],
        key,
        "quorate run",
        &program_hash(p)?,
        timeout,
        Some(p.parties.len()),
    )?;
    // Channels in the program's party order.
    let mut rows: Vec<Option<Channel>> = Vec::with_capacity(p.parties.len());
    for name in &p.parties {
        let Some(j) = c.names.iter().position(|n| n == name) else {
            return Err(fail(format!(
                "{}: the program's party `{}` is not in the file",
                shown(parties_path.display()),
                shown(name)
            )));
        };
        rows.push(c.channels[j].take());
    }
    // The program's first party picks the run's nonce.
    let mut nonce = [0u8; 32];
    if me == 0 {
        nonce = SessionId::random().map_err(fail)?.0;
        for ch in rows.iter_mut().flatten() {
            ch.send(&nonce).map_err(fail)?;
            ch.flush().map_err(fail)?;
        }
    } else if let Some(ch) = rows[0].as_mut() {
        ch.recv(&mut nonce).map_err(fail)?;
    }
    let session = SessionId::derive("quorate run session", &[&c.base.0, &nonce]);
    let start = Instant::now();
    let mut party = arith::Party::setup(me, rows, &session).map_err(fail)?;
    let setup = start.elapsed();
    let mine = inputs_of(p, &values, me);
    let outputs = match &p.mixed {
        Some(m) => {
            party
                .run_mixed(m, &mine, &recipients(p))
                .map_err(fail)?
                .outputs
        }
        None => {
            party
                .run_circuit(&p.circuit, &mine, &recipients(p))
                .map_err(fail)?
                .outputs
        }
    };
    let (sent, received) = party.traffic();
    Ok(Ran {
        outputs,
        ands: ands_of(p),
        traffic: Some(Traffic { sent, received }),
        setup,
        time: start.elapsed().saturating_sub(setup),
        mode: "party",
        backend,
    })
}

fn default_key(parties: &Path, name: &str) -> CliResult<PathBuf> {
    let dir = parties.parent().unwrap_or(Path::new("."));
    let tried = [
        dir.join(format!("{name}.key")),
        dir.join("keys").join(format!("{name}.key")),
    ];
    tried.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        fail(format!(
            "no key for `{}`: tried {} and {}; pass --key FILE",
            shown(name),
            shown(tried[0].display()),
            shown(tried[1].display())
        ))
    })
}

fn run_party(args: &RunArgs, p: &Program, party: &str, backend: Backend) -> CliResult<Ran> {
    let Some(me) = p.party(party) else {
        return Err(fail(format!(
            "--party {}: the program's parties are {}",
            shown(party),
            p.parties.join(", ")
        )));
    };
    let Some(parties_path) = &args.parties else {
        return Err(fail("--party needs --parties FILE"));
    };
    let key = match &args.key {
        Some(k) => k.clone(),
        None => default_key(parties_path, party)?,
    };
    if matches!(backend, Backend::Gmw | Backend::Arith) {
        return run_gmw_party(args, p, me, &key, backend);
    }
    let values: Vec<Bits> = input_values(p, &args.inputs, Some(me))?
        .into_iter()
        .flatten()
        .collect();
    let timeout = Duration::from_secs(args.timeout);
    let (mut ch, base) = connect_peer(
        parties_path,
        party,
        &key,
        "quorate run",
        &program_hash(p)?,
        timeout,
    )?;
    let garbler = me == 0;
    let session = fresh_session(&mut ch, &base, garbler, "quorate run session")?;
    let sched = schedule_circuit(&p.circuit);
    let start = Instant::now();
    let (o, setup): (Outcome, Duration) =
        run_role(&mut ch, &session, &sched, garbler, &values, disclosure(p))?;
    Ok(Ran {
        outputs: o.outputs,
        ands: o.ands,
        traffic: Some(o.traffic),
        setup,
        time: start.elapsed().saturating_sub(setup),
        mode: "party",
        backend: Backend::Yao,
    })
}

fn report(args: &RunArgs, p: &Program, r: &Ran) -> CliResult {
    let mut out = Out::new();
    let mut shown_outputs = serde_json::Map::new();
    let mut lines = Vec::new();
    for (o, v) in p.outputs.iter().zip(&r.outputs) {
        let Some(bits) = v else { continue };
        let value = decode(&o.ty, bits);
        lines.push(format!("{} = {value}", o.name));
        shown_outputs.insert(o.name.clone(), to_json(&value));
    }
    let (sent, received) = r.traffic.map_or((0, 0), |t| (t.sent, t.received));
    if args.json {
        let revealed: serde_json::Map<String, Json> = p
            .outputs
            .iter()
            .map(|o| {
                let names: Vec<&str> = o.to.iter().map(|&i| p.parties[i].as_str()).collect();
                (o.name.clone(), json!(names))
            })
            .collect();
        return out.json(&json!({
            "outputs": shown_outputs,
            "revealed_to": revealed,
            "mode": r.mode,
            "backend": if r.mode == "plaintext" { Json::Null } else { json!(r.backend.name()) },
            "and_gates": r.ands,
            "bytes_sent": sent,
            "bytes_received": received,
            "setup_ms": r.setup.as_secs_f64() * 1e3,
            "run_ms": r.time.as_secs_f64() * 1e3,
        }));
    }
    if lines.is_empty() {
        out.line("(no output is revealed to this party)")?;
    }
    for l in lines {
        out.line(l)?;
    }
    let traffic = match r.traffic {
        Some(_) if r.mode == "party" => format!("; sent {sent} bytes, received {received} bytes"),
        Some(_) if matches!(r.backend, Backend::Gmw | Backend::Arith) => format!(
            "; {}, {} parties sent {sent} bytes in all",
            r.backend.name(),
            p.parties.len()
        ),
        Some(_) => format!(
            "; {} -> {} {sent} bytes, {} -> {} {received} bytes",
            p.parties[0],
            p.parties.get(1).map_or("evaluator", String::as_str),
            p.parties.get(1).map_or("evaluator", String::as_str),
            p.parties[0]
        ),
        None => " (plaintext: no cryptography)".to_owned(),
    };
    let ring = p.mixed.as_ref().map_or(String::new(), |m| {
        let s = m.stats();
        format!(
            "{} ring products, {} truncations, {} A2B, {} B2A bits, ",
            s.mul, s.trunc, s.a2b, s.b2a_bits
        )
    });
    let _ = writeln!(
        std::io::stderr(),
        "{ring}{} AND gates{traffic}; setup {:.1} ms, run {:.2} ms",
        r.ands,
        r.setup.as_secs_f64() * 1e3,
        r.time.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Estimated bytes for a two-party garbled run: 32 per AND, 16 per garbler
/// input bit (labels), about 16 per evaluator input bit (correlated OT) plus
/// 1/8 for the choice bits, and 1/8 per output bit.
fn estimated_bytes(p: &Program) -> u64 {
    let s = p.circuit.stats();
    let (mut g_bits, mut e_bits) = (0u64, 0u64);
    for i in &p.inputs {
        if i.party == 0 {
            g_bits += i.ty.width();
        } else {
            e_bits += i.ty.width();
        }
    }
    32 * s.and + 16 * g_bits + 16 * e_bits + e_bits.div_ceil(8) + s.output_bits.div_ceil(8)
}

pub(crate) fn compile_cmd(args: &CompileArgs) -> CliResult {
    let (p, chosen) = load_for(&args.file, &args.params, args.backend)?;
    let s = *p.circuit.stats();
    let mut out = Out::new();
    if let Some(emit) = args.emit {
        let write = |w: &mut dyn Write| -> std::io::Result<()> {
            match emit {
                Emit::Bristol => bristol::write(&p.circuit, w),
                Emit::Ir => {
                    let text = serde_json::to_string_pretty(&ir_json(&p))
                        .map_err(std::io::Error::other)?;
                    writeln!(w, "{text}")
                }
            }
        };
        match &args.out {
            Some(path) => write_atomic(path, 0o644, args.force, |f| write(f))?,
            None => write(&mut std::io::stdout().lock())?,
        }
    }
    if !args.stats && args.emit.is_some() {
        return Ok(());
    }
    let backend: CliResult<(Backend, u64)> = Ok((
        chosen,
        match chosen {
            Backend::Gmw => gmw_estimated_bytes(&p),
            Backend::Arith => arith_estimated_bytes(&p),
            _ => estimated_bytes(&p),
        },
    ));
    let est = backend.as_ref().map_or(0, |b| b.1);
    if args.json {
        return out.json(&json!({
            "and_gates": s.and,
            "xor_gates": s.xor,
            "not_gates": s.not,
            "and_depth": s.and_depth,
            "input_bits": s.input_bits,
            "output_bits": s.output_bits,
            "estimated_bytes": est,
            "backend": backend.as_ref().map_or(Json::Null, |b| json!(b.0.name())),
            "backend_reason": backend.as_ref().map_or_else(|e| e.to_string(), |b| backend_why(&p, b.0).to_owned()),
            "rounds": p.circuit.stats().and_depth,
            "arith": p.mixed.as_ref().map_or(Json::Null, |m| {
                let ms = m.stats();
                json!({
                    "ring_products": ms.mul,
                    "truncations": ms.trunc,
                    "a2b": ms.a2b,
                    "b2a_bits": ms.b2a_bits,
                    "and_gates": ms.and,
                    "ops": ms.ops,
                })
            }),
            "interface": ir_json(&p),
        }));
    }
    out.line(format!("parties      {}", p.parties.join(", ")))?;
    for i in &p.inputs {
        out.line(format!(
            "input        {}.{}: {}",
            p.parties[i.party], i.name, i.ty
        ))?;
    }
    for o in &p.outputs {
        let to: Vec<&str> = o.to.iter().map(|&i| p.parties[i].as_str()).collect();
        out.line(format!(
            "output       {}: {} -> {}",
            o.name,
            o.ty,
            to.join(", ")
        ))?;
    }
    for (k, v) in &p.params {
        out.line(format!("param        {k} = {v}"))?;
    }
    if let Some(m) = &p.mixed {
        let ms = m.stats();
        out.line(format!("ring products {}", ms.mul))?;
        out.line(format!("truncations  {}", ms.trunc))?;
        out.line(format!("A2B          {}", ms.a2b))?;
        out.line(format!("B2A bits     {}", ms.b2a_bits))?;
        out.line(format!("AND gates    {}", ms.and))?;
        out.line(format!("ops          {}", ms.ops))?;
    } else {
        out.line(format!("AND gates    {}", s.and))?;
        out.line(format!("XOR gates    {}", s.xor))?;
        out.line(format!("AND depth    {}", s.and_depth))?;
        out.line(format!("input bits   {}", s.input_bits))?;
        out.line(format!("output bits  {}", s.output_bits))?;
    }
    match &backend {
        Ok((b, bytes)) => out.line(format!(
            "backend      {} ({}; about {} bytes, {:.2} MiB)",
            b.name(),
            backend_why(&p, *b),
            bytes,
            *bytes as f64 / (1 << 20) as f64
        ))?,
        Err(e) => out.line(format!("backend      none: {e}"))?,
    }
    Ok(())
}

/// Why `b` runs `p`, for `compile --stats`.
fn backend_why(p: &Program, b: Backend) -> &'static str {
    match (b, p.parties.len()) {
        (Backend::Arith, _) => {
            "additive shares: integer and fix arithmetic costs per product, not per bit; \
             comparisons through GMW"
        }
        (Backend::Yao, _) => "two parties: constant rounds, 32 bytes per AND gate",
        _ => "more than two parties, or asked: XOR shares, one round per AND layer",
    }
}

/// Estimated bytes for a GMW run among N parties, all parties' traffic:
/// per AND gate and ordered pair of parties, one random OT for the triple
/// (16 bytes and a 1-bit correction) and 2 bits opened; per input bit, 16
/// bytes of seed per peer per party; per output bit, a bit to each
/// recipient from each other party.
fn gmw_estimated_bytes(p: &Program) -> u64 {
    let s = p.circuit.stats();
    let n = p.parties.len() as u64;
    let pairs = n * n.saturating_sub(1);
    let per_and = gmw_bytes_per_and(n);
    let recipients: u64 = p
        .outputs
        .iter()
        .map(|o| o.ty.width() * o.to.len() as u64)
        .sum();
    s.and * per_and + 16 * pairs + (recipients * n.saturating_sub(1)).div_ceil(8)
}

/// GMW bytes per AND gate among `n` parties (see [`gmw_estimated_bytes`]).
fn gmw_bytes_per_and(n: u64) -> u64 {
    let pairs = n * n.saturating_sub(1);
    pairs * 16 + (pairs * 3).div_ceil(8)
}

/// Estimated bytes for an arith run, all parties' traffic. Per ordered
/// pair of parties: a `Z_2^128` Beaver triple costs 128 random OTs (16
/// bytes each) and Gilboa corrections of 128..1 bits (1032 bytes), its use
/// 32 bytes opened; a daBit `N - 1` triples and a bit; an exact truncation
/// 16 bytes opened, a GMW correction of `(N-1)(f+5)+f` AND gates and five
/// daBits; an A2B `63(N-1)` AND gates; an output 16 bytes per recipient.
pub(crate) fn arith_estimated_bytes(p: &Program) -> u64 {
    let Some(m) = &p.mixed else {
        return 0;
    };
    let s = m.stats();
    let n = p.parties.len() as u64;
    let pairs = n * n.saturating_sub(1);
    let per_and = gmw_bytes_per_and(n);
    let triple = pairs * (128 * 16 + 1032);
    let mul = triple + pairs * 32;
    // B2A of a bit: one OT (16 bytes of extension, a 16-byte correction)
    // per bit for each of the (N - 1)^2 (party, peer) steps.
    let dabit = n.saturating_sub(1).pow(2) * 32;
    let trunc = pairs * 16 + (n.saturating_sub(1) * 21 + 16) * per_and + 5 * dabit;
    let a2b = 63 * n.saturating_sub(1) * per_and;
    let outputs: u64 = m
        .outputs()
        .iter()
        .zip(&p.outputs)
        .map(|(port, o)| port.slots.len() as u64 * 16 * o.to.len() as u64)
        .sum();
    s.mul * mul + s.trunc * trunc + s.a2b * a2b + s.b2a_bits * dabit + s.and * per_and + outputs
}

fn ir_json(p: &Program) -> Json {
    json!({
        "parties": p.parties,
        "inputs": p.inputs.iter().map(|i| json!({
            "name": i.name, "party": p.parties[i.party], "type": i.ty.to_string(), "bits": i.ty.width(),
        })).collect::<Vec<_>>(),
        "outputs": p.outputs.iter().map(|o| json!({
            "name": o.name, "type": o.ty.to_string(), "bits": o.ty.width(),
            "to": o.to.iter().map(|&i| p.parties[i].clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "params": p.params.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "stats": {
            "and_gates": p.circuit.stats().and,
            "xor_gates": p.circuit.stats().xor,
            "and_depth": p.circuit.stats().and_depth,
        },
    })
}
