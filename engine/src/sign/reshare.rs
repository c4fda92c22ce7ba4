//! Refresh, resharing and key import: new Shamir shares of the same key,
//! for the same or a new `(t', n')` party set, without the key ever being
//! assembled. The protocol is the resharing of Desmedt and Jajodia
//! ("Redistributing secret shares to new access structures", 1997) with
//! Feldman commitments as verified by Wong, Wang and Wing ("Verifiable
//! secret redistribution for archive systems", IEEE SISW 2002):
//!
//! 1. [`deal`] (each dealer `i`, a set `D` of at least `t` old holders):
//!    draws `g_i` of degree `t' - 1` with constant term `λ_i · s_i`
//!    (`λ_i` the Lagrange coefficient of `i` at 0 over `D`), broadcasts
//!    the commitments `C_i = (G·g_i0, ..)` ([`Deal`]) and sends each new
//!    party `j` its value `g_i(j)` privately.
//! 2. [`receive`] (each new party `j`): every deal must carry this session,
//!    exactly `t'` commitments, and the constant term `C_i0 = λ_i · Y_i`
//!    (`Y_i` the dealer's public verification share: a dealer cannot
//!    change the key); every value must satisfy `G·g_i(j) = Σ_k C_ik j^k`
//!    (a complaint naming the dealer otherwise). The new share is
//!    `s'_j = Σ_i g_i(j)`, a point of `F'(x) = Σ_i g_i(x)` with
//!    `F'(0) = Σ_i λ_i s_i = s`. It answers with an [`Ack`]: a digest of
//!    every deal it saw (an echo broadcast).
//! 3. [`Pending::confirm`]: the new share is usable once every new party
//!    acknowledged the same digest; [`retire`]: an old holder deletes its
//!    old share only then. Until both, the old shares stay the key's.
//!
//! `F'` is a fresh random polynomial, independent of the old one except at
//! 0, so any mix of fewer than `t` old shares with fewer than `t'` new ones
//! says nothing about the key; the new shares carry the next epoch, and
//! signing sessions hash the epoch, so old and new shares never sign
//! together.
//!
//! - A *refresh* ([`refresh_deal`], [`refresh_receive`]) adds a sharing
//!   of zero, as in Herzberg, Jarecki, Krawczyk and Yung, "Proactive
//!   secret sharing" (CRYPTO 1995), section 3: every holder deals `g_i`
//!   with `g_i(0) = 0` (commitments to its `t - 1` other coefficients only,
//!   so the constant term is zero by construction), and `s'_j = s_j +
//!   Σ_i g_i(j)`. All `n` holders take part; the same acknowledgements
//!   confirm the new shares and retire the old.
//! - A *key import* is a resharing from a single dealer holding the whole
//!   key ([`PublicKeyInfo::import`]: threshold 1, `λ = 1`), for migration
//!   from a single-key wallet.

use k256::ProjectivePoint;

use super::dkg::{KeyShare, PrivateShare, Reader, Transcript, commitment_eval, one_from_each};
use super::encoding::{check_distinct, point_to_bytes, random_bytes};
use super::frost::{lagrange_at_zero, poly_eval};
use super::{Identifier, SecretScalar, SignError};

const TAG_SESSION: &[u8] = b"quorate/sign/reshare/session/v1";
const TAG_DEAL: &[u8] = b"quorate/sign/reshare/deal/v1";
const TAG_ACK: &[u8] = b"quorate/sign/reshare/ack/v1";
const TAG_REFRESH: &[u8] = b"quorate/sign/refresh/session/v1";

/// The public facts of the key being reshared, which every participant,
/// old or new, must hold (from the old parties' public file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The group public key.
    pub group_key: ProjectivePoint,
    /// Signers the old sharing needs (1 for an import).
    pub threshold: u16,
    /// The old sharing's epoch.
    pub epoch: u64,
    /// The BIP-32 chain code, kept across resharing.
    pub chain_code: [u8; 32],
    /// Every old holder's verification share `G · s_i`.
    pub verification_shares: Vec<(Identifier, ProjectivePoint)>,
}

impl PublicKeyInfo {
    /// The old "sharing" of a whole private key held by `holder`, for key
    /// import: threshold 1, the holder's verification share the public
    /// key. Refuses zero.
    pub fn import(
        secret: &SecretScalar,
        holder: Identifier,
        chain_code: [u8; 32],
    ) -> Result<Self, SignError> {
        if bool::from(secret.expose().is_zero()) {
            return Err(SignError::Parameters("the private key is zero".into()));
        }
        let y = ProjectivePoint::mul_by_generator(secret.expose());
        Ok(PublicKeyInfo {
            group_key: y,
            threshold: 1,
            epoch: 0,
            chain_code,
            verification_shares: vec![(holder, y)],
        })
    }

    /// Every field, verification shares in identifier order.
    pub(crate) fn hash_into(&self, t: &mut Transcript) {
        t.point(&self.group_key)
            .put(&self.threshold.to_be_bytes())
            .put(&self.epoch.to_be_bytes())
            .put(&self.chain_code);
        let mut old = self.verification_shares.clone();
        old.sort_by_key(|(i, _)| *i);
        t.put(&(old.len() as u64).to_be_bytes());
        for (i, y) in &old {
            t.put(&i.get().to_be_bytes()).point(y);
        }
    }

    fn share_of(&self, id: Identifier) -> Option<ProjectivePoint> {
        self.verification_shares
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| *p)
    }
}

