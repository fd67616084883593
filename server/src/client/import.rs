//! `augur import`: line protocol or CSV files into a database over `/write`.
//!
//! A reader thread turns the input into batches of line protocol, each
//! remembering the input line number of every line it holds (so the server's
//! "line N" in a partial-write error maps back to the input) and the input
//! byte offset just after it. Several writer threads send batches
//! concurrently. Acknowledgments are applied strictly in batch order: the
//! checkpoint (`<input>.augur-import-state`) records the offset of the last
//! batch such that it and every batch before it were acknowledged, so
//! `--resume` after an interruption re-sends at most the batches that were in
//! flight. Re-sending a point rewrites the same series and timestamp, which
//! overwrites rather than duplicates, so nothing is lost or doubled.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal as _, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use augur_engine::lineproto::write_point;
use augur_engine::model::{FieldValue, Point};
use clap::{Args, ValueEnum};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::http::{Conn, ConnArgs, WriteOutcome};
use super::{ClientError, Result};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Line protocol (plain or gzip).
    Lp,
    /// CSV with a header row.
    Csv,
}

/// Flags of `augur import`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  augur import metrics.lp --db mydb
  augur import metrics.lp.gz --db mydb --precision s --workers 4
  cat metrics.lp | augur import - --db mydb
  augur import nyc_taxi.csv --db nab --format csv --measurement taxi --tag city=nyc \\
      --time-format '%Y-%m-%d %H:%M:%S'
  augur import hosts.csv --db mydb --format csv --measurement cpu --tag-columns host,region
  augur import big.lp --db mydb --resume     # continue an interrupted import")]
pub struct ImportArgs {
    /// Files to import (`-` for stdin); `.gz` or gzip content is decompressed
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<String>,
    /// Database to write to
    #[arg(long)]
    pub db: String,
    /// Retention policy (default: the database's default)
    #[arg(long)]
    pub rp: Option<String>,
    /// Timestamp unit of line protocol input: ns, u, ms, s
    #[arg(long, default_value = "ns", value_parser = ["ns", "n", "u", "us", "ms", "s", "m", "h"])]
    pub precision: String,
    /// Input format (default: csv for `.csv`/`.csv.gz` files, else lp)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Lines per request
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Concurrent writers
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub workers: u64,
    /// Where rejected lines go [default: <input>.rejects]
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Continue an interrupted import from its checkpoint (<input>.augur-import-state)
    #[arg(long)]
    pub resume: bool,
    /// CSV: measurement name (required for CSV)
    #[arg(long)]
    pub measurement: Option<String>,
    /// CSV: a tag added to every point, `key=value` (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// CSV: columns holding tag values, comma separated
    #[arg(long, value_delimiter = ',', value_name = "COLS")]
    pub tag_columns: Vec<String>,
    /// CSV: field name for a file with a single value column [default: the column's name]
    #[arg(long)]
    pub field: Option<String>,
    /// CSV: the time column [default: `time`, `timestamp`, else the first column]
    #[arg(long, value_name = "COL")]
    pub time_column: Option<String>,
    /// CSV: time format: auto, rfc3339, unix-s, unix-ms, unix-ns, or a strftime pattern like `%Y-%m-%d %H:%M:%S` (UTC)
    #[arg(long, default_value = "auto", value_name = "FMT")]
    pub time_format: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Runs `augur import`.
pub fn run(args: &ImportArgs) -> Result<()> {
    let conn = Conn::new(&args.conn)?;
    let mut failed = false;
    for input in &args.inputs {
        let summary = import_one(&conn, args, input)?;
        eprintln!(
            "{input}: {} points written, {} lines rejected{}",
            summary.points,
            summary.rejected,
            match (&summary.rejects_path, summary.rejected) {
                (Some(p), n) if n > 0 => format!(" (see {})", p.display()),
                _ => String::new(),
            }
        );
        failed |= summary.rejected > 0;
    }
    if failed {
        return Err(ClientError::Input("some lines were rejected".into()));
    }
    Ok(())
}

/// The outcome of one input.
#[derive(Debug, Default)]
struct Summary {
    points: u64,
    rejected: u64,
    rejects_path: Option<PathBuf>,
}

/// The checkpoint of an import.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct State {
    /// Input size in bytes when the import started.
    size: u64,
    /// Input modification time (ns since the epoch).
    mtime_ns: u64,
    /// Offset in the decoded input after the last fully acknowledged batch.
    offset: u64,
    /// Input lines consumed up to `offset`.
    line: u64,
    /// Points written so far.
    points: u64,
    /// Lines rejected so far.
    rejected: u64,
}

