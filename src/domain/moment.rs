//! Instants as people read them.
//!
//! A chat message names an instant with a *stamp*: an inline token that
//! carries the instant and its text in the team's zone. Each reader turns
//! stamps into what it does best: Slack into its `<!date^…>` token and
//! Discord into `<t:…:f>` (so every person reads their own zone), the shell
//! into text in the person's zone, and everything else (notification
//! fallbacks, API errors, logs) into the team-zone text the stamp carries.
//! One mechanism, so a message is written once for every platform.
//!
//! Text that is stored (timeline entries, refusals kept for replays) uses
//! [`plain`] instead: a stored line is read later, by readers this module
//! never sees.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Opens a stamp. A private-use character: people cannot type it (see
/// [`super::text::check_text`]), so only the bot writes stamps.
pub const STAMP_OPEN: char = '\u{E000}';
/// Closes a stamp.
pub const STAMP_CLOSE: char = '\u{E001}';

/// `at` in `zone`, to the minute, labelled with the zone's abbreviation:
/// `2026-12-10 22:00 CET`.
pub fn plain(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `at` for a chat message: a stamp whose fallback is [`plain`] in `zone`.
pub fn stamp(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "{STAMP_OPEN}{}|{}{STAMP_CLOSE}",
        at.timestamp(),
        plain(at, zone)
    )
}

/// Who reads a message, and so how its stamps are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Plain text in the team's zone, as the stamps carry it.
    Team,
    /// Plain text in this person's zone.
    Person(Tz),
    /// Slack, whose clients show each person their own zone.
    Slack,
    /// Discord, whose clients show each person their own zone.
    Discord,
}

/// `text` with every stamp written out for `reader`. Anything that only
/// looks like a stamp is left as it is.
pub fn render(text: &str, reader: Reader) -> String {
    if !text.contains(STAMP_OPEN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(STAMP_OPEN) {
        out.push_str(&rest[..open]);
        let after = &rest[open + STAMP_OPEN.len_utf8()..];
        match after.find(STAMP_CLOSE).and_then(|close| {
            let inside = &after[..close];
            if inside.contains(STAMP_OPEN) {
                // Unclosed: this open mark is not a stamp; the next may be.
                return None;
            }
            let (epoch, fallback) = inside.split_once('|')?;
            let at = Utc.timestamp_opt(epoch.parse().ok()?, 0).single()?;
            Some((close, at, fallback))
        }) {
            Some((close, at, fallback)) => {
                out.push_str(&write_out(at, fallback, reader));
                rest = &after[close + STAMP_CLOSE.len_utf8()..];
            }
            None => {
                out.push(STAMP_OPEN);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn write_out(at: DateTime<Utc>, fallback: &str, reader: Reader) -> String {
    let epoch = at.timestamp();
    match reader {
        Reader::Team => fallback.to_string(),
        Reader::Person(zone) => plain(at, zone),
        // The fallback shows where a client cannot format the token; it is
        // digits, a dash, a colon and a zone abbreviation, so nothing in it
        // needs escaping.
        Reader::Slack => format!("<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"),
        Reader::Discord => format!("<t:{epoch}:f>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn plain_text_names_the_zone_and_follows_daylight_saving() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            plain(at("2026-12-10T21:00:00Z"), berlin),
            "2026-12-10 22:00 CET"
        );
        assert_eq!(
            plain(at("2026-07-10T21:00:00Z"), berlin),
            "2026-07-10 23:00 CEST"
        );
        assert_eq!(
            plain(at("2026-12-10T21:00:00Z"), Tz::UTC),
            "2026-12-10 21:00 UTC"
        );
    }

    #[test]
    fn each_reader_writes_a_stamp_its_own_way() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let instant = at("2026-12-10T21:00:00Z");
        let text = format!("Window opens {}.", stamp(instant, berlin));
        assert_eq!(
            render(&text, Reader::Team),
            "Window opens 2026-12-10 22:00 CET."
        );
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            render(&text, Reader::Person(new_york)),
            "Window opens 2026-12-10 16:00 EST."
        );
        let epoch = instant.timestamp();
        assert_eq!(
            render(&text, Reader::Slack),
            format!(
                "Window opens <!date^{epoch}^{{date_short_pretty}} {{time}}|2026-12-10 22:00 CET>."
            )
        );
        assert_eq!(
            render(&text, Reader::Discord),
            format!("Window opens <t:{epoch}:f>.")
        );
    }

    #[test]
    fn broken_stamps_and_plain_text_pass_through() {
        assert_eq!(render("no stamps here", Reader::Slack), "no stamps here");
        let broken = format!("a {STAMP_OPEN}12|x and {STAMP_OPEN}nope|y{STAMP_CLOSE} b");
        assert_eq!(render(&broken, Reader::Discord), broken);
        let unclosed_then_whole = format!(
            "{STAMP_OPEN}1|x {}",
            stamp(at("2026-01-01T00:00:00Z"), Tz::UTC)
        );
        assert_eq!(
            render(&unclosed_then_whole, Reader::Discord),
            format!("{STAMP_OPEN}1|x <t:1767225600:f>")
        );
        let two = format!(
            "{} to {}",
            stamp(at("2026-01-01T00:00:00Z"), Tz::UTC),
            stamp(at("2026-01-01T02:00:00Z"), Tz::UTC)
        );
        assert_eq!(
            render(&two, Reader::Team),
            "2026-01-01 00:00 UTC to 2026-01-01 02:00 UTC"
        );
    }
}
