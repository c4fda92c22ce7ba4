//! `quorate signer init|serve|status|load`: set up and run a signer node,
//! ask it how it is, and measure a group of them under load.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use quorate::custody::node::{self, Config, token_hash};
use quorate_engine::net::tls::{Identity, parties_entry};
use serde_json::{Value, json};

use super::sign::{hex, unhex};
use super::{CliError, CliResult, Out, shown, write_atomic};

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

pub(crate) const INIT_HELP: &str = "Writes into --dir: NAME.key (private, readable by you \
only) and NAME.crt, the node's TLS identity; passphrase (private), a random passphrase that \
encrypts the node's key shares and audit key; and node.toml, which names parties.toml and \
policy.toml beside it. Prints the node's parties-file entry, and an API token for the custody \
product (shown once: node.toml keeps only its SHA-256).\n\nEvery site runs init, sends its \
entry (never its key) to the others, and puts the same parties.toml (every node's entry) and \
its policy.toml next to node.toml; then `quorate signer serve --config DIR/node.toml`.\n\n\
Example:\n  quorate signer init --name treasury --dir treasury/ --peer-address 10.0.0.1:7000 \
--api-address 127.0.0.1:7100";

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The node's name, as in the parties file.
    #[arg(long)]
    name: String,
    /// The node's directory (created).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Where the node listens for the other nodes (its parties-file address).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7000")]
    peer_address: String,
    /// Where the node serves its HTTP API.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7100")]
    api_address: String,
    /// The API client the printed token is for.
    #[arg(long, default_value = "custody-app")]
    client: String,
    /// Memory of the passphrase hash (argon2id) for share files, MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    kdf_memory_mib: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn init(args: &InitArgs) -> CliResult {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid(&args.name) || !valid(&args.client) {
        return Err(failed(
            "--name and --client must be 1 to 64 letters, digits, `-` or `_`",
        ));
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| failed(format!("{}: {e}", shown(args.dir.display()))))?;
    let config = args.dir.join("node.toml");
    if config.exists() {
        return Err(failed(format!(
            "{} exists: this directory already holds a node",
            shown(config.display())
        )));
    }
    let (_, pem) = Identity::generate(&args.name).map_err(failed)?;
    let key_path = args.dir.join(format!("{}.key", args.name));
    let cert_path = args.dir.join(format!("{}.crt", args.name));
    write_atomic(&key_path, 0o600, false, |f| {
        f.write_all(pem.key_pem.as_bytes())
    })?;
    write_atomic(&cert_path, 0o644, false, |f| {
        f.write_all(pem.cert_pem.as_bytes())
    })?;
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut secret[..]).map_err(failed)?;
    let passphrase = zeroize::Zeroizing::new(hex(&secret[..]));
    write_atomic(&args.dir.join("passphrase"), 0o600, false, |f| {
        f.write_all(passphrase.as_bytes())
    })?;
    getrandom::fill(&mut secret[..]).map_err(failed)?;
    let token = zeroize::Zeroizing::new(format!("qt_{}", hex(&secret[..])));
    let text = format!(
        "# Signer node `{name}` (quorate signer init). See `quorate signer serve --help`.\n\
name = \"{name}\"\n\
parties = \"parties.toml\"\n\
certificate = \"{name}.crt\"\n\
private_key = \"{name}.key\"\n\
policy = \"policy.toml\"\n\
data_dir = \"data\"\n\
passphrase_file = \"passphrase\"\n\
kdf_memory_mib = {kdf}\n\n\
[api]\n\
listen = \"{api}\"\n\
tokens = [{{ name = \"{client}\", sha256 = \"{hash}\" }}]\n\n\
[ceremony]\n\
timeout_secs = 30\n\
attempts = 3\n",
        name = args.name,
        kdf = args.kdf_memory_mib,
        api = args.api_address,
        client = args.client,
        hash = hex(&token_hash(&token)),
    );
    write_atomic(&config, 0o644, false, |f| f.write_all(text.as_bytes()))?;
    let entry = parties_entry(&args.name, &args.peer_address, &pem.cert_pem);
    let mut out = Out::new();
    if args.json {
        return out.json(&json!({
            "name": args.name,
            "config": config,
            "certificate": cert_path,
            "parties_entry": entry,
            "client": args.client,
            "token": token.as_str(),
        }));
    }
    out.line(format!(
        "wrote {} (with {}, {} and passphrase; keep the key and passphrase on this machine)",
        shown(config.display()),
        shown(key_path.display()),
        shown(cert_path.display())
    ))?;
    out.line(format!(
        "API token for `{}` (shown once; send it to the client, not the file):\n  {}",
        args.client,
        token.as_str()
    ))?;
    out.line("parties-file entry (every site's parties.toml lists every node):")?;
    out.line(entry.trim_end())
}

