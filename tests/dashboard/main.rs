//! The managers' dashboard in a real browser: headless Chromium, driven
//! over WebDriver (chromedriver), opens the page served by the bot's router
//! over a seeded database, logs in with `?token=`, checks that every chart
//! was drawn with its data and that the figures on the page are the
//! report's, and saves a screenshot to `<target dir>/dashboard.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages
//! (`apt-get install -y chromium chromium-driver`; `.ci/run` installs them).
//! `CHROMEDRIVER` names another chromedriver binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

#[allow(dead_code)]
#[path = "../engine/helpers.rs"]
mod helpers;

#[path = "../engine/dashboard_seed.rs"]
mod dashboard_seed;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use itsm_bot::commands::period_report;
use itsm_bot::config::{Config, Secret};
use itsm_bot::domain::report::{mean, Period};
use itsm_bot::http::{router, HttpState};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

use dashboard_seed::{friday, seed};
use helpers::Desk;

const TOKEN: &str = "browser-test-token";
const INSTALL: &str = "the dashboard browser test needs Chromium and chromedriver: \
    install them with `apt-get install -y chromium chromium-driver` (Debian), \
    or set CHROMEDRIVER to a chromedriver binary";

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> PathBuf {
    let path = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    assert!(path.is_file(), "{INSTALL} ({} is missing)", path.display());
    path
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver on a free port and waits until it accepts connections.
fn start_chromedriver() -> (Killed, u16) {
    let binary = chromedriver();
    let port = free_port();
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("{INSTALL} (could not start {}: {err})", binary.display()));
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    (child, port)
}

async fn browser(port: u16) -> Client {
    let mut options = json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--window-size=1360,2000",
        ]
    });
    // Debian's /usr/bin/chromium is a wrapper script; hand chromedriver the
    // browser itself when it is there.
    if Path::new("/usr/lib/chromium/chromium").is_file() {
        options["binary"] = json!("/usr/lib/chromium/chromium");
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    // The console, so the tests can read Content-Security-Policy violations.
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|err| panic!("{INSTALL} (WebDriver session failed: {err})"))
}

