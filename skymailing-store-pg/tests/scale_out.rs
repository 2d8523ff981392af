//! Several processes on one PostgreSQL: concurrent claimers, racing schedulers,
//! expired leases and NOTIFY wake-ups across pools. Each "process" has its own
//! connection pool on the test's database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::engine::{Engine, EngineConfig, Wakeup};
use skymailing_core::ports::*;
use skymailing_core::testkit::{ManualClock, RecordingMailer};
use skymailing_core::*;
use skymailing_store_pg::PgStore;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn t0() -> DateTime<Utc> {
    "2026-05-01T09:00:00Z".parse().unwrap()
}

/// Another pool on the same database, as another process would have.
async fn other_process(pool: &PgPool) -> PgStore {
    let opts: PgConnectOptions = (*pool.connect_options()).clone();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
        .unwrap();
    PgStore::from_pool(pool).await.unwrap()
}

/// A user with `n` clients (bulk-inserted) and a daily mailing to all of them, due at `t0`.
async fn mailing_with(store: &PgStore, n: i64) -> Mailing {
    let user = store
        .create_user(&NewUser {
            email: EmailAddress::parse("owner@example.com").unwrap(),
            name: DisplayName::parse("Owner").unwrap(),
            time_zone: TimeZone::UTC,
            role: Role::User,
            state: UserState::Active,
            password_hash: Some("x".into()),
            created_at: t0(),
        })
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at) \
         SELECT $1, 'c' || i || '@example.com', 'Client ' || i, 'tok' || i, $2 FROM generate_series(1, $3) i",
    )
    .bind(user.id.0)
    .bind(t0())
    .bind(n)
    .execute(store.pool())
    .await
    .unwrap();
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM clients ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let msg = store
        .create_message(
            user.id,
            &MessageDraft::parse("Hi {{ name }}", "Hello", None).unwrap(),
            t0(),
        )
        .await
        .unwrap();
    let d = MailingDraft::new(
        "Big",
        msg.id,
        ids.into_iter().map(|(id,)| ClientId(id)).collect(),
        t0(),
        t0() + chrono::Duration::days(10),
        Periodicity::Daily,
    )
    .unwrap();
    store
        .create_mailing(user.id, &d, Some(t0()), t0())
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn four_claimers_on_20000_deliveries_claim_and_complete_each_exactly_once(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let m = mailing_with(&store, 20_000).await;
    let run = store
        .apply_plan(&RunPlan {
            mailing_id: m.id,
            expected_next_run_at: t0(),
            expected_updated_at: m.updated_at,
            run: Some(NewRun {
                slot_at: t0(),
                skipped_slots: 0,
                nonce: "n".into(),
                tags: Vec::new(),
            }),
            next_run_at: None,
            now: t0(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.recipients, 20_000);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = other_process(&pool).await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = s
                    .claim_deliveries(t0(), Duration::from_secs(300), 500)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                let results: Vec<_> = batch
                    .iter()
                    .map(|c| DeliveryResult {
                        id: c.id,
                        attempt: c.attempt,
                        outcome: DeliveryOutcome::Sent {
                            reply: "250 ok".into(),
                        },
                    })
                    .collect();
                assert_eq!(
                    s.complete_deliveries(&results, t0()).await.unwrap().len(),
                    batch.len()
                );
                mine.extend(batch.into_iter().map(|c| c.id));
            }
        }));
    }
    let mut all = Vec::new();
    let mut per_claimer = Vec::new();
    for t in tasks {
        let mine = t.await.unwrap();
        per_claimer.push(mine.len());
        all.extend(mine);
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(
        (all.len(), distinct.len()),
        (20_000, 20_000),
        "each claimed exactly once"
    );
    assert!(
        per_claimer.iter().filter(|n| **n > 0).count() >= 2,
        "the claimers shared the work: {per_claimer:?}"
    );
    let totals = store.run_totals(run.id).await.unwrap();
    assert_eq!(
        (totals.sent, totals.total),
        (20_000, 20_000),
        "each completed exactly once"
    );
    let (attempts,): (i64,) = sqlx::query_as("SELECT sum(attempts)::bigint FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 20_000);
}

#[sqlx::test(migrations = false)]
async fn two_schedulers_racing_on_one_due_slot_create_one_run(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let m = mailing_with(&store, 50).await;
    let clock = Arc::new(ManualClock::new(t0()));
    let mut engines = Vec::new();
    for _ in 0..2 {
        let s = other_process(&pool).await;
        engines.push(Arc::new(Engine::new(
            Arc::new(s),
            Arc::new(RecordingMailer::new()),
            clock.clone(),
            Arc::new(skymailing_core::links::BaseUrlLinks::default()),
            EngineConfig::default(),
            Wakeup::new(),
        )));
    }
    for _ in 0..5 {
        let (a, b) = tokio::join!(engines[0].schedule_due(), engines[1].schedule_due());
        let started = a.unwrap().len() + b.unwrap().len();
        assert!(started <= 1);
    }
    let runs = store
        .list_runs(RunFilter::default(), &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(runs.total, 1, "one run per mailing and slot");
    assert_eq!(runs.items[0].recipients, 50);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 50, "one delivery per recipient");
    let next = store.mailing(m.id).await.unwrap().unwrap().next_run_at;
    assert_eq!(next, Some(t0() + chrono::Duration::days(1)));
}

#[sqlx::test(migrations = false)]
async fn an_expired_lease_is_reclaimed_and_the_stale_workers_late_write_is_refused(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let m = mailing_with(&store, 3).await;
    store
        .apply_plan(&RunPlan {
            mailing_id: m.id,
            expected_next_run_at: t0(),
            expected_updated_at: m.updated_at,
            run: Some(NewRun {
                slot_at: t0(),
                skipped_slots: 0,
                nonce: "n".into(),
                tags: Vec::new(),
            }),
            next_run_at: None,
            now: t0(),
        })
        .await
        .unwrap();
    let stale = other_process(&pool).await;
    let fresh = other_process(&pool).await;
    let first = stale
        .claim_deliveries(t0(), Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert!(
        fresh
            .claim_deliveries(
                t0() + chrono::Duration::seconds(29),
                Duration::from_secs(30),
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    let later = t0() + chrono::Duration::seconds(31);
    let second = fresh
        .claim_deliveries(later, Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 3);
    assert!(second.iter().all(|c| c.attempt == 2));
    let late: Vec<_> = first
        .iter()
        .map(|c| DeliveryResult {
            id: c.id,
            attempt: c.attempt,
            outcome: DeliveryOutcome::Failed {
                reply: "late".into(),
            },
        })
        .collect();
    assert_eq!(
        stale.complete_deliveries(&late, later).await.unwrap().len(),
        0,
        "fenced off"
    );
    let ok: Vec<_> = second
        .iter()
        .map(|c| DeliveryResult {
            id: c.id,
            attempt: c.attempt,
            outcome: DeliveryOutcome::Sent {
                reply: "250".into(),
            },
        })
        .collect();
    assert_eq!(
        fresh.complete_deliveries(&ok, later).await.unwrap().len(),
        3
    );
}

#[sqlx::test(migrations = false)]
async fn a_change_in_one_process_wakes_a_listener_in_another(pool: PgPool) {
    let writer = PgStore::from_pool(pool.clone()).await.unwrap();
    let reader = other_process(&pool).await;
    let wakeup = Wakeup::new();
    let listener = reader.listen(wakeup.clone());
    // The listener wakes once when it starts listening.
    tokio::time::timeout(Duration::from_secs(5), wakeup.wakes_reach(1))
        .await
        .expect("listening");
    let woken = wakeup.wakes();
    let started = std::time::Instant::now();
    mailing_with(&writer, 1).await;
    tokio::time::timeout(Duration::from_secs(1), wakeup.wakes_reach(woken + 1))
        .await
        .expect("woken by the other pool's change within a second");
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    listener.abort();
}
