//! The coordinator's side of a request: its record (what `GET
//! /v1/requests/{id}` shows), the choice of signers, and the attempts,
//! each with a fresh session id.

use super::*;

/// How a request chooses its participants.
#[derive(Clone, Debug)]
pub(super) enum Who {
    /// Every node (key generation, refresh).
    All,
    /// The nodes the API client named.
    Named(Vec<usize>),
    /// A set that meets the policy tier, chosen per attempt.
    Policy,
}

impl Node {
    /// Opens a request record; returns its id.
    pub(super) fn open_record(
        &self,
        kind: &'static str,
        client: &str,
        key: Option<String>,
        request: Value,
    ) -> Result<String, String> {
        let id = hex(&random32()?[..16]);
        let rec = Record {
            id: id.clone(),
            kind,
            status: "pending",
            client: client.to_owned(),
            created: now(),
            finished: None,
            key,
            participants: Vec::new(),
            attempts: 0,
            request,
            result: None,
            refusal: None,
            error: None,
        };
        let (tx, _) = tokio::sync::watch::channel(false);
        let mut r = lock(&self.records);
        while r.map.len() >= MAX_RECORDS {
            // The oldest record goes; a pending one stays (its task still
            // updates it), so look for the oldest final one.
            let Some(pos) = r
                .order
                .iter()
                .position(|i| r.map.get(i).is_none_or(|(rec, _)| rec.is_final()))
            else {
                break;
            };
            if let Some(old) = r.order.remove(pos) {
                r.map.remove(&old);
            }
        }
        r.map.insert(id.clone(), (rec, tx));
        r.order.push_back(id.clone());
        Ok(id)
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Record)) {
        let mut r = lock(&self.records);
        if let Some((rec, tx)) = r.map.get_mut(id) {
            f(rec);
            if rec.is_final() {
                rec.finished = Some(now());
                let _ = tx.send(true);
            }
        }
    }

    /// Marks a request failed before it started.
    pub(super) fn update_failed(&self, id: &str, why: &str) {
        self.update(id, |r| {
            r.status = "failed";
            r.error = Some(why.to_owned());
        });
    }

    /// A request's record.
    pub(super) fn record_of(&self, id: &str) -> Option<Record> {
        lock(&self.records).map.get(id).map(|(r, _)| r.clone())
    }

    /// Waits up to `timeout` for a request to end; its record then.
    pub(super) async fn wait_record(&self, id: &str, timeout: Duration) -> Option<Record> {
        let rx = lock(&self.records)
            .map
            .get(id)
            .map(|(_, tx)| tx.subscribe());
        if let Some(mut rx) = rx {
            let _ = tokio::time::timeout(timeout, rx.wait_for(|done| *done)).await;
        }
        self.record_of(id)
    }

    /// Requests in progress.
    pub(super) fn pending(&self) -> usize {
        lock(&self.records)
            .map
            .values()
            .filter(|(r, _)| !r.is_final())
            .count()
    }

    /// Picks signers for a sign job: for each group the tier requires,
    /// members in node order with this node first, skipping `avoid` while
    /// enough others remain; then more until the key's threshold.
    pub(super) fn choose_signers(
        &self,
        job: &SignJob,
        threshold: u16,
        avoid: &[usize],
    ) -> Vec<usize> {
        let n = self.cfg.parties.list().len();
        let me = self.cfg.index;
        let order: Vec<usize> = std::iter::once(me)
            .chain((0..n).filter(|&i| i != me))
            .collect();
        let mut set: Vec<usize> = Vec::new();
        let amount = job.amount.parse::<Amount>().ok();
        if let Some(tier) = amount.and_then(|a| self.cfg.policy.tier(&job.asset, a)) {
            for r in &tier.require {
                let members: Vec<usize> = self
                    .cfg
                    .policy
                    .groups
                    .get(&r.group)
                    .map(|g| g.iter().filter_map(|m| self.index_of(m)).collect())
                    .unwrap_or_default();
                let ranked: Vec<usize> = order
                    .iter()
                    .copied()
                    .filter(|i| members.contains(i) && !avoid.contains(i))
                    .chain(
                        order
                            .iter()
                            .copied()
                            .filter(|i| members.contains(i) && avoid.contains(i)),
                    )
                    .collect();
                let mut have = set.iter().filter(|i| members.contains(i)).count();
                for i in ranked {
                    if have >= r.at_least {
                        break;
                    }
                    if !set.contains(&i) {
                        set.push(i);
                        have += 1;
                    }
                }
            }
        }
        let rest: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| !avoid.contains(i))
            .chain(order.iter().copied().filter(|i| avoid.contains(i)))
            .collect();
        for i in rest {
            if set.len() >= usize::from(threshold) {
                break;
            }
            if !set.contains(&i) {
                set.push(i);
            }
        }
        set.sort_unstable();
        set
    }

    /// Starts a request's attempts in the background.
    pub(super) fn start(self: &Arc<Self>, id: String, job: Job, who: Who) {
        self.metrics.request(job.kind());
        let node = self.clone();
        tokio::spawn(async move { node.run_request(id, job, who).await });
    }

    async fn run_request(self: Arc<Self>, id: String, mut job: Job, who: Who) {
        let n = self.cfg.parties.list().len();
        let mut avoid: Vec<usize> = Vec::new();
        let mut last = String::new();
        for attempt in 1..=self.cfg.attempts {
            // A share staged by an interrupted refresh: promoted first if a
            // peer already uses its epoch.
            let key = match &job {
                Job::Sign(s) => Some(s.key.as_str()),
                Job::Refresh { key, .. } => Some(key.as_str()),
                Job::Keygen { .. } => None,
            };
            if key
                .and_then(|k| self.keys.get(k))
                .is_some_and(|k| k.staged_epoch().is_some())
            {
                self.settle_once().await;
            }
            // The key's current epoch (a retry may follow a promotion).
            match &mut job {
                Job::Sign(s) => {
                    if let Some(k) = self.keys.get(&s.key) {
                        s.epoch = k.epoch();
                    }
                }
                Job::Refresh { key, epoch } => {
                    if let Some(k) = self.keys.get(key) {
                        *epoch = k.epoch();
                    }
                }
                Job::Keygen { .. } => {}
            }
            let participants = match (&who, &job) {
                (Who::All, _) => (0..n).collect(),
                (Who::Named(v), _) => v.clone(),
                (Who::Policy, Job::Sign(s)) => {
                    let t = self.keys.get(&s.key).map_or(2, |k| k.threshold());
                    self.choose_signers(s, t, &avoid)
                }
                (Who::Policy, _) => (0..n).collect(),
            };
            let session = match random32() {
                Ok(s) => s,
                Err(e) => {
                    last = e;
                    break;
                }
            };
            let p = Proposal {
                request: id.clone(),
                session: hex(&session),
                coordinator: self.cfg.name.clone(),
                participants: participants
                    .iter()
                    .map(|&i| self.name_of(i).to_owned())
                    .collect(),
                job: job.clone(),
            };
            let names = p.participants.clone();
            self.update(&id, |r| {
                r.status = "running";
                r.attempts = attempt;
                r.participants = names;
            });
            match self.attempt(&p, &participants).await {
                Ok(outcome) => {
                    let v = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                    let key = match &outcome {
                        Outcome::Key { key, .. } => Some(key.clone()),
                        _ => None,
                    };
                    self.update(&id, |r| {
                        r.status = "done";
                        r.result = Some(v);
                        if key.is_some() {
                            r.key = key;
                        }
                    });
                    return;
                }
                Err(Miss::Refused { node, rule, reason }) => {
                    self.update(&id, |r| {
                        r.status = "refused";
                        r.refusal = Some(json!({"node": node, "rule": rule, "reason": reason}));
                    });
                    return;
                }
                Err(Miss::Failed(reason)) => {
                    last = reason;
                    break;
                }
                Err(Miss::Retry { reason, suspects }) => {
                    warn!(request = %id, attempt, %reason, "attempt failed; retrying with a fresh session");
                    last = reason;
                    for s in suspects {
                        if !avoid.contains(&s) {
                            avoid.push(s);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
        self.update(&id, |r| {
            r.status = "failed";
            r.error = Some(format!(
                "{last} (after {} attempt(s), each with a fresh session id)",
                r.attempts
            ));
        });
    }

    /// One attempt: proposals, decisions, `go`, the ceremony, outcomes.
    async fn attempt(
        self: &Arc<Self>,
        p: &Proposal,
        participants: &[usize],
    ) -> Result<Outcome, Miss> {
        let me = self.cfg.index;
        let timeout = self.cfg.timeout;
        // 1. Proposals, side by side.
        let mut set = tokio::task::JoinSet::new();
        for &j in participants.iter().filter(|&&j| j != me) {
            let node = self.clone();
            let p = p.clone();
            set.spawn(async move {
                let r = async {
                    let mut s = node.dial(j, Instant::now() + timeout).await?;
                    wire::write(&mut s, &Hello::Propose(Box::new(p))).await?;
                    let reply: Reply = wire::read(&mut s, timeout, "answer").await?;
                    Ok::<_, String>((s, reply))
                }
                .await
                .map_err(|e| peer_error(node.name_of(j), e));
                (j, r)
            });
        }
        let local = if participants.contains(&me) {
            let node = self.clone();
            let p2 = p.clone();
            Some(
                tokio::task::spawn_blocking(move || node.decide(&p2))
                    .await
                    .unwrap_or_else(|e| Reply::Unable {
                        reason: format!("internal: {e}"),
                    }),
            )
        } else {
            None
        };
        let mut streams = Vec::new();
        let mut miss: Option<Miss> = None;
        let mut suspects = Vec::new();
        let note = |m: Miss, miss: &mut Option<Miss>| {
            // A refusal outranks a retry.
            if !matches!(miss, Some(Miss::Refused { .. })) {
                *miss = Some(m);
            }
        };
        match &local {
            Some(Reply::Accept) | None => {}
            Some(Reply::Refuse { rule, reason }) => note(
                Miss::Refused {
                    node: self.cfg.name.clone(),
                    rule: rule.clone(),
                    reason: reason.clone(),
                },
                &mut miss,
            ),
            Some(other) => note(
                Miss::Retry {
                    reason: format!("{}: {}", self.cfg.name, reply_reason(other)),
                    suspects: vec![],
                },
                &mut miss,
            ),
        }
        while let Some(joined) = set.join_next().await {
            let Ok((j, r)) = joined else { continue };
            let name = self.name_of(j).to_owned();
            match r {
                Ok((s, Reply::Accept)) => streams.push((j, s)),
                Ok((_, Reply::Refuse { rule, reason })) => note(
                    Miss::Refused {
                        node: name,
                        rule,
                        reason,
                    },
                    &mut miss,
                ),
                Ok((_, other)) => note(
                    Miss::Retry {
                        reason: format!("{name}: {}", reply_reason(&other)),
                        suspects: vec![],
                    },
                    &mut miss,
                ),
                Err(e) => {
                    suspects.push(j);
                    note(
                        Miss::Retry {
                            reason: e,
                            suspects: vec![],
                        },
                        &mut miss,
                    );
                }
            }
        }
        if let Some(mut m) = miss {
            for (_, s) in &mut streams {
                let _ = wire::write(s, &Decision::Abort).await;
            }
            if matches!(local, Some(Reply::Accept)) {
                self.release(p);
            }
            if let Miss::Retry { suspects: s, .. } = &mut m {
                *s = suspects;
            }
            return Err(m);
        }
        // 2. Every participant accepted: go.
        for (j, s) in &mut streams {
            if let Err(e) = wire::write(s, &Decision::Go).await {
                warn!(peer = %self.name_of(*j), error = %e, "sending go");
            }
        }
        // 3. The ceremony here (if a participant) and every outcome.
        let wait = timeout * 4;
        let mut outcomes = tokio::task::JoinSet::new();
        for (j, mut s) in streams {
            outcomes
                .spawn(async move { (j, wire::read::<_, Reply>(&mut s, wait, "outcome").await) });
        }
        let mine = if participants.contains(&me) {
            Some(self.clone().execute(p).await)
        } else {
            None
        };
        let mut results: Vec<(usize, Result<Outcome, String>)> = Vec::new();
        if let Some(m) = mine {
            results.push((me, m));
        }
        while let Some(joined) = outcomes.join_next().await {
            let Ok((j, r)) = joined else { continue };
            results.push((
                j,
                match r {
                    Ok(Reply::Done { outcome }) => Ok(outcome),
                    Ok(Reply::Failed { reason }) => Err(reason),
                    Ok(other) => Err(format!("an unexpected answer: {}", reply_reason(&other))),
                    Err(e) => Err(e),
                },
            ));
        }
        let failures: Vec<String> = results
            .iter()
            .filter_map(|(j, r)| {
                r.as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", self.name_of(*j)))
            })
            .collect();
        let silent: Vec<usize> = results
            .iter()
            .filter(|(_, r)| {
                r.as_ref()
                    .is_err_and(|e| e.contains("closed") || e.contains("no outcome"))
            })
            .map(|(j, _)| *j)
            .collect();
        // This node's own outcome if it has one (its ceremony verified it);
        // else a peer's signature, checked here before it is returned.
        let first = results
            .iter()
            .find(|(j, r)| *j == me && r.is_ok())
            .or_else(|| {
                results
                    .iter()
                    .find(|(_, r)| r.as_ref().is_ok_and(|o| self.check_outcome(&p.job, o)))
            })
            .and_then(|(_, r)| r.clone().ok());
        match (first, failures.is_empty()) {
            (Some(o), true) => Ok(o),
            // A signature some participant released verified before it
            // did; the others' failures do not undo it.
            (Some(o @ Outcome::Signature { .. }), false) => Ok(o),
            // A key generation or refresh that ran is not run again on top
            // of what it may have stored: the failure is reported.
            (_, false) if !matches!(p.job, Job::Sign(_)) => Err(Miss::Failed(failures.join("; "))),
            (_, _) => Err(Miss::Retry {
                reason: failures.join("; "),
                suspects: silent,
            }),
        }
    }
}

/// A failure talking to node `name`, named, with TLS alerts about
/// certificates said plainly.
fn peer_error(name: &str, e: String) -> String {
    let cert = [
        "AccessDenied",
        "BadCertificate",
        "CertificateUnknown",
        "UnknownCA",
    ]
    .iter()
    .any(|a| e.contains(a));
    if cert {
        format!(
            "node `{name}` refused this node's TLS certificate (not the one its parties file \
             pins for this node): {e}"
        )
    } else if e.contains(&format!("`{name}`")) {
        e
    } else {
        format!("node `{name}`: {e}")
    }
}

impl Node {
    /// Whether a peer's outcome is what the job asked for: a signature
    /// that verifies under the job's derived key, on its digest.
    fn check_outcome(&self, job: &Job, o: &Outcome) -> bool {
        let (
            Job::Sign(job),
            Outcome::Signature {
                signature,
                public_key,
                ..
            },
        ) = (job, o)
        else {
            // Key generation and refresh run on every node, this one too.
            return false;
        };
        let (Some(entry), Some(sig), Some(pk), Some(digest), Ok(path)) = (
            self.keys.get(&job.key),
            unhex(signature),
            unhex(public_key),
            unhex(&job.digest).and_then(|d| <[u8; 32]>::try_from(d).ok()),
            job.path.parse::<DerivationPath>(),
        ) else {
            return false;
        };
        let share = entry.snapshot().share;
        let Ok(child) = bip32::derive(&share.group_key, &share.chain_code, &path) else {
            return false;
        };
        match job.scheme {
            Scheme::Ecdsa => {
                pk == quorate_engine::sign::point_to_bytes(&child.public_key)
                    && quorate_engine::sign::dkls::verify(&pk, &digest, &sig, true)
            }
            Scheme::Schnorr | Scheme::Taproot => {
                let Ok(adjust) = store::bip340_adjust(job.scheme == Scheme::Taproot, &child) else {
                    return false;
                };
                let x = quorate_engine::sign::frost::x_only(&adjust.point(&share.group_key));
                pk == x && quorate_engine::sign::bip340::verify(&x, &digest, &sig)
            }
        }
    }
}

fn reply_reason(r: &Reply) -> String {
    match r {
        Reply::Unable { reason } | Reply::Failed { reason } => reason.clone(),
        Reply::Refuse { rule, reason } => format!("{rule}: {reason}"),
        Reply::Accept => "accepted".into(),
        Reply::Pong { .. } => "a pong".into(),
        Reply::Done { .. } => "an outcome".into(),
    }
}
