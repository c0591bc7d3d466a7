//! The summary post that stands for a channel's cards when posting them one
//! by one at the platform's pace would take too long (`outbox.coalesce_after`):
//! one message that names the tickets, edited as they change.

use crate::commands::reply::{Block, Message};

/// How many tickets a summary names; the rest are counted.
pub const SHOWN: usize = 15;

/// One ticket listed in a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    /// `INC-40`.
    pub reference: String,
    pub title: String,
    /// 1 (P1) to 4, when the ticket has one.
    pub priority: Option<i16>,
    /// `new`, `acknowledged`, `resolved`, …
    pub status: String,
}

/// What a summary lists: its first tickets and how many it lists in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryList {
    /// The first tickets, oldest first ([`SHOWN`] of them are named).
    pub first: Vec<SummaryLine>,
    /// How many tickets it lists in all.
    pub listed: usize,
    /// Whether every ticket it lists is an incident.
    pub incidents_only: bool,
}

/// The summary of `list`: "12 new incidents", the first [`SHOWN`] by
/// reference, title, priority and (past `new`) status, and where to find
/// the rest.
pub fn summary_message(list: &SummaryList) -> Message {
    let noun = match (list.incidents_only, list.listed) {
        (true, 1) => "new incident",
        (true, _) => "new incidents",
        (false, 1) => "new ticket",
        (false, _) => "new tickets",
    };
    let items: Vec<String> = list
        .first
        .iter()
        .take(SHOWN)
        .map(|line| {
            let mut item = format!("{} {}", line.reference, line.title);
            if let Some(priority) = line.priority {
                item.push_str(&format!(" (P{priority})"));
            }
            if line.status != "new" {
                item.push_str(&format!(" · {}", line.status.replace('_', " ")));
            }
            item
        })
        .collect();
    let mut message = Message::default()
        .with(Block::Header(format!("{} {noun}", list.listed)))
        .with(Block::List { title: None, items });
    let more = list.listed.saturating_sub(SHOWN.min(list.first.len()));
    let rest = if more > 0 {
        format!("…and {more} more. ")
    } else {
        String::new()
    };
    message = message.with(Block::Context(format!(
        "{rest}Listed here instead of one card each, to keep this channel readable. \
         `/itsm open` lists every open incident; `/incident INC-n show` shows one."
    )));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, priority: i16, status: &str) -> SummaryLine {
        SummaryLine {
            reference: format!("INC-{n}"),
            title: format!("Alert {n}"),
            priority: Some(priority),
            status: status.into(),
        }
    }

    /// The summary's text for `first` of `listed` tickets.
    fn text_of(first: Vec<SummaryLine>, listed: usize, incidents_only: bool) -> String {
        summary_message(&SummaryList {
            first,
            listed,
            incidents_only,
        })
        .plain_text()
    }

    #[test]
    fn names_the_first_tickets_and_counts_the_rest() {
        let lines: Vec<SummaryLine> = (40..52)
            .map(|n| line(n, 1, if n == 41 { "acknowledged" } else { "new" }))
            .chain((52..60).map(|n| line(n, 3, "new")))
            .collect();
        let text = text_of(lines, 20, true);
        assert!(text.contains("20 new incidents"), "{text}");
        assert!(text.contains("INC-40 Alert 40 (P1)"), "{text}");
        assert!(
            text.contains("INC-41 Alert 41 (P1) · acknowledged"),
            "{text}"
        );
        assert!(text.contains("INC-54"), "{text}");
        assert!(!text.contains("INC-55"), "{text}");
        assert!(text.contains("…and 5 more"), "{text}");
        assert!(text.contains("/itsm open"), "{text}");
    }

    #[test]
    fn one_ticket_of_another_kind() {
        let first = vec![SummaryLine {
            reference: "CHG-3".into(),
            title: "Patch".into(),
            priority: None,
            status: "submitted".into(),
        }];
        let text = text_of(first, 1, false);
        assert!(text.contains("1 new ticket"), "{text}");
        assert!(text.contains("CHG-3 Patch · submitted"), "{text}");
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn a_storm_is_counted_from_the_summary_not_from_the_lines_read() {
        // The store reads only the first SHOWN tickets of a long list.
        let first: Vec<SummaryLine> = (100..100 + SHOWN).map(|n| line(n, 2, "new")).collect();
        let text = text_of(first, 4213, true);
        assert!(text.contains("4213 new incidents"), "{text}");
        assert!(text.contains("INC-114 Alert 114 (P2)"), "{text}");
        assert!(text.contains("…and 4198 more"), "{text}");
    }
}
