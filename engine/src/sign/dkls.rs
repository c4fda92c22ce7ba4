//! Threshold ECDSA on secp256k1 in three rounds: Doerner, Kondi, Lee and
//! shelat, "Threshold ECDSA in Three Rounds" (IEEE S&P 2024, eprint
//! 2023/765), protocol 3.6, with the two-party multiplications of
//! [`super::vole`] (their protocol 5.2) on the engine's OT extension.
//!
//! Key material: a t-of-n Shamir sharing of the key from [`super::dkg`],
//! plus, for every pair of parties, random OTs both ways ([`ot_setup`]: one
//! batch of base OTs and one OT extension, run once after key generation
//! and after every refresh).
//!
//! Signing by a set `S` of at least `t` parties, each `P_i` holding the
//! additive share `sk_i = λ_i·s_i` (`λ_i` the Lagrange coefficient over `S`):
//! 1. [`start`]: `P_i` draws its nonce share `r_i` and mask `φ_i`, commits
//!    to `R_i = r_i·G` (a hash with a random opening, bound to the session
//!    and `i`), and as Bob starts a multiplication with every other signer
//!    `j` (its random input is `χ_ij`). Sends the session id, the commitment
//!    and the multiplication message.
//! 2. [`Round1::round2`]: every session id must equal its own. As Alice
//!    toward each `j`, with inputs `(r_i, sk_i)`, it gets `c_u, c_v` with
//!    `c_u + d_u = r_i·χ_ji` and `c_v + d_v = sk_i·χ_ji`, and sends `R_i`
//!    with its opening, `pk_i = sk_i·G`, its multiplication message,
//!    `Γ_u = c_u·G`, `Γ_v = c_v·G` and `ψ_ij = φ_i − χ_ij`.
//! 3. [`Round2::round3`]: checks each opening, `pk_j = λ_j·Y_j` (its
//!    verification share), the multiplication, and the consistency of the
//!    products with the public points: `d_u·G + Γ_u = χ_ij·R_j` and
//!    `d_v·G + Γ_v = χ_ij·pk_j`. Then `R = Σ R_j`, `r = x(R) mod q`,
//!    `u_i = r_i(φ_i + Σ_j ψ_ji) + Σ_j (c_u + d_u)`, `v_i` the same with
//!    `sk_i`, `w_i = H(m)·φ_i + r·v_i`; sends `(u_i, w_i)` to all.
//! 4. [`Round3::finish`]: `s = Σ w / Σ u` (`= (H(m) + r·sk) / k` with
//!    `k = Σ r_j`), made low-s, with the recovery id; verified with k256's
//!    standard verifier before it is returned.
//!
//! Every check that fails names the party whose message failed it; a
//! failed OT or multiplication check also discards the pair's base OTs in
//! the key ([`EcdsaKey::is_discarded`]), which the caller must store.
//! HD signing ([`super::bip32`]) changes every share by the same
//! [`KeyAdjust`]; there are no presignatures to re-randomise, since every
//! round depends on the message only in the last one and nonces never
//! outlive the signing run (each round's state is consumed by the next).

use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::scalar::IsHigh;
use k256::{ProjectivePoint, Scalar};
use subtle::ConstantTimeEq;
use zeroize::ZeroizeOnDrop;

use super::consumed::{MemoryLog, SessionLog};
use super::dkg::KeyShare;
use super::encoding::{
    check_distinct, peer_point, point_to_bytes, random_bytes, random_scalar, reduce32,
    scalar_from_bytes, scalar_to_bytes,
};
use super::frost::{KeyAdjust, lagrange_at_zero};
use super::vole::{self, AliceMsg, Bob, PairKeys, hash};
use super::{Identifier, SecretScalar, SignError};
use crate::block::Block;
use crate::net::handshake::SessionId;
use crate::ot::Delta;
use crate::ot::base::{BaseReceiver, BaseSender, ReceiverMsg, SenderMsg};
use crate::ot::kos::{KAPPA, KosReceiver, KosSender};
use crate::prg::Seed;

const TAG_SESSION: &[u8] = b"quorate/sign/dkls23/session/v1";
const TAG_COMMIT: &[u8] = b"quorate/sign/dkls23/commit/v1";
const TAG_VOLE: &[u8] = b"quorate/sign/dkls23/vole/v1";
const TAG_BASE: &str = "quorate/sign/dkls23/base-ot/v2";
const TAG_EXTEND: &[u8] = b"quorate/sign/dkls23/ot-setup-extend/v1";

fn entropy<E>(_: E) -> SignError {
    SignError::Parameters("the OS random generator failed".into())
}

/// A party's ECDSA key material: its key share and the base OTs toward
/// every other party.
#[derive(Clone, Debug)]
pub struct EcdsaKey {
    /// The Shamir share, group key, verification shares, epoch.
    pub share: KeyShare,
    pairs: Vec<(Identifier, Option<PairKeys>)>,
}

impl EcdsaKey {
    /// Key material from a key share and its pairs' base OTs.
    pub fn new(share: KeyShare, pairs: Vec<(Identifier, PairKeys)>) -> Result<Self, SignError> {
        let ids: Vec<Identifier> = pairs.iter().map(|(i, _)| *i).collect();
        check_distinct(&ids)?;
        if ids.contains(&share.identifier) {
            return Err(SignError::Participants(
                "a party has no base OTs with itself".into(),
            ));
        }
        Ok(EcdsaKey {
            share,
            pairs: pairs.into_iter().map(|(i, k)| (i, Some(k))).collect(),
        })
    }

    /// The stored form (secret: store it encrypted): the key share's, then
    /// the number of pairs and, for each, the peer, a byte (1 if discarded)
    /// and the pair's base-OT keys unless discarded.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.share.to_bytes();
        out.extend_from_slice(&(self.pairs.len() as u16).to_be_bytes());
        for (i, k) in &self.pairs {
            out.extend_from_slice(&i.get().to_be_bytes());
            match k {
                Some(k) => {
                    out.push(0);
                    out.extend_from_slice(&k.to_bytes());
                }
                None => out.push(1),
            }
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        let mut r = super::dkg::Reader::new(b, "ECDSA key");
        let share = KeyShare::read(&mut r)?;
        let n = usize::from(r.u16()?);
        if n + 1 != share.verification_shares.len() {
            return Err(SignError::Parameters(format!(
                "a stored ECDSA key has base OTs with {n} peers for {} parties",
                share.verification_shares.len()
            )));
        }
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let peer = Identifier::new(r.u16()?)?;
            if share.verification_share(peer).is_none() || peer == share.identifier {
                return Err(SignError::Parameters(format!(
                    "a stored ECDSA key has base OTs with party {}, which holds no share",
                    peer.get()
                )));
            }
            let keys = match r.take(1)?[0] {
                0 => Some(PairKeys::from_bytes(r.take(vole::PAIR_KEYS_BYTES)?)?),
                1 => None,
                _ => {
                    return Err(SignError::Malformed {
                        party: 0,
                        what: "ECDSA key",
                        kind: "pair flag",
                    });
                }
            };
            pairs.push((peer, keys));
        }
        r.end()?;
        let ids: Vec<Identifier> = pairs.iter().map(|(i, _)| *i).collect();
        check_distinct(&ids)?;
        Ok(EcdsaKey { share, pairs })
    }

    /// The peers this key has base OTs with, and whether each pair is
    /// discarded.
    pub fn pairs(&self) -> impl Iterator<Item = (Identifier, bool)> + '_ {
        self.pairs.iter().map(|(i, k)| (*i, k.is_none()))
    }

    /// The pair's base OTs as stored: `None` if discarded.
    pub fn pair_keys(&self, peer: Identifier) -> Option<&PairKeys> {
        self.pairs
            .iter()
            .find(|(i, _)| *i == peer)
            .and_then(|(_, k)| k.as_ref())
    }

    /// Whether a failed check discarded the base OTs with `peer`.
    pub fn is_discarded(&self, peer: Identifier) -> bool {
        self.pairs.iter().any(|(i, k)| *i == peer && k.is_none())
    }

    fn pair(&self, peer: Identifier) -> Result<&PairKeys, SignError> {
        match self.pairs.iter().find(|(i, _)| *i == peer) {
            Some((_, Some(k))) => Ok(k),
            Some((_, None)) => Err(SignError::Parameters(format!(
                "the base OTs with party {} were discarded after a failed check; \
                 run a key refresh before signing with it again",
                peer.get()
            ))),
            None => Err(SignError::Participants(format!(
                "no base OTs with party {}",
                peer.get()
            ))),
        }
    }

    /// Discards the pair's base OTs with `peer` for good: a signer node
    /// applies to its stored key what a failed check did to the working
    /// copy a session ran on.
    pub fn discard(&mut self, peer: Identifier) {
        for (i, k) in &mut self.pairs {
            if *i == peer {
                *k = None;
            }
        }
    }

    /// Discards the pair's base OTs if `e` is a failed check of that peer.
    fn discard_on(&mut self, e: &SignError, peer: Identifier) {
        if matches!(e, SignError::Culprit { culprit, .. } if *culprit == peer.get()) {
            for (i, k) in &mut self.pairs {
                if *i == peer {
                    *k = None;
                }
            }
        }
    }
}

