//! A node's part in a job: its decision on a proposal (logged before it
//! answers), the pairwise links of the session, the ceremony itself on
//! blocking threads, and what it records afterwards.

use super::*;

/// The facts of a sign job, parsed.
struct Facts {
    digest: [u8; 32],
    path: DerivationPath,
    amount: Amount,
}

fn facts(job: &SignJob) -> Result<Facts, String> {
    let digest = unhex(&job.digest)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or("the digest must be 32 bytes, hex")?;
    let path: DerivationPath = job.path.parse().map_err(|e| format!("path: {e}"))?;
    let amount: Amount = job
        .amount
        .parse()
        .map_err(|e| format!("amount `{}`: {e}", job.amount))?;
    Ok(Facts {
        digest,
        path,
        amount,
    })
}

/// The longest text field a proposal may carry (names, ids, facts).
pub(super) const MAX_FIELD: usize = 256;

/// Refuses a proposal whose fields are too long to log (a peer's or
/// client's oversized field never reaches the audit log).
pub(super) fn check_sizes(p: &Proposal, nodes: usize) -> Result<(), String> {
    let mut fields: Vec<&str> = vec![&p.request, &p.session, &p.coordinator];
    fields.extend(p.participants.iter().map(String::as_str));
    match &p.job {
        Job::Sign(j) => fields.extend([
            j.key.as_str(),
            &j.digest,
            &j.path,
            &j.asset,
            &j.amount,
            &j.destination,
            &j.client,
        ]),
        Job::Refresh { key, .. } => fields.push(key),
        Job::Keygen { .. } => {}
    }
    if p.participants.len() > nodes || fields.iter().any(|f| f.len() > MAX_FIELD) {
        return Err(format!(
            "a proposal with more than {nodes} participants or a field over {MAX_FIELD} bytes"
        ));
    }
    Ok(())
}

/// A proposal's session id.
pub(super) fn session_of(p: &Proposal) -> Result<[u8; 32], String> {
    unhex(&p.session)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| "the session id must be 32 bytes, hex".to_owned())
}

fn unable(reason: impl Into<String>) -> Reply {
    Reply::Unable {
        reason: reason.into(),
    }
}

impl Node {
    /// Node indices of a proposal's participants, checked: known, distinct,
    /// this node among them.
    pub(super) fn participants(&self, p: &Proposal) -> Result<Vec<usize>, String> {
        let mut idx = Vec::new();
        for n in &p.participants {
            let i = self
                .index_of(n)
                .ok_or_else(|| format!("unknown node `{n}` among the participants"))?;
            if idx.contains(&i) {
                return Err(format!("node `{n}` is named twice"));
            }
            idx.push(i);
        }
        if !idx.contains(&self.cfg.index) {
            return Err("this node is not among the participants".into());
        }
        idx.sort_unstable();
        Ok(idx)
    }

    /// The key of a job, at the proposed epoch (promoting a staged share
    /// of that epoch: the coordinator uses it, so the refresh completed).
    fn key_at(&self, key: &str, epoch: u64) -> Result<Arc<KeyEntry>, Reply> {
        let entry = self
            .keys
            .get(key)
            .ok_or_else(|| unable(format!("this node holds no key `{key}`")))?;
        if entry.epoch() != epoch {
            entry.promote(epoch).map_err(unable)?;
        }
        let mine = entry.epoch();
        if mine != epoch {
            return Err(unable(format!(
                "key {key} is at epoch {mine} here, the proposal is for epoch {epoch}"
            )));
        }
        Ok(entry)
    }

