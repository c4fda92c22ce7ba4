//! Two-party random vector OLE over the secp256k1 scalar field from OT
//! extension: the multiplication under DKLs23's threshold ECDSA.
//!
//! Doerner, Kondi, Lee and shelat, "Threshold ECDSA in Three Rounds"
//! (IEEE S&P 2024, eprint 2023/765): functionality 3.5 (`F_RVOLE`, Bob's
//! input a single random `b`, Alice's a vector `a` of length `ℓ`; outputs
//! `c + d = a·b`) realised as their protocol 5.2, the "forced reuse" form
//! of DKLs19's protocol 1 (eprint 2019/523), in two messages:
//!
//! 1. *Bob* ([`Bob::start`]): draws `ξ = κ + 2s` random bits `β`
//!    (`κ = 256`, `s = 80`: [`XI`] = 416) and runs the receiver side of
//!    `ξ` random OTs with them, in one message ([`KosReceiver::rot_one_message`]:
//!    the OT extension's own consistency check travels with it). His input
//!    is `b = ⟨g, β⟩` for the public gadget vector `g` (powers of two, then
//!    `2s` entries hashed from the session: the random tail makes `b`
//!    statistically uniform whatever few bits of `β` a cheating Alice
//!    learns by selective failure).
//! 2. *Alice* ([`alice`]): checks the OT extension, draws a pad `ã` and a
//!    check vector `â` (each in `Z_q^ℓ`) and sends, for every OT `j`, the
//!    correction `τ_j = α + t_j^0 − t_j^1` for `α = (ã, â)`, where `t_j^0`,
//!    `t_j^1` are her two OT keys expanded into `Z_q^{2ℓ}`; her share of OT
//!    `j` is `z_A,j = −t_j^0`, Bob's `z_B,j = t_j^{β_j} + β_j·τ_j`, so
//!    `z_A,j + z_B,j = β_j·α`. The check: `χ̃, χ̂ ∈ Z_q^ℓ` hash the session
//!    and every `τ_j`; Alice sends `u_i = χ̃_i ã_i + χ̂_i â_i` and a hash of
//!    `r_{j,i} = χ̃_i z̃_A,j,i + χ̂_i ẑ_A,j,i`; Bob recomputes
//!    `r_{j,i} = β_j u_i − χ̃_i z̃_B,j,i − χ̂_i ẑ_B,j,i` and aborts, naming
//!    Alice, unless the hashes match. Alice also sends `γ = a − ã`.
//! 3. Outputs: Alice `c_i = Σ_j g_j z̃_A,j,i`; Bob ([`Bob::finish`])
//!    `d_i = b·γ_i + Σ_j g_j z̃_B,j,i`; so `c_i + d_i = a_i·b`.
//!
//! Every OT of a session is keyed afresh from the pair's base OTs and the
//! session id ([`PairKeys`]), so no state carries from one signature to
//! the next; a failed OT check or VOLE check names the peer and the caller
//! must discard the pair's base OTs (`../shared/SIGNING-CHECKS.md`).

use k256::Scalar;
use k256::elliptic_curve::ops::Reduce;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::encoding::{reduce32, scalar_from_bytes, scalar_to_bytes};
use super::{Identifier, SignError};
use crate::block::Block;
use crate::net::handshake::SessionId;
use crate::ot::kos::{KAPPA, KosReceiver, KosSender};
use crate::ot::{Delta, OtError};
use crate::prg::{Prg, Seed};

/// OTs per multiplication: `κ + 2s` with `κ = 256` (the scalar's bits) and
/// statistical parameter `s = 80` (DKLs23 section 5).
pub const XI: usize = 256 + 2 * 80;
/// Alice's vector length: ECDSA multiplies Bob's `b` by the nonce share
/// and the key share.
pub const ELL: usize = 2;
/// Scalars per OT: the pad and the check vector.
const WIDTH: usize = 2 * ELL;

/// A scalar from 48 pseudorandom bytes (bias below `2^-128`).
fn reduce48(d: &[u8]) -> Scalar {
    let mut wide = k256::WideBytes::default();
    wide[16..].copy_from_slice(&d[..48]);
    <Scalar as Reduce<k256::WideBytes>>::reduce(&wide)
}