pub(crate) const SERVE_HELP: &str = "Loads node.toml (see `quorate signer init`), unlocks the \
node's share files and audit key with its passphrase, and serves: node-to-node TLS on its \
parties-file address (every other node's certificate pinned), and the HTTP API on [api] \
listen, described at GET /openapi.json. Every API route but /v1/health and /openapi.json needs \
`Authorization: Bearer TOKEN`.\n\nWhen both listeners are up it prints one JSON line to stdout \
({\"event\":\"ready\",...}); logs go to stderr (RUST_LOG sets the level, default info). Runs \
until interrupted. A node can be stopped or killed at any point: share files are replaced only \
by atomic renames, consumed signing sessions are logged before use, and the audit log's torn \
tail is cut when it starts again.\n\nExample:\n  quorate signer serve --config treasury/node.toml";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The node's configuration.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

pub(crate) fn serve(args: &ServeArgs) -> CliResult {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    let cfg = Config::load(&args.config).map_err(failed)?;
    node::serve(cfg, |bound, status| {
        let line = json!({
            "event": "ready",
            "node": status["node"],
            "api": bound.api.to_string(),
            "peers": bound.peers.to_string(),
            "keys": status["keys"],
            "audit_public_key": status["audit"]["public_key"],
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
    .map_err(failed)
}

/// How to reach a node's API.
#[derive(Debug, Args)]
pub(crate) struct ApiArgs {
    /// The node's configuration (its [api] listen address is used).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    config: Option<PathBuf>,
    /// The node's API, e.g. http://127.0.0.1:7100.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// A file holding the API token (else QUORATE_API_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

struct Api {
    base: String,
    token: zeroize::Zeroizing<String>,
    agent: ureq::Agent,
}

impl ApiArgs {
    fn connect(&self, timeout: Duration) -> Result<Api, CliError> {
        let base = match (&self.url, &self.config) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(c)) => format!("http://{}", api_listen(c)?),
            (None, None) => return Err(failed("give --config FILE or --url URL")),
        };
        let token = match &self.token_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| failed(format!("{}: {e}", shown(p.display()))))?
                .trim()
                .to_owned(),
            None => std::env::var("QUORATE_API_TOKEN").map_err(|_| {
                failed("no API token: give --token-file FILE or set QUORATE_API_TOKEN")
            })?,
        };
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build(),
        );
        Ok(Api {
            base,
            token: zeroize::Zeroizing::new(token),
            agent,
        })
    }
}

fn api_listen(config: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(config)
        .map_err(|e| failed(format!("{}: {e}", shown(config.display()))))?;
    let v: toml::Table =
        toml::from_str(&text).map_err(|e| failed(format!("{}: {e}", shown(config.display()))))?;
    v.get("api")
        .and_then(|a| a.get("listen"))
        .and_then(|l| l.as_str())
        .map(str::to_owned)
        .ok_or_else(|| failed(format!("{}: no [api] listen", shown(config.display()))))
}

