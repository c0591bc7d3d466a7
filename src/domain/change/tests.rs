use chrono::TimeZone;

use super::*;
use crate::domain::timeline::EventAction;
use crate::domain::user::Platform;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(Platform::Shell, name).unwrap()
}

fn text(s: &str) -> FreeText {
    FreeText::parse("text", s).unwrap()
}

fn change(change_type: ChangeType) -> Change {
    Change {
        id: 1,
        number: 7,
        title: "Upgrade firmware".into(),
        description: String::new(),
        change_type,
        standard: None,
        status: ChangeStatus::Draft,
        service: Some("vpn".into()),
        requester: user("alice"),
        implementer: None,
        plan: Some("p".into()),
        test_plan: Some("t".into()),
        rollback_plan: Some("r".into()),
        window: Some(Window::new(at(1, 22), Duration::hours(2)).unwrap()),
        impact: Level::Medium,
        likelihood: Level::Medium,
        risk: Risk::Medium,
        approvals: Vec::new(),
        planned_outage: false,
        rejection: None,
        outcome: None,
        origin: Origin {
            platform: Platform::Shell,
            channel: "ops".into(),
            thread: None,
            message: None,
        },
        created_at: at(1, 8),
        updated_at: at(1, 8),
        submitted_at: None,
        approved_at: None,
        started_at: None,
        finished_at: None,
    }
}

fn apply(
    change: &Change,
    action: ChangeAction,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Change, ChangeError> {
    let rules = ChangeRules::default();
    let actor = user(who);
    let ctx = ApplyContext {
        actor: &actor,
        now,
        rules: &rules,
        overlapping: &[],
    };
    change.apply(&action, &ctx).map(|applied| applied.change)
}

#[test]
fn two_distinct_approvals_approve_a_normal_change() {
    let submitted = apply(
        &change(ChangeType::Normal),
        ChangeAction::Submit,
        "alice",
        at(1, 9),
    )
    .unwrap();
    assert_eq!(submitted.status, ChangeStatus::Submitted);
    let own = apply(&submitted, ChangeAction::Approve(None), "alice", at(1, 9));
    assert!(matches!(own, Err(ChangeError::OwnApproval { .. })));
    let once = apply(&submitted, ChangeAction::Approve(None), "carol", at(1, 10)).unwrap();
    assert_eq!(once.status, ChangeStatus::Submitted);
    assert!(matches!(
        apply(&once, ChangeAction::Approve(None), "carol", at(1, 10)),
        Err(ChangeError::AlreadyApproved { .. })
    ));
    let twice = apply(
        &once,
        ChangeAction::Approve(Some(text("ok"))),
        "dave",
        at(1, 11),
    )
    .unwrap();
    assert_eq!(twice.status, ChangeStatus::Approved);
    assert_eq!(twice.approved_at, Some(at(1, 11)));
}

#[test]
fn emergency_changes_need_one_approval_and_standard_ones_none() {
    let emergency = apply(
        &change(ChangeType::Emergency),
        ChangeAction::Submit,
        "alice",
        at(1, 9),
    )
    .unwrap();
    let approved = apply(&emergency, ChangeAction::Approve(None), "erin", at(1, 9)).unwrap();
    assert_eq!(approved.status, ChangeStatus::Approved);
    assert_eq!(emergency.approver_role(), Role::EmergencyCab);
    let standard = apply(
        &change(ChangeType::Standard),
        ChangeAction::Submit,
        "alice",
        at(1, 9),
    )
    .unwrap();
    assert_eq!(standard.status, ChangeStatus::Approved);
}

#[test]
fn submit_names_everything_missing() {
    let mut bare = change(ChangeType::Normal);
    bare.plan = None;
    bare.window = None;
    let err = apply(&bare, ChangeAction::Submit, "alice", at(1, 9))
        .unwrap_err()
        .to_string();
    assert!(err.contains("implementation plan, window"), "{err}");
    assert!(err.contains("`/change CHG-7 plan <text>`"), "{err}");
}

#[test]
fn finishing_needs_a_running_change() {
    let approved = Change {
        status: ChangeStatus::Approved,
        ..change(ChangeType::Normal)
    };
    let err = apply(&approved, ChangeAction::Complete(None), "bob", at(1, 22))
        .unwrap_err()
        .to_string();
    assert!(err.contains("start it first"), "{err}");
    let running = apply(
        &approved,
        ChangeAction::Start { confirmed: false },
        "bob",
        at(1, 22),
    )
    .unwrap();
    let failed = apply(
        &running,
        ChangeAction::Fail(text("node B did not boot")),
        "bob",
        at(1, 23),
    )
    .unwrap();
    assert_eq!(failed.status, ChangeStatus::Failed);
    assert_eq!(failed.outcome.as_deref(), Some("node B did not boot"));
    assert!(apply(&failed, ChangeAction::Cancel(None), "bob", at(1, 23)).is_err());
}

#[test]
fn the_default_risk_matrix() {
    let matrix = RiskMatrix::default();
    assert_eq!(matrix.risk(Level::High, Level::High), Risk::High);
    assert_eq!(matrix.risk(Level::High, Level::Low), Risk::Medium);
    assert_eq!(matrix.risk(Level::Medium, Level::Medium), Risk::Medium);
    assert_eq!(matrix.risk(Level::Low, Level::Medium), Risk::Low);
}

#[test]
fn starts_are_read_in_the_change_time_zone() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let local = parse_start("2026-12-01T22:00").unwrap();
    assert_eq!(local.resolve(berlin).unwrap(), at(1, 21));
    let fixed = parse_start("2026-12-01T22:00:00+00:00").unwrap();
    assert_eq!(fixed.resolve(berlin).unwrap(), at(1, 22));
    // 02:30 on the last Sunday of March does not exist in Berlin.
    let skipped = parse_start("2027-03-28T02:30").unwrap();
    assert!(matches!(
        skipped.resolve(berlin),
        Err(WindowError::Skipped(..))
    ));
    assert!(parse_start("tomorrow").is_err());
    // An offset without seconds is what people type.
    let typed = parse_start("2026-12-01T22:00Z").unwrap();
    assert_eq!(typed.resolve(berlin).unwrap(), at(1, 22));
    let typed = parse_start("2026-12-01T23:00+01:00").unwrap();
    assert_eq!(typed.resolve(berlin).unwrap(), at(1, 22));
    assert!(parse_start("2026-12-01T22:00Q").is_err());
    assert!(parse_start("2026-12-01T22:00+zz").is_err());
}

