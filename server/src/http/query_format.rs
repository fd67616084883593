//! How `/query` results are written: JSON (plain, `pretty`, or `chunked`
//! with `chunk_size`) and CSV (`Accept: application/csv`), each as
//! InfluxDB 1.6.7 writes it (checked against a real `influxd`).
//!
//! Chunked JSON: one document per line; each series of a statement is sent
//! on its own, split into pieces of at most `chunk_size` rows. A piece that
//! is not the last of its series carries `"partial":true` on the series, and
//! every document but the last of a statement carries `"partial":true` on
//! the result, so clients know more follows.
//!
//! CSV: `name,tags,<columns>` headers, one row per value row, times as epoch
//! nanoseconds (or in the `epoch` unit), tags as `k=v,k=v` (escaped like
//! series keys), a blank line between statements, Go's quoting rules;
//! statements without series (errors too) are left out, as InfluxDB does.

use augur_query::result::{Message, QueryResponse, Series, StatementResult};
use serde::Serialize;
use serde_json::Value;

/// The response format a request asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Format {
    /// Indented JSON (4 spaces, as InfluxDB).
    pub pretty: bool,
    /// `chunked=true`: one document per chunk, one per line.
    pub chunked: bool,
    /// Rows per chunk (with `chunked`).
    pub chunk_size: usize,
    /// `Accept: application/csv`.
    pub csv: bool,
}

/// A series with InfluxDB's `partial` flag.
#[derive(Serialize)]
struct ChunkSeries<'a> {
    #[serde(flatten)]
    series: &'a Series,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    partial: bool,
}

/// A statement result with InfluxDB's `partial` flag.
#[derive(Serialize)]
struct ChunkResult<'a> {
    statement_id: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    series: Vec<ChunkSeries<'a>>,
    #[serde(skip_serializing_if = "<[Message]>::is_empty")]
    messages: &'a [Message],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: &'a Option<String>,
}

#[derive(Serialize)]
struct ChunkDoc<'a> {
    results: [ChunkResult<'a>; 1],
}

impl Format {
    /// The body for `response`.
    pub fn render(self, response: &QueryResponse) -> Vec<u8> {
        if self.csv {
            return render_csv(response);
        }
        let mut out = Vec::new();
        if self.chunked && !response.results.is_empty() {
            for result in &response.results {
                self.write_chunks(&mut out, result);
            }
        } else {
            self.write_one(&mut out, response);
        }
        out
    }

    /// The documents of one statement in chunked mode.
    fn write_chunks(self, out: &mut Vec<u8>, result: &StatementResult) {
        let size = self.chunk_size.max(1);
        let mut pieces: Vec<Series> = Vec::new();
        let mut partial_flags = Vec::new();
        for series in &result.series {
            if series.values.len() <= size {
                pieces.push(series.clone());
                partial_flags.push(false);
                continue;
            }
            let n = series.values.len().div_ceil(size);
            for (i, rows) in series.values.chunks(size).enumerate() {
                pieces.push(Series { values: rows.to_vec(), ..series.clone() });
                partial_flags.push(i + 1 < n);
            }
        }
        if pieces.is_empty() {
            let doc = ChunkDoc {
                results: [ChunkResult {
                    statement_id: result.statement_id,
                    series: Vec::new(),
                    messages: &result.messages,
                    partial: false,
                    error: &result.error,
                }],
            };
            self.write_one(out, &doc);
            return;
        }
        let last = pieces.len() - 1;
        for (i, (piece, partial)) in pieces.iter().zip(partial_flags).enumerate() {
            let doc = ChunkDoc {
                results: [ChunkResult {
                    statement_id: result.statement_id,
                    series: vec![ChunkSeries { series: piece, partial }],
                    messages: if i == last { &result.messages } else { &[] },
                    partial: i < last,
                    error: &None,
                }],
            };
            self.write_one(out, &doc);
        }
    }

    fn write_one(self, out: &mut Vec<u8>, value: &impl Serialize) {
        let written = if self.pretty {
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
            value.serialize(&mut serializer)
        } else {
            serde_json::to_writer(&mut *out, value)
        };
        if let Err(err) = written {
            // Serializing plain data into memory cannot fail; say so loudly if it does.
            tracing::error!(error = %err, "cannot serialize query results");
        }
        out.push(b'\n');
    }
}

/// One CSV field, quoted as Go's `encoding/csv` does.
fn csv_field(out: &mut String, field: &str) {
    let needs = !field.is_empty()
        && (field == r"\."
            || field.contains([',', '"', '\r', '\n'])
            || field.starts_with(|c: char| c == ' ' || c == '\t' || c.is_whitespace()));
    if !needs {
        out.push_str(field);
        return;
    }
    out.push('"');
    for c in field.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn csv_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push('\n');
}