/// One request's worth of lines.
struct Batch {
    seq: u64,
    body: Vec<u8>,
    /// Input line number of each body line.
    lines: Vec<u64>,
    /// Decoded-input offset just after the batch.
    end_offset: u64,
    /// Input lines consumed up to `end_offset`.
    end_line: u64,
    /// Lines rejected locally (CSV conversion), with their reasons.
    local_rejects: Vec<(u64, String, String)>,
}

/// A rejected input line: number, reason, text.
type Reject = (u64, String, String);

/// What the server did with one batch.
struct Done {
    points: u64,
    rejects: Vec<Reject>,
    end_offset: u64,
    end_line: u64,
}

/// What a writer reports for a batch.
struct Ack {
    seq: u64,
    result: Result<Done>,
}

fn state_path(input: &str) -> PathBuf {
    PathBuf::from(format!("{input}.augur-import-state"))
}

fn file_identity(path: &str) -> Result<(u64, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| ClientError::file(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok((meta.len(), mtime))
}

/// Counts raw bytes read (for progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input, decompressing gzip (by extension or magic bytes).
fn open(input: &str, count: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if input == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(input).map_err(|e| ClientError::file(input, e))?)
    };
    let mut reader = BufReader::with_capacity(256 * 1024, Counting { inner: raw, count });
    let head = reader.fill_buf().map_err(|e| ClientError::file(input, e))?;
    let gz = input.ends_with(".gz") || head.starts_with(&[0x1f, 0x8b]);
    if gz {
        Ok(Box::new(BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(reader))))
    } else {
        Ok(Box::new(reader))
    }
}

