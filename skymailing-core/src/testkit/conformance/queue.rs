//! Conformance cases: The delivery queue: due mailings, plans, claims, leases, results, finishing runs.

use super::*;

/// Only enabled mailings of active owners whose next run has come are due.
pub async fn due_mailings_are_enabled_due_and_of_active_owners(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let ca = client(&s, ann.id, "a@example.com").await;
    let cb = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let due = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let future = {
        let d = MailingDraft::new(
            "later",
            msg.id,
            vec![ca.id],
            t0() + Span::hours(1),
            t0() + Span::days(1),
            Periodicity::Once,
        )
        .unwrap();
        s.create_mailing(ann.id, &d, Some(t0() + Span::hours(1)), t0())
            .await
            .unwrap()
    };
    let disabled = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    s.set_mailing_enabled(
        disabled.id,
        false,
        Some(DisabledBy::Owner),
        disabled.next_run_at,
        t0(),
    )
    .await
    .unwrap();
    let finished = {
        let d = MailingDraft::new(
            "done",
            msg.id,
            vec![ca.id],
            t0(),
            t0() + Span::days(1),
            Periodicity::Once,
        )
        .unwrap();
        s.create_mailing(ann.id, &d, None, t0()).await.unwrap()
    };
    mailing(&s, bob.id, msg.id, &[cb.id]).await;
    s.set_user_state(bob.id, UserState::Blocked, t0())
        .await
        .unwrap();

    let found: Vec<_> = s
        .due_mailings(t0(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.mailing.id)
        .collect();
    assert_eq!(found, vec![due.id]);
    let d = &s.due_mailings(t0(), 100).await.unwrap()[0];
    assert_eq!(d.time_zone.name(), "Europe/Berlin");
    let later: HashSet<_> = s
        .due_mailings(t0() + Span::hours(2), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.mailing.id)
        .collect();
    assert_eq!(later, HashSet::from([due.id, future.id]));
    assert!(!later.contains(&finished.id));
    assert_eq!(
        s.due_mailings(t0() + Span::hours(2), 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit"
    );
}

/// A run freezes the message and the clients, unsubscribed ones as
/// `suppressed`, and moves the next run.
pub async fn plan_freezes_recipients_and_skips_unsubscribed(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, ann.id, "b@example.com").await;
    let c = client(&s, ann.id, "c@example.com").await;
    s.set_unsubscribed(&b.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id, b.id, c.id]).await;
    let run = s
        .apply_plan(&RunPlan {
            mailing_id: m.id,
            expected_next_run_at: t0(),
            expected_updated_at: m.updated_at,
            run: Some(NewRun {
                slot_at: t0(),
                skipped_slots: 2,
                nonce: "abc".into(),
                tags: Vec::new(),
            }),
            next_run_at: Some(t0() + Span::days(1)),
            now: t0() + Span::seconds(3),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.mailing_id, run.owner, run.slot_at, run.skipped_slots),
        (Some(m.id), ann.id, t0(), 2)
    );
    assert_eq!(
        (run.recipients, run.started_at, run.finished_at),
        (3, t0() + Span::seconds(3), None)
    );
    assert_eq!(run.mailing_name, "Weekly news");
    let ds = s.run_deliveries(run.id, &all()).await.unwrap();
    let suppressed: Vec<_> = ds
        .items
        .iter()
        .filter(|d| d.state == DeliveryState::Suppressed)
        .map(|d| d.email.as_str().to_owned())
        .collect();
    assert_eq!(suppressed, vec!["b@example.com"]);
    let ds = Page {
        items: ds
            .items
            .into_iter()
            .filter(|d| d.state != DeliveryState::Suppressed)
            .collect::<Vec<_>>(),
        ..ds
    };
    let mut emails: Vec<_> = ds
        .items
        .iter()
        .map(|d| d.email.as_str().to_owned())
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["a@example.com", "c@example.com"]);
    for d in &ds.items {
        assert_eq!(
            (d.state, d.attempts, d.last_reply.as_deref()),
            (DeliveryState::Pending, 0, None)
        );
        assert!(d.client_id == Some(a.id) || d.client_id == Some(c.id));
        assert_eq!(d.name, format!("Client {}", d.email));
    }
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0() + Span::days(1))
    );
    let content = s.run_content(run.id).await.unwrap().unwrap();
    assert_eq!(
        content,
        RunContent {
            mailing_id: Some(m.id),
            mailing_name: "Weekly news".into(),
            subject: msg.subject.clone(),
            body_text: msg.body_text.clone(),
            body_html: msg.body_html.clone(),
            nonce: "abc".into(),
            owner: m.owner,
            language: None,
            sender: Sender {
                name: Some(ann.name.clone()),
                reply_to: Some(ann.email.clone()),
            },
        }
    );
    let claimed = s
        .claim_deliveries(t0() + Span::seconds(3), LEASE, 10)
        .await
        .unwrap();
    let tokens: HashSet<_> = claimed
        .iter()
        .map(|c| c.unsubscribe_token.clone())
        .collect();
    assert_eq!(
        tokens,
        HashSet::from([a.unsubscribe_token.clone(), c.unsubscribe_token.clone()])
    );
}

