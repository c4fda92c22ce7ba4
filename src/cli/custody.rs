//! `quorate audit verify` and `quorate policy check`: the custody tools an
//! operator or auditor runs on a node's files.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use quorate::custody::policy::{Amount, Policy, Request, Spend};
use quorate::custody::{audit, backup};
use serde_json::json;

use super::{CliError, CliResult, Out, shown};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check a signer node's audit log: every signature, the hash chain and
    /// the order; names each edited, dropped, inserted or reordered entry.
    #[command(after_help = AUDIT_HELP)]
    Verify(VerifyArgs),
}

const AUDIT_HELP: &str = "Exit status 0: the log is intact; 1: a problem was found (each is \
printed with its line), or the file cannot be read. Give the node's public key with \
--public-key (from its configuration or `quorate signer status`): without it the key named by \
the log's own first entry is used, which only shows that the log is consistent with itself. \
Entries cut from the end of a log leave no trace in it: compare the printed head with the \
node's.\n\nExample:\n  quorate audit verify node/audit.log --public-key 02ab...";

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The audit log (JSON lines).
    log: PathBuf,
    /// The node's audit public key, SEC1 hex (33 or 65 bytes).
    #[arg(long, value_name = "HEX")]
    public_key: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check a policy file, and optionally decide one request with it.
    #[command(after_help = POLICY_HELP)]
    Check(CheckArgs),
}

const POLICY_HELP: &str = "Without a request, only checks the file (groups, tiers, allow-lists, \
limits). With --asset, --amount, --destination and --signers, prints the decision a node \
with this policy takes, and the rule that refuses. The policy file's format is described in \
the documentation of quorate::custody::policy.\n\nExample:\n  quorate policy check --policy \
policy.toml --asset ETH --amount 12.5 --destination 0xabc --signers treasury,ops,legal,board";

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The key's id (for the daily limits).
    #[arg(long, default_value = "default")]
    key: String,
    /// The asset, e.g. ETH.
    #[arg(long, requires_all = ["amount", "destination", "signers"])]
    asset: Option<String>,
    /// The amount, a decimal.
    #[arg(long)]
    amount: Option<String>,
    /// The destination address.
    #[arg(long)]
    destination: Option<String>,
    /// The signer nodes taking part, comma-separated.
    #[arg(long, value_delimiter = ',')]
    signers: Vec<String>,
    /// Already signed in the last 24 hours for this key and asset (for the
    /// daily limits).
    #[arg(long, value_name = "AMOUNT")]
    spent_today: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

pub(crate) fn run_audit(cmd: AuditCommand) -> CliResult {
    match cmd {
        AuditCommand::Verify(a) => verify(&a),
    }
}

pub(crate) fn run_policy(cmd: PolicyCommand) -> CliResult {
    match cmd {
        PolicyCommand::Check(a) => check(&a),
    }
}

fn verify(args: &VerifyArgs) -> CliResult {
    let key = match &args.public_key {
        Some(h) => {
            let bytes = super::sign::unhex("--public-key", h, None)?;
            Some(
                k256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes)
                    .map_err(|_| failed("--public-key is not a secp256k1 public key"))?,
            )
        }
        None => None,
    };
    let bytes = std::fs::read(&args.log)
        .map_err(|e| failed(format!("{}: {e}", shown(args.log.display()))))?;
    let report = audit::verify(&bytes, key.as_ref());
    let mut out = Out::new();
    if args.json {
        out.json(&json!(report))?;
    } else {
        for p in &report.problems {
            let seq = p.seq.map_or_else(String::new, |s| format!(" (entry {s})"));
            out.line(format!("line {}{seq}: {}", p.line, p.what))?;
        }
        let head = report.head.as_ref().map_or_else(
            || "empty".to_owned(),
            |(s, h)| format!("head entry {s}, hash {h}"),
        );
        let key = if report.key_pinned {
            "the given key"
        } else {
            "the key its first entry names (not pinned: give --public-key)"
        };
        out.line(format!(
            "{}: {} entries, {}; signatures checked with {key}",
            if report.problems.is_empty() {
                "intact"
            } else {
                "TAMPERED"
            },
            report.entries,
            head
        ))?;
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(failed(format!(
            "{}: {} problem{} found",
            shown(args.log.display()),
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        )))
    }
}

