//! The SQL subset, parsed with sqlparser into a [`Plan`].
//!
//! - `SELECT agg, ... FROM a UNION ALL b UNION ALL c [WHERE pred]`: the
//!   parties' tables of one schema, aggregated together (also written
//!   `FROM (SELECT * FROM a UNION ALL SELECT * FROM b) AS t`, or a single
//!   table). `agg` is `COUNT(*)`, `COUNT(col)`, `SUM(col)`, `AVG(col)`,
//!   `MIN(col)`, `MAX(col)`, or alone `HISTOGRAM(col, lo, hi, buckets)`.
//! - `SELECT COUNT(*), SUM(b.v), AVG(a.w) ... FROM a JOIN b ON a.k = b.k
//!   [WHERE ...] [GROUP BY t.c]`: aggregates over a private join
//!   ([`super::join`]).

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, JoinConstraint,
    JoinOperator, ObjectName, Query, SelectItem, SetExpr, SetOperator, SetQuantifier, Statement,
    TableFactor, UnaryOperator, Value as SqlValue,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::QueryError;

/// An aggregate.
#[derive(Clone, Debug, PartialEq)]
pub enum Agg {
    /// `COUNT(*)`: rows.
    CountStar,
    /// `COUNT(col)`: non-null values.
    Count(String),
    /// `SUM(col)`.
    Sum(String),
    /// `AVG(col)`.
    Avg(String),
    /// `MIN(col)`.
    Min(String),
    /// `MAX(col)`.
    Max(String),
    /// `HISTOGRAM(col, lo, hi, buckets)`: counts in equal buckets of
    /// `[lo, hi)`; values below go to the first, values above to the last.
    Histogram {
        /// The column.
        col: String,
        /// Lower edge.
        lo: f64,
        /// Upper edge.
        hi: f64,
        /// Buckets.
        buckets: usize,
    },
}

impl Agg {
    /// The column it reads, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            Agg::CountStar => None,
            Agg::Count(c) | Agg::Sum(c) | Agg::Avg(c) | Agg::Min(c) | Agg::Max(c) => Some(c),
            Agg::Histogram { col, .. } => Some(col),
        }
    }
}

/// One result column.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What it computes.
    pub agg: Agg,
    /// Its name in the result.
    pub name: String,
}

/// Aggregates over the union of the parties' tables.
#[derive(Clone, Debug)]
pub struct UnionQuery {
    /// The tables, one or more per party.
    pub tables: Vec<String>,
    /// The result columns.
    pub items: Vec<Item>,
    /// Rows that count (each party filters its own rows).
    pub filter: Option<Expr>,
}

/// An aggregate over the join of two parties' tables on one key.
#[derive(Clone, Debug)]
pub struct JoinQuery {
    /// `(table, key column)` of each side.
    pub left: (String, String),
    /// The other side.
    pub right: (String, String),
    /// The result columns.
    pub items: Vec<Item>,
    /// Row predicates.
    pub filter: Option<Expr>,
    /// `GROUP BY` column, if any.
    pub group_by: Option<String>,
}

/// A parsed query.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Aggregates over `a UNION ALL b ...`.
    Union(UnionQuery),
    /// An aggregate over `a JOIN b ON a.k = b.k`.
    Join(JoinQuery),
}

fn unsupported(what: impl std::fmt::Display) -> QueryError {
    QueryError::Sql(format!("not in the supported SQL subset: {what}"))
}

/// Rewrites the shorthand `FROM a UNION ALL b ...` into a derived table.
fn rewrite_union_shorthand(sql: &str) -> String {
    // Words with their byte ranges.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in sql.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push((s, sql.len()));
    }
    let w = |k: usize| &sql[words[k].0..words[k].1];
    let is_ident = |s: &str| {
        !s.is_empty()
            && !s.eq_ignore_ascii_case("select")
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"')
    };
    for k in 0..words.len() {
        if !w(k).eq_ignore_ascii_case("from") || k + 4 > words.len() {
            continue;
        }
        let mut tables = vec![k + 1];
        let mut j = k + 2;
        while j + 2 <= words.len()
            && w(j).eq_ignore_ascii_case("union")
            && w(j + 1).eq_ignore_ascii_case("all")
            && j + 2 < words.len()
            && is_ident(w(j + 2))
        {
            tables.push(j + 2);
            j += 3;
        }
        if tables.len() < 2 || !is_ident(w(k + 1)) {
            continue;
        }
        let inner: Vec<String> = tables
            .iter()
            .map(|&t| format!("SELECT * FROM {}", w(t)))
            .collect();
        let end = words[j - 1].1;
        return format!(
            "{}FROM ({}) AS u{}",
            &sql[..words[k].0],
            inner.join(" UNION ALL "),
            &sql[end..]
        );
    }
    sql.to_owned()
}

