//! TCP with TLS 1.3 and mutual authentication by pinned certificates.
//!
//! Each party has a key and a self-signed certificate ([`Identity`]). A
//! parties file ([`Parties`], TOML) lists every party's name, address and
//! certificate; a connection succeeds only if the peer presents exactly the
//! certificate the file pins for it (both ways), so nobody else gets in and
//! no certificate authority is trusted.
//!
//! Between parties `i < j`, party `j` dials party `i`. Connections are made
//! on a small tokio runtime; once a TLS handshake is done the socket leaves
//! the runtime: the protocol's own thread encrypts and writes what it sends
//! (see [`TlsWriter`]) and reads and opens what it waits for (see
//! [`TlsReader`]). The protocol sees a blocking [`Channel`] (see the parent
//! module), and a [`handshake`] runs on it before it is handed out. Services that already
//! run on tokio (signer nodes) use [`stream_channel`], which keeps a reader
//! and a writer task on their runtime.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quorate_circuits::PartyId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::handshake::{ProgramHash, SessionId, handshake};
use super::{Channel, NetError, PIPE_CAPACITY, Pipe};

fn setup(msg: impl Into<String>) -> NetError {
    NetError::Setup(msg.into())
}

/// A party's TLS identity: its certificate and private key.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(<certificate>, <redacted key>)")
    }
}

/// A freshly generated identity in PEM, as `quorate keys gen` writes it.
/// The key is wiped on drop and never printed.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct GeneratedIdentity {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for GeneratedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedIdentity")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// Generates a key (ECDSA P-256) and a self-signed certificate for
    /// `name`.
    pub fn generate(name: &str) -> Result<(Identity, GeneratedIdentity), NetError> {
        let ck = rcgen::generate_simple_self_signed(vec![format!("{name}.quorate.invalid")])
            .map_err(|e| setup(format!("generating a certificate for {name}: {e}")))?;
        let pem = GeneratedIdentity {
            cert_pem: ck.cert.pem(),
            key_pem: ck.signing_key.serialize_pem(),
        };
        let id = Identity {
            cert: ck.cert.der().clone(),
            key: PrivateKeyDer::try_from(ck.signing_key.serialize_der())
                .map_err(|e| setup(format!("encoding the key for {name}: {e}")))?,
        };
        Ok((id, pem))
    }

    /// Loads an identity from PEM text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Identity, NetError> {
        Ok(Identity {
            cert: CertificateDer::from_pem_slice(cert_pem.as_bytes())
                .map_err(|e| setup(format!("reading the certificate: {e}")))?,
            key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| setup(format!("reading the key: {e}")))?,
        })
    }

    /// An identity from a certificate (as pinned in a parties file) and the
    /// PEM of its private key.
    pub fn from_cert_and_key_pem(
        cert: CertificateDer<'static>,
        key_pem: &str,
    ) -> Result<Identity, NetError> {
        Ok(Identity {
            cert,
            key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                .map_err(|e| setup(format!("reading the key: {e}")))?,
        })
    }

    /// Loads an identity from PEM files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Identity, NetError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| setup(format!("{}: {e}", p.display())))
        };
        let (c, k) = (read(cert)?, read(key)?);
        Identity::from_pem(&c, &k)
            .map_err(|e| setup(format!("{} / {}: {e}", cert.display(), key.display())))
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }
}

/// One party of a parties file.
#[derive(Clone, Debug)]
pub struct PartyInfo {
    /// Its name.
    pub name: String,
    /// Where it listens (`host:port`).
    pub address: String,
    /// Its pinned certificate.
    pub cert: CertificateDer<'static>,
}

/// The parties of a run, in order: a party's index is its [`PartyId`].
#[derive(Clone, Debug)]
pub struct Parties {
    list: Vec<PartyInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartiesFile {
    party: Vec<PartyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyEntry {
    name: String,
    address: String,
    /// PEM text, or a path (relative to the parties file) to a PEM file.
    certificate: String,
}

impl Parties {
    /// Parties from a list.
    pub fn new(list: Vec<PartyInfo>) -> Result<Self, NetError> {
        for (i, p) in list.iter().enumerate() {
            if p.name.is_empty() {
                return Err(setup(format!("party {} has an empty name", i + 1)));
            }
            if list[..i].iter().any(|q| q.name == p.name) {
                return Err(setup(format!("two parties are named `{}`", p.name)));
            }
            if list[..i].iter().any(|q| q.cert == p.cert) {
                return Err(setup(format!(
                    "party `{}` has the same certificate as another party",
                    p.name
                )));
            }
        }
        if list.len() > usize::from(u16::MAX) {
            return Err(setup("too many parties"));
        }
        Ok(Parties { list })
    }

    /// Reads a parties file:
    /// ```toml
    /// [[party]]
    /// name = "alice"
    /// address = "127.0.0.1:7001"
    /// certificate = "alice.crt"   # or the PEM text itself
    /// ```
    pub fn load(path: &Path) -> Result<Self, NetError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| setup(format!("{}: {e}", path.display())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Parties::parse(&text, &base).map_err(|e| setup(format!("{}: {e}", path.display())))
    }

    /// Parses a parties file's text; certificate paths are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, NetError> {
        let file: PartiesFile = toml::from_str(text).map_err(|e| setup(format!("{e}")))?;
        let mut list = Vec::with_capacity(file.party.len());
        for entry in file.party {
            let pem = if entry.certificate.trim_start().starts_with("-----BEGIN") {
                entry.certificate.clone()
            } else {
                let p: PathBuf = base.join(&entry.certificate);
                std::fs::read_to_string(&p).map_err(|e| {
                    setup(format!(
                        "certificate of `{}`: {}: {e}",
                        entry.name,
                        p.display()
                    ))
                })?
            };
            let cert = CertificateDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| setup(format!("certificate of `{}`: {e}", entry.name)))?;
            list.push(PartyInfo {
                name: entry.name,
                address: entry.address,
                cert,
            });
        }
        Parties::new(list)
    }

    /// The parties, in order.
    pub fn list(&self) -> &[PartyInfo] {
        &self.list
    }

    /// The id of the party named `name`.
    pub fn id_of(&self, name: &str) -> Option<PartyId> {
        self.list
            .iter()
            .position(|p| p.name == name)
            .map(|i| PartyId(i as u16))
    }