/// Two plans for the same slot create one run, however they race.
pub async fn plan_creates_one_run_per_slot(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0(),
            skipped_slots: 0,
            nonce: "n".into(),
            tags: Vec::new(),
        }),
        next_run_at: Some(t0() + Span::days(1)),
        now: t0(),
    };
    let (r1, r2) = tokio::join!(s.apply_plan(&plan), s.apply_plan(&plan));
    let created = [r1.unwrap(), r2.unwrap()].into_iter().flatten().count();
    assert_eq!(created, 1);
    // Re-seeding the same slot later (a re-enable) does not create a second run,
    // but still moves the next run on.
    s.set_mailing_enabled(m.id, true, None, Some(t0()), t0())
        .await
        .unwrap();
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0() + Span::days(1))
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.run_totals(
            s.list_runs(RunFilter::default(), &all())
                .await
                .unwrap()
                .items[0]
                .id
        )
        .await
        .unwrap()
        .total,
        1
    );
}

/// A plan made from an old `next_run_at`, or for a disabled mailing, does nothing.
pub async fn plan_with_a_stale_expectation_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let stale = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0() - Span::days(1),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0() - Span::days(1),
            skipped_slots: 0,
            nonce: "n".into(),
            tags: Vec::new(),
        }),
        next_run_at: Some(t0() + Span::days(5)),
        now: t0(),
    };
    assert_eq!(s.apply_plan(&stale).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0()),
        "unchanged"
    );
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), Some(t0()), t0())
        .await
        .unwrap();
    let fresh = RunPlan {
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        ..stale.clone()
    };
    assert_eq!(s.apply_plan(&fresh).await.unwrap(), None);
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        0
    );
    let gone = RunPlan {
        mailing_id: MailingId(987_654),
        ..fresh
    };
    assert_eq!(s.apply_plan(&gone).await.unwrap(), None);
}

/// A plan with no run only moves the next run (an expired window).
pub async fn plan_without_a_run_moves_the_next_run(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: None,
        next_run_at: None,
        now: t0(),
    };
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap().next_run_at, None);
    assert!(
        s.due_mailings(t0() + Span::days(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Claiming leases deliveries; a result with the wrong attempt is refused.
pub async fn claim_leases_and_fences_stale_results(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 2).await.unwrap();
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|d| d.attempt == 1 && d.run_id == run.id));
    assert!(c.iter().all(|d| d.lease_until == t0() + Span::seconds(60)));
    let rest = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "leased ones are not claimed again");
    assert!(
        s.claim_deliveries(t0(), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sending], 3);

    let stale = DeliveryResult {
        attempt: 7,
        ..sent(&c[0])
    };
    assert_eq!(
        s.complete_deliveries(&[stale], t0()).await.unwrap().len(),
        0
    );
    let mut applied = s
        .complete_deliveries(&[sent(&c[0]), failed(&c[1], "550 no such user")], t0())
        .await
        .unwrap();
    applied.sort_by_key(|a| a.0);
    assert_eq!(
        applied,
        sorted(vec![
            (c[0].id, DeliveryState::Sent),
            (c[1].id, DeliveryState::Failed)
        ]),
        "each applied result with the state it left"
    );
    assert_eq!(
        s.complete_deliveries(&[sent(&c[0])], t0())
            .await
            .unwrap()
            .len(),
        0,
        "a final state is final"
    );
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let d0 = ds.iter().find(|d| d.id == c[0].id).unwrap();
    assert_eq!(
        (d0.state, d0.attempts, d0.last_reply.as_deref()),
        (DeliveryState::Sent, 1, Some("250 ok"))
    );
    let d1 = ds.iter().find(|d| d.id == c[1].id).unwrap();
    assert_eq!(
        (d1.state, d1.last_reply.as_deref()),
        (DeliveryState::Failed, Some("550 no such user"))
    );
}

