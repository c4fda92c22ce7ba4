//! Input tables for `quorate run --input PARTY.NAME=@FILE`: CSV, or Arrow
//! IPC files (`.arrow`, `.ipc`, `.feather`), one row per array element,
//! and the writers `quorate example-data` uses.
//!
//! A table for an input of type `[T; N]` has one value column; for
//! `[[T; F]; N]`, F value columns. A first column named `id` or
//! `customer_id` is a row key: it is checked to be present on every row and
//! otherwise ignored (rows are aligned across parties by position, the key
//! being the same customer at every bank).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Field, Schema};

use super::{CliResult, fail, shown};

/// Whether `path` names an Arrow IPC file.
pub(crate) fn is_arrow(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".arrow", ".ipc", ".feather"]
        .iter()
        .any(|e| lower.ends_with(e))
}

fn is_key(name: &str) -> bool {
    let n = name.trim().trim_matches('"').to_ascii_lowercase();
    n == "id" || n == "customer_id"
}

/// The rows of the table at `path` as text cells: `cols` value columns,
/// at most `n` rows (more is an error). The file's size is checked
/// against what `n` rows can take before it is read.
pub(crate) fn read_rows(path: &str, cols: usize, n: usize) -> CliResult<Vec<Vec<String>>> {
    let limit = (n as u64)
        .saturating_mul(cols as u64 + 1)
        .saturating_mul(64)
        .max(1 << 20);
    let size = std::fs::metadata(path)
        .map_err(|e| fail(format!("{}: {e}", shown(path))))?
        .len();
    if size > limit {
        return Err(fail(format!(
            "{}: {size} bytes is too large for {n} rows of {cols} values",
            shown(path)
        )));
    }
    let rows = if is_arrow(path) {
        read_arrow(path, cols)?
    } else {
        read_csv(path, cols)?
    };
    if rows.len() > n {
        return Err(fail(format!(
            "{}: {} rows, but the input has {n}",
            shown(path),
            rows.len()
        )));
    }
    Ok(rows)
}

fn read_csv(path: &str, cols: usize) -> CliResult<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("{}: {e}", shown(path))))?;
    let mut rows = Vec::new();
    let mut keyed = false;
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<String> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').trim().to_owned())
            .collect();
        if k == 0 && cells.iter().any(|c| c.parse::<f64>().is_err()) {
            // A header.
            keyed = cells.first().is_some_and(|c| is_key(c));
            if cells.len() != cols + usize::from(keyed) {
                return Err(fail(format!(
                    "{}:1: {} columns in the header; the input needs {cols} value column{}{}",
                    shown(path),
                    cells.len(),
                    if cols == 1 { "" } else { "s" },
                    if keyed { " after the key" } else { "" }
                )));
            }
            continue;
        }
        let skip = usize::from(keyed);
        if cells.len() != cols + skip {
            return Err(fail(format!(
                "{}:{}: {} columns, expected {}",
                shown(path),
                k + 1,
                cells.len(),
                cols + skip
            )));
        }
        rows.push(cells.into_iter().skip(skip).collect());
    }
    Ok(rows)
}

fn read_arrow(path: &str, cols: usize) -> CliResult<Vec<Vec<String>>> {
    let file = File::open(path).map_err(|e| fail(format!("{}: {e}", shown(path))))?;
    let reader = FileReader::try_new(file, None)
        .map_err(|e| fail(format!("{}: not an Arrow IPC file: {e}", shown(path))))?;
    let schema = reader.schema();
    let keyed = schema.fields().first().is_some_and(|f| is_key(f.name()));
    let skip = usize::from(keyed);
    if schema.fields().len() != cols + skip {
        return Err(fail(format!(
            "{}: {} columns; the input needs {cols} value column{}{}",
            shown(path),
            schema.fields().len(),
            if cols == 1 { "" } else { "s" },
            if keyed { " after the key" } else { "" }
        )));
    }
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(format!("{}: {e}", shown(path))))?;
        let mut columns: Vec<Vec<String>> = Vec::with_capacity(cols);
        for c in skip..skip + cols {
            let col = batch.column(c);
            let name = schema.field(c).name();
            if col.null_count() > 0 {
                return Err(fail(format!(
                    "{}: column `{}` has {} missing values",
                    shown(path),
                    shown(name),
                    col.null_count()
                )));
            }
            let cells: Vec<String> = match col.data_type() {
                DataType::Float64 => col
                    .as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|v| v.to_string())
                    .collect(),
                DataType::Int64 => col
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .map(|v| v.to_string())
                    .collect(),
                other => {
                    return Err(fail(format!(
                        "{}: column `{}` is {other}; use Float64 or Int64",
                        shown(path),
                        shown(name)
                    )));
                }
            };
            columns.push(cells);
        }
        for r in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(rows)
}

/// Writes `columns` (after a `customer_id` key column 0..rows) as CSV with
/// a header, and as an Arrow IPC file, at `base.csv` and `base.arrow`.
pub(crate) fn write_table(
    base: &Path,
    names: &[String],
    columns: &[Vec<f64>],
    force: bool,
) -> CliResult<()> {
    let rows = columns.first().map_or(0, Vec::len);
    let csv = base.with_extension("csv");
    super::write_atomic(&csv, 0o644, force, |f| {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "customer_id,{}", names.join(","))?;
        for r in 0..rows {
            write!(w, "{r}")?;
            for c in columns {
                write!(w, ",{}", c[r])?;
            }
            writeln!(w)?;
        }
        w.flush()
    })?;
    let mut fields = vec![Field::new("customer_id", DataType::Int64, false)];
    fields.extend(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Float64, false)),
    );
    let schema = Arc::new(Schema::new(fields));
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(0..rows as i64))];
    arrays.extend(
        columns
            .iter()
            .map(|c| Arc::new(Float64Array::from(c.clone())) as ArrayRef),
    );
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(fail)?;
    let arrow = base.with_extension("arrow");
    super::write_atomic(&arrow, 0o644, force, |f| {
        let mut w = FileWriter::try_new(f, &schema).map_err(std::io::Error::other)?;
        w.write(&batch).map_err(std::io::Error::other)?;
        w.finish().map_err(std::io::Error::other)
    })?;
    Ok(())
}
