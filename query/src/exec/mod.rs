//! The executor: runs parsed statements against the [`Store`] and builds
//! InfluxDB-shaped results.
//!
//! Statements run in order; the first one that fails stops the request and
//! every later statement answers `not executed`, as in InfluxDB. Errors of
//! a statement are part of its result (the HTTP request still succeeds).
//! The store blocks (it may fsync), so callers run [`execute`] on a thread
//! that may block (`tokio::task::spawn_blocking` in the server).
//!
//! One submodule per family of statements keeps each small: `database`,
//! `retention`, `schema`, `select` (`SELECT`), `show_tags` (`SHOW
//! MEASUREMENTS`, `SHOW SERIES`, `SHOW TAG KEYS|VALUES`); [`value`] holds the runtime values
//! they share.

pub mod account;
mod admin;
pub mod cancel;
mod cardinality;
mod cq;
mod database;
pub(crate) mod into;
mod models;
pub mod queries;
mod retention;
mod schema;
mod select;
mod show_tags;
pub mod value;

pub use account::{AccountExecutor, Accounts};
pub use into::IntoError;
pub use queries::{QueryTable, RunningQueries, RunningQuery};
pub use select::continuous;
pub use select::{forecast_with_history, ForecastAnswer, SelectError};

use augur_engine::storage::{StorageError, Store};

use crate::ast::{Query, Statement};
use crate::duration::format_duration;
use crate::result::{QueryResponse, Series, StatementResult};

/// Default [`ExecutionContext::max_select_points`].
pub const DEFAULT_MAX_SELECT_POINTS: u64 = 50_000_000;

/// Default [`ExecutionContext::max_select_buckets`].
pub const DEFAULT_MAX_SELECT_BUCKETS: u64 = 1_000_000;

/// What a request brings besides its statements.
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    /// The `db` parameter: the database of statements that name none.
    pub database: Option<String>,
    /// The `rp` parameter.
    pub retention_policy: Option<String>,
    /// The request was a GET: statements that change state are refused.
    pub read_only: bool,
    /// The `epoch` parameter as nanoseconds per unit (see [`epoch_divisor`]):
    /// `time` values are integers in that unit; `None` = RFC 3339 strings.
    pub epoch: Option<i64>,
    /// `now()`, in ns since the epoch; `None` = the system clock.
    pub now: Option<i64>,
    /// Most points one `SELECT` may read (0 = unlimited).
    pub max_select_points: u64,
    /// Most `GROUP BY time` buckets one result series may have (0 = unlimited).
    pub max_select_buckets: u64,
    /// Stops the query when the client goes away or the timeout passes.
    pub cancel: cancel::CancelToken,
    /// The caller's accounts: runs user statements and filters listings
    /// (`None`: no accounts; every database is visible).
    pub accounts: Option<Accounts>,
    /// The running queries the caller may see and stop (`SHOW QUERIES`,
    /// `KILL QUERY`; `None`: those statements fail).
    pub queries: Option<RunningQueries>,
}

impl Default for ExecutionContext {
    fn default() -> Self {
        ExecutionContext {
            database: None,
            retention_policy: None,
            read_only: false,
            epoch: None,
            now: None,
            max_select_points: DEFAULT_MAX_SELECT_POINTS,
            max_select_buckets: DEFAULT_MAX_SELECT_BUCKETS,
            cancel: cancel::CancelToken::default(),
            accounts: None,
            queries: None,
        }
    }
}

/// The rows left after `OFFSET` and `LIMIT` (`LIMIT 0` = no limit), as
/// every statement that takes them applies them.
pub(crate) fn page<I: Iterator>(rows: I, limit: u64, offset: u64) -> std::iter::Take<std::iter::Skip<I>> {
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = if limit == 0 { usize::MAX } else { usize::try_from(limit).unwrap_or(usize::MAX) };
    rows.skip(skip).take(take)
}

/// Nanoseconds per unit of a non-empty `epoch` parameter (`u`, `ms`, `s`,
/// `m`, `h`). Any other value, `ns` included, means nanoseconds: as in
/// InfluxDB, an `epoch` parameter always turns times into integers.
pub fn epoch_divisor(epoch: &str) -> i64 {
    match epoch {
        "u" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => 1,
    }
}

impl ExecutionContext {
    /// `now()` of this request.
    pub(crate) fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        })
    }

    /// Whether the caller may see `database` in listings.
    pub(crate) fn database_visible(&self, database: &str) -> bool {
        self.accounts.as_ref().is_none_or(|a| a.0.database_visible(database))
    }

    /// The statement's own database, else the request's, else an error.
    pub(crate) fn database<'a>(&'a self, own: &'a Option<String>) -> Result<&'a str, ExecError> {
        own.as_deref().or(self.database.as_deref()).filter(|db| !db.is_empty()).ok_or(ExecError::DatabaseRequired)
    }
}

