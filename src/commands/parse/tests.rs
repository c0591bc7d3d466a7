use proptest::prelude::*;

use super::*;

fn alice() -> UserId {
    UserId::new(Platform::Shell, "alice").unwrap()
}

fn parse_as_alice(line: &str) -> Result<Command, Refusal> {
    let me = alice();
    parse_line(
        line,
        ParseContext {
            platform: Platform::Shell,
            actor: &me,
        },
    )
}

fn report(line: &str) -> IncidentIntake {
    match parse_as_alice(line) {
        Ok(Command::OpenIncident(report)) => report,
        other => panic!("{line}: {other:?}"),
    }
}

fn act(line: &str) -> (TicketRef, IncidentAction) {
    match parse_as_alice(line) {
        Ok(Command::Incident(reference, IncidentCommand::Act(action))) => (reference, action),
        other => panic!("{line}: {other:?}"),
    }
}

fn refusal(line: &str) -> String {
    match parse_as_alice(line) {
        Err(refusal) => refusal.to_string(),
        Ok(command) => panic!("{line} should be refused, got {command:?}"),
    }
}

#[test]
fn reports_take_options_anywhere_and_keep_the_rest_as_title() {
    let r = report("/incident VPN down in Berlin office P2");
    assert_eq!(r.title.as_str(), "VPN down in Berlin office");
    assert_eq!(r.priority, Some(Priority::P2));
    let r = report("/incident service:VPN  Tunnel drops impact:h urgency:low");
    assert_eq!(r.title.as_str(), "Tunnel drops");
    assert_eq!(r.service.as_deref(), Some("vpn"));
    assert_eq!((r.impact, r.urgency), (Some(Level::High), Some(Level::Low)));
    assert_eq!(r.priority, None);
    let r = report("/incident error: disk full on build01");
    assert_eq!(r.title.as_str(), "error: disk full on build01");
}

#[test]
fn itsm_incident_is_the_same_as_incident() {
    assert_eq!(
        parse_as_alice("/itsm incident VPN down P2").unwrap(),
        parse_as_alice("/incident VPN down P2").unwrap()
    );
    assert_eq!(
        parse_as_alice("/incident").unwrap(),
        Command::OpenIncidentForm
    );
    assert_eq!(
        parse_as_alice("/ITSM").unwrap(),
        Command::Query(QueryCommand::Help(None))
    );
}

#[test]
fn every_incident_verb_parses() {
    let bob = UserId::new(Platform::Shell, "bob").unwrap();
    assert_eq!(
        act("/incident inc-1 ACK"),
        (TicketRef::incident(1), IncidentAction::Acknowledge)
    );
    assert_eq!(
        act("/incident INC-1 assign @bob").1,
        IncidentAction::Assign(bob)
    );
    assert_eq!(
        act("/incident INC-1 assign me").1,
        IncidentAction::Assign(alice())
    );
    assert_eq!(
        act("/incident INC-1 priority p1").1,
        IncidentAction::SetPriority(Priority::P1)
    );
    assert!(
        matches!(act("/incident INC-1 note line one\nline two").1, IncidentAction::Note(t) if t.as_str() == "line one\nline two")
    );
    assert!(matches!(
        act("/incident INC-1 hold waiting on vendor").1,
        IncidentAction::Hold(_)
    ));
    assert_eq!(act("/incident INC-1 resume").1, IncidentAction::Resume);
    assert!(
        matches!(act("/incident INC-1 resolve firmware rollback").1, IncidentAction::Resolve(t) if t.as_str() == "firmware rollback")
    );
    assert_eq!(act("/incident INC-1 close").1, IncidentAction::Close);
    assert!(matches!(
        act("/incident INC-1 reopen still broken").1,
        IncidentAction::Reopen(_)
    ));
    assert_eq!(
        parse_as_alice("/incident INC-7 show").unwrap(),
        Command::Incident(TicketRef::incident(7), IncidentCommand::Show)
    );
    assert_eq!(
        parse_as_alice("/incident INC-7 rate 4").unwrap(),
        Command::Incident(TicketRef::incident(7), IncidentCommand::Rate(4))
    );
    assert_eq!(
        parse_as_alice("/incident INC-7").unwrap(),
        Command::Incident(TicketRef::incident(7), IncidentCommand::Show)
    );
}