/// An injective hash: the tag and every part, each with its length in
/// front (used here and by [`super::dkls`]).
pub(crate) fn hash(tag: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((tag.len() as u64).to_be_bytes());
    h.update(tag);
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The public gadget vector `g`: `2^j` for `j < 256`, then `2s` scalars
/// hashed from the session.
fn gadget(session: &[u8; 32]) -> Vec<Scalar> {
    let mut g = Vec::with_capacity(XI);
    let mut p = Scalar::ONE;
    for _ in 0..256 {
        g.push(p);
        p += p;
    }
    for j in 256..XI {
        g.push(reduce32(&hash(
            b"quorate/sign/vole/gadget/v1",
            &[session, &(j as u64).to_be_bytes()],
        )));
    }
    g
}

/// An OT key expanded into `2ℓ` scalars (AES-CTR from the key).
fn expand(key: Block) -> [Scalar; WIDTH] {
    let mut prg = Prg::new(&Seed::new(key), 0);
    let mut bytes = [0u8; 48 * WIDTH];
    prg.fill_bytes(&mut bytes);
    let out = std::array::from_fn(|k| reduce48(&bytes[48 * k..48 * (k + 1)]));
    bytes.zeroize();
    out
}

/// The check's challenges `(χ̃, χ̂)` from the session and every `τ_j`.
fn challenges(session: &[u8; 32], tau: &[u8]) -> [Scalar; WIDTH] {
    let digest = hash(b"quorate/sign/vole/transcript/v1", &[session, tau]);
    std::array::from_fn(|k| {
        reduce32(&hash(
            b"quorate/sign/vole/chi/v1",
            &[&digest, &(k as u64).to_be_bytes()],
        ))
    })
}

/// The hash of Alice's check values `r` that she sends.
fn r_digest(session: &[u8; 32], r: &[Scalar]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"quorate/sign/vole/check/v1");
    h.update(session);
    for x in r {
        h.update(scalar_to_bytes(x));
    }
    h.finalize().into()
}

/// One ordered pair's base OTs, from which every session's OT extension
/// is keyed: on the side that is Alice (OT sender) toward the peer, `Δ` and
/// one seed per column; on the side that is Bob, both seeds per column.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PairKeys {
    /// As Alice: `Δ`'s bits and the chosen seeds `k_i^{Δ_i}`.
    alice: Option<(Block, Vec<Block>)>,
    /// As Bob: the seed pairs `(k_i^0, k_i^1)`.
    bob: Option<Vec<[Block; 2]>>,
}

impl std::fmt::Debug for PairKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairKeys(<redacted>)")
    }
}

fn session_seed(tag: &[u8], session: &[u8; 32], seed: Block) -> Seed {
    let d = hash(tag, &[session, &seed.to_bytes()]);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Seed::new(Block::from_bytes(b))
}

impl PairKeys {
    /// Keys for both roles toward one peer.
    pub fn new(delta: &Delta, chosen: &[Seed], pairs: &[[Seed; 2]]) -> Result<Self, SignError> {
        if chosen.len() != KAPPA || pairs.len() != KAPPA {
            return Err(SignError::Parameters(format!(
                "a pair needs {KAPPA} base OTs each way"
            )));
        }
        Ok(PairKeys {
            alice: Some((delta.expose(), chosen.iter().map(|s| s.expose()).collect())),
            bob: Some(
                pairs
                    .iter()
                    .map(|[a, b]| [a.expose(), b.expose()])
                    .collect(),
            ),
        })
    }

    /// Serialised: `Δ`, the 128 chosen seeds, the 128 seed pairs (16 bytes
    /// each): [`PAIR_KEYS_BYTES`] bytes. Secret.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * (1 + 3 * KAPPA));
        if let (Some((d, chosen)), Some(pairs)) = (&self.alice, &self.bob) {
            out.extend_from_slice(&d.to_bytes());
            for c in chosen {
                out.extend_from_slice(&c.to_bytes());
            }
            for [a, b] in pairs {
                out.extend_from_slice(&a.to_bytes());
                out.extend_from_slice(&b.to_bytes());
            }
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        let want = PAIR_KEYS_BYTES;
        if b.len() != want {
            return Err(SignError::Length {
                party: 0,
                what: "pair OT keys (bytes)",
                expected: want,
                got: b.len(),
            });
        }
        let block = |k: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[16 * k..16 * (k + 1)]);
            Block::from_bytes(a)
        };
        let chosen = (0..KAPPA).map(|i| block(1 + i)).collect();
        let pairs = (0..KAPPA)
            .map(|i| [block(1 + KAPPA + 2 * i), block(2 + KAPPA + 2 * i)])
            .collect();
        Ok(PairKeys {
            alice: Some((block(0), chosen)),
            bob: Some(pairs),
        })
    }

    fn sender(&self, session: &[u8; 32], peer: Identifier) -> Result<KosSender, SignError> {
        let (delta, chosen) = self
            .alice
            .as_ref()
            .ok_or_else(|| SignError::Parameters("no base OTs as Alice".into()))?;
        let seeds: Vec<Seed> = chosen
            .iter()
            .map(|s| session_seed(b"quorate/sign/vole/column/v1", session, *s))
            .collect();
        Ok(KosSender::new(
            Delta::from_block(*delta),
            &seeds,
            &SessionId(*session),
            &format!("party {}", peer.get()),
        ))
    }

    fn receiver(&self, session: &[u8; 32], peer: Identifier) -> Result<KosReceiver, SignError> {
        let pairs = self
            .bob
            .as_ref()
            .ok_or_else(|| SignError::Parameters("no base OTs as Bob".into()))?;
        let seeds: Vec<[Seed; 2]> = pairs
            .iter()
            .map(|[a, b]| {
                [
                    session_seed(b"quorate/sign/vole/column/v1", session, *a),
                    session_seed(b"quorate/sign/vole/column/v1", session, *b),
                ]
            })
            .collect();
        Ok(KosReceiver::new(
            &seeds,
            &SessionId(*session),
            &format!("party {}", peer.get()),
        ))
    }
}

