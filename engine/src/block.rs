//! [`Block`]: 128 bits, the unit of OT extension, garbling and hashing.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitXor, BitXorAssign, Not};

use bytemuck::{Pod, Zeroable};

/// 128 bits. Bytes are little-endian: byte 0 holds bits 0..8, and bit 0 is
/// the "least significant bit" used for point-and-permute.
///
/// A `Block` is public data or a building block; secrets (Delta, labels,
/// seeds) wrap it in types of their own that zeroize and redact.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(transparent)]
pub struct Block(pub u128);

impl Block {
    /// All zeros.
    pub const ZERO: Block = Block(0);
    /// All ones.
    pub const ONES: Block = Block(u128::MAX);

    /// From 16 bytes, little-endian.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Block(u128::from_le_bytes(bytes))
    }

    /// To 16 bytes, little-endian.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }

    /// Bit 0.
    pub const fn lsb(self) -> bool {
        self.0 & 1 == 1
    }

    /// Bit `i` (0..128).
    pub const fn bit(self, i: usize) -> bool {
        (self.0 >> i) & 1 == 1
    }

    /// This block with bit 0 set to `bit`.
    pub const fn with_lsb(self, bit: bool) -> Self {
        Block((self.0 & !1) | bit as u128)
    }

    /// `self` if `bit`, else zero, without a branch.
    #[inline]
    pub fn and_bit(self, bit: bool) -> Self {
        Block(ops::and(self.0, (bit as u128).wrapping_neg()))
    }

    /// `self` with `k` added to its low 64 bits (wrapping, no carry into
    /// the high half), in a vector register: the next tweak of a sequence.
    #[inline]
    pub fn add_low(self, k: u64) -> Self {
        Block(ops::add_low(self.0, k))
    }

    /// All ones if the lsb is set, else zero, computed in a vector register
    /// (the point-and-permute bit as a mask for half-gates).
    #[inline]
    pub fn lsb_mask(self) -> Self {
        Block(ops::lsb_mask(self.0))
    }

    /// Fresh random bits from the operating system.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)?;
        Ok(Block::from_bytes(b))
    }

    /// The 64-bit halves: (low, high).
    pub const fn halves(self) -> (u64, u64) {
        (self.0 as u64, (self.0 >> 64) as u64)
    }

    /// From 64-bit halves.
    pub const fn from_halves(low: u64, high: u64) -> Self {
        Block((high as u128) << 64 | low as u128)
    }

    /// Views blocks as 16-byte arrays, without copying.
    pub fn as_byte_arrays_mut(blocks: &mut [Block]) -> &mut [[u8; 16]] {
        bytemuck::cast_slice_mut(blocks)
    }

    /// Views blocks as bytes, without copying.
    pub fn slice_as_bytes(blocks: &[Block]) -> &[u8] {
        bytemuck::cast_slice(blocks)
    }

    /// Views blocks as mutable bytes, without copying.
    pub fn slice_as_bytes_mut(blocks: &mut [Block]) -> &mut [u8] {
        bytemuck::cast_slice_mut(blocks)
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Block({:032x})", self.0)
    }
}

use crate::simd::block_ops as ops;

impl BitXor for Block {
    type Output = Block;
    #[inline]
    fn bitxor(self, rhs: Block) -> Block {
        Block(ops::xor(self.0, rhs.0))
    }
}

impl BitXorAssign for Block {
    #[inline]
    fn bitxor_assign(&mut self, rhs: Block) {
        self.0 = ops::xor(self.0, rhs.0);
    }
}

impl BitAnd for Block {
    type Output = Block;
    #[inline]
    fn bitand(self, rhs: Block) -> Block {
        Block(ops::and(self.0, rhs.0))
    }
}

impl BitAndAssign for Block {
    #[inline]
    fn bitand_assign(&mut self, rhs: Block) {
        self.0 &= rhs.0;
    }
}

impl Not for Block {
    type Output = Block;
    #[inline]
    fn not(self) -> Block {
        Block(!self.0)
    }
}

impl zeroize::DefaultIsZeroes for Block {}

impl From<u128> for Block {
    fn from(v: u128) -> Self {
        Block(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsb_mask_and_add_low_match_their_definitions() {
        let mut prg = crate::prg::Prg::new(&crate::prg::Seed::new(Block(7)), 0);
        for _ in 0..1000 {
            let x = prg.block();
            let mask = if x.lsb() { u128::MAX } else { 0 };
            assert_eq!(x.lsb_mask(), Block(mask));
            let k = prg.block().0 as u64;
            let low = (x.0 as u64).wrapping_add(k);
            assert_eq!(x.add_low(k), Block((x.0 >> 64 << 64) | u128::from(low)));
        }
        let top = Block(u128::from(u64::MAX) | 5 << 64);
        assert_eq!(
            top.add_low(1),
            Block(5 << 64),
            "no carry into the high half"
        );
    }

    #[test]
    fn bytes_and_bits() {
        let b = Block::from_bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert!(b.lsb() && b.bit(127) && !b.bit(1));
        assert_eq!(Block::from_bytes(b.to_bytes()), b);
        assert!(!b.with_lsb(false).lsb());
        assert_eq!(b.and_bit(false), Block::ZERO);
        assert_eq!(b.and_bit(true), b);
        let (lo, hi) = b.halves();
        assert_eq!(Block::from_halves(lo, hi), b);
        assert_ne!(Block::random().unwrap(), Block::random().unwrap());
    }
}