impl Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), CliError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token.as_str());
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        };
        let mut resp = resp.map_err(|e| failed(format!("{url}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| failed(format!("{url}: {e}")))?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }
}

fn api_error(status: u16, v: &Value) -> CliError {
    let msg = v["error"]
        .as_str()
        .map_or_else(|| v.to_string(), str::to_owned);
    failed(format!("the node answered {status}: {msg}"))
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) const STATUS_HELP: &str = "Asks a node (GET /v1/status) for its name, keys, audit log \
head and public key (for `quorate audit verify --public-key`), requests in progress, and \
whether each other node answers over pinned TLS. Exit status 1 if the node cannot be reached \
or a peer does not answer.\n\nExample:\n  QUORATE_API_TOKEN=qt_... quorate signer status --config \
treasury/node.toml";

pub(crate) fn status(args: &StatusArgs) -> CliResult {
    let api = args.api.connect(Duration::from_secs(15))?;
    let (code, v) = api.call("GET", "/v1/status", None)?;
    if code != 200 {
        return Err(api_error(code, &v));
    }
    let down: Vec<String> = v["peers"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter(|x| x["reachable"] != true)
                .map(|x| x["node"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Out::new();
    if args.json {
        out.json(&v)?;
    } else {
        out.line(format!(
            "node {} (party {}), up {} s, version {}",
            v["node"].as_str().unwrap_or("?"),
            v["party"],
            v["uptime_s"],
            v["version"].as_str().unwrap_or("?")
        ))?;
        out.line(format!(
            "keys {}, requests pending {}, ceremonies running {}",
            v["keys"], v["pending_requests"], v["in_flight"]
        ))?;
        out.line(format!(
            "audit log: {} entries, head {}, public key {}",
            v["audit"]["entries"],
            v["audit"]["head"].as_str().unwrap_or("?"),
            v["audit"]["public_key"].as_str().unwrap_or("?")
        ))?;
        for p in v["peers"].as_array().into_iter().flatten() {
            if p["reachable"] == true {
                out.line(format!(
                    "peer {:<16} up ({} keys)",
                    p["node"].as_str().unwrap_or("?"),
                    p["keys"]
                ))?;
            } else {
                out.line(format!(
                    "peer {:<16} DOWN: {}",
                    p["node"].as_str().unwrap_or("?"),
                    p["error"].as_str().unwrap_or("?")
                ))?;
            }
        }
    }
    if down.is_empty() {
        Ok(())
    } else {
        Err(failed(format!("not answering: {}", down.join(", "))))
    }
}

pub(crate) const LOAD_HELP: &str = "Sends --requests signature requests for --key to a node, \
--in-flight at a time (each waits for its outcome), verifies every returned signature with the \
standard verifier, and prints throughput, latency percentiles, and how many were done, refused, \
failed or lost (no final answer). Exit status 1 if any was lost or failed.\n\nExample:\n  \
QUORATE_API_TOKEN=qt_... quorate signer load --url http://127.0.0.1:7100 --key 1a2b3c4d5e6f7a8b \
--requests 1000 --in-flight 16";

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum LoadScheme {
    Ecdsa,
    Schnorr,
    Taproot,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The key id.
    #[arg(long)]
    key: String,
    /// Requests to send.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    requests: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    in_flight: u64,
    /// The scheme.
    #[arg(long, value_enum, default_value_t = LoadScheme::Ecdsa)]
    scheme: LoadScheme,
    /// Asset, amount and destination of every request (for the policy).
    #[arg(long, default_value = "ETH")]
    asset: String,
    #[arg(long, default_value = "0.001")]
    amount: String,
    #[arg(long, default_value = "0x0000000000000000000000000000000000000001")]
    destination: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Whether a node's answer holds a signature on `digest` that the
/// standard verifiers accept.
fn verify_signature(scheme: LoadScheme, result: &Value, digest: &[u8; 32]) -> bool {
    let get = |k: &str| unhex(k, result[k].as_str().unwrap_or(""), None).unwrap_or_default();
    let (sig, pk) = (get("signature"), get("public_key"));
    match scheme {
        LoadScheme::Ecdsa => quorate_engine::sign::dkls::verify(&pk, digest, &sig, true),
        LoadScheme::Schnorr | LoadScheme::Taproot => {
            quorate_engine::sign::bip340::verify(&pk, digest, &sig)
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What a load run sends.
struct Load<'a> {
    key: &'a str,
    requests: usize,
    in_flight: usize,
    scheme: LoadScheme,
    asset: &'a str,
    amount: &'a str,
    destination: &'a str,
    progress: bool,
}

/// Sends the requests, `in_flight` at a time, each waiting for its
/// outcome; verifies every signature; the summary.
fn run_load(api: &Arc<Api>, l: &Load<'_>) -> Value {
    let scheme = match l.scheme {
        LoadScheme::Ecdsa => "ecdsa",
        LoadScheme::Schnorr => "schnorr",
        LoadScheme::Taproot => "taproot",
    };
    let next = Arc::new(AtomicUsize::new(0));
    let total = l.requests;
    // (latency ms, status, signature verified)
    let results: Arc<Mutex<Vec<(f64, String, bool)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(total)));
    let started = Instant::now();
    let workers = l.in_flight.min(total);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (api, next, results) = (api.clone(), next.clone(), results.clone());
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return;
                    }
                    let mut digest = [0u8; 32];
                    let _ = getrandom::fill(&mut digest);
                    let body = json!({
                        "scheme": scheme,
                        "digest": hex(&digest),
                        "path": format!("m/{}", i % 1000),
                        "asset": l.asset,
                        "amount": l.amount,
                        "destination": l.destination,
                        "wait": true,
                    });
                    let t = Instant::now();
                    let r = api.call("POST", &format!("/v1/keys/{}/sign", l.key), Some(&body));
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    let (status, ok) = match r {
                        Ok((200, v)) => {
                            let st = v["status"].as_str().unwrap_or("?").to_owned();
                            let ok =
                                st == "done" && verify_signature(l.scheme, &v["result"], &digest);
                            (st, ok)
                        }
                        Ok((code, _)) => (format!("http {code}"), false),
                        Err(_) => ("lost".to_owned(), false),
                    };
                    let done = {
                        let mut r = results
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        r.push((ms, status, ok));
                        r.len()
                    };
                    if done % 100 == 0 && l.progress {
                        let _ = writeln!(std::io::stderr(), "  {done}/{total} requests");
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let results = results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let count = |s: &str| results.iter().filter(|r| r.1 == s).count();
    let (done, refused, failed_n) = (count("done"), count("refused"), count("failed"));
    let verified = results.iter().filter(|r| r.2).count();
    let lost = total - done - refused - failed_n;
    let mut lat: Vec<f64> = results
        .iter()
        .filter(|r| r.1 == "done")
        .map(|r| r.0)
        .collect();
    lat.sort_by(f64::total_cmp);
    json!({
        "requests": total,
        "in_flight": workers,
        "scheme": scheme,
        "done": done,
        "verified": verified,
        "refused": refused,
        "failed": failed_n,
        "lost": lost,
        "seconds": secs,
        "throughput_per_s": done as f64 / secs,
        "p50_ms": percentile(&lat, 0.50),
        "p99_ms": percentile(&lat, 0.99),
        "max_ms": lat.last().copied().unwrap_or(0.0),
    })
}

fn print_load(summary: &Value, json_out: bool) -> CliResult {
    let mut out = Out::new();
    if json_out {
        out.json(summary)?;
    } else {
        let n = |k: &str| summary[k].as_u64().unwrap_or(0);
        let f = |k: &str| summary[k].as_f64().unwrap_or(0.0);
        out.line(format!(
            "{} {} requests, {} in flight: {} done ({} verified), {} refused, {} failed, {} lost",
            n("requests"),
            summary["scheme"].as_str().unwrap_or("?"),
            n("in_flight"),
            n("done"),
            n("verified"),
            n("refused"),
            n("failed"),
            n("lost")
        ))?;
        out.line(format!(
            "{:.1} s, {:.1} signatures/s, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            f("seconds"),
            f("throughput_per_s"),
            f("p50_ms"),
            f("p99_ms"),
            f("max_ms")
        ))?;
    }
    let (lost, failed_n, done, verified) = (
        summary["lost"].as_u64().unwrap_or(0),
        summary["failed"].as_u64().unwrap_or(0),
        summary["done"].as_u64().unwrap_or(0),
        summary["verified"].as_u64().unwrap_or(0),
    );
    if lost > 0 || failed_n > 0 || verified != done {
        return Err(failed(format!(
            "{lost} requests lost, {failed_n} failed, {} signatures did not verify",
            done - verified
        )));
    }
    Ok(())
}

pub(crate) fn load(args: &LoadArgs) -> CliResult {
    let api = Arc::new(args.api.connect(Duration::from_secs(600))?);
    let (code, v) = api.call("GET", &format!("/v1/keys/{}", args.key), None)?;
    if code != 200 {
        return Err(api_error(code, &v));
    }
    let summary = run_load(
        &api,
        &Load {
            key: &args.key,
            requests: args.requests as usize,
            in_flight: args.in_flight as usize,
            scheme: args.scheme,
            asset: &args.asset,
            amount: &args.amount,
            destination: &args.destination,
            progress: !args.json,
        },
    );
    print_load(&summary, args.json)
}

pub(crate) const BENCH_HELP: &str = "Sets up --nodes signer nodes in a temporary directory \
(`signer init`, one parties file, a policy whose one tier needs --threshold of them), starts \
each as its own `quorate signer serve` process on loopback, makes a key through the API, then \
runs `signer load` against the first node: --requests signature requests, --in-flight at a \
time, each signature verified. Prints key generation time, throughput and latency \
percentiles; stops the nodes. JSON keys: nodes, threshold, keygen_ms, requests, in_flight, \
scheme, done, verified, refused, failed, lost, seconds, throughput_per_s, p50_ms, p99_ms, max_ms.";

#[derive(Debug, Args)]
pub(crate) struct BenchSignerArgs {
    /// Signer nodes (processes).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=16))]
    nodes: u16,
    /// Signers per signature (the key's threshold).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..=16))]
    threshold: u16,
    /// Signature requests.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    requests: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    in_flight: u64,
    /// The scheme.
    #[arg(long, value_enum, default_value_t = LoadScheme::Ecdsa)]
    scheme: LoadScheme,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Node processes, killed when dropped.
struct Nodes(Vec<std::process::Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn bench_signer(args: &BenchSignerArgs) -> CliResult {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    if args.threshold > args.nodes {
        return Err(failed("--threshold is more than --nodes"));
    }
    let exe = std::env::current_exe().map_err(failed)?;
    let tmp = tempfile::tempdir().map_err(failed)?;
    let n = usize::from(args.nodes);
    let socks: Vec<std::net::TcpListener> = (0..2 * n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(failed)?;
    let ports: Vec<u16> = socks
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(failed)?;
    drop(socks);
    let names: Vec<String> = (0..n).map(|i| format!("node{}", i + 1)).collect();
    let mut entries = String::new();
    let mut token = zeroize::Zeroizing::new(String::new());
    let mut tokens_line = String::new();
    for (i, name) in names.iter().enumerate() {
        let dir = tmp.path().join(name);
        let o = Command::new(&exe)
            .args(["signer", "init", "--json", "--name", name, "--dir"])
            .arg(&dir)
            .args(["--peer-address", &format!("127.0.0.1:{}", ports[i])])
            .args(["--api-address", &format!("127.0.0.1:{}", ports[n + i])])
            .output()
            .map_err(failed)?;
        if !o.status.success() {
            return Err(failed(String::from_utf8_lossy(&o.stderr)));
        }
        let v: Value = serde_json::from_slice(&o.stdout).map_err(failed)?;
        entries.push_str(v["parties_entry"].as_str().unwrap_or(""));
        let cfg = dir.join("node.toml");
        let text = std::fs::read_to_string(&cfg).map_err(failed)?;
        if i == 0 {
            *token = v["token"].as_str().unwrap_or("").to_owned();
            tokens_line = text
                .lines()
                .find(|l| l.starts_with("tokens"))
                .unwrap_or("")
                .to_owned();
        } else {
            // One client token for every node.
            let text: Vec<&str> = text
                .lines()
                .map(|l| {
                    if l.starts_with("tokens") {
                        tokens_line.as_str()
                    } else {
                        l
                    }
                })
                .collect();
            std::fs::write(&cfg, text.join("\n")).map_err(failed)?;
        }
    }
    let policy = format!(
        "[groups]\nall = [{}]\n\n[[tier]]\nname = \"any\"\nrequire = [{{ group = \"all\", at_least = {} }}]\n",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", "),
        args.threshold
    );
    for name in &names {
        let dir = tmp.path().join(name);
        std::fs::write(dir.join("parties.toml"), &entries).map_err(failed)?;
        std::fs::write(dir.join("policy.toml"), &policy).map_err(failed)?;
    }
    let mut nodes = Nodes(Vec::new());
    for name in &names {
        let dir = tmp.path().join(name);
        let err = std::fs::File::create(dir.join("serve.log")).map_err(failed)?;
        let mut child = Command::new(&exe)
            .args(["signer", "serve", "--config"])
            .arg(dir.join("node.toml"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(failed)?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        nodes.0.push(child);
        if !line.contains("\"ready\"") {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            return Err(failed(format!("node {name} did not start: {log}")));
        }
    }
    let api = Arc::new(Api {
        base: format!("http://127.0.0.1:{}", ports[n]),
        token,
        agent: ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(600)))
                .http_status_as_error(false)
                .build(),
        ),
    });
    let t = Instant::now();
    let (code, v) = api.call(
        "POST",
        "/v1/keys",
        Some(&json!({"threshold": args.threshold, "wait": true})),
    )?;
    let keygen_ms = t.elapsed().as_secs_f64() * 1e3;
    if code != 200 || v["status"] != "done" {
        return Err(failed(format!("key generation: {v}")));
    }
    let key = v["key"].as_str().unwrap_or("").to_owned();
    let mut summary = run_load(
        &api,
        &Load {
            key: &key,
            requests: args.requests as usize,
            in_flight: args.in_flight as usize,
            scheme: args.scheme,
            asset: "ETH",
            amount: "0.001",
            destination: "0x0000000000000000000000000000000000000001",
            progress: !args.json,
        },
    );
    drop(nodes);
    summary["nodes"] = json!(n);
    summary["threshold"] = json!(args.threshold);
    summary["keygen_ms"] = json!(keygen_ms);
    if !args.json {
        Out::new().line(format!(
            "{n} signer nodes (separate processes, loopback TLS), key generation {keygen_ms:.0} ms"
        ))?;
    }
    print_load(&summary, args.json)
}
