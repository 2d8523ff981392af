//! DKIM signing (RFC 6376) with lettre's signer: relaxed/relaxed, RSA-SHA256
//! or Ed25519-SHA256 (RFC 8463), over the headers a receiver checks and the
//! list headers a mailbox provider's unsubscribe button relies on.
//!
//! Keys are PEM files: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`, what
//! `openssl genrsa -traditional` and [`generate_key`] write) or PKCS#8
//! (`BEGIN PRIVATE KEY`), Ed25519 as PKCS#8. lettre wants RSA as PKCS#1 PEM
//! and Ed25519 as the base64 of its 32-byte seed, so keys are converted on load.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{EncodeRsaPrivateKey as _, LineEnding};
use rsa::pkcs8::EncodePublicKey as _;

/// The headers every signature covers (a header absent from a message is
/// signed as absent, so nobody can add it on the way).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
];

/// A key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// RSA-2048 with SHA-256: understood by every verifier.
    Rsa,
    /// Ed25519 with SHA-256 (RFC 8463): small and fast, not yet checked by
    /// every receiver — publish it beside an RSA key, not instead of one.
    Ed25519,
}

impl DkimAlgorithm {
    /// The `k=` tag of the DNS record.
    pub fn dns_name(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// A DKIM key or setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The key file cannot be read.
    #[error("cannot read the DKIM key {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The file holds no key this signer knows.
    #[error(
        "the DKIM key {0} is neither an RSA key (PKCS#1 or PKCS#8 PEM) nor an Ed25519 key (PKCS#8 PEM)"
    )]
    Key(String),
    /// The selector or domain is not a DNS label sequence.
    #[error("invalid DKIM {what} `{value}`: use letters, digits, hyphens and dots")]
    Name {
        /// `selector` or `domain`.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The signing domain does not align with the From address (DMARC).
    #[error(
        "the DKIM domain {domain} is neither the From address's domain ({from}) nor a parent of it, so DMARC would not count the signature"
    )]
    Alignment {
        /// The signing domain.
        domain: String,
        /// The From domain.
        from: String,
    },
}

/// Signs messages for one domain and selector.
pub struct DkimSigner {
    config: DkimConfig,
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn check_name(what: &'static str, value: &str) -> Result<String, DkimError> {
    let v = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(v)
    } else {
        Err(DkimError::Name {
            what,
            value: value.to_owned(),
        })
    }
}

impl DkimSigner {
    /// Reads a PEM key file.
    pub fn load(path: &Path, selector: &str, domain: &str) -> Result<Self, DkimError> {
        let pem = std::fs::read_to_string(path).map_err(|error| DkimError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_pem(&pem, selector, domain).map_err(|e| match e {
            DkimError::Key(_) => DkimError::Key(path.display().to_string()),
            other => other,
        })
    }

    /// A signer from a PEM key.
    pub fn from_pem(pem: &str, selector: &str, domain: &str) -> Result<Self, DkimError> {
        let selector = check_name("selector", selector)?;
        let domain = check_name("domain", domain)?;
        let bad = || DkimError::Key("given".into());
        let (key, algorithm) = if pem.contains("BEGIN RSA PRIVATE KEY") {
            let key = DkimSigningKey::new(pem, DkimSigningAlgorithm::Rsa).map_err(|_| bad())?;
            (key, DkimAlgorithm::Rsa)
        } else if let Ok(rsa) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            let pkcs1 = rsa.to_pkcs1_pem(LineEnding::LF).map_err(|_| bad())?;
            let key = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa).map_err(|_| bad())?;
            (key, DkimAlgorithm::Rsa)
        } else {
            let ed = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|_| bad())?;
            let seed = BASE64.encode(ed.to_bytes());
            let key =
                DkimSigningKey::new(&seed, DkimSigningAlgorithm::Ed25519).map_err(|_| bad())?;
            (key, DkimAlgorithm::Ed25519)
        };
        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            selector.clone(),
            domain.clone(),
            key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(DkimSigner {
            config,
            domain,
            selector,
            algorithm,
        })
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// Checks DMARC's relaxed alignment: the signing domain is the From
    /// address's domain or a parent of it.
    pub fn check_alignment(&self, from: &Mailbox) -> Result<(), DkimError> {
        let from_domain = from
            .email
            .domain()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let aligned = from_domain == self.domain
            || from_domain
                .strip_suffix(&self.domain)
                .is_some_and(|rest| rest.ends_with('.'));
        if aligned {
            Ok(())
        } else {
            Err(DkimError::Alignment {
                domain: self.domain.clone(),
                from: from_domain,
            })
        }
    }

    /// Adds a `DKIM-Signature` header to a built message.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }
}

/// A new key pair, as `dkim-keygen` prints it.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The private key, PEM (PKCS#1 for RSA, PKCS#8 for Ed25519).
    pub private_pem: String,
    /// The TXT record's value: `v=DKIM1; k=…; p=…`.
    pub dns_value: String,
}

/// Generates a key: RSA-2048 or Ed25519.
pub fn generate_key(algorithm: DkimAlgorithm) -> Result<GeneratedKey, String> {
    let (private_pem, public) = match algorithm {
        DkimAlgorithm::Rsa => {
            let key =
                rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
            let pem = key
                .to_pkcs1_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            // `p=` of an RSA key is its SubjectPublicKeyInfo (RFC 6376 §3.6.1).
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| e.to_string())?;
            (pem.to_string(), BASE64.encode(public.as_bytes()))
        }
        DkimAlgorithm::Ed25519 => {
            let mut seed = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            // `p=` of an Ed25519 key is the raw 32-byte public key (RFC 8463 §4.2).
            (
                pem.to_string(),
                BASE64.encode(key.verifying_key().as_bytes()),
            )
        }
    };
    Ok(GeneratedKey {
        private_pem,
        dns_value: format!("v=DKIM1; k={}; p={public}", algorithm.dns_name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_both_algorithms_load_and_a_bad_one_is_named() {
        for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
            let key = generate_key(algorithm).unwrap();
            let signer = DkimSigner::from_pem(&key.private_pem, "s1", "Example.COM.").unwrap();
            assert_eq!(signer.algorithm(), algorithm);
            assert_eq!(signer.domain(), "example.com");
            assert!(
                key.dns_value
                    .starts_with(&format!("v=DKIM1; k={}; p=", algorithm.dns_name()))
            );
        }
        assert!(matches!(
            DkimSigner::from_pem("not a key", "s1", "example.com"),
            Err(DkimError::Key(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("", "s 1", "example.com"),
            Err(DkimError::Name {
                what: "selector",
                ..
            })
        ));
    }

    #[test]
    fn the_signing_domain_must_align_with_from() {
        let key = generate_key(DkimAlgorithm::Ed25519).unwrap();
        let signer = DkimSigner::from_pem(&key.private_pem, "s1", "example.com").unwrap();
        for ok in ["news@example.com", "news@mail.example.com"] {
            assert!(signer.check_alignment(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["news@badexample.com", "news@example.org"] {
            assert!(
                matches!(
                    signer.check_alignment(&bad.parse().unwrap()),
                    Err(DkimError::Alignment { .. })
                ),
                "{bad}"
            );
        }
    }
}
