//! `GET /api/v1/verify`: every damaged block and WAL record, for operators.
//!
//! Combines a full checksum pass over the stored blocks (`Store::verify`)
//! with the WAL records skipped when the store was opened. Reading the
//! blocks is disk-heavy, so it runs on the blocking pool.

use std::sync::Arc;

use augur_engine::storage::Damage;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;

use super::error::ApiError;
use super::AppState;
use crate::auth::Principal;

/// The response body.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    /// Everything found damaged; empty when all is well.
    pub damaged: Vec<DamageEntry>,
}

/// One damaged item.
#[derive(Debug, Serialize)]
pub struct DamageEntry {
    /// `block` or `wal`.
    pub kind: &'static str,
    /// Series key of a damaged block (absent for WAL records).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub series: String,
    /// Window start (ns) of a block, or the WAL record's sequence number.
    pub position: i64,
    /// What the check found.
    pub reason: String,
}

impl From<Damage> for DamageEntry {
    fn from(d: Damage) -> DamageEntry {
        DamageEntry { kind: d.kind, series: d.series_key, position: d.position, reason: d.reason }
    }
}

/// Runs the verification.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<VerifyReport>, ApiError> {
    state.require_operator(&principal)?;
    let store = state.store.clone();
    let (blocks, wal) = tokio::task::spawn_blocking(move || {
        let blocks = store.verify();
        (blocks, store.recovery_damage())
    })
    .await?;
    let damaged = blocks?.into_iter().chain(wal).map(DamageEntry::from).collect::<Vec<_>>();
    if !damaged.is_empty() {
        tracing::warn!(count = damaged.len(), "verify found damage");
    }
    Ok(Json(VerifyReport { damaged }))
}
