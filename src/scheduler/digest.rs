//! The digests the scheduler posts: a period report (see
//! [`crate::commands::period_report`]) queued for a channel.

use crate::commands::notice::Posted;
use crate::commands::period_report::message;
use crate::commands::Engine;
use crate::domain::channel::ChannelRef;
use crate::domain::report::Report;
use crate::store::StoreError;

/// Posts a report to `channel` through the outbox.
pub async fn publish(
    engine: &Engine,
    channel: &ChannelRef,
    report: &Report,
) -> Result<Posted, StoreError> {
    let mut tx = engine.store().begin().await?;
    let posted = crate::commands::notice::post(
        &mut tx,
        channel,
        None,
        &message(report),
        None,
        engine.clock().now(),
    )
    .await?;
    tx.commit().await?;
    engine.outbox_signal().notify_waiters();
    Ok(posted)
}
