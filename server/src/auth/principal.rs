//! Who is asking, and what they may do.
//!
//! A [`Principal`] is built per request from the authenticated user (or is
//! the trusted local principal when authentication is switched off). The
//! rules, in one place:
//! * operators (admins of the default tenant) may do everything;
//! * nobody else reaches a database their tenant does not own — an unowned
//!   name and another tenant's database look the same (403), so existence
//!   does not leak;
//! * a tenant's admins may do everything in it, including creating
//!   databases under names no one owns yet;
//! * writers and readers reach the databases they were granted, readers
//!   only to read whatever the grant says.

use std::collections::BTreeMap;

use augur_query::privileges::Access;

use super::model::{Grant, Role, User, DEFAULT_TENANT};

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name (`""` for the trusted local principal).
    pub user: String,
    /// Its tenant.
    pub tenant: String,
    /// Its role.
    pub role: Role,
    /// Its per-database grants.
    pub grants: BTreeMap<String, Grant>,
    /// Authentication is off: everything is allowed.
    pub trusted: bool,
}

impl Principal {
    /// The principal of every request when authentication is off.
    pub fn trusted() -> Principal {
        Principal {
            user: String::new(),
            tenant: DEFAULT_TENANT.to_string(),
            role: Role::Admin,
            grants: BTreeMap::new(),
            trusted: true,
        }
    }

    /// The principal acting as `user`.
    pub fn of(user: &User) -> Principal {
        Principal {
            user: user.name.clone(),
            tenant: user.tenant.clone(),
            role: user.role,
            grants: user.grants.clone(),
            trusted: false,
        }
    }

    /// A name for messages (`anonymous` when trusted).
    pub fn name(&self) -> &str {
        if self.trusted {
            "anonymous"
        } else {
            &self.user
        }
    }

    /// Administers every tenant.
    pub fn is_operator(&self) -> bool {
        self.trusted || (self.role == Role::Admin && self.tenant == DEFAULT_TENANT)
    }

    /// Administers its own tenant.
    pub fn is_tenant_admin(&self) -> bool {
        self.trusted || self.role == Role::Admin
    }

    /// Whether it may administer things of `tenant`.
    pub fn administers(&self, tenant: &str) -> bool {
        self.is_operator() || (self.role == Role::Admin && self.tenant == tenant)
    }

    /// Whether `access` on `database`, owned by `owner` (`None`: no one),
    /// is allowed.
    pub fn may(&self, access: Access, database: &str, owner: Option<&str>) -> bool {
        if self.is_operator() {
            return true;
        }
        match owner {
            None => access == Access::Admin && self.role == Role::Admin,
            Some(owner) if owner != self.tenant => false,
            Some(_) if self.role == Role::Admin => true,
            Some(_) => {
                let grant = self.grants.get(database);
                match access {
                    Access::Admin => false,
                    Access::Read => grant.is_some_and(|g| matches!(g, Grant::Read | Grant::All)),
                    Access::Write => {
                        self.role == Role::Writer && grant.is_some_and(|g| matches!(g, Grant::Write | Grant::All))
                    }
                }
            }
        }
    }

    /// Whether `database` (owned by `owner`) shows up in its listings.
    pub fn sees(&self, database: &str, owner: Option<&str>) -> bool {
        self.is_operator()
            || (owner == Some(self.tenant.as_str()) && (self.role == Role::Admin || self.grants.contains_key(database)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(tenant: &str, role: Role, grants: &[(&str, Grant)]) -> Principal {
        Principal {
            user: "u".into(),
            tenant: tenant.into(),
            role,
            grants: grants.iter().map(|(d, g)| (d.to_string(), *g)).collect(),
            trusted: false,
        }
    }

    #[test]
    fn operators_and_trusted_may_everything() {
        assert!(Principal::trusted().may(Access::Admin, "x", Some("acme")));
        let op = user(DEFAULT_TENANT, Role::Admin, &[]);
        assert!(op.may(Access::Write, "x", Some("acme")));
        assert!(op.sees("x", Some("acme")));
    }

    #[test]
    fn tenants_never_reach_each_other() {
        let admin = user("acme", Role::Admin, &[]);
        assert!(admin.may(Access::Admin, "mine", Some("acme")));
        assert!(!admin.may(Access::Read, "theirs", Some("globex")));
        assert!(!admin.sees("theirs", Some("globex")));
        assert!(admin.may(Access::Admin, "new", None), "may create an unowned name");
        assert!(!admin.may(Access::Write, "new", None), "but not write to it before creating it");
        let writer = user("acme", Role::Writer, &[("theirs", Grant::All)]);
        assert!(!writer.may(Access::Read, "theirs", Some("globex")), "a grant does not cross tenants");
    }

    #[test]
    fn grants_and_roles_combine() {
        let writer = user("acme", Role::Writer, &[("a", Grant::All), ("r", Grant::Read), ("w", Grant::Write)]);
        assert!(writer.may(Access::Write, "a", Some("acme")));
        assert!(writer.may(Access::Read, "r", Some("acme")));
        assert!(!writer.may(Access::Write, "r", Some("acme")));
        assert!(!writer.may(Access::Read, "w", Some("acme")));
        assert!(!writer.may(Access::Admin, "a", Some("acme")));
        assert!(!writer.may(Access::Read, "other", Some("acme")));
        assert!(writer.sees("a", Some("acme")) && !writer.sees("other", Some("acme")));
        let reader = user("acme", Role::Reader, &[("a", Grant::All)]);
        assert!(reader.may(Access::Read, "a", Some("acme")));
        assert!(!reader.may(Access::Write, "a", Some("acme")), "the role caps the grant");
    }
}
