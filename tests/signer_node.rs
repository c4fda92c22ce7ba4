//! Signer nodes as separate OS processes on loopback: `quorate signer init`
//! and `serve`, driven through the HTTP API as a custody product would.
//! Key generation, signing under each policy tier (3 and 5 nodes), a
//! refusal naming its node and rule, unauthenticated calls, a wrong
//! certificate, a node killed and restarted mid-signing and mid-refresh,
//! a tampered audit log, backup and restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{quorate, stderr, stdout};
use serde_json::{Value, json};

/// A group of nodes, each its own process; killed on drop.
struct Group {
    dir: tempfile::TempDir,
    names: Vec<String>,
    apis: Vec<String>,
    token: String,
    procs: Vec<Option<Child>>,
    audit_keys: Vec<String>,
}

impl Drop for Group {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().flatten() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn ports(n: usize) -> Vec<u16> {
    let socks: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    socks
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

impl Group {
    /// `n` nodes named a, b, c...; `policy(name)` is each node's policy.
    fn new(n: usize, policy: impl Fn(&str) -> String) -> Group {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..n)
            .map(|i| ((b'a' + i as u8) as char).to_string())
            .collect();
        let p = ports(2 * n);
        let mut entries = String::new();
        let mut token = String::new();
        let mut apis = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let d = dir.path().join(name);
            let o = quorate(&[
                "signer",
                "init",
                "--name",
                name,
                "--dir",
                d.to_str().unwrap(),
                "--peer-address",
                &format!("127.0.0.1:{}", p[i]),
                "--api-address",
                &format!("127.0.0.1:{}", p[n + i]),
                "--kdf-memory-mib",
                "1",
                "--json",
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
            entries.push_str(v["parties_entry"].as_str().unwrap());
            apis.push(format!("http://127.0.0.1:{}", p[n + i]));
            // One client token for every node: each node.toml lists the
            // first node's token hash too.
            if i == 0 {
                token = v["token"].as_str().unwrap().to_owned();
            } else {
                let first = std::fs::read_to_string(dir.path().join("a/node.toml")).unwrap();
                let line = first
                    .lines()
                    .find(|l| l.starts_with("tokens"))
                    .unwrap()
                    .to_owned();
                let cfg = d.join("node.toml");
                let text = std::fs::read_to_string(&cfg).unwrap();
                let text: String = text
                    .lines()
                    .map(|l| {
                        if l.starts_with("tokens") {
                            line.clone()
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::write(&cfg, text).unwrap();
            }
        }
        for name in &names {
            let d = dir.path().join(name);
            std::fs::write(d.join("parties.toml"), &entries).unwrap();
            std::fs::write(d.join("policy.toml"), policy(name)).unwrap();
            let cfg = d.join("node.toml");
            let text = std::fs::read_to_string(&cfg)
                .unwrap()
                .replace("timeout_secs = 30", "timeout_secs = 5");
            std::fs::write(&cfg, text).unwrap();
        }
        let mut g = Group {
            dir,
            names,
            apis,
            token,
            procs: (0..n).map(|_| None).collect(),
            audit_keys: vec![String::new(); n],
        };
        for i in 0..n {
            g.start(i);
        }
        g
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.names[i])
    }

    /// Starts node `i` and waits for its ready line.
    fn start(&mut self, i: usize) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quorate"))
            .args(["signer", "serve", "--config"])
            .arg(self.node_dir(i).join("node.toml"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("node {} did not start ({e}): {line}", self.names[i]));
        assert_eq!(v["event"], "ready");
        self.audit_keys[i] = v["audit_public_key"].as_str().unwrap().to_owned();
        self.procs[i] = Some(child);
    }

    /// Kills node `i` (SIGKILL: no chance to tidy up).
    fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.procs[i].take() {
            p.kill().unwrap();
            p.wait().unwrap();
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(120)))
                .http_status_as_error(false)
                .build(),
        )
    }

    fn call(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.apis[i]);
        let a = Self::agent();
        let auth = format!("Bearer {}", token.unwrap_or(&self.token));
        let r = match (method, body) {
            ("GET", _) => a.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => a.post(&url).header("Authorization", &auth).send_json(&b),
            (_, None) => a.post(&url).header("Authorization", &auth).send_empty(),
        };
        let mut r = r.unwrap();
        let code = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn keygen(&self, i: usize, t: u16) -> String {
        let (code, v) = self.call(
            i,
            "POST",
            "/v1/keys",
            Some(json!({"threshold": t, "wait": true})),
            None,
        );
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"], "done", "{v}");
        v["key"].as_str().unwrap().to_owned()
    }

