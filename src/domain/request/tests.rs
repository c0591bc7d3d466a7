use chrono::TimeZone;

use super::*;
use crate::domain::RoleBook;

fn user(text: &str) -> UserId {
    text.parse().unwrap()
}

fn laptop() -> CatalogItem {
    CatalogItem {
        name: "laptop".into(),
        title: "New or replacement laptop".into(),
        description: String::new(),
        fields: vec![
            FieldSpec {
                name: "model".into(),
                kind: FieldKind::Choice(vec!["13-inch".into(), "15-inch".into()]),
                required: true,
            },
            FieldSpec {
                name: "reason".into(),
                kind: FieldKind::Text,
                required: false,
            },
            FieldSpec {
                name: "start".into(),
                kind: FieldKind::Date,
                required: false,
            },
            FieldSpec {
                name: "for".into(),
                kind: FieldKind::User,
                required: false,
            },
        ],
        approval: vec![
            Approver::User(user("shell:mia")),
            Approver::Role(Role::Manager),
        ],
        approvals_needed: 1,
        team: Team::Role(Role::Engineer),
        tasks: vec!["Order".into(), "Image".into(), "Hand over".into()],
        fulfil_within: Some(Duration::hours(24)),
        business_day: Duration::hours(8),
        calendar: None,
        runbook: None,
        channel: None,
    }
}

fn request(item: &CatalogItem) -> ServiceRequest {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let new = NewRequest::new(
        item,
        user("shell:eve"),
        BTreeMap::new(),
        None,
        Origin {
            platform: Platform::Shell,
            channel: "general".into(),
            thread: None,
            message: None,
        },
    );
    ServiceRequest {
        id: 1,
        number: 1,
        item: new.item,
        title: new.title,
        description: new.description,
        status: new.status,
        requester: new.requester,
        assignee: None,
        fields: new.fields,
        approvals: Vec::new(),
        tasks_done: Vec::new(),
        status_before_hold: None,
        reason: None,
        outcome: None,
        origin: new.origin,
        created_at: at,
        updated_at: at,
        approved_at: None,
        fulfilled_at: None,
    }
}

struct Who {
    actor: UserId,
    roles: RoleSet,
    in_team: bool,
}

fn who(name: &str, roles: &[Role]) -> Who {
    let actor = user(name);
    let set = RoleBook::default().roles_of(&actor, roles);
    Who {
        in_team: set.allows(Role::Engineer),
        actor,
        roles: set,
    }
}

fn act(
    req: &ServiceRequest,
    item: &CatalogItem,
    by: &Who,
    action: RequestAction,
) -> Result<ServiceRequest, RequestError> {
    let ctx = ApplyContext {
        actor: &by.actor,
        roles: &by.roles,
        in_team: by.in_team,
        item,
        now: req.updated_at + Duration::hours(1),
    };
    req.apply(&action, &ctx).map(|a| a.request)
}

fn text(t: &str) -> FreeText {
    FreeText::parse("text", t).unwrap()
}

#[test]
fn a_request_goes_from_ask_to_closed() {
    let item = laptop();
    let eve = who("shell:eve", &[Role::Engineer]);
    let mia = who("shell:mia", &[]);
    let bob = who("shell:bob", &[Role::Engineer]);
    let req = request(&item);
    assert_eq!(req.status, RequestStatus::AwaitingApproval);
    assert!(matches!(
        act(&req, &item, &eve, RequestAction::Approve(None)),
        Err(RequestError::OwnApproval { .. })
    ));
    assert!(matches!(
        act(&req, &item, &bob, RequestAction::Approve(None)),
        Err(RequestError::NotApprover { .. })
    ));
    assert!(matches!(
        act(&req, &item, &bob, RequestAction::Take),
        Err(RequestError::IllegalTransition { .. })
    ));
    let req = act(&req, &item, &mia, RequestAction::Approve(Some(text("ok")))).unwrap();
    assert_eq!(req.status, RequestStatus::Approved);
    assert!(
        act(&req, &item, &mia, RequestAction::Take).is_err(),
        "not in the team"
    );
    let req = act(&req, &item, &bob, RequestAction::Take).unwrap();
    assert_eq!(req.status, RequestStatus::InProgress);
    assert_eq!(req.assignee, Some(bob.actor.clone()));
    let req = act(&req, &item, &bob, RequestAction::TaskDone(2)).unwrap();
    assert!(matches!(
        act(&req, &item, &bob, RequestAction::TaskDone(2)),
        Err(RequestError::TaskAlreadyDone { .. })
    ));
    assert!(matches!(
        act(&req, &item, &bob, RequestAction::TaskDone(4)),
        Err(RequestError::NoSuchTask { count: 3, .. })
    ));
    let err = act(&req, &item, &bob, RequestAction::Fulfil(None)).unwrap_err();
    assert!(err.to_string().contains("1. Order, 3. Hand over"), "{err}");
    let req = act(&req, &item, &bob, RequestAction::TaskDone(1)).unwrap();
    let req = act(&req, &item, &bob, RequestAction::TaskDone(3)).unwrap();
    let req = act(
        &req,
        &item,
        &bob,
        RequestAction::Fulfil(Some(text("handed over"))),
    )
    .unwrap();
    assert_eq!(req.status, RequestStatus::Fulfilled);
    assert!(req.fulfilled_at.is_some());
    let req = act(&req, &item, &eve, RequestAction::Close).unwrap();
    assert_eq!(req.status, RequestStatus::Closed);
    assert!(act(&req, &item, &eve, RequestAction::Cancel(text("no"))).is_err());
}

