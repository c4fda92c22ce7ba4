//! Additive secret sharing among N parties (2 ≤ N ≤ 16), semi-honest, with
//! multiplication by Beaver triples made from oblivious transfer; no
//! trusted dealer.
//!
//! - A value `x` of a [`Ring`] is shared as `x = Σ_i x_i`; party `i` holds
//!   `x_i`. Addition, subtraction and multiplication by a public constant
//!   are local ([`Shares`]).
//! - [`Party::triples`] makes Beaver triples `(a, b, c = a·b)`: each party
//!   picks random `a_i, b_i`; `c = Σ_i a_i b_i + Σ_{i≠j} a_i b_j`, and each
//!   cross term `a_i b_j` is shared between `i` and `j` by Gilboa's
//!   OT-based product (N. Gilboa, "Two party RSA key generation", CRYPTO
//!   1999, section 3.1): one OT per bit of `a_i`, `i` choosing by the bit,
//!   the sender `j` offering `(m_k, m_k + 2^k b_j)`. The OTs are the
//!   engine's correlated OT extension ([`crate::ot::kos`]) hashed into
//!   random OTs, the way D. Demmler, T. Schneider and M. Zohner make
//!   arithmetic triples in "ABY" (NDSS 2015, section III-B and IV-B2); the
//!   sender sends one correction `m_k - m'_k + 2^k b_j` per OT, which in
//!   `Z_2^64` needs only `64 - k` bits.
//! - [`Party::mul`] multiplies shared vectors with one triple per element
//!   in one round (D. Beaver, "Efficient multiparty protocols using circuit
//!   randomization", CRYPTO 1991): `d = x - a` and `e = y - b` are opened,
//!   and `z_i = c_i + d b_i + e a_i` (+ `d e` at party 0).
//!
//! The parties' channels form a full mesh; work with each peer runs on its
//! own thread, so the pairs proceed in parallel.

pub mod convert;
pub mod equal;
pub mod fixed;
pub mod gmw;
pub mod gmw_run;
pub mod mixed_run;
pub mod ring;

use std::thread;

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::block::Block;
use crate::net::handshake::SessionId;
use crate::net::{Channel, NetError};
use crate::ot::OtError;
use crate::ot::kos::{KosReceiver, KosSender, rot_duplex};
use crate::prg::{Prg, Seed};

pub use ring::Ring;

/// Most parties an arithmetic run takes.
pub const MAX_PARTIES: usize = 16;

/// Triples made per OT batch with one peer: 2^12 triples of `Z_2^64` is
/// 2^18 OTs each way, 12 MiB of keys. Larger batches were slower here:
/// their buffers go back to the OS and fault in again on every batch.
const TRIPLE_BATCH: usize = 1 << 12;

/// Bytes sent before the matching receive when two parties exchange
/// vectors, so neither blocks on a full pipe.
const EXCHANGE_CHUNK: usize = 1 << 20;

/// Why an arithmetic protocol failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ArithError {
    /// The OT extension with a peer failed.
    #[error(transparent)]
    Ot(#[from] OtError),
    /// The transport failed: a peer vanished, timed out or sent too much.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A peer sent bytes that are not ring elements.
    #[error("{peer} sent a malformed {what}")]
    Malformed {
        /// The peer.
        peer: String,
        /// What it was.
        what: &'static str,
    },
    /// Vectors of different lengths were combined.
    #[error("length mismatch: {0} and {1} elements")]
    Length(usize, usize),
    /// Too few triples for the multiplications asked.
    #[error("{need} triples needed, {have} left")]
    OutOfTriples {
        /// Needed.
        need: usize,
        /// Left.
        have: usize,
    },
    /// The parties do not make a valid run.
    #[error("{0}")]
    Setup(String),
    /// The operating system's randomness failed.
    #[error("the operating system's randomness failed: {0}")]
    Entropy(getrandom::Error),
}

/// One party's additive shares of a vector of ring elements; zeroized on
/// drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Shares<R: Ring>(Vec<R>);

impl<R: Ring> std::fmt::Debug for Shares<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shares<{}>(<{} redacted>)", R::NAME, self.0.len())
    }
}

impl<R: Ring> Shares<R> {
    /// Wraps this party's shares.
    pub fn new(v: Vec<R>) -> Self {
        Shares(v)
    }

