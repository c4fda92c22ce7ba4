//! What each party computes on its own rows (the row filter and the
//! partial aggregates it contributes), the decoding of the combined
//! result, and the plaintext evaluator tests compare the private runs to.

use std::collections::BTreeSet;

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value as SqlValue};

use super::sql::{Agg, Item, UnionQuery, column_ref};
use super::table::{Table, Value, is_numeric};
use super::{QueryError, QueryResult};

/// Fractional bits of floating-point columns in the shared sums: a value
/// is rounded to the nearest multiple of 2^-16 (error at most 2^-17 each).
pub const FRAC_BITS: u32 = 16;

/// The largest magnitude of a value in units (after scaling); MIN and MAX
/// compare differences, which must fit in 63 bits.
pub const MAX_UNITS: i64 = 1 << 61;

/// How a numeric column is carried: integers exactly, floats in fixed
/// point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Integers.
    Int,
    /// Fixed point with [`FRAC_BITS`] fractional bits.
    Fixed,
}

impl Kind {
    fn units(self, v: &Value) -> Result<Option<i64>, QueryError> {
        let u = match (self, v) {
            (_, Value::Null) => return Ok(None),
            (Kind::Int, Value::Int(x)) => *x,
            (Kind::Fixed, Value::Int(x)) => x.saturating_mul(1 << FRAC_BITS),
            (Kind::Fixed, Value::Float(x)) => {
                let s = (x * f64::from(1u32 << FRAC_BITS)).round();
                if !s.is_finite() || s.abs() >= MAX_UNITS as f64 {
                    return Err(QueryError::Input(format!("value {x} is out of range")));
                }
                s as i64
            }
            (_, other) => {
                return Err(QueryError::Input(format!("{other:?} in a numeric column")));
            }
        };
        if u.unsigned_abs() >= MAX_UNITS as u64 {
            return Err(QueryError::Input(format!(
                "value {u} is out of the range queries add up (|v| < 2^61 units)"
            )));
        }
        Ok(Some(u))
    }

    fn decode(self, u: i64) -> Value {
        match self {
            Kind::Int => Value::Int(u),
            Kind::Fixed => Value::Float(u as f64 / f64::from(1u32 << FRAC_BITS)),
        }
    }
}

/// Checks a union query against every table (each column aggregated is
/// numeric, of one kind in all tables; predicates name columns that
/// exist): clear errors before any protocol runs. Returns each item's
/// column kind.
pub fn check_union(q: &UnionQuery, tables: &[&Table]) -> Result<Vec<Option<Kind>>, QueryError> {
    for t in tables {
        for c in filter_columns(q.filter.as_ref())? {
            t.column_type(&c)?;
        }
    }
    let mut kinds = Vec::new();
    for item in &q.items {
        let Some(col) = item.agg.column().map(super::sql::bare) else {
            kinds.push(None);
            continue;
        };
        let mut kind = None;
        for t in tables {
            let ty = t.column_type(col)?;
            if matches!(item.agg, Agg::Count(_)) {
                continue;
            }
            if !is_numeric(ty) {
                return Err(QueryError::Schema(format!(
                    "`{}` needs a numeric column; `{}.{col}` is {ty}",
                    item.name, t.name
                )));
            }
            let k = if ty.is_floating() {
                Kind::Fixed
            } else {
                Kind::Int
            };
            match kind {
                None => kind = Some(k),
                Some(prev) if prev != k => {
                    return Err(QueryError::Schema(format!(
                        "column `{col}` is an integer in one table and floating point in \
                         another: the tables of a UNION ALL share one schema"
                    )));
                }
                _ => {}
            }
        }
        kinds.push(kind.or(Some(Kind::Int)));
    }
    Ok(kinds)
}

