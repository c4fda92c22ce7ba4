//! The `quorate` command line.

mod bench;
mod circuit;
mod custody;
mod example_data;
mod keys;
mod mpc;
mod node;
mod query;
mod run;
mod sign;
mod tables;

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quorate_engine::net::Channel;

/// Quorate: several parties compute a function of their private inputs and
/// learn only the result.
#[derive(Debug, Parser)]
#[command(
    name = "quorate",
    version,
    about = "Privacy-preserving joint computation: garbled circuits, secret sharing, threshold signing",
    long_about = "Quorate lets several parties compute a function of their private inputs and \
learn only the result: a Millionaires comparison, a joint risk score across banks, an aggregate \
over tables, a threshold signature. Functions compile to Boolean circuits (garbled) or \
arithmetic circuits (secret-shared).\n\n\
Every command runs all parties in this process by default.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, evaluate and convert Boolean circuits: Bristol files and built-ins.
    #[command(subcommand)]
    Circuit(circuit::CircuitCommand),
    /// Measure the engine on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Party keys and certificates for running parties on different machines.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Threshold keys and signatures on secp256k1 (ECDSA, BIP-340,
    /// taproot): no machine ever holds the whole key.
    #[command(subcommand)]
    Sign(sign::SignCommand),
    /// Run a Quorate program (.quo): every party in this process, or one
    /// party against the others over TLS.
    #[command(after_help = run::RUN_HELP)]
    Run(run::RunArgs),
    /// Compile a Quorate program and show what it costs, or write its circuit.
    #[command(
        after_help = "Examples:\n  quorate compile examples/millionaires.quo --stats\n  \
quorate compile examples/psi_small.quo --emit bristol -o psi.txt"
    )]
    Compile(run::CompileArgs),
    /// Make input files for the examples (CSV and Arrow IPC).
    #[command(subcommand)]
    ExampleData(example_data::ExampleData),
    /// A SQL aggregate over the parties' tables (Arrow, Parquet, CSV):
    /// only the result is revealed.
    #[command(after_help = query::QUERY_HELP)]
    Query(query::QueryArgs),
    /// Check a signer node's audit log (signed, hash-chained entries).
    #[command(subcommand)]
    Audit(custody::AuditCommand),
    /// Check a signer node's spending policy, or decide a request with it.
    #[command(subcommand)]
    Policy(custody::PolicyCommand),
    /// Signer nodes: set up, serve (HTTP API, node-to-node TLS), status,
    /// load runs, encrypted backups split among holders.
    #[command(subcommand)]
    Signer(custody::SignerCommand),
}

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum CliError {
    /// It failed: the one-line message printed after `error: `.
    Failed(String),
    /// A compile error, already rendered with its source line and caret.
    Diagnostic(String),
    /// Whoever reads stdout went away (`quorate ... | head`): stop quietly.
    BrokenPipe,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Failed(msg) | CliError::Diagnostic(msg) => f.write_str(msg),
            CliError::BrokenPipe => f.write_str("broken pipe"),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Failed(e.to_string())
        }
    }
}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError::Failed(s)
    }
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;

/// Any error as a failed command.
pub(crate) fn fail(e: impl fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// Runs two parties in this process: `here` on this thread, `there` on a
/// scoped thread, each owning its end of `pair`, so that a failure on one
/// side closes its channel and ends the other's wait at once. Each comes
/// with its name for errors; when both fail, both errors are reported (one
/// is often only the other's consequence).
pub(crate) fn two_parties<A, B, X>(
    pair: (Channel, Channel),
    (here_name, here): (&str, impl FnOnce(Channel) -> Result<A, X>),
    (there_name, there): (&str, impl FnOnce(Channel) -> Result<B, X> + Send),
) -> CliResult<(A, B)>
where
    B: Send,
    X: fmt::Display + Send,
{
    let (a, b) = pair;
    let (x, y) = std::thread::scope(|scope| {
        let y = scope.spawn(move || there(b));
        let x = here(a);
        (x, y.join())
    });
    let y = y.map_err(|_| fail(format!("the {there_name} thread panicked")))?;
    match (x, y) {
        (Ok(x), Ok(y)) => Ok((x, y)),
        (Err(x), Ok(_)) => Err(fail(x)),
        (Ok(_), Err(y)) => Err(fail(format!("{there_name}: {y}"))),
        (Err(x), Err(y)) => Err(fail(format!("{here_name}: {x}; {there_name}: {y}"))),
    }
}

/// Writes a file atomically: `fill` writes a fresh temporary file beside
/// `path`, which is synced and renamed into place, so a failure leaves
/// neither a half-written file nor a clobbered one. The file gets `mode` on
/// Unix; an existing `path` is replaced only if `replace`.
pub(crate) fn write_atomic(
    path: &Path,
    mode: u32,
    replace: bool,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> CliResult {
    let shown_path = shown(path.display());
    let failed = |e: io::Error| CliError::Failed(format!("{shown_path}: {e}"));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(failed)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    fill(tmp.as_file_mut()).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    if replace {
        tmp.persist(path).map_err(|e| failed(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                CliError::Failed(format!("{shown_path} exists; pass --force to replace it"))
            } else {
                failed(e.error)
            }
        })?;
    }
    Ok(())
}

/// User-supplied text (a path, an argument) as it goes into a one-line
/// message: control characters escaped.
pub(crate) fn shown(text: impl fmt::Display) -> String {
    let mut out = String::new();
    for c in text.to_string().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes to stdout; a closed pipe (`quorate ... | head`) ends the program
/// quietly instead of panicking like `println!`.
pub(crate) struct Out(io::StdoutLock<'static>);

impl Out {
    pub(crate) fn new() -> Self {
        Out(io::stdout().lock())
    }

    pub(crate) fn line(&mut self, text: impl fmt::Display) -> CliResult {
        writeln!(self.0, "{text}").map_err(Into::into)
    }

    pub(crate) fn json(&mut self, value: &serde_json::Value) -> CliResult {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.to_string()))?;
        self.line(text)
    }
}

/// Parses the arguments, runs the command, prints any error; the exit code
/// is 0 on success, 1 on a failed command, 2 on bad usage.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's message up to its first blank line, joined.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty())
                .collect();
            let _ = writeln!(io::stderr(), "{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Circuit(cmd) => circuit::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Sign(cmd) => sign::run(cmd),
        Command::Run(args) => run::run(&args),
        Command::Compile(args) => run::compile_cmd(&args),
        Command::ExampleData(cmd) => example_data::run(&cmd),
        Command::Query(args) => query::run(&args),
        Command::Audit(cmd) => custody::run_audit(cmd),
        Command::Policy(cmd) => custody::run_policy(cmd),
        Command::Signer(cmd) => custody::run_signer(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Diagnostic(text)) => {
            let _ = writeln!(io::stderr(), "{text}");
            ExitCode::from(1)
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::from(1)
        }
    }
}
