//! An approval, as changes (the CAB) and service requests (their
//! approvers) both record it.

use chrono::{DateTime, Utc};

use super::UserId;

/// One approver's approval: who, when, and what they said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub approver: UserId,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}
