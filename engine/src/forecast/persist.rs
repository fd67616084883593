//! Saving and restoring a model's state struct as a [`SavedModel`].
//!
//! Why a helper: every model stores a versioned serde struct; checking the
//! kind and version the same way everywhere keeps restore errors uniform.

use serde::{de::DeserializeOwned, Serialize};

use super::{ForecastError, SavedModel};

/// Wraps `state` as a saved model of `kind` at `version`.
pub(crate) fn save<T: Serialize>(kind: &str, version: u32, state: &T) -> Result<SavedModel, ForecastError> {
    let state = serde_json::to_value(state).map_err(|e| ForecastError::Restore(e.to_string()))?;
    Ok(SavedModel { kind: kind.to_string(), version, state })
}

/// Reads back a state saved by [`save`], checking kind and version.
pub(crate) fn load<T: DeserializeOwned>(saved: &SavedModel, kind: &str, version: u32) -> Result<T, ForecastError> {
    if saved.kind != kind {
        return Err(ForecastError::Restore(format!("expected a {kind} model, got {}", saved.kind)));
    }
    if saved.version != version {
        return Err(ForecastError::Restore(format!(
            "{kind} state version {} is not supported (expected {version})",
            saved.version
        )));
    }
    T::deserialize(&saved.state).map_err(|e| ForecastError::Restore(format!("{kind}: {e}")))
}
