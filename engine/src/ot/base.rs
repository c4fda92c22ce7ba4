//! Base OT: the DDH-based "endemic" OT of Masny and Rindal, "Endemic
//! Oblivious Transfer" (ACM CCS 2019, eprint 2019/706), over the prime-order
//! group secp256k1, with random-oracle key derivation. One round: the
//! messages of the two sides are independent.
//!
//! For OT `i` with receiver choice `c` (section 5, the DDH instantiation of
//! the endemic OT from a key agreement and a random oracle `H` onto the
//! group):
//! 1. Sender: `a ← Z_q`, sends `A = a·G` (one for the whole batch).
//! 2. Receiver: `b ← Z_q`; `r_{1-c}` a uniformly random point (`e·G` for a
//!    fresh random `e`); `r_c = b·G − H(sid, i, r_{1-c})`; sends `(r_0, r_1)`.
//! 3. Sender: for `j ∈ {0, 1}`, `B_j = r_j + H(sid, i, r_{1-j})` and
//!    `k_j = KDF(sid, i, j, A, r_0, r_1, a·B_j)`.
//! 4. Receiver: `k_c = KDF(sid, i, c, A, r_0, r_1, b·A)`; since `B_c = b·G`,
//!    `a·B_c = b·A`.
//!
//! Every point from the peer is decoded canonically and checked to lie on
//! the curve and not be the identity. `H` is the random-oracle hash to the
//! curve of RFC 9380 (`secp256k1_XMD:SHA-256_SSWU_RO_`, section 3), so that
//! `H`'s outputs, like `r_{1-c}`, are uniform: a point that fell in some
//! recognisable half of the group would tell the sender which of `r_0, r_1`
//! is `r_{1-c}`, that is the choice bit.

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::array::sizes::U65;
use k256::elliptic_curve::group::Curve;
use k256::elliptic_curve::group::CurveAffine;
use k256::elliptic_curve::sec1::{FromSec1Point, ToSec1Point};
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, Sec1Point};
use primeorder::{LookupTable, Radix16Decomposition};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::{OtError, h2c};
use crate::block::Block;
use crate::net::Channel;
use crate::net::handshake::SessionId;
use crate::prg::Seed;

/// Compressed point length.
const COMPRESSED: usize = 33;
/// Uncompressed point length: the receiver's points travel uncompressed so
/// the sender needs no square roots to read them.
const UNCOMPRESSED: usize = 65;

fn random_scalar() -> Result<Scalar, OtError> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(OtError::Entropy)?;
        let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(bytes)));
        bytes.zeroize();
        if let Some(s) = s.filter(|s| !bool::from(s.is_zero())) {
            return Ok(s);
        }
    }
}

/// RFC 9380 domain separation tag of `H`.
const H2C_DST: &[u8] = b"quorate/base-ot/v2/secp256k1_XMD:SHA-256_SSWU_RO_";

/// The message hashed by `H(sid, i, r)`: the length-prefixed parts.
fn h_msg(session: &SessionId, i: usize, r: &[u8]) -> Vec<u8> {
    let i = (i as u64).to_le_bytes();
    let mut msg = Vec::with_capacity(3 * 8 + 32 + 8 + r.len());
    for p in [&session.0[..], &i, r] {
        msg.extend_from_slice(&(p.len() as u64).to_le_bytes());
        msg.extend_from_slice(p);
    }
    msg
}

/// `H(sid, i, r)` for every `(i, r)`: RFC 9380 `hash_to_curve` (batched,
/// see [`super::h2c`]), split across the machine's cores.
fn h_points(
    session: &SessionId,
    items: &[(usize, &[u8])],
) -> Result<Vec<ProjectivePoint>, OtError> {
    let threads = threads();
    let per = items.len().div_ceil(threads).max(1);
    let chunks = items.len().div_ceil(per);
    let mut out = Vec::with_capacity(items.len());
    for part in par_map(chunks, |c| {
        let msgs: Vec<Vec<u8>> = items[c * per..((c + 1) * per).min(items.len())]
            .iter()
            .map(|&(i, r)| h_msg(session, i, r))
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        h2c::hash_to_curve(&refs, H2C_DST)
    }) {
        out.extend(part?);
    }
    Ok(out)
}

