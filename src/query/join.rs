//! Aggregates over a private join of two parties' tables:
//! `SELECT COUNT(*), SUM(b.v), AVG(a.w) FROM a JOIN b ON a.k = b.k WHERE
//! <predicates on a's columns> AND <predicates on b's columns>`.
//!
//! Each party filters its own rows, then groups them by key: for each
//! distinct key, the number of rows and the sums of the columns the query
//! reads. The join's totals are sums over the keys both hold of products
//! of one party's group value and the other's (`COUNT(*) = Σ c_a · c_b`,
//! `SUM(b.v) = Σ c_a · s_b(v)`), which [`quorate_engine::psi::join`]
//! computes without revealing the intersection or any row.
//!
//! Semantics: an inner join; rows whose key is NULL never join; a key
//! that repeats on both sides joins every pair (as SQL does). Columns are
//! written `table.column`. `AVG` opens its sum and count.

use std::collections::HashMap;

use quorate_engine::block::Block;
use quorate_engine::net::handshake::SessionId;
use quorate_engine::psi::join::{self, Side, Spec};
use sha2::{Digest, Sha256};
use sqlparser::ast::{BinaryOperator, Expr};

use super::eval::{Kind, passing};
use super::sql::{Agg, JoinQuery, bare, column_ref, qualifier};
use super::table::{Table, Value, is_numeric};
use super::{QueryError, QueryResult};

/// What one party adds up per key: field 0 is always the row count.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Rows,
    NonNull(String),
    Sum(String),
}

/// How a result column comes out of the opened products.
#[derive(Clone, Debug)]
enum Out {
    Count(usize),
    Sum(usize, Kind),
    Avg(usize, usize, Kind),
}

/// A join query made ready: each side's fields, predicates and key, the
/// products, and how to read the result.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// `GROUP BY`: the side holding the column, and its name.
    group: Option<(usize, String)>,
    /// The product that counts the join's rows.
    count_product: usize,
    /// The receiver's (left table's) fields and the sender's.
    fields: [Vec<Field>; 2],
    /// Each side's predicates.
    filters: [Vec<Expr>; 2],
    spec: Spec,
    outs: Vec<Out>,
    names: Vec<String>,
}

fn side_of(q: &JoinQuery, col: &str) -> Result<usize, QueryError> {
    match qualifier(col) {
        Some(t) if t == q.left.0 => Ok(0),
        Some(t) if t == q.right.0 => Ok(1),
        Some(t) => Err(QueryError::Sql(format!(
            "`{col}`: the query joins {} and {}, not {t}",
            q.left.0, q.right.0
        ))),
        None => Err(QueryError::Sql(format!(
            "`{col}`: write columns of a join query as {}.column or {}.column",
            q.left.0, q.right.0
        ))),
    }
}

fn conjuncts(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(x)
            if matches!(
                **x,
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            conjuncts(x, out);
        }
        other => out.push(other.clone()),
    }
}