#[test]
fn queries_parse() {
    assert_eq!(
        parse_as_alice("/itsm open P2 p1 P2").unwrap(),
        Command::Query(QueryCommand::Open(vec![Priority::P1, Priority::P2]))
    );
    assert_eq!(
        parse_as_alice("/itsm mine").unwrap(),
        Command::Query(QueryCommand::Mine)
    );
    assert_eq!(
        parse_as_alice("/itsm whoami").unwrap(),
        Command::Query(QueryCommand::Whoami)
    );
    assert_eq!(
        parse_as_alice("/itsm help incident").unwrap(),
        Command::Query(QueryCommand::Help(Some("incident".into())))
    );
}

#[test]
fn refusals_say_what_was_wrong_and_what_would_work() {
    let cases = [
        ("/incident P2", "needs a title"),
        ("/incident INC-x ack", "not a ticket reference"),
        ("/incident INC-0 ack", "not a ticket reference"),
        ("/incident PRB-1 ack", "not an incident"),
        ("/incident INC-1 dance", "not something you can do"),
        ("/incident INC-1 assign", "exactly one person"),
        ("/incident INC-1 assign bob", "not a user"),
        ("/incident INC-1 priority P7", "not a priority"),
        ("/incident INC-1 note", "note is empty"),
        ("/incident INC-1 resolve   ", "resolution is empty"),
        ("/incident INC-1 ack now please", "takes nothing after it"),
        ("/incident VPN P1 P2", "given twice"),
        ("/incident VPN impact:huge", "not a level"),
        ("/incident VPN service:Bad/Name", "not a service name"),
        ("/itsm open P9", "not a priority"),
        ("/incident INC-1 rate 6", "score from 1"),
        ("/incident INC-1 rate", "score from 1"),
        ("/itsm frobnicate", "not a command"),
        ("/frobnicate", "not a command"),
        ("hello there", "not a command"),
        ("", "empty"),
        ("/change", "needs a title"),
        ("/incident bad\u{0}byte", "control characters"),
    ];
    for (line, expected) in cases {
        let message = refusal(line);
        assert!(message.contains(expected), "{line:?}: {message}");
    }
}