/// A claim splits its batch evenly between the owners with due deliveries,
/// and each owner's share between their runs, so a small run is claimed
/// beside a big one; a lone run gets the whole batch.
pub async fn claims_share_the_batch_between_owners_and_runs(s: S) {
    async fn run_of(s: &S, owner: UserId, prefix: &str, n: usize) -> Run {
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(
                client(s, owner, &format!("{prefix}{i}@example.com"))
                    .await
                    .id,
            );
        }
        let msg = message(s, owner).await;
        let m = mailing(s, owner, msg.id, &ids).await;
        start_run(s, &m).await
    }
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let big = run_of(&s, ann.id, "a", 20).await;
    let second = run_of(&s, ann.id, "b", 20).await;
    let small = run_of(&s, bob.id, "c", 3).await;
    let per_run = |c: &[ClaimedDelivery]| {
        let mut n: HashMap<RunId, usize> = HashMap::new();
        for d in c {
            *n.entry(d.run_id).or_default() += 1;
        }
        n
    };
    let first = s.claim_deliveries(t0(), LEASE, 8).await.unwrap();
    let n = per_run(&first);
    assert_eq!(
        (n.get(&big.id), n.get(&second.id), n.get(&small.id)),
        (Some(&2), Some(&2), Some(&3)),
        "Bob's run is claimed beside Ann's two, and not more than it has"
    );
    assert!(first.len() <= 8);
    // With Bob's run all claimed, Ann's two runs share the batch.
    let next = s.claim_deliveries(t0(), LEASE, 8).await.unwrap();
    let n = per_run(&next);
    assert_eq!(
        (n.get(&big.id), n.get(&second.id), n.get(&small.id)),
        (Some(&4), Some(&4), None)
    );
    // A lone owner's lone run takes the whole batch.
    let carl = user(&s, "carl@example.com", Role::User).await;
    let done: Vec<DeliveryResult> = first.iter().chain(&next).map(sent).collect();
    s.complete_deliveries(&done, t0()).await.unwrap();
    let rest = s.claim_deliveries(t0(), LEASE, 100).await.unwrap();
    s.complete_deliveries(&rest.iter().map(sent).collect::<Vec<_>>(), t0())
        .await
        .unwrap();
    let lone = run_of(&s, carl.id, "d", 12).await;
    let all = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!((all.len(), per_run(&all).get(&lone.id)), (10, Some(&10)));
}

/// The service-wide send budget: a bucket per relay holding one second's
/// worth, refilled at its rate, shared by whoever takes from it.
pub async fn send_budgets_refill_at_their_rate_per_relay(s: S) {
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, t0()).await.unwrap(),
        10,
        "a full second"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, t0()).await.unwrap(),
        0,
        "spent"
    );
    assert_eq!(
        s.take_send_budget("relay-b", 10, 4, t0()).await.unwrap(),
        4,
        "another relay, its own"
    );
    let half = t0() + Span::milliseconds(500);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, half).await.unwrap(),
        5,
        "half a second later"
    );
    s.return_send_budget("relay-a", 10, 3).await.unwrap();
    assert_eq!(
        s.take_send_budget("relay-a", 10, 2, half).await.unwrap(),
        2,
        "given back"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, half).await.unwrap(),
        1
    );
    let later = t0() + Span::seconds(60);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, later).await.unwrap(),
        10,
        "never more than a second's worth"
    );
    // A worker whose clock reading is a little behind (it waited for the
    // row) must not move the bucket's time back: the same 100 ms would be
    // refilled twice.
    let a = later + Span::milliseconds(100);
    assert_eq!(s.take_send_budget("relay-a", 10, 50, a).await.unwrap(), 1);
    let behind = later + Span::milliseconds(50);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, behind).await.unwrap(),
        0,
        "no refill from the past"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, a + Span::milliseconds(150))
            .await
            .unwrap(),
        1,
        "150 ms after the latest take: one, not two"
    );
}

