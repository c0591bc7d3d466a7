//! `/itsm grant` and `/itsm revoke`: admins manage the roles stored in the
//! database (grants in config stay as they are).

use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Message, Reply};
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
}
