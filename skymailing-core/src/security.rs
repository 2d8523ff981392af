//! Secrets: argon2id password hashes (computed on the blocking pool, never on
//! the async threads) and random tokens, of which only a SHA-256 hash is stored.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::{Error, Password};

/// At most this many hashes run at once (each takes 19 MiB and a core for
/// ~17 ms): a flood of sign-ins queues instead of exhausting memory.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores)
});

async fn hashing_permit() -> Result<tokio::sync::SemaphorePermit<'static>, Error> {
    HASHING
        .acquire()
        .await
        .map_err(|e| Error::Internal(format!("hashing limiter: {e}")))
}

/// Hashes a password with argon2id (OWASP parameters) off the async threads.
pub async fn hash_password(password: &Password) -> Result<String, Error> {
    let pw = password.expose().to_owned();
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
}

/// Checks a password against a stored hash off the async threads. With no hash
/// (unknown account) it checks against a dummy hash, so the answer takes as long
/// either way and does not reveal whether the account exists.
pub async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, Error> {
    let pw = password.to_owned();
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = Argon2::default()
            .verify_password(pw.as_bytes(), hash.as_str())
            .is_ok();
        known && ok
    })
    .await
    .map_err(|e| Error::Internal(format!("verifying task: {e}")))
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
