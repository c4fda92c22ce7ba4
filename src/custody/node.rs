//! The signer node: one per site, holding one share of every key, checking
//! every request against its own policy, logging what it decided and
//! signed, and serving an HTTP API to custody products
//! (`quorate signer serve --config node.toml`).
//!
//! # Roles
//! Any node can receive an API request; it becomes that request's
//! *coordinator*. It picks the participants (for a signature, a set that
//! meets the policy tier of the amount, itself first), then for each
//! attempt draws a fresh 32-byte session id and proposes the job to every
//! other participant over node-to-node TLS ([`wire`]). Each participant
//! decides for itself: the key exists and is at the proposed epoch, and,
//! for a signature, its own policy allows the amount, destination and
//! signer set given its own history ([`crate::custody::policy`]). It logs
//! the request, its decision and the participants in its audit log
//! ([`crate::custody::audit`]) before answering. Only when every
//! participant accepted does the coordinator say `go`; the participants
//! then connect pairwise for that session and run the ceremony. A
//! compromised coordinator therefore cannot get a signature that the
//! policies of the signers refuse: each of them checks.
//!
//! The policy decides on the facts the request declares (asset, amount,
//! destination); binding them to the digest (parsing the transaction) is
//! the custody product's part.
//!
//! # Ceremonies
//! - Key generation: Feldman VSS with proofs of knowledge and an echo
//!   round, then pairwise base OTs (engine `sign::dkg`, `sign::driver::keygen`).
//! - ECDSA: DKLs23 (Doerner, Kondi, Lee, shelat, IEEE S&P 2024), three
//!   rounds; the session is durably logged as consumed before any secret
//!   is used (`sign::consumed`), and a failed OT check discards the pair's
//!   base OTs in the stored share.
//! - Schnorr and taproot: FROST (RFC 9591), BIP-340 output.
//! - Refresh: a sharing of zero added by every node (Herzberg, Jarecki,
//!   Krawczyk, Yung, CRYPTO 1995), staged, acknowledged by all, then
//!   committed ([`store`]).
//!
//! Every ceremony's nonce hashes the session id with 32 random bytes from
//! each participant, so no single node (the coordinator included) chooses
//! it.
//!
//! # Faults
//! TCP retransmits what the network loses; a dial is retried until the
//! ceremony's deadline, so a peer that restarts in the meantime is
//! reached. A peer that stays silent fails the attempt after the
//! configured timeout, and the coordinator retries with a fresh session
//! id, leaving out the nodes that did not answer when the policy allows.
//! A consumed ECDSA session is never run again (the log survives a crash
//! and a restore refuses ECDSA until a refresh). Share files are replaced
//! only by atomic renames.

pub mod config;

mod api;
mod ceremony;
mod coordinate;
mod metrics;
pub mod store;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k256::ecdsa::SigningKey;
use quorate_circuits::PartyId;
use quorate_engine::net::Channel;
use quorate_engine::net::handshake::{SessionId, handshake, program_hash};
use quorate_engine::net::tls::{pinned_client_config, pinned_server_config, stream_channel};
use quorate_engine::sign::bip32::{self, DerivationPath};
use quorate_engine::sign::consumed::{FileLog, SessionLog};
use quorate_engine::sign::dkls::SignRequest;
use quorate_engine::sign::frost::Suite;
use quorate_engine::sign::{Identifier, SignError, driver};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsStream;
use tracing::{error, info, warn};

pub use config::{Config, token_hash};

