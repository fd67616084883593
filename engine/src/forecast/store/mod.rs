//! The model registry: trained models kept in the database, per
//! (database, series group, model name), with their versions.
//!
//! What is kept: for every refit a [`ModelVersion`] (the serialized model
//! as trained, its training window, its backtest scores, when and why it
//! was trained), the newest `keep_versions` of them for rollback; and one
//! [`ModelHead`] per key: the active version, the model's *current* state
//! (the active version rolled forward with `update()` by every later run),
//! the forecasts not yet scored and the live error measured so far.
//!
//! Why in `forecast/` and on top of the store's meta records: the registry
//! is about models, and [`Store`]'s meta records (`put/get/scan/delete`,
//! fsynced, in the `meta` column family) are exactly the durable small
//! records it needs, so no RocksDB type and no change to the storage layer
//! is involved (ARCHITECTURE.md: models live in `meta`). Records are JSON:
//! readable, and [`SavedModel`] is JSON already.
//!
//! Keys (under the store's record prefix): `model/<db>` `<group>` `<model>`
//! each written as `<byte length>:<text>` (so no name can run into the
//! next), then `/head` or `/v/<version, 10 digits>` (so versions sort).
//!
//! * [`learn`]: one continuous-learning step (update, or refit on schedule
//!   or on drift) for one series group.
//! * [`live`]: scoring earlier forecasts against the actuals.
//! * [`backtest`]: the rolling-origin scores a new version is stored with.
//! * [`watch`]: anomaly detection on the scored forecasts, and masking of
//!   flagged points at refit.

pub mod backtest;
pub mod challenge;
pub mod learn;
pub mod live;
pub mod watch;

use serde::{Deserialize, Serialize};

use super::anomaly::DetectorState;
use super::{ForecastError, SavedModel};
use crate::storage::{StorageError, Store};

pub use live::{LiveStats, Pending};

/// Default number of versions kept per model.
pub const DEFAULT_KEEP_VERSIONS: usize = 5;

const PREFIX: &str = "model/";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelStoreError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record does not decode.
    #[error("stored model record {key} is unreadable: {reason}")]
    Corrupt {
        /// The record key.
        key: String,
        /// Why.
        reason: String,
    },
    /// No model is stored under the key.
    #[error("no stored model for {0}")]
    NoModel(String),
    /// The version asked for is not kept.
    #[error("model {key} has no version {version}")]
    NoVersion {
        /// The model key.
        key: String,
        /// The version asked for.
        version: u32,
    },
    /// Fitting, updating or predicting failed.
    #[error(transparent)]
    Forecast(#[from] ForecastError),
}

/// What a model is stored under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModelKey {
    /// The database the series live in.
    pub database: String,
    /// The query and series group (e.g. `cf/demand,host=a`).
    pub group: String,
    /// The model name asked for (`auto`, `ets`, ...).
    pub model: String,
}

impl std::fmt::Display for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.database, self.group, self.model)
    }
}

fn part(s: &str) -> String {
    format!("{}:{s}", s.len())
}

impl ModelKey {
    fn base(&self) -> String {
        format!("{PREFIX}{}{}{}", part(&self.database), part(&self.group), part(&self.model))
    }

    fn head_key(&self) -> Vec<u8> {
        format!("{}/head", self.base()).into_bytes()
    }

    fn version_key(&self, version: u32) -> Vec<u8> {
        format!("{}/v/{version:010}", self.base()).into_bytes()
    }

    fn versions_prefix(&self) -> Vec<u8> {
        format!("{}/v/", self.base()).into_bytes()
    }
}

/// The history a version was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// Time of the first step, ns.
    pub start_ns: i64,
    /// Time of the last step, ns.
    pub end_ns: i64,
    /// Steps with a value.
    pub points: usize,
    /// The grid step, ns.
    pub step_ns: i64,
}

/// Rolling-origin backtest scores of a version (see [`backtest`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Mean absolute scaled error (`None`: too short to backtest, or a
    /// constant history with no scale).
    pub mase: Option<f64>,
    /// Share of actuals inside the 95% band.
    pub coverage95: Option<f64>,
    /// The MASE denominator: in-sample mean absolute one-step change.
    pub scale: Option<f64>,
    /// Forecast origins evaluated.
    pub origins: usize,
}

