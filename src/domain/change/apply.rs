//! [`Change::apply`]: one method per [`ChangeAction`], each checking what
//! the action needs and recording what it did. `apply` only dispatches.

use chrono::Duration;

use super::{
    show_time, Applied, ApplyContext, Approval, Change, ChangeAction, ChangeError, ChangeStatus,
    ChangeType, EarlyStart, Freeze, GuardMode, PlanKind, Risk, Window, WindowError,
};
use crate::domain::duration::format_duration;
use crate::domain::priority::Level;
use crate::domain::text::FreeText;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::user::UserId;

use ChangeStatus::{
    Approved, Cancelled, Completed, Draft, Failed, InProgress, Rejected, RolledBack, Submitted,
};

/// What one action makes of a change: its next state, the events that
/// record it and the guard warnings.
struct Step {
    next: Change,
    events: Vec<NewEvent>,
    flags: Vec<String>,
}

impl Change {
    /// Applies `action` in `ctx`, or says why it is not allowed. Pure: the
    /// caller stores the result. Role checks are the caller's; this checks
    /// what depends on the change (own approval, repeated approval, …).
    pub fn apply(
        &self,
        action: &ChangeAction,
        ctx: &ApplyContext<'_>,
    ) -> Result<Applied, ChangeError> {
        let mut next = self.clone();
        next.updated_at = ctx.now;
        let mut step = Step {
            next,
            events: Vec::new(),
            flags: Vec::new(),
        };
        let s = &mut step;
        match action {
            ChangeAction::Describe(text) => self.describe(s, text)?,
            ChangeAction::Plan(kind, text) => self.plan(s, *kind, text)?,
            ChangeAction::Schedule(start, duration) => {
                self.schedule(s, ctx, start, *duration)?;
            }
            ChangeAction::Assess { impact, likelihood } => {
                self.assess(s, ctx, *impact, *likelihood)?;
            }
            ChangeAction::SetRisk(risk) => self.set_risk(s, *risk)?,
            ChangeAction::Implementer(user) => self.set_implementer(s, user)?,
            ChangeAction::PlannedOutage => self.plan_outage(s)?,
            ChangeAction::Note(text) => {
                s.events
                    .push(NewEvent::new(EventAction::Note).body(text.as_str()));
            }
            ChangeAction::Submit => self.submit(s, ctx)?,
            ChangeAction::Approve(comment) => self.approve(s, ctx, comment.as_ref())?,
            ChangeAction::Reject(reason) => self.reject(s, ctx, reason)?,
            ChangeAction::Start { confirmed } => self.start(s, ctx, *confirmed)?,
            ChangeAction::Complete(note) => self.finish(
                s,
                ctx,
                Completed,
                EventAction::Completed,
                "completed",
                note.as_ref().map(FreeText::as_str),
            )?,
            ChangeAction::RolledBack(note) if self.status == Failed => {
                self.roll_back_failed(s, ctx, note.as_ref().map(FreeText::as_str));
            }
            ChangeAction::RolledBack(note) => self.finish(
                s,
                ctx,
                RolledBack,
                EventAction::RolledBack,
                "rolled back",
                note.as_ref().map(FreeText::as_str),
            )?,
            ChangeAction::Fail(what) => self.finish(
                s,
                ctx,
                Failed,
                EventAction::Failed,
                "failed",
                Some(what.as_str()),
            )?,
            ChangeAction::Cancel(why) => self.cancel(s, ctx, why.as_ref())?,
        }
        // `start` puts its warning in the body of its own event.
        if !matches!(action, ChangeAction::Start { .. }) {
            for flag in &step.flags {
                step.events
                    .push(NewEvent::new(EventAction::Flagged).body(flag.clone()));
            }
        }
        Ok(Applied {
            change: step.next,
            events: step.events,
            flags: step.flags,
        })
    }

    /// A refusal because of the change's status.
    fn illegal(&self, attempted: &'static str, hint: impl Into<String>) -> ChangeError {
        ChangeError::IllegalTransition {
            reference: self.reference(),
            status: self.status,
            attempted,
            hint: hint.into(),
        }
    }

    /// Edits are for drafts only.
    fn draft_only(&self, attempted: &'static str) -> Result<(), ChangeError> {
        if self.status == Draft {
            Ok(())
        } else {
            Err(self.illegal(
                attempted,
                "only a draft can be edited; cancel it and draft a new change if the plans must change",
            ))
        }
    }

    /// `describe <text>`.
    fn describe(&self, s: &mut Step, text: &FreeText) -> Result<(), ChangeError> {
        self.draft_only("edited")?;
        s.next.description = text.to_string();
        s.events.push(
            NewEvent::new(EventAction::Planned)
                .change(None, "description")
                .body(text.as_str()),
        );
        Ok(())
    }