    /// The shares (a share alone says nothing about the value).
    pub fn expose(&self) -> &[R] {
        &self.0
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn zip(&self, o: &Self, f: impl Fn(R, R) -> R) -> Result<Self, ArithError> {
        if self.len() != o.len() {
            return Err(ArithError::Length(self.len(), o.len()));
        }
        Ok(Shares(
            self.0.iter().zip(&o.0).map(|(&a, &b)| f(a, b)).collect(),
        ))
    }

    /// `x + y`, locally.
    pub fn add(&self, o: &Self) -> Result<Self, ArithError> {
        self.zip(o, R::add)
    }

    /// `x - y`, locally.
    pub fn sub(&self, o: &Self) -> Result<Self, ArithError> {
        self.zip(o, R::sub)
    }

    /// `c · x` for a public `c`, locally.
    pub fn scale(&self, c: R) -> Self {
        Shares(self.0.iter().map(|&a| a.mul(c)).collect())
    }

    /// `x + c` for public `c` (elementwise): party 0 adds it.
    pub fn add_public(&self, party: usize, c: &[R]) -> Result<Self, ArithError> {
        if c.len() != self.len() {
            return Err(ArithError::Length(self.len(), c.len()));
        }
        if party != 0 {
            return Ok(self.clone());
        }
        Ok(Shares(
            self.0.iter().zip(c).map(|(&a, &b)| a.add(b)).collect(),
        ))
    }

    /// `Σ_k x_k`, locally.
    pub fn sum(&self) -> R {
        self.0.iter().fold(R::zero(), |a, &b| a.add(b))
    }

    /// `Σ_k w_k x_k` for public weights, locally.
    pub fn weighted_sum(&self, w: &[R]) -> Result<R, ArithError> {
        if w.len() != self.len() {
            return Err(ArithError::Length(self.len(), w.len()));
        }
        Ok(self
            .0
            .iter()
            .zip(w)
            .fold(R::zero(), |a, (&x, &c)| a.add(x.mul(c))))
    }
}

/// One party's shares of Beaver triples `(a, b, c = a·b)`.
#[derive(Debug, Default)]
pub struct Triples<R: Ring> {
    a: Vec<R>,
    b: Vec<R>,
    c: Vec<R>,
}

impl<R: Ring> Drop for Triples<R> {
    fn drop(&mut self) {
        self.a.zeroize();
        self.b.zeroize();
        self.c.zeroize();
    }
}

impl<R: Ring> Triples<R> {
    /// How many are left.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether none are left.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Takes `n` triples off the end.
    pub fn take(&mut self, n: usize) -> Result<Triples<R>, ArithError> {
        if n > self.len() {
            return Err(ArithError::OutOfTriples {
                need: n,
                have: self.len(),
            });
        }
        let at = self.len() - n;
        Ok(Triples {
            a: self.a.split_off(at),
            b: self.b.split_off(at),
            c: self.c.split_off(at),
        })
    }

    /// Appends `o`'s triples.
    pub fn extend(&mut self, mut o: Triples<R>) {
        self.a.append(&mut o.a);
        self.b.append(&mut o.b);
        self.c.append(&mut o.c);
    }

    /// The shares `(a_i, b_i, c_i)`, for tests and protocols built on them.
    pub fn expose(&self) -> (&[R], &[R], &[R]) {
        (&self.a, &self.b, &self.c)
    }
}

/// This party's link to one peer: the channel and an OT extension each
/// way.
pub struct Peer {
    ch: Channel,
    /// OTs where this party sends.
    sender: KosSender,
    /// OTs where this party receives.
    receiver: KosReceiver,
    /// The extension's blocks, kept between batches of bit OTs.
    bufs: [crate::ot::SecretBlocks; 2],
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("peer", &self.ch.peer_name())
            .finish_non_exhaustive()
    }
}

/// One party of an N-party arithmetic run.
#[derive(Debug)]
pub struct Party {
    me: usize,
    n: usize,
    peers: Vec<Option<Peer>>,
    prg: Prg,
}

/// The session of the OT extension in which `sender` sends to `receiver`.
fn ot_session(session: &SessionId, sender: usize, receiver: usize) -> SessionId {
    SessionId::derive(
        "quorate/arith/ot",
        &[
            &session.0,
            &(sender as u64).to_le_bytes(),
            &(receiver as u64).to_le_bytes(),
        ],
    )
}