fn tables_of(q: &JoinQuery, e: &Expr, out: &mut Vec<usize>) -> Result<(), QueryError> {
    if let Some((t, c)) = column_ref(e) {
        let col = t.map_or(c.clone(), |t| format!("{t}.{c}"));
        out.push(side_of(q, &col)?);
        return Ok(());
    }
    match e {
        Expr::BinaryOp { left, right, .. } => {
            tables_of(q, left, out)?;
            tables_of(q, right, out)
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => tables_of(q, expr, out),
        _ => Ok(()),
    }
}

fn field(fields: &mut Vec<Field>, f: Field) -> usize {
    if let Some(i) = fields.iter().position(|x| *x == f) {
        return i;
    }
    fields.push(f);
    fields.len() - 1
}

/// Plans `q`; `kind(side, column)` gives the numeric kind of a column on
/// its side (both tables are known in one process; over the network each
/// party's are exchanged first).
pub fn prepare(
    q: &JoinQuery,
    kind: &dyn Fn(usize, &str) -> Result<Kind, QueryError>,
) -> Result<Prepared, QueryError> {
    let group = match &q.group_by {
        Some(c) => Some((side_of(q, c)?, bare(c).to_owned())),
        None => None,
    };
    let mut fields = [vec![Field::Rows], vec![Field::Rows]];
    let mut products: Vec<(usize, usize)> = Vec::new();
    fn product(products: &mut Vec<(usize, usize)>, p: (usize, usize)) -> usize {
        if let Some(i) = products.iter().position(|&x| x == p) {
            return i;
        }
        products.push(p);
        products.len() - 1
    }
    // A side's field times the other side's row count.
    let on = |fields: &mut [Vec<Field>; 2],
              products: &mut Vec<(usize, usize)>,
              col: &str,
              f: Field|
     -> Result<usize, QueryError> {
        let s = side_of(q, col)?;
        let i = field(&mut fields[s], f);
        Ok(product(products, if s == 0 { (i, 0) } else { (0, i) }))
    };
    // Group suppression compares each group's join count with the minimum.
    let count_product = product(&mut products, (0, 0));
    let mut outs = Vec::new();
    for item in &q.items {
        outs.push(match &item.agg {
            Agg::CountStar => Out::Count(product(&mut products, (0, 0))),
            Agg::Count(c) => Out::Count(on(
                &mut fields,
                &mut products,
                c,
                Field::NonNull(bare(c).to_owned()),
            )?),
            Agg::Sum(c) => {
                let k = kind(side_of(q, c)?, bare(c))?;
                Out::Sum(
                    on(
                        &mut fields,
                        &mut products,
                        c,
                        Field::Sum(bare(c).to_owned()),
                    )?,
                    k,
                )
            }
            Agg::Avg(c) => {
                let k = kind(side_of(q, c)?, bare(c))?;
                let s = on(
                    &mut fields,
                    &mut products,
                    c,
                    Field::Sum(bare(c).to_owned()),
                )?;
                let n = on(
                    &mut fields,
                    &mut products,
                    c,
                    Field::NonNull(bare(c).to_owned()),
                )?;
                Out::Avg(s, n, k)
            }
            Agg::Min(_) | Agg::Max(_) | Agg::Histogram { .. } => {
                return Err(QueryError::Unsupported(format!(
                    "`{}` over a join is not built yet (COUNT, SUM and AVG are)",
                    item.name
                )));
            }
        });
    }
    let mut filters = [Vec::new(), Vec::new()];
    if let Some(f) = &q.filter {
        let mut parts = Vec::new();
        conjuncts(f, &mut parts);
        for c in parts {
            let mut sides = Vec::new();
            tables_of(q, &c, &mut sides)?;
            sides.dedup();
            match sides.as_slice() {
                [s] => filters[*s].push(c),
                [] => {
                    return Err(QueryError::Sql(format!("predicate `{c}` names no column")));
                }
                _ => {
                    return Err(QueryError::Unsupported(format!(
                        "predicate `{c}` reads both tables: each predicate reads one party's \
                         columns (join them with AND)"
                    )));
                }
            }
        }
    }
    Ok(Prepared {
        group,
        count_product,
        spec: Spec {
            receiver_fields: fields[0].len(),
            sender_fields: fields[1].len(),
            products,
        },
        fields,
        filters,
        outs,
        names: q.items.iter().map(|i| i.name.clone()).collect(),
    })
}

impl Prepared {
    /// The products the protocol sums.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

/// A table's columns by class (`int`, `fixed`, `string` or `other`): what
/// a party tells the other before a join over the network.
pub fn schema_summary(t: &Table) -> HashMap<String, String> {
    t.schema
        .fields()
        .iter()
        .map(|f| {
            let ty = f.data_type();
            let class = if ty.is_integer() {
                "int"
            } else if ty.is_floating() {
                "fixed"
            } else if matches!(
                ty,
                arrow_schema::DataType::Utf8 | arrow_schema::DataType::LargeUtf8
            ) {
                "string"
            } else {
                "other"
            };
            (f.name().clone(), class.to_owned())
        })
        .collect()
}

/// Plans `q` for the party holding side `s` (`t`), given the other
/// party's [`schema_summary`]: checks its own columns and the key types.
pub fn prepare_party(
    q: &JoinQuery,
    s: usize,
    t: &Table,
    peer: &HashMap<String, String>,
) -> Result<Prepared, QueryError> {
    let (mine, theirs) = if s == 0 {
        (&q.left, &q.right)
    } else {
        (&q.right, &q.left)
    };
    let my_class = key_class(t, &mine.1)?;
    let their_class = peer.get(&theirs.1).map(String::as_str).ok_or_else(|| {
        QueryError::Schema(format!("table `{}` has no column `{}`", theirs.0, theirs.1))
    })?;
    let their_class = if their_class == "int" {
        "int"
    } else {
        their_class
    };
    if my_class != their_class {
        return Err(QueryError::Schema(format!(
            "the join keys differ in type: {}.{} is {my_class}, {}.{} is {their_class}",
            mine.0, mine.1, theirs.0, theirs.1
        )));
    }
    let p = prepare(q, &|side, c| {
        if side == s {
            column_kind(t, c)
        } else {
            match peer.get(c).map(String::as_str) {
                Some("int") => Ok(Kind::Int),
                Some("fixed") => Ok(Kind::Fixed),
                Some(other) => Err(QueryError::Schema(format!(
                    "`{}.{c}` is {other}: SUM and AVG need numbers",
                    theirs.0
                ))),
                None => Err(QueryError::Schema(format!(
                    "table `{}` has no column `{c}`",
                    theirs.0
                ))),
            }
        }
    })?;
    check_columns(&p, s, t)?;
    let other = 1 - s;
    for f in &p.fields[other] {
        if let Field::NonNull(c) = f
            && !peer.contains_key(c)
        {
            return Err(QueryError::Schema(format!(
                "table `{}` has no column `{c}`",
                theirs.0
            )));
        }
    }
    Ok(p)
}

/// Checks that side `s`'s table `t` has every column the plan reads there.
fn check_columns(p: &Prepared, s: usize, t: &Table) -> Result<(), QueryError> {
    for f in &p.fields[s] {
        if let Field::NonNull(c) | Field::Sum(c) = f {
            t.column_type(c)?;
        }
    }
    for f in &p.filters[s] {
        for c in super::eval::filter_columns(Some(f))? {
            t.column_type(&c)?;
        }
    }
    Ok(())
}

/// The numeric kind of column `col` of `t`.
pub fn column_kind(t: &Table, col: &str) -> Result<Kind, QueryError> {
    let ty = t.column_type(col)?;
    if !is_numeric(ty) {
        return Err(QueryError::Schema(format!(
            "`{}.{col}` is {ty}: SUM and AVG need numbers",
            t.name
        )));
    }
    Ok(if ty.is_floating() {
        Kind::Fixed
    } else {
        Kind::Int
    })
}

/// The key column's class: `int` or `string` (both sides must agree).
pub fn key_class(t: &Table, col: &str) -> Result<&'static str, QueryError> {
    let ty = t.column_type(col)?;
    if ty.is_integer() {
        Ok("int")
    } else if matches!(
        ty,
        arrow_schema::DataType::Utf8 | arrow_schema::DataType::LargeUtf8
    ) {
        Ok("string")
    } else {
        Err(QueryError::Schema(format!(
            "key `{}.{col}` is {ty}: join keys are integers or strings",
            t.name
        )))
    }
}

/// Hashing for maps keyed by [`key_block`]s: they are already SHA-256
/// outputs, so their low 64 bits serve as the hash as they are (SipHash
/// over them cost a tenth of preparing a million-row side).
#[derive(Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// The [`KeyHash`] hasher: the last `u128` written, truncated (any other
/// input is folded in with a multiply, so it stays a correct hasher).
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, k: u128) {
        self.0 ^= k as u64;
    }
}

