//! The signing protocols over [`Channel`]s: each party runs in its own
//! thread (or process) with one channel to every other signer, in memory or
//! over mutually authenticated TLS. Every round sends one frame to each
//! peer that needs one, then reads one frame from each; a frame that does
//! not parse, or says it comes from someone other than the channel's peer,
//! names that peer.

use super::SecretScalar;
use super::consumed::SessionLog;
use super::dkg::{self, Commit, KeyShare, PrivateShare, Reader, Reveal, Transcript};
use super::dkls::{
    self, EcdsaKey, EcdsaSignature, Msg1, Msg2, Msg3, OtExtendMsg, OtSetupBody, OtSetupMsg,
    SignRequest,
};
use super::encoding::point_to_bytes;
use super::frost::{self, CommitmentList, KeyAdjust, Signature, SigningCommitments, Suite};
use super::reshare::{self, Ack, Deal, Params, PublicKeyInfo, RefreshParams};
use super::{Identifier, SignError, scalar_from_bytes, scalar_to_bytes};
use crate::net::Channel;
use crate::ot::base::{ReceiverMsg, SenderMsg};
use zeroize::{Zeroize, Zeroizing};

/// One party's channels: `(peer, channel)` for every other signer.
pub type Links<'a> = [(Identifier, &'a mut Channel)];

fn transport(peer: Identifier, e: impl std::fmt::Display) -> SignError {
    SignError::Transport(format!("party {}: {e}", peer.get()))
}

fn link<'a, 'b>(links: &'a mut Links<'b>, peer: Identifier) -> Result<&'a mut Channel, SignError> {
    links
        .iter_mut()
        .find(|(i, _)| *i == peer)
        .map(|(_, c)| &mut **c)
        .ok_or_else(|| SignError::Participants(format!("no channel to party {}", peer.get())))
}

/// Sends each `(to, bytes)`, flushes, then reads one frame from each of
/// `from`.
fn exchange(
    links: &mut Links<'_>,
    out: &[(Identifier, Vec<u8>)],
    from: &[Identifier],
) -> Result<Vec<(Identifier, Vec<u8>)>, SignError> {
    for (to, bytes) in out {
        let ch = link(links, *to)?;
        ch.send_frame(bytes).map_err(|e| transport(*to, e))?;
    }
    for (to, _) in out {
        link(links, *to)?.flush().map_err(|e| transport(*to, e))?;
    }
    let mut got = Vec::with_capacity(from.len());
    for &j in from {
        let frame = link(links, j)?.recv_frame().map_err(|e| transport(j, e))?;
        got.push((j, frame));
    }
    Ok(got)
}

fn wrong_sender(channel_peer: Identifier) -> SignError {
    SignError::Culprit {
        culprit: channel_peer.get(),
        reason: "its message names another sender or recipient".into(),
    }
}

/// Threshold ECDSA (DKLs23) as one party: three rounds over `links`. On a
/// failed OT or multiplication check the pair's base OTs are discarded in
/// `key`, which the caller must then store.
pub fn ecdsa(
    key: &mut EcdsaKey,
    links: &mut Links<'_>,
    request: SignRequest,
    log: &mut dyn SessionLog,
) -> Result<EcdsaSignature, SignError> {
    let me = key.share.identifier;
    let peers: Vec<Identifier> = request
        .signers
        .iter()
        .copied()
        .filter(|&j| j != me)
        .collect();
    let (r1, m1) = dkls::start(key, request, log)?;
    let out: Vec<_> = m1.iter().map(|m| (m.to, m.to_bytes())).collect();
    let mut in1 = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let m = Msg1::from_bytes(&b).map_err(|e| name(e, j))?;
        if m.from != j || m.to != me {
            return Err(wrong_sender(j));
        }
        in1.push(m);
    }
    let (r2, m2) = r1.round2(key, &in1)?;
    let out: Vec<_> = m2.iter().map(|m| (m.to, m.to_bytes())).collect();
    let mut in2 = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let m = Msg2::from_bytes(&b).map_err(|e| name(e, j))?;
        if m.from != j || m.to != me {
            return Err(wrong_sender(j));
        }
        in2.push(m);
    }
    let (r3, m3) = r2.round3(key, &in2)?;
    let out: Vec<_> = peers.iter().map(|&j| (j, m3.to_bytes().to_vec())).collect();
    let mut in3 = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let m = Msg3::from_bytes(&b).map_err(|e| name(e, j))?;
        if m.from != j {
            return Err(wrong_sender(j));
        }
        in3.push(m);
    }
    r3.finish(&in3)
}