fn object_name(n: &ObjectName) -> Result<String, QueryError> {
    match n.0.as_slice() {
        [one] => one
            .as_ident()
            .map(|i| i.value.clone())
            .ok_or_else(|| unsupported(n)),
        _ => Err(unsupported(format!("qualified table name {n}"))),
    }
}

/// A column name without its table qualifier (`t.c` gives `c`).
pub fn bare(col: &str) -> &str {
    col.rsplit_once('.').map_or(col, |(_, c)| c)
}

/// A column reference's table qualifier, if any (`t.c` gives `t`).
pub fn qualifier(col: &str) -> Option<&str> {
    col.rsplit_once('.').map(|(t, _)| t)
}

/// A column reference: `col` or `table.col`.
pub fn column_ref(e: &Expr) -> Option<(Option<String>, String)> {
    match e {
        Expr::Identifier(i) => Some((None, i.value.clone())),
        Expr::CompoundIdentifier(v) if v.len() == 2 => {
            Some((Some(v[0].value.clone()), v[1].value.clone()))
        }
        Expr::Nested(e) => column_ref(e),
        _ => None,
    }
}

fn number(e: &Expr) -> Option<f64> {
    match e {
        Expr::Value(v) => match &v.value {
            SqlValue::Number(s, _) => s.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => number(expr).map(|x| -x),
        _ => None,
    }
}

fn items(projection: &[SelectItem]) -> Result<Vec<Item>, QueryError> {
    let mut out = Vec::new();
    for p in projection {
        let (expr, alias) = match p {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            other => return Err(unsupported(format!("select item {other}"))),
        };
        let Expr::Function(f) = expr else {
            return Err(unsupported(format!(
                "`{expr}`: every result column is an aggregate"
            )));
        };
        let fname = f.name.to_string().to_ascii_uppercase();
        let FunctionArguments::List(list) = &f.args else {
            return Err(unsupported(format!("`{expr}`")));
        };
        if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
            return Err(unsupported(format!("`{expr}` (DISTINCT or clauses)")));
        }
        let args: Vec<&FunctionArgExpr> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(x) => Ok(x),
                _ => Err(unsupported(format!("`{expr}` (named arguments)"))),
            })
            .collect::<Result<_, _>>()?;
        let col = |k: usize| -> Result<String, QueryError> {
            match args.get(k) {
                Some(FunctionArgExpr::Expr(e)) => column_ref(e)
                    .map(|(t, c)| t.map_or(c.clone(), |t| format!("{t}.{c}")))
                    .ok_or_else(|| unsupported(format!("`{expr}`: the argument is a column"))),
                _ => Err(unsupported(format!("`{expr}`: the argument is a column"))),
            }
        };
        let agg = match (fname.as_str(), args.len()) {
            ("COUNT", 1) if matches!(args[0], FunctionArgExpr::Wildcard) => Agg::CountStar,
            ("COUNT", 1) => Agg::Count(col(0)?),
            ("SUM", 1) => Agg::Sum(col(0)?),
            ("AVG", 1) => Agg::Avg(col(0)?),
            ("MIN", 1) => Agg::Min(col(0)?),
            ("MAX", 1) => Agg::Max(col(0)?),
            ("HISTOGRAM", 4) => {
                let num = |k: usize| match args[k] {
                    FunctionArgExpr::Expr(e) => number(e),
                    _ => None,
                };
                let (Some(lo), Some(hi), Some(b)) = (num(1), num(2), num(3)) else {
                    return Err(unsupported(format!(
                        "`{expr}`: HISTOGRAM(col, lo, hi, buckets) takes numbers"
                    )));
                };
                if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less)
                    || !(1.0..=4096.0).contains(&b)
                    || b.fract() != 0.0
                {
                    return Err(QueryError::Sql(format!(
                        "`{expr}`: needs lo < hi and 1 to 4096 buckets"
                    )));
                }
                Agg::Histogram {
                    col: col(0)?,
                    lo,
                    hi,
                    buckets: b as usize,
                }
            }
            _ => return Err(unsupported(format!("`{expr}`"))),
        };
        out.push(Item {
            agg,
            name: alias.unwrap_or_else(|| expr.to_string().to_ascii_lowercase()),
        });
    }
    if out.is_empty() {
        return Err(QueryError::Sql("the query selects nothing".into()));
    }
    if out.len() > 1 && out.iter().any(|i| matches!(i.agg, Agg::Histogram { .. })) {
        return Err(QueryError::Sql(
            "HISTOGRAM must be the only result column".into(),
        ));
    }
    Ok(out)
}

