//! The engine's only `unsafe` code: x86-64 SIMD kernels behind runtime CPU
//! detection, each with a portable twin that the tests check it against.
//!
//! - [`transpose_128`]: the IKNP bit-matrix transpose (128 rows of `m` bits
//!   into `m` blocks of 128 bits). AVX2 kernel: unpack stages gather one
//!   byte column of 8 rows into each 64-bit lane, three delta swaps
//!   transpose those 8×8 bit matrices in place, and a second round of
//!   shuffles assembles the output blocks. (A `movemask` kernel, the
//!   approach of EMP-toolkit's `sse_trans`, peels 32 bits per instruction
//!   and was 20-30% slower here.)
//! - [`gf128_mul`] and [`Gf128Acc`]: multiplication in GF(2^128) with the
//!   modulus `x^128 + x^7 + x^2 + x + 1` (bit `i` of a block is the
//!   coefficient of `x^i`), by carry-less multiplication (`PCLMULQDQ`) and a
//!   lazy reduction, for the OT extension consistency check.
//! - [`prefetch`]: a cache hint for loops over scattered entries (the
//!   key-value store's peeling, assignment and decoding).
//!
//! Safety: every `unsafe` block below either calls a `#[target_feature]`
//! function after `is_x86_feature_detected!` confirmed the feature,
//! loads/stores through pointers into slices whose bounds are checked in the
//! line above (or, in the transpose, asserted once at the top for every
//! offset its loops reach), or (in [`prefetch`]) issues an SSE prefetch, part of the
//! x86-64 baseline, which never faults.

#![allow(unsafe_code)]

use std::sync::OnceLock;

use crate::block::Block;

#[derive(Clone, Copy, Debug)]
struct Features {
    avx2: bool,
    pclmul: bool,
    vpclmul: bool,
}

fn features() -> Features {
    static F: OnceLock<Features> = OnceLock::new();
    *F.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::is_x86_feature_detected!("avx2");
            Features {
                avx2,
                pclmul: std::is_x86_feature_detected!("pclmulqdq")
                    && std::is_x86_feature_detected!("sse2"),
                vpclmul: avx2 && std::is_x86_feature_detected!("vpclmulqdq"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Features {
                avx2: false,
                pclmul: false,
                vpclmul: false,
            }
        }
    })
}

/// Transposes 128 rows of `m` bits into `m` blocks: bit `i` of `out[j]` is
/// bit `j` of row `i`. `rows` holds the rows one after another, `m / 8`
/// bytes each, bit `j` of a row in byte `j / 8` at position `j % 8`.
///
/// # Panics
/// If `m` is not a multiple of 8, or the slices do not hold 128 rows of `m`
/// bits and `m` blocks.
pub fn transpose_128(rows: &[u8], m: usize, out: &mut [Block]) {
    assert!(
        m.is_multiple_of(8),
        "transpose_128: {m} columns is not a multiple of 8"
    );
    assert_eq!(rows.len(), 16 * m, "transpose_128: 128 rows of {m} bits");
    assert_eq!(out.len(), m, "transpose_128: {m} output blocks");
    let stride = m / 8;
    let full = stride / 16 * 16;
    #[cfg(target_arch = "x86_64")]
    if features().avx2 && full > 0 {
        // SAFETY: AVX2 was detected at runtime.
        unsafe { x86::transpose_avx2(rows, stride, full, out) };
        transpose_portable_range(rows, stride, full, stride, out);
        return;
    }
    transpose_portable_range(rows, stride, 0, stride, out);
}

/// The portable transpose of byte columns `from..to` of every row.
fn transpose_portable_range(rows: &[u8], stride: usize, from: usize, to: usize, out: &mut [Block]) {
    for c in from..to {
        let mut acc = [0u128; 8];
        for i in 0..128 {
            let byte = rows[i * stride + c];
            for (k, a) in acc.iter_mut().enumerate() {
                *a |= u128::from(byte >> k & 1) << i;
            }
        }
        for (k, a) in acc.iter().enumerate() {
            out[8 * c + k] = Block(*a);
        }
    }
}

/// The portable transpose, for tests and non-x86 machines.
pub fn transpose_128_portable(rows: &[u8], m: usize, out: &mut [Block]) {
    assert!(m.is_multiple_of(8) && rows.len() == 16 * m && out.len() == m);
    transpose_portable_range(rows, m / 8, 0, m / 8, out);
}

