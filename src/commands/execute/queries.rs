//! The read-mostly `/itsm` commands in the engine: `/itsm help`, `mine`,
//! `open`, `report`, `sla`, `whoami`, and the dispatch of the other `/itsm`
//! subcommands (roles, outbox, action items, rules, runbooks, services,
//! on-call, changes) to the files that handle them.

use sqlx::PgConnection;

use super::{Engine, ExecError, Request, LIST_LIMIT};
use crate::commands::command::QueryCommand;
use crate::commands::help::help;
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Reply};
use crate::commands::view;
use crate::domain::Role;
use crate::store;
use crate::store::incidents::OpenFilter;

impl Engine {
    pub(super) async fn query(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        query: QueryCommand,
    ) -> Result<Reply, ExecError> {
        let message = match query {
            QueryCommand::Help(topic) => help(topic.as_deref())?,
            QueryCommand::Grant(user, role) => return self.grant(conn, request, user, role).await,
            QueryCommand::Revoke(user, role) => {
                return self.revoke(conn, request, user, role).await
            }
            QueryCommand::Changes(range) => {
                return self.change_schedule(conn, request, range).await
            }
            QueryCommand::Requests(list) => return self.list_requests(conn, request, list).await,
            QueryCommand::Outbox => return self.outbox_status(conn, request).await,
            QueryCommand::Actions { mine } => return self.list_actions(conn, request, mine).await,
            QueryCommand::ActionDone(id) => return self.action_done(conn, request, id).await,
            QueryCommand::Rules => {
                self.require_automation_reader(conn, &request.actor).await?;
                return self.list_rules(conn).await;
            }
            QueryCommand::Runbooks => return self.list_runbooks(conn, request).await,
            QueryCommand::Run {
                runbook,
                incident,
                args,
            } => {
                return self
                    .run_runbook(conn, request, &runbook, incident, &args)
                    .await
            }
            QueryCommand::RaiseAction(id, raise_as) => {
                return self.raise_action(conn, request, id, raise_as).await
            }
            QueryCommand::OutboxRetry(ids) => return self.outbox_retry(conn, request, ids).await,
            QueryCommand::Services => return self.list_services(conn).await,
            QueryCommand::Service(name) => return self.show_service(conn, &name).await,
            QueryCommand::Oncall(target) => return self.show_oncall(conn, target).await,
            QueryCommand::OncallOverride(wanted) => {
                return self.override_oncall(conn, request, wanted).await
            }
            QueryCommand::Sla => view::incident::sla_policy(self.sla_policy()),
            QueryCommand::Report(period, date) => {
                let roles = self.roles_of(conn, &request.actor).await?;
                if !(roles.allows(Role::Manager) || roles.allows(Role::Engineer)) {
                    return Err(Refusal::new(format!(
                        "Only someone with the manager or engineer role can read reports; you ({}) have neither.",
                        request.actor
                    ))
                    .into());
                }
                let now = self.clock.now();
                let span =
                    crate::domain::report::Span::of(period, date, now, self.config.report_zone());
                let report = crate::commands::period_report::report_with(conn, span, now).await?;
                crate::commands::period_report::message(&report)
            }
            QueryCommand::TimeZone(choice) => {
                return self.person_time_zone(conn, request, choice).await
            }
            QueryCommand::Whoami => {
                let roles = self.roles_of(conn, &request.actor).await?;
                let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
                Message::text(format!("You are {}.", request.actor))
                    .with(Block::Fields(vec![("Roles".into(), names.join(", "))]))
            }
            QueryCommand::Open(priorities) => {
                let filter = OpenFilter {
                    priorities: priorities.clone(),
                    ..OpenFilter::default()
                };
                let (incidents, total) =
                    store::incidents::list_open(conn, &filter, LIST_LIMIT).await?;
                let which = if priorities.is_empty() {
                    String::new()
                } else {
                    format!(
                        " {}",
                        priorities
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("/")
                    )
                };
                list_message(
                    &format!("Open{which} incidents"),
                    &incidents,
                    total,
                    self.zone(),
                )
            }
            QueryCommand::Mine => {
                let assigned = OpenFilter {
                    assignee: Some(request.actor.clone()),
                    ..OpenFilter::default()
                };
                let reported = OpenFilter {
                    reporter: Some(request.actor.clone()),
                    ..OpenFilter::default()
                };
                let (assigned, assigned_total) =
                    store::incidents::list_open(conn, &assigned, LIST_LIMIT).await?;
                let (reported, reported_total) =
                    store::incidents::list_open(conn, &reported, LIST_LIMIT).await?;
                let mut message =
                    list_message("Assigned to you", &assigned, assigned_total, self.zone());
                message.blocks.extend(
                    list_message("Reported by you", &reported, reported_total, self.zone()).blocks,
                );
                message
            }
        };
        Ok(Reply::answer(message))
    }
}

fn list_message(
    title: &str,
    incidents: &[crate::domain::incident::Incident],
    total: i64,
    zone: chrono_tz::Tz,
) -> Message {
    if incidents.is_empty() {
        return Message::text(format!("{title}: none."));
    }
    let mut items: Vec<String> = incidents
        .iter()
        .map(|i| view::incident::incident_line(i, zone))
        .collect();
    let shown = incidents.len() as i64;
    if total > shown {
        items.push(format!("… and {} more", total - shown));
    }
    Message::default().with(Block::List {
        title: Some(format!("{title} ({total})")),
        items,
    })
}
