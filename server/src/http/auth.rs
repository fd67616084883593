//! The authentication layer of the data routes, and the authorization
//! checks handlers call.
//!
//! Every request to a protected route passes [`authenticate`]: with
//! authentication on, it reads the credential (`Authorization: Token|Basic`
//! or `u`/`p`), checks it (argon2 on the blocking pool), and attaches the
//! [`Principal`] to the request; without a valid one the request ends here
//! with 401 (or 429 after too many failures from the address). With
//! authentication off, every request carries the trusted principal.
//! Handlers then ask [`AppState::authorize`] for each database they touch.

use std::sync::Arc;

use augur_query::privileges::Access;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::auth::credentials::{self, Credential};
use crate::auth::{Principal, Rejection};
use crate::listener::PeerAddr;

/// The client address of a request, when the server recorded it.
pub fn client_addr(request: &Request) -> Option<std::net::IpAddr> {
    request.extensions().get::<ConnectInfo<PeerAddr>>().map(|c| c.0 .0.ip())
}

/// The socket of an HTTP/1 request's plain-TCP connection, attached to
/// every authenticated request that has one (for [`crate::hangup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFd(pub std::os::fd::RawFd);

/// The connection socket of `request` when it is HTTP/1 over plain TCP.
fn connection_fd(request: &Request) -> Option<ConnectionFd> {
    if request.version() > axum::http::Version::HTTP_11 {
        return None;
    }
    request.extensions().get::<ConnectInfo<PeerAddr>>().and_then(|c| c.0 .1).map(ConnectionFd)
}

/// The client address, attached to every authenticated request (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl ClientAddr {
    /// The address as text (empty when unknown).
    pub fn text(&self) -> String {
        self.0.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

/// Authenticates the request and attaches its [`Principal`] and [`ClientAddr`].
pub async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let principal = match &state.auth {
        Some(auth) if auth.config.enabled => {
            let credential = match credentials::from_request(request.headers(), request.uri().query()) {
                Ok(credential) => credential,
                Err(err) => return ApiError::Unauthorized(err.to_string()).into_response(),
            };
            let client = client_addr(&request);
            let outcome = match credential {
                // argon2 takes milliseconds of CPU: off the async workers.
                Credential::Password { .. } => {
                    let auth = Arc::clone(auth);
                    match tokio::task::spawn_blocking(move || auth.authenticate(&credential, client)).await {
                        Ok(outcome) => outcome,
                        Err(err) => return ApiError::from(err).into_response(),
                    }
                }
                Credential::Token(_) => auth.authenticate(&credential, client),
            };
            match outcome {
                Ok(principal) => principal,
                Err(Rejection::Unauthenticated(message)) => return ApiError::Unauthorized(message).into_response(),
                Err(Rejection::Throttled(retry)) => {
                    return ApiError::TooManyAuthFailures(retry.as_secs().max(1)).into_response()
                }
            }
        }
        _ => Principal::trusted(),
    };
    let client = ClientAddr(client_addr(&request));
    if let Some(fd) = connection_fd(&request) {
        request.extensions_mut().insert(fd);
    }
    request.extensions_mut().insert(principal);
    request.extensions_mut().insert(client);
    next.run(request).await
}

impl AppState {
    /// The tenant owning `database` (`None` without accounts or owner).
    pub fn owner(&self, database: &str) -> Option<String> {
        self.auth.as_ref().and_then(|a| a.accounts.owner(database))
    }

    /// Whether `principal` may have `access` on `database`.
    pub fn may(&self, principal: &Principal, access: Access, database: &str) -> bool {
        self.auth.is_none() || principal.may(access, database, self.owner(database).as_deref())
    }

    /// 403 unless `principal` may have `access` on `database`.
    pub fn authorize(&self, principal: &Principal, access: Access, database: &str) -> Result<(), ApiError> {
        if self.may(principal, access, database) {
            return Ok(());
        }
        let verb = match access {
            Access::Read => "read from",
            Access::Write => "write to",
            Access::Admin => "administer",
        };
        Err(ApiError::Forbidden(format!(
            "{:?} user is not authorized to {verb} database {database:?}",
            principal.name()
        )))
    }

    /// 403 unless `principal` administers every tenant.
    pub fn require_operator(&self, principal: &Principal) -> Result<(), ApiError> {
        if self.auth.is_none() || principal.is_operator() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{:?} user is not an operator (admin of the default tenant)",
                principal.name()
            )))
        }
    }
}
