//! Sums over a private join of two parties' keyed rows, revealing only the
//! sums: circuit PSI with payloads, in the shape of Pinkas, Schneider,
//! Tkachenko and Yanai ("Efficient circuit-based PSI with linear
//! communication", EUROCRYPT 2019), with the OPPRF made of the KKRT16
//! OPRF and an OKVS (as Rindal and Schoppmann, "VOLE-PSI", EUROCRYPT
//! 2021, section 5.2, build it).
//!
//! Party 0 (the *receiver*) holds distinct keys `x` with values `r_f(x)`;
//! party 1 (the *sender*) holds distinct keys `y` with values `s_g(y)`.
//! For each requested pair `(f, g)` the output is
//! `Σ_{x = y} r_f(x) · s_g(y)` (mod 2^64), opened to both; nothing else
//! is revealed but the set sizes.
//!
//! 1. The receiver cuckoo-hashes its keys into `B = 1.27 n_0` bins (one per
//!    bin, dummies elsewhere); the sender places each key in all three of
//!    its bins ([`super::cuckoo`]).
//! 2. OPRF: the receiver learns `F_i = F(i, (x_i, h_i))` for its item in
//!    each bin ([`super::oprf`]).
//! 3. OPPRF: the sender draws per bin a target `τ_i` and masks `ρ_{i,g}`,
//!    and encodes for each of its entries `(y, h)` in bin `i` the key
//!    `F(i, (y, h))` with values `(τ_i, s_g(y) + ρ_{i,g})` in an OKVS
//!    ([`super::okvs`]), which it sends. The receiver decodes at `F_i`: if
//!    its `x_i` is among the sender's keys it gets exactly `τ_i` and
//!    `s_g(x_i) + ρ_{i,g}`, otherwise values that look random.
//! 4. Equality: `e_i = [decoded τ = τ_i]` by the chunked equality test
//!    on the two 64-bit values ([`crate::arith::equal`]), giving XOR
//!    shares `e_i = e0 ⊕ e1`. Its OTs and AND triples do not depend on
//!    the inputs: both parties make them right after the OPRF, while the
//!    sender evaluates the OPRF and encodes the store on a second thread.
//! 5. Shares of `s_g` in bin `i` are the receiver's decoded value and the
//!    sender's `-ρ_{i,g}`. Then `e·s = e0·(s - 2·e1·s) + e1·s`: two
//!    products of one party's own bits with a shared vector, one OT per
//!    element and pair of fields each (the bit-times-shared-value step of
//!    the engine's B2A, the 128-bit key masking two values), with no
//!    Beaver triple. The receiver's `r_f` multiplies the shared `w = e·s`
//!    as `r·w0` locally plus `r·w1` bit by bit of `r` (one OT per bit and
//!    pair of products with the same `f`, as in Gilboa's product, over a
//!    public width: the row count's for counting fields); the sender
//!    offers `2^k · w1` for bit `k`, so only the sums over bins come back
//!    from the OTs. Each party adds its shares over the bins, and
//!    only the sums are opened ([`receiver`], [`sender`]), or kept shared
//!    ([`receiver_shared`], [`sender_shared`]).

use zeroize::Zeroize;

use super::cuckoo::{self, CuckooFailed};
use super::okvs::{self, Okvs};
use super::oprf;
use crate::arith::equal::EqualityPrep;
use crate::arith::{ArithError, Party, Shares};
use crate::block::Block;
use crate::net::handshake::SessionId;
use crate::prg::Prg;

/// Which products to sum: `(receiver field f, sender field g)` pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Receiver's values per key.
    pub receiver_fields: usize,
    /// Sender's values per key.
    pub sender_fields: usize,
    /// The sums wanted.
    pub products: Vec<(usize, usize)>,
}

/// A side's input: distinct keys (already hashed to blocks) and, per
/// field, one value per key.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// The keys.
    pub keys: Vec<Block>,
    /// `values[f][k]`: field `f` of key `k`.
    pub values: Vec<Vec<u64>>,
    /// A public bound on each field's bit width (`None`: 64): the
    /// receiver's products cost one OT per bit. Counting fields are
    /// bounded by the table's row count, which is then revealed to within
    /// a power of two.
    pub bounds: Vec<Option<u32>>,
}

impl Side {
    fn widths(&self, fields: usize) -> Vec<u32> {
        (0..fields)
            .map(|f| {
                self.bounds
                    .get(f)
                    .copied()
                    .flatten()
                    .unwrap_or(64)
                    .clamp(1, 64)
            })
            .collect()
    }
}

