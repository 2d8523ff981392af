//! # skymailing-store-sqlite
//!
//! The embedded home of SkyMailing, and its zero-setup default: every store
//! port of [`skymailing_core::ports`] in one SQLite file, created on first use.
//!
//! The file runs in WAL mode, so readers never wait for the writer. Writes go
//! through a pool of exactly one connection, so this process has one writer at a
//! time by construction (no `SQLITE_BUSY` between its own transactions), and
//! every write transaction starts with `BEGIN IMMEDIATE`, so a second process on
//! the same file (a `migrate` command, say) waits for the lock under the busy
//! timeout instead of failing. SQLite serves one node: to scale out over several
//! processes, use the PostgreSQL store.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use skymailing_store_sqlite::SqliteStore;
//! let store = SqliteStore::open("skymailing.db").await?;
//! # Ok(()) }
//! ```

mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod queue;
mod rows;
mod stats;
mod suppressions;

pub use skymailing_store_sql::DbError;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use skymailing_core::{StoreConflict, StoreError};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

/// The migrations of this store, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Remembered positions in long client lists (see `anchors`).
    anchors: std::sync::Arc<skymailing_store_sql::anchors::Anchors>,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` and applies the migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, DbError> {
        Self::open_with(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite:` URL (`sqlite://skymailing.db`, `sqlite::memory:` is refused:
    /// its reader and writer would be two different databases).
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(DbError::configuration(
                "an in-memory SQLite database cannot be shared; use a file",
            ));
        }
        Self::open_with(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self, DbError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        // The writer's page cache holds a large transaction's pages (an
        // import of 100,000 clients): with SQLite's default 2 MB it spilled
        // pages to the log mid-transaction and read them back (a third of an
        // import's time in the profile). Used only as it fills.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("cache_size", "-65536"))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        let store = SqliteStore {
            reader,
            writer,
            anchors: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.writer).await?;
        self.fill_sort_keys().await
    }

    /// Computes the sort key of clients stored before there was one (the
    /// migration cannot: natural order is the application's rule).
    async fn fill_sort_keys(&self) -> Result<(), DbError> {
        use skymailing_store_sql::codec::stored_sort_key;
        loop {
            let rows: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, full_name FROM clients WHERE sort_key = '' LIMIT 5000")
                    .fetch_all(&self.writer)
                    .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.writer.begin().await?;
            for (id, name) in rows {
                sqlx::query("UPDATE clients SET sort_key = ?2 WHERE id = ?1")
                    .bind(id)
                    .bind(stored_sort_key(&name))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }

    /// The pool for reads.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The one-connection pool for writes.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The service's secret called `name`: `fresh` is kept if none is yet,
    /// and the kept one returned, so every restart gets the same.
    pub async fn service_secret(&self, name: &str, fresh: &str) -> Result<String, DbError> {
        sqlx::query("INSERT INTO service_secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .execute(&self.writer)
            .await?;
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM service_secrets WHERE name = ?1")
                .bind(name)
                .fetch_one(&self.writer)
                .await?;
        Ok(value)
    }

    /// Closes both pools, after moving everything in the write-ahead log
    /// into the database file (so the file alone is the whole database).
    pub async fn close(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::warn!(error = %e, "the SQLite checkpoint at close failed");
        }
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Writes a consistent copy of the database to `path` (which must not
    /// exist) while it stays in use: SQLite's `VACUUM INTO`.
    pub async fn backup(&self, path: &Path) -> Result<(), DbError> {
        let target = path
            .to_str()
            .ok_or_else(|| DbError::configuration("the backup path is not UTF-8"))?;
        sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

/// Maps a database error to a store error. SQLite names the columns of a
/// violated unique index in its message; a foreign-key failure names nothing,
/// so callers map that one in context.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        let msg = d.message();
        if msg.contains("UNIQUE constraint failed: users.email") {
            return StoreError::Conflict(StoreConflict::UserEmailTaken);
        }
        if msg.contains("UNIQUE constraint failed: clients.owner_id, clients.email") {
            return StoreError::Conflict(StoreConflict::ClientEmailTaken);
        }
    }
    StoreError::backend(e)
}

/// Whether an error is a foreign-key failure.
pub(crate) fn is_fk(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.message().contains("FOREIGN KEY constraint failed"))
}
