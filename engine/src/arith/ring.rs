//! The rings that additive shares live in, and what the OT-based
//! multiplication needs of each: bits of an element (the OT receiver's
//! choices), a ring element from a hashed OT key, and the wire form of the
//! sender's corrections.

use k256::Scalar;
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::Reduce;
use zeroize::Zeroize;

use crate::block::Block;
use crate::prg::{Prg, Seed};

/// A commutative ring for additive secret sharing and Gilboa
/// multiplication.
///
/// Gilboa's product of `a` (the OT receiver's) and `b` (the sender's) runs
/// one OT per bit `k` of `a`'s canonical integer form, `a = Σ a_k 2^k`; the
/// sender's pair for that OT is `(m, m + 2^k b)`. [`from_key`](Ring::from_key)
/// and the correction encoding may use any subgroup that holds `2^k b`: for
/// `Z_2^64` that is `2^k Z_2^64`, so the correction for bit `k` needs only
/// `64 - k` bits.
pub trait Ring:
    Copy + Default + PartialEq + Eq + std::fmt::Debug + Send + Sync + Zeroize + 'static
{
    /// Bits of the canonical integer form: OTs per Gilboa product.
    const BITS: usize;
    /// Bytes of an element on the wire.
    const BYTES: usize;
    /// A short name for messages.
    const NAME: &'static str;

    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// `self + o`.
    fn add(self, o: Self) -> Self;
    /// `self - o`.
    fn sub(self, o: Self) -> Self;
    /// `self · o`.
    fn mul(self, o: Self) -> Self;
    /// A uniform element.
    fn random(prg: &mut Prg) -> Self;
    /// Appends the [`BITS`](Ring::BITS) bits of the canonical integer
    /// form, least significant first.
    fn push_bits(&self, out: &mut Vec<bool>);
    /// `2 · self`.
    fn double(self) -> Self;
    /// A pseudorandom element of the subgroup that holds `2^k b`, from
    /// the hashed OT key `key`.
    fn from_key(key: Block, k: usize) -> Self;
    /// Bytes of the correction for bit `k`.
    fn correction_len(k: usize) -> usize;
    /// Writes `self`, an element of bit `k`'s subgroup, in
    /// [`correction_len`](Ring::correction_len)`(k)` bytes.
    fn write_correction(&self, k: usize, out: &mut [u8]);
    /// Reads what [`write_correction`](Ring::write_correction) wrote; `None`
    /// if the bytes are not an element's encoding.
    fn read_correction(k: usize, bytes: &[u8]) -> Option<Self>;
    /// The wire form.
    fn write(&self, out: &mut [u8]);
    /// From the wire form; `None` if not canonical.
    fn read(bytes: &[u8]) -> Option<Self>;
}

/// `Z_2^k` as a `u64` or `u128` with wrapping arithmetic. Gilboa's
/// subgroup for bit `k` is `2^k Z_2^BITS`, so its correction needs only
/// `BITS - k` bits.
macro_rules! wrapping_ring {
    ($t:ty, $bits:literal, $name:literal) => {
        impl Ring for $t {
            const BITS: usize = $bits;
            const BYTES: usize = $bits / 8;
            const NAME: &'static str = $name;

            fn zero() -> Self {
                0
            }
            fn one() -> Self {
                1
            }
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            fn random(prg: &mut Prg) -> Self {
                prg.block().0 as $t
            }
            fn push_bits(&self, out: &mut Vec<bool>) {
                out.extend((0..$bits).map(|k| self >> k & 1 == 1));
            }
            fn double(self) -> Self {
                self << 1
            }
            fn from_key(key: Block, k: usize) -> Self {
                (key.0 as $t) << k
            }
            fn correction_len(k: usize) -> usize {
                ($bits - k).div_ceil(8)
            }
            fn write_correction(&self, k: usize, out: &mut [u8]) {
                let v = (self >> k).to_le_bytes();
                out.copy_from_slice(&v[..out.len()]);
            }
            fn read_correction(k: usize, bytes: &[u8]) -> Option<Self> {
                let mut v = [0u8; $bits / 8];
                v.get_mut(..bytes.len())?.copy_from_slice(bytes);
                Some(<$t>::from_le_bytes(v) << k)
            }
            fn write(&self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            fn read(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }
        }
    };
}

// `Z_2^64`: integers, and the language's 64-bit values.
wrapping_ring!(u64, 64, "Z_2^64");
// `Z_2^128`: the ring of fixed-point shares, whose headroom above the
// values makes truncation safe (see `super::fixed`).
wrapping_ring!(u128, 128, "Z_2^128");

/// The scalar field of secp256k1, `F_q`: exact arithmetic, and the
/// signing library's shares.
impl Ring for Scalar {
    const BITS: usize = 256;
    const BYTES: usize = 32;
    const NAME: &'static str = "F_q (secp256k1)";

    fn zero() -> Self {
        Scalar::ZERO
    }
    fn one() -> Self {
        Scalar::ONE
    }
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn sub(self, o: Self) -> Self {
        self - o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn random(prg: &mut Prg) -> Self {
        wide(prg)
    }
    fn push_bits(&self, out: &mut Vec<bool>) {
        let mut bytes = self.to_bytes();
        out.extend((0..256).map(|k| bytes[31 - k / 8] >> (k % 8) & 1 == 1));
        bytes.zeroize();
    }
    fn double(self) -> Self {
        <Scalar as k256::elliptic_curve::Field>::double(&self)
    }
    fn from_key(key: Block, _k: usize) -> Self {
        // 384 pseudorandom bits reduced mod q: within 2^-128 of uniform.
        wide(&mut Prg::new(&Seed::new(key), 0))
    }
    fn correction_len(_k: usize) -> usize {
        32
    }
    fn write_correction(&self, _k: usize, out: &mut [u8]) {
        self.write(out);
    }
    fn read_correction(_k: usize, bytes: &[u8]) -> Option<Self> {
        Self::read(bytes)
    }
    fn write(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Option::from(Scalar::from_repr(bytes.into()))
    }
}

/// A uniform scalar: 384 bits from `prg` reduced mod q.
fn wide(prg: &mut Prg) -> Scalar {
    let mut b = [Block::ZERO; 3];
    prg.fill_blocks(&mut b);
    let bytes = Block::slice_as_bytes(&b);
    let hi: [u8; 32] = bytes[..32].try_into().unwrap_or([0; 32]);
    let mut lo = [0u8; 32];
    lo[16..].copy_from_slice(&bytes[32..48]);
    let hi = <Scalar as Reduce<k256::FieldBytes>>::reduce(&hi.into());
    let lo = <Scalar as Reduce<k256::FieldBytes>>::reduce(&lo.into());
    let mut two_128 = [0u8; 32];
    two_128[15] = 1;
    let two_128 = Option::<Scalar>::from(Scalar::from_repr(two_128.into())).unwrap_or(Scalar::ZERO);
    // hi · 2^128 + lo
    hi * two_128 + lo
}
