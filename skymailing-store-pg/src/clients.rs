//! Clients, and the unsubscribe links their mail carries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::ports::{ClientStore, StoreResult};
use skymailing_core::*;
use skymailing_store_sql::anchors;
use skymailing_store_sql::client_columns;
use skymailing_store_sql::codec::{count_tags, encode_tags, stored_sort_key};
use skymailing_store_sql::query::INDEXED_SEARCH_FROM;

/// The search (`$2`, a LIKE pattern) and tag (`$3`, `|tag|`) of a client list.
macro_rules! client_filter {
    () => {
        "($2::text IS NULL OR email LIKE $2 OR lower(full_name) LIKE $2 OR lower(comment) LIKE $2 \
           OR (strpos($2, '|') = 0 AND tags LIKE $2)) \
         AND ($3::text IS NULL OR strpos(tags, $3) > 0)"
    };
}

/// What a search looks through, as one text (the expression the trigram index
/// of migration 0017 is built on: a query must spell it the same).
macro_rules! search_text {
    () => {
        "(email || ' ' || lower(full_name) || ' ' || lower(comment) || ' ' || tags)"
    };
}

/// The clients carrying the tag `$4` (`|tag|`), through the index on
/// `(owner_id, md5(tags), sort_key, id)`: the owner's tag sets that hold it.
macro_rules! tagged {
    () => {
        " AND md5(tags) IN (SELECT md5(tags) FROM client_tag_sets \
           WHERE owner_id = $1 AND strpos(tags, $4) > 0)"
    };
}

/// A page of an owner's clients: the ids from an index (`$2` rows after `$3`,
/// in the list's order or, `$dir` DESC, the opposite), then their rows.
macro_rules! page_of_ids {
    ($filter:expr, $dir:literal) => {
        concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id IN (SELECT id FROM clients WHERE owner_id = $1",
            $filter,
            " ORDER BY sort_key",
            $dir,
            ", id",
            $dir,
            " LIMIT $2 OFFSET $3) ORDER BY sort_key, id"
        )
    };
}

/// The page query of a window: owner, limit and offset bound.
fn page_query(
    statement: &'static str,
    owner: UserId,
    w: Window,
) -> sqlx::query::QueryAs<'static, sqlx::Postgres, ClientRow, sqlx::postgres::PgArguments> {
    let (Window::Forward { limit, offset } | Window::Backward { limit, offset }) = w;
    sqlx::query_as::<_, ClientRow>(statement)
        .bind(owner.0)
        .bind(limit)
        .bind(offset)
}

/// Names, comments, stored tags and sort keys of drafts, as columns.
fn columns<'a>(
    drafts: impl Iterator<Item = &'a ClientDraft>,
) -> (Vec<&'a str>, Vec<&'a str>, Vec<String>, Vec<String>) {
    let mut cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for d in drafts {
        cols.0.push(d.full_name.as_str());
        cols.1.push(d.comment.as_str());
        cols.2.push(encode_tags(&d.tags));
        cols.3.push(stored_sort_key(&d.full_name));
    }
    cols
}

use crate::rows::{ClientRow, Window, count, like, limits, window};
use crate::{PgStore, db_err};