impl KeyShare {
    /// The public facts of this sharing, for a refresh or a resharing.
    pub fn public(&self) -> PublicKeyInfo {
        PublicKeyInfo {
            group_key: self.group_key,
            threshold: self.threshold,
            epoch: self.epoch,
            chain_code: self.chain_code,
            verification_shares: self.verification_shares.clone(),
        }
    }
}

/// Who reshares what to whom.
#[derive(Clone, Debug)]
pub struct Params {
    /// This party: a dealer, a receiver, both, or an old holder that only
    /// waits to retire its share.
    pub me: Identifier,
    /// The old sharing.
    pub old: PublicKeyInfo,
    /// The dealers: at least `old.threshold` of the old holders.
    pub dealers: Vec<Identifier>,
    /// The new parties.
    pub receivers: Vec<Identifier>,
    /// Signers the new sharing needs: `2 <= t' <= n' <= 255`.
    pub threshold: u16,
    /// The new epoch: above the old one (any, for an import).
    pub epoch: u64,
    /// A fresh nonce the caller agreed with the others for this run.
    pub nonce: [u8; 32],
}

impl Params {
    /// The session id: a hash of everything above. An all-zero nonce is
    /// refused.
    pub fn session_id(&self) -> Result<[u8; 32], SignError> {
        if self.nonce == [0u8; 32] {
            return Err(SignError::Parameters(
                "the session nonce is all zeros; draw a fresh one".into(),
            ));
        }
        let mut t = Transcript::new(TAG_SESSION);
        self.old.hash_into(&mut t);
        for set in [&self.dealers, &self.receivers] {
            let mut ids = set.clone();
            ids.sort_unstable();
            t.put(&(ids.len() as u64).to_be_bytes());
            for i in ids {
                t.put(&i.get().to_be_bytes());
            }
        }
        t.put(&self.threshold.to_be_bytes())
            .put(&self.epoch.to_be_bytes())
            .put(&self.nonce);
        Ok(t.bytes())
    }

    fn check(&self) -> Result<(), SignError> {
        let n = self.receivers.len();
        if n > 255 || n < usize::from(self.threshold) || self.threshold < 2 {
            return Err(SignError::Parameters(format!(
                "the new sharing needs 2 <= t <= n <= 255, not t = {}, n = {n}",
                self.threshold
            )));
        }
        check_distinct(&self.receivers)?;
        check_distinct(&self.dealers)?;
        let old_ids: Vec<Identifier> = self
            .old
            .verification_shares
            .iter()
            .map(|(i, _)| *i)
            .collect();
        check_distinct(&old_ids)?;
        if self.old.threshold < 1 || self.dealers.len() < usize::from(self.old.threshold) {
            return Err(SignError::Parameters(format!(
                "resharing needs at least {} dealers (the old threshold), not {}",
                self.old.threshold,
                self.dealers.len()
            )));
        }
        if let Some(d) = self.dealers.iter().find(|d| !old_ids.contains(d)) {
            return Err(SignError::Participants(format!(
                "dealer {} holds no share of the old sharing",
                d.get()
            )));
        }
        if self.old.threshold > 1 && self.epoch <= self.old.epoch {
            return Err(SignError::Parameters(format!(
                "the new epoch ({}) must be above the old one ({})",
                self.epoch, self.old.epoch
            )));
        }
        if !self.receivers.contains(&self.me) && !old_ids.contains(&self.me) {
            return Err(SignError::Participants(format!(
                "party {} is neither an old holder nor a new party",
                self.me.get()
            )));
        }
        Ok(())
    }
}

/// A dealer's broadcast: its commitments, with the session it computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    /// The dealer.
    pub from: Identifier,
    /// The session id the dealer computed.
    pub session: [u8; 32],
    /// `G · g_k`, exactly `t'` of them; the first is `λ_from · Y_from`.
    pub commitments: Vec<ProjectivePoint>,
}

/// A new party's acknowledgement: the digest of every deal it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The new party.
    pub from: Identifier,
    /// The session id.
    pub session: [u8; 32],
    /// The digest of the deals, in dealer order.
    pub digest: [u8; 32],
}

/// Step 1, for a dealer: its [`Deal`] and one value for every new party
/// (itself included, if it is one). `secret` is the dealer's old share (or
/// the whole key, for an import); it must match the public verification
/// share.
pub fn deal(
    params: &Params,
    secret: &SecretScalar,
) -> Result<(Deal, Vec<PrivateShare>), SignError> {
    params.check()?;
    let me = params.me;
    if !params.dealers.contains(&me) {
        return Err(SignError::Participants(format!(
            "party {} is not among the dealers",
            me.get()
        )));
    }
    if params.old.share_of(me) != Some(ProjectivePoint::mul_by_generator(secret.expose())) {
        return Err(SignError::Parameters(
            "this party's share does not match its public verification share".into(),
        ));
    }
    let session = params.session_id()?;
    let lambda = lagrange_at_zero(&params.dealers, me)?;
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut coeffs = vec![SecretScalar::new(lambda * secret.expose())];
    for _ in 1..params.threshold {
        coeffs.push(SecretScalar::random().map_err(entropy)?);
    }
    let commitments = coeffs
        .iter()
        .map(|a| ProjectivePoint::mul_by_generator(a.expose()))
        .collect();
    let shares = params
        .receivers
        .iter()
        .map(|&to| PrivateShare {
            from: me,
            to,
            value: SecretScalar::new(poly_eval(&coeffs, to.scalar())),
        })
        .collect();
    Ok((
        Deal {
            from: me,
            session,
            commitments,
        },
        shares,
    ))
}

