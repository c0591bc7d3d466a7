//! CSV exports: every list and report the API serves as JSON is also
//! served as CSV, asked for with `?format=csv` or `Accept: text/csv`. The
//! CSV is made from the same JSON value, so the two never disagree: a list
//! is one row per item, a report one row per figure (`figure,value`), and
//! nested fields are named by their path (`changes.completed`).

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

/// Why an export could not be made; the API and the dashboard answer it
/// their own way.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request asked for a format there is none of.
    #[error("`format={0}` is not a format; use format=json or format=csv")]
    UnknownFormat(String),
    /// Writing the answer failed (a fault of ours).
    #[error("writing the answer: {0}")]
    Write(String),
}

/// How an answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// The format a request asks for: `format=csv|json` in the query wins,
    /// then an `Accept` header naming `text/csv`; JSON otherwise. The
    /// `format` pair is taken out of `query` so filters never see it.
    pub fn take(
        headers: &HeaderMap,
        query: &mut Vec<(String, String)>,
    ) -> Result<Format, ExportError> {
        let mut asked = None;
        let mut refused = None;
        query.retain(|(key, value)| {
            if key != "format" {
                return true;
            }
            match value.to_ascii_lowercase().as_str() {
                "csv" => asked = Some(Format::Csv),
                "json" => asked = Some(Format::Json),
                other => refused = Some(other.to_string()),
            }
            false
        });
        if let Some(other) = refused {
            return Err(ExportError::UnknownFormat(other));
        }
        if let Some(format) = asked {
            return Ok(format);
        }
        let accepts_csv = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|kind| {
                kind.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/csv")
            });
        Ok(if accepts_csv {
            Format::Csv
        } else {
            Format::Json
        })
    }
}

/// A list answer (`items` are the rows) in `format`.
pub fn list<T: Serialize>(format: Format, page: &T) -> Result<Response, ExportError> {
    respond(format, page, |value| {
        let items = value
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        table(&items)
    })
}

/// A report answer (one row per figure) in `format`.
pub fn report<T: Serialize>(format: Format, report: &T) -> Result<Response, ExportError> {
    respond(format, report, |value| {
        let mut cells = Vec::new();
        flatten("", value, &mut cells);
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["figure", "value"])?;
        for (key, value) in cells {
            writer.write_record([key, value])?;
        }
        writer.into_inner().map_err(|err| err.into_error().into())
    })
}

fn respond<T: Serialize>(
    format: Format,
    value: &T,
    csv_of: impl FnOnce(&Value) -> Result<Vec<u8>, csv::Error>,
) -> Result<Response, ExportError> {
    let value = serde_json::to_value(value).map_err(|err| ExportError::Write(err.to_string()))?;
    match format {
        Format::Json => Ok(Json(value).into_response()),
        Format::Csv => {
            let body = csv_of(&value).map_err(|err| ExportError::Write(err.to_string()))?;
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                body,
            )
                .into_response())
        }
    }
}

/// Rows of `items`, with the union of their flattened keys as the header
/// (in first-seen order).
fn table(items: &[Value]) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<Vec<(String, String)>> = items
        .iter()
        .map(|item| {
            let mut cells = Vec::new();
            flatten("", item, &mut cells);
            cells
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for row in &rows {
        for (key, _) in row {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&columns)?;
    for row in rows {
        writer.write_record(columns.iter().map(|column| {
            row.iter()
                .find(|(key, _)| key == column)
                .map_or("", |(_, value)| value.as_str())
        }))?;
    }
    writer.into_inner().map_err(|err| err.into_error().into())
}

/// `value` as `(path, text)` cells: objects by key, arrays by position
/// (arrays of plain values joined with `; `), `null` as an empty cell.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let key = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                flatten(&key(name), inner, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let joined: Vec<String> = items.iter().map(plain).collect();
            out.push((prefix.to_string(), joined.join("; ")));
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                flatten(&key(&(i + 1).to_string()), inner, out);
            }
        }
        other => out.push((prefix.to_string(), plain(other))),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_figure_rows_and_lists_become_tables() {
        let report = serde_json::json!({"opened": 3, "changes": {"completed": 1}, "name": null,
                                        "open_by_priority": [1, 0, 2, 0]});
        let mut cells = Vec::new();
        flatten("", &report, &mut cells);
        assert!(cells.contains(&("changes.completed".into(), "1".into())));
        assert!(cells.contains(&("open_by_priority".into(), "1; 0; 2; 0".into())));
        let items = vec![
            serde_json::json!({"reference": "INC-1", "title": "VPN, down \"again\""}),
            serde_json::json!({"reference": "INC-2", "assignee": "slack:U1"}),
        ];
        let text = String::from_utf8(table(&items).unwrap()).unwrap();
        assert_eq!(
            text,
            "reference,title,assignee\nINC-1,\"VPN, down \"\"again\"\"\",\nINC-2,,slack:U1\n"
        );
    }
}