fn ot_error(peer: Identifier, e: OtError) -> SignError {
    match e {
        OtError::ConsistencyCheck { .. } => SignError::Culprit {
            culprit: peer.get(),
            reason: "its OT extension failed the consistency check (its base OTs are discarded)"
                .into(),
        },
        OtError::BadLength { got, expected, .. } => SignError::Length {
            party: peer.get(),
            what: "OT extension message (bytes)",
            expected: expected as usize,
            got: got as usize,
        },
        other => SignError::Parameters(format!("OT extension with party {}: {other}", peer.get())),
    }
}

/// Bob after his message: his random input and OT keys.
#[derive(ZeroizeOnDrop)]
pub struct Bob {
    #[zeroize(skip)]
    peer: Identifier,
    session: [u8; 32],
    beta: Vec<bool>,
    keys: Vec<Block>,
    b: Scalar,
}

impl std::fmt::Debug for Bob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bob")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Bob {
    /// Step 1: Bob's random bits, his input `b = ⟨g, β⟩`, and his one
    /// message to Alice (`peer`), on OTs keyed from `keys` and `session`.
    pub fn start(
        keys: &PairKeys,
        session: &[u8; 32],
        peer: Identifier,
    ) -> Result<(Bob, Vec<u8>), SignError> {
        let mut receiver = keys.receiver(session, peer)?;
        let beta = Prg::from_entropy()
            .map_err(|_| SignError::Parameters("the OS random generator failed".into()))?
            .bits(XI);
        let g = gadget(session);
        let b = g
            .iter()
            .zip(&beta)
            .filter(|(_, c)| **c)
            .fold(Scalar::ZERO, |acc, (g, _)| acc + g);
        let (msg, t) = receiver
            .rot_one_message(&beta)
            .map_err(|e| ot_error(peer, e))?;
        Ok((
            Bob {
                peer,
                session: *session,
                beta,
                keys: t.expose().to_vec(),
                b,
            },
            msg,
        ))
    }

    /// Bob's input `b`.
    pub fn input(&self) -> Scalar {
        self.b
    }

    /// Step 3: checks Alice's message and returns Bob's outputs `d` with
    /// `c + d = a·b`. A failed check names Alice.
    pub fn finish(self, msg: &AliceMsg) -> Result<[Scalar; ELL], SignError> {
        let culprit = |reason: &str| SignError::Culprit {
            culprit: self.peer.get(),
            reason: reason.into(),
        };
        let chi = challenges(&self.session, &msg.tau_bytes());
        let mut r = Vec::with_capacity(XI * ELL);
        let mut z_tilde = Vec::with_capacity(XI);
        for (j, (key, tau)) in self.keys.iter().zip(&msg.tau).enumerate() {
            let mut z = expand(*key);
            if self.beta[j] {
                for (zk, tk) in z.iter_mut().zip(tau) {
                    *zk += tk;
                }
            }
            let bj = if self.beta[j] {
                Scalar::ONE
            } else {
                Scalar::ZERO
            };
            for i in 0..ELL {
                r.push(bj * msg.u[i] - chi[i] * z[i] - chi[ELL + i] * z[ELL + i]);
            }
            let zt: [Scalar; ELL] = std::array::from_fn(|i| z[i]);
            z.zeroize();
            z_tilde.push(zt);
        }
        let ok = r_digest(&self.session, &r).ct_eq(&msg.r_hash);
        r.zeroize();
        if !bool::from(ok) {
            return Err(culprit(
                "its multiplication message failed the VOLE consistency check",
            ));
        }
        let g = gadget(&self.session);
        let d = std::array::from_fn(|i| {
            g.iter()
                .zip(&z_tilde)
                .fold(self.b * msg.gamma[i], |acc, (g, z)| acc + g * &z[i])
        });
        z_tilde.zeroize();
        Ok(d)
    }
}