#[test]
fn approvals_needed_counts_distinct_approvers() {
    let mut item = laptop();
    item.approvals_needed = 2;
    let mia = who("shell:mia", &[]);
    let max = who("shell:max", &[Role::Manager]);
    let req = request(&item);
    let req = act(&req, &item, &mia, RequestAction::Approve(None)).unwrap();
    assert_eq!(req.status, RequestStatus::AwaitingApproval);
    assert!(matches!(
        act(&req, &item, &mia, RequestAction::Approve(None)),
        Err(RequestError::AlreadyApproved { needed: 2, .. })
    ));
    let req = act(&req, &item, &max, RequestAction::Approve(None)).unwrap();
    assert_eq!(req.status, RequestStatus::Approved);
}

#[test]
fn items_without_approval_start_approved_and_rejection_ends() {
    let mut item = laptop();
    item.approval.clear();
    assert_eq!(request(&item).status, RequestStatus::Approved);
    let item = laptop();
    let req = request(&item);
    let mia = who("shell:mia", &[]);
    let req = act(&req, &item, &mia, RequestAction::Reject(text("no budget"))).unwrap();
    assert_eq!(req.status, RequestStatus::Rejected);
    assert!(act(&req, &item, &mia, RequestAction::Approve(None)).is_err());
}

#[test]
fn hold_and_resume_return_where_they_were() {
    let item = laptop();
    let bob = who("shell:bob", &[Role::Engineer]);
    let mia = who("shell:mia", &[]);
    let req = act(&request(&item), &item, &mia, RequestAction::Approve(None)).unwrap();
    let req = act(&req, &item, &bob, RequestAction::Take).unwrap();
    let req = act(
        &req,
        &item,
        &bob,
        RequestAction::Hold(text("which colour?")),
    )
    .unwrap();
    assert_eq!(req.status, RequestStatus::OnHold);
    assert!(act(&req, &item, &bob, RequestAction::TaskDone(1)).is_err());
    let eve = who("shell:eve", &[]);
    let req = act(&req, &item, &eve, RequestAction::Resume).unwrap();
    assert_eq!(req.status, RequestStatus::InProgress);
    let stranger = who("shell:zed", &[]);
    assert!(matches!(
        act(&req, &item, &stranger, RequestAction::Cancel(text("x"))),
        Err(RequestError::NotRequesterOrTeam { .. })
    ));
    let req = act(&req, &item, &eve, RequestAction::Cancel(text("not needed"))).unwrap();
    assert_eq!(req.status, RequestStatus::Cancelled);
}

#[test]
fn a_runbook_answer_fulfils_when_no_task_is_left() {
    let mut item = laptop();
    item.tasks.clear();
    item.approval.clear();
    let bot = who("shell:bot", &[]);
    let req = request(&item);
    let failed = act(
        &req,
        &item,
        &bot,
        RequestAction::RunbookFailed {
            runbook: "provision-vm".into(),
            error: "HTTP 500".into(),
        },
    )
    .unwrap();
    assert_eq!(failed.status, RequestStatus::InProgress);
    let done = act(
        &req,
        &item,
        &bot,
        RequestAction::RunbookDone {
            runbook: "provision-vm".into(),
            answer: "vm-17 ready".into(),
        },
    )
    .unwrap();
    assert_eq!(done.status, RequestStatus::Fulfilled);
    assert_eq!(done.outcome.as_deref(), Some("vm-17 ready"));
}

#[test]
fn fields_are_checked_with_what_would_work() {
    let item = laptop();
    let eve = user("shell:eve");
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ok = check_fields(
        &item,
        &pairs(&[("Model", "15-INCH"), ("start", "2026-12-24"), ("for", "me")]),
        Platform::Shell,
        &eve,
    )
    .unwrap();
    assert_eq!(ok["model"], "15-inch");
    assert_eq!(ok["for"], "shell:eve");
    let err = check_fields(&item, &[], Platform::Shell, &eve).unwrap_err();
    assert!(
        err.to_string().contains("/request laptop model:13-inch"),
        "{err}"
    );
    // What was given is kept in the example; what is missing is asked
    // for, never guessed.
    let err = check_fields(
        &item,
        &pairs(&[("reason", "new starter"), ("start", "2027-01-04")]),
        Platform::Shell,
        &eve,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`laptop` needs model (one of 13-inch, 15-inch); for example `/request laptop model:13-inch reason:\"new starter\" start:2027-01-04`"
    );
    assert_eq!(err.field(), "model", "a form shows it on the missing field");
    let err = check_fields(&item, &pairs(&[("colour", "red")]), Platform::Shell, &eve).unwrap_err();
    assert!(err.to_string().contains("its fields are model"), "{err}");
    let err = check_fields(
        &item,
        &pairs(&[("model", "17-inch")]),
        Platform::Shell,
        &eve,
    )
    .unwrap_err();
    assert!(err.to_string().contains("one of 13-inch, 15-inch"), "{err}");
    assert_eq!(err.field(), "model");
    for (field, value) in [("start", "24.12.2026"), ("for", "nobody at all")] {
        let given = pairs(&[("model", "13-inch"), (field, value)]);
        assert!(
            matches!(
                check_fields(&item, &given, Platform::Shell, &eve),
                Err(FieldError::BadValue { .. })
            ),
            "{field}={value}"
        );
    }
    let twice = pairs(&[("model", "13-inch"), ("model", "15-inch")]);
    assert!(matches!(
        check_fields(&item, &twice, Platform::Shell, &eve),
        Err(FieldError::Twice { .. })
    ));
}