/// A live worker's renewal moves its lease's end; a claim another worker took
/// over (a higher attempt) is not renewed.
pub async fn renewed_leases_hold_until_their_new_end(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 2);
    let later = t0() + Span::seconds(100);
    let renewed = s
        .renew_leases(
            &[(c[0].id, c[0].attempt), (c[1].id, c[1].attempt + 1)],
            later,
        )
        .await
        .unwrap();
    assert_eq!(renewed, 1, "only the claim under its own attempt");
    let at_old_end = s
        .claim_deliveries(t0() + Span::seconds(60), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        at_old_end.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![c[1].id],
        "the unrenewed claim is taken over at its lease's end"
    );
    assert!(
        s.claim_deliveries(t0() + Span::seconds(99), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "the renewed one holds"
    );
    let taken = s.claim_deliveries(later, LEASE, 10).await.unwrap();
    assert_eq!(
        (taken.len(), taken[0].id, taken[0].attempt),
        (1, c[0].id, 2)
    );
    assert_eq!(s.renew_leases(&[], later).await.unwrap(), 0);
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sending], 2);
}

/// A lease that expires is claimed again; the old worker's result is then refused.
pub async fn expired_lease_is_claimed_again_with_a_higher_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let first = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        s.claim_deliveries(t0() + Span::seconds(59), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second = s
        .claim_deliveries(t0() + Span::seconds(60), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].id, second[0].attempt), (first[0].id, 2));
    assert_eq!(
        s.complete_deliveries(&[sent(&first[0])], t0())
            .await
            .unwrap()
            .len(),
        0,
        "stale worker fenced"
    );
    assert_eq!(
        s.complete_deliveries(&[sent(&second[0])], t0())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sent], 1);
}

/// A retry is pending again, but not claimable before its time.
pub async fn retry_returns_to_pending_until_its_time(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let at = t0() + Span::minutes(5);
    let r = DeliveryResult {
        id: c[0].id,
        attempt: 1,
        outcome: DeliveryOutcome::Retry {
            reply: "451 try later".into(),
            at,
        },
    };
    assert_eq!(s.complete_deliveries(&[r], t0()).await.unwrap().len(), 1);
    let d = &s.run_deliveries(run.id, &all()).await.unwrap().items[0];
    assert_eq!(
        (d.state, d.next_attempt_at, d.last_reply.as_deref()),
        (DeliveryState::Pending, at, Some("451 try later"))
    );
    assert!(
        s.claim_deliveries(at - Span::seconds(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.next_wakeup().await.unwrap(), Some(at));
    let again = s.claim_deliveries(at, LEASE, 10).await.unwrap();
    assert_eq!(again[0].attempt, 2);
}

/// A released delivery is pending again and its attempt is not counted.
pub async fn released_delivery_is_pending_again_without_counting_the_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let r = DeliveryResult {
        id: c[0].id,
        attempt: 1,
        outcome: DeliveryOutcome::Released,
    };
    assert_eq!(s.complete_deliveries(&[r], t0()).await.unwrap().len(), 1);
    let d = &s.run_deliveries(run.id, &all()).await.unwrap().items[0];
    assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 0));
    assert_eq!(
        s.claim_deliveries(t0(), LEASE, 10).await.unwrap()[0].attempt,
        1
    );
}

/// By id, as the store's answer is compared after sorting.
fn sorted(mut v: Vec<(DeliveryId, DeliveryState)>) -> Vec<(DeliveryId, DeliveryState)> {
    v.sort_by_key(|a| a.0);
    v
}