fn setup_err(e: impl std::fmt::Display) -> ArithError {
    ArithError::Setup(e.to_string())
}

fn check(spec: &Spec, side: &Side, fields: usize) -> Result<(), ArithError> {
    if side.values.len() != fields || side.values.iter().any(|v| v.len() != side.keys.len()) {
        return Err(ArithError::Setup(format!(
            "{fields} value fields of {} keys expected",
            side.keys.len()
        )));
    }
    if spec.products.is_empty()
        || spec
            .products
            .iter()
            .any(|&(f, g)| f >= spec.receiver_fields || g >= spec.sender_fields)
    {
        return Err(ArithError::Setup(
            "a product names a field that does not exist".into(),
        ));
    }
    Ok(())
}

/// The largest set a party may bring (bounds every allocation a peer's
/// stated size causes).
pub const MAX_KEYS: usize = 1 << 25;

fn exchange_sizes(p: &mut Party, mine: usize) -> Result<usize, ArithError> {
    let peer = 1 - p.id();
    let ch = p.channel(peer)?;
    ch.send(&(mine as u64).to_le_bytes())?;
    ch.flush()?;
    let mut b = [0u8; 8];
    ch.recv(&mut b)?;
    let theirs = usize::try_from(u64::from_le_bytes(b)).unwrap_or(usize::MAX);
    if theirs > MAX_KEYS {
        return Err(ArithError::Malformed {
            peer: ch.peer_name().to_owned(),
            what: "set size (over the limit of 2^25 keys)",
        });
    }
    Ok(theirs)
}

/// `b_i · x_i` for each shared vector of `xs` (all of one length), by the
/// bits of party `owner` (`Some` there): two vectors per OT.
fn bits_times_many(
    p: &mut Party,
    owner: usize,
    bits: Option<&[bool]>,
    xs: &[Vec<u64>],
) -> Result<Vec<Vec<u64>>, ArithError> {
    let Some(len) = xs.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    let pairs = xs.len().div_ceil(2);
    let zeros = vec![0u64; len];
    let (mut x, mut y) = (
        Vec::with_capacity(pairs * len),
        Vec::with_capacity(pairs * len),
    );
    for k in 0..pairs {
        x.extend_from_slice(&xs[2 * k]);
        y.extend_from_slice(xs.get(2 * k + 1).unwrap_or(&zeros));
    }
    let long: Option<Vec<bool>> =
        bits.map(|b| (0..pairs).flat_map(|_| b.iter().copied()).collect());
    let (px, py) =
        p.own_bits_times_pairs(owner, long.as_deref(), &Shares::new(x), &Shares::new(y))?;
    let mut out = Vec::with_capacity(xs.len());
    for k in 0..pairs {
        out.push(px.expose()[k * len..(k + 1) * len].to_vec());
        if 2 * k + 1 < xs.len() {
            out.push(py.expose()[k * len..(k + 1) * len].to_vec());
        }
    }
    Ok(out)
}

