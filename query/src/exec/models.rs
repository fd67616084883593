//! `SHOW MODELS` and `SHOW FORECAST ACCURACY`: the model registry as
//! InfluxQL-style result tables, one series per database (named after it,
//! as `SHOW CONTINUOUS QUERIES` answers), one row per stored model.
//!
//! Why two statements: `SHOW MODELS` answers "what is stored and how old
//! is it" (versions, training window), `SHOW FORECAST ACCURACY` answers
//! "can I trust it" (backtest and live error side by side, the numbers the
//! drift check compares). Times are RFC 3339 strings, like the other
//! `SHOW` statements' metadata.

use augur_engine::forecast::store::challenge::ChallengeRecord;
use augur_engine::forecast::store::{ModelHead, ModelStore, ModelStoreError};
use augur_engine::storage::{StorageError, Store};
use serde_json::Value as Json;

use super::ExecError;
use crate::result::Series;
use crate::time::format_rfc3339_nano;

fn registry_error(err: ModelStoreError) -> ExecError {
    match err {
        ModelStoreError::Storage(e) => ExecError::Storage(e),
        other => ExecError::Plain(other.to_string()),
    }
}

/// The stored heads, grouped by database in name order.
/// `visible` keeps the databases the caller may see.
fn heads_by_database(
    store: &Store,
    database: Option<&str>,
    visible: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<ModelHead>)>, ExecError> {
    if let Some(db) = database {
        if !store.database_exists(db) {
            return Err(StorageError::DatabaseNotFound(db.to_string()).into());
        }
    }
    // Reading needs no pruning setting.
    let heads = ModelStore::new(store.clone(), 1).list(database).map_err(registry_error)?;
    let mut out: Vec<(String, Vec<ModelHead>)> = Vec::new();
    for head in heads {
        match out.last_mut() {
            Some((db, list)) if *db == head.key.database => list.push(head),
            _ => out.push((head.key.database.clone(), vec![head])),
        }
    }
    out.retain(|(db, _)| visible(db));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn time(ns: i64) -> Json {
    Json::String(format_rfc3339_nano(ns))
}

fn float(v: Option<f64>) -> Json {
    v.and_then(serde_json::Number::from_f64).map_or(Json::Null, Json::Number)
}

/// A contest in words: `2026-12-05T00:10:00Z v2 kept: MAE 3.1 (champion) vs 3.4 (challenger) over 12 steps`.
fn describe_challenge(c: &ChallengeRecord) -> String {
    format!(
        "{} v{} {}: MAE {:.4} (champion) vs {:.4} (challenger) over {} steps",
        format_rfc3339_nano(c.at_ns),
        c.champion,
        if c.swapped { "replaced" } else { "kept" },
        c.champion_mae,
        c.challenger_mae,
        c.holdout
    )
}

/// `SHOW MODELS [ON db]`.
pub(super) fn show_models(
    store: &Store,
    database: Option<&str>,
    visible: &dyn Fn(&str) -> bool,
) -> Result<Vec<Series>, ExecError> {
    let models = ModelStore::new(store.clone(), 1);
    heads_by_database(store, database, visible)?
        .into_iter()
        .map(|(db, heads)| {
            let mut series = Series::new(
                Some(&db),
                &[
                    "group",
                    "model",
                    "kind",
                    "version",
                    "latest_version",
                    "kept_versions",
                    "reason",
                    "trained_at",
                    "training_start",
                    "training_end",
                    "training_points",
                    "updated_at",
                    "challenges",
                    "swaps",
                    "last_challenge",
                ],
            );
            for h in heads {
                let kept = models.versions(&h.key).map_err(registry_error)?.len();
                series.values.push(vec![
                    Json::String(h.key.group.clone()),
                    Json::String(h.key.model.clone()),
                    Json::String(h.kind.clone()),
                    Json::from(h.active),
                    Json::from(h.latest),
                    Json::from(kept),
                    Json::String(h.reason.clone()),
                    time(h.trained_ns),
                    time(h.training.start_ns),
                    time(h.training.end_ns),
                    Json::from(h.training.points),
                    time(h.updated_ns),
                    Json::from(h.challenges),
                    Json::from(h.swaps),
                    h.last_challenge.map_or(Json::Null, |c| Json::String(describe_challenge(&c))),
                ]);
            }
            Ok(series)
        })
        .collect()
}

/// `SHOW FORECAST ACCURACY [ON db]`.
pub(super) fn show_accuracy(
    store: &Store,
    database: Option<&str>,
    visible: &dyn Fn(&str) -> bool,
) -> Result<Vec<Series>, ExecError> {
    Ok(heads_by_database(store, database, visible)?
        .into_iter()
        .map(|(db, heads)| {
            let mut series = Series::new(
                Some(&db),
                &[
                    "group",
                    "model",
                    "version",
                    "last_trained",
                    "training_points",
                    "backtest_mase",
                    "backtest_coverage_95",
                    "live_mase",
                    "live_coverage_95",
                    "live_points",
                ],
            );
            series.values = heads
                .iter()
                .map(|h| {
                    vec![
                        Json::String(h.key.group.clone()),
                        Json::String(h.key.model.clone()),
                        Json::from(h.active),
                        time(h.trained_ns),
                        Json::from(h.training.points),
                        float(h.backtest.mase),
                        float(h.backtest.coverage95),
                        float(h.live_mase()),
                        float(h.live.coverage95()),
                        Json::from(h.live.points),
                    ]
                })
                .collect();
            series
        })
        .collect())
}

/// `ALTER MODEL <group> ON <db> ROLLBACK TO <version>`: the group's model
/// (a continuous query has one model name, so a group names one model)
/// goes back to a kept version; the next run rolls it forward from there.
pub(super) fn rollback(
    store: &Store,
    database: &str,
    group: &str,
    version: u32,
    now_ns: i64,
) -> Result<Vec<Series>, ExecError> {
    if !store.database_exists(database) {
        return Err(StorageError::DatabaseNotFound(database.to_string()).into());
    }
    let models = ModelStore::new(store.clone(), 1);
    let heads = models.list(Some(database)).map_err(registry_error)?;
    let mut matching = heads.iter().filter(|h| h.key.group == group);
    let head = matching.next().ok_or_else(|| ExecError::Plain(format!("model not found: {group}")))?;
    if matching.next().is_some() {
        return Err(ExecError::Plain(format!("several models are stored for {group}")));
    }
    models.rollback(&head.key, version, now_ns).map_err(registry_error)?;
    Ok(Vec::new())
}