/// Base OTs both ways with every peer, in two rounds, with one batch of
/// public-key OTs per pair instead of two. For the pair `{i, j}`, `i < j`:
/// 1. [`ot_setup`]: `i` is the base-OT receiver with choices `Δ_i` and `j`
///    the sender: `κ` Masny-Rindal OTs ([`crate::ot::base`]);
/// 2. [`OtSetup::extend`]: `j`, holding the `κ` seed pairs, runs one KOS
///    random-OT batch ([`crate::ot::kos`], one message with its
///    Fiat-Shamir consistency check) as the receiver with choices `Δ_j`;
/// 3. [`OtExtend::finish`]: `i`, the KOS sender keyed by `(Δ_i, chosen)`,
///    checks it and takes its `κ` outputs as seed pairs.
///
/// So `i` ends with `(Δ_i, chosen)` as Alice and the KOS pairs as Bob, and
/// `j` with the KOS outputs and `Δ_j` as Alice and the base-OT pairs as
/// Bob: random OTs both ways, the reverse one by extension (as in the
/// two-way setups of DKLs23's implementations and of SoftSpokenOT).
pub struct OtSetup {
    me: Identifier,
    session: [u8; 32],
    /// Toward peers above: base-OT receiver with choices `Δ`.
    receivers: Vec<(Identifier, BaseReceiver, Delta)>,
    /// Toward peers below: base-OT sender.
    senders: Vec<(Identifier, BaseSender)>,
}

impl std::fmt::Debug for OtSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtSetup")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// Round one of the setup, to one peer: the base-OT sender's message if
/// the sender's identifier is the larger, the receiver's otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtSetupMsg {
    /// Sender.
    pub from: Identifier,
    /// Recipient.
    pub to: Identifier,
    /// The base-OT message.
    pub body: OtSetupBody,
}

/// A base-OT message of either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtSetupBody {
    /// From the larger identifier: the base-OT sender's `A`.
    Sender(SenderMsg),
    /// From the smaller identifier: the base-OT receiver's points.
    Receiver(ReceiverMsg),
}

/// Round two of the setup, from the larger identifier to the smaller: the
/// KOS extension message of the reverse direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtExtendMsg {
    /// Sender (the larger identifier).
    pub from: Identifier,
    /// Recipient.
    pub to: Identifier,
    /// [`crate::ot::kos::KosReceiver::rot_one_message`]'s message.
    pub ext: Vec<u8>,
}

/// The base-OT session of the pair where `alice` holds `Δ`.
fn base_session(session: &[u8; 32], alice: Identifier, bob: Identifier) -> SessionId {
    SessionId::derive(
        TAG_BASE,
        &[
            session,
            &alice.get().to_be_bytes(),
            &bob.get().to_be_bytes(),
        ],
    )
}

/// The KOS instance of the setup's reverse direction keys on its base
/// seeds hashed under this tag, apart from every signing session's.
fn extend_seed(session: &SessionId, seed: Block) -> Seed {
    let d = hash(TAG_EXTEND, &[&session.0, &seed.to_bytes()]);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Seed::new(Block::from_bytes(b))
}

fn delta_bits(delta: &Delta) -> Vec<bool> {
    (0..KAPPA).map(|k| delta.expose().bit(k)).collect()
}

/// Round one of the setup between `me` and every other participant, in a
/// session all of them agree on (the key generation's).
pub fn ot_setup(
    me: Identifier,
    participants: &[Identifier],
    session: &[u8; 32],
) -> Result<(OtSetup, Vec<OtSetupMsg>), SignError> {
    check_distinct(participants)?;
    let param = |e: crate::ot::OtError| SignError::Parameters(e.to_string());
    let mut state = OtSetup {
        me,
        session: *session,
        senders: Vec::new(),
        receivers: Vec::new(),
    };
    let mut out = Vec::new();
    for &j in participants.iter().filter(|&&j| j != me) {
        let body = if me < j {
            let delta = Delta::random().map_err(param)?;
            let (r, rmsg) = BaseReceiver::new(&delta_bits(&delta), &base_session(session, me, j))
                .map_err(param)?;
            state.receivers.push((j, r, delta));
            OtSetupBody::Receiver(rmsg)
        } else {
            let (s, smsg) = BaseSender::new().map_err(param)?;
            state.senders.push((j, s));
            OtSetupBody::Sender(smsg)
        };
        out.push(OtSetupMsg {
            from: me,
            to: j,
            body,
        });
    }
    Ok((state, out))
}

/// After round one: the pairs toward peers above, waiting for their
/// extension messages.
pub struct OtExtend {
    me: Identifier,
    session: [u8; 32],
    /// Toward peers above: `Δ` and the chosen base-OT seeds.
    waiting: Vec<(Identifier, Delta, Vec<Seed>)>,
    /// Toward peers below: done.
    done: Vec<(Identifier, PairKeys)>,
}

