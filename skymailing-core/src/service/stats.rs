//! The home page: live statistics and three random published posts.

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
    stats: Mutex<Option<(Instant, Stats)>>,
    posts: Mutex<Option<(Instant, Vec<BlogPost>)>>,
}

/// The value kept in `slot` if younger than `ttl`.
fn fresh<T: Clone>(slot: &Mutex<Option<(Instant, T)>>, ttl: std::time::Duration) -> Option<T> {
    let slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    slot.as_ref()
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

fn keep<T>(slot: &Mutex<Option<(Instant, T)>>, value: T) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), value));
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
        if let Some(s) = fresh(&self.cache.stats, self.cache.ttl) {
            return Ok(s);
        }
        let s = self.stats.stats(self.clock.now()).await?;
        keep(&self.cache.stats, s.clone());
        Ok(s)
    }

    /// The figures and three random published posts.
    #[tracing::instrument(name = "stats.home_page", level = "debug", skip_all)]
    pub async fn home_page(&self) -> Result<HomePage, Error> {
        let stats = self.home().await?;
        let posts = match fresh(&self.cache.posts, self.cache.ttl) {
            Some(p) => p,
            None => {
                let p = self.posts.random_posts(3).await?;
                keep(&self.cache.posts, p.clone());
                p
            }
        };
        Ok(HomePage { stats, posts })
    }
}
