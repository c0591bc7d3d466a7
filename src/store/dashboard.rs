//! The dashboard's own list: the open P1 and P2 incidents. Its figures
//! and daily series are a report's (`super::reports`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::Priority;

/// An open P1 or P2 incident, for the dashboard's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub reference: String,
    pub priority: Priority,
    pub title: String,
    pub status: String,
    pub service: Option<String>,
    pub assignee: Option<String>,
    pub opened: DateTime<Utc>,
}

/// Open P1 and P2 incidents, P1 first, oldest first within a priority.
pub async fn open_urgent(conn: &mut PgConnection) -> Result<Vec<OpenIncident>, StoreError> {
    type Row = (
        i64,
        i16,
        String,
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.number, t.priority, t.title, t.status, s.name, t.assignee, t.created_at
           FROM tickets t LEFT JOIN services s ON s.id = t.service_id
          WHERE t.kind = 'incident' AND t.priority IN (1, 2)
            AND t.status IN ('new', 'acknowledged', 'on_hold')
          ORDER BY t.priority, t.created_at, t.id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(number, priority, title, status, service, assignee, opened)| {
                Some(OpenIncident {
                    reference: format!("INC-{number}"),
                    priority: Priority::from_i16(priority)?,
                    title,
                    status,
                    service,
                    assignee,
                    opened,
                })
            },
        )
        .collect())
}
