//! Signed, durable webhooks: events as CloudEvents 1.0 over HTTP, from a
//! transactional outbox, at least once and in order per subscription.
//!
//! Features that change state and must tell the outside world (the pool
//! manager above all) call [`Webhooks::publish`] with their events *and*
//! their own record changes: both are written in one fsynced batch
//! ([`outbox`]), so an event exists exactly when the change it announces
//! does. The dispatcher ([`dispatch`], started by [`Webhooks::start`])
//! delivers each subscription's events in sequence order with retries,
//! exponential backoff with full jitter ([`backoff`]) and a dead-letter
//! list; each request carries an `Augur-Signature` HMAC ([`signature`]).
//! Subscriptions ([`subscription`]) are managed over `/v1/webhooks`
//! ([`api`]) and persist in the store's `meta` family ([`keys`]). The pool
//! manager publishes through the same outbox: `Webhooks` is its
//! [`EventSink`](crate::pools::events::EventSink) ([`pool_sink`]).
//!
//! See docs/webhooks.md for the consumer's view.

pub mod api;
pub mod backoff;
pub mod cloudevent;
pub mod counters;
pub mod deliveries;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod keys;
pub mod outbox;
pub mod pool_sink;
pub mod sender;
pub mod signature;
pub mod subscription;
pub mod targets;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use augur_engine::storage::Store;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::WebhookError;
pub use event::{Event, EventKind};
pub use subscription::Subscription;

use backoff::Backoff;
use deliveries::{DeadLetter, DeadLetterView, DeliveriesView, DeliveryRecord};
use dispatch::SubHandle;
use outbox::Outbox;

use crate::clock::now_ns;

/// Webhook delivery settings (`[webhooks]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Attempts per event before it is dead-lettered.
    pub max_attempts: u32,
    /// Backoff ceiling after the first failed attempt.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
    /// Per-attempt timeout (connect and answer).
    pub timeout: Duration,
    /// Subscriptions per tenant.
    pub max_subscriptions_per_tenant: usize,
    /// How long events every subscription has finished stay in the outbox
    /// (for replay from a sequence).
    pub outbox_retention: Duration,
    /// An event is dead-lettered only after `max_attempts` and this long
    /// since its first attempt, so a consumer down for a while (an
    /// upgrade, an outage) gets every event when it returns.
    pub retry_for: Duration,
    /// Which addresses each tenant's subscriptions may reach (SSRF guard).
    pub targets: targets::TargetPolicy,
    /// A PEM file of extra CA certificates to trust for `https://`
    /// receivers (a private CA); the system's roots are trusted as well.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            max_attempts: 12,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_subscriptions_per_tenant: 20,
            outbox_retention: Duration::from_secs(7 * 86_400),
            retry_for: Duration::from_secs(3_600),
            targets: targets::TargetPolicy::default(),
            ca_file: None,
        }
    }
}

impl WebhookConfig {
    /// The retry backoff policy.
    pub fn backoff(&self) -> Backoff {
        Backoff { initial: self.initial_backoff, max: self.max_backoff }
    }
}

/// How often finished events are pruned from the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Dead letters listed per subscription.
const DEAD_LETTERS_LISTED: usize = 1000;

/// What a new subscription asks for (validated by [`Webhooks::create`]).
#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    /// The owning tenant (the caller's).
    pub owner: String,
    /// Delivery URL.
    pub url: String,
    /// Type patterns (empty: `*`).
    pub types: Vec<String>,
    /// The secret (`None`: generated).
    pub secret: Option<String>,
    /// Pool filter.
    pub pool: Option<String>,
    /// Tenant filter (operators only; checked by the caller).
    pub tenant: Option<String>,
    /// Starts enabled?
    pub enabled: bool,
    /// Free text.
    pub description: String,
}

/// Changes to a subscription; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    /// New URL.
    pub url: Option<String>,
    /// New type patterns.
    pub types: Option<Vec<String>>,
    /// New pool filter (`Some(None)` removes it).
    pub pool: Option<Option<String>>,
    /// New tenant filter (`Some(None)` removes it).
    pub tenant: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New description.
    pub description: Option<String>,
}

/// What a replay request did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayOutcome {
    /// Dead letters queued for re-delivery.
    pub dead_letters_queued: usize,
    /// The sequence delivery restarts from (replay from a sequence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_sequence: Option<u64>,
    /// The oldest sequence still in the outbox (older ones were pruned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_available: Option<u64>,
}

