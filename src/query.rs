//! Private queries over the parties' Arrow, Parquet and CSV tables: each
//! party names only its own tables, and only the query's result is
//! revealed.
//!
//! - Aggregates across the parties' tables of one schema
//!   (`SELECT COUNT(*), SUM(v), AVG(v), MIN(v), MAX(v) FROM a UNION ALL b
//!   UNION ALL c WHERE ...`, and `HISTOGRAM(v, lo, hi, buckets)`). Each
//!   party filters its own rows (the predicate is public), computes its
//!   partial counts, sums and extremes, and secret-shares them among all
//!   parties ([`mpc`]); the shares are added and only the totals are
//!   opened, and MIN/MAX come out of a tournament of secret comparisons.
//! - Aggregates over a join of two parties' tables (`SELECT COUNT(*),
//!   SUM(b.v) FROM a JOIN b ON a.k = b.k WHERE ...`, [`join`]): circuit
//!   PSI with secret-shared payloads (`engine::psi::join`), revealing
//!   only the aggregates and the tables' sizes; `GROUP BY` a column of
//!   either table, with groups below a minimum size suppressed under MPC
//!   (their values are zeroed before anything is opened).
//!
//! Semantics: NULLs are skipped by every aggregate but `COUNT(*)` (as in
//! SQL); a predicate that is unknown (a NULL compared) drops the row.
//! Integer columns add exactly (modulo 2^64); floating-point columns add
//! in fixed point with 16 fractional bits (each value rounded by at most
//! 2^-17). `AVG` opens the sum and the count of the values it averages;
//! `MIN`/`MAX` of an empty set is NULL. Values must be below 2^61 in
//! magnitude (after scaling).

pub mod eval;
pub mod join;
pub mod mpc;
pub mod sql;
pub mod table;

use serde_json::{Value as Json, json};

pub use sql::{Plan, parse};
pub use table::{Table, Value};

/// Why a query cannot run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL does not parse or is outside the subset.
    #[error("SQL: {0}")]
    Sql(String),
    /// A table does not fit the query (a missing column, a wrong type).
    #[error("{0}")]
    Schema(String),
    /// A table file cannot be read.
    #[error("{0}")]
    Input(String),
    /// The protocol failed (a party dropped out, a malformed message).
    #[error("protocol: {0}")]
    Protocol(String),
    /// Not built yet (MIN/MAX over a join).
    #[error("{0}")]
    Unsupported(String),
}

/// A query's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Value>>,
}

impl QueryResult {
    /// `{"columns": [...], "rows": [[...], ...]}`.
    pub fn to_json(&self) -> Json {
        let cell = |v: &Value| match v {
            Value::Null => Json::Null,
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::Str(s) => json!(s),
            Value::Bool(b) => json!(b),
        };
        json!({
            "columns": self.columns,
            "rows": self.rows.iter().map(|r| r.iter().map(cell).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    }
}

impl QueryResult {
    /// The result as one Arrow RecordBatch: a column per result column,
    /// typed by its values (integers, floats, strings or booleans; NULLs
    /// allowed).
    pub fn to_record_batch(&self) -> Result<arrow_array::RecordBatch, QueryError> {
        use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        use std::sync::Arc;
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (c, name) in self.columns.iter().enumerate() {
            let col: Vec<&Value> = self.rows.iter().map(|r| &r[c]).collect();
            let has = |f: fn(&Value) -> bool| col.iter().any(|v| f(v));
            let (ty, arr): (DataType, ArrayRef) = if has(|v| matches!(v, Value::Str(_))) {
                let a: StringArray = col
                    .iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::Str(s) => Some(s.clone()),
                        Value::Int(i) => Some(i.to_string()),
                        Value::Float(f) => Some(f.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                    })
                    .collect();
                (DataType::Utf8, Arc::new(a))
            } else if has(|v| matches!(v, Value::Float(_))) {
                let a: Float64Array = col
                    .iter()
                    .map(|v| match v {
                        Value::Float(f) => Some(*f),
                        Value::Int(i) => Some(*i as f64),
                        _ => None,
                    })
                    .collect();
                (DataType::Float64, Arc::new(a))
            } else if has(|v| matches!(v, Value::Bool(_))) {
                let a: BooleanArray = col
                    .iter()
                    .map(|v| match v {
                        Value::Bool(b) => Some(*b),
                        _ => None,
                    })
                    .collect();
                (DataType::Boolean, Arc::new(a))
            } else {
                let a: Int64Array = col
                    .iter()
                    .map(|v| match v {
                        Value::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                (DataType::Int64, Arc::new(a))
            };
            fields.push(Field::new(name, ty, true));
            arrays.push(arr);
        }
        arrow_array::RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| QueryError::Input(e.to_string()))
    }
}

/// Runs a union query with every party in this process (party `i` holds
/// `tables[i]`), over in-memory channels; the result every party gets.
pub fn run_union_in_memory(
    q: &sql::UnionQuery,
    tables: &[&Table],
) -> Result<(QueryResult, u64), QueryError> {
    let kinds = eval::check_union(q, tables)?;
    if tables.len() < 2 {
        return Err(QueryError::Schema(
            "a private query takes at least two parties' tables".into(),
        ));
    }
    let locals: Vec<eval::Local> = tables
        .iter()
        .map(|t| eval::local(q, &kinds, t))
        .collect::<Result<_, _>>()?;
    let mins = eval::extremes(q);
    let name_refs: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let out = quorate_engine::arith::run_in_memory(&name_refs, |mut party| {
        let me = party.id();
        let r = mpc::combine(&mut party, &locals[me], &mins)?;
        let (sent, recv) = party.traffic();
        Ok((r, sent + recv))
    })
    .map_err(|e| QueryError::Protocol(e.to_string()))?;
    let ((additive, extremes), _) = &out[0];
    let bytes: u64 = out.iter().map(|(_, b)| b).sum::<u64>() / 2;
    Ok((eval::decode(q, &kinds, additive, extremes), bytes))
}