/// A delivery held back for its domain is pending until its time, its
/// attempt not counted, its last reply kept unless a new one is given, and
/// its run shows what it waits for until it is sent.
pub async fn deferred_delivery_waits_for_its_domain_without_counting_the_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 3);
    let at = t0() + Span::seconds(2);
    let defer = |d: &ClaimedDelivery, reply: Option<&str>| DeliveryResult {
        id: d.id,
        attempt: d.attempt,
        outcome: DeliveryOutcome::Deferred {
            reply: reply.map(str::to_owned),
            at,
            domain: "example.com".into(),
        },
    };
    let results = [
        defer(&c[0], Some("421 4.7.0 Too many messages")),
        defer(&c[1], None),
        sent(&c[2]),
    ];
    assert_eq!(
        s.complete_deliveries(&results, t0()).await.unwrap().len(),
        3
    );
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.pending, t.sent), (2, 1));
    assert_eq!(t.waiting, vec![("example.com".to_owned(), 2)]);
    assert_eq!(t.activity(), crate::RunActivity::WaitingForDomains);
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let d0 = ds.iter().find(|d| d.id == c[0].id).unwrap();
    assert_eq!(
        (
            d0.state,
            d0.attempts,
            d0.next_attempt_at,
            d0.last_reply.as_deref()
        ),
        (
            DeliveryState::Pending,
            0,
            at,
            Some("421 4.7.0 Too many messages")
        )
    );
    let d1 = ds.iter().find(|d| d.id == c[1].id).unwrap();
    assert_eq!((d1.attempts, d1.last_reply.as_deref()), (0, None));
    assert!(
        s.claim_deliveries(at - Span::seconds(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    let again = s.claim_deliveries(at, LEASE, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        vec![1, 1],
        "the held-back attempt was not counted"
    );
    let done: Vec<_> = again.iter().map(sent).collect();
    s.complete_deliveries(&done, at).await.unwrap();
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.sent, t.waiting.len()), (3, 0));
    assert_eq!(t.activity(), crate::RunActivity::Done);
}

/// N claimers racing over one queue: every delivery is claimed and completed exactly once.
pub async fn concurrent_claimers_claim_each_delivery_exactly_once(s: S) {
    const N: usize = 2_000;
    let (_, _, run) = run_with(&s, "ann@example.com", N).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = s.claim_deliveries(t0(), LEASE, 37).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                let results: Vec<_> = batch.iter().map(sent).collect();
                assert_eq!(
                    s.complete_deliveries(&results, t0()).await.unwrap().len(),
                    batch.len()
                );
                mine.extend(batch.into_iter().map(|c| c.id));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut claims = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            claims += 1;
            seen.insert(id);
        }
    }
    assert_eq!(
        (claims, seen.len()),
        (N, N),
        "each delivery claimed exactly once"
    );
    assert_eq!(s.run_totals(run.id).await.unwrap().sent, N as u64);
}

/// A run with nothing left to send is finished once, with its totals and report.
pub async fn runs_finish_with_totals_and_report(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 5).await;
    assert!(s.runs_to_finish(10).await.unwrap().is_empty());
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let results = [
        sent(&c[0]),
        sent(&c[1]),
        failed(&c[2], "550 5.1.1 user unknown"),
        failed(&c[3], "550 5.1.1 user unknown"),
        failed(&c[4], "554 rejected"),
    ];
    s.complete_deliveries(&results[..4], t0()).await.unwrap();
    let partial = s.run_totals(run.id).await.unwrap();
    assert_eq!(
        (partial.total, partial.sent, partial.failed, partial.sending),
        (5, 2, 2, 1)
    );
    assert!(
        !s.finish_run(run.id, &RunReport::new(&partial, 0), t0())
            .await
            .unwrap(),
        "not while sending"
    );
    s.complete_deliveries(&results[4..], t0()).await.unwrap();
    let to_finish = s.runs_to_finish(10).await.unwrap();
    assert_eq!(
        to_finish.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![run.id]
    );
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!(
        t,
        RunTotals {
            total: 5,
            pending: 0,
            sending: 0,
            sent: 2,
            failed: 3,
            cancelled: 0,
            suppressed: 0,
            bounced: 0,
            complained: 0,
            waiting: vec![],
            failures: vec![
                ("550 5.1.1 user unknown".into(), 2),
                ("554 rejected".into(), 1)
            ],
        }
    );
    let later = t0() + Span::minutes(1);
    let report = RunReport::new(&t, 0);
    assert!(s.finish_run(run.id, &report, later).await.unwrap());
    assert!(!s.finish_run(run.id, &report, later).await.unwrap(), "once");
    let r = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (
            r.finished_at,
            r.sent,
            r.failed,
            r.cancelled,
            r.report.as_ref()
        ),
        (Some(later), 2, 3, 0, Some(&report)),
        "the report reads back as it was written"
    );
    assert!(s.runs_to_finish(10).await.unwrap().is_empty());
}

