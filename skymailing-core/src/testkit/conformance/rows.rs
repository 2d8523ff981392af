//! Conformance cases: What every row must survive: exact times, literal search, corrupt values.

use super::*;

/// Instants with microseconds survive storage exactly, and schedules match on them.
pub async fn sub_second_times_round_trip_exactly(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let start = t0() + Span::microseconds(123_456);
    let d = MailingDraft::new(
        "precise",
        msg.id,
        vec![a.id],
        start,
        start + Span::days(3),
        Periodicity::Daily,
    )
    .unwrap();
    let m = s
        .create_mailing(ann.id, &d, Some(start), start)
        .await
        .unwrap();
    let back = s.mailing(m.id).await.unwrap().unwrap();
    assert_eq!(
        (back.start_at, back.next_run_at, back.updated_at),
        (start, Some(start), start)
    );
    let due = s.due_mailings(start, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(
        s.due_mailings(start - Span::microseconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: due[0].mailing.next_run_at.unwrap(),
        expected_updated_at: due[0].mailing.updated_at,
        run: Some(NewRun {
            slot_at: start,
            skipped_slots: 0,
            nonce: "n".into(),
            tags: Vec::new(),
        }),
        next_run_at: Some(start + Span::days(1)),
        now: start,
    };
    let run = s
        .apply_plan(&plan)
        .await
        .unwrap()
        .expect("the compare-and-set matches");
    assert_eq!(run.slot_at, start);
    let c = s.claim_deliveries(start, LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1, "due at its exact time");
}

/// `%`, `_` and `\` in a search match themselves only.
pub async fn search_treats_wildcards_literally(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    for (email, name) in [
        ("a@x.com", "100% real"),
        ("b@x.com", "1000 real"),
        ("c@x.com", "snake_case"),
        ("d@x.com", "snakeXcase"),
        ("e@x.com", "back\\slash"),
    ] {
        let d = ClientDraft::parse(email, name, "").unwrap();
        s.create_client(ann.id, &d, &format!("t-{email}"), t0())
            .await
            .unwrap();
    }
    let hits = |p: Page<Client>| p.items.into_iter().map(|c| c.full_name).collect::<Vec<_>>();
    assert_eq!(
        hits(s.list_clients(ann.id, &q(1, 10, Some("0%"))).await.unwrap()),
        vec!["100% real"]
    );
    assert_eq!(
        hits(
            s.list_clients(ann.id, &q(1, 10, Some("e_c")))
                .await
                .unwrap()
        ),
        vec!["snake_case"]
    );
    assert_eq!(
        hits(
            s.list_clients(ann.id, &q(1, 10, Some("k\\s")))
                .await
                .unwrap()
        ),
        vec!["back\\slash"]
    );
}

/// Smaller behaviours adapters could differ on.
pub async fn smaller_queries_and_filters(s: S) {
    // run_totals of an unknown run is all zeros.
    assert_eq!(
        s.run_totals(RunId(987_654)).await.unwrap(),
        RunTotals::default()
    );
    // delete_user_sessions with nothing kept ends them all.
    let (ann, m, run) = run_with(&s, "ann@example.com", 2).await;
    s.create_session(ann.id, "s1", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(ann.id, "s2", t0() + Span::hours(1))
        .await
        .unwrap();
    assert_eq!(s.delete_user_sessions(ann.id, None).await.unwrap(), 2);
    // Activating a user has no side effects on their deliveries.
    s.set_user_state(ann.id, UserState::Active, t0())
        .await
        .unwrap();
    assert_eq!(states(&s, run.id).await[&DeliveryState::Pending], 2);
    // Users are found by name too; runs and deliveries by their own search.
    assert_eq!(
        s.list_users(&q(1, 10, Some("name of ann")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &q(1, 10, Some("weekly")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &q(1, 10, Some("monthly")))
            .await
            .unwrap()
            .total,
        0
    );
    let first = s.run_deliveries(run.id, &all()).await.unwrap().items[0]
        .email
        .clone();
    assert_eq!(
        s.run_deliveries(run.id, &q(1, 10, Some(first.as_str())))
            .await
            .unwrap()
            .total,
        1
    );
    // daily_outcomes can be limited to one owner.
    let (bob, _, _) = run_with(&s, "bob@example.org", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&c.iter().map(sent).collect::<Vec<_>>(), t0())
        .await
        .unwrap();
    let mine = s
        .daily_outcomes(Some(ann.id), t0() - Span::days(1))
        .await
        .unwrap();
    let bobs = s
        .daily_outcomes(Some(bob.id), t0() - Span::days(1))
        .await
        .unwrap();
    assert_eq!((mine[0].sent, bobs[0].sent), (2, 1));
    // Stats: a disabled mailing is not running, nor one past its end once its
    // last run finished.
    let before = s.stats(t0()).await.unwrap();
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), m.next_run_at, t0())
        .await
        .unwrap();
    let after = s.stats(t0()).await.unwrap();
    assert_eq!(after.running_mailings + 1, before.running_mailings);
    for r in s.runs_to_finish(10).await.unwrap() {
        let t = s.run_totals(r.id).await.unwrap();
        assert!(
            s.finish_run(r.id, &RunReport::new(&t, 0), t0())
                .await
                .unwrap()
        );
    }
    let late = s.stats(t0() + Span::days(365)).await.unwrap();
    assert_eq!(late.running_mailings, 0, "past their end nothing runs");
}

/// Corrupt rows (written behind the store's back: an unknown role, user
/// state or time zone, an unknown periodicity or delivery state, a time out
/// of range) are errors when read, never a guess — no unknown role read as
/// `user`, no bad zone read as UTC, no bad time read as 1970. Not in the
/// macro: a SQL store's own tests run it with `corrupt(table, column, id,
/// value)`, which writes the value with plain SQL (past any CHECK) and
/// returns whether it could (a column whose type refuses the value is as
/// good as a decoding error).
pub async fn corrupt_rows_are_errors_not_guesses(
    s: S,
    corrupt: impl AsyncFn(&str, &str, i64, &str) -> bool,
) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let uid = u.id.0;
    let w = user(&s, "wes@example.com", Role::User).await;
    let wc = client(&s, w.id, "x@example.net").await;
    let wm = message(&s, w.id).await;
    let other = mailing(&s, w.id, wm.id, &[wc.id]).await;
    let mut checked = 0;
    if corrupt("deliveries", "state", ds[0].id.0, "lost").await {
        assert!(
            s.run_deliveries(run.id, &all()).await.is_err(),
            "an unknown delivery state"
        );
        checked += 1;
    }
    if corrupt("users", "time_zone", uid, "Mars/Olympus").await {
        assert!(s.user(u.id).await.is_err(), "an unknown time zone");
        // Scheduling goes on for everyone else: the mailing whose owner's
        // zone is corrupt is left out (and logged), not scheduled in UTC.
        let due = s.due_mailings(t0() + Span::days(2), 10).await.unwrap();
        assert!(due.iter().all(|d| d.mailing.id != m.id), "not guessed");
        assert!(
            due.iter().any(|d| d.mailing.id == other.id),
            "another owner's mailing is still due"
        );
        assert!(corrupt("users", "time_zone", uid, "UTC").await);
        checked += 1;
    }
    if corrupt("users", "state", uid, "gone").await {
        assert!(s.user(u.id).await.is_err(), "an unknown user state");
        assert!(corrupt("users", "state", uid, "active").await);
        checked += 1;
    }
    if corrupt("users", "role", uid, "superuser").await {
        assert!(s.user(u.id).await.is_err(), "an unknown role");
        assert!(s.list_users(&all()).await.is_err());
        assert!(corrupt("users", "role", uid, "user").await);
        checked += 1;
    }
    if corrupt("deliveries", "attempts", ds[1].id.0, "-1").await {
        assert!(
            s.run_deliveries(run.id, &all()).await.is_err(),
            "a negative attempt count"
        );
        checked += 1;
    }
    assert!(s.user(u.id).await.unwrap().is_some(), "restored");
    if corrupt("mailings", "periodicity", m.id.0, "hourly").await {
        assert!(s.mailing(m.id).await.is_err(), "an unknown periodicity");
        assert!(s.list_mailings(None, &all()).await.is_err());
        assert!(corrupt("mailings", "periodicity", m.id.0, "daily").await);
        checked += 1;
    }
    if corrupt("mailings", "start_at", m.id.0, "9223372036854775807").await {
        assert!(s.mailing(m.id).await.is_err(), "a time out of range");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} corruptions could be written");
}
