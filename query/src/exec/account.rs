//! The executor's bridge to the accounts, which live in the server.
//!
//! Why a trait: the query crate parses `CREATE USER`, `GRANT`, `SHOW
//! USERS`... and runs them in statement order with the rest of a request,
//! but it knows nothing of how users are stored or who is asking. The
//! server passes an [`AccountExecutor`] bound to the authenticated caller in
//! the [`ExecutionContext`](super::ExecutionContext); it also filters the
//! listings (`SHOW DATABASES`, `SHOW CONTINUOUS QUERIES`) to what the caller
//! may see.

use std::fmt;
use std::sync::Arc;

use crate::ast::AccountStatement;
use crate::result::Series;

/// Runs user-management statements on behalf of one caller.
pub trait AccountExecutor: Send + Sync {
    /// Runs `statement`; the error text is what the client reads.
    fn execute(&self, statement: &AccountStatement) -> Result<Vec<Series>, String>;

    /// Whether the caller may see `database` in listings.
    fn database_visible(&self, database: &str) -> bool;
}

/// A shared [`AccountExecutor`] (cloned into every context).
#[derive(Clone)]
pub struct Accounts(pub Arc<dyn AccountExecutor>);

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Accounts(..)")
    }
}

/// The error when no accounts are attached (the library used on its own).
pub(super) const NO_ACCOUNTS: &str = "user management is not available here";
