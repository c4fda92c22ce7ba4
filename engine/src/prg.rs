//! A pseudorandom generator: AES-128 in counter mode under a secret seed.
//!
//! Seeds come from the operating system ([`Prg::from_entropy`]) or from a
//! protocol (an OT seed expanded into a matrix column). Output block `k` is
//! `AES_seed(nonce ‖ k)`; a generator never repeats a counter, so streams
//! drawn across calls are independent.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::block::Block;
use crate::hash::Aes;

/// A secret 128-bit seed: zeroized on drop, redacted in `Debug`, not
/// serializable.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Seed(Block);

impl Seed {
    /// Wraps a block as a seed.
    pub fn new(block: Block) -> Self {
        Seed(block)
    }

    /// A fresh seed from the operating system.
    pub fn from_entropy() -> Result<Self, getrandom::Error> {
        Block::random().map(Seed)
    }

    /// The seed's bits, for protocols that must transmit or combine seeds.
    pub fn expose(&self) -> Block {
        self.0
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

/// AES-CTR under a [`Seed`].
#[derive(Clone)]
pub struct Prg {
    aes: Aes,
    /// High 64 bits of every counter block: separates generators that share
    /// a seed (a session's batches, say).
    nonce: u64,
    counter: u64,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prg")
            .field("nonce", &self.nonce)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Prg {
    /// A generator for `seed`, stream `nonce`.
    pub fn new(seed: &Seed, nonce: u64) -> Self {
        Prg {
            aes: Aes::new(seed.0),
            nonce,
            counter: 0,
        }
    }

    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Result<Self, getrandom::Error> {
        Ok(Prg::new(&Seed::from_entropy()?, 0))
    }

    /// Fills `out` with the next blocks of the stream.
    pub fn fill_blocks(&mut self, out: &mut [Block]) {
        let base = (self.nonce as u128) << 64;
        for (k, b) in out.iter_mut().enumerate() {
            *b = Block(base | u128::from(self.counter.wrapping_add(k as u64)));
        }
        self.counter = self.counter.wrapping_add(out.len() as u64);
        self.aes.encrypt_many(out);
    }

    /// The next block.
    pub fn block(&mut self) -> Block {
        let mut b = [Block::ZERO];
        self.fill_blocks(&mut b);
        b[0]
    }

    /// Fills `out` with the next bytes of the stream (whole blocks are
    /// drawn; a partial last block's remainder is discarded).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let mut buf = [Block::ZERO; 64];
        for chunk in out.chunks_mut(64 * 16) {
            let n = chunk.len().div_ceil(16);
            self.fill_blocks(&mut buf[..n]);
            chunk.copy_from_slice(&Block::slice_as_bytes(&buf[..n])[..chunk.len()]);
        }
    }

    /// Uniform bits, one per output bool.
    pub fn bits(&mut self, n: usize) -> Vec<bool> {
        let mut bytes = vec![0u8; n.div_ceil(8)];
        self.fill_bytes(&mut bytes);
        (0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_continue_and_separate() {
        let seed = Seed::new(Block(7));
        let mut a = Prg::new(&seed, 0);
        let mut whole = [Block::ZERO; 10];
        a.fill_blocks(&mut whole);
        let mut b = Prg::new(&seed, 0);
        let mut first = [Block::ZERO; 4];
        let mut rest = [Block::ZERO; 6];
        b.fill_blocks(&mut first);
        b.fill_blocks(&mut rest);
        assert_eq!(&whole[..4], &first);
        assert_eq!(&whole[4..], &rest);
        let mut c = Prg::new(&seed, 1);
        assert_ne!(c.block(), whole[0]);
        assert_eq!(format!("{seed:?}"), "Seed(<redacted>)");
        let mut bytes = [0u8; 37];
        Prg::new(&seed, 0).fill_bytes(&mut bytes);
        assert_eq!(&bytes[..16], &whole[0].to_bytes());
    }
}
