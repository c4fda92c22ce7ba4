//! Encrypted backups of a signer node's files, whose key is split among
//! backup holders: any `t` of the `n` holders' pieces restore it, fewer say
//! nothing about it.
//!
//! [`create`]:
//! 1. draws a random scalar `s` (secp256k1's order) and splits it by Shamir
//!    with a random polynomial `f` of degree `t - 1` (`f(0) = s`); holder
//!    `i` gets the piece `f(i)`; the backup's header carries Feldman's
//!    commitments `G·a_k` to the coefficients (Feldman, "A practical scheme
//!    for non-interactive verifiable secret sharing", FOCS 1987), so a
//!    wrong piece is named at restore instead of only failing to decrypt;
//! 2. seals the archive of the files with ChaCha20-Poly1305 (RFC 8439)
//!    under `SHA-256(tag ‖ s)`, a fresh random nonce, and the whole header
//!    as associated data.
//!
//! [`open`] checks each piece against the commitments, interpolates `s`
//! from `t` of them (Lagrange at 0), and decrypts. The file is `QBAK`, a
//! version byte, the header's length (u32 LE), the header (JSON), the
//! nonce (12 bytes), then the ciphertext and tag.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::sec1::{FromSec1Point, ToSec1Point};
use k256::{AffinePoint, ProjectivePoint, Scalar, Sec1Point};
use quorate_engine::sign::frost::{lagrange_at_zero, split};
use quorate_engine::sign::{Identifier, SecretScalar};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{hex, unhex};
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"QBAK";
const VERSION: u8 = 1;
const TAG_KEY: &[u8] = b"quorate/backup/key/v1";
/// Largest backup read or written: a node's files are small.
pub const MAX_BACKUP: usize = 256 << 20;
const MAX_FILES: usize = 100_000;

/// Why a backup could not be made or restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupError {
    /// Bad parameters.
    #[error("{0}")]
    Parameters(String),
    /// Not a backup, or damaged.
    #[error("not a readable backup: {0}")]
    Format(String),
    /// A piece that does not belong, or is wrong.
    #[error("piece {index}: {reason}")]
    Piece {
        /// The holder's index.
        index: u16,
        /// What is wrong.
        reason: String,
    },
    /// The pieces open nothing: too few, or the backup was altered.
    #[error("{0}")]
    Open(String),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    backup: String,
    threshold: u16,
    holders: u16,
    commitments: Vec<String>,
    files: usize,
}

/// One backup holder's piece. Its text form ([`Piece::to_text`]) is what
/// the holder keeps; it is secret.
#[derive(Clone)]
pub struct Piece {
    /// The backup it opens (random id).
    pub backup: String,
    /// This holder, from 1.
    pub index: u16,
    /// Pieces needed.
    pub threshold: u16,
    /// Holders in all.
    pub holders: u16,
    value: SecretScalar,
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Piece")
            .field("backup", &self.backup)
            .field("index", &self.index)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PieceText {
    format: String,
    backup: String,
    index: u16,
    threshold: u16,
    holders: u16,
    value: String,
}

fn scalar_from_hex(s: &str) -> Option<Scalar> {
    let b: [u8; 32] = unhex(s)?.try_into().ok()?;
    Option::from(Scalar::from_repr(b.into()))
}

fn point_from_hex(s: &str) -> Option<ProjectivePoint> {
    let sec1 = Sec1Point::from_bytes(unhex(s)?).ok()?;
    Option::<AffinePoint>::from(AffinePoint::from_sec1_point(&sec1)).map(Into::into)
}

impl Piece {
    /// The holder's text (JSON), secret.
    pub fn to_text(&self) -> Zeroizing<String> {
        let value = Zeroizing::new(hex(&self.value.expose().to_repr()));
        let t = PieceText {
            format: "quorate-backup-piece".into(),
            backup: self.backup.clone(),
            index: self.index,
            threshold: self.threshold,
            holders: self.holders,
            value: value.to_string(),
        };
        Zeroizing::new(serde_json::to_string_pretty(&t).unwrap_or_default())
    }

