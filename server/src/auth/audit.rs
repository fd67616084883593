//! The audit log: authentication failures and every administrative change
//! (users, grants, tokens, tenants, databases, retention policies,
//! continuous queries), kept in RocksDB and readable by admins
//! (`GET /v1/audit`).
//!
//! Why in the store: the record must survive the process (a log file can
//! be rotated away or lost with the container) and be queryable over the
//! same API as everything else. Keys sort by time, so listing newest first
//! is a reverse scan. Writing an event never fails the request it
//! describes: a storage error is logged instead.

use std::sync::atomic::{AtomicU64, Ordering};

use augur_engine::storage::Store;
use serde::{Deserialize, Serialize};

/// Key prefix of audit events.
const PREFIX: &str = "audit/";

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, RFC 3339.
    pub time: String,
    /// When, ns since the epoch.
    pub time_ns: i64,
    /// Who acted (user name; the claimed name for failed logins; empty if none).
    pub actor: String,
    /// The tenant concerned (empty when unknown, e.g. an unknown user).
    pub tenant: String,
    /// The client address.
    pub client: String,
    /// What was attempted (`auth`, a statement's text, `POST /v1/tokens`...).
    pub action: String,
    /// `ok`, `denied`, or `failed: <reason>`.
    pub outcome: String,
}

/// The log (one per server).
pub struct AuditLog {
    store: Store,
    seq: AtomicU64,
}

impl AuditLog {
    /// The log kept in `store`.
    pub fn new(store: Store) -> AuditLog {
        AuditLog { store, seq: AtomicU64::new(0) }
    }

    /// Records an event (best effort: failures are logged, not returned).
    pub fn record(&self, actor: &str, tenant: &str, client: &str, action: &str, outcome: &str) {
        let time_ns = crate::clock::now_ns();
        let event = AuditEvent {
            time: augur_query::time::format_rfc3339_nano(time_ns),
            time_ns,
            actor: actor.to_string(),
            tenant: tenant.to_string(),
            client: client.to_string(),
            action: action.to_string(),
            outcome: outcome.to_string(),
        };
        tracing::info!(target: "augur::audit", actor, tenant, client, action, outcome, "audit");
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let key = format!("{PREFIX}{:020}{:010}", time_ns.max(0), seq % 10_000_000_000);
        match serde_json::to_vec(&event) {
            Ok(value) => {
                if let Err(err) = self.store.put_meta_record(key.as_bytes(), &value) {
                    tracing::error!(%err, "cannot store an audit event");
                }
            }
            Err(err) => tracing::error!(%err, "cannot encode an audit event"),
        }
    }

    /// The newest `limit` events that `filter` keeps, newest first.
    pub fn list(&self, limit: usize, filter: impl Fn(&AuditEvent) -> bool) -> Vec<AuditEvent> {
        let records = match self.store.scan_meta_records(PREFIX.as_bytes()) {
            Ok(records) => records,
            Err(err) => {
                tracing::error!(%err, "cannot read the audit log");
                return Vec::new();
            }
        };
        records
            .iter()
            .rev()
            .filter_map(|(_, value)| serde_json::from_slice::<AuditEvent>(value).ok())
            .filter(|e| filter(e))
            .take(limit)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_engine::storage::StoreOptions;

    #[test]
    fn events_persist_and_list_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let log = AuditLog::new(Store::open(dir.path(), StoreOptions::default()).expect("store"));
            log.record("eve", "", "127.0.0.1", "auth", "failed: unknown credential");
            log.record("admin", "default", "127.0.0.1", "CREATE USER bob WITH PASSWORD [REDACTED]", "ok");
            log.record("bob", "acme", "127.0.0.1", "DROP USER x", "denied");
        }
        let log = AuditLog::new(Store::open(dir.path(), StoreOptions::default()).expect("store"));
        let all = log.list(10, |_| true);
        assert_eq!(all.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>(), ["bob", "admin", "eve"]);
        assert_eq!(log.list(1, |_| true).len(), 1);
        let acme = log.list(10, |e| e.tenant == "acme");
        assert_eq!(acme.len(), 1);
        assert_eq!(acme[0].outcome, "denied");
    }
}