/// A parse error of a peer's frame, attributed to that peer.
fn name(e: SignError, peer: Identifier) -> SignError {
    match e {
        SignError::Malformed { what, kind, .. } => SignError::Malformed {
            party: peer.get(),
            what,
            kind,
        },
        SignError::Length {
            what,
            expected,
            got,
            ..
        } => SignError::Length {
            party: peer.get(),
            what,
            expected,
            got,
        },
        other => other,
    }
}

/// The session of a FROST run: the sharing (key, threshold, epoch,
/// verification shares), the suite, the signers, the key change, the
/// message and the caller's nonce, each length-prefixed under one tag.
fn frost_session(
    share: &KeyShare,
    suite: Suite,
    signers: &[Identifier],
    adjust: &KeyAdjust,
    msg: &[u8],
    nonce: &[u8; 32],
) -> [u8; 32] {
    let mut t = Transcript::new(b"quorate/sign/frost/session/v1");
    share.public().hash_into(&mut t);
    t.put(suite.context());
    let mut ids = signers.to_vec();
    ids.sort_unstable();
    t.put(&(ids.len() as u64).to_be_bytes());
    for i in ids {
        t.put(&i.get().to_be_bytes());
    }
    t.point(&adjust.point(&share.group_key)).put(msg).put(nonce);
    t.bytes()
}

/// FROST as one signer, with no coordinator: every signer broadcasts the
/// session id it computed ([`frost_session`]: a signer of another key,
/// epoch, signer set, message or nonce is refused before any share is
/// made) with its commitments, then its signature share, and aggregates
/// (checking every share it was sent when the result does not verify).
/// `signers` includes this party; `adjust` as for [`frost::sign_local`];
/// `nonce` the same fresh value at every signer.
#[allow(clippy::too_many_arguments)]
pub fn frost(
    share: &KeyShare,
    links: &mut Links<'_>,
    suite: Suite,
    signers: &[Identifier],
    adjust: &KeyAdjust,
    msg: &[u8],
    nonce: &[u8; 32],
) -> Result<Signature, SignError> {
    let me = share.identifier;
    let peers: Vec<Identifier> = signers.iter().copied().filter(|&j| j != me).collect();
    if peers.len() + 1 != signers.len() || signers.len() < usize::from(share.threshold) {
        return Err(SignError::Participants(format!(
            "{} signers (this party among them?) for a key that needs {}",
            signers.len(),
            share.threshold
        )));
    }
    let key = adjust.point(&share.group_key);
    let secret = adjust.share(&share.secret);
    let session = frost_session(share, suite, signers, adjust, msg, nonce);
    let nonces = frost::commit(suite, me, &secret)?;
    let mine = nonces.commitments();
    let mut first = session.to_vec();
    first.extend_from_slice(&mine.to_bytes());
    let out: Vec<_> = peers.iter().map(|&j| (j, first.clone())).collect();
    let mut list = vec![mine];
    for (j, b) in exchange(links, &out, &peers)? {
        if b.len() < 32 || b[..32] != session {
            return Err(SignError::Culprit {
                culprit: j.get(),
                reason: "its session id differs (another key, epoch, signer set, message or \
                         nonce)"
                    .into(),
            });
        }
        let c = SigningCommitments::from_bytes(&b[32..]).map_err(|e| name(e, j))?;
        if c.identifier != j {
            return Err(wrong_sender(j));
        }
        list.push(c);
    }
    let list = CommitmentList::new(list)?;
    let z = frost::sign(me, &secret, &key, nonces, msg, &list)?;
    let out: Vec<_> = peers
        .iter()
        .map(|&j| (j, scalar_to_bytes(&z).to_vec()))
        .collect();
    let mut zs = vec![(me, z)];
    for (j, b) in exchange(links, &out, &peers)? {
        let zj = scalar_from_bytes(&b).ok_or(SignError::Malformed {
            party: j.get(),
            what: "signature share",
            kind: "scalar",
        })?;
        zs.push((j, zj));
    }
    let vs: Vec<_> = share
        .verification_shares
        .iter()
        .map(|(i, p)| (*i, adjust.point(p)))
        .collect();
    frost::aggregate(suite, &list, msg, &key, &zs, &vs)
}

