//! Private queries against answers computed here with arrow, on random
//! tables in every file format: aggregates over UNION ALL (with NULLs,
//! predicates, empty tables, floats), histograms, and the errors a bad
//! query or table gives before any protocol runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::{quorate, stderr, stdout};
use quorate::query::sql::Plan;
use quorate::query::{self, Table, Value};
use rand::RngExt;
use serde_json::Value as Json;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("amount", DataType::Int64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("region", DataType::Utf8, false),
    ]))
}

fn random_batch(rows: usize, rng: &mut impl RngExt) -> RecordBatch {
    let id = Int64Array::from_iter_values(0..rows as i64);
    let amount: Int64Array = (0..rows)
        .map(|_| (rng.random_range(0..20) != 0).then(|| rng.random_range(-1000i64..100_000)))
        .collect();
    let score: Float64Array = (0..rows)
        .map(|_| (rng.random_range(0..10) != 0).then(|| rng.random_range(0.0..100.0)))
        .collect();
    let region = StringArray::from_iter_values(
        (0..rows).map(|_| ["north", "south", "east"][rng.random_range(0..3)]),
    );
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(id),
            Arc::new(amount),
            Arc::new(score),
            Arc::new(region),
        ],
    )
    .unwrap()
}

/// The answer computed directly from the arrow arrays.
struct Expected {
    count: i64,
    count_amount: i64,
    sum_amount: i64,
    min_amount: Option<i64>,
    max_amount: Option<i64>,
    sum_score: f64,
    scored: usize,
}

fn expected(batches: &[&RecordBatch], min_score: f64, region: &str) -> Expected {
    let mut e = Expected {
        count: 0,
        count_amount: 0,
        sum_amount: 0,
        min_amount: None,
        max_amount: None,
        sum_score: 0.0,
        scored: 0,
    };
    for b in batches {
        let amount = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        let score = b.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        let reg = b.column(3).as_any().downcast_ref::<StringArray>().unwrap();
        for r in 0..b.num_rows() {
            // WHERE score > min_score AND region <> 'region' (NULL score drops the row).
            if score.is_null(r) || score.value(r) <= min_score || reg.value(r) == region {
                continue;
            }
            e.count += 1;
            e.sum_score += score.value(r);
            e.scored += 1;
            if !amount.is_null(r) {
                let a = amount.value(r);
                e.count_amount += 1;
                e.sum_amount += a;
                e.min_amount = Some(e.min_amount.map_or(a, |m| m.min(a)));
                e.max_amount = Some(e.max_amount.map_or(a, |m| m.max(a)));
            }
        }
    }
    e
}

fn union_plan(sql: &str) -> query::sql::UnionQuery {
    match query::parse(sql).unwrap() {
        Plan::Union(q) => q,
        Plan::Join(_) => panic!("a union query"),
    }
}

#[test]
fn union_aggregates_equal_arrow_for_2_to_4_parties() {
    let mut rng = rand::rng();
    for parties in 2..=4usize {
        let batches: Vec<RecordBatch> = (0..parties)
            .map(|p| random_batch(if p == 1 { 0 } else { rng.random_range(1..400) }, &mut rng))
            .collect();
        let tables: Vec<Table> = batches
            .iter()
            .enumerate()
            .map(|(i, b)| Table::from_batches(&format!("t{i}"), schema(), vec![b.clone()]))
            .collect();
        let names: Vec<String> = (0..parties).map(|i| format!("t{i}")).collect();
        let sql = format!(
            "SELECT COUNT(*), COUNT(amount), SUM(amount), AVG(amount), MIN(amount), MAX(amount), \
             SUM(score) FROM {} WHERE score > 25.5 AND region <> 'east'",
            names.join(" UNION ALL ")
        );
        let q = union_plan(&sql);
        let refs: Vec<&Table> = tables.iter().collect();
        let (got, bytes) = query::run_union_in_memory(&q, &refs).unwrap();
        assert!(bytes > 0);
        let e = expected(&batches.iter().collect::<Vec<_>>(), 25.5, "east");
        let row = &got.rows[0];
        assert_eq!(row[0], Value::Int(e.count), "{parties} parties");
        assert_eq!(row[1], Value::Int(e.count_amount));
        assert_eq!(row[2], Value::Int(e.sum_amount));
        match &row[3] {
            Value::Float(avg) => {
                assert!((avg - e.sum_amount as f64 / e.count_amount as f64).abs() < 1e-9);
            }
            v => assert!(e.count_amount == 0 && *v == Value::Null),
        }
        assert_eq!(row[4], e.min_amount.map_or(Value::Null, Value::Int));
        assert_eq!(row[5], e.max_amount.map_or(Value::Null, Value::Int));
        // Fixed point: each value rounded by at most 2^-17.
        let Value::Float(s) = row[6] else {
            panic!("{row:?}")
        };
        assert!(
            (s - e.sum_score).abs() <= e.scored as f64 * 2f64.powi(-17) + 1e-9,
            "{s} vs {}",
            e.sum_score
        );
    }
}

