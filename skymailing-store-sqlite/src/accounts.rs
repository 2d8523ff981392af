//! Users, sessions and one-time tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::ports::{SessionStore, StoreResult, UserStore};
use skymailing_core::*;

use crate::rows::{UserHashRow, UserRow, count, like, limits, ts, user_columns};
use crate::{SqliteStore, db_err};

#[async_trait]
impl UserStore for SqliteStore {
    #[tracing::instrument(
        name = "store.create_user",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn create_user(&self, u: &NewUser) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(concat!(
            "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING ",
            user_columns!()
        ))
        .bind(u.email.as_str())
        .bind(u.name.as_str())
        .bind(u.time_zone.name())
        .bind(u.role.as_str())
        .bind(u.state.as_str())
        .bind(&u.password_hash)
        .bind(ts(u.created_at))
        .fetch_one(&self.writer)
        .await
        .map(User::from)
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.user",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.user_by_email",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        sqlx::query_as::<_, UserHashRow>(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE email = ?1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map(|r| r.map(|r| (User::from(r.user), r.password_hash)))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.set_password_hash",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1")
            .bind(id.0)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM tokens WHERE user_id = ?1 AND purpose = 'password_reset'")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.set_user_state",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut tx = self.write_tx().await?;
        let user = sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET state = ?2 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(state.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if user.is_some() && state == UserState::Blocked {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "UPDATE deliveries SET state = 'cancelled', updated_at = ?2 \
                 WHERE state = 'pending' AND run_id IN (SELECT id FROM runs WHERE owner_id = ?1 AND finished_at IS NULL)",
            )
            .bind(id.0)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(user.map(User::from))
    }

    #[tracing::instrument(
        name = "store.set_user_role",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET role = ?2 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(role.as_str())
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.set_user_language",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_user_language(
        &self,
        id: UserId,
        language: Option<Language>,
    ) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET language = ?2 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(language.as_ref().map(Language::as_str))
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.update_profile",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn update_profile(
        &self,
        id: UserId,
        name: &DisplayName,
        tz: TimeZone,
    ) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET name = ?2, time_zone = ?3 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(name.as_str())
        .bind(tz.name())
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.set_sender",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_sender(&self, id: UserId, sender: &Sender) -> StoreResult<Option<User>> {
        let (name, reply_to) = skymailing_store_sql::rows::sender_parts(sender);
        sqlx::query_as::<_, UserRow>(concat!(
            "UPDATE users SET sender_name = ?2, reply_to = ?3 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(name)
        .bind(reply_to)
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.list_users",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn list_users(&self, q: &ListQuery) -> StoreResult<Page<User>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE ?1 IS NULL OR email LIKE ?1 ESCAPE '\\' OR lower(name) LIKE ?1 ESCAPE '\\' \
             ORDER BY id LIMIT ?2 OFFSET ?3"
        ))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE ?1 IS NULL OR email LIKE ?1 ESCAPE '\\' OR lower(name) LIKE ?1 ESCAPE '\\'",
        )
        .bind(&pattern)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(User::from).collect(),
            count(total),
            q,
        ))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    #[tracing::instrument(
        name = "store.create_session",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn create_session(
        &self,
        user: UserId,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)")
            .bind(hash)
            .bind(user.0)
            .bind(ts(expires_at))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.session_user",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn session_user(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(
            "SELECT u.id, u.email, u.name, u.time_zone, u.role, u.state, u.language, u.sender_name, u.reply_to, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )
        .bind(hash)
        .bind(ts(now))
        .fetch_optional(&self.reader)
        .await
        .map(|r| r.map(User::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.delete_session",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn delete_session(&self, hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(hash)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.delete_user_sessions",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn delete_user_sessions(&self, user: UserId, keep: Option<String>) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2")
            .bind(user.0)
            .bind(keep)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    #[tracing::instrument(
        name = "store.create_token",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn create_token(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM tokens WHERE user_id = ?1 AND purpose = ?2")
            .bind(user.0)
            .bind(purpose.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO tokens (token_hash, user_id, purpose, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(hash)
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(ts(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.consume_token",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn consume_token(
        &self,
        purpose: TokenPurpose,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("DELETE FROM tokens WHERE token_hash = ?1 AND purpose = ?2 RETURNING user_id, expires_at")
                .bind(hash)
                .bind(purpose.as_str())
                .fetch_optional(&self.writer)
                .await
                .map_err(db_err)?;
        Ok(row
            .filter(|(_, exp)| *exp > ts(now))
            .map(|(id, _)| UserId(id)))
    }

    #[tracing::instrument(
        name = "store.purge_expired",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let s = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1")
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let t = sqlx::query("DELETE FROM tokens WHERE expires_at <= ?1")
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(s.rows_affected() + t.rows_affected())
    }
}
