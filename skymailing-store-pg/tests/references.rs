//! What PostgreSQL-specific code keeps by itself: the links of deliveries to
//! their run and client (triggers since migration 16, not foreign keys), and
//! the pool's connections' `TCP_NODELAY`.

use skymailing_core::ports::ClientStore;
use skymailing_core::*;
use skymailing_store_pg::PgStore;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

async fn owner_and_client(store: &PgStore) -> (UserId, ClientId) {
    let now = chrono::Utc::now();
    let owner = skymailing_core::testkit::active_user(
        store,
        "ann@example.com",
        Role::User,
        TimeZone::UTC,
        now,
    )
    .await;
    let client = store
        .create_client(
            owner.id,
            &ClientDraft::parse("x@example.com", "X", "").unwrap(),
            "token-x",
            now,
        )
        .await
        .unwrap();
    (owner.id, client.id)
}

async fn run_of(pool: &PgPool, owner: UserId) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (owner_id, mailing_name, slot_at, skipped_slots, started_at, subject, body_text, nonce) \
         VALUES ($1, 'News', now(), 0, now(), 's', 'b', 'n') RETURNING id",
    )
    .bind(owner.0)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A client deleted while a run's deliveries are being written (the run's
/// transaction holds the owner's row shared, as `apply_plan` does) waits
/// for them, then forgets itself in them too: no delivery is left pointing
/// at a client that is gone.
#[sqlx::test(migrations = false)]
async fn a_client_deleted_while_a_run_starts_is_forgotten_in_its_deliveries(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let (owner, client) = owner_and_client(&store).await;
    let run = run_of(&pool, owner).await;

    let mut starting = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR SHARE")
        .bind(owner.0)
        .execute(&mut *starting)
        .await
        .unwrap();
    let deleting = tokio::spawn({
        let store = store.clone();
        async move { store.delete_client(owner, client).await.unwrap() }
    });
    // The delete is held by the run's lock, however long it is held.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!deleting.is_finished(), "the delete waits for the run");
    sqlx::query(
        "INSERT INTO deliveries (run_id, client_id, email, name, unsubscribe_token, next_attempt_at, updated_at) \
         VALUES ($1, $2, 'x@example.com', 'X', 'token-x', now(), now())",
    )
    .bind(run)
    .bind(client.0)
    .execute(&mut *starting)
    .await
    .unwrap();
    starting.commit().await.unwrap();
    assert!(deleting.await.unwrap(), "then the client is deleted");

    let left: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT client_id FROM deliveries WHERE run_id = $1")
            .bind(run)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(left, vec![None], "the delivery stays, without its client");
}

/// Deleting runs deletes their deliveries (as the foreign key's cascade did),
/// and only theirs.
#[sqlx::test(migrations = false)]
async fn deleting_runs_deletes_their_deliveries(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let (owner, client) = owner_and_client(&store).await;
    let (gone, kept) = (run_of(&pool, owner).await, run_of(&pool, owner).await);
    for run in [gone, gone, kept] {
        sqlx::query(
            "INSERT INTO deliveries (run_id, client_id, email, name, unsubscribe_token, next_attempt_at, updated_at) \
             VALUES ($1, $2, 'x@example.com', 'X', 'token-x', now(), now())",
        )
        .bind(run)
        .bind(client.0)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM runs WHERE id = $1")
        .bind(gone)
        .execute(&pool)
        .await
        .unwrap();
    let runs: Vec<i64> = sqlx::query_scalar("SELECT run_id FROM deliveries")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(runs, vec![kept]);
}

/// Every connection the store's pool opens has `TCP_NODELAY` (sqlx 0.9.0 no
/// longer sets it; without it a statement over 16 KB waits 40 ms for the
/// server's delayed acknowledgement).
#[cfg(target_os = "linux")]
#[sqlx::test(migrations = false)]
async fn the_pools_connections_send_without_delay(_: PgPoolOptions, options: PgConnectOptions) {
    use std::os::fd::BorrowedFd;
    let port = options.get_port();
    let store = PgStore::connect_with(options).await.unwrap();
    // Several connections open at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(store.pool().acquire().await.unwrap());
    }
    let mut to_database = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if !std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        {
            continue;
        }
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // SAFETY: open (just listed, and this test closes nothing meanwhile);
        // borrowed for two socket calls only.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        if socket
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() == port)
        {
            to_database += 1;
            assert!(socket.tcp_nodelay().unwrap(), "TCP_NODELAY on fd {fd:?}");
        }
    }
    assert!(
        to_database >= 3,
        "found {to_database} connections to the database"
    );
    drop(held);
}