impl Party {
    /// Sets up party `me` from its channels to every party (`None` at
    /// `me`, as [`crate::net::memory::mesh`] and
    /// [`crate::net::tls::connect_mesh`] give them): base OTs and an OT
    /// extension each way with every peer, all peers in parallel.
    pub fn setup(
        me: usize,
        channels: Vec<Option<Channel>>,
        session: &SessionId,
    ) -> Result<Party, ArithError> {
        let n = channels.len();
        if !(2..=MAX_PARTIES).contains(&n) {
            return Err(ArithError::Setup(format!(
                "an arithmetic run takes 2 to {MAX_PARTIES} parties, not {n}"
            )));
        }
        if me >= n || channels[me].is_some() {
            return Err(ArithError::Setup(format!(
                "party {me} needs a channel to every other party and none to itself"
            )));
        }
        let peers = thread::scope(|s| {
            let handles: Vec<_> = channels
                .into_iter()
                .enumerate()
                .map(|(j, ch)| {
                    s.spawn(move || -> Result<Option<Peer>, ArithError> {
                        let Some(mut ch) = ch else {
                            return if j == me {
                                Ok(None)
                            } else {
                                Err(ArithError::Setup(format!("no channel to party {j}")))
                            };
                        };
                        // The lower-numbered party sends first.
                        let (sender, receiver) = if me < j {
                            let s = KosSender::setup(&mut ch, &ot_session(session, me, j))?;
                            let r = KosReceiver::setup(&mut ch, &ot_session(session, j, me))?;
                            (s, r)
                        } else {
                            let r = KosReceiver::setup(&mut ch, &ot_session(session, j, me))?;
                            let s = KosSender::setup(&mut ch, &ot_session(session, me, j))?;
                            (s, r)
                        };
                        Ok(Some(Peer {
                            ch,
                            sender,
                            receiver,
                            bufs: Default::default(),
                        }))
                    })
                })
                .collect();
            join_all(handles)
        })?;
        Ok(Party {
            me,
            n,
            peers,
            prg: Prg::from_entropy().map_err(ArithError::Entropy)?,
        })
    }

    /// The channel to party `j`, for protocols that run beside the
    /// arithmetic on the same links (PSI's OPRF and key-value store).
    pub fn channel(&mut self, j: usize) -> Result<&mut Channel, ArithError> {
        self.peer(j).map(|p| &mut p.ch)
    }

    /// The link to party `j`.
    fn peer(&mut self, j: usize) -> Result<&mut Peer, ArithError> {
        self.peers
            .get_mut(j)
            .and_then(Option::as_mut)
            .ok_or_else(|| ArithError::Setup(format!("no channel to party {j}")))
    }

    /// This party's index.
    pub fn id(&self) -> usize {
        self.me
    }

    /// Number of parties.
    pub fn parties(&self) -> usize {
        self.n
    }

    /// Bytes sent and received so far, over all peers.
    pub fn traffic(&self) -> (u64, u64) {
        self.peers.iter().flatten().fold((0, 0), |(s, r), p| {
            let t = p.ch.traffic();
            (s + t.sent, r + t.received)
        })
    }

    /// Runs `f` with every peer on its own thread; results by peer index
    /// (`None` at this party).
    fn each_peer<T: Send>(
        &mut self,
        f: impl Fn(usize, &mut Peer) -> Result<T, ArithError> + Sync,
    ) -> Result<Vec<Option<T>>, ArithError> {
        let f = &f;
        thread::scope(|s| {
            let handles: Vec<_> = self
                .peers
                .iter_mut()
                .enumerate()
                .map(|(j, p)| {
                    s.spawn(move || match p {
                        Some(p) => f(j, p).map(Some),
                        None => Ok(None),
                    })
                })
                .collect();
            join_all(handles)
        })
    }

    /// `n` random elements from this party's generator.
    fn random<R: Ring>(&mut self, n: usize) -> Vec<R> {
        (0..n).map(|_| R::random(&mut self.prg)).collect()
    }

    /// Makes `n` Beaver triples.
    pub fn triples<R: Ring>(&mut self, n: usize) -> Result<Triples<R>, ArithError> {
        let mut all = Triples {
            a: Vec::with_capacity(n),
            b: Vec::with_capacity(n),
            c: Vec::with_capacity(n),
        };
        let mut left = n;
        while left > 0 {
            let m = left.min(TRIPLE_BATCH);
            all.extend(self.triple_batch(m)?);
            left -= m;
        }
        Ok(all)
    }

    fn triple_batch<R: Ring>(&mut self, n: usize) -> Result<Triples<R>, ArithError> {
        let a: Vec<R> = self.random(n);
        let b: Vec<R> = self.random(n);
        let (a_ref, b_ref) = (&a, &b);
        let cross = self.each_peer(|_, p| gilboa_pair(p, a_ref, b_ref))?;
        let mut c: Vec<R> = a.iter().zip(&b).map(|(&x, &y)| x.mul(y)).collect();
        for mut part in cross.into_iter().flatten() {
            add_into(&mut c, &part);
            part.zeroize();
        }
        Ok(Triples { a, b, c })
    }

    /// Shares `values`, known to party `owner` (`Some` there, `None`
    /// elsewhere), of length `len`. The owner sends each other party a
    /// 16-byte seed, whose stream is that party's share, and keeps
    /// `x - Σ streams`.
    pub fn input<R: Ring>(
        &mut self,
        owner: usize,
        values: Option<&[R]>,
        len: usize,
    ) -> Result<Shares<R>, ArithError> {
        let stream = |seed: &Seed| {
            let mut prg = Prg::new(seed, 1);
            (0..len).map(|_| R::random(&mut prg)).collect()
        };
        Ok(Shares(self.share_by_seeds(
            owner,
            values,
            len,
            stream,
            R::sub,
        )?))
    }