/// The running dispatcher's tasks.
struct Running {
    /// The service itself, for tasks of subscriptions created later (weak:
    /// the service must not keep itself alive).
    hooks: std::sync::Weak<Webhooks>,
    shutdown: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The webhook service: the outbox, the subscriptions and their delivery.
/// Shared as `Arc<Webhooks>`; its methods that write block on fsync.
pub struct Webhooks {
    store: Store,
    config: WebhookConfig,
    outbox: Outbox,
    subs: RwLock<BTreeMap<String, Arc<SubHandle>>>,
    clients: targets::Clients,
    running: Mutex<Option<Running>>,
    /// Delivery totals per subscription (for `/metrics` and `_internal`).
    pub counters: counters::DeliveryCounters,
}

/// Decodes a stored cursor (decimal); 0 when absent.
fn decode_cursor(bytes: Option<Vec<u8>>) -> u64 {
    bytes.and_then(|b| String::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl Webhooks {
    /// Opens the outbox and loads the subscriptions from `store`.
    pub fn new(store: Store, config: WebhookConfig) -> Result<Webhooks, WebhookError> {
        let outbox = Outbox::open(store.clone())?;
        let mut subs = BTreeMap::new();
        for (key, value) in store.scan_meta_records(keys::SUBS)? {
            let sub: Subscription = serde_json::from_slice(&value)
                .map_err(|e| WebhookError::Corrupt(format!("{}: {e}", String::from_utf8_lossy(&key))))?;
            let cursor = decode_cursor(store.get_meta_record(&keys::cursor(&sub.id))?);
            subs.insert(sub.id.clone(), Arc::new(SubHandle::new(sub, cursor)));
        }
        let roots = match &config.ca_file {
            None => Vec::new(),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    WebhookError::Client(format!("cannot read webhooks.ca_file {}: {e}", path.display()))
                })?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| WebhookError::Client(format!("webhooks.ca_file {}: {e}", path.display())))?
            }
        };
        let clients = targets::Clients::new(config.targets.clone(), config.timeout, &roots)
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Webhooks {
            store,
            config,
            outbox,
            subs: RwLock::new(subs),
            clients,
            running: Mutex::new(None),
            counters: counters::DeliveryCounters::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Publishes `events` through the transactional outbox: each gets the
    /// next global sequence, and the events, `puts` and `deletes` (the
    /// caller's own meta records, as [`Store::put_meta_record`] keys; exact
    /// keys for deletes) are written in one fsynced batch. Returns the
    /// events' sequences, in order. Blocks (fsync): call it from blocking
    /// code (`spawn_blocking`). Keys under `webhook/` are refused.
    pub fn publish(
        &self,
        events: Vec<Event>,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<Vec<u64>, WebhookError> {
        if let Some(key) = puts.iter().map(|(k, _)| k).chain(deletes.iter()).find(|k| k.starts_with(keys::ROOT)) {
            return Err(WebhookError::ReservedKey(String::from_utf8_lossy(key).into_owned()));
        }
        let events = events.into_iter().map(|e| (e, None)).collect();
        self.outbox.commit(events, puts, deletes, now_ns())
    }

    /// Starts the dispatcher: a delivery task per subscription, and the
    /// outbox pruning. The returned task ends after `shutdown` turns true
    /// and every delivery task has stopped (an attempt in flight is
    /// abandoned; it is sent again after the restart).
    pub fn start(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        {
            let mut running = self.running.lock();
            let tasks = self
                .subs
                .read()
                .values()
                .map(|h| tokio::spawn(dispatch::run(Arc::clone(self), Arc::clone(h), shutdown.clone())))
                .collect();
            *running = Some(Running { hooks: Arc::downgrade(self), shutdown: shutdown.clone(), tasks });
        }
        let hooks = Arc::clone(self);
        tokio::spawn(async move {
            crate::shutdown::every(PRUNE_EVERY, shutdown, || hooks.prune_once()).await;
            let tasks = hooks.running.lock().take().map(|r| r.tasks).unwrap_or_default();
            for task in tasks {
                if let Err(err) = task.await {
                    tracing::error!(error = %err, "a webhook delivery task failed");
                }
            }
        })
    }

    /// Deletes outbox events every subscription finished that are older
    /// than the retention.
    async fn prune_once(&self) {
        let handles: Vec<Arc<SubHandle>> = self.subs.read().values().cloned().collect();
        let mut done = self.outbox.head();
        for h in handles {
            done = done.min(h.state.lock().await.cursor);
        }
        let retention = i64::try_from(self.config.outbox_retention.as_nanos()).unwrap_or(i64::MAX);
        let older_than = now_ns().saturating_sub(retention);
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || outbox::prune(&store, done, older_than)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(events = n, "webhook outbox: pruned delivered events"),
            Ok(Err(err)) => tracing::error!(error = %err, "webhook outbox pruning failed"),
            Err(err) => tracing::error!(error = %err, "webhook outbox pruning panicked"),
        }
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Vec<Subscription> {
        self.subs.read().values().map(|h| h.snapshot()).collect()
    }

    /// One subscription.
    pub fn get(&self, id: &str) -> Option<Subscription> {
        self.subs.read().get(id).map(|h| h.snapshot())
    }

    fn handle(&self, id: &str) -> Result<Arc<SubHandle>, WebhookError> {
        self.subs.read().get(id).cloned().ok_or_else(|| WebhookError::NotFound(id.to_string()))
    }

    /// Creates a subscription; it receives the events published from now
    /// on. Returns it with its secret. Blocks (fsync).
    pub fn create(&self, new: NewSubscription) -> Result<Subscription, WebhookError> {
        subscription::validate_url(&new.url)?;
        self.clients.policy().check_url(&new.owner, &new.url)?;
        let types = if new.types.is_empty() { vec!["*".to_string()] } else { new.types };
        subscription::validate_types(&types)?;
        if let Some(secret) = &new.secret {
            subscription::validate_secret(secret)?;
        }
        if let Some(pool) = &new.pool {
            subscription::validate_name("pool", pool)?;
        }
        if let Some(tenant) = &new.tenant {
            subscription::validate_name("tenant", tenant)?;
        }
        let sub = Subscription {
            id: subscription::new_id(),
            owner: new.owner,
            url: new.url,
            types,
            pool: new.pool,
            tenant: new.tenant,
            secret: new.secret.unwrap_or_else(subscription::new_secret),
            enabled: new.enabled,
            description: new.description,
            created_ns: now_ns(),
        };
        let value = serde_json::to_vec(&sub).map_err(|e| WebhookError::Encode(e.to_string()))?;
        let mut subs = self.subs.write();
        let owned = subs.values().filter(|h| h.sub.read().owner == sub.owner).count();
        if owned >= self.config.max_subscriptions_per_tenant {
            return Err(WebhookError::TooManySubscriptions {
                tenant: sub.owner.clone(),
                limit: self.config.max_subscriptions_per_tenant,
            });
        }
        // The cursor starts at the head, with no event committed in between.
        let cursor = self.outbox.at_head(|head| {
            let puts = vec![(keys::sub(&sub.id), value), (keys::cursor(&sub.id), head.to_string().into_bytes())];
            self.store.write_meta_records(puts, Vec::new()).map(|()| head)
        })?;
        let handle = Arc::new(SubHandle::new(sub.clone(), cursor));
        subs.insert(sub.id.clone(), Arc::clone(&handle));
        drop(subs);
        self.spawn_worker(handle);
        Ok(sub)
    }

    /// Starts the delivery task of a new subscription when the dispatcher runs.
    fn spawn_worker(&self, handle: Arc<SubHandle>) {
        let mut running = self.running.lock();
        if let Some(running) = running.as_mut() {
            let Some(hooks) = running.hooks.upgrade() else { return };
            running.tasks.retain(|t| !t.is_finished());
            running.tasks.push(tokio::spawn(dispatch::run(hooks, handle, running.shutdown.clone())));
        }
    }

    /// Changes a subscription. Blocks (fsync).
    pub fn update(&self, id: &str, patch: SubscriptionPatch) -> Result<Subscription, WebhookError> {
        let handle = self.handle(id)?;
        let mut sub = handle.snapshot();
        if let Some(url) = patch.url {
            subscription::validate_url(&url)?;
            self.clients.policy().check_url(&sub.owner, &url)?;
            sub.url = url;
        }
        if let Some(types) = patch.types {
            subscription::validate_types(&types)?;
            sub.types = types;
        }
        if let Some(pool) = patch.pool {
            if let Some(p) = &pool {
                subscription::validate_name("pool", p)?;
            }
            sub.pool = pool;
        }
        if let Some(tenant) = patch.tenant {
            if let Some(t) = &tenant {
                subscription::validate_name("tenant", t)?;
            }
            sub.tenant = tenant;
        }
        if let Some(enabled) = patch.enabled {
            sub.enabled = enabled;
        }
        if let Some(description) = patch.description {
            sub.description = description;
        }
        let value = serde_json::to_vec(&sub).map_err(|e| WebhookError::Encode(e.to_string()))?;
        self.store.put_meta_record(&keys::sub(id), &value)?;
        *handle.sub.write() = sub.clone();
        handle.kick.notify_one();
        Ok(sub)
    }

    /// Deletes a subscription with its cursor, queue, log and dead letters.
    pub async fn delete(&self, id: &str) -> Result<(), WebhookError> {
        let handle = self.handle(id)?;
        let mut state = handle.state.lock().await;
        let store = self.store.clone();
        let id_owned = id.to_string();
        tokio::task::spawn_blocking(move || {
            store.write_meta_records(Vec::new(), vec![keys::sub(&id_owned), keys::cursor(&id_owned)])?;
            for prefix in [keys::replay_prefix(&id_owned), keys::dead_prefix(&id_owned), keys::log_prefix(&id_owned)] {
                store.delete_meta_records(&prefix)?;
            }
            Ok::<(), WebhookError>(())
        })
        .await
        .map_err(|e| WebhookError::Task(e.to_string()))??;
        state.deleted = true;
        drop(state);
        self.subs.write().remove(id);
        handle.kick.notify_one();
        Ok(())
    }

    /// The deliveries of a subscription: cursor, the one in progress,
    /// recent finished ones and the dead letters.
    pub async fn deliveries(&self, id: &str) -> Result<DeliveriesView, WebhookError> {
        let handle = self.handle(id)?;
        let cursor = handle.state.lock().await.cursor;
        let mut recent: Vec<DeliveryRecord> = self
            .store
            .scan_meta_records(&keys::log_prefix(id))?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        recent.reverse();
        let dead = keys::dead_prefix(id);
        let dead_letters = self
            .store
            .scan_meta_records_from(&dead, &dead, DEAD_LETTERS_LISTED)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<DeadLetter>(&v).ok())
            .map(DeadLetterView::from)
            .collect();
        let replay_queued = self.store.scan_meta_records(&keys::replay_prefix(id))?.len();
        let pending = handle.pending.lock().clone();
        Ok(DeliveriesView {
            subscription: id.to_string(),
            cursor,
            head: self.outbox.head(),
            pending,
            replay_queued,
            recent,
            dead_letters,
        })
    }

    /// Queues every dead letter of a subscription for re-delivery (before
    /// its next outbox event, oldest first); returns how many.
    pub fn replay_dead_letters(&self, id: &str) -> Result<usize, WebhookError> {
        let handle = self.handle(id)?;
        let dead = self.store.scan_meta_records(&keys::dead_prefix(id))?;
        let mut puts = Vec::with_capacity(dead.len());
        let mut deletes = Vec::with_capacity(dead.len());
        for (key, value) in dead {
            let letter: DeadLetter = serde_json::from_slice(&value)
                .map_err(|e| WebhookError::Corrupt(format!("{}: {e}", String::from_utf8_lossy(&key))))?;
            let event = serde_json::to_vec(&letter.event).map_err(|e| WebhookError::Encode(e.to_string()))?;
            puts.push((keys::replay(id, letter.event.sequence), event));
            deletes.push(key);
        }
        let n = puts.len();
        self.store.write_meta_records(puts, deletes)?;
        handle.kick.notify_one();
        Ok(n)
    }

    /// Moves a subscription's cursor back so that delivery restarts at
    /// `from` (events it already finished are sent again, in order). A
    /// `from` past the cursor changes nothing.
    pub async fn replay_from(&self, id: &str, from: u64) -> Result<ReplayOutcome, WebhookError> {
        let handle = self.handle(id)?;
        let mut state = handle.state.lock().await;
        let target = from.saturating_sub(1);
        if target < state.cursor {
            let store = self.store.clone();
            let key = keys::cursor(id);
            tokio::task::spawn_blocking(move || store.put_meta_record(&key, target.to_string().as_bytes()))
                .await
                .map_err(|e| WebhookError::Task(e.to_string()))??;
            state.cursor = target;
            state.generation += 1;
        }
        let effective = state.cursor + 1;
        drop(state);
        handle.kick.notify_one();
        Ok(ReplayOutcome {
            dead_letters_queued: 0,
            from_sequence: Some(effective),
            oldest_available: self.outbox.oldest()?,
        })
    }

    /// Sends an `io.augur.webhook.test` event to this subscription only
    /// (through the outbox, in order with its other events); returns its
    /// sequence. Blocks (fsync).
    pub fn send_test(&self, id: &str) -> Result<u64, WebhookError> {
        let sub = self.handle(id)?.snapshot();
        let event = Event {
            kind: EventKind::WebhookTest,
            tenant: sub.owner.clone(),
            pool: None,
            subject: Some(sub.id.clone()),
            data: serde_json::json!({ "subscription": sub.id, "message": "test event from Augur" }),
        };
        let seqs = self.outbox.commit(vec![(event, Some(sub.id.clone()))], Vec::new(), Vec::new(), now_ns())?;
        Ok(seqs.first().copied().unwrap_or_default())
    }
}