#[test]
fn long_titles_and_lines_are_refused() {
    let title = format!("/incident {}", "x".repeat(201));
    assert!(refusal(&title).contains("201 characters"));
    let line = format!("/incident {}", "word ".repeat(1_000));
    assert!(refusal(&line).contains("the limit is 4000"));
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_as_alice(&text);
        let _ = parse_as_alice(&format!("/incident {text}"));
        let _ = parse_as_alice(&format!("/incident INC-1 {text}"));
        let _ = parse_as_alice(&format!("/itsm {text}"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_as_alice(&text);
        let _ = parse_as_alice(&format!("/incident INC-1 note {text}"));
    }

    #[test]
    fn parsed_titles_are_within_bounds(words in proptest::collection::vec("[a-zA-Zäß0-9:]{1,12}", 1..30)) {
        if let Ok(Command::OpenIncident(report)) = parse_as_alice(&format!("/incident {}", words.join(" "))) {
            let chars = report.title.as_str().chars().count();
            prop_assert!((1..=200).contains(&chars));
        }
    }
}

#[test]
fn services_and_oncall_parse() {
    use crate::commands::command::OverrideRequest;
    use crate::domain::change::StartTime;
    let query = |line: &str| match parse_as_alice(line) {
        Ok(Command::Query(query)) => query,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(query("/itsm services"), QueryCommand::Services);
    assert_eq!(
        query("/itsm service VPN"),
        QueryCommand::Service("vpn".into())
    );
    assert_eq!(query("/itsm oncall"), QueryCommand::Oncall(None));
    assert_eq!(
        query("/itsm oncall network"),
        QueryCommand::Oncall(Some("network".into()))
    );
    let QueryCommand::OncallOverride(OverrideRequest {
        member,
        start,
        duration,
        rotation,
    }) = query("/itsm oncall override @bob 2026-11-28T09:00 2d network")
    else {
        panic!("not an override");
    };
    assert_eq!(member.to_string(), "shell:bob");
    assert!(matches!(start, StartTime::Local(_)));
    assert_eq!(duration, chrono::Duration::days(2));
    assert_eq!(rotation.as_deref(), Some("network"));
    for bad in [
        "/itsm services vpn",
        "/itsm service",
        "/itsm service vpn dns",
        "/itsm service VPN!",
        "/itsm oncall a b",
        "/itsm oncall override @bob",
        "/itsm oncall override @bob soon 2h",
        "/itsm oncall override @bob 2026-11-28T09:00 forever",
        "/itsm oncall override @bob 2026-11-28T09:00 100d",
    ] {
        assert!(parse_as_alice(bad).is_err(), "{bad}");
    }
}

#[test]
fn outage_and_public_parse() {
    let incident = |line: &str| match parse_as_alice(line) {
        Ok(Command::Incident(_, command)) => command,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(
        incident("/incident INC-3 outage"),
        IncidentCommand::Outage(None)
    );
    assert!(matches!(
        incident("/incident inc-3 outage since 2026-11-25T08:40"),
        IncidentCommand::Outage(Some(_))
    ));
    assert!(matches!(
        incident("/incident INC-3 outage 2026-11-25T08:40"),
        IncidentCommand::Outage(Some(_))
    ));
    assert!(matches!(
        parse_as_alice("/itsm override @bob 2026-11-28T09:00 2d"),
        Ok(Command::Query(QueryCommand::OncallOverride(_)))
    ));
    assert!(matches!(
        incident("/incident INC-3 public We are rolling out a fix."),
        IncidentCommand::Public(_)
    ));
    for bad in [
        "/incident INC-3 outage now",
        "/incident INC-3 outage since",
        "/incident INC-3 outage since lunch",
        "/incident INC-3 public",
    ] {
        assert!(parse_as_alice(bad).is_err(), "{bad}");
    }
}

#[test]
fn review_and_action_item_commands_parse() {
    use crate::commands::command::ActionDraft;
    use crate::domain::postmortem::{RaiseAs, Section};
    let alice: UserId = "shell:alice".parse().unwrap();
    let ctx = ParseContext {
        platform: Platform::Shell,
        actor: &alice,
    };
    let inc = TicketRef::incident(4);
    assert_eq!(
        parse_line("/incident INC-4 postmortem", ctx),
        Ok(Command::Incident(inc, IncidentCommand::Postmortem))
    );
    assert_eq!(
        parse_line(
            "/incident inc-4 postmortem set Root-Cause firmware leak",
            ctx
        ),
        Ok(Command::Incident(
            inc,
            IncidentCommand::PostmortemSet(
                Section::RootCause,
                FreeText::parse("section text", "firmware leak").unwrap()
            )
        ))
    );
    assert_eq!(
        parse_line("/incident INC-4 action due:2026-12-04 Add alert @bob", ctx),
        Ok(Command::Incident(
            inc,
            IncidentCommand::AddAction(ActionDraft {
                text: FreeText::parse("action item", "Add alert").unwrap(),
                owner: Some("shell:bob".parse().unwrap()),
                due: chrono::NaiveDate::from_ymd_opt(2026, 12, 4),
            })
        ))
    );
    assert_eq!(
        parse_line("/itsm actions mine", ctx),
        Ok(Command::Query(QueryCommand::Actions { mine: true }))
    );
    assert_eq!(
        parse_line("/itsm action #7 done", ctx),
        Ok(Command::Query(QueryCommand::ActionDone(7)))
    );
    assert_eq!(
        parse_line("/itsm action 7 Problem", ctx),
        Ok(Command::Query(QueryCommand::RaiseAction(
            7,
            RaiseAs::Problem
        )))
    );
    assert_eq!(
        parse_line("/itsm action #7 change", ctx),
        Ok(Command::Query(QueryCommand::RaiseAction(
            7,
            RaiseAs::Change
        )))
    );
    for refused in [
        "/incident INC-4 postmortem publish",
        "/incident INC-4 postmortem set",
        "/incident INC-4 action Add alert @bob @carol",
        "/incident INC-4 action Add alert due:tomorrow",
        "/itsm actions everyone",
        "/itsm action 7",
        "/itsm action 7 incident",
        "/itsm action seven problem",
        "/itsm action 7 change now",
    ] {
        assert!(parse_line(refused, ctx).is_err(), "{refused}");
    }
}
