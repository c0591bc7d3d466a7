//! A person's own time zone: `/itsm timezone`, and the zones the engine
//! reads typed times in and the shell shows times in.

use chrono_tz::Tz;
use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::command::ZoneChoice;
use crate::commands::reply::{Message, Reply};
use crate::domain::UserId;
use crate::store::{self, StoreError};

/// Where a person's zone came from, as `/itsm timezone` tells them.
enum Source {
    /// They set it.
    Own,
    /// Their platform profile.
    Profile,
    /// Neither: the section's or the team's.
    Team,
}

impl Engine {
    /// The zone `request`'s person types times in: the one they set, else
    /// their platform profile's, else `fallback` (the section's zone, e.g.
    /// `change.time_zone`, or the team's).
    pub(super) async fn typing_zone(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        fallback: Tz,
    ) -> Result<Tz, StoreError> {
        Ok(self.zone_of(conn, request, fallback).await?.0)
    }

    async fn zone_of(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        fallback: Tz,
    ) -> Result<(Tz, Source), StoreError> {
        if let Some(zone) = store::people::time_zone(conn, &request.actor).await? {
            return Ok((zone, Source::Own));
        }
        Ok(match request.time_zone {
            Some(zone) => (zone, Source::Profile),
            None => (fallback, Source::Team),
        })
    }

    /// The zone the shell shows `user` times in: the one they set, else the
    /// team's. When the database cannot say, the team's: the answer itself
    /// already says what went wrong.
    pub async fn reader_zone(&self, user: &UserId) -> Tz {
        let looked_up = async {
            let mut conn = self.store.pool().acquire().await?;
            store::people::time_zone(&mut conn, user).await
        };
        match looked_up.await {
            Ok(Some(zone)) => zone,
            _ => self.zone(),
        }
    }

    /// `/itsm timezone [zone | reset]`.
    pub(super) async fn person_time_zone(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        choice: Option<ZoneChoice>,
    ) -> Result<Reply, ExecError> {
        let now = self.clock.now();
        let text = match choice {
            Some(ZoneChoice::Set(zone)) => {
                store::people::set_time_zone(conn, &request.actor, zone, now).await?;
                format!(
                    "Your time zone is now {}: times you type are read in it, and the shell shows times in it (it is {} there now).",
                    zone.name(),
                    now.with_timezone(&zone).format("%H:%M %Z")
                )
            }
            Some(ZoneChoice::Reset) => {
                let had = store::people::clear_time_zone(conn, &request.actor).await?;
                let (zone, source) = self.zone_of(conn, request, self.zone()).await?;
                let now_following = match source {
                    Source::Profile => format!("your profile's zone, {}", zone.name()),
                    _ => format!("the team's zone, {}", zone.name()),
                };
                if had {
                    format!("Your own time zone is forgotten; you follow {now_following}.")
                } else {
                    format!("You had not set a time zone; you follow {now_following}.")
                }
            }
            None => {
                let (zone, source) = self.zone_of(conn, request, self.zone()).await?;
                let whose = match source {
                    Source::Own => "you set it",
                    Source::Profile => "from your profile",
                    Source::Team => "the team's, `[locale] time_zone`",
                };
                format!(
                    "Your time zone is {} ({whose}); it is {} there now. `/itsm timezone <IANA zone>` sets your own.",
                    zone.name(),
                    now.with_timezone(&zone).format("%H:%M %Z")
                )
            }
        };
        Ok(Reply::answer(Message::text(text)))
    }
}