use crate::custody::audit::{self, AuditLog};
use crate::custody::policy::{Amount, Request, Spend};
use crate::custody::{hex, unhex};
use crate::keystore::{self, WriteMode};
use store::{KeyEntry, Keys};
use wire::{Decision, Hello, Job, Outcome, Proposal, Reply, Scheme, SignJob};

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration or a file it names is wrong.
    #[error("{0}")]
    Config(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> NodeError {
    NodeError::Failed(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random32() -> Result<[u8; 32], String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("the OS random source failed: {e}"))?;
    Ok(b)
}

/// Records the coordinator keeps at most.
const MAX_RECORDS: usize = 100_000;
/// Connections waiting for their ceremony at most.
const MAX_WAITING_LINKS: usize = 4096;
/// Incoming node-to-node connections being handled at once.
const MAX_PEER_CONNECTIONS: usize = 512;

/// What the coordinator knows of a request.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Record {
    id: String,
    kind: &'static str,
    status: &'static str,
    client: String,
    created: u64,
    finished: Option<u64>,
    key: Option<String>,
    participants: Vec<String>,
    attempts: u32,
    #[serde(skip_serializing_if = "Value::is_null")]
    request: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Record {
    fn is_final(&self) -> bool {
        matches!(self.status, "done" | "refused" | "failed")
    }
}

#[derive(Default)]
struct Records {
    map: HashMap<String, (Record, tokio::sync::watch::Sender<bool>)>,
    order: VecDeque<String>,
}

enum Slot {
    Waiting(tokio::sync::oneshot::Sender<TlsStream<TcpStream>>),
    Arrived(Box<TlsStream<TcpStream>>, Instant),
}

/// Where `link` connections meet the ceremony that waits for them,
/// whichever comes first.
#[derive(Default)]
struct Rendezvous(Mutex<HashMap<([u8; 32], usize), Slot>>);

impl Rendezvous {
    fn deliver(&self, key: ([u8; 32], usize), stream: TlsStream<TcpStream>) {
        let mut map = lock(&self.0);
        match map.remove(&key) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(stream);
            }
            _ => {
                map.retain(|_, s| match s {
                    Slot::Arrived(_, at) => at.elapsed() < Duration::from_secs(120),
                    Slot::Waiting(tx) => !tx.is_closed(),
                });
                if map.len() < MAX_WAITING_LINKS {
                    map.insert(key, Slot::Arrived(Box::new(stream), Instant::now()));
                }
            }
        }
    }

    async fn wait(
        &self,
        key: ([u8; 32], usize),
        timeout: Duration,
    ) -> Option<TlsStream<TcpStream>> {
        let rx = {
            let mut map = lock(&self.0);
            match map.remove(&key) {
                Some(Slot::Arrived(s, _)) => return Some(*s),
                _ => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    map.insert(key, Slot::Waiting(tx));
                    rx
                }
            }
        };
        // Removes the slot however this wait ends (a timeout, or the
        // ceremony giving up and dropping this future).
        struct Leave<'a>(&'a Rendezvous, ([u8; 32], usize));
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut map = lock(&(self.0).0);
                if matches!(map.get(&self.1), Some(Slot::Waiting(_))) {
                    map.remove(&self.1);
                }
            }
        }
        let _leave = Leave(self, key);
        tokio::time::timeout(timeout, rx)
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// A running node.
pub(crate) struct Node {
    cfg: Config,
    me: Identifier,
    clients: Vec<Option<Arc<rustls::ClientConfig>>>,
    keys: Keys,
    audit: Mutex<AuditLog>,
    ledger: Mutex<Ledger>,
    sessions: Mutex<Sessions>,
    records: Mutex<Records>,
    rendezvous: Rendezvous,
    metrics: metrics::Metrics,
    handle: tokio::runtime::Handle,
    started: Instant,
    in_flight: AtomicUsize,
}

/// The audit key: a k256 ECDSA key sealed with the node's passphrase in
/// `DATA/audit.key`, made on first start.
fn audit_key(cfg: &Config) -> Result<SigningKey, NodeError> {
    let path = cfg.data_dir.join("audit.key");
    if path.exists() {
        let bytes =
            keystore::read_file(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        let opened = keystore::open(&cfg.passphrase, &bytes)
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
        return SigningKey::from_slice(opened.secret())
            .map_err(|e| failed(format!("{}: {e}", path.display())));
    }
    let key = loop {
        let b = zeroize::Zeroizing::new(random32().map_err(failed)?);
        if let Ok(k) = SigningKey::from_slice(&b[..]) {
            break k;
        }
    };
    let secret = zeroize::Zeroizing::new(key.to_bytes().to_vec());
    let header = json!({"format": "quorate-audit-key", "node": cfg.name});
    let sealed = keystore::seal(
        &cfg.passphrase,
        header.to_string().as_bytes(),
        &secret,
        &cfg.kdf,
    )
    .map_err(failed)?;
    keystore::write_atomic(&path, &sealed, WriteMode::CreateNew)
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    Ok(key)
}

/// What this node signed, from its audit log.
fn history_from(log: &Path) -> Result<Vec<Spend>, NodeError> {
    let bytes = std::fs::read(log).map_err(|e| failed(format!("{}: {e}", log.display())))?;
    let mut out = Vec::new();
    for (time, kind, body) in audit::entries(&bytes) {
        // Counted from `go`: what a node agreed to sign counts, whether or
        // not its ceremony ended well.
        if kind != "go" {
            continue;
        }
        let (Some(key), Some(asset), Some(amount)) = (
            body["key"].as_str(),
            body["asset"].as_str(),
            body["amount"]
                .as_str()
                .and_then(|a| a.parse::<Amount>().ok()),
        ) else {
            continue;
        };
        out.push(Spend {
            at: time,
            key: key.to_owned(),
            asset: asset.to_owned(),
            amount,
        });
    }
    Ok(out)
}

/// The addresses a started node listens on.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// The HTTP API.
    pub api: SocketAddr,
    /// Node-to-node TLS.
    pub peers: SocketAddr,
}

