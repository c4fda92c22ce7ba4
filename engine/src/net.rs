//! Transport: a [`Channel`] between two parties, full-duplex and buffered,
//! counting bytes each way, with a receive deadline.
//!
//! Both ends of a channel exchange byte chunks through a pair of bounded
//! [`Pipe`]s. In one process ([`memory`]) the pipes are shared directly; over
//! the network ([`tls`]) a reader and a writer thread move chunks between the
//! pipes and a TLS 1.3 stream, and small messages skip the writer (the
//! channel's own thread seals them). Either way the protocol code sees the
//! same blocking `Channel`, and sending never waits for the peer to read
//! unless more than [`PIPE_CAPACITY`] bytes are in flight.
//!
//! On top of raw bytes: length-prefixed frames with a maximum size checked
//! before anything is allocated, blocks without copying, bincode messages,
//! and the [`handshake`] every connection starts with.

pub mod handshake;
pub mod memory;
pub mod tls;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quorate_circuits::PartyId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::block::Block;

/// Bytes that may wait in one direction before a sender blocks.
pub const PIPE_CAPACITY: usize = 64 << 20;

/// Writes are gathered into chunks of this size before they are handed on.
const CHUNK: usize = 256 << 10;

/// How long a receiver spins before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// The default maximum frame: larger frames are refused unread.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// The default receive deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `timeout` from now; a timeout past what the clock can represent waits
/// "forever" (about 30 years) instead of overflowing.
pub(crate) fn deadline_in(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(1 << 30))
}