fn check(args: &CheckArgs) -> CliResult {
    let text = std::fs::read_to_string(&args.policy)
        .map_err(|e| failed(format!("{}: {e}", shown(args.policy.display()))))?;
    let policy = Policy::from_toml(&text)
        .map_err(|e| failed(format!("{}: {e}", shown(args.policy.display()))))?;
    let mut out = Out::new();
    let (Some(asset), Some(amount), Some(destination)) =
        (&args.asset, &args.amount, &args.destination)
    else {
        let summary = json!({
            "valid": true,
            "groups": policy.groups.len(),
            "tiers": policy.tiers.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            "allow_lists": policy.allows.len(),
            "limits": policy.limits.len(),
        });
        if args.json {
            return out.json(&summary);
        }
        return out.line(format!(
            "{}: valid; {} groups, tiers {}, {} allow-lists, {} limits",
            shown(args.policy.display()),
            policy.groups.len(),
            policy
                .tiers
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            policy.allows.len(),
            policy.limits.len()
        ));
    };
    let amount: Amount = amount.parse().map_err(failed)?;
    const NOW: u64 = 1 << 40;
    let history: Vec<Spend> = match &args.spent_today {
        Some(s) => vec![Spend {
            at: NOW - 1,
            key: args.key.clone(),
            asset: asset.clone(),
            amount: s.parse().map_err(failed)?,
        }],
        None => Vec::new(),
    };
    let request = Request {
        key: &args.key,
        asset,
        amount,
        destination,
        signers: &args.signers,
    };
    let decision = policy.decide(&request, NOW, &history);
    if args.json {
        out.json(&match &decision {
            Ok(tier) => json!({"allowed": true, "tier": tier}),
            Err(r) => json!({"allowed": false, "rule": r.rule, "reason": r.reason}),
        })?;
    } else {
        match &decision {
            Ok(tier) => out.line(format!("allowed by tier {tier}"))?,
            Err(r) => out.line(r.to_string())?,
        }
    }
    decision
        .map(drop)
        .map_err(|r| failed(format!("the request is {r}")))
}

#[derive(Debug, Subcommand)]
pub(crate) enum SignerCommand {
    /// Set up a signer node's directory: TLS identity, passphrase,
    /// node.toml and an API token.
    #[command(after_help = super::node::INIT_HELP)]
    Init(super::node::InitArgs),
    /// Run a signer node: node-to-node TLS and the HTTP API.
    #[command(after_help = super::node::SERVE_HELP)]
    Serve(super::node::ServeArgs),
    /// Ask a running node how it and its peers are.
    #[command(after_help = super::node::STATUS_HELP)]
    Status(super::node::StatusArgs),
    /// Send a node many signature requests and measure them.
    #[command(after_help = super::node::LOAD_HELP)]
    Load(super::node::LoadArgs),
    /// Export a node's directory as an encrypted backup whose key is split
    /// among backup holders (any -t of -n pieces restore it).
    #[command(after_help = BACKUP_HELP)]
    Backup(BackupArgs),
    /// Restore a node's directory from a backup and a quorum of pieces.
    #[command(after_help = RESTORE_HELP)]
    Restore(RestoreArgs),
}

const BACKUP_HELP: &str = "Every regular file under --dir (share files, session logs, audit \
log, configuration) goes into one file, backup-ID.qbak, sealed with ChaCha20-Poly1305 under a \
random key; the key is split by Shamir into -n pieces, piece-I.json, one per backup holder. \
Hand each piece to its holder and delete it here: the pieces are secret, the backup file is \
not. Share files stay encrypted under their passphrase inside the backup too.\n\nExample:\n  \
quorate signer backup --dir node/ -t 2 -n 3 --out backup/";

const RESTORE_HELP: &str = "Give at least the backup's threshold of pieces; a wrong piece is \
named. The files are written under --dir, which must be empty or absent (or --force). Every \
restored share file is marked restored (share-I.restored beside it): ECDSA signing refuses it \
until `quorate sign refresh` or `reshare` replaces it, so the restored node can never redo a \
signing session consumed after the backup was taken.\n\nExample:\n  quorate signer restore \
--backup backup/backup-1a2b3c4d.qbak --pieces piece-1.json,piece-3.json --dir node/";

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The node's directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Pieces needed to restore (2 <= t <= n).
    #[arg(short = 't', long = "threshold", value_parser = clap::value_parser!(u16).range(2..=255))]
    threshold: u16,
    /// Backup holders (pieces made).
    #[arg(short = 'n', long = "holders", value_parser = clap::value_parser!(u16).range(2..=255))]
    holders: u16,
    /// Where to write the backup and the pieces.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup file.
    #[arg(long, value_name = "FILE")]
    backup: PathBuf,
    /// Piece files, comma-separated (at least the threshold's number).
    #[arg(long, value_delimiter = ',', required = true, value_name = "FILE,FILE")]
    pieces: Vec<PathBuf>,
    /// The node's directory to restore into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Restore into a directory that is not empty, replacing its files.
    #[arg(long)]
    force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_signer(cmd: SignerCommand) -> CliResult {
    match cmd {
        SignerCommand::Init(a) => super::node::init(&a),
        SignerCommand::Serve(a) => super::node::serve(&a),
        SignerCommand::Status(a) => super::node::status(&a),
        SignerCommand::Load(a) => super::node::load(&a),
        SignerCommand::Backup(a) => backup(&a),
        SignerCommand::Restore(a) => restore(&a),
    }
}