#[test]
fn every_file_format_gives_the_same_answer_and_bad_input_is_named() {
    let mut rng = rand::rng();
    let d = tempfile::tempdir().unwrap();
    let a = random_batch(300, &mut rng);
    let b = random_batch(200, &mut rng);
    let c = random_batch(100, &mut rng);
    // a as Parquet, b as Arrow IPC, c as CSV.
    let pa = d.path().join("a.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&pa).unwrap(), schema(), None)
            .unwrap();
    w.write(&a).unwrap();
    w.close().unwrap();
    let pb = d.path().join("b.arrow");
    let mut w =
        arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&pb).unwrap(), &schema())
            .unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    let pc = d.path().join("c.csv");
    let mut w = arrow_csv::Writer::new(std::fs::File::create(&pc).unwrap());
    w.write(&c).unwrap();
    drop(w);
    let tables = [
        format!("a=@{}", pa.display()),
        format!("b=@{}", pb.display()),
        format!("c=@{}", pc.display()),
    ];
    let sql = "SELECT COUNT(*), SUM(amount), MIN(amount), MAX(amount) FROM a UNION ALL b UNION ALL c \
               WHERE score > 10 AND region <> 'north'";
    let out = d.path().join("result.arrow");
    let out_s = out.display().to_string();
    let mut args = vec!["query", "--json", "--sql", sql, "--out", &out_s];
    for t in &tables {
        args.extend(["--table", t.as_str()]);
    }
    let o = quorate(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Json = serde_json::from_str(&stdout(&o)).unwrap();
    let e = expected(&[&a, &b, &c], 10.0, "north");
    // The same answer in the Arrow file --out wrote.
    let written = Table::load("r", &out).unwrap();
    assert_eq!(
        written.column("count(*)").unwrap(),
        vec![Value::Int(e.count)]
    );
    assert_eq!(
        written.column("sum(amount)").unwrap(),
        vec![Value::Int(e.sum_amount)]
    );
    assert_eq!(v["columns"][1], "sum(amount)");
    assert_eq!(v["rows"][0][0], e.count);
    assert_eq!(v["rows"][0][1], e.sum_amount);
    assert_eq!(v["rows"][0][2], e.min_amount.unwrap());
    assert_eq!(v["rows"][0][3], e.max_amount.unwrap());

    // A histogram: bucket counts add up to the non-null values.
    let mut args = vec![
        "query",
        "--json",
        "--sql",
        "SELECT HISTOGRAM(score, 0, 100, 4) FROM a UNION ALL b",
    ];
    for t in &tables[..2] {
        args.extend(["--table", t.as_str()]);
    }
    let o = quorate(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Json = serde_json::from_str(&stdout(&o)).unwrap();
    let total: i64 = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[2].as_i64().unwrap())
        .sum();
    let scored = |b: &RecordBatch| (b.num_rows() - b.column(2).null_count()) as i64;
    assert_eq!(total, scored(&a) + scored(&b));

    // Errors before any protocol: a missing column, a string summed, a
    // table the query does not read, an unknown format, bad SQL.
    for (sql, extra, want) in [
        (
            "SELECT SUM(nope) FROM a UNION ALL b",
            None,
            "has no column `nope`",
        ),
        ("SELECT SUM(region) FROM a UNION ALL b", None, "numeric"),
        (
            "SELECT SUM(amount) FROM a UNION ALL b WHERE nope > 1",
            None,
            "has no column `nope`",
        ),
        (
            "SELECT SUM(amount) FROM a UNION ALL b",
            Some("c"),
            "does not read it",
        ),
        (
            "SELECT SUM(amount) FROM a UNION ALL x",
            None,
            "give --table x",
        ),
        ("SELECT amount FROM a UNION ALL b", None, "aggregate"),
    ] {
        let mut args = vec!["query", "--sql", sql];
        for t in &tables[..2] {
            args.extend(["--table", t.as_str()]);
        }
        if extra.is_some() {
            args.extend(["--table", tables[2].as_str()]);
        }
        let o = quorate(&args);
        assert!(!o.status.success(), "{sql}");
        assert!(stderr(&o).contains(want), "{sql}: {}", stderr(&o));
    }
    let bad = d.path().join("t.xlsx");
    std::fs::write(&bad, "x").unwrap();
    let o = quorate(&[
        "query",
        "--sql",
        "SELECT COUNT(*) FROM a UNION ALL b",
        "--table",
        &format!("a=@{}", bad.display()),
        "--table",
        tables[1].as_str(),
    ]);
    assert!(
        stderr(&o).contains("unknown table format"),
        "{}",
        stderr(&o)
    );
    let trunc = d.path().join("t.parquet");
    std::fs::write(&trunc, &std::fs::read(&pa).unwrap()[..100]).unwrap();
    let o = quorate(&[
        "query",
        "--sql",
        "SELECT COUNT(*) FROM a UNION ALL b",
        "--table",
        &format!("a=@{}", trunc.display()),
        "--table",
        tables[1].as_str(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("t.parquet"), "{}", stderr(&o));
}

#[test]
fn three_parties_as_processes_over_tls_agree_with_one_process() {
    let mut rng = rand::rng();
    let d = tempfile::tempdir().unwrap();
    let pf = common::keys_and_parties(d.path(), &["p0", "p1", "p2"]);
    let mut files = Vec::new();
    for (i, rows) in [150usize, 0, 90].into_iter().enumerate() {
        let p = d.path().join(format!("t{i}.arrow"));
        let b = random_batch(rows, &mut rng);
        let mut w =
            arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&p).unwrap(), &schema())
                .unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();
        files.push(format!("t{i}=@{}", p.display()));
    }
    let sql = "SELECT COUNT(*), SUM(amount), MIN(amount), MAX(score), AVG(score) \
               FROM t0 UNION ALL t1 UNION ALL t2 WHERE region <> 'south'";
    let mut args = vec!["query", "--json", "--sql", sql];
    for f in &files {
        args.extend(["--table", f.as_str()]);
    }
    let one = quorate(&args);
    assert!(one.status.success(), "{}", stderr(&one));
    let want: Json = serde_json::from_str(&stdout(&one)).unwrap();
    let children: Vec<_> = (0..3)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_quorate"))
                .args(["query", "--json", "--sql", sql, "--timeout", "60"])
                .args(["--table", &files[i]])
                .args(["--party", &format!("p{i}")])
                .arg("--parties")
                .arg(&pf)
                .arg("--key")
                .arg(d.path().join(format!("keys/p{i}.key")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let got: Json = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(got, want);
    }
    // A party giving a table the query does not read is stopped before
    // connecting.
    let o = quorate(&[
        "query",
        "--sql",
        sql,
        "--table",
        &files[0].replace("t0=", "zz="),
        "--party",
        "p0",
        "--parties",
        pf.to_str().unwrap(),
        "--key",
        d.path().join("keys/p0.key").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("does not read table `zz`"),
        "{}",
        stderr(&o)
    );
}

/// Two tables for a join: a(id, x, w) and b(k, v, g), keys as integers or
/// strings, with repeats, NULL keys and NULL values.
fn join_tables(
    na: usize,
    nb: usize,
    overlap: usize,
    strings: bool,
    rng: &mut impl RngExt,
) -> (Table, Table) {
    let key = |k: i64| -> Option<String> { Some(format!("c{k}")) };
    let a_keys: Vec<Option<i64>> = (0..na as i64)
        .map(|i| {
            if i % 17 == 5 {
                None
            } else {
                Some(i % (na as i64 * 9 / 10).max(1))
            }
        })
        .collect();
    let b_keys: Vec<Option<i64>> = (0..nb)
        .map(|j| {
            if j % 23 == 7 {
                None
            } else if j < overlap {
                Some(rng.random_range(0..na.max(1) as i64))
            } else {
                Some(1_000_000 + j as i64)
            }
        })
        .collect();
    let col = |keys: &[Option<i64>]| -> (DataType, Arc<dyn Array>) {
        if strings {
            (
                DataType::Utf8,
                Arc::new(
                    keys.iter()
                        .map(|k| k.and_then(key))
                        .collect::<StringArray>(),
                ),
            )
        } else {
            (
                DataType::Int64,
                Arc::new(keys.iter().copied().collect::<Int64Array>()),
            )
        }
    };
    let (ta, ka) = col(&a_keys);
    let sa = Arc::new(Schema::new(vec![
        Field::new("id", ta, true),
        Field::new("x", DataType::Int64, false),
        Field::new("w", DataType::Float64, true),
    ]));
    let a = RecordBatch::try_new(
        sa.clone(),
        vec![
            ka,
            Arc::new(Int64Array::from_iter_values(
                (0..na).map(|_| rng.random_range(0..100)),
            )),
            Arc::new(
                (0..na)
                    .map(|i| (i % 11 != 3).then(|| rng.random_range(-50.0..50.0)))
                    .collect::<Float64Array>(),
            ),
        ],
    )
    .unwrap();
    let (tb, kb) = col(&b_keys);
    let sb = Arc::new(Schema::new(vec![
        Field::new("k", tb, true),
        Field::new("v", DataType::Int64, true),
        Field::new("g", DataType::Utf8, false),
    ]));
    let b = RecordBatch::try_new(
        sb.clone(),
        vec![
            kb,
            Arc::new(
                (0..nb)
                    .map(|j| (j % 13 != 2).then(|| rng.random_range(0..1000)))
                    .collect::<Int64Array>(),
            ),
            Arc::new(StringArray::from_iter_values(
                (0..nb).map(|_| ["g0", "g1", "g2"][rng.random_range(0..3)]),
            )),
        ],
    )
    .unwrap();
    (
        Table::from_batches("a", sa, vec![a]),
        Table::from_batches("b", sb, vec![b]),
    )
}

#[test]
fn join_aggregates_equal_a_nested_loop_over_the_rows() {
    let mut rng = rand::rng();
    for (na, nb, overlap, strings) in [
        (60, 50, 25, false),
        (80, 40, 40, true),
        (30, 30, 0, false),
        (0, 20, 0, true),
    ] {
        let (a, b) = join_tables(na, nb, overlap, strings, &mut rng);
        let sql = "SELECT COUNT(*), SUM(b.v), COUNT(b.v), SUM(a.w), AVG(b.v) FROM a JOIN b ON a.id = b.k \
                   WHERE a.x >= 30 AND b.g <> 'g1'";
        let Plan::Join(j) = query::parse(sql).unwrap() else {
            panic!()
        };
        let (got, _) = query::join::run_in_memory(&j, &a, &b).unwrap();
        // The join, row pair by row pair, straight from the arrays.
        let ab = &a.batches;
        let bb = &b.batches;
        let (mut count, mut sum_v, mut count_v, mut sum_w) = (0i64, 0i64, 0i64, 0f64);
        let cells = |t: &Table, c: &str| t.column(c).unwrap();
        let (ak, ax, aw) = (cells(&a, "id"), cells(&a, "x"), cells(&a, "w"));
        let (bk, bv, bg) = (cells(&b, "k"), cells(&b, "v"), cells(&b, "g"));
        let _ = (ab, bb);
        for i in 0..a.rows() {
            if ak[i] == Value::Null || !matches!(ax[i], Value::Int(x) if x >= 30) {
                continue;
            }
            for jx in 0..b.rows() {
                if bk[jx] != ak[i] || bg[jx] == Value::Str("g1".into()) {
                    continue;
                }
                count += 1;
                if let Value::Int(v) = bv[jx] {
                    sum_v += v;
                    count_v += 1;
                }
                if let Value::Float(w) = aw[i] {
                    sum_w += w;
                }
            }
        }
        let row = &got.rows[0];
        assert_eq!(row[0], Value::Int(count), "{na}x{nb} overlap {overlap}");
        assert_eq!(row[1], Value::Int(sum_v));
        assert_eq!(row[2], Value::Int(count_v));
        let Value::Float(w) = row[3] else {
            panic!("{row:?}")
        };
        assert!(
            (w - sum_w).abs() <= count as f64 * 2f64.powi(-16),
            "{w} vs {sum_w}"
        );
        match row[4] {
            Value::Float(avg) => assert!((avg - sum_v as f64 / count_v as f64).abs() < 1e-9),
            ref v => assert!(count_v == 0 && *v == Value::Null, "{v:?}"),
        }
    }
    // Keys of different types, a predicate over both tables, and an
    // unqualified column are refused before any protocol runs.
    let (a, _) = join_tables(10, 10, 5, false, &mut rng);
    let (_, b) = join_tables(10, 10, 5, true, &mut rng);
    let Plan::Join(j) = query::parse("SELECT COUNT(*) FROM a JOIN b ON a.id = b.k").unwrap() else {
        panic!()
    };
    let e = query::join::run_in_memory(&j, &a, &b)
        .unwrap_err()
        .to_string();
    assert!(e.contains("differ in type"), "{e}");
    let (a, b) = join_tables(10, 10, 5, false, &mut rng);
    for (sql, want) in [
        (
            "SELECT COUNT(*) FROM a JOIN b ON a.id = b.k WHERE a.x > b.v",
            "reads both tables",
        ),
        (
            "SELECT SUM(v) FROM a JOIN b ON a.id = b.k",
            "write columns of a join query",
        ),
        (
            "SELECT SUM(b.g) FROM a JOIN b ON a.id = b.k",
            "need numbers",
        ),
        (
            "SELECT MIN(b.v) FROM a JOIN b ON a.id = b.k",
            "not built yet",
        ),
        (
            "SELECT COUNT(*) FROM a JOIN b ON a.nope = b.k",
            "no column `nope`",
        ),
    ] {
        let Plan::Join(j) = query::parse(sql).unwrap() else {
            panic!()
        };
        let e = query::join::run_in_memory(&j, &a, &b)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{sql}: {e}");
    }
}

#[test]
fn a_join_between_two_processes_over_tls_agrees_with_one_process() {
    let mut rng = rand::rng();
    let d = tempfile::tempdir().unwrap();
    // The right table's holder comes first in the parties file.
    let pf = common::keys_and_parties(d.path(), &["pb", "pa"]);
    let (a, b) = join_tables(120, 90, 60, true, &mut rng);
    let mut files = Vec::new();
    for t in [&a, &b] {
        let p = d.path().join(format!("{}.parquet", t.name));
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&p).unwrap(),
            t.schema.clone(),
            None,
        )
        .unwrap();
        for batch in &t.batches {
            w.write(batch).unwrap();
        }
        w.close().unwrap();
        files.push(format!("{}=@{}", t.name, p.display()));
    }
    for sql in [
        "SELECT COUNT(*), SUM(b.v), AVG(a.w) FROM a JOIN b ON a.id = b.k WHERE b.g <> 'g2'",
        "SELECT COUNT(*), SUM(b.v), AVG(a.w) FROM a JOIN b ON a.id = b.k GROUP BY b.g",
    ] {
        two_processes(&d, &pf, &files, sql);
    }
}

