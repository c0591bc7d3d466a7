//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`),
//! as text for people or as one JSON object per line for log shippers
//! (`log.format`).

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The shape of log lines (`log.format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for
    /// log shippers such as Vector, Fluent Bit or Promtail.
    Json,
}

/// Installs the global subscriber. Safe to call more than once: only the
/// first call takes effect.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .try_init(),
    };
}
