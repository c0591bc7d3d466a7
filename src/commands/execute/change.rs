//! Change enablement in the engine.

use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::command::{ChangeCommand, ChangeDraft, ScheduleRange};
use crate::commands::refusal::Refusal;
use crate::commands::reply::Reply;
use crate::domain::TicketRef;

impl Engine {
    /// `/change <title> …`: a new draft.
    pub(super) async fn draft_change(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _draft: ChangeDraft,
    ) -> Result<Reply, ExecError> {
        Err(Refusal::new("todo").into())
    }

    /// `/change CHG-n …`.
    pub(super) async fn work_change(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _reference: TicketRef,
        _command: ChangeCommand,
    ) -> Result<Reply, ExecError> {
        Err(Refusal::new("todo").into())
    }

    /// `/itsm changes [today|week]`.
    pub(super) async fn change_schedule(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _range: ScheduleRange,
    ) -> Result<Reply, ExecError> {
        Err(Refusal::new("todo").into())
    }
}
