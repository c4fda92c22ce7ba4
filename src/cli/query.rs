//! `quorate query`: a SQL aggregate over the parties' tables, every party
//! in this process; only the result is revealed.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use quorate::query::{self, Plan, QueryResult, Table, Value};

use super::{CliError, CliResult, Out, shown};

pub(crate) const QUERY_HELP: &str = "Each --table NAME=@FILE is one party's table (Arrow IPC \
.arrow, Parquet .parquet, or CSV .csv with a header row); the query names tables by NAME. \
Supported now:\n\n  SELECT COUNT(*), SUM(v), \
AVG(v), MIN(v), MAX(v) FROM a UNION ALL b UNION ALL c [WHERE predicate]\n  SELECT HISTOGRAM(v, \
lo, hi, buckets) FROM a UNION ALL b\n  SELECT COUNT(*), SUM(b.v), AVG(a.w) FROM a JOIN b ON \
a.k = b.k [WHERE a.x > 1 AND b.y = 'z'] [GROUP BY b.g]\n\nOver a UNION ALL, each party filters its own rows \
and secret-shares its partial aggregates among all parties; only the totals are opened. Over a \
JOIN (two parties, keys of integers or strings), a private set intersection with secret-shared \
payloads sums over the matching keys without revealing them: neither the intersection nor any \
row is revealed, only the aggregates (AVG opens its sum and count) and the tables' sizes. NULLs \
are skipped as in SQL, NULL keys never join, and repeated keys join every pair. GROUP BY takes \
a column of either table: a group whose join has fewer than --min-group rows (default 10) is \
suppressed under MPC, so nothing about it is revealed but that it was suppressed; the other \
party learns the number of groups.\n\nWith --party NAME --parties parties.toml --key \
keys/NAME.key this process runs one party over mutually authenticated TLS: it gives only its own \
--table, the parties of the file hold one table each, and every party must run the same \
query.\n\nOutput: a table; --json prints {\"columns\": [...], \
\"rows\": [[...]]}; --out FILE.csv or FILE.arrow also writes it to a file.\n\nExample:\n  quorate query --sql \"SELECT \
COUNT(*), SUM(amount) FROM a UNION ALL b WHERE amount > 10\" --table a=@a.parquet --table \
b=@b.csv";

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The query.
    #[arg(long)]
    sql: String,
    /// A party's table: NAME=@FILE (repeat; one per party).
    #[arg(long = "table", value_name = "NAME=@FILE", required = true)]
    tables: Vec<String>,
    /// Compute in the clear instead (for checking; reveals every input to
    /// this process, which holds them all anyway).
    #[arg(long)]
    plaintext: bool,
    /// Write the result to FILE.csv or FILE.arrow (Arrow IPC).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Run only this party, against the others over TLS (give only its
    /// own --table).
    #[arg(long, requires_all = ["parties", "key"])]
    party: Option<String>,
    /// The parties file (name, address, certificate of each party).
    #[arg(long, value_name = "FILE")]
    parties: Option<PathBuf>,
    /// This party's private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// GROUP BY: groups with fewer joined rows are suppressed (decided
    /// under MPC; nothing about them is revealed but that they were
    /// suppressed).
    #[arg(long, default_value_t = quorate::query::join::DEFAULT_MIN_GROUP)]
    min_group: u64,
    /// Seconds to wait for the other parties.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f}"),
        Value::Str(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn print(r: &QueryResult, json: bool) -> CliResult {
    let mut out = Out::new();
    if json {
        return out.json(&r.to_json());
    }
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(cell).collect())
        .collect();
    let widths: Vec<usize> = (0..r.columns.len())
        .map(|c| {
            cells
                .iter()
                .map(|row| row[c].len())
                .chain([r.columns[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |v: &[String]| {
        v.iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    out.line(line(&r.columns))?;
    out.line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    )?;
    for row in &cells {
        out.line(line(row))?;
    }
    Ok(())
}

pub(crate) fn run(args: &QueryArgs) -> CliResult {
    let plan = query::parse(&args.sql).map_err(failed)?;
    let mut tables = Vec::new();
    for t in &args.tables {
        let Some((name, file)) = t.split_once("=@") else {
            return Err(failed(format!("--table {}: write NAME=@FILE", shown(t))));
        };
        if tables.iter().any(|x: &Table| x.name == name) {
            return Err(failed(format!("table `{}` is given twice", shown(name))));
        }
        tables.push(Table::load(name, std::path::Path::new(file)).map_err(failed)?);
    }
    if args.party.is_some() {
        return run_party(args, &plan, tables);
    }
    match &plan {
        Plan::Union(q) => {
            let ordered = pick(&tables, &q.tables)?;
            run_here(args, "private aggregate", &ordered, || {
                if args.plaintext {
                    Ok((query::eval::plaintext(q, &ordered)?, 0))
                } else {
                    query::run_union_in_memory(q, &ordered)
                }
            })
        }
        Plan::Join(j) => {
            let both = pick(&tables, &[j.left.0.clone(), j.right.0.clone()])?;
            let (a, b) = (both[0], both[1]);
            run_here(args, "private join", &both, || {
                if args.plaintext {
                    Ok((query::join::plaintext_grouped(j, a, b, args.min_group)?, 0))
                } else {
                    query::join::run_grouped(j, a, b, None, args.min_group)
                }
            })
        }
    }
}

/// The query's tables from those given, in the query's order; a table
/// the query reads but was not given, or one given but not read, is an
/// error.
fn pick<'a>(tables: &'a [Table], names: &[String]) -> CliResult<Vec<&'a Table>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = tables.iter().find(|t| &t.name == name).ok_or_else(|| {
            failed(format!(
                "the query reads table `{}`: give --table {}=@FILE",
                shown(name),
                shown(name)
            ))
        })?;
        out.push(t);
    }
    if let Some(t) = tables.iter().find(|t| !names.contains(&t.name)) {
        return Err(failed(format!(
            "table `{}` is given but the query does not read it",
            shown(&t.name)
        )));
    }
    Ok(out)
}