    /// A signature request through node `i`; the record once it ended.
    fn sign(&self, i: usize, key: &str, extra: Value) -> (Value, [u8; 32]) {
        let mut digest = [0u8; 32];
        getrandom::fill(&mut digest).unwrap();
        let mut body = json!({
            "scheme": "ecdsa",
            "digest": hex(&digest),
            "asset": "ETH",
            "amount": "1",
            "destination": "0xbeef",
            "wait": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (code, v) = self.call(i, "POST", &format!("/v1/keys/{key}/sign"), Some(body), None);
        assert_eq!(code, 200, "{v}");
        (v, digest)
    }
}

fn verify(record: &Value, digest: &[u8; 32]) {
    assert_eq!(record["status"], "done", "{record}");
    let r = &record["result"];
    let sig = unhex(r["signature"].as_str().unwrap());
    let pk = unhex(r["public_key"].as_str().unwrap());
    match record["request"]["scheme"].as_str().unwrap() {
        "ecdsa" => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk).unwrap();
            let s = k256::ecdsa::Signature::from_slice(&sig).unwrap();
            vk.verify_prehash(digest, &s).expect("ECDSA verifies");
        }
        _ => {
            let pk: [u8; 32] = pk.try_into().unwrap();
            let sig: [u8; 64] = sig.try_into().unwrap();
            assert!(quorate::engine::sign::bip340::verify(&pk, digest, &sig));
        }
    }
}

const THREE: &str = r#"
[groups]
all = ["a", "b", "c"]

[[tier]]
name = "small"
asset = "ETH"
below = "10"
require = [{ group = "all", at_least = 2 }]

[[tier]]
name = "large"
asset = "ETH"
from = "10"
require = [{ group = "all", at_least = 3 }]

[[allow]]
name = "eth-counterparties"
asset = "ETH"
destinations = ["0xbeef", "0xcafe"]

[[limit]]
name = "eth-daily"
key = "*"
asset = "ETH"
daily = "100"
"#;

#[test]
fn three_nodes_keygen_sign_refuse_refresh_and_audit() {
    let g = Group::new(3, |_| THREE.to_owned());

    // Unauthenticated calls are refused; health and the OpenAPI document
    // are public.
    let (code, v) = g.call(0, "GET", "/v1/keys", None, Some("wrong"));
    assert_eq!(code, 401, "{v}");
    let (code, _) = g.call(
        0,
        "POST",
        "/v1/keys",
        Some(json!({"threshold": 2})),
        Some("qt_0000"),
    );
    assert_eq!(code, 401);
    let (code, doc) = g.call(0, "GET", "/openapi.json", None, Some("none"));
    assert_eq!(code, 200);
    for p in [
        "/v1/keys",
        "/v1/keys/{id}/sign",
        "/v1/keys/{id}/refresh",
        "/v1/requests/{id}",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "OpenAPI lacks {p}");
    }

