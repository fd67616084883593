//! `CREATE DATABASE`, `DROP DATABASE`, `SHOW DATABASES`.

use augur_engine::storage::{StorageError, Store};
use serde_json::Value;

use super::retention::policy_from_spec;
use super::ExecError;
use crate::ast::CreateDatabase;
use crate::result::Series;

/// Creates the database (a no-op if it exists) and, with `WITH ...`, its
/// default retention policy.
pub(super) fn create(store: &Store, create: &CreateDatabase) -> Result<Vec<Series>, ExecError> {
    let policy = create.with.as_ref().map(policy_from_spec).transpose()?;
    match policy {
        None => store.create_database(&create.name)?,
        Some(policy) => match store.create_database_with_policy(&create.name, policy) {
            Ok(()) => {}
            Err(StorageError::RetentionPolicyExists) => return Err(ExecError::PolicyConflict),
            Err(err) => return Err(err.into()),
        },
    }
    Ok(Vec::new())
}

/// Drops the database and its data (a no-op if it does not exist).
pub(super) fn drop(store: &Store, name: &str) -> Result<Vec<Series>, ExecError> {
    store.drop_database(name)?;
    // InfluxDB drops a database's continuous queries with it.
    crate::cq::drop_database(store, name)?;
    Ok(Vec::new())
}

/// One `databases` series with a `name` column (present even when empty,
/// as in InfluxDB).
pub(super) fn show(store: &Store, ctx: &super::ExecutionContext) -> Vec<Series> {
    let mut series = Series::new(Some("databases"), &["name"]);
    series.values =
        store.databases().into_iter().filter(|db| ctx.database_visible(db)).map(|db| vec![Value::String(db)]).collect();
    vec![series]
}