/// Key generation as one party: the DKG ([`dkg`]: commit, reveal with the
/// private shares, echo) and then the pairwise OT setup threshold ECDSA
/// needs ([`dkls::ot_setup`]: base OTs, then the reverse direction by
/// extension), five exchanges over `links` in all. `nonce` must be the
/// same fresh value at every participant.
pub fn keygen(
    me: Identifier,
    links: &mut Links<'_>,
    participants: &[Identifier],
    threshold: u16,
    nonce: [u8; 32],
) -> Result<EcdsaKey, SignError> {
    let peers: Vec<Identifier> = participants.iter().copied().filter(|&j| j != me).collect();
    let (committed, commit) = dkg::start(dkg::Params {
        me,
        participants: participants.to_vec(),
        threshold,
        epoch: 0,
        nonce,
    })?;
    // 1. Commits.
    let out: Vec<_> = peers.iter().map(|&j| (j, commit_bytes(&commit))).collect();
    let mut commits = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let c = commit_from(&b).map_err(|e| name(e, j))?;
        if c.from != j {
            return Err(wrong_sender(j));
        }
        commits.push(c);
    }
    // 2. Reveal (broadcast) with each peer's private share.
    let (revealed, reveal, shares) = committed.reveal(&commits)?;
    let out: Vec<_> = shares
        .iter()
        .map(|s| {
            let mut b = reveal_bytes(&reveal);
            b.extend_from_slice(&s.to.get().to_be_bytes());
            b.extend_from_slice(&super::scalar_to_bytes(s.value.expose()));
            (s.to, b)
        })
        .collect();
    let mut reveals = Vec::new();
    let mut theirs = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let (r, s) = reveal_from(&b, me).map_err(|e| name(e, j))?;
        if r.from != j || s.from != j {
            return Err(wrong_sender(j));
        }
        reveals.push(r);
        theirs.push(s);
    }
    let (share, echo) = revealed.finish(&reveals, &theirs)?;
    // 3. Echo: everyone saw the same broadcasts.
    let out: Vec<_> = peers.iter().map(|&j| (j, echo.to_vec())).collect();
    let mut echoes = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        let d: [u8; 32] = b.as_slice().try_into().map_err(|_| SignError::Length {
            party: j.get(),
            what: "echo digest (bytes)",
            expected: 32,
            got: b.len(),
        })?;
        echoes.push((j, d));
    }
    dkg::check_echo(&echo, &echoes)?;
    // 4, 5. The OT setup, in the session the key fixes.
    ot_pairs(share, links, participants)
}

/// The pairwise OT setup threshold ECDSA needs ([`dkls::ot_setup`]), two
/// exchanges among `participants` (this party among them) in the session
/// `share` fixes.
fn ot_pairs(
    share: KeyShare,
    links: &mut Links<'_>,
    participants: &[Identifier],
) -> Result<EcdsaKey, SignError> {
    let me = share.identifier;
    let peers: Vec<Identifier> = participants.iter().copied().filter(|&j| j != me).collect();
    let session = dkls::ot_setup_session(&share);
    let (setup, msgs) = dkls::ot_setup(me, participants, &session)?;
    let out: Vec<_> = msgs.iter().map(|m| (m.to, setup_bytes(m))).collect();
    let mut got = Vec::new();
    for (j, b) in exchange(links, &out, &peers)? {
        got.push(setup_from(&b, j, me)?);
    }
    let (extend, msgs) = setup.extend(&got)?;
    let above: Vec<Identifier> = peers.iter().copied().filter(|&j| j > me).collect();
    let out: Vec<_> = msgs.iter().map(|m| (m.to, m.ext.clone())).collect();
    let got: Vec<OtExtendMsg> = exchange(links, &out, &above)?
        .into_iter()
        .map(|(j, ext)| OtExtendMsg {
            from: j,
            to: me,
            ext,
        })
        .collect();
    EcdsaKey::new(share, extend.finish(&got)?)
}

/// Where a new share waits for the acknowledgements: the caller stores it
/// (durably, but not yet as the key's share) before this party acks.
pub type Stage<'a> = dyn FnMut(&EcdsaKey) -> Result<(), SignError> + 'a;

/// A deal with the value for one receiver: [`Deal::to_bytes`], the
/// receiver's id, the value.
fn deal_bytes(deal: &Deal, value: &PrivateShare) -> Zeroizing<Vec<u8>> {
    let mut b = Zeroizing::new(deal.to_bytes());
    b.extend_from_slice(&value.to.get().to_be_bytes());
    b.extend_from_slice(&scalar_to_bytes(value.value.expose()));
    b
}

/// Parses [`deal_bytes`] from the channel of `peer`, addressed to `me`.
fn deal_from(
    b: &[u8],
    peer: Identifier,
    me: Identifier,
) -> Result<(Deal, PrivateShare), SignError> {
    let mut r = Reader::new(b, "resharing deal");
    let deal = Deal::read(&mut r).map_err(|e| name(e, peer))?;
    let to = Identifier::new(r.u16().map_err(|e| name(e, peer))?)?;
    let value = SecretScalar::new(r.scalar().map_err(|e| name(e, peer))?);
    r.end().map_err(|e| name(e, peer))?;
    if deal.from != peer || to != me {
        return Err(wrong_sender(peer));
    }
    Ok((
        deal,
        PrivateShare {
            from: peer,
            to,
            value,
        },
    ))
}

