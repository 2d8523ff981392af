//! The URLs SkyMailing's emails link to, which the application must serve.
//!
//! | link | in | default path | served by `skymailing-server` |
//! |---|---|---|---|
//! | unsubscribe | every mailing (body placeholder `{{ unsubscribe_url }}`, `List-Unsubscribe` header; RFC 8058 one-click `POST`) | `/unsubscribe/{token}` | `public_routes` (and `routes`) |
//! | email verification | the sign-up mail | `/verify?token={token}` | the pages of `routes` |
//! | password reset | the reset mail | `/password-reset/confirm?token={token}` | the pages of `routes` |
//! | reset request | the "already registered" mail | `/password-reset` | the pages of `routes` |
//!
//! [`BaseUrlLinks`] puts these paths under one base URL; an application that
//! serves them elsewhere implements [`Links`] and passes it to
//! [`SkyMailingBuilder::links`](crate::SkyMailingBuilder::links). The tokens
//! are URL-safe (hex), so they need no escaping.

use crate::{Error, Reason};

/// Builds the URLs emails link to. Implement it to serve them at paths of
/// your own; the default is [`BaseUrlLinks`].
pub trait Links: Send + Sync + std::fmt::Debug {
    /// The one-click unsubscribe link of a recipient (`GET` shows a page that
    /// asks; `POST` unsubscribes, as mail clients do for RFC 8058). A plain
    /// path ending in the token, no query: the undo form is this link plus
    /// `/undo`.
    fn unsubscribe(&self, token: &str) -> String;
    /// The link that verifies a new account's email address.
    fn verify(&self, token: &str) -> String;
    /// The link that sets a new password.
    fn password_reset_confirm(&self, token: &str) -> String;
    /// The page where a password reset is asked for.
    fn password_reset(&self) -> String;
    /// The host name the Message-IDs of account mail end with.
    fn host(&self) -> String;
}

/// The default links: the documented paths under one base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrlLinks {
    base: String,
}

impl BaseUrlLinks {
    /// Links under `base_url` (`http://` or `https://`, with a host; a
    /// trailing slash is dropped). [`Error::Invalid`] on `base_url` otherwise.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let base = base_url.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        match rest {
            Some(host)
                if !host.is_empty()
                    && !host.starts_with('/')
                    && !host.contains(['?', '#', ' ']) =>
            {
                Ok(BaseUrlLinks {
                    base: base.to_owned(),
                })
            }
            _ => Err(Error::invalid("base_url", Reason::NotAUrl)),
        }
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

impl Default for BaseUrlLinks {
    /// `http://127.0.0.1:8000`, the reference server's zero-setup address.
    fn default() -> Self {
        BaseUrlLinks {
            base: "http://127.0.0.1:8000".into(),
        }
    }
}

impl Links for BaseUrlLinks {
    fn unsubscribe(&self, token: &str) -> String {
        format!("{}/unsubscribe/{token}", self.base)
    }
    fn verify(&self, token: &str) -> String {
        format!("{}/verify?token={token}", self.base)
    }
    fn password_reset_confirm(&self, token: &str) -> String {
        format!("{}/password-reset/confirm?token={token}", self.base)
    }
    fn password_reset(&self) -> String {
        format!("{}/password-reset", self.base)
    }
    fn host(&self) -> String {
        let rest = self.base.split_once("://").map_or(&*self.base, |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        match host.trim_matches(['[', ']']) {
            "" => "localhost".to_owned(),
            h => h.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_paths_under_the_base_url() {
        let l = BaseUrlLinks::new("https://mail.example.com:8443/app/").unwrap();
        assert_eq!(l.base_url(), "https://mail.example.com:8443/app");
        assert_eq!(
            l.unsubscribe("ab12"),
            "https://mail.example.com:8443/app/unsubscribe/ab12"
        );
        assert_eq!(
            l.verify("ab12"),
            "https://mail.example.com:8443/app/verify?token=ab12"
        );
        assert_eq!(
            l.password_reset_confirm("ab12"),
            "https://mail.example.com:8443/app/password-reset/confirm?token=ab12"
        );
        assert_eq!(
            l.password_reset(),
            "https://mail.example.com:8443/app/password-reset"
        );
        assert_eq!(l.host(), "mail.example.com");
        assert_eq!(
            BaseUrlLinks::new("http://[::1]:8000").unwrap().host(),
            "::1"
        );
    }

    #[test]
    fn a_base_url_that_is_not_one_is_refused_naming_the_field() {
        for bad in [
            "mail.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "http://a b",
        ] {
            let e = BaseUrlLinks::new(bad).unwrap_err();
            assert_eq!(e.field(), Some("base_url"), "{bad}");
        }
    }
}
