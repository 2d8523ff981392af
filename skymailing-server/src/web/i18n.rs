//! Languages of the pages: English and Russian, with rust-i18n's compiled-in
//! tables (`locales/*.json`). The language is the signed-in user's setting
//! (profile, or the switcher in the footer), else an anonymous visitor's
//! choice in the switcher (kept in a cookie), else the browser's
//! `Accept-Language`, else English.

use poem::Request;
use skymailing_core::{Reason, ReportLine, RunReport};

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

    /// The text of `key` with each `%{name}` replaced by its value.
    pub fn tp(&self, key: &str, params: &[(&str, String)]) -> String {
        let mut text = self.t(key);
        for (name, value) in params {
            text = text.replace(&format!("%{{{name}}}"), value);
        }
        text
    }

    /// Why core refused something, from its code and parameters.
    pub fn reason(&self, reason: &Reason) -> String {
        self.tp(&format!("reason.{}", reason.code()), &reason.params())
    }

    /// A form field's label (its name, humanised, when it has none).
    pub fn field(&self, field: &str) -> String {
        let key = format!("field.{field}");
        let text = self.t(&key);
        if text.is_empty() || text.contains(&key) {
            let mut name = field.replace('_', " ");
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            name
        } else {
            text
        }
    }

    /// Why a field was refused, as a sentence naming it ("Name is required.").
    pub fn field_error(&self, field: &str, reason: &Reason) -> String {
        self.tp(
            "form.field_error",
            &[
                ("field", self.field(field)),
                ("reason", self.reason(reason)),
            ],
        )
    }

    /// Why core refused something, as a sentence of its own: capitalised,
    /// with a full stop.
    pub fn reason_sentence(&self, reason: &Reason) -> String {
        sentence(&self.reason(reason))
    }

    /// A run's report, sentence by sentence from its codes. Failure replies
    /// are the relays' own words and stay as they are.
    pub fn report(&self, report: &RunReport) -> String {
        let mut out = String::new();
        for line in report.lines() {
            let part = match line {
                ReportLine::NoRecipients => self.t("report.no_recipients"),
                ReportLine::Sent { sent, total } => self.tp(
                    "report.sent",
                    &[("sent", sent.to_string()), ("total", total.to_string())],
                ),
                ReportLine::Failed { failed } => {
                    let mut s = self.tp("report.failed", &[("failed", failed.to_string())]);
                    let list = report.failure_list();
                    if !list.is_empty() {
                        s = format!("{s}: {list}");
                    }
                    format!("; {s}")
                }
                ReportLine::Cancelled { cancelled } => format!(
                    "; {}",
                    self.tp("report.cancelled", &[("cancelled", cancelled.to_string())])
                ),
                ReportLine::Suppressed { suppressed } => format!(
                    "; {}",
                    self.tp(
                        "report.suppressed",
                        &[("suppressed", suppressed.to_string())]
                    )
                ),
                ReportLine::Bounced { bounced } => format!(
                    "; {}",
                    self.tp("report.bounced", &[("bounced", bounced.to_string())])
                ),
                ReportLine::Complained { complained } => format!(
                    "; {}",
                    self.tp(
                        "report.complained",
                        &[("complained", complained.to_string())]
                    )
                ),
                ReportLine::SkippedSlots { skipped: 1 } => {
                    format!(" ({})", self.t("report.skipped_one"))
                }
                ReportLine::SkippedSlots { skipped } => format!(
                    " ({})",
                    self.tp("report.skipped", &[("skipped", skipped.to_string())])
                ),
                // A line this version does not know yet: the English sentence
                // of the whole report is better than nothing.
                _ => return report.to_string(),
            };
            out.push_str(&part);
        }
        out
    }
}