/// Sends the deals' values and reads the others', wiping both after.
fn exchange_deals(
    links: &mut Links<'_>,
    out: Vec<(Identifier, Zeroizing<Vec<u8>>)>,
    from: &[Identifier],
    me: Identifier,
) -> Result<Vec<(Deal, PrivateShare)>, SignError> {
    let plain: Vec<(Identifier, Vec<u8>)> = out.iter().map(|(j, b)| (*j, b.to_vec())).collect();
    let got = exchange(links, &plain, from);
    for (_, mut b) in plain {
        b.zeroize();
    }
    got?.into_iter()
        .map(|(j, b)| {
            let b = Zeroizing::new(b);
            deal_from(&b, j, me)
        })
        .collect()
}

/// Sends `ack` to `to` and reads one from each of `from`.
fn exchange_acks(
    links: &mut Links<'_>,
    ack: Option<&Ack>,
    to: &[Identifier],
    from: &[Identifier],
) -> Result<Vec<Ack>, SignError> {
    let out: Vec<_> = match ack {
        Some(a) => to.iter().map(|&j| (j, a.to_bytes().to_vec())).collect(),
        None => Vec::new(),
    };
    let mut acks = Vec::new();
    for (j, b) in exchange(links, &out, from)? {
        let a = Ack::from_bytes(&b).map_err(|e| name(e, j))?;
        if a.from != j {
            return Err(wrong_sender(j));
        }
        acks.push(a);
    }
    Ok(acks)
}

/// A refresh ([`reshare::refresh_deal`], [`reshare::refresh_receive`]) as
/// one holder, with every holder of the key linked: the deals of the
/// sharings of zero, then the new pairwise OTs, then the acknowledgements.
/// `stage` stores the new key before this party acknowledges; the result
/// is returned only once every holder acknowledged the same deals (then,
/// and only then, the caller may delete the old share). `nonce` must be the
/// same fresh value at every holder.
pub fn refresh(
    share: &KeyShare,
    links: &mut Links<'_>,
    nonce: [u8; 32],
    stage: &mut Stage<'_>,
) -> Result<EcdsaKey, SignError> {
    let me = share.identifier;
    let epoch = share
        .epoch
        .checked_add(1)
        .ok_or_else(|| SignError::Parameters("the epoch counter is exhausted".into()))?;
    let params = RefreshParams {
        me,
        old: share.public(),
        epoch,
        nonce,
    };
    let holders = params.holders();
    let peers: Vec<Identifier> = holders.iter().copied().filter(|&j| j != me).collect();
    let (deal, values) = reshare::refresh_deal(&params)?;
    let mut mine = Vec::new();
    let mut out = Vec::new();
    for v in values {
        if v.to == me {
            mine.push(v);
        } else {
            out.push((v.to, deal_bytes(&deal, &v)));
        }
    }
    let mut deals = vec![deal];
    for (d, v) in exchange_deals(links, out, &peers, me)? {
        deals.push(d);
        mine.push(v);
    }
    let (pending, ack) = reshare::refresh_receive(&params, share, &deals, &mine)?;
    let key = ot_pairs(pending.share().clone(), links, &holders)?;
    stage(&key)?;
    let acks = exchange_acks(links, Some(&ack), &peers, &peers)?;
    pending.confirm(&acks)?;
    Ok(key)
}

/// What a party brings to a resharing: the old sharing's public facts and
/// its secret in it (its old share, or the whole key for an import).
pub struct Holding<'a> {
    /// The old sharing.
    pub old: PublicKeyInfo,
    /// This party's share of it.
    pub secret: &'a SecretScalar,
}