impl std::fmt::Debug for OtExtend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtExtend")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl OtSetup {
    /// Round two: with one [`OtSetupMsg`] from every peer, finishes the
    /// base OTs and, toward each peer below, extends them the other way;
    /// returns the [`OtExtendMsg`]s for those peers.
    pub fn extend(self, msgs: &[OtSetupMsg]) -> Result<(OtExtend, Vec<OtExtendMsg>), SignError> {
        let OtSetup {
            me,
            session,
            senders,
            receivers,
        } = self;
        let routes: Vec<_> = msgs.iter().map(|m| (m.from, m.to)).collect();
        if msgs.len() != senders.len() + receivers.len() {
            return Err(SignError::Length {
                party: 0,
                what: "OT setup messages",
                expected: senders.len() + receivers.len(),
                got: msgs.len(),
            });
        }
        let culprit = |j: Identifier, e: crate::ot::OtError| SignError::Culprit {
            culprit: j.get(),
            reason: format!("its base OT message is invalid: {e}"),
        };
        let wrong_kind = |j: Identifier| SignError::Culprit {
            culprit: j.get(),
            reason: "sent the base-OT message of the wrong side".into(),
        };
        let mut waiting = Vec::new();
        for (j, r, delta) in receivers {
            let OtSetupBody::Sender(m) = &msgs[one_from(&routes, j, me)?].body else {
                return Err(wrong_kind(j));
            };
            let chosen = r
                .finish(
                    &base_session(&session, me, j),
                    m,
                    &format!("party {}", j.get()),
                )
                .map_err(|e| culprit(j, e))?;
            waiting.push((j, delta, chosen));
        }
        let mut done = Vec::new();
        let mut out = Vec::new();
        for (j, s) in senders {
            let OtSetupBody::Receiver(m) = &msgs[one_from(&routes, j, me)?].body else {
                return Err(wrong_kind(j));
            };
            if m.0.len() != KAPPA {
                return Err(SignError::Length {
                    party: j.get(),
                    what: "base OT receiver message",
                    expected: KAPPA,
                    got: m.0.len(),
                });
            }
            let base = base_session(&session, j, me);
            let peer = format!("party {}", j.get());
            let pairs = s.finish(&base, m, &peer).map_err(|e| culprit(j, e))?;
            let seeds: Vec<[Seed; 2]> = pairs
                .iter()
                .map(|[a, b]| {
                    [
                        extend_seed(&base, a.expose()),
                        extend_seed(&base, b.expose()),
                    ]
                })
                .collect();
            let delta = Delta::random().map_err(|e| SignError::Parameters(e.to_string()))?;
            let (ext, chosen) = KosReceiver::new(&seeds, &base, &peer)
                .rot_one_message(&delta_bits(&delta))
                .map_err(|e| SignError::Parameters(e.to_string()))?;
            let chosen: Vec<Seed> = chosen.expose().iter().map(|b| Seed::new(*b)).collect();
            done.push((j, PairKeys::new(&delta, &chosen, &pairs)?));
            out.push(OtExtendMsg {
                from: me,
                to: j,
                ext,
            });
        }
        Ok((
            OtExtend {
                me,
                session,
                waiting,
                done,
            },
            out,
        ))
    }
}

impl OtExtend {
    /// Round three: with the [`OtExtendMsg`] of every peer above, checks
    /// each extension (a failure names the peer) and returns every pair's
    /// keys.
    pub fn finish(self, msgs: &[OtExtendMsg]) -> Result<Vec<(Identifier, PairKeys)>, SignError> {
        let OtExtend {
            me,
            session,
            waiting,
            mut done,
        } = self;
        if msgs.len() != waiting.len() {
            return Err(SignError::Length {
                party: 0,
                what: "OT extension messages",
                expected: waiting.len(),
                got: msgs.len(),
            });
        }
        let routes: Vec<_> = msgs.iter().map(|m| (m.from, m.to)).collect();
        for (j, delta, chosen) in waiting {
            let m = &msgs[one_from(&routes, j, me)?];
            let base = base_session(&session, me, j);
            let seeds: Vec<Seed> = chosen
                .iter()
                .map(|c| extend_seed(&base, c.expose()))
                .collect();
            let peer = format!("party {}", j.get());
            let mut sender =
                KosSender::new(Delta::from_block(delta.expose()), &seeds, &base, &peer);
            let pairs = sender
                .rot_one_message(KAPPA, &m.ext)
                .map_err(|e| SignError::Culprit {
                    culprit: j.get(),
                    reason: format!("its OT extension of the setup failed: {e}"),
                })?;
            let pairs: Vec<[Seed; 2]> = pairs
                .iter()
                .map(|[a, b]| [Seed::new(*a), Seed::new(*b)])
                .collect();
            done.push((j, PairKeys::new(&delta, &chosen, &pairs)?));
        }
        done.sort_by_key(|(j, _)| *j);
        Ok(done)
    }
}

/// The index of the one message from `from` to `to`; an error if none or
/// several.
fn one_from(
    routes: &[(Identifier, Identifier)],
    from: Identifier,
    to: Identifier,
) -> Result<usize, SignError> {
    let mut found = routes
        .iter()
        .enumerate()
        .filter(|(_, (f, t))| *f == from && *t == to);
    match (found.next(), found.next()) {
        (Some((k, _)), None) => Ok(k),
        (None, _) => Err(SignError::Participants(format!(
            "no message from party {} to party {}",
            from.get(),
            to.get()
        ))),
        (Some(_), Some(_)) => Err(SignError::Culprit {
            culprit: from.get(),
            reason: "sent two messages in one round".into(),
        }),
    }
}

/// A signing session id from the group key, the key's epoch, the signer
/// set, the digest and a fresh nonce every signer is given by the caller.
pub fn session_id(
    group_key: &ProjectivePoint,
    epoch: u64,
    signers: &[Identifier],
    digest: &[u8; 32],
    nonce: &[u8; 32],
) -> Result<[u8; 32], SignError> {
    let mut sorted = signers.to_vec();
    sorted.sort();
    check_distinct(&sorted)?;
    if nonce.iter().all(|&b| b == 0) {
        return Err(SignError::Parameters(
            "the session nonce is all zero; use a fresh random one".into(),
        ));
    }
    let ids: Vec<u8> = sorted.iter().flat_map(|i| i.get().to_be_bytes()).collect();
    Ok(hash(
        TAG_SESSION,
        &[
            &point_to_bytes(group_key),
            &epoch.to_be_bytes(),
            &ids,
            digest,
            nonce,
        ],
    ))
}

/// What one signing run signs, and with whom.
#[derive(Clone, Debug)]
pub struct SignRequest {
    /// The signers (this party among them), at least the threshold.
    pub signers: Vec<Identifier>,
    /// A fresh random nonce the caller gives every signer; each signer
    /// computes the session id ([`session_id`]) from it and its own key,
    /// so signers holding different keys or epochs stop at round two.
    pub nonce: [u8; 32],
    /// The 32-byte message digest (ECDSA signs a digest).
    pub digest: [u8; 32],
    /// The key change (BIP-32 child), [`KeyAdjust::IDENTITY`] for the key
    /// itself.
    pub adjust: KeyAdjust,
}

/// A request with the session id this signer computed.
#[derive(Clone, Debug)]
struct Request {
    signers: Vec<Identifier>,
    session: [u8; 32],
    digest: [u8; 32],
    adjust: KeyAdjust,
}

/// Round one's message to one signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg1 {
    /// Sender.
    pub from: Identifier,
    /// Recipient.
    pub to: Identifier,
    /// The session id as the sender computed it.
    pub session: [u8; 32],
    /// The commitment to `R_from`.
    pub commitment: [u8; 32],
    /// The multiplication's first message (the sender is Bob).
    pub mult: Vec<u8>,
}

/// Round two's message to one signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg2 {
    /// Sender.
    pub from: Identifier,
    /// Recipient.
    pub to: Identifier,
    /// `R_from`.
    pub r_point: ProjectivePoint,
    /// The commitment's opening.
    pub opening: [u8; 32],
    /// `pk_from = sk_from·G`.
    pub pk: ProjectivePoint,
    /// The multiplication's second message (the sender is Alice).
    pub mult: AliceMsg,
    /// `Γ_u = c_u·G`.
    pub gamma_u: ProjectivePoint,
    /// `Γ_v = c_v·G`.
    pub gamma_v: ProjectivePoint,
    /// `ψ = φ_from − χ_from,to`.
    pub psi: Scalar,
}

/// Round three's message, to every signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg3 {
    /// Sender.
    pub from: Identifier,
    /// `u_from`.
    pub u: Scalar,
    /// `w_from`.
    pub w: Scalar,
}

