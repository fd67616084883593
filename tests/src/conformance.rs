//! The conformance suite's file format: parsing, running, blessing.
//!
//! A `.test` file (format in `tests/conformance/README.md`) is a script of
//! writes, statements and queries with InfluxDB 1.6.7's exact answers. The
//! runner replays it top to bottom against one server and compares every
//! answer as parsed JSON ([`crate::jsoncmp`]). Blessing replays it against
//! a real `influxd` and rewrites the expectations in place, leaving every
//! other byte of the file alone, so the expectations are InfluxDB's and a
//! reviewer reads them as a diff.
//!
//! Why a text format: the other query work (functions, DDL, continuous
//! queries) adds coverage by adding lines, a `skip` line marks what is not
//! implemented yet, and a `differs` line marks — with both answers on
//! record — where Augur deliberately answers differently.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::jsoncmp::{first_difference, json_match, layout};
use crate::target::{QueryOptions, Target};
use crate::Reply;

/// The database a file's entries use unless they say otherwise.
pub const DEFAULT_DB: &str = "db";

/// A parse error in a `.test` file, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// An expected answer: HTTP status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// HTTP status (200 unless the block starts with `status N`).
    pub status: u16,
    /// The body, parsed (a chunked answer: an array of its documents).
    pub body: Value,
}

impl Expected {
    /// The block text (without the `----` line).
    pub fn block(&self) -> String {
        let mut out = String::new();
        if self.status != 200 {
            out.push_str(&format!("status {}\n", self.status));
        }
        out.push_str(&layout(&self.body));
        out.push('\n');
        out
    }

    /// Whether an actual answer matches.
    pub fn matches(&self, actual: &Expected) -> bool {
        self.status == actual.status && json_match(&self.body, &actual.body)
    }
}

/// What a `query` entry is marked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Run and compare with InfluxDB's answer.
    None,
    /// Not run: the feature is not implemented yet (the reason).
    Skip(String),
    /// Augur deliberately answers differently (the reason); its own answer
    /// is stored in a second block.
    Differs(String),
    /// Augur answers differently by mistake (the reason): a known bug, with
    /// Augur's current answer stored in a second block until it is fixed.
    Bug(String),
}

impl Mark {
    /// Whether entries with this mark record Augur's own answer.
    pub fn has_own_answer(&self) -> bool {
        matches!(self, Mark::Differs(_) | Mark::Bug(_))
    }
}

/// One `query` entry.
#[derive(Debug, Clone)]
pub struct QueryEntry {
    /// 1-based line of the `query` header.
    pub line: usize,
    /// Request options.
    pub options: QueryOptions,
    /// The query text (lines joined by `\n`).
    pub text: String,
    /// Its mark.
    pub mark: Mark,
    /// InfluxDB's answer (`None`: not blessed yet).
    pub influxdb: Option<Expected>,
    /// Augur's answer, for `differs` entries.
    pub augur: Option<Expected>,
    /// 0-based line range of the expectation blocks (from the first `----`
    /// to the last block line), replaced when blessing; empty when there is
    /// none yet (then it is the insertion point after the query text).
    pub span: (usize, usize),
}

/// One item of a file, in order.
#[derive(Debug, Clone)]
pub enum Item {
    /// Line protocol written to `db`/`rp` with `precision`.
    Data {
        /// 1-based line of the `data` header.
        line: usize,
        /// Target database.
        db: String,
        /// Retention policy (`None`: the default).
        rp: Option<String>,
        /// `/write` precision.
        precision: String,
        /// The lines.
        body: String,
    },
    /// A statement that must succeed.
    Statement {
        /// 1-based line of the `statement ok` header.
        line: usize,
        /// Request options.
        options: QueryOptions,
        /// The statement text.
        text: String,
    },
    /// A query with an expected answer.
    Query(QueryEntry),
}

