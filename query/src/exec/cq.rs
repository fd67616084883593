//! `CREATE CONTINUOUS QUERY`, `SHOW CONTINUOUS QUERIES`, `DROP CONTINUOUS QUERY`.
//!
//! `CREATE` stores the definition with every source and the `INTO` target
//! qualified (`db.rp.m`), as InfluxDB does, so that what `SHOW` prints is
//! what runs whatever the default policy later becomes. Like InfluxDB,
//! unqualified names take the request's `db` (and `rp`) first and the
//! query's own database only when the request names none. Running the
//! queries is the server's scheduler (see [`crate::cq`]).

use augur_engine::storage::Store;
use serde_json::Value;

use super::{ExecError, ExecutionContext};
use crate::ast::{CreateContinuousQuery, Source};
use crate::cq;
use crate::result::Series;

/// Stores the continuous query.
pub(super) fn create(
    store: &Store,
    ctx: &ExecutionContext,
    create: &CreateContinuousQuery,
) -> Result<Vec<Series>, ExecError> {
    if !store.database_exists(&create.database) {
        return Err(augur_engine::storage::StorageError::DatabaseNotFound(create.database.clone()).into());
    }
    let default_db = ctx.database.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| create.database.clone());
    let qualify = |db: &mut Option<String>, rp: &mut Option<String>| {
        let name = db.get_or_insert_with(|| default_db.clone()).clone();
        if rp.is_none() {
            *rp = ctx.retention_policy.clone().or_else(|| default_policy(store, &name));
        }
    };
    let mut normalized = create.clone();
    for source in &mut normalized.select.sources {
        match source {
            Source::Measurement(m) => qualify(&mut m.database, &mut m.retention_policy),
            Source::Regex { database, retention_policy, .. } => qualify(database, retention_policy),
            // A subquery's own sources are resolved when the query runs, in the CQ's database.
            Source::Subquery(_) => {}
        }
    }
    if let Some(target) = &mut normalized.select.into {
        qualify(&mut target.database, &mut target.retention_policy);
    }
    cq::create(store, &normalized, ctx.now())?;
    Ok(Vec::new())
}

/// The database's default retention policy, if the database exists.
fn default_policy(store: &Store, db: &str) -> Option<String> {
    store.retention_policies(db).ok()?.into_iter().find(|p| p.default).map(|p| p.name)
}

/// One series per database (also those without queries), named after it,
/// with `name` and `query` columns, queries in creation order.
pub(super) fn show(store: &Store, ctx: &super::ExecutionContext) -> Result<Vec<Series>, ExecError> {
    let all = cq::list(store)?;
    Ok(store
        .databases()
        .into_iter()
        .filter(|db| ctx.database_visible(db))
        .map(|db| {
            let mut series = Series::new(Some(&db), &["name", "query"]);
            series.values = all
                .iter()
                .filter(|c| c.database() == db)
                .map(|c| vec![Value::String(c.name().to_string()), Value::String(c.text.clone())])
                .collect();
            series
        })
        .collect())
}

/// Deletes the continuous query (nothing if it does not exist, as in InfluxDB).
pub(super) fn drop(store: &Store, db: &str, name: &str) -> Result<Vec<Series>, ExecError> {
    cq::drop(store, db, name)?;
    Ok(Vec::new())
}
