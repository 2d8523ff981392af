//! Conformance cases: the suppression list, bounces and complaints, and
//! runs that pause, resume and cancel.

use super::*;

fn feedback(
    delivery: Option<DeliveryId>,
    owner: Option<UserId>,
    email: &str,
    kind: FeedbackKind,
) -> NewFeedback {
    NewFeedback {
        delivery,
        owner,
        email: EmailAddress::parse(email).unwrap(),
        kind,
        reason: "550 5.1.1 user unknown".into(),
        source: FeedbackSource::Smtp,
        soft_limit: SOFT_BOUNCE_LIMIT,
    }
}

/// A hard bounce marks the sent delivery, suppresses the address for its
/// owner (holding back its pending deliveries), and moves a finished run's
/// counts; the owner may lift a bounce but not a complaint.
pub async fn bounces_mark_suppress_and_move_finished_counts(s: S) {
    let (u, _m, run) = run_with(&s, "ann@example.com", 2).await;
    let claimed = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let results: Vec<_> = claimed.iter().map(sent).collect();
    s.complete_deliveries(&results, t0()).await.unwrap();
    let t = s.run_totals(run.id).await.unwrap();
    assert!(
        s.finish_run(run.id, &RunReport::new(&t, 0), t0())
            .await
            .unwrap()
    );
    let target = s.feedback_target(claimed[0].id).await.unwrap().unwrap();
    assert_eq!((target.run, target.owner), (run.id, u.id));
    assert_eq!(target.unsubscribe_token, claimed[0].unsubscribe_token);
    let applied = s
        .record_feedback(
            &feedback(
                Some(target.delivery),
                Some(u.id),
                target.email.as_str(),
                FeedbackKind::Hard,
            ),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(applied.marked, Some(DeliveryState::Bounced));
    assert_eq!(applied.suppressed, Some(SuppressionReason::HardBounce));
    let r = s.run(run.id).await.unwrap().unwrap();
    assert_eq!((r.sent, r.bounced, r.status), (1, 1, RunStatus::Finished));
    assert_eq!(
        r.report.unwrap().bounced,
        1,
        "the report reads the run's counts"
    );
    // A complaint after the bounce: the delivery says so, the suppression
    // grows stronger and can no longer be lifted by the owner.
    let applied = s
        .record_feedback(
            &feedback(
                Some(target.delivery),
                Some(u.id),
                target.email.as_str(),
                FeedbackKind::Complaint,
            ),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(applied.marked, Some(DeliveryState::Complained));
    let list = s.list_suppressions(Some(u.id), &all()).await.unwrap();
    assert_eq!(list.total, 1);
    let entry = &list.items[0];
    assert_eq!(entry.reason, SuppressionReason::Complaint);
    assert_eq!(
        s.lift_suppression(u.id, entry.id).await.unwrap(),
        Some(false)
    );
    let other = user(&s, "bob@example.com", Role::User).await;
    assert_eq!(
        s.lift_suppression(other.id, entry.id).await.unwrap(),
        None,
        "not bob's"
    );
    assert_eq!(
        s.list_suppressions(Some(other.id), &all())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(s.list_suppressions(None, &all()).await.unwrap().total, 1);
    let counts = s.feedback_counts().await.unwrap();
    assert!(
        counts.contains(&(FeedbackKind::Hard, 1)) && counts.contains(&(FeedbackKind::Complaint, 1))
    );
}

/// A manual entry holds back the owner's pending deliveries to the address,
/// and the owner may lift it; a feedback report that names no delivery is
/// kept but changes nothing; three soft bounces within 30 days suppress.
pub async fn manual_entries_and_soft_bounces_suppress(s: S) {
    let (u, _m, run) = run_with(&s, "ann@example.com", 2).await;
    let email = EmailAddress::parse("c0@example.com").unwrap();
    let e = s
        .suppress(u.id, &email, SuppressionReason::Manual, None, t0())
        .await
        .unwrap();
    assert_eq!(e.reason, SuppressionReason::Manual);
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let held = ds.iter().find(|d| d.email == email).unwrap();
    assert_eq!(held.state, DeliveryState::Suppressed);
    assert_eq!(held.last_reply.as_deref(), Some("manual"));
    assert_eq!(s.lift_suppression(u.id, e.id).await.unwrap(), Some(true));
    assert_eq!(
        s.list_suppressions(Some(u.id), &all()).await.unwrap().total,
        0
    );
    let stranger = feedback(None, None, "x@example.org", FeedbackKind::Hard);
    assert_eq!(
        s.record_feedback(&stranger, t0()).await.unwrap(),
        FeedbackApplied::default()
    );
    // One delivery delayed three times is one soft bounce.
    let c1 = s
        .run_deliveries(run.id, &all())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|d| d.email.as_str() == "c1@example.com")
        .unwrap();
    let delayed = feedback(
        Some(c1.id),
        Some(u.id),
        "c1@example.com",
        FeedbackKind::Soft,
    );
    for _ in 0..3 {
        let a = s
            .record_feedback(&delayed, t0() - Span::days(60))
            .await
            .unwrap();
        assert_eq!(a.suppressed, None);
    }
    let soft = feedback(None, Some(u.id), "c1@example.com", FeedbackKind::Soft);
    for day in 0..2 {
        let a = s
            .record_feedback(&soft, t0() + Span::days(day))
            .await
            .unwrap();
        assert_eq!(a.suppressed, None);
    }
    let a = s
        .record_feedback(&soft, t0() + Span::days(40))
        .await
        .unwrap();
    assert_eq!(
        a.suppressed, None,
        "the first two are older than 30 days by now"
    );
    s.record_feedback(&soft, t0() + Span::days(41))
        .await
        .unwrap();
    let a = s
        .record_feedback(&soft, t0() + Span::days(42))
        .await
        .unwrap();
    assert_eq!(a.suppressed, Some(SuppressionReason::SoftBounce));
    assert_eq!(a.held_back, 1, "its pending delivery");
}

/// A paused run's pending deliveries are neither claimed nor due, its
/// mailing's slots wait; resuming makes them due, cancelling ends it.
pub async fn paused_runs_hold_until_resumed_or_cancelled(s: S) {
    let (_u, m, run) = run_with(&s, "ann@example.com", 4).await;
    // One send is in flight when the run pauses; its retry comes back after.
    let in_flight = s.claim_deliveries(t0(), LEASE, 1).await.unwrap();
    let reason = PauseReason {
        attempted: 60,
        failed: 10,
        bounced: 0,
        limit_per_mille: 100,
    };
    assert!(s.pause_run(run.id, &reason, t0()).await.unwrap());
    assert!(!s.pause_run(run.id, &reason, t0()).await.unwrap(), "once");
    let r = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.paused),
        (RunStatus::Paused, Some(reason.clone()))
    );
    let retry = DeliveryResult {
        id: in_flight[0].id,
        attempt: in_flight[0].attempt,
        outcome: DeliveryOutcome::Retry {
            reply: "451 later".into(),
            at: t0(),
        },
    };
    s.complete_deliveries(&[retry], t0()).await.unwrap();
    let later = t0() + Span::days(30);
    assert!(
        s.claim_deliveries(later, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let wake = s.next_wakeup().await.unwrap();
    assert!(wake.is_none_or(|w| w > later), "{wake:?}");
    assert!(
        s.due_mailings(later, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.mailing.id != m.id),
        "the mailing's next slot waits"
    );
    assert!(s.resume_run(run.id, later).await.unwrap());
    assert!(
        !s.resume_run(run.id, later).await.unwrap(),
        "not paused any more"
    );
    assert!(
        !s.pause_run(run.id, &reason, later).await.unwrap(),
        "a run its owner resumed is not paused again"
    );
    assert!(s.next_wakeup().await.unwrap().is_some_and(|w| w <= later));
    assert_eq!(
        s.run(run.id).await.unwrap().unwrap().status,
        RunStatus::Sending
    );
    let claimed = s.claim_deliveries(later, LEASE, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(s.cancel_run(run.id, later).await.unwrap());
    assert!(!s.cancel_run(run.id, later).await.unwrap(), "once");
    // The send in flight comes back as a retry: cancelled, not pending.
    let retry = DeliveryResult {
        id: claimed[0].id,
        attempt: claimed[0].attempt,
        outcome: DeliveryOutcome::Retry {
            reply: "451 later".into(),
            at: later,
        },
    };
    let applied = s.complete_deliveries(&[retry], later).await.unwrap();
    assert_eq!(applied, vec![(claimed[0].id, DeliveryState::Cancelled)]);
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.cancelled, t.pending), (4, 0));
    assert!(
        s.finish_run(run.id, &RunReport::new(&t, 0), later)
            .await
            .unwrap()
    );
    let r = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Cancelled);
    assert!(!s.cancel_run(run.id, later).await.unwrap(), "finished");
}