    /// Decides a proposal and logs the decision (blocking: the audit log
    /// syncs to disk). A sign job that is allowed reserves its amount
    /// against the daily limits until it ends.
    pub(super) fn decide(&self, p: &Proposal) -> Reply {
        // Sizes first: nothing oversized reaches the audit log.
        if let Err(e) = check_sizes(p, self.cfg.parties.list().len()) {
            return unable(e);
        }
        let participants = match self.participants(p) {
            Ok(x) => x,
            Err(e) => return unable(e),
        };
        // A session id is used once: a replayed or duplicated proposal is
        // refused before anything is reserved.
        if !self.claim_session(&p.session) {
            return unable("this session id was already used: a new attempt needs a fresh one");
        }
        let base = json!({
            "request": p.request,
            "session": p.session,
            "coordinator": p.coordinator,
            "participants": p.participants,
            "job": p.job,
        });
        let n = self.cfg.parties.list().len();
        let verdict: Result<String, Reply> = match &p.job {
            Job::Keygen { threshold } => {
                if participants.len() != n {
                    Err(unable("a key generation takes every node"))
                } else if *threshold < 2 || usize::from(*threshold) > n {
                    Err(unable(format!("threshold {threshold} for {n} nodes")))
                } else {
                    Ok("keygen".into())
                }
            }
            Job::Refresh { key, epoch } => match self.key_at(key, *epoch) {
                Err(r) => Err(r),
                Ok(_) if participants.len() != n => Err(unable("a refresh takes every node")),
                Ok(entry) => {
                    if entry.admit_refresh() {
                        Ok("refresh".into())
                    } else {
                        Err(unable(format!(
                            "key {key} is being refreshed or signed with here; try again"
                        )))
                    }
                }
            },
            Job::Sign(job) => self.decide_sign(p, job, &participants),
        };
        match verdict {
            Ok(tier) => {
                let mut body = base;
                body["tier"] = json!(tier);
                if let Err(e) = self.audit("approve", body) {
                    self.release(p);
                    return unable(e);
                }
                Reply::Accept
            }
            Err(reply) => {
                let mut body = base;
                match &reply {
                    Reply::Refuse { rule, reason } => {
                        self.metrics.refusal(rule);
                        warn!(request = %p.request, %rule, %reason, "policy refused");
                        body["rule"] = json!(rule);
                        body["reason"] = json!(reason);
                    }
                    Reply::Unable { reason } => body["unable"] = json!(reason),
                    _ => {}
                }
                self.forget_session(&p.session);
                if let Err(e) = self.audit("refuse", body) {
                    return unable(e);
                }
                reply
            }
        }
    }

    fn decide_sign(
        &self,
        p: &Proposal,
        job: &SignJob,
        participants: &[usize],
    ) -> Result<String, Reply> {
        let entry = self.key_at(&job.key, job.epoch)?;
        let f = facts(job).map_err(unable)?;
        if participants.len() < usize::from(entry.threshold()) {
            return Err(unable(format!(
                "{} signers for a key that needs {}",
                participants.len(),
                entry.threshold()
            )));
        }
        if job.scheme == Scheme::Ecdsa && entry.restored() {
            return Err(Reply::Refuse {
                rule: "restored share".into(),
                reason: format!(
                    "this node's share of key {} was restored from a backup; a refresh must \
                     replace it before ECDSA signing",
                    job.key
                ),
            });
        }
        if !entry.admit_sign() {
            return Err(unable(format!(
                "key {} is being refreshed here; try again",
                job.key
            )));
        }
        let request = Request {
            key: &job.key,
            asset: &job.asset,
            amount: f.amount,
            destination: &job.destination,
            signers: &p.participants,
        };
        let at = now();
        // One lock over what was spent and what is reserved, so no spend
        // is ever in neither list while another request is decided.
        let mut ledger = lock(&self.ledger);
        ledger
            .history
            .retain(|s| s.at.saturating_add(DAY_AND_SLACK) >= at);
        let mut seen = ledger.history.clone();
        seen.extend(ledger.reserved.iter().map(|(_, s)| s.clone()));
        match self.cfg.policy.decide(&request, at, &seen) {
            Ok(tier) => {
                ledger.reserved.push((
                    p.session.clone(),
                    Spend {
                        at,
                        key: job.key.clone(),
                        asset: job.asset.clone(),
                        amount: f.amount,
                    },
                ));
                Ok(tier)
            }
            Err(r) => {
                drop(ledger);
                entry.end_sign();
                Err(Reply::Refuse {
                    rule: r.rule,
                    reason: r.reason,
                })
            }
        }
    }

    /// On `go`: the reserved amount counts as spent from now on, whatever
    /// the ceremony's outcome (a coordinator that withholds the last
    /// message may still have the signature), and the audit log says so.
    fn commit_spend(&self, p: &Proposal) -> Result<(), String> {
        let Job::Sign(job) = &p.job else {
            return Ok(());
        };
        {
            let mut ledger = lock(&self.ledger);
            if let Some(i) = ledger.reserved.iter().position(|(s, _)| *s == p.session) {
                let (_, spend) = ledger.reserved.remove(i);
                ledger.history.push(spend);
            }
        }
        self.audit(
            "go",
            json!({"request": p.request, "session": p.session, "key": job.key,
                   "asset": job.asset, "amount": job.amount}),
        )
    }

    /// Undoes what an accepted proposal holds (a reservation, a refresh
    /// mark) when it is aborted or ends.
    pub(super) fn release(&self, p: &Proposal) {
        lock(&self.ledger).reserved.retain(|(s, _)| *s != p.session);
        match &p.job {
            Job::Refresh { key, .. } => {
                if let Some(k) = self.keys.get(key) {
                    k.end_refresh();
                }
            }
            Job::Sign(job) => {
                if let Some(k) = self.keys.get(&job.key) {
                    k.end_sign();
                }
            }
            Job::Keygen { .. } => {}
        }
        self.forget_session(&p.session);
    }

