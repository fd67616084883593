//! `CREATE USER`, `GRANT`, `SHOW USERS`... run for one caller: the bridge
//! the query executor calls ([`AccountExecutor`]).
//!
//! Why the tenant checks live here and not only in the requirements: the
//! requirement says "a user admin", but *which* users an admin may touch
//! depends on their tenant, which only the accounts know. A user of
//! another tenant answers `user not found`, exactly as a missing one, so
//! user names do not leak across tenants.

use std::sync::Arc;

use augur_query::ast::{AccountStatement, Privilege};
use augur_query::exec::AccountExecutor;
use augur_query::result::Series;
use serde_json::Value;

use super::accounts::{AccountError, Accounts};
use super::model::{Grant, Role, User};
use super::principal::Principal;

/// Runs user statements as `principal`.
pub struct StatementRunner {
    /// The registry.
    pub accounts: Arc<Accounts>,
    /// The caller.
    pub principal: Principal,
}

impl StatementRunner {
    /// The user `name`, if the caller may administer (or is) it.
    fn reachable(&self, name: &str) -> Result<User, AccountError> {
        let user = self.accounts.user(name).ok_or(AccountError::UserNotFound)?;
        if self.principal.administers(&user.tenant) || (!self.principal.trusted && self.principal.user == user.name) {
            Ok(user)
        } else {
            Err(AccountError::UserNotFound)
        }
    }

    fn run(&self, statement: &AccountStatement) -> Result<Vec<Series>, AccountError> {
        match statement {
            AccountStatement::CreateUser { name, password, role } => {
                self.accounts.create_user(name, &self.principal.tenant, Role::from(*role), Some(password))?;
                Ok(Vec::new())
            }
            AccountStatement::DropUser { name } => {
                self.reachable(name)?;
                self.accounts.drop_user(name)?;
                Ok(Vec::new())
            }
            AccountStatement::SetPassword { name, password } => {
                self.reachable(name)?;
                self.accounts.set_password(name, password)?;
                Ok(Vec::new())
            }
            AccountStatement::Grant { privilege, database, user } => {
                self.reachable(user)?;
                match database {
                    None => self.accounts.set_role(user, Role::Admin)?,
                    Some(db) => self.accounts.grant(user, db, Grant::from(*privilege))?,
                };
                Ok(Vec::new())
            }
            AccountStatement::Revoke { privilege, database, user } => {
                self.reachable(user)?;
                match database {
                    None => self.accounts.set_role(user, Role::Writer)?,
                    Some(db) => self.accounts.revoke(user, db, Grant::from(*privilege))?,
                };
                Ok(Vec::new())
            }
            AccountStatement::ShowUsers => {
                // InfluxDB's two columns first, then Augur's.
                let mut series = Series::new(None, &["user", "admin", "tenant", "role"]);
                series.values = self
                    .accounts
                    .users()
                    .into_iter()
                    .filter(|u| self.principal.administers(&u.tenant))
                    .map(|u| {
                        vec![
                            Value::String(u.name),
                            Value::Bool(u.role == Role::Admin),
                            Value::String(u.tenant),
                            Value::String(u.role.as_str().to_string()),
                        ]
                    })
                    .collect();
                Ok(vec![series])
            }
            AccountStatement::ShowGrants { user } => {
                let user = self.reachable(user)?;
                let mut series = Series::new(None, &["database", "privilege"]);
                series.values = user
                    .grants
                    .iter()
                    .map(|(db, g)| {
                        vec![Value::String(db.clone()), Value::String(Privilege::from(*g).as_str().to_string())]
                    })
                    .collect();
                Ok(vec![series])
            }
        }
    }
}

impl AccountExecutor for StatementRunner {
    fn execute(&self, statement: &AccountStatement) -> Result<Vec<Series>, String> {
        self.run(statement).map_err(|e| e.to_string())
    }

    fn database_visible(&self, database: &str) -> bool {
        self.principal.sees(database, self.accounts.owner(database).as_deref())
    }
}