/// Steps 4 and 5, the same on both sides: `tau` is the receiver's decoded
/// target or the sender's target, `s_shares[g]` the shares of the sender's
/// fields, `r` the receiver's fields (`None` at the sender) and `widths[f]`
/// the bit width of receiver field `f` (public).
fn finish(
    p: &mut Party,
    spec: &Spec,
    tau: &[u64],
    s_shares: Vec<Shares<u64>>,
    r: Option<&[Vec<u64>]>,
    widths: &[u32],
    prep: EqualityPrep,
) -> Result<Shares<u64>, ArithError> {
    let receiver = p.id() == 0;
    let bins = tau.len();
    let eq = p.equality(prep, tau)?;
    let mine: Vec<bool> = (0..bins)
        .map(|i| eq.expose()[i / 64] >> (i % 64) & 1 == 1)
        .collect();
    // e · s_g for each sender field used, all in one batch: with
    // e = e0 ⊕ e1, e·s = e0·(s - 2·e1·s) + e1·s, two products of one
    // party's own bits with a shared vector (one OT per element and pair
    // of fields each).
    let mut used: Vec<usize> = spec.products.iter().map(|&(_, g)| g).collect();
    used.sort_unstable();
    used.dedup();
    let s_used: Vec<Vec<u64>> = used
        .iter()
        .map(|&g| s_shares[g].expose().to_vec())
        .collect();
    let y = bits_times_many(p, 1, (!receiver).then_some(mine.as_slice()), &s_used)?;
    let t: Vec<Vec<u64>> = s_used
        .iter()
        .zip(&y)
        .map(|(s, y)| {
            s.iter()
                .zip(y)
                .map(|(s, y)| s.wrapping_sub(y.wrapping_mul(2)))
                .collect()
        })
        .collect();
    let z = bits_times_many(p, 0, receiver.then_some(mine.as_slice()), &t)?;
    let w: Vec<Vec<u64>> = z
        .iter()
        .zip(&y)
        .map(|(z, y)| z.iter().zip(y).map(|(z, y)| z.wrapping_add(*y)).collect())
        .collect();
    let w_of = |g: usize| -> &[u64] {
        let k = used.iter().position(|&u| u == g).unwrap_or(0);
        &w[k]
    };
    // r_f · w_g for each product: the receiver's part r·w0 locally, and
    // r·w1 bit by bit of r (its public width), one OT per bit and pair of
    // products with the same f, a few bits at a time.
    let mut sums = vec![0u64; spec.products.len()];
    let mut fs: Vec<usize> = spec.products.iter().map(|&(f, _)| f).collect();
    fs.sort_unstable();
    fs.dedup();
    // The receiver's bits of r_f choose; the sender offers 2^k · w1 for
    // bit k, so only the sums over bins and bits travel back.
    for f in fs {
        let of_f: Vec<usize> = (0..spec.products.len())
            .filter(|&k| spec.products[k].0 == f)
            .collect();
        let width = widths[f] as usize;
        let bits: Option<Vec<bool>> = r.map(|r| {
            (0..width)
                .flat_map(|k| r[f].iter().map(move |v| v >> k & 1 == 1))
                .collect()
        });
        for pair in of_f.chunks(2) {
            // Element t = k·bins + i: bit k of r_f[i] chooses 2^k · w1[i].
            let first = w_of(spec.products[pair[0]].1);
            let second = pair.get(1).map(|&q| w_of(spec.products[q].1));
            let value = |t: usize| {
                let (k, i) = ((t / bins) as u32, t % bins);
                [
                    first[i].wrapping_shl(k),
                    second.map_or(0, |s| s[i].wrapping_shl(k)),
                ]
            };
            let n_values = if receiver { 0 } else { width * bins };
            let got = p.own_bits_dot_pairs(0, bits.as_deref(), &(n_values, &value))?;
            for (&q, v) in pair.iter().zip(got) {
                sums[q] = sums[q].wrapping_add(v);
            }
        }
    }
    if let Some(r) = r {
        for (q, &(f, g)) in spec.products.iter().enumerate() {
            for (rv, wv) in r[f].iter().zip(w_of(g)) {
                sums[q] = sums[q].wrapping_add(rv.wrapping_mul(*wv));
            }
        }
    }
    Ok(Shares::new(sums))
}

/// The bit width of each receiver field, sent to the sender: the row
/// count's for counting fields (a bound the table's size gives), 64 for
/// sums.
fn widths(p: &mut Party, mine: Option<&[u32]>, fields: usize) -> Result<Vec<u32>, ArithError> {
    let peer = 1 - p.id();
    let ch = p.channel(peer)?;
    if let Some(w) = mine {
        let bytes: Vec<u8> = w.iter().map(|&x| x as u8).collect();
        ch.send(&bytes)?;
        ch.flush()?;
        return Ok(w.to_vec());
    }
    let mut bytes = vec![0u8; fields];
    ch.recv(&mut bytes)?;
    if bytes.iter().any(|&b| b == 0 || b > 64) {
        return Err(ArithError::Malformed {
            peer: ch.peer_name().to_owned(),
            what: "field widths",
        });
    }
    Ok(bytes.into_iter().map(u32::from).collect())
}

/// The receiver's side (party 0 of a two-party [`Party`]): the opened
/// sums.
pub fn receiver(
    p: &mut Party,
    session: &SessionId,
    spec: &Spec,
    side: &Side,
) -> Result<Vec<u64>, ArithError> {
    let sums = receiver_shared(p, session, spec, side)?;
    p.open(&sums)
}

/// The sender's side (party 1 of a two-party [`Party`]): the opened sums.
pub fn sender(
    p: &mut Party,
    session: &SessionId,
    spec: &Spec,
    side: &Side,
) -> Result<Vec<u64>, ArithError> {
    let sums = sender_shared(p, session, spec, side)?;
    p.open(&sums)
}

