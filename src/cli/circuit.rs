//! `quorate circuit`: inspect, evaluate and convert Boolean circuits.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use quorate_circuits::bristol::{self, BitOrder, Format, ReadOptions, SourceGates};
use quorate_circuits::library::{self, BUILTINS};
use quorate_circuits::{Bits, Circuit, GateKind, Input, evaluate};
use serde_json::json;

use super::{CliError, CliResult, Out, shown, write_atomic};

const VALUES_HELP: &str = "\
Values are hex: the big-endian integer whose bit k drives wire k of the input \
(bit 0 the least significant), with exactly ceil(width/4) digits. For AES and \
SHA circuits this is the byte string as FIPS-197 and FIPS 180-4 write it.";

#[derive(Debug, Subcommand)]
pub(crate) enum CircuitCommand {
    /// Gates by kind, AND count, AND-depth, wires, inputs and outputs.
    #[command(
        after_help = "Example:\n  quorate circuit stats builtin:aes128\n  quorate circuit stats aes_128.txt --json"
    )]
    Stats(StatsArgs),
    /// Evaluate a circuit in the clear (the reference semantics every protocol
    /// is tested against) and print each output as hex, one per line.
    #[command(after_help = format!("{VALUES_HELP}\n\nExample:\n  quorate circuit eval builtin:aes128 \
