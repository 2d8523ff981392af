//! Languages of the pages: English and Russian, with rust-i18n's compiled-in
//! tables (`locales/*.json`). The language is the signed-in user's setting
//! (profile, or the switcher in the footer), else an anonymous visitor's
//! choice in the switcher (kept in a cookie), else the browser's
//! `Accept-Language`, else English.

use poem::Request;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
}

/// The cookie that keeps the visitor's choice.
pub const LANG_COOKIE: &str = "sky_lang";

impl Lang {
    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// Reads a code (`ru`, `ru-RU`, `EN`).
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The language for a request: the user's setting, else the cookie, else
    /// the best of `Accept-Language` by its q-values, else English.
    pub fn of(req: &Request, user: Option<&skymailing_core::User>) -> Lang {
        if let Some(lang) = user
            .and_then(|u| u.language.as_ref())
            .and_then(|l| Lang::parse(l.as_str()))
        {
            return lang;
        }
        if let Some(lang) = req
            .cookie()
            .get(LANG_COOKIE)
            .and_then(|c| Lang::parse(c.value_str()))
        {
            return lang;
        }
        req.headers()
            .get(poem::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
            .unwrap_or(Lang::En)
    }

    fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.split(';');
            let Some(lang) = it.next().and_then(Lang::parse) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The text of `key` in this language.
    pub fn t(&self, key: &str) -> String {
        rust_i18n::t!(key, locale = self.code()).into_owned()
    }

    /// The text of `key` with `%{n}` replaced.
    pub fn tn(&self, key: &str, n: impl std::fmt::Display) -> String {
        self.t(key).replace("%{n}", &n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        let best = Lang::from_accept_language;
        assert_eq!(best("ru-RU,ru;q=0.9,en-US;q=0.8"), Some(Lang::Ru));
        assert_eq!(best("de-DE,en;q=0.5,ru;q=0.7"), Some(Lang::Ru));
        assert_eq!(best("fr, en;q=0.1"), Some(Lang::En));
        assert_eq!(best("fr, de"), None);
        assert_eq!(best("ru;q=0, en"), Some(Lang::En));
    }

    /// Every English text has a Russian one, and no Russian text is left in
    /// English (only names and codes may read the same).
    #[test]
    fn russian_covers_every_key_in_russian() {
        let en: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../../locales/en.json")).unwrap();
        let ru: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../../locales/ru.json")).unwrap();
        let same_everywhere = ["app.name", "lang.en", "lang.ru"];
        for (key, text) in &en {
            let ru_text = ru
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("ru.json lacks {key}"));
            if !same_everywhere.contains(&key.as_str()) {
                assert!(
                    ru_text
                        .chars()
                        .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap())),
                    "{key}: {ru_text:?} is not Russian (en: {text})"
                );
            }
        }
        for key in ru.keys() {
            assert!(en.contains_key(key), "en.json lacks {key}");
        }
    }
}
