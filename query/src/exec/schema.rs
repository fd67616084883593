//! `SHOW FIELD KEYS`: the fields a database holds.
//!
//! Like InfluxDB, it looks at every retention policy of the database
//! unless a `FROM` source names one: the store answers per policy, so the
//! answers are merged here.

use std::collections::BTreeMap;

use augur_engine::model::FieldType;
use augur_engine::storage::Store;
use serde_json::Value;

use super::ExecError;
use crate::ast::MeasurementName;
use crate::result::Series;

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