fn kdf(
    session: &SessionId,
    i: usize,
    j: u8,
    a: &[u8],
    r0: &[u8],
    r1: &[u8],
    dh: &AffinePoint,
) -> Seed {
    let dh = dh.to_sec1_point(true);
    let mut h = Sha256::new();
    h.update(b"quorate/base-ot/kdf/v1");
    for part in [
        &session.0[..],
        &(i as u64).to_le_bytes(),
        &[j],
        a,
        r0,
        r1,
        dh.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let mut d: [u8; 32] = h.finalize().into();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    let seed = Seed::new(Block::from_bytes(k));
    k.zeroize();
    d.zeroize();
    seed
}

fn decode(bytes: &[u8], peer: &str, what: impl Fn() -> String) -> Result<ProjectivePoint, OtError> {
    let bad = || OtError::BadPoint {
        peer: peer.to_owned(),
        what: what(),
    };
    let sec1 = Sec1Point::from_bytes(bytes).map_err(|_| bad())?;
    let p = Option::<AffinePoint>::from(AffinePoint::from_sec1_point(&sec1)).ok_or_else(bad)?;
    if bool::from(p.is_identity()) {
        return Err(bad());
    }
    Ok(p.into())
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, 8)
}

/// `f(i)` for `i in 0..n`, split across the machine's cores (scoped threads):
/// the group operations of base OT are independent per OT.
fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads();
    if threads == 1 || n < 2 {
        return (0..n).map(f).collect();
    }
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || (t * per..((t + 1) * per).min(n)).map(f).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Affine forms of many points with one field inversion.
fn normalize(points: &[ProjectivePoint]) -> Vec<AffinePoint> {
    let mut out = vec![AffinePoint::IDENTITY; points.len()];
    ProjectivePoint::batch_normalize(points, &mut out);
    out
}

/// `k·P` for one point `P` and many secret scalars `k`, in constant time:
/// the comb k256 uses for `k·G` (primeorder's `BasepointTable`: signed
/// radix-16 digits of `k`, a table of `1..8 · 256^i·P` for each byte `i`,
/// the odd digits' sum shifted by four doublings at the end), built for
/// `P`. Building costs about three ordinary multiplications; each product
/// then costs about a third of one.
struct FixedBase([LookupTable<ProjectivePoint>; 33]);

impl FixedBase {
    fn new(p: ProjectivePoint) -> Self {
        let mut tables = [LookupTable::default(); 33];
        let mut q = p;
        for t in &mut tables {
            *t = LookupTable::new(q);
            for _ in 0..8 {
                q = q.double();
            }
        }
        FixedBase(tables)
    }

    fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let digits = Radix16Decomposition::<U65>::new(k);
        let mut acc = self.0[32].select(digits[64]);
        let mut acc2 = ProjectivePoint::IDENTITY;
        for i in (0..32).rev() {
            acc2 += &self.0[i].select(digits[2 * i + 1]);
            acc += &self.0[i].select(digits[2 * i]);
        }
        for _ in 0..4 {
            acc2 = acc2.double();
        }
        acc + acc2
    }
}

/// The sender's message: `A`, compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderMsg(pub [u8; COMPRESSED]);

/// The receiver's message: `(r_0, r_1)` per OT, uncompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverMsg(pub Vec<[u8; 2 * UNCOMPRESSED]>);

/// The sender before it has the receiver's message.
pub struct BaseSender {
    a: Scalar,
    a_msg: SenderMsg,
}

impl Drop for BaseSender {
    fn drop(&mut self) {
        self.a.zeroize();
    }
}