/// Exactly one item from each of `who`, from no one else.
fn one_each<'a, T>(
    who: &[Identifier],
    items: &'a [T],
    from: impl Fn(&T) -> Identifier,
    what: &'static str,
) -> Result<Vec<&'a T>, SignError> {
    if let Some(x) = items.iter().find(|x| !who.contains(&from(x))) {
        return Err(SignError::Participants(format!(
            "{what} from party {}, which is not expected to send one",
            from(x).get()
        )));
    }
    one_from_each(who, items, from, what)
}

fn culprit(who: Identifier, reason: &str) -> SignError {
    SignError::Culprit {
        culprit: who.get(),
        reason: reason.into(),
    }
}

/// A new party's share, waiting for every acknowledgement.
#[derive(Debug)]
pub struct Pending {
    share: KeyShare,
    session: [u8; 32],
    digest: [u8; 32],
    receivers: Vec<Identifier>,
}

/// Step 2, for a new party: checks every deal and value (see the module
/// docs) and returns the pending share and this party's [`Ack`]. `deals`
/// and `shares` hold one from each dealer, this party's own included if it
/// deals.
pub fn receive(
    params: &Params,
    deals: &[Deal],
    shares: &[PrivateShare],
) -> Result<(Pending, Ack), SignError> {
    params.check()?;
    let me = params.me;
    if !params.receivers.contains(&me) {
        return Err(SignError::Participants(format!(
            "party {} is not among the new parties",
            me.get()
        )));
    }
    let session = params.session_id()?;
    let t = usize::from(params.threshold);
    let mut dealers = params.dealers.clone();
    dealers.sort_unstable();
    let deals = one_each(&dealers, deals, |d| d.from, "deal")?;
    let shares = one_each(&dealers, shares, |s| s.from, "share")?;
    for d in &deals {
        if d.session != session {
            return Err(culprit(
                d.from,
                "its session id differs (another key, party set, epoch or nonce)",
            ));
        }
        if d.commitments.len() != t {
            return Err(SignError::Length {
                party: d.from.get(),
                what: "resharing commitments",
                expected: t,
                got: d.commitments.len(),
            });
        }
        let y = params
            .old
            .share_of(d.from)
            .ok_or_else(|| culprit(d.from, "dealt without an old share"))?;
        if d.commitments[0] != y * lagrange_at_zero(&dealers, d.from)? {
            return Err(culprit(
                d.from,
                "its constant term is not its part of the key (λ·Y); it tried to change the key",
            ));
        }
    }
    let x = me.scalar();
    let mut secret = k256::Scalar::ZERO;
    for (s, d) in shares.iter().zip(&deals) {
        if s.to != me {
            return Err(culprit(s.from, "sent a value addressed to another party"));
        }
        if ProjectivePoint::mul_by_generator(s.value.expose()) != commitment_eval(&d.commitments, x)
        {
            return Err(culprit(
                s.from,
                "its value does not match its commitments (complaint)",
            ));
        }
        secret += s.value.expose();
    }
    let group_key = deals
        .iter()
        .fold(ProjectivePoint::IDENTITY, |acc, d| acc + d.commitments[0]);
    if group_key != params.old.group_key {
        return Err(SignError::Parameters(
            "the old verification shares do not interpolate to the group key".into(),
        ));
    }
    let mut receivers = params.receivers.clone();
    receivers.sort_unstable();
    let verification_shares: Vec<(Identifier, ProjectivePoint)> = receivers
        .iter()
        .map(|&l| {
            let y = deals.iter().fold(ProjectivePoint::IDENTITY, |acc, d| {
                acc + commitment_eval(&d.commitments, l.scalar())
            });
            (l, y)
        })
        .collect();
    let secret = SecretScalar::new(secret);
    let digest = deals_digest(&session, &deals);
    let share = KeyShare {
        identifier: me,
        secret,
        group_key,
        verification_shares,
        threshold: params.threshold,
        epoch: params.epoch,
        chain_code: params.old.chain_code,
    };
    if share.verification_share(me)
        != Some(ProjectivePoint::mul_by_generator(share.secret.expose()))
    {
        return Err(SignError::Parameters(
            "internal: the new share does not match its verification share".into(),
        ));
    }
    Ok((
        Pending {
            share,
            session,
            digest,
            receivers,
        },
        Ack {
            from: me,
            session,
            digest,
        },
    ))
}

/// A refresh: every holder of the old sharing adds a sharing of zero.
#[derive(Clone, Debug)]
pub struct RefreshParams {
    /// This holder.
    pub me: Identifier,
    /// The sharing refreshed; all its holders take part.
    pub old: PublicKeyInfo,
    /// The new epoch, above the old one.
    pub epoch: u64,
    /// A fresh nonce the caller agreed with the others for this run.
    pub nonce: [u8; 32],
}

impl RefreshParams {
    /// The session id: a hash of the old sharing, the epoch and the nonce.
    pub fn session_id(&self) -> Result<[u8; 32], SignError> {
        if self.nonce == [0u8; 32] {
            return Err(SignError::Parameters(
                "the session nonce is all zeros; draw a fresh one".into(),
            ));
        }
        if self.epoch <= self.old.epoch || self.old.threshold < 2 {
            return Err(SignError::Parameters(format!(
                "a refresh goes from epoch {} to a later one, not {}",
                self.old.epoch, self.epoch
            )));
        }
        let ids = self.holders();
        check_distinct(&ids)?;
        if !ids.contains(&self.me) {
            return Err(SignError::Participants(format!(
                "party {} holds no share of this key",
                self.me.get()
            )));
        }
        let mut t = Transcript::new(TAG_REFRESH);
        self.old.hash_into(&mut t);
        t.put(&self.epoch.to_be_bytes()).put(&self.nonce);
        Ok(t.bytes())
    }

