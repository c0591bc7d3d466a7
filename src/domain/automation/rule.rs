//! Rules: "when this happens to a ticket like that, do these things".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::{json, Value};

use super::template::Template;
use crate::domain::channel::ChannelRef;
use crate::domain::{Priority, TicketKind, TicketRef, UserId};

/// The events a rule can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    IncidentCreated,
    IncidentPriorityChanged,
    IncidentStatusChanged,
    SlaWarning,
    SlaBreach,
    AlertFired,
    AlertResolved,
    ChangeApproved,
    ChangeCompleted,
}

impl Trigger {
    /// Every trigger, in the order the docs list them.
    pub const ALL: [Trigger; 9] = [
        Trigger::IncidentCreated,
        Trigger::IncidentPriorityChanged,
        Trigger::IncidentStatusChanged,
        Trigger::SlaWarning,
        Trigger::SlaBreach,
        Trigger::AlertFired,
        Trigger::AlertResolved,
        Trigger::ChangeApproved,
        Trigger::ChangeCompleted,
    ];

    /// The name used in config (`on = "incident.created"`) and in the
    /// `X-Itsm-Event` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::IncidentCreated => "incident.created",
            Trigger::IncidentPriorityChanged => "incident.priority_changed",
            Trigger::IncidentStatusChanged => "incident.status_changed",
            Trigger::SlaWarning => "sla.warning",
            Trigger::SlaBreach => "sla.breach",
            Trigger::AlertFired => "alert.fired",
            Trigger::AlertResolved => "alert.resolved",
            Trigger::ChangeApproved => "change.approved",
            Trigger::ChangeCompleted => "change.completed",
        }
    }

    /// The kind of ticket the event is about.
    pub fn ticket_kind(self) -> TicketKind {
        match self {
            Trigger::ChangeApproved | Trigger::ChangeCompleted => TicketKind::Change,
            _ => TicketKind::Incident,
        }
    }

    /// Whether the event carries alert labels.
    pub fn has_labels(self) -> bool {
        matches!(self, Trigger::AlertFired | Trigger::AlertResolved)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Trigger::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a trigger; use one of {}",
                    Trigger::ALL.map(Trigger::as_str).join(", ")
                )
            })
    }
}

/// The conditions of a rule; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct When {
    /// The ticket's service is one of these.
    pub services: Vec<String>,
    /// The incident's priority is one of these.
    pub priorities: Vec<Priority>,
    /// Every label has this value (alert events).
    pub labels: BTreeMap<String, String>,
    /// The title or description matches (case-insensitive).
    pub text: Option<Regex>,
}

impl PartialEq for When {
    fn eq(&self, other: &Self) -> bool {
        self.services == other.services
            && self.priorities == other.priorities
            && self.labels == other.labels
            && self.text.as_ref().map(Regex::as_str) == other.text.as_ref().map(Regex::as_str)
    }
}

impl When {
    /// Whether `facts` meet every condition.
    pub fn holds(&self, facts: &EventFacts) -> bool {
        let service_ok = self.services.is_empty()
            || facts
                .service
                .as_ref()
                .is_some_and(|s| self.services.iter().any(|want| want == s));
        let priority_ok = self.priorities.is_empty()
            || facts.priority.is_some_and(|p| self.priorities.contains(&p));
        let labels_ok = self
            .labels
            .iter()
            .all(|(key, value)| facts.labels.get(key) == Some(value));
        let text_ok = self
            .text
            .as_ref()
            .is_none_or(|re| re.is_match(&facts.title) || re.is_match(&facts.description));
        service_ok && priority_ok && labels_ok && text_ok
    }