    /// The index of the party whose pinned certificate is `cert`.
    pub fn by_cert(&self, cert: &CertificateDer<'_>) -> Option<usize> {
        self.list
            .iter()
            .position(|p| p.cert.as_ref() == cert.as_ref())
    }
}

/// The lines of a parties-file entry for a party, to paste into the file.
pub fn parties_entry(name: &str, address: &str, cert_pem: &str) -> String {
    format!(
        "[[party]]\nname = \"{name}\"\naddress = \"{address}\"\ncertificate = \"\"\"\n{}\"\"\"\n",
        cert_pem.trim_end().to_owned() + "\n"
    )
}

/// ring's provider, with TLS 1.3's AES-128-GCM suite first: 128-bit
/// security is what every protocol above the channel targets, and it
/// seals bulk traffic (garbled tables, OT extension) a third faster than
/// AES-256-GCM, ring's default first choice. The other suites stay
/// acceptable.
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .sort_by_key(|s| s.suite() != TLS13_AES_128_GCM_SHA256.suite());
    Arc::new(p)
}

/// Accepts a peer only if it presents one of the pinned certificates (a
/// client pins its one server), and checks the handshake signature with it.
#[derive(Debug)]
struct Pinned {
    certs: Vec<CertificateDer<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A TLS 1.3 client configuration that presents `identity` and accepts
/// only a server presenting exactly `peer_cert`: for services (a signer
/// node) that keep their own connections rather than a [`connect_mesh`].
pub fn pinned_client_config(
    identity: &Identity,
    peer_cert: &CertificateDer<'static>,
) -> Result<rustls::ClientConfig, NetError> {
    client_config(identity, peer_cert)
}

/// A TLS 1.3 server configuration that presents `identity` and accepts
/// only clients presenting one of `peers` (mutual authentication).
pub fn pinned_server_config(
    identity: &Identity,
    peers: Vec<CertificateDer<'static>>,
) -> Result<rustls::ServerConfig, NetError> {
    server_config(identity, peers)
}

/// Checks that `identity`'s private key belongs to its certificate.
pub fn check_identity(identity: &Identity) -> Result<(), NetError> {
    let key = rustls::crypto::ring::sign::any_supported_type(&identity.key)
        .map_err(|e| setup(format!("the private key is not usable: {e}")))?;
    rustls::sign::CertifiedKey::new(vec![identity.cert.clone()], key)
        .keys_match()
        .map_err(|_| setup("the private key does not belong to the certificate"))
}

fn client_config(
    identity: &Identity,
    peer_cert: &CertificateDer<'static>,
) -> Result<rustls::ClientConfig, NetError> {
    let p = provider();
    let algs = p.signature_verification_algorithms;
    rustls::ClientConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(format!("TLS client configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            certs: vec![peer_cert.clone()],
            algs,
        }))
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(|e| setup(format!("TLS client certificate: {e}")))
}

fn server_config(
    identity: &Identity,
    peers: Vec<CertificateDer<'static>>,
) -> Result<rustls::ServerConfig, NetError> {
    let p = provider();
    let algs = p.signature_verification_algorithms;
    rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(format!("TLS server configuration: {e}")))?
        .with_client_cert_verifier(Arc::new(Pinned { certs: peers, algs }))
        .with_single_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(|e| setup(format!("TLS server certificate: {e}")))
}

/// Keeps a connection set's runtime alive while any of its channels lives.
struct Runtime(tokio::runtime::Runtime);

fn runtime() -> Result<Arc<Runtime>, NetError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("quorate-net")
        .enable_all()
        .build()
        .map(|rt| Arc::new(Runtime(rt)))
        .map_err(|e| setup(format!("starting the network runtime: {e}")))
}

/// Polls `fut` once: its output if it is ready now, else `None` (the future
/// is dropped; `read_buf` is cancel safe, so a read not ready takes
/// nothing).
async fn ready_now<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

