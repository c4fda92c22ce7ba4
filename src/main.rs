//! The `quorate` command: see `quorate --help`.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