/// Serves the bot's router on an ephemeral port.
async fn serve(desk: &Desk) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(HttpState::new(desk.engine.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `/dashboard.json` of the same router, read in-process.
async fn dashboard_json(desk: &Desk, query: &str) -> Value {
    let response = router(HttpState::new(desk.engine.clone()))
        .oneshot(
            Request::get(format!("/dashboard.json?{query}"))
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// chromedriver's `POST /session/{id}/se/log` for the browser console:
/// every message since the last call, Content-Security-Policy violations
/// included ("Refused to apply inline style because it violates …").
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// The console messages about the Content-Security-Policy since the last
/// call.
async fn csp_violations(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(ConsoleLog).await.unwrap();
    log.as_array()
        .unwrap_or_else(|| panic!("chromedriver's log is not a list: {log}"))
        .iter()
        .filter_map(|entry| entry["message"].as_str())
        .filter(|message| message.contains("Content Security Policy"))
        .map(str::to_string)
        .collect()
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css}: {err}"))
        .text()
        .await
        .unwrap()
}

async fn data_value(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .attr("data-value")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[sqlx::test]
async fn the_dashboard_renders_in_headless_chromium(pool: PgPool) {
    let (_driver, driver_port) = start_chromedriver();
    let mut config = Config::defaults().unwrap();
    config.http.dashboard_token = Some(Secret::new(TOKEN));
    let desk = Desk::with_config(pool, config).await;
    seed(&desk).await;
    let addr = serve(&desk).await;
    let client = browser(driver_port).await;

    let checked = AssertUnwindSafe(check_page(&client, &desk, addr))
        .catch_unwind()
        .await;
    // Close the browser even when a check failed, then report the failure.
    let _ = client.close().await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

async fn check_page(client: &Client, desk: &Desk, addr: SocketAddr) {
    // Without the token: refused.
    client.goto(&format!("http://{addr}/")).await.unwrap();
    let body = text(client, "body").await;
    assert!(body.contains("needs its token"), "{body}");

    // The ?token= login sets the cookie and drops the token from the address.
    client
        .goto(&format!("http://{addr}/?period=week&token={TOKEN}"))
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#chart-availability svg"))
        .await
        .unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(url.as_str(), format!("http://{addr}/?period=week"));

    // The page's own styles apply under its Content-Security-Policy (which
    // allows no script and only the page's inline <style>).
    let header_colour = client
        .find(Locator::Css("header"))
        .await
        .unwrap()
        .css_value("background-color")
        .await
        .unwrap();
    assert_eq!(
        header_colour, "rgba(29, 35, 48, 1)",
        "#1d2330 from the page's <style>"
    );
    // Allowed by its hash, not by 'unsafe-inline': the console has no
    // violation to report (issue 22, item 6).
    let violations = csp_violations(client).await;
    assert!(violations.is_empty(), "{violations:#?}");

    // Every chart is an SVG with its data drawn.
    let json = dashboard_json(desk, "period=week").await;
    let days = json["days"].as_array().unwrap();
    for chart in ["volume", "trend", "compliance", "csat", "availability"] {
        let svg = client
            .find(Locator::Css(&format!("#chart-{chart} svg")))
            .await
            .unwrap();
        let (_, _, width, height) = svg.rectangle().await.unwrap();
        assert!(width > 200.0 && height > 100.0, "{chart}: {width}×{height}");
    }
    assert_eq!(
        count(client, "#chart-volume svg circle").await,
        2 * days.len(),
        "a point per day for opened and for resolved"
    );
    let measured = days
        .iter()
        .map(|d| {
            usize::from(!d["mtta_seconds"].is_null()) + usize::from(!d["mttr_seconds"].is_null())
        })
        .sum::<usize>();
    assert_eq!(count(client, "#chart-trend svg circle").await, measured);
    let svg_text = |chart: &'static str| async move {
        let all = client
            .find_all(Locator::Css(&format!("#chart-{chart} svg text")))
            .await
            .unwrap();
        let mut out = Vec::new();
        for t in all {
            out.push(t.text().await.unwrap());
        }
        out
    };
    let availability = svg_text("availability").await;
    assert!(availability.iter().any(|t| t == "vpn"), "{availability:?}");
    let vpn = json["availability"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["service"] == "vpn")
        .unwrap();
    let vpn_percent = format!("{:.2}%", vpn["availability_percent"].as_f64().unwrap());
    assert!(
        availability.contains(&vpn_percent),
        "{vpn_percent} in {availability:?}"
    );
    let compliance = svg_text("compliance").await;
    assert!(
        compliance.iter().any(|t| t == "0%"),
        "P1 met neither clock: {compliance:?}"
    );
    let csat = svg_text("csat").await;
    assert!(csat.iter().filter(|t| *t == "1").count() >= 2, "{csat:?}");

    // The figures on the page are the JSON's and the report's.
    let report = period_report::rolling(&desk.engine, Period::Week, friday())
        .await
        .unwrap();
    let f = &report.figures;
    let figures = &json["figures"];
    assert_eq!(text(client, "#fig-opened").await, f.opened.to_string());
    assert_eq!(figures["opened"], f.opened);
    assert_eq!(text(client, "#fig-resolved").await, f.resolved.to_string());
    assert_eq!(figures["resolved"], f.resolved);
    assert_eq!(text(client, "#fig-mtta").await, mean(f.mtta));
    assert_eq!(
        data_value(client, "#fig-mtta").await,
        figures["mtta_seconds"].to_string()
    );
    assert_eq!(text(client, "#fig-mttr").await, mean(f.mttr));
    assert_eq!(
        data_value(client, "#fig-mttr").await,
        figures["mttr_seconds"].to_string()
    );
    assert_eq!(
        text(client, "#fig-compliance").await,
        format!(
            "{:.0}% ({}/{})",
            f.compliance().unwrap(),
            f.sla_met,
            f.sla_total()
        )
    );
    assert_eq!(
        text(client, "#fig-csat").await,
        format!(
            "{:.1}/5 ({} answers)",
            f.csat_average().unwrap(),
            f.csat_answers()
        )
    );
    let open: i64 = report.state.open_by_priority.iter().sum();
    assert!(text(client, "#fig-open")
        .await
        .starts_with(&format!("{open} (P1 0")));
    let urgent = text(client, "#open-urgent").await;
    assert!(
        urgent.contains("INC-3") && urgent.contains("Mail slow"),
        "{urgent}"
    );

    // A screenshot to look at.
    let png = client.screenshot().await.unwrap();
    let path = screenshot_path("dashboard.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());

    // The period links work without JavaScript; a month draws 31 days.
    client
        .find(Locator::Css("nav a[href='/?period=month']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "nav a[aria-current=page][href='/?period=month']",
        ))
        .await
        .unwrap();
    assert_eq!(count(client, "#chart-volume svg circle").await, 2 * 31);
    let violations = csp_violations(client).await;
    assert!(violations.is_empty(), "{violations:#?}");
    std::fs::write(
        screenshot_path("dashboard-month.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// A calendar month on the page (From/To) shows the figures the API's
/// month report gives for it (issue 20).
#[sqlx::test]
async fn the_dashboards_calendar_month_equals_the_apis(pool: PgPool) {
    use chrono::Datelike;
    const READ: &str = "read-token-0123456789";
    let tokens = format!("[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}]");
    let mut config =
        Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)]).unwrap();
    config.http.dashboard_token = Some(Secret::new(TOKEN));
    let (_driver, driver_port) = start_chromedriver();
    let desk = Desk::with_config(pool, config).await;
    seed(&desk).await;
    let addr = serve(&desk).await;
    let first = helpers::start().date_naive().with_day(1).unwrap();
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap()
        .pred_opt()
        .unwrap();
    let (status, api) = desk
        .http(
            "GET",
            &format!("/api/v1/reports/month?period={}", first.format("%Y-%m")),
            Some(READ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert!(
        api["opened"].as_i64().is_some_and(|n| n > 0),
        "the seed falls in the month: {api}"
    );
    let client = browser(driver_port).await;
    let checked = AssertUnwindSafe(async {
        client
            .goto(&format!(
                "http://{addr}/?from={first}&to={last}&token={TOKEN}"
            ))
            .await
            .unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#fig-opened"))
            .await
            .unwrap();
        // The API's report carries its figures at the top level.
        let figures = &api;
        let shown = |v: &Value| match v {
            Value::Null => String::new(),
            other => other.to_string(),
        };
        for (id, key) in [
            ("opened", "opened"),
            ("resolved", "resolved"),
            ("mtta", "mtta_seconds"),
            ("mttr", "mttr_seconds"),
            ("compliance", "sla_compliance"),
            ("breaches", "breaches"),
            ("csat", "csat_average"),
        ] {
            let on_page = data_value(&client, &format!("#fig-{id}")).await;
            let expected = shown(&figures[key]);
            // The page writes floats as its template engine does.
            let same = match (on_page.parse::<f64>(), expected.parse::<f64>()) {
                (Ok(a), Ok(b)) => (a - b).abs() < 1e-9,
                _ => on_page == expected,
            };
            assert!(same, "{id}: page {on_page:?}, API {expected:?}");
        }
        let open_api: i64 = api["open_by_priority"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_i64().unwrap())
            .sum();
        assert_eq!(data_value(&client, "#fig-open").await, open_api.to_string());
        let heading = text(&client, "body").await;
        assert!(heading.contains(&first.to_string()), "{heading}");
    })
    .catch_unwind()
    .await;
    let _ = client.close().await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// The service request figures on the page (opened, fulfilled, mean time
/// to fulfil, mean approval time, fulfilment SLA compliance) are the
/// API's report's for the same span (issue 23).
#[sqlx::test]
async fn the_dashboards_request_figures_equal_the_apis(pool: PgPool) {
    const READ: &str = "read-token-0123456789";
    let catalog = "[{name=\"laptop\", title=\"New laptop\", \
        fields=[{name=\"model\", kind=\"choice\", choices=[\"13-inch\", \"15-inch\"], required=true}], \
        approval=[\"shell:mia\"], tasks=[\"Order\"], fulfil_within=\"1d\", calendar=\"office\"}]";
    let tokens = format!("[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}]");
    let mut config = Config::load_with_env(
        None,
        [
            ("ITSM__API__TOKENS".to_string(), tokens),
            ("ITSM__REQUESTS__CATALOG".to_string(), catalog.to_string()),
        ],
    )
    .unwrap();
    config.http.dashboard_token = Some(Secret::new(TOKEN));
    let (_driver, driver_port) = start_chromedriver();
    let desk = Desk::with_config(pool, config).await;
    // One fulfilled in time, one left to miss its day, one awaiting approval.
    for model in ["13-inch", "15-inch", "15-inch"] {
        desk.ok("eve", &format!("/request laptop model:{model}"))
            .await;
    }
    desk.clock.advance(chrono::Duration::minutes(30));
    desk.ok("mia", "/request REQ-1 approve").await;
    desk.ok("mia", "/request REQ-2 approve").await;
    desk.clock.advance(chrono::Duration::hours(2));
    desk.ok("bob", "/request REQ-1 take").await;
    desk.ok("bob", "/request REQ-1 task 1 done").await;
    desk.ok("bob", "/request REQ-1 fulfil").await;
    desk.clock.advance(chrono::Duration::days(3));
    let addr = serve(&desk).await;
    let (status, api) = desk
        .http("GET", "/api/v1/reports/week", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let requests = api["requests"].clone();
    assert_eq!(requests["opened"], 3, "{api}");
    assert_eq!(requests["fulfil_met"], 1, "{api}");
    assert_eq!(requests["fulfil_missed"], 1, "{api}");
    let client = browser(driver_port).await;
    let checked = AssertUnwindSafe(async {
        client
            .goto(&format!("http://{addr}/?period=week&token={TOKEN}"))
            .await
            .unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#fig-req-opened"))
            .await
            .unwrap();
        for (id, key) in [
            ("opened", "opened"),
            ("fulfilled", "fulfilled"),
            ("fulfil-time", "time_to_fulfil_seconds"),
            ("approval-time", "approval_time_seconds"),
            ("compliance", "fulfil_compliance"),
        ] {
            let on_page = data_value(&client, &format!("#fig-req-{id}")).await;
            let expected = match &requests[key] {
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let same = match (on_page.parse::<f64>(), expected.parse::<f64>()) {
                (Ok(a), Ok(b)) => (a - b).abs() < 1e-9,
                _ => on_page == expected,
            };
            assert!(same, "{id}: page {on_page:?}, API {expected:?}");
        }
        let shown = text(&client, "#fig-req-compliance").await;
        assert!(shown.contains("50% (1/2)"), "{shown}");
    })
    .catch_unwind()
    .await;
    let _ = client.close().await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// `<target dir>/<name>`.
fn screenshot_path(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join(name)
}

/// The public status page in the browser: vpn is down during an outage
/// incident, its public update is shown, and nothing internal (the title,
/// notes, people, a non-public service) reaches the page.
#[sqlx::test]
async fn the_status_page_shows_public_updates_and_nothing_internal(pool: PgPool) {
    let (_driver, driver_port) = start_chromedriver();
    let desk = Desk::new(pool).await;
    desk.ok(
        "alice",
        "/incident Concentrator A kernel panic, ticket from carol P1 service:vpn",
    )
    .await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.ok(
        "bob",
        "/incident INC-1 note secret internal note about the root password",
    )
    .await;
    desk.ok(
        "bob",
        "/incident INC-1 public Remote access is down; we are restoring it.",
    )
    .await;
    let addr = serve(&desk).await;
    let client = browser(driver_port).await;
    let checked = AssertUnwindSafe(async {
        client.goto(&format!("http://{addr}/status")).await.unwrap();
        client
            .wait()
            .for_element(Locator::Css("section.service#vpn"))
            .await
            .unwrap();
        let vpn = text(&client, "section.service#vpn").await;
        assert!(vpn.contains("outage"), "{vpn}");
        assert!(
            vpn.contains("Remote access is down; we are restoring it."),
            "{vpn}"
        );
        let page = text(&client, "body").await;
        for secret in [
            "kernel panic",
            "root password",
            "shell:alice",
            "shell:bob",
            "carol",
        ] {
            assert!(!page.contains(secret), "`{secret}` leaked: {page}");
        }
        assert_eq!(count(&client, "section.service#vpn .days span").await, 90);
        // The page's styles apply under its policy, with no violation.
        let colour = client
            .find(Locator::Css("section.service#vpn .status"))
            .await
            .unwrap()
            .css_value("color")
            .await
            .unwrap();
        assert_eq!(colour, "rgba(207, 34, 46, 1)", "#cf222e from the <style>");
        let violations = csp_violations(&client).await;
        assert!(violations.is_empty(), "{violations:#?}");
        std::fs::write(
            screenshot_path("status.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    })
    .catch_unwind()
    .await;
    let _ = client.close().await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// The console check is not blind: a page with a `<style>` that the bot's
/// policy does not name (an injected one) is reported as a violation, and
/// its style is not applied.
#[tokio::test]
async fn the_console_reports_a_style_the_policy_does_not_name() {
    let (_driver, driver_port) = start_chromedriver();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            (
                [(
                    header::CONTENT_SECURITY_POLICY,
                    itsm_bot::http::content_security_policy(),
                )],
                axum::response::Html(
                    "<!doctype html><html><head><style>h1 { color: rgb(1, 2, 3); }</style></head>\
                     <body><h1>injected</h1></body></html>",
                ),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, page).await });
    let client = browser(driver_port).await;
    let checked = AssertUnwindSafe(async {
        client.goto(&format!("http://{addr}/")).await.unwrap();
        let colour = client
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .css_value("color")
            .await
            .unwrap();
        assert_ne!(colour, "rgba(1, 2, 3, 1)", "the unnamed style was applied");
        let violations = csp_violations(&client).await;
        assert!(
            violations.iter().any(|v| v.contains("style")),
            "no violation reported: {violations:#?}"
        );
    })
    .catch_unwind()
    .await;
    let _ = client.close().await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}