    /// `plan`, `test` or `rollback <text>`.
    fn plan(&self, s: &mut Step, kind: PlanKind, text: &FreeText) -> Result<(), ChangeError> {
        self.draft_only("edited")?;
        let slot = match kind {
            PlanKind::Implementation => &mut s.next.plan,
            PlanKind::Test => &mut s.next.test_plan,
            PlanKind::Rollback => &mut s.next.rollback_plan,
        };
        *slot = Some(text.to_string());
        s.events.push(
            NewEvent::new(EventAction::Planned)
                .change(None, kind.noun())
                .body(text.as_str()),
        );
        Ok(())
    }

    /// `window <start> <duration>`.
    fn schedule(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        start: &super::StartTime,
        duration: Duration,
    ) -> Result<(), ChangeError> {
        self.draft_only("rescheduled")?;
        let window = Window::new(start.resolve(ctx.rules.time_zone)?, duration)?;
        if window.end() <= ctx.now {
            return Err(WindowError::Ended {
                window: window.describe(ctx.rules.time_zone),
            }
            .into());
        }
        s.flags = self.guard_window(&window, ctx)?;
        s.next.window = Some(window);
        s.events.push(
            NewEvent::new(EventAction::Scheduled).change(
                self.window
                    .as_ref()
                    .map(|w| w.describe(ctx.rules.time_zone)),
                window.describe(ctx.rules.time_zone),
            ),
        );
        Ok(())
    }

    /// `assess <impact> <likelihood>`: the risk from the matrix.
    fn assess(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        impact: Level,
        likelihood: Level,
    ) -> Result<(), ChangeError> {
        self.draft_only("reassessed")?;
        s.next.impact = impact;
        s.next.likelihood = likelihood;
        s.next.risk = ctx.rules.risk_matrix.risk(impact, likelihood);
        s.events.push(NewEvent::new(EventAction::Assessed).change(
            Some(self.risk.to_string()),
            format!(
                "{} (impact {impact} × likelihood {likelihood})",
                s.next.risk
            ),
        ));
        Ok(())
    }

    /// `risk <level>`.
    fn set_risk(&self, s: &mut Step, risk: Risk) -> Result<(), ChangeError> {
        self.draft_only("reassessed")?;
        if risk == self.risk {
            return Err(ChangeError::Unchanged {
                reference: self.reference(),
                what: format!("{risk} risk"),
            });
        }
        s.next.risk = risk;
        s.events.push(
            NewEvent::new(EventAction::Assessed)
                .change(Some(self.risk.to_string()), risk.to_string()),
        );
        Ok(())
    }

    /// `implementer <user>`.
    fn set_implementer(&self, s: &mut Step, user: &UserId) -> Result<(), ChangeError> {
        if !self.status.is_open() {
            return Err(self.illegal("reassigned", "it is finished"));
        }
        if self.implementer.as_ref() == Some(user) {
            return Err(ChangeError::Unchanged {
                reference: self.reference(),
                what: format!("implemented by {user}"),
            });
        }
        s.next.implementer = Some(user.clone());
        s.events.push(NewEvent::new(EventAction::Assigned).change(
            self.implementer.as_ref().map(ToString::to_string),
            user.to_string(),
        ));
        Ok(())
    }

    /// `outage`: the window takes the service down on purpose.
    fn plan_outage(&self, s: &mut Step) -> Result<(), ChangeError> {
        self.draft_only("edited")?;
        if self.planned_outage {
            return Err(ChangeError::Unchanged {
                reference: self.reference(),
                what: "a planned outage".into(),
            });
        }
        s.next.planned_outage = true;
        s.events.push(
            NewEvent::new(EventAction::Planned)
                .change(None, "planned outage")
                .body("the window takes the service down; downtime in it is not counted"),
        );
        Ok(())
    }

    /// `submit`: complete drafts go to the CAB; standard changes are
    /// approved at once.
    fn submit(&self, s: &mut Step, ctx: &ApplyContext<'_>) -> Result<(), ChangeError> {
        if self.status != Draft {
            return Err(self.illegal("submitted", "only a draft can be submitted"));
        }
        let reference = self.reference();
        let missing = self.missing_for_submit();
        if !missing.is_empty() {
            return Err(ChangeError::Incomplete {
                reference,
                missing: missing.iter().map(|(noun, _)| *noun).collect(),
                commands: missing
                    .iter()
                    .map(|(_, command)| format!("`/change {reference} {command}`"))
                    .collect(),
            });
        }
        if let Some(window) = &self.window {
            if window.end() <= ctx.now {
                return Err(WindowError::Ended {
                    window: window.describe(ctx.rules.time_zone),
                }
                .into());
            }
            s.flags = self.guard_window(window, ctx)?;
        }
        s.next.status = Submitted;
        s.next.submitted_at = Some(ctx.now);
        s.events.push(
            NewEvent::new(EventAction::Submitted)
                .change(Some(Draft.to_string()), Submitted.to_string()),
        );
        if self.change_type == ChangeType::Standard {
            s.next.status = Approved;
            s.next.approved_at = Some(ctx.now);
            let entry = self.standard.as_deref().unwrap_or("the catalog");
            s.events.push(
                NewEvent::new(EventAction::Approved)
                    .change(Some(Submitted.to_string()), Approved.to_string())
                    .body(format!("pre-approved standard change ({entry})")),
            );
        }
        Ok(())
    }

