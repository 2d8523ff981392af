//! The in-memory store: the suppression list, bounces and complaints.

use super::*;

fn entry(owner: UserId, email: &EmailAddress, r: &SuppressionRow) -> Suppression {
    Suppression {
        id: r.id,
        owner,
        email: email.clone(),
        reason: r.reason,
        created_at: r.at,
        detail: r.detail.clone(),
    }
}

#[async_trait]
impl SuppressionStore for MemoryStore {
    async fn list_suppressions(
        &self,
        owner: Option<UserId>,
        q: &ListQuery,
    ) -> StoreResult<Page<Suppression>> {
        let s = self.lock();
        let mut items: Vec<Suppression> = s
            .suppressions
            .iter()
            .filter(|((o, _), _)| owner.is_none_or(|w| *o == w))
            .filter(|((_, e), _)| matches(q, &[e.as_str()]))
            .map(|((o, e), r)| entry(*o, e, r))
            .collect();
        items.sort_by_key(|s| std::cmp::Reverse(s.id));
        Ok(page(items, q))
    }

    async fn suppress(
        &self,
        owner: UserId,
        email: &EmailAddress,
        reason: SuppressionReason,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Suppression> {
        let mut s = self.lock();
        let row = s.suppress(owner, email, reason, detail, now);
        Ok(entry(owner, email, &row))
    }

    async fn lift_suppression(&self, owner: UserId, id: i64) -> StoreResult<Option<bool>> {
        let mut s = self.lock();
        let Some((key, row)) = s
            .suppressions
            .iter()
            .find(|((o, _), r)| *o == owner && r.id == id)
            .map(|(k, r)| (k.clone(), r.clone()))
        else {
            return Ok(None);
        };
        if !row.reason.owner_may_lift() {
            return Ok(Some(false));
        }
        s.suppressions.remove(&key);
        Ok(Some(true))
    }

    async fn feedback_target(&self, delivery: DeliveryId) -> StoreResult<Option<FeedbackTarget>> {
        let s = self.lock();
        let Some(d) = s.deliveries.get(&delivery) else {
            return Ok(None);
        };
        let Some(run) = s.runs.get(&d.d.run_id) else {
            return Ok(None);
        };
        Ok(Some(FeedbackTarget {
            delivery,
            run: run.run.id,
            owner: run.run.owner,
            email: d.d.email.clone(),
            state: d.d.state,
            unsubscribe_token: d.unsubscribe_token.clone(),
            nonce: run.content.nonce.clone(),
        }))
    }

    async fn record_feedback(
        &self,
        f: &NewFeedback,
        now: DateTime<Utc>,
    ) -> StoreResult<FeedbackApplied> {
        let mut s = self.lock();
        s.feedback.push(FeedbackRow {
            delivery: f.delivery,
            owner: f.owner,
            email: f.email.clone(),
            kind: f.kind,
            at: now,
        });
        let mut applied = FeedbackApplied::default();
        if let Some(id) = f.delivery {
            let new_state = match f.kind {
                FeedbackKind::Hard => Some(DeliveryState::Bounced),
                FeedbackKind::Complaint => Some(DeliveryState::Complained),
                _ => None,
            };
            if let (Some(state), Some(row)) = (new_state, s.deliveries.get_mut(&id)) {
                let from_ok = match state {
                    DeliveryState::Bounced => row.d.state == DeliveryState::Sent,
                    _ => matches!(row.d.state, DeliveryState::Sent | DeliveryState::Bounced),
                };
                if from_ok {
                    row.d.state = state;
                    row.d.last_reply = Some(f.reason.clone());
                    row.d.updated_at = now;
                    applied.marked = Some(state);
                    let run = row.d.run_id;
                    let totals = s.totals(run);
                    if let Some(r) = s.runs.get_mut(&run).filter(|r| r.run.finished_at.is_some()) {
                        r.run.sent = totals.sent;
                        r.run.bounced = totals.bounced;
                        r.run.complained = totals.complained;
                        let run = r.run.clone();
                        r.run.report = r.run.report.take().map(|rep| rep.with_counts(&run));
                    }
                }
            }
        }
        if let Some(owner) = f.owner {
            let since = now - chrono::Duration::days(SOFT_BOUNCE_WINDOW_DAYS);
            // Per delivery (a report of none counts on its own).
            let soft = s
                .feedback
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.owner == Some(owner)
                        && r.email == f.email
                        && r.kind == FeedbackKind::Soft
                        && r.at > since
                })
                .map(|(i, r)| r.delivery.map_or(-(i as i64) - 1, |d| d.0))
                .collect::<std::collections::HashSet<_>>()
                .len();
            let reason = f.suppression(soft as u64);
            if let Some(reason) = reason {
                let before = s
                    .deliveries
                    .values()
                    .filter(|d| d.d.state == DeliveryState::Suppressed)
                    .count();
                let row = s.suppress(owner, &f.email, reason, Some(f.reason.clone()), now);
                let after = s
                    .deliveries
                    .values()
                    .filter(|d| d.d.state == DeliveryState::Suppressed)
                    .count();
                applied.suppressed = Some(row.reason);
                applied.held_back = (after - before) as u64;
            }
        }
        Ok(applied)
    }

    async fn feedback_counts(&self) -> StoreResult<Vec<(FeedbackKind, u64)>> {
        let s = self.lock();
        let mut out: Vec<(FeedbackKind, u64)> = Vec::new();
        for f in &s.feedback {
            match out.iter_mut().find(|(k, _)| *k == f.kind) {
                Some((_, n)) => *n += 1,
                None => out.push((f.kind, 1)),
            }
        }
        Ok(out)
    }
}
