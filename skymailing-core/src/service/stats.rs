//! The home page: live statistics and three random published posts.

use std::sync::Arc;

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
        }
    }

    /// The figures: mailings, running mailings, unique clients.
    #[tracing::instrument(name = "stats.home", level = "debug", skip_all)]
    pub async fn home(&self) -> Result<Stats, Error> {
        Ok(self.stats.stats(self.clock.now()).await?)
    }

    /// The figures and three random published posts.
    #[tracing::instrument(name = "stats.home_page", level = "debug", skip_all)]
    pub async fn home_page(&self) -> Result<HomePage, Error> {
        Ok(HomePage {
            stats: self.home().await?,
            posts: self.posts.random_posts(3).await?,
        })
    }
}
