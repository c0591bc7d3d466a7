//! The service catalog, availability, on-call and status updates:
//! `/itsm services`, `/itsm service <name>`, `/itsm oncall …`,
//! `/incident INC-n outage [since <time>]`, `/incident INC-n public <text>`,
//! and the page a new P1/P2 incident sends to its service's on-call person.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::no_such;
use super::{Engine, ExecError, Request};
use crate::commands::command::OverrideRequest;
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::availability::{show_percent, Availability};
use crate::domain::change::StartTime;
use crate::domain::duration::format_duration;
use crate::domain::incident::Incident;
use crate::domain::oncall::{Override, Rotation, Shift};
use crate::domain::service::{nearest_names, CatalogEntry};
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{FreeText, Priority, Role, TicketRef, UserId};
use crate::store::{self, StoreError};

use crate::commands::service_status::{notice_channel, oncall_actor, service_views};

fn availability_line(a: &Availability) -> String {
    format!(
        "{} over 30 days (target {}); error budget {} of {} left ({:.0}% spent)",
        show_percent(a.percent),
        show_percent(a.target),
        format_duration(a.budget_left()),
        format_duration(a.budget),
        a.budget_spent()
    )
}

fn shift_line(shift: &Shift, zone: chrono_tz::Tz) -> String {
    format!(
        "{}{} until {}",
        shift.member,
        if shift.overridden { " (override)" } else { "" },
        crate::domain::moment::stamp(shift.end, zone)
    )
}