    pub(crate) fn holders(&self) -> Vec<Identifier> {
        let mut ids: Vec<Identifier> = self
            .old
            .verification_shares
            .iter()
            .map(|(i, _)| *i)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Refresh step 1: this holder's sharing of zero: a [`Deal`] with the
/// commitments to coefficients 1 to `t - 1` (the constant term is zero, so
/// it has none) and a value for every holder, itself included.
pub fn refresh_deal(params: &RefreshParams) -> Result<(Deal, Vec<PrivateShare>), SignError> {
    let session = params.session_id()?;
    let entropy = |_| SignError::Parameters("the OS random generator failed".into());
    let mut coeffs = vec![SecretScalar::new(k256::Scalar::ZERO)];
    for _ in 1..params.old.threshold {
        coeffs.push(SecretScalar::random().map_err(entropy)?);
    }
    let commitments = coeffs[1..]
        .iter()
        .map(|a| ProjectivePoint::mul_by_generator(a.expose()))
        .collect();
    let shares = params
        .holders()
        .into_iter()
        .map(|to| PrivateShare {
            from: params.me,
            to,
            value: SecretScalar::new(poly_eval(&coeffs, to.scalar())),
        })
        .collect();
    Ok((
        Deal {
            from: params.me,
            session,
            commitments,
        },
        shares,
    ))
}

/// `Σ_{k≥1} C_k x^k`, for commitments to the coefficients from 1 up.
fn zero_commitment_eval(c: &[ProjectivePoint], x: k256::Scalar) -> ProjectivePoint {
    commitment_eval(c, x) * x
}

/// Refresh step 2: checks every holder's deal and value and adds them to
/// `share`; returns the pending new share and this holder's [`Ack`]
/// (confirmed as a resharing's, by [`Pending::confirm`]; old holders retire
/// with [`retire_refresh`]).
pub fn refresh_receive(
    params: &RefreshParams,
    share: &KeyShare,
    deals: &[Deal],
    values: &[PrivateShare],
) -> Result<(Pending, Ack), SignError> {
    let session = params.session_id()?;
    if share.public() != params.old || share.identifier != params.me {
        return Err(SignError::Parameters(
            "this share is not the refreshed sharing's share of this party".into(),
        ));
    }
    let holders = params.holders();
    let deals = one_each(&holders, deals, |d| d.from, "deal")?;
    let values = one_each(&holders, values, |v| v.from, "share")?;
    let want = usize::from(params.old.threshold) - 1;
    for d in &deals {
        if d.session != session {
            return Err(culprit(
                d.from,
                "its session id differs (another key, epoch or nonce)",
            ));
        }
        if d.commitments.len() != want {
            return Err(SignError::Length {
                party: d.from.get(),
                what: "refresh commitments",
                expected: want,
                got: d.commitments.len(),
            });
        }
    }
    let x = params.me.scalar();
    let mut secret = *share.secret.expose();
    for (v, d) in values.iter().zip(&deals) {
        if v.to != params.me {
            return Err(culprit(v.from, "sent a value addressed to another party"));
        }
        if ProjectivePoint::mul_by_generator(v.value.expose())
            != zero_commitment_eval(&d.commitments, x)
        {
            return Err(culprit(
                v.from,
                "its value does not match its commitments to a sharing of zero (complaint)",
            ));
        }
        secret += v.value.expose();
    }
    let verification_shares: Vec<(Identifier, ProjectivePoint)> = params
        .old
        .verification_shares
        .iter()
        .map(|&(l, y)| {
            let delta = deals.iter().fold(ProjectivePoint::IDENTITY, |acc, d| {
                acc + zero_commitment_eval(&d.commitments, l.scalar())
            });
            (l, y + delta)
        })
        .collect();
    let digest = deals_digest(&session, &deals);
    let new = KeyShare {
        identifier: params.me,
        secret: SecretScalar::new(secret),
        group_key: params.old.group_key,
        verification_shares,
        threshold: params.old.threshold,
        epoch: params.epoch,
        chain_code: params.old.chain_code,
    };
    if new.verification_share(params.me)
        != Some(ProjectivePoint::mul_by_generator(new.secret.expose()))
    {
        return Err(SignError::Parameters(
            "internal: the refreshed share does not match its verification share".into(),
        ));
    }
    Ok((
        Pending {
            share: new,
            session,
            digest,
            receivers: holders,
        },
        Ack {
            from: params.me,
            session,
            digest,
        },
    ))
}

/// Refresh step 3 for a holder's old share: `Ok` once every holder
/// acknowledged the same deals.
pub fn retire_refresh(params: &RefreshParams, acks: &[Ack]) -> Result<(), SignError> {
    let session = params.session_id()?;
    let holders = params.holders();
    let acks = one_each(&holders, acks, |a| a.from, "acknowledgement")?;
    agreed(&holders, &session, &acks, None).map(|_| ())
}

fn deals_digest(session: &[u8; 32], deals: &[&Deal]) -> [u8; 32] {
    let mut digest = Transcript::new(TAG_ACK);
    digest.put(session);
    for d in deals {
        let mut h = Transcript::new(TAG_DEAL);
        h.put(&d.from.get().to_be_bytes());
        for c in &d.commitments {
            h.point(c);
        }
        digest.put(&h.bytes());
    }
    digest.bytes()
}

/// Every ack carries `session` and one digest; returns it.
fn agreed(
    receivers: &[Identifier],
    session: &[u8; 32],
    acks: &[&Ack],
    expected: Option<&[u8; 32]>,
) -> Result<[u8; 32], SignError> {
    let mut digest = expected.copied();
    for a in acks {
        if a.session != *session {
            return Err(culprit(a.from, "acknowledged another session"));
        }
        match digest {
            // Digests of public messages: a plain comparison is enough.
            Some(d) if d != a.digest => {
                return Err(culprit(
                    a.from,
                    "saw different deals (a dealer equivocated, or it lies)",
                ));
            }
            _ => digest = Some(a.digest),
        }
    }
    digest.ok_or_else(|| {
        SignError::Participants(format!(
            "no acknowledgement from {} new parties",
            receivers.len()
        ))
    })
}

impl Pending {
    /// The new share, not yet confirmed (store it, then send the ack).
    pub fn share(&self) -> &KeyShare {
        &self.share
    }

    /// Step 3: with an [`Ack`] from every other new party, all for the same
    /// deals, the new share is the key's.
    pub fn confirm(self, acks: &[Ack]) -> Result<KeyShare, SignError> {
        let me = self.share.identifier;
        let others: Vec<Identifier> = self
            .receivers
            .iter()
            .copied()
            .filter(|&r| r != me)
            .collect();
        let acks = one_each(&others, acks, |a| a.from, "acknowledgement")?;
        agreed(&self.receivers, &self.session, &acks, Some(&self.digest))?;
        Ok(self.share)
    }
}

/// Step 3, for an old holder: `Ok` once every new party acknowledged the
/// same deals; only then may it delete its old share.
pub fn retire(params: &Params, acks: &[Ack]) -> Result<(), SignError> {
    params.check()?;
    let session = params.session_id()?;
    let mut receivers = params.receivers.clone();
    receivers.sort_unstable();
    let acks = one_each(&receivers, acks, |a| a.from, "acknowledgement")?;
    agreed(&receivers, &session, &acks, None).map(|_| ())
}

/// Runs a resharing with every party in this process: `dealers` (old
/// shares of one sharing, at least its threshold) reshare to `receivers`
/// with threshold `t` at `epoch`. Returns the new shares in receiver order.
pub fn run_local(
    dealers: &[&KeyShare],
    receivers: &[Identifier],
    t: u16,
    epoch: u64,
) -> Result<Vec<KeyShare>, SignError> {
    let old = one_sharing(dealers)?;
    let secrets: Vec<(Identifier, &SecretScalar)> =
        dealers.iter().map(|d| (d.identifier, &d.secret)).collect();
    run_dealers(old, &secrets, receivers, t, epoch)
}

/// The public facts of `shares`, which must all be of one sharing.
fn one_sharing(shares: &[&KeyShare]) -> Result<PublicKeyInfo, SignError> {
    let first = shares
        .first()
        .ok_or_else(|| SignError::Parameters("no shares".into()))?;
    let old = first.public();
    match shares.iter().find(|d| d.public() != old) {
        Some(d) => Err(SignError::Parameters(format!(
            "share {} belongs to another key or epoch than share {}",
            d.identifier.get(),
            first.identifier.get()
        ))),
        None => Ok(old),
    }
}

/// A refresh in this process: a sharing of zero added to every share of
/// one key (all `n` of them), next epoch.
pub fn refresh_local(shares: &[&KeyShare]) -> Result<Vec<KeyShare>, SignError> {
    let old = one_sharing(shares)?;
    let epoch = old
        .epoch
        .checked_add(1)
        .ok_or_else(|| SignError::Parameters("the epoch counter is exhausted".into()))?;
    let nonce = random_bytes()
        .map_err(|_| SignError::Parameters("the OS random generator failed".into()))?;
    let params = |me| RefreshParams {
        me,
        old: old.clone(),
        epoch,
        nonce,
    };
    let mut deals = Vec::new();
    let mut values = Vec::new();
    for s in shares {
        let (d, v) = refresh_deal(&params(s.identifier))?;
        deals.push(d);
        values.extend(v);
    }
    let mut pending = Vec::new();
    let mut acks = Vec::new();
    for s in shares {
        let mine: Vec<PrivateShare> = values
            .iter()
            .filter(|v| v.to == s.identifier)
            .cloned()
            .collect();
        let (p, a) = refresh_receive(&params(s.identifier), s, &deals, &mine)?;
        pending.push(p);
        acks.push(a);
    }
    pending
        .into_iter()
        .map(|p| {
            let me = p.share.identifier;
            let others: Vec<Ack> = acks.iter().filter(|a| a.from != me).cloned().collect();
            p.confirm(&others)
        })
        .collect()
}

/// Key import in this process: splits `secret` into a `t`-of-`n` sharing
/// (parties 1 to `n`, epoch 0) with the given chain code.
pub fn import_local(
    secret: &SecretScalar,
    chain_code: [u8; 32],
    t: u16,
    n: u16,
) -> Result<Vec<KeyShare>, SignError> {
    let receivers = (1..=n)
        .map(Identifier::new)
        .collect::<Result<Vec<_>, _>>()?;
    let holder = Identifier::new(1)?;
    let old = PublicKeyInfo::import(secret, holder, chain_code)?;
    run_dealers(old, &[(holder, secret)], &receivers, t, 0)
}

fn run_dealers(
    old: PublicKeyInfo,
    dealers: &[(Identifier, &SecretScalar)],
    receivers: &[Identifier],
    t: u16,
    epoch: u64,
) -> Result<Vec<KeyShare>, SignError> {
    let mut nonce = random_bytes()
        .map_err(|_| SignError::Parameters("the OS random generator failed".into()))?;
    let params = |me| Params {
        me,
        old: old.clone(),
        dealers: dealers.iter().map(|(i, _)| *i).collect(),
        receivers: receivers.to_vec(),
        threshold: t,
        epoch,
        nonce,
    };
    let mut deals = Vec::new();
    let mut values = Vec::new();
    for (id, secret) in dealers {
        let (d, v) = deal(&params(*id), secret)?;
        deals.push(d);
        values.extend(v);
    }
    let mut pending = Vec::new();
    let mut acks = Vec::new();
    for &r in receivers {
        let mine: Vec<PrivateShare> = values.iter().filter(|v| v.to == r).cloned().collect();
        let (p, a) = receive(&params(r), &deals, &mine)?;
        pending.push(p);
        acks.push(a);
    }
    for (id, _) in dealers {
        retire(&params(*id), &acks)?;
    }
    nonce.fill(0);
    pending
        .into_iter()
        .map(|p| {
            let me = p.share.identifier;
            let others: Vec<Ack> = acks.iter().filter(|a| a.from != me).cloned().collect();
            p.confirm(&others)
        })
        .collect()
}

/// Most old holders a wire form may list (identifiers are `u16`, but a
/// sharing has at most 255 holders).
const MAX_HOLDERS: usize = 255;

impl PublicKeyInfo {
    /// The wire form: group key, threshold, epoch, chain code, then the
    /// count and every `(id, Y_id)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(77 + 35 * self.verification_shares.len());
        b.extend_from_slice(&point_to_bytes(&self.group_key));
        b.extend_from_slice(&self.threshold.to_be_bytes());
        b.extend_from_slice(&self.epoch.to_be_bytes());
        b.extend_from_slice(&self.chain_code);
        b.extend_from_slice(&(self.verification_shares.len() as u16).to_be_bytes());
        for (i, y) in &self.verification_shares {
            b.extend_from_slice(&i.get().to_be_bytes());
            b.extend_from_slice(&point_to_bytes(y));
        }
        b
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, SignError> {
        let group_key = r.point()?;
        let threshold = r.u16()?;
        let epoch = r.u64()?;
        let mut chain_code = [0u8; 32];
        chain_code.copy_from_slice(r.take(32)?);
        let n = usize::from(r.u16()?);
        if n > MAX_HOLDERS {
            return Err(SignError::Length {
                party: 0,
                what: "old verification shares",
                expected: MAX_HOLDERS,
                got: n,
            });
        }
        let verification_shares = (0..n)
            .map(|_| Ok((Identifier::new(r.u16()?)?, r.point()?)))
            .collect::<Result<Vec<_>, SignError>>()?;
        Ok(PublicKeyInfo {
            group_key,
            threshold,
            epoch,
            chain_code,
            verification_shares,
        })
    }
}

impl Deal {
    /// The wire form: dealer, session, count, commitments.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(36 + 33 * self.commitments.len());
        b.extend_from_slice(&self.from.get().to_be_bytes());
        b.extend_from_slice(&self.session);
        b.extend_from_slice(&(self.commitments.len() as u16).to_be_bytes());
        for c in &self.commitments {
            b.extend_from_slice(&point_to_bytes(c));
        }
        b
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, SignError> {
        let from = Identifier::new(r.u16()?)?;
        let mut session = [0u8; 32];
        session.copy_from_slice(r.take(32)?);
        let n = usize::from(r.u16()?);
        if n > MAX_HOLDERS {
            return Err(SignError::Length {
                party: from.get(),
                what: "resharing commitments",
                expected: MAX_HOLDERS,
                got: n,
            });
        }
        let commitments = (0..n).map(|_| r.point()).collect::<Result<Vec<_>, _>>()?;
        Ok(Deal {
            from,
            session,
            commitments,
        })
    }
}

impl Ack {
    /// The wire form: 66 bytes, party, session, digest.
    pub fn to_bytes(&self) -> [u8; 66] {
        let mut b = [0u8; 66];
        b[..2].copy_from_slice(&self.from.get().to_be_bytes());
        b[2..34].copy_from_slice(&self.session);
        b[34..].copy_from_slice(&self.digest);
        b
    }

    /// Parses [`Ack::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, SignError> {
        let mut r = Reader::new(b, "resharing acknowledgement");
        let from = Identifier::new(r.u16()?)?;
        let mut session = [0u8; 32];
        session.copy_from_slice(r.take(32)?);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(r.take(32)?);
        r.end()?;
        Ok(Ack {
            from,
            session,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::dkg;
    use super::super::frost::{self, KeyAdjust, Suite};
    use super::*;

    fn id(i: u16) -> Identifier {
        Identifier::new(i).unwrap()
    }

    /// Whether `shares` interpolate to the private key of `group_key`.
    fn interpolates_to(shares: &[&KeyShare], group_key: &ProjectivePoint) -> bool {
        let ids: Vec<Identifier> = shares.iter().map(|s| s.identifier).collect();
        let s = shares.iter().fold(k256::Scalar::ZERO, |acc, s| {
            acc + lagrange_at_zero(&ids, s.identifier).unwrap() * s.secret.expose()
        });
        ProjectivePoint::mul_by_generator(&s) == *group_key
    }

    fn frost_verifies(shares: &[&KeyShare]) -> bool {
        let msg = b"reshared";
        let sig = frost::sign_local(Suite::Rfc9591, shares, &KeyAdjust::IDENTITY, msg).unwrap();
        frost::verify(Suite::Rfc9591, &shares[0].group_key, msg, &sig)
    }

    #[test]
    fn a_refresh_keeps_the_key_and_old_shares_do_not_mix_with_new() {
        let old = dkg::run_local(2, 3, 0).unwrap();
        // Every holder takes part in a refresh.
        let e = refresh_local(&[&old[0], &old[2]]).unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 2, .. }), "{e:?}");
        let new = refresh_local(&[&old[0], &old[1], &old[2]]).unwrap();
        assert_eq!(new.len(), 3);
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(n.group_key, o.group_key);
            assert_eq!(n.chain_code, o.chain_code);
            assert_eq!(n.epoch, 1);
            assert_eq!(n.threshold, 2);
            assert_ne!(n.secret.expose(), o.secret.expose());
        }
        assert!(interpolates_to(&[&new[0], &new[1]], &old[0].group_key));
        assert!(interpolates_to(&[&new[1], &new[2]], &old[0].group_key));
        // One old share and one new one (distinct ids) are not a sharing.
        assert!(!interpolates_to(&[&old[0], &new[1]], &old[0].group_key));
        assert!(!interpolates_to(&[&new[0], &old[2]], &old[0].group_key));
        assert!(frost_verifies(&[&new[0], &new[2]]));
    }