/// The columns a predicate names.
pub fn filter_columns(e: Option<&Expr>) -> Result<BTreeSet<String>, QueryError> {
    fn walk(e: &Expr, out: &mut BTreeSet<String>) -> Result<(), QueryError> {
        if let Some((_, c)) = column_ref(e) {
            out.insert(c);
            return Ok(());
        }
        match e {
            Expr::BinaryOp { left, right, .. } => {
                walk(left, out)?;
                walk(right, out)
            }
            Expr::UnaryOp { expr, .. }
            | Expr::Nested(expr)
            | Expr::IsNull(expr)
            | Expr::IsNotNull(expr) => walk(expr, out),
            Expr::Value(_) => Ok(()),
            other => Err(QueryError::Sql(format!(
                "not in the supported SQL subset: predicate `{other}`"
            ))),
        }
    }
    let mut out = BTreeSet::new();
    if let Some(e) = e {
        walk(e, &mut out)?;
    }
    Ok(out)
}

/// Which rows of `t` pass `filter` (SQL's three-valued logic: unknown
/// does not pass).
pub fn passing(t: &Table, filter: Option<&Expr>) -> Result<Vec<bool>, QueryError> {
    let Some(f) = filter else {
        return Ok(vec![true; t.rows()]);
    };
    let cols: Vec<(String, Vec<Value>)> = filter_columns(Some(f))?
        .into_iter()
        .map(|c| t.column(&c).map(|v| (c, v)))
        .collect::<Result<_, _>>()?;
    (0..t.rows())
        .map(|r| {
            Ok(truth(f, &|c: &str| {
                cols.iter().find(|(n, _)| n == c).map(|(_, v)| &v[r])
            })? == Some(true))
        })
        .collect()
}

fn literal(v: &SqlValue) -> Result<Value, QueryError> {
    Ok(match v {
        SqlValue::Number(s, _) => s
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| s.parse::<f64>().map(Value::Float))
            .map_err(|_| QueryError::Sql(format!("number `{s}`")))?,
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Value::Str(s.clone()),
        SqlValue::Boolean(b) => Value::Bool(*b),
        SqlValue::Null => Value::Null,
        other => return Err(QueryError::Sql(format!("literal `{other}`"))),
    })
}

fn value_of<'a>(e: &Expr, row: &dyn Fn(&str) -> Option<&'a Value>) -> Result<Value, QueryError> {
    if let Some((_, c)) = column_ref(e) {
        return row(&c)
            .cloned()
            .ok_or_else(|| QueryError::Schema(format!("no column `{c}`")));
    }
    match e {
        Expr::Value(v) => literal(&v.value),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match value_of(expr, row)? {
            Value::Int(x) => Ok(Value::Int(x.wrapping_neg())),
            Value::Float(x) => Ok(Value::Float(-x)),
            other => Err(QueryError::Sql(format!("-{other:?}"))),
        },
        other => Err(QueryError::Sql(format!(
            "not in the supported SQL subset: value `{other}`"
        ))),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A predicate's truth on one row: `None` is SQL's unknown.
fn truth<'a>(
    e: &Expr,
    row: &dyn Fn(&str) -> Option<&'a Value>,
) -> Result<Option<bool>, QueryError> {
    use std::cmp::Ordering::*;
    Ok(match e {
        Expr::Nested(x) => truth(x, row)?,
        Expr::IsNull(x) => Some(value_of(x, row)? == Value::Null),
        Expr::IsNotNull(x) => Some(value_of(x, row)? != Value::Null),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => truth(expr, row)?.map(|b| !b),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => match (truth(left, row)?, truth(right, row)?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            BinaryOperator::Or => match (truth(left, row)?, truth(right, row)?) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let (a, b) = (value_of(left, row)?, value_of(right, row)?);
                if a == Value::Null || b == Value::Null {
                    None
                } else {
                    let Some(o) = compare(&a, &b) else {
                        return Err(QueryError::Sql(format!(
                            "`{e}` compares values of different types"
                        )));
                    };
                    Some(match op {
                        BinaryOperator::Eq => o == Equal,
                        BinaryOperator::NotEq => o != Equal,
                        BinaryOperator::Lt => o == Less,
                        BinaryOperator::LtEq => o != Greater,
                        BinaryOperator::Gt => o == Greater,
                        _ => o != Less,
                    })
                }
            }
            other => {
                return Err(QueryError::Sql(format!(
                    "not in the supported SQL subset: operator {other}"
                )));
            }
        },
        Expr::Value(v) => match literal(&v.value)? {
            Value::Bool(b) => Some(b),
            Value::Null => None,
            other => return Err(QueryError::Sql(format!("{other:?} is not a condition"))),
        },
        other => {
            if let Some((_, c)) = column_ref(other) {
                match row(&c) {
                    Some(Value::Bool(b)) => Some(*b),
                    Some(Value::Null) => None,
                    _ => return Err(QueryError::Sql(format!("column `{c}` is not boolean"))),
                }
            } else {
                return Err(QueryError::Sql(format!(
                    "not in the supported SQL subset: predicate `{other}`"
                )));
            }
        }
    })
}

