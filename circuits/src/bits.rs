//! [`Bits`]: a fixed-width bit string, the value carried by a circuit input
//! or output, with the hex encoding the CLI uses.
//!
//! Bit `k` of a value is bit `k` of the integer it encodes (`k = 0` the least
//! significant), and drives wire `k` of its input. Hex text is that integer
//! written big-endian, so the AES key `000102...0f` of FIPS-197 is the hex
//! string `000102...0f`.

use std::fmt;

use thiserror::Error;

/// A bit string of a fixed width, least significant bit first.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bits {
    width: usize,
    words: Vec<u64>,
}

/// Why a hex string is not a value of the width asked for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HexError {
    /// The string is empty.
    #[error("empty hex string")]
    Empty,
    /// A character that is not a hex digit.
    #[error("{ch:?} at position {pos} is not a hex digit")]
    BadDigit {
        /// The character.
        ch: char,
        /// Its position (0-based, after any `0x`).
        pos: usize,
    },
    /// Too few or too many digits.
    #[error(
        "expected {expected} hex digits for {width} bits, got {got}{}",
        if *got < *expected { "; pad with leading zeros" } else { "" }
    )]
    Length {
        /// Digits expected: `ceil(width / 4)`.
        expected: usize,
        /// Digits given.
        got: usize,
        /// The width in bits.
        width: usize,
    },
    /// The leading digit sets bits above the width.
    #[error("value does not fit in {width} bits (the leading digit is too large)")]
    TooLarge {
        /// The width in bits.
        width: usize,
    },
}

impl Bits {
    /// All zeros, `width` bits.
    pub fn zeros(width: usize) -> Self {
        Self {
            width,
            words: vec![0; width.div_ceil(64)],
        }
    }

    /// The low `width` bits of `value` (`width` up to 64; higher bits are 0).
    pub fn from_u64(value: u64, width: usize) -> Self {
        let mut b = Self::zeros(width);
        if width > 0 {
            b.words[0] = value & mask(width.min(64));
        }
        b
    }

    /// From bools, least significant first.
    pub fn from_bools(bits: &[bool]) -> Self {
        let mut b = Self::zeros(bits.len());
        for (i, &bit) in bits.iter().enumerate() {
            b.set(i, bit);
        }
        b
    }

    /// Parses a hex string of exactly `ceil(width / 4)` digits (an optional
    /// `0x` prefix and `_` separators are allowed) whose value fits in
    /// `width` bits.
    pub fn from_hex(text: &str, width: usize) -> Result<Self, HexError> {
        let text = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let digits: Vec<(usize, char)> = text
            .chars()
            .enumerate()
            .filter(|&(_, c)| c != '_')
            .collect();
        if digits.is_empty() {
            return Err(HexError::Empty);
        }
        let expected = width.div_ceil(4);
        if digits.len() != expected {
            return Err(HexError::Length {
                expected,
                got: digits.len(),
                width,
            });
        }
        let mut b = Self::zeros(width);
        for (rank, &(pos, ch)) in digits.iter().rev().enumerate() {
            let nibble = ch.to_digit(16).ok_or(HexError::BadDigit { ch, pos })?;
            for j in 0..4 {
                if nibble >> j & 1 == 1 {
                    let bit = 4 * rank + j;
                    if bit >= width {
                        return Err(HexError::TooLarge { width });
                    }
                    b.set(bit, true);
                }
            }
        }
        Ok(b)
    }

    /// Lower-case hex, `ceil(width / 4)` digits, big-endian.
    pub fn to_hex(&self) -> String {
        let digits = self.width.div_ceil(4);
        let mut s = String::with_capacity(digits);
        for rank in (0..digits).rev() {
            let mut nibble = 0u32;
            for j in 0..4 {
                let bit = 4 * rank + j;
                if bit < self.width && self.get(bit) {
                    nibble |= 1 << j;
                }
            }
            s.push(char::from_digit(nibble, 16).unwrap_or('?'));
        }
        s
    }

    /// Width in bits.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Bit `i` (least significant is 0).
    ///
    /// # Panics
    /// If `i >= width`.
    pub fn get(&self, i: usize) -> bool {
        assert!(i < self.width, "bit {i} of a {}-bit value", self.width);
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Sets bit `i`.
    ///
    /// # Panics
    /// If `i >= width`.
    pub fn set(&mut self, i: usize, value: bool) {
        assert!(i < self.width, "bit {i} of a {}-bit value", self.width);
        let m = 1u64 << (i % 64);
        if value {
            self.words[i / 64] |= m;
        } else {
            self.words[i / 64] &= !m;
        }
    }

    /// The value as an unsigned integer, if the width is at most 64.
    pub fn to_u64(&self) -> Option<u64> {
        (self.width <= 64).then(|| self.words.first().copied().unwrap_or(0))
    }

    /// The value as a two's-complement signed integer, if the width is 1..=64.
    pub fn to_i64(&self) -> Option<i64> {
        let v = self.to_u64()?;
        if self.width == 0 {
            return None;
        }
        let shift = 64 - self.width as u32;
        Some(((v << shift) as i64) >> shift)
    }

    /// The bits, least significant first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = bool> + '_ {
        (0..self.width).map(|i| self.get(i))
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bits({}: 0x{})", self.width, self.to_hex())
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The low `n` bits set, for `n` in `0..=64`.
pub(crate) const fn mask(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let b = Bits::from_hex("000102030405060708090a0b0c0d0e0f", 128).unwrap();
        assert_eq!(b.to_hex(), "000102030405060708090a0b0c0d0e0f");
        // 0x0f is the least significant byte, 0x0e the next, 0x00 the top.
        assert!(b.get(0) && b.get(3) && !b.get(4));
        assert!(!b.get(8) && b.get(9));
        assert!((120..128).all(|i| !b.get(i)));
        let b = Bits::from_hex("0x1f", 5).unwrap();
        assert_eq!(b.to_u64(), Some(31));
        assert_eq!(b.to_hex(), "1f");
        assert_eq!(Bits::from_u64(5, 3).to_hex(), "5");
        assert_eq!(Bits::from_u64(0x1_0000_0001, 33).to_hex(), "100000001");
    }

    #[test]
    fn hex_errors() {
        assert_eq!(Bits::from_hex("", 8), Err(HexError::Empty));
        assert_eq!(
            Bits::from_hex("abc", 8),
            Err(HexError::Length {
                expected: 2,
                got: 3,
                width: 8
            })
        );
        assert_eq!(
            Bits::from_hex("g0", 8),
            Err(HexError::BadDigit { ch: 'g', pos: 0 })
        );
        assert_eq!(
            Bits::from_hex("20", 5),
            Err(HexError::TooLarge { width: 5 })
        );
        assert!(
            Bits::from_hex("1", 64)
                .unwrap_err()
                .to_string()
                .contains("pad with leading zeros")
        );
    }

    #[test]
    fn signed_view() {
        assert_eq!(Bits::from_u64(0b111, 3).to_i64(), Some(-1));
        assert_eq!(Bits::from_u64(0b011, 3).to_i64(), Some(3));
        assert_eq!(Bits::from_u64(u64::MAX, 64).to_i64(), Some(-1));
        assert_eq!(Bits::zeros(65).to_u64(), None);
    }
}
