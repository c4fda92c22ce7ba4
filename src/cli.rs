//! The `quorate` command line.

mod bench;
mod circuit;
mod keys;
mod mpc;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum CliError {
    /// It failed: the one-line message printed after `error: `.
    Failed(String),
    /// Whoever reads stdout went away (`quorate ... | head`): stop quietly.
    BrokenPipe,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Failed(msg) => f.write_str(msg),
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::from(1)
        }
    }
}
