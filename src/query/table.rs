//! A party's own tables: Arrow IPC, Parquet or CSV files read into Arrow
//! RecordBatches, and their columns as values.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::QueryError;

/// One value of a column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

/// A loaded table.
#[derive(Clone, Debug)]
pub struct Table {
    /// Its name in the query.
    pub name: String,
    /// Its schema.
    pub schema: SchemaRef,
    /// Its rows, in batches.
    pub batches: Vec<RecordBatch>,
}

/// The largest table file read.
pub const MAX_FILE_BYTES: u64 = 16 << 30;

fn err(path: &Path, e: impl std::fmt::Display) -> QueryError {
    QueryError::Input(format!("{}: {e}", path.display()))
}

impl Table {
    /// Reads `path` by its extension: `.arrow`/`.arrows`/`.ipc` (Arrow
    /// IPC file), `.parquet`, `.csv` (a header row; types inferred from
    /// the first 1000 rows).
    pub fn load(name: &str, path: &Path) -> Result<Table, QueryError> {
        let meta = std::fs::metadata(path).map_err(|e| err(path, e))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(err(path, "larger than 16 GiB"));
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let file = File::open(path).map_err(|e| err(path, e))?;
        let (schema, batches): (SchemaRef, Vec<RecordBatch>) = match ext.as_str() {
            "arrow" | "arrows" | "ipc" | "feather" => {
                let r =
                    arrow_ipc::reader::FileReader::try_new(file, None).map_err(|e| err(path, e))?;
                let schema = r.schema();
                let b = r.collect::<Result<Vec<_>, _>>().map_err(|e| err(path, e))?;
                (schema, b)
            }
            "parquet" | "pq" => {
                let b =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .map_err(|e| err(path, e))?;
                let schema = b.schema().clone();
                let r = b.build().map_err(|e| err(path, e))?;
                let b = r.collect::<Result<Vec<_>, _>>().map_err(|e| err(path, e))?;
                (schema, b)
            }
            "csv" => {
                let format = arrow_csv::reader::Format::default().with_header(true);
                let (schema, _) = format
                    .infer_schema(&file, Some(1000))
                    .map_err(|e| err(path, e))?;
                let file = File::open(path).map_err(|e| err(path, e))?;
                let schema = Arc::new(schema);
                let r = arrow_csv::ReaderBuilder::new(schema.clone())
                    .with_format(format)
                    .with_batch_size(65_536)
                    .build(file)
                    .map_err(|e| err(path, e))?;
                let b = r.collect::<Result<Vec<_>, _>>().map_err(|e| err(path, e))?;
                (schema, b)
            }
            _ => {
                return Err(err(
                    path,
                    "unknown table format (use .arrow, .parquet or .csv)",
                ));
            }
        };
        Ok(Table {
            name: name.to_owned(),
            schema,
            batches,
        })
    }

    /// A table from batches already in memory.
    pub fn from_batches(name: &str, schema: Arc<Schema>, batches: Vec<RecordBatch>) -> Table {
        Table {
            name: name.to_owned(),
            schema,
            batches,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The type of column `col`, or an error naming the table's columns.
    pub fn column_type(&self, col: &str) -> Result<&DataType, QueryError> {
        self.schema
            .field_with_name(col)
            .map(|f| f.data_type())
            .map_err(|_| {
                QueryError::Schema(format!(
                    "table `{}` has no column `{col}` (it has {})",
                    self.name,
                    self.schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Every value of column `col`, in row order.
    pub fn column(&self, col: &str) -> Result<Vec<Value>, QueryError> {
        self.column_type(col)?;
        let mut out = Vec::with_capacity(self.rows());
        for b in &self.batches {
            let a = b.column_by_name(col).ok_or_else(|| {
                QueryError::Schema(format!("a batch of `{}` lacks `{col}`", self.name))
            })?;
            values_of(a.as_ref(), &mut out).map_err(|t| {
                QueryError::Schema(format!(
                    "column `{}.{col}` is of type {t}, which queries do not read",
                    self.name
                ))
            })?;
        }
        Ok(out)
    }
}

macro_rules! push_all {
    ($a:expr, $ty:ty, $out:expr, $f:expr) => {{
        let arr = $a
            .as_any()
            .downcast_ref::<$ty>()
            .ok_or_else(|| $a.data_type().to_string())?;
        for i in 0..arr.len() {
            $out.push(if arr.is_null(i) {
                Value::Null
            } else {
                $f(arr.value(i))
            });
        }
    }};
}

fn values_of(a: &dyn Array, out: &mut Vec<Value>) -> Result<(), String> {
    match a.data_type() {
        DataType::Int8 => push_all!(a, Int8Array, out, |v| Value::Int(i64::from(v))),
        DataType::Int16 => push_all!(a, Int16Array, out, |v| Value::Int(i64::from(v))),
        DataType::Int32 => push_all!(a, Int32Array, out, |v| Value::Int(i64::from(v))),
        DataType::Int64 => push_all!(a, Int64Array, out, Value::Int),
        DataType::UInt8 => push_all!(a, UInt8Array, out, |v| Value::Int(i64::from(v))),
        DataType::UInt16 => push_all!(a, UInt16Array, out, |v| Value::Int(i64::from(v))),
        DataType::UInt32 => push_all!(a, UInt32Array, out, |v| Value::Int(i64::from(v))),
        DataType::UInt64 => push_all!(a, UInt64Array, out, |v: u64| i64::try_from(v)
            .map_or(Value::Float(v as f64), Value::Int)),
        DataType::Float32 => push_all!(a, Float32Array, out, |v| Value::Float(f64::from(v))),
        DataType::Float64 => push_all!(a, Float64Array, out, Value::Float),
        DataType::Utf8 => push_all!(a, StringArray, out, |v: &str| Value::Str(v.to_owned())),
        DataType::LargeUtf8 => {
            push_all!(a, LargeStringArray, out, |v: &str| Value::Str(v.to_owned()))
        }
        DataType::Boolean => push_all!(a, BooleanArray, out, Value::Bool),
        DataType::Null => out.extend(std::iter::repeat_n(Value::Null, a.len())),
        t => return Err(t.to_string()),
    }
    Ok(())
}

/// Whether a column type holds numbers (aggregates need them).
pub fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || *t == DataType::Null
}