/// Runs `compute` (every party in this process) with a spinner, then
/// writes and prints the result, and on stderr its size and cost.
fn run_here(
    args: &QueryArgs,
    what: &str,
    tables: &[&Table],
    compute: impl FnOnce() -> Result<(QueryResult, u64), query::QueryError>,
) -> CliResult {
    let started = Instant::now();
    let pb = spinner(args, what);
    let outcome = compute();
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let (result, bytes) = outcome.map_err(failed)?;
    let secs = started.elapsed().as_secs_f64();
    write_out(args, &result)?;
    print(&result, args.json)?;
    if !args.json {
        let rows: usize = tables.iter().map(|t| t.rows()).sum();
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "{} parties, {rows} rows, {secs:.3} s, {bytes} bytes exchanged ({:.0} per row){}\n",
                tables.len(),
                bytes as f64 / rows.max(1) as f64,
                if args.plaintext { " (plaintext)" } else { "" }
            )
            .as_bytes(),
        );
    }
    Ok(())
}

fn write_out(args: &QueryArgs, result: &QueryResult) -> CliResult {
    let Some(path) = &args.out else {
        return Ok(());
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes: Vec<u8> = match ext.as_str() {
        "arrow" | "ipc" | "feather" => {
            let batch = result.to_record_batch().map_err(failed)?;
            let mut buf = Vec::new();
            let mut w = arrow_ipc::writer::FileWriter::try_new(&mut buf, &batch.schema())
                .map_err(failed)?;
            w.write(&batch).map_err(failed)?;
            w.finish().map_err(failed)?;
            drop(w);
            buf
        }
        "csv" => {
            let mut text = result
                .columns
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",");
            text.push('\n');
            for row in &result.rows {
                text.push_str(
                    &row.iter()
                        .map(|v| csv_field(&cell(v)))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                text.push('\n');
            }
            text.into_bytes()
        }
        _ => {
            return Err(failed(format!(
                "--out {}: write .csv or .arrow",
                shown(path.display())
            )));
        }
    };
    super::write_atomic(path, 0o644, true, |f| std::io::Write::write_all(f, &bytes))
}

/// A spinner with the elapsed time on stderr while a private query runs,
/// when stderr is a terminal and the output is not JSON.
fn spinner(args: &QueryArgs, what: &str) -> Option<indicatif::ProgressBar> {
    if args.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

fn kind_name(k: Option<query::eval::Kind>) -> &'static str {
    match k {
        None => "none",
        Some(query::eval::Kind::Int) => "integer",
        Some(query::eval::Kind::Fixed) => "floating point",
    }
}

/// Connects to the `count` parties of the parties file over TLS, the query
/// text in the handshake's program hash (every party runs the same query).
fn connect(
    args: &QueryArgs,
    party: &str,
    parties: &std::path::Path,
    key: &std::path::Path,
    count: usize,
) -> CliResult<super::mpc::Connected> {
    let mut h = quorate_engine::net::handshake::ProgramHasher::new();
    h.update(b"quorate query v1\n");
    h.update(args.sql.as_bytes());
    super::mpc::connect_all(
        parties,
        party,
        key,
        "quorate query",
        &h.finish(),
        std::time::Duration::from_secs(args.timeout),
        Some(count),
    )
}

/// One party over TLS: its own table, the others' over the network.
fn run_party(args: &QueryArgs, plan: &Plan, tables: Vec<Table>) -> CliResult {
    use quorate_engine::net::handshake::SessionId;
    let (Some(party), Some(parties), Some(key)) = (&args.party, &args.parties, &args.key) else {
        return Err(failed("--party needs --parties FILE and --key FILE"));
    };
    let [table] = tables.as_slice() else {
        return Err(failed("with --party, give this party's one table"));
    };
    let q = match plan {
        Plan::Union(q) => q,
        Plan::Join(j) => return run_join_party(args, j, table, party, parties, key),
    };
    if !q.tables.contains(&table.name) {
        return Err(failed(format!(
            "the query does not read table `{}` (it reads {})",
            shown(&table.name),
            q.tables.join(", ")
        )));
    }
    let kinds = query::eval::check_union(q, &[table]).map_err(failed)?;
    let local = query::eval::local(q, &kinds, table).map_err(failed)?;
    let mut c = connect(args, party, parties, key, q.tables.len())?;
    // Who holds which table, the column kinds, and a nonce from each.
    let nonce = SessionId::random().map_err(failed)?.0;
    let mine = serde_json::json!({
        "table": table.name,
        "kinds": kinds.iter().map(|k| kind_name(*k)).collect::<Vec<_>>(),
        "nonce": nonce.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    })
    .to_string();
    for ch in c.channels.iter_mut().flatten() {
        ch.send_frame(mine.as_bytes()).map_err(failed)?;
        ch.flush().map_err(failed)?;
    }
    let mut all: Vec<serde_json::Value> = Vec::new();
    for (j, ch) in c.channels.iter_mut().enumerate() {
        let v = match ch {
            None => serde_json::from_str(&mine).map_err(failed)?,
            Some(ch) => {
                let f = ch.recv_frame_max(1 << 16).map_err(failed)?;
                serde_json::from_slice(&f).map_err(|e| {
                    failed(format!(
                        "party `{}` sent a malformed hello: {e}",
                        shown(&c.names[j])
                    ))
                })?
            }
        };
        all.push(v);
    }
    let mut held: Vec<String> = all
        .iter()
        .map(|v| v["table"].as_str().unwrap_or("").to_owned())
        .collect();
    for (j, v) in all.iter().enumerate() {
        if v["kinds"] != all[c.me]["kinds"] {
            return Err(failed(format!(
                "party `{}`'s table `{}` has other column types than this party's ({} against {}): \
                 the tables of a UNION ALL share one schema",
                shown(&c.names[j]),
                shown(&held[j]),
                v["kinds"],
                all[c.me]["kinds"]
            )));
        }
    }
    held.sort();
    let mut want = q.tables.clone();
    want.sort();
    if held != want {
        return Err(failed(format!(
            "the parties hold tables {} but the query reads {}",
            held.join(", "),
            want.join(", ")
        )));
    }
    let nonces: Vec<Vec<u8>> = all
        .iter()
        .map(|v| v["nonce"].as_str().unwrap_or("").as_bytes().to_vec())
        .collect();
    let mut parts: Vec<&[u8]> = vec![&c.base.0];
    parts.extend(nonces.iter().map(Vec::as_slice));
    let session = SessionId::derive("quorate query session", &parts);
    let started = Instant::now();
    let mut p =
        quorate_engine::arith::Party::setup(c.me, std::mem::take(&mut c.channels), &session)
            .map_err(failed)?;
    let mins = query::eval::extremes(q);
    let (additive, extremes) = query::mpc::combine(&mut p, &local, &mins).map_err(failed)?;
    let result = query::eval::decode(q, &kinds, &additive, &extremes);
    let (sent, recv) = p.traffic();
    print(&result, args.json)?;
    if !args.json {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "party {} of {}, {:.3} s, {} bytes sent, {} received\n",
                shown(party),
                q.tables.len(),
                started.elapsed().as_secs_f64(),
                sent,
                recv
            )
            .as_bytes(),
        );
    }
    Ok(())
}