/// Moves bytes from a TLS stream into `pipe` until either side closes.
async fn reader<R: tokio::io::AsyncRead + Unpin>(mut rd: R, pipe: Arc<Pipe>) {
    const BUF: usize = 256 << 10;
    let mut eof = false;
    while !eof {
        // Read into the buffer's spare capacity (no zero-fill): wait for the
        // first bytes, then take whatever else is ready (one TLS record per
        // read), up to the buffer's size.
        let mut buf = pipe.buffer(BUF);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while buf.len() < buf.capacity() {
            match ready_now(rd.read_buf(&mut buf)).await {
                Some(Ok(0) | Err(_)) => {
                    eof = true;
                    break;
                }
                Some(Ok(_)) => {}
                None => break,
            }
        }
        // The pipe counts allocations: a small read travels in a buffer of
        // its own size.
        let mut chunk = if buf.len() < buf.capacity() / 8 {
            let small = buf.to_vec();
            pipe.recycle(buf);
            small
        } else {
            buf
        };
        loop {
            match pipe.try_push(chunk) {
                Ok(()) => break,
                Err(c) => {
                    if pipe.is_closed() {
                        return;
                    }
                    chunk = c;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    pipe.close();
}

/// Moves chunks from `pipe` onto a TLS stream until the pipe closes.
async fn writer<W: tokio::io::AsyncWrite + Unpin>(mut wr: W, pipe: Arc<Pipe>, wake: Arc<Notify>) {
    loop {
        let mut wrote = false;
        while let Some(chunk) = pipe.try_pop() {
            if wr.write_all(&chunk).await.is_err() {
                pipe.close();
                pipe.mark_drained();
                return;
            }
            pipe.recycle(chunk);
            wrote = true;
        }
        if wrote && wr.flush().await.is_err() {
            pipe.close();
            pipe.mark_drained();
            return;
        }
        if pipe.is_closed_and_empty() {
            let _ = wr.shutdown().await;
            pipe.mark_drained();
            return;
        }
        wake.notified().await;
    }
}

fn channel_on<S>(
    handle: &tokio::runtime::Handle,
    stream: S,
    local: PartyId,
    peer: PartyId,
    peer_name: String,
    keep: Option<Arc<dyn Send + Sync>>,
) -> Channel
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let out = Pipe::new(PIPE_CAPACITY);
    let inp = Pipe::new(PIPE_CAPACITY);
    let wake = Arc::new(Notify::new());
    out.set_waker(wake.clone());
    handle.spawn(reader(rd, inp.clone()));
    handle.spawn(writer(wr, out.clone(), wake));
    Channel::from_pipes(local, peer, peer_name, out, inp, keep)
}

/// A [`Channel`] over an established stream (a TLS connection a service
/// accepted or dialled itself), its reader and writer tasks spawned on
/// `handle`, which must outlive the channel.
pub fn stream_channel<S>(
    handle: &tokio::runtime::Handle,
    stream: S,
    local: PartyId,
    peer: PartyId,
    peer_name: String,
) -> Channel
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    channel_on(handle, stream, local, peer, peer_name, None)
}

/// Chunks up to this size may be sealed and written by the channel's own
/// thread; larger ones go to the writer thread.
pub(crate) const DIRECT_MAX: usize = 64 << 10;

/// Seals and writes to a TLS connection driven by blocking socket calls.
///
/// Each connection has a writer thread ([`write_loop`]) that seals what the
/// channel queues in its outgoing pipe, so bulk traffic is encrypted beside
/// the protocol's computation (what arrives is opened by [`TlsReader`]).
/// A small message with nothing queued ahead of it is sealed and written
/// by the channel's own thread instead ([`super::Pipe::try_claim`] keeps
/// the order): it then costs no hand-over to another thread, and on a
/// small VM each wake-up of a sleeping thread costs tens of microseconds.
///
/// The connection state is shared behind a lock that is never held during
/// socket I/O: were a writer blocked on a full socket while holding it, the
/// readers could not drain the peer's data, and two parties sending to each
/// other at once would deadlock.
pub(crate) struct TlsWriter {
    conn: Arc<Mutex<rustls::Connection>>,
    sock: std::net::TcpStream,
    /// Encrypted bytes on their way to the socket (reused).
    sealed: Vec<u8>,
    /// The read side's sweeper, called while a write waits for room.
    sweeper: Arc<ReadShared>,
}

/// Plaintext encrypted per hold of the connection lock.
const SEAL_PIECE: usize = 128 << 10;

fn lock_conn(conn: &Mutex<rustls::Connection>) -> MutexGuard<'_, rustls::Connection> {
    // A poisoned lock means the other thread panicked mid-call; the next
    // TLS operation reports any inconsistency as an error.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

impl TlsWriter {
    /// Encrypts `data` and writes it to the socket, waiting at most the
    /// socket's write timeout for the peer to make room. A failure may leave
    /// part of a record on the wire, so it ends the connection: the socket
    /// is shut down both ways.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let r = self.write_records(data);
        if r.is_err() {
            self.abort();
        }
        r
    }

    fn write_records(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        loop {
            let (piece, tail) = rest.split_at(rest.len().min(SEAL_PIECE));
            self.sealed.clear();
            {
                let mut conn = lock_conn(&self.conn);
                io::Write::write_all(&mut conn.writer(), piece)?;
                // Also carries anything the reader's processing queued
                // (a key update's answer).
                while conn.wants_write() {
                    conn.write_tls(&mut self.sealed)?;
                }
            }
            self.send_sealed()?;
            if tail.is_empty() {
                return Ok(());
            }
            rest = tail;
        }
    }

    /// Writes the sealed bytes: first without waiting, and if the socket
    /// is full, the rest with the sweeper reading meanwhile (the peer may
    /// be stuck writing to us; see [`TlsReader`]).
    fn send_sealed(&mut self) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.sealed.len() {
            // std asks for no SIGPIPE on its own writes (MSG_NOSIGNAL on
            // Linux, SO_NOSIGPIPE on the socket elsewhere); so does this one.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let flags = rustix::net::SendFlags::DONTWAIT;
            match rustix::net::send(&self.sock, &self.sealed[sent..], flags) {
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) if would_block(e) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if sent == self.sealed.len() {
            return Ok(());
        }
        self.sweeper.stalled(1);
        let r = io::Write::write_all(&mut self.sock, &self.sealed[sent..]);
        self.sweeper.stalled(-1);
        r
    }

    /// How long a write may wait for the peer to make room.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let _ = self
            .sock
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))));
    }

    /// Sends `close_notify` and shuts the socket down both ways, which also
    /// ends the sweeper thread.
    pub(crate) fn close(&mut self) {
        self.sealed.clear();
        {
            let mut conn = lock_conn(&self.conn);
            conn.send_close_notify();
            while conn.wants_write() {
                if conn.write_tls(&mut self.sealed).is_err() {
                    break;
                }
            }
        }
        let _ = self.send_sealed();
        self.abort();
    }

    /// Shuts the socket down both ways without a goodbye: the peer sees
    /// the connection end, and the sweeper thread stops.
    pub(crate) fn abort(&self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }
}

/// Seals and writes the chunks queued in `pipe` until it is closed and
/// empty, or a write fails (then the pipe is closed, before the claim is
/// released so that nothing follows a broken record, and the channel's
/// next send reports the failure).
fn write_loop(mut w: TlsWriter, pipe: Arc<Pipe>) {
    while let Some(chunk) = pipe.pop_claim() {
        let r = w.write(&chunk);
        if let Err(e) = &r {
            pipe.fail(format!("sending failed: {e}"));
        }
        pipe.release();
        pipe.recycle(chunk);
        if r.is_err() {
            break;
        }
    }
    pipe.mark_drained();
}

/// Whether a non-blocking socket call failed only because it would have
/// had to wait.
fn would_block(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::AGAIN
}

/// Bytes read from the socket at once, at most.
const READ_BUF: usize = 256 << 10;

/// How long a receiver reads the socket in a loop before it sleeps in
/// `poll`: protocol rounds often answer that fast, and a sleeping thread
/// takes tens of microseconds to wake.
const READ_SPIN: Duration = Duration::from_micros(50);

/// How often the sweeper looks at the socket when no write is stalled.
const SWEEP_IDLE: Duration = Duration::from_millis(50);
/// How often it looks while a write is stalled but it cannot read (the
/// channel's thread holds the read side, or the pipe is full).
const SWEEP_STALLED: Duration = Duration::from_millis(1);