/// Runs a node until the process is interrupted. `ready` is called once
/// both listeners are bound and every key is loaded.
pub fn serve(cfg: Config, ready: impl FnOnce(&Bound, &Value)) -> Result<(), NodeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("quorate-node")
        .enable_all()
        .build()
        .map_err(failed)?;
    rt.block_on(async move {
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| failed(format!("{}: {e}", cfg.data_dir.display())))?;
        let key = audit_key(&cfg)?;
        let log_path = cfg.data_dir.join("audit.log");
        let audit = AuditLog::open(&log_path, &cfg.name, key).map_err(failed)?;
        let history = history_from(&log_path)?;
        let me = Identifier::new(cfg.index as u16 + 1).map_err(failed)?;
        let keys = Keys::load(&cfg.data_dir.join("keys"), me.get(), &cfg.passphrase)
            .map_err(NodeError::Failed)?;
        let list = cfg.parties.list().to_vec();
        let others: Vec<_> = list
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != cfg.index)
            .map(|(_, p)| p.cert.clone())
            .collect();
        let server = Arc::new(
            pinned_server_config(&cfg.identity, others)
                .map_err(|e| NodeError::Config(e.to_string()))?,
        );
        let clients = list
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == cfg.index {
                    Ok(None)
                } else {
                    pinned_client_config(&cfg.identity, &p.cert).map(|c| Some(Arc::new(c)))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NodeError::Config(e.to_string()))?;
        let peer_addr = list[cfg.index].address.clone();
        let peer_listener = TcpListener::bind(&peer_addr)
            .await
            .map_err(|e| failed(format!("listening for nodes on {peer_addr}: {e}")))?;
        let api_listener = TcpListener::bind(&cfg.api_listen)
            .await
            .map_err(|e| failed(format!("listening for the API on {}: {e}", cfg.api_listen)))?;
        let bound = Bound {
            api: api_listener.local_addr().map_err(failed)?,
            peers: peer_listener.local_addr().map_err(failed)?,
        };
        let node = Arc::new(Node {
            cfg,
            me,
            clients,
            keys,
            audit: Mutex::new(audit),
            ledger: Mutex::new(Ledger {
                history,
                reserved: Vec::new(),
            }),
            sessions: Mutex::new(Sessions::default()),
            records: Mutex::new(Records::default()),
            rendezvous: Rendezvous::default(),
            metrics: metrics::Metrics::default(),
            handle: tokio::runtime::Handle::current(),
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
        });
        info!(
            node = %node.cfg.name,
            api = %bound.api,
            peers = %bound.peers,
            keys = node.keys.all().len(),
            "signer node started"
        );
        ready(&bound, &node.status_base());
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        tokio::spawn(node.clone().accept_peers(peer_listener, acceptor));
        tokio::spawn(node.clone().settle_staged());
        axum::serve(api_listener, api::router(node.clone()))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(failed)?;
        info!(node = %node.cfg.name, "signer node stopped");
        Ok(())
    })
}

/// Spent amounts (the last day's) and amounts reserved by accepted
/// proposals not yet gone ahead, under one lock.
#[derive(Default)]
pub(crate) struct Ledger {
    history: Vec<Spend>,
    reserved: Vec<(String, Spend)>,
}

/// A day, plus a minute of clock slack: older spends no longer count.
const DAY_AND_SLACK: u64 = 86_400 + 60;