/// The 256-bit carry-less product of `a` and `b`: (low 128 bits, high 128 bits).
#[inline]
pub fn clmul(a: Block, b: Block) -> (u128, u128) {
    #[cfg(target_arch = "x86_64")]
    if features().pclmul {
        // SAFETY: PCLMULQDQ and SSE2 were detected at runtime.
        return unsafe { x86::clmul_pclmul(a.0, b.0) };
    }
    clmul_portable(a.0, b.0)
}

fn clmul64(a: u64, b: u64) -> u128 {
    let mut r = 0u128;
    for i in 0..64 {
        r ^= (u128::from(a) << i) & (u128::from(b >> i & 1)).wrapping_neg();
    }
    r
}

/// The portable carry-less product.
pub fn clmul_portable(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1) = (a as u64, (a >> 64) as u64);
    let (b0, b1) = (b as u64, (b >> 64) as u64);
    let lo = clmul64(a0, b0);
    let hi = clmul64(a1, b1);
    let mid = clmul64(a0, b1) ^ clmul64(a1, b0);
    (lo ^ (mid << 64), hi ^ (mid >> 64))
}

/// Reduces a 256-bit product modulo `x^128 + x^7 + x^2 + x + 1`.
#[inline]
pub fn gf128_reduce(lo: u128, hi: u128) -> Block {
    // x^128 = x^7 + x^2 + x + 1: fold the high half down twice.
    let fold = |h: u128| h ^ (h << 1) ^ (h << 2) ^ (h << 7);
    let overflow = (hi >> 127) ^ (hi >> 126) ^ (hi >> 121);
    Block(lo ^ fold(hi) ^ fold(overflow))
}

/// `a · b` in GF(2^128).
#[inline]
pub fn gf128_mul(a: Block, b: Block) -> Block {
    let (lo, hi) = clmul(a, b);
    gf128_reduce(lo, hi)
}

/// An accumulator of products in GF(2^128), reduced once at the end.
#[derive(Clone, Copy, Default, Debug)]
pub struct Gf128Acc {
    lo: u128,
    hi: u128,
}

impl Gf128Acc {
    /// Adds `a · b`.
    #[inline]
    pub fn add_mul(&mut self, a: Block, b: Block) {
        let (lo, hi) = clmul(a, b);
        self.lo ^= lo;
        self.hi ^= hi;
    }

    /// Adds `Σ a[k] · b[k]`.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn add_inner(&mut self, a: &[Block], b: &[Block]) {
        assert_eq!(a.len(), b.len());
        #[cfg(target_arch = "x86_64")]
        if features().vpclmul {
            // SAFETY: VPCLMULQDQ and AVX2 were detected at runtime.
            let (lo, hi) = unsafe { x86::inner_vpclmul(a, b) };
            self.lo ^= lo;
            self.hi ^= hi;
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if features().pclmul {
            // SAFETY: PCLMULQDQ and SSE2 were detected at runtime.
            let (lo, hi) = unsafe { x86::inner_pclmul(a, b) };
            self.lo ^= lo;
            self.hi ^= hi;
            return;
        }
        for (&x, &y) in a.iter().zip(b) {
            self.add_mul(x, y);
        }
    }

    /// The reduced sum.
    pub fn value(&self) -> Block {
        gf128_reduce(self.lo, self.hi)
    }
}

/// The XOR of the blocks whose bit is set: `⊕ {blocks[i] : bit i of bits}`
/// (bit `i` at bit `i % 8` of byte `i / 8`), in constant time: every block
/// is read and masked whatever the bits are, so the bits (OT choice bits)
/// do not show in timing or memory access.
///
/// # Panics
/// If `bits` holds fewer than `blocks.len()` bits.
pub fn masked_xor(blocks: &[Block], bits: &[u8]) -> Block {
    assert!(bits.len() * 8 >= blocks.len(), "masked_xor: too few bits");
    let whole = blocks.len() / 8 * 8;
    let mut acc = Block::ZERO;
    #[cfg(target_arch = "x86_64")]
    if features().avx2 {
        // SAFETY: AVX2 was detected at runtime.
        acc = Block(unsafe { x86::masked_xor_avx2(&blocks[..whole], &bits[..whole / 8]) });
        for (i, &b) in blocks.iter().enumerate().skip(whole) {
            acc ^= b.and_bit(bits[i / 8] >> (i % 8) & 1 == 1);
        }
        return acc;
    }
    for (i, &b) in blocks.iter().enumerate() {
        acc ^= b.and_bit(bits[i / 8] >> (i % 8) & 1 == 1);
    }
    acc
}

