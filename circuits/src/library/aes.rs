//! AES-128 encryption (FIPS-197) as a circuit: 6400 AND gates, 32 per S-box.
//!
//! The S-box is the 113-gate straight-line program of Boyar and Peralta, "A
//! new combinational logic minimization technique with applications to
//! cryptology" (SEA 2010): a linear top layer, a nonlinear middle of 32 ANDs
//! (inversion in GF(2^4) over a tower field), a linear bottom layer. It is
//! written below in the paper's notation (`+` XOR, `x` AND, `#` XNOR, `u0`
//! the most significant input bit, `s0` the most significant output bit)
//! and interpreted when the circuit is built. `tests` check it on all 256
//! inputs against inversion in GF(2^8) followed by the affine map.
//!
//! Key expansion (FIPS-197 section 5.2) runs inside the circuit: 40 more
//! S-boxes. MixColumns and ShiftRows are linear, hence free.

use crate::builder::{Bit, CircuitBuilder, Word};
use crate::circuit::GateSink;

/// The S-box straight-line program, one assignment per line.
const SBOX_SLP: &str = "
y14 = u3 + u5
y13 = u0 + u6
y9 = u0 + u3
y8 = u0 + u5
t0 = u1 + u2
y1 = t0 + u7
y4 = y1 + u3
y12 = y13 + y14
y2 = y1 + u0
y5 = y1 + u6
y3 = y5 + y8
t1 = u4 + y12
y15 = t1 + u5
y20 = t1 + u1
y6 = y15 + u7
y10 = y15 + t0
y11 = y20 + y9
y7 = u7 + y11
y17 = y10 + y11
y19 = y10 + y8
y16 = t0 + y11
y21 = y13 + y16
y18 = u0 + y16
t2 = y12 x y15
t3 = y3 x y6
t4 = t3 + t2
t5 = y4 x u7
t6 = t5 + t2
t7 = y13 x y16
t8 = y5 x y1
t9 = t8 + t7
t10 = y2 x y7
t11 = t10 + t7
t12 = y9 x y11
t13 = y14 x y17
t14 = t13 + t12
t15 = y8 x y10
t16 = t15 + t12
t17 = t4 + t14
t18 = t6 + t16
t19 = t9 + t14
t20 = t11 + t16
t21 = t17 + y20
t22 = t18 + y19
t23 = t19 + y21
t24 = t20 + y18
t25 = t21 + t22
t26 = t21 x t23
t27 = t24 + t26
t28 = t25 x t27
t29 = t28 + t22
t30 = t23 + t24
t31 = t22 + t26
t32 = t31 x t30
t33 = t32 + t24
t34 = t23 + t33
t35 = t27 + t33
t36 = t24 x t35
t37 = t36 + t34
t38 = t27 + t36
t39 = t29 x t38
t40 = t25 + t39
t41 = t40 + t37
t42 = t29 + t33
t43 = t29 + t40
t44 = t33 + t37
t45 = t42 + t41
z0 = t44 x y15
z1 = t37 x y6
z2 = t33 x u7
z3 = t43 x y16
z4 = t40 x y1
z5 = t29 x y7
z6 = t42 x y11
z7 = t45 x y17
z8 = t41 x y10
z9 = t44 x y12
z10 = t37 x y3
z11 = t33 x y4
z12 = t43 x y13
z13 = t40 x y5
z14 = t29 x y2
z15 = t42 x y9
z16 = t45 x y14
z17 = t41 x y8
t46 = z15 + z16
t47 = z10 + z11
t48 = z5 + z13
t49 = z9 + z10
t50 = z2 + z12
t51 = z2 + z5
t52 = z7 + z8
t53 = z0 + z3
t54 = z6 + z7
t55 = z16 + z17
t56 = z12 + t48
t57 = t50 + t53
t58 = z4 + t46
t59 = z3 + t54
t60 = t46 + t57
t61 = z14 + t57
t62 = t52 + t58
t63 = t49 + t58
t64 = z4 + t59
t65 = t61 + t62
t66 = z1 + t63
s0 = t59 + t63
s6 = t56 # t62
s7 = t48 # t60
t67 = t64 + t65
s3 = t53 + t66
s4 = t51 + t66
s5 = t47 + t65
s1 = t64 # s3
s2 = t55 # t67
";

