//! t-of-n distributed key generation: Pedersen's DKG on Feldman VSS
//! (T. Pedersen, "A threshold cryptosystem without a trusted party",
//! EUROCRYPT 1991; P. Feldman, FOCS 1987), with a proof of knowledge of
//! each constant term as in FROST's DKG (Komlo and Goldberg 2020, figure 1)
//! and a commitment round before anything is revealed, so no party can
//! choose its polynomial after seeing the others' (the bias of Gennaro et
//! al., EUROCRYPT 1999).
//!
//! The rounds, each a function of the messages of the one before:
//! 1. [`start`]: party `i` draws `f_i` of degree `t - 1`, commits to its
//!    coefficients `C_i = (G·a_i0, .., G·a_i(t-1))`, proves knowledge of
//!    `a_i0` (Schnorr: `R = G·k`, `μ = k + a_i0·c` with `c` hashing the
//!    session, `i`, `C_i0` and `R`) and broadcasts only a hash of all that
//!    ([`Commit`]), with the session id it computed;
//! 2. [`Committed::reveal`]: once every commit is in (and every session id
//!    equal), it broadcasts `C_i` and the proof ([`Reveal`]) and sends each
//!    party `j` its share `f_i(j)` privately ([`PrivateShare`]);
//! 3. [`Revealed::finish`]: each reveal must match its commit, hold exactly
//!    `t` commitments, and carry a valid proof; each share must satisfy
//!    `G·f_i(j) = Σ_k C_ik j^k`. A failure is a complaint naming the sender
//!    and the run aborts. The key share is `s_j = Σ_i f_i(j)`, the group key
//!    `Σ_i C_i0`, every party's verification share `Σ_i Σ_k C_ik ℓ^k`.
//!    It also returns a digest of every broadcast message, which the parties
//!    exchange ([`check_echo`]: an echo broadcast) before anyone uses the key.
//!
//! The chain code for BIP-32 derivation is a hash of the transcript, fixed
//! once every commit is in.

use k256::{ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};

use super::encoding::{check_distinct, point_to_bytes, random_scalar, scalar_to_bytes};
use super::frost::poly_eval;
use super::{Identifier, SecretScalar, SignError};

/// Domain tags: one per use of the hash.
const TAG_SESSION: &[u8] = b"quorate/sign/dkg/session/v1";
const TAG_COMMIT: &[u8] = b"quorate/sign/dkg/commit/v1";
const TAG_POK: &[u8] = b"quorate/sign/dkg/pok/v1";
const TAG_ECHO: &[u8] = b"quorate/sign/dkg/echo/v1";
const TAG_CHAIN: &[u8] = b"quorate/sign/dkg/chain-code/v1";

/// An injective transcript hash: a domain tag, then every field with its
/// length in front.
pub(crate) struct Transcript(Sha256);

impl Transcript {
    pub(crate) fn new(tag: &[u8]) -> Self {
        let mut t = Transcript(Sha256::new());
        t.put(tag);
        t
    }

    pub(crate) fn put(&mut self, field: &[u8]) -> &mut Self {
        self.0.update((field.len() as u64).to_be_bytes());
        self.0.update(field);
        self
    }

    pub(crate) fn point(&mut self, p: &ProjectivePoint) -> &mut Self {
        self.put(&point_to_bytes(p))
    }

    pub(crate) fn bytes(self) -> [u8; 32] {
        self.0.finalize().into()
    }

    /// The digest reduced to a scalar (bias below 2^-128).
    fn scalar(self) -> Scalar {
        super::encoding::reduce32(&self.bytes())
    }
}

/// Who runs a key generation, for what.
#[derive(Clone, Debug)]
pub struct Params {
    /// This party.
    pub me: Identifier,
    /// Every participant, this party included.
    pub participants: Vec<Identifier>,
    /// Signers needed: `2 <= t <= n`.
    pub threshold: u16,
    /// The key's epoch (0 for a new key; refresh and resharing count up).
    pub epoch: u64,
    /// A fresh nonce the caller agreed with the others for this run.
    pub nonce: [u8; 32],
}