/// The tables of `SELECT * FROM a UNION ALL SELECT * FROM b ...`.
fn union_tables(q: &Query) -> Result<Vec<String>, QueryError> {
    fn walk(e: &SetExpr, out: &mut Vec<String>) -> Result<(), QueryError> {
        match e {
            SetExpr::SetOperation {
                op: SetOperator::Union,
                set_quantifier: SetQuantifier::All,
                left,
                right,
            } => {
                walk(left, out)?;
                walk(right, out)
            }
            SetExpr::Select(s) => {
                let star = matches!(s.projection.as_slice(), [SelectItem::Wildcard(_)]);
                match s.from.as_slice() {
                    [t] if star
                        && t.joins.is_empty()
                        && s.selection.is_none()
                        && matches!(s.group_by, GroupByExpr::Expressions(ref v, _) if v.is_empty()) =>
                    {
                        match &t.relation {
                            TableFactor::Table { name, .. } => {
                                out.push(object_name(name)?);
                                Ok(())
                            }
                            other => Err(unsupported(format!("`{other}` in a UNION ALL"))),
                        }
                    }
                    _ => Err(unsupported(format!(
                        "`{s}`: a UNION ALL member is SELECT * FROM table"
                    ))),
                }
            }
            SetExpr::SetOperation { .. } => {
                Err(unsupported("UNION without ALL, EXCEPT, INTERSECT"))
            }
            other => Err(unsupported(format!("`{other}`"))),
        }
    }
    let mut out = Vec::new();
    walk(&q.body, &mut out)?;
    Ok(out)
}