/// One trained version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// 1, 2, ... per key.
    pub version: u32,
    /// When it was trained, ns.
    pub created_ns: i64,
    /// Why (`initial`, `schedule`, `drift`, `stale`, ...).
    pub reason: String,
    /// What it was trained on.
    pub training: TrainingWindow,
    /// How it scored.
    pub backtest: Scores,
    /// The model as trained.
    pub model: SavedModel,
}

/// The live state of a model key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHead {
    /// Its key.
    pub key: ModelKey,
    /// The version in use.
    pub active: u32,
    /// The newest version stored.
    pub latest: u32,
    /// The kind the active version fitted (`auto` resolves to one).
    pub kind: String,
    /// Why the active version was trained (or `rollback`).
    #[serde(default)]
    pub reason: String,
    /// When the active version was trained (or rolled back to), ns: the
    /// refit schedule counts from here.
    pub trained_ns: i64,
    /// The active version's training window.
    pub training: TrainingWindow,
    /// The active version's backtest scores.
    pub backtest: Scores,
    /// The active version rolled forward to `last_ns`.
    pub state: SavedModel,
    /// Time of the last step the state has seen, ns.
    pub last_ns: i64,
    /// Error of the active version's forecasts against later actuals.
    pub live: LiveStats,
    /// Forecasts whose actuals have not been seen yet.
    pub pending: Vec<Pending>,
    /// When a run last used this model, ns.
    pub updated_ns: i64,
    /// The last champion/challenger contest, if any ran since the key was created.
    #[serde(default)]
    pub last_challenge: Option<challenge::ChallengeRecord>,
    /// Contests run for this key.
    #[serde(default)]
    pub challenges: u32,
    /// Contests the challenger won (versions swapped in).
    #[serde(default)]
    pub swaps: u32,
    /// The anomaly detector's state over this key's actuals (kept across
    /// versions; absent in heads written before detection existed).
    #[serde(default)]
    pub anomaly: DetectorState,
}

impl ModelHead {
    /// The live mean absolute scaled error (`None` before any actual was
    /// scored or without a backtest scale).
    pub fn live_mase(&self) -> Option<f64> {
        self.live.mase(self.backtest.scale)
    }
}

