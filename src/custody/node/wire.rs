//! Node-to-node messages and their framing.
//!
//! Every node listens on its address of the parties file for TLS 1.3
//! connections from the other nodes, each pinned to its certificate (both
//! ways: an unknown certificate never gets past the TLS handshake). The
//! first frame of a connection says what it is for:
//!
//! - `ping`: the peer answers with its name and the epoch of each key;
//! - `propose`: a coordinator proposes a job (a key generation, a
//!   signature, a refresh). The node checks it itself (its own policy for
//!   a signature) and answers `accept` or `refuse` (naming the rule); the
//!   coordinator then sends `go` to all (or `abort`), and the node answers
//!   `done` with the outcome or `failed`;
//! - `link`: one of the pairwise connections a ceremony runs on, for the
//!   session it names; the lower-numbered node of each pair dials.
//!
//! A frame is a 4-byte big-endian length and a JSON message, at most
//! [`MAX_FRAME`] bytes; a longer or malformed frame ends the connection.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest control frame.
pub(crate) const MAX_FRAME: usize = 1 << 20;

/// What a connection is for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Hello {
    /// Are you there, and at which epochs are your keys?
    Ping,
    /// A ceremony link for `session` (hex).
    Link {
        /// The session id, hex.
        session: String,
    },
    /// A job proposal.
    Propose(Box<Proposal>),
}

/// A coordinator's proposal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Proposal {
    /// The request id (the coordinator's).
    pub(crate) request: String,
    /// A fresh 32-byte session id, hex: every attempt has its own.
    pub(crate) session: String,
    /// The coordinator's name (checked against its certificate).
    pub(crate) coordinator: String,
    /// Every node that takes part, by name.
    pub(crate) participants: Vec<String>,
    /// The job.
    pub(crate) job: Job,
}

/// A job.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Job {
    /// Distributed key generation among every node.
    Keygen {
        /// Signers needed.
        threshold: u16,
    },
    /// A signature.
    Sign(SignJob),
    /// New shares of the same key (next epoch), every node.
    Refresh {
        /// The key id.
        key: String,
        /// The epoch being refreshed.
        epoch: u64,
    },
}

impl Job {
    /// `keygen`, `sign` or `refresh`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Job::Keygen { .. } => "keygen",
            Job::Sign(_) => "sign",
            Job::Refresh { .. } => "refresh",
        }
    }
}

/// A signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Scheme {
    /// Threshold ECDSA (DKLs23).
    Ecdsa,
    /// BIP-340 Schnorr under the x-only key (FROST).
    Schnorr,
    /// BIP-340 under the BIP-341-tweaked key (FROST).
    Taproot,
}

/// A signature job: what is signed and the facts the policy decides on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignJob {
    /// The key id.
    pub(crate) key: String,
    /// The coordinator's epoch of the key.
    pub(crate) epoch: u64,
    /// The scheme.
    pub(crate) scheme: Scheme,
    /// The 32-byte digest, hex.
    pub(crate) digest: String,
    /// The BIP-32 path (non-hardened).
    pub(crate) path: String,
    /// The asset (for the policy).
    pub(crate) asset: String,
    /// The amount, decimal.
    pub(crate) amount: String,
    /// The destination.
    pub(crate) destination: String,
    /// The API client that asked.
    pub(crate) client: String,
}

/// A node's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Reply {
    /// The answer to a ping.
    Pong {
        /// The node's name.
        node: String,
        /// `(key id, committed epoch)` of each key.
        keys: Vec<(String, u64)>,
    },
    /// The node takes part.
    Accept,
    /// Its policy refuses: final.
    Refuse {
        /// The rule that refused.
        rule: String,
        /// Why.
        reason: String,
    },
    /// It cannot take part now (a key busy refreshing, an epoch behind):
    /// a later attempt may succeed.
    Unable {
        /// Why.
        reason: String,
    },
    /// The ceremony's outcome.
    Done {
        /// What it produced.
        outcome: Outcome,
    },
    /// The ceremony failed here.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What a coordinator sends once every node has answered.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Decision {
    /// Every node accepted: run the ceremony.
    Go,
    /// Someone refused or did not answer.
    Abort,
}

/// What a ceremony produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// A new key.
    Key {
        /// Its id.
        key: String,
        /// Its public facts.
        summary: Value,
    },
    /// A signature, verified before release.
    Signature {
        /// 64 bytes, hex (r||s for ECDSA, BIP-340 otherwise).
        signature: String,
        /// The key it verifies under, hex (SEC1 compressed, or x-only).
        public_key: String,
        /// ECDSA's recovery id.
        recovery_id: Option<u8>,
    },
    /// A refreshed key.
    Refreshed {
        /// The new epoch.
        epoch: u64,
    },
}

/// Writes one frame.
pub(crate) async fn write<W, T>(w: &mut W, msg: &T) -> Result<(), String>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let bytes = serde_json::to_vec(msg).map_err(|e| e.to_string())?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or("a control message too large to send")?;
    let mut frame = Vec::with_capacity(4 + bytes.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&bytes);
    w.write_all(&frame).await.map_err(|e| e.to_string())?;
    w.flush().await.map_err(|e| e.to_string())
}

/// Reads one frame within `timeout`: no more than its length's bytes are
/// read, so a `link` connection's stream is left at the ceremony's first
/// byte.
pub(crate) async fn read<R, T>(r: &mut R, timeout: Duration, what: &str) -> Result<T, String>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let body = async {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the connection closed".to_owned()
            } else {
                e.to_string()
            }
        })?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(format!("a {len}-byte frame (the limit is {MAX_FRAME})"));
        }
        let mut buf = vec![0u8; len];
        r.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&buf).map_err(|e| format!("a malformed {what}: {e}"))
    };
    tokio::time::timeout(timeout, body)
        .await
        .map_err(|_| format!("no {what} within {} s", timeout.as_secs_f64()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_bad_frames_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let job = Job::Refresh {
            key: "k".into(),
            epoch: 3,
        };
        write(
            &mut a,
            &Hello::Propose(Box::new(Proposal {
                request: "r".into(),
                session: "00".into(),
                coordinator: "c".into(),
                participants: vec!["c".into(), "d".into()],
                job,
            })),
        )
        .await
        .unwrap();
        let got: Hello = read(&mut b, Duration::from_secs(1), "hello").await.unwrap();
        assert!(matches!(got, Hello::Propose(p) if p.job.kind() == "refresh"));

        // Oversized length.
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        let e = read::<_, Hello>(&mut b, Duration::from_secs(1), "hello")
            .await
            .unwrap_err();
        assert!(e.contains("limit"), "{e}");

        // Malformed JSON.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{x}").await.unwrap();
        let e = read::<_, Hello>(&mut b, Duration::from_secs(1), "hello")
            .await
            .unwrap_err();
        assert!(e.contains("malformed hello"), "{e}");

        // Silence.
        let (_a, mut b) = tokio::io::duplex(16);
        let e = read::<_, Hello>(&mut b, Duration::from_millis(50), "hello")
            .await
            .unwrap_err();
        assert!(e.contains("no hello"), "{e}");
    }
}