/// Opens what arrives on a TLS connection driven by blocking socket calls.
///
/// Whoever waits for data reads it: a channel's thread that finds its
/// incoming pipe empty takes the read side, reads the socket without
/// blocking (for [`READ_SPIN`], then asleep in `poll`), opens the records
/// and takes the plaintext itself. The peer's bytes then wake the thread
/// that waits for them, on its own CPU, with no hand-over: on a small VM a
/// reader thread woken by the kernel on the sender's CPU, which then wakes
/// the receiver, cost hundreds of microseconds per message.
///
/// A peer must never be stuck writing to us because we are stuck writing
/// to it. So while any write to the socket waits for room (see
/// [`TlsWriter`]), a sweeper thread reads what arrives into the incoming
/// pipe (up to [`PIPE_CAPACITY`]), as a dedicated reader thread would.
/// Otherwise it sleeps, and looks only every [`SWEEP_IDLE`] (or a quarter
/// of the channel's timeout, if shorter, so that a peer's write stalled on
/// us never waits out its own timeout): a sweeper that looked often (every
/// half millisecond while data came) cost multi-party signing over TLS a
/// third of its speed on this 2-vCPU VM, in wake-ups alone.
///
/// One lock, the read side, orders the readers: only its holder reads the
/// socket and feeds records to the connection, so records are opened in
/// the order they arrived. The sweeper only ever tries it. Its holder
/// blocks only in the channel's own `poll`, or pushing into a full pipe
/// (a chunk may exceed what the sweeper checked room for), which the
/// channel's thread empties without the lock.
///
/// When the channel goes, what the socket still holds is read and dropped
/// ([`TlsReader::discard_unread`]): closing a socket with unread bytes
/// sends a reset, which would throw away the end of what we sent.
pub(crate) struct TlsReader {
    shared: Arc<ReadShared>,
}

struct ReadShared {
    conn: Arc<Mutex<rustls::Connection>>,
    sock: std::net::TcpStream,
    /// The read side; see [`TlsReader`].
    side: Mutex<ReadSide>,
    inp: Arc<Pipe>,
    /// What the sweeper is asked to do.
    ctl: Mutex<SweepCtl>,
    /// Signalled when `ctl` changes.
    woken: std::sync::Condvar,
}

struct SweepCtl {
    /// The channel is going: the sweeper stops.
    stop: bool,
    /// How long the sweeper sleeps when no write is stalled.
    idle: Duration,
    /// Writes now waiting for room in the socket: the sweeper reads
    /// meanwhile.
    stalled: isize,
}

struct ReadSide {
    /// Raw bytes from the socket (reused).
    raw: Vec<u8>,
    /// Opened plaintext on its way to the pipe.
    plain: Vec<u8>,
    /// The connection ended (closed by the peer, failed, or shut down):
    /// nothing more is read.
    done: bool,
}

/// What one read of the socket did.
enum Step {
    /// Nothing was waiting.
    Idle,
    /// Bytes were read (plaintext may or may not have been delivered).
    Read,
    /// The connection ended; the pipe is closed.
    Ended,
}

impl ReadShared {
    fn side(&self) -> MutexGuard<'_, ReadSide> {
        self.side.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_side(&self) -> Option<MutexGuard<'_, ReadSide>> {
        match self.side.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Reads what the socket holds (at most [`READ_BUF`] bytes, without
    /// waiting), opens it and pushes the plaintext into the pipe. A record
    /// that fails to authenticate (or an alert from the peer) ends the
    /// connection: what was opened before it is delivered, then the pipe
    /// fails with the reason and the socket is shut down.
    fn read_once(&self, side: &mut ReadSide) -> Step {
        if side.done {
            return Step::Ended;
        }
        let n = loop {
            match rustix::net::recv(
                &self.sock,
                &mut side.raw[..],
                rustix::net::RecvFlags::DONTWAIT,
            ) {
                Ok((n, _)) => break n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) if would_block(e) => return Step::Idle,
                Err(e) => {
                    self.end(
                        side,
                        Some(format!("receiving failed: {}", io::Error::from(e))),
                    );
                    return Step::Ended;
                }
            }
        };
        if n == 0 {
            // The peer closed without close_notify: what it sent is
            // delivered, then the channel reports the close.
            self.end(side, None);
            return Step::Ended;
        }
        self.open(side, n)
    }

    /// Opens the first `n` raw bytes (none: what the connection already
    /// holds) and delivers the plaintext; a failed record ends the
    /// connection.
    fn open(&self, side: &mut ReadSide, n: usize) -> Step {
        let ReadSide { raw, plain, .. } = side;
        let opened = open_records(&mut lock_conn(&self.conn), &raw[..n], plain);
        if !self.deliver(side) {
            side.done = true;
            return Step::Ended;
        }
        match opened {
            Ok(false) => Step::Read,
            Ok(true) => {
                self.end(side, None);
                Step::Ended
            }
            Err(reason) => {
                self.end(side, Some(reason));
                let _ = self.sock.shutdown(std::net::Shutdown::Both);
                Step::Ended
            }
        }
    }

    /// Pushes the opened plaintext into the pipe; false if the pipe is
    /// closed (the channel is gone).
    fn deliver(&self, side: &mut ReadSide) -> bool {
        if side.plain.is_empty() {
            return true;
        }
        // The pipe counts allocations: a buffer less than half full
        // travels as a copy of its own size, so the pipe's bound holds at
        // least half its capacity in data.
        let chunk = if side.plain.len() < side.plain.capacity() / 2 {
            let small = side.plain.to_vec();
            side.plain.clear();
            small
        } else {
            std::mem::replace(&mut side.plain, self.inp.buffer(READ_BUF))
        };
        self.inp.push(chunk, None)
    }

    fn ctl(&self) -> MutexGuard<'_, SweepCtl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write begins (+1) or ends (-1) waiting for room in the socket.
    fn stalled(&self, change: isize) {
        let mut ctl = self.ctl();
        ctl.stalled += change;
        let wake = ctl.stalled > 0;
        drop(ctl);
        if wake {
            self.woken.notify_all();
        }
    }

    /// Ends the connection's incoming side: the pipe closes, with `reason`
    /// if it failed.
    fn end(&self, side: &mut ReadSide, reason: Option<String>) {
        side.done = true;
        match reason {
            Some(r) => self.inp.fail(r),
            None => self.inp.close(),
        }
    }