/// Alice's message to Bob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliceMsg {
    /// `τ_j` for every OT.
    pub tau: Vec<[Scalar; WIDTH]>,
    /// `u`.
    pub u: [Scalar; ELL],
    /// The hash of `r`.
    pub r_hash: [u8; 32],
    /// `γ = a − ã`.
    pub gamma: [Scalar; ELL],
}

/// Bytes of [`PairKeys::to_bytes`].
pub const PAIR_KEYS_BYTES: usize = 16 * (1 + 3 * KAPPA);

/// Bytes of [`AliceMsg::to_bytes`].
pub const ALICE_MSG_BYTES: usize = 32 * (WIDTH * XI + 2 * ELL + 1);

impl AliceMsg {
    fn tau_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 * WIDTH * self.tau.len());
        for t in &self.tau {
            for x in t {
                out.extend_from_slice(&scalar_to_bytes(x));
            }
        }
        out
    }

    /// `τ`, `u`, the hash of `r`, `γ`: [`ALICE_MSG_BYTES`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.tau_bytes();
        for x in &self.u {
            out.extend_from_slice(&scalar_to_bytes(x));
        }
        out.extend_from_slice(&self.r_hash);
        for x in &self.gamma {
            out.extend_from_slice(&scalar_to_bytes(x));
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form; every scalar checked
    /// canonical.
    pub fn from_bytes(from: Identifier, b: &[u8]) -> Result<Self, SignError> {
        if b.len() != ALICE_MSG_BYTES {
            return Err(SignError::Length {
                party: from.get(),
                what: "multiplication message (bytes)",
                expected: ALICE_MSG_BYTES,
                got: b.len(),
            });
        }
        let scalar = |k: usize| {
            scalar_from_bytes(&b[32 * k..32 * (k + 1)]).ok_or(SignError::Malformed {
                party: from.get(),
                what: "multiplication message",
                kind: "scalar",
            })
        };
        let mut tau = Vec::with_capacity(XI);
        for j in 0..XI {
            let mut t = [Scalar::ZERO; WIDTH];
            for (k, x) in t.iter_mut().enumerate() {
                *x = scalar(WIDTH * j + k)?;
            }
            tau.push(t);
        }
        let at = WIDTH * XI;
        let u = [scalar(at)?, scalar(at + 1)?];
        let mut r_hash = [0u8; 32];
        r_hash.copy_from_slice(&b[32 * (at + 2)..32 * (at + 3)]);
        let gamma = [scalar(at + 3)?, scalar(at + 4)?];
        Ok(AliceMsg {
            tau,
            u,
            r_hash,
            gamma,
        })
    }
}

/// Step 2: Alice, with input `a`, answers Bob's message; returns her
/// outputs `c` (with `c + d = a·b`) and her message. A failed OT check
/// names Bob.
pub fn alice(
    keys: &PairKeys,
    session: &[u8; 32],
    peer: Identifier,
    bob_msg: &[u8],
    a: &[Scalar; ELL],
) -> Result<([Scalar; ELL], AliceMsg), SignError> {
    let mut sender = keys.sender(session, peer)?;
    let pairs = sender
        .rot_one_message(XI, bob_msg)
        .map_err(|e| ot_error(peer, e))?;
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut alpha = [Scalar::ZERO; WIDTH];
    for x in alpha.iter_mut() {
        *x = super::encoding::random_scalar().map_err(entropy)?;
    }
    let mut tau = Vec::with_capacity(XI);
    let mut z_a = Vec::with_capacity(XI);
    for [k0, k1] in &pairs {
        let mut t0 = expand(*k0);
        let mut t1 = expand(*k1);
        tau.push(std::array::from_fn(|k| alpha[k] + t0[k] - t1[k]));
        z_a.push(std::array::from_fn::<Scalar, WIDTH, _>(|k| -t0[k]));
        t0.zeroize();
        t1.zeroize();
    }
    let mut msg = AliceMsg {
        tau,
        u: [Scalar::ZERO; ELL],
        r_hash: [0; 32],
        gamma: std::array::from_fn(|i| a[i] - alpha[i]),
    };
    let chi = challenges(session, &msg.tau_bytes());
    msg.u = std::array::from_fn(|i| chi[i] * alpha[i] + chi[ELL + i] * alpha[ELL + i]);
    let mut r = Vec::with_capacity(XI * ELL);
    for z in &z_a {
        for i in 0..ELL {
            r.push(chi[i] * z[i] + chi[ELL + i] * z[ELL + i]);
        }
    }
    msg.r_hash = r_digest(session, &r);
    r.zeroize();
    let g = gadget(session);
    let c = std::array::from_fn(|i| {
        g.iter()
            .zip(&z_a)
            .fold(Scalar::ZERO, |acc, (g, z)| acc + g * &z[i])
    });
    z_a.zeroize();
    alpha.zeroize();
    Ok((c, msg))
}

