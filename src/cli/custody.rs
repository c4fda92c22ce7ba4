//! `quorate audit verify` and `quorate policy check`: the custody tools an
//! operator or auditor runs on a node's files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use quorate::custody::audit;
use quorate::custody::policy::{Amount, Policy, Request, Spend};
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
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .filter(|_| h.len().is_multiple_of(2))
                .ok_or_else(|| failed("--public-key is not hex"))?;
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
