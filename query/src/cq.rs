//! Continuous queries: their stored definitions, their watermarks, the
//! schedule arithmetic, and one run.
//!
//! Why in the query crate: the statements (`CREATE`, `SHOW`, `DROP`) and
//! the background scheduler (in the server) must agree on the stored
//! format and on which time range a run covers; keeping both here makes
//! the scheduler a thin loop and the arithmetic unit-testable without a
//! clock.
//!
//! Storage: one meta record per query, `cq/def/<len>:<db><name>` → JSON
//! `{"query": <canonical CREATE text>, "created": ns, "seq": n}` (the text
//! is parsed again when loaded, so what `SHOW CONTINUOUS QUERIES` prints is
//! exactly what runs), and one watermark per query, `cq/mark/<len>:<db><name>`
//! → the query's last run time (InfluxDB's `LastRun`, big-endian i64).
//!
//! Schedule (InfluxDB 1.x's `ExecuteContinuousQuery`): with interval `i`
//! and offset `o` from `GROUP BY time(i, o)`, `every` = `RESAMPLE EVERY` or
//! `i`, `for` = `RESAMPLE FOR`, else `every` if larger than `i`, else `i`;
//! a query is due at `next = last_run + every` and then covers
//! `[trunc(next + i - for - o - 1ns, i) + o, trunc(now + i - min(every, i) - o, i) + o)`;
//! afterwards `last_run = trunc(now - o, every) + o`. Because the start
//! comes from the *stored* `last_run`, a server that was down runs every
//! missed interval once, in its first run after the restart (bounded by
//! the caller's catch-up limit), and consecutive runs without `RESAMPLE
//! FOR` cover disjoint ranges.

use augur_engine::forecast::store::{ModelStore, ModelStoreError};
use augur_engine::storage::{StorageError, Store};
use serde::{Deserialize, Serialize};

use crate::ast::{BinaryOp, CreateContinuousQuery, Dimension, Expr, Statement};
use crate::exec::{ExecError, ExecutionContext};
use crate::parser::parse_query;

const DEF_PREFIX: &str = "cq/def/";
const MARK_PREFIX: &str = "cq/mark/";

/// Why a continuous query operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CqError {
    /// `CREATE` of a name that exists with another definition.
    #[error("continuous query already exists")]
    AlreadyExists,
    /// A query without functions (InfluxDB never runs those).
    #[error("continuous queries must be aggregate queries")]
    NotAggregate,
    /// A stored definition that does not decode (written by another version?).
    #[error("stored continuous query {key} is unreadable: {reason}")]
    Corrupt {
        /// Its record key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A stored continuous query.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousQuery {
    /// The parsed definition.
    pub statement: CreateContinuousQuery,
    /// Its canonical text (what `SHOW CONTINUOUS QUERIES` prints).
    pub text: String,
    /// When it was created, ns since the epoch (its first `last_run`).
    pub created_ns: i64,
    /// Creation order within its database.
    pub seq: u64,
}

impl ContinuousQuery {
    /// Its database.
    pub fn database(&self) -> &str {
        &self.statement.database
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.statement.name
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    query: String,
    created: i64,
    seq: u64,
}

fn db_part(db: &str) -> String {
    format!("{}:{db}", db.len())
}

fn def_key(db: &str, name: &str) -> Vec<u8> {
    format!("{DEF_PREFIX}{}{name}", db_part(db)).into_bytes()
}

fn mark_key(db: &str, name: &str) -> Vec<u8> {
    format!("{MARK_PREFIX}{}{name}", db_part(db)).into_bytes()
}

fn decode(key: &[u8], value: &[u8]) -> Result<ContinuousQuery, CqError> {
    let corrupt = |reason: String| CqError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason };
    let record: Record = serde_json::from_slice(value).map_err(|e| corrupt(e.to_string()))?;
    let mut query = parse_query(&record.query).map_err(|e| corrupt(e.to_string()))?;
    match query.statements.pop() {
        Some(Statement::CreateContinuousQuery(statement)) => Ok(ContinuousQuery {
            statement: *statement,
            text: record.query,
            created_ns: record.created,
            seq: record.seq,
        }),
        _ => Err(corrupt("not a CREATE CONTINUOUS QUERY".into())),
    }
}

