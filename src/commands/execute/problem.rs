//! Problem management in the engine. Placeholder until it lands.

use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::command::{ProblemCommand, ProblemDraft};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Reply};
use crate::domain::TicketRef;

fn not_yet() -> ExecError {
    Refusal::new("Problem management is not available in this version.").into()
}

impl Engine {
    /// `/problem <title>`.
    pub(super) async fn record_problem(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _draft: ProblemDraft,
    ) -> Result<Reply, ExecError> {
        Err(not_yet())
    }

    /// `/problem PRB-n …`.
    pub(super) async fn work_problem(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _reference: TicketRef,
        _command: ProblemCommand,
    ) -> Result<Reply, ExecError> {
        Err(not_yet())
    }

    /// `/problem search <words>`.
    pub(super) async fn search_problems(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _words: &str,
    ) -> Result<Reply, ExecError> {
        Err(not_yet())
    }

    /// `/incident INC-m problem PRB-n`.
    pub(super) async fn link_problem_from_incident(
        &self,
        _conn: &mut PgConnection,
        _request: &Request,
        _incident: TicketRef,
        _problem: TicketRef,
    ) -> Result<Reply, ExecError> {
        Err(not_yet())
    }

    /// Known errors whose text matches a new incident's title, as blocks
    /// for the report's reply (with their workarounds); empty when none match.
    pub(super) async fn known_error_hints(
        &self,
        _conn: &mut PgConnection,
        _title: &str,
    ) -> Result<Vec<Block>, ExecError> {
        Ok(Vec::new())
    }
}
