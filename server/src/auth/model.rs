//! The account records: tenants, users, tokens, database ownership.
//!
//! These are what is persisted (as JSON in the store's meta records), so
//! every field is plain data; the rules that use them live in
//! [`super::principal`] and [`super::accounts`].

use std::collections::BTreeMap;

use augur_query::ast::{Privilege, RoleName};
use serde::{Deserialize, Serialize};

/// The tenant every pre-existing database and the first admin belong to.
/// Its admins are the operators: they administer every tenant.
pub const DEFAULT_TENANT: &str = "default";

/// A user's role: the most it may do in its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in its tenant: databases, users, grants, tokens.
    Admin,
    /// Reads and writes on the databases it was granted.
    Writer,
    /// Reads on the databases it was granted (write grants are capped).
    Reader,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        self.into_name().as_str()
    }

    fn into_name(self) -> RoleName {
        match self {
            Role::Admin => RoleName::Admin,
            Role::Writer => RoleName::Writer,
            Role::Reader => RoleName::Reader,
        }
    }

    /// Parses `admin`, `writer`, `reader`.
    pub fn parse(text: &str) -> Option<Role> {
        RoleName::parse(text).map(Role::from)
    }
}

impl From<RoleName> for Role {
    fn from(name: RoleName) -> Role {
        match name {
            RoleName::Admin => Role::Admin,
            RoleName::Writer => Role::Writer,
            RoleName::Reader => Role::Reader,
        }
    }
}

/// A privilege on one database as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Grant {
    /// `READ`
    Read,
    /// `WRITE`
    Write,
    /// `ALL PRIVILEGES`
    All,
}

impl From<Privilege> for Grant {
    fn from(p: Privilege) -> Grant {
        match p {
            Privilege::Read => Grant::Read,
            Privilege::Write => Grant::Write,
            Privilege::All => Grant::All,
        }
    }
}

impl From<Grant> for Privilege {
    fn from(g: Grant) -> Privilege {
        match g {
            Grant::Read => Privilege::Read,
            Grant::Write => Privilege::Write,
            Grant::All => Privilege::All,
        }
    }
}

/// Per-tenant limits (0 = unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    /// Most series across the tenant's databases.
    pub max_series: u64,
    /// Points per second the tenant may write (token bucket, burst = one second).
    pub max_points_per_second: u64,
    /// Queries of the tenant running at once.
    pub max_concurrent_queries: u64,
    /// Most points one `SELECT` of the tenant may read.
    pub max_select_points: u64,
}

/// An account: what owns databases (and later pools, webhooks, models).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Unique name.
    pub name: String,
    /// Whether location tags are kept at ingest (consent); dropped otherwise.
    #[serde(default)]
    pub collect_location: bool,
    /// Its limits.
    #[serde(default)]
    pub limits: TenantLimits,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

/// A user. Names are unique across tenants (InfluxDB clients log in with a
/// bare user name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// Its role.
    pub role: Role,
    /// argon2id PHC hash; `None` = token-only user.
    pub password_hash: Option<String>,
    /// Per-database grants.
    #[serde(default)]
    pub grants: BTreeMap<String, Grant>,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

/// A stored API token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Public id (prefix of the hash).
    pub id: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The user it acts as.
    pub user: String,
    /// What it is for, as given at creation.
    #[serde(default)]
    pub description: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
    /// Expiry, ns since the epoch; `None` = never.
    pub expires_ns: Option<i64>,
    /// Revocation time; a revoked token authenticates nobody.
    pub revoked_ns: Option<i64>,
}

impl Token {
    /// Whether the token may be used at `now_ns`.
    pub fn usable(&self, now_ns: i64) -> Result<(), TokenState> {
        if self.revoked_ns.is_some() {
            Err(TokenState::Revoked)
        } else if self.expires_ns.is_some_and(|e| e <= now_ns) {
            Err(TokenState::Expired)
        } else {
            Ok(())
        }
    }
}

/// Why a known token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}