pub(crate) const BENCH_HELP: &str = "Makes two tables of --rows rows each in memory (integer \
keys, 30% of a's keys in b, distinct keys), then runs private set intersection (SELECT COUNT(*) \
FROM a JOIN b ON a.id = b.k) and a join-sum (COUNT(*), SUM(b.v)) with both parties in this \
process over in-memory channels, and the join-sum again over loopback TLS; checks every answer \
against the plaintext. JSON keys: rows, psi_1m_s_memory, join_sum_1m_s_memory, join_sum_1m_s_tls, \
bytes_per_row (both parties' traffic over the rows of both tables), bytes_psi, bytes_join_sum \
(times are for --rows rows, whatever it is).";

#[derive(Debug, Args)]
pub(crate) struct BenchQueryArgs {
    /// Rows per table.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    rows: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn bench_tables(n: usize) -> CliResult<(Table, Table)> {
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use rand::RngExt;
    use std::sync::Arc;
    let mut rng = rand::rng();
    let mut seen = std::collections::HashSet::with_capacity(2 * n);
    let mut fresh = || loop {
        let k: i64 = rng.random_range(0..i64::MAX);
        if seen.insert(k) {
            break k;
        }
    };
    let a_keys: Vec<i64> = (0..n).map(|_| fresh()).collect();
    let shared = n * 3 / 10;
    let b_keys: Vec<i64> = a_keys[..shared]
        .iter()
        .copied()
        .chain((shared..n).map(|_| fresh()))
        .collect();
    let mut rng = rand::rng();
    let vals = |rng: &mut rand::rngs::ThreadRng| {
        Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.random_range(0..1000)),
        ))
    };
    let sa = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let sb = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let a = RecordBatch::try_new(
        sa.clone(),
        vec![Arc::new(Int64Array::from(a_keys)), vals(&mut rng)],
    )
    .map_err(failed)?;
    let b = RecordBatch::try_new(
        sb.clone(),
        vec![Arc::new(Int64Array::from(b_keys)), vals(&mut rng)],
    )
    .map_err(failed)?;
    Ok((
        Table::from_batches("a", sa, vec![a]),
        Table::from_batches("b", sb, vec![b]),
    ))
}