    /// A participant's side of a proposal from node `j`.
    pub(super) async fn participate(
        self: Arc<Self>,
        j: usize,
        mut stream: TlsStream<TcpStream>,
        p: Proposal,
    ) {
        if p.coordinator != self.name_of(j) {
            self.metrics.peer_refused();
            let _ = wire::write(
                &mut stream,
                &unable(format!(
                    "the proposal names `{}` as coordinator but comes from `{}`",
                    p.coordinator,
                    self.name_of(j)
                )),
            )
            .await;
            return;
        }
        let node = self.clone();
        let p2 = p.clone();
        let reply = tokio::task::spawn_blocking(move || node.decide(&p2))
            .await
            .unwrap_or_else(|e| unable(format!("internal: {e}")));
        let accepted = matches!(reply, Reply::Accept);
        if wire::write(&mut stream, &reply).await.is_err() || !accepted {
            if accepted {
                self.release(&p);
            }
            return;
        }
        // The coordinator may wait up to its timeout for each of the others'
        // answers before it decides.
        match wire::read::<_, Decision>(&mut stream, self.cfg.timeout * 3, "decision").await {
            Ok(Decision::Go) => {
                let r = self.clone().execute(&p).await;
                let reply = match r {
                    Ok(outcome) => Reply::Done { outcome },
                    Err(reason) => Reply::Failed { reason },
                };
                let _ = wire::write(&mut stream, &reply).await;
            }
            Ok(Decision::Abort) | Err(_) => {
                self.release(&p);
                let body = json!({"request": p.request, "session": p.session});
                let _ = tokio::task::spawn_blocking(move || self.audit("aborted", body)).await;
            }
        }
    }

