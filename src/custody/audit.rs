//! The audit log of a signer node: append-only, hash-chained, every entry
//! signed by its node.
//!
//! The log is a text file of JSON lines. Entry `seq` (from 0) is
//!
//! ```json
//! {"seq":3,"time":1795000000,"node":"treasury","kind":"sign","body":{...},"prev":"<hex>","sig":"<hex>"}
//! ```
//!
//! - `prev` is SHA-256 of the tag `quorate/audit/line/v1` and the previous
//!   line's bytes (64 zeros for entry 0), which chains every entry to all
//!   before it;
//! - `sig` is the node's ECDSA signature (secp256k1, k256's signer, low-s)
//!   over SHA-256 of the tag `quorate/audit/entry/v1` and the entry's
//!   other fields serialised in this order;
//! - entry 0 has kind `genesis` and names the node's public key, which a
//!   verifier should also get from elsewhere (`--public-key`).
//!
//! [`verify`] names each problem and the line it is on: an edited or
//! forged entry (its signature), a dropped one (a gap in `seq`), an
//! inserted or duplicated one, a reordered one (a `seq` that comes back
//! later), a broken chain (an entry replaced whole), a torn last line.
//! Entries cut from the end leave no trace in the file itself: compare the
//! head (last `seq` and hash) with the one the node reports.
//! [`AuditLog::append`] writes one line and syncs it before returning.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{hex, unhex};

const TAG_LINE: &[u8] = b"quorate/audit/line/v1";
const TAG_ENTRY: &[u8] = b"quorate/audit/entry/v1";
/// Longest line accepted (an entry's body is small; this bounds memory on
/// a damaged file).
const MAX_LINE: usize = 1 << 20;

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file system.
    #[error("{path}: {err}")]
    Io {
        /// The log.
        path: PathBuf,
        /// What failed.
        err: std::io::Error,
    },
    /// The log fails verification: a node never appends to it.
    #[error("{path}: the audit log fails verification ({problem}); it is left as it is")]
    Tampered {
        /// The log.
        path: PathBuf,
        /// The first problem.
        problem: String,
    },
    /// A key or value that cannot be used.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    seq: u64,
    time: u64,
    node: String,
    kind: String,
    body: Value,
    prev: String,
    sig: String,
}

#[derive(Serialize)]
struct Unsigned<'a> {
    seq: u64,
    time: u64,
    node: &'a str,
    kind: &'a str,
    body: &'a Value,
    prev: &'a str,
}

fn line_hash(line: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((TAG_LINE.len() as u64).to_be_bytes());
    h.update(TAG_LINE);
    h.update(line);
    h.finalize().into()
}

fn entry_digest(u: &Unsigned<'_>) -> Result<[u8; 32], AuditError> {
    let bytes = serde_json::to_vec(u).map_err(|e| AuditError::Invalid(e.to_string()))?;
    let mut h = Sha256::new();
    h.update((TAG_ENTRY.len() as u64).to_be_bytes());
    h.update(TAG_ENTRY);
    h.update(bytes);
    Ok(h.finalize().into())
}

impl Entry {
    fn unsigned(&self) -> Unsigned<'_> {
        Unsigned {
            seq: self.seq,
            time: self.time,
            node: &self.node,
            kind: &self.kind,
            body: &self.body,
            prev: &self.prev,
        }
    }

    fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Some(sig) = unhex(&self.sig).and_then(|b| Signature::from_slice(&b).ok()) else {
            return false;
        };
        entry_digest(&self.unsigned()).is_ok_and(|d| key.verify_prehash(&d, &sig).is_ok())
    }
}

/// One problem [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The line, from 1.
    pub line: usize,
    /// The entry's `seq`, if the line parses.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub what: String,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Lines read.
    pub entries: usize,
    /// The key the signatures were checked with (SEC1 compressed, hex).
    pub public_key: String,
    /// Whether that key came from the caller (else from the genesis entry).
    pub key_pinned: bool,
    /// The last entry's `seq` and line hash: the head to compare with the
    /// node's.
    pub head: Option<(u64, String)>,
    /// Every problem, in file order; empty: the log is intact.
    pub problems: Vec<Problem>,
}