/// The next wake-up is the earliest of next runs, retries and lease expiries.
pub async fn next_wakeup_is_the_earliest_due_time(s: S) {
    assert_eq!(s.next_wakeup().await.unwrap(), None);
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let d = MailingDraft::new(
        "later",
        msg.id,
        vec![a.id],
        t0() + Span::hours(3),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &d, Some(t0() + Span::hours(3)), t0())
        .await
        .unwrap();
    assert_eq!(s.next_wakeup().await.unwrap(), Some(t0() + Span::hours(3)));
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    start_run(&s, &m).await; // next run of m: t0 + 1 day; one pending delivery due at t0
    assert_eq!(s.next_wakeup().await.unwrap(), Some(t0()));
    s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(
        s.next_wakeup().await.unwrap(),
        Some(t0() + Span::seconds(60)),
        "the lease"
    );
}

/// A retry or release of a delivery whose mailing was disabled comes back cancelled.
pub async fn retry_or_release_of_a_stopped_run_is_cancelled(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), m.next_run_at, t0())
        .await
        .unwrap();
    let results = [
        DeliveryResult {
            id: c[0].id,
            attempt: c[0].attempt,
            outcome: DeliveryOutcome::Retry {
                reply: "451 later".into(),
                at: t0(),
            },
        },
        DeliveryResult {
            id: c[1].id,
            attempt: c[1].attempt,
            outcome: DeliveryOutcome::Released,
        },
    ];
    let mut applied = s.complete_deliveries(&results, t0()).await.unwrap();
    applied.sort_by_key(|a| a.0);
    assert_eq!(
        applied,
        sorted(vec![
            (c[0].id, DeliveryState::Cancelled),
            (c[1].id, DeliveryState::Cancelled)
        ]),
        "the store says what it recorded"
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert!(
        s.claim_deliveries(t0() + Span::hours(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.runs_to_finish(10).await.unwrap().len(),
        1,
        "the run can finish"
    );
}

/// A delivery whose lease expires after its owner was blocked is cancelled, not claimed.
pub async fn expired_lease_of_a_stopped_run_is_cancelled(s: S) {
    let (u, _, run) = run_with(&s, "ann@example.com", 2).await;
    s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap();
    assert!(
        s.claim_deliveries(t0() + Span::seconds(61), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
}

/// A plan for a mailing whose owner was blocked in the meantime creates nothing.
pub async fn plan_for_an_owner_no_longer_active_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    s.set_user_state(ann.id, UserState::Blocked, t0())
        .await
        .unwrap();
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0(),
            skipped_slots: 0,
            nonce: "n".into(),
            tags: Vec::new(),
        }),
        next_run_at: Some(t0() + Span::days(1)),
        now: t0(),
    };
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        0
    );
}

/// A plan made before an edit of the mailing is void, even with the same next run.
pub async fn plan_made_before_an_edit_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let d = MailingDraft::new(
        "Longer",
        msg.id,
        vec![a.id],
        t0(),
        t0() + Span::days(90),
        Periodicity::Weekly,
    )
    .unwrap();
    let edited = s
        .update_mailing(m.id, &d, Some(t0()), t0() + Span::seconds(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.updated_at, t0() + Span::seconds(1));
    let stale = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: None,
        next_run_at: None,
        now: t0(),
    };
    assert_eq!(s.apply_plan(&stale).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0()),
        "untouched"
    );
    let fresh = RunPlan {
        expected_updated_at: edited.updated_at,
        ..stale
    };
    s.apply_plan(&fresh).await.unwrap();
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap().next_run_at, None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().updated_at,
        edited.updated_at,
        "a plan does not edit"
    );
}