fn scan(store: &Store, prefix: &str) -> Result<Vec<ContinuousQuery>, CqError> {
    let mut out = store
        .scan_meta_records(prefix.as_bytes())?
        .into_iter()
        .map(|(k, v)| decode(&k, &v))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| (a.database(), a.seq).cmp(&(b.database(), b.seq)));
    Ok(out)
}

/// Every stored continuous query, by database, in creation order.
pub fn list(store: &Store) -> Result<Vec<ContinuousQuery>, CqError> {
    scan(store, DEF_PREFIX)
}

/// The continuous queries of one database, in creation order.
pub fn list_database(store: &Store, db: &str) -> Result<Vec<ContinuousQuery>, CqError> {
    scan(store, &format!("{DEF_PREFIX}{}", db_part(db)))
}

/// Stores a (normalized) definition. Creating the same definition again
/// succeeds; another one under an existing name is [`CqError::AlreadyExists`].
pub fn create(store: &Store, statement: &CreateContinuousQuery, now_ns: i64) -> Result<(), CqError> {
    if !statement.select.fields.iter().any(|f| f.expr.has_call()) {
        return Err(CqError::NotAggregate);
    }
    let text = statement.to_string();
    let existing = list_database(store, &statement.database)?;
    if let Some(old) = existing.iter().find(|c| c.name() == statement.name) {
        return if old.text == text { Ok(()) } else { Err(CqError::AlreadyExists) };
    }
    let seq = existing.iter().map(|c| c.seq + 1).max().unwrap_or(0);
    let record = Record { query: text, created: now_ns, seq };
    let value = serde_json::to_vec(&record).map_err(|e| CqError::Corrupt {
        key: String::from_utf8_lossy(&def_key(&statement.database, &statement.name)).into_owned(),
        reason: e.to_string(),
    })?;
    // A watermark left by an earlier query of the same name must not apply.
    store.delete_meta_record(&mark_key(&statement.database, &statement.name))?;
    store.put_meta_record(&def_key(&statement.database, &statement.name), &value)?;
    Ok(())
}

/// Deletes a continuous query, its watermark and its forecast models
/// (nothing if it does not exist).
pub fn drop(store: &Store, db: &str, name: &str) -> Result<(), CqError> {
    store.delete_meta_record(&def_key(db, name))?;
    store.delete_meta_record(&mark_key(db, name))?;
    ModelStore::new(store.clone(), 1).drop_groups(db, &format!("{name}/")).map_err(models_error)?;
    Ok(())
}

/// Deletes every continuous query of a database, and its forecast models
/// (it is being dropped).
pub fn drop_database(store: &Store, db: &str) -> Result<(), CqError> {
    store.delete_meta_records(format!("{DEF_PREFIX}{}", db_part(db)).as_bytes())?;
    store.delete_meta_records(format!("{MARK_PREFIX}{}", db_part(db)).as_bytes())?;
    ModelStore::new(store.clone(), 1).drop_database(db).map_err(models_error)?;
    Ok(())
}

fn models_error(err: ModelStoreError) -> CqError {
    match err {
        ModelStoreError::Storage(e) => CqError::Storage(e),
        other => CqError::Corrupt { key: "model/".into(), reason: other.to_string() },
    }
}

/// The stored last run time of a query, if it ever ran.
pub fn last_run(store: &Store, db: &str, name: &str) -> Result<Option<i64>, CqError> {
    let Some(bytes) = store.get_meta_record(&mark_key(db, name))? else { return Ok(None) };
    let raw: [u8; 8] = bytes.as_slice().try_into().map_err(|_| CqError::Corrupt {
        key: String::from_utf8_lossy(&mark_key(db, name)).into_owned(),
        reason: format!("watermark of {} bytes", bytes.len()),
    })?;
    Ok(Some(i64::from_be_bytes(raw)))
}