    /// Waits until the socket has something to read (or has ended) or
    /// `timeout` passes; true if it has. A zero timeout only looks, which
    /// is cheaper than a read: it takes no lock on the socket, so a
    /// receiver spinning on it does not slow the sender's delivery.
    fn wait_readable(&self, timeout: Duration) -> bool {
        let mut fds = [rustix::event::PollFd::new(
            &self.sock,
            rustix::event::PollFlags::IN,
        )];
        // The caller re-checks its deadline, so a day at a time is plenty.
        let timeout = timeout.min(Duration::from_secs(86_400));
        let ts = rustix::event::Timespec::try_from(timeout).ok();
        // EINTR and friends: the caller simply looks again.
        matches!(rustix::event::poll(&mut fds, ts.as_ref()), Ok(n) if n > 0)
    }
}

impl TlsReader {
    /// Takes the next chunk of plaintext for the channel, reading the
    /// socket itself when nothing is queued; see [`TlsReader`].
    pub(crate) fn pop(&self, deadline: Instant) -> super::Popped {
        use super::Popped;
        let s = &*self.shared;
        let spin_until = Instant::now() + READ_SPIN;
        loop {
            if let Some(c) = s.inp.try_pop() {
                return Popped::Chunk(c);
            }
            if s.inp.is_closed_and_empty() {
                return Popped::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Popped::TimedOut;
            }
            let Some(mut side) = s.try_side() else {
                // The sweeper is reading: take what it delivers.
                match s.inp.pop(deadline.min(now + Duration::from_millis(1))) {
                    Popped::TimedOut => continue,
                    got => return got,
                }
            };
            // The sweeper may have delivered just before we took the lock.
            if let Some(c) = s.inp.try_pop() {
                return Popped::Chunk(c);
            }
            match s.read_once(&mut side) {
                Step::Read | Step::Ended => {}
                // Spin on the cheaper look, then sleep in poll.
                Step::Idle if now < spin_until => {
                    if !s.wait_readable(Duration::ZERO) {
                        for _ in 0..64 {
                            std::hint::spin_loop();
                        }
                    }
                }
                Step::Idle => {
                    s.wait_readable(deadline.saturating_duration_since(Instant::now()));
                }
            }
        }
    }

    /// The channel's timeout: the sweeper looks at least four times per
    /// timeout, so a peer's write stalled on us gets room in time.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let s = &*self.shared;
        s.ctl().idle = (timeout / 4).clamp(SWEEP_STALLED, SWEEP_IDLE);
        s.woken.notify_all();
    }

    /// After the socket is shut down and the pipe closed: reads and drops
    /// what the kernel still holds, up to the end of the stream (for at
    /// most 100 ms), so that the last close sends a FIN. Closing a socket
    /// with unread bytes sends a reset instead, and the peer loses the end
    /// of what we sent (our close_notify, or the tail of a message).
    pub(crate) fn discard_unread(&self) {
        let s = &*self.shared;
        // The pipe is closed, so a sweeper in `push` lets go of this soon.
        let _side = s.side();
        let mut scratch = [0u8; 16 << 10];
        let until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < until {
            match rustix::net::recv(&s.sock, &mut scratch[..], rustix::net::RecvFlags::DONTWAIT) {
                Ok((0, _)) => break,
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                // Would-block: the socket was not shut down (a shut-down
                // one reports its end at once); nothing more to do.
                Err(_) => break,
            }
        }
    }
}

impl Drop for TlsReader {
    /// Stops the sweeper: the channel is going.
    fn drop(&mut self) {
        let s = &*self.shared;
        s.ctl().stop = true;
        s.woken.notify_all();
    }
}

/// The sweeper thread; see [`TlsReader`].
fn sweep(shared: Arc<ReadShared>) {
    // `Some(pause)` while a write is stalled: how long to wait before
    // trying again when the sweeper could not read (the channel's thread
    // holds the read side, or the pipe is full), doubling while it cannot.
    let mut retry: Option<Duration> = None;
    loop {
        {
            let ctl = shared.ctl();
            if ctl.stop {
                return;
            }
            // Sleep until a write stalls (or the idle period passes); while
            // one is stalled, only the retry pause.
            let pause = retry.unwrap_or(ctl.idle);
            let waiting = retry.is_some();
            let (ctl, _) = shared
                .woken
                .wait_timeout_while(ctl, pause, |c| !c.stop && (waiting || c.stalled <= 0))
                .unwrap_or_else(|e| e.into_inner());
            if ctl.stop {
                return;
            }
            retry =
                (ctl.stalled > 0).then(|| retry.map_or(SWEEP_STALLED, |p| (p * 2).min(SWEEP_IDLE)));
        }
        loop {
            let Some(mut side) = shared.try_side() else {
                break;
            };
            if side.done {
                return;
            }
            // Reads while there is room: a full pipe waits for the channel.
            while shared.inp.has_room(READ_BUF) {
                match shared.read_once(&mut side) {
                    Step::Read => {}
                    Step::Idle => break,
                    Step::Ended => return,
                }
            }
            drop(side);
            if retry.is_none() || !shared.inp.has_room(READ_BUF) {
                break;
            }
            // It could read: still stalled, it waits for the peer's next
            // bytes (or the write to finish, looked at every SWEEP_STALLED).
            retry = Some(SWEEP_STALLED);
            shared.wait_readable(SWEEP_STALLED);
            let ctl = shared.ctl();
            if ctl.stop {
                return;
            }
            if ctl.stalled <= 0 {
                retry = None;
                break;
            }
        }
    }
}

/// Feeds `bytes` from the socket to `conn` and appends what it opens to
/// `plain`. True once the peer has closed the connection (`close_notify`,
/// or an end of stream); an error for a record that fails to authenticate
/// or an alert.
fn open_records(
    conn: &mut rustls::Connection,
    mut bytes: &[u8],
    plain: &mut Vec<u8>,
) -> Result<bool, String> {
    loop {
        conn.process_new_packets()
            .map_err(|e| format!("TLS error: {e}"))?;
        let mut reader = conn.reader();
        loop {
            match io::BufRead::fill_buf(&mut reader) {
                // A clean close.
                Ok([]) => return Ok(true),
                Ok(opened) => {
                    let k = opened.len();
                    plain.extend_from_slice(opened);
                    io::BufRead::consume(&mut reader, k);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Ok(true),
            }
        }
        if bytes.is_empty() {
            return Ok(false);
        }
        match conn.read_tls(&mut bytes) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) => return Err(format!("reading TLS records: {e}")),
        }
    }
}