/// Asks the CPU to load the cache line holding `x` (SSE's `prefetcht0`),
/// so a loop that knows which scattered entries it reads next can have
/// several misses in flight. A hint only: nothing is read architecturally
/// and results cannot change.
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86-64 baseline; a prefetch never
        // faults, and the pointer comes from a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// XOR and AND of blocks. On x86-64 they go through SSE2, so a block stays
/// in one vector register where `u128` arithmetic would use two
/// general-purpose registers and extra moves.
pub(crate) mod block_ops {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::{__m128i, _mm_and_si128, _mm_xor_si128};

    /// `a ^ b`.
    #[inline(always)]
    pub(crate) fn xor(a: u128, b: u128) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            let (x, y): (__m128i, __m128i) = (bytemuck::cast(a), bytemuck::cast(b));
            // SAFETY: SSE2 is part of the x86-64 baseline.
            bytemuck::cast(unsafe { _mm_xor_si128(x, y) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            a ^ b
        }
    }

    /// `σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L` (`x_L` the high half).
    #[inline(always)]
    pub(crate) fn sigma(x: u128) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_shuffle_epi32, _mm_slli_si128};
            let v: __m128i = bytemuck::cast(x);
            // SAFETY: SSE2 is part of the x86-64 baseline.
            bytemuck::cast(unsafe {
                // (hi, hi) ⊕ (0, lo) = (hi, hi ⊕ lo) as (low half, high half).
                _mm_xor_si128(
                    _mm_shuffle_epi32::<0b11_10_11_10>(v),
                    _mm_slli_si128::<8>(v),
                )
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let (lo, hi) = (x as u64, (x >> 64) as u64);
            (u128::from(hi ^ lo) << 64) | u128::from(hi)
        }
    }

    /// `x` with `k` added to its low 64 bits, wrapping.
    #[inline(always)]
    pub(crate) fn add_low(x: u128, k: u64) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_add_epi64, _mm_set_epi64x};
            let v: __m128i = bytemuck::cast(x);
            // SAFETY: SSE2 is part of the x86-64 baseline.
            bytemuck::cast(unsafe { _mm_add_epi64(v, _mm_set_epi64x(0, k as i64)) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (x & !u128::from(u64::MAX)) | u128::from((x as u64).wrapping_add(k))
        }
    }

    /// All ones if bit 0 of `x` is set, else zero.
    #[inline(always)]
    pub(crate) fn lsb_mask(x: u128) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_shuffle_epi32, _mm_slli_epi32, _mm_srai_epi32};
            let v: __m128i = bytemuck::cast(x);
            // SAFETY: SSE2 is part of the x86-64 baseline.
            bytemuck::cast(unsafe {
                // Bit 0 to every lane's sign bit, then spread it.
                _mm_srai_epi32::<31>(_mm_slli_epi32::<31>(_mm_shuffle_epi32::<0>(v)))
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (x & 1).wrapping_neg()
        }
    }

    /// `a & b`.
    #[inline(always)]
    pub(crate) fn and(a: u128, b: u128) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            let (x, y): (__m128i, __m128i) = (bytemuck::cast(a), bytemuck::cast(b));
            // SAFETY: SSE2 is part of the x86-64 baseline.
            bytemuck::cast(unsafe { _mm_and_si128(x, y) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            a & b
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::block::Block;

    /// Transposes byte columns `0..full` (a multiple of 16) of the 128 rows
    /// with no `movemask`: bytes are regrouped by unpack stages so each
    /// 64-bit lane holds one byte column of 8 rows (an 8×8 bit matrix), the
    /// lane is bit-transposed by three delta swaps (Hacker's Delight,
    /// section 7-3), and a second round of shuffles gathers the 16 row
    /// groups of each output block.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transpose_avx2(
        rows: &[u8],
        stride: usize,
        full: usize,
        out: &mut [Block],
    ) {
        assert!(full.is_multiple_of(16) && full <= stride && rows.len() >= 128 * stride);
        let out_bytes = Block::slice_as_bytes_mut(out);
        assert!(out_bytes.len() >= 128 * full);
        let base = rows.as_ptr();
        let obase = out_bytes.as_mut_ptr();
        let masks = [
            _mm256_set1_epi64x(0x00AA_00AA_00AA_00AA),
            _mm256_set1_epi64x(0x0000_CCCC_0000_CCCC),
            _mm256_set1_epi64x(0x0000_0000_F0F0_F0F0),
        ];
        let spread = _mm256_setr_epi8(
            0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12,
            5, 13, 6, 14, 7, 15,
        );
        // scratch[sub][8 p + h]: byte columns c0 + 2p and c0 + 2p + 1 (c0 =
        // c64 + 16 sub) of row groups 2h (low lane) and 2h + 1 (high lane),
        // bit-transposed.
        let mut scratch = [[_mm256_setzero_si256(); 64]; 4];
        // One cache line of every row at a time: with rows a power-of-two
        // stride apart, 128 rows' lines at one column share a few L1 sets,
        // so a line must be used up before the next row's evicts it.
        for c64 in (0..full).step_by(64) {
            let subs = (full - c64).min(64) / 16;
            for h in 0..8 {
                for (sub, scratch) in scratch.iter_mut().enumerate().take(subs) {
                    let c0 = c64 + 16 * sub;
                    // Phase A: rows 16h..16h+16, 16 byte columns.
                    let mut y = [_mm256_setzero_si256(); 8];
                    for (t, yt) in y.iter_mut().enumerate() {
                        let lo_off = (16 * h + t) * stride + c0;
                        let hi_off = lo_off + 8 * stride;
                        // SAFETY: hi_off + 16 <= 127 * stride + c0 + 16 <= 128 *
                        // stride <= rows.len(), since c0 + 16 <= full <= stride.
                        let lo = unsafe { _mm_loadu_si128(base.add(lo_off).cast()) };
                        let hi = unsafe { _mm_loadu_si128(base.add(hi_off).cast()) };
                        *yt = _mm256_set_m128i(hi, lo);
                    }
                    // Bytes of rows (2j, 2j + 1) side by side: columns 0-7, 8-15.
                    let mut a = [[_mm256_setzero_si256(); 4]; 2];
                    for j in 0..4 {
                        a[0][j] = _mm256_unpacklo_epi8(y[2 * j], y[2 * j + 1]);
                        a[1][j] = _mm256_unpackhi_epi8(y[2 * j], y[2 * j + 1]);
                    }
                    for (half, ah) in a.iter().enumerate() {
                        // Four rows per column: columns 4q..4q+4 of this
                        // half, rows 0-3 and rows 4-7.
                        let b = [
                            _mm256_unpacklo_epi16(ah[0], ah[1]),
                            _mm256_unpackhi_epi16(ah[0], ah[1]),
                            _mm256_unpacklo_epi16(ah[2], ah[3]),
                            _mm256_unpackhi_epi16(ah[2], ah[3]),
                        ];
                        for q in 0..2 {
                            // Eight rows per column: column pairs.
                            let pairs = [
                                _mm256_unpacklo_epi32(b[q], b[q + 2]),
                                _mm256_unpackhi_epi32(b[q], b[q + 2]),
                            ];
                            for (e, v) in pairs.into_iter().enumerate() {
                                let v = delta_swap::<7>(v, masks[0]);
                                let v = delta_swap::<14>(v, masks[1]);
                                let v = delta_swap::<28>(v, masks[2]);
                                scratch[8 * (4 * half + 2 * q + e) + h] = v;
                            }
                        }
                    }
                }
            }
            for (sub, scratch) in scratch.iter().enumerate().take(subs) {
                let c0 = c64 + 16 * sub;
                // Phase B: gather the 16 row groups of each output block.
                for p in 0..8 {
                    let mut y = [_mm256_setzero_si256(); 8];
                    for (s, ys) in y.iter_mut().enumerate() {
                        let v = _mm256_permute4x64_epi64::<0xD8>(scratch[8 * p + s]);
                        *ys = _mm256_shuffle_epi8(v, spread);
                    }
                    let mut lo = [_mm256_setzero_si256(); 4];
                    let mut hi = [_mm256_setzero_si256(); 4];
                    for j in 0..4 {
                        lo[j] = _mm256_unpacklo_epi16(y[2 * j], y[2 * j + 1]);
                        hi[j] = _mm256_unpackhi_epi16(y[2 * j], y[2 * j + 1]);
                    }
                    let quads = [
                        (
                            _mm256_unpacklo_epi32(lo[0], lo[1]),
                            _mm256_unpacklo_epi32(lo[2], lo[3]),
                        ),
                        (
                            _mm256_unpackhi_epi32(lo[0], lo[1]),
                            _mm256_unpackhi_epi32(lo[2], lo[3]),
                        ),
                        (
                            _mm256_unpacklo_epi32(hi[0], hi[1]),
                            _mm256_unpacklo_epi32(hi[2], hi[3]),
                        ),
                        (
                            _mm256_unpackhi_epi32(hi[0], hi[1]),
                            _mm256_unpackhi_epi32(hi[2], hi[3]),
                        ),
                    ];
                    let col = c0 + 2 * p;
                    for (qd, &(g0, g1)) in quads.iter().enumerate() {
                        let blocks = [_mm256_unpacklo_epi64(g0, g1), _mm256_unpackhi_epi64(g0, g1)];
                        for (e, blk) in blocks.into_iter().enumerate() {
                            let bit = 2 * qd + e;
                            let at = 16 * (8 * col + bit);
                            // SAFETY: the highest byte written is
                            // 16 * (8 * (col + 1) + 7) + 16 <= 128 * full
                            // <= out_bytes.len(), since col + 2 <= full.
                            unsafe {
                                _mm_storeu_si128(obase.add(at).cast(), _mm256_castsi256_si128(blk));
                                _mm_storeu_si128(
                                    obase.add(at + 128).cast(),
                                    _mm256_extracti128_si256::<1>(blk),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Swaps the bits of `v` under `mask` with those `S` places above them,
    /// in each 64-bit lane: `t = (v ^ v >> S) & mask; v ^ t ^ t << S`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn delta_swap<const S: i32>(v: __m256i, mask: __m256i) -> __m256i {
        let t = _mm256_and_si256(_mm256_xor_si256(v, _mm256_srli_epi64::<S>(v)), mask);
        _mm256_xor_si256(v, _mm256_xor_si256(t, _mm256_slli_epi64::<S>(t)))
    }

    #[target_feature(enable = "pclmulqdq,sse2")]
    fn clmul_m128(a: __m128i, b: __m128i) -> (__m128i, __m128i) {
        let lo = _mm_clmulepi64_si128(a, b, 0x00);
        let hi = _mm_clmulepi64_si128(a, b, 0x11);
        let mid = _mm_xor_si128(
            _mm_clmulepi64_si128(a, b, 0x01),
            _mm_clmulepi64_si128(a, b, 0x10),
        );
        (
            _mm_xor_si128(lo, _mm_slli_si128(mid, 8)),
            _mm_xor_si128(hi, _mm_srli_si128(mid, 8)),
        )
    }

    fn to_m128(v: u128) -> __m128i {
        bytemuck::cast(v)
    }

    fn from_m128(v: __m128i) -> u128 {
        bytemuck::cast(v)
    }

    #[target_feature(enable = "pclmulqdq,sse2")]
    pub(super) fn clmul_pclmul(a: u128, b: u128) -> (u128, u128) {
        let (lo, hi) = clmul_m128(to_m128(a), to_m128(b));
        (from_m128(lo), from_m128(hi))
    }

    /// [`super::masked_xor`] on whole bytes of bits: eight blocks per byte,
    /// two per 256-bit register, each masked by its bit spread over the
    /// lane (shifted into bit 0, then negated to all ones or all zeros).
    #[target_feature(enable = "avx2")]
    pub(super) fn masked_xor_avx2(blocks: &[Block], bits: &[u8]) -> u128 {
        debug_assert_eq!(blocks.len(), 8 * bits.len());
        let one = _mm256_set1_epi64x(1);
        let zero = _mm256_setzero_si256();
        // Lanes (low, high) of each block take bit 2k or 2k + 1.
        let shifts = [
            _mm256_set_epi64x(1, 1, 0, 0),
            _mm256_set_epi64x(3, 3, 2, 2),
            _mm256_set_epi64x(5, 5, 4, 4),
            _mm256_set_epi64x(7, 7, 6, 6),
        ];
        let (mut acc0, mut acc1) = (zero, zero);
        for (eight, &byte) in blocks.chunks_exact(8).zip(bits) {
            let b = _mm256_set1_epi64x(i64::from(byte));
            for (k, pair) in eight.chunks_exact(2).enumerate() {
                let v: __m256i = bytemuck::cast([pair[0].0, pair[1].0]);
                let bit = _mm256_and_si256(_mm256_srlv_epi64(b, shifts[k]), one);
                let m = _mm256_and_si256(v, _mm256_sub_epi64(zero, bit));
                if k % 2 == 0 {
                    acc0 = _mm256_xor_si256(acc0, m);
                } else {
                    acc1 = _mm256_xor_si256(acc1, m);
                }
            }
        }
        let acc = _mm256_xor_si256(acc0, acc1);
        from_m128(_mm_xor_si128(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256(acc, 1),
        ))
    }

    /// `Σ a_k · b_k` unreduced, two products per instruction on 256-bit
    /// registers (VPCLMULQDQ), three carry-less products per term
    /// (Karatsuba) instead of four.
    #[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq,sse2")]
    pub(super) fn inner_vpclmul(a: &[Block], b: &[Block]) -> (u128, u128) {
        let z = _mm256_setzero_si256();
        let (mut lo, mut hi, mut mid) = (z, z, z);
        let mut pairs = a.chunks_exact(2).zip(b.chunks_exact(2));
        for (x, y) in &mut pairs {
            let xv: __m256i = bytemuck::cast([x[0].0, x[1].0]);
            let yv: __m256i = bytemuck::cast([y[0].0, y[1].0]);
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(xv, yv, 0x00));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(xv, yv, 0x11));
            // Karatsuba: (x0 + x1)(y0 + y1) = x0 y0 + x1 y1 + the middle
            // terms; the first two are taken off once, after the loop.
            let xs = _mm256_xor_si256(xv, _mm256_shuffle_epi32::<0x4E>(xv));
            let ys = _mm256_xor_si256(yv, _mm256_shuffle_epi32::<0x4E>(yv));
            mid = _mm256_xor_si256(mid, _mm256_clmulepi64_epi128(xs, ys, 0x00));
        }
        mid = _mm256_xor_si256(mid, _mm256_xor_si256(lo, hi));
        let fold = |v: __m256i| -> __m128i {
            _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1))
        };
        let (mut l, mut h, mut m) = (fold(lo), fold(hi), fold(mid));
        if a.len() % 2 == 1 {
            let (x0, y0) = (to_m128(a[a.len() - 1].0), to_m128(b[b.len() - 1].0));
            l = _mm_xor_si128(l, _mm_clmulepi64_si128(x0, y0, 0x00));
            h = _mm_xor_si128(h, _mm_clmulepi64_si128(x0, y0, 0x11));
            m = _mm_xor_si128(m, _mm_clmulepi64_si128(x0, y0, 0x01));
            m = _mm_xor_si128(m, _mm_clmulepi64_si128(x0, y0, 0x10));
        }
        (
            from_m128(_mm_xor_si128(l, _mm_slli_si128(m, 8))),
            from_m128(_mm_xor_si128(h, _mm_srli_si128(m, 8))),
        )
    }

    /// `Σ a_k · b_k` unreduced. The middle terms of all products are summed
    /// first and shifted into place once, and two lanes run side by side.
    #[target_feature(enable = "pclmulqdq,sse2")]
    pub(super) fn inner_pclmul(a: &[Block], b: &[Block]) -> (u128, u128) {
        let z = _mm_setzero_si128();
        let (mut lo, mut hi, mut mid) = (z, z, z);
        let (mut lo2, mut hi2, mut mid2) = (z, z, z);
        let mut pairs = a.chunks_exact(2).zip(b.chunks_exact(2));
        for (x, y) in &mut pairs {
            let (x0, y0, x1, y1) = (
                to_m128(x[0].0),
                to_m128(y[0].0),
                to_m128(x[1].0),
                to_m128(y[1].0),
            );
            lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(x0, y0, 0x00));
            hi = _mm_xor_si128(hi, _mm_clmulepi64_si128(x0, y0, 0x11));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x0, y0, 0x01));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x0, y0, 0x10));
            lo2 = _mm_xor_si128(lo2, _mm_clmulepi64_si128(x1, y1, 0x00));
            hi2 = _mm_xor_si128(hi2, _mm_clmulepi64_si128(x1, y1, 0x11));
            mid2 = _mm_xor_si128(mid2, _mm_clmulepi64_si128(x1, y1, 0x01));
            mid2 = _mm_xor_si128(mid2, _mm_clmulepi64_si128(x1, y1, 0x10));
        }
        if a.len() % 2 == 1 {
            let (x0, y0) = (to_m128(a[a.len() - 1].0), to_m128(b[b.len() - 1].0));
            lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(x0, y0, 0x00));
            hi = _mm_xor_si128(hi, _mm_clmulepi64_si128(x0, y0, 0x11));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x0, y0, 0x01));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x0, y0, 0x10));
        }
        let lo = _mm_xor_si128(lo, lo2);
        let hi = _mm_xor_si128(hi, hi2);
        let mid = _mm_xor_si128(mid, mid2);
        (
            from_m128(_mm_xor_si128(lo, _mm_slli_si128(mid, 8))),
            from_m128(_mm_xor_si128(hi, _mm_srli_si128(mid, 8))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prg::{Prg, Seed};

    #[test]
    fn masked_xor_matches_the_bits() {
        let mut prg = Prg::new(&Seed::new(Block(2)), 0);
        for n in [0usize, 1, 7, 8, 9, 64, 130, 8192] {
            let mut blocks = vec![Block::ZERO; n];
            prg.fill_blocks(&mut blocks);
            let mut bits = vec![0u8; n.div_ceil(8)];
            prg.fill_bytes(&mut bits);
            let expected = blocks
                .iter()
                .enumerate()
                .filter(|(i, _)| bits[i / 8] >> (i % 8) & 1 == 1)
                .fold(Block::ZERO, |a, (_, &b)| a ^ b);
            assert_eq!(masked_xor(&blocks, &bits), expected, "{n} blocks");
        }
        let all = vec![Block(5); 16];
        assert_eq!(masked_xor(&all, &[0xff, 0xff]), Block::ZERO);
        assert_eq!(masked_xor(&all, &[0x01, 0x00]), Block(5));
    }

    #[test]
    fn transpose_matches_portable() {
        let mut prg = Prg::new(&Seed::new(Block(1)), 0);
        for m in [8usize, 120, 128, 136, 256, 384, 640, 1024, 1032, 4096, 8192] {
            let mut rows = vec![0u8; 16 * m];
            prg.fill_bytes(&mut rows);
            let mut fast = vec![Block::ZERO; m];
            let mut slow = vec![Block::ZERO; m];
            transpose_128(&rows, m, &mut fast);
            transpose_128_portable(&rows, m, &mut slow);
            assert_eq!(fast, slow, "m = {m}");
            // And the definition, on a few bits.
            for (i, j) in [(0usize, 0usize), (127, m - 1), (5, m / 2), (64, 9 % m)] {
                let bit = rows[i * (m / 8) + j / 8] >> (j % 8) & 1 == 1;
                assert_eq!(fast[j].bit(i), bit, "m = {m}, row {i}, column {j}");
            }
        }
    }

    #[test]
    fn gf128_matches_portable_and_field_laws() {
        let mut prg = Prg::new(&Seed::new(Block(2)), 0);
        let mut v = [Block::ZERO; 300];
        prg.fill_blocks(&mut v);
        for w in v.chunks(3) {
            let (a, b, c) = (w[0], w[1], w[2]);
            assert_eq!(clmul(a, b), clmul_portable(a.0, b.0));
            assert_eq!(gf128_mul(a, b), gf128_mul(b, a));
            assert_eq!(gf128_mul(a, b ^ c), gf128_mul(a, b) ^ gf128_mul(a, c));
            assert_eq!(gf128_mul(gf128_mul(a, b), c), gf128_mul(a, gf128_mul(b, c)));
            assert_eq!(gf128_mul(a, Block(1)), a);
        }
        // x^127 · x = x^128 = x^7 + x^2 + x + 1.
        assert_eq!(gf128_mul(Block(1 << 127), Block(2)), Block(0x87));
        for len in [0usize, 1, 2, 3, 99, 100] {
            let mut acc = Gf128Acc::default();
            acc.add_inner(&v[..len], &v[100..100 + len]);
            let mut slow = Block::ZERO;
            for k in 0..len {
                slow ^= gf128_mul(v[k], v[100 + k]);
            }
            assert_eq!(acc.value(), slow, "len {len}");
            let mut port = Gf128Acc::default();
            for k in 0..len {
                port.lo ^= clmul_portable(v[k].0, v[100 + k].0).0;
                port.hi ^= clmul_portable(v[k].0, v[100 + k].0).1;
            }
            assert_eq!(port.value(), slow, "portable, len {len}");
        }
    }
}