    #[test]
    fn resharing_moves_a_key_to_a_new_party_set_and_threshold() {
        let old = dkg::run_local(2, 3, 4).unwrap();
        let receivers: Vec<Identifier> = [2, 4, 5, 6, 7].map(id).to_vec();
        let new = run_local(&[&old[1], &old[2]], &receivers, 3, 5).unwrap();
        let ids: Vec<u16> = new.iter().map(|s| s.identifier.get()).collect();
        assert_eq!(ids, [2, 4, 5, 6, 7]);
        assert!(new.iter().all(|s| s.threshold == 3 && s.epoch == 5));
        assert!(interpolates_to(
            &[&new[0], &new[2], &new[4]],
            &old[0].group_key
        ));
        assert!(!interpolates_to(&[&new[0], &new[2]], &old[0].group_key));
        assert!(frost_verifies(&[&new[1], &new[3], &new[4]]));
        // And back down to 2-of-2, from three of the five.
        let back = run_local(&[&new[0], &new[1], &new[3]], &[id(1), id(9)], 2, 6).unwrap();
        assert!(frost_verifies(&[&back[0], &back[1]]));
    }

    #[test]
    fn an_imported_key_is_split_and_signs_under_its_own_public_key() {
        let sk = SecretScalar::random().unwrap();
        let pk = ProjectivePoint::mul_by_generator(sk.expose());
        let shares = import_local(&sk, [7; 32], 3, 4).unwrap();
        assert!(
            shares
                .iter()
                .all(|s| s.group_key == pk && s.chain_code == [7; 32])
        );
        assert!(interpolates_to(&[&shares[0], &shares[1], &shares[3]], &pk));
        assert!(frost_verifies(&[&shares[3], &shares[1], &shares[2]]));
        assert!(import_local(&SecretScalar::new(k256::Scalar::ZERO), [0; 32], 2, 3).is_err());
    }

