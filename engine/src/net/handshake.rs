//! The first exchange on every connection: both ends state the session,
//! who they are, who they think they talk to, and the hash of the program
//! they will run. Any difference ends the connection with an error that
//! says what differs, before any protocol message is sent.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{Channel, NetError};

const MAGIC: [u8; 8] = *b"quorate\0";
/// The wire protocol version; peers must match. 2: OT extension setup
/// carries a SoftSpokenOT header. 3: garbling schedules order each level's
/// free gates by depth (a constant gate's label depends on its place).
pub const VERSION: u16 = 3;

/// Identifies one run of a protocol. Hashed into every transcript and OT
/// tweak of the run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// A fresh random session id.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b)?;
        Ok(SessionId(b))
    }

    /// A session id derived from a label and the parties (for runs whose
    /// parties agree on them out of band). Fields are length-prefixed.
    pub fn derive(label: &str, parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        h.update(b"quorate/session/v1");
        h.update((label.len() as u64).to_le_bytes());
        h.update(label.as_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        SessionId(h.finalize().into())
    }

    /// A 64-bit value of this session for `label` (a hash-tweak salt, say):
    /// the first 8 bytes of [`derive`](Self::derive)`(label, [self])`.
    pub fn tag64(&self, label: &str) -> u64 {
        let d = Self::derive(label, &[&self.0]).0;
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// The first 8 bytes as hex, for messages.
    pub fn short(&self) -> String {
        short(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.short())
    }
}

/// The 32-byte hash of the program a party will run.
pub type ProgramHash = [u8; 32];

/// The first 8 bytes of a hash as hex, for messages.
fn short(h: &[u8; 32]) -> String {
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Serialize, Deserialize)]
struct Hello {
    magic: [u8; 8],
    version: u16,
    session: [u8; 32],
    from: u16,
    from_name: String,
    to: u16,
    program: [u8; 32],
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer does not speak this protocol, or another version of it.
    #[error(
        "{peer} speaks another protocol or version (got version {version}, we speak {VERSION})"
    )]
    Version {
        /// The peer.
        peer: String,
        /// Its version (0 if the magic was wrong).
        version: u16,
    },
    /// The peer joined another session.
    #[error("{peer} is in session {theirs}…, we are in session {ours}…")]
    Session {
        /// The peer.
        peer: String,
        /// Our session id, abbreviated.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The peer compiled a different program.
    #[error(
        "{peer} runs a different program (hash {theirs}…, ours is {ours}…); compile the same source with the same parameters on every side"
    )]
    Program {
        /// The peer.
        peer: String,
        /// Our program hash, abbreviated.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The peer is not the party we expected, or does not expect us.
    #[error(
        "expected party {expected_id} ({expected}) but the peer says it is party {got_id} ({got}) talking to party {to}"
    )]
    WrongParty {
        /// The peer we expected, by name.
        expected: String,
        /// Its id.
        expected_id: u16,
        /// The name the peer gave.
        got: String,
        /// The id the peer gave.
        got_id: u16,
        /// The party the peer thinks it talks to.
        to: u16,
    },
}

impl HandshakeError {
    /// The peer concerned.
    pub fn peer(&self) -> &str {
        match self {
            HandshakeError::Version { peer, .. }
            | HandshakeError::Session { peer, .. }
            | HandshakeError::Program { peer, .. } => peer,
            HandshakeError::WrongParty { expected, .. } => expected,
        }
    }
}

/// Runs the handshake on `ch` as party `me` (named `my_name`).
pub fn handshake(
    ch: &mut Channel,
    my_name: &str,
    session: &SessionId,
    program: &ProgramHash,
) -> Result<(), NetError> {
    let hello = Hello {
        magic: MAGIC,
        version: VERSION,
        session: session.0,
        from: ch.local().0,
        from_name: my_name.to_owned(),
        to: ch.peer().0,
        program: *program,
    };
    ch.send_msg(&hello)?;
    ch.flush()?;
    let peer = ch.peer_name().to_owned();
    let theirs: Hello = ch.recv_msg("handshake")?;
    if theirs.magic != MAGIC || theirs.version != VERSION {
        return Err(HandshakeError::Version {
            peer,
            version: if theirs.magic == MAGIC {
                theirs.version
            } else {
                0
            },
        }
        .into());
    }
    if theirs.from != ch.peer().0 || theirs.to != ch.local().0 || theirs.from_name != peer {
        return Err(HandshakeError::WrongParty {
            expected: peer,
            expected_id: ch.peer().0,
            got: theirs.from_name,
            got_id: theirs.from,
            to: theirs.to,
        }
        .into());
    }
    if theirs.session != session.0 {
        return Err(HandshakeError::Session {
            peer,
            ours: session.short(),
            theirs: SessionId(theirs.session).short(),
        }
        .into());
    }
    if theirs.program != *program {
        return Err(HandshakeError::Program {
            peer,
            ours: short(program),
            theirs: short(&theirs.program),
        }
        .into());
    }
    Ok(())
}

/// The program hash of a byte string (a compiled circuit, a source file).
pub fn program_hash(bytes: &[u8]) -> ProgramHash {
    let mut h = ProgramHasher::new();
    h.update(bytes);
    h.finish()
}

/// [`program_hash`] of bytes that arrive in pieces, as an [`std::io::Write`]
/// sink: a circuit hashed as it is written, never held as text.
#[derive(Debug, Clone)]
pub struct ProgramHasher(Sha256);

impl ProgramHasher {
    /// An empty hasher.
    pub fn new() -> Self {
        ProgramHasher(Sha256::new().chain_update(b"quorate/program/v1"))
    }

    /// Appends bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The program hash of everything appended.
    pub fn finish(self) -> ProgramHash {
        self.0.finalize().into()
    }
}

impl Default for ProgramHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl std::io::Write for ProgramHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use quorate_circuits::PartyId;

    use super::*;
    use crate::net::memory::pair;

    fn run(
        s0: SessionId,
        p0: ProgramHash,
        s1: SessionId,
        p1: ProgramHash,
        name1: &str,
    ) -> (Result<(), NetError>, Result<(), NetError>) {
        let (mut a, mut b) = pair((PartyId(0), "alice"), (PartyId(1), "bob"));
        let name1 = name1.to_owned();
        let t = std::thread::spawn(move || handshake(&mut b, &name1, &s1, &p1));
        let ra = handshake(&mut a, "alice", &s0, &p0);
        (ra, t.join().unwrap())
    }

    #[test]
    fn matching_peers_pass() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"prog");
        let (a, b) = run(s, p, s, p, "bob");
        a.unwrap();
        b.unwrap();
    }

    #[test]
    fn mismatches_name_what_differs() {
        let s = SessionId::random().unwrap();
        let p = program_hash(b"prog");
        let (a, _) = run(s, p, s, program_hash(b"other"), "bob");
        let e = a.unwrap_err().to_string();
        assert!(e.contains("bob runs a different program"), "{e}");
        let (a, _) = run(s, p, SessionId::random().unwrap(), p, "bob");
        assert!(a.unwrap_err().to_string().contains("session"));
        let (a, _) = run(s, p, s, p, "mallory");
        assert!(matches!(
            a,
            Err(NetError::Handshake(HandshakeError::WrongParty { .. }))
        ));
    }
}