/// Every regular file under `root`, by path relative to it (`/`-separated),
/// in name order; symbolic links are refused.
fn walk(root: &Path) -> Result<Vec<(String, PathBuf)>, CliError> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root.to_path_buf())];
    while let Some((rel, dir)) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| failed(format!("{}: {e}", shown(dir.display()))))?;
        for e in entries {
            let e = e.map_err(|e| failed(format!("{}: {e}", shown(dir.display()))))?;
            let name = e.file_name().into_string().map_err(|_| {
                failed(format!(
                    "{}: a file name that is not UTF-8",
                    shown(dir.display())
                ))
            })?;
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = e
                .file_type()
                .map_err(|e| failed(format!("{}: {e}", shown(dir.display()))))?;
            if kind.is_dir() {
                stack.push((rel, e.path()));
            } else if kind.is_file() {
                out.push((rel, e.path()));
            } else {
                return Err(failed(format!(
                    "{}: not a regular file or directory (a link?); a backup holds only files",
                    shown(e.path().display())
                )));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn backup(args: &BackupArgs) -> CliResult {
    if args.threshold > args.holders {
        return Err(failed(format!(
            "the threshold ({}) cannot exceed the number of holders ({})",
            args.threshold, args.holders
        )));
    }
    let mut files = Vec::new();
    let mut total = 0usize;
    for (rel, path) in walk(&args.dir)? {
        let data =
            std::fs::read(&path).map_err(|e| failed(format!("{}: {e}", shown(path.display()))))?;
        total += data.len();
        if total > backup::MAX_BACKUP {
            return Err(failed(format!(
                "{}: more than {} MiB of files; a node directory should not be",
                shown(args.dir.display()),
                backup::MAX_BACKUP >> 20
            )));
        }
        files.push((rel, data));
    }
    if files.is_empty() {
        return Err(failed(format!(
            "{}: no files to back up",
            shown(args.dir.display())
        )));
    }
    let (sealed, pieces) = backup::create(&files, args.threshold, args.holders).map_err(failed)?;
    let (id, ..) = backup::describe(&sealed).map_err(failed)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| failed(format!("{}: {e}", shown(args.out.display()))))?;
    let file = args.out.join(format!("backup-{}.qbak", &id[..8]));
    super::write_atomic(&file, 0o644, false, |f| f.write_all(&sealed))?;
    let mut piece_files = Vec::new();
    for p in &pieces {
        let path = args.out.join(format!("piece-{}.json", p.index));
        let text = p.to_text();
        super::write_atomic(&path, 0o600, false, |f| f.write_all(text.as_bytes()))?;
        piece_files.push(path.display().to_string());
    }
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "backup": file.display().to_string(),
            "id": id,
            "files": files.len(),
            "threshold": args.threshold,
            "pieces": piece_files,
        }));
    }
    out.line(format!(
        "backed up {} files into {}; pieces {} ({} of {} restore it): give each to its holder and \
         delete it here",
        files.len(),
        shown(file.display()),
        piece_files.iter().map(shown).collect::<Vec<_>>().join(", "),
        args.threshold,
        args.holders
    ))
}

fn restore(args: &RestoreArgs) -> CliResult {
    let read =
        |p: &Path| std::fs::read(p).map_err(|e| failed(format!("{}: {e}", shown(p.display()))));
    let sealed = read(&args.backup)?;
    let mut pieces = Vec::new();
    for p in &args.pieces {
        let text = zeroize::Zeroizing::new(
            String::from_utf8(read(p)?)
                .map_err(|_| failed(format!("{}: not a backup piece", shown(p.display()))))?,
        );
        pieces.push(
            backup::Piece::from_text(&text)
                .map_err(|e| failed(format!("{}: {e}", shown(p.display()))))?,
        );
    }
    let files = backup::open(&sealed, &pieces).map_err(failed)?;
    let occupied = std::fs::read_dir(&args.dir).is_ok_and(|mut d| d.next().is_some());
    if occupied && !args.force {
        return Err(failed(format!(
            "{} is not empty; restore into a new directory, or pass --force",
            shown(args.dir.display())
        )));
    }
    let mut marked = Vec::new();
    for (rel, data) in &files {
        let path = args.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| failed(format!("{}: {e}", shown(parent.display()))))?;
        }
        super::write_atomic(&path, 0o600, true, |f| f.write_all(data))?;
        if rel.ends_with(".qshr") {
            let marker = path.with_extension("restored");
            super::write_atomic(&marker, 0o644, true, |f| {
                f.write_all(
                    b"restored from a backup: refresh or reshare this key before ECDSA signing\n",
                )
            })?;
            marked.push(path.display().to_string());
        }
    }
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "restored": files.len(),
            "dir": args.dir.display().to_string(),
            "shares_marked_restored": marked,
        }));
    }
    out.line(format!(
        "restored {} files into {}; {} share files marked restored: run `quorate sign refresh` \
         (or reshare) before signing with them",
        files.len(),
        shown(args.dir.display()),
        marked.len()
    ))
}