/// [`receiver`], leaving the sums secret-shared (for a caller that
/// computes on them before opening, such as group suppression).
pub fn receiver_shared(
    p: &mut Party,
    session: &SessionId,
    spec: &Spec,
    side: &Side,
) -> Result<Shares<u64>, ArithError> {
    if p.parties() != 2 || p.id() != 0 {
        return Err(setup_err("the join receiver is party 0 of two"));
    }
    check(spec, side, spec.receiver_fields)?;
    let n_sender = exchange_sizes(p, side.keys.len())?;
    let bins = cuckoo::bins_for(side.keys.len());
    let table = cuckoo::cuckoo(&side.keys, bins).map_err(|e: CuckooFailed| setup_err(e))?;
    let mut inputs = Vec::with_capacity(bins);
    let mut r: Vec<Vec<u64>> = vec![vec![0u64; bins]; spec.receiver_fields];
    // Empty bins get random inputs from one seeded stream (a system call
    // per bin cost a quarter second at a million keys).
    let mut dummies = Prg::from_entropy().map_err(ArithError::Entropy)?;
    for (i, slot) in table.iter().enumerate() {
        match *slot {
            Some((k, h)) => {
                inputs.push(cuckoo::tagged(side.keys[k], h));
                for (f, col) in r.iter_mut().enumerate() {
                    col[i] = side.values[f][k];
                }
            }
            None => inputs.push(dummies.block()),
        }
    }
    let oprf_session = SessionId::derive("quorate/psi/join oprf", &[&session.0]);
    let f = oprf::receive(p.channel(1)?, &oprf_session, &inputs)?;
    // The equality test's OTs and AND triples, made while the sender
    // encodes.
    let prep = p.equality_prep(bins)?;
    // The sender's store: seed, cells, then cells × (1 + fields) values.
    let fields = 1 + spec.sender_fields;
    let ch = p.channel(1)?;
    let mut head = [0u8; 16];
    ch.recv(&mut head)?;
    let seed = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let cells = u64::from_le_bytes(head[8..].try_into().unwrap_or_default()) as usize;
    if cells != okvs::cells_for(cuckoo::HASHES * n_sender) {
        return Err(ArithError::Malformed {
            peer: ch.peer_name().to_owned(),
            what: "key-value store (its size does not fit its set size)",
        });
    }
    let mut bytes = vec![0u8; cells * fields * 8];
    for chunk in bytes.chunks_mut(1 << 20) {
        ch.recv(chunk)?;
    }
    let store = Okvs {
        seed,
        cells,
        fields,
        table: bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
    };
    let mut tau = Vec::with_capacity(bins);
    let mut s: Vec<Vec<u64>> = vec![Vec::with_capacity(bins); spec.sender_fields];
    let at: Vec<Block> = f.iter().map(|o| Block(u128::from_le_bytes(*o))).collect();
    let decoded = store.decode_many(&at);
    for v in decoded.chunks_exact(fields) {
        tau.push(v[0]);
        for (g, col) in s.iter_mut().enumerate() {
            col.push(v[1 + g]);
        }
    }
    let s_shares = s.into_iter().map(Shares::new).collect();
    let w = widths(
        p,
        Some(&side.widths(spec.receiver_fields)),
        spec.receiver_fields,
    )?;
    finish(p, spec, &tau, s_shares, Some(&r), &w, prep)
}

