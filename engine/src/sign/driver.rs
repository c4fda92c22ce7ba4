//! The signing protocols over [`Channel`]s: each party runs in its own
//! thread (or process) with one channel to every other signer, in memory or
//! over mutually authenticated TLS. Every round sends one frame to each
//! peer that needs one, then reads one frame from each; a frame that does
//! not parse, or says it comes from someone other than the channel's peer,
//! names that peer.

use super::SecretScalar;
use super::consumed::SessionLog;
use super::dkg::{self, Commit, KeyShare, PrivateShare, Reader, Reveal};
use super::dkls::{
    self, EcdsaKey, EcdsaSignature, Msg1, Msg2, Msg3, OtExtendMsg, OtSetupBody, OtSetupMsg,
    SignRequest,
};
use super::encoding::point_to_bytes;
use super::frost::{self, CommitmentList, KeyAdjust, Signature, SigningCommitments, Suite};
use super::{Identifier, SignError, scalar_from_bytes, scalar_to_bytes};
use crate::net::Channel;
use crate::ot::base::{ReceiverMsg, SenderMsg};

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

/// FROST as one signer, with no coordinator: every signer broadcasts its
/// commitments, then its signature share, and aggregates (checking every
/// share it was sent when the result does not verify). `signers` includes
/// this party; `adjust` as for [`frost::sign_local`].
pub fn frost(
    share: &KeyShare,
    links: &mut Links<'_>,
    suite: Suite,
    signers: &[Identifier],
    adjust: &KeyAdjust,
    msg: &[u8],
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
    let nonces = frost::commit(suite, me, &secret)?;
    let mine = nonces.commitments();
    let out: Vec<_> = peers
        .iter()
        .map(|&j| (j, mine.to_bytes().to_vec()))
        .collect();
    let mut list = vec![mine];
    for (j, b) in exchange(links, &out, &peers)? {
        let c = SigningCommitments::from_bytes(&b).map_err(|e| name(e, j))?;
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
                        let f = frost(&key.share, &mut links, Suite::Taproot, ids, adjust, &digest)
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
}