    /// `approve [comment]`: approved once enough CAB members have.
    fn approve(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        comment: Option<&FreeText>,
    ) -> Result<(), ChangeError> {
        self.check_decision(ctx, "approved")?;
        if self.approvals.iter().any(|a| &a.approver == ctx.actor) {
            return Err(ChangeError::AlreadyApproved {
                reference: self.reference(),
                needed: self.approvals_needed(ctx.rules),
            });
        }
        s.next.approvals.push(Approval {
            approver: ctx.actor.clone(),
            at: ctx.now,
            comment: comment.map(ToString::to_string),
        });
        let needed = self.approvals_needed(ctx.rules);
        let have = s.next.approvals.len() as u32;
        let mut approval =
            NewEvent::new(EventAction::ApprovalGiven).change(None, format!("{have} of {needed}"));
        if let Some(comment) = comment {
            approval = approval.body(comment.as_str());
        }
        s.events.push(approval);
        if have >= needed {
            s.next.status = Approved;
            s.next.approved_at = Some(ctx.now);
            s.events.push(
                NewEvent::new(EventAction::Approved)
                    .change(Some(Submitted.to_string()), Approved.to_string()),
            );
        }
        Ok(())
    }

    /// `reject <reason>`.
    fn reject(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        reason: &FreeText,
    ) -> Result<(), ChangeError> {
        self.check_decision(ctx, "rejected")?;
        s.next.status = Rejected;
        s.next.rejection = Some(reason.to_string());
        s.next.finished_at = Some(ctx.now);
        s.events.push(
            NewEvent::new(EventAction::Rejected)
                .change(Some(Submitted.to_string()), Rejected.to_string())
                .body(reason.as_str()),
        );
        Ok(())
    }

    /// `start` (`start now` when `confirmed`): early and late starts per
    /// config.
    fn start(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        confirmed: bool,
    ) -> Result<(), ChangeError> {
        if self.status != Approved {
            let hint = match self.status {
                Draft => "submit it and have it approved first".to_string(),
                Submitted => format!(
                    "it still needs {} more approval(s)",
                    self.approvals_needed(ctx.rules)
                        .saturating_sub(self.approvals.len() as u32)
                ),
                InProgress => "it is already under way".to_string(),
                _ => "it is finished".to_string(),
            };
            return Err(self.illegal("started", hint));
        }
        let reference = self.reference();
        let mut started = NewEvent::new(EventAction::Started)
            .change(Some(Approved.to_string()), InProgress.to_string());
        if let Some(window) = &self.window {
            if ctx.now < window.start {
                let until = || {
                    format_duration(Duration::minutes(
                        (window.start - ctx.now).num_minutes().max(1),
                    ))
                };
                match (ctx.rules.early_start, confirmed) {
                    (EarlyStart::Refuse, _) => {
                        return Err(ChangeError::EarlyStartRefused {
                            reference,
                            opens: show_time(window.start, ctx.rules.time_zone),
                        })
                    }
                    (EarlyStart::Confirm, false) => {
                        return Err(ChangeError::EarlyStartNeedsConfirmation {
                            reference,
                            opens: show_time(window.start, ctx.rules.time_zone),
                            until: until(),
                            command: format!("/change {reference} start now"),
                        })
                    }
                    (EarlyStart::Confirm, true) => {
                        let flag = format!(
                            "Started {} before its window opens ({}).",
                            until(),
                            show_time(window.start, ctx.rules.time_zone)
                        );
                        started = started.body(flag.clone());
                        s.flags.push(flag);
                    }
                }
            } else if ctx.now >= window.end() {
                let flag = format!(
                    "Started after its window ended ({}).",
                    show_time(window.end(), ctx.rules.time_zone)
                );
                started = started.body(flag.clone());
                s.flags.push(flag);
            }
        }
        s.next.status = InProgress;
        s.next.started_at = Some(ctx.now);
        s.events.push(started);
        Ok(())
    }

