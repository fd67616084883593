//! What continuous forecasts report, turned into webhook events.
//!
//! The query crate returns [`ForecastNotice`]s (it knows nothing of
//! webhooks); the scheduler hands them here: each anomaly becomes one
//! `io.augur.anomaly.detected` event, each model swap one
//! `io.augur.model.swapped` event, for the tenant that owns the
//! database, published through the transactional outbox.

use std::sync::Arc;

use augur_query::exec::continuous::{AnomalyNotice, ForecastNotice, SwapNotice};
use augur_query::time::format_rfc3339_nano;

use crate::auth::model::DEFAULT_TENANT;
use crate::auth::Accounts;
use crate::webhooks::{Event, EventKind, Webhooks};

/// Where the scheduler sends notices: the webhook service, and the
/// accounts to find each database's tenant.
pub struct NoticeSink {
    webhooks: Arc<Webhooks>,
    accounts: Option<Arc<Accounts>>,
}

impl std::fmt::Debug for NoticeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeSink").finish_non_exhaustive()
    }
}

impl NoticeSink {
    /// A sink publishing to `webhooks`; events go to the tenant owning the
    /// database (`accounts`), else to the default tenant.
    pub fn new(webhooks: Arc<Webhooks>, accounts: Option<Arc<Accounts>>) -> NoticeSink {
        NoticeSink { webhooks, accounts }
    }

    /// Publishes the notices (blocks on the outbox's fsync: call from
    /// blocking code). Failures are logged: a lost event must not stop
    /// the scheduler.
    pub fn publish(&self, notices: Vec<ForecastNotice>) {
        let events: Vec<Event> = notices
            .into_iter()
            .map(|n| match n {
                ForecastNotice::Anomaly(a) => self.anomaly_event(&a),
                ForecastNotice::ModelSwapped(s) => self.swap_event(&s),
            })
            .collect();
        if events.is_empty() {
            return;
        }
        let count = events.len();
        if let Err(err) = self.webhooks.publish(events, Vec::new(), Vec::new()) {
            tracing::error!(error = %err, events = count, "cannot publish continuous-forecast events");
        }
    }

    fn tenant_of(&self, database: &str) -> String {
        self.accounts.as_ref().and_then(|a| a.owner(database)).unwrap_or_else(|| DEFAULT_TENANT.into())
    }

    fn swap_event(&self, n: &SwapNotice) -> Event {
        let c = &n.contest;
        Event {
            kind: EventKind::ModelSwapped,
            tenant: self.tenant_of(&n.key.database),
            pool: None,
            subject: Some(format!("{}/{}", n.key.database, n.key.group)),
            data: serde_json::json!({
                "database": n.key.database,
                "continuous_query": n.cq,
                "group": n.key.group,
                "model": n.key.model,
                "reason": n.reason,
                "from_version": c.champion,
                "to_version": n.version,
                "champion_mae": c.champion_mae,
                "challenger_mae": c.challenger_mae,
                "holdout_steps": c.holdout,
                "time": format_rfc3339_nano(c.at_ns),
            }),
        }
    }

    fn anomaly_event(&self, n: &AnomalyNotice) -> Event {
        let tenant = self.tenant_of(&n.database);
        let a = &n.anomaly;
        let tags: serde_json::Map<String, serde_json::Value> =
            n.tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let mut subject = format!("{}/{}/{}", n.database, n.measurement, n.field);
        for (k, v) in &n.tags {
            subject.push_str(&format!(",{k}={v}"));
        }
        let finite = |v: f64| v.is_finite().then_some(v);
        Event {
            kind: EventKind::AnomalyDetected,
            tenant,
            pool: None,
            subject: Some(subject),
            data: serde_json::json!({
                "database": n.database,
                "continuous_query": n.cq,
                "measurement": n.measurement,
                "field": n.field,
                "tags": tags,
                "kind": a.kind.as_str(),
                "time": format_rfc3339_nano(a.time_ns),
                "value": finite(a.value),
                "expected": finite(a.expected),
                "lower": finite(a.lower),
                "upper": finite(a.upper),
                "score": finite(a.score),
                "steps": a.steps,
            }),
        }
    }
}
