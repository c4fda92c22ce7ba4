//! Signing sessions marked consumed, durably, before any secret is used in
//! them (`../shared/SIGNING-CHECKS.md`: "a nonce or presignature is marked
//! consumed, durably, before it is used, and whether or not signing
//! succeeds").
//!
//! Threshold ECDSA keys its OT extensions from the pair's base OTs and the
//! session id ([`super::dkls`]): were a session id ever run twice, say by a
//! coordinator that replays a request to a signer restarted after a crash,
//! the two runs would share their OT pads and leak. So [`super::dkls::start`]
//! records the session in a [`SessionLog`] before it touches the base OTs,
//! and refuses a session the log already holds. Nonces themselves are drawn
//! fresh in every run and never stored, so a crash cannot bring one back;
//! there are no presignatures.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::SignError;

/// Where consumed session ids are recorded.
pub trait SessionLog {
    /// Records `session` as consumed, durably for a durable log, and
    /// returns only then; refuses a session already recorded.
    fn consume(&mut self, session: &[u8; 32]) -> Result<(), SignError>;
}

fn replayed() -> SignError {
    SignError::Parameters(
        "this signing session was already started with this key (a replayed request, or a \
         retry after a crash): refused; start a new session with a fresh nonce"
            .into(),
    )
}

/// A log in memory: for runs whose nonce this process drew itself
/// ([`super::dkls::sign_local`]), and tests.
#[derive(Debug, Default)]
pub struct MemoryLog(HashSet<[u8; 32]>);

impl SessionLog for MemoryLog {
    fn consume(&mut self, session: &[u8; 32]) -> Result<(), SignError> {
        if self.0.insert(*session) {
            Ok(())
        } else {
            Err(replayed())
        }
    }
}

/// An append-only file of 32-byte session ids, synced to disk before
/// [`consume`](SessionLog::consume) returns.
#[derive(Debug)]
pub struct FileLog {
    path: PathBuf,
    file: File,
    seen: HashSet<[u8; 32]>,
}

fn io(path: &Path, e: std::io::Error) -> SignError {
    SignError::Parameters(format!("session log {}: {e}", path.display()))
}

/// Longest log read (32 bytes per signature: 2^21 signatures).
const MAX_LOG_BYTES: u64 = 64 << 20;

impl FileLog {
    /// Opens (or creates) the log at `path`. A record cut short by a crash
    /// mid-append is dropped: its session had not been marked, so its run
    /// never used a secret.
    pub fn open(path: &Path) -> Result<Self, SignError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        let len = file.metadata().map_err(|e| io(path, e))?.len();
        if len > MAX_LOG_BYTES {
            return Err(SignError::Parameters(format!(
                "session log {} is {len} bytes, more than this build reads ({MAX_LOG_BYTES}); \
                 is it a session log?",
                path.display()
            )));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.seek(SeekFrom::Start(0)).map_err(|e| io(path, e))?;
        file.read_to_end(&mut bytes).map_err(|e| io(path, e))?;
        let whole = bytes.len() - bytes.len() % 32;
        if whole != bytes.len() {
            file.set_len(whole as u64).map_err(|e| io(path, e))?;
            file.sync_all().map_err(|e| io(path, e))?;
        }
        let seen = bytes[..whole]
            .chunks_exact(32)
            .map(|c| {
                let mut s = [0u8; 32];
                s.copy_from_slice(c);
                s
            })
            .collect();
        Ok(FileLog {
            path: path.to_path_buf(),
            file,
            seen,
        })
    }

    /// Sessions recorded.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

impl SessionLog for FileLog {
    fn consume(&mut self, session: &[u8; 32]) -> Result<(), SignError> {
        if self.seen.contains(session) {
            return Err(replayed());
        }
        self.file
            .write_all(session)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io(&self.path, e))?;
        self.seen.insert(*session);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_log_survives_a_restart_and_drops_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("party-1.sessions");
        let mut log = FileLog::open(&path).unwrap();
        log.consume(&[1; 32]).unwrap();
        log.consume(&[2; 32]).unwrap();
        assert!(log.consume(&[1; 32]).is_err());
        drop(log);
        // A crash mid-append leaves part of a record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[3; 10]).unwrap();
        drop(f);
        let mut log = FileLog::open(&path).unwrap();
        assert_eq!(log.len(), 2);
        assert!(log.consume(&[2; 32]).is_err());
        log.consume(&[3; 32]).unwrap();
        drop(log);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 96);
        let mut m = MemoryLog::default();
        m.consume(&[9; 32]).unwrap();
        assert!(m.consume(&[9; 32]).is_err());
    }
}
