//! Oblivious transfer: base OT over secp256k1 ([`base`]) and OT extension
//! with an actively secure consistency check ([`kos`]), giving correlated OT
//! with a global Delta, random OT and chosen-message OT.
//!
//! Each protocol is a sans-IO core (messages in, messages out, typestates
//! where a step must not be skipped) plus a driver over a
//! [`Channel`](crate::net::Channel).

pub mod base;
pub mod h2c;
pub mod kos;

use std::fmt;

use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::block::Block;
use crate::net::NetError;

/// The OT sender's global correlation: every correlated OT pair is
/// `(q, q ⊕ Δ)`. Its least significant bit is 1, so that garbled labels of
/// the same wire differ in their permute bit.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Delta(Block);

impl Delta {
    /// A fresh random Delta with lsb 1.
    pub fn random() -> Result<Self, OtError> {
        Ok(Delta(
            Block::random().map_err(OtError::Entropy)?.with_lsb(true),
        ))
    }

    /// From a block; the lsb is forced to 1.
    pub fn from_block(b: Block) -> Self {
        Delta(b.with_lsb(true))
    }

    /// The bits, for the protocols that must compute with them.
    pub fn expose(&self) -> Block {
        self.0
    }
}

impl fmt::Debug for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Delta(<redacted>)")
    }
}

impl PartialEq for Delta {
    /// Constant time.
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bytes().ct_eq(&other.0.to_bytes()).into()
    }
}

impl Eq for Delta {}

/// Secret blocks (OT outputs, keys): zeroized on drop, redacted in `Debug`.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBlocks(Vec<Block>);

impl SecretBlocks {
    /// Wraps blocks.
    pub fn new(blocks: Vec<Block>) -> Self {
        SecretBlocks(blocks)
    }

    /// The blocks.
    pub fn expose(&self) -> &[Block] {
        &self.0
    }

    /// The blocks, mutably.
    pub fn expose_mut(&mut self) -> &mut Vec<Block> {
        &mut self.0
    }

    /// Makes the length `n` for blocks about to be overwritten: what they
    /// hold until then is unspecified (earlier outputs, or zeros). Only
    /// blocks past the old length are zero-filled, so a reused buffer costs
    /// no pass over memory; memory that cannot hold `n` is wiped and
    /// released, never left behind by a reallocation.
    pub fn resize_for_overwrite(&mut self, n: usize) {
        if self.0.capacity() < n {
            self.0.zeroize();
            self.0 = Vec::with_capacity(n);
        }
        self.0.resize(n, Block::ZERO);
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBlocks(<{} redacted>)", self.0.len())
    }
}

/// Why an OT failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OtError {
    /// The peer's extension message failed the consistency check: it
    /// cheated or its message was tampered with. This OT setup is tainted and
    /// will not be used again; set up a fresh one.
    #[error(
        "{peer} failed the OT extension consistency check (batch {batch}); its base OTs are discarded"
    )]
    ConsistencyCheck {
        /// The peer.
        peer: String,
        /// The batch that failed.
        batch: u64,
    },
    /// An earlier check with this peer failed; the setup cannot be used.
    #[error(
        "this OT setup with {peer} failed a consistency check earlier and is discarded; run a fresh setup"
    )]
    Tainted {
        /// The peer.
        peer: String,
    },
    /// The peer sent an invalid group element.
    #[error("{peer} sent an invalid curve point ({what})")]
    BadPoint {
        /// The peer.
        peer: String,
        /// Which point.
        what: String,
    },
    /// The peer sent a message of the wrong length.
    #[error("{peer} sent {got} {what}, expected {expected}")]
    BadLength {
        /// The peer.
        peer: String,
        /// What was counted.
        what: &'static str,
        /// Expected count.
        expected: u64,
        /// Received count.
        got: u64,
    },
    /// The peer's OT extension setup message is not one this build runs.
    #[error("{peer} sent an invalid OT setup: {what}")]
    BadSetup {
        /// The peer.
        peer: String,
        /// What was wrong.
        what: String,
    },
    /// The caller misused the API.
    #[error("{0}")]
    Usage(String),
    /// An extension batch was started and abandoned part-way (a transport
    /// error in the middle, say): the two sides' column generators are out
    /// of step, and no later batch can be trusted.
    #[error(
        "an OT extension batch with {peer} was abandoned part-way; the two sides are out of step: run a fresh setup"
    )]
    Abandoned {
        /// The peer.
        peer: String,
    },
    /// The operating system's randomness failed.
    #[error("OS randomness unavailable: {0}")]
    Entropy(getrandom::Error),
    /// Hashing onto the curve refused its parameters (RFC 9380
    /// `expand_message_xmd`); fixed in the code, so never in practice.
    #[error("hashing to the curve failed: {0}")]
    HashToCurve(String),
    /// The transport failed.
    #[error(transparent)]
    Net(#[from] NetError),
}

impl OtError {
    /// The misbehaving or unreachable peer, if the error is about one.
    pub fn culprit(&self) -> Option<&str> {
        match self {
            OtError::ConsistencyCheck { peer, .. }
            | OtError::BadPoint { peer, .. }
            | OtError::BadLength { peer, .. }
            | OtError::BadSetup { peer, .. } => Some(peer),
            OtError::Net(e) => e.peer(),
            _ => None,
        }
    }
}

/// Packs bools into bytes, bit `i` at byte `i / 8`, position `i % 8`.
pub(crate) fn pack_bits(bits: &[bool], out: &mut [u8]) {
    out.fill(0);
    for (i, &b) in bits.iter().enumerate() {
        out[i / 8] |= u8::from(b) << (i % 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let d = Delta::random().unwrap();
        assert!(d.expose().lsb());
        assert_eq!(format!("{d:?}"), "Delta(<redacted>)");
        assert_eq!(d, d.clone());
        let s = SecretBlocks::new(vec![Block(1), Block(2)]);
        assert_eq!(format!("{s:?}"), "SecretBlocks(<2 redacted>)");
    }
}