/// Persists a query's last run time (durable when this returns).
pub fn set_last_run(store: &Store, db: &str, name: &str, t: i64) -> Result<(), CqError> {
    Ok(store.put_meta_record(&mark_key(db, name), &t.to_be_bytes())?)
}

/// When a continuous query runs and which time range each run covers, all
/// in nanoseconds (see the module docs for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The `GROUP BY time` interval.
    pub interval: i64,
    /// The `GROUP BY time` offset.
    pub offset: i64,
    /// How often it runs.
    pub every: i64,
    /// How far back a run reaches.
    pub for_: i64,
}

/// `t` rounded down to a multiple of `d` (after the epoch or before).
fn truncate(t: i64, d: i64) -> i64 {
    t - t.rem_euclid(d.max(1))
}

impl Schedule {
    /// The schedule of a definition (`None` without `GROUP BY time`).
    pub fn of(statement: &CreateContinuousQuery) -> Option<Schedule> {
        let (interval, offset) = statement.select.dimensions.iter().find_map(|d| match d {
            Dimension::Time { interval, offset } if *interval > 0 => Some((*interval, *offset)),
            _ => None,
        })?;
        let every = statement.resample.every.unwrap_or(interval);
        let for_ = statement.resample.for_.unwrap_or(if interval < every { every } else { interval });
        Some(Schedule { interval, offset: offset.rem_euclid(interval.max(1)), every, for_ })
    }

    /// The last run time recorded after a run (or creation) at `now`.
    pub fn last_run_after(&self, now: i64) -> i64 {
        truncate(now.saturating_sub(self.offset), self.every) + self.offset
    }

    /// When a query that last ran at `last_run` is due next.
    pub fn next_run(&self, last_run: i64) -> i64 {
        last_run.saturating_add(self.every)
    }

    /// The range `[start, end)` a run at `now` covers when it was due at
    /// `next_run`, or `None` when it is empty.
    pub fn window(&self, next_run: i64, now: i64) -> Option<(i64, i64)> {
        let i = self.interval;
        let step = self.every.min(i);
        let start = truncate(next_run.saturating_add(i - self.for_ - self.offset - 1), i) + self.offset;
        let end = truncate(now.saturating_add(i - step - self.offset), i) + self.offset;
        (end > start).then_some((start, end))
    }
}

