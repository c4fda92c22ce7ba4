//! Threshold signing on secp256k1: keys that no machine ever holds whole.
//!
//! - [`address`]: Ethereum (EIP-55), P2WPKH (BIP-173) and key-path taproot
//!   (BIP-86, BIP-350) addresses of a group key;
//! - [`bip32`]: BIP-32 non-hardened child keys of a threshold key, from
//!   public data alone;
//! - [`bip340`]: the standard BIP-340 verifier;
//! - [`consumed`]: signing sessions marked consumed, durably, before use;
//! - [`dkg`]: t-of-n distributed key generation (Feldman VSS with a
//!   commitment round and proofs of knowledge);
//! - [`frost`]: FROST(secp256k1, SHA-256) exactly as RFC 9591, its
//!   BIP-340/taproot form (x-only keys, even y, BIP-341's key tweak), and key
//!   import by splitting (RFC 9591 appendix C);
//! - [`reshare`]: refresh, resharing to a new `(t', n')` party set, and key
//!   import, each confirmed by every new party before old shares retire.
//!
//! Every round is a sans-IO function: it takes the messages of the round
//! before and returns this party's next messages, so the same code runs in
//! memory, over TLS, or from a signer node's state machine.
//!
//! What every input from a peer is checked for (`../shared/SIGNING-CHECKS.md`):
//! points canonical, on the curve and not the identity; scalars canonical
//! (below the group order); identifiers non-zero and pairwise distinct;
//! every vector exactly the length the protocol says. A failed check names
//! the party it came from.

pub mod address;
pub mod bip32;
pub mod bip340;
pub mod consumed;
pub mod dkg;
pub mod dkls;
pub mod driver;
mod encoding;
pub mod frost;
pub mod reshare;
mod secret;
pub mod vole;

pub use encoding::{
    Identifier, point_from_bytes, point_to_bytes, scalar_from_bytes, scalar_to_bytes,
};
pub use secret::SecretScalar;

use thiserror::Error;

/// Why a signing protocol stopped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// A peer sent bytes that are not a valid point or scalar.
    #[error("party {party}: {what} is not a valid {kind}")]
    Malformed {
        /// The party it came from (its identifier), 0 if unknown.
        party: u16,
        /// What the value was.
        what: &'static str,
        /// "point" or "scalar" or another kind.
        kind: &'static str,
    },
    /// A vector had the wrong length.
    #[error("party {party}: {what} has {got} entries, the protocol says {expected}")]
    Length {
        /// The party it came from, 0 if unknown.
        party: u16,
        /// What the vector was.
        what: &'static str,
        /// The length the protocol says.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// Identifiers must be non-zero and pairwise distinct.
    #[error("bad participant set: {0}")]
    Participants(String),
    /// A peer's message failed a check of the protocol: the run aborts and
    /// names the culprit.
    #[error("party {culprit} cheated or is faulty: {reason}; the run is aborted")]
    Culprit {
        /// The identifier of the party whose message failed.
        culprit: u16,
        /// Which check failed.
        reason: String,
    },
    /// Parameters out of range.
    #[error("{0}")]
    Parameters(String),
    /// A channel to a peer failed (closed, timed out, oversized frame).
    #[error("transport: {0}")]
    Transport(String),
    /// The aggregated signature does not verify; nothing is released.
    #[error("the aggregated signature does not verify; nothing is released")]
    InvalidSignature,
    /// The caller could not store a new share before acknowledging it:
    /// nothing was acknowledged and the old share stays the key's.
    #[error("storing the new share failed: {0}")]
    Storage(String),
}

/// The contents of a file under `../shared/vectors` for the unit tests, or
/// `None` (with a note) if it is absent outside CI; in CI an absent file
/// fails.
#[cfg(test)]
#[allow(clippy::panic)]
pub(crate) fn test_vectors(rel: &str) -> Option<String> {
    let path = format!("{}/../../shared/vectors/{rel}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) if std::env::var_os("CI").is_some() => panic!("{path}: {e}"),
        Err(e) => {
            eprintln!("skipping: {path}: {e}");
            None
        }
    }
}