/// A resharing ([`reshare::deal`], [`reshare::receive`]) as one party,
/// linked to every other party taking part:
///
/// 0. every party says whether it holds a share and of which sharing (all
///    must name the same one); those that do are the dealers (at least the
///    old threshold);
/// 1. each dealer sends each new party its deal and value;
/// 2. the new parties run their pairwise OT setup (two exchanges) and
///    `stage` the new key;
/// 3. each new party acknowledges to everyone.
///
/// A new party gets its key, once every new party acknowledged the same
/// deals; an old holder that is not among `receivers` gets `None` then,
/// and may delete its old share. The new epoch is the old one's next (0
/// for an import). `nonce` must be the same fresh value everywhere.
#[allow(clippy::too_many_arguments)]
pub fn reshare(
    me: Identifier,
    holding: Option<Holding<'_>>,
    links: &mut Links<'_>,
    receivers: &[Identifier],
    threshold: u16,
    nonce: [u8; 32],
    stage: &mut Stage<'_>,
) -> Result<Option<EcdsaKey>, SignError> {
    let peers: Vec<Identifier> = links.iter().map(|(j, _)| *j).collect();
    // 0. Who holds what.
    let hello = match &holding {
        Some(h) => {
            let mut b = vec![1u8];
            b.extend_from_slice(&h.old.to_bytes());
            b
        }
        None => vec![0u8],
    };
    let out: Vec<_> = peers.iter().map(|&j| (j, hello.clone())).collect();
    let mut dealers = Vec::new();
    let mut old: Option<(Identifier, PublicKeyInfo)> =
        holding.as_ref().map(|h| (me, h.old.clone()));
    if holding.is_some() {
        dealers.push(me);
    }
    for (j, b) in exchange(links, &out, &peers)? {
        let mut r = Reader::new(&b, "resharing hello");
        let holds = r.take(1).map_err(|e| name(e, j))?[0];
        if holds == 0 {
            r.end().map_err(|e| name(e, j))?;
            continue;
        }
        let info = PublicKeyInfo::read(&mut r).map_err(|e| name(e, j))?;
        r.end().map_err(|e| name(e, j))?;
        match &old {
            Some((k, o)) if *o != info => {
                return Err(SignError::Participants(format!(
                    "parties {} and {} hold shares of different sharings (another key or epoch)",
                    k.get(),
                    j.get()
                )));
            }
            Some(_) => {}
            None => old = Some((j, info)),
        }
        dealers.push(j);
    }
    let Some((_, old)) = old else {
        return Err(SignError::Participants(
            "no party holds a share of the key to reshare".into(),
        ));
    };
    if let Some(j) = peers
        .iter()
        .find(|j| !dealers.contains(j) && !receivers.contains(j))
    {
        return Err(SignError::Participants(format!(
            "party {} neither holds an old share nor receives a new one",
            j.get()
        )));
    }
    if let Some(j) = receivers.iter().find(|&&j| j != me && !peers.contains(&j)) {
        return Err(SignError::Participants(format!(
            "new party {} is not linked",
            j.get()
        )));
    }
    dealers.sort_unstable();
    let epoch = if old.threshold == 1 {
        0
    } else {
        old.epoch
            .checked_add(1)
            .ok_or_else(|| SignError::Parameters("the epoch counter is exhausted".into()))?
    };
    let params = Params {
        me,
        old,
        dealers: dealers.clone(),
        receivers: receivers.to_vec(),
        threshold,
        epoch,
        nonce,
    };
    let receiving = receivers.contains(&me);
    // 1. Deals.
    let mut mine_deals = Vec::new();
    let mut mine_values = Vec::new();
    let mut out = Vec::new();
    if let Some(h) = &holding {
        let (deal, values) = reshare::deal(&params, h.secret)?;
        for v in values {
            if v.to == me {
                mine_values.push(v);
            } else {
                out.push((v.to, deal_bytes(&deal, &v)));
            }
        }
        mine_deals.push(deal);
    }
    let from: Vec<Identifier> = if receiving {
        dealers.iter().copied().filter(|&j| j != me).collect()
    } else {
        Vec::new()
    };
    for (d, v) in exchange_deals(links, out, &from, me)? {
        mine_deals.push(d);
        mine_values.push(v);
    }
    let new_peers: Vec<Identifier> = receivers.iter().copied().filter(|&j| j != me).collect();
    if !receiving {
        // 3, for an old holder leaving: every new party's ack.
        let acks = exchange_acks(links, None, &[], &new_peers)?;
        reshare::retire(&params, &acks)?;
        return Ok(None);
    }
    let (pending, ack) = reshare::receive(&params, &mine_deals, &mine_values)?;
    // 2. The new parties' OT setup.
    let key = ot_pairs(pending.share().clone(), links, receivers)?;
    stage(&key)?;
    // 3. Acknowledgements, to every party.
    let acks = exchange_acks(links, Some(&ack), &peers, &new_peers)?;
    pending.confirm(&acks)?;
    Ok(Some(key))
}

fn commit_bytes(c: &Commit) -> Vec<u8> {
    let mut b = c.from.get().to_be_bytes().to_vec();
    b.extend_from_slice(&c.session);
    b.extend_from_slice(&c.hash);
    b
}