#[test]
fn did_you_mean_finds_near_names() {
    let item = laptop();
    let catalog = [item];
    assert_eq!(
        closest(&catalog, "labtop").map(|i| i.name.as_str()),
        Some("laptop")
    );
    assert!(closest(&catalog, "coffee").is_none());
}

#[test]
fn the_fulfilment_clock_counts_business_time_and_pauses_on_hold() {
    use crate::domain::calendar::{BusinessCalendar, Hours};
    let hours = Hours::Business(BusinessCalendar::office_utc());
    // Wednesday 09:00; 16h of office time is due Thursday 17:00.
    let approved = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let within = Duration::hours(16);
    let thursday_five = Utc.with_ymd_and_hms(2026, 11, 26, 17, 0, 0).unwrap();
    assert_eq!(
        fulfil_clock(None, None, within, &hours, &[], approved),
        FulfilClock::NotStarted
    );
    assert_eq!(
        fulfil_clock(Some(approved), None, within, &hours, &[], approved),
        FulfilClock::Due(thursday_five)
    );
    // Two office hours on hold move it to Friday 11:00.
    let held = approved + Duration::hours(1);
    let holds = [(held, Some(held + Duration::hours(2)))];
    let friday_eleven = Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap();
    assert_eq!(
        fulfil_clock(
            Some(approved),
            None,
            within,
            &hours,
            &holds,
            approved + Duration::hours(5)
        ),
        FulfilClock::Due(friday_eleven)
    );
    let open_hold = [(held, None)];
    assert_eq!(
        fulfil_clock(
            Some(approved),
            None,
            within,
            &hours,
            &open_hold,
            held + Duration::hours(3)
        ),
        FulfilClock::Paused {
            left: Duration::hours(15)
        }
    );
    assert_eq!(
        fulfil_clock(
            Some(approved),
            Some(friday_eleven),
            within,
            &hours,
            &holds,
            friday_eleven
        ),
        FulfilClock::Stopped {
            at: friday_eleven,
            met: true
        }
    );
    assert_eq!(
        fulfil_clock(
            Some(approved),
            Some(friday_eleven),
            within,
            &hours,
            &[],
            friday_eleven
        ),
        FulfilClock::Stopped {
            at: friday_eleven,
            met: false
        }
    );
}

#[test]
fn the_due_instant_the_figures_judge_follows_the_holds() {
    use crate::domain::calendar::{BusinessCalendar, Hours};
    let hours = Hours::Business(BusinessCalendar::office_utc());
    let approved = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let within = Duration::hours(16);
    let thursday_five = Utc.with_ymd_and_hms(2026, 11, 26, 17, 0, 0).unwrap();
    assert_eq!(fulfil_due(None, within, &hours, &[]), None);
    assert_eq!(
        fulfil_due(Some(approved), within, &hours, &[]),
        Some(thursday_five)
    );
    let held = approved + Duration::hours(1);
    // Paused with time left: no due instant to judge against.
    assert_eq!(
        fulfil_due(Some(approved), within, &hours, &[(held, None)]),
        None
    );
    // Two office hours on hold move it to Friday 11:00.
    assert_eq!(
        fulfil_due(
            Some(approved),
            within,
            &hours,
            &[(held, Some(held + Duration::hours(2)))]
        ),
        Some(Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap())
    );
    // Held after it was due: it stays breached at Thursday 17:00.
    let late = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
    assert_eq!(
        fulfil_due(Some(approved), within, &hours, &[(late, None)]),
        Some(thursday_five)
    );
}

#[test]
fn thresholds_are_reached_by_counted_time() {
    let within = Duration::hours(8);
    assert_eq!(
        threshold_reached(Duration::hours(5), within, &[75, 90, 100]),
        None
    );
    assert_eq!(
        threshold_reached(Duration::hours(6), within, &[75, 90, 100]),
        Some(75)
    );
    assert_eq!(
        threshold_reached(Duration::hours(9), within, &[75, 90, 100]),
        Some(100)
    );
    assert_eq!(
        threshold_reached(Duration::hours(9), Duration::zero(), &[100]),
        None
    );
}
