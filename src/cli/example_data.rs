//! `quorate example-data`: makes input files for the examples.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::json;

use super::tables::write_table;
use super::{CliResult, Out, fail, shown};

/// Features per bank in `examples/joint_risk.quo`.
pub(crate) const FEATURES: usize = 8;

/// The banks of `examples/joint_risk.quo`, in its `parties` order.
pub(crate) const BANKS: [&str; 3] = ["bank_a", "bank_b", "bank_c"];

#[derive(Debug, Subcommand)]
pub(crate) enum ExampleData {
    /// Per-customer features for examples/joint_risk.quo: one table per
    /// bank (CSV and Arrow IPC), rows aligned by customer_id.
    #[command(
        after_help = "Example:\n  quorate example-data joint-risk --customers 100000 --out data\n  \
quorate run examples/joint_risk.quo --param N=100000 \\\n    \
--input bank_a.features_a=@data/bank_a.arrow --input bank_b.features_b=@data/bank_b.arrow \\\n    \
--input bank_c.features_c=@data/bank_c.arrow"
    )]
    JointRisk(JointRiskArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JointRiskArgs {
    /// Number of customers (rows per bank).
    #[arg(long, default_value_t = 1000)]
    customers: usize,
    /// Directory for bank_a.csv, bank_a.arrow, bank_b.*, bank_c.*.
    #[arg(long)]
    out: PathBuf,
    /// Seed for reproducible data (default: fresh randomness).
    #[arg(long)]
    seed: Option<u64>,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: &ExampleData) -> CliResult {
    match cmd {
        ExampleData::JointRisk(a) => joint_risk(a),
    }
}

/// Standardised features (mean 0, spread about 1, a few customers far
/// out), as a bank would feed a scoring model; 4 decimals.
fn joint_risk(a: &JointRiskArgs) -> CliResult {
    if a.customers == 0 || a.customers > 10_000_000 {
        return Err(fail("--customers must be between 1 and 10000000"));
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| fail(format!("{}: {e}", shown(a.out.display()))))?;
    let mut rng = match a.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => rand::make_rng(),
    };
    let mut files = Vec::new();
    for bank in BANKS {
        let names: Vec<String> = (0..FEATURES).map(|k| format!("f{k}")).collect();
        let columns: Vec<Vec<f64>> = (0..FEATURES)
            .map(|_| {
                (0..a.customers)
                    .map(|_| {
                        let u: f64 = rng.random_range(-1.0..1.0);
                        let tail = if rng.random_bool(0.05) { 3.0 } else { 1.0 };
                        (u * 1.7 * tail * 1e4).round() / 1e4
                    })
                    .collect()
            })
            .collect();
        let base = a.out.join(bank);
        write_table(&base, &names, &columns, a.force)?;
        files.push(base.with_extension("csv"));
        files.push(base.with_extension("arrow"));
    }
    let mut out = Out::new();
    if a.json {
        return out.json(&json!({
            "customers": a.customers,
            "features": FEATURES,
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        }));
    }
    for f in &files {
        out.line(format!("wrote {}", shown(f.display())))?;
    }
    Ok(())
}
