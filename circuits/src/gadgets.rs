//! Word-level gadgets for unsigned and signed integers, on
//! [`CircuitBuilder`].
//!
//! Words are two's complement, least significant bit first; the width of the
//! operands is the width of the result unless a gadget says otherwise, and
//! arithmetic wraps modulo `2^n` (Rust's `wrapping_*`). Operands of a binary
//! gadget must have the same width (a mismatch is a caller bug and panics).
//!
//! Costs are AND gates for `n`-bit operands that are all wires (XOR and NOT
//! are free in garbled circuits and GMW); constant bits fold away and only
//! lower the cost. The counts are tested exactly in `tests/gadgets.rs`.
//!
//! | gadget | AND gates | how |
//! |---|---|---|
//! | [`add`](CircuitBuilder::add), [`sub`](CircuitBuilder::sub) | `n - 1` | ripple carry, one AND per carry, top carry dropped |
//! | [`add_carry`](CircuitBuilder::add_carry) | `n` | the same with the carry out |
//! | [`neg`](CircuitBuilder::neg) | `n - 2` (`n >= 2`) | `!x + 1` with a constant carry in |
//! | [`mul`](CircuitBuilder::mul) | `n^2 - n + 1` | schoolbook, only the low `n` columns |
//! | [`mul_wide`](CircuitBuilder::mul_wide) | `2n^2 - n` | schoolbook; signed by Baugh-Wooley at no extra cost |
//! | [`div_rem`](CircuitBuilder::div_rem) unsigned | `n^2 + 3n - 3` (`n^2 + 2n - 3` quotient only), `n >= 2` | restoring division on a remainder that grows one bit a step |
//! | [`div_rem`](CircuitBuilder::div_rem) signed | unsigned `+ 5n - 4` (`+ 4n - 3` quotient only) | magnitudes, then signs; RISC-V rules for `/ 0` |
//! | [`lt`](CircuitBuilder::lt), `le`, `gt`, `ge` | `n` | one AND per bit from the least significant up |
//! | [`eq`](CircuitBuilder::eq), `ne`, [`is_zero`](CircuitBuilder::is_zero) | `n - 1` | OR tree of the differences |
//! | [`mux`](CircuitBuilder::mux) | `n` | `f ^ (s & (t ^ f))` |
//! | [`and`](CircuitBuilder::and), [`or`](CircuitBuilder::or) | `n` | bitwise |
//! | [`xor`](CircuitBuilder::xor), [`not`](CircuitBuilder::not), shifts, rotations | 0 | wiring ([`Word::shl`] and friends) |
//! | [`min`](CircuitBuilder::min), [`max`](CircuitBuilder::max) | `2n` | compare, then mux |
//! | [`abs`](CircuitBuilder::abs) | `n - 1` | `(x ^ s) + s`, `s` the sign |
//! | [`popcount`](CircuitBuilder::popcount) | at most `n - 1` | full and half adders on columns |
//!
//! Division by zero cannot trap inside a circuit (that would leak the
//! divisor), so it follows RISC-V: `x / 0` is all ones (`-1` signed),
//! `x % 0 = x`; signed `MIN / -1 = MIN` and `MIN % -1 = 0`.

use std::collections::VecDeque;

use crate::builder::{Bit, CircuitBuilder, Word};
use crate::circuit::GateSink;

/// How a gadget reads its operands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Signedness {
    /// Unsigned: `0..2^n`.
    Unsigned,
    /// Two's complement: `-2^(n-1)..2^(n-1)`.
    Signed,
}

/// A comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

#[track_caller]
fn same_width(op: &str, x: &Word, y: &Word) -> usize {
    assert_eq!(
        x.width(),
        y.width(),
        "{op}: operands of {} and {} bits",
        x.width(),
        y.width()
    );
    x.width()
}