    /// The conditions in words, for `/itsm rules`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.services.is_empty() {
            parts.push(format!("service {}", self.services.join(" or ")));
        }
        if !self.priorities.is_empty() {
            let list: Vec<String> = self.priorities.iter().map(ToString::to_string).collect();
            parts.push(format!("priority {}", list.join(" or ")));
        }
        for (key, value) in &self.labels {
            parts.push(format!("label {key}={value}"));
        }
        if let Some(text) = &self.text {
            parts.push(format!("text ~ /{}/", text.as_str()));
        }
        if parts.is_empty() {
            "always".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One thing a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleAction {
    /// Post to a channel, with the rule's own text or a default line.
    Post {
        channel: ChannelRef,
        text: Option<Template>,
    },
    /// Mention the on-call of the incident's service in its thread.
    MentionOncall,
    /// Assign the incident.
    Assign(UserId),
    /// Set the incident's priority.
    SetPriority(Priority),
    /// Add a note to the ticket.
    Note(Template),
    /// Link the incident to a problem.
    LinkProblem(TicketRef),
    /// POST a JSON body to `url`, signed when `secret_env` names a secret.
    Webhook {
        url: String,
        secret_env: Option<String>,
        body: Option<Template>,
    },
}

impl RuleAction {
    /// What it does, in words.
    pub fn describe(&self) -> String {
        match self {
            RuleAction::Post { channel, .. } => format!("post to {channel}"),
            RuleAction::MentionOncall => "mention the on-call".into(),
            RuleAction::Assign(user) => format!("assign to {user}"),
            RuleAction::SetPriority(priority) => format!("set priority {priority}"),
            RuleAction::Note(_) => "add a note".into(),
            RuleAction::LinkProblem(problem) => format!("link to {problem}"),
            RuleAction::Webhook {
                url, secret_env, ..
            } => format!(
                "call {url}{}",
                if secret_env.is_some() {
                    " (signed)"
                } else {
                    ""
                }
            ),
        }
    }

    /// Whether it can act on the tickets `trigger` is about: the incident
    /// actions need an incident.
    pub fn fits(&self, trigger: Trigger) -> bool {
        match self {
            RuleAction::Post { .. } | RuleAction::Note(_) | RuleAction::Webhook { .. } => true,
            RuleAction::MentionOncall
            | RuleAction::Assign(_)
            | RuleAction::SetPriority(_)
            | RuleAction::LinkProblem(_) => trigger.ticket_kind() == TicketKind::Incident,
        }
    }
}

/// A rule from `[[automation.rules]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub on: Trigger,
    pub when: When,
    pub actions: Vec<RuleAction>,
}

impl Rule {
    /// Whether this rule acts on `facts`.
    pub fn matches(&self, facts: &EventFacts) -> bool {
        self.on == facts.trigger && self.when.holds(facts)
    }
}

