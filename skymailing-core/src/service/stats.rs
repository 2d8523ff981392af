//! The home page: live statistics and three random published posts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::ports::{BlogStore, Clock, Stats, StatsStore};
use crate::{BlogPost, Error};

/// What the home page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HomePage {
    /// Live figures.
    pub stats: Stats,
    /// Up to three random published posts.
    pub posts: Vec<BlogPost>,
}

/// Home-page use cases (public).
#[derive(Clone)]
pub struct StatsService {
    stats: Arc<dyn StatsStore>,
    posts: Arc<dyn BlogStore>,
    clock: Arc<dyn Clock>,
    /// The figures and the posts as last read, reused for `ttl`: every
    /// visitor of the home page would otherwise count every table.
    cache: Arc<HomeCache>,
}

#[derive(Default)]
struct HomeCache {
    ttl: std::time::Duration,
    stats: Cached<Stats>,
    posts: Cached<Vec<BlogPost>>,
}

/// One value read from the store and reused for a while. When it is older
/// than its lifetime, the first caller to notice starts reading it again in
/// the background and every caller keeps getting the value there was (so
/// that no visitor waits for the figures, and a busy home page does not send
/// everyone to the database at once each second); a value ten lifetimes old
/// (or none yet) is read while the caller waits, so a store that keeps
/// failing shows as failing.
#[derive(Default)]
struct Cached<T> {
    value: Mutex<Option<(Instant, T)>>,
    refreshing: AtomicBool,
}

/// Clears a value's refreshing mark however its refresh ends (an error, or
/// the task dropped, even before it first ran, with its runtime).
struct Refreshing<T: 'static> {
    cache: Arc<HomeCache>,
    field: fn(&HomeCache) -> &Cached<T>,
}

impl<T: 'static> Drop for Refreshing<T> {
    fn drop(&mut self) {
        (self.field)(&self.cache)
            .refreshing
            .store(false, Ordering::Release);
    }
}

impl<T: Clone> Cached<T> {
    fn set(&self, v: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v));
    }
}

impl HomeCache {
    /// The value `field` of this cache, read by `load` when it must be.
    async fn get<T, F>(
        self: &Arc<Self>,
        field: fn(&HomeCache) -> &Cached<T>,
        load: impl FnOnce() -> F,
    ) -> Result<T, Error>
    where
        T: Clone + Send + 'static,
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let cached = field(self);
        let current = cached
            .value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, v)) = current {
            let age = at.elapsed();
            if age < self.ttl {
                return Ok(v);
            }
            // Only the caller that set the mark starts a read (and its task
            // alone clears the mark). Outside a Tokio runtime (an embedder's
            // own executor) the value is read as below.
            if age < self.ttl * 10
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                if !cached.refreshing.swap(true, Ordering::AcqRel) {
                    let mark = Refreshing {
                        cache: Arc::clone(self),
                        field,
                    };
                    let read = load();
                    runtime.spawn(async move {
                        let result = read.await;
                        let cached = (mark.field)(&mark.cache);
                        match result {
                            Ok(v) => cached.set(v),
                            Err(e) => {
                                tracing::warn!(error = %e, "refreshing the home page's figures failed");
                            }
                        }
                    });
                }
                return Ok(v);
            }
        }
        let v = load().await?;
        cached.set(v.clone());
        Ok(v)
    }
}

impl StatsService {
    /// Whether the store answers: the readiness check (no permission needed;
    /// it says nothing about anyone's data).
    #[tracing::instrument(name = "stats.ping", level = "debug", skip_all)]
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.stats.ping().await?)
    }

    /// Deliveries waiting to be sent, every user's together: the queue-depth
    /// metric (a single number, like the home page's figures).
    #[tracing::instrument(name = "stats.queue_depth", level = "debug", skip_all)]
    pub async fn queue_depth(&self) -> Result<u64, Error> {
        Ok(self.stats.pending_deliveries().await?)
    }

    /// Wires the use cases.
    pub fn new(
        stats: Arc<dyn StatsStore>,
        posts: Arc<dyn BlogStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        StatsService {
            stats,
            posts,
            clock,
            cache: Arc::default(),
        }
    }

    /// The same use cases reusing what they read for `ttl` (the figures may
    /// lag that much; zero: read every time).
    pub fn with_cache(self, ttl: std::time::Duration) -> Self {
        StatsService {
            cache: Arc::new(HomeCache {
                ttl,
                ..HomeCache::default()
            }),
            ..self
        }
    }

    /// The figures: mailings, running mailings, unique clients.
    #[tracing::instrument(name = "stats.home", level = "debug", skip_all)]
    pub async fn home(&self) -> Result<Stats, Error> {
        let (store, clock) = (Arc::clone(&self.stats), Arc::clone(&self.clock));
        self.cache
            .get(
                |c| &c.stats,
                || async move { Ok(store.stats(clock.now()).await?) },
            )
            .await
    }

    /// The figures and three random published posts.
    #[tracing::instrument(name = "stats.home_page", level = "debug", skip_all)]
    pub async fn home_page(&self) -> Result<HomePage, Error> {
        let stats = self.home().await?;
        let store = Arc::clone(&self.posts);
        let posts = self
            .cache
            .get(
                |c| &c.posts,
                || async move { Ok(store.random_posts(3).await?) },
            )
            .await?;
        Ok(HomePage { stats, posts })
    }
}
