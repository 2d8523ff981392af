//! Conformance cases: The log: runs and deliveries read back.

use super::*;

/// Runs list newest first, filtered by mailing or owner, a page at a time.
pub async fn runs_list_filters_and_pages(s: S) {
    let (ann, m, r1) = run_with(&s, "ann@example.com", 1).await;
    let (bob, _, r2) = run_with(&s, "bob@example.com", 1).await;
    let m = s.mailing(m.id).await.unwrap().unwrap();
    let r3 = start_run(&s, &m).await;
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_runs(RunFilter::default(), &all()).await.unwrap()),
        vec![r3.id, r2.id, r1.id]
    );
    assert_eq!(
        ids(s
            .list_runs(
                RunFilter {
                    mailing: Some(m.id),
                    owner: None
                },
                &all()
            )
            .await
            .unwrap()),
        vec![r3.id, r1.id]
    );
    assert_eq!(
        ids(s
            .list_runs(
                RunFilter {
                    mailing: None,
                    owner: Some(bob.id)
                },
                &all()
            )
            .await
            .unwrap()),
        vec![r2.id]
    );
    let p = s
        .list_runs(
            RunFilter {
                mailing: None,
                owner: Some(ann.id),
            },
            &q(2, 1, None),
        )
        .await
        .unwrap();
    assert_eq!((p.total, ids(p)), (2, vec![r1.id]));
    assert_eq!(s.run(RunId(987_654)).await.unwrap(), None);
    let ds = s.run_deliveries(r1.id, &q(1, 1, None)).await.unwrap();
    assert_eq!((ds.total, ds.items.len()), (1, 1));
}

/// Sent and failed deliveries are counted per day of their outcome.
pub async fn daily_outcomes_count_sent_and_failed(s: S) {
    let (_, _, _run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap();
    let next_day = t0() + Span::days(1);
    s.complete_deliveries(&[sent(&c[1]), failed(&c[2], "550 x")], next_day)
        .await
        .unwrap();
    let days = s.daily_outcomes(None, t0() - Span::days(7)).await.unwrap();
    assert_eq!(
        days,
        vec![
            DailyOutcome {
                day: t0().date_naive(),
                sent: 1,
                failed: 0
            },
            DailyOutcome {
                day: next_day.date_naive(),
                sent: 1,
                failed: 1
            },
        ]
    );
    assert_eq!(s.daily_outcomes(None, next_day).await.unwrap().len(), 1);
}