/// Runs `sql` in one process, then as two processes over TLS, and
/// compares.
fn two_processes(d: &tempfile::TempDir, pf: &std::path::Path, files: &[String], sql: &str) {
    let one = quorate(&[
        "query",
        "--json",
        "--min-group",
        "3",
        "--sql",
        sql,
        "--table",
        &files[0],
        "--table",
        &files[1],
    ]);
    assert!(one.status.success(), "{}", stderr(&one));
    let want: Json = serde_json::from_str(&stdout(&one)).unwrap();
    let spawn = |name: &str, file: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_quorate"))
            .args([
                "query",
                "--json",
                "--min-group",
                "3",
                "--sql",
                sql,
                "--timeout",
                "60",
            ])
            .args(["--table", file, "--party", name])
            .arg("--parties")
            .arg(pf)
            .arg("--key")
            .arg(d.path().join(format!("keys/{name}.key")))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn("pa", &files[0]), spawn("pb", &files[1])];
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let got: Json = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(got["columns"], want["columns"]);
        let (gr, wr) = (
            got["rows"].as_array().unwrap(),
            want["rows"].as_array().unwrap(),
        );
        assert_eq!(gr.len(), wr.len(), "{got} vs {want}");
        for (g, w) in gr.iter().zip(wr) {
            for (x, y) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
                match (x.as_f64(), y.as_f64()) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{got} vs {want}"),
                    _ => assert_eq!(x, y),
                }
            }
        }
    }
}