/// Runs `cq` over `[start, end)` (replacing any `time` condition of its
/// `WHERE`, as InfluxDB does) and writes the result; returns the points written.
pub fn run_window(store: &Store, cq: &ContinuousQuery, start: i64, end: i64, now_ns: i64) -> Result<usize, ExecError> {
    let mut select = (*cq.statement.select).clone();
    let time = || Expr::VarRef { name: "time".into(), kind: None };
    let range = Expr::binary(
        BinaryOp::And,
        Expr::binary(BinaryOp::Gte, time(), Expr::Integer(start)),
        Expr::binary(BinaryOp::Lt, time(), Expr::Integer(end)),
    );
    select.condition = Some(match select.condition.take().and_then(without_time) {
        Some(rest) => Expr::binary(BinaryOp::And, Expr::Paren(Box::new(rest)), range),
        None => range,
    });
    let ctx = ExecutionContext {
        database: Some(cq.database().to_string()),
        now: Some(now_ns),
        ..ExecutionContext::default()
    };
    crate::exec::into::write_into(store, &select, &ctx, now_ns)
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// The condition without its `time` comparisons (`None` if nothing is left).
pub(crate) fn without_time(e: Expr) -> Option<Expr> {
    match e {
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => match (without_time(*lhs), without_time(*rhs)) {
            (Some(a), Some(b)) => Some(Expr::binary(BinaryOp::And, a, b)),
            (a, None) | (None, a) => a,
        },
        Expr::Paren(inner) => without_time(*inner).map(|e| Expr::Paren(Box::new(e))),
        Expr::Binary { op, lhs, .. } if op.is_comparison() && is_time(&lhs) => None,
        Expr::Binary { op, rhs, .. } if op.is_comparison() && is_time(&rhs) => None,
        e => Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn schedule(q: &str) -> Schedule {
        match parse_query(q).map(|mut q| q.statements.remove(0)) {
            Ok(Statement::CreateContinuousQuery(c)) => Schedule::of(&c).expect("has GROUP BY time"),
            other => panic!("{other:?}"),
        }
    }

    fn cq(resample: &str, group: &str) -> Schedule {
        schedule(&format!(
            "CREATE CONTINUOUS QUERY c ON d {resample} BEGIN SELECT mean(v) INTO x FROM m GROUP BY {group} END"
        ))
    }

    #[test]
    fn plain_query_covers_the_last_interval_once() {
        let s = cq("", "time(60s)");
        // Created at 12:00:30 (in seconds of the day, say 720m + 30s).
        let created = 43_230 * S;
        let last = s.last_run_after(created);
        assert_eq!(last, 43_200 * S);
        let due = s.next_run(last);
        assert_eq!(due, 43_260 * S);
        // Run a little late: the interval that held the creation time.
        assert_eq!(s.window(due, due + S / 2), Some((43_200 * S, 43_260 * S)));
        // The next run starts where this one ended: no gap, no overlap.
        let last = s.last_run_after(due + S / 2);
        assert_eq!(s.window(s.next_run(last), s.next_run(last) + 1), Some((43_260 * S, 43_320 * S)));
    }

    #[test]
    fn missed_runs_are_caught_up_in_one_window() {
        let s = cq("", "time(1s)");
        let last = 100 * S;
        // Down for ~10 s: the first run covers every missed interval.
        assert_eq!(s.window(s.next_run(last), 110 * S + 300), Some((100 * S, 110 * S)));
    }

    #[test]
    fn resample_every_and_for() {
        let s = cq("RESAMPLE EVERY 2s FOR 10s", "time(1s)");
        assert_eq!((s.every, s.for_), (2 * S, 10 * S));
        assert_eq!(s.window(20 * S, 20 * S + 5), Some((10 * S, 20 * S)));
        // EVERY longer than the interval: FOR defaults to EVERY.
        let s = cq("RESAMPLE EVERY 1m", "time(30s)");
        assert_eq!(s.for_, 60 * S);
        assert_eq!(s.window(120 * S, 120 * S), Some((60 * S, 120 * S)));
        // EVERY shorter than the interval: the current bucket is computed too.
        let s = cq("RESAMPLE EVERY 30s", "time(1m)");
        assert_eq!(s.window(90 * S, 90 * S), Some((60 * S, 120 * S)));
        assert_eq!(s.window(120 * S, 120 * S), Some((60 * S, 120 * S)));
    }

    #[test]
    fn offsets_shift_the_boundaries() {
        let s = cq("", "time(1m, 10s)");
        let last = s.last_run_after(75 * S);
        assert_eq!(last, 70 * S);
        assert_eq!(s.window(s.next_run(last), 131 * S), Some((70 * S, 130 * S)));
    }

    #[test]
    fn first_run_at_creation_covers_nothing() {
        let s = cq("", "time(1s)");
        assert_eq!(s.window(5 * S + 3, 5 * S + 3), None);
    }

    #[test]
    fn time_conditions_are_replaced() {
        let Ok(q) = parse_query("SELECT v FROM m WHERE time > now() - 1h AND (host = 'a' AND time < 5s)") else {
            panic!()
        };
        let Statement::Select(s) = &q.statements[0] else { panic!() };
        let rest = s.condition.clone().and_then(without_time).map(|e| e.to_string());
        assert_eq!(rest.as_deref(), Some("(host = 'a')"));
        let Ok(q) = parse_query("SELECT v FROM m WHERE time > 1s") else { panic!() };
        let Statement::Select(s) = &q.statements[0] else { panic!() };
        assert_eq!(s.condition.clone().and_then(without_time), None);
    }
}