impl<S: GateSink> CircuitBuilder<S> {
    /// `x + y + c`: the sum and the carry, 1 AND. Shares `x ^ c` and
    /// `y ^ c` between the two.
    pub fn full_adder(&mut self, x: Bit, y: Bit, c: Bit) -> (Bit, Bit) {
        let xc = self.xor_bit(x, c);
        let yc = self.xor_bit(y, c);
        let sum = self.xor_bit(yc, x);
        let t = self.and_bit(xc, yc);
        let carry = self.xor_bit(c, t);
        (sum, carry)
    }

    /// Ripple-carry `x + y + cin` over `x.len()` bits; the carry out if asked
    /// (one more AND).
    fn ripple(&mut self, x: &[Bit], y: &[Bit], cin: Bit, carry_out: bool) -> (Word, Bit) {
        let n = x.len();
        let mut c = cin;
        let mut sum = Vec::with_capacity(n);
        for i in 0..n {
            if i + 1 < n || carry_out {
                let (s, c2) = self.full_adder(x[i], y[i], c);
                sum.push(s);
                c = c2;
            } else {
                let t = self.xor_bit(x[i], y[i]);
                sum.push(self.xor_bit(t, c));
            }
        }
        (Word::from_bits(sum), c)
    }

    /// `!x`, bitwise. Free.
    pub fn not(&mut self, x: &Word) -> Word {
        x.iter().map(|b| self.not_bit(b)).collect()
    }

    /// `x ^ y`, bitwise. Free.
    pub fn xor(&mut self, x: &Word, y: &Word) -> Word {
        same_width("xor", x, y);
        x.iter()
            .zip(y.iter())
            .map(|(a, b)| self.xor_bit(a, b))
            .collect()
    }

    /// `x & y`, bitwise: `n` AND.
    pub fn and(&mut self, x: &Word, y: &Word) -> Word {
        same_width("and", x, y);
        x.iter()
            .zip(y.iter())
            .map(|(a, b)| self.and_bit(a, b))
            .collect()
    }

    /// `x | y`, bitwise: `n` AND.
    pub fn or(&mut self, x: &Word, y: &Word) -> Word {
        same_width("or", x, y);
        x.iter()
            .zip(y.iter())
            .map(|(a, b)| self.or_bit(a, b))
            .collect()
    }

    /// `if s { t } else { f }`: `n` AND.
    pub fn mux(&mut self, s: Bit, t: &Word, f: &Word) -> Word {
        same_width("mux", t, f);
        t.iter()
            .zip(f.iter())
            .map(|(a, b)| self.mux_bit(s, a, b))
            .collect()
    }

    /// `x + y` modulo `2^n`: `n - 1` AND.
    pub fn add(&mut self, x: &Word, y: &Word) -> Word {
        same_width("add", x, y);
        self.ripple(&x.bits(), &y.bits(), Bit::ZERO, false).0
    }

    /// `x + y + cin` with the carry out (the unsigned overflow): `n` AND.
    pub fn add_carry(&mut self, x: &Word, y: &Word, cin: Bit) -> (Word, Bit) {
        same_width("add_carry", x, y);
        self.ripple(&x.bits(), &y.bits(), cin, true)
    }

    /// `x - y` modulo `2^n`, as `x + !y + 1`: `n - 1` AND.
    pub fn sub(&mut self, x: &Word, y: &Word) -> Word {
        same_width("sub", x, y);
        let ny = self.not(y);
        self.ripple(&x.bits(), &ny.bits(), Bit::ONE, false).0
    }

    /// `-x` modulo `2^n`: `n - 2` AND for `n >= 2`, none for `n = 1`.
    pub fn neg(&mut self, x: &Word) -> Word {
        self.cond_neg(x, Bit::ONE)
    }

    /// `if s { -x } else { x }`, as `(x ^ s) + s`: `n - 1` AND (`n - 2` when
    /// `s` is constant 1).
    pub fn cond_neg(&mut self, x: &Word, s: Bit) -> Word {
        let n = x.width();
        let mut c = s;
        let mut out = Vec::with_capacity(n);
        for (i, b) in x.iter().enumerate() {
            let y = self.xor_bit(b, s);
            out.push(self.xor_bit(y, c));
            if i + 1 < n {
                c = self.and_bit(c, y);
            }
        }
        Word::from_bits(out)
    }