#[derive(Clone, Copy)]
enum SlpOp {
    Xor,
    And,
    Xnor,
}

/// The program compiled once: each step reads two earlier slots and writes a
/// new one. Slots 0..8 are `u0..u7`; `outputs[i]` is the slot of bit `i`
/// (least significant first).
struct Slp {
    steps: Vec<(SlpOp, usize, usize)>,
    outputs: [usize; 8],
}

fn compiled_sbox() -> &'static Slp {
    static SLP: std::sync::OnceLock<Slp> = std::sync::OnceLock::new();
    SLP.get_or_init(|| {
        let mut slot: std::collections::HashMap<&str, usize> = (0..8)
            .map(|i| (["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"][i], i))
            .collect();
        let mut steps = Vec::new();
        // The program is a constant of this module: every line is
        // `dst = a op b` over names defined above it (the tests check it).
        for line in SBOX_SLP.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let op = match f[3] {
                "+" => SlpOp::Xor,
                "x" => SlpOp::And,
                _ => SlpOp::Xnor,
            };
            steps.push((op, slot[f[2]], slot[f[4]]));
            slot.insert(f[0], 7 + steps.len());
        }
        let outputs =
            std::array::from_fn(|i| slot[["s7", "s6", "s5", "s4", "s3", "s2", "s1", "s0"][i]]);
        Slp { steps, outputs }
    })
}

/// The AES S-box on one byte (least significant bit first): 32 AND.
///
/// # Panics
/// If `byte` is not 8 bits: a programming error, never input.
pub fn sbox<S: GateSink>(b: &mut CircuitBuilder<S>, byte: &[Bit]) -> Vec<Bit> {
    assert_eq!(byte.len(), 8, "the AES S-box takes one byte");
    let slp = compiled_sbox();
    let mut v: Vec<Bit> = Vec::with_capacity(8 + slp.steps.len());
    v.extend((0..8).map(|i| byte[7 - i]));
    for &(op, a, c) in &slp.steps {
        let (a, c) = (v[a], v[c]);
        let r = match op {
            SlpOp::Xor => b.xor_bit(a, c),
            SlpOp::And => b.and_bit(a, c),
            SlpOp::Xnor => {
                let x = b.xor_bit(a, c);
                b.not_bit(x)
            }
        };
        v.push(r);
    }
    slp.outputs.iter().map(|&i| v[i]).collect()
}

/// Multiplication by x in GF(2^8) mod x^8 + x^4 + x^3 + x + 1: free.
fn xtime<S: GateSink>(b: &mut CircuitBuilder<S>, v: &[Bit]) -> Vec<Bit> {
    let hi = v[7];
    let mut out = vec![Bit::ZERO; 8];
    out[0] = hi;
    out[1..].copy_from_slice(&v[..7]);
    for i in [1, 3, 4] {
        out[i] = b.xor_bit(out[i], hi);
    }
    out
}

fn xor_bytes<S: GateSink>(b: &mut CircuitBuilder<S>, x: &[Bit], y: &[Bit]) -> Vec<Bit> {
    x.iter().zip(y).map(|(&p, &q)| b.xor_bit(p, q)).collect()
}

/// Splits a 128-bit value into its 16 bytes in FIPS-197 order (byte 0 is
/// the most significant), each least significant bit first.
fn bytes_of(w: &Word) -> Vec<Vec<Bit>> {
    (0..16)
        .map(|i| w.bits()[8 * (15 - i)..8 * (16 - i)].to_vec())
        .collect()
}

fn word_of(bytes: &[Vec<Bit>]) -> Word {
    Word::from_bits((0..128).map(|k| bytes[15 - k / 8][k % 8]).collect())
}

/// FIPS-197 KeyExpansion for AES-128: 11 round keys of 16 bytes.
fn expand_key<S: GateSink>(b: &mut CircuitBuilder<S>, key: &[Vec<Bit>]) -> Vec<Vec<Vec<Bit>>> {
    let mut w: Vec<Vec<Vec<Bit>>> = key.chunks(4).map(<[Vec<Bit>]>::to_vec).collect();
    let mut rcon: u8 = 1;
    for i in 4..44 {
        let mut temp = w[i - 1].clone();
        if i % 4 == 0 {
            temp.rotate_left(1);
            temp = temp.iter().map(|byte| sbox(b, byte)).collect();
            for (j, bit) in temp[0].iter_mut().enumerate() {
                if rcon >> j & 1 == 1 {
                    *bit = b.not_bit(*bit);
                }
            }
            rcon = (rcon << 1) ^ if rcon & 0x80 != 0 { 0x1b } else { 0 };
        }
        let next = (0..4)
            .map(|j| xor_bytes(b, &w[i - 4][j], &temp[j]))
            .collect();
        w.push(next);
    }
    w.chunks(4).map(|c| c.concat()).collect()
}