fn import_one(conn: &Conn, args: &ImportArgs, input: &str) -> Result<Summary> {
    let is_file = input != "-";
    let format = args.format.unwrap_or_else(|| {
        if input.ends_with(".csv") || input.ends_with(".csv.gz") {
            Format::Csv
        } else {
            Format::Lp
        }
    });
    let converter = match format {
        Format::Csv => Some(CsvConverter::new(args)?),
        Format::Lp => None,
    };
    let rejects_path = args.rejects.clone().unwrap_or_else(|| {
        if is_file {
            PathBuf::from(format!("{input}.rejects"))
        } else {
            PathBuf::from("stdin.rejects")
        }
    });
    let state_file = state_path(input);
    let identity = if is_file { Some(file_identity(input)?) } else { None };
    let mut state = State::default();
    if let Some((size, mtime_ns)) = identity {
        state.size = size;
        state.mtime_ns = mtime_ns;
    }
    if args.resume && is_file {
        match std::fs::read(&state_file) {
            Ok(bytes) => {
                let saved: State = serde_json::from_slice(&bytes)
                    .map_err(|e| ClientError::Input(format!("{}: invalid checkpoint: {e}", state_file.display())))?;
                if (saved.size, saved.mtime_ns) != (state.size, state.mtime_ns) {
                    return Err(ClientError::Input(format!(
                        "{input} changed since the interrupted import ({}): remove it to start over",
                        state_file.display()
                    )));
                }
                eprintln!("{input}: resuming after line {} ({} points already written)", saved.line, saved.points);
                state = saved;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ClientError::file(state_file.display(), e)),
        }
    }
    let resuming = state.offset > 0;
    if !resuming {
        match std::fs::remove_file(&rejects_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ClientError::file(rejects_path.display(), e)),
        }
    }
    // Check the database exists before reading anything.
    let probe = conn.query(&[("q", "SHOW DATABASES")])?;
    let exists = probe["results"][0]["series"][0]["values"]
        .as_array()
        .is_some_and(|vals| vals.iter().any(|v| v[0].as_str() == Some(args.db.as_str())));
    if !exists {
        return Err(ClientError::Input(format!("database not found: {:?} (create it with CREATE DATABASE)", args.db)));
    }

    let raw_count = Arc::new(AtomicU64::new(0));
    let reader = open(input, raw_count.clone())?;
    let total = identity.map(|(size, _)| size);

    let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(args.workers as usize * 2);
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let (ack_tx, ack_rx) = mpsc::channel::<Ack>();
    let precision = if converter.is_some() { "ns".to_string() } else { args.precision.clone() };
    let mut params: Vec<(String, String)> = vec![("db".into(), args.db.clone()), ("precision".into(), precision)];
    if let Some(rp) = &args.rp {
        params.push(("rp".into(), rp.clone()));
    }

    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let rx = batch_rx.clone();
        let tx = ack_tx.clone();
        let conn = conn.clone();
        let params = params.clone();
        workers.push(std::thread::spawn(move || loop {
            let batch = match rx.lock().map(|r| r.recv()) {
                Ok(Ok(b)) => b,
                _ => return,
            };
            let seq = batch.seq;
            let result = send_batch(&conn, &params, batch);
            if tx.send(Ack { seq, result }).is_err() {
                return;
            }
        }));
    }
    drop(ack_tx);

    let batch_size = args.batch;
    let input_name = input.to_string();
    let start = state.offset;
    let reader_thread =
        std::thread::spawn(move || read_batches(reader, &input_name, converter, batch_size, start, &batch_tx));

    // Apply acknowledgments in order.
    let progress = Progress::new(total, raw_count.clone());
    let mut pending: BTreeMap<u64, Result<Done>> = BTreeMap::new();
    let mut next = 0u64;
    let mut error = None;
    let mut rejects: Option<std::io::BufWriter<File>> = None;
    let started_points = state.points;
    let t0 = Instant::now();
    for ack in ack_rx {
        pending.insert(ack.seq, ack.result);
        while let Some(result) = pending.remove(&next) {
            match result {
                Ok(Done { points, rejects: bad, end_offset, end_line }) => {
                    state.points += points;
                    state.rejected += bad.len() as u64;
                    if !bad.is_empty() {
                        if rejects.is_none() {
                            let f = std::fs::OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(&rejects_path)
                                .map_err(|e| ClientError::file(rejects_path.display(), e))?;
                            rejects = Some(std::io::BufWriter::new(f));
                        }
                        if let Some(w) = rejects.as_mut() {
                            for (line, reason, text) in &bad {
                                writeln!(w, "line {line}: {reason}\t{text}")
                                    .and_then(|()| w.flush())
                                    .map_err(|e| ClientError::file(rejects_path.display(), e))?;
                            }
                        }
                    }
                    if end_offset > state.offset {
                        state.offset = end_offset;
                        state.line = end_line;
                    }
                    if is_file {
                        save_state(&state_file, &state)?;
                    }
                }
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            }
            next += 1;
        }
        if error.is_some() {
            break;
        }
        progress.tick(state.points - started_points, t0);
    }
    progress.finish();
    drop(batch_rx);
    for w in workers {
        let _ = w.join();
    }
    let read_result = reader_thread.join().map_err(|_| ClientError::Input("the reader thread panicked".into()))?;
    if let Some(e) = error {
        return Err(e);
    }
    read_result?;
    if is_file {
        let _ = std::fs::remove_file(&state_file);
    }
    Ok(Summary { points: state.points, rejected: state.rejected, rejects_path: Some(rejects_path) })
}