    /// Parses [`Piece::to_text`].
    pub fn from_text(text: &str) -> Result<Self, BackupError> {
        let t: PieceText = serde_json::from_str(text)
            .map_err(|_| BackupError::Format("not a backup piece".into()))?;
        let value = Zeroizing::new(t.value);
        if t.format != "quorate-backup-piece" || t.index == 0 {
            return Err(BackupError::Format("not a backup piece".into()));
        }
        let value = scalar_from_hex(&value).ok_or(BackupError::Piece {
            index: t.index,
            reason: "its value is not a scalar".into(),
        })?;
        Ok(Piece {
            backup: t.backup,
            index: t.index,
            threshold: t.threshold,
            holders: t.holders,
            value: SecretScalar::new(value),
        })
    }
}

fn key_of(s: &Scalar) -> Zeroizing<[u8; 32]> {
    let mut h = Sha256::new();
    h.update((TAG_KEY.len() as u64).to_be_bytes());
    h.update(TAG_KEY);
    h.update(s.to_repr());
    Zeroizing::new(h.finalize().into())
}

fn entropy<E>(_: E) -> BackupError {
    BackupError::Parameters("the OS random generator failed".into())
}

/// A safe relative path: no root, no `..`, no empty or `.` parts.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 4096
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Seals `files` (relative names and contents) into a backup and splits
/// its key among `holders` pieces, any `threshold` of which open it.
pub fn create(
    files: &[(String, Vec<u8>)],
    threshold: u16,
    holders: u16,
) -> Result<(Vec<u8>, Vec<Piece>), BackupError> {
    if threshold < 2 || threshold > holders {
        return Err(BackupError::Parameters(format!(
            "a backup needs 2 <= t <= n holders, not t = {threshold}, n = {holders}"
        )));
    }
    if let Some((n, _)) = files.iter().find(|(n, _)| !safe_name(n)) {
        return Err(BackupError::Parameters(format!(
            "`{n}` is not a relative file name"
        )));
    }
    let mut archive = Zeroizing::new(Vec::new());
    archive.extend_from_slice(&(files.len() as u32).to_le_bytes());
    for (name, data) in files {
        archive.extend_from_slice(&(name.len() as u32).to_le_bytes());
        archive.extend_from_slice(name.as_bytes());
        archive.extend_from_slice(&(data.len() as u64).to_le_bytes());
        archive.extend_from_slice(data);
    }
    if archive.len() > MAX_BACKUP {
        return Err(BackupError::Parameters(format!(
            "the files come to {} bytes, above the {} a backup holds",
            archive.len(),
            MAX_BACKUP
        )));
    }
    let secret = SecretScalar::random().map_err(entropy)?;
    let pieces =
        split(&secret, threshold, holders).map_err(|e| BackupError::Parameters(e.to_string()))?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(entropy)?;
    let header = Header {
        format: "quorate-backup".into(),
        backup: hex(&id),
        threshold,
        holders,
        commitments: pieces
            .commitments
            .iter()
            .map(|c| hex(c.to_affine().to_sec1_point(true).as_bytes()))
            .collect(),
        files: files.len(),
    };
    let header_bytes =
        serde_json::to_vec(&header).map_err(|e| BackupError::Parameters(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len() + header_bytes.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(header_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&header_bytes);
    let aad = out.clone();
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(entropy)?;
    let key = key_of(secret.expose());
    let sealed = ChaCha20Poly1305::new(<&Key>::from(&*key))
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &archive,
                aad: &aad,
            },
        )
        .map_err(|_| BackupError::Parameters("sealing the backup failed".into()))?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    let pieces = pieces
        .shares
        .into_iter()
        .map(|(i, value)| Piece {
            backup: header.backup.clone(),
            index: i.get(),
            threshold,
            holders,
            value,
        })
        .collect();
    Ok((out, pieces))
}

fn read_header(bytes: &[u8]) -> Result<(Header, usize), BackupError> {
    let bad = |m: &str| BackupError::Format(m.into());
    if bytes.len() > MAX_BACKUP + (1 << 20) {
        return Err(bad("larger than any backup"));
    }
    if bytes.len() < 9 || &bytes[..4] != MAGIC {
        return Err(bad("no QBAK magic"));
    }
    if bytes[4] != VERSION {
        return Err(bad("an unknown version"));
    }
    let len = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let end = 9usize
        .checked_add(len)
        .filter(|&e| e + 12 + 16 <= bytes.len())
        .ok_or_else(|| bad("truncated"))?;
    let header: Header =
        serde_json::from_slice(&bytes[9..end]).map_err(|_| bad("its header is damaged"))?;
    if header.format != "quorate-backup"
        || header.threshold < 2
        || header.threshold > header.holders
        || header.commitments.len() != usize::from(header.threshold)
    {
        return Err(bad("its header is damaged"));
    }
    Ok((header, end))
}

/// What a backup says about itself, without any piece.
pub fn describe(bytes: &[u8]) -> Result<(String, u16, u16, usize), BackupError> {
    let (h, _) = read_header(bytes)?;
    Ok((h.backup, h.threshold, h.holders, h.files))
}

/// Opens a backup with at least its threshold of pieces; returns the files.
pub fn open(bytes: &[u8], pieces: &[Piece]) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    let (header, end) = read_header(bytes)?;
    let commitments = header
        .commitments
        .iter()
        .map(|c| point_from_hex(c))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| BackupError::Format("its header is damaged".into()))?;
    let mut ids = Vec::new();
    for p in pieces {
        let reject = |reason: &str| BackupError::Piece {
            index: p.index,
            reason: reason.into(),
        };
        if p.backup != header.backup {
            return Err(reject("it belongs to another backup"));
        }
        if p.index > header.holders {
            return Err(reject("there are fewer holders"));
        }
        if ids.iter().any(|i: &Identifier| i.get() == p.index) {
            return Err(reject("given twice"));
        }
        // Feldman: G·f(i) = Σ_k C_k i^k.
        let x = Scalar::from(u64::from(p.index));
        let expect = commitments
            .iter()
            .rev()
            .fold(ProjectivePoint::IDENTITY, |acc, c| acc * x + c);
        if ProjectivePoint::mul_by_generator(p.value.expose()) != expect {
            return Err(reject(
                "it does not match the backup's commitments (wrong or altered)",
            ));
        }
        ids.push(Identifier::new(p.index).map_err(|e| reject(&e.to_string()))?);
    }
    let t = usize::from(header.threshold);
    if ids.len() < t {
        return Err(BackupError::Open(format!(
            "{} piece{} given; this backup needs {} of its {} holders",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            t,
            header.holders
        )));
    }
    let ids = &ids[..t];
    let mut s = Scalar::ZERO;
    for (p, &id) in pieces.iter().zip(ids) {
        s += lagrange_at_zero(ids, id).map_err(|e| BackupError::Open(e.to_string()))?
            * p.value.expose();
    }
    let s = SecretScalar::new(s);
    let key = key_of(s.expose());
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&bytes[end..end + 12]);
    let archive = Zeroizing::new(
        ChaCha20Poly1305::new(<&Key>::from(&*key))
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &bytes[end + 12..],
                    aad: &bytes[..end],
                },
            )
            .map_err(|_| BackupError::Open("the backup does not decrypt: it was altered".into()))?,
    );
    parse_archive(&archive, header.files)
}