impl Msg1 {
    /// Wire form: ids, session, commitment, then the multiplication bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(68 + self.mult.len());
        out.extend_from_slice(&self.from.get().to_be_bytes());
        out.extend_from_slice(&self.to.get().to_be_bytes());
        out.extend_from_slice(&self.session);
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(&self.mult);
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        if b.len() < 68 {
            return Err(SignError::Length {
                party: 0,
                what: "signing round 1 message (bytes)",
                expected: 68,
                got: b.len(),
            });
        }
        let id = |k: usize| Identifier::new(u16::from_be_bytes([b[k], b[k + 1]]));
        Ok(Msg1 {
            from: id(0)?,
            to: id(2)?,
            session: b[4..36].try_into().unwrap_or([0; 32]),
            commitment: b[36..68].try_into().unwrap_or([0; 32]),
            mult: b[68..].to_vec(),
        })
    }
}

impl Msg2 {
    /// Wire form: ids, `R`, opening, `pk`, `Γ_u`, `Γ_v`, `ψ`, then the
    /// multiplication message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(200 + vole::ALICE_MSG_BYTES);
        out.extend_from_slice(&self.from.get().to_be_bytes());
        out.extend_from_slice(&self.to.get().to_be_bytes());
        out.extend_from_slice(&point_to_bytes(&self.r_point));
        out.extend_from_slice(&self.opening);
        out.extend_from_slice(&point_to_bytes(&self.pk));
        out.extend_from_slice(&point_to_bytes(&self.gamma_u));
        out.extend_from_slice(&point_to_bytes(&self.gamma_v));
        out.extend_from_slice(&scalar_to_bytes(&self.psi));
        out.extend_from_slice(&self.mult.to_bytes());
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form; every point and scalar
    /// checked.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        const HEAD: usize = 4 + 33 + 32 + 33 * 3 + 32;
        if b.len() != HEAD + vole::ALICE_MSG_BYTES {
            return Err(SignError::Length {
                party: 0,
                what: "signing round 2 message (bytes)",
                expected: HEAD + vole::ALICE_MSG_BYTES,
                got: b.len(),
            });
        }
        let from = Identifier::new(u16::from_be_bytes([b[0], b[1]]))?;
        let to = Identifier::new(u16::from_be_bytes([b[2], b[3]]))?;
        let point = |at: usize, what| peer_point(from, what, &b[at..at + 33]);
        Ok(Msg2 {
            from,
            to,
            r_point: point(4, "nonce point R")?,
            opening: b[37..69].try_into().unwrap_or([0; 32]),
            pk: point(69, "key share point")?,
            gamma_u: point(102, "Γ_u")?,
            gamma_v: point(135, "Γ_v")?,
            psi: scalar_from_bytes(&b[168..200]).ok_or(SignError::Malformed {
                party: from.get(),
                what: "ψ",
                kind: "scalar",
            })?,
            mult: AliceMsg::from_bytes(from, &b[HEAD..])?,
        })
    }
}

impl Msg3 {
    /// Wire form: id, `u`, `w` (66 bytes).
    pub fn to_bytes(&self) -> [u8; 66] {
        let mut out = [0u8; 66];
        out[..2].copy_from_slice(&self.from.get().to_be_bytes());
        out[2..34].copy_from_slice(&scalar_to_bytes(&self.u));
        out[34..].copy_from_slice(&scalar_to_bytes(&self.w));
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        if b.len() != 66 {
            return Err(SignError::Length {
                party: 0,
                what: "signing round 3 message (bytes)",
                expected: 66,
                got: b.len(),
            });
        }
        let from = Identifier::new(u16::from_be_bytes([b[0], b[1]]))?;
        let scalar = |r: std::ops::Range<usize>| {
            scalar_from_bytes(&b[r]).ok_or(SignError::Malformed {
                party: from.get(),
                what: "signing round 3 message",
                kind: "scalar",
            })
        };
        Ok(Msg3 {
            from,
            u: scalar(2..34)?,
            w: scalar(34..66)?,
        })
    }
}

/// The multiplication session of the pair where `alice` inputs `(r, sk)`.
fn vole_session(session: &[u8; 32], alice: Identifier, bob: Identifier) -> [u8; 32] {
    hash(
        TAG_VOLE,
        &[
            session,
            &alice.get().to_be_bytes(),
            &bob.get().to_be_bytes(),
        ],
    )
}

fn commitment(
    session: &[u8; 32],
    from: Identifier,
    r: &ProjectivePoint,
    opening: &[u8],
) -> [u8; 32] {
    hash(
        TAG_COMMIT,
        &[
            session,
            &from.get().to_be_bytes(),
            &point_to_bytes(r),
            opening,
        ],
    )
}

/// The state after round one. Holds the nonce: consumed by round two.
#[derive(ZeroizeOnDrop)]
pub struct Round1 {
    #[zeroize(skip)]
    me: Identifier,
    #[zeroize(skip)]
    request: Request,
    #[zeroize(skip)]
    group_key: ProjectivePoint,
    r: Scalar,
    phi: Scalar,
    #[zeroize(skip)]
    r_point: ProjectivePoint,
    opening: [u8; 32],
    #[zeroize(skip)]
    bobs: Vec<(Identifier, Bob)>,
}

impl std::fmt::Debug for Round1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Round1")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

fn others(signers: &[Identifier], me: Identifier) -> impl Iterator<Item = Identifier> + '_ {
    signers.iter().copied().filter(move |&j| j != me)
}

/// Round one: draws the nonce share and the mask, commits, and starts a
/// multiplication as Bob with every other signer.
pub fn start(
    key: &EcdsaKey,
    request: SignRequest,
    log: &mut dyn SessionLog,
) -> Result<(Round1, Vec<Msg1>), SignError> {
    let me = key.share.identifier;
    let mut signers = request.signers;
    signers.sort();
    let request = Request {
        session: session_id(
            &key.share.group_key,
            key.share.epoch,
            &signers,
            &request.digest,
            &request.nonce,
        )?,
        signers,
        digest: request.digest,
        adjust: request.adjust,
    };
    if !request.signers.contains(&me) {
        return Err(SignError::Participants(format!(
            "party {} is not among the signers",
            me.get()
        )));
    }
    if request.signers.len() < usize::from(key.share.threshold) {
        return Err(SignError::Participants(format!(
            "{} signers for a key that needs {}",
            request.signers.len(),
            key.share.threshold
        )));
    }
    for j in &request.signers {
        if key.share.verification_share(*j).is_none() {
            return Err(SignError::Participants(format!(
                "party {} holds no share of this key",
                j.get()
            )));
        }
    }
    // Consumed before any secret or base OT is used, whatever follows.
    log.consume(&request.session)?;
    let r = random_scalar().map_err(entropy)?;
    let phi = random_scalar().map_err(entropy)?;
    let opening = random_bytes().map_err(entropy)?;
    let r_point = ProjectivePoint::mul_by_generator(&r);
    let com = commitment(&request.session, me, &r_point, &opening);
    let mut bobs = Vec::new();
    let mut out = Vec::new();
    for j in others(&request.signers, me) {
        let (bob, mult) = Bob::start(key.pair(j)?, &vole_session(&request.session, j, me), j)?;
        bobs.push((j, bob));
        out.push(Msg1 {
            from: me,
            to: j,
            session: request.session,
            commitment: com,
            mult,
        });
    }
    Ok((
        Round1 {
            me,
            group_key: key.share.group_key,
            request,
            r,
            phi,
            r_point,
            opening,
            bobs,
        },
        out,
    ))
}

/// The state after round two.
#[derive(ZeroizeOnDrop)]
pub struct Round2 {
    #[zeroize(skip)]
    me: Identifier,
    #[zeroize(skip)]
    request: Request,
    #[zeroize(skip)]
    group_key: ProjectivePoint,
    r: Scalar,
    phi: Scalar,
    sk: Scalar,
    #[zeroize(skip)]
    r_point: ProjectivePoint,
    #[zeroize(skip)]
    commitments: Vec<(Identifier, [u8; 32])>,
    #[zeroize(skip)]
    bobs: Vec<(Identifier, Bob)>,
    /// `(c_u, c_v)` of each multiplication as Alice.
    c: Vec<(Scalar, Scalar)>,
}

