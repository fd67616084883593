//! Accounts, authentication and authorization.
//!
//! * [`model`]: what is stored (tenants, users, tokens);
//! * [`accounts`]: the registry, in memory and written through to RocksDB;
//! * [`secret`]: tokens, argon2 password hashes, constant-time comparison;
//! * [`credentials`]: reading a credential from a request (`u`/`p`, Basic, `Token`);
//! * [`principal`]: who is asking and the authorization rules;
//! * [`failures`]: brute-force limiting of failed logins;
//! * [`statements`]: `CREATE USER`, `GRANT`... for the query executor;
//! * [`audit`]: the audit log.
//!
//! [`Auth`] bundles what the HTTP layer needs. See docs/security.md.

pub mod accounts;
pub mod audit;
pub mod credentials;
pub mod failures;
pub mod limits;
pub mod model;
pub mod principal;
pub mod secret;
pub mod statements;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use accounts::{AccountError, Accounts, AuthFailure};
pub use audit::AuditLog;
use credentials::Credential;
use failures::FailureLimiter;
pub use principal::Principal;

/// Authentication settings (`[auth]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whether requests must authenticate.
    pub enabled: bool,
    /// Failed logins per client address per `failure_window` before it is blocked (0 = no limit).
    pub max_failures: u32,
    /// The window of `max_failures`.
    pub failure_window: Duration,
    /// Tag keys that locate a person or device (`[privacy] location_tags`):
    /// dropped at ingest for tenants without `collect_location`.
    pub location_tags: Vec<String>,
}

/// The default `[privacy] location_tags`.
pub const DEFAULT_LOCATION_TAGS: &[&str] = &["geo", "country", "region_geo", "lat", "lon", "ip"];

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            location_tags: DEFAULT_LOCATION_TAGS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No usable credential (401).
    Unauthenticated(String),
    /// Too many failures from this address (429, retry after).
    Throttled(Duration),
}

/// Everything the HTTP layer needs for accounts.
pub struct Auth {
    /// Settings.
    pub config: AuthConfig,
    /// The registry.
    pub accounts: Arc<Accounts>,
    /// The audit log.
    pub audit: AuditLog,
    /// Per-tenant rate and concurrency state.
    pub limits: limits::TenantLimiters,
    failures: FailureLimiter,
}

impl Auth {
    /// Bundles the registry and the audit log with these settings.
    pub fn new(config: AuthConfig, accounts: Arc<Accounts>, audit: AuditLog) -> Auth {
        let failures = FailureLimiter::new(config.max_failures, config.failure_window);
        Auth { config, accounts, audit, limits: limits::TenantLimiters::default(), failures }
    }

    /// Authenticates `credential` from `client` (blocking: argon2 runs here).
    pub fn authenticate(&self, credential: &Credential, client: Option<IpAddr>) -> Result<Principal, Rejection> {
        if let Some(ip) = client {
            self.failures.check(ip).map_err(Rejection::Throttled)?;
        }
        let result = match credential {
            Credential::Token(token) => self.accounts.authenticate_token(token),
            Credential::Password { user, password } => {
                match self.accounts.authenticate_password(user, password) {
                    // InfluxDB 2's 1.x compatibility: a token as the password.
                    Err(failure) if password.starts_with(secret::TOKEN_PREFIX) => self
                        .accounts
                        .authenticate_token(password)
                        .and_then(|u| if u.name == *user { Ok(u) } else { Err(failure) }),
                    other => other,
                }
            }
        };
        match result {
            Ok(user) => Ok(Principal::of(&user)),
            Err(failure) => {
                if let Some(ip) = client {
                    self.failures.record_failure(ip);
                }
                let actor = credential.user().unwrap_or_default();
                let tenant =
                    credential.user().and_then(|u| self.accounts.user(u)).map(|u| u.tenant).unwrap_or_default();
                let client = client.map(|ip| ip.to_string()).unwrap_or_default();
                self.audit.record(actor, &tenant, &client, "authenticate", &format!("failed: {}", failure.as_str()));
                Err(Rejection::Unauthenticated("authorization failed".to_string()))
            }
        }
    }
}
