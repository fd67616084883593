//! `SHOW MEASUREMENTS` and `SHOW FIELD KEYS`: what a database holds.
//!
//! Like InfluxDB, both look at every retention policy of the database
//! unless a `FROM` source names one: the store answers per policy, so the
//! answers are merged here.

use std::collections::{BTreeMap, BTreeSet};

use augur_engine::model::FieldType;
use augur_engine::storage::{StorageError, Store};
use serde_json::Value;

use super::ExecError;
use crate::ast::MeasurementName;
use crate::result::Series;

/// One `measurements` series with a `name` column; no series when there are
/// none. An unknown database lists nothing (InfluxDB 1.x does the same).
pub(super) fn show_measurements(store: &Store, database: &str) -> Result<Vec<Series>, ExecError> {
    let names = match measurements_of_all_policies(store, database) {
        Ok(names) => names,
        Err(StorageError::DatabaseNotFound(_)) => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut series = Series::new(Some("measurements"), &["name"]);
    series.values = names.into_iter().map(|m| vec![Value::String(m)]).collect();
    Ok(vec![series])
}

/// One series per measurement (named after it, in name order) with
/// `fieldKey` and `fieldType` columns. `FROM` limits the measurements; a
/// qualified name (`db.rp.m`) reads from its own database and policy.
pub(super) fn show_field_keys(
    store: &Store,
    database: &str,
    from: &[MeasurementName],
) -> Result<Vec<Series>, ExecError> {
    // measurement -> field name -> type, merged over the policies read.
    let mut found: BTreeMap<String, BTreeMap<String, FieldType>> = BTreeMap::new();
    if from.is_empty() {
        let policies = store.retention_policies(database)?;
        for rp in &policies {
            for measurement in store.measurements(database, Some(&rp.name))? {
                let fields = store.fields(database, Some(&rp.name), &measurement)?;
                merge(&mut found, measurement, fields);
            }
        }
    } else {
        for source in from {
            let db = source.database.as_deref().unwrap_or(database);
            let policies: Vec<String> = match &source.retention_policy {
                Some(rp) => vec![rp.clone()],
                None => store.retention_policies(db)?.into_iter().map(|p| p.name).collect(),
            };
            for rp in &policies {
                let fields = store.fields(db, Some(rp), &source.name)?;
                merge(&mut found, source.name.clone(), fields);
            }
        }
    }
    Ok(found
        .into_iter()
        .filter(|(_, fields)| !fields.is_empty())
        .map(|(measurement, fields)| {
            let mut series = Series::new(Some(&measurement), &["fieldKey", "fieldType"]);
            series.values = fields
                .into_iter()
                .map(|(name, ty)| vec![Value::String(name), Value::String(ty.influx_name().to_string())])
                .collect();
            series
        })
        .collect())
}

/// Measurement names across every policy of the database, sorted, unique.
fn measurements_of_all_policies(store: &Store, database: &str) -> Result<BTreeSet<String>, StorageError> {
    let mut names = BTreeSet::new();
    for rp in store.retention_policies(database)? {
        names.extend(store.measurements(database, Some(&rp.name))?);
    }
    Ok(names)
}

/// Adds a measurement's fields (the first type seen for a name wins).
fn merge(
    found: &mut BTreeMap<String, BTreeMap<String, FieldType>>,
    measurement: String,
    fields: Vec<augur_engine::storage::FieldInfo>,
) {
    let entry = found.entry(measurement).or_default();
    for field in fields {
        entry.entry(field.name).or_insert(field.field_type);
    }
}