/// Session ids this node has decided on (never accepted twice), and those
/// it accepted and has not finished.
#[derive(Default)]
struct Sessions {
    seen: std::collections::HashSet<String>,
    order: VecDeque<String>,
    active: std::collections::HashSet<String>,
}

/// Session ids remembered for replay refusal; ECDSA sessions are also in
/// each key's durable consumed-session log.
const MAX_SEEN_SESSIONS: usize = 1_000_000;

/// An attempt that did not produce an outcome.
enum Miss {
    /// A node's policy refused: final.
    Refused {
        node: String,
        rule: String,
        reason: String,
    },
    /// A node was unreachable, busy or failed: another attempt may work.
    Retry {
        reason: String,
        suspects: Vec<usize>,
    },
    /// A ceremony that may have stored something failed: not retried.
    Failed(String),
}

/// Logs consumed ECDSA sessions in the key's shared file log, locked only
/// while a session is recorded, so sessions of one key run side by side.
struct SharedLog(Arc<Mutex<FileLog>>);

impl SessionLog for SharedLog {
    fn consume(&mut self, session: &[u8; 32]) -> Result<(), SignError> {
        lock(&self.0).consume(session)
    }
}

impl Node {
    fn name_of(&self, i: usize) -> &str {
        &self.cfg.parties.list()[i].name
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.cfg.parties.id_of(name).map(|p| usize::from(p.0))
    }

    /// Claims a session id for a decision: `false` if it was seen before.
    fn claim_session(&self, session: &str) -> bool {
        let mut s = lock(&self.sessions);
        if !s.seen.insert(session.to_owned()) {
            return false;
        }
        s.order.push_back(session.to_owned());
        while s.order.len() > MAX_SEEN_SESSIONS {
            if let Some(old) = s.order.pop_front() {
                s.seen.remove(&old);
            }
        }
        s.active.insert(session.to_owned());
        true
    }

    /// The session is over here (its id stays seen).
    fn forget_session(&self, session: &str) {
        lock(&self.sessions).active.remove(session);
    }

    fn audit(&self, kind: &str, body: Value) -> Result<(), String> {
        lock(&self.audit)
            .append(kind, body)
            .map(|_| ())
            .map_err(|e| format!("audit log: {e}"))
    }

