//! The log's chart of sent and failed deliveries per day, drawn on the server
//! as SVG (no script, no external asset; attributes only, so the strict
//! Content-Security-Policy holds).

use chrono::{Duration, NaiveDate};
use skymailing_core::ports::DailyOutcome;

use super::i18n::Lang;

const W: f64 = 720.0;
const H: f64 = 200.0;
const PAD: f64 = 28.0;

/// Stacked bars, one per day from `from` to `to` inclusive (days without
/// sends are empty bars), with a y-axis label and a title per bar.
pub(crate) fn daily(lang: Lang, days: &[DailyOutcome], from: NaiveDate, to: NaiveDate) -> String {
    let n = ((to - from).num_days() + 1).max(1) as usize;
    let mut by_day = vec![(0u64, 0u64); n];
    for d in days {
        let i = (d.day - from).num_days();
        if (0..n as i64).contains(&i) {
            by_day[i as usize] = (d.sent, d.failed);
        }
    }
    let max = by_day.iter().map(|(s, f)| s + f).max().unwrap_or(0).max(1);
    let plot_h = H - 2.0 * PAD;
    let slot = (W - 2.0 * PAD) / n as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{}\" class=\"chart-svg\">",
        lang.t("log.chart")
    );
    svg.push_str(&format!(
        "<line x1=\"{PAD}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#9aa5b1\" stroke-width=\"1\"/>",
        y = H - PAD,
        x2 = W - PAD
    ));
    svg.push_str(&format!(
        "<text x=\"{PAD}\" y=\"{y}\" font-size=\"11\" fill=\"#52606d\">{max}</text>",
        y = PAD - 8.0
    ));
    for (i, (sent, failed)) in by_day.iter().enumerate() {
        let day = from + Duration::days(i as i64);
        let x = PAD + slot * i as f64 + (slot - bar) / 2.0;
        let hs = plot_h * *sent as f64 / max as f64;
        let hf = plot_h * *failed as f64 / max as f64;
        let base = H - PAD;
        svg.push_str(&format!(
            "<g><title>{day}: {} {sent}, {} {failed}</title>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hs:.1}\" fill=\"#2f9e44\"/>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hf:.1}\" fill=\"#e03131\"/></g>",
            lang.t("log.sent"),
            lang.t("log.failed"),
            base - hs,
            base - hs - hf,
        ));
        if i == 0 || i == n - 1 || (n > 10 && i % 7 == 0 && n - 1 - i >= 4) {
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{y}\" font-size=\"10\" fill=\"#52606d\">{}</text>",
                day.format("%m-%d"),
                y = H - 10.0
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let days = [
            DailyOutcome {
                day: from,
                sent: 10,
                failed: 0,
            },
            DailyOutcome {
                day: to,
                sent: 3,
                failed: 2,
            },
        ];
        let svg = daily(Lang::En, &days, from, to);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<g>").count(), 3, "one bar per day");
        // The busiest day fills the plot: 200 - 2 × 28 = 144.
        assert!(svg.contains("height=\"144.0\""), "{svg}");
        assert!(svg.contains("2026-11-03: sent 3, failed 2"), "{svg}");
    }
}