/// [`sender`], leaving the sums secret-shared.
pub fn sender_shared(
    p: &mut Party,
    session: &SessionId,
    spec: &Spec,
    side: &Side,
) -> Result<Shares<u64>, ArithError> {
    if p.parties() != 2 || p.id() != 1 {
        return Err(setup_err("the join sender is party 1 of two"));
    }
    check(spec, side, spec.sender_fields)?;
    let n_receiver = exchange_sizes(p, side.keys.len())?;
    let bins = cuckoo::bins_for(n_receiver);
    let placed = cuckoo::simple(&side.keys, bins);
    let oprf_session = SessionId::derive("quorate/psi/join oprf", &[&session.0]);
    let oprf = oprf::send(p.channel(0)?, &oprf_session)?;
    if oprf.len() != bins {
        return Err(setup_err(
            "the receiver's OPRF batch does not match its set size",
        ));
    }
    let mut prg = Prg::from_entropy().map_err(ArithError::Entropy)?;
    let mut rand = |n: usize| -> Vec<u64> {
        let mut b = vec![Block::ZERO; n.div_ceil(2)];
        prg.fill_blocks(&mut b);
        b.iter()
            .flat_map(|x| [x.0 as u64, (x.0 >> 64) as u64])
            .take(n)
            .collect()
    };
    let tau = rand(bins);
    let mut rho: Vec<Vec<u64>> = (0..spec.sender_fields).map(|_| rand(bins)).collect();
    // The OPRF evaluations and the store on a second thread while this
    // one prepares the equality tests with the receiver.
    let encode = || -> Result<Okvs, ArithError> {
        let mut points = Vec::with_capacity(cuckoo::HASHES * side.keys.len());
        let mut owners = Vec::with_capacity(points.capacity());
        for &(i, k, h) in &placed {
            points.push((i, cuckoo::tagged(side.keys[k], h)));
            owners.push((i, k));
        }
        let keys: Vec<Block> = oprf
            .eval(&points)?
            .into_iter()
            .map(|o| Block(u128::from_le_bytes(o)))
            .collect();
        let mut values: Vec<u64> = Vec::with_capacity(owners.len() * (1 + spec.sender_fields));
        for &(i, k) in &owners {
            values.push(tau[i]);
            values
                .extend((0..spec.sender_fields).map(|g| side.values[g][k].wrapping_add(rho[g][i])));
        }
        let mut okvs_prg = Prg::from_entropy().map_err(ArithError::Entropy)?;
        let store =
            Okvs::encode(&keys, &values, 1 + spec.sender_fields, &mut okvs_prg).map_err(setup_err);
        values.zeroize();
        store
    };
    let (store, prep) = std::thread::scope(|sc| {
        let job = sc.spawn(encode);
        let prep = p.equality_prep(bins);
        let store = job.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (store, prep)
    });
    let (store, prep) = (store?, prep?);
    let ch = p.channel(0)?;
    let mut head = [0u8; 16];
    head[..8].copy_from_slice(&store.seed.to_le_bytes());
    head[8..].copy_from_slice(&(store.cells as u64).to_le_bytes());
    ch.send(&head)?;
    for chunk in store.table.chunks(1 << 17) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        ch.send_vec(bytes)?;
    }
    ch.flush()?;
    let s_shares: Vec<Shares<u64>> = rho
        .iter()
        .map(|r| Shares::new(r.iter().map(|x| x.wrapping_neg()).collect()))
        .collect();
    for r in &mut rho {
        r.zeroize();
    }
    let w = widths(p, None, spec.receiver_fields)?;
    finish(p, spec, &tau, s_shares, None, &w, prep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(a: &Side, b: &Side, spec: &Spec) -> Vec<u64> {
        let out = crate::arith::run_in_memory(&["a", "b"], |mut p| {
            let session = SessionId::derive("test join", &[]);
            if p.id() == 0 {
                receiver(&mut p, &session, spec, a)
            } else {
                sender(&mut p, &session, spec, b)
            }
        })
        .unwrap();
        assert_eq!(out[0], out[1]);
        out[0].clone()
    }

    fn side(keys: &[u64], fields: usize, salt: u64) -> Side {
        Side {
            bounds: vec![None; fields],
            keys: keys
                .iter()
                .map(|&k| {
                    Block(
                        (u128::from(k) + 7).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
                    )
                })
                .collect(),
            values: (0..fields)
                .map(|f| {
                    keys.iter()
                        .map(|&k| k.wrapping_mul(31).wrapping_add(f as u64 + salt))
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn sums_over_the_join_equal_the_plaintext() {
        let spec = Spec {
            receiver_fields: 2,
            sender_fields: 2,
            products: vec![(0, 0), (0, 1), (1, 0)],
        };
        for (na, nb, overlap) in [
            (0usize, 5usize, 0usize),
            (1, 1, 1),
            (50, 80, 20),
            (1000, 700, 300),
            (300, 300, 0),
            (200, 200, 200),
        ] {
            let a_keys: Vec<u64> = (0..na as u64).collect();
            let b_keys: Vec<u64> = (0..overlap as u64)
                .chain(10_000..10_000 + (nb - overlap) as u64)
                .collect();
            let a = side(&a_keys, 2, 1);
            let b = side(&b_keys, 2, 5);
            let got = run(&a, &b, &spec);
            let bmap: HashMap<u64, usize> =
                b_keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
            let want: Vec<u64> = spec
                .products
                .iter()
                .map(|&(f, g)| {
                    a_keys
                        .iter()
                        .enumerate()
                        .fold(0u64, |s, (i, k)| match bmap.get(k) {
                            Some(&j) => s.wrapping_add(a.values[f][i].wrapping_mul(b.values[g][j])),
                            None => s,
                        })
                })
                .collect();
            assert_eq!(got, want, "{na} x {nb}, overlap {overlap}");
        }
    }
}