#[test]
fn group_by_suppresses_small_groups_under_mpc() {
    let mut rng = rand::rng();
    let (a, b) = join_tables(200, 160, 150, false, &mut rng);
    // Group on b's g (sender's side), then on a's x bucket... a has no
    // label column, so group on a.x directly with a large minimum.
    for (sql, min) in [
        (
            "SELECT COUNT(*), SUM(b.v) FROM a JOIN b ON a.id = b.k GROUP BY b.g",
            20u64,
        ),
        (
            "SELECT COUNT(*) FROM a JOIN b ON a.id = b.k WHERE a.x < 5 GROUP BY a.x",
            2,
        ),
    ] {
        let Plan::Join(j) = query::parse(sql).unwrap() else {
            panic!()
        };
        let (got, _) = query::join::run_grouped(&j, &a, &b, None, min).unwrap();
        let want = query::join::plaintext_grouped(&j, &a, &b, min).unwrap();
        assert_eq!(got, want, "{sql}");
        // The plaintext itself, by a nested loop: each group's join count,
        // and only the groups with at least `min` rows.
        let (ak, ax) = (a.column("id").unwrap(), a.column("x").unwrap());
        let (bk, bv, bg) = (
            b.column("k").unwrap(),
            b.column("v").unwrap(),
            b.column("g").unwrap(),
        );
        let mut groups: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for i in 0..a.rows() {
            if ak[i] == Value::Null
                || (sql.contains("a.x < 5") && !matches!(ax[i], Value::Int(x) if x < 5))
            {
                continue;
            }
            for k in 0..b.rows() {
                if bk[k] != ak[i] {
                    continue;
                }
                let label = if sql.contains("GROUP BY b.g") {
                    format!("{:?}", bg[k])
                } else {
                    format!("{:?}", ax[i])
                };
                let e = groups.entry(label).or_default();
                e.0 += 1;
                if let Value::Int(v) = bv[k] {
                    e.1 += v;
                }
            }
        }
        let expected: Vec<(String, i64)> = groups
            .into_iter()
            .filter(|(_, (c, _))| *c >= min as i64)
            .map(|(l, (c, _))| (l, c))
            .collect();
        let mut rows: Vec<(String, i64)> = got
            .rows
            .iter()
            .map(|r| {
                (
                    format!("{:?}", r[0]),
                    match r[1] {
                        Value::Int(c) => c,
                        _ => -1,
                    },
                )
            })
            .collect();
        rows.sort();
        assert_eq!(rows, expected, "{sql}");
    }
}