/// Why a channel operation failed. Every variant names the peer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// Nothing arrived before the deadline.
    #[error("no message from {peer} within {waited:?}")]
    Timeout {
        /// The peer.
        peer: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The peer closed the connection or went away.
    #[error("{peer} closed the connection")]
    Closed {
        /// The peer.
        peer: String,
    },
    /// A frame longer than allowed was announced; it was not read.
    #[error("{peer} sent a frame of {len} bytes, over the {max}-byte maximum")]
    FrameTooLarge {
        /// The peer.
        peer: String,
        /// The announced length.
        len: u64,
        /// The maximum.
        max: usize,
    },
    /// A message did not decode.
    #[error("{peer} sent a malformed {what}: {detail}")]
    Malformed {
        /// The peer.
        peer: String,
        /// What was expected.
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The connection handshake failed.
    #[error(transparent)]
    Handshake(#[from] handshake::HandshakeError),
    /// Setting up a network connection failed.
    #[error("{0}")]
    Setup(String),
    /// An I/O error.
    #[error("connection to {peer}: {source}")]
    Io {
        /// The peer.
        peer: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl NetError {
    /// The peer the error concerns, if any.
    pub fn peer(&self) -> Option<&str> {
        match self {
            NetError::Timeout { peer, .. }
            | NetError::Closed { peer }
            | NetError::FrameTooLarge { peer, .. }
            | NetError::Malformed { peer, .. }
            | NetError::Io { peer, .. } => Some(peer),
            NetError::Handshake(h) => Some(h.peer()),
            NetError::Setup(_) => None,
        }
    }
}

/// A one-way, bounded queue of byte chunks between two threads or tasks.
pub struct Pipe {
    state: Mutex<PipeState>,
    changed: Condvar,
    capacity: usize,
}

struct PipeState {
    /// Set by a network writer once everything pushed has left.
    drained: bool,
    chunks: VecDeque<Vec<u8>>,
    /// Consumed chunks handed back for reuse by the producer, so steady
    /// traffic allocates (and page-faults) nothing.
    spare: Vec<Vec<u8>>,
    bytes: usize,
    closed: bool,
    /// Called after each push (wakes an async writer).
    waker: Option<Arc<tokio::sync::Notify>>,
    /// A TLS connection's socket is being written: by its writer thread
    /// (which took a chunk) or by the channel's own thread (which found
    /// nothing queued). See [`tls::TlsWriter`].
    busy: bool,
    /// Why a network thread closed the pipe, when it was not a clean close.
    failure: Option<String>,
}

/// What [`Pipe::pop`] found.
pub(crate) enum Popped {
    Chunk(Vec<u8>),
    Closed,
    TimedOut,
}

impl Pipe {
    /// An empty pipe holding chunks of at most `capacity` bytes of memory
    /// in all (a single larger chunk is let through when the pipe is
    /// empty). Chunks count by their allocation, not their contents, so a
    /// peer sending many tiny pieces cannot make it hold more.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState {
                drained: false,
                chunks: VecDeque::new(),
                spare: Vec::new(),
                bytes: 0,
                closed: false,
                waker: None,
                busy: false,
                failure: None,
            }),
            changed: Condvar::new(),
            capacity,
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        // A poisoned lock only means another thread panicked while holding
        // it; the queue itself is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_waker(&self, waker: Arc<tokio::sync::Notify>) {
        self.lock().waker = Some(waker);
    }

    /// Pushes a chunk, waiting while the pipe is full. False if the pipe is
    /// closed (the chunk is dropped) or the deadline passed.
    pub(crate) fn push(&self, chunk: Vec<u8>, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        while !st.closed && st.bytes > 0 && st.bytes + chunk.capacity() > self.capacity {
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self
                        .changed
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner()),
            }
        }
        if st.closed {
            return false;
        }
        st.bytes += chunk.capacity();
        st.chunks.push_back(chunk);
        let waker = st.waker.clone();
        drop(st);
        self.changed.notify_all();
        if let Some(w) = waker {
            w.notify_one();
        }
        true
    }

    /// Hands a consumed chunk back for reuse.
    pub(crate) fn recycle(&self, mut chunk: Vec<u8>) {
        const KEEP: usize = 8;
        chunk.clear();
        let mut st = self.lock();
        if st.spare.len() < KEEP {
            st.spare.push(chunk);
        }
    }

    /// An empty buffer with at least `capacity` bytes: a recycled one if
    /// there is one.
    pub(crate) fn buffer(&self, capacity: usize) -> Vec<u8> {
        let recycled = self.lock().spare.pop();
        match recycled {
            Some(mut b) => {
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Whether a chunk of `capacity` bytes would be taken now without
    /// waiting.
    pub(crate) fn has_room(&self, capacity: usize) -> bool {
        let st = self.lock();
        !st.closed && (st.bytes == 0 || st.bytes + capacity <= self.capacity)
    }

    /// Pushes without waiting; false if full or closed.
    pub(crate) fn try_push(&self, chunk: Vec<u8>) -> Result<(), Vec<u8>> {
        let mut st = self.lock();
        if st.closed || (st.bytes > 0 && st.bytes + chunk.capacity() > self.capacity) {
            return Err(chunk);
        }
        st.bytes += chunk.capacity();
        st.chunks.push_back(chunk);
        drop(st);
        self.changed.notify_all();
        Ok(())
    }

    /// Pops a chunk, waiting until the deadline. Spins for a few
    /// microseconds first: protocol rounds often answer that fast, and a
    /// sleeping thread takes tens of microseconds to wake.
    pub(crate) fn pop(&self, deadline: Instant) -> Popped {
        let spin_until = Instant::now() + SPIN;
        loop {
            {
                let st = self.lock();
                if !st.chunks.is_empty() || st.closed {
                    break;
                }
            }
            if Instant::now() >= spin_until {
                break;
            }
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        let mut st = self.lock();
        loop {
            if let Some(c) = st.chunks.pop_front() {
                st.bytes -= c.capacity();
                drop(st);
                self.changed.notify_all();
                return Popped::Chunk(c);
            }
            if st.closed {
                return Popped::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Popped::TimedOut;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Pops without waiting.
    pub(crate) fn try_pop(&self) -> Option<Vec<u8>> {
        let mut st = self.lock();
        let c = st.chunks.pop_front()?;
        st.bytes -= c.capacity();
        drop(st);
        self.changed.notify_all();
        Some(c)
    }

    /// Claims the socket behind this pipe for a write by the producer
    /// itself: true if nothing is queued or being written (the caller must
    /// then [`release`](Self::release) it).
    pub(crate) fn try_claim(&self) -> bool {
        let mut st = self.lock();
        if st.busy || !st.chunks.is_empty() || st.closed {
            return false;
        }
        st.busy = true;
        true
    }

    /// Ends a write begun by [`try_claim`](Self::try_claim) or
    /// [`pop_claim`](Self::pop_claim).
    pub(crate) fn release(&self) {
        let mut st = self.lock();
        st.busy = false;
        // Only a writer thread waits for the claim, and only with chunks
        // queued: waking it for nothing costs a context switch per message.
        let waiting = !st.chunks.is_empty();
        drop(st);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// For a writer thread: waits (without spinning) for the next chunk and
    /// claims the socket with it; `None` once the pipe is closed and empty.
    pub(crate) fn pop_claim(&self) -> Option<Vec<u8>> {
        let mut st = self.lock();
        loop {
            if !st.busy
                && let Some(c) = st.chunks.pop_front()
            {
                st.bytes -= c.capacity();
                st.busy = true;
                drop(st);
                self.changed.notify_all();
                return Some(c);
            }
            if st.closed && st.chunks.is_empty() {
                return None;
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn is_closed_and_empty(&self) -> bool {
        let st = self.lock();
        st.closed && st.chunks.is_empty()
    }

    /// Marks the pipe as drained: its consumer (a network writer) has sent
    /// everything and stopped.
    pub(crate) fn mark_drained(&self) {
        self.lock().drained = true;
        self.changed.notify_all();
    }

    /// Waits until the pipe is drained or the deadline passes; true if it
    /// drained.
    pub(crate) fn wait_drained(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        while !st.drained {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Closes the pipe because the connection failed, keeping the reason
    /// for the channel's error.
    pub(crate) fn fail(&self, reason: String) {
        {
            let mut st = self.lock();
            if st.failure.is_none() && !st.closed {
                st.failure = Some(reason);
            }
        }
        self.close();
    }

    fn failure(&self) -> Option<String> {
        self.lock().failure.clone()
    }

    /// Closes the pipe: pushes fail, pops drain what is left and then report
    /// closed.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        let waker = st.waker.clone();
        drop(st);
        self.changed.notify_all();
        if let Some(w) = waker {
            w.notify_one();
        }
    }
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Pipe")
            .field("chunks", &st.chunks.len())
            .field("bytes", &st.bytes)
            .field("closed", &st.closed)
            .finish()
    }
}

/// Byte counts of a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes sent.
    pub sent: u64,
    /// Bytes received.
    pub received: u64,
}

/// One end of a connection to a peer. See the module docs.
pub struct Channel {
    local: PartyId,
    peer: PartyId,
    peer_name: String,
    out: Arc<Pipe>,
    inp: Arc<Pipe>,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    rpos: usize,
    traffic: Traffic,
    timeout: Duration,
    max_frame: usize,
    /// Keeps a network connection's runtime alive while the channel lives.
    _keepalive: Option<Arc<dyn Send + Sync>>,
    /// A TLS connection's socket, for the small messages this thread seals
    /// and writes itself (larger ones go through `out` to the writer
    /// thread).
    tls: Option<tls::TlsWriter>,
    /// The same connection's read side: this thread reads the socket
    /// itself when it waits for data.
    tls_in: Option<tls::TlsReader>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("local", &self.local)
            .field("peer", &self.peer_name)
            .field("traffic", &self.traffic)
            .finish_non_exhaustive()
    }
}

impl Channel {
    pub(crate) fn from_pipes(
        local: PartyId,
        peer: PartyId,
        peer_name: String,
        out: Arc<Pipe>,
        inp: Arc<Pipe>,
        keepalive: Option<Arc<dyn Send + Sync>>,
    ) -> Self {
        Channel {
            local,
            peer,
            peer_name,
            out,
            inp,
            wbuf: Vec::with_capacity(CHUNK),
            rbuf: Vec::new(),
            rpos: 0,
            traffic: Traffic::default(),
            timeout: DEFAULT_TIMEOUT,
            max_frame: DEFAULT_MAX_FRAME,
            _keepalive: keepalive,
            tls: None,
            tls_in: None,
        }
    }

    /// Sends through `writer` (small messages) and receives through
    /// `reader` (when nothing is queued), besides the pipes.
    pub(crate) fn with_tls(mut self, writer: tls::TlsWriter, reader: tls::TlsReader) -> Self {
        writer.set_timeout(self.timeout);
        reader.set_timeout(self.timeout);
        self.tls = Some(writer);
        self.tls_in = Some(reader);
        self
    }

    /// This party.
    pub fn local(&self) -> PartyId {
        self.local
    }

    /// The party at the other end.
    pub fn peer(&self) -> PartyId {
        self.peer
    }

    /// The peer's name, for messages.
    pub fn peer_name(&self) -> &str {
        &self.peer_name
    }

    /// Whether this channel is a TLS connection on the threaded transport
    /// ([`tls`]) rather than an in-memory pair; protocols that trade
    /// computation for bytes choose by it.
    pub fn is_network(&self) -> bool {
        self.tls.is_some()
    }

    /// Bytes sent and received so far (frames and all).
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// The receive deadline: how long one receive waits for data.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        if let Some(w) = &self.tls {
            w.set_timeout(timeout);
        }
        if let Some(r) = &self.tls_in {
            r.set_timeout(timeout);
        }
    }

    /// The current receive deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest frame [`recv_frame`](Self::recv_frame) accepts.
    pub fn set_max_frame(&mut self, max: usize) {
        self.max_frame = max;
    }

    /// The error for a closed connection: the network thread's reason if
    /// it failed, else the peer's clean close.
    fn closed(&self) -> NetError {
        match self.inp.failure().or_else(|| self.out.failure()) {
            Some(reason) => NetError::Io {
                peer: self.peer_name.clone(),
                source: io::Error::other(reason),
            },
            None => NetError::Closed {
                peer: self.peer_name.clone(),
            },
        }
    }

    /// Queues bytes for the peer. They leave when the buffer fills, on
    /// [`flush`](Self::flush), or before the next receive.
    pub fn send(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.traffic.sent += data.len() as u64;
        if self.wbuf.len() + data.len() <= CHUNK {
            self.wbuf.extend_from_slice(data);
            return Ok(());
        }
        self.flush()?;
        if data.len() >= CHUNK {
            return self.push(data.to_vec());
        }
        self.wbuf.extend_from_slice(data);
        Ok(())
    }

    /// An empty buffer of at least `capacity` bytes for [`send_vec`]
    /// (recycled when possible).
    ///
    /// [`send_vec`]: Self::send_vec
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        self.out.buffer(capacity)
    }

    /// Sends an owned buffer without copying it (after any queued bytes).
    pub fn send_vec(&mut self, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() < CHUNK / 4 {
            return self.send(&data);
        }
        self.flush()?;
        self.traffic.sent += data.len() as u64;
        self.push(data)
    }

    fn push(&mut self, chunk: Vec<u8>) -> Result<(), NetError> {
        if let Some(w) = &mut self.tls
            && chunk.len() <= tls::DIRECT_MAX
            && self.out.try_claim()
        {
            let r = w.write(&chunk);
            if let Err(e) = &r {
                // Part of a record may have left: nothing may follow it.
                self.out.fail(format!("sending failed: {e}"));
            }
            self.out.release();
            self.out.recycle(chunk);
            return self.tls_result(r);
        }
        let deadline = deadline_in(self.timeout);
        if self.out.push(chunk, Some(deadline)) {
            Ok(())
        } else if self.out.is_closed() {
            Err(self.closed())
        } else {
            Err(NetError::Timeout {
                peer: self.peer_name.clone(),
                waited: self.timeout,
            })
        }
    }

    /// A direct TLS write's outcome as a channel error.
    fn tls_result(&self, r: io::Result<()>) -> Result<(), NetError> {
        match r {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(NetError::Timeout {
                    peer: self.peer_name.clone(),
                    waited: self.timeout,
                })
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::NotConnected
                ) =>
            {
                Err(self.closed())
            }
            Err(source) => Err(NetError::Io {
                peer: self.peer_name.clone(),
                source,
            }),
        }
    }

    /// Hands all queued bytes on.
    pub fn flush(&mut self) -> Result<(), NetError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let fresh = self.out.buffer(CHUNK);
        let chunk = std::mem::replace(&mut self.wbuf, fresh);
        self.push(chunk)
    }

    /// Receives exactly `buf.len()` bytes, flushing first. Fails if the
    /// deadline passes with nothing arriving, or the peer goes away.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<(), NetError> {
        self.flush()?;
        let mut filled = 0;
        while filled < buf.len() {
            if self.rpos == self.rbuf.len() {
                let deadline = deadline_in(self.timeout);
                let popped = match &self.tls_in {
                    Some(r) => r.pop(deadline),
                    None => self.inp.pop(deadline),
                };
                match popped {
                    Popped::Chunk(c) => {
                        let used = std::mem::replace(&mut self.rbuf, c);
                        self.inp.recycle(used);
                        self.rpos = 0;
                    }
                    Popped::Closed => return Err(self.closed()),
                    Popped::TimedOut => {
                        return Err(NetError::Timeout {
                            peer: self.peer_name.clone(),
                            waited: self.timeout,
                        });
                    }
                }
                continue;
            }
            let n = (self.rbuf.len() - self.rpos).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
            self.rpos += n;
            filled += n;
        }
        self.traffic.received += buf.len() as u64;
        Ok(())
    }

    /// Sends blocks as raw bytes.
    pub fn send_blocks(&mut self, blocks: &[Block]) -> Result<(), NetError> {
        self.send(Block::slice_as_bytes(blocks))
    }

    /// Receives exactly `blocks.len()` blocks.
    pub fn recv_blocks(&mut self, blocks: &mut [Block]) -> Result<(), NetError> {
        self.recv(Block::slice_as_bytes_mut(blocks))
    }

    /// Sends one frame: a 4-byte little-endian length, then the bytes.
    ///
    /// # Panics
    /// If the frame is 4 GiB or longer.
    pub fn send_frame(&mut self, data: &[u8]) -> Result<(), NetError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        assert!((len as usize) == data.len(), "frames are limited to 4 GiB");
        self.send(&len.to_le_bytes())?;
        self.send(data)
    }

    /// Receives one frame of at most `max` bytes (default
    /// [`DEFAULT_MAX_FRAME`]); a longer one is refused before it is read.
    pub fn recv_frame(&mut self) -> Result<Vec<u8>, NetError> {
        self.recv_frame_max(self.max_frame)
    }

    /// [`recv_frame`](Self::recv_frame) with an explicit maximum.
    pub fn recv_frame_max(&mut self, max: usize) -> Result<Vec<u8>, NetError> {
        let mut len = [0u8; 4];
        self.recv(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > max {
            return Err(NetError::FrameTooLarge {
                peer: self.peer_name.clone(),
                len: len as u64,
                max,
            });
        }
        let mut data = vec![0u8; len];
        self.recv(&mut data)?;
        Ok(data)
    }

    /// Sends a control message, bincode-encoded in one frame.
    pub fn send_msg<T: Serialize>(&mut self, msg: &T) -> Result<(), NetError> {
        let bytes =
            bincode::serde::encode_to_vec(msg, bincode::config::standard()).map_err(|e| {
                NetError::Malformed {
                    peer: self.peer_name.clone(),
                    what: "outgoing message",
                    detail: e.to_string(),
                }
            })?;
        self.send_frame(&bytes)
    }

    /// Receives a control message sent with [`send_msg`](Self::send_msg).
    pub fn recv_msg<T: DeserializeOwned>(&mut self, what: &'static str) -> Result<T, NetError> {
        let frame = self.recv_frame()?;
        let config = bincode::config::standard().with_limit::<DEFAULT_MAX_FRAME>();
        match bincode::serde::decode_from_slice::<T, _>(&frame, config) {
            Ok((msg, used)) if used == frame.len() => Ok(msg),
            Ok((_, used)) => Err(NetError::Malformed {
                peer: self.peer_name.clone(),
                what,
                detail: format!("{} trailing bytes", frame.len() - used),
            }),
            Err(e) => Err(NetError::Malformed {
                peer: self.peer_name.clone(),
                what,
                detail: e.to_string(),
            }),
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = self.flush();
        if let Some(w) = &mut self.tls {
            // Let the writer thread send what is queued, then say goodbye;
            // a peer that does not read gets a bounded wait and an abrupt
            // close (a close_notify written beside a stuck writer could
            // interleave with its record).
            let limit = self.timeout.min(Duration::from_secs(10));
            w.set_timeout(limit);
            self.out.close();
            if self.out.wait_drained(deadline_in(limit)) {
                w.close();
            } else {
                w.abort();
            }
        }
        self.out.close();
        // A network channel's writer runs on a runtime this channel may be
        // keeping alive: let it send what is queued before that runtime goes.
        if self._keepalive.is_some() {
            self.out
                .wait_drained(deadline_in(self.timeout.min(Duration::from_secs(10))));
        }
        self.inp.close();
        if let Some(r) = &self.tls_in {
            // After the shutdown above: see TlsReader::discard_unread.
            r.discard_unread();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe bounds the memory it holds, not the bytes: many tiny pieces
    /// in large buffers fill it as fast as full ones.
    #[test]
    fn pipes_count_allocations() {
        let pipe = Pipe::new(3000);
        let tiny = |n: usize| {
            let mut v = Vec::with_capacity(1000);
            v.resize(n, 7u8);
            v
        };
        for _ in 0..3 {
            assert!(pipe.try_push(tiny(1)).is_ok());
        }
        assert!(pipe.try_push(tiny(1)).is_err());
        assert!(matches!(pipe.try_pop(), Some(c) if c == [7]));
        assert!(pipe.try_push(tiny(2)).is_ok());
        assert!(!pipe.push(tiny(1), Some(Instant::now())));
    }

    /// The producer may write past the writer thread only when nothing is
    /// queued or being written, so bytes keep their order.
    #[test]
    fn a_claim_never_overtakes_queued_chunks() {
        let pipe = Pipe::new(1 << 20);
        assert!(pipe.try_claim());
        assert!(!pipe.try_claim(), "one claim at a time");
        pipe.release();
        assert!(pipe.try_push(vec![1]).is_ok());
        assert!(pipe.try_push(vec![2]).is_ok());
        assert!(!pipe.try_claim(), "chunks are queued");
        assert_eq!(pipe.pop_claim(), Some(vec![1]));
        assert!(!pipe.try_claim(), "the writer is writing, one chunk queued");
        pipe.release();
        assert!(!pipe.try_claim(), "one chunk still queued");
        assert_eq!(pipe.pop_claim(), Some(vec![2]));
        assert!(!pipe.try_claim(), "the writer is writing");
        pipe.release();
        assert!(pipe.try_claim());
        pipe.release();
        pipe.close();
        assert_eq!(pipe.pop_claim(), None);
        assert!(!pipe.try_claim(), "closed");
    }

    #[test]
    fn huge_timeouts_saturate() {
        let far = deadline_in(Duration::MAX);
        assert!(far > Instant::now() + Duration::from_secs(1 << 29));
    }
}