/// A [`Channel`] over an established TLS connection on a tokio socket,
/// taken off the runtime: see [`TlsWriter`].
fn direct_channel(
    tcp: TcpStream,
    mut conn: rustls::Connection,
    local: PartyId,
    peer: PartyId,
    peer_name: String,
) -> Result<Channel, NetError> {
    let io_err = |e: io::Error| NetError::Io {
        peer: peer_name.clone(),
        source: e,
    };
    let sock = tcp.into_std().map_err(io_err)?;
    sock.set_nonblocking(false).map_err(io_err)?;
    let _ = sock.set_nodelay(true);
    let rsock = sock.try_clone().map_err(io_err)?;
    let wsock = sock.try_clone().map_err(io_err)?;
    // Whole writes are sealed at once (in pieces of SEAL_PIECE bytes).
    conn.set_buffer_limit(None);
    let inp = Pipe::new(PIPE_CAPACITY);
    let out = Pipe::new(PIPE_CAPACITY);
    let conn = Arc::new(Mutex::new(conn));
    let shared = Arc::new(ReadShared {
        conn: conn.clone(),
        sock: rsock,
        side: Mutex::new(ReadSide {
            raw: vec![0u8; READ_BUF],
            plain: inp.buffer(READ_BUF),
            done: false,
        }),
        inp: inp.clone(),
        ctl: Mutex::new(SweepCtl {
            stop: false,
            idle: SWEEP_IDLE,
            stalled: 0,
        }),
        woken: std::sync::Condvar::new(),
    });
    // The handshake may have taken records past its end (the peer's first
    // message in the same segment): they are opened before anything is
    // read from the socket.
    shared.open(&mut shared.side(), 0);
    let sweeper = shared.clone();
    std::thread::Builder::new()
        .name(format!("quorate-tls-r{}", peer.0))
        .spawn(move || sweep(sweeper))
        .map_err(|e| setup(format!("starting a sweeper thread: {e}")))?;
    let reader = TlsReader { shared };
    let bulk = TlsWriter {
        conn: conn.clone(),
        sock: wsock,
        sealed: Vec::new(),
        sweeper: reader.shared.clone(),
    };
    let writer_pipe = out.clone();
    std::thread::Builder::new()
        .name(format!("quorate-tls-w{}", peer.0))
        .spawn(move || write_loop(bulk, writer_pipe))
        .map_err(|e| {
            // The sweeper thread is already looking at the socket; the
            // shutdown ends it.
            let _ = sock.shutdown(std::net::Shutdown::Both);
            setup(format!("starting a writer thread: {e}"))
        })?;
    let writer = TlsWriter {
        conn,
        sock,
        sealed: Vec::new(),
        sweeper: reader.shared.clone(),
    };
    Ok(Channel::from_pipes(local, peer, peer_name, out, inp, None).with_tls(writer, reader))
}

/// Time allowed for one incoming TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Incoming handshakes in progress at once; further connections wait in the
/// listen queue.
const MAX_PENDING_HANDSHAKES: usize = 64;