impl BaseSender {
    /// Picks `a` and makes the message `A`.
    pub fn new() -> Result<(Self, SenderMsg), OtError> {
        let a = random_scalar()?;
        let big_a = ProjectivePoint::mul_by_generator(&a)
            .to_affine()
            .to_sec1_point(true);
        let mut bytes = [0u8; COMPRESSED];
        bytes.copy_from_slice(big_a.as_bytes());
        let msg = SenderMsg(bytes);
        Ok((
            BaseSender {
                a,
                a_msg: msg.clone(),
            },
            msg,
        ))
    }

    /// Reads the receiver's message; returns both keys of every OT.
    pub fn finish(
        self,
        session: &SessionId,
        msg: &ReceiverMsg,
        peer: &str,
    ) -> Result<Vec<[Seed; 2]>, OtError> {
        let n = msg.0.len();
        let a = &self.a;
        let mut points = Vec::with_capacity(2 * n);
        let mut hashed = Vec::with_capacity(2 * n);
        for (i, pair) in msg.0.iter().enumerate() {
            let (b0, b1) = pair.split_at(UNCOMPRESSED);
            points.push(decode(b0, peer, || format!("r_0 of OT {i}"))?);
            points.push(decode(b1, peer, || format!("r_1 of OT {i}"))?);
            // B_0 = r_0 + H(r_1), B_1 = r_1 + H(r_0).
            hashed.push((i, b1));
            hashed.push((i, b0));
        }
        let h = h_points(session, &hashed)?;
        let mut dh = par_map(2 * n, |k| (points[k] + h[k]) * a);
        let mut dh_affine = normalize(&dh);
        dh.zeroize();
        let dh = &dh_affine;
        let keys = msg
            .0
            .iter()
            .enumerate()
            .map(|(i, pair)| {
                let (b0, b1) = pair.split_at(UNCOMPRESSED);
                [
                    kdf(session, i, 0, &self.a_msg.0, b0, b1, &dh[2 * i]),
                    kdf(session, i, 1, &self.a_msg.0, b0, b1, &dh[2 * i + 1]),
                ]
            })
            .collect();
        dh_affine.zeroize();
        Ok(keys)
    }
}

/// The receiver before it has the sender's message.
pub struct BaseReceiver {
    choices: Vec<bool>,
    b: Vec<Scalar>,
    msg: ReceiverMsg,
}

impl Drop for BaseReceiver {
    fn drop(&mut self) {
        self.b.zeroize();
        self.choices.zeroize();
    }
}

impl BaseReceiver {
    /// Picks the `b`s and random points; makes the message.
    pub fn new(choices: &[bool], session: &SessionId) -> Result<(Self, ReceiverMsg), OtError> {
        let n = choices.len();
        let mut b = Vec::with_capacity(n);
        let mut e = Vec::with_capacity(n);
        for _ in 0..n {
            b.push(random_scalar()?);
            e.push(random_scalar()?);
        }
        // r_{1-c} = e·G, uniformly random; r_c = b·G − H(sid, i, r_{1-c}).
        let others: Vec<ProjectivePoint> = par_map(n, |i| ProjectivePoint::mul_by_generator(&e[i]));
        e.zeroize();
        let others = normalize(&others);
        let others_sec1: Vec<_> = others.iter().map(|p| p.to_sec1_point(false)).collect();
        let hashed: Vec<(usize, &[u8])> = others_sec1
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.as_bytes()))
            .collect();
        let h = h_points(session, &hashed)?;
        let mine = par_map(n, |i| ProjectivePoint::mul_by_generator(&b[i]) - h[i]);
        let mine = normalize(&mine);
        let mut pairs = Vec::with_capacity(n);
        for (i, &c) in choices.iter().enumerate() {
            let (other, mine) = (others_sec1[i], mine[i].to_sec1_point(false));
            // Both encodings have the same length whatever `c` is.
            let (r0, r1) = if c { (other, mine) } else { (mine, other) };
            let mut pair = [0u8; 2 * UNCOMPRESSED];
            pair[..UNCOMPRESSED].copy_from_slice(r0.as_bytes());
            pair[UNCOMPRESSED..].copy_from_slice(r1.as_bytes());
            pairs.push(pair);
        }
        let msg = ReceiverMsg(pairs);
        Ok((
            BaseReceiver {
                choices: choices.to_vec(),
                b,
                msg: msg.clone(),
            },
            msg,
        ))
    }

    /// Reads the sender's message; returns the chosen key of every OT.
    pub fn finish(
        self,
        session: &SessionId,
        msg: &SenderMsg,
        peer: &str,
    ) -> Result<Vec<Seed>, OtError> {
        let big_a = decode(&msg.0, peer, || "A".into())?;
        let table = FixedBase::new(big_a);
        let mut dh: Vec<ProjectivePoint> = par_map(self.b.len(), |i| table.mul(&self.b[i]));
        let mut dh_affine = normalize(&dh);
        dh.zeroize();
        let dh = &dh_affine;
        let keys = self
            .msg
            .0
            .iter()
            .enumerate()
            .map(|(i, pair)| {
                let (b0, b1) = pair.split_at(UNCOMPRESSED);
                kdf(
                    session,
                    i,
                    u8::from(self.choices[i]),
                    &msg.0,
                    b0,
                    b1,
                    &dh[i],
                )
            })
            .collect();
        dh_affine.zeroize();
        Ok(keys)
    }
}