    // Key generation among the three; every node lists the key.
    let key = g.keygen(0, 2);
    for i in 0..3 {
        let (code, v) = g.call(i, "GET", &format!("/v1/keys/{key}"), None, None);
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["threshold"], 2);
        assert_eq!(v["epoch"], 0);
    }

    // Small tier: two signers; large tier: all three; every scheme, via
    // every node, under a derivation path.
    for (i, scheme) in [(0, "ecdsa"), (1, "schnorr"), (2, "taproot")] {
        let (r, d) = g.sign(i, &key, json!({"scheme": scheme, "path": "m/0/7"}));
        verify(&r, &d);
        assert_eq!(r["participants"].as_array().unwrap().len(), 2, "{r}");
    }
    let (r, d) = g.sign(1, &key, json!({"amount": "10"}));
    verify(&r, &d);
    assert_eq!(r["participants"], json!(["a", "b", "c"]));

    // Named signers that do not meet the tier: each node refuses and the
    // refusal names the rule.
    let (r, _) = g.sign(0, &key, json!({"amount": "50", "signers": ["a", "b"]}));
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(r["refusal"]["rule"], "tier large", "{r}");
    // A destination off the allow-list.
    let (r, _) = g.sign(2, &key, json!({"destination": "0xdead"}));
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(r["refusal"]["rule"], "allow eth-counterparties", "{r}");
    // The daily limit: 1 + 1 + 1 + 10 signed so far (ECDSA, Schnorr,
    // taproot, large) on the nodes that took part; 90 more passes it.
    let (r, _) = g.sign(0, &key, json!({"amount": "90"}));
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(r["refusal"]["rule"], "limit eth-daily", "{r}");
    // A malformed request is refused before anything runs.
    let (code, v) = g.call(0, "POST", &format!("/v1/keys/{key}/sign"), Some(json!({"scheme": "ecdsa", "digest": "abcd", "asset": "ETH", "amount": "1", "destination": "0xbeef"})), None);
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("digest"), "{v}");

    // An oversized field is refused before anything is logged.
    let (code, v) = g.call(
        0,
        "POST",
        &format!("/v1/keys/{key}/sign"),
        Some(
            json!({"scheme": "ecdsa", "digest": hex(&[7u8; 32]), "asset": "ETH", "amount": "1",
                    "destination": "0x".repeat(100_000)}),
        ),
        None,
    );
    assert_eq!(code, 400, "{v}");

    // Refresh: a new epoch everywhere; signatures still verify under the
    // same key.
    let (code, r) = g.call(
        1,
        "POST",
        &format!("/v1/keys/{key}/refresh"),
        Some(json!({"wait": true})),
        None,
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["result"]["epoch"], 1, "{r}");
    for i in 0..3 {
        let (_, v) = g.call(i, "GET", &format!("/v1/keys/{key}"), None, None);
        assert_eq!(v["epoch"], 1, "{v}");
    }
    let (r, d) = g.sign(2, &key, json!({"signers": ["b", "c"]}));
    verify(&r, &d);

    // Status shows the peers; metrics count the ceremonies and refusals.
    let o = Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(["signer", "status", "--json", "--config"])
        .arg(g.node_dir(0).join("node.toml"))
        .env("QUORATE_API_TOKEN", &g.token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let st: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(st["peers"].as_array().unwrap().len(), 2);
    assert!(
        st["peers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["reachable"] == true)
    );
    let (code, m) = g.call(0, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    let m = m.as_str().unwrap().to_owned();
    assert!(
        m.contains("quorate_ceremonies_total{kind=\"sign\",outcome=\"ok\"}"),
        "{m}"
    );
    assert!(
        m.contains("quorate_policy_refusals_total{rule=\"allow eth-counterparties\"}"),
        "{m}"
    );
    assert!(m.contains("quorate_api_unauthorized_total 2"), "{m}");

    // Every node's audit log verifies under its key and records what it
    // signed; an edited entry is caught and named.
    for i in 0..3 {
        let log = g.node_dir(i).join("data/audit.log");
        let o = quorate(&[
            "audit",
            "verify",
            log.to_str().unwrap(),
            "--public-key",
            &g.audit_keys[i],
        ]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("\"kind\":\"signed\""));
        assert!(text.contains("\"kind\":\"refuse\""));
    }
    let log = g.node_dir(1).join("data/audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let edited = text.replacen("\"amount\":\"10\"", "\"amount\":\"1.0\"", 1);
    assert_ne!(edited, text);
    let copy = g.dir.path().join("tampered.log");
    std::fs::write(&copy, edited).unwrap();
    let o = quorate(&[
        "audit",
        "verify",
        copy.to_str().unwrap(),
        "--public-key",
        &g.audit_keys[1],
        "--json",
    ]);
    assert!(!o.status.success());
    let rep: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(!rep["problems"].as_array().unwrap().is_empty(), "{rep}");
}

/// Five nodes: below 10 any 3, from 10 any 4, from 100 all 5 (a senior
/// group of four for the middle tier); node e's own policy is stricter.
fn five(name: &str) -> String {
    let top = if name == "e" { "60" } else { "100" };
    format!(
        r#"
[groups]
all = ["a", "b", "c", "d", "e"]
senior = ["b", "c", "d", "e"]

[[tier]]
name = "small"
asset = "ETH"
below = "10"
require = [{{ group = "all", at_least = 3 }}]

[[tier]]
name = "medium"
asset = "ETH"
from = "10"
below = "{top}"
require = [{{ group = "senior", at_least = 4 }}]

[[tier]]
name = "large"
asset = "ETH"
from = "{top}"
require = [{{ group = "all", at_least = 5 }}]
"#
    )
}

#[test]
fn five_nodes_sign_under_each_tier_and_each_node_checks_itself() {
    let g = Group::new(5, five);
    let key = g.keygen(2, 3);
    let (r, d) = g.sign(0, &key, json!({"amount": "2"}));
    verify(&r, &d);
    assert_eq!(r["participants"].as_array().unwrap().len(), 3, "{r}");
    let (r, d) = g.sign(0, &key, json!({"amount": "20", "scheme": "taproot"}));
    verify(&r, &d);
    // The senior group's four, whoever coordinates.
    assert_eq!(r["participants"], json!(["b", "c", "d", "e"]), "{r}");
    let (r, d) = g.sign(3, &key, json!({"amount": "150"}));
    verify(&r, &d);
    assert_eq!(r["participants"].as_array().unwrap().len(), 5);
    // 70 is medium for a..d but large for e, which checks the request
    // itself: a coordinator with four senior signers cannot get past it.
    let (r, _) = g.sign(1, &key, json!({"amount": "70"}));
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(r["refusal"]["node"], "e", "{r}");
    assert_eq!(r["refusal"]["rule"], "tier large", "{r}");
}

#[test]
fn a_wrong_certificate_is_refused() {
    let mut g = Group::new(3, |_| THREE.to_owned());
    let key = g.keygen(0, 2);
    // A node started with a certificate its parties file does not pin
    // for it stops at once, saying so.
    let b = g.node_dir(1);
    let o = quorate(&[
        "keys",
        "gen",
        "--party",
        "b",
        "--out",
        g.dir.path().join("rogue").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::copy(g.dir.path().join("rogue/b.crt"), b.join("b.crt")).unwrap();
    std::fs::copy(g.dir.path().join("rogue/b.key"), b.join("b.key")).unwrap();
    g.kill(1);
    let o = quorate(&[
        "signer",
        "serve",
        "--config",
        b.join("node.toml").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not the one"), "{}", stderr(&o));

    // An impostor whose own parties file pins its certificate as `b`, at
    // b's address: a and c refuse it at the TLS handshake, so it gets
    // nothing signed, and they count the refusal.
    let parties = std::fs::read_to_string(b.join("parties.toml")).unwrap();
    let cert = std::fs::read_to_string(b.join("b.crt")).unwrap();
    let mut out = String::new();
    for block in parties.split("[[party]]").filter(|s| !s.trim().is_empty()) {
        if block.contains("name = \"b\"") {
            let start = block.find("-----BEGIN").unwrap();
            let end = block.find("-----END CERTIFICATE-----").unwrap()
                + "-----END CERTIFICATE-----\n".len();
            out.push_str(&format!(
                "[[party]]{}{}{}",
                &block[..start],
                cert,
                &block[end..]
            ));
        } else {
            out.push_str(&format!("[[party]]{block}"));
        }
    }
    std::fs::write(b.join("parties.toml"), out).unwrap();
    // The impostor has no share of the key; it asks for a new key instead.
    g.start(1);
    let (code, r) = g.call(
        1,
        "POST",
        "/v1/keys",
        Some(json!({"threshold": 2, "wait": true})),
        None,
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("TLS")
            || r["error"].as_str().unwrap().contains("closed"),
        "{r}"
    );
    let (_, m) = g.call(0, "GET", "/metrics", None, None);
    let refused: u64 = m
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("quorate_peer_refused_total"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap();
    assert!(refused >= 1, "{m}");
    // a and c still sign together.
    let (r, d) = g.sign(0, &key, json!({"signers": ["a", "c"]}));
    verify(&r, &d);
}

#[test]
fn a_node_killed_mid_signing_and_mid_refresh_loses_nothing() {
    let mut g = Group::new(3, |_| THREE.to_owned());
    let key = g.keygen(0, 2);
    let g = &mut g;
    // Eight requests in flight through a while b is killed and restarted
    // twice: every request ends signed (a retry with a fresh session id
    // leaves b out while it is down).
    let total = 60;
    let next = Arc::new(AtomicUsize::new(0));
    let records = std::sync::Mutex::new(Vec::new());
    let (api, token) = (g.apis[0].clone(), g.token.clone());
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (next, records, api, token, key) = (next.clone(), &records, &api, &token, &key);
            s.spawn(move || {
                let a = Group::agent();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let mut digest = [0u8; 32];
                    getrandom::fill(&mut digest).unwrap();
                    let mut r = a
                        .post(&format!("{api}/v1/keys/{key}/sign"))
                        .header("Authorization", &format!("Bearer {token}"))
                        .send_json(
                            json!({"scheme": "ecdsa", "digest": hex(&digest), "asset": "ETH",
                            "amount": "0.5", "destination": "0xbeef", "wait": true}),
                        )
                        .unwrap();
                    let v: Value =
                        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                    records.lock().unwrap().push((v, digest));
                }
            });
        }
        for pause in [300, 700] {
            std::thread::sleep(Duration::from_millis(pause));
            g.kill(1);
            std::thread::sleep(Duration::from_millis(200));
            g.start(1);
        }
    });
    let records = records.into_inner().unwrap();
    assert_eq!(records.len(), total);
    for (r, d) in &records {
        verify(r, d);
    }
    // b signs again after its restarts (its consumed-session log held).
    let (r, d) = g.sign(0, &key, json!({"signers": ["a", "b"]}));
    verify(&r, &d);

    // Kill c at many points of a refresh. Whatever the point, after c
    // restarts every node settles on one epoch and every pair signs.
    let started = Instant::now();
    for (k, delay) in [0u64, 2, 5, 10, 20, 40, 80].into_iter().enumerate() {
        let (code, r) = g.call(
            0,
            "POST",
            &format!("/v1/keys/{key}/refresh"),
            Some(json!({})),
            None,
        );
        assert_eq!(code, 202, "{r}");
        std::thread::sleep(Duration::from_millis(delay));
        g.kill(2);
        g.start(2);
        let id = r["id"].as_str().unwrap().to_owned();
        // The refresh ends (done or failed) within the ceremony timeout.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, r) = g.call(0, "GET", &format!("/v1/requests/{id}"), None, None);
            if r["status"] == "done" || r["status"] == "failed" {
                break;
            }
            assert!(Instant::now() < deadline, "refresh {k} never ended: {r}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The nodes agree on the epoch (a staged share is promoted when a
        // peer shows its epoch), and every pair signs.
        let deadline = Instant::now() + Duration::from_secs(30);
        let epochs = loop {
            let e: Vec<Value> = (0..3)
                .map(|i| {
                    g.call(i, "GET", &format!("/v1/keys/{key}"), None, None).1["epoch"].clone()
                })
                .collect();
            if e.iter().all(|x| *x == e[0]) || Instant::now() > deadline {
                break e;
            }
            // A signature at the newest epoch promotes staged shares.
            let _ = g.sign(0, &key, json!({"signers": ["a", "b", "c"]}));
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            epochs.iter().all(|x| *x == epochs[0]),
            "kill point {k}: epochs {epochs:?}"
        );
        for pair in [["a", "b"], ["a", "c"], ["b", "c"]] {
            let (r, d) = g.sign(1, &key, json!({"signers": pair, "scheme": "ecdsa"}));
            verify(&r, &d);
        }
    }
    assert!(started.elapsed() < Duration::from_secs(300));
}

#[test]
fn backup_and_restore_a_node() {
    let mut g = Group::new(3, |_| THREE.to_owned());
    let key = g.keygen(0, 2);
    let (r, d) = g.sign(0, &key, json!({"signers": ["a", "c"]}));
    verify(&r, &d);
    // Back up c's data, lose it, restore it from two of three pieces.
    g.kill(2);
    let data = g.node_dir(2).join("data");
    let bk = g.dir.path().join("backup");
    let o = quorate(&[
        "signer",
        "backup",
        "--dir",
        data.to_str().unwrap(),
        "-t",
        "2",
        "-n",
        "3",
        "--out",
        bk.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let file = v["backup"].as_str().unwrap().to_owned();
    std::fs::remove_dir_all(&data).unwrap();
    let pieces = format!(
        "{},{}",
        bk.join("piece-1.json").display(),
        bk.join("piece-3.json").display()
    );
    let o = quorate(&[
        "signer",
        "restore",
        "--backup",
        &file,
        "--pieces",
        &pieces,
        "--dir",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    g.start(2);
    // The restored share signs with FROST, but ECDSA refuses it until a
    // refresh: sessions consumed after the backup are not in its log.
    let (r, d) = g.sign(0, &key, json!({"signers": ["a", "c"], "scheme": "schnorr"}));
    verify(&r, &d);
    let (r, _) = g.sign(0, &key, json!({"signers": ["a", "c"]}));
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(r["refusal"]["rule"], "restored share", "{r}");
    let (code, r) = g.call(
        0,
        "POST",
        &format!("/v1/keys/{key}/refresh"),
        Some(json!({"wait": true})),
        None,
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["status"], "done", "{r}");
    let (r, d) = g.sign(0, &key, json!({"signers": ["a", "c"]}));
    verify(&r, &d);
}
