//! Admin commands: `/itsm grant` and `/itsm revoke` manage the roles stored
//! in the database (grants in config stay as they are); `/itsm outbox`
//! shows and requeues posts the platforms would not take.

use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::{Role, UserId};
use crate::store;
use crate::store::queue::Queue;

impl Engine {
    /// `/itsm grant @user role`.
    pub(super) async fn grant(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        user: UserId,
        role: Role,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "grant roles")
            .await?;
        if role == Role::Reporter {
            return Err(
                Refusal::new("Everyone is a reporter already; there is nothing to grant.").into(),
            );
        }
        let now = self.clock.now();
        let text = if store::roles::grant(conn, &user, role, &request.actor, now).await? {
            format!("{user} now has the {role} role.")
        } else {
            format!("{user} already had the {role} role; nothing changed.")
        };
        Ok(Reply::done(Message::text(text)))
    }

    /// `/itsm revoke @user role`.
    pub(super) async fn revoke(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        user: UserId,
        role: Role,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "revoke roles")
            .await?;
        if store::roles::revoke(conn, &user, role).await? {
            let still = self.roles_of(conn, &user).await?;
            let text = if still.iter().any(|r| r == role) {
                format!("Revoked the {role} role granted from chat; {user} still has it from the configuration (`[roles] {role}`).")
            } else {
                format!("{user} no longer has the {role} role.")
            };
            return Ok(Reply::done(Message::text(text)));
        }
        Err(Refusal::new(format!(
            "{user} has no {role} role granted from chat, so there is nothing to revoke."
        ))
        .hint("Roles granted in the configuration (`[roles]`) are changed there.")
        .into())
    }

    /// `/itsm outbox`: counts of every queue (chat posts, paging events,
    /// outbound calls), and the parked rows with their last error.
    pub(super) async fn outbox_status(
        &self,
        conn: &mut PgConnection,
        request: &Request,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "inspect the outbox")
            .await?;
        let counts = store::queue::counts(conn).await?;
        let line = |queue: Queue, what: &str| {
            let c = counts.iter().find(|c| c.queue == queue);
            let (pending, parked) = c.map_or((0, 0), |c| (c.pending, c.parked));
            format!("{pending} {what} waiting, {parked} parked after failing")
        };
        let mut message = Message::text(format!(
            "Outbox: {}. Paging hook: {}. Outbound calls: {}.",
            line(Queue::Outbox, "post(s)"),
            line(Queue::Paging, "event(s)"),
            line(Queue::Calls, "call(s)"),
        ));
        if counts.iter().any(|c| c.parked > 0) {
            let rows = store::queue::parked(conn, 20).await?;
            message = message
                .with(Block::List {
                    title: Some("Parked (newest first)".into()),
                    items: rows
                        .iter()
                        .map(|row| {
                            let about = row
                                .ticket
                                .clone()
                                .or_else(|| row.channel.clone())
                                .unwrap_or_default();
                            format!(
                                "#{} {} {about} · {} attempts · {} · {}",
                                row_ref(row.queue, row.id),
                                row.what,
                                row.attempts,
                                crate::commands::view::incident::when(row.failed_at, self.zone()),
                                row.last_error.as_deref().unwrap_or("no error recorded")
                            )
                        })
                        .collect(),
                })
                .with(Block::Context(
                    "`/itsm outbox retry` queues all of them again; `/itsm outbox retry <id…>` only those. Runbook calls are not retried: ask for the runbook again.".into(),
                ));
        }
        Ok(Reply::answer(message))
    }

    /// `/itsm outbox retry [id…]`.
    pub(super) async fn outbox_retry(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        ids: Vec<(Queue, i64)>,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "retry outbox posts")
            .await?;
        let now = self.clock.now();
        let mut requeued = Vec::new();
        for queue in Queue::ALL {
            let of_queue: Vec<i64> = ids
                .iter()
                .filter(|(q, _)| *q == queue)
                .map(|(_, id)| *id)
                .collect();
            if !ids.is_empty() && of_queue.is_empty() {
                continue;
            }
            let count = store::queue::retry_parked(conn, queue, &of_queue, now).await?;
            if count > 0 {
                let what = match queue {
                    Queue::Outbox => "parked post(s)",
                    Queue::Paging => "parked paging event(s)",
                    Queue::Calls => "parked webhook call(s)",
                };
                requeued.push(format!("{count} {what}"));
            }
        }
        if requeued.is_empty() {
            return Err(Refusal::new(if ids.is_empty() {
                "Nothing is parked; there is nothing to retry.".to_string()
            } else {
                "None of those ids is a parked row.".to_string()
            })
            .hint("`/itsm outbox` lists the parked rows.")
            .into());
        }
        Ok(Reply::done(Message::text(format!(
            "{} queued again.",
            requeued.join(", ")
        ))))
    }
}

/// How `/itsm outbox` names a row: `41` (a post), `page-3`, `call-5`.
fn row_ref(queue: Queue, id: i64) -> String {
    match queue {
        Queue::Outbox => id.to_string(),
        Queue::Paging | Queue::Calls => format!("{queue}-{id}"),
    }
}