    #[test]
    fn too_few_dealers_or_a_stale_epoch_are_refused() {
        let old = dkg::run_local(3, 4, 2).unwrap();
        let all: Vec<Identifier> = old.iter().map(|s| s.identifier).collect();
        let e = run_local(&[&old[0], &old[1]], &all, 3, 3).unwrap_err();
        assert!(e.to_string().contains("at least 3 dealers"), "{e}");
        let e = run_local(&[&old[0], &old[1], &old[2]], &all, 3, 2).unwrap_err();
        assert!(e.to_string().contains("epoch"), "{e}");
        let other = dkg::run_local(2, 3, 2).unwrap();
        let e = run_local(&[&old[0], &other[1], &old[2]], &all, 3, 3).unwrap_err();
        assert!(e.to_string().contains("another key"), "{e}");
    }

    /// A 2-of-3 resharing to {1, 2, 3} with dealers 1 and 2, run by hand
    /// so a test can change a message: `tamper(deals, values)` before the
    /// receivers see them. Returns receiver 3's result.
    fn tampered(
        tamper: impl FnOnce(&mut Vec<Deal>, &mut Vec<PrivateShare>),
    ) -> Result<(Pending, Ack), SignError> {
        let old = dkg::run_local(2, 3, 0).unwrap();
        let params = |me| Params {
            me,
            old: old[0].public(),
            dealers: vec![id(1), id(2)],
            receivers: vec![id(1), id(2), id(3)],
            threshold: 2,
            epoch: 1,
            nonce: [5; 32],
        };
        let mut deals = Vec::new();
        let mut values = Vec::new();
        for s in &old[..2] {
            let (d, v) = deal(&params(s.identifier), &s.secret).unwrap();
            deals.push(d);
            values.extend(v.into_iter().filter(|v| v.to == id(3)));
        }
        tamper(&mut deals, &mut values);
        receive(&params(id(3)), &deals, &values)
    }