/// Runs `n` base OTs as the sender over `ch`; returns both keys of each.
pub fn send(ch: &mut Channel, session: &SessionId, n: usize) -> Result<Vec<[Seed; 2]>, OtError> {
    let (sender, msg) = BaseSender::new()?;
    ch.send(&msg.0)?;
    ch.flush()?;
    let mut bytes = vec![0u8; n * 2 * UNCOMPRESSED];
    ch.recv(&mut bytes)?;
    let pairs = bytes
        .chunks_exact(2 * UNCOMPRESSED)
        .map(|c| {
            let mut p = [0u8; 2 * UNCOMPRESSED];
            p.copy_from_slice(c);
            p
        })
        .collect();
    sender.finish(session, &ReceiverMsg(pairs), ch.peer_name())
}

/// Runs base OTs as the receiver with `choices` over `ch`; returns the
/// chosen key of each.
pub fn receive(
    ch: &mut Channel,
    session: &SessionId,
    choices: &[bool],
) -> Result<Vec<Seed>, OtError> {
    let (receiver, msg) = BaseReceiver::new(choices, session)?;
    for pair in &msg.0 {
        ch.send(pair)?;
    }
    ch.flush()?;
    let mut a = [0u8; COMPRESSED];
    ch.recv(&mut a)?;
    receiver.finish(session, &SenderMsg(a), ch.peer_name())
}

#[cfg(test)]
mod tests {
    use quorate_circuits::PartyId;

    use super::*;
    use crate::net::memory::pair;

    #[test]
    fn the_fixed_base_table_multiplies_like_k256() {
        let p = ProjectivePoint::mul_by_generator(&random_scalar().unwrap());
        let table = FixedBase::new(p);
        let mut ks = vec![
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(255u64),
        ];
        ks.extend((0..20).map(|_| random_scalar().unwrap()));
        for k in ks {
            assert_eq!(table.mul(&k), p * k);
        }
    }

    #[test]
    fn receiver_gets_exactly_the_chosen_keys() {
        let session = SessionId::random().unwrap();
        let choices: Vec<bool> = (0..128).map(|i| (i * 7 + 3) % 5 < 2).collect();
        let (s, smsg) = BaseSender::new().unwrap();
        let (r, rmsg) = BaseReceiver::new(&choices, &session).unwrap();
        let keys = s.finish(&session, &rmsg, "r").unwrap();
        let got = r.finish(&session, &smsg, "s").unwrap();
        for (i, (k, g)) in keys.iter().zip(&got).enumerate() {
            let c = usize::from(choices[i]);
            assert_eq!(k[c].expose(), g.expose(), "OT {i}");
            assert_ne!(k[1 - c].expose(), g.expose(), "OT {i}");
        }
    }