impl Engine {
    /// The id of the catalog service `name`, or a refusal naming the
    /// nearest names (or the whole catalog).
    pub(super) async fn find_service(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<i64, ExecError> {
        if let Some(id) = store::services::find_id(conn, name).await? {
            return Ok(id);
        }
        let names = store::services::names(conn).await?;
        let nearest = nearest_names(name, names.iter().map(String::as_str));
        let hint = if nearest.is_empty() {
            format!(
                "Services in the catalog: {}.",
                if names.is_empty() {
                    "none yet".to_string()
                } else {
                    names.join(", ")
                }
            )
        } else {
            format!(
                "Did you mean {}?",
                nearest
                    .iter()
                    .map(|n| format!("`service:{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        Err(
            Refusal::new(format!("There is no service `{name}` in the catalog."))
                .hint(hint)
                .into(),
        )
    }

    /// The rotation called `name` with its current overrides at `at`.
    async fn rotation_at(
        &self,
        conn: &mut PgConnection,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<(Rotation, Vec<Override>)>, StoreError> {
        let Some(rotation) = self.config.rotation(name) else {
            return Ok(None);
        };
        let overrides = store::oncall::overrides(conn, name, at).await?;
        Ok(Some((rotation, overrides)))
    }

    /// `/itsm services`.
    pub(super) async fn list_services(&self, conn: &mut PgConnection) -> Result<Reply, ExecError> {
        let views = service_views(conn, self.clock.now()).await?;
        if views.is_empty() {
            return Ok(Reply::answer(Message::text(
                "The service catalog is empty. Services are defined under [[services]] in the configuration.",
            )));
        }
        let items = views
            .iter()
            .map(|v| {
                format!(
                    "{} {} — {} · {} (target {}){}{}",
                    v.status.icon(),
                    v.entry.name,
                    v.status,
                    show_percent(v.availability.percent),
                    show_percent(v.availability.target),
                    v.entry
                        .owner
                        .as_ref()
                        .map(|o| format!(" · owner {o}"))
                        .unwrap_or_default(),
                    if v.open.is_empty() {
                        String::new()
                    } else {
                        format!(" · {} open", v.open.len())
                    }
                )
            })
            .collect();
        Ok(Reply::answer(
            Message::default()
                .with(Block::List {
                    title: Some(format!("Services ({})", views.len())),
                    items,
                })
                .with(Block::Context(
                    "`/itsm service <name>` shows one in detail; availability is over the last 30 days.".into(),
                )),
        ))
    }

    /// `/itsm service <name>`.
    pub(super) async fn show_service(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<Reply, ExecError> {
        self.find_service(conn, name).await?;
        let now = self.clock.now();
        let views = service_views(conn, now).await?;
        let Some(view) = views.into_iter().find(|v| v.entry.name == name) else {
            return Err(
                Refusal::new(format!("There is no service `{name}` in the catalog.")).into(),
            );
        };
        let entry = &view.entry;
        let mut fields = vec![
            (
                "Status".to_string(),
                format!("{} {}", view.status.icon(), view.status),
            ),
            (
                "Owner".to_string(),
                entry
                    .owner
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "—".into()),
            ),
        ];
        if let Some(tier) = &entry.tier {
            fields.push(("Tier".into(), tier.clone()));
        }
        let on_call = match &entry.rotation {
            Some(rotation) => match self.rotation_at(conn, rotation, now).await? {
                Some((r, overrides)) => {
                    format!(
                        "{} ({rotation})",
                        shift_line(&r.on_call(&overrides, now), self.zone())
                    )
                }
                None => format!("rotation `{rotation}` is not configured"),
            },
            None => "no rotation".into(),
        };
        fields.push(("On call".into(), on_call));
        if !entry.depends_on.is_empty() {
            fields.push(("Depends on".into(), entry.depends_on.join(", ")));
        }
        let mut message = Message::default()
            .with(Block::Header(format!(
                "{} {}",
                entry.name,
                if entry.description.is_empty() {
                    String::new()
                } else {
                    format!("— {}", entry.description)
                }
            )))
            .with(Block::Fields(fields))
            .with(Block::Text(format!(
                "Availability: {}.",
                availability_line(&view.availability)
            )));
        let open: Vec<String> = view
            .open
            .iter()
            .map(|i| {
                format!(
                    "INC-{} ({}, {}){}: {}",
                    i.number,
                    i.priority(),
                    i.status,
                    if i.outage_since.is_some() {
                        " outage"
                    } else {
                        ""
                    },
                    i.title
                )
            })
            .collect();
        message = message.with(Block::List {
            title: Some(format!("Open incidents ({})", open.len())),
            items: if open.is_empty() {
                vec!["none".into()]
            } else {
                open
            },
        });
        let changes: Vec<String> =
            store::changes::scheduled(conn, now, now + Duration::days(7), 100)
                .await?
                .into_iter()
                .filter(|c| c.service.as_deref() == Some(name))
                .map(|c| {
                    format!(
                        "{} ({}): {} — {}",
                        c.reference(),
                        c.status,
                        c.title,
                        c.window.map(|w| w.stamped(self.zone())).unwrap_or_default()
                    )
                })
                .collect();
        message = message.with(Block::List {
            title: Some(format!("Changes in the next 7 days ({})", changes.len())),
            items: if changes.is_empty() {
                vec!["none".into()]
            } else {
                changes
            },
        });
        Ok(Reply::answer(message))
    }

    /// `/itsm oncall [service|rotation]`.
    pub(super) async fn show_oncall(
        &self,
        conn: &mut PgConnection,
        target: Option<String>,
    ) -> Result<Reply, ExecError> {
        let now = self.clock.now();
        let names: Vec<String> = match &target {
            None => self
                .config
                .oncall
                .rotations
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            Some(name) => {
                if self.config.rotation(name).is_some() {
                    vec![name.clone()]
                } else if let Some(entry) = store::services::entry(conn, name).await? {
                    match entry.rotation {
                        Some(rotation) => vec![rotation],
                        None => return Err(Refusal::new(format!(
                            "Service `{name}` has no on-call rotation."
                        ))
                        .hint("Give it one with `rotation = \"<name>\"` in its [[services]] entry.")
                        .into()),
                    }
                } else {
                    let mut known: Vec<String> = self
                        .config
                        .oncall
                        .rotations
                        .iter()
                        .map(|r| r.name.clone())
                        .collect();
                    known.extend(store::services::names(conn).await?);
                    let nearest = nearest_names(name, known.iter().map(String::as_str));
                    let hint = if nearest.is_empty() {
                        format!(
                            "Rotations and services: {}.",
                            if known.is_empty() {
                                "none yet".to_string()
                            } else {
                                known.join(", ")
                            }
                        )
                    } else {
                        format!(
                            "Did you mean {}?",
                            nearest
                                .iter()
                                .map(|n| format!("`/itsm oncall {n}`"))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )
                    };
                    return Err(
                        Refusal::new(format!("There is no service or rotation `{name}`."))
                            .hint(hint)
                            .into(),
                    );
                }
            }
        };
        if names.is_empty() {
            return Ok(Reply::answer(Message::text(
                "No on-call rotations are configured. Define them under [[oncall.rotations]].",
            )));
        }
        let mut items = Vec::new();
        for name in names {
            if let Some((rotation, overrides)) = self.rotation_at(conn, &name, now).await? {
                let current = rotation.on_call(&overrides, now);
                let next = rotation.next(&overrides, now);
                items.push(format!(
                    "{name}: now {}; next {} from {}",
                    shift_line(&current, self.zone()),
                    next.member,
                    self.stamp(next.start)
                ));
            }
        }
        Ok(Reply::answer(Message::default().with(Block::List {
            title: Some("On call".into()),
            items,
        })))
    }

    /// `/itsm oncall override @user <start> <duration> [rotation]` (engineers).
    pub(super) async fn override_oncall(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        wanted: OverrideRequest,
    ) -> Result<Reply, ExecError> {
        self.require(
            conn,
            &request.actor,
            Role::Engineer,
            "override the on-call rotation",
        )
        .await?;
        let rotations = &self.config.oncall.rotations;
        let all = || {
            rotations
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match &wanted.rotation {
            Some(name) if rotations.iter().any(|r| &r.name == name) => name.clone(),
            Some(name) => {
                return Err(Refusal::new(format!("There is no rotation `{name}`."))
                    .hint(format!(
                        "Rotations: {}.",
                        if rotations.is_empty() {
                            "none".to_string()
                        } else {
                            all()
                        }
                    ))
                    .into())
            }
            None => {
                let with_member: Vec<&str> = rotations
                    .iter()
                    .filter(|r| r.members.contains(&wanted.member))
                    .map(|r| r.name.as_str())
                    .collect();
                match (with_member.as_slice(), rotations.len()) {
                    ([one], _) => one.to_string(),
                    (_, 1) => rotations[0].name.clone(),
                    (_, 0) => {
                        return Err(Refusal::new("No on-call rotations are configured.")
                            .hint("Define them under [[oncall.rotations]] in the configuration.")
                            .into())
                    }
                    _ => {
                        return Err(Refusal::new("Which rotation? Name it after the duration.")
                            .hint(format!("For example: `/itsm oncall override {} 2026-11-28T09:00 2d <rotation>`; rotations: {}.", wanted.member, all()))
                            .into())
                    }
                }
            }
        };
        let Some(rotation) = self.config.rotation(&name) else {
            return Err(Refusal::new(format!("Rotation `{name}` is not usable.")).into());
        };
        let start = match wanted.start {
            StartTime::Fixed(at) => at,
            local => local
                .resolve(self.typing_zone(conn, request, rotation.time_zone).await?)
                .map_err(|err| Refusal::new(sentence(&err.to_string())))?,
        };
        let end = start + wanted.duration;
        let now = self.clock.now();
        if end <= now {
            return Err(Refusal::new(format!(
                "That override would have ended at {}, which has passed.",
                self.stamp(end)
            ))
            .hint("Give a start and duration that reach into the future.")
            .into());
        }
        let entry = Override {
            member: wanted.member.clone(),
            start,
            end,
        };
        store::oncall::add_override(conn, &name, &entry, &request.actor, now).await?;
        Ok(Reply::done(Message::text(format!(
            "{} is on call for {name} from {} to {} instead of the rotation.",
            wanted.member,
            self.stamp(start),
            self.stamp(end)
        ))))
    }

    /// `/incident INC-n outage [since <time>]` (engineers).
    pub(super) async fn mark_outage(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        since: Option<StartTime>,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Engineer, "mark an outage")
            .await?;
        let incident = store::incidents::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?;
        let Some(service) = incident.service.clone() else {
            return Err(Refusal::new(format!(
                "{reference} names no service, so its outage would count against nothing."
            ))
            .hint("Report outages with `service:<name>`, e.g. `/incident VPN down P1 service:vpn`.")
            .into());
        };
        let now = self.clock.now();
        let start = match since {
            // Down since it was reported; but after an earlier outage of it
            // ended (it was resolved, then reopened), down from now: the
            // time in between is downtime only if someone says so with `since`.
            None => match store::services::last_outage_end(conn, incident.id).await? {
                Some(_) => now,
                None => incident.created_at,
            },
            Some(StartTime::Fixed(at)) => at,
            Some(local) => local
                .resolve(self.typing_zone(conn, request, self.zone()).await?)
                .map_err(|err| Refusal::new(sentence(&err.to_string())))?,
        };
        if start > now {
            return Err(Refusal::new(format!(
                "An outage cannot start in the future ({}).",
                self.stamp(start)
            ))
            .hint(format!(
                "Give the time it began, e.g. `/incident {reference} outage since {}`.",
                now.format("%Y-%m-%dT%H:%M")
            ))
            .into());
        }
        if let (false, Some(resolved)) = (incident.status.is_open(), incident.resolved_at) {
            if start >= resolved {
                return Err(Refusal::new(format!(
                    "{reference} was resolved at {}, before that start.",
                    self.stamp(resolved)
                ))
                .hint("Give a start before the resolution.")
                .into());
            }
        }
        let before = store::services::outage_of(conn, incident.id).await?;
        let end = if incident.status.is_open() {
            None
        } else {
            incident.resolved_at
        };
        store::services::mark_outage(conn, incident.id, start, end).await?;
        let event = NewEvent::new(EventAction::Outage)
            .change(before.map(|at| self.plain_time(at)), self.plain_time(start));
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        let until = if incident.status.is_open() {
            "until it is resolved".to_string()
        } else {
            format!(
                "until {}",
                incident
                    .resolved_at
                    .map(|at| self.stamp(at))
                    .unwrap_or_default()
            )
        };
        Ok(Reply::done(Message::text(format!(
            "{reference} is an outage of {service} since {} {until}; it counts against the service's availability.",
            self.stamp(start)
        )))
        .about(reference))
    }

    /// `/incident INC-n public <text>` (engineers).
    pub(super) async fn public_update(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        text: FreeText,
    ) -> Result<Reply, ExecError> {
        let incident = self
            .lock_incident_for(
                conn,
                &request.actor,
                Role::Engineer,
                "post public status updates",
                reference,
            )
            .await?;
        let Some(service) = incident.service.clone() else {
            return Err(Refusal::new(format!(
                "{reference} names no service, so the status page has nowhere to show the update."
            ))
            .hint("Public updates belong to incidents reported with `service:<name>`.")
            .into());
        };
        let now = self.clock.now();
        store::services::add_public_update(conn, incident.id, &request.actor, now, text.as_str())
            .await?;
        let event = NewEvent::new(EventAction::PublicUpdate).body(text.as_str());
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        let public = store::services::entry(conn, &service)
            .await?
            .is_some_and(|e| e.public);
        let note = if public {
            "It is shown on the public status page."
        } else {
            "The service is not public, so the status page does not show it."
        };
        Ok(Reply::done(Message::text(format!(
            "Public update added to {reference}. {note}"
        )))
        .about(reference))
    }

    /// Pages the on-call person of `incident`'s service when it is P1 or
    /// P2 and the service has a rotation: a notice in the service's channel
    /// and a `paged` event on the timeline. Returns who was paged.
    /// Who is on call for `service` at `now`, and the rotation (with its name);
    /// none when the service has no rotation.
    pub(super) async fn on_call_for(
        &self,
        conn: &mut PgConnection,
        service: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(CatalogEntry, String, Rotation, UserId)>, StoreError> {
        let Some(entry) = store::services::entry(conn, service).await? else {
            return Ok(None);
        };
        let Some(rotation_name) = entry.rotation.clone() else {
            return Ok(None);
        };
        let Some((rotation, overrides)) = self.rotation_at(conn, &rotation_name, now).await? else {
            return Ok(None);
        };
        let member = rotation.on_call(&overrides, now).member;
        Ok(Some((entry, rotation_name, rotation, member)))
    }

    pub(super) async fn page_on_call(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, ExecError> {
        // Someone has already taken it: paging now would only be noise.
        if !pages_when_opened(incident.priority, incident.service.as_deref())
            || !incident.status.is_open()
            || incident.acknowledged_at.is_some()
        {
            return Ok(None);
        }
        let Some(service) = &incident.service else {
            return Ok(None);
        };
        let Some((entry, rotation_name, rotation, member)) =
            self.on_call_for(conn, service, now).await?
        else {
            return Ok(None);
        };
        if !store::oncall::record_page(conn, incident.id, &rotation_name, &member, now).await? {
            return Ok(None);
        }
        let actor = oncall_actor().map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let event = NewEvent::new(EventAction::Paged)
            .change(None, member.to_string())
            .body(format!("on call for {rotation_name}"));
        store::timeline::append(conn, incident.id, &actor, now, &[event]).await?;
        crate::commands::paging::trigger(
            conn,
            &self.config,
            incident,
            &member.to_string(),
            crate::domain::oncall::PageStep::OnCall,
            now,
        )
        .await?;
        let message = Message::text(format!(
            "📟 {} ({}) on {service}: {}. You are on call for {rotation_name}; `/incident {} ack` to take it (escalates after {}).",
            incident.reference(),
            incident.priority,
            incident.title,
            incident.reference(),
            format_duration(rotation.escalate_after)
        ))
        .with(Block::Mention {
            label: "Paging:".into(),
            user: member.to_string(),
        });
        let channel = notice_channel(&self.config, &entry);
        crate::commands::notice::post(conn, &channel, None, &message, Some(incident.id), now)
            .await?;
        Ok(Some(member))
    }
}

/// Whether a new incident of `priority` on `service` may page someone:
/// only P1 and P2 on a service (whose rotation, if any, is then looked up).
pub(super) fn pages_when_opened(priority: Priority, service: Option<&str>) -> bool {
    priority <= Priority::P2 && service.is_some()
}
