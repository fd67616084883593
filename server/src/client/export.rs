//! `augur export`: a database (or one measurement) to a file or stdout.
//!
//! Line protocol comes straight from the server's streaming
//! `/api/v1/export` and is copied through, so memory stays flat. CSV is the
//! same stream converted line by line into a long format
//! (`measurement,tags,time,field,value`): one row per field value, so rows
//! never depend on lines not yet seen.

use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write};
use std::path::PathBuf;

use augur_engine::lineproto;
use augur_engine::model::{FieldValue, Precision};
use clap::{Args, ValueEnum};

use super::http::{error_text, Conn, ConnArgs};
use super::{ClientError, Result};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Line protocol, nanosecond timestamps (re-importable with `augur import`).
    Lp,
    /// CSV `measurement,tags,time,field,value`, one row per field value.
    Csv,
}

/// Flags of `augur export`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  augur export --db mydb -o mydb.lp
  augur export --db mydb --measurement cpu --start 2024-01-01T00:00:00Z --end 2024-01-02T00:00:00Z
  augur export --db mydb --format csv -o mydb.csv
  augur export --db mydb | augur import - --db copy")]
pub struct ExportArgs {
    /// Database to export
    #[arg(long)]
    pub db: String,
    /// Retention policy (default: the database's default)
    #[arg(long)]
    pub rp: Option<String>,
    /// Only this measurement
    #[arg(long)]
    pub measurement: Option<String>,
    /// Start of the range, inclusive (RFC 3339 or ns since the epoch)
    #[arg(long)]
    pub start: Option<String>,
    /// End of the range, exclusive (RFC 3339 or ns since the epoch)
    #[arg(long)]
    pub end: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "lp")]
    pub format: Format,
    /// Output file (default: stdout)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Runs `augur export`.
pub fn run(args: &ExportArgs) -> Result<()> {
    let conn = Conn::new(&args.conn)?;
    let mut params: Vec<(&str, &str)> = vec![("db", args.db.as_str())];
    for (k, v) in [("rp", &args.rp), ("measurement", &args.measurement), ("start", &args.start), ("end", &args.end)] {
        if let Some(v) = v {
            params.push((k, v.as_str()));
        }
    }
    let resp = conn.send(conn.get("/api/v1/export", &params))?;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(ClientError::Server(format!("export failed ({status}): {}", error_text(resp))));
    }
    let out_name = args.output.as_ref().map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    let sink: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).map_err(|e| ClientError::file(p.display(), e))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(256 * 1024, sink);
    let io = |e: std::io::Error| ClientError::file(&out_name, e);
    let read_err = |e: std::io::Error| ClientError::Server(format!("export stream from {} broke: {e}", conn.base()));
    match args.format {
        Format::Lp => {
            let mut body = resp;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = std::io::Read::read(&mut body, &mut buf).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(io)?;
            }
        }
        Format::Csv => {
            writeln!(out, "measurement,tags,time,field,value").map_err(io)?;
            let mut reader = BufReader::with_capacity(256 * 1024, resp);
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
                    break;
                }
                let parsed = lineproto::parse(&line, Precision::Nanoseconds);
                for p in &parsed.points {
                    let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let time = p.timestamp.map(|t| t.to_string()).unwrap_or_default();
                    for (name, value) in &p.fields {
                        let value = match value {
                            FieldValue::Float(f) => f.to_string(),
                            FieldValue::Integer(i) => i.to_string(),
                            FieldValue::Unsigned(u) => u.to_string(),
                            FieldValue::Boolean(b) => b.to_string(),
                            FieldValue::String(s) => s.clone(),
                        };
                        let row = [
                            p.measurement.as_str(),
                            tags.join(",").as_str(),
                            time.as_str(),
                            name.as_str(),
                            value.as_str(),
                        ]
                        .map(csv_cell);
                        writeln!(out, "{}", row.join(",")).map_err(io)?;
                    }
                }
            }
        }
    }
    out.flush().map_err(io)
}

/// Quotes a CSV cell when needed.
pub fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