/// Escapes a tag key or value as in a series key (`,`, `=`, space).
fn escape_tag(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A JSON value as InfluxDB's CSV writer prints it.
fn csv_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            // Rust's float Display never uses an exponent, like Go's 'f', -1.
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The whole response as CSV.
pub fn render_csv(response: &QueryResponse) -> Vec<u8> {
    let mut out = String::new();
    let mut printed_any = false;
    for result in &response.results {
        // Like InfluxDB 1.6.7, results without series (statement errors
        // included) are left out of CSV.
        if result.series.is_empty() {
            continue;
        }
        if printed_any {
            out.push('\n');
        }
        printed_any = true;
        let mut header: Option<&[String]> = None;
        for series in &result.series {
            if header != Some(&series.columns[..]) {
                csv_row(&mut out, ["name", "tags"].into_iter().chain(series.columns.iter().map(String::as_str)));
                header = Some(&series.columns);
            }
            let name = series.name.clone().unwrap_or_default();
            let tags = series
                .tags
                .as_ref()
                .map(|t| {
                    t.iter().map(|(k, v)| format!("{}={}", escape_tag(k), escape_tag(v))).collect::<Vec<_>>().join(",")
                })
                .unwrap_or_default();
            for row in &series.values {
                let cells: Vec<String> = row.iter().map(csv_value).collect();
                csv_row(&mut out, [name.as_str(), tags.as_str()].into_iter().chain(cells.iter().map(String::as_str)));
            }
        }
    }
    out.into_bytes()
}

/// A request-level error (bad query, bad parameters) as CSV.
pub fn csv_error(message: &str) -> Vec<u8> {
    let mut out = String::new();
    csv_row(&mut out, ["error"]);
    csv_row(&mut out, [message]);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_query::result::StatementResult;
    use serde_json::json;

    fn series(name: &str, tags: Option<(&str, &str)>, rows: usize) -> Series {
        let mut s = Series::new(Some(name), &["time", "v"]);
        s.tags = tags.map(|(k, v)| [(k.to_string(), v.to_string())].into_iter().collect());
        s.values = (0..rows).map(|i| vec![json!(i as i64 + 1), json!(i as f64 + 0.5)]).collect();
        s
    }

    #[test]
    fn chunks_split_series_like_influxdb() {
        let response = QueryResponse {
            results: vec![
                StatementResult::ok(0, vec![series("cpu", None, 3)]),
                StatementResult::ok(
                    1,
                    vec![series("cpu", Some(("host", "a")), 2), series("cpu", Some(("host", "b")), 1)],
                ),
                StatementResult::error(2, "not executed"),
            ],
        };
        let text = String::from_utf8(Format { chunked: true, chunk_size: 2, ..Format::default() }.render(&response))
            .unwrap_or_default();
        let docs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or(Value::Null)).collect();
        assert_eq!(docs.len(), 5, "{text}");
        assert_eq!(docs[0]["results"][0]["partial"], json!(true));
        assert_eq!(docs[0]["results"][0]["series"][0]["partial"], json!(true));
        assert_eq!(docs[1]["results"][0].get("partial"), None);
        assert_eq!(docs[1]["results"][0]["series"][0]["values"], json!([[3, 2.5]]));
        assert_eq!(docs[2]["results"][0]["partial"], json!(true));
        assert_eq!(docs[2]["results"][0]["series"][0].get("partial"), None);
        assert_eq!(docs[4], json!({"results":[{"statement_id":2,"error":"not executed"}]}));
        // Key order as InfluxDB writes it.
        assert!(text.starts_with(r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","v"],"values":[[1,0.5],[2,1.5]],"partial":true}],"partial":true}]}"#), "{text}");
    }

    #[test]
    fn csv_like_influxdb() {
        let mut tagged = series("cpu", None, 1);
        tagged.tags =
            Some([("host".to_string(), "a,x".to_string()), ("r".to_string(), "eu".to_string())].into_iter().collect());
        tagged.values = vec![vec![json!(4_000_000_000i64), json!("he said, \"hi\"\nnl")]];
        let response = QueryResponse {
            results: vec![
                StatementResult::ok(
                    0,
                    vec![series("cpu", Some(("host", "a")), 2), series("cpu", Some(("host", "b")), 1)],
                ),
                StatementResult::error(1, "retention policy not found: db"),
                StatementResult::ok(2, vec![tagged]),
            ],
        };
        let text = String::from_utf8(render_csv(&response)).unwrap_or_default();
        assert_eq!(
            text,
            "name,tags,time,v\ncpu,host=a,1,0.5\ncpu,host=a,2,1.5\ncpu,host=b,1,0.5\n\nname,tags,time,v\ncpu,\"host=a\\,x,r=eu\",4000000000,\"he said, \"\"hi\"\"\nnl\"\n"
        );
        assert_eq!(
            String::from_utf8(csv_error("error parsing query: found EOF, expected x at line 1, char 3"))
                .unwrap_or_default(),
            "error\n\"error parsing query: found EOF, expected x at line 1, char 3\"\n"
        );
    }
}