/// One party's contribution: the additive part (summed over parties)
/// and the extremes (compared under MPC), in units as `u64`.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// Counts, sums and histogram buckets, in the layout of [`layout`].
    pub additive: Vec<u64>,
    /// MIN and MAX candidates, one per MIN/MAX item (a sentinel when this
    /// party has no value).
    pub extremes: Vec<u64>,
}

/// Per item, its slots in [`Local::additive`] (start, length), and the
/// slot of MIN/MAX items in [`Local::extremes`].
pub fn layout(items: &[Item]) -> (Vec<(usize, usize)>, Vec<Option<usize>>) {
    let mut at = 0;
    let mut ext = 0;
    let mut add = Vec::new();
    let mut extremes = Vec::new();
    for i in items {
        let len = match &i.agg {
            Agg::CountStar | Agg::Count(_) | Agg::Sum(_) => 1,
            Agg::Avg(_) | Agg::Min(_) | Agg::Max(_) => 2,
            Agg::Histogram { buckets, .. } => *buckets,
        };
        add.push((at, len));
        at += len;
        if matches!(i.agg, Agg::Min(_) | Agg::Max(_)) {
            extremes.push(Some(ext));
            ext += 1;
        } else {
            extremes.push(None);
        }
    }
    (add, extremes)
}

/// For each MIN or MAX item, in order, whether it is a MIN.
pub fn extremes(q: &UnionQuery) -> Vec<bool> {
    q.items
        .iter()
        .filter_map(|i| match i.agg {
            Agg::Min(_) => Some(true),
            Agg::Max(_) => Some(false),
            _ => None,
        })
        .collect()
}

/// The sentinel a party with no value contributes to MIN (MAX: its
/// negation).
pub const SENTINEL: i64 = MAX_UNITS;

/// A party's local contribution to `q` from its table `t`.
pub fn local(q: &UnionQuery, kinds: &[Option<Kind>], t: &Table) -> Result<Local, QueryError> {
    let pass = passing(t, q.filter.as_ref())?;
    let rows = pass.iter().filter(|&&p| p).count() as u64;
    let mut out = Local::default();
    for (item, kind) in q.items.iter().zip(kinds) {
        if matches!(item.agg, Agg::CountStar) {
            out.additive.push(rows);
            continue;
        }
        let col = super::sql::bare(item.agg.column().unwrap_or_default());
        let values = t.column(col)?;
        let live = values
            .iter()
            .zip(&pass)
            .filter(|(v, p)| **p && **v != Value::Null);
        if let Agg::Count(_) = item.agg {
            out.additive.push(live.count() as u64);
            continue;
        }
        let kind = kind.unwrap_or(Kind::Int);
        let mut units = Vec::new();
        for (v, _) in live {
            if let Some(u) = kind.units(v)? {
                units.push(u);
            }
        }
        let sum = units.iter().fold(0u64, |a, &u| a.wrapping_add(u as u64));
        let count = units.len() as u64;
        match &item.agg {
            Agg::Sum(_) => out.additive.push(sum),
            Agg::Avg(_) => out.additive.extend([sum, count]),
            Agg::Min(_) => {
                out.additive.extend([count, 0]);
                out.extremes
                    .push(units.iter().copied().min().unwrap_or(SENTINEL) as u64);
            }
            Agg::Max(_) => {
                out.additive.extend([count, 0]);
                out.extremes
                    .push(units.iter().copied().max().unwrap_or(-SENTINEL) as u64);
            }
            Agg::Histogram {
                lo, hi, buckets, ..
            } => {
                let mut h = vec![0u64; *buckets];
                let w = (hi - lo) / *buckets as f64;
                for (v, _) in values
                    .iter()
                    .zip(&pass)
                    .filter(|(v, p)| **p && **v != Value::Null)
                {
                    let x = match v {
                        Value::Int(i) => *i as f64,
                        Value::Float(f) => *f,
                        _ => continue,
                    };
                    let b = ((x - lo) / w).floor();
                    let b = if b.is_nan() {
                        0
                    } else {
                        b.clamp(0.0, (*buckets - 1) as f64) as usize
                    };
                    h[b] += 1;
                }
                out.additive.extend(h);
            }
            Agg::CountStar | Agg::Count(_) => {}
        }
    }
    Ok(out)
}