fn save_state(path: &Path, state: &State) -> Result<()> {
    let tmp = path.with_extension("augur-import-state.tmp");
    let json = serde_json::to_vec(state).map_err(|e| ClientError::Input(e.to_string()))?;
    std::fs::write(&tmp, json).map_err(|e| ClientError::file(tmp.display(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| ClientError::file(path.display(), e))
}

/// Sends one batch and maps the server's line numbers back to the input.
fn send_batch(conn: &Conn, params: &[(String, String)], batch: Batch) -> Result<Done> {
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut rejects = batch.local_rejects;
    let sent = batch.lines.len() as u64;
    let mut points = sent;
    if sent > 0 {
        let body_text = String::from_utf8_lossy(&batch.body).into_owned();
        let body_lines: Vec<&str> = body_text.split('\n').collect();
        match conn.write(&params, batch.body.clone())? {
            WriteOutcome::Ok => {}
            WriteOutcome::Partial(msg) => {
                for (line, reason) in parse_rejects(&msg) {
                    points = points.saturating_sub(1);
                    let idx = line.saturating_sub(1) as usize;
                    let input_line = batch.lines.get(idx).copied().unwrap_or(0);
                    let text = body_lines.get(idx).copied().unwrap_or("").to_string();
                    rejects.push((input_line, reason, text));
                }
                if let Some(more) = msg.lines().last().and_then(|l| l.strip_prefix("and ")) {
                    let n: u64 = more.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    points = points.saturating_sub(n);
                    rejects.push((0, format!("{n} more rejected lines not listed by the server"), String::new()));
                }
            }
        }
    }
    rejects.sort_by_key(|r| r.0);
    Ok(Done { points, rejects, end_offset: batch.end_offset, end_line: batch.end_line })
}

/// The `(body line, message)` pairs of a partial-write error.
fn parse_rejects(msg: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for part in msg.split('\n') {
        // "unable to parse '...': line 2, column 7: reason" or
        // "partial write: line 3: reason dropped=1" (several "; "-joined)
        let mut rest = part;
        while let Some(pos) = rest.find("line ") {
            let after = &rest[pos + 5..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let preceded_ok = pos == 0 || rest[..pos].ends_with(": ") || rest[..pos].ends_with("; ");
            if !digits.is_empty() && preceded_ok {
                if let Ok(n) = digits.parse::<u64>() {
                    out.push((n, part.trim().to_string()));
                }
            }
            rest = after;
        }
    }
    out.sort();
    out.dedup_by_key(|e| e.0);
    out
}

/// Reads the input into batches; returns when done or the writers stop.
fn read_batches(
    mut reader: Box<dyn BufRead + Send>,
    input: &str,
    mut converter: Option<CsvConverter>,
    batch_size: u64,
    skip_offset: u64,
    tx: &mpsc::SyncSender<Batch>,
) -> Result<()> {
    let mut offset = 0u64;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    let mut seq = 0u64;
    let mut batch = Batch::empty(0);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| ClientError::file(input, e))?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(conv) = converter.as_mut() {
            if line_no == 1 {
                conv.header(text)?;
                continue;
            }
        }
        if offset <= skip_offset {
            continue;
        }
        if text.trim().is_empty() || text.starts_with('#') {
            batch.end_offset = offset;
            batch.end_line = line_no;
            continue;
        }
        match converter.as_ref() {
            Some(conv) => match conv.convert(text) {
                Ok(lp) => batch.push(&lp, line_no),
                Err(reason) => batch.local_rejects.push((line_no, reason, text.to_string())),
            },
            None => batch.push(text, line_no),
        }
        batch.end_offset = offset;
        batch.end_line = line_no;
        if batch.lines.len() as u64 >= batch_size {
            seq += 1;
            let full = std::mem::replace(&mut batch, Batch::empty(seq));
            if tx.send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.lines.is_empty() || !batch.local_rejects.is_empty() || seq == 0 {
        let _ = tx.send(batch);
    }
    Ok(())
}

impl Batch {
    fn empty(seq: u64) -> Batch {
        Batch { seq, body: Vec::new(), lines: Vec::new(), end_offset: 0, end_line: 0, local_rejects: Vec::new() }
    }

    fn push(&mut self, line: &str, line_no: u64) {
        if !self.body.is_empty() {
            self.body.push(b'\n');
        }
        self.body.extend_from_slice(line.as_bytes());
        self.lines.push(line_no);
    }
}

/// How CSV times are read.
#[derive(Debug, Clone)]
enum TimeFormat {
    Auto,
    Rfc3339,
    Unix(i64),
    Strftime(String),
}

/// Turns CSV rows into line protocol.
///
/// Each row becomes a [`Point`] written by the engine's own serializer
/// ([`write_point`]), so a line reads back on the server as exactly the
/// row. What line protocol cannot carry is refused with a reason instead
/// of being sent altered: a name ending with a backslash (it would escape
/// the delimiter after it), a measurement starting with `#` (a comment)
/// or a tab, a field column starting with a tab, a newline in a name.
#[derive(Debug)]
struct CsvConverter {
    /// The measurement every point goes to.
    measurement: String,
    fixed_tags: Vec<(String, String)>,
    tag_columns: Vec<String>,
    time_column: Option<String>,
    field_rename: Option<String>,
    time_format: TimeFormat,
    /// Per column: role.
    columns: Vec<Column>,
}

#[derive(Debug, Clone)]
enum Column {
    Time,
    Tag(String),
    Field(String),
}

impl CsvConverter {
    fn new(args: &ImportArgs) -> Result<CsvConverter> {
        let measurement = args
            .measurement
            .clone()
            .ok_or_else(|| ClientError::Input("--measurement is required for CSV input".into()))?;
        let mut fixed_tags = Vec::new();
        for t in &args.tags {
            let (k, v) = t
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| ClientError::Input(format!("invalid --tag {t:?}: expected key=value")))?;
            check_name("--tag key", k).and_then(|()| check_name("--tag value", v)).map_err(ClientError::Input)?;
            fixed_tags.push((k.to_string(), v.to_string()));
        }
        check_name("--measurement", &measurement).map_err(ClientError::Input)?;
        if measurement.starts_with(['#', '\t']) {
            return Err(ClientError::Input(format!(
                "--measurement {measurement:?}: a measurement starting with `#` or a tab cannot be written as line protocol"
            )));
        }
        let tag_columns: Vec<String> = args.tag_columns.iter().filter(|c| !c.is_empty()).cloned().collect();
        for t in &tag_columns {
            check_name("tag column", t).map_err(ClientError::Input)?;
            if fixed_tags.iter().any(|(k, _)| k == t) {
                return Err(ClientError::Input(format!("tag column {t:?} is also given by --tag")));
            }
        }
        let time_format = match args.time_format.as_str() {
            "auto" => TimeFormat::Auto,
            "rfc3339" => TimeFormat::Rfc3339,
            "unix" | "unix-s" | "s" => TimeFormat::Unix(1_000_000_000),
            "unix-ms" | "ms" => TimeFormat::Unix(1_000_000),
            "unix-us" | "us" => TimeFormat::Unix(1_000),
            "unix-ns" | "ns" => TimeFormat::Unix(1),
            f if f.contains('%') => TimeFormat::Strftime(f.to_string()),
            f => return Err(ClientError::Input(format!("invalid --time-format {f:?}"))),
        };
        Ok(CsvConverter {
            measurement,
            fixed_tags,
            tag_columns,
            time_column: args.time_column.clone(),
            field_rename: args.field.clone(),
            time_format,
            columns: Vec::new(),
        })
    }

    fn header(&mut self, line: &str) -> Result<()> {
        let names = split_csv(line);
        let time_idx = match &self.time_column {
            Some(c) => names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| ClientError::Input(format!("CSV header has no time column {c:?}: {line}")))?,
            None => names.iter().position(|n| n == "time" || n == "timestamp").unwrap_or(0),
        };
        for t in &self.tag_columns {
            if !names.contains(t) {
                return Err(ClientError::Input(format!("CSV header has no tag column {t:?}: {line}")));
            }
        }
        let value_cols = names.len().saturating_sub(1 + self.tag_columns.len());
        if value_cols == 0 {
            return Err(ClientError::Input(format!("CSV header has no value column: {line}")));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(n) = names.iter().find(|n| !seen.insert(*n)) {
            return Err(ClientError::Input(format!("CSV header names column {n:?} twice: {line}")));
        }
        self.columns = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if i == time_idx {
                    Column::Time
                } else if self.tag_columns.contains(n) {
                    Column::Tag(n.clone())
                } else {
                    match (&self.field_rename, value_cols) {
                        (Some(f), 1) => Column::Field(f.clone()),
                        _ => Column::Field(n.clone()),
                    }
                }
            })
            .collect();
        // The field keys as they will be written (`--field` or the column's name).
        for column in &self.columns {
            if let Column::Field(key) = column {
                check_name("field", key).map_err(ClientError::Input)?;
                if key.starts_with('\t') {
                    return Err(ClientError::Input(format!(
                        "field {key:?}: a name starting with a tab cannot be written as line protocol"
                    )));
                }
            }
        }
        Ok(())
    }

    fn convert(&self, line: &str) -> std::result::Result<String, String> {
        let cells = split_csv(line);
        if cells.len() != self.columns.len() {
            return Err(format!("expected {} columns, found {}", self.columns.len(), cells.len()));
        }
        let mut tags = self.fixed_tags.clone();
        let mut fields = Vec::new();
        let mut time = None;
        for (col, cell) in self.columns.iter().zip(&cells) {
            match col {
                Column::Time => time = Some(self.parse_time(cell)?),
                Column::Tag(k) if !cell.is_empty() => {
                    // (The reason is formatted only for a row refused.)
                    check_name("value", cell).map_err(|reason| format!("tag {k:?} {reason}"))?;
                    tags.push((k.clone(), cell.clone()));
                }
                Column::Tag(_) => {}
                Column::Field(_) if cell.is_empty() => {}
                Column::Field(name) => {
                    let value = match cell.trim().parse::<f64>() {
                        Ok(v) if v.is_finite() => FieldValue::Float(v),
                        _ => FieldValue::String(cell.clone()),
                    };
                    fields.push((name.clone(), value));
                }
            }
        }
        if fields.is_empty() {
            return Err("no field values".into());
        }
        tags.sort();
        let point = Point { measurement: self.measurement.clone(), tags, fields, timestamp: time };
        let mut out = String::new();
        if !write_point(&mut out, &point) {
            return Err("nothing in the row can be written as line protocol".into());
        }
        out.pop(); // The line's `\n`: the batch adds its own.
        Ok(out)
    }

    fn parse_time(&self, cell: &str) -> std::result::Result<i64, String> {
        let cell = cell.trim();
        let bad = || format!("invalid time {cell:?}");
        let rfc = |c: &str| chrono::DateTime::parse_from_rfc3339(c).ok().and_then(|t| t.timestamp_nanos_opt());
        let strf = |c: &str, f: &str| {
            chrono::NaiveDateTime::parse_from_str(c, f).ok().and_then(|t| t.and_utc().timestamp_nanos_opt())
        };
        match &self.time_format {
            TimeFormat::Rfc3339 => rfc(cell).ok_or_else(bad),
            TimeFormat::Strftime(f) => strf(cell, f).ok_or_else(bad),
            TimeFormat::Unix(mult) => cell.parse::<i64>().ok().and_then(|v| v.checked_mul(*mult)).ok_or_else(bad),
            TimeFormat::Auto => rfc(cell)
                .or_else(|| strf(cell, "%Y-%m-%d %H:%M:%S"))
                .or_else(|| strf(cell, "%Y-%m-%dT%H:%M:%S"))
                .or_else(|| cell.parse::<i64>().ok())
                .ok_or_else(bad),
        }
    }
}