impl Params {
    /// The session id: a hash of the participant set, the threshold, the
    /// epoch and the caller's nonce. An all-zero nonce is refused.
    pub fn session_id(&self) -> Result<[u8; 32], SignError> {
        if self.nonce == [0u8; 32] {
            return Err(SignError::Parameters(
                "the session nonce is all zeros; draw a fresh one".into(),
            ));
        }
        let mut ids = self.participants.clone();
        ids.sort_unstable();
        let mut t = Transcript::new(TAG_SESSION);
        t.put(&(ids.len() as u64).to_be_bytes());
        for i in &ids {
            t.put(&i.get().to_be_bytes());
        }
        t.put(&self.threshold.to_be_bytes())
            .put(&self.epoch.to_be_bytes())
            .put(&self.nonce);
        Ok(t.bytes())
    }

    fn check(&self) -> Result<(), SignError> {
        let n = self.participants.len();
        if n > 255 || n < usize::from(self.threshold) || self.threshold < 2 {
            return Err(SignError::Parameters(format!(
                "need 2 <= t <= n <= 255, not t = {}, n = {n}",
                self.threshold
            )));
        }
        check_distinct(&self.participants)?;
        if !self.participants.contains(&self.me) {
            return Err(SignError::Participants(format!(
                "this party ({}) is not among the participants",
                self.me.get()
            )));
        }
        Ok(())
    }
}

/// Round one's broadcast: the session id and a hash of what round two
/// reveals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The sender.
    pub from: Identifier,
    /// The session id the sender computed.
    pub session: [u8; 32],
    /// Hash of the sender's [`Reveal`].
    pub hash: [u8; 32],
}

/// Round two's broadcast: the coefficient commitments and the proof of
/// knowledge of the constant term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The sender.
    pub from: Identifier,
    /// `G · a_k`, exactly `t` of them.
    pub commitments: Vec<ProjectivePoint>,
    /// The proof's `R`.
    pub proof_r: ProjectivePoint,
    /// The proof's `μ`.
    pub proof_mu: Scalar,
}

/// Round two's private message: the sender's polynomial at the receiver.
#[derive(Clone, Debug)]
pub struct PrivateShare {
    /// The sender.
    pub from: Identifier,
    /// The receiver.
    pub to: Identifier,
    /// `f_from(to)`.
    pub value: SecretScalar,
}

/// A party's result: its share of the key and what everyone may know.
#[derive(Clone, Debug)]
pub struct KeyShare {
    /// This party.
    pub identifier: Identifier,
    /// The secret share `s_i`.
    pub secret: SecretScalar,
    /// The group public key.
    pub group_key: ProjectivePoint,
    /// Every participant's `G · s_j`, by identifier.
    pub verification_shares: Vec<(Identifier, ProjectivePoint)>,
    /// Signers needed.
    pub threshold: u16,
    /// The key's epoch.
    pub epoch: u64,
    /// The BIP-32 chain code agreed at key generation.
    pub chain_code: [u8; 32],
}

/// A reader over stored bytes that reports what it ran short of.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8], what: &'static str) -> Self {
        Reader { b, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], SignError> {
        if self.b.len() < n {
            return Err(SignError::Malformed {
                party: 0,
                what: self.what,
                kind: "encoding (truncated)",
            });
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, SignError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, SignError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn point(&mut self) -> Result<ProjectivePoint, SignError> {
        let what = self.what;
        super::encoding::point_from_bytes(self.take(33)?).ok_or(SignError::Malformed {
            party: 0,
            what,
            kind: "point",
        })
    }

    pub(crate) fn scalar(&mut self) -> Result<Scalar, SignError> {
        let what = self.what;
        super::encoding::scalar_from_bytes(self.take(32)?).ok_or(SignError::Malformed {
            party: 0,
            what,
            kind: "scalar",
        })
    }

    pub(crate) fn end(self) -> Result<(), SignError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(SignError::Malformed {
                party: 0,
                what: self.what,
                kind: "encoding (trailing bytes)",
            })
        }
    }
}

/// Version byte of [`KeyShare::to_bytes`].
const KEY_SHARE_VERSION: u8 = 1;

