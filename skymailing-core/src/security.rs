//! Secrets: argon2id password hashes (computed on the blocking pool, never on
//! the async threads) and random tokens, of which only a SHA-256 hash is stored.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::{Error, Password};

/// Password hashing has a few threads of its own (one per core) and a short
/// queue. Each hash takes 19 MiB and a core for ~17 ms: on a fixed set of
/// threads memory stays flat however many requests come, and a flood beyond
/// the queue is refused at once with [`Error::Busy`] instead of making every
/// sign-in wait seconds behind it.
struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Box<dyn FnOnce() + Send>>,
}

/// Hashes waiting per hashing thread, at most: a sign-in waits ~70 ms at worst.
const QUEUE_PER_THREAD: usize = 4;

static POOL: std::sync::LazyLock<HashPool> = std::sync::LazyLock::new(|| {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    HashPool::new(threads, threads * QUEUE_PER_THREAD)
});

impl HashPool {
    fn new(threads: usize, queue: usize) -> HashPool {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Box<dyn FnOnce() + Send>>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("skymailing-hash-{i}"))
                .spawn(move || {
                    loop {
                        // Take one job, then let go of the queue while it runs.
                        let job = rx
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("a hashing thread starts");
        }
        HashPool { jobs }
    }

    /// Runs `f` on the pool's threads; [`Error::Busy`] at once when they are full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => {
                metrics::counter!("skymailing_hashing_refused_total").increment(1);
                Error::Busy
            }
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                Error::Internal("the hashing threads are gone".into())
            }
        })?;
        rx.await
            .map_err(|_| Error::Internal("a hashing job was lost".into()))
    }
}

/// Hashes a password with argon2id (OWASP parameters) off the async threads.
pub async fn hash_password(password: &Password) -> Result<String, Error> {
    let pw = password.expose().to_owned();
    POOL.run(move || {
        Argon2::default()
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
    })
    .await?
}

/// Checks a password against a stored hash off the async threads. With no hash
/// (unknown account) it checks against a dummy hash, so the answer takes as long
/// either way and does not reveal whether the account exists.
pub async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, Error> {
    let pw = password.to_owned();
    POOL.run(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = Argon2::default()
            .verify_password(pw.as_bytes(), hash.as_str())
            .is_ok();
        known && ok
    })
    .await
}

/// A hash of a random password with the same parameters, made once.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    Argon2::default()
        .hash_password(random_hex(16).as_bytes())
        .map(|h| h.to_string())
        .expect("hashing a random password")
});

/// A new random token (256 bits, hex) to hand out; store only [`token_hash`] of it.
pub fn new_token() -> String {
    random_hex(32)
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

/// A random `u64` (for retry jitter).
pub fn random_u64() -> u64 {
    getrandom::u64().expect("the operating system's random source failed")
}

/// The SHA-256 of a token, hex: what stores keep.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let pw = Password::parse("correct horse").unwrap();
        let h = hash_password(&pw).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse", Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse!", Some(h)).await.unwrap());
    }

    /// Work beyond the threads and their queue is refused at once, and what
    /// was taken is done (a pool of its own: other tests share the global one).
    #[tokio::test]
    async fn work_beyond_the_queue_is_refused_at_once() {
        let pool = std::sync::Arc::new(HashPool::new(1, 2));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
        // One job holds the thread, two wait in the queue: the fourth is refused.
        let (started, running) = std::sync::mpsc::channel::<()>();
        let mut taken = Vec::new();
        for i in 0..3 {
            let (pool, gate, started) = (pool.clone(), gate.clone(), started.clone());
            taken.push(tokio::spawn(async move {
                pool.run(move || {
                    let _ = started.send(());
                    gate.lock().unwrap().recv().is_ok()
                })
                .await
            }));
            if i == 0 {
                // The thread has taken the first job off the queue.
                while running.try_recv().is_err() {
                    tokio::task::yield_now().await;
                }
            }
        }
        // Let the other two tasks hand their jobs over.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| true).await;
        assert!(matches!(refused, Err(Error::Busy)), "{refused:?}");
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for t in taken {
            assert!(t.await.unwrap().unwrap());
        }
        assert!(pool.run(|| true).await.unwrap(), "room again");
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        assert!(!verify_password("anything", None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }
}
