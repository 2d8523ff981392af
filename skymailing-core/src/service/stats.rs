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
/// than its lifetime, one caller reads it again while the others keep getting
/// the value they had (so that a busy home page does not send every visitor
/// to the database at once each second); a value ten lifetimes old is never
/// served (a store that keeps failing shows as failing).
#[derive(Default)]
struct Cached<T> {
    value: Mutex<Option<(Instant, T)>>,
    refreshing: AtomicBool,
}

/// Clears the refreshing mark however the refresh ends (an error, or the
/// caller's future dropped).
struct Refreshing<'a>(&'a AtomicBool);

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T: Clone> Cached<T> {
    async fn get<F: std::future::Future<Output = Result<T, Error>>>(
        &self,
        ttl: std::time::Duration,
        load: impl FnOnce() -> F,
    ) -> Result<T, Error> {
        let current = self.value.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut refresher = false;
        if let Some((at, v)) = current {
            let age = at.elapsed();
            if age < ttl {
                return Ok(v);
            }
            if age < ttl * 10 {
                if self.refreshing.swap(true, Ordering::AcqRel) {
                    // Another caller is reading it again: this one is served as before.
                    return Ok(v);
                }
                refresher = true;
            }
        }
        // Only the caller that set the mark clears it (one reading a value
        // too old to serve, or the first, leaves another's mark alone).
        let _mark = refresher.then(|| Refreshing(&self.refreshing));
        let v = load().await?;
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v.clone()));
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
        self.cache
            .stats
            .get(self.cache.ttl, || async {
                Ok(self.stats.stats(self.clock.now()).await?)
            })
            .await
    }

    /// The figures and three random published posts.
    #[tracing::instrument(name = "stats.home_page", level = "debug", skip_all)]
    pub async fn home_page(&self) -> Result<HomePage, Error> {
        let stats = self.home().await?;
        let posts = self
            .cache
            .posts
            .get(self.cache.ttl, || async {
                Ok(self.posts.random_posts(3).await?)
            })
            .await?;
        Ok(HomePage { stats, posts })
    }
}