impl KeyShare {
    /// The stored form (secret: store it encrypted): a version byte, the
    /// identifier, the secret share, the group key, the threshold, the
    /// epoch, the chain code, then the count and every `(id, Y_id)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(110 + 35 * self.verification_shares.len());
        out.push(KEY_SHARE_VERSION);
        out.extend_from_slice(&self.identifier.get().to_be_bytes());
        out.extend_from_slice(&scalar_to_bytes(self.secret.expose()));
        out.extend_from_slice(&point_to_bytes(&self.group_key));
        out.extend_from_slice(&self.threshold.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.chain_code);
        out.extend_from_slice(&(self.verification_shares.len() as u16).to_be_bytes());
        for (i, p) in &self.verification_shares {
            out.extend_from_slice(&i.get().to_be_bytes());
            out.extend_from_slice(&point_to_bytes(p));
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes)'s form, checking every field and
    /// that the share matches its own verification share.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        let mut r = Reader::new(b, "key share");
        let share = Self::read(&mut r)?;
        r.end()?;
        Ok(share)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, SignError> {
        let version = r.take(1)?[0];
        if version != KEY_SHARE_VERSION {
            return Err(SignError::Parameters(format!(
                "key share format version {version} is not supported (this build reads {KEY_SHARE_VERSION})"
            )));
        }
        let identifier = Identifier::new(r.u16()?)?;
        let secret = SecretScalar::new(r.scalar()?);
        let group_key = r.point()?;
        let threshold = r.u16()?;
        let epoch = r.u64()?;
        let mut chain_code = [0u8; 32];
        chain_code.copy_from_slice(r.take(32)?);
        let n = usize::from(r.u16()?);
        if n < usize::from(threshold) || threshold < 2 || n > 255 {
            return Err(SignError::Parameters(format!(
                "a stored key share says t = {threshold} of n = {n}"
            )));
        }
        let mut verification_shares = Vec::with_capacity(n);
        for _ in 0..n {
            verification_shares.push((Identifier::new(r.u16()?)?, r.point()?));
        }
        let ids: Vec<Identifier> = verification_shares.iter().map(|(i, _)| *i).collect();
        check_distinct(&ids)?;
        let share = KeyShare {
            identifier,
            secret,
            group_key,
            verification_shares,
            threshold,
            epoch,
            chain_code,
        };
        if share.verification_share(identifier)
            != Some(ProjectivePoint::mul_by_generator(share.secret.expose()))
        {
            return Err(SignError::Parameters(
                "the stored key share does not match its own verification share".into(),
            ));
        }
        Ok(share)
    }

    /// Participant `id`'s verification share.
    pub fn verification_share(&self, id: Identifier) -> Option<ProjectivePoint> {
        self.verification_shares
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| *p)
    }
}

fn reveal_hash(session: &[u8; 32], r: &Reveal) -> [u8; 32] {
    let mut t = Transcript::new(TAG_COMMIT);
    t.put(session).put(&r.from.get().to_be_bytes());
    t.put(&(r.commitments.len() as u64).to_be_bytes());
    for c in &r.commitments {
        t.point(c);
    }
    t.point(&r.proof_r).put(&scalar_to_bytes(&r.proof_mu));
    t.bytes()
}

fn pok_challenge(
    session: &[u8; 32],
    from: Identifier,
    c0: &ProjectivePoint,
    r: &ProjectivePoint,
) -> Scalar {
    let mut t = Transcript::new(TAG_POK);
    t.put(session)
        .put(&from.get().to_be_bytes())
        .point(c0)
        .point(r);
    t.scalar()
}

/// After round one: this party's polynomial, waiting for every commit.
#[derive(Debug)]
pub struct Committed {
    params: Params,
    session: [u8; 32],
    coeffs: Vec<SecretScalar>,
    reveal: Reveal,
}

/// Round one: draws the polynomial and returns the state and the
/// broadcast [`Commit`].
pub fn start(params: Params) -> Result<(Committed, Commit), SignError> {
    params.check()?;
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let coeffs = (0..params.threshold)
        .map(|_| SecretScalar::random().map_err(entropy))
        .collect::<Result<Vec<_>, _>>()?;
    start_with(params, coeffs)
}