    /// Shares `values`, known to party `owner`, of length `len`: the owner
    /// sends each other party a fresh seed, whose `stream` is that party's
    /// share, and keeps its values with every stream taken out by `remove`.
    fn share_by_seeds<T: Copy + Zeroize + Send>(
        &mut self,
        owner: usize,
        values: Option<&[T]>,
        len: usize,
        stream: impl Fn(&Seed) -> Vec<T> + Sync,
        remove: impl Fn(T, T) -> T,
    ) -> Result<Vec<T>, ArithError> {
        if owner >= self.n {
            return Err(ArithError::Setup(format!("no party {owner}")));
        }
        if self.me != owner {
            let p = self.peer(owner)?;
            let mut seed = [Block::ZERO];
            p.ch.recv_blocks(&mut seed)?;
            return Ok(stream(&Seed::new(seed[0])));
        }
        let values = values
            .ok_or_else(|| ArithError::Setup("the input's owner must give its values".into()))?;
        if values.len() != len {
            return Err(ArithError::Length(values.len(), len));
        }
        let stream = &stream;
        let streams = self.each_peer(|_, p| {
            let seed = Seed::from_entropy().map_err(ArithError::Entropy)?;
            p.ch.send_blocks(&[seed.expose()])?;
            p.ch.flush()?;
            Ok(stream(&seed))
        })?;
        let mut mine = values.to_vec();
        for mut s in streams.into_iter().flatten() {
            for (m, x) in mine.iter_mut().zip(&s) {
                *m = remove(*m, *x);
            }
            s.zeroize();
        }
        Ok(mine)
    }

    /// A fresh sharing of zero: `len` ring elements that sum to zero and
    /// `words` 64-bit words whose XOR is zero. Each pair of parties agrees
    /// on a seed (the lower-numbered one sends it); the lower adds its
    /// stream, the higher subtracts it (both XOR it into the bits). Adding
    /// it to shares before they are opened makes them uniform given the
    /// opened value, whatever local operations made them.
    pub(crate) fn zero_sharing<R: Ring>(
        &mut self,
        len: usize,
        words: usize,
    ) -> Result<(Vec<R>, Vec<u64>), ArithError> {
        let me = self.me;
        let streams = self.each_peer(|j, p| {
            let mut seed = [Block::ZERO];
            if me < j {
                seed[0] = Seed::from_entropy().map_err(ArithError::Entropy)?.expose();
                p.ch.send_blocks(&seed)?;
                p.ch.flush()?;
            } else {
                p.ch.recv_blocks(&mut seed)?;
            }
            let mut prg = Prg::new(&Seed::new(seed[0]), 1);
            seed.zeroize();
            let ring: Vec<R> = (0..len).map(|_| R::random(&mut prg)).collect();
            let bits: Vec<u64> = (0..words).map(|_| u64::random(&mut prg)).collect();
            Ok((j, ring, bits))
        })?;
        let mut ring = vec![R::zero(); len];
        let mut bits = vec![0u64; words];
        for (j, mut r, mut b) in streams.into_iter().flatten() {
            for (acc, v) in ring.iter_mut().zip(&r) {
                *acc = if me < j { acc.add(*v) } else { acc.sub(*v) };
            }
            for (acc, v) in bits.iter_mut().zip(&b) {
                *acc ^= v;
            }
            r.zeroize();
            b.zeroize();
        }
        Ok((ring, bits))
    }

    /// Opens `x` to every party.
    pub fn open<R: Ring>(&mut self, x: &Shares<R>) -> Result<Vec<R>, ArithError> {
        let mine = encode(&x.0);
        let theirs = self.each_peer(|_, p| exchange(&mut p.ch, &mine))?;
        let mut out = x.0.clone();
        for (j, bytes) in theirs.iter().enumerate() {
            if let Some(bytes) = bytes {
                let v = decode::<R>(bytes, out.len(), self.peer_name(j), "share")?;
                add_into(&mut out, &v);
            }
        }
        Ok(out)
    }

    /// Opens `x` to party `to` only; `Some` there, `None` elsewhere.
    pub fn open_to<R: Ring>(
        &mut self,
        x: &Shares<R>,
        to: usize,
    ) -> Result<Option<Vec<R>>, ArithError> {
        if to >= self.n {
            return Err(ArithError::Setup(format!("no party {to}")));
        }
        if self.me != to {
            let p = self.peer(to)?;
            p.ch.send_vec(encode(&x.0))?;
            p.ch.flush()?;
            return Ok(None);
        }
        let len = x.len();
        let theirs = self.each_peer(|_, p| {
            let mut bytes = vec![0u8; len * R::BYTES];
            p.ch.recv(&mut bytes)?;
            Ok(bytes)
        })?;
        let mut out = x.0.clone();
        for (j, bytes) in theirs.iter().enumerate() {
            if let Some(bytes) = bytes {
                add_into(
                    &mut out,
                    &decode::<R>(bytes, len, self.peer_name(j), "share")?,
                );
            }
        }
        Ok(Some(out))
    }