#[test]
fn windows_and_freezes_overlap_only_when_they_share_time() {
    let window = Window::new(at(1, 22), Duration::hours(2)).unwrap();
    let touching = Window::new(at(2, 0), Duration::hours(1)).unwrap();
    assert!(!window.overlaps(&touching), "end is exclusive");
    assert!(window.overlaps(&Window::new(at(1, 23), Duration::hours(3)).unwrap()));
    let freeze = Freeze {
        name: "year-end".into(),
        start: at(20, 0),
        end: at(31, 0),
    };
    assert!(!freeze.overlaps(&window));
    assert!(freeze.overlaps(&Window::new(at(19, 23), Duration::hours(2)).unwrap()));
    assert!(Window::new(at(1, 0), Duration::seconds(30)).is_err());
}

#[test]
fn a_failed_change_can_be_rolled_back_and_keeps_its_failure() {
    let running = Change {
        status: ChangeStatus::InProgress,
        ..change(ChangeType::Normal)
    };
    let failed = apply(
        &running,
        ChangeAction::Fail(text("node B did not boot")),
        "bob",
        at(1, 23),
    )
    .unwrap();
    let rules = ChangeRules::default();
    let actor = user("bob");
    let ctx = ApplyContext {
        actor: &actor,
        now: at(2, 1),
        rules: &rules,
        overlapping: &[],
    };
    let applied = failed
        .apply(
            &ChangeAction::RolledBack(Some(text("booted the previous image"))),
            &ctx,
        )
        .unwrap();
    let rolled = &applied.change;
    assert_eq!(rolled.status, ChangeStatus::RolledBack);
    assert_eq!(rolled.finished_at, Some(at(2, 1)));
    assert_eq!(
        rolled.outcome.as_deref(),
        Some("node B did not boot — rolled back: booted the previous image")
    );
    assert_eq!(applied.events.len(), 1, "{:?}", applied.events);
    assert_eq!(applied.events[0].action, EventAction::RolledBack);
    // Without a note the failure stays the outcome.
    let quiet = apply(&failed, ChangeAction::RolledBack(None), "bob", at(2, 1)).unwrap();
    assert_eq!(quiet.outcome.as_deref(), Some("node B did not boot"));
    // Rolled back is the end: nothing else finishes it again.
    for action in [
        ChangeAction::RolledBack(None),
        ChangeAction::Fail(text("again")),
        ChangeAction::Complete(None),
        ChangeAction::Cancel(None),
    ] {
        assert!(apply(&quiet, action, "bob", at(2, 2)).is_err());
    }
    // A failed change cannot be completed or failed again either.
    assert!(apply(&failed, ChangeAction::Complete(None), "bob", at(2, 1)).is_err());
    assert!(apply(&failed, ChangeAction::Fail(text("again")), "bob", at(2, 1)).is_err());
}

#[test]
fn the_risk_shown_says_where_it_comes_from() {
    let matrix = RiskMatrix::default();
    // Medium impact and likelihood: the matrix says medium.
    let normal = change(ChangeType::Normal);
    assert_eq!(normal.risk_basis(&matrix), RiskBasis::Matrix);
    // A standard change from the catalog, low by its entry.
    let standard = Change {
        standard: Some("tls-renewal".into()),
        risk: Risk::Low,
        ..change(ChangeType::Standard)
    };
    assert_eq!(
        standard.risk_basis(&matrix),
        RiskBasis::Standard("tls-renewal")
    );
    // A runbook's standard change.
    let runbook = Change {
        standard: Some(format!("{RUNBOOK_PREFIX}provision-vm")),
        risk: Risk::Low,
        ..change(ChangeType::Standard)
    };
    assert_eq!(
        runbook.risk_basis(&matrix),
        RiskBasis::Runbook("provision-vm")
    );
    // Set by hand against the matrix.
    let stated = Change {
        risk: Risk::High,
        ..change(ChangeType::Normal)
    };
    assert_eq!(
        stated.risk_basis(&matrix),
        RiskBasis::Stated {
            matrix: Risk::Medium
        }
    );
    // A standard change whose risk is what the matrix gives is the matrix's.
    let agreeing = Change {
        standard: Some("tls-renewal".into()),
        ..change(ChangeType::Standard)
    };
    assert_eq!(agreeing.risk_basis(&matrix), RiskBasis::Matrix);
}