pub(crate) fn bench(args: &BenchQueryArgs) -> CliResult {
    use quorate_engine::net::handshake::{SessionId, program_hash};
    let n = args.rows as usize;
    let progress = !args.json;
    let note = |s: &str| {
        if progress {
            let _ =
                std::io::Write::write_all(&mut std::io::stderr(), format!("  {s}\n").as_bytes());
        }
    };
    note(&format!("making two tables of {n} rows"));
    let (a, b) = bench_tables(n)?;
    let join = |sql: &str| -> CliResult<query::sql::JoinQuery> {
        match query::parse(sql).map_err(failed)? {
            Plan::Join(j) => Ok(j),
            Plan::Union(_) => Err(failed("internal: a join query")),
        }
    };
    let psi = join("SELECT COUNT(*) FROM a JOIN b ON a.id = b.k")?;
    let sum = join("SELECT COUNT(*), SUM(b.v) FROM a JOIN b ON a.id = b.k")?;
    let check = |q: &query::sql::JoinQuery, got: &QueryResult| -> CliResult {
        let want = query::join::plaintext_run(q, &a, &b).map_err(failed)?;
        if *got != want {
            return Err(failed(format!(
                "the private answer {:?} differs from the plaintext {:?}",
                got.rows, want.rows
            )));
        }
        Ok(())
    };
    note("PSI (COUNT over the join), in memory");
    let t = Instant::now();
    let (r, bytes_psi) = query::join::run_in_memory(&psi, &a, &b).map_err(failed)?;
    let psi_s = t.elapsed().as_secs_f64();
    check(&psi, &r)?;
    note("join-sum, in memory");
    let t = Instant::now();
    let (r, bytes_sum) = query::join::run_in_memory(&sum, &a, &b).map_err(failed)?;
    let sum_s = t.elapsed().as_secs_f64();
    check(&sum, &r)?;
    note("join-sum, loopback TLS");
    let session = SessionId::random().map_err(failed)?;
    let rows = quorate_engine::net::tls::loopback_mesh(
        &["a", "b"],
        &session,
        &program_hash(b"bench query"),
    )
    .map_err(failed)?;
    let t = Instant::now();
    let (r, _) = query::join::run_grouped(&sum, &a, &b, Some(rows), query::join::DEFAULT_MIN_GROUP)
        .map_err(failed)?;
    let tls_s = t.elapsed().as_secs_f64();
    check(&sum, &r)?;
    let per_row = bytes_sum as f64 / (2 * n) as f64;
    let v = serde_json::json!({
        "rows": n,
        "psi_1m_s_memory": psi_s,
        "join_sum_1m_s_memory": sum_s,
        "join_sum_1m_s_tls": tls_s,
        "bytes_per_row": per_row,
        "bytes_psi": bytes_psi,
        "bytes_join_sum": bytes_sum,
    });
    let mut out = Out::new();
    if args.json {
        return out.json(&v);
    }
    out.line(format!(
        "{n} x {n} rows, 30% overlap, answers checked against the plaintext"
    ))?;
    out.line(format!("PSI (join count), in memory      {psi_s:.2} s"))?;
    out.line(format!("join-sum, in memory              {sum_s:.2} s"))?;
    out.line(format!("join-sum, loopback TLS           {tls_s:.2} s"))?;
    out.line(format!("bytes per row (join-sum)         {per_row:.0}"))
}