    fn peer_name(&self, j: usize) -> &str {
        self.peers[j].as_ref().map_or("?", |p| p.ch.peer_name())
    }

    /// `x · y` elementwise, with one triple per element, in one round.
    pub fn mul<R: Ring>(
        &mut self,
        x: &Shares<R>,
        y: &Shares<R>,
        triples: &mut Triples<R>,
    ) -> Result<Shares<R>, ArithError> {
        if x.len() != y.len() {
            return Err(ArithError::Length(x.len(), y.len()));
        }
        let t = triples.take(x.len())?;
        let de: Vec<R> = (x.0.iter().zip(&t.a).map(|(&v, &a)| v.sub(a)))
            .chain(y.0.iter().zip(&t.b).map(|(&v, &b)| v.sub(b)))
            .collect();
        let opened = self.open(&Shares(de))?;
        let (d, e) = opened.split_at(x.len());
        let first = self.me == 0;
        Ok(Shares(
            (0..x.len())
                .map(|k| {
                    let z = t.c[k].add(d[k].mul(t.b[k])).add(e[k].mul(t.a[k]));
                    if first { z.add(d[k].mul(e[k])) } else { z }
                })
                .collect(),
        ))
    }
}

/// Runs `f` as each of the parties `names` in this process, over
/// in-memory channels, each party on its own thread; returns their results
/// in party order, or the first party's error.
pub fn run_in_memory<T: Send>(
    names: &[&str],
    f: impl Fn(Party) -> Result<T, ArithError> + Sync,
) -> Result<Vec<T>, ArithError> {
    if !(2..=MAX_PARTIES).contains(&names.len()) {
        return Err(ArithError::Setup(format!(
            "an arithmetic run takes 2 to {MAX_PARTIES} parties, not {}",
            names.len()
        )));
    }
    let session = SessionId::random().map_err(ArithError::Entropy)?;
    run_parties(crate::net::memory::mesh(names), &session, f)
}

/// Runs `f` as each party of `rows` (party `i`'s channels to every party,
/// as [`crate::net::memory::mesh`] or [`crate::net::tls::loopback_mesh`]
/// give them), each on its own thread, after [`Party::setup`].
pub fn run_parties<T: Send>(
    rows: Vec<Vec<Option<Channel>>>,
    session: &SessionId,
    f: impl Fn(Party) -> Result<T, ArithError> + Sync,
) -> Result<Vec<T>, ArithError> {
    let f = &f;
    thread::scope(|s| {
        let handles: Vec<_> = rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| s.spawn(move || f(Party::setup(i, row, session)?)))
            .collect();
        join_all(handles)
    })
}