    /// `|x|` of a signed word, modulo `2^n` (`|MIN| = MIN`, as
    /// `wrapping_abs`): `n - 1` AND.
    pub fn abs(&mut self, x: &Word) -> Word {
        let s = x.msb();
        self.cond_neg(x, s)
    }

    /// `x * y` modulo `2^n` (the same for signed and unsigned):
    /// `n^2 - n + 1` AND. A row per bit of `y`, so the operand with more
    /// constant zero bits goes there: its zero rows cost nothing.
    pub fn mul(&mut self, x: &Word, y: &Word) -> Word {
        let n = same_width("mul", x, y);
        if n == 0 {
            return Word::default();
        }
        let zeros = |w: &Word| w.iter().filter(|&b| b == Bit::ZERO).count();
        let (x, y) = if zeros(x) > zeros(y) { (y, x) } else { (x, y) };
        let (xb, yb) = (x.bits(), y.bits());
        let mut acc: Vec<Bit> = xb.iter().map(|&a| self.and_bit(a, yb[0])).collect();
        for j in 1..n {
            // Row j, x * y_j shifted by j, truncated to the low n columns.
            let row: Vec<Bit> = (0..n - j).map(|i| self.and_bit(xb[i], yb[j])).collect();
            let (sum, _) = self.ripple(&acc[j..], &row, Bit::ZERO, false);
            acc[j..].copy_from_slice(&sum.bits());
        }
        Word::from_bits(acc)
    }