/// Why a statement failed. The text is what the client reads in the
/// statement's `error`.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The statement needs a database and neither it nor the request named one.
    #[error("database name required")]
    DatabaseRequired,
    /// A statement that changes state arrived in a GET request.
    #[error("'{0}' requires a POST request")]
    RequiresPost(String),
    /// A retention policy shorter than InfluxDB's minimum.
    #[error("retention policy duration must be at least {}", format_duration(retention::MIN_DURATION_NS))]
    DurationTooShort,
    /// A retention policy shorter than its shard duration.
    #[error("retention policy duration must be greater than the shard duration")]
    ShorterThanShard,
    /// `CREATE DATABASE ... WITH` asked for a policy that differs from an existing one.
    #[error("retention policy conflicts with an existing policy")]
    PolicyConflict,
    /// A statement of the language that Augur does not execute yet.
    #[error("statement not supported yet: {0}")]
    Unsupported(String),
    /// A `SELECT` could not run.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The query was cancelled or timed out.
    #[error(transparent)]
    Cancelled(#[from] cancel::Cancelled),
    /// An error whose text is InfluxDB's, as is.
    #[error("{0}")]
    Plain(String),
    /// The store failed (or the database/policy does not exist).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// `SELECT ... INTO` could not write its points.
    #[error(transparent)]
    Into(#[from] IntoError),
    /// A continuous query statement failed.
    #[error(transparent)]
    ContinuousQuery(#[from] crate::cq::CqError),
}

/// The result text of statements after a failed one.
const NOT_EXECUTED: &str = "not executed";

/// Runs every statement of `query` and collects their results.
pub fn execute(store: &Store, query: &Query, ctx: &ExecutionContext) -> QueryResponse {
    let mut results = Vec::with_capacity(query.statements.len());
    let mut failed = false;
    for (id, statement) in query.statements.iter().enumerate() {
        if failed {
            results.push(StatementResult::error(id, NOT_EXECUTED));
            continue;
        }
        if let Err(cancelled) = ctx.cancel.check() {
            results.push(StatementResult::error(id, cancelled.to_string()));
            failed = true;
            continue;
        }
        match execute_statement(store, statement, ctx) {
            Ok(series) => results.push(StatementResult::ok(id, series)),
            Err(err) => {
                tracing::debug!(statement = %statement, error = %err, "statement failed");
                results.push(StatementResult::error(id, err.to_string()));
                failed = true;
            }
        }
    }
    QueryResponse { results }
}

/// Runs one statement.
pub fn execute_statement(
    store: &Store,
    statement: &Statement,
    ctx: &ExecutionContext,
) -> Result<Vec<Series>, ExecError> {
    if ctx.read_only && statement.is_write() {
        return Err(ExecError::RequiresPost(statement.to_string()));
    }
    match statement {
        Statement::CreateDatabase(create) => database::create(store, create),
        Statement::DropDatabase { name } => database::drop(store, name),
        Statement::ShowDatabases => Ok(database::show(store, ctx)),
        Statement::CreateRetentionPolicy(create) => retention::create(store, create),
        Statement::ShowRetentionPolicies { database } => retention::show(store, ctx.database(database)?),
        Statement::ShowMeasurements(show) => show_tags::show_measurements(store, ctx, show),
        Statement::ShowFieldKeys { database, from } => schema::show_field_keys(store, ctx.database(database)?, from),
        Statement::Select(select) if select.into.is_some() => into::run(store, select, ctx),
        Statement::Select(select) => select::run(store, select, ctx),
        Statement::ShowSeries(show) => show_tags::show_series(store, ctx, show),
        Statement::ShowTagKeys(show) => show_tags::show_tag_keys(store, ctx, show),
        Statement::ShowTagValues(show) => show_tags::show_tag_values(store, ctx, show),
        Statement::Delete(d) => admin::delete(store, ctx, d, false),
        Statement::DropSeries(d) => admin::delete(store, ctx, d, true),
        Statement::DropMeasurement { name } => admin::drop_measurement(store, ctx, name),
        Statement::AlterRetentionPolicy(alter) => admin::alter_retention_policy(store, alter),
        Statement::DropRetentionPolicy { name, database } => admin::drop_retention_policy(store, database, name),
        Statement::ShowCardinality(show) => admin::show_cardinality(store, ctx, show),
        Statement::ShowFieldKeysMatching(show) => admin::show_field_keys(store, ctx, show),
        Statement::CreateContinuousQuery(create) => cq::create(store, ctx, create),
        Statement::ShowContinuousQueries => cq::show(store, ctx),
        Statement::Account(statement) => match &ctx.accounts {
            Some(accounts) => accounts.0.execute(statement).map_err(ExecError::Plain),
            None => Err(ExecError::Plain(account::NO_ACCOUNTS.to_string())),
        },
        Statement::DropContinuousQuery { name, database } => cq::drop(store, database, name),
        Statement::ShowModels { database } => {
            models::show_models(store, database.as_deref(), &|db| ctx.database_visible(db))
        }
        Statement::ShowForecastAccuracy { database } => {
            models::show_accuracy(store, database.as_deref(), &|db| ctx.database_visible(db))
        }
        Statement::RollbackModel { group, database, version } => {
            models::rollback(store, database, group, *version, ctx.now())
        }
        Statement::ShowQueries => queries::show(ctx.queries.as_ref()),
        Statement::KillQuery { qid, .. } => queries::kill(ctx.queries.as_ref(), *qid),
        Statement::Unsupported { text } => Err(ExecError::Unsupported(text.clone())),
    }
}

#[cfg(test)]
mod continuous_forecast_tests;
#[cfg(test)]
mod forecast_tests;
#[cfg(test)]
mod select_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transform_tests;