/// The `(time, kind, body)` of each entry of a log that [`verify`] found
/// intact (a node rebuilds what it signed from it); lines that do not
/// parse are skipped.
pub fn entries(bytes: &[u8]) -> Vec<(u64, String, Value)> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && l.len() <= MAX_LINE)
        .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
        .map(|e| (e.time, e.kind, e.body))
        .collect()
}

/// Checks a whole log. With `key`, every signature must be that key's
/// (and the genesis entry must name it); without, the genesis entry's key
/// is used, which only shows the log is consistent with itself.
pub fn verify(bytes: &[u8], key: Option<&VerifyingKey>) -> Report {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let torn = lines.pop().filter(|l| !l.is_empty());
    let parsed: Vec<Option<Entry>> = lines
        .iter()
        .map(|l| {
            (l.len() <= MAX_LINE)
                .then(|| serde_json::from_slice::<Entry>(l).ok())
                .flatten()
        })
        .collect();
    let mut problems = Vec::new();
    let genesis_key = parsed
        .first()
        .and_then(Option::as_ref)
        .filter(|e| e.kind == "genesis" && e.seq == 0)
        .and_then(|e| e.body["public_key"].as_str())
        .and_then(unhex)
        .and_then(|b| VerifyingKey::from_sec1_bytes(&b).ok());
    let used = match (key, &genesis_key) {
        (Some(k), Some(g)) if k != g => {
            problems.push(Problem {
                line: 1,
                seq: Some(0),
                what: "the genesis entry names another node key than the one given".into(),
            });
            Some(*k)
        }
        (Some(k), _) => Some(*k),
        (None, g) => *g,
    };
    if genesis_key.is_none() && !lines.is_empty() {
        problems.push(Problem {
            line: 1,
            seq: None,
            what: "the first entry is not a genesis entry naming the node's key".into(),
        });
    }
    let present: Vec<u64> = parsed.iter().flatten().map(|e| e.seq).collect();
    let signed: Vec<bool> = parsed
        .iter()
        .map(|e| {
            e.as_ref()
                .is_some_and(|e| used.as_ref().is_some_and(|k| e.signed_by(k)))
        })
        .collect();
    // Each seq's first line: its hash, and whether its signature holds.
    let mut by_seq = std::collections::HashMap::new();
    for ((line, e), ok) in lines.iter().zip(&parsed).zip(&signed) {
        if let Some(e) = e {
            by_seq.entry(e.seq).or_insert((line_hash(line), *ok));
        }
    }
    let mut expected = 0u64;
    // Whether the previous line already explains a broken order here.
    let mut explained = false;
    for (k, (entry, ok)) in parsed.iter().zip(&signed).enumerate() {
        let n = k + 1;
        let Some(e) = entry else {
            problems.push(Problem {
                line: n,
                seq: None,
                what: "not an audit entry: edited or inserted".into(),
            });
            explained = true;
            continue;
        };
        let mut here = false;
        if !ok {
            problems.push(Problem {
                line: n,
                seq: Some(e.seq),
                what: "its signature does not verify: edited, or inserted by someone without \
                       the node's key"
                    .into(),
            });
            here = true;
        }
        if e.seq > expected {
            let missing: Vec<u64> = (expected..e.seq).collect();
            let later = missing.iter().all(|s| present.contains(s));
            let what = if later {
                format!(
                    "comes before entr{} {} that appear{} later: reordered",
                    if missing.len() == 1 { "y" } else { "ies" },
                    span(expected, e.seq - 1),
                    if missing.len() == 1 { "s" } else { "" },
                )
            } else {
                format!(
                    "entr{} {} missing before it: dropped",
                    if missing.len() == 1 { "y" } else { "ies" },
                    span(expected, e.seq - 1)
                )
            };
            problems.push(Problem {
                line: n,
                seq: Some(e.seq),
                what,
            });
            here = true;
        } else if e.seq < expected && !explained {
            problems.push(Problem {
                line: n,
                seq: Some(e.seq),
                what: format!("out of order (entry {expected} expected): reordered or duplicated"),
            });
            here = true;
        }
        // The entry it follows, wherever it is in the file, must be the one
        // it was chained to.
        let before = match e.seq.checked_sub(1) {
            None => Some(([0u8; 32], true)),
            Some(s) => by_seq.get(&s).copied(),
        };
        if let Some((h, before_ok)) = before
            && !here
            && before_ok
            && e.prev != hex(&h)
        {
            problems.push(Problem {
                line: n,
                seq: Some(e.seq),
                what: format!(
                    "the hash chain breaks here: entry {} is not the one it followed (replaced)",
                    e.seq.saturating_sub(1)
                ),
            });
            here = true;
        }
        explained = here;
        expected = expected.max(e.seq.saturating_add(1));
    }
    if torn.is_some() {
        problems.push(Problem {
            line: lines.len() + 1,
            seq: None,
            what: "incomplete last line (a write cut short)".into(),
        });
    }
    let head = parsed
        .iter()
        .rev()
        .zip(lines.iter().rev())
        .find_map(|(e, l)| e.as_ref().map(|e| (e.seq, hex(&line_hash(l)))));
    Report {
        entries: lines.len(),
        public_key: used.map_or_else(String::new, |k| hex(&k.to_sec1_bytes())),
        key_pinned: key.is_some(),
        head,
        problems,
    }
}