/// [`start`] with the polynomial given (key import and resharing pass
/// their own constant term).
pub(crate) fn start_with(
    params: Params,
    coeffs: Vec<SecretScalar>,
) -> Result<(Committed, Commit), SignError> {
    params.check()?;
    if coeffs.len() != usize::from(params.threshold) {
        return Err(SignError::Parameters("wrong number of coefficients".into()));
    }
    let session = params.session_id()?;
    let commitments: Vec<ProjectivePoint> = coeffs
        .iter()
        .map(|a| ProjectivePoint::mul_by_generator(a.expose()))
        .collect();
    let k = SecretScalar::new(
        random_scalar()
            .map_err(|_| SignError::Parameters("the OS random generator failed".into()))?,
    );
    let proof_r = ProjectivePoint::mul_by_generator(k.expose());
    let c = pok_challenge(&session, params.me, &commitments[0], &proof_r);
    let proof_mu = *k.expose() + coeffs[0].expose() * &c;
    let reveal = Reveal {
        from: params.me,
        commitments,
        proof_r,
        proof_mu,
    };
    let commit = Commit {
        from: params.me,
        session,
        hash: reveal_hash(&session, &reveal),
    };
    Ok((
        Committed {
            params,
            session,
            coeffs,
            reveal,
        },
        commit,
    ))
}

/// Exactly one message from each participant other than `me`, and from no
/// one else.
fn one_each<'a, T>(
    params: &Params,
    msgs: &'a [T],
    from: impl Fn(&T) -> Identifier,
    what: &'static str,
) -> Result<Vec<&'a T>, SignError> {
    let expected = params.participants.len() - 1;
    if msgs.len() != expected {
        return Err(SignError::Length {
            party: 0,
            what,
            expected,
            got: msgs.len(),
        });
    }
    let others: Vec<Identifier> = params
        .participants
        .iter()
        .copied()
        .filter(|&p| p != params.me)
        .collect();
    one_from_each(&others, msgs, from, what)
}

/// The one item from each of `who`, in `who`'s order; a party that sent
/// none or two is named.
pub(crate) fn one_from_each<'a, T>(
    who: &[Identifier],
    items: &'a [T],
    from: impl Fn(&T) -> Identifier,
    what: &'static str,
) -> Result<Vec<&'a T>, SignError> {
    let mut out = Vec::with_capacity(who.len());
    for &p in who {
        let mut of_p = items.iter().filter(|m| from(m) == p);
        match (of_p.next(), of_p.next()) {
            (Some(m), None) => out.push(m),
            (None, _) => {
                return Err(SignError::Culprit {
                    culprit: p.get(),
                    reason: format!("sent no {what}"),
                });
            }
            (Some(_), Some(_)) => {
                return Err(SignError::Culprit {
                    culprit: p.get(),
                    reason: format!("sent two {what}"),
                });
            }
        }
    }
    Ok(out)
}

/// After round two: waiting for the reveals and the shares.
#[derive(Debug)]
pub struct Revealed {
    params: Params,
    session: [u8; 32],
    own_share: SecretScalar,
    own_reveal: Reveal,
    commits: Vec<Commit>,
}

impl Committed {
    /// The session id.
    pub fn session(&self) -> [u8; 32] {
        self.session
    }

    /// Round two: given every other party's [`Commit`] (each with this
    /// session's id), returns the broadcast [`Reveal`] and one
    /// [`PrivateShare`] for each other party.
    pub fn reveal(
        self,
        commits: &[Commit],
    ) -> Result<(Revealed, Reveal, Vec<PrivateShare>), SignError> {
        let theirs = one_each(&self.params, commits, |c| c.from, "commits")?;
        if let Some(bad) = theirs.iter().find(|c| c.session != self.session) {
            return Err(SignError::Culprit {
                culprit: bad.from.get(),
                reason: "its session id differs (another participant set, epoch or nonce)".into(),
            });
        }
        let shares = self
            .params
            .participants
            .iter()
            .filter(|&&p| p != self.params.me)
            .map(|&to| PrivateShare {
                from: self.params.me,
                to,
                value: SecretScalar::new(poly_eval(&self.coeffs, to.scalar())),
            })
            .collect();
        let own_share = SecretScalar::new(poly_eval(&self.coeffs, self.params.me.scalar()));
        let reveal = self.reveal.clone();
        Ok((
            Revealed {
                params: self.params,
                session: self.session,
                own_share,
                own_reveal: self.reveal,
                commits: theirs.into_iter().cloned().collect(),
            },
            reveal,
            shares,
        ))
    }
}