/// A parsed `.test` file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its lines (to rewrite it when blessing).
    pub lines: Vec<String>,
    /// Databases created before the first item (`database` lines; default
    /// [`DEFAULT_DB`], `database none` for none).
    pub databases: Vec<String>,
    /// The items.
    pub items: Vec<Item>,
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Parses `key=value` / flag options of a `query`, `statement` or `data`
/// header.
fn parse_options(
    words: &[&str],
    default_db: &str,
    err: &dyn Fn(String) -> FormatError,
) -> Result<QueryOptions, FormatError> {
    let mut o = QueryOptions { db: Some(default_db.to_string()), ..QueryOptions::default() };
    for w in words {
        match w.split_once('=') {
            Some(("db", v)) => o.db = Some(v.to_string()),
            Some(("rp", v)) => o.rp = Some(v.to_string()),
            Some(("epoch", v)) => o.epoch = Some(v.to_string()),
            Some(("params", v)) => o.params = Some(v.to_string()),
            None if *w == "nodb" => o.db = None,
            None if *w == "get" => o.get = true,
            None if *w == "chunked" => o.chunked = true,
            None if *w == "csv" => o.csv = true,
            Some(("chunk_size", v)) => {
                o.chunked = true;
                o.chunk_size = Some(v.parse().map_err(|_| err(format!("bad chunk_size {v:?}")))?);
            }
            _ => return Err(err(format!("unknown option {w:?}"))),
        }
    }
    Ok(o)
}

/// Parses an expectation block's lines.
fn parse_block(lines: &[String], err: &dyn Fn(String) -> FormatError) -> Result<Expected, FormatError> {
    let mut status = 200;
    let mut rest = lines;
    if let Some(first) = lines.first().and_then(|l| l.strip_prefix("status ")) {
        status = first.trim().parse().map_err(|_| err(format!("bad status {first:?}")))?;
        rest = &lines[1..];
    }
    let text = rest.join("\n");
    let body = parse_body(&text).map_err(|e| err(format!("expected answer is not JSON: {e}")))?;
    Ok(Expected { status, body })
}

/// Parses a body: one JSON document, or several (a chunked answer) as an
/// array of them.
pub fn parse_body(text: &str) -> Result<Value, serde_json::Error> {
    let mut docs = serde_json::Deserializer::from_str(text).into_iter::<Value>().collect::<Result<Vec<_>, _>>()?;
    Ok(if docs.len() == 1 { docs.remove(0) } else { Value::Array(docs) })
}