    fn culprit_of(r: Result<(Pending, Ack), SignError>) -> (u16, String) {
        match r {
            Err(SignError::Culprit { culprit, reason }) => (culprit, reason),
            other => panic!("expected a culprit, got {other:?}"),
        }
    }

    #[test]
    fn an_honest_hand_run_succeeds() {
        let (p, a) = tampered(|_, _| {}).unwrap();
        assert_eq!(a.from, id(3));
        assert_eq!(p.share().epoch, 1);
    }

    #[test]
    fn a_dealer_that_changes_its_constant_term_is_named() {
        // Dealing a different secret changes the key: caught at C_0.
        let (who, why) = culprit_of(tampered(|d, v| {
            let delta = k256::Scalar::from(3u64);
            d[1].commitments[0] += ProjectivePoint::mul_by_generator(&delta);
            v[1].value = SecretScalar::new(*v[1].value.expose() + delta);
        }));
        assert_eq!(who, 2);
        assert!(why.contains("constant term"), "{why}");
    }

    #[test]
    fn a_value_off_its_commitments_is_a_complaint_naming_the_dealer() {
        let (who, why) = culprit_of(tampered(|_, v| {
            v[0].value = SecretScalar::new(*v[0].value.expose() + k256::Scalar::ONE);
        }));
        assert_eq!(who, 1);
        assert!(why.contains("complaint"), "{why}");
    }

