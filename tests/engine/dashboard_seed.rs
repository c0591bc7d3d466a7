//! A week of service desk work for the dashboard tests (shared with the
//! headless-browser test in `tests/dashboard/`).

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::helpers::Desk;

/// Monday 2026-11-23 09:00 UTC, when the seeded week starts.
pub fn monday() -> DateTime<Utc> {
    crate::helpers::moved(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
}

/// When the seeded desk's clock stands after [`seed`]: Friday 09:00.
pub fn friday() -> DateTime<Utc> {
    monday() + Duration::days(4)
}

/// Four days of incidents:
/// - INC-1 P2 laptop: acknowledged after 10m, resolved after 2h, rated 5;
/// - INC-2 P1 on vpn: acknowledged after 90m, resolved after 11h (the
///   vpn's downtime: marked as an outage), rated 2;
/// - INC-3 P2 on email, still open; INC-4 P4 printer, still open.
pub async fn seed(desk: &Desk) {
    let at =
        |hours: i64, minutes: i64| monday() + Duration::hours(hours) + Duration::minutes(minutes);
    let step = |h, m| desk.clock.set(at(h, m));
    step(0, 0);
    desk.ok("slack:U0STAFF01", "/incident Laptop broken P2")
        .await;
    step(0, 10);
    desk.ok("bob", "/incident INC-1 ack").await;
    step(2, 0);
    desk.ok("bob", "/incident INC-1 resolve replaced").await;
    desk.ok("slack:U0STAFF01", "/incident INC-1 rate 5").await;
    step(24, 0);
    desk.ok("alice", "/incident VPN down for everyone P1 service:vpn")
        .await;
    desk.ok("bob", "/incident INC-2 outage").await;
    step(25, 30);
    desk.ok("bob", "/incident INC-2 ack").await;
    step(35, 0);
    desk.ok("bob", "/incident INC-2 resolve concentrator rebooted")
        .await;
    desk.ok("alice", "/incident INC-2 rate 2").await;
    step(48, 0);
    desk.ok("alice", "/incident Mail slow P2 service:email")
        .await;
    step(72, 0);
    desk.ok("alice", "/incident Printer offline P4").await;
    desk.clock.set(friday());
}
