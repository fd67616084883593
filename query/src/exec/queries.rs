//! `SHOW QUERIES` and `KILL QUERY`: the executor's bridge to the table of
//! running queries, which lives in the server.
//!
//! Why a trait: the table is filled by the HTTP layer (one entry per
//! request, with its cancellation token) and must be scoped to the caller's
//! tenant, neither of which the query crate knows about. The server passes
//! a [`QueryTable`] bound to the caller in the
//! [`ExecutionContext`](super::ExecutionContext), as it does for accounts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::ExecError;
use crate::duration::format_duration;
use crate::result::Series;

/// The columns of `SHOW QUERIES`, as InfluxDB 1.6 prints them.
const COLUMNS: [&str; 5] = ["qid", "query", "database", "duration", "status"];

/// The error when no table is attached (the library used on its own).
const NO_TABLE: &str = "query management is not available here";

/// One query in flight, as `SHOW QUERIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningQuery {
    /// Its id, for `KILL QUERY`.
    pub qid: u64,
    /// The request's statements, joined by `;\n` (as InfluxDB prints them).
    pub query: String,
    /// The request's `db` parameter (`""` for none).
    pub database: String,
    /// How long it has been running.
    pub elapsed: Duration,
    /// Whether `KILL QUERY` has stopped it (it is still finishing its
    /// current batch).
    pub killed: bool,
}

/// The running queries one caller may see and stop.
pub trait QueryTable: Send + Sync {
    /// The caller's running queries, by id.
    fn running(&self) -> Vec<RunningQuery>;

    /// Stops query `qid`; the error text is what the client reads
    /// (`no such query id: N` for an id the caller cannot see).
    fn kill(&self, qid: u64) -> Result<(), String>;
}

/// A shared [`QueryTable`] (cloned into every context).
#[derive(Clone)]
pub struct RunningQueries(pub Arc<dyn QueryTable>);

impl fmt::Debug for RunningQueries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunningQueries(..)")
    }
}

/// `SHOW QUERIES`.
pub(super) fn show(table: Option<&RunningQueries>) -> Result<Vec<Series>, ExecError> {
    let table = table.ok_or_else(|| ExecError::Plain(NO_TABLE.to_string()))?;
    let mut series = Series::new(None, &COLUMNS);
    series.values = table
        .0
        .running()
        .into_iter()
        .map(|q| {
            vec![
                Value::from(q.qid),
                Value::String(q.query),
                Value::String(q.database),
                Value::String(format_elapsed(q.elapsed)),
                Value::String(if q.killed { "killed" } else { "running" }.to_string()),
            ]
        })
        .collect();
    Ok(vec![series])
}

/// `KILL QUERY <qid>`.
pub(super) fn kill(table: Option<&RunningQueries>, qid: u64) -> Result<Vec<Series>, ExecError> {
    let table = table.ok_or_else(|| ExecError::Plain(NO_TABLE.to_string()))?;
    table.0.kill(qid).map_err(ExecError::Plain)?;
    Ok(Vec::new())
}

/// A running time as InfluxDB's task manager prints it: truncated to whole
/// seconds, milliseconds or microseconds (the largest unit it reaches),
/// then in Go's notation (`1m5s`, `250ms`, `78µs`).
pub fn format_elapsed(elapsed: Duration) -> String {
    let ns = elapsed.as_nanos();
    let unit: u128 = if ns >= 1_000_000_000 {
        1_000_000_000
    } else if ns >= 1_000_000 {
        1_000_000
    } else if ns >= 1_000 {
        1_000
    } else {
        1
    };
    let truncated = i64::try_from(ns - ns % unit).unwrap_or(i64::MAX);
    format_duration(truncated)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A table of fixed entries that records kills.
    struct Fixed(Mutex<Vec<RunningQuery>>);

    impl QueryTable for Fixed {
        fn running(&self) -> Vec<RunningQuery> {
            self.0.lock().map(|q| q.clone()).unwrap_or_default()
        }

        fn kill(&self, qid: u64) -> Result<(), String> {
            let mut queries = self.0.lock().map_err(|e| e.to_string())?;
            match queries.iter_mut().find(|q| q.qid == qid) {
                Some(q) => {
                    q.killed = true;
                    Ok(())
                }
                None => Err(format!("no such query id: {qid}")),
            }
        }
    }

    #[test]
    fn elapsed_is_truncated_to_its_largest_unit() {
        assert_eq!(format_elapsed(Duration::from_nanos(512)), "512ns");
        assert_eq!(format_elapsed(Duration::from_nanos(78_123)), "78µs");
        assert_eq!(format_elapsed(Duration::from_micros(3_250)), "3ms");
        assert_eq!(format_elapsed(Duration::from_millis(65_700)), "1m5s");
    }

    #[test]
    fn show_lists_and_kill_marks() {
        let table = RunningQueries(Arc::new(Fixed(Mutex::new(vec![RunningQuery {
            qid: 7,
            query: "SELECT mean(v) FROM cpu".into(),
            database: "db".into(),
            elapsed: Duration::from_millis(1_500),
            killed: false,
        }]))));
        let shown = show(Some(&table)).expect("shows");
        assert_eq!(shown[0].columns, COLUMNS);
        assert_eq!(
            shown[0].values,
            vec![vec![
                Value::from(7u64),
                Value::from("SELECT mean(v) FROM cpu"),
                Value::from("db"),
                Value::from("1s"),
                Value::from("running")
            ]]
        );
        assert!(kill(Some(&table), 7).expect("kills").is_empty());
        assert_eq!(show(Some(&table)).expect("shows")[0].values[0][4], Value::from("killed"));
        let missing = kill(Some(&table), 8).expect_err("unknown id");
        assert_eq!(missing.to_string(), "no such query id: 8");
        assert_eq!(show(None).expect_err("no table").to_string(), NO_TABLE);
    }
}