    #[test]
    fn another_session_or_a_wrong_length_is_refused() {
        let (who, why) = culprit_of(tampered(|d, _| d[0].session[0] ^= 1));
        assert_eq!(who, 1);
        assert!(why.contains("session"), "{why}");
        let e = tampered(|d, _| d[1].commitments.push(ProjectivePoint::GENERATOR)).unwrap_err();
        assert!(matches!(e, SignError::Length { party: 2, .. }), "{e:?}");
        let (who, _) = culprit_of(tampered(|d, _| {
            d.pop();
        }));
        assert_eq!(who, 2);
        let (who, why) = culprit_of(tampered(|_, v| v[0].to = id(2)));
        assert_eq!(who, 1);
        assert!(why.contains("addressed"), "{why}");
    }

    #[test]
    fn no_share_is_confirmed_or_retired_without_every_matching_ack() {
        let old = dkg::run_local(2, 3, 0).unwrap();
        let params = |me| Params {
            me,
            old: old[0].public(),
            dealers: vec![id(1), id(3)],
            receivers: vec![id(1), id(2), id(3)],
            threshold: 2,
            epoch: 1,
            nonce: [9; 32],
        };
        let mut deals = Vec::new();
        let mut values = Vec::new();
        for s in [&old[0], &old[2]] {
            let (d, v) = deal(&params(s.identifier), &s.secret).unwrap();
            deals.push(d);
            values.extend(v);
        }
        let mut pending = Vec::new();
        let mut acks = Vec::new();
        for r in [1, 2, 3].map(id) {
            let mine: Vec<PrivateShare> = values.iter().filter(|v| v.to == r).cloned().collect();
            let (p, a) = receive(&params(r), &deals, &mine).unwrap();
            pending.push(p);
            acks.push(a);
        }
        // An old holder that did not deal retires only with all three acks.
        assert!(retire(&params(id(2)), &acks[..2]).is_err());
        let mut forged = acks.clone();
        forged[2].digest[0] ^= 1;
        match retire(&params(id(2)), &forged) {
            Err(SignError::Culprit { culprit: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        retire(&params(id(2)), &acks).unwrap();
        // A new share is confirmed only by the other two acks, matching.
        let p = pending.remove(0);
        let e = p.confirm(&forged[1..]).unwrap_err();
        assert!(matches!(e, SignError::Culprit { culprit: 3, .. }), "{e:?}");
        let p = pending.remove(0);
        assert!(p.confirm(&[acks[0].clone()]).is_err());
        let p = pending.remove(0);
        let share = p.confirm(&acks[..2]).unwrap();
        assert_eq!(share.identifier, id(3));
    }

    #[test]
    fn a_dealer_whose_share_is_not_its_own_refuses_to_deal() {
        let old = dkg::run_local(2, 3, 0).unwrap();
        let params = Params {
            me: id(1),
            old: old[0].public(),
            dealers: vec![id(1), id(2)],
            receivers: vec![id(1), id(2), id(3)],
            threshold: 2,
            epoch: 1,
            nonce: [1; 32],
        };
        assert!(deal(&params, &old[1].secret).is_err());
        let mut zero = params.clone();
        zero.nonce = [0; 32];
        assert!(deal(&zero, &old[0].secret).is_err());
    }

    /// A 2-of-3 refresh run by hand, holder 3's result after `tamper`.
    fn refresh_tampered(
        tamper: impl FnOnce(&mut Vec<Deal>, &mut Vec<PrivateShare>),
    ) -> Result<(Pending, Ack), SignError> {
        let old = dkg::run_local(2, 3, 0).unwrap();
        let params = |me| RefreshParams {
            me,
            old: old[0].public(),
            epoch: 1,
            nonce: [4; 32],
        };
        let mut deals = Vec::new();
        let mut values = Vec::new();
        for s in &old {
            let (d, v) = refresh_deal(&params(s.identifier)).unwrap();
            deals.push(d);
            values.extend(v.into_iter().filter(|v| v.to == id(3)));
        }
        tamper(&mut deals, &mut values);
        refresh_receive(&params(id(3)), &old[2], &deals, &values)
    }

    #[test]
    fn a_refresh_value_that_is_not_a_sharing_of_zero_names_its_dealer() {
        let (p, _) = refresh_tampered(|_, _| {}).unwrap();
        assert_eq!(p.share().epoch, 1);
        // Adding a constant (a sharing of something other than zero) is
        // caught by the commitments, which have no constant term.
        let (who, why) = culprit_of(refresh_tampered(|_, v| {
            v[1].value = SecretScalar::new(*v[1].value.expose() + k256::Scalar::ONE);
        }));
        assert_eq!(who, 2);
        assert!(why.contains("sharing of zero"), "{why}");
        let e =
            refresh_tampered(|d, _| d[0].commitments.push(ProjectivePoint::GENERATOR)).unwrap_err();
        assert!(matches!(e, SignError::Length { party: 1, .. }), "{e:?}");
        let (who, _) = culprit_of(refresh_tampered(|d, _| d[2].session[5] ^= 1));
        assert_eq!(who, 3);
    }
}