impl TestFile {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<TestFile, FormatError> {
        let text = std::fs::read_to_string(path).map_err(|e| FormatError {
            path: path.to_path_buf(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        TestFile::parse(path, &text)
    }

    /// Parses file text.
    pub fn parse(path: &Path, text: &str) -> Result<TestFile, FormatError> {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut items = Vec::new();
        let mut databases: Option<Vec<String>> = None;
        let mut mark = Mark::None;
        let mut i = 0;
        while i < lines.len() {
            let line_no = i + 1;
            let err = |message: String| FormatError { path: path.to_path_buf(), line: line_no, message };
            let line = lines[i].trim_end();
            let words: Vec<&str> = line.split_whitespace().collect();
            if is_blank(line) || line.starts_with('#') {
                i += 1;
                continue;
            }
            let default_db = databases.as_ref().and_then(|d| d.first().cloned()).unwrap_or_else(|| DEFAULT_DB.into());
            match words[0] {
                "database" => {
                    let list = databases.get_or_insert_with(Vec::new);
                    if words.get(1) != Some(&"none") {
                        list.extend(words[1..].iter().map(|w| w.to_string()));
                    }
                    i += 1;
                }
                "skip" | "differs" | "bug" => {
                    let reason = line[words[0].len()..].trim().to_string();
                    if reason.is_empty() {
                        return Err(err(format!("`{}` needs a reason", words[0])));
                    }
                    if mark != Mark::None {
                        return Err(err("two marks on one entry".into()));
                    }
                    mark = match words[0] {
                        "skip" => Mark::Skip(reason),
                        "differs" => Mark::Differs(reason),
                        _ => Mark::Bug(reason),
                    };
                    i += 1;
                }
                "data" => {
                    let mut db = default_db.clone();
                    let mut rp = None;
                    let mut precision = "ns".to_string();
                    for w in &words[1..] {
                        match w.split_once('=') {
                            Some(("db", v)) => db = v.to_string(),
                            Some(("rp", v)) => rp = Some(v.to_string()),
                            Some(("precision", v)) => precision = v.to_string(),
                            _ => return Err(err(format!("unknown data option {w:?}"))),
                        }
                    }
                    let start = i + 1;
                    let mut end = start;
                    while end < lines.len() && !is_blank(&lines[end]) {
                        end += 1;
                    }
                    let body: String = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
                    items.push(Item::Data { line: line_no, db, rp, precision, body });
                    i = end;
                }
                "statement" => {
                    if words.get(1) != Some(&"ok") {
                        return Err(err("expected `statement ok`".into()));
                    }
                    let options = parse_options(&words[2..], &default_db, &err)?;
                    let start = i + 1;
                    let mut end = start;
                    while end < lines.len() && !is_blank(&lines[end]) {
                        end += 1;
                    }
                    if start == end {
                        return Err(err("statement without text".into()));
                    }
                    items.push(Item::Statement { line: line_no, options, text: lines[start..end].join("\n") });
                    i = end;
                }
                "query" => {
                    let options = parse_options(&words[1..], &default_db, &err)?;
                    let start = i + 1;
                    let mut end = start;
                    while end < lines.len() && !is_blank(&lines[end]) && !lines[end].starts_with("----") {
                        end += 1;
                    }
                    if start == end {
                        return Err(err("query without text".into()));
                    }
                    let text = lines[start..end].join("\n");
                    let span_start = end;
                    let mut influxdb = None;
                    let mut augur = None;
                    let mut j = end;
                    while j < lines.len() && lines[j].starts_with("----") {
                        let which = lines[j].trim_start_matches('-').trim().to_string();
                        let block_start = j + 1;
                        let mut block_end = block_start;
                        while block_end < lines.len()
                            && !is_blank(&lines[block_end])
                            && !lines[block_end].starts_with("----")
                        {
                            block_end += 1;
                        }
                        let block_err =
                            |message: String| FormatError { path: path.to_path_buf(), line: j + 1, message };
                        let expected = parse_block(&lines[block_start..block_end], &block_err)?;
                        match which.as_str() {
                            "" if influxdb.is_none() => influxdb = Some(expected),
                            "augur" if augur.is_none() => augur = Some(expected),
                            _ => return Err(block_err(format!("unexpected block header {:?}", lines[j]))),
                        }
                        j = block_end;
                    }
                    if augur.is_some() && !mark.has_own_answer() {
                        return Err(err("a `---- augur` block needs a `differs` or `bug` mark".into()));
                    }
                    items.push(Item::Query(QueryEntry {
                        line: line_no,
                        options,
                        text,
                        mark: std::mem::replace(&mut mark, Mark::None),
                        influxdb,
                        augur,
                        span: (span_start, j),
                    }));
                    i = j;
                }
                other => return Err(err(format!("unknown directive {other:?}"))),
            }
            if mark != Mark::None && !matches!(words[0], "skip" | "differs" | "bug") {
                return Err(err("`skip`/`differs`/`bug` must come right before a `query`".into()));
            }
        }
        if mark != Mark::None {
            return Err(FormatError { path: path.to_path_buf(), line: lines.len(), message: "dangling mark".into() });
        }
        Ok(TestFile {
            path: path.to_path_buf(),
            lines,
            databases: databases.unwrap_or_else(|| vec![DEFAULT_DB.to_string()]),
            items,
        })
    }

    /// The file text with each query's blocks replaced by `blocks(entry)`
    /// (which returns the whole replacement, `----` lines included).
    pub fn rewrite(&self, mut blocks: impl FnMut(&QueryEntry) -> String) -> String {
        let mut out = String::new();
        let mut next = 0;
        for item in &self.items {
            if let Item::Query(q) = item {
                for l in &self.lines[next..q.span.0] {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push_str(&blocks(q));
                next = q.span.1;
            }
        }
        for l in &self.lines[next..] {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// An answer as an [`Expected`] (chunked bodies as arrays); a body that is
/// not JSON (CSV, or empty) becomes a JSON string of the text.
pub fn answer(reply: &Reply) -> Expected {
    let body = if reply.body.trim().is_empty() {
        Value::String(String::new())
    } else {
        parse_body(&reply.body).unwrap_or_else(|_| Value::String(reply.body.clone()))
    };
    Expected { status: reply.status, body }
}

/// What became of one entry.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Matched its expectation.
    Pass,
    /// A documented difference, and Augur's answer matched its own block.
    KnownDifference,
    /// A known bug, and Augur's answer matched its own (wrong) block.
    KnownBug,
    /// Marked `skip` and still not matching InfluxDB's answer.
    Skipped,
    /// Marked `skip` but now answers as InfluxDB does: remove the mark.
    SkippedButPasses,
    /// Did not match (the message says how).
    Fail(String),
}

/// The outcome of every entry of a file run against one target.
#[derive(Debug, Clone)]
pub struct FileRun {
    /// `(line, query text, outcome, actual answer)` per `query` entry.
    pub entries: Vec<(usize, String, Outcome, Expected)>,
    /// Failures outside queries (data or statements that failed).
    pub errors: Vec<String>,
}

/// Writes data, runs statements and creates the file's databases on
/// `target`, and runs every query, returning the raw answers; `compare`
/// decides the outcomes.
pub fn run_file(file: &TestFile, target: &Target, compare: impl Fn(&QueryEntry, &Expected) -> Outcome) -> FileRun {
    let mut run = FileRun { entries: Vec::new(), errors: Vec::new() };
    let loc = |line: usize| format!("{}:{line}", file.path.display());
    for db in &file.databases {
        target.must(&format!("CREATE DATABASE \"{db}\""), None);
    }
    for item in &file.items {
        match item {
            Item::Data { line, db, rp, precision, body } => {
                let reply = target.write(db, rp.as_deref(), precision, body);
                if reply.status != 204 {
                    run.errors.push(format!("{}: data block not written: {reply}", loc(*line)));
                }
            }
            Item::Statement { line, options, text } => {
                let reply = target.query(text, options);
                if reply.status != 200 || reply.body.contains("\"error\"") {
                    run.errors.push(format!("{}: statement {text:?} failed: {reply}", loc(*line)));
                }
            }
            Item::Query(q) => {
                let actual = answer(&target.query(&q.text, &q.options));
                let outcome = compare(q, &actual);
                run.entries.push((q.line, q.text.clone(), outcome, actual));
            }
        }
    }
    run
}

/// Augur's check: each entry against InfluxDB's answer, or its own for
/// `differs` entries.
pub fn check_augur(q: &QueryEntry, actual: &Expected) -> Outcome {
    let vs = |want: &Expected| {
        format!(
            "first difference {}\n      want: {}\n      got:  {}",
            if want.status != actual.status {
                format!("status {} vs {}", want.status, actual.status)
            } else {
                first_difference(&want.body, &actual.body).unwrap_or_default()
            },
            crate::jsoncmp::ordered(&want.body),
            crate::jsoncmp::ordered(&actual.body)
        )
    };
    match (&q.mark, &q.influxdb, &q.augur) {
        (_, None, _) => Outcome::Fail("no expected answer: bless the file (CONFORMANCE_BLESS=influxd)".into()),
        (Mark::Skip(_), Some(want), _) => {
            if want.matches(actual) {
                Outcome::SkippedButPasses
            } else {
                Outcome::Skipped
            }
        }
        (Mark::Differs(_) | Mark::Bug(_), Some(want), Some(own)) => {
            if own.matches(actual) {
                if matches!(q.mark, Mark::Bug(_)) {
                    Outcome::KnownBug
                } else {
                    Outcome::KnownDifference
                }
            } else if want.matches(actual) {
                Outcome::Fail("marked but now answers as InfluxDB: remove the mark and the `---- augur` block".into())
            } else {
                Outcome::Fail(format!("differs from its `---- augur` block: {}", vs(own)))
            }
        }
        (Mark::Differs(_) | Mark::Bug(_), Some(_), None) => {
            Outcome::Fail("marked entry without a `---- augur` block: bless with CONFORMANCE_BLESS=augur".into())
        }
        (Mark::None, Some(want), _) => {
            if want.matches(actual) {
                Outcome::Pass
            } else {
                Outcome::Fail(vs(want))
            }
        }
    }
}

/// The replacement blocks of an entry: `----` + InfluxDB's answer, and for
/// `differs` entries `---- augur` + Augur's.
pub fn blocks(influxdb: Option<&Expected>, augur: Option<&Expected>) -> String {
    let mut out = String::new();
    if let Some(e) = influxdb {
        out.push_str("----\n");
        out.push_str(&e.block());
    }
    if let Some(a) = augur {
        out.push_str("---- augur\n");
        out.push_str(&a.block());
    }
    out
}

/// The `.test` files under `dir`, sorted, filtered by the substring in
/// `$CONFORMANCE_FILTER` when set.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(&filter)))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# a comment\n\
database db other\n\
\n\
data precision=s\n\
cpu,host=a v=1 1\n\
cpu,host=b v=2 2\n\
\n\
statement ok nodb\n\
CREATE RETENTION POLICY r ON db DURATION 1d REPLICATION 1\n\
\n\
query epoch=s\n\
SELECT v FROM cpu\n\
----\n\
{\"results\":[\n{\"statement_id\":0}\n]}\n\
\n\
skip not yet\n\
query\n\
SELECT abs(v) FROM cpu\n\
\n\
differs on purpose\n\
query nodb get\n\
SELEC\n\
----\n\
status 400\n\
{\"error\":\"a\"}\n\
---- augur\n\
status 400\n\
{\"error\":\"b\"}\n";

    #[test]
    fn parses_every_item_kind() {
        let f = TestFile::parse(Path::new("x.test"), FILE).unwrap();
        assert_eq!(f.databases, vec!["db", "other"]);
        assert_eq!(f.items.len(), 5);
        let Item::Data { precision, body, db, .. } = &f.items[0] else { panic!() };
        assert_eq!((precision.as_str(), db.as_str()), ("s", "db"));
        assert_eq!(body, "cpu,host=a v=1 1\ncpu,host=b v=2 2\n");
        let Item::Statement { options, .. } = &f.items[1] else { panic!() };
        assert_eq!(options.db, None);
        let Item::Query(q) = &f.items[2] else { panic!() };
        assert_eq!(q.options.epoch.as_deref(), Some("s"));
        assert_eq!(q.influxdb.as_ref().unwrap().body, serde_json::json!({"results":[{"statement_id":0}]}));
        let Item::Query(q) = &f.items[3] else { panic!() };
        assert_eq!(q.mark, Mark::Skip("not yet".into()));
        assert!(q.influxdb.is_none());
        assert_eq!(q.span.0, q.span.1);
        let Item::Query(q) = &f.items[4] else { panic!() };
        assert!(q.options.get);
        assert_eq!(q.influxdb.as_ref().unwrap().status, 400);
        assert_eq!(q.augur.as_ref().unwrap().body, serde_json::json!({"error":"b"}));
    }

    #[test]
    fn rewrite_replaces_only_blocks() {
        let f = TestFile::parse(Path::new("x.test"), FILE).unwrap();
        assert_eq!(f.rewrite(|q| blocks(q.influxdb.as_ref(), q.augur.as_ref())), FILE);
        let new = Expected { status: 200, body: serde_json::json!({"results":[]}) };
        let text = f.rewrite(|q| blocks(Some(&new), q.augur.as_ref()));
        let g = TestFile::parse(Path::new("x.test"), &text).unwrap();
        for item in &g.items {
            if let Item::Query(q) = item {
                assert_eq!(q.influxdb.as_ref(), Some(&new));
            }
        }
        assert!(
            text.contains("skip not yet\nquery\nSELECT abs(v) FROM cpu\n----\n{\"results\":[\n]}\n\ndiffers"),
            "{text}"
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = TestFile::parse(Path::new("x.test"), "query\nSELECT 1\n----\nnot json\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = TestFile::parse(Path::new("x.test"), "\nfrobnicate\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "unknown directive \"frobnicate\""));
        let e = TestFile::parse(Path::new("x.test"), "skip\nquery\nSELECT 1\n").unwrap_err();
        assert!(e.message.contains("reason"));
    }

    #[test]
    fn outcomes_follow_marks() {
        let want = Expected { status: 200, body: serde_json::json!({"a":1}) };
        let other = Expected { status: 200, body: serde_json::json!({"a":2}) };
        let mut q = QueryEntry {
            line: 1,
            options: QueryOptions::default(),
            text: "x".into(),
            mark: Mark::None,
            influxdb: Some(want.clone()),
            augur: None,
            span: (0, 0),
        };
        assert!(matches!(check_augur(&q, &want), Outcome::Pass));
        assert!(matches!(check_augur(&q, &other), Outcome::Fail(_)));
        q.mark = Mark::Skip("r".into());
        assert!(matches!(check_augur(&q, &want), Outcome::SkippedButPasses));
        assert!(matches!(check_augur(&q, &other), Outcome::Skipped));
        q.mark = Mark::Differs("r".into());
        q.augur = Some(other.clone());
        assert!(matches!(check_augur(&q, &other), Outcome::KnownDifference));
        assert!(matches!(check_augur(&q, &want), Outcome::Fail(_)));
    }
}