fn commit_from(b: &[u8]) -> Result<Commit, SignError> {
    let mut r = Reader::new(b, "key generation commit");
    let from = Identifier::new(r.u16()?)?;
    let mut session = [0u8; 32];
    session.copy_from_slice(r.take(32)?);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(r.take(32)?);
    r.end()?;
    Ok(Commit {
        from,
        session,
        hash,
    })
}

fn reveal_bytes(r: &Reveal) -> Vec<u8> {
    let mut b = r.from.get().to_be_bytes().to_vec();
    b.extend_from_slice(&(r.commitments.len() as u16).to_be_bytes());
    for c in &r.commitments {
        b.extend_from_slice(&point_to_bytes(c));
    }
    b.extend_from_slice(&point_to_bytes(&r.proof_r));
    b.extend_from_slice(&super::scalar_to_bytes(&r.proof_mu));
    b
}

/// A reveal followed by the receiver's id and its private share.
fn reveal_from(b: &[u8], me: Identifier) -> Result<(Reveal, PrivateShare), SignError> {
    let mut r = Reader::new(b, "key generation reveal");
    let from = Identifier::new(r.u16()?)?;
    let t = usize::from(r.u16()?);
    if t > 255 {
        return Err(SignError::Length {
            party: 0,
            what: "coefficient commitments",
            expected: 255,
            got: t,
        });
    }
    let commitments = (0..t).map(|_| r.point()).collect::<Result<Vec<_>, _>>()?;
    let proof_r = r.point()?;
    let proof_mu = r.scalar()?;
    let to = Identifier::new(r.u16()?)?;
    if to != me {
        return Err(SignError::Culprit {
            culprit: from.get(),
            reason: "sent a share addressed to another party".into(),
        });
    }
    let value = SecretScalar::new(r.scalar()?);
    r.end()?;
    Ok((
        Reveal {
            from,
            commitments,
            proof_r,
            proof_mu,
        },
        PrivateShare { from, to, value },
    ))
}

fn setup_bytes(m: &OtSetupMsg) -> Vec<u8> {
    match &m.body {
        OtSetupBody::Sender(s) => {
            let mut b = vec![0u8];
            b.extend_from_slice(&s.0);
            b
        }
        OtSetupBody::Receiver(r) => {
            let mut b = vec![1u8];
            for p in &r.0 {
                b.extend_from_slice(p);
            }
            b
        }
    }
}