    /// Connects to every other participant for `session`: the lower
    /// index of each pair dials, the higher waits for it.
    async fn links(
        self: &Arc<Self>,
        session: [u8; 32],
        participants: &[usize],
    ) -> Result<Vec<(usize, Channel)>, String> {
        let me = self.cfg.index;
        let deadline = Instant::now() + self.cfg.timeout;
        let mut set = tokio::task::JoinSet::new();
        for &j in participants.iter().filter(|&&j| j != me) {
            let node = self.clone();
            set.spawn(async move {
                let stream = if me < j {
                    let mut s = node.dial(j, deadline).await?;
                    wire::write(
                        &mut s,
                        &Hello::Link {
                            session: hex(&session),
                        },
                    )
                    .await?;
                    s
                } else {
                    node.rendezvous
                        .wait((session, j), node.cfg.timeout)
                        .await
                        .ok_or_else(|| {
                            format!("node `{}` did not connect for the session", node.name_of(j))
                        })?
                };
                Ok::<_, String>((j, stream))
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            let (j, stream) = r.map_err(|e| format!("internal: {e}"))??;
            let ch = stream_channel(
                &self.handle,
                stream,
                PartyId(me as u16),
                PartyId(j as u16),
                self.name_of(j).to_owned(),
            );
            out.push((j, ch));
        }
        out.sort_by_key(|(j, _)| *j);
        Ok(out)
    }

    /// Runs an accepted proposal here: links, the ceremony, the audit
    /// record of its outcome.
    pub(super) async fn execute(self: Arc<Self>, p: &Proposal) -> Result<Outcome, String> {
        let started = Instant::now();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = async {
            let node = self.clone();
            let p2 = p.clone();
            tokio::task::spawn_blocking(move || node.commit_spend(&p2))
                .await
                .map_err(|e| format!("internal: {e}"))??;
            let session = session_of(p)?;
            let participants = self.participants(p)?;
            let links = self.links(session, &participants).await?;
            let node = self.clone();
            let p2 = p.clone();
            tokio::task::spawn_blocking(move || node.ceremony(&p2, session, links))
                .await
                .map_err(|e| format!("internal: {e}"))?
        }
        .await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let kind = p.job.kind();
        self.metrics.ceremony(
            kind,
            if r.is_ok() { "ok" } else { "failed" },
            started.elapsed(),
        );
        let node = self.clone();
        let p2 = p.clone();
        let r2 = r.clone();
        let _ = tokio::task::spawn_blocking(move || node.record(&p2, &r2)).await;
        match &r {
            Ok(_) => {
                info!(request = %p.request, %kind, ms = started.elapsed().as_millis() as u64, "ceremony done")
            }
            Err(e) => warn!(request = %p.request, %kind, error = %e, "ceremony failed"),
        }
        r
    }

    /// Logs a ceremony's outcome, and for a signature adds it to the
    /// history the daily limits count.
    fn record(&self, p: &Proposal, r: &Result<Outcome, String>) {
        let mut body =
            json!({"request": p.request, "session": p.session, "participants": p.participants});
        let kind = match (r, &p.job) {
            (
                Ok(Outcome::Signature {
                    signature,
                    public_key,
                    recovery_id,
                }),
                Job::Sign(job),
            ) => {
                for (k, v) in [
                    ("key", json!(job.key)),
                    ("asset", json!(job.asset)),
                    ("amount", json!(job.amount)),
                    ("destination", json!(job.destination)),
                    ("scheme", json!(job.scheme)),
                    ("digest", json!(job.digest)),
                    ("path", json!(job.path)),
                    ("client", json!(job.client)),
                    ("signature", json!(signature)),
                    ("public_key", json!(public_key)),
                    ("recovery_id", json!(recovery_id)),
                ] {
                    body[k] = v;
                }
                "signed"
            }
            (Ok(Outcome::Key { key, summary }), _) => {
                body["key"] = json!(key);
                body["public_key"] = summary["public_key"].clone();
                body["threshold"] = summary["threshold"].clone();
                "keygen"
            }
            (Ok(Outcome::Refreshed { epoch }), Job::Refresh { key, .. }) => {
                body["key"] = json!(key);
                body["epoch"] = json!(epoch);
                "refresh"
            }
            (Ok(_), _) => "done",
            (Err(e), _) => {
                body["kind"] = json!(p.job.kind());
                body["reason"] = json!(e);
                "failed"
            }
        };
        self.release(p);
        if let Err(e) = self.audit(kind, body) {
            error!(request = %p.request, error = %e, "could not log a ceremony's outcome");
        }
    }

    /// The ceremony proper, on a blocking thread: the handshake on every
    /// link, the jointly drawn nonce, then the job's protocol.
    fn ceremony(
        &self,
        p: &Proposal,
        session: [u8; 32],
        mut links: Vec<(usize, Channel)>,
    ) -> Result<Outcome, String> {
        let sid = SessionId(session);
        // The program hash covers the whole proposal: a coordinator that
        // told two nodes different facts is caught at the handshake.
        let mut what = b"quorate signer node v1 ".to_vec();
        what.extend(serde_json::to_vec(p).map_err(|e| e.to_string())?);
        let program = program_hash(&what);
        for (_, ch) in &mut links {
            ch.set_timeout(self.cfg.timeout);
            handshake(ch, &self.cfg.name, &sid, &program).map_err(|e| e.to_string())?;
        }
        let nonce = self.joint_nonce(&session, &mut links)?;
        let mut ids: Vec<Identifier> = Vec::new();
        for i in self.participants(p)? {
            ids.push(Identifier::new(i as u16 + 1).map_err(|e| e.to_string())?);
        }
        let mut by_id: Vec<(Identifier, &mut Channel)> = Vec::new();
        for (j, ch) in &mut links {
            by_id.push((
                Identifier::new(*j as u16 + 1).map_err(|e| e.to_string())?,
                ch,
            ));
        }
        let name = |e: SignError| self.blame(e);
        match &p.job {
            Job::Keygen { threshold } => {
                let key =
                    driver::keygen(self.me, &mut by_id, &ids, *threshold, nonce).map_err(name)?;
                let entry = self.keys.add(key, &self.cfg.passphrase, &self.cfg.kdf)?;
                Ok(Outcome::Key {
                    key: entry.id.clone(),
                    summary: entry.summary(),
                })
            }
            Job::Refresh { key, .. } => {
                let entry = self.keys.get(key).ok_or("the key is gone")?;
                let share = entry.snapshot().share;
                let (pass, kdf) = (&self.cfg.passphrase, &self.cfg.kdf);
                let mut stage = |next: &quorate_engine::sign::dkls::EcdsaKey| {
                    entry.stage(next, pass, kdf).map_err(SignError::Storage)
                };
                // On a failure after this node staged and acknowledged, the
                // staged share stays: if every other node got every
                // acknowledgement they use the new epoch, and a proposal or
                // ping showing it promotes the staged share here.
                driver::refresh(&share, &mut by_id, nonce, &mut stage).map_err(name)?;
                let epoch = entry.commit()?;
                Ok(Outcome::Refreshed { epoch })
            }
            Job::Sign(job) => self.sign(job, &ids, &mut by_id, nonce),
        }
    }

    fn sign(
        &self,
        job: &SignJob,
        ids: &[Identifier],
        links: &mut [(Identifier, &mut Channel)],
        nonce: [u8; 32],
    ) -> Result<Outcome, String> {
        let f = facts(job)?;
        let entry = self.keys.get(&job.key).ok_or("the key is gone")?;
        let mut key = entry.snapshot();
        if key.share.epoch != job.epoch {
            return Err(format!(
                "key {} moved to epoch {} before the session began",
                job.key, key.share.epoch
            ));
        }
        let child = bip32::derive(&key.share.group_key, &key.share.chain_code, &f.path)
            .map_err(|e| e.to_string())?;
        match job.scheme {
            Scheme::Ecdsa => {
                let request = SignRequest {
                    signers: ids.to_vec(),
                    nonce,
                    digest: f.digest,
                    adjust: child.adjust,
                };
                let had: Vec<(Identifier, bool)> = key.pairs().collect();
                let mut log = SharedLog(entry.log());
                let result = driver::ecdsa(&mut key, links, request, &mut log);
                let lost: Vec<Identifier> = key
                    .pairs()
                    .zip(&had)
                    .filter(|(n, h)| n.1 && !h.1)
                    .map(|(n, _)| n.0)
                    .collect();
                if !lost.is_empty() {
                    let stored = entry.discard(&lost, &self.cfg.passphrase, &self.cfg.kdf);
                    let why = result.as_ref().err().map_or_else(
                        || "a check of the OT extension failed".to_owned(),
                        |e| e.to_string(),
                    );
                    let peers: Vec<u16> = lost.iter().map(|i| i.get()).collect();
                    error!(key = %job.key, ?peers, reason = %why, "SECURITY EVENT: base OTs discarded");
                    let _ = self.audit(
                        "security",
                        json!({"key": job.key, "discarded_pairs": peers, "reason": why,
                               "stored": stored.is_ok()}),
                    );
                    stored?;
                    return Err(format!(
                        "SECURITY EVENT: {why}; the base OTs with party {peers:?} are discarded \
                         (a refresh sets up new ones); no signature is released"
                    ));
                }
                let sig = result.map_err(|e| self.blame(e))?;
                Ok(Outcome::Signature {
                    signature: hex(&sig.bytes),
                    public_key: hex(&sig.public_key),
                    recovery_id: Some(sig.recovery_id),
                })
            }
            Scheme::Schnorr | Scheme::Taproot => {
                let adjust = store::bip340_adjust(job.scheme == Scheme::Taproot, &child)?;
                let sig = driver::frost(
                    &key.share,
                    links,
                    Suite::Taproot,
                    ids,
                    &adjust,
                    &f.digest,
                    &nonce,
                )
                .map_err(|e| self.blame(e))?;
                let (bytes, pk) = store::bip340_release(&sig, &adjust, &key.share, &f.digest)?;
                Ok(Outcome::Signature {
                    signature: hex(&bytes),
                    public_key: hex(&pk),
                    recovery_id: None,
                })
            }
        }
    }

    /// A signing error, with a culprit's share number replaced by its
    /// node name.
    fn blame(&self, e: SignError) -> String {
        match &e {
            SignError::Culprit { culprit, reason } => {
                let name = usize::from(*culprit)
                    .checked_sub(1)
                    .filter(|&i| i < self.cfg.parties.list().len())
                    .map_or_else(
                        || format!("party {culprit}"),
                        |i| format!("node `{}`", self.name_of(i)),
                    );
                format!("{name}: {reason}")
            }
            _ => e.to_string(),
        }
    }

    /// A nonce no single node chose: each sends 32 random bytes on every
    /// link; the nonce hashes the session id and all contributions in
    /// node order.
    fn joint_nonce(
        &self,
        session: &[u8; 32],
        links: &mut [(usize, Channel)],
    ) -> Result<[u8; 32], String> {
        let mine = random32()?;
        for (_, ch) in links.iter_mut() {
            ch.send(&mine).map_err(|e| e.to_string())?;
            ch.flush().map_err(|e| e.to_string())?;
        }
        let mut all = vec![(self.cfg.index, mine)];
        for (j, ch) in links.iter_mut() {
            let mut theirs = [0u8; 32];
            ch.recv(&mut theirs).map_err(|e| e.to_string())?;
            all.push((*j, theirs));
        }
        all.sort_unstable_by_key(|(j, _)| *j);
        let mut parts: Vec<&[u8]> = vec![session];
        parts.extend(all.iter().map(|(_, b)| &b[..]));
        Ok(SessionId::derive("quorate signer node nonce", &parts).0)
    }
}