/// The result from the opened totals.
pub fn decode(
    q: &UnionQuery,
    kinds: &[Option<Kind>],
    additive: &[u64],
    extremes: &[u64],
) -> QueryResult {
    let (slots, ext) = layout(&q.items);
    if let [item] = q.items.as_slice()
        && let Agg::Histogram {
            lo, hi, buckets, ..
        } = item.agg
    {
        let w = (hi - lo) / buckets as f64;
        let rows = (0..buckets)
            .map(|b| {
                vec![
                    Value::Float(lo + w * b as f64),
                    Value::Float(lo + w * (b + 1) as f64),
                    Value::Int(additive[b] as i64),
                ]
            })
            .collect();
        return QueryResult {
            columns: vec!["bucket_from".into(), "bucket_to".into(), item.name.clone()],
            rows,
        };
    }
    let mut row = Vec::new();
    for (k, item) in q.items.iter().enumerate() {
        let (at, _) = slots[k];
        let kind = kinds[k].unwrap_or(Kind::Int);
        row.push(match item.agg {
            Agg::CountStar | Agg::Count(_) => Value::Int(additive[at] as i64),
            Agg::Sum(_) => kind.decode(additive[at] as i64),
            Agg::Avg(_) => {
                let (s, c) = (additive[at] as i64, additive[at + 1]);
                if c == 0 {
                    Value::Null
                } else {
                    let scale = if kind == Kind::Fixed {
                        f64::from(1u32 << FRAC_BITS)
                    } else {
                        1.0
                    };
                    Value::Float(s as f64 / scale / c as f64)
                }
            }
            Agg::Min(_) | Agg::Max(_) => {
                if additive[at] == 0 {
                    Value::Null
                } else {
                    kind.decode(extremes[ext[k].unwrap_or(0)] as i64)
                }
            }
            Agg::Histogram { .. } => Value::Null,
        });
    }
    QueryResult {
        columns: q.items.iter().map(|i| i.name.clone()).collect(),
        rows: vec![row],
    }
}

/// The plaintext answer: every party's contribution combined in the
/// clear (tests compare private runs to it).
pub fn plaintext(q: &UnionQuery, tables: &[&Table]) -> Result<QueryResult, QueryError> {
    let kinds = check_union(q, tables)?;
    let locals: Vec<Local> = tables
        .iter()
        .map(|t| local(q, &kinds, t))
        .collect::<Result<_, _>>()?;
    let len = locals[0].additive.len();
    let additive: Vec<u64> = (0..len)
        .map(|i| {
            locals
                .iter()
                .fold(0u64, |a, l| a.wrapping_add(l.additive[i]))
        })
        .collect();
    let (_, ext) = layout(&q.items);
    let mut extremes = vec![0u64; locals[0].extremes.len()];
    for (k, item) in q.items.iter().enumerate() {
        let Some(e) = ext[k] else { continue };
        let vals = locals.iter().map(|l| l.extremes[e] as i64);
        extremes[e] = match item.agg {
            Agg::Min(_) => vals.min().unwrap_or(SENTINEL),
            _ => vals.max().unwrap_or(-SENTINEL),
        } as u64;
    }
    Ok(decode(q, &kinds, &additive, &extremes))
}