/// `Σ_k C_k x^k`.
pub(crate) fn commitment_eval(c: &[ProjectivePoint], x: Scalar) -> ProjectivePoint {
    c.iter()
        .rev()
        .fold(ProjectivePoint::IDENTITY, |acc, ck| acc * x + ck)
}

impl Revealed {
    /// Round three: checks every reveal and share (see the module docs)
    /// and returns this party's [`KeyShare`] and the digest of every
    /// broadcast message, for [`check_echo`].
    pub fn finish(
        self,
        reveals: &[Reveal],
        shares: &[PrivateShare],
    ) -> Result<(KeyShare, [u8; 32]), SignError> {
        let p = &self.params;
        let t = usize::from(p.threshold);
        let reveals = one_each(p, reveals, |r| r.from, "reveals")?;
        let shares = one_each(p, shares, |s| s.from, "shares")?;
        let culprit = |who: Identifier, reason: &str| SignError::Culprit {
            culprit: who.get(),
            reason: reason.into(),
        };
        for r in &reveals {
            if r.commitments.len() != t {
                return Err(SignError::Length {
                    party: r.from.get(),
                    what: "coefficient commitments",
                    expected: t,
                    got: r.commitments.len(),
                });
            }
            let commit = self
                .commits
                .iter()
                .find(|c| c.from == r.from)
                .ok_or_else(|| culprit(r.from, "revealed without a commit"))?;
            if reveal_hash(&self.session, r) != commit.hash {
                return Err(culprit(
                    r.from,
                    "its reveal does not match its round-one commitment",
                ));
            }
            let c = pok_challenge(&self.session, r.from, &r.commitments[0], &r.proof_r);
            if ProjectivePoint::mul_by_generator(&r.proof_mu) != r.proof_r + r.commitments[0] * c {
                return Err(culprit(
                    r.from,
                    "its proof of knowledge of the constant term does not verify",
                ));
            }
        }
        let me = p.me.scalar();
        let mut secret = *self.own_share.expose();
        for s in &shares {
            if s.to != p.me {
                return Err(culprit(s.from, "sent a share addressed to another party"));
            }
            let r = reveals
                .iter()
                .find(|r| r.from == s.from)
                .ok_or_else(|| culprit(s.from, "sent a share without a reveal"))?;
            if ProjectivePoint::mul_by_generator(s.value.expose())
                != commitment_eval(&r.commitments, me)
            {
                return Err(culprit(
                    s.from,
                    "its share does not match its commitments (complaint)",
                ));
            }
            secret += s.value.expose();
        }
        let secret = SecretScalar::new(secret);
        // Everyone's commitments, in identifier order.
        let mut all: Vec<&Reveal> = reveals.clone();
        all.push(&self.own_reveal);
        all.sort_by_key(|r| r.from);
        let group_key = all
            .iter()
            .fold(ProjectivePoint::IDENTITY, |acc, r| acc + r.commitments[0]);
        let verification_shares: Vec<(Identifier, ProjectivePoint)> = all
            .iter()
            .map(|r| r.from)
            .map(|l| {
                let x = l.scalar();
                let y = all.iter().fold(ProjectivePoint::IDENTITY, |acc, r| {
                    acc + commitment_eval(&r.commitments, x)
                });
                (l, y)
            })
            .collect();
        if ProjectivePoint::mul_by_generator(secret.expose())
            != verification_shares
                .iter()
                .find(|(i, _)| *i == p.me)
                .map_or(ProjectivePoint::IDENTITY, |(_, y)| *y)
        {
            return Err(SignError::Parameters(
                "internal: the key share does not match its verification share".into(),
            ));
        }
        let mut echo = Transcript::new(TAG_ECHO);
        let mut chain = Transcript::new(TAG_CHAIN);
        echo.put(&self.session);
        chain.put(&self.session);
        for r in &all {
            let h = reveal_hash(&self.session, r);
            echo.put(&h);
            chain.put(&h);
        }
        Ok((
            KeyShare {
                identifier: p.me,
                secret,
                group_key,
                verification_shares,
                threshold: p.threshold,
                epoch: p.epoch,
                chain_code: chain.bytes(),
            },
            echo.bytes(),
        ))
    }
}