/// Parses `sql`.
pub fn parse(sql: &str) -> Result<Plan, QueryError> {
    let text = rewrite_union_shorthand(sql);
    let mut stmts =
        Parser::parse_sql(&GenericDialect {}, &text).map_err(|e| QueryError::Sql(e.to_string()))?;
    if stmts.len() != 1 {
        return Err(QueryError::Sql("give exactly one SELECT statement".into()));
    }
    let Statement::Query(q) = stmts.remove(0) else {
        return Err(unsupported("only SELECT queries"));
    };
    if q.order_by.is_some() || q.limit_clause.is_some() || q.with.is_some() {
        return Err(unsupported("ORDER BY, LIMIT or WITH"));
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Err(unsupported(
            "a query that is not one SELECT (write FROM a UNION ALL b)",
        ));
    };
    if select.having.is_some() || select.distinct.is_some() {
        return Err(unsupported("HAVING or DISTINCT"));
    }
    let items = items(&select.projection)?;
    let group_by = match &select.group_by {
        GroupByExpr::Expressions(v, m) if v.is_empty() && m.is_empty() => None,
        GroupByExpr::Expressions(v, m) if v.len() == 1 && m.is_empty() => Some(
            column_ref(&v[0])
                .map(|(t, c)| t.map_or(c.clone(), |t| format!("{t}.{c}")))
                .ok_or_else(|| unsupported(format!("GROUP BY {}", v[0])))?,
        ),
        _ => return Err(unsupported("GROUP BY of more than one column")),
    };
    let [from] = select.from.as_slice() else {
        return Err(unsupported(
            "FROM with more than one table (use JOIN or UNION ALL)",
        ));
    };
    let filter = select.selection.clone();
    match (&from.relation, from.joins.as_slice()) {
        (TableFactor::Table { name, .. }, []) => {
            if group_by.is_some() {
                return Err(unsupported("GROUP BY without a JOIN"));
            }
            Ok(Plan::Union(UnionQuery {
                tables: vec![object_name(name)?],
                items,
                filter,
            }))
        }
        (TableFactor::Derived { subquery, .. }, []) => {
            if group_by.is_some() {
                return Err(unsupported("GROUP BY over a UNION ALL"));
            }
            Ok(Plan::Union(UnionQuery {
                tables: union_tables(subquery)?,
                items,
                filter,
            }))
        }
        (TableFactor::Table { name, .. }, [join]) => {
            let left = object_name(name)?;
            let TableFactor::Table { name: rn, .. } = &join.relation else {
                return Err(unsupported("joining a subquery"));
            };
            let right = object_name(rn)?;
            let (JoinOperator::Join(JoinConstraint::On(on))
            | JoinOperator::Inner(JoinConstraint::On(on))) = &join.join_operator
            else {
                return Err(unsupported(
                    "a join other than [INNER] JOIN ... ON a.k = b.k",
                ));
            };
            let Expr::BinaryOp {
                left: l,
                op: sqlparser::ast::BinaryOperator::Eq,
                right: r,
            } = on
            else {
                return Err(unsupported(format!("join condition `{on}`")));
            };
            let (Some((Some(lt), lc)), Some((Some(rt), rc))) = (column_ref(l), column_ref(r))
            else {
                return Err(unsupported(format!(
                    "join condition `{on}` (write a.k = b.k)"
                )));
            };
            let (lk, rk) = if lt == left && rt == right {
                (lc, rc)
            } else if lt == right && rt == left {
                (rc, lc)
            } else {
                return Err(QueryError::Sql(format!(
                    "join condition `{on}` names tables other than {left} and {right}"
                )));
            };
            Ok(Plan::Join(JoinQuery {
                left: (left, lk),
                right: (right, rk),
                items,
                filter,
                group_by,
            }))
        }
        _ => Err(unsupported("more than one JOIN")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_forms_parse_alike() {
        for sql in [
            "SELECT COUNT(*), SUM(v), AVG(v), MIN(v), MAX(v) FROM a UNION ALL b UNION ALL c WHERE v > 3",
            "select count(*), sum(v), avg(v), min(v), max(v) from (select * from a union all select * from b union all select * from c) as t where v > 3",
        ] {
            let Plan::Union(q) = parse(sql).unwrap() else {
                panic!()
            };
            assert_eq!(q.tables, ["a", "b", "c"]);
            assert_eq!(q.items.len(), 5);
            assert_eq!(q.items[1].agg, Agg::Sum("v".into()));
            assert_eq!(q.items[0].name, "count(*)");
            assert!(q.filter.is_some());
        }
        let Plan::Union(q) =
            parse("SELECT HISTOGRAM(x, 0, 100, 10) AS h FROM a UNION ALL b").unwrap()
        else {
            panic!()
        };
        assert_eq!(q.items[0].name, "h");
        assert!(matches!(q.items[0].agg, Agg::Histogram { buckets: 10, .. }));
    }

    #[test]
    fn joins_parse_and_bad_queries_are_named() {
        let Plan::Join(j) = parse(
            "SELECT COUNT(*), SUM(b.v) FROM a JOIN b ON b.k = a.id WHERE a.x > 1 GROUP BY a.g",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(j.left, ("a".into(), "id".into()));
        assert_eq!(j.right, ("b".into(), "k".into()));
        assert_eq!(j.group_by.as_deref(), Some("a.g"));
        assert_eq!(j.items[1].agg, Agg::Sum("b.v".into()));
        for (sql, want) in [
            ("SELECT v FROM a", "aggregate"),
            ("SELECT SUM(v) FROM a UNION b", "Expected"),
            (
                "SELECT SUM(v) FROM (SELECT * FROM a UNION SELECT * FROM b) AS t",
                "UNION without ALL",
            ),
            ("SELECT SUM(v) FROM a, b", "more than one table"),
            ("SELECT SUM(v) FROM a LEFT JOIN b ON a.k = b.k", "JOIN"),
            ("SELECT MEDIAN(v) FROM a", "MEDIAN"),
            ("SELECT HISTOGRAM(v, 5, 1, 3) FROM a", "lo < hi"),
            ("SELECT SUM(v), HISTOGRAM(v, 0, 1, 3) FROM a", "only result"),
            ("DELETE FROM a", "SELECT"),
            ("SELEC x", "Expected"),
        ] {
            let e = parse(sql).unwrap_err().to_string();
            assert!(e.contains(want), "{sql}: {e}");
        }
    }
}