impl std::fmt::Debug for Round2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Round2")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// `λ_i · (factor·s_i + offset)`: signer `i`'s additive share over the set.
fn additive_share(
    signers: &[Identifier],
    id: Identifier,
    adjust: &KeyAdjust,
    secret: &SecretScalar,
) -> Result<Scalar, SignError> {
    Ok(lagrange_at_zero(signers, id)? * adjust.share(secret).expose())
}

impl Round1 {
    /// Round two: one message from every other signer in; this party's
    /// messages out.
    pub fn round2(
        self,
        key: &mut EcdsaKey,
        msgs: &[Msg1],
    ) -> Result<(Round2, Vec<Msg2>), SignError> {
        if key.share.group_key != self.group_key || key.share.identifier != self.me {
            return Err(SignError::Parameters(
                "a different key than round one's".into(),
            ));
        }
        let me = self.me;
        let routes: Vec<_> = msgs.iter().map(|m| (m.from, m.to)).collect();
        let mut commitments = Vec::new();
        let mut alice_in = Vec::new();
        for j in others(&self.request.signers, me) {
            let m = &msgs[one_from(&routes, j, me)?];
            if !bool::from(m.session.ct_eq(&self.request.session)) {
                return Err(SignError::Culprit {
                    culprit: j.get(),
                    reason: "its session id differs from ours".into(),
                });
            }
            commitments.push((j, m.commitment));
            alice_in.push((j, &m.mult));
        }
        if msgs.len() != alice_in.len() {
            return Err(SignError::Length {
                party: 0,
                what: "round 1 messages",
                expected: alice_in.len(),
                got: msgs.len(),
            });
        }
        let sk = additive_share(
            &self.request.signers,
            me,
            &self.request.adjust,
            &key.share.secret,
        )?;
        let pk = ProjectivePoint::mul_by_generator(&sk);
        let mut out = Vec::new();
        let mut c = Vec::new();
        for (j, mult) in alice_in {
            let session = vole_session(&self.request.session, me, j);
            let result = key
                .pair(j)
                .and_then(|keys| vole::alice(keys, &session, j, mult, &[self.r, sk]));
            let (cj, amsg) = match result {
                Ok(x) => x,
                Err(e) => {
                    key.discard_on(&e, j);
                    return Err(e);
                }
            };
            let chi = self
                .bobs
                .iter()
                .find(|(b, _)| *b == j)
                .map(|(_, bob)| bob.input())
                .ok_or_else(|| {
                    SignError::Participants(format!("no multiplication with {}", j.get()))
                })?;
            out.push(Msg2 {
                from: me,
                to: j,
                r_point: self.r_point,
                opening: self.opening,
                pk,
                mult: amsg,
                gamma_u: ProjectivePoint::mul_by_generator(&cj[0]),
                gamma_v: ProjectivePoint::mul_by_generator(&cj[1]),
                psi: self.phi - chi,
            });
            c.push((cj[0], cj[1]));
        }
        let mut this = self;
        let bobs = std::mem::take(&mut this.bobs);
        Ok((
            Round2 {
                me,
                request: this.request.clone(),
                group_key: this.group_key,
                r: this.r,
                phi: this.phi,
                sk,
                r_point: this.r_point,
                commitments,
                bobs,
                c,
            },
            out,
        ))
    }
}

/// The state after round three: what the signature is checked against.
#[derive(Debug)]
pub struct Round3 {
    me: Identifier,
    signers: Vec<Identifier>,
    digest: [u8; 32],
    public_key: ProjectivePoint,
    big_r: ProjectivePoint,
    own: Msg3,
}

/// `x(R) mod q` and whether `x(R) ≥ q` (for the recovery id).
fn x_mod_q(r: &ProjectivePoint) -> (Scalar, bool) {
    let x: [u8; 32] = super::frost::x_only(r);
    let reduced = reduce32(&x);
    (reduced, scalar_to_bytes(&reduced) != x)
}

impl Round2 {
    /// Round three: checks every signer's round-two message and returns
    /// this party's `(u_i, w_i)` for everyone.
    pub fn round3(
        mut self,
        key: &mut EcdsaKey,
        msgs: &[Msg2],
    ) -> Result<(Round3, Msg3), SignError> {
        let me = self.me;
        let routes: Vec<_> = msgs.iter().map(|m| (m.from, m.to)).collect();
        let expected = self.request.signers.len() - 1;
        if msgs.len() != expected {
            return Err(SignError::Length {
                party: 0,
                what: "round 2 messages",
                expected,
                got: msgs.len(),
            });
        }
        let adjust = self.request.adjust;
        let mut big_r = self.r_point;
        let mut psi_sum = self.phi;
        let mut u_cross = Scalar::ZERO;
        let mut v_cross = Scalar::ZERO;
        let bobs = std::mem::take(&mut self.bobs);
        for ((j, bob), (cu, cv)) in bobs.into_iter().zip(self.c.iter()) {
            let m = &msgs[one_from(&routes, j, me)?];
            let culprit = |reason: &str| SignError::Culprit {
                culprit: j.get(),
                reason: reason.into(),
            };
            let com = self
                .commitments
                .iter()
                .find(|(i, _)| *i == j)
                .map(|(_, c)| *c)
                .ok_or_else(|| culprit("sent no commitment"))?;
            if !bool::from(commitment(&self.request.session, j, &m.r_point, &m.opening).ct_eq(&com))
            {
                return Err(culprit("its nonce point does not open its commitment"));
            }
            let y_j = key.share.verification_share(j).ok_or_else(|| {
                SignError::Participants(format!("no verification share for {}", j.get()))
            })?;
            let lambda = lagrange_at_zero(&self.request.signers, j)?;
            if m.pk != adjust.point(&y_j) * lambda {
                return Err(culprit(
                    "its key share point does not match its verification share",
                ));
            }
            let chi = bob.input();
            let d = match bob.finish(&m.mult) {
                Ok(d) => d,
                Err(e) => {
                    key.discard_on(&e, j);
                    return Err(e);
                }
            };
            if ProjectivePoint::mul_by_generator(&d[0]) + m.gamma_u != m.r_point * chi {
                return Err(culprit(
                    "its nonce product is inconsistent with its nonce point",
                ));
            }
            if ProjectivePoint::mul_by_generator(&d[1]) + m.gamma_v != m.pk * chi {
                return Err(culprit(
                    "its key product is inconsistent with its key share point",
                ));
            }
            big_r += m.r_point;
            psi_sum += m.psi;
            u_cross += cu + d[0];
            v_cross += cv + d[1];
        }
        if bool::from(big_r.is_identity()) {
            return Err(SignError::InvalidSignature);
        }
        let (r_x, _) = x_mod_q(&big_r);
        let u = self.r * psi_sum + u_cross;
        let v = self.sk * psi_sum + v_cross;
        // H(m): the 32-byte digest as an integer mod q (no truncation at
        // this length).
        let w = reduce32(&self.request.digest) * self.phi + r_x * v;
        let own = Msg3 { from: me, u, w };
        let public_key = adjust.point(&self.group_key);
        Ok((
            Round3 {
                me,
                signers: self.request.signers.clone(),
                digest: self.request.digest,
                public_key,
                big_r,
                own,
            },
            own,
        ))
    }
}

/// A finished ECDSA signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature {
    /// `r || s`, low-s.
    pub bytes: [u8; 64],
    /// The recovery id (0..=3): bit 0 the parity of `R`'s y, bit 1 set if
    /// `x(R) ≥ q`.
    pub recovery_id: u8,
    /// The key it verifies under (SEC1 compressed).
    pub public_key: [u8; 33],
}

