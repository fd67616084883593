//! User-management statements: `CREATE USER`, `DROP USER`, `SET PASSWORD`,
//! `GRANT`, `REVOKE`, `SHOW USERS`, `SHOW GRANTS`.
//!
//! Why a separate family: the query crate parses them, but the accounts
//! live in the server (which authenticates requests), so the executor hands
//! them to an [`AccountExecutor`](crate::exec::AccountExecutor) instead of
//! running them itself. Their `Display` never prints a password: statements
//! end up in logs and in the audit log.

use std::fmt;

use super::write_ident as ident;

/// A privilege on one database, as `GRANT` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Privilege {
    /// `READ`: queries.
    Read,
    /// `WRITE`: writes and deletes.
    Write,
    /// `ALL [PRIVILEGES]`: both.
    All,
}

impl Privilege {
    /// The spelling InfluxDB's `SHOW GRANTS` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        }
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn covers(self, needed: Privilege) -> bool {
        self == Privilege::All || self == needed
    }
}

/// An account role (Augur's extension `WITH ROLE <role>` on `CREATE USER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleName {
    /// Everything in the user's tenant.
    Admin,
    /// Reads and writes on the granted databases.
    Writer,
    /// Reads only, on the granted databases.
    Reader,
}

impl RoleName {
    /// The role's name in statements and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Admin => "admin",
            RoleName::Writer => "writer",
            RoleName::Reader => "reader",
        }
    }

    /// Parses `admin`, `writer` or `reader` (any case).
    pub fn parse(text: &str) -> Option<RoleName> {
        match text.to_ascii_lowercase().as_str() {
            "admin" => Some(RoleName::Admin),
            "writer" => Some(RoleName::Writer),
            "reader" => Some(RoleName::Reader),
            _ => None,
        }
    }
}

/// One user-management statement.
#[derive(Clone, PartialEq)]
pub enum AccountStatement {
    /// `CREATE USER <name> WITH PASSWORD '<pw>' [WITH ALL PRIVILEGES | WITH ROLE <role>]`
    CreateUser {
        /// The new user's name.
        name: String,
        /// The password (never displayed).
        password: String,
        /// The role: `admin` for `WITH ALL PRIVILEGES`, `writer` by default.
        role: RoleName,
    },
    /// `DROP USER <name>`
    DropUser {
        /// The user.
        name: String,
    },
    /// `SET PASSWORD FOR <name> = '<pw>'`
    SetPassword {
        /// The user.
        name: String,
        /// The new password (never displayed).
        password: String,
    },
    /// `GRANT <privilege> ON <db> TO <user>`, or `GRANT ALL PRIVILEGES TO <user>` (admin).
    Grant {
        /// What is granted.
        privilege: Privilege,
        /// The database; `None` = make the user an admin.
        database: Option<String>,
        /// The user.
        user: String,
    },
    /// `REVOKE <privilege> ON <db> FROM <user>`, or `REVOKE ALL PRIVILEGES FROM <user>` (admin).
    Revoke {
        /// What is revoked.
        privilege: Privilege,
        /// The database; `None` = take admin away.
        database: Option<String>,
        /// The user.
        user: String,
    },
    /// `SHOW USERS`
    ShowUsers,
    /// `SHOW GRANTS FOR <user>`
    ShowGrants {
        /// The user.
        user: String,
    },
}

/// Passwords are redacted, like InfluxDB's `[REDACTED]`.
impl fmt::Debug for AccountStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountStatement({self})")
    }
}

impl fmt::Display for AccountStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountStatement::CreateUser { name, role, .. } => {
                f.write_str("CREATE USER ")?;
                ident(f, name)?;
                f.write_str(" WITH PASSWORD [REDACTED]")?;
                match role {
                    RoleName::Admin => f.write_str(" WITH ALL PRIVILEGES"),
                    RoleName::Writer => Ok(()),
                    RoleName::Reader => f.write_str(" WITH ROLE reader"),
                }
            }
            AccountStatement::DropUser { name } => {
                f.write_str("DROP USER ")?;
                ident(f, name)
            }
            AccountStatement::SetPassword { name, .. } => {
                f.write_str("SET PASSWORD FOR ")?;
                ident(f, name)?;
                f.write_str(" = [REDACTED]")
            }
            AccountStatement::Grant { privilege, database, user } => {
                write!(f, "GRANT {}", privilege.as_str())?;
                write_on(f, database)?;
                f.write_str(" TO ")?;
                ident(f, user)
            }
            AccountStatement::Revoke { privilege, database, user } => {
                write!(f, "REVOKE {}", privilege.as_str())?;
                write_on(f, database)?;
                f.write_str(" FROM ")?;
                ident(f, user)
            }
            AccountStatement::ShowUsers => f.write_str("SHOW USERS"),
            AccountStatement::ShowGrants { user } => {
                f.write_str("SHOW GRANTS FOR ")?;
                ident(f, user)
            }
        }
    }
}

fn write_on(f: &mut fmt::Formatter<'_>, database: &Option<String>) -> fmt::Result {
    match database {
        Some(db) => {
            f.write_str(" ON ")?;
            ident(f, db)
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_redacts_passwords() {
        let create =
            AccountStatement::CreateUser { name: "bob".into(), password: "hunter2".into(), role: RoleName::Admin };
        assert_eq!(create.to_string(), "CREATE USER bob WITH PASSWORD [REDACTED] WITH ALL PRIVILEGES");
        assert!(!format!("{create:?}").contains("hunter2"));
        let set = AccountStatement::SetPassword { name: "bob".into(), password: "hunter2".into() };
        assert_eq!(set.to_string(), "SET PASSWORD FOR bob = [REDACTED]");
    }

    #[test]
    fn privileges_cover() {
        assert!(Privilege::All.covers(Privilege::Read));
        assert!(Privilege::Write.covers(Privilege::Write));
        assert!(!Privilege::Read.covers(Privilege::Write));
    }
}