async fn dial(addr: &str, deadline: Instant, peer: &str) -> Result<TcpStream, NetError> {
    loop {
        // A black-holed address would otherwise take the system's connect
        // timeout, whatever ours is.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(remaining, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")));
        match attempt {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                if Instant::now() >= deadline {
                    return Err(NetError::Io {
                        peer: peer.to_owned(),
                        source: io::Error::new(e.kind(), format!("could not reach {addr}: {e}")),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Connects party `me` to every other party of `parties` over TLS, runs the
/// handshake on each connection, and returns the channels indexed by party
/// (`None` at `me`). Waits up to `timeout` for peers to come up.
pub fn connect_mesh(
    me: &str,
    parties: &Parties,
    identity: &Identity,
    session: &SessionId,
    program: &ProgramHash,
    timeout: Duration,
) -> Result<Vec<Option<Channel>>, NetError> {
    let my_id = parties
        .id_of(me)
        .ok_or_else(|| setup(format!("party `{me}` is not in the parties file")))?;
    let mine = &parties.list()[usize::from(my_id.0)];
    if mine.cert.as_ref() != identity.cert.as_ref() {
        return Err(setup(format!(
            "the certificate given for `{me}` is not the one the parties file pins for it"
        )));
    }
    // A key that does not belong to the pinned certificate fails here, with a
    // message that says so, rather than deep in a TLS handshake.
    let key_check = rustls::crypto::ring::sign::any_supported_type(&identity.key)
        .map_err(|e| setup(format!("the private key for `{me}` is not usable: {e}")))?;
    if rustls::sign::CertifiedKey::new(vec![identity.cert.clone()], key_check)
        .keys_match()
        .is_err()
    {
        return Err(setup(format!(
            "the private key given for `{me}` does not belong to the certificate the parties file pins for `{me}`"
        )));
    }
    let rt = runtime()?;
    let deadline = super::deadline_in(timeout);
    let n = parties.list().len();
    let me_idx = usize::from(my_id.0);
    let higher: Vec<usize> = (me_idx + 1..n).collect();
    let peer_certs: Vec<CertificateDer<'static>> = higher
        .iter()
        .map(|&j| parties.list()[j].cert.clone())
        .collect();
    let server = Arc::new(server_config(identity, peer_certs)?);
    let connectors: Vec<(usize, Arc<rustls::ClientConfig>)> = (0..me_idx)
        .map(|j| client_config(identity, &parties.list()[j].cert).map(|c| (j, Arc::new(c))))
        .collect::<Result<_, _>>()?;

    let parties2 = parties.clone();
    let listen_addr = mine.address.clone();
    let mut channels: Vec<Option<Channel>> = (0..n).map(|_| None).collect();
    let result: Result<Vec<(usize, Channel)>, NetError> = rt.0.block_on(async move {
        let listener = if higher.is_empty() {
            None
        } else {
            Some(
                TcpListener::bind(&listen_addr)
                    .await
                    .map_err(|e| setup(format!("listening on {listen_addr}: {e}")))?,
            )
        };
        let mut out = Vec::new();
        for (j, cfg) in connectors {
            let p = &parties2.list()[j];
            let tcp = dial(&p.address, deadline, &p.name).await?;
            let name = ServerName::try_from("quorate.invalid").map_err(|e| setup(e.to_string()))?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let tls = tokio::time::timeout(
                remaining,
                tokio_rustls::TlsConnector::from(cfg).connect(name, tcp),
            )
            .await
            .map_err(|_| NetError::Timeout {
                peer: p.name.clone(),
                waited: timeout,
            })?
            .map_err(|e| NetError::Io {
                peer: p.name.clone(),
                source: io::Error::other(format!("TLS handshake refused: {e}")),
            })?;
            let (tcp, conn) = tls.into_inner();
            out.push((
                j,
                direct_channel(tcp, conn.into(), my_id, PartyId(j as u16), p.name.clone())?,
            ));
        }
        if let Some(listener) = listener {
            let acceptor = tokio_rustls::TlsAcceptor::from(server);
            let mut missing: Vec<usize> = higher.clone();
            // Handshakes run side by side, each with its own time limit, so
            // a client that connects and says nothing holds up no one.
            let mut handshakes = tokio::task::JoinSet::new();
            while !missing.is_empty() {
                let remaining = deadline.saturating_duration_since(Instant::now());
                tokio::select! {
                    accepted = listener.accept(), if handshakes.len() < MAX_PENDING_HANDSHAKES => {
                        let (tcp, _) = accepted
                            .map_err(|e| setup(format!("accepting on {listen_addr}: {e}")))?;
                        let _ = tcp.set_nodelay(true);
                        let acceptor = acceptor.clone();
                        let limit = remaining.min(HANDSHAKE_TIMEOUT);
                        handshakes.spawn(async move {
                            tokio::time::timeout(limit, acceptor.accept(tcp)).await
                        });
                    }
                    Some(done) = handshakes.join_next() => {
                        // A client with an unknown certificate, or one too
                        // slow, fails here; keep waiting for the real peers.
                        let Ok(Ok(Ok(tls))) = done else {
                            continue;
                        };
                        let who = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .and_then(|c| parties2.by_cert(c));
                        let Some(j) = who.filter(|j| missing.contains(j)) else {
                            continue;
                        };
                        missing.retain(|&k| k != j);
                        let (tcp, conn) = tls.into_inner();
                        out.push((
                            j,
                            direct_channel(
                                tcp,
                                conn.into(),
                                my_id,
                                PartyId(j as u16),
                                parties2.list()[j].name.clone(),
                            )?,
                        ));
                    }
                    () = tokio::time::sleep(remaining) => {
                        let names: Vec<&str> = missing
                            .iter()
                            .map(|&j| parties2.list()[j].name.as_str())
                            .collect();
                        return Err(NetError::Timeout {
                            peer: names.join(", "),
                            waited: timeout,
                        });
                    }
                }
            }
        }
        Ok(out)
    });
    for (j, ch) in result? {
        channels[j] = Some(ch);
    }
    for ch in channels.iter_mut().flatten() {
        ch.set_timeout(timeout);
        handshake(ch, me, session, program)?;
    }
    Ok(channels)
}

/// Two parties over loopback TLS in this process, with fresh identities:
/// for tests and `quorate bench`. Returns (party 0's channel, party 1's).
pub fn loopback_pair(
    session: &SessionId,
    program: &ProgramHash,
) -> Result<(Channel, Channel), NetError> {
    let port = free_port()?;
    let (id0, pem0) = Identity::generate("p0")?;
    let (id1, pem1) = Identity::generate("p1")?;
    let parties = Parties::new(vec![
        PartyInfo {
            name: "p0".into(),
            address: format!("127.0.0.1:{port}"),
            cert: id0.cert.clone(),
        },
        PartyInfo {
            name: "p1".into(),
            address: "127.0.0.1:0".into(),
            cert: id1.cert.clone(),
        },
    ])?;
    drop((pem0, pem1));
    let (s, p) = (*session, *program);
    let parties1 = parties.clone();
    let t = std::thread::spawn(move || {
        connect_mesh("p1", &parties1, &id1, &s, &p, Duration::from_secs(10))
    });
    let mut c0 = connect_mesh(
        "p0",
        &parties,
        &id0,
        session,
        program,
        Duration::from_secs(10),
    )?;
    let mut c1 = t
        .join()
        .map_err(|_| setup("the loopback peer thread failed"))??;
    match (c0[1].take(), c1[0].take()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(setup("loopback connection missing")),
    }
}

/// `names.len()` parties over loopback TLS in this process, with fresh
/// identities, every pair connected: row `i` is party `i`'s channels, as
/// [`crate::net::memory::mesh`] gives them. For tests, benchmarks and
/// `quorate run --tcp`.
pub fn loopback_mesh(
    names: &[&str],
    session: &SessionId,
    program: &ProgramHash,
) -> Result<Vec<Vec<Option<Channel>>>, NetError> {
    let mut ids = Vec::with_capacity(names.len());
    let mut list = Vec::with_capacity(names.len());
    for name in names {
        let (id, pem) = Identity::generate(name)?;
        drop(pem);
        list.push(PartyInfo {
            name: (*name).to_owned(),
            address: format!("127.0.0.1:{}", free_port()?),
            cert: id.cert.clone(),
        });
        ids.push(id);
    }
    let parties = Parties::new(list)?;
    let rows = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .zip(names)
            .map(|(id, name)| {
                let parties = &parties;
                s.spawn(move || {
                    connect_mesh(name, parties, id, session, program, Duration::from_secs(10))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| setup("a loopback party's thread failed"))?
            })
            .collect::<Result<Vec<_>, NetError>>()
    })?;
    Ok(rows)
}

/// A port on 127.0.0.1 that is free right now.
pub fn free_port() -> Result<u16, NetError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| setup(format!("binding 127.0.0.1: {e}")))?;
    let addr: SocketAddr = l.local_addr().map_err(|e| setup(e.to_string()))?;
    Ok(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::handshake::program_hash;

    #[test]
    fn loopback_tls_moves_bytes_both_ways() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"test");
        let (mut a, mut b) = loopback_pair(&s, &p).unwrap();
        let data: Vec<u8> = (0..(3 << 20)).map(|i| (i % 251) as u8).collect();
        let d2 = data.clone();
        let t = std::thread::spawn(move || {
            let mut got = vec![0u8; d2.len()];
            b.recv(&mut got).unwrap();
            assert_eq!(got, d2);
            b.send_frame(b"done").unwrap();
            b.flush().unwrap();
            b
        });
        a.send(&data).unwrap();
        assert_eq!(a.recv_frame().unwrap(), b"done");
        let b = t.join().unwrap();
        assert_eq!(a.traffic().sent, b.traffic().received);
    }

    /// Deterministic filler for message `i` of length `len`.
    fn message(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|k| (i * 31 + k * 7) as u8).collect()
    }

    /// Small messages (sealed by the sending thread) and large ones (queued
    /// for the writer thread) arrive in the order they were sent, both
    /// ways at once.
    #[test]
    fn direct_and_queued_writes_keep_their_order() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"order");
        let (a, b) = loopback_pair(&s, &p).unwrap();
        // Sizes on both sides of DIRECT_MAX and of the channel's chunk.
        let sizes = [
            1,
            5000,
            DIRECT_MAX + 1,
            3,
            300 << 10,
            17,
            DIRECT_MAX,
            2 << 20,
            9,
        ];
        let run = |mut ch: Channel| {
            std::thread::spawn(move || {
                for (i, &len) in sizes.iter().cycle().take(40).enumerate() {
                    ch.send_frame(&message(i, len)).unwrap();
                    if i % 3 == 0 {
                        ch.flush().unwrap();
                    }
                }
                ch.flush().unwrap();
                for (i, &len) in sizes.iter().cycle().take(40).enumerate() {
                    let got = ch.recv_frame_max(4 << 20).unwrap();
                    assert_eq!(got, message(i, len), "message {i}");
                }
                ch
            })
        };
        let (ta, tb) = (run(a), run(b));
        let (a, b) = (ta.join().unwrap(), tb.join().unwrap());
        assert_eq!(a.traffic().sent, b.traffic().received);
        assert_eq!(b.traffic().sent, a.traffic().received);
    }

    /// Both parties send more than their outgoing pipe and the sockets
    /// hold before either reads: the sweeper threads drain the sockets
    /// into the incoming pipes meanwhile, so neither blocks the other.
    #[test]
    fn both_sides_sending_at_once_do_not_deadlock() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"duplex");
        let (a, b) = loopback_pair(&s, &p).unwrap();
        let run = |mut ch: Channel| {
            std::thread::spawn(move || {
                let data = message(1, PIPE_CAPACITY + (8 << 20));
                // In pieces: one chunk larger than the pipe would be let
                // through whole.
                for piece in data.chunks(1 << 20) {
                    ch.send(piece).unwrap();
                }
                ch.flush().unwrap();
                let mut got = vec![0u8; data.len()];
                ch.recv(&mut got).unwrap();
                assert!(got == data);
            })
        };
        let (ta, tb) = (run(a), run(b));
        ta.join().unwrap();
        tb.join().unwrap();
    }

    /// A record changed on the wire after the handshake: the receiver
    /// refuses it, and the protocol thread gets an error
    /// naming TLS, not a hang or garbage.
    #[test]
    fn a_tampered_record_is_refused() {
        use std::io::{Read, Write};
        let s = SessionId::random().unwrap();
        let p = program_hash(b"tamper");
        let (id0, _) = Identity::generate("p0").unwrap();
        let (id1, _) = Identity::generate("p1").unwrap();
        let real = free_port().unwrap();
        // p1 dials the proxy, which forwards to p0 and flips one byte of
        // p1's traffic once 20 KB have passed (well after both handshakes).
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_port = proxy.local_addr().unwrap().port();
        let list = |p0: u16| {
            Parties::new(vec![
                PartyInfo {
                    name: "p0".into(),
                    address: format!("127.0.0.1:{p0}"),
                    cert: id0.cert.clone(),
                },
                PartyInfo {
                    name: "p1".into(),
                    address: "127.0.0.1:0".into(),
                    cert: id1.cert.clone(),
                },
            ])
            .unwrap()
        };
        let (for0, for1) = (list(real), list(proxy_port));
        std::thread::spawn(move || {
            let (mut from1, _) = proxy.accept().unwrap();
            let mut to0 = loop {
                if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", real)) {
                    break c;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let (mut from0, mut to1) = (to0.try_clone().unwrap(), from1.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = from0.read(&mut buf) {
                    if to1.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to1.shutdown(std::net::Shutdown::Both);
            });
            let (mut buf, mut seen, mut flipped) = ([0u8; 4096], 0usize, false);
            while let Ok(n @ 1..) = from1.read(&mut buf) {
                if !flipped && seen + n > 20_000 {
                    buf[20_000usize.saturating_sub(seen).min(n - 1)] ^= 1;
                    flipped = true;
                }
                seen += n;
                if to0.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to0.shutdown(std::net::Shutdown::Both);
        });
        let t = std::thread::spawn(move || {
            let mut c = connect_mesh("p1", &for1, &id1, &s, &p, Duration::from_secs(10)).unwrap();
            let mut ch = c[0].take().unwrap();
            ch.send(&vec![7u8; 100_000]).unwrap();
            ch.flush().unwrap();
            // Stay up until the other side has seen the damage.
            let mut ack = [0u8; 1];
            let _ = ch.recv(&mut ack);
        });
        let mut c = connect_mesh("p0", &for0, &id0, &s, &p, Duration::from_secs(10)).unwrap();
        let mut ch = c[1].take().unwrap();
        ch.set_timeout(Duration::from_secs(10));
        let mut got = vec![0u8; 100_000];
        let err = ch.recv(&mut got).unwrap_err();
        assert!(
            matches!(&err, NetError::Io { source, .. } if source.to_string().contains("TLS")),
            "{err}"
        );
        drop(ch);
        t.join().unwrap();
    }

    /// A peer that goes away mid-stream: the other side's receive reports
    /// the closed connection promptly, and so does a later send.
    #[test]
    fn a_dropped_peer_is_reported() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"drop");
        let (mut a, mut b) = loopback_pair(&s, &p).unwrap();
        b.send(&[1, 2, 3]).unwrap();
        drop(b);
        let mut got = [0u8; 3];
        a.recv(&mut got).unwrap();
        assert_eq!(got, [1, 2, 3]);
        let start = Instant::now();
        let err = a.recv(&mut got).unwrap_err();
        assert!(matches!(err, NetError::Closed { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        // The first write after the close may still be accepted by the
        // socket; a following one fails.
        let mut failed = false;
        for _ in 0..50 {
            if a.send(&[0u8; 64 << 10]).and_then(|()| a.flush()).is_err() {
                failed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(failed, "sending to a closed peer kept succeeding");
    }
}