#[cfg(test)]
mod tests {
    use super::super::encoding::random_bytes;
    use super::*;

    /// Both pairs of keys of a pair of parties, as base OTs would give.
    pub(crate) fn pair_keys() -> (PairKeys, PairKeys) {
        let make = || {
            let delta = Delta::random().unwrap();
            let pairs: Vec<[Seed; 2]> = (0..KAPPA)
                .map(|_| [Seed::from_entropy().unwrap(), Seed::from_entropy().unwrap()])
                .collect();
            let chosen: Vec<Seed> = (0..KAPPA)
                .map(|i| pairs[i][usize::from(delta.expose().bit(i))].clone())
                .collect();
            (delta, chosen, pairs)
        };
        // x -> y: x is Alice (holds Δ), y is Bob (holds pairs).
        let (d_ab, c_ab, p_ab) = make();
        let (d_ba, c_ba, p_ba) = make();
        (
            PairKeys::new(&d_ab, &c_ab, &p_ba).unwrap(),
            PairKeys::new(&d_ba, &c_ba, &p_ab).unwrap(),
        )
    }

    fn id(i: u16) -> Identifier {
        Identifier::new(i).unwrap()
    }

    #[test]
    fn outputs_sum_to_the_products() {
        let (ka, kb) = pair_keys();
        for _ in 0..3 {
            let session = random_bytes().unwrap();
            let (bob, m1) = Bob::start(&kb, &session, id(1)).unwrap();
            let b = bob.input();
            let a = [
                super::super::encoding::random_scalar().unwrap(),
                super::super::encoding::random_scalar().unwrap(),
            ];
            let (c, m2) = alice(&ka, &session, id(2), &m1, &a).unwrap();
            let parsed = AliceMsg::from_bytes(id(1), &m2.to_bytes()).unwrap();
            assert_eq!(parsed, m2);
            let d = bob.finish(&parsed).unwrap();
            for i in 0..ELL {
                assert_eq!(c[i] + d[i], a[i] * b);
            }
        }
    }

    #[test]
    fn a_cheating_alice_is_caught_and_named() {
        let (ka, kb) = pair_keys();
        // Each tweak of Alice's message: the check fails.
        for what in 0..3 {
            let session = random_bytes().unwrap();
            let (bob, m1) = Bob::start(&kb, &session, id(1)).unwrap();
            let a = [Scalar::ONE, Scalar::from(7u64)];
            let (_, mut m2) = alice(&ka, &session, id(2), &m1, &a).unwrap();
            match what {
                0 => m2.tau[5][0] += Scalar::ONE,
                1 => m2.u[1] += Scalar::ONE,
                _ => m2.r_hash[0] ^= 1,
            }
            let e = bob.finish(&m2).unwrap_err();
            assert!(matches!(e, SignError::Culprit { culprit: 1, .. }), "{e}");
        }
    }

    #[test]
    fn a_tampered_ot_message_names_bob() {
        let (ka, kb) = pair_keys();
        let session = random_bytes().unwrap();
        let (_, mut m1) = Bob::start(&kb, &session, id(1)).unwrap();
        m1[0] ^= 1;
        let e = alice(&ka, &session, id(2), &m1, &[Scalar::ONE; ELL]).unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 2, .. }), "{e}");
        let e = alice(&ka, &session, id(2), &m1[1..], &[Scalar::ONE; ELL]).unwrap_err();
        assert!(matches!(e, SignError::Length { party: 2, .. }), "{e}");
    }

    #[test]
    fn keys_round_trip_and_sessions_differ() {
        let (ka, _) = pair_keys();
        let back = PairKeys::from_bytes(&ka.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), ka.to_bytes());
        assert!(PairKeys::from_bytes(&ka.to_bytes()[1..]).is_err());
        assert_eq!(gadget(&[1; 32])[..256], gadget(&[2; 32])[..256]);
        assert_ne!(gadget(&[1; 32])[300], gadget(&[2; 32])[300]);
    }
}
