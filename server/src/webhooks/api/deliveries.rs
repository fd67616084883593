//! `GET /v1/webhooks/{id}/deliveries`, `POST /v1/webhooks/{id}/replay`,
//! `POST /v1/webhooks/{id}/test`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::{audit, blocking, hooks, outcome, owned, parse_body, webhook_error};
use crate::auth::Principal;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::webhooks::deliveries::DeliveriesView;
use crate::webhooks::ReplayOutcome;

/// The body of `POST /v1/webhooks/{id}/replay` (empty: the dead letters).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// Re-deliver every retained event from this sequence on, in order.
    #[serde(default)]
    pub from_sequence: Option<u64>,
}

/// `GET /v1/webhooks/{id}/deliveries`.
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<DeliveriesView>, ApiError> {
    let hooks = hooks(&state)?;
    owned(hooks, &principal, &id)?;
    Ok(Json(hooks.deliveries(&id).await.map_err(webhook_error)?))
}

/// `POST /v1/webhooks/{id}/replay`: 202; `{}` or no body re-delivers the
/// dead letters, `{"from_sequence": N}` every event from N on.
pub async fn replay(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ReplayOutcome>), ApiError> {
    let hooks = Arc::clone(hooks(&state)?);
    let sub = owned(&hooks, &principal, &id)?;
    let body: ReplayBody =
        if body.iter().all(u8::is_ascii_whitespace) { ReplayBody::default() } else { parse_body(&body)? };
    let (action, result) = match body.from_sequence {
        Some(0) => return Err(ApiError::BadRequest("invalid from_sequence: sequences start at 1".to_string())),
        Some(from) => (format!("replay webhook {id} from sequence {from}"), hooks.replay_from(&id, from).await),
        None => {
            let id_owned = id.clone();
            let queued = blocking(move || hooks.replay_dead_letters(&id_owned)).await?;
            let result =
                queued.map(|n| ReplayOutcome { dead_letters_queued: n, from_sequence: None, oldest_available: None });
            (format!("replay webhook {id} dead letters"), result)
        }
    };
    audit(&state, &principal, &client, &sub.owner, &action, &outcome(&result));
    Ok((StatusCode::ACCEPTED, Json(result.map_err(webhook_error)?)))
}

/// `POST /v1/webhooks/{id}/test`: 202 with the test event's sequence.
pub async fn test(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let hooks = Arc::clone(hooks(&state)?);
    let sub = owned(&hooks, &principal, &id)?;
    let id_owned = id.clone();
    let result = blocking(move || hooks.send_test(&id_owned)).await?;
    audit(&state, &principal, &client, &sub.owner, &format!("test webhook {id}"), &outcome(&result));
    let sequence = result.map_err(webhook_error)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "sequence": sequence }))))
}