/// The registry over a [`Store`]; cheap to clone.
#[derive(Clone)]
pub struct ModelStore {
    store: Store,
    keep_versions: usize,
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ModelStoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ModelStoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

fn encode<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, ModelStoreError> {
    serde_json::to_vec(value)
        .map_err(|e| ModelStoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

impl ModelStore {
    /// A registry keeping the newest `keep_versions` versions (at least 1)
    /// of every model.
    pub fn new(store: Store, keep_versions: usize) -> ModelStore {
        ModelStore { store, keep_versions: keep_versions.max(1) }
    }

    /// How many versions are kept per model.
    pub fn keep_versions(&self) -> usize {
        self.keep_versions
    }

    /// The live state of `key`, if a model was ever stored under it.
    pub fn head(&self, key: &ModelKey) -> Result<Option<ModelHead>, ModelStoreError> {
        let k = key.head_key();
        self.store.get_meta_record(&k)?.map(|b| decode(&k, &b)).transpose()
    }

    /// Stores the live state (durable when this returns).
    pub fn put_head(&self, head: &ModelHead) -> Result<(), ModelStoreError> {
        let k = head.key.head_key();
        Ok(self.store.put_meta_record(&k, &encode(&k, head)?)?)
    }

    /// Every kept version of `key`, oldest first.
    pub fn versions(&self, key: &ModelKey) -> Result<Vec<ModelVersion>, ModelStoreError> {
        self.store.scan_meta_records(&key.versions_prefix())?.iter().map(|(k, v)| decode(k, v)).collect()
    }

    /// One kept version of `key`.
    pub fn version(&self, key: &ModelKey, version: u32) -> Result<ModelVersion, ModelStoreError> {
        let k = key.version_key(version);
        match self.store.get_meta_record(&k)? {
            Some(b) => decode(&k, &b),
            None => Err(ModelStoreError::NoVersion { key: key.to_string(), version }),
        }
    }

    /// Stores a newly trained model as the next version of `key`, makes it
    /// the active one (a fresh head: no live error, nothing pending) and
    /// drops versions beyond the newest `keep_versions`. Returns the head.
    pub fn add_version(
        &self,
        key: &ModelKey,
        model: SavedModel,
        training: TrainingWindow,
        backtest: Scores,
        reason: &str,
        now_ns: i64,
    ) -> Result<ModelHead, ModelStoreError> {
        let existing = self.versions(key)?;
        let previous = self.head(key)?;
        let from_head = previous.as_ref().map_or(0, |h| h.latest);
        let version = existing.iter().map(|v| v.version).max().unwrap_or(0).max(from_head) + 1;
        let record = ModelVersion {
            version,
            created_ns: now_ns,
            reason: reason.to_string(),
            training,
            backtest,
            model: model.clone(),
        };
        let k = key.version_key(version);
        // The version first: a crash before the head is written leaves a
        // version nobody points at, which the next add skips over.
        self.store.put_meta_record(&k, &encode(&k, &record)?)?;
        let head = ModelHead {
            key: key.clone(),
            active: version,
            latest: version,
            kind: model.kind.clone(),
            reason: reason.to_string(),
            trained_ns: now_ns,
            training,
            backtest,
            state: model,
            last_ns: training.end_ns,
            live: LiveStats::default(),
            pending: Vec::new(),
            updated_ns: now_ns,
            // The contest history belongs to the key, not to one version.
            last_challenge: previous.as_ref().and_then(|h| h.last_challenge),
            challenges: previous.as_ref().map_or(0, |h| h.challenges),
            swaps: previous.as_ref().map_or(0, |h| h.swaps),
            anomaly: DetectorState::default(),
        };
        self.put_head(&head)?;
        self.prune(key, version)?;
        Ok(head)
    }

    /// Deletes versions older than the newest `keep_versions`, never the
    /// active one.
    fn prune(&self, key: &ModelKey, active: u32) -> Result<(), ModelStoreError> {
        let versions: Vec<u32> = self
            .store
            .scan_meta_records(&key.versions_prefix())?
            .iter()
            .filter_map(|(k, _)| std::str::from_utf8(k).ok()?.rsplit('/').next()?.parse().ok())
            .collect();
        let cut = versions.len().saturating_sub(self.keep_versions);
        for v in versions.into_iter().take(cut).filter(|v| *v != active) {
            self.store.delete_meta_record(&key.version_key(v))?;
        }
        Ok(())
    }

    /// Makes a kept `version` the active one again: its model as trained
    /// becomes the current state (later runs roll it forward from the end
    /// of its training window), its live error starts afresh, and the
    /// refit schedule counts from `now_ns`. Newer versions stay kept.
    pub fn rollback(&self, key: &ModelKey, version: u32, now_ns: i64) -> Result<ModelHead, ModelStoreError> {
        let head = self.head(key)?.ok_or_else(|| ModelStoreError::NoModel(key.to_string()))?;
        let v = self.version(key, version)?;
        let rolled = ModelHead {
            active: v.version,
            kind: v.model.kind.clone(),
            reason: "rollback".to_string(),
            trained_ns: now_ns,
            training: v.training,
            backtest: v.backtest,
            state: v.model,
            last_ns: v.training.end_ns,
            live: LiveStats::default(),
            pending: Vec::new(),
            updated_ns: now_ns,
            ..head
        };
        self.put_head(&rolled)?;
        Ok(rolled)
    }

    /// The heads of every model (of one database when `database` is given),
    /// in key order.
    pub fn list(&self, database: Option<&str>) -> Result<Vec<ModelHead>, ModelStoreError> {
        let prefix = match database {
            Some(db) => format!("{PREFIX}{}", part(db)),
            None => PREFIX.to_string(),
        };
        self.store
            .scan_meta_records(prefix.as_bytes())?
            .iter()
            .filter(|(k, _)| k.ends_with(b"/head"))
            .map(|(k, v)| decode(k, v))
            .collect()
    }

    /// Deletes every model of a database (it is being dropped).
    pub fn drop_database(&self, database: &str) -> Result<(), ModelStoreError> {
        Ok(self.store.delete_meta_records(format!("{PREFIX}{}", part(database)).as_bytes())?)
    }

    /// Deletes every model whose group starts with `group_prefix` in a
    /// database (e.g. a dropped continuous query's groups).
    pub fn drop_groups(&self, database: &str, group_prefix: &str) -> Result<usize, ModelStoreError> {
        let heads = self.list(Some(database))?;
        let mut dropped = 0;
        for h in heads.iter().filter(|h| h.key.group.starts_with(group_prefix)) {
            self.store.delete_meta_records(h.key.base().as_bytes())?;
            dropped += 1;
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::{registry, FitOptions};
    use crate::storage::StoreOptions;

    fn key(group: &str) -> ModelKey {
        ModelKey { database: "db".into(), group: group.into(), model: "ets".into() }
    }

    fn trained(level: f64) -> SavedModel {
        let mut m = registry::by_name("ets").expect("ets");
        let y: Vec<f64> = (0..60).map(|t| level + (t % 6) as f64).collect();
        m.fit(&y, &FitOptions::default()).expect("fits");
        m.save().expect("saves")
    }

    fn window(end: i64) -> TrainingWindow {
        TrainingWindow { start_ns: 0, end_ns: end, points: 60, step_ns: 10 }
    }

    #[test]
    fn versions_survive_reopen_are_pruned_and_roll_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let k = key("cf/m,host=a");
        {
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
            let models = ModelStore::new(store, 3);
            assert!(models.head(&k).expect("head").is_none());
            for v in 1..=5u32 {
                let scores =
                    Scores { mase: Some(f64::from(v) / 10.0), coverage95: Some(0.9), scale: Some(1.0), origins: 4 };
                let head = models
                    .add_version(
                        &k,
                        trained(f64::from(v) * 100.0),
                        window(i64::from(v) * 1000),
                        scores,
                        "initial",
                        i64::from(v),
                    )
                    .expect("adds");
                assert_eq!((head.active, head.latest), (v, v));
            }
            // A model of another group and database is not mixed in.
            models.add_version(&key("other"), trained(1.0), window(5), Scores::default(), "initial", 9).expect("adds");
            let other_db = ModelKey { database: "db2".into(), ..k.clone() };
            models.add_version(&other_db, trained(1.0), window(5), Scores::default(), "initial", 9).expect("adds");
        }
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen");
        let models = ModelStore::new(store, 3);
        let head = models.head(&k).expect("head").expect("kept across reopen");
        assert_eq!((head.active, head.latest, head.trained_ns), (5, 5, 5));
        let kept: Vec<u32> = models.versions(&k).expect("versions").iter().map(|v| v.version).collect();
        assert_eq!(kept, vec![3, 4, 5], "only the newest 3 are kept");
        assert_eq!(models.version(&k, 4).expect("v4").backtest.mase, Some(0.4));
        assert!(matches!(models.version(&k, 1), Err(ModelStoreError::NoVersion { version: 1, .. })));

        // Roll back to version 3: its model, its scores, its window.
        let rolled = models.rollback(&k, 3, 77).expect("rolls back");
        assert_eq!((rolled.active, rolled.latest, rolled.trained_ns, rolled.last_ns), (3, 5, 77, 3000));
        let restored = registry::restore(&rolled.state).expect("restores");
        let expected = registry::restore(&trained(300.0)).expect("restores");
        assert_eq!(restored.predict(3, &[95.0]).expect("p"), expected.predict(3, &[95.0]).expect("p"));
        assert!(matches!(models.rollback(&k, 1, 78), Err(ModelStoreError::NoVersion { .. })));
        // The next training is version 6; pruning keeps the newest three.
        let head = models.add_version(&k, trained(9.0), window(9), Scores::default(), "drift", 80).expect("adds");
        assert_eq!(head.active, 6);
        assert_eq!(models.versions(&k).expect("v").iter().map(|v| v.version).collect::<Vec<_>>(), vec![4, 5, 6]);

        assert_eq!(models.list(Some("db")).expect("list").len(), 2);
        assert_eq!(models.list(None).expect("list").len(), 3);
        assert_eq!(models.drop_groups("db", "cf/").expect("drops"), 1);
        assert!(models.versions(&k).expect("v").is_empty());
        models.drop_database("db").expect("drops");
        assert!(models.list(Some("db")).expect("list").is_empty());
        assert_eq!(models.list(None).expect("list").len(), 1);
        let missing = ModelKey { group: "nothing".into(), ..k };
        assert!(matches!(models.rollback(&missing, 1, 0), Err(ModelStoreError::NoModel(_))));
    }

    #[test]
    fn keys_cannot_run_into_each_other() {
        let a = ModelKey { database: "ab".into(), group: "c".into(), model: "d".into() };
        let b = ModelKey { database: "a".into(), group: "bc".into(), model: "d".into() };
        assert_ne!(a.head_key(), b.head_key());
        assert!(a.version_key(2) < a.version_key(10));
    }
}
