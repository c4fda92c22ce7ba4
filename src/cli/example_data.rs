//! `quorate example-data`: makes input files for the examples.

use std::path::PathBuf;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
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
    /// Two parties' tables for private queries: a (id, x, v) and b (k, v,
    /// g), with a chosen share of a's keys also in b.
    #[command(
        after_help = "Writes DIR/a.EXT and DIR/b.EXT (--format parquet, arrow or csv). a has columns id (the key), x (an integer to filter on) and v (an integer value); b has k (the key), v and g (a group label, one of 8). --overlap of a's rows have their key in b too; keys are distinct within a table unless --duplicates is given (then about 5% of b's keys repeat). --string-keys writes keys as strings.\n\nExample:\n  quorate example-data tables --rows 1000000 --overlap 0.3 --out data\n  quorate query --sql \"SELECT COUNT(*) FROM a UNION ALL b\" --table a=@data/a.parquet --table b=@data/b.parquet"
    )]
    Tables(TablesArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum TableFormat {
    Parquet,
    Arrow,
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct TablesArgs {
    /// Rows per table.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Share of a's keys that are also in b (0 to 1).
    #[arg(long, default_value_t = 0.3)]
    overlap: f64,
    /// Directory for a.* and b.*.
    #[arg(long)]
    out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = TableFormat::Parquet)]
    format: TableFormat,
    /// Keys as strings ("cust-123") instead of integers.
    #[arg(long)]
    string_keys: bool,
    /// Let about 5% of b's keys repeat.
    #[arg(long)]
    duplicates: bool,
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
        ExampleData::Tables(a) => tables(a),
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

fn write_batch(
    path: &std::path::Path,
    batch: &RecordBatch,
    format: TableFormat,
    force: bool,
) -> CliResult {
    if path.exists() && !force {
        return Err(fail(format!(
            "{} exists; pass --force to replace it",
            shown(path.display())
        )));
    }
    let io = |e: &dyn std::fmt::Display| fail(format!("{}: {e}", shown(path.display())));
    let mut bytes: Vec<u8> = Vec::new();
    match format {
        TableFormat::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None)
                .map_err(|e| io(&e))?;
            w.write(batch).map_err(|e| io(&e))?;
            w.close().map_err(|e| io(&e))?;
        }
        TableFormat::Arrow => {
            let mut w = arrow_ipc::writer::FileWriter::try_new(&mut bytes, &batch.schema())
                .map_err(|e| io(&e))?;
            w.write(batch).map_err(|e| io(&e))?;
            w.finish().map_err(|e| io(&e))?;
        }
        TableFormat::Csv => {
            let mut w = arrow_csv::Writer::new(&mut bytes);
            w.write(batch).map_err(|e| io(&e))?;
        }
    }
    super::write_atomic(path, 0o644, force, |f| std::io::Write::write_all(f, &bytes))
}

fn tables(a: &TablesArgs) -> CliResult {
    use std::sync::Arc;
    if a.rows == 0 || a.rows > 50_000_000 {
        return Err(fail("--rows must be between 1 and 50000000"));
    }
    if !(0.0..=1.0).contains(&a.overlap) {
        return Err(fail("--overlap must be between 0 and 1"));
    }
    std::fs::create_dir_all(&a.out)
        .map_err(|e| fail(format!("{}: {e}", shown(a.out.display()))))?;
    let mut rng = match a.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => rand::make_rng(),
    };
    let n = a.rows;
    // Distinct keys: a permutation-like walk through a large space.
    let mut seen = std::collections::HashSet::with_capacity(2 * n);
    let mut fresh = |rng: &mut StdRng| loop {
        let k: i64 = rng.random_range(0..i64::MAX / 2);
        if seen.insert(k) {
            break k;
        }
    };
    let a_keys: Vec<i64> = (0..n).map(|_| fresh(&mut rng)).collect();
    let shared = ((n as f64) * a.overlap).round() as usize;
    let mut b_keys: Vec<i64> = a_keys[..shared].to_vec();
    while b_keys.len() < n {
        if a.duplicates && !b_keys.is_empty() && rng.random_bool(0.05) {
            let i = rng.random_range(0..b_keys.len());
            b_keys.push(b_keys[i]);
        } else {
            b_keys.push(fresh(&mut rng));
        }
    }
    // Shuffle b so matches are not in a's order.
    for i in (1..b_keys.len()).rev() {
        let j = rng.random_range(0..=i);
        b_keys.swap(i, j);
    }
    let key_col = |keys: &[i64]| -> (DataType, ArrayRef) {
        if a.string_keys {
            (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(
                    keys.iter().map(|k| format!("cust-{k}")),
                )),
            )
        } else {
            (DataType::Int64, Arc::new(Int64Array::from(keys.to_vec())))
        }
    };
    let ints = |rng: &mut StdRng, lo: i64, hi: i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.random_range(lo..hi)),
        ))
    };
    let (kt, ka) = key_col(&a_keys);
    let a_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", kt, false),
            Field::new("x", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ])),
        vec![ka, ints(&mut rng, 0, 100), ints(&mut rng, 0, 1000)],
    )
    .map_err(fail)?;
    let (kt, kb) = key_col(&b_keys);
    let groups: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|_| format!("g{}", rng.random_range(0..8))),
    ));
    let b_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("k", kt, false),
            Field::new("v", DataType::Int64, false),
            Field::new("g", DataType::Utf8, false),
        ])),
        vec![kb, ints(&mut rng, 0, 1000), groups],
    )
    .map_err(fail)?;
    let ext = match a.format {
        TableFormat::Parquet => "parquet",
        TableFormat::Arrow => "arrow",
        TableFormat::Csv => "csv",
    };
    let pa = a.out.join(format!("a.{ext}"));
    let pb = a.out.join(format!("b.{ext}"));
    write_batch(&pa, &a_batch, a.format, a.force)?;
    write_batch(&pb, &b_batch, a.format, a.force)?;
    let mut out = Out::new();
    if a.json {
        return out.json(&json!({
            "rows": n,
            "overlap": shared,
            "files": [pa.display().to_string(), pb.display().to_string()],
        }));
    }
    out.line(format!(
        "wrote {} and {} ({n} rows each, {shared} of a's keys in b)",
        shown(pa.display()),
        shown(pb.display())
    ))
}