    /// The receiver's two points must look alike: a test the old
    /// try-and-increment `H` failed. Its points all had parity(y) equal to
    /// bit 248 of x, so `r_{1-c}` always had it and `r_c` only half the time,
    /// which told the sender the choice bits.
    #[test]
    fn the_two_points_do_not_reveal_the_choice() {
        let session = SessionId::random().unwrap();
        let n = 1000;
        let (_, msg) = BaseReceiver::new(&vec![false; n], &session).unwrap();
        // Per side: how many points have parity(y) == bit 248 of x.
        let mut fits = [0usize; 2];
        for pair in &msg.0 {
            for (side, p) in pair.chunks(UNCOMPRESSED).enumerate() {
                // Uncompressed: 0x04, x (32 bytes, big-endian), y.
                let x248 = p[1] & 1;
                let y_parity = p[2 * 32] & 1;
                fits[side] += usize::from(x248 == y_parity);
            }
        }
        // Uniform points fit half the time: 500 ± 16 (1 sd); the old code
        // gave 1000 on the r_{1-c} side.
        for f in fits {
            assert!((400..=600).contains(&f), "{fits:?}");
        }
    }

    #[test]
    fn sessions_separate_keys() {
        let (s1, s2) = (SessionId::random().unwrap(), SessionId::random().unwrap());
        let (s, smsg) = BaseSender::new().unwrap();
        let (r, rmsg) = BaseReceiver::new(&[true], &s1).unwrap();
        let keys = s.finish(&s2, &rmsg, "r").unwrap();
        let got = r.finish(&s1, &smsg, "s").unwrap();
        assert_ne!(keys[0][1].expose(), got[0].expose());
    }

    #[test]
    fn bad_points_are_refused() {
        let session = SessionId::random().unwrap();
        let (s, _) = BaseSender::new().unwrap();
        let (_, mut rmsg) = BaseReceiver::new(&[false, true], &session).unwrap();
        rmsg.0[1][10] ^= 1; // r_0 of OT 1 off the curve
        let e = s.finish(&session, &rmsg, "mallory").unwrap_err();
        assert!(
            matches!(&e, OtError::BadPoint { peer, what } if peer == "mallory" && what == "r_0 of OT 1"),
            "{e}"
        );
        let (r, _) = BaseReceiver::new(&[true], &session).unwrap();
        assert!(
            r.finish(&session, &SenderMsg([0u8; COMPRESSED]), "mallory")
                .is_err()
        );
    }

    #[test]
    fn over_a_channel() {
        let session = SessionId::random().unwrap();
        let (mut a, mut b) = pair((PartyId(0), "s"), (PartyId(1), "r"));
        let choices: Vec<bool> = (0..128).map(|i| i % 3 == 0).collect();
        let c2 = choices.clone();
        let t = std::thread::spawn(move || receive(&mut b, &session, &c2).unwrap());
        let keys = send(&mut a, &session, 128).unwrap();
        let got = t.join().unwrap();
        for i in 0..128 {
            assert_eq!(keys[i][usize::from(choices[i])].expose(), got[i].expose());
        }
    }

    fn h_point(session: &SessionId, i: usize, r: &[u8]) -> Result<ProjectivePoint, OtError> {
        Ok(h_points(session, &[(i, r)])?[0])
    }

    #[test]
    fn h_is_deterministic_and_separates_sessions_indices_and_points() {
        let (s1, s2) = (SessionId::random().unwrap(), SessionId::random().unwrap());
        let p = h_point(&s1, 0, b"x").unwrap();
        assert_eq!(p, h_point(&s1, 0, b"x").unwrap());
        for q in [
            h_point(&s1, 0, b"y"),
            h_point(&s1, 1, b"x"),
            h_point(&s2, 0, b"x"),
        ] {
            assert_ne!(p, q.unwrap());
        }
        assert!(!bool::from(p.to_affine().is_identity()));
    }
}