fn span(a: u64, b: u64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a} to {b}")
    }
}

/// An open audit log that this node appends to.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    node: String,
    key: SigningKey,
    next: u64,
    prev: [u8; 32],
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("node", &self.node)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the log at `path`, or starts it with a genesis entry naming
    /// `key`'s public key. An existing log must verify under `key`: a node
    /// never appends to a log it cannot vouch for. A last line cut short by
    /// a crash (never acknowledged: [`append`](Self::append) returns after
    /// the sync) is removed.
    pub fn open(path: &Path, node: &str, key: SigningKey) -> Result<Self, AuditError> {
        let io = |err| AuditError::Io {
            path: path.to_path_buf(),
            err,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if end < bytes.len() {
            file.set_len(end as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
            bytes.truncate(end);
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let report = verify(&bytes, Some(key.verifying_key()));
        if let Some(p) = report.problems.first() {
            return Err(AuditError::Tampered {
                path: path.to_path_buf(),
                problem: format!("line {}: {}", p.line, p.what),
            });
        }
        // The log verified, so its last line is its head entry.
        let last = bytes.split(|&b| b == b'\n').rfind(|l| !l.is_empty());
        let (next, prev) = match (&report.head, last) {
            (Some((seq, _)), Some(line)) => (seq + 1, line_hash(line)),
            _ => (0, [0u8; 32]),
        };
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            node: node.to_owned(),
            key,
            next,
            prev,
        };
        if next == 0 {
            let pk = hex(&log.key.verifying_key().to_sec1_bytes());
            log.append("genesis", serde_json::json!({ "public_key": pk }))?;
        }
        Ok(log)
    }

    /// Appends one entry and syncs it to disk; returns its `seq`.
    pub fn append(&mut self, kind: &str, body: Value) -> Result<u64, AuditError> {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let prev = hex(&self.prev);
        let unsigned = Unsigned {
            seq: self.next,
            time,
            node: &self.node,
            kind,
            body: &body,
            prev: &prev,
        };
        let digest = entry_digest(&unsigned)?;
        let sig: Signature = self
            .key
            .sign_prehash(&digest)
            .map_err(|e| AuditError::Invalid(format!("signing an audit entry: {e}")))?;
        let entry = Entry {
            seq: self.next,
            time,
            node: self.node.clone(),
            kind: kind.to_owned(),
            body,
            prev,
            sig: hex(&sig.to_bytes()),
        };
        let mut line =
            serde_json::to_vec(&entry).map_err(|e| AuditError::Invalid(e.to_string()))?;
        if line.len() > MAX_LINE {
            return Err(AuditError::Invalid(format!(
                "an audit entry of {} bytes (the limit is {MAX_LINE})",
                line.len()
            )));
        }
        let hash = line_hash(&line);
        line.push(b'\n');
        let io = |err| AuditError::Io {
            path: self.path.clone(),
            err,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.prev = hash;
        self.next += 1;
        Ok(entry.seq)
    }

    /// The `seq` of the last entry and its line hash (hex).
    pub fn head(&self) -> (u64, String) {
        (self.next.saturating_sub(1), hex(&self.prev))
    }

    /// The node's public key (SEC1 compressed).
    pub fn public_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).unwrap();
        SigningKey::from_slice(&b).unwrap()
    }

    /// A log of a genesis and five entries; returns its lines and key.
    fn sample() -> (tempfile::TempDir, PathBuf, Vec<Vec<u8>>, VerifyingKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut log = AuditLog::open(&path, "treasury", key()).unwrap();
        for i in 0..5 {
            log.append(
                "sign",
                json!({"request": i, "amount": "1.5", "decision": "allowed"}),
            )
            .unwrap();
        }
        let pk = log.public_key();
        let bytes = std::fs::read(&path).unwrap();
        let lines = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        (dir, path, lines, pk)
    }

    fn join(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    }

    fn one_problem(lines: &[Vec<u8>], pk: &VerifyingKey) -> Problem {
        let r = verify(&join(lines), Some(pk));
        assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
        r.problems[0].clone()
    }

    #[test]
    fn an_oversized_entry_is_refused_and_the_log_still_opens() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("audit.log");
        let k = key();
        let mut log = AuditLog::open(&path, "n", k.clone()).unwrap();
        let big = "x".repeat(MAX_LINE);
        assert!(
            log.append("request", serde_json::json!({ "destination": big }))
                .is_err()
        );
        log.append("request", serde_json::json!({ "ok": true }))
            .unwrap();
        drop(log);
        let log = AuditLog::open(&path, "n", k).unwrap();
        assert_eq!(log.head().0, 1);
    }

    #[test]
    fn an_intact_log_verifies_and_reopens_where_it_ended() {
        let (_d, _path, lines, pk) = sample();
        assert_eq!(lines.len(), 6);
        let r = verify(&join(&lines), Some(&pk));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.head.as_ref().unwrap().0, 5);
        // Without a pinned key: consistent with its own genesis.
        assert!(verify(&join(&lines), None).problems.is_empty());
        // Another key is refused.
        let other = key();
        assert!(
            !verify(&join(&lines), Some(other.verifying_key()))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn reopening_continues_the_chain_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let k = key();
        let mut log = AuditLog::open(&path, "n", k.clone()).unwrap();
        log.append("sign", json!({"a": 1})).unwrap();
        let head = log.head();
        drop(log);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,\"ti").unwrap();
        drop(f);
        let mut log = AuditLog::open(&path, "n", k.clone()).unwrap();
        assert_eq!(log.head(), head);
        assert_eq!(log.append("sign", json!({"a": 2})).unwrap(), 2);
        let r = verify(&std::fs::read(&path).unwrap(), Some(k.verifying_key()));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        // A node refuses to append to a log that does not verify.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"a\":1", "\"a\":7");
        std::fs::write(&path, text).unwrap();
        let e = AuditLog::open(&path, "n", k).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("signature"), "{e}");
    }

    #[test]
    fn an_edited_entry_is_named() {
        let (_d, _p, mut lines, pk) = sample();
        let text = String::from_utf8(lines[3].clone())
            .unwrap()
            .replace("1.5", "150");
        lines[3] = text.into_bytes();
        let p = one_problem(&lines, &pk);
        assert_eq!((p.line, p.seq), (4, Some(3)));
        assert!(p.what.contains("signature"), "{}", p.what);
    }

    #[test]
    fn a_dropped_entry_is_named() {
        let (_d, _p, mut lines, pk) = sample();
        lines.remove(2);
        let p = one_problem(&lines, &pk);
        assert_eq!((p.line, p.seq), (3, Some(3)));
        assert!(
            p.what.contains("entry 2 missing") && p.what.contains("dropped"),
            "{}",
            p.what
        );
    }

    #[test]
    fn an_inserted_entry_is_named() {
        let (_d, _p, mut lines, pk) = sample();
        // A copy of a real entry, signature and all.
        let copy = lines[2].clone();
        lines.insert(4, copy);
        let p = one_problem(&lines, &pk);
        assert_eq!((p.line, p.seq), (5, Some(2)));
        assert!(p.what.contains("duplicated"), "{}", p.what);
        // An entry forged without the key.
        let (_d, _p, mut lines, pk) = sample();
        let forged = String::from_utf8(lines[2].clone())
            .unwrap()
            .replace("\"request\":1", "\"request\":9");
        lines.insert(3, forged.into_bytes());
        let r = verify(&join(&lines), Some(&pk));
        assert_eq!(r.problems[0].line, 4);
        assert!(r.problems[0].what.contains("signature"));
    }

    #[test]
    fn reordered_entries_are_named() {
        let (_d, _p, mut lines, pk) = sample();
        lines.swap(2, 3);
        let r = verify(&join(&lines), Some(&pk));
        assert_eq!(r.problems[0].line, 3);
        assert!(r.problems[0].what.contains("reordered"), "{:?}", r.problems);
        assert!(
            r.problems.iter().all(|p| p.line == 3 || p.line == 4),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn a_replaced_entry_breaks_the_chain_at_the_next() {
        // Two forks of one node's log (a backup restored and written to):
        // fork b's entry 3, signed by the node, placed in fork a.
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let k = key();
        let mut a = AuditLog::open(&pa, "n", k.clone()).unwrap();
        a.append("sign", json!({"x": 1})).unwrap();
        a.append("sign", json!({"x": 2})).unwrap();
        drop(a);
        std::fs::copy(&pa, &pb).unwrap();
        let mut a = AuditLog::open(&pa, "n", k.clone()).unwrap();
        let mut b = AuditLog::open(&pb, "n", k.clone()).unwrap();
        a.append("sign", json!({"x": 3})).unwrap();
        a.append("sign", json!({"x": 4})).unwrap();
        b.append("sign", json!({"x": 30})).unwrap();
        let read = |p: &Path| -> Vec<Vec<u8>> {
            std::fs::read(p)
                .unwrap()
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        };
        let mut lines = read(&pa);
        lines[3] = read(&pb)[3].clone();
        let p = one_problem(&lines, k.verifying_key());
        assert_eq!((p.line, p.seq), (5, Some(4)));
        assert!(p.what.contains("chain breaks"), "{}", p.what);
    }

    #[test]
    fn garbage_and_a_torn_tail_are_named() {
        let (_d, _p, mut lines, pk) = sample();
        lines[1] = b"not json".to_vec();
        let mut bytes = join(&lines);
        bytes.extend_from_slice(b"{\"seq\":6");
        let r = verify(&bytes, Some(&pk));
        assert_eq!(r.problems[0].line, 2);
        assert!(r.problems[0].what.contains("not an audit entry"));
        assert!(
            r.problems
                .iter()
                .any(|p| p.line == 7 && p.what.contains("incomplete"))
        );
    }
}