fn setup_from(b: &[u8], from: Identifier, to: Identifier) -> Result<OtSetupMsg, SignError> {
    let bad = |got: usize| SignError::Length {
        party: from.get(),
        what: "OT setup message (bytes)",
        expected: 34,
        got,
    };
    let body = match b.split_first() {
        Some((0, a)) => OtSetupBody::Sender(SenderMsg(a.try_into().map_err(|_| bad(b.len()))?)),
        Some((1, rest)) => {
            const PAIR: usize = 130;
            if rest.len() % PAIR != 0 || rest.len() / PAIR != crate::ot::kos::KAPPA {
                return Err(SignError::Length {
                    party: from.get(),
                    what: "base OT receiver message (bytes)",
                    expected: PAIR * crate::ot::kos::KAPPA,
                    got: rest.len(),
                });
            }
            let pairs = rest
                .chunks_exact(PAIR)
                .map(|c| {
                    let mut p = [0u8; PAIR];
                    p.copy_from_slice(c);
                    p
                })
                .collect();
            OtSetupBody::Receiver(ReceiverMsg(pairs))
        }
        _ => return Err(bad(b.len())),
    };
    Ok(OtSetupMsg { from, to, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory;

    #[test]
    fn ecdsa_and_frost_over_channels_one_thread_per_party() {
        let mut keys = dkls::keygen_local(2, 3, 0).unwrap();
        let ids: Vec<Identifier> = keys.iter().map(|k| k.share.identifier).collect();
        let mut mesh = memory::mesh(&["1", "2", "3"]);
        let digest = [5u8; 32];
        let request = SignRequest {
            signers: ids.clone(),
            nonce: [8; 32],
            digest,
            adjust: KeyAdjust::IDENTITY,
        };
        let adjust = frost::taproot_adjust(&keys[0].share.group_key, Some(&[])).unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .iter_mut()
                .zip(mesh.iter_mut())
                .map(|(key, row)| {
                    let request = request.clone();
                    let ids = &ids;
                    let adjust = &adjust;
                    s.spawn(move || {
                        let mut links: Vec<(Identifier, &mut Channel)> = row
                            .iter_mut()
                            .enumerate()
                            .filter_map(|(j, c)| c.as_mut().map(|c| (ids[j], c)))
                            .collect();
                        let e = ecdsa(
                            key,
                            &mut links,
                            request,
                            &mut crate::sign::consumed::MemoryLog::default(),
                        )
                        .unwrap();
                        let f = frost(
                            &key.share,
                            &mut links,
                            Suite::Taproot,
                            ids,
                            adjust,
                            &digest,
                            &[2u8; 32],
                        )
                        .unwrap();
                        (e, f)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let pk = keys[0].share.group_key;
        for (e, f) in &results {
            assert_eq!(*e, results[0].0);
            assert!(dkls::verify(
                &super::super::point_to_bytes(&pk),
                &digest,
                &e.bytes,
                true
            ));
            assert!(frost::verify(
                Suite::Taproot,
                &adjust.point(&pk),
                &digest,
                f
            ));
        }
    }

    #[test]
    fn keygen_over_channels_makes_keys_that_sign() {
        let ids: Vec<Identifier> = (1..=4).map(|i| Identifier::new(i).unwrap()).collect();
        let mut mesh = memory::mesh(&["1", "2", "3", "4"]);
        let nonce = [3u8; 32];
        let mut keys: Vec<EcdsaKey> = std::thread::scope(|s| {
            let handles: Vec<_> = mesh
                .iter_mut()
                .enumerate()
                .map(|(k, row)| {
                    let ids = &ids;
                    s.spawn(move || {
                        let mut links: Vec<(Identifier, &mut Channel)> = row
                            .iter_mut()
                            .enumerate()
                            .filter_map(|(j, c)| c.as_mut().map(|c| (ids[j], c)))
                            .collect();
                        keygen(ids[k], &mut links, ids, 3, nonce)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        let pk = keys[0].share.group_key;
        assert!(keys.iter().all(|k| k.share.group_key == pk));
        let digest = [1u8; 32];
        let sig = dkls::sign_local(&mut keys, &[3, 0, 2], &digest, KeyAdjust::IDENTITY).unwrap();
        assert!(dkls::verify(
            &super::super::point_to_bytes(&pk),
            &digest,
            &sig.bytes,
            true
        ));
    }

    /// Runs `party(k, links)` for every `k` of `ids`, one thread each, over
    /// an in-memory mesh.
    fn run_parties<T: Send>(
        ids: &[Identifier],
        party: impl Fn(usize, &mut Links<'_>) -> T + Sync,
    ) -> Vec<T> {
        let names: Vec<String> = ids.iter().map(|i| i.get().to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut mesh = memory::mesh(&names);
        std::thread::scope(|s| {
            let handles: Vec<_> = mesh
                .iter_mut()
                .enumerate()
                .map(|(k, row)| {
                    let party = &party;
                    s.spawn(move || {
                        let mut links: Vec<(Identifier, &mut Channel)> = row
                            .iter_mut()
                            .enumerate()
                            .filter_map(|(j, c)| c.as_mut().map(|c| (ids[j], c)))
                            .collect();
                        party(k, &mut links)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn signs(keys: &mut [EcdsaKey], signers: &[usize]) -> bool {
        let pk = keys[0].share.group_key;
        let digest = [9u8; 32];
        let sig = dkls::sign_local(keys, signers, &digest, KeyAdjust::IDENTITY).unwrap();
        dkls::verify(
            &super::super::point_to_bytes(&pk),
            &digest,
            &sig.bytes,
            true,
        )
    }

    #[test]
    fn refresh_over_channels_keeps_the_key_and_stages_before_acking() {
        let keys = dkls::keygen_local(2, 3, 0).unwrap();
        let ids: Vec<Identifier> = keys.iter().map(|k| k.share.identifier).collect();
        let results = run_parties(&ids, |k, links| {
            let mut staged = 0;
            let key = refresh(&keys[k].share, links, [4u8; 32], &mut |_| {
                staged += 1;
                Ok(())
            });
            (key, staged)
        });
        let mut new: Vec<EcdsaKey> = results
            .into_iter()
            .map(|(key, staged)| {
                assert_eq!(staged, 1);
                key.unwrap()
            })
            .collect();
        for (old, new) in keys.iter().zip(&new) {
            assert_eq!(new.share.group_key, old.share.group_key);
            assert_eq!(new.share.epoch, 1);
            assert_ne!(new.share.secret.expose(), old.share.secret.expose());
        }
        assert!(signs(&mut new, &[0, 2]));
    }

    #[test]
    fn refresh_over_channels_fails_when_a_holder_refreshes_another_epoch() {
        let keys = dkls::keygen_local(2, 3, 0).unwrap();
        let ids: Vec<Identifier> = keys.iter().map(|k| k.share.identifier).collect();
        let mut stale = keys[1].share.clone();
        stale.epoch = 7;
        let results = run_parties(&ids, |k, links| {
            let share = if k == 1 { &stale } else { &keys[k].share };
            refresh(share, links, [4u8; 32], &mut |_| Ok(())).map(|_| ())
        });
        for (k, r) in results.iter().enumerate() {
            match r {
                Err(SignError::Culprit { culprit, .. }) if k != 1 => assert_eq!(*culprit, 2),
                Err(_) => {}
                Ok(()) => panic!("party {k} refreshed with a holder of another epoch"),
            }
        }
    }

    #[test]
    fn reshare_over_channels_to_a_new_party_while_one_leaves() {
        // 2-of-3 among 1, 2, 3; 2 leaves, 4 joins: 2-of-3 among 1, 3, 4.
        let keys = dkls::keygen_local(2, 3, 0).unwrap();
        let id = |i| Identifier::new(i).unwrap();
        let ids = [id(1), id(2), id(3), id(4)];
        let receivers = [id(1), id(3), id(4)];
        let results = run_parties(&ids, |k, links| {
            let holding = keys.get(k).map(|key| Holding {
                old: key.share.public(),
                secret: &key.share.secret,
            });
            reshare(
                ids[k],
                holding,
                links,
                &receivers,
                2,
                [6u8; 32],
                &mut |_| Ok(()),
            )
            .unwrap()
        });
        assert!(results[1].is_none());
        let mut new: Vec<EcdsaKey> = results.into_iter().flatten().collect();
        assert_eq!(new.len(), 3);
        for key in &new {
            assert_eq!(key.share.group_key, keys[0].share.group_key);
            assert_eq!(key.share.epoch, 1);
            assert_eq!(key.share.verification_shares.len(), 3);
        }
        assert_eq!(new[2].share.identifier, id(4));
        assert!(signs(&mut new, &[1, 2]));
    }

    #[test]
    fn import_over_channels_from_one_holder() {
        let id = |i| Identifier::new(i).unwrap();
        let ids = [id(1), id(2), id(3)];
        let secret = SecretScalar::random().unwrap();
        let old = PublicKeyInfo::import(&secret, id(2), [1u8; 32]).unwrap();
        let results = run_parties(&ids, |k, links| {
            let holding = (k == 1).then(|| Holding {
                old: old.clone(),
                secret: &secret,
            });
            reshare(ids[k], holding, links, &ids, 2, [7u8; 32], &mut |_| Ok(())).unwrap()
        });
        let mut new: Vec<EcdsaKey> = results.into_iter().flatten().collect();
        assert_eq!(new.len(), 3);
        assert_eq!(new[0].share.group_key, old.group_key);
        assert_eq!(new[0].share.chain_code, [1u8; 32]);
        assert!(signs(&mut new, &[0, 2]));
    }

    #[test]
    fn reshare_over_channels_refuses_a_dealer_of_another_key() {
        let a = dkls::keygen_local(2, 2, 0).unwrap();
        let b = dkls::keygen_local(2, 2, 0).unwrap();
        let id = |i| Identifier::new(i).unwrap();
        let ids = [id(1), id(2)];
        let results = run_parties(&ids, |k, links| {
            let key = if k == 0 { &a[0] } else { &b[1] };
            let holding = Some(Holding {
                old: key.share.public(),
                secret: &key.share.secret,
            });
            reshare(ids[k], holding, links, &ids, 2, [6u8; 32], &mut |_| Ok(()))
        });
        for r in results {
            assert!(
                matches!(r, Err(SignError::Participants(m)) if m.contains("different sharings"))
            );
        }
    }

    #[test]
    fn frost_over_channels_refuses_a_signer_of_another_epoch_or_message_first() {
        let keys = dkls::keygen_local(2, 3, 0).unwrap();
        let ids: Vec<Identifier> = keys[..2].iter().map(|k| k.share.identifier).collect();
        let mut stale = keys[1].share.clone();
        stale.epoch = 1;
        for (k_bad, msg_bad) in [(true, false), (false, true)] {
            let results = run_parties(&ids, |k, links| {
                let share = if k == 1 && k_bad {
                    &stale
                } else {
                    &keys[k].share
                };
                let msg: &[u8] = if k == 1 && msg_bad {
                    b"other"
                } else {
                    b"digest"
                };
                frost(
                    share,
                    links,
                    Suite::Rfc9591,
                    &ids,
                    &KeyAdjust::IDENTITY,
                    msg,
                    &[1u8; 32],
                )
            });
            match &results[0] {
                Err(SignError::Culprit { culprit, reason }) => {
                    assert_eq!(*culprit, 2);
                    assert!(reason.contains("session id"), "{reason}");
                }
                other => panic!("signed with a mismatched signer: {other:?}"),
            }
        }
    }
}