/// Refuses a name (measurement, tag key or value, field key) that line
/// protocol cannot carry exactly: empty, ending with a backslash (it would
/// escape the delimiter after it), or holding a newline (it would end the
/// line). `what` names it in the reason.
fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        Err(format!("{what} is empty"))
    } else if name.ends_with('\\') {
        Err(format!("{what} {name:?} ends with a backslash, which line protocol cannot carry"))
    } else if name.contains(['\n', '\r']) {
        Err(format!("{what} {name:?} holds a line break"))
    } else {
        Ok(())
    }
}

/// Splits one CSV record (RFC 4180 quoting; no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Progress on stderr: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    raw: Arc<AtomicU64>,
    last: Mutex<Instant>,
}

impl Progress {
    fn new(total: Option<u64>, raw: Arc<AtomicU64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let style = indicatif::ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress { bar, raw, last: Mutex::new(Instant::now()) }
    }

    fn tick(&self, points: u64, t0: Instant) {
        let rate = points as f64 / t0.elapsed().as_secs_f64().max(1e-3);
        let bytes = self.raw.load(Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_position(bytes);
                bar.set_message(format!("{points} points, {rate:.0} points/s"));
            }
            None => {
                if let Ok(mut last) = self.last.lock() {
                    if last.elapsed() >= Duration::from_secs(5) {
                        *last = Instant::now();
                        eprintln!("imported {points} points ({rate:.0} points/s), {bytes} bytes read");
                    }
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_line_numbers() {
        let msg = "unable to parse 'cpu v=': line 2, column 7: missing field value\nunable to parse 'oops': line 5, column 5: missing fields";
        let got: Vec<u64> = parse_rejects(msg).into_iter().map(|r| r.0).collect();
        assert_eq!(got, vec![2, 5]);
        let msg = "partial write: line 3: field type conflict: x dropped=1";
        assert_eq!(parse_rejects(msg)[0].0, 3);
    }

    /// `ImportArgs` for CSV into `measurement`, with `tags` fixed and
    /// `tag_columns` read from the file.
    fn csv_args(measurement: &str, tags: &[&str], tag_columns: &[&str]) -> ImportArgs {
        ImportArgs {
            inputs: vec!["-".into()],
            db: "db".into(),
            rp: None,
            precision: "ns".into(),
            format: Some(Format::Csv),
            batch: 10,
            workers: 1,
            rejects: None,
            resume: false,
            measurement: Some(measurement.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            tag_columns: tag_columns.iter().map(|t| t.to_string()).collect(),
            field: None,
            time_column: None,
            time_format: "unix-s".into(),
            conn: ConnArgs { url: "http://127.0.0.1:1".into(), token: None },
        }
    }

    /// One CSV cell, always quoted (quotes doubled).
    fn quoted(cell: &str) -> String {
        format!("\"{}\"", cell.replace('"', "\"\""))
    }

    mod props {
        use super::*;
        use augur_engine::lineproto::parse;
        use augur_engine::model::Precision;
        use proptest::prelude::*;

        /// Names and cells with every line-protocol special in them.
        fn text() -> impl Strategy<Value = String> {
            r#"[a-c ,=\\"\t#é0-9.]{0,6}"#
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// Every CSV row becomes a line that the server reads back as
            /// exactly the point the row holds (numbers as floats, other
            /// cells as strings, empty cells left out), or is refused
            /// with a reason: never a line that reads back as something else.
            #[test]
            fn a_converted_row_reads_back_as_the_same_point(
                measurement in r"[a-c ,=\\]{1,5}",
                tag_names in proptest::collection::btree_set(r"[a-c ,=\\]{1,4}", 0..3),
                field_names in proptest::collection::btree_set(r#"[d-f ,=\\"]{1,4}"#, 1..4),
                cells in proptest::collection::vec(text(), 6),
                numbers in proptest::collection::vec(proptest::option::of(-1e9f64..1e9), 3),
                time in 0i64..2_000_000_000,
            ) {
                let tag_names: Vec<String> = tag_names.into_iter().collect();
                let field_names: Vec<String> =
                    field_names.into_iter().filter(|f| !tag_names.contains(f)).collect();
                prop_assume!(!field_names.is_empty());
                let tag_refs: Vec<&str> = tag_names.iter().map(String::as_str).collect();
                let Ok(mut converter) = CsvConverter::new(&csv_args(&measurement, &[], &tag_refs)) else {
                    return Ok(());
                };
                let header: Vec<String> = std::iter::once("time".to_string())
                    .chain(tag_names.iter().cloned())
                    .chain(field_names.iter().cloned())
                    .map(|n| quoted(&n))
                    .collect();
                if converter.header(&header.join(",")).is_err() {
                    return Ok(());
                }
                let tag_cells: Vec<String> = cells[..tag_names.len()].to_vec();
                let field_cells: Vec<String> = field_names
                    .iter()
                    .enumerate()
                    .map(|(i, _)| match numbers[i] {
                        Some(n) => format!("{n:?}"),
                        None => cells[3 + i].clone(),
                    })
                    .collect();
                let row: Vec<String> = std::iter::once(time.to_string())
                    .chain(tag_cells.iter().chain(&field_cells).map(|c| quoted(c)))
                    .collect();
                let Ok(line) = converter.convert(&row.join(",")) else { return Ok(()) };
                let parsed = parse(line.as_bytes(), Precision::Nanoseconds);
                prop_assert!(parsed.errors.is_empty(), "{line:?}: {:?}", parsed.errors);
                prop_assert_eq!(parsed.points.len(), 1, "{:?}", line);
                let point = &parsed.points[0];
                prop_assert_eq!(&point.measurement, &measurement, "{:?}", line);
                let mut tags: Vec<(String, String)> = tag_names
                    .iter()
                    .cloned()
                    .zip(tag_cells)
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                tags.sort();
                prop_assert_eq!(&point.tags, &tags, "{:?}", line);
                let mut fields: Vec<(String, FieldValue)> = field_names
                    .iter()
                    .cloned()
                    .zip(field_cells)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| match v.trim().parse::<f64>() {
                        Ok(f) if f.is_finite() => (k, FieldValue::Float(f)),
                        _ => (k, FieldValue::String(v)),
                    })
                    .collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                let mut got = point.fields.clone();
                got.sort_by(|a, b| a.0.cmp(&b.0));
                prop_assert_eq!(got, fields, "{:?}", line);
                prop_assert_eq!(point.timestamp, Some(time * 1_000_000_000));
            }
        }
    }

    #[test]
    fn rows_line_protocol_cannot_carry_are_refused_with_the_reason() {
        let mut c = CsvConverter::new(&csv_args("cpu load", &["dc=eu 1"], &["host"])).expect("valid");
        c.header("time,host,user time").expect("header");
        assert_eq!(c.convert("1,h 1,0.5").as_deref(), Ok(r"cpu\ load,dc=eu\ 1,host=h\ 1 user\ time=0.5 1000000000"));
        let e = c.convert(r"1,h\,0.5").expect_err("a tag value ending with a backslash");
        assert!(e.contains("backslash") && e.contains("host"), "{e}");
        assert_eq!(c.convert(r#"1,h,"a\""#).as_deref(), Ok(r#"cpu\ load,dc=eu\ 1,host=h user\ time="a\\" 1000000000"#));
        for (args, fault) in [
            (csv_args("#cpu", &[], &[]), "starting with `#`"),
            (csv_args(r"cpu\", &[], &[]), "backslash"),
            (csv_args("cpu", &["k=v\\"], &[]), "--tag value"),
            (csv_args("cpu", &["host=a"], &["host"]), "also given by --tag"),
        ] {
            let e = CsvConverter::new(&args).and_then(|mut c| c.header("time,host,v")).expect_err(fault);
            assert!(e.to_string().contains(fault), "{e}");
        }
        let mut c = CsvConverter::new(&csv_args("cpu", &[], &[])).expect("valid");
        assert!(c.header("time,v,v").expect_err("twice").to_string().contains("twice"));
        assert!(c.header("time,\tv").expect_err("tab").to_string().contains("tab"));
        // `--field` renames only a single value column; with two, their own
        // names are the keys and are checked as such.
        let mut renamed = csv_args("cpu", &[], &[]);
        renamed.field = Some("value".into());
        let mut c = CsvConverter::new(&renamed).expect("valid");
        assert!(c.header(r"time,a\,b").expect_err("backslash").to_string().contains("backslash"));
        c.header("time,load").expect("one column, renamed");
        assert_eq!(c.convert("1,0.5").as_deref(), Ok("cpu value=0.5 1000000000"));
    }

    #[test]
    fn csv_split_and_names_line_protocol_cannot_carry() {
        assert_eq!(split_csv(r#"a,"b,c","d""e""#), vec!["a", "b,c", "d\"e"]);
        assert!(check_name("tag", "a b,c=d").is_ok());
        for bad in ["", "a\\", "a\nb"] {
            assert!(check_name("tag", bad).is_err(), "{bad:?}");
        }
    }
}