/// Takes the owner's kept counts row first. Every statement that adds,
/// removes or renames clients updates it (their triggers), after the rows it
/// changed: a writer of several statements (an import in chunks) holding it
/// while waiting for a client's row, and a writer holding that row while
/// waiting for the counts, would deadlock. Taken first, the counts order
/// them.
async fn lock_counts(tx: &mut sqlx::PgConnection, owner: UserId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM client_counts WHERE owner_id = $1 FOR UPDATE")
        .bind(owner.0)
        .execute(tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl PgStore {
    /// The owner's number of clients (kept by triggers).
    async fn list_size(&self, owner: UserId) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT clients FROM client_counts WHERE owner_id = $1")
                .bind(owner.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .unwrap_or(0),
        )
    }

    /// The owner's list cut into anchors: `(changes, sort_key, id)` of every
    /// `anchors::STRIDE`-th row, in one statement (see `Anchors::start_of`).
    async fn anchor(&self, owner: UserId) -> StoreResult<Vec<(i64, String, i64)>> {
        sqlx::query_as(
            "SELECT c.changes, s.sort_key, s.id FROM client_counts c CROSS JOIN LATERAL ( \
                 SELECT sort_key, id, n FROM ( \
                     SELECT sort_key, id, row_number() OVER (ORDER BY sort_key, id) - 1 AS n \
                     FROM clients WHERE owner_id = c.owner_id) r \
                 WHERE n % $2 = 0) s \
             WHERE c.owner_id = $1 ORDER BY s.n",
        )
        .bind(owner.0)
        .bind(anchors::STRIDE)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }
}

#[async_trait]
impl ClientStore for PgStore {
    #[tracing::instrument(
        name = "store.create_client",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn create_client(
        &self,
        owner: UserId,
        d: &ClientDraft,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Client> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // An address unsubscribed from this list stays so, whatever became of
        // the client it was unsubscribed as.
        let client = sqlx::query_as::<_, ClientRow>(concat!(
            "INSERT INTO clients (owner_id, email, full_name, comment, unsubscribe_token, created_at, tags, sort_key, unsubscribed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT created_at FROM suppressions \
                     WHERE owner_id = $1 AND email = $2 AND reason = 'unsubscribed')) RETURNING ",
            client_columns!()
        ))
        .bind(owner.0)
        .bind(d.email.as_str())
        .bind(&d.full_name)
        .bind(&d.comment)
        .bind(token)
        .bind(now)
        .bind(encode_tags(&d.tags))
        .bind(stored_sort_key(&d.full_name))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        add_link(&mut tx, token, owner, &d.email).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(client.into())
    }

    #[tracing::instrument(name = "store.client", level = "debug", skip_all, fields(store = "pg"))]
    async fn client(&self, owner: UserId, id: ClientId) -> StoreResult<Option<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Client::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.list_clients",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn list_clients(&self, owner: UserId, q: &ListQuery) -> StoreResult<Page<Client>> {
        let tag = q.tag.as_ref().map(|t| format!("|{t}|"));
        let (rows, total) = match (like(&q.search), &tag) {
            // Unfiltered (the common case) or by a tag alone: the total is
            // kept by triggers (the owner's count, or the counts of the tag
            // sets that carry the tag), and the page's ids are read from an
            // index alone, from whichever end of the list is nearer, then
            // only the page's rows. The tag's and the search's statements
            // are planned for their values (not persistent): a generic plan
            // does not know how few rows match and may sort every client.
            (None, None) => {
                let (total, changes): (i64, i64) = sqlx::query_as(
                    "SELECT clients, changes FROM client_counts WHERE owner_id = $1",
                )
                .bind(owner.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .unwrap_or((0, 0));
                // A deep page starts at the anchor before it (see
                // `anchors`): it skips fewer than a thousand index entries.
                let (limit, offset) = limits(q);
                let start = self
                    .anchors
                    .start_of(owner.0, changes, total, offset, || self.anchor(owner))
                    .await?;
                let rows = if let Some(start) = start {
                    page_query(
                        page_of_ids!(" AND (sort_key, id) >= ($4, $5)", ""),
                        owner,
                        Window::Forward {
                            limit,
                            offset: start.skip,
                        },
                    )
                    .bind(start.from.0)
                    .bind(start.from.1)
                    .fetch_all(&self.pool)
                    .await
                } else {
                    let statement = match window(q, total) {
                        Window::Forward { .. } => page_of_ids!("", ""),
                        Window::Backward { .. } => page_of_ids!("", " DESC"),
                    };
                    page_query(statement, owner, window(q, total))
                        .fetch_all(&self.pool)
                        .await
                }
                .map_err(db_err)?;
                (rows, total)
            }
            (None, Some(tag)) => {
                let total: i64 = sqlx::query_scalar(
                    "SELECT coalesce(sum(clients), 0)::bigint FROM client_tag_sets \
                     WHERE owner_id = $1 AND strpos(tags, $2) > 0",
                )
                .bind(owner.0)
                .bind(tag)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
                let statement = match window(q, total) {
                    Window::Forward { .. } => page_of_ids!(tagged!(), ""),
                    Window::Backward { .. } => page_of_ids!(tagged!(), " DESC"),
                };
                let rows = page_query(statement, owner, window(q, total))
                    .bind(tag)
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                (rows, total)
            }
            // A search: the trigram index (migration 0017, where pg_trgm is
            // installed) finds the rows whose searched text holds the
            // pattern; the filter then checks each field as before.
            (Some(pattern), _) => {
                let (limit, offset) = limits(q);
                // The index holds every owner's clients: a small list is
                // read as it is (a few thousand rows at most), so that what
                // a search costs depends on the owner's own list alone.
                let indexed = self.list_size(owner).await? >= INDEXED_SEARCH_FROM;
                let (page, counted) = if indexed {
                    (
                        concat!(
                            "SELECT ",
                            client_columns!(),
                            " FROM clients WHERE owner_id = $1 AND ",
                            search_text!(),
                            " LIKE $2 AND ",
                            client_filter!(),
                            " ORDER BY sort_key, id LIMIT $4 OFFSET $5"
                        ),
                        concat!(
                            "SELECT count(*) FROM clients WHERE owner_id = $1 AND ",
                            search_text!(),
                            " LIKE $2 AND ",
                            client_filter!()
                        ),
                    )
                } else {
                    (
                        concat!(
                            "SELECT ",
                            client_columns!(),
                            " FROM clients WHERE owner_id = $1 AND ",
                            client_filter!(),
                            " ORDER BY sort_key, id LIMIT $4 OFFSET $5"
                        ),
                        concat!(
                            "SELECT count(*) FROM clients WHERE owner_id = $1 AND ",
                            client_filter!()
                        ),
                    )
                };
                let rows = sqlx::query_as::<_, ClientRow>(page)
                    .bind(owner.0)
                    .bind(&pattern)
                    .bind(&tag)
                    .bind(limit)
                    .bind(offset)
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                let total: i64 = sqlx::query_scalar(counted)
                    .bind(owner.0)
                    .bind(&pattern)
                    .bind(&tag)
                    .persistent(false)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                (rows, total)
            }
        };
        Ok(Page::new(
            rows.into_iter().map(Client::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(
        name = "store.all_clients",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn all_clients(&self, owner: UserId) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE owner_id = $1 ORDER BY sort_key, id"
        ))
        .bind(owner.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Client::from).collect())
    }

    #[tracing::instrument(
        name = "store.matching_client_ids",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn matching_client_ids(
        &self,
        owner: UserId,
        f: &ClientFilter,
    ) -> StoreResult<Vec<ClientId>> {
        let rows: Vec<(i64,)> = sqlx::query_as(concat!(
            "SELECT id FROM clients WHERE owner_id = $1 AND ",
            client_filter!(),
            " ORDER BY id"
        ))
        .bind(owner.0)
        .bind(like(&f.search))
        .bind(f.tag.as_ref().map(|t| format!("|{t}|")))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|(id,)| ClientId(id)).collect())
    }

    #[tracing::instrument(
        name = "store.client_tags",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn client_tags(&self, owner: UserId) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            // Kept by triggers (migration 0015): a row per set of tags.
            "SELECT tags, clients FROM client_tag_sets WHERE owner_id = $1 AND clients > 0",
        )
        .bind(owner.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(count_tags(rows))
    }

    #[tracing::instrument(
        name = "store.import_clients",
        level = "debug",
        skip_all,
        fields(store = "pg", new = new.len(), changed = changed.len())
    )]
    async fn import_clients(
        &self,
        owner: UserId,
        new: &[(ClientDraft, String)],
        changed: &[(ClientId, ClientDraft)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // A few statements per thousands of rows (arrays, not a round trip each).
        const CHUNK: usize = 5000;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_counts(&mut tx, owner).await?;
        for part in changed.chunks(CHUNK) {
            let ids: Vec<i64> = part.iter().map(|(id, _)| id.0).collect();
            let (names, comments, tags, keys) = columns(part.iter().map(|(_, d)| d));
            sqlx::query(
                "UPDATE clients c SET full_name = v.full_name, comment = v.comment, tags = v.tags, sort_key = v.sort_key \
                 FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                      AS v(id, full_name, comment, tags, sort_key) \
                 WHERE c.id = v.id AND c.owner_id = $1",
            )
            .bind(owner.0)
            .bind(&ids)
            .bind(&names)
            .bind(&comments)
            .bind(&tags)
            .bind(&keys)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for part in new.chunks(CHUNK) {
            let emails: Vec<&str> = part.iter().map(|(d, _)| d.email.as_str()).collect();
            let tokens: Vec<&str> = part.iter().map(|(_, t)| t.as_str()).collect();
            let (names, comments, tags, keys) = columns(part.iter().map(|(d, _)| d));
            sqlx::query(
                "INSERT INTO clients (owner_id, email, full_name, comment, unsubscribe_token, created_at, tags, sort_key, unsubscribed_at) \
                 SELECT $1, v.email, v.full_name, v.comment, v.token, $2, v.tags, v.sort_key, s.created_at \
                 FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
                      AS v(email, full_name, comment, token, tags, sort_key) \
                 LEFT JOIN suppressions s ON s.owner_id = $1 AND s.email = v.email AND s.reason = 'unsubscribed'",
            )
            .bind(owner.0)
            .bind(now)
            .bind(&emails)
            .bind(&names)
            .bind(&comments)
            .bind(&tokens)
            .bind(&tags)
            .bind(&keys)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(
                "INSERT INTO unsubscribe_links (token, owner_id, email) \
                 SELECT v.token, $1, v.email FROM UNNEST($2::text[], $3::text[]) AS v(token, email)",
            )
            .bind(owner.0)
            .bind(&tokens)
            .bind(&emails)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        // A large import changes the table's shape faster than autovacuum
        // notices: refresh the planner's statistics now, or the next
        // searches may be planned for the table as it was.
        // (The import is committed: a failure here is only logged.)
        if new.len() as u64 >= crate::ANALYZE_AFTER {
            if let Err(e) = sqlx::query("ANALYZE clients").execute(&self.pool).await {
                tracing::warn!(error = %e, "refreshing the statistics after an import failed");
            }
            // The trigram index takes new rows into a pending list that
            // every search reads whole until a vacuum merges it (100,000
            // imported: searches 3.5 times slower until autovacuum came):
            // merged now, where the index exists.
            if let Err(e) = sqlx::query(
                "SELECT gin_clean_pending_list(i) FROM (SELECT to_regclass('clients_search') AS i) s \
                 WHERE i IS NOT NULL",
            )
            .execute(&self.pool)
            .await
            {
                tracing::warn!(error = %e, "merging the search index's new entries after an import failed");
            }
        }
        Ok(())
    }

    #[tracing::instrument(
        name = "store.update_client",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn update_client(
        &self,
        owner: UserId,
        id: ClientId,
        d: &ClientDraft,
        new_token: &str,
    ) -> StoreResult<Option<Client>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_counts(&mut tx, owner).await?;
        // A new address gets a link of its own and that address's mark; links
        // already sent keep the address they were sent to.
        let client = sqlx::query_as::<_, ClientRow>(concat!(
            "UPDATE clients SET \
                 unsubscribe_token = CASE WHEN email = $3 THEN unsubscribe_token ELSE $6 END, \
                 unsubscribed_at = CASE WHEN email = $3 THEN unsubscribed_at ELSE (SELECT s.created_at \
                     FROM suppressions s WHERE s.owner_id = $2 AND s.email = $3 AND s.reason = 'unsubscribed') END, \
                 email = $3, full_name = $4, comment = $5, tags = $7, sort_key = $8 \
             WHERE id = $1 AND owner_id = $2 RETURNING ",
            client_columns!()
        ))
        .bind(id.0)
        .bind(owner.0)
        .bind(d.email.as_str())
        .bind(&d.full_name)
        .bind(&d.comment)
        .bind(new_token)
        .bind(encode_tags(&d.tags))
        .bind(stored_sort_key(&d.full_name))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(c) = client.as_ref().filter(|c| c.unsubscribe_token == new_token) {
            add_link(&mut tx, &c.unsubscribe_token, owner, &d.email).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(client.map(Client::from))
    }

    #[tracing::instrument(
        name = "store.delete_client",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn delete_client(&self, owner: UserId, id: ClientId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The owner's row first: a run being materialised holds it shared, so
        // the delete waits for its deliveries and then forgets the client in
        // them too (migration 0016's trigger: deliveries keep no foreign key).
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(owner.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        lock_counts(&mut tx, owner).await?;
        let r = sqlx::query("DELETE FROM clients WHERE id = $1 AND owner_id = $2")
            .bind(id.0)
            .bind(owner.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    #[tracing::instrument(
        name = "store.unsubscribe_link",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn unsubscribe_link(&self, token: &str) -> StoreResult<Option<UnsubscribeLink>> {
        link(&self.pool, token).await
    }

    #[tracing::instrument(
        name = "store.set_unsubscribed",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn set_unsubscribed(
        &self,
        token: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<UnsubscribeLink>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(l) = link(&mut *tx, token).await? else {
            return Ok(None);
        };
        match at {
            Some(when) => {
                // An existing suppression (a complaint, say) stays as it is.
                sqlx::query(
                    "INSERT INTO suppressions (owner_id, email, reason, created_at) \
                     VALUES ($1, $2, 'unsubscribed', $3) ON CONFLICT (owner_id, email) DO NOTHING",
                )
                .bind(l.owner.0)
                .bind(l.email.as_str())
                .bind(when)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                sqlx::query(
                    "UPDATE deliveries SET state = 'cancelled', updated_at = $3 \
                     WHERE state = 'pending' AND email = $2 \
                       AND run_id IN (SELECT id FROM runs WHERE owner_id = $1 AND finished_at IS NULL)",
                )
                .bind(l.owner.0)
                .bind(l.email.as_str())
                .bind(when)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            None => {
                sqlx::query(
                    "DELETE FROM suppressions WHERE owner_id = $1 AND email = $2 AND reason = 'unsubscribed'",
                )
                .bind(l.owner.0)
                .bind(l.email.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
        }
        sqlx::query(
            "UPDATE clients SET unsubscribed_at = (SELECT created_at FROM suppressions \
                 WHERE owner_id = $1 AND email = $2 AND reason = 'unsubscribed') \
             WHERE owner_id = $1 AND email = $2",
        )
        .bind(l.owner.0)
        .bind(l.email.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = link(&mut *tx, token).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }
}

/// Registers an unsubscribe link for (owner, address).
async fn add_link(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    token: &str,
    owner: UserId,
    email: &EmailAddress,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO unsubscribe_links (token, owner_id, email) VALUES ($1, $2, $3)")
        .bind(token)
        .bind(owner.0)
        .bind(email.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The (owner, address) of a link, with the address's unsubscribe time.
async fn link(
    exec: impl sqlx::PgExecutor<'_>,
    token: &str,
) -> StoreResult<Option<UnsubscribeLink>> {
    let row: Option<(i64, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT l.owner_id, l.email, s.created_at FROM unsubscribe_links l \
         LEFT JOIN suppressions s ON s.owner_id = l.owner_id AND s.email = l.email AND s.reason = 'unsubscribed' \
         WHERE l.token = $1",
    )
    .bind(token)
    .fetch_optional(exec)
    .await
    .map_err(db_err)?;
    Ok(row.map(|(owner, email, at)| UnsubscribeLink {
        owner: UserId(owner),
        email: skymailing_core::adapter::stored::email(email),
        unsubscribed_at: at,
    }))
}
