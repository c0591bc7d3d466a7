//! Admin commands: `/itsm grant` and `/itsm revoke` manage the roles stored
//! in the database (grants in config stay as they are); `/itsm outbox`
//! shows and requeues posts the platforms would not take.

use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::{Role, UserId};
use crate::store;

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

    /// `/itsm outbox`: counts, and the parked posts with their last error.
    pub(super) async fn outbox_status(
        &self,
        conn: &mut PgConnection,
        request: &Request,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "inspect the outbox")
            .await?;
        let (pending, failed) = store::outbox::counts(conn).await?;
        let mut message = Message::text(format!(
            "Outbox: {pending} post(s) waiting, {failed} parked after failing."
        ));
        if failed > 0 {
            let rows = store::outbox::parked(conn, 20).await?;
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
                                "#{} {} {} {about} · {} attempts · {} · {}",
                                row.id,
                                row.platform,
                                row.kind,
                                row.attempts,
                                crate::commands::show::when(row.failed_at),
                                row.last_error.as_deref().unwrap_or("no error recorded")
                            )
                        })
                        .collect(),
                })
                .with(Block::Context(
                    "`/itsm outbox retry` queues all of them again; `/itsm outbox retry <id…>` only those.".into(),
                ));
        }
        Ok(Reply::answer(message))
    }

    /// `/itsm outbox retry [id…]`.
    pub(super) async fn outbox_retry(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        ids: Vec<i64>,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Admin, "retry outbox posts")
            .await?;
        let requeued = store::outbox::retry_parked(conn, &ids, self.clock.now()).await?;
        if requeued == 0 {
            return Err(Refusal::new(if ids.is_empty() {
                "No posts are parked; there is nothing to retry.".to_string()
            } else {
                "None of those ids is a parked post.".to_string()
            })
            .hint("`/itsm outbox` lists the parked posts.")
            .into());
        }
        Ok(Reply::done(Message::text(format!(
            "{requeued} parked post(s) queued again."
        ))))
    }
}