impl Round3 {
    /// Combines every signer's `(u, w)` into the signature, made low-s and
    /// verified with k256's ECDSA verifier before it is returned. A
    /// signature that does not verify is an error and nothing is released;
    /// do not retry with the same key material before finding the cause.
    pub fn finish(self, msgs: &[Msg3]) -> Result<EcdsaSignature, SignError> {
        // Round three is a broadcast: every message is addressed to us.
        let routes: Vec<_> = msgs.iter().map(|m| (m.from, self.me)).collect();
        let mut all = vec![self.own];
        for j in others(&self.signers, self.me) {
            all.push(msgs[one_from(&routes, j, self.me)?]);
        }
        if msgs.len() + 1 != all.len() {
            return Err(SignError::Length {
                party: 0,
                what: "round 3 messages",
                expected: all.len() - 1,
                got: msgs.len(),
            });
        }
        let u = all.iter().fold(Scalar::ZERO, |acc, m| acc + m.u);
        let w = all.iter().fold(Scalar::ZERO, |acc, m| acc + m.w);
        let u_inv = Option::<Scalar>::from(u.invert()).ok_or(SignError::InvalidSignature)?;
        let s = w * u_inv;
        let (r, x_reduced) = x_mod_q(&self.big_r);
        let odd = super::frost::has_odd_y(&self.big_r);
        let high = bool::from(s.is_high());
        let s = if high { -s } else { s };
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&scalar_to_bytes(&r));
        bytes[32..].copy_from_slice(&scalar_to_bytes(&s));
        let recovery_id = u8::from(odd ^ high) | (u8::from(x_reduced) << 1);
        let public_key = point_to_bytes(&self.public_key);
        if !verify(&public_key, &self.digest, &bytes, true) {
            return Err(SignError::InvalidSignature);
        }
        Ok(EcdsaSignature {
            bytes,
            recovery_id,
            public_key,
        })
    }
}

/// The standard ECDSA verifier (k256's) on a 32-byte digest: `public_key`
/// SEC1 (compressed or not), `sig` as `r || s`. With `low_s`, a high `s`
/// is refused (Bitcoin's and Ethereum's rule). Every threshold signature
/// passes through here before it is released.
pub fn verify(public_key: &[u8], digest: &[u8; 32], sig: &[u8], low_s: bool) -> bool {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let Ok(key) = VerifyingKey::from_sec1_bytes(public_key) else {
        return false;
    };
    let Ok(sig) = K256Signature::from_slice(sig) else {
        return false;
    };
    // k256 accepts only low s; without the rule, (r, s) and (r, -s) are
    // the same signature.
    let normalized = sig.normalize_s();
    if low_s && normalized != sig {
        return false;
    }
    key.verify_prehash(digest, &normalized).is_ok()
}

/// [`verify`] for a DER-encoded signature (strict DER: BER variants,
/// extra bytes and negative or padded integers are refused), as Bitcoin
/// transactions carry them.
pub fn verify_der(public_key: &[u8], digest: &[u8; 32], der: &[u8], low_s: bool) -> bool {
    match K256Signature::from_der(der) {
        Ok(sig) => verify(public_key, digest, &sig.to_bytes(), low_s),
        Err(_) => false,
    }
}

/// The key that `sig` with `recovery_id` recovers to, SEC1 compressed (as
/// Ethereum's `ecrecover` does), if any.
pub fn recover(digest: &[u8; 32], sig: &[u8; 64], recovery_id: u8) -> Option<[u8; 33]> {
    let sig = K256Signature::from_slice(sig).ok()?;
    let id = RecoveryId::from_byte(recovery_id)?;
    let key = VerifyingKey::recover_from_prehash(digest, &sig, id).ok()?;
    let enc = key.to_sec1_bytes();
    enc.as_ref().try_into().ok()
}

/// The OT setup's session for a sharing: its group key and epoch.
pub fn ot_setup_session(share: &KeyShare) -> [u8; 32] {
    hash(
        b"quorate/sign/dkls23/ot-setup/v1",
        &[
            &point_to_bytes(&share.group_key),
            &share.epoch.to_be_bytes(),
        ],
    )
}

/// Runs key generation and the base-OT setup for `n` parties in memory
/// (tests, benchmarks and the one-process CLI).
pub fn keygen_local(t: u16, n: u16, epoch: u64) -> Result<Vec<EcdsaKey>, SignError> {
    pairs_local(super::dkg::run_local(t, n, epoch)?)
}

/// The base-OT setup among the holders of `shares` (one sharing), in
/// memory: after key generation, and after a refresh or resharing, which
/// replace every pair's base OTs (including any discarded after a failed
/// check).
pub fn pairs_local(shares: Vec<KeyShare>) -> Result<Vec<EcdsaKey>, SignError> {
    let first = shares
        .first()
        .ok_or_else(|| SignError::Parameters("no key shares".into()))?;
    let ids: Vec<Identifier> = shares.iter().map(|s| s.identifier).collect();
    let mut session = [0u8; 32];
    session.copy_from_slice(&hash(
        b"quorate/sign/dkls23/ot-setup/v1",
        &[
            &point_to_bytes(&first.group_key),
            &first.epoch.to_be_bytes(),
        ],
    ));
    let mut states = Vec::new();
    let mut msgs = Vec::new();
    for id in &ids {
        let (s, m) = ot_setup(*id, &ids, &session)?;
        states.push(s);
        msgs.extend(m);
    }
    let mut extending = Vec::new();
    let mut ext = Vec::new();
    for (state, id) in states.into_iter().zip(&ids) {
        let mine: Vec<OtSetupMsg> = msgs.iter().filter(|m| m.to == *id).cloned().collect();
        let (s, m) = state.extend(&mine)?;
        extending.push(s);
        ext.extend(m);
    }
    let mut out = Vec::new();
    for (state, share) in extending.into_iter().zip(shares) {
        let mine: Vec<OtExtendMsg> = ext
            .iter()
            .filter(|m| m.to == share.identifier)
            .cloned()
            .collect();
        out.push(EcdsaKey::new(share, state.finish(&mine)?)?);
    }
    Ok(out)
}

/// Runs a whole signing among `signers` (indices into `keys`) in memory,
/// with a fresh nonce drawn here (so the session is new: each signer's log
/// is in memory).
pub fn sign_local(
    keys: &mut [EcdsaKey],
    signers: &[usize],
    digest: &[u8; 32],
    adjust: KeyAdjust,
) -> Result<EcdsaSignature, SignError> {
    let mut mem: Vec<MemoryLog> = signers.iter().map(|_| MemoryLog::default()).collect();
    let mut logs: Vec<&mut dyn SessionLog> =
        mem.iter_mut().map(|m| m as &mut dyn SessionLog).collect();
    sign_local_logged(keys, signers, digest, adjust, &mut logs)
}