/// The echo broadcast's check: every party's digest of the broadcast
/// messages equals this party's, or the party that saw something else is
/// named (someone sent different messages to different parties).
pub fn check_echo(mine: &[u8; 32], theirs: &[(Identifier, [u8; 32])]) -> Result<(), SignError> {
    // The digests are of public messages: a plain comparison is enough.
    match theirs.iter().find(|(_, d)| d != mine) {
        Some((who, _)) => Err(SignError::Culprit {
            culprit: who.get(),
            reason: "saw different broadcast messages (equivocation by someone)".into(),
        }),
        None => Ok(()),
    }
}

/// Runs the whole key generation for every participant in this process
/// (tests, `quorate sign keygen`'s default): `n` parties, threshold `t`.
pub fn run_local(t: u16, n: u16, epoch: u64) -> Result<Vec<KeyShare>, SignError> {
    let ids = (1..=n)
        .map(Identifier::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut nonce = super::encoding::random_bytes()
        .map_err(|_| SignError::Parameters("the OS random generator failed".into()))?;
    let mut states = Vec::new();
    let mut commits = Vec::new();
    for &me in &ids {
        let (s, c) = start(Params {
            me,
            participants: ids.clone(),
            threshold: t,
            epoch,
            nonce,
        })?;
        states.push(s);
        commits.push(c);
    }
    nonce.fill(0);
    let mut revealed = Vec::new();
    let mut reveals = Vec::new();
    let mut shares = Vec::new();
    for s in states {
        let me = s.params.me;
        let others: Vec<Commit> = commits.iter().filter(|c| c.from != me).cloned().collect();
        let (st, r, sh) = s.reveal(&others)?;
        revealed.push(st);
        reveals.push(r);
        shares.extend(sh);
    }
    let mut out = Vec::new();
    let mut echoes = Vec::new();
    for st in revealed {
        let me = st.params.me;
        let rs: Vec<Reveal> = reveals.iter().filter(|r| r.from != me).cloned().collect();
        let sh: Vec<PrivateShare> = shares.iter().filter(|s| s.to == me).cloned().collect();
        let (k, e) = st.finish(&rs, &sh)?;
        echoes.push((me, e));
        out.push(k);
    }
    for (me, e) in &echoes {
        let others: Vec<(Identifier, [u8; 32])> =
            echoes.iter().filter(|(i, _)| i != me).cloned().collect();
        check_echo(e, &others)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rand::seq::SliceRandom;

    use super::super::frost::{self, CommitmentList, Suite};
    use super::*;

    fn ids(n: u16) -> Vec<Identifier> {
        (1..=n).map(|i| Identifier::new(i).unwrap()).collect()
    }

    /// Every participant's FROST signature over a random `t`-subset verifies.
    #[test]
    fn random_t_of_n_up_to_7_sign_and_verify() {
        let mut rng = rand::rng();
        for n in 2..=7u16 {
            for t in 2..=n {
                let keys = run_local(t, n, 0).unwrap();
                let pk = keys[0].group_key;
                assert!(keys.iter().all(|k| k.group_key == pk));
                assert!(keys.iter().all(|k| k.chain_code == keys[0].chain_code));
                let mut signers: Vec<&KeyShare> = keys.iter().collect();
                signers.shuffle(&mut rng);
                signers.truncate(usize::from(t));
                let nonces: Vec<_> = signers
                    .iter()
                    .map(|k| frost::commit(Suite::Rfc9591, k.identifier, &k.secret).unwrap())
                    .collect();
                let list =
                    CommitmentList::new(nonces.iter().map(|n| n.commitments()).collect()).unwrap();
                let msg = format!("{t}-of-{n}");
                let mut zs = Vec::new();
                for (k, nn) in signers.iter().zip(nonces) {
                    let z = frost::sign(k.identifier, &k.secret, &pk, nn, msg.as_bytes(), &list)
                        .unwrap();
                    zs.push((k.identifier, z));
                }
                let sig = frost::aggregate(
                    Suite::Rfc9591,
                    &list,
                    msg.as_bytes(),
                    &pk,
                    &zs,
                    &keys[0].verification_shares,
                )
                .unwrap();
                assert!(
                    frost::verify(Suite::Rfc9591, &pk, msg.as_bytes(), &sig),
                    "{t}-of-{n}"
                );
                // t - 1 shares do not interpolate to the key.
                let few: Vec<Identifier> = signers[1..].iter().map(|k| k.identifier).collect();
                let guess = signers[1..].iter().fold(Scalar::ZERO, |acc, k| {
                    acc + frost::lagrange_at_zero(&few, k.identifier).unwrap() * k.secret.expose()
                });
                assert_ne!(ProjectivePoint::GENERATOR * guess, pk);
            }
        }
    }

    /// The three rounds for `n` parties, with `tamper` applied to party 2's
    /// round-one state (and commit) before anything is sent, and `after`
    /// to the round-two messages; returns party 1's result.
    fn run_tampered(
        n: u16,
        tamper: impl Fn(&mut Committed, &mut Commit),
        after: impl Fn(&mut Vec<Reveal>, &mut Vec<PrivateShare>),
    ) -> Result<(KeyShare, [u8; 32]), SignError> {
        let all = ids(n);
        let nonce = [7u8; 32];
        let mut states = Vec::new();
        let mut commits = Vec::new();
        for &me in &all {
            let (mut s, mut c) = start(Params {
                me,
                participants: all.clone(),
                threshold: 2,
                epoch: 0,
                nonce,
            })
            .unwrap();
            if me.get() == 2 {
                tamper(&mut s, &mut c);
            }
            states.push(s);
            commits.push(c);
        }
        let mut reveals = Vec::new();
        let mut shares = Vec::new();
        let mut first = None;
        for s in states {
            let me = s.params.me;
            let others: Vec<Commit> = commits.iter().filter(|c| c.from != me).cloned().collect();
            match s.reveal(&others) {
                Ok((st, r, sh)) => {
                    if me.get() == 1 {
                        first = Some(st);
                    }
                    reveals.push(r);
                    shares.extend(sh);
                }
                Err(e) if me.get() == 1 => return Err(e),
                Err(_) => {}
            }
        }
        after(&mut reveals, &mut shares);
        let st = first.unwrap();
        let rs: Vec<Reveal> = reveals.into_iter().filter(|r| r.from.get() != 1).collect();
        let sh: Vec<PrivateShare> = shares.into_iter().filter(|s| s.to.get() == 1).collect();
        st.finish(&rs, &sh)
    }

    fn culprit(r: Result<(KeyShare, [u8; 32]), SignError>) -> (u16, String) {
        match r {
            Err(SignError::Culprit { culprit, reason }) => (culprit, reason),
            other => panic!("expected a culprit, got {other:?}"),
        }
    }

    fn rehash(s: &mut Committed, c: &mut Commit) {
        c.hash = reveal_hash(&s.session, &s.reveal);
    }

    #[test]
    fn an_honest_run_succeeds() {
        assert!(run_tampered(3, |_, _| {}, |_, _| {}).is_ok());
    }

    #[test]
    fn a_bad_share_names_its_sender() {
        let (who, why) = culprit(run_tampered(
            3,
            |_, _| {},
            |_, shares| {
                for s in shares.iter_mut().filter(|s| s.from.get() == 2) {
                    s.value = SecretScalar::new(*s.value.expose() + Scalar::ONE);
                }
            },
        ));
        assert_eq!(who, 2);
        assert!(why.contains("share"), "{why}");
    }

    #[test]
    fn a_reveal_that_differs_from_its_commit_names_its_sender() {
        let (who, why) = culprit(run_tampered(
            3,
            |_, _| {},
            |reveals, _| {
                for r in reveals.iter_mut().filter(|r| r.from.get() == 2) {
                    r.commitments[1] += ProjectivePoint::GENERATOR;
                }
            },
        ));
        assert_eq!(who, 2);
        assert!(why.contains("commitment"), "{why}");
    }

    #[test]
    fn a_bad_proof_of_knowledge_names_its_sender() {
        let (who, why) = culprit(run_tampered(
            3,
            |s, c| {
                s.reveal.proof_mu += Scalar::ONE;
                rehash(s, c);
            },
            |_, _| {},
        ));
        assert_eq!(who, 2);
        assert!(why.contains("proof of knowledge"), "{why}");
    }

    #[test]
    fn a_longer_commitment_vector_is_refused() {
        // One more coefficient would raise party 2's threshold silently.
        let r = run_tampered(
            3,
            |s, c| {
                s.reveal.commitments.push(ProjectivePoint::GENERATOR);
                rehash(s, c);
            },
            |_, _| {},
        );
        assert!(
            matches!(
                r,
                Err(SignError::Length {
                    party: 2,
                    expected: 2,
                    got: 3,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn a_different_session_id_is_refused_at_once() {
        let (who, why) = culprit(run_tampered(3, |_, c| c.session[0] ^= 1, |_, _| {}));
        assert_eq!(who, 2);
        assert!(why.contains("session"), "{why}");
    }

    #[test]
    fn a_missing_or_doubled_message_is_refused() {
        let r = run_tampered(
            3,
            |_, _| {},
            |_, shares| shares.retain(|s| s.from.get() != 3),
        );
        assert!(matches!(r, Err(SignError::Length { .. })), "{r:?}");
        let r = run_tampered(
            3,
            |_, _| {},
            |reveals, _| {
                let dup = reveals.iter().find(|r| r.from.get() == 2).unwrap().clone();
                reveals.retain(|r| r.from.get() != 3);
                reveals.push(dup);
            },
        );
        // Party 2's reveal arrives twice (and 3's not at all).
        assert!(
            matches!(r, Err(SignError::Culprit { culprit: 2, ref reason }) if reason.contains("two")),
            "{r:?}"
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        let all = ids(3);
        let base = Params {
            me: all[0],
            participants: all.clone(),
            threshold: 2,
            epoch: 0,
            nonce: [1u8; 32],
        };
        assert!(
            start(Params {
                nonce: [0u8; 32],
                ..base.clone()
            })
            .is_err()
        );
        assert!(
            start(Params {
                threshold: 4,
                ..base.clone()
            })
            .is_err()
        );
        assert!(
            start(Params {
                threshold: 1,
                ..base.clone()
            })
            .is_err()
        );
        let mut dup = base.clone();
        dup.participants.push(all[1]);
        assert!(matches!(start(dup), Err(SignError::Participants(_))));
        assert!(Identifier::new(0).is_err());
    }

    #[test]
    fn an_echo_mismatch_names_who_saw_it() {
        let mine = [1u8; 32];
        let id2 = Identifier::new(2).unwrap();
        let id3 = Identifier::new(3).unwrap();
        assert!(check_echo(&mine, &[(id2, mine), (id3, mine)]).is_ok());
        let mut other = mine;
        other[31] ^= 1;
        assert!(matches!(
            check_echo(&mine, &[(id2, mine), (id3, other)]),
            Err(SignError::Culprit { culprit: 3, .. })
        ));
    }

    #[test]
    fn secrets_do_not_print() {
        let keys = run_local(2, 2, 0).unwrap();
        let shown = format!("{:?}", keys[0]);
        let hex: String = scalar_to_bytes(keys[0].secret.expose())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&hex));
        assert!(shown.contains("SecretScalar(..)"));
    }
}