--input 000102030405060708090a0b0c0d0e0f --input 00112233445566778899aabbccddeeff\n  \
prints 69c4e0d86a7b0430d8cdb78070b4c55a"))]
    Eval(EvalArgs),
    /// Write a circuit (a Bristol file of either format, or a built-in) as a
    /// Bristol Fashion file.
    Convert(ConvertArgs),
    /// List the built-in circuits, usable as `builtin:NAME` wherever a file is.
    List(ListArgs),
    /// Run a circuit between two parties with Yao's garbled circuits: by
    /// default both in this process (in memory, or loopback TLS with --tcp);
    /// with --role, one party against another process. Prints the outputs
    /// as hex, one per line, then AND gates, bytes each way and time.
    #[command(after_help = super::mpc::MPC_HELP)]
    Mpc(super::mpc::MpcArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Detect from the header.
    Auto,
    /// Bristol Fashion.
    Fashion,
    /// The old Bristol format.
    Old,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BitOrderArg {
    /// The format's usual order: lsb for Bristol Fashion, msb for the old format.
    Auto,
    /// Bit 0 (least significant) of a value is its first wire.
    Lsb,
    /// The most significant bit of the first byte is the first wire.
    Msb,
}

#[derive(Debug, Args)]
pub(crate) struct Source {
    /// A Bristol circuit file (Bristol Fashion or the old Bristol format,
    /// detected from the header), or `builtin:NAME` (see `quorate circuit list`).
    #[arg(value_name = "FILE")]
    file: String,
    /// The file's format, if detection guesses wrong.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// How the file numbers the bits of values. Old-format files disagree:
    /// AES-non-expanded.txt and sha-256.txt are msb, adder_32bit.txt is lsb.
    #[arg(long, value_enum, default_value_t = BitOrderArg::Auto)]
    bit_order: BitOrderArg,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    source: Source,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    source: Source,
    /// One value per circuit input, in order, as hex (see below).
    #[arg(long = "input", short = 'i', value_name = "HEX")]
    inputs: Vec<String>,
    /// Print `{"outputs": ["<hex>", ...]}` instead of one hex value per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    source: Source,
    /// Where to write the Bristol Fashion file (`-` for stdout).
    #[arg(long, short = 'o', value_name = "PATH")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A circuit and where it came from.
pub(crate) struct Loaded {
    pub(crate) circuit: Circuit,
    /// `Bristol Fashion`, `old Bristol format`, `built-in`.
    origin: String,
    /// Machine-readable origin for `--json`.
    origin_id: &'static str,
    bit_order: BitOrder,
    source_gates: Option<SourceGates>,
}

pub(crate) fn load_circuit(src: &Source) -> CliResult<Loaded> {
    if let Some(name) = src.file.strip_prefix("builtin:") {
        let builtin = library::builtin(name).ok_or_else(|| {
            let names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
            CliError::Failed(format!(
                "no built-in circuit `{}`; there are: {}",
                shown(name),
                names.join(", ")
            ))
        })?;
        let circuit = builtin
            .build()
            .map_err(|e| CliError::Failed(format!("building `{name}`: {e}")))?;
        return Ok(Loaded {
            circuit,
            origin: "built-in".into(),
            origin_id: "builtin",
            bit_order: BitOrder::LsbFirst,
            source_gates: None,
        });
    }
    let options = ReadOptions {
        format: match src.format {
            FormatArg::Auto => None,
            FormatArg::Fashion => Some(Format::Fashion),
            FormatArg::Old => Some(Format::Old),
        },
        bit_order: match src.bit_order {
            BitOrderArg::Auto => None,
            BitOrderArg::Lsb => Some(BitOrder::LsbFirst),
            BitOrderArg::Msb => Some(BitOrder::MsbFirst),
        },
        max_wires: None,
    };
    let path = Path::new(&src.file);
    let l = bristol::read_file(path, &options)
        .map_err(|e| CliError::Failed(format!("{}: {e}", shown(path.display()))))?;
    Ok(Loaded {
        circuit: l.circuit,
        origin: l.format.to_string(),
        origin_id: match l.format {
            Format::Fashion => "bristol-fashion",
            Format::Old => "bristol-old",
        },
        bit_order: l.bit_order,
        source_gates: Some(l.source_gates),
    })
}

pub(crate) fn run(cmd: CircuitCommand) -> CliResult {
    match cmd {
        CircuitCommand::Stats(args) => stats(&args),
        CircuitCommand::Eval(args) => eval(&args),
        CircuitCommand::Convert(args) => convert(&args),
        CircuitCommand::List(args) => list(&args),
        CircuitCommand::Mpc(args) => super::mpc::mpc(&args),
    }
}

const KINDS: [GateKind; 4] = [GateKind::Xor, GateKind::And, GateKind::Not, GateKind::Const];

fn stats(args: &StatsArgs) -> CliResult {
    let l = load_circuit(&args.source)?;
    let c = &l.circuit;
    let s = c.stats();
    let iface = c.interface();
    let mut out = Out::new();
    if args.json {
        let mut gates = serde_json::Map::new();
        for k in KINDS {
            gates.insert(k.name().to_lowercase(), json!(s.count(k)));
        }
        gates.insert("total".into(), json!(s.gates()));
        let mut v = json!({
            "file": args.source.file,
            "format": l.origin_id,
            "bit_order": match l.bit_order { BitOrder::LsbFirst => "lsb", BitOrder::MsbFirst => "msb" },
            "gates": gates,
            "and_count": s.and,
            "and_depth": s.and_depth,
            "wires": s.wires,
            "parties": iface.parties.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "inputs": iface.inputs.iter().map(|i| json!({
                "name": i.name,
                "party": iface.parties[usize::from(i.party.0)].name,
                "width": i.width,
            })).collect::<Vec<_>>(),
            "outputs": iface.outputs.iter().map(|o| json!({"name": o.name, "width": o.width()})).collect::<Vec<_>>(),
        });
        if let Some(g) = l.source_gates {
            v["source_gates"] = json!({
                "XOR": g.xor, "AND": g.and, "INV": g.inv, "EQ": g.eq, "EQW": g.eqw, "MAND": g.mand,
            });
        }
        return out.json(&v);
    }
    let by_kind: Vec<String> = KINDS
        .iter()
        .filter(|&&k| s.count(k) > 0)
        .map(|&k| format!("{} {}", s.count(k), k.name()))
        .collect();
    out.line(format!("circuit    {} ({})", args.source.file, l.origin))?;
    out.line(format!("gates      {} ({})", s.gates(), by_kind.join(", ")))?;
    if let Some(g) = l.source_gates {
        if g.eqw > 0 {
            out.line(format!(
                "           the file's {} EQW lines are copies, read as aliases",
                g.eqw
            ))?;
        }
        if g.mand > 0 {
            out.line(format!(
                "           the file's {} MAND lines hold {} of the AND gates",
                g.mand, g.mand_ands
            ))?;
        }
    }
    out.line(format!("AND gates  {}", s.and))?;
    out.line(format!("AND depth  {}", s.and_depth))?;
    out.line(format!("wires      {}", s.wires))?;
    for (k, input) in iface.inputs.iter().enumerate() {
        let party = &iface.parties[usize::from(input.party.0)].name;
        let head = if k == 0 { "inputs " } else { "       " };
        out.line(format!(
            "{head}    {} (party {party}): {} bits",
            input.name, input.width
        ))?;
    }
    for (k, output) in iface.outputs.iter().enumerate() {
        let head = if k == 0 { "outputs" } else { "       " };
        out.line(format!(
            "{head}    {}: {} bits",
            output.name,
            output.width()
        ))?;
    }
    Ok(())
}

/// Parses one hex value per input, `texts` given with `flag`: the count,
/// then each width, checked with the input named in the error.
pub(crate) fn parse_inputs(
    inputs: &[&Input],
    texts: &[String],
    flag: &str,
) -> CliResult<Vec<Bits>> {
    if inputs.len() != texts.len() {
        let names: Vec<String> = inputs
            .iter()
            .map(|i| format!("{} ({} bits)", i.name, i.width))
            .collect();
        return Err(CliError::Failed(format!(
            "the circuit takes {} input{} ({flag}){}{}; {} given",
            inputs.len(),
            if inputs.len() == 1 { "" } else { "s" },
            if names.is_empty() { "" } else { ": " },
            names.join(", "),
            texts.len()
        )));
    }
    inputs
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(k, (input, text))| {
            Bits::from_hex(text.trim(), input.width as usize).map_err(|e| {
                CliError::Failed(format!(
                    "{flag} {} ({}, {} bits): {e}",
                    k + 1,
                    input.name,
                    input.width
                ))
            })
        })
        .collect()
}

fn eval(args: &EvalArgs) -> CliResult {
    let l = load_circuit(&args.source)?;
    let iface = l.circuit.interface();
    let inputs: Vec<&Input> = iface.inputs.iter().collect();
    let values = parse_inputs(&inputs, &args.inputs, "--input")?;
    let outputs = evaluate(&l.circuit, &values).map_err(|e| CliError::Failed(e.to_string()))?;
    let mut out = Out::new();
    if args.json {
        let hex: Vec<String> = outputs.iter().map(Bits::to_hex).collect();
        return out.json(&json!({ "outputs": hex }));
    }
    for o in &outputs {
        out.line(o.to_hex())?;
    }
    Ok(())
}

fn convert(args: &ConvertArgs) -> CliResult {
    let l = load_circuit(&args.source)?;
    if args.out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        bristol::write(&l.circuit, &mut stdout)?;
        return Ok(stdout.flush()?);
    }
    let shown_out = shown(args.out.display());
    write_atomic(&args.out, 0o644, true, |f| bristol::write(&l.circuit, f))?;
    let s = l.circuit.stats();
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "wrote {} ({} gates, {} AND) as Bristol Fashion",
        shown_out,
        s.gates(),
        s.and
    );
    Ok(())
}

fn list(args: &ListArgs) -> CliResult {
    let mut out = Out::new();
    if args.json {
        let items: Vec<_> = BUILTINS
            .iter()
            .map(|b| json!({"name": format!("builtin:{}", b.name), "description": b.description}))
            .collect();
        return out.json(&json!({ "builtins": items }));
    }
    for b in BUILTINS {
        out.line(format!("builtin:{:<14} {}", b.name, b.description))?;
    }
    Ok(())
}
