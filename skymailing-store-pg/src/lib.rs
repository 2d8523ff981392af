//! # skymailing-store-pg
//!
//! The PostgreSQL home of SkyMailing: implements every store port of
//! [`skymailing_core::ports`] with sqlx, for one process or many sharing one
//! database. Workers claim deliveries with `FOR UPDATE SKIP LOCKED` under a
//! lease, so they never send the same delivery twice and their throughput adds
//! up; a scheduler step is one transaction guarded by a unique (mailing, slot)
//! key; and [`PgStore::listen`] turns PostgreSQL `NOTIFY`s into engine wake-ups,
//! so a change made by one process is seen by the others at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use skymailing_store_pg::PgStore;
//! let store = PgStore::connect("postgres://postgres@127.0.0.1/skymailing").await?;
//! # Ok(()) }
//! ```

mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod nodelay;
mod queue;
mod rows;
mod stats;
mod suppressions;

pub use skymailing_store_sql::DbError;

/// Rows written by one statement from which the planner's statistics of the
/// table are refreshed at once (a large import, a big run's deliveries)
/// instead of at autovacuum's next pass.
pub(crate) const ANALYZE_AFTER: u64 = 1_000;

use std::time::Duration;

use skymailing_core::engine::Wakeup;
use skymailing_core::{StoreConflict, StoreError};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

/// How long the LISTEN connection may stay quiet before it is pinged.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The channel every engine listens on.
pub const NOTIFY_CHANNEL: &str = "skymailing";

/// The migrations of this store, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Remembered positions in long client lists (see `anchors`).
    anchors: std::sync::Arc<skymailing_store_sql::anchors::Anchors>,
}

impl PgStore {
    /// Connects (a pool of up to 16 connections) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url.parse()?).await
    }

    /// [`PgStore::connect`] with options built in code rather than a URL.
    /// (A pool made elsewhere and given to [`PgStore::from_pool`] keeps its
    /// own settings: with sqlx 0.9.0 its TCP connections lack `TCP_NODELAY`,
    /// and statements over 16 KB wait 40 ms each.)
    pub async fn connect_with(options: sqlx::postgres::PgConnectOptions) -> Result<Self, DbError> {
        let port = options.get_port();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // With the database gone a request should get its 503 soon, not wait.
            .acquire_timeout(Duration::from_secs(5))
            // No 40 ms wait on a large statement (see the nodelay module).
            .after_connect(move |_, _| {
                Box::pin(async move {
                    nodelay::set_on_sockets_to(port);
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Opens one direct connection and closes it: a pool only reports that it
    /// timed out, this says why (refused, unknown host, authentication
    /// failed), for a start-up message that names the cause.
    pub async fn probe(url: &str, timeout: Duration) -> Result<(), String> {
        use sqlx::Connection;
        match tokio::time::timeout(timeout, sqlx::PgConnection::connect(url)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
        }
    }

    /// Wraps a pool and applies the migrations.
    pub async fn from_pool(pool: PgPool) -> Result<Self, DbError> {
        let store = PgStore {
            pool,
            anchors: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        self.fill_sort_keys().await
    }

    /// Computes the sort key of clients stored before there was one (the
    /// migration cannot: natural order is the application's rule).
    async fn fill_sort_keys(&self) -> Result<(), DbError> {
        use skymailing_store_sql::codec::stored_sort_key;
        loop {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, full_name FROM clients WHERE sort_key = '' LIMIT 5000")
                    .fetch_all(&self.pool)
                    .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let (ids, keys): (Vec<i64>, Vec<String>) = rows
                .into_iter()
                .map(|(id, name)| (id, stored_sort_key(&name)))
                .unzip();
            sqlx::query(
                "UPDATE clients c SET sort_key = v.key \
                 FROM UNNEST($1::bigint[], $2::text[]) AS v(id, key) WHERE c.id = v.id",
            )
            .bind(&ids)
            .bind(&keys)
            .execute(&self.pool)
            .await?;
        }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The service's secret called `name`: `fresh` is kept if none is yet
    /// (the first process to ask wins a race), and the kept one returned, so
    /// every process on the database, and every restart, gets the same.
    pub async fn service_secret(&self, name: &str, fresh: &str) -> Result<String, DbError> {
        sqlx::query("INSERT INTO service_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM service_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(value)
    }

    /// Listens for changes made by any process on this database and wakes the
    /// engine on each. Runs until the pool is closed; a lost connection is
    /// re-established (with a wake-up, since changes may have been missed).
    pub fn listen(&self, wakeup: Wakeup) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                if pool.is_closed() {
                    return;
                }
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
                            tracing::warn!(error = %e, "LISTEN failed");
                        } else {
                            wakeup.wake();
                            loop {
                                // A quiet connection is pinged now and then, so a
                                // half-open one is noticed and replaced.
                                let received =
                                    tokio::time::timeout(KEEPALIVE, listener.try_recv()).await;
                                match received {
                                    Ok(Ok(Some(_))) => wakeup.wake(),
                                    // The connection was lost and re-established.
                                    Ok(Ok(None)) => wakeup.wake(),
                                    Ok(Err(e)) => {
                                        tracing::warn!(error = %e, "LISTEN connection failed");
                                        break;
                                    }
                                    Err(_) => {
                                        let ping = tokio::time::timeout(
                                            KEEPALIVE,
                                            sqlx::query("SELECT 1").execute(&mut listener),
                                        )
                                        .await;
                                        if !matches!(ping, Ok(Ok(_))) {
                                            tracing::warn!(
                                                "LISTEN connection stopped answering; reconnecting"
                                            );
                                            wakeup.wake();
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect to LISTEN"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

/// Maps a database error to a store error, naming the rule a constraint guards.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        let conflict = match (d.code().as_deref(), d.constraint()) {
            (Some("23505"), Some("users_email_key")) => Some(StoreConflict::UserEmailTaken),
            (Some("23505"), Some("clients_owner_email_key")) => {
                Some(StoreConflict::ClientEmailTaken)
            }
            (Some("23503"), Some("mailings_message_fkey")) => Some(StoreConflict::UnknownMessage),
            _ => None,
        };
        if let Some(c) = conflict {
            return StoreError::Conflict(c);
        }
    }
    StoreError::backend(e)
}

/// True about once in `n` calls (cheap housekeeping that need not run each time).
pub(crate) fn random_one_in(n: u64) -> bool {
    skymailing_core::security::random_u64().is_multiple_of(n.max(1))
}
