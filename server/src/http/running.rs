//! The table of `/query` requests in flight, for `SHOW QUERIES` and
//! `KILL QUERY`.
//!
//! Why here and not in the query crate: an entry lives exactly as long as
//! its HTTP request (a guard removes it when the handler returns or the
//! client goes away), it holds the request's cancellation token, and what a
//! caller may see depends on its tenant. Each request gets a view bound to
//! its caller ([`QueryRegistry::view`]): a tenant sees and kills only its
//! own queries; operators see every tenant's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use augur_query::ast::Query;
use augur_query::exec::cancel::CancelToken;
use augur_query::exec::{QueryTable, RunningQueries, RunningQuery};

use crate::auth::Principal;

/// One request in flight.
struct Entry {
    /// The parsed statements (rendered only when listed).
    query: Arc<Query>,
    /// The request's `db` parameter.
    database: String,
    /// The caller's tenant.
    tenant: String,
    /// When it started.
    started: Instant,
    /// Stops it.
    cancel: CancelToken,
    /// Whether `KILL QUERY` stopped it.
    killed: bool,
}

/// Every `/query` request in flight, by id (ids start at 1 and are never
/// reused while the server runs, as InfluxDB's).
#[derive(Default)]
pub struct QueryRegistry {
    next: AtomicU64,
    entries: Mutex<BTreeMap<u64, Entry>>,
}

impl QueryRegistry {
    fn entries(&self) -> MutexGuard<'_, BTreeMap<u64, Entry>> {
        // An entry is a plain record: a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request; it is listed until the returned guard drops.
    pub fn register(
        self: &Arc<Self>,
        query: Arc<Query>,
        database: &str,
        tenant: &str,
        cancel: CancelToken,
    ) -> Registered {
        let qid = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry {
            query,
            database: database.to_string(),
            tenant: tenant.to_string(),
            started: Instant::now(),
            cancel,
            killed: false,
        };
        self.entries().insert(qid, entry);
        Registered { registry: Arc::clone(self), qid }
    }

    /// The table as `principal` may see it, for its request's context.
    pub fn view(self: &Arc<Self>, principal: &Principal) -> RunningQueries {
        let tenant = (!principal.is_operator()).then(|| principal.tenant.clone());
        RunningQueries(Arc::new(CallerView { registry: Arc::clone(self), tenant }))
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps a request listed; dropping it removes the entry.
pub struct Registered {
    registry: Arc<QueryRegistry>,
    qid: u64,
}

impl Registered {
    /// The request's id.
    pub fn qid(&self) -> u64 {
        self.qid
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.entries().remove(&self.qid);
    }
}

/// The registry seen by one caller.
struct CallerView {
    registry: Arc<QueryRegistry>,
    /// `Some(tenant)`: only that tenant's queries; `None`: all (operators).
    tenant: Option<String>,
}

impl CallerView {
    fn visible(&self, entry: &Entry) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == entry.tenant)
    }
}

impl QueryTable for CallerView {
    fn running(&self) -> Vec<RunningQuery> {
        let now = Instant::now();
        self.registry
            .entries()
            .iter()
            .filter(|(_, e)| self.visible(e))
            .map(|(qid, e)| RunningQuery {
                qid: *qid,
                query: e.query.statements.iter().map(ToString::to_string).collect::<Vec<_>>().join(";\n"),
                database: e.database.clone(),
                elapsed: now.saturating_duration_since(e.started),
                killed: e.killed,
            })
            .collect()
    }

    fn kill(&self, qid: u64) -> Result<(), String> {
        let mut entries = self.registry.entries();
        match entries.get_mut(&qid) {
            Some(entry) if self.visible(entry) => {
                entry.killed = true;
                entry.cancel.cancel();
                tracing::info!(qid, tenant = %entry.tenant, "query killed");
                Ok(())
            }
            _ => Err(format!("no such query id: {qid}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use augur_query::parse_query;

    use super::*;
    use crate::auth::model::Role;

    fn principal(tenant: &str, role: Role) -> Principal {
        Principal { tenant: tenant.into(), role, trusted: false, ..Principal::trusted() }
    }

    #[test]
    fn tenants_see_and_kill_only_their_own_queries() {
        let registry = Arc::new(QueryRegistry::default());
        let query = Arc::new(parse_query("SELECT v FROM cpu; SHOW DATABASES").expect("parses"));
        let acme_cancel = CancelToken::default();
        let acme = registry.register(Arc::clone(&query), "metrics", "acme", acme_cancel.clone());
        let other = registry.register(query, "", "globex", CancelToken::default());
        assert_eq!((acme.qid(), other.qid()), (1, 2));

        let acme_view = registry.view(&principal("acme", Role::Admin));
        let listed = acme_view.0.running();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].query, "SELECT v FROM cpu;\nSHOW DATABASES");
        assert_eq!(listed[0].database, "metrics");
        assert_eq!(acme_view.0.kill(2), Err("no such query id: 2".to_string()));

        let operator = registry.view(&Principal::trusted());
        assert_eq!(operator.0.running().len(), 2);

        assert_eq!(acme_view.0.kill(1), Ok(()));
        assert!(acme_cancel.check().is_err());
        assert!(acme_view.0.running()[0].killed);

        drop(acme);
        assert!(acme_view.0.running().is_empty());
        assert_eq!(acme_view.0.kill(1), Err("no such query id: 1".to_string()));
        assert_eq!(registry.len(), 1);
        drop(other);
        assert!(registry.is_empty());
    }
}