fn key_block(v: &Value) -> Option<Block> {
    let mut h = Sha256::new();
    h.update(b"quorate/query/join key");
    match v {
        Value::Int(i) => {
            h.update(b"i");
            h.update(i.to_le_bytes());
        }
        Value::Str(s) => {
            h.update(b"s");
            h.update(s.as_bytes());
        }
        _ => return None,
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Some(Block(u128::from_le_bytes(b)))
}

fn units(v: &Value, kind: Kind) -> Result<u64, QueryError> {
    Ok(match (v, kind) {
        (Value::Int(i), Kind::Int) => *i as u64,
        (Value::Int(i), Kind::Fixed) => i.wrapping_mul(1 << super::eval::FRAC_BITS) as u64,
        (Value::Float(f), Kind::Fixed) => {
            (f * f64::from(1u32 << super::eval::FRAC_BITS)).round() as i64 as u64
        }
        (Value::Null, _) => 0,
        (other, _) => {
            return Err(QueryError::Input(format!("{other:?} in a numeric column")));
        }
    })
}

/// One party's rows grouped by key: side 0 (left table) or 1 (right).
/// With `GROUP BY` on this side, every field is split by group label
/// (field `f` of group `g` at `f * labels + g`), and the labels come back
/// in that order.
pub fn side_grouped(
    p: &Prepared,
    s: usize,
    t: &Table,
    key: &str,
) -> Result<(Side, Vec<Value>), QueryError> {
    let pass = passing_all(p, s, t)?;
    let Some((_, gcol)) = p.group.as_ref().filter(|(gs, _)| *gs == s) else {
        return Ok((side_rows(p, s, t, key, &pass, None)?, Vec::new()));
    };
    let labels_of = t.column(gcol)?;
    // Labels by their printed form (values are not hashable: floats).
    let mut by_text: std::collections::BTreeMap<String, Value> = Default::default();
    for (v, ok) in labels_of.iter().zip(&pass) {
        if *ok && !by_text.contains_key(&format!("{v:?}")) {
            if by_text.len() == MAX_GROUPS {
                return Err(QueryError::Input(format!(
                    "column `{}.{gcol}` has more than {MAX_GROUPS} groups",
                    t.name
                )));
            }
            by_text.insert(format!("{v:?}"), v.clone());
        }
    }
    let index: HashMap<&str, usize> = by_text
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let group_of: Vec<usize> = labels_of
        .iter()
        .zip(&pass)
        .map(|(v, ok)| {
            if *ok {
                index.get(format!("{v:?}").as_str()).copied().unwrap_or(0)
            } else {
                0
            }
        })
        .collect();
    let labels: Vec<Value> = by_text.into_values().collect();
    let side = side_rows(p, s, t, key, &pass, Some((&group_of, labels.len().max(1))))?;
    Ok((side, labels))
}

/// The most groups a `GROUP BY` column may have.
pub const MAX_GROUPS: usize = 256;

/// One party's rows grouped by key: side 0 (left table) or 1 (right).
pub fn side(p: &Prepared, s: usize, t: &Table, key: &str) -> Result<Side, QueryError> {
    side_rows(p, s, t, key, &passing_all(p, s, t)?, None)
}

/// Which rows of side `s`'s table pass all of that side's predicates.
fn passing_all(p: &Prepared, s: usize, t: &Table) -> Result<Vec<bool>, QueryError> {
    let mut pass = vec![true; t.rows()];
    for f in &p.filters[s] {
        for (x, y) in pass.iter_mut().zip(passing(t, Some(f))?) {
            *x &= y;
        }
    }
    Ok(pass)
}

/// The rows that `pass`, grouped by key in one pass; with `groups`
/// (each row's group, and how many), field `f` of group `g` goes to
/// `f * groups + g`.
fn side_rows(
    p: &Prepared,
    s: usize,
    t: &Table,
    key: &str,
    pass: &[bool],
    groups: Option<(&[usize], usize)>,
) -> Result<Side, QueryError> {
    let keys = t.column(key)?;
    let mut cols: Vec<Option<(Vec<Value>, Kind)>> = Vec::new();
    for f in &p.fields[s] {
        cols.push(match f {
            Field::Rows => None,
            Field::NonNull(c) => Some((t.column(c)?, Kind::Int)),
            Field::Sum(c) => Some((t.column(c)?, column_kind(t, c)?)),
        });
    }
    let l = groups.map_or(1, |(_, l)| l);
    let mut index: HashMap<u128, usize, KeyHash> =
        HashMap::with_capacity_and_hasher(t.rows(), KeyHash);
    // Counts are below the row count: their width is public.
    let count_bits = (usize::BITS - t.rows().leading_zeros()).max(1);
    let mut out = Side {
        keys: Vec::new(),
        values: vec![Vec::new(); p.fields[s].len() * l],
        bounds: p.fields[s]
            .iter()
            .flat_map(|f| {
                let b = match f {
                    Field::Rows | Field::NonNull(_) => Some(count_bits),
                    Field::Sum(_) => None,
                };
                std::iter::repeat_n(b, l)
            })
            .collect(),
    };
    for r in 0..t.rows() {
        if !pass[r] {
            continue;
        }
        let Some(k) = key_block(&keys[r]) else {
            continue;
        };
        let g = groups.map_or(0, |(of, _)| of[r]);
        let at = *index.entry(k.0).or_insert_with(|| {
            out.keys.push(k);
            for v in &mut out.values {
                v.push(0);
            }
            out.keys.len() - 1
        });
        for (f, (field, col)) in p.fields[s].iter().zip(&cols).enumerate() {
            let add = match (field, col) {
                (Field::Rows, _) => 1,
                (Field::NonNull(_), Some((v, _))) => u64::from(v[r] != Value::Null),
                (Field::Sum(_), Some((v, kind))) => units(&v[r], *kind)?,
                _ => 0,
            };
            let slot = &mut out.values[f * l + g][at];
            *slot = slot.wrapping_add(add);
        }
    }
    if out.keys.len() > join::MAX_KEYS {
        return Err(QueryError::Input(format!(
            "table `{}` has {} distinct keys (the limit is {})",
            t.name,
            out.keys.len(),
            join::MAX_KEYS
        )));
    }
    Ok(out)
}

impl Prepared {
    /// The group column's side, if the query groups.
    pub fn group_side(&self) -> Option<usize> {
        self.group.as_ref().map(|(s, _)| *s)
    }

    /// The products for `labels` groups: each product once per group, the
    /// group side's field taken for that group.
    pub fn grouped_spec(&self, labels: usize) -> Spec {
        let Some(gs) = self.group_side() else {
            return self.spec.clone();
        };
        let l = labels.max(1);
        let mut spec = Spec {
            receiver_fields: self.spec.receiver_fields,
            sender_fields: self.spec.sender_fields,
            products: Vec::new(),
        };
        if gs == 0 {
            spec.receiver_fields *= l;
        } else {
            spec.sender_fields *= l;
        }
        for g in 0..l {
            for &(f, h) in &self.spec.products {
                spec.products.push(if gs == 0 {
                    (f * l + g, h)
                } else {
                    (f, h * l + g)
                });
            }
        }
        spec
    }
}

/// One party's whole run on a connected two-party `Party` (party 0 the
/// left table's holder): the join sums, and with `GROUP BY` the groups'
/// sums, every group of fewer than `min_group` joined rows suppressed
/// under MPC (its values zeroed before anything is opened). Returns the
/// opened values and, when grouped, which groups passed.
pub fn protocol(
    party: &mut quorate_engine::arith::Party,
    session: &SessionId,
    p: &Prepared,
    side: &Side,
    labels: usize,
    min_group: u64,
) -> Result<(Vec<u64>, Option<Vec<bool>>), QueryError> {
    let err = |e: quorate_engine::arith::ArithError| QueryError::Protocol(e.to_string());
    let spec = p.grouped_spec(labels);
    let shares = if party.id() == 0 {
        join::receiver_shared(party, session, &spec, side)
    } else {
        join::sender_shared(party, session, &spec, side)
    }
    .map_err(err)?;
    if p.group.is_none() {
        return Ok((party.open(&shares).map_err(err)?, None));
    }
    let per = p.spec.products.len();
    let l = labels.max(1);
    let counts = quorate_engine::arith::Shares::new(
        (0..l)
            .map(|g| shares.expose()[g * per + p.count_product])
            .collect(),
    );
    // [count < min] by the sign of count - min, then its negation.
    let shifted = counts
        .add_public(party.id(), &vec![min_group.wrapping_neg(); l])
        .map_err(err)?;
    let below = party.ltz(&shifted).map_err(err)?;
    let pass_bits = below.not(party.id());
    let pass = party.b2a::<u64>(&pass_bits, l).map_err(err)?;
    let spread =
        quorate_engine::arith::Shares::new((0..l * per).map(|i| pass.expose()[i / per]).collect());
    let mut triples = party.triples::<u64>(l * per).map_err(err)?;
    let masked = party.mul(&shares, &spread, &mut triples).map_err(err)?;
    let opened = party.open(&masked).map_err(err)?;
    let passed = party.open(&pass).map_err(err)?;
    Ok((opened, Some(passed.iter().map(|&b| b == 1).collect())))
}

/// The result of a grouped run: one row per group that passed, its label
/// first.
pub fn decode_grouped(
    p: &Prepared,
    opened: &[u64],
    passed: &[bool],
    labels: &[Value],
) -> QueryResult {
    let per = p.spec.products.len();
    let name = p
        .group
        .as_ref()
        .map_or_else(String::new, |(_, c)| c.clone());
    let mut rows = Vec::new();
    for (g, ok) in passed.iter().enumerate() {
        if !ok || g >= labels.len() {
            continue;
        }
        let one = decode(p, &opened[g * per..(g + 1) * per]);
        let mut row = vec![labels[g].clone()];
        row.extend(one.rows.into_iter().flatten());
        rows.push(row);
    }
    let mut columns = vec![name];
    columns.extend(p.names.iter().cloned());
    QueryResult { columns, rows }
}

/// The result from the opened products.
pub fn decode(p: &Prepared, opened: &[u64]) -> QueryResult {
    let scale = f64::from(1u32 << super::eval::FRAC_BITS);
    let row = p
        .outs
        .iter()
        .map(|o| match *o {
            Out::Count(i) => Value::Int(opened[i] as i64),
            Out::Sum(i, Kind::Int) => Value::Int(opened[i] as i64),
            Out::Sum(i, Kind::Fixed) => Value::Float(opened[i] as i64 as f64 / scale),
            Out::Avg(s, n, k) => {
                if opened[n] == 0 {
                    Value::Null
                } else {
                    let sum = opened[s] as i64 as f64 / if k == Kind::Fixed { scale } else { 1.0 };
                    Value::Float(sum / opened[n] as f64)
                }
            }
        })
        .collect();
    QueryResult {
        columns: p.names.clone(),
        rows: vec![row],
    }
}

/// The plan's products in the clear (the answer tests and `--plaintext`
/// compare to).
pub fn plaintext(p: &Prepared, a: &Side, b: &Side) -> QueryResult {
    decode(p, &products(&p.spec, a, b))
}

/// Checks the two tables against the query (keys of one class, the
/// columns exist and are numbers where summed) and plans it.
pub fn check(q: &JoinQuery, a: &Table, b: &Table) -> Result<Prepared, QueryError> {
    let (ka, kb) = (key_class(a, &q.left.1)?, key_class(b, &q.right.1)?);
    if ka != kb {
        return Err(QueryError::Schema(format!(
            "the join keys differ in type: {}.{} is {ka}, {}.{} is {kb}",
            a.name, q.left.1, b.name, q.right.1
        )));
    }
    let tables = [a, b];
    let p = prepare(q, &|s, c| column_kind(tables[s], c))?;
    for (s, t) in tables.iter().enumerate() {
        check_columns(&p, s, t)?;
    }
    Ok(p)
}

/// Runs a join query with both parties in this process (the default
/// minimum group size); the result and the bytes exchanged.
pub fn run_in_memory(
    q: &JoinQuery,
    a: &Table,
    b: &Table,
) -> Result<(QueryResult, u64), QueryError> {
    run_grouped(q, a, b, None, DEFAULT_MIN_GROUP)
}

/// The default minimum group size of `GROUP BY`.
pub const DEFAULT_MIN_GROUP: u64 = 10;

/// Runs a join query with both parties in this process, over `rows`
/// (each party's channels, as `engine::net::tls::loopback_mesh` gives
/// them) or in memory, with `min_group` for `GROUP BY`; the result and
/// the bytes exchanged.
pub fn run_grouped(
    q: &JoinQuery,
    a: &Table,
    b: &Table,
    rows: Option<Vec<Vec<Option<quorate_engine::net::Channel>>>>,
    min_group: u64,
) -> Result<(QueryResult, u64), QueryError> {
    let p = check(q, a, b)?;
    // Each party prepares its own side; here both run at once, on a
    // thread each, and side a's error is still the one reported first.
    let (ra, rb) = std::thread::scope(|scope| {
        let hb = scope.spawn(|| side_grouped(&p, 1, b, &q.right.1));
        let ra = side_grouped(&p, 0, a, &q.left.1);
        (ra, hb.join())
    });
    let (sa, la) = ra?;
    let (sb, lb) = rb.map_err(|_| {
        QueryError::Protocol(format!("preparing table `{}` stopped abruptly", b.name))
    })??;
    let labels = if p.group_side() == Some(0) { la } else { lb };
    let sides = [sa, sb];
    let session = SessionId::random().map_err(|e| QueryError::Protocol(e.to_string()))?;
    let f = |mut party: quorate_engine::arith::Party| {
        let s = party.id();
        let r = protocol(&mut party, &session, &p, &sides[s], labels.len(), min_group)
            .map_err(|e| quorate_engine::arith::ArithError::Setup(e.to_string()))?;
        let (sent, rcv) = party.traffic();
        Ok((r, sent + rcv))
    };
    let out = match rows {
        None => quorate_engine::arith::run_in_memory(&[&a.name, &b.name], f),
        Some(rows) => quorate_engine::arith::run_parties(rows, &session, f),
    }
    .map_err(|e| QueryError::Protocol(e.to_string()))?;
    let bytes = out.iter().map(|(_, b)| b).sum::<u64>() / 2;
    let (opened, passed) = &out[0].0;
    Ok((
        match passed {
            Some(passed) => decode_grouped(&p, opened, passed, &labels),
            None => decode(&p, opened),
        },
        bytes,
    ))
}

/// Both sides' grouped rows for a plaintext run.
pub fn plaintext_run(q: &JoinQuery, a: &Table, b: &Table) -> Result<QueryResult, QueryError> {
    plaintext_grouped(q, a, b, DEFAULT_MIN_GROUP)
}

/// [`plaintext_run`] with a minimum group size for `GROUP BY`.
pub fn plaintext_grouped(
    q: &JoinQuery,
    a: &Table,
    b: &Table,
    min_group: u64,
) -> Result<QueryResult, QueryError> {
    let p = check(q, a, b)?;
    let (sa, la) = side_grouped(&p, 0, a, &q.left.1)?;
    let (sb, lb) = side_grouped(&p, 1, b, &q.right.1)?;
    let Some(gs) = p.group_side() else {
        return Ok(plaintext(&p, &sa, &sb));
    };
    let labels = if gs == 0 { la } else { lb };
    let spec = p.grouped_spec(labels.len());
    let opened = products(&spec, &sa, &sb);
    let per = p.spec.products.len();
    let passed: Vec<bool> = (0..labels.len().max(1))
        .map(|g| opened[g * per + p.count_product] >= min_group)
        .collect();
    let masked: Vec<u64> = opened
        .iter()
        .enumerate()
        .map(|(i, &v)| if passed[i / per] { v } else { 0 })
        .collect();
    Ok(decode_grouped(&p, &masked, &passed, &labels))
}

fn products(spec: &Spec, a: &Side, b: &Side) -> Vec<u64> {
    let bi: HashMap<u128, usize, KeyHash> =
        b.keys.iter().enumerate().map(|(i, k)| (k.0, i)).collect();
    spec.products
        .iter()
        .map(|&(f, g)| {
            a.keys
                .iter()
                .enumerate()
                .fold(0u64, |s, (i, k)| match bi.get(&k.0) {
                    Some(&j) => s.wrapping_add(a.values[f][i].wrapping_mul(b.values[g][j])),
                    None => s,
                })
        })
        .collect()
}