/// What a rule sees of an event: the ticket as it is after the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    pub trigger: Trigger,
    pub ticket_id: i64,
    pub reference: TicketRef,
    pub title: String,
    pub description: String,
    pub service: Option<String>,
    /// Incidents only.
    pub priority: Option<Priority>,
    pub status: String,
    /// The value before and after, for changes of priority or status.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Alert events: the alert's labels.
    pub labels: BTreeMap<String, String>,
    /// More about the event: the SLA clock and threshold, the alert name.
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl EventFacts {
    /// The names templates can use: `event`, `rule`, `at`, `ticket` (also
    /// as `incident` or `change`), `from`, `to`, `labels`, `detail`.
    pub fn context(&self, rule: &str) -> Value {
        let ticket = json!({
            "id": self.ticket_id,
            "ref": self.reference.to_string(),
            "kind": self.reference.kind.as_str(),
            "title": self.title,
            "description": self.description,
            "service": self.service,
            "priority": self.priority.map(|p| p.to_string()),
            "status": self.status,
        });
        // The stored kind names are the template names.
        let kind_name = self.reference.kind.as_str();
        let mut context = json!({
            "event": self.trigger.as_str(),
            "rule": rule,
            "at": self.at.to_rfc3339(),
            "ticket": ticket,
            "from": self.from,
            "to": self.to,
            "labels": self.labels,
            "detail": self.detail,
        });
        if let Some(map) = context.as_object_mut() {
            map.insert(kind_name.into(), ticket);
        }
        context
    }

    /// Facts shaped like `trigger`'s, with sample values: config checks
    /// render templates against them, so a misspelt name is caught at load.
    pub fn sample(trigger: Trigger) -> Self {
        let kind = trigger.ticket_kind();
        EventFacts {
            trigger,
            ticket_id: 1,
            reference: TicketRef { kind, number: 1 },
            title: "Sample".into(),
            description: String::new(),
            service: Some("sample".into()),
            priority: (kind == TicketKind::Incident).then_some(Priority::P1),
            status: "new".into(),
            from: Some("P3".into()),
            to: Some("P1".into()),
            labels: BTreeMap::from([("alertname".to_string(), "Sample".to_string())]),
            detail: Some("sample".into()),
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    /// The default text of a rule's post.
    pub fn headline(&self, rule: &str) -> String {
        let mut line = format!("Rule {rule} · {}: {}", self.trigger, self.reference);
        if let Some(priority) = self.priority {
            line.push_str(&format!(" {priority}"));
        }
        line.push_str(&format!(" {}", self.title));
        if let Some(service) = &self.service {
            line.push_str(&format!(" ({service})"));
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to) {
            line.push_str(&format!(" · {from} → {to}"));
        }
        if let Some(detail) = &self.detail {
            line.push_str(&format!(" · {detail}"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(trigger: Trigger) -> EventFacts {
        let mut facts = EventFacts::sample(trigger);
        facts.title = "VPN down in Berlin".into();
        facts.service = Some("vpn".into());
        facts
    }

    #[test]
    fn triggers_round_trip_and_unknown_ones_are_named() {
        for trigger in Trigger::ALL {
            assert_eq!(trigger.as_str().parse::<Trigger>(), Ok(trigger));
        }
        let err = "incident.opened".parse::<Trigger>().unwrap_err();
        assert!(err.contains("incident.created"), "{err}");
    }

    #[test]
    fn every_condition_must_hold() {
        let rule = Rule {
            name: "vpn-p1".into(),
            on: Trigger::IncidentCreated,
            when: When {
                services: vec!["vpn".into()],
                priorities: vec![Priority::P1],
                labels: BTreeMap::new(),
                text: Some(Regex::new("(?i)berlin").unwrap()),
            },
            actions: vec![],
        };
        let mut event = facts(Trigger::IncidentCreated);
        assert!(rule.matches(&event));
        event.priority = Some(Priority::P2);
        assert!(!rule.matches(&event));
        event.priority = Some(Priority::P1);
        event.service = None;
        assert!(!rule.matches(&event));
        event.service = Some("vpn".into());
        event.title = "VPN down in Paris".into();
        assert!(!rule.matches(&event));
        let other = facts(Trigger::IncidentPriorityChanged);
        assert!(!rule.matches(&other), "another trigger");
    }

    #[test]
    fn labels_must_all_match() {
        let when = When {
            labels: BTreeMap::from([("team".to_string(), "net".to_string())]),
            ..When::default()
        };
        let mut event = facts(Trigger::AlertFired);
        assert!(!when.holds(&event));
        event.labels.insert("team".into(), "net".into());
        assert!(when.holds(&event));
    }

    #[test]
    fn incident_actions_do_not_fit_change_events() {
        assert!(!RuleAction::SetPriority(Priority::P1).fits(Trigger::ChangeApproved));
        assert!(RuleAction::MentionOncall.fits(Trigger::SlaBreach));
        assert!(RuleAction::Note(
            Template::parse("x", super::super::template::Escape::Plain).unwrap()
        )
        .fits(Trigger::ChangeCompleted));
    }

    #[test]
    fn the_context_names_the_ticket_by_its_kind() {
        let context = facts(Trigger::IncidentCreated).context("vpn-p1");
        assert_eq!(context["incident"]["ref"], "INC-1");
        assert_eq!(context["ticket"]["service"], "vpn");
        assert_eq!(context["event"], "incident.created");
    }
}