/// Joins scoped threads; the first error wins, a panic is passed on.
fn join_all<T>(
    handles: Vec<thread::ScopedJoinHandle<'_, Result<T, ArithError>>>,
) -> Result<Vec<T>, ArithError> {
    let mut out = Vec::with_capacity(handles.len());
    let mut first_err = None;
    for h in handles {
        match h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)) {
            Ok(v) => out.push(v),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn add_into<R: Ring>(acc: &mut [R], v: &[R]) {
    for (a, &b) in acc.iter_mut().zip(v) {
        *a = a.add(b);
    }
}

fn encode<R: Ring>(v: &[R]) -> Vec<u8> {
    let mut out = vec![0u8; v.len() * R::BYTES];
    for (x, chunk) in v.iter().zip(out.chunks_exact_mut(R::BYTES)) {
        x.write(chunk);
    }
    out
}

fn decode<R: Ring>(
    bytes: &[u8],
    len: usize,
    peer: &str,
    what: &'static str,
) -> Result<Vec<R>, ArithError> {
    let bad = || ArithError::Malformed {
        peer: peer.to_owned(),
        what,
    };
    if bytes.len() != len * R::BYTES {
        return Err(bad());
    }
    bytes
        .chunks_exact(R::BYTES)
        .map(|c| R::read(c).ok_or_else(bad))
        .collect()
}

/// Sends `mine` and receives as many bytes, in chunks, so that two
/// parties exchanging at once never both wait on full pipes.
fn exchange(ch: &mut Channel, mine: &[u8]) -> Result<Vec<u8>, ArithError> {
    exchange_sized(ch, mine, mine.len())
}

/// [`exchange`] where the peer's vector has `len` bytes (the two lengths
/// may differ): a chunk each way per round while either side has one.
fn exchange_sized(ch: &mut Channel, mine: &[u8], len: usize) -> Result<Vec<u8>, ArithError> {
    let mut theirs = vec![0u8; len];
    let rounds = mine.len().max(len).div_ceil(EXCHANGE_CHUNK);
    let mut out = mine.chunks(EXCHANGE_CHUNK);
    let mut inp = theirs.chunks_mut(EXCHANGE_CHUNK);
    for _ in 0..rounds {
        if let Some(c) = out.next() {
            ch.send(c)?;
            ch.flush()?;
        }
        if let Some(c) = inp.next() {
            ch.recv(c)?;
        }
    }
    Ok(theirs)
}

/// Both of a pair's Gilboa products at once: this party's `a` times the
/// peer's `b'`, and the peer's `a'` times this party's `b`. One duplex
/// random-OT run ([`rot_duplex`]): this party chooses by the bits of `a`
/// while it offers, for bit `k` of element `t`, the pair `(m0, m1)` from
/// its keys; each side then sends the corrections `m0 - m1 + 2^k b_t`, so
/// the chooser holds `m_c + c·correction = m0 + c 2^k b_t` and the offerer
/// `-m0`. Returns this party's share of both products, summed.
fn gilboa_pair<R: Ring>(p: &mut Peer, a: &[R], b: &[R]) -> Result<Vec<R>, ArithError> {
    let mut choices = Vec::with_capacity(a.len() * R::BITS);
    for x in a {
        x.push_bits(&mut choices);
    }
    let (keys, mut pairs) = rot_duplex(
        &mut p.ch,
        &mut p.sender,
        &mut p.receiver,
        &choices,
        b.len() * R::BITS,
    )?;
    let per: usize = (0..R::BITS).map(R::correction_len).sum();
    // The offerer's side: corrections out, -Σ m0 kept.
    let mut corrections = vec![0u8; per * b.len()];
    let mut out = Vec::with_capacity(b.len());
    for (t, corr) in corrections.chunks_exact_mut(per).enumerate() {
        let mut acc = R::zero();
        let mut at = 0;
        let mut shifted = b[t];
        for k in 0..R::BITS {
            let len = R::correction_len(k);
            let [k0, k1] = pairs[t * R::BITS + k];
            let m0 = R::from_key(k0, k);
            let m1 = R::from_key(k1, k);
            m0.sub(m1)
                .add(shifted)
                .write_correction(k, &mut corr[at..at + len]);
            acc = acc.sub(m0);
            shifted = shifted.double();
            at += len;
        }
        out.push(acc);
    }
    pairs.zeroize();
    let theirs = exchange(&mut p.ch, &corrections)?;
    // The chooser's side.
    let keys = keys.expose();
    for (t, corr) in theirs.chunks_exact(per).enumerate() {
        let mut acc = out[t];
        let mut at = 0;
        for k in 0..R::BITS {
            let len = R::correction_len(k);
            let o = t * R::BITS + k;
            let mut v = R::from_key(keys[o], k);
            if choices[o] {
                let tau = R::read_correction(k, &corr[at..at + len]).ok_or_else(|| {
                    ArithError::Malformed {
                        peer: p.ch.peer_name().to_owned(),
                        what: "Gilboa correction",
                    }
                })?;
                v = v.add(tau);
            }
            acc = acc.add(v);
            at += len;
        }
        out[t] = acc;
    }
    choices.zeroize();
    Ok(out)
}

/// Shares, between this party and peer `p`, of `c_k · v_k` where one side
/// holds the bits `c` (the chooser) and the other the values `v` (the
/// offerer): one random OT each, the offerer's correction `m0 - m1 + v`
/// making the chooser's key `m0 + c v` (Gilboa's step for a single bit).
/// The chooser passes `values` empty and `n_values` the peer's count; the
/// offerer passes `choices` empty and its values.
fn bit_products<R: Ring>(
    p: &mut Peer,
    choices: &[bool],
    values: &[R],
) -> Result<Vec<R>, ArithError> {
    let (keys, mut pairs) = rot_duplex(
        &mut p.ch,
        &mut p.sender,
        &mut p.receiver,
        choices,
        values.len(),
    )?;
    if !values.is_empty() {
        let mut corrections = vec![0u8; values.len() * R::BYTES];
        let mut out = Vec::with_capacity(values.len());
        for ((pair, v), c) in pairs
            .iter()
            .zip(values)
            .zip(corrections.chunks_exact_mut(R::BYTES))
        {
            let (m0, m1) = (R::from_key(pair[0], 0), R::from_key(pair[1], 0));
            m0.sub(m1).add(*v).write(c);
            out.push(R::zero().sub(m0));
        }
        pairs.zeroize();
        p.ch.send_vec(corrections)?;
        p.ch.flush()?;
        return Ok(out);
    }
    let mut bytes = vec![0u8; choices.len() * R::BYTES];
    p.ch.recv(&mut bytes)?;
    let keys = keys.expose();
    let mut out = Vec::with_capacity(choices.len());
    for ((key, c), tau) in keys.iter().zip(choices).zip(bytes.chunks_exact(R::BYTES)) {
        let mut v = R::from_key(*key, 0);
        if *c {
            let t = R::read(tau).ok_or_else(|| ArithError::Malformed {
                peer: p.ch.peer_name().to_owned(),
                what: "bit-product correction",
            })?;
            v = v.add(t);
        }
        out.push(v);
    }
    Ok(out)
}

/// [`bit_products`] for two values per bit over Z_2^64: one random OT
/// per bit carries both, the low and high halves of its 128-bit keys
/// masking the two values.
fn bit_products_pairs(
    p: &mut Peer,
    choices: &[bool],
    values: &[[u64; 2]],
) -> Result<Vec<[u64; 2]>, ArithError> {
    let mut out = Vec::with_capacity(choices.len().max(values.len()));
    pairs_run(p, choices, values.len(), |t| values[t], |v| out.push(v))?;
    Ok(out)
}

/// One run of Gilboa's step for pairs, streamed: the offerer (`n_values`
/// values, element `t` given by `value(t)`) writes its corrections
/// `m0 - m1 + v` and hands its shares `-m0` to `share` as the pairs come
/// out of the extension ([`crate::ot::kos::rot_duplex_spans`]); the
/// chooser then hands over `m_c + c·correction`, taken by a mask, not a
/// branch on its bit. Neither keeps a pair or a correction per element
/// beyond the peer's reused buffers.
fn pairs_run(
    p: &mut Peer,
    choices: &[bool],
    n_values: usize,
    value: impl Fn(usize) -> [u64; 2],
    mut share: impl FnMut([u64; 2]),
) -> Result<(), ArithError> {
    let halves = |k: Block| [k.0 as u64, (k.0 >> 64) as u64];
    // Written straight into a buffer the channel hands over whole.
    let mut corrections = p.ch.buffer(16 * n_values);
    let mut next = (0..n_values).map(value);
    crate::ot::kos::rot_duplex_spans(
        &mut p.ch,
        &mut p.sender,
        &mut p.receiver,
        choices,
        n_values,
        &mut p.bufs,
        |k0, k1| {
            for ((&a, &b), v) in k0.iter().zip(k1).zip(&mut next) {
                let (m0, m1) = (halves(a), halves(b));
                for h in 0..2 {
                    let c = m0[h].wrapping_sub(m1[h]).wrapping_add(v[h]);
                    corrections.extend_from_slice(&c.to_le_bytes());
                }
                share([m0[0].wrapping_neg(), m0[1].wrapping_neg()]);
            }
        },
    )?;
    if n_values > 0 {
        p.ch.send_vec(corrections)?;
        p.ch.flush()?;
    }
    if !choices.is_empty() {
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let mut received = vec![0u8; 16 * choices.len()];
        p.ch.recv(&mut received)?;
        let keys = &p.bufs[0].expose()[..choices.len()];
        for ((key, &c), tau) in keys.iter().zip(choices).zip(received.chunks_exact(16)) {
            let v = halves(*key);
            let mask = u64::from(c).wrapping_neg();
            share([
                v[0].wrapping_add(word(&tau[..8]) & mask),
                v[1].wrapping_add(word(&tau[8..]) & mask),
            ]);
        }
    }
    Ok(())
}

/// How many values, and value `t`, for [`Party::own_bits_dot_pairs`].
pub(crate) type Values<'a> = (usize, &'a (dyn Fn(usize) -> [u64; 2] + Sync));

