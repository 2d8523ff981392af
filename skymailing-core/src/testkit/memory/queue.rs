//! The in-memory store: The delivery queue.

use super::*;

#[async_trait]
impl DeliveryQueue for MemoryStore {
    async fn due_mailings(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<DueMailing>> {
        let s = self.lock();
        let mut due: Vec<DueMailing> = s
            .mailings
            .values()
            .filter(|m| m.enabled && m.next_run_at.is_some_and(|n| n <= now))
            .filter(|m| !s.has_paused_run(m.id))
            .filter_map(|m| {
                let (u, _) = s.users.get(&m.owner)?;
                (u.state == UserState::Active).then(|| DueMailing {
                    mailing: s.with_sending(m.clone()),
                    time_zone: u.time_zone,
                })
            })
            .collect();
        due.sort_by_key(|d| (d.mailing.next_run_at, d.mailing.id));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn apply_plan(&self, plan: &RunPlan) -> StoreResult<Option<Run>> {
        let mut s = self.lock();
        let Some(m) = s.mailings.get(&plan.mailing_id).cloned() else {
            return Ok(None);
        };
        let owner_active = s
            .users
            .get(&m.owner)
            .is_some_and(|(u, _)| u.state == UserState::Active);
        if !m.enabled
            || !owner_active
            || m.next_run_at != Some(plan.expected_next_run_at)
            || m.updated_at != plan.expected_updated_at
        {
            return Ok(None);
        }
        s.mailings.get_mut(&m.id).expect("present").next_run_at = plan.next_run_at;
        let Some(new) = &plan.run else {
            return Ok(None);
        };
        if s.runs
            .values()
            .any(|r| r.run.mailing_id == Some(m.id) && r.run.slot_at == new.slot_at)
        {
            return Ok(None);
        }
        let Some(message) = s.messages.get(&m.message_id).cloned() else {
            return Ok(None);
        };
        // Suppressed addresses are recorded as such, never silently dropped.
        // The chosen clients and, at this run, every client with one of its tags.
        let recipients: Vec<(Client, Option<SuppressionReason>)> = s
            .clients
            .values()
            .filter(|c| {
                c.owner == m.owner
                    && (m.client_ids.contains(&c.id) || c.tags.iter().any(|t| new.tags.contains(t)))
            })
            .map(|c| {
                (
                    c.clone(),
                    s.suppressions
                        .get(&(m.owner, c.email.clone()))
                        .map(|r| r.reason),
                )
            })
            .collect();
        let run = Run {
            id: RunId(s.id()),
            mailing_id: Some(m.id),
            mailing_name: m.name.clone(),
            owner: m.owner,
            slot_at: new.slot_at,
            skipped_slots: new.skipped_slots,
            started_at: plan.now,
            finished_at: None,
            recipients: recipients.len() as u64,
            sent: 0,
            failed: 0,
            cancelled: 0,
            suppressed: 0,
            bounced: 0,
            complained: 0,
            status: RunStatus::Sending,
            paused: None,
            report: None,
        };
        let content = RunContent {
            mailing_id: Some(m.id),
            mailing_name: m.name.clone(),
            subject: message.subject,
            body_text: message.body_text,
            body_html: message.body_html,
            nonce: new.nonce.clone(),
            owner: m.owner,
            language: s.users.get(&m.owner).and_then(|(u, _)| u.language.clone()),
            sender: s
                .users
                .get(&m.owner)
                .map(|(u, _)| {
                    let (name, reply_to) = Sender::effective(&m.sender, u);
                    Sender {
                        name: Some(name),
                        reply_to: Some(reply_to),
                    }
                })
                .unwrap_or_default(),
        };
        s.runs.insert(
            run.id,
            RunRow {
                run: run.clone(),
                content,
                resumed: false,
            },
        );
        for (c, suppressed) in recipients {
            let id = DeliveryId(s.id());
            s.deliveries.insert(
                id,
                DeliveryRow {
                    d: Delivery {
                        id,
                        run_id: run.id,
                        client_id: Some(c.id),
                        email: c.email,
                        name: c.full_name,
                        state: if suppressed.is_some() {
                            DeliveryState::Suppressed
                        } else {
                            DeliveryState::Pending
                        },
                        attempts: 0,
                        last_reply: suppressed.map(|r| r.as_str().to_owned()),
                        next_attempt_at: plan.now,
                        updated_at: plan.now,
                    },
                    lease_until: None,
                    unsubscribe_token: c.unsubscribe_token,
                    waiting_for: None,
                },
            );
        }
        Ok(Some(run))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut s = self.lock();
        let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        // Expired leases first: their worker is presumed dead.
        let expired: Vec<(DeliveryId, RunId)> = s
            .deliveries
            .values()
            .filter(|r| {
                r.d.state == DeliveryState::Sending && r.lease_until.is_some_and(|l| l <= now)
            })
            .map(|r| (r.d.id, r.d.run_id))
            .collect();
        for (id, run) in expired {
            let may_send = s.run_may_send(run);
            let row = s.deliveries.get_mut(&id).expect("listed above");
            row.lease_until = None;
            row.waiting_for = None;
            row.d.state = if may_send {
                DeliveryState::Pending
            } else {
                DeliveryState::Cancelled
            };
            row.d.updated_at = now;
        }
        // Fair shares: the batch split evenly between the owners with due
        // deliveries, each owner's share between their runs.
        let mut due: BTreeMap<RunId, Vec<(DateTime<Utc>, DeliveryId)>> = BTreeMap::new();
        for row in s.deliveries.values() {
            if row.d.state == DeliveryState::Pending
                && row.d.next_attempt_at <= now
                && !s.paused(row.d.run_id)
            {
                due.entry(row.d.run_id)
                    .or_default()
                    .push((row.d.next_attempt_at, row.d.id));
            }
        }
        let owner_of = |run: &RunId| s.runs.get(run).map(|r| r.run.owner);
        let mut runs_per_owner: HashMap<Option<UserId>, usize> = HashMap::new();
        for run in due.keys() {
            *runs_per_owner.entry(owner_of(run)).or_default() += 1;
        }
        let owners = runs_per_owner.len().max(1);
        let mut picked: Vec<DeliveryId> = Vec::new();
        for (run, mut ds) in due {
            let share = (limit as usize).div_ceil(owners * runs_per_owner[&owner_of(&run)]);
            let left = (limit as usize).saturating_sub(picked.len());
            ds.sort();
            picked.extend(ds.into_iter().take(share.min(left)).map(|(_, id)| id));
        }
        let mut out = Vec::new();
        for id in picked {
            let row = s.deliveries.get_mut(&id).expect("listed above");
            row.d.state = DeliveryState::Sending;
            row.d.attempts += 1;
            row.d.updated_at = now;
            row.lease_until = Some(lease_until);
            out.push(ClaimedDelivery {
                id: row.d.id,
                run_id: row.d.run_id,
                email: row.d.email.clone(),
                name: row.d.name.clone(),
                unsubscribe_token: row.unsubscribe_token.clone(),
                attempt: row.d.attempts,
                lease_until,
            });
        }
        Ok(out)
    }

    async fn take_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        want: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        let mut s = self.lock();
        let rate = f64::from(per_second);
        let (tokens, at) = s.budgets.entry(relay.to_owned()).or_insert((rate, now));
        let elapsed = (now - *at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        *tokens = (*tokens + rate * elapsed).min(rate);
        *at = (*at).max(now);
        let granted = tokens.floor().min(f64::from(want)).max(0.0);
        *tokens -= granted;
        Ok(granted as u32)
    }

    async fn return_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        unused: u32,
    ) -> StoreResult<()> {
        if let Some((tokens, _)) = self.lock().budgets.get_mut(relay) {
            *tokens = (*tokens + f64::from(unused)).min(f64::from(per_second));
        }
        Ok(())
    }

    async fn renew_leases(
        &self,
        claims: &[(DeliveryId, u32)],
        lease_until: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut renewed = 0;
        for (id, attempt) in claims {
            if let Some(row) = s
                .deliveries
                .get_mut(id)
                .filter(|r| r.d.state == DeliveryState::Sending && r.d.attempts == *attempt)
            {
                row.lease_until = Some(lease_until);
                renewed += 1;
            }
        }
        Ok(renewed)
    }

    async fn park_mailing(&self, mailing: MailingId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(m) = s.mailings.get_mut(&mailing).filter(|m| m.enabled) else {
            return Ok(false);
        };
        m.enabled = false;
        m.disabled_by = Some(DisabledBy::EngineError);
        m.updated_at = now;
        s.cancel_pending(|r| r.mailing_id == Some(mailing), now);
        Ok(true)
    }

    async fn complete_deliveries(
        &self,
        results: &[DeliveryResult],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(DeliveryId, DeliveryState)>> {
        let mut s = self.lock();
        let mut applied = Vec::new();
        for r in results {
            let may_send = s
                .deliveries
                .get(&r.id)
                .is_some_and(|row| s.run_may_send(row.d.run_id));
            let Some(row) = s.deliveries.get_mut(&r.id) else {
                continue;
            };
            if row.d.state != DeliveryState::Sending || row.d.attempts != r.attempt {
                continue;
            }
            row.lease_until = None;
            row.waiting_for = None;
            row.d.updated_at = now;
            match &r.outcome {
                DeliveryOutcome::Sent { reply } => {
                    row.d.state = DeliveryState::Sent;
                    row.d.last_reply = Some(reply.clone());
                }
                DeliveryOutcome::Failed { reply } => {
                    row.d.state = DeliveryState::Failed;
                    row.d.last_reply = Some(reply.clone());
                }
                DeliveryOutcome::Retry { reply, at } => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.last_reply = Some(reply.clone());
                    row.d.next_attempt_at = *at;
                }
                DeliveryOutcome::Released => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.attempts -= 1;
                }
                DeliveryOutcome::Deferred { reply, at, domain } => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.attempts -= 1;
                    if let Some(reply) = reply {
                        row.d.last_reply = Some(reply.clone());
                    }
                    row.d.next_attempt_at = *at;
                    row.waiting_for = Some(domain.clone());
                }
            }
            applied.push((r.id, row.d.state));
        }
        Ok(applied)
    }

    async fn run_content(&self, run: RunId) -> StoreResult<Option<RunContent>> {
        Ok(self.lock().runs.get(&run).map(|r| RunContent {
            mailing_id: r.run.mailing_id,
            ..r.content.clone()
        }))
    }

    async fn runs_to_finish(&self, limit: u32) -> StoreResult<Vec<Run>> {
        let s = self.lock();
        Ok(s.runs
            .values()
            .filter(|r| r.run.finished_at.is_none())
            .filter(|r| {
                !s.deliveries.values().any(|d| {
                    d.d.run_id == r.run.id
                        && matches!(d.d.state, DeliveryState::Pending | DeliveryState::Sending)
                })
            })
            .take(limit as usize)
            .map(|r| r.run.clone())
            .collect())
    }

    async fn run_totals(&self, run: RunId) -> StoreResult<RunTotals> {
        Ok(self.lock().totals(run))
    }

    async fn finish_run(
        &self,
        run: RunId,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        if !s.totals(run).is_complete() {
            return Ok(false);
        }
        let Some(r) = s.runs.get_mut(&run).filter(|r| r.run.finished_at.is_none()) else {
            return Ok(false);
        };
        r.run.finished_at = Some(now);
        r.run.sent = report.sent;
        r.run.failed = report.failed;
        r.run.cancelled = report.cancelled;
        r.run.suppressed = report.suppressed;
        r.run.bounced = report.bounced;
        r.run.complained = report.complained;
        r.run.status = if r.run.status == RunStatus::Cancelled {
            RunStatus::Cancelled
        } else {
            RunStatus::Finished
        };
        r.run.paused = None;
        r.run.report = Some(report.clone());
        Ok(true)
    }

    async fn pause_run(
        &self,
        run: RunId,
        reason: &PauseReason,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(r) = s
            .runs
            .get_mut(&run)
            .filter(|r| r.run.status == RunStatus::Sending && !r.resumed)
        else {
            return Ok(false);
        };
        r.run.status = RunStatus::Paused;
        r.run.paused = Some(reason.clone());
        Ok(true)
    }

    async fn run_status(&self, run: RunId) -> StoreResult<Option<Run>> {
        crate::ports::RunStore::run(self, run).await
    }

    async fn next_wakeup(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let s = self.lock();
        let mailings = s
            .mailings
            .values()
            .filter(|m| {
                m.enabled
                    && s.users
                        .get(&m.owner)
                        .is_some_and(|(u, _)| u.state == UserState::Active)
                    && !s.has_paused_run(m.id)
            })
            .filter_map(|m| m.next_run_at);
        let deliveries = s.deliveries.values().filter_map(|r| match r.d.state {
            DeliveryState::Pending if !s.paused(r.d.run_id) => Some(r.d.next_attempt_at),
            DeliveryState::Sending => r.lease_until,
            _ => None,
        });
        Ok(mailings.chain(deliveries).min())
    }
}
