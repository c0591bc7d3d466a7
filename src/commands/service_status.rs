//! Service status queries the engine answers and the scheduler and HTTP
//! read too: each service's status and 30-day availability, where notices
//! about a service go, and who the bot acts as for on-call work.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::availability::{self, Availability};
use crate::domain::channel::ChannelRef;
use crate::domain::service::{CatalogEntry, ServiceStatus};
use crate::domain::{Platform, UserId};
use crate::store::services::OpenOnService;
use crate::store::{self, StoreError};

/// The user the bot records its own on-call actions under.
pub fn oncall_actor() -> Result<UserId, crate::domain::user::UserIdError> {
    UserId::new(Platform::Shell, "oncall")
}

/// A service with what its status and availability are made of.
pub struct ServiceView {
    pub entry: CatalogEntry,
    pub status: ServiceStatus,
    pub open: Vec<OpenOnService>,
    pub availability: Availability,
}

/// Every service in the catalog with its status and 30-day availability at `at`.
pub async fn service_views(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<Vec<ServiceView>, StoreError> {
    let services = availabilities(conn, at).await?;
    let open = store::services::open_incidents(conn).await?;
    Ok(services
        .into_iter()
        .map(|(entry, availability)| {
            let mine: Vec<OpenOnService> = open
                .iter()
                .filter(|i| i.service_id == entry.id)
                .cloned()
                .collect();
            let status = ServiceStatus::from_open(
                mine.iter()
                    .map(|i| (i.priority(), i.outage_since.is_some())),
            );
            ServiceView {
                entry,
                status,
                open: mine,
                availability,
            }
        })
        .collect())
}

/// Every service in the catalog with its 30-day availability at `at`, and
/// nothing else: no open-incident list, which is a pass over every open
/// incident (35 ms over 50,000 of them) that the digest and the
/// error-budget check do not need.
pub async fn availabilities(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<Vec<(CatalogEntry, Availability)>, StoreError> {
    let catalog = store::services::catalog(conn).await?;
    let (from, _) = availability::period_ending(at);
    let outages = store::services::outages_since(conn, from).await?;
    Ok(catalog
        .into_iter()
        .map(|entry| {
            let availability = availability_of(&entry, &outages, at);
            (entry, availability)
        })
        .collect())
}

/// The 30-day availability at `at` of catalog `entry`, from the outages of
/// every service (by service id) reaching into the period.
pub fn availability_of(
    entry: &CatalogEntry,
    outages: &[(i64, availability::Outage)],
    at: DateTime<Utc>,
) -> Availability {
    let mine: Vec<_> = outages
        .iter()
        .filter(|(id, _)| *id == entry.id)
        .map(|(_, outage)| *outage)
        .collect();
    availability::rolling(&mine, entry.availability_target, at)
}

/// Where notices about `service` go: its channel, else the SLA escalation
/// channel, else the shell channel (printed by `itsm-bot sweep`).
pub fn notice_channel(config: &crate::config::Config, service: &CatalogEntry) -> ChannelRef {
    service
        .channel
        .clone()
        .or_else(|| config.sla.escalation_channel.clone())
        .unwrap_or_else(|| ChannelRef {
            platform: Platform::Shell,
            channel: config.shell.channel.clone(),
        })
}