    /// The full `2n`-bit product: `2n^2 - n` AND, signed or unsigned.
    ///
    /// Signed uses the Baugh-Wooley form: the partial products with exactly
    /// one sign bit are complemented (free) and `2^n + 2^(2n-1)` is added;
    /// the first constant fills an empty column and the second flips the top
    /// carry, so neither costs an AND.
    pub fn mul_wide(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Word {
        let n = same_width("mul_wide", x, y);
        if n == 0 {
            return Word::default();
        }
        let signed = signedness == Signedness::Signed && n >= 2;
        let (xb, yb) = (x.bits(), y.bits());
        let pp = |b: &mut Self, i: usize, j: usize| {
            let p = b.and_bit(xb[i], yb[j]);
            if signed && ((i == n - 1) != (j == n - 1)) {
                b.not_bit(p)
            } else {
                p
            }
        };
        let mut acc = vec![Bit::ZERO; 2 * n];
        for (i, slot) in acc.iter_mut().enumerate().take(n) {
            *slot = pp(self, i, 0);
        }
        if signed {
            acc[n] = Bit::ONE;
        }
        for j in 1..n {
            let row: Vec<Bit> = (0..n).map(|i| pp(self, i, j)).collect();
            let (sum, carry) = self.ripple(&acc[j..j + n], &row, Bit::ZERO, true);
            acc[j..j + n].copy_from_slice(&sum.bits());
            acc[j + n] = carry;
        }
        if signed {
            acc[2 * n - 1] = self.not_bit(acc[2 * n - 1]);
        }
        Word::from_bits(acc)
    }

    /// Unsigned restoring division. At step `w` (from 1 to `n`) the partial
    /// remainder has `w` bits, so it is compared with the divisor's low `w`
    /// bits (`w` AND) and the divisor's high bits must all be zero (a shared
    /// suffix OR, `n - 2` AND in all, plus 1 AND a step); the remainder is
    /// then kept or replaced (`w` AND, skipped at the last step when the
    /// remainder is not wanted).
    fn udivrem(&mut self, x: &[Bit], d: &[Bit], want_rem: bool) -> (Word, Word) {
        let n = x.len();
        let mut high_set = vec![Bit::ZERO; n + 1];
        for w in (1..n).rev() {
            high_set[w] = self.or_bit(d[w], high_set[w + 1]);
        }
        let mut q = vec![Bit::ZERO; n];
        let mut r: Vec<Bit> = Vec::with_capacity(n);
        for i in (0..n).rev() {
            let w = n - i;
            r.insert(0, x[i]);
            let nd: Vec<Bit> = d[..w].iter().map(|&b| self.not_bit(b)).collect();
            let (diff, no_borrow) = self.ripple(&r, &nd, Bit::ONE, true);
            let fits = self.not_bit(high_set[w]);
            let ge = self.and_bit(no_borrow, fits);
            q[i] = ge;
            if i > 0 || want_rem {
                r = (0..w)
                    .map(|k| self.mux_bit(ge, diff.bit(k), r[k]))
                    .collect();
            }
        }
        (Word::from_bits(q), Word::from_bits(r))
    }

    /// Quotient and remainder, rounding toward zero. See the module docs for
    /// `/ 0` and the cost.
    pub fn div_rem(&mut self, x: &Word, y: &Word, signedness: Signedness) -> (Word, Word) {
        self.div_rem_inner(x, y, signedness, true)
    }

    fn div_rem_inner(
        &mut self,
        x: &Word,
        y: &Word,
        signedness: Signedness,
        want_rem: bool,
    ) -> (Word, Word) {
        let n = same_width("div_rem", x, y);
        if n == 0 {
            return (Word::default(), Word::default());
        }
        match signedness {
            Signedness::Unsigned => self.udivrem(&x.bits(), &y.bits(), want_rem),
            Signedness::Signed => {
                let (sx, sy) = (x.msb(), y.msb());
                let ax = self.abs(x);
                let ay = self.abs(y);
                let (uq, ur) = self.udivrem(&ax.bits(), &ay.bits(), want_rem);
                // Negate the quotient when the signs differ, unless y = 0:
                // then the unsigned quotient, all ones, is already -1.
                let differ = self.xor_bit(sx, sy);
                let y_zero = self.is_zero(y);
                let y_nonzero = self.not_bit(y_zero);
                let neg_q = self.and_bit(differ, y_nonzero);
                let q = self.cond_neg(&uq, neg_q);
                let r = if want_rem { self.cond_neg(&ur, sx) } else { ur };
                (q, r)
            }
        }
    }

    /// `x / y`, rounding toward zero.
    pub fn div(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Word {
        self.div_rem_inner(x, y, signedness, false).0
    }

    /// `x % y`, with the sign of `x`.
    pub fn rem(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Word {
        self.div_rem(x, y, signedness).1
    }

    /// `x < y`: `n` AND. From the least significant bit up,
    /// `lt = lt ^ ((x_i ^ y_i) & (y_i ^ lt))`: where the bits differ, `y_i`
    /// decides. For signed words the sign bit decides the other way
    /// (`x_i ^ lt` in place of `y_i ^ lt`).
    pub fn lt(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Bit {
        let n = same_width("lt", x, y);
        let mut lt = Bit::ZERO;
        for i in 0..n {
            let (a, b) = (x.bit(i), y.bit(i));
            let differ = self.xor_bit(a, b);
            let decider = if i + 1 == n && signedness == Signedness::Signed {
                a
            } else {
                b
            };
            let pick = self.xor_bit(decider, lt);
            let t = self.and_bit(differ, pick);
            lt = self.xor_bit(lt, t);
        }
        lt
    }

    /// `x <= y`: `n` AND.
    pub fn le(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Bit {
        let gt = self.lt(y, x, signedness);
        self.not_bit(gt)
    }

    /// `x > y`: `n` AND.
    pub fn gt(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Bit {
        self.lt(y, x, signedness)
    }

    /// `x >= y`: `n` AND.
    pub fn ge(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Bit {
        let lt = self.lt(x, y, signedness);
        self.not_bit(lt)
    }

    /// `x == y`: `n - 1` AND.
    pub fn eq(&mut self, x: &Word, y: &Word) -> Bit {
        let ne = self.ne(x, y);
        self.not_bit(ne)
    }

    /// `x != y`: `n - 1` AND.
    pub fn ne(&mut self, x: &Word, y: &Word) -> Bit {
        let d = self.xor(x, y);
        self.or_reduce(&d.bits())
    }

    /// `x == 0`: `n - 1` AND.
    pub fn is_zero(&mut self, x: &Word) -> Bit {
        let any = self.or_reduce(&x.bits());
        self.not_bit(any)
    }

    /// OR of all the bits, as a balanced tree (depth `log2 n`): `n - 1` AND.
    pub fn or_reduce(&mut self, bits: &[Bit]) -> Bit {
        self.reduce(bits, Bit::ZERO, Self::or_bit)
    }

    /// AND of all the bits, as a balanced tree: `n - 1` AND.
    pub fn and_reduce(&mut self, bits: &[Bit]) -> Bit {
        self.reduce(bits, Bit::ONE, Self::and_bit)
    }

    fn reduce(&mut self, bits: &[Bit], empty: Bit, op: fn(&mut Self, Bit, Bit) -> Bit) -> Bit {
        let mut level: Vec<Bit> = bits.to_vec();
        if level.is_empty() {
            return empty;
        }
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                next.push(match *pair {
                    [a, b] => op(self, a, b),
                    [a] => a,
                    _ => unreachable!("chunks(2) yields one or two bits"),
                });
            }
            level = next;
        }
        level[0]
    }

    /// Any comparison: `n` AND for orderings, `n - 1` for (in)equality.
    pub fn compare(&mut self, op: Cmp, x: &Word, y: &Word, signedness: Signedness) -> Bit {
        match op {
            Cmp::Lt => self.lt(x, y, signedness),
            Cmp::Le => self.le(x, y, signedness),
            Cmp::Gt => self.gt(x, y, signedness),
            Cmp::Ge => self.ge(x, y, signedness),
            Cmp::Eq => self.eq(x, y),
            Cmp::Ne => self.ne(x, y),
        }
    }

    /// The smaller of `x` and `y`: `2n` AND.
    pub fn min(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Word {
        let lt = self.lt(x, y, signedness);
        self.mux(lt, x, y)
    }

    /// The larger of `x` and `y`: `2n` AND.
    pub fn max(&mut self, x: &Word, y: &Word, signedness: Signedness) -> Word {
        let lt = self.lt(x, y, signedness);
        self.mux(lt, y, x)
    }

    /// The number of set bits, as an `n`-bit word: at most `n - 1` AND.
    ///
    /// Bits of equal weight are summed three at a time by full adders (1 AND
    /// each, one bit fewer each time) and the last pair of a weight by a half
    /// adder; oldest bits first, which keeps the depth logarithmic.
    pub fn popcount(&mut self, x: &Word) -> Word {
        let n = x.width();
        let mut columns: Vec<VecDeque<Bit>> = vec![x.bits().iter().copied().collect()];
        let mut out = Vec::with_capacity(n);
        let mut w = 0;
        while w < columns.len() {
            while columns[w].len() >= 2 {
                let (a, b) = match (columns[w].pop_front(), columns[w].pop_front()) {
                    (Some(a), Some(b)) => (a, b),
                    _ => unreachable!("the column holds at least two bits"),
                };
                let (sum, carry) = match columns[w].pop_front() {
                    Some(c) => self.full_adder(a, b, c),
                    None => {
                        let s = self.xor_bit(a, b);
                        (s, self.and_bit(a, b))
                    }
                };
                columns[w].push_back(sum);
                if columns.len() == w + 1 {
                    columns.push(VecDeque::new());
                }
                columns[w + 1].push_back(carry);
            }
            out.push(columns[w].front().copied().unwrap_or(Bit::ZERO));
            w += 1;
        }
        Word::from_bits(out).zext(n)
    }
}
