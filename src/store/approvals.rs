//! The approvals of a change or a service request, read the same way.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::approval::Approval;

/// Whose approvals: each kind keeps them in its own table.
#[derive(Debug, Clone, Copy)]
pub(super) enum Approvals {
    Change,
    Request,
}

impl Approvals {
    fn query(self) -> &'static str {
        match self {
            Approvals::Change => "SELECT approver, at, comment FROM change_approvals WHERE ticket_id = $1 ORDER BY at, approver",
            Approvals::Request => "SELECT approver, at, comment FROM request_approvals WHERE ticket_id = $1 ORDER BY at, approver",
        }
    }
}

/// The approvals of ticket `ticket_id`, oldest first.
pub(super) async fn of(
    conn: &mut PgConnection,
    which: Approvals,
    ticket_id: i64,
) -> Result<Vec<Approval>, StoreError> {
    let rows: Vec<(String, DateTime<Utc>, Option<String>)> = sqlx::query_as(which.query())
        .bind(ticket_id)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(approver, at, comment)| {
            Ok(Approval {
                approver: approver
                    .parse()
                    .map_err(|e: crate::domain::user::UserIdError| {
                        StoreError::Corrupt(e.to_string())
                    })?,
                at,
                comment,
            })
        })
        .collect()
}