fn parse_archive(a: &[u8], files: usize) -> Result<Vec<(String, Vec<u8>)>, BackupError> {
    let bad = || BackupError::Format("its archive is damaged".into());
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], BackupError> {
        let s = a
            .get(at..at.checked_add(n).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        at += n;
        Ok(s)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
    if count != files || count > MAX_FILES {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let n = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
        let name = String::from_utf8(take(n)?.to_vec()).map_err(|_| bad())?;
        if !safe_name(&name) {
            return Err(BackupError::Format(format!(
                "it names an unsafe path `{name}`"
            )));
        }
        let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad())?);
        let data = take(usize::try_from(len).map_err(|_| bad())?)?.to_vec();
        out.push((name, data));
    }
    if at != a.len() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("keys/k1/share-2.qshr".into(), vec![1, 2, 3]),
            ("audit.log".into(), b"{\"seq\":0}\n".to_vec()),
            ("empty".into(), Vec::new()),
        ]
    }

    #[test]
    fn any_quorum_of_pieces_restores_and_fewer_do_not() {
        let (b, pieces) = create(&files(), 3, 5).unwrap();
        assert_eq!(describe(&b).unwrap().1, 3);
        for set in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let chosen: Vec<Piece> = set.iter().map(|&i| pieces[i].clone()).collect();
            assert_eq!(open(&b, &chosen).unwrap(), files());
        }
        let two = [pieces[0].clone(), pieces[3].clone()];
        assert!(matches!(open(&b, &two), Err(BackupError::Open(m)) if m.contains("needs 3")));
        // Through their text form.
        let back: Vec<Piece> = pieces[1..4]
            .iter()
            .map(|p| Piece::from_text(&p.to_text()).unwrap())
            .collect();
        assert_eq!(open(&b, &back).unwrap(), files());
    }

    #[test]
    fn a_wrong_piece_is_named_and_an_altered_backup_refused() {
        let (b, pieces) = create(&files(), 2, 3).unwrap();
        let mut bad = pieces[1].clone();
        bad.value = SecretScalar::new(*bad.value.expose() + Scalar::ONE);
        let e = open(&b, &[pieces[0].clone(), bad]).unwrap_err();
        assert!(matches!(e, BackupError::Piece { index: 2, .. }), "{e}");
        let (other, other_pieces) = create(&files(), 2, 3).unwrap();
        let e = open(&b, &[pieces[0].clone(), other_pieces[1].clone()]).unwrap_err();
        assert!(e.to_string().contains("another backup"), "{e}");
        let mut altered = b.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let e = open(&altered, &pieces[..2]).unwrap_err();
        assert!(e.to_string().contains("altered"), "{e}");
        assert!(open(&other[..20], &other_pieces[..2]).is_err());
        assert!(open(b"not a backup at all", &pieces[..2]).is_err());
    }

    #[test]
    fn unsafe_names_are_refused() {
        for name in ["/etc/passwd", "../x", "a/../b", "", "a//b", "./a"] {
            assert!(create(&[(name.into(), vec![])], 2, 2).is_err(), "{name}");
        }
    }
}