/// OTs per batch of [`Party::own_bits_dot_pairs`].
const DOT_BATCH: usize = 1 << 20;

/// The sums over `t` of [`bit_products_pairs`]' outputs, batch by batch
/// ([`pairs_run`]): shares of `Σ_t c_t · v_t` (two sums at once) without
/// a share per element.
fn bit_dot_pairs(
    p: &mut Peer,
    choices: &[bool],
    values: &Values<'_>,
) -> Result<[u64; 2], ArithError> {
    let mut acc = [0u64; 2];
    let n = choices.len().max(values.0);
    for at in (0..n).step_by(DOT_BATCH) {
        let end = (at + DOT_BATCH).min(n);
        let choices = choices.get(at..end).unwrap_or(&[]);
        let n_values = values.0.min(end).saturating_sub(at);
        pairs_run(
            p,
            choices,
            n_values,
            |t| (values.1)(at + t),
            |v| {
                acc[0] = acc[0].wrapping_add(v[0]);
                acc[1] = acc[1].wrapping_add(v[1]);
            },
        )?;
    }
    Ok(acc)
}

impl Party {
    /// Shares of `b_i · x` for every element, where the bits `b_i` are
    /// party `i`'s own (`Some` there) and `x` is shared: party `i` takes
    /// its own part locally and one OT per element from each other party.
    pub(crate) fn own_bits_times<R: Ring>(
        &mut self,
        owner: usize,
        bits: Option<&[bool]>,
        x: &Shares<R>,
    ) -> Result<Shares<R>, ArithError> {
        let len = x.len();
        if self.me == owner {
            let bits =
                bits.ok_or_else(|| ArithError::Setup("the owner must give its bits".into()))?;
            if bits.len() != len {
                return Err(ArithError::Length(bits.len(), len));
            }
            let parts = self.each_peer(|_, p| bit_products::<R>(p, bits, &[]))?;
            let mut out: Vec<R> =
                x.0.iter()
                    .zip(bits)
                    .map(|(v, b)| if *b { *v } else { R::zero() })
                    .collect();
            for part in parts.into_iter().flatten() {
                add_into(&mut out, &part);
            }
            return Ok(Shares(out));
        }
        let mine = &x.0;
        let parts = self.each_peer(|j, p| {
            if j == owner {
                bit_products::<R>(p, &[], mine)
            } else {
                Ok(Vec::new())
            }
        })?;
        let out = parts
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty())
            .unwrap_or_else(|| vec![R::zero(); len]);
        Ok(Shares(out))
    }

    /// [`own_bits_times`](Self::own_bits_times) for two shared vectors
    /// by the same bits at once over Z_2^64: `(b_i · x_i, b_i · y_i)`,
    /// one OT per element for both.
    pub(crate) fn own_bits_times_pairs(
        &mut self,
        owner: usize,
        bits: Option<&[bool]>,
        x: &Shares<u64>,
        y: &Shares<u64>,
    ) -> Result<(Shares<u64>, Shares<u64>), ArithError> {
        let len = x.len();
        if y.len() != len {
            return Err(ArithError::Length(y.len(), len));
        }
        let split = |v: Vec<[u64; 2]>| -> (Vec<u64>, Vec<u64>) {
            v.into_iter().map(|[a, b]| (a, b)).unzip()
        };
        if self.me == owner {
            let bits =
                bits.ok_or_else(|| ArithError::Setup("the owner must give its bits".into()))?;
            if bits.len() != len {
                return Err(ArithError::Length(bits.len(), len));
            }
            let parts = self.each_peer(|_, p| bit_products_pairs(p, bits, &[]))?;
            let pick = |v: &[u64]| -> Vec<u64> {
                v.iter()
                    .zip(bits)
                    .map(|(v, b)| if *b { *v } else { 0 })
                    .collect()
            };
            let (mut ox, mut oy) = (pick(&x.0), pick(&y.0));
            for part in parts.into_iter().flatten() {
                let (px, py) = split(part);
                add_into(&mut ox, &px);
                add_into(&mut oy, &py);
            }
            return Ok((Shares(ox), Shares(oy)));
        }
        let mine: Vec<[u64; 2]> = x.0.iter().zip(&y.0).map(|(a, b)| [*a, *b]).collect();
        let parts = self.each_peer(|j, p| {
            if j == owner {
                bit_products_pairs(p, &[], &mine)
            } else {
                Ok(Vec::new())
            }
        })?;
        let (ox, oy) = parts
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty())
            .map_or_else(|| (vec![0; len], vec![0; len]), split);
        Ok((Shares(ox), Shares(oy)))
    }

    /// Shares of the two sums `Σ_t b_t · x_t` and `Σ_t b_t · y_t`, where
    /// the bits are party `owner`'s (`Some` there) and each other party
    /// holds its values `[x_t, y_t]` in the clear, `values.0` of them,
    /// element `t` given by `values.1(t)` (the owner passes `(0, _)`):
    /// one OT per element, in batches, so memory stays bounded.
    pub(crate) fn own_bits_dot_pairs(
        &mut self,
        owner: usize,
        bits: Option<&[bool]>,
        values: &Values<'_>,
    ) -> Result<[u64; 2], ArithError> {
        if self.me == owner {
            let bits =
                bits.ok_or_else(|| ArithError::Setup("the owner must give its bits".into()))?;
            let none: &(dyn Fn(usize) -> [u64; 2] + Sync) = &|_| [0; 2];
            let parts = self.each_peer(|_, p| bit_dot_pairs(p, bits, &(0, none)))?;
            return Ok(parts.into_iter().flatten().fold([0u64; 2], |a, v| {
                [a[0].wrapping_add(v[0]), a[1].wrapping_add(v[1])]
            }));
        }
        let parts = self.each_peer(|j, p| {
            if j == owner {
                bit_dot_pairs(p, &[], values)
            } else {
                Ok([0; 2])
            }
        })?;
        Ok(parts.into_iter().flatten().fold([0u64; 2], |a, v| {
            [a[0].wrapping_add(v[0]), a[1].wrapping_add(v[1])]
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests;