    /// The public part of `status`.
    fn status_base(&self) -> Value {
        let audit = lock(&self.audit);
        let (seq, head) = audit.head();
        json!({
            "node": self.cfg.name,
            "party": self.me.get(),
            "nodes": self.cfg.parties.list().iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "keys": self.keys.all().len(),
            "audit": {
                "public_key": hex(&audit.public_key().to_sec1_bytes()),
                "entries": seq + 1,
                "head": head,
            },
            "in_flight": self.in_flight.load(Ordering::Relaxed),
            "uptime_s": self.started.elapsed().as_secs(),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    // ---- node-to-node connections ------------------------------------

    async fn accept_peers(
        self: Arc<Self>,
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    ) {
        let limit = Arc::new(tokio::sync::Semaphore::new(MAX_PEER_CONNECTIONS));
        loop {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let (tcp, addr) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "accepting a node connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let node = self.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        node.metrics.peer_refused();
                        warn!(%addr, error = %e, "node connection refused at the TLS handshake");
                        return;
                    }
                    Err(_) => {
                        node.metrics.peer_refused();
                        return;
                    }
                };
                let who = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| node.cfg.parties.by_cert(c));
                let Some(j) = who.filter(|&j| j != node.cfg.index) else {
                    node.metrics.peer_refused();
                    return;
                };
                node.serve_peer(j, TlsStream::Server(tls)).await;
            });
        }
    }

    async fn serve_peer(self: Arc<Self>, j: usize, mut stream: TlsStream<TcpStream>) {
        let hello: Hello = match wire::read(&mut stream, self.cfg.timeout, "hello").await {
            Ok(h) => h,
            Err(e) => {
                self.metrics.peer_refused();
                warn!(peer = %self.name_of(j), error = %e, "a node connection without a valid hello");
                return;
            }
        };
        match hello {
            Hello::Ping => {
                let keys = self
                    .keys
                    .all()
                    .iter()
                    .map(|k| (k.id.clone(), k.epoch()))
                    .collect();
                let pong = Reply::Pong {
                    node: self.cfg.name.clone(),
                    keys,
                };
                let _ = wire::write(&mut stream, &pong).await;
            }
            Hello::Link { session } => {
                // Only for a session this node accepted and is running.
                match unhex(&session).and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                    Some(s) if lock(&self.sessions).active.contains(&session) => {
                        self.rendezvous.deliver((s, j), stream);
                    }
                    _ => self.metrics.peer_refused(),
                }
            }
            Hello::Propose(p) => self.participate(j, stream, *p).await,
        }
    }

    /// Dials node `j`, retrying a refused connection until `deadline` (a
    /// peer restarting comes back within it).
    async fn dial(&self, j: usize, deadline: Instant) -> Result<TlsStream<TcpStream>, String> {
        let p = &self.cfg.parties.list()[j];
        let cfg = self.clients[j]
            .clone()
            .ok_or_else(|| "a node does not dial itself".to_owned())?;
        let tcp = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, TcpStream::connect(&p.address)).await {
                Ok(Ok(s)) => break s,
                Ok(Err(e)) if Instant::now() + Duration::from_millis(100) < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Err(e)) => return Err(format!("node `{}` at {}: {e}", p.name, p.address)),
                Err(_) => return Err(format!("node `{}` at {}: timed out", p.name, p.address)),
            }
        };
        let _ = tcp.set_nodelay(true);
        let name =
            rustls_pki_types::ServerName::try_from("quorate.invalid").map_err(|e| e.to_string())?;
        let left = deadline.saturating_duration_since(Instant::now());
        let tls = tokio::time::timeout(
            left,
            tokio_rustls::TlsConnector::from(cfg).connect(name, tcp),
        )
        .await
        .map_err(|_| format!("node `{}`: the TLS handshake timed out", p.name))?
        .map_err(|e| format!("node `{}`: TLS handshake refused: {e}", p.name))?;
        Ok(TlsStream::Client(tls))
    }

    /// Pings every other node: `(name, Ok(keys) | Err(why))`.
    async fn ping_all(self: &Arc<Self>) -> Vec<(String, Result<Vec<(String, u64)>, String>)> {
        let mut set = tokio::task::JoinSet::new();
        for j in 0..self.cfg.parties.list().len() {
            if j == self.cfg.index {
                continue;
            }
            let node = self.clone();
            set.spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(2);
                let timeout = node.cfg.timeout.min(Duration::from_secs(5));
                let r = async {
                    let mut s = node.dial(j, deadline).await?;
                    wire::write(&mut s, &Hello::Ping).await?;
                    match wire::read::<_, Reply>(&mut s, timeout, "pong").await? {
                        Reply::Pong { keys, .. } => Ok(keys),
                        _ => Err("an unexpected answer to a ping".to_owned()),
                    }
                }
                .await;
                (j, node.name_of(j).to_owned(), r)
            });
        }
        let mut out = Vec::new();
        while let Some(Ok(x)) = set.join_next().await {
            out.push(x);
        }
        out.sort_by_key(|(j, _, _)| *j);
        out.into_iter().map(|(_, n, r)| (n, r)).collect()
    }

    /// Resolves refreshes a crash left staged: a peer at the staged epoch
    /// means every node acknowledged it (promote); otherwise keep the
    /// staged share until a peer or a proposal shows which epoch is in
    /// use. Tries for a minute after start.
    async fn settle_staged(self: Arc<Self>) {
        for _ in 0..60 {
            if !self.settle_once().await {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One round of [`settle_staged`](Self::settle_staged); `true` while
    /// a staged share remains.
    async fn settle_once(self: &Arc<Self>) -> bool {
        if self.keys.all().iter().all(|k| k.staged_epoch().is_none()) {
            return false;
        }
        let pongs = self.ping_all().await;
        let mut pending = false;
        for k in self.keys.all() {
            let Some(staged) = k.staged_epoch() else {
                continue;
            };
            let seen = pongs.iter().any(|(_, r)| {
                r.as_ref()
                    .is_ok_and(|keys| keys.iter().any(|(id, e)| *id == k.id && *e == staged))
            });
            if !seen {
                pending = true;
                continue;
            }
            match k.promote(staged) {
                Ok(_) => {
                    info!(key = %k.id, epoch = staged, "staged share promoted: peers use its epoch")
                }
                Err(e) => error!(key = %k.id, error = %e, "promoting a staged share"),
            }
        }
        pending
    }
}