    /// `complete`, `fail` or `rolled-back`: ends a change in progress.
    fn finish(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        status: ChangeStatus,
        action: EventAction,
        verb: &'static str,
        note: Option<&str>,
    ) -> Result<(), ChangeError> {
        if self.status != InProgress {
            let hint = match self.status {
                Approved => format!("start it first (`/change {} start`)", self.reference()),
                _ => "only a change in progress can be finished".to_string(),
            };
            return Err(self.illegal(verb, hint));
        }
        s.next.status = status;
        s.next.finished_at = Some(ctx.now);
        let mut event =
            NewEvent::new(action).change(Some(self.status.to_string()), status.to_string());
        if let Some(note) = note {
            s.next.outcome = Some(note.to_string());
            event = event.body(note);
        }
        s.events.push(event);
        Ok(())
    }

    /// `rolled-back [note]` on a failed change: the normal end of a failure.
    /// The failure stays on the record (the outcome keeps it, with the
    /// rollback note after it) and the change finishes when the rollback
    /// does.
    fn roll_back_failed(&self, s: &mut Step, ctx: &ApplyContext<'_>, note: Option<&str>) {
        s.next.status = RolledBack;
        s.next.finished_at = Some(ctx.now);
        let mut event = NewEvent::new(EventAction::RolledBack)
            .change(Some(self.status.to_string()), RolledBack.to_string());
        if let Some(note) = note {
            s.next.outcome = Some(match &self.outcome {
                Some(failure) => format!("{failure} — rolled back: {note}"),
                None => note.to_string(),
            });
            event = event.body(note);
        }
        s.events.push(event);
    }

    /// `cancel [why]`: any open change.
    fn cancel(
        &self,
        s: &mut Step,
        ctx: &ApplyContext<'_>,
        why: Option<&FreeText>,
    ) -> Result<(), ChangeError> {
        if !self.status.is_open() {
            return Err(self.illegal("cancelled", "it is already finished"));
        }
        s.next.status = Cancelled;
        s.next.finished_at = Some(ctx.now);
        let mut event = NewEvent::new(EventAction::Cancelled)
            .change(Some(self.status.to_string()), Cancelled.to_string());
        if let Some(why) = why {
            event = event.body(why.as_str());
            s.next.outcome = Some(why.to_string());
        }
        s.events.push(event);
        Ok(())
    }

    /// Who may decide, and when: not on a standard change (unless a
    /// runbook asked), only once submitted, never the requester.
    fn check_decision(
        &self,
        ctx: &ApplyContext<'_>,
        attempted: &'static str,
    ) -> Result<(), ChangeError> {
        let reference = self.reference();
        if self.change_type == ChangeType::Standard && self.runbook().is_none() {
            return Err(ChangeError::StandardNeedsNoDecision { reference });
        }
        if self.status != Submitted {
            let hint = match self.status {
                Draft => format!("it has to be submitted first (`/change {reference} submit`)"),
                _ => "the decision has been made".to_string(),
            };
            return Err(self.illegal(attempted, hint));
        }
        if &self.requester == ctx.actor {
            return Err(ChangeError::OwnApproval { reference });
        }
        Ok(())
    }

    /// The freezes `window` falls in.
    fn freezes_hit<'r>(&self, window: &Window, rules: &'r super::ChangeRules) -> Vec<&'r Freeze> {
        rules
            .freezes
            .iter()
            .filter(|freeze| freeze.overlaps(window))
            .collect()
    }

    /// Applies the window guards: freezes (refused unless emergency) and
    /// overlaps (flagged or refused per config). Returns the flags.
    fn guard_window(
        &self,
        window: &Window,
        ctx: &ApplyContext<'_>,
    ) -> Result<Vec<String>, ChangeError> {
        let reference = self.reference();
        let mut flags = Vec::new();
        for freeze in self.freezes_hit(window, ctx.rules) {
            if self.change_type == ChangeType::Emergency {
                flags.push(format!(
                    "Emergency change in the `{}` freeze ({}).",
                    freeze.name,
                    freeze.describe(ctx.rules.time_zone)
                ));
            } else {
                return Err(ChangeError::Frozen {
                    reference,
                    window: window.describe(ctx.rules.time_zone),
                    freeze: freeze.name.clone(),
                    period: freeze.describe(ctx.rules.time_zone),
                });
            }
        }
        if !ctx.overlapping.is_empty() {
            if ctx.rules.overlap == GuardMode::Refuse && self.change_type != ChangeType::Emergency {
                return Err(ChangeError::Overlap {
                    reference,
                    others: ctx.overlapping.to_vec(),
                });
            }
            flags.push(format!(
                "Window overlaps {} on {}.",
                ctx.overlapping
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.service.as_deref().unwrap_or("the same service")
            ));
        }
        Ok(flags)
    }
}
