//! `quorate keys`: party identities for TLS between sites.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use quorate_engine::net::tls::{Identity, parties_entry};
use serde_json::json;

use super::{CliError, CliResult, Out, shown, write_atomic};

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a party's private key and self-signed certificate, and print the
    /// entry to paste into the parties file every site shares.
    #[command(
        after_help = "Writes DIR/NAME.key (readable by you only) and DIR/NAME.crt. Every party runs \
this once on its own machine and sends the printed entry (never the key) to the others; the parties \
file pins each party's certificate, so no other machine can take its place.\n\n\
Example:\n  quorate keys gen --party alice --out keys/ --address alice.example.org:7000"
    )]
    Gen(GenArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// The party's name, as in the parties file.
    #[arg(long)]
    party: String,
    /// Directory to write NAME.key and NAME.crt into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where this party will listen, for the printed entry.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7000")]
    address: String,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
    /// Print JSON (paths and the entry) instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: KeysCommand) -> CliResult {
    match cmd {
        KeysCommand::Gen(args) => gen_keys(&args),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn gen_keys(args: &GenArgs) -> CliResult {
    if !valid_name(&args.party) {
        return Err(CliError::Failed(format!(
            "party name `{}` must be 1 to 64 letters, digits, `-` or `_`",
            shown(&args.party)
        )));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::Failed(format!("{}: {e}", shown(args.out.display()))))?;
    let key_path = args.out.join(format!("{}.key", args.party));
    let cert_path = args.out.join(format!("{}.crt", args.party));
    // Both checked before either is written; the writes check again.
    for p in [&key_path, &cert_path] {
        if p.exists() && !args.force {
            return Err(CliError::Failed(format!(
                "{} exists; pass --force to replace it",
                shown(p.display())
            )));
        }
    }
    let (_, pem) = Identity::generate(&args.party).map_err(|e| CliError::Failed(e.to_string()))?;
    // The key is readable by its owner only.
    write_atomic(&key_path, 0o600, args.force, |f| {
        f.write_all(pem.key_pem.as_bytes())
    })?;
    write_atomic(&cert_path, 0o644, args.force, |f| {
        f.write_all(pem.cert_pem.as_bytes())
    })?;
    let entry = parties_entry(&args.party, &args.address, &pem.cert_pem);
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "party": args.party,
            "key": key_path,
            "certificate": cert_path,
            "parties_entry": entry,
        }));
    }
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "wrote {} (private: keep it on this machine) and {}\nadd this entry to the parties file on every site:\n",
        shown(key_path.display()),
        shown(cert_path.display())
    );
    out.line(entry.trim_end())
}