/// `text` as a sentence: its first letter capitalised, a full stop added
/// unless it ends with one already.
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_read_as_sentences_in_both_languages() {
        let r = Reason::Required;
        assert_eq!(
            Lang::En.field_error("full_name", &r),
            "Full name is required."
        );
        assert_eq!(
            Lang::Ru.field_error("full_name", &r),
            "Полное имя: обязательное поле."
        );
        assert_eq!(
            Lang::En.field_error("client_ids", &Reason::NoClients),
            "Recipients must include at least one client or tag."
        );
        // A field without a label still reads.
        assert_eq!(
            Lang::En.field_error("some_field", &r),
            "Some field is required."
        );
        assert_eq!(
            Lang::En.reason_sentence(&Reason::MessageInUse),
            "This message is used by a mailing; change or delete the mailing first."
        );
        assert_eq!(sentence("уже."), "Уже.");
    }

    /// Every field core validates has a label in both languages.
    #[test]
    fn every_field_core_names_has_a_label() {
        for field in [
            "name",
            "email",
            "password",
            "full_name",
            "comment",
            "tags",
            "subject",
            "body_text",
            "body_html",
            "message_id",
            "client_ids",
            "start_at",
            "end_at",
            "periodicity",
            "time_zone",
            "language",
            "sender_name",
            "reply_to",
            "title",
            "body",
            "image",
            "file",
            "role",
            "current_password",
            "new_password",
        ] {
            for lang in [Lang::En, Lang::Ru] {
                let key = format!("field.{field}");
                assert!(!lang.t(&key).contains(&key), "{lang:?} lacks {key}");
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        let best = Lang::from_accept_language;
        assert_eq!(best("ru-RU,ru;q=0.9,en-US;q=0.8"), Some(Lang::Ru));
        assert_eq!(best("de-DE,en;q=0.5,ru;q=0.7"), Some(Lang::Ru));
        assert_eq!(best("fr, en;q=0.1"), Some(Lang::En));
        assert_eq!(best("fr, de"), None);
        assert_eq!(best("ru;q=0, en"), Some(Lang::En));
    }

    /// Every code core can give has a text in every language, and the English
    /// pages say what core's own English says.
    #[test]
    fn every_reason_and_report_line_has_both_languages() {
        for lang in [Lang::En, Lang::Ru] {
            for reason in Reason::every_kind() {
                let key = format!("reason.{}", reason.code());
                let text = lang.t(&key);
                assert!(
                    !text.is_empty() && !text.contains(&key),
                    "{lang:?} lacks {key}"
                );
            }
        }
        let samples = [
            Reason::TooLong { max: 100 },
            Reason::OutOfRange { min: 1, max: 200 },
            Reason::TemplateSyntax {
                line: 2,
                column: 5,
                detail: "unexpected end".into(),
            },
            Reason::DisabledByManager,
        ];
        for r in samples {
            assert_eq!(Lang::En.reason(&r), r.to_string());
        }
        let report = RunReport::new(
            &skymailing_core::RunTotals {
                total: 5,
                sent: 2,
                failed: 2,
                cancelled: 1,
                suppressed: 1,
                bounced: 1,
                complained: 1,
                failures: vec![("550 no such user".into(), 2)],
                ..Default::default()
            },
            3,
        );
        assert_eq!(Lang::En.report(&report), report.to_string());
        assert_eq!(
            Lang::Ru.report(&report),
            "Отправлено 2 из 5; не доставлено 2: 550 no such user ×2; отменено 1; не отправлено (адрес в списке исключений) 1; вернулось с ошибкой 1; отмечено как спам 1 (пропущено запусков: 3)"
        );
        let empty = RunReport::default();
        assert_eq!(Lang::En.report(&empty), empty.to_string());
        assert!(Lang::Ru.report(&empty).starts_with("Нет получателей"));
        let one_skipped = RunReport {
            total: 1,
            sent: 1,
            skipped_slots: 1,
            ..Default::default()
        };
        assert_eq!(Lang::En.report(&one_skipped), one_skipped.to_string());
    }

    /// Every English text has a Russian one, and no Russian text is left in
    /// English (only names and codes may read the same).
    #[test]
    fn russian_covers_every_key_in_russian() {
        let en: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../../locales/en.json")).unwrap();
        let ru: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../../locales/ru.json")).unwrap();
        let same_everywhere = ["app.name", "lang.en", "lang.ru", "form.field_error"];
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