/// Disabled mailings, finished ones and those of inactive owners never wake the engine.
pub async fn next_wakeup_ignores_what_cannot_run(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let off = mailing(&s, ann.id, msg.id, &[a.id]).await;
    s.set_mailing_enabled(
        off.id,
        false,
        Some(DisabledBy::Owner),
        off.next_run_at,
        t0(),
    )
    .await
    .unwrap();
    let done = MailingDraft::new(
        "done",
        msg.id,
        vec![a.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &done, None, t0()).await.unwrap();
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    s.set_user_state(bob.id, UserState::Blocked, t0())
        .await
        .unwrap();
    let pending = pending_user(&s, "new@example.com").await;
    let p = client(&s, pending.id, "p@example.com").await;
    mailing(&s, pending.id, msg.id, &[p.id]).await;
    assert_eq!(s.next_wakeup().await.unwrap(), None);
}

/// A mailing of an owner who has not verified their address is not due.
pub async fn due_mailings_skip_owners_pending_verification(s: S) {
    let pending = pending_user(&s, "new@example.com").await;
    let p = client(&s, pending.id, "p@example.com").await;
    let msg = message(&s, pending.id).await;
    mailing(&s, pending.id, msg.id, &[p.id]).await;
    assert!(
        s.due_mailings(t0() + Span::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A mailing with tags reaches, at each run, its chosen clients and every
/// client of its owner carrying one of them then (a client tagged later is in
/// the next run), suppressed ones recorded as such; never another owner's.
pub async fn a_run_reaches_the_clients_tagged_at_its_start(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let tag = |email: &'static str, tags: &'static [&'static str]| {
        ClientDraft::parse(email, "T", "")
            .unwrap()
            .with_tags(tags.iter().copied())
            .unwrap()
    };
    let chosen = client(&s, ann.id, "chosen@example.com").await;
    for (owner, d) in [
        (ann.id, tag("vip@example.com", &["vip", "x"])),
        (ann.id, tag("other@example.com", &["other"])),
        (ann.id, tag("both@example.com", &["vip"])),
        (bob.id, tag("bobs@example.com", &["vip"])),
    ] {
        s.create_client(owner, &d, &crate::security::new_token(), t0())
            .await
            .unwrap();
    }
    s.suppress(
        ann.id,
        &EmailAddress::parse("both@example.com").unwrap(),
        SuppressionReason::Manual,
        None,
        t0(),
    )
    .await
    .unwrap();
    let msg = message(&s, ann.id).await;
    let draft = MailingDraft::for_audience(
        "Tagged",
        msg.id,
        Audience {
            client_ids: vec![chosen.id],
            tags: vec!["vip".into()],
            matching: None,
        },
        t0(),
        t0() + Span::days(30),
        Periodicity::Daily,
    )
    .unwrap();
    let m = s
        .create_mailing(ann.id, &draft, Some(t0()), t0())
        .await
        .unwrap();
    assert_eq!(m.tags, vec!["vip"]);
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap().tags, vec!["vip"]);
    let emails = |ds: Page<Delivery>| {
        let mut v: Vec<(String, DeliveryState)> = ds
            .items
            .into_iter()
            .map(|d| (d.email.as_str().to_owned(), d.state))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let run = start_run(&s, &m).await;
    assert_eq!(run.recipients, 3);
    assert_eq!(
        emails(s.run_deliveries(run.id, &all()).await.unwrap()),
        vec![
            ("both@example.com".to_owned(), DeliveryState::Suppressed),
            ("chosen@example.com".to_owned(), DeliveryState::Pending),
            ("vip@example.com".to_owned(), DeliveryState::Pending),
        ]
    );
    // Tagged after the first run: in the second.
    s.create_client(
        ann.id,
        &tag("late@example.com", &["VIP"]),
        &crate::security::new_token(),
        t0(),
    )
    .await
    .unwrap();
    let m = s.mailing(m.id).await.unwrap().unwrap();
    let second = start_run(&s, &m).await;
    assert_eq!(second.recipients, 4);
}