/// [`sign_local`] with each signer's [`SessionLog`] (in `signers`' order),
/// for callers that keep durable logs.
pub fn sign_local_logged(
    keys: &mut [EcdsaKey],
    signers: &[usize],
    digest: &[u8; 32],
    adjust: KeyAdjust,
    logs: &mut [&mut dyn SessionLog],
) -> Result<EcdsaSignature, SignError> {
    if logs.len() != signers.len() {
        return Err(SignError::Parameters(
            "one session log per signer is needed".into(),
        ));
    }
    let ids: Vec<Identifier> = signers.iter().map(|&k| keys[k].share.identifier).collect();
    let nonce = random_bytes().map_err(entropy)?;
    let request = SignRequest {
        signers: ids.clone(),
        nonce,
        digest: *digest,
        adjust,
    };
    let mut r1 = Vec::new();
    let mut m1 = Vec::new();
    for (&k, log) in signers.iter().zip(logs.iter_mut()) {
        let (s, m) = start(&keys[k], request.clone(), &mut **log)?;
        r1.push(s);
        m1.extend(m);
    }
    let mut r2 = Vec::new();
    let mut m2 = Vec::new();
    for (s, &k) in r1.into_iter().zip(signers) {
        let me = keys[k].share.identifier;
        let mine: Vec<Msg1> = m1.iter().filter(|m| m.to == me).cloned().collect();
        let (s, m) = s.round2(&mut keys[k], &mine)?;
        r2.push(s);
        m2.extend(m);
    }
    let mut r3 = Vec::new();
    let mut m3 = Vec::new();
    for (s, &k) in r2.into_iter().zip(signers) {
        let me = keys[k].share.identifier;
        let mine: Vec<Msg2> = m2.iter().filter(|m| m.to == me).cloned().collect();
        let (s, m) = s.round3(&mut keys[k], &mine)?;
        r3.push(s);
        m3.push(m);
    }
    let mut sig = None;
    for s in r3 {
        let me = s.me;
        let others: Vec<Msg3> = m3.iter().filter(|m| m.from != me).copied().collect();
        let got = s.finish(&others)?;
        if sig.is_some_and(|x| x != got) {
            return Err(SignError::InvalidSignature);
        }
        sig = Some(got);
    }
    sig.ok_or_else(|| SignError::Participants("no signers".into()))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn any_t_of_n_signs_and_verifies() {
        for (t, n) in [(2u16, 2u16), (2, 3), (3, 5)] {
            let mut keys = keygen_local(t, n, 0).unwrap();
            let pk = point_to_bytes(&keys[0].share.group_key);
            let sets: Vec<Vec<usize>> = match n {
                2 => vec![vec![0, 1]],
                3 => vec![vec![0, 1], vec![2, 0], vec![0, 1, 2]],
                _ => vec![vec![4, 0, 2], vec![1, 2, 3, 4]],
            };
            for set in sets {
                let digest: [u8; 32] = Sha256::digest(format!("{t}-of-{n} {set:?}")).into();
                let sig = sign_local(&mut keys, &set, &digest, KeyAdjust::IDENTITY).unwrap();
                assert_eq!(sig.public_key, pk);
                assert!(verify(&pk, &digest, &sig.bytes, true));
                assert_eq!(recover(&digest, &sig.bytes, sig.recovery_id), Some(pk));
                let other: [u8; 32] = Sha256::digest(b"other").into();
                assert!(!verify(&pk, &other, &sig.bytes, true));
            }
        }
    }

    #[test]
    fn too_few_signers_or_strangers_are_refused() {
        let mut keys = keygen_local(3, 4, 0).unwrap();
        let d = [7u8; 32];
        assert!(matches!(
            sign_local(&mut keys, &[0, 1], &d, KeyAdjust::IDENTITY),
            Err(SignError::Participants(_))
        ));
        assert!(
            session_id(
                &keys[0].share.group_key,
                0,
                &[keys[0].share.identifier],
                &d,
                &[0; 32]
            )
            .is_err()
        );
    }

    type Tamper1 = dyn Fn(&mut Vec<Msg1>);
    type Tamper2 = dyn Fn(&mut Vec<Msg2>);
    type Tamper3 = dyn Fn(&mut Vec<Msg3>);

    /// A 2-of-3 signing by parties 1 and 2 where messages can be changed
    /// in flight; returns the first error any signer reports (or the
    /// signature) and the keys afterwards.
    fn tampered(
        t1: &Tamper1,
        t2: &Tamper2,
        t3: &Tamper3,
    ) -> (Result<EcdsaSignature, SignError>, Vec<EcdsaKey>) {
        let mut keys = keygen_local(2, 3, 0).unwrap();
        let r = run(&mut keys, t1, t2, t3);
        (r, keys)
    }

    fn run(
        keys: &mut [EcdsaKey],
        t1: &Tamper1,
        t2: &Tamper2,
        t3: &Tamper3,
    ) -> Result<EcdsaSignature, SignError> {
        let signers = [0usize, 1];
        let ids: Vec<Identifier> = signers.iter().map(|&k| keys[k].share.identifier).collect();
        let digest = [9u8; 32];
        let request = SignRequest {
            signers: ids,
            nonce: [1; 32],
            digest,
            adjust: KeyAdjust::IDENTITY,
        };
        let (mut r1, mut m1) = (Vec::new(), Vec::new());
        for &k in &signers {
            let (s, m) = start(&keys[k], request.clone(), &mut MemoryLog::default())?;
            r1.push(s);
            m1.extend(m);
        }
        t1(&mut m1);
        let (mut r2, mut m2) = (Vec::new(), Vec::new());
        for (s, &k) in r1.into_iter().zip(&signers) {
            let me = keys[k].share.identifier;
            let mine: Vec<Msg1> = m1.iter().filter(|m| m.to == me).cloned().collect();
            let (s, m) = s.round2(&mut keys[k], &mine)?;
            r2.push(s);
            m2.extend(m);
        }
        t2(&mut m2);
        let (mut r3, mut m3) = (Vec::new(), Vec::new());
        for (s, &k) in r2.into_iter().zip(&signers) {
            let me = keys[k].share.identifier;
            let mine: Vec<Msg2> = m2.iter().filter(|m| m.to == me).cloned().collect();
            let (s, m) = s.round3(&mut keys[k], &mine)?;
            r3.push(s);
            m3.push(m);
        }
        t3(&mut m3);
        let mut last = None;
        for s in r3 {
            let me = s.me;
            let others: Vec<Msg3> = m3.iter().filter(|m| m.from != me).copied().collect();
            last = Some(s.finish(&others)?);
        }
        last.ok_or(SignError::InvalidSignature)
    }

    fn culprit(r: &Result<EcdsaSignature, SignError>) -> u16 {
        match r {
            Err(SignError::Culprit { culprit, .. }) => *culprit,
            other => panic!("expected a named culprit, got {other:?}"),
        }
    }

    #[test]
    fn untampered_runs_sign() {
        let (r, _) = tampered(&|_| {}, &|_| {}, &|_| {});
        r.unwrap();
    }

    #[test]
    fn a_different_session_id_is_refused() {
        let (r, _) = tampered(&|m| m[0].session[0] ^= 1, &|_| {}, &|_| {});
        assert_eq!(culprit(&r), 1);
    }

    #[test]
    fn a_tampered_ot_message_names_the_sender_and_discards_the_pair() {
        let (r, mut keys) = tampered(&|m| m[0].mult[100] ^= 1, &|_| {}, &|_| {});
        assert_eq!(culprit(&r), 1);
        let one = Identifier::new(1).unwrap();
        assert!(keys[1].is_discarded(one));
        assert!(!keys[0].is_discarded(Identifier::new(2).unwrap()));
        // The discarded pair is never used again.
        let again = sign_local(&mut keys, &[0, 1], &[1; 32], KeyAdjust::IDENTITY);
        assert!(matches!(again, Err(SignError::Parameters(_))), "{again:?}");
        // Other pairs still sign.
        sign_local(&mut keys, &[0, 2], &[1; 32], KeyAdjust::IDENTITY).unwrap();
    }

    #[test]
    fn a_nonce_point_that_does_not_open_its_commitment_is_refused() {
        let (r, _) = tampered(
            &|_| {},
            &|m| m[0].r_point += ProjectivePoint::GENERATOR,
            &|_| {},
        );
        assert_eq!(culprit(&r), 1);
    }

    #[test]
    fn a_key_share_point_off_its_verification_share_is_refused() {
        let (r, _) = tampered(&|_| {}, &|m| m[1].pk += ProjectivePoint::GENERATOR, &|_| {});
        assert_eq!(culprit(&r), 2);
    }

    #[test]
    fn a_cheating_multiplication_names_alice_and_discards_the_pair() {
        let (r, keys) = tampered(&|_| {}, &|m| m[0].mult.tau[3][1] += Scalar::ONE, &|_| {});
        assert_eq!(culprit(&r), 1);
        assert!(keys[1].is_discarded(Identifier::new(1).unwrap()));
    }

    #[test]
    fn products_inconsistent_with_the_public_points_are_refused() {
        let (r, _) = tampered(
            &|_| {},
            &|m| m[0].gamma_u += ProjectivePoint::GENERATOR,
            &|_| {},
        );
        assert_eq!(culprit(&r), 1);
        let (r, _) = tampered(
            &|_| {},
            &|m| m[1].gamma_v += ProjectivePoint::GENERATOR,
            &|_| {},
        );
        assert_eq!(culprit(&r), 2);
    }

    #[test]
    fn a_changed_input_in_the_multiplication_is_caught() {
        // Alice changes γ: Bob's product then misses the public point check.
        let (r, _) = tampered(&|_| {}, &|m| m[0].mult.gamma[0] += Scalar::ONE, &|_| {});
        assert_eq!(culprit(&r), 1);
    }

    #[test]
    fn a_bad_final_share_releases_nothing() {
        let (r, _) = tampered(&|_| {}, &|_| {}, &|m| m[0].w += Scalar::ONE);
        assert_eq!(r, Err(SignError::InvalidSignature));
        let (r, _) = tampered(&|_| {}, &|m| m[1].psi += Scalar::ONE, &|_| {});
        assert_eq!(r, Err(SignError::InvalidSignature));
    }

    #[test]
    fn a_repeated_message_is_refused() {
        let (r, _) = tampered(
            &|m| {
                let dup = m[0].clone();
                m.push(dup)
            },
            &|_| {},
            &|_| {},
        );
        assert_eq!(culprit(&r), 1);
    }

    #[test]
    fn keys_round_trip_their_stored_form() {
        let (_, keys) = tampered(&|m| m[0].mult[100] ^= 1, &|_| {}, &|_| {});
        for k in &keys {
            let b = k.to_bytes();
            let back = EcdsaKey::from_bytes(&b).unwrap();
            assert_eq!(back.to_bytes(), b);
            assert_eq!(back.share.group_key, k.share.group_key);
            for (i, d) in k.pairs() {
                assert_eq!(back.is_discarded(i), d);
            }
            // Truncated or extended, never a panic, always an error.
            for cut in [0, 1, 50, b.len() / 2, b.len() - 1] {
                assert!(EcdsaKey::from_bytes(&b[..cut]).is_err());
            }
            let mut longer = b.clone();
            longer.push(0);
            assert!(EcdsaKey::from_bytes(&longer).is_err());
        }
        // A share that does not match its verification share is refused.
        let mut b = keys[0].share.to_bytes();
        b[3 + 31] ^= 1;
        assert!(KeyShare::from_bytes(&b).is_err());
    }

    #[test]
    fn messages_round_trip_their_wire_forms() {
        let keys = keygen_local(2, 2, 0).unwrap();
        let ids: Vec<Identifier> = keys.iter().map(|k| k.share.identifier).collect();
        let request = SignRequest {
            nonce: [4; 32],
            signers: ids,
            digest: [3; 32],
            adjust: KeyAdjust::IDENTITY,
        };
        let (_, m) = start(&keys[0], request, &mut MemoryLog::default()).unwrap();
        assert_eq!(Msg1::from_bytes(&m[0].to_bytes()).unwrap(), m[0]);
        assert!(Msg1::from_bytes(&m[0].to_bytes()[..60]).is_err());
        let m3 = Msg3 {
            from: Identifier::new(2).unwrap(),
            u: Scalar::ONE,
            w: Scalar::from(5u64),
        };
        assert_eq!(Msg3::from_bytes(&m3.to_bytes()).unwrap(), m3);
        let mut bad = m3.to_bytes();
        bad[2..34].copy_from_slice(&[0xff; 32]);
        assert!(Msg3::from_bytes(&bad).is_err());
    }

    /// The two-round OT setup among parties 1..=3 with the extension
    /// messages changed in flight; party 1's result (it receives from 2
    /// and 3).
    fn setup_tampered(
        t1: &dyn Fn(&mut Vec<OtSetupMsg>),
        t2: &dyn Fn(&mut Vec<OtExtendMsg>),
    ) -> Result<Vec<(Identifier, PairKeys)>, SignError> {
        let ids: Vec<Identifier> = (1..=3).map(|i| Identifier::new(i).unwrap()).collect();
        let session = [6u8; 32];
        let mut states = Vec::new();
        let mut m1 = Vec::new();
        for id in &ids {
            let (s, m) = ot_setup(*id, &ids, &session).unwrap();
            states.push(s);
            m1.extend(m);
        }
        t1(&mut m1);
        let mut ext = Vec::new();
        let mut first = None;
        for (s, id) in states.into_iter().zip(&ids) {
            let mine: Vec<OtSetupMsg> = m1.iter().filter(|m| m.to == *id).cloned().collect();
            let (st, m) = s.extend(&mine)?;
            ext.extend(m);
            if first.is_none() {
                first = Some(st);
            }
        }
        t2(&mut ext);
        let mine: Vec<OtExtendMsg> = ext.into_iter().filter(|m| m.to == ids[0]).collect();
        first.unwrap().finish(&mine)
    }

    #[test]
    fn the_ot_setup_names_a_peer_whose_extension_or_base_message_is_bad() {
        let ok = setup_tampered(&|_| {}, &|_| {}).unwrap();
        assert_eq!(ok.len(), 2);
        let e = setup_tampered(&|_| {}, &|m| {
            let k = m.iter().position(|m| m.from.get() == 3).unwrap();
            m[k].ext[20] ^= 1;
        })
        .unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 3, .. }), "{e:?}");
        let e = setup_tampered(&|_| {}, &|m| {
            let k = m.iter().position(|m| m.from.get() == 2).unwrap();
            m[k].ext.truncate(100);
        })
        .unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 2, .. }), "{e:?}");
        // Party 2 sends party 1 a receiver's message where a sender's belongs.
        let e = setup_tampered(
            &|m| {
                let from1 = m.iter().find(|m| m.from.get() == 1).unwrap().body.clone();
                let k = m
                    .iter()
                    .position(|m| m.from.get() == 2 && m.to.get() == 1)
                    .unwrap();
                m[k].body = from1;
            },
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 2, .. }), "{e:?}");
    }

    #[test]
    fn a_session_is_consumed_durably_before_use_even_across_a_crash() {
        use crate::sign::consumed::FileLog;
        let keys = keygen_local(2, 3, 0).unwrap();
        let ids: Vec<Identifier> = keys[..2].iter().map(|k| k.share.identifier).collect();
        let request = SignRequest {
            signers: ids,
            nonce: [7; 32],
            digest: [8; 32],
            adjust: KeyAdjust::IDENTITY,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("party-1.sessions");
        let mut log = FileLog::open(&path).unwrap();
        let (round1, _) = start(&keys[0], request.clone(), &mut log).unwrap();
        // The process dies between rounds: state and log handle are gone.
        drop(round1);
        drop(log);
        let mut log = FileLog::open(&path).unwrap();
        let e = start(&keys[0], request.clone(), &mut log).unwrap_err();
        assert!(e.to_string().contains("already started"), "{e}");
        // A fresh nonce is a new session.
        let mut fresh = request;
        fresh.nonce = [6; 32];
        start(&keys[0], fresh, &mut log).unwrap();
        assert_eq!(log.len(), 2);
    }
}