/// One party of a join over TLS: the party holding the left table is the
/// protocol's receiver.
fn run_join_party(
    args: &QueryArgs,
    j: &query::sql::JoinQuery,
    table: &Table,
    party: &str,
    parties: &std::path::Path,
    key: &std::path::Path,
) -> CliResult {
    use quorate_engine::net::handshake::SessionId;
    let s = if table.name == j.left.0 {
        0
    } else if table.name == j.right.0 {
        1
    } else {
        return Err(failed(format!(
            "the query does not read table `{}` (it joins {} and {})",
            shown(&table.name),
            j.left.0,
            j.right.0
        )));
    };
    let mut c = connect(args, party, parties, key, 2)?;
    let other = 1 - c.me;
    let nonce = SessionId::random().map_err(failed)?.0;
    let mine = serde_json::json!({
        "table": table.name,
        "schema": query::join::schema_summary(table),
        "nonce": nonce.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    let ch = c.channels[other]
        .as_mut()
        .ok_or_else(|| failed("internal: no channel to the other party"))?;
    ch.send_frame(mine.to_string().as_bytes()).map_err(failed)?;
    ch.flush().map_err(failed)?;
    let theirs: serde_json::Value =
        serde_json::from_slice(&ch.recv_frame_max(1 << 20).map_err(failed)?).map_err(|e| {
            failed(format!(
                "party `{}` sent a malformed hello: {e}",
                shown(&c.names[other])
            ))
        })?;
    let want = if s == 0 { &j.right.0 } else { &j.left.0 };
    if theirs["table"].as_str() != Some(want.as_str()) {
        return Err(failed(format!(
            "party `{}` holds table `{}`, but the query needs `{}` from it",
            shown(&c.names[other]),
            shown(theirs["table"].as_str().unwrap_or("?")),
            want
        )));
    }
    let peer: std::collections::HashMap<String, String> =
        serde_json::from_value(theirs["schema"].clone()).map_err(failed)?;
    let p = query::join::prepare_party(j, s, table, &peer).map_err(failed)?;
    let key_col = if s == 0 { &j.left.1 } else { &j.right.1 };
    let (side, labels) = query::join::side_grouped(&p, s, table, key_col).map_err(failed)?;
    // The group column's holder tells the other how many groups there are.
    let holder = p.group_side() == Some(s);
    let ch = c.channels[other]
        .as_mut()
        .ok_or_else(|| failed("internal: no channel to the other party"))?;
    let groups = if p.group_side().is_none() {
        0
    } else if holder {
        ch.send(&(labels.len() as u64).to_le_bytes())
            .map_err(failed)?;
        ch.flush().map_err(failed)?;
        labels.len()
    } else {
        let mut b = [0u8; 8];
        ch.recv(&mut b).map_err(failed)?;
        let g = u64::from_le_bytes(b) as usize;
        if g > query::join::MAX_GROUPS {
            return Err(failed(format!(
                "party `{}` announced {g} groups (the limit is {})",
                shown(&c.names[other]),
                query::join::MAX_GROUPS
            )));
        }
        g
    };
    // Both nonces, the receiver's first.
    let theirs_nonce = theirs["nonce"].as_str().unwrap_or("").as_bytes().to_vec();
    let mine_nonce = mine["nonce"].as_str().unwrap_or("").as_bytes().to_vec();
    let (n0, n1) = if s == 0 {
        (&mine_nonce, &theirs_nonce)
    } else {
        (&theirs_nonce, &mine_nonce)
    };
    let session = SessionId::derive("quorate query join session", &[&c.base.0, n0, n1]);
    // The protocol's party 0 is the receiver (the left table's holder).
    let mut rows: Vec<Option<quorate_engine::net::Channel>> = vec![None, None];
    rows[1 - s] = c.channels[other].take();
    let started = Instant::now();
    let pb = spinner(args, "private join with the other party");
    let mut party_run = quorate_engine::arith::Party::setup(s, rows, &session).map_err(failed)?;
    let (opened, passed) =
        query::join::protocol(&mut party_run, &session, &p, &side, groups, args.min_group)
            .map_err(failed)?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let result = match passed {
        None => query::join::decode(&p, &opened),
        Some(passed) => {
            // Only the labels of the groups that passed go to the other party.
            let ch = party_run.channel(1 - s).map_err(failed)?;
            let labels = if holder {
                let shown_labels: Vec<serde_json::Value> = labels
                    .iter()
                    .zip(&passed)
                    .map(|(l, ok)| {
                        if *ok {
                            label_json(l)
                        } else {
                            serde_json::Value::Null
                        }
                    })
                    .collect();
                ch.send_frame(serde_json::Value::from(shown_labels).to_string().as_bytes())
                    .map_err(failed)?;
                ch.flush().map_err(failed)?;
                labels
            } else {
                let f = ch.recv_frame_max(1 << 20).map_err(failed)?;
                let v: Vec<serde_json::Value> = serde_json::from_slice(&f).map_err(failed)?;
                v.iter().map(label_value).collect()
            };
            query::join::decode_grouped(&p, &opened, &passed, &labels)
        }
    };
    let (sent, recv) = party_run.traffic();
    write_out(args, &result)?;
    print(&result, args.json)?;
    if !args.json {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "party {} ({}), {:.3} s, {sent} bytes sent, {recv} received\n",
                shown(party),
                if s == 0 { "receiver" } else { "sender" },
                started.elapsed().as_secs_f64()
            )
            .as_bytes(),
        );
    }
    Ok(())
}

fn label_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::json!({"null": true}),
        Value::Int(i) => serde_json::json!(i),
        Value::Float(f) => serde_json::json!(f),
        Value::Str(s) => serde_json::json!(s),
        Value::Bool(b) => serde_json::json!(b),
    }
}

fn label_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}
