use std::sync::Arc;
use std::time::Duration;

use itsm_bot::clock::SystemClock;
use itsm_bot::commands::reply::Outcome;
use itsm_bot::commands::Engine;
use itsm_bot::config::Config;
use itsm_bot::store::Store;
use sqlx::postgres::PgPoolOptions;

use crate::helpers::inbound;

/// With the database out of reach every command is answered at once with a
/// clear "try again", not an error trace or silence.
#[tokio::test]
async fn an_unreachable_database_gets_a_clear_try_again() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/itsm")
        .unwrap();
    let config = Arc::new(Config::defaults().unwrap());
    let engine = Engine::new(Store::from_pool(pool), config, Arc::new(SystemClock));
    for text in ["/incident VPN down P1", "/incident INC-1 ack", "/itsm open"] {
        let reply = engine.handle(&inbound("alice", text)).await;
        assert_eq!(reply.outcome, Outcome::Unavailable, "{text}");
        assert!(reply
            .message
            .plain_text()
            .to_lowercase()
            .contains("the service desk database is unavailable, please try again in a moment"));
    }
    // Parsing needs no database: bad input is still refused with its reason.
    let reply = engine.handle(&inbound("alice", "/incident P1")).await;
    assert_eq!(reply.outcome, Outcome::Refused);
}