/// AES-128 encryption of `block` under `key` (128-bit values, FIPS-197 byte
/// order): 6400 AND gates.
///
/// # Panics
/// If `key` or `block` is not 128 bits wide.
pub fn aes128<S: GateSink>(b: &mut CircuitBuilder<S>, key: &Word, block: &Word) -> Word {
    assert_eq!(
        (key.width(), block.width()),
        (128, 128),
        "AES-128 takes a 128-bit key and block"
    );
    let round_keys = expand_key(b, &bytes_of(key));
    let mut state: Vec<Vec<Bit>> = bytes_of(block);
    let add = |b: &mut CircuitBuilder<S>, state: &mut Vec<Vec<Bit>>, k: &[Vec<Bit>]| {
        for (s, kb) in state.iter_mut().zip(k) {
            *s = xor_bytes(b, s, kb);
        }
    };
    add(b, &mut state, &round_keys[0]);
    for (round, round_key) in round_keys.iter().enumerate().skip(1) {
        let sub: Vec<Vec<Bit>> = state.iter().map(|byte| sbox(b, byte)).collect();
        // ShiftRows: byte (row r, column c) is state[r + 4c]; row r shifts left by r.
        let mut shifted = sub.clone();
        for r in 0..4 {
            for c in 0..4 {
                shifted[r + 4 * c] = sub[r + 4 * ((c + r) % 4)].clone();
            }
        }
        state = shifted;
        if round < 10 {
            // MixColumns: each column times {02, 03, 01, 01} circulant.
            for c in 0..4 {
                let col: Vec<Vec<Bit>> = (0..4).map(|r| state[r + 4 * c].clone()).collect();
                let twice: Vec<Vec<Bit>> = col.iter().map(|v| xtime(b, v)).collect();
                for r in 0..4 {
                    let three = xor_bytes(b, &twice[(r + 1) % 4], &col[(r + 1) % 4]);
                    let mut v = xor_bytes(b, &twice[r], &three);
                    v = xor_bytes(b, &v, &col[(r + 2) % 4]);
                    v = xor_bytes(b, &v, &col[(r + 3) % 4]);
                    state[r + 4 * c] = v;
                }
            }
        }
        add(b, &mut state, round_key);
    }
    word_of(&state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::Bits;
    use crate::eval::evaluate_many;

    /// The S-box from its definition: inversion in GF(2^8), then the affine map.
    fn reference_sbox(x: u8) -> u8 {
        let mul = |mut a: u8, mut b: u8| {
            let mut p = 0u8;
            while b != 0 {
                if b & 1 == 1 {
                    p ^= a;
                }
                a = (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 };
                b >>= 1;
            }
            p
        };
        let inv = (1..=255u8).find(|&y| mul(x, y) == 1).unwrap_or(0);
        let rot = |v: u8, k: u32| v.rotate_left(k);
        inv ^ rot(inv, 1) ^ rot(inv, 2) ^ rot(inv, 3) ^ rot(inv, 4) ^ 0x63
    }

    #[test]
    fn sbox_matches_its_definition_on_all_bytes() {
        let mut b = CircuitBuilder::new();
        let p = b.party("p");
        let x = b.input(p, "x", 8).unwrap();
        let s = sbox(&mut b, &x.bits());
        assert_eq!(b.and_count(), 32);
        b.output("s", &Word::from_bits(s));
        let c = b.finish().unwrap();
        let all: Vec<Vec<Bits>> = (0..256).map(|v| vec![Bits::from_u64(v, 8)]).collect();
        for (v, out) in all.iter().zip(evaluate_many(&c, &all).unwrap()) {
            let x = v[0].to_u64().unwrap() as u8;
            assert_eq!(
                out[0].to_u64(),
                Some(u64::from(reference_sbox(x))),
                "S({x:#04x})"
            );
        }
        assert_eq!(reference_sbox(0x53), 0xed);
    }
}
