//! The dispatcher: one task per subscription delivering its events in
//! order, at least once.
//!
//! Each subscription has a durable cursor, the last outbox sequence it
//! finished. Its task takes the next item (first a dead letter queued for
//! replay, else the first event after the cursor that the subscription
//! receives), attempts it until it is delivered or dead-lettered, and only
//! then writes the outcome, the dead letter if any and the new cursor in
//! one batch. The next event is not sent before that, so a consumer sees a
//! subscription's events in sequence order; after a crash the unfinished
//! event is sent again (consumers deduplicate by the CloudEvents `id`).
//!
//! The task sleeps while there is nothing to do and wakes when the outbox
//! head moves, when its subscription changes (`kick`), or at shutdown.
//! State other tasks change (replay from a sequence, deletion) is guarded
//! by [`SubHandle::state`]; a `generation` bump tells the task that the
//! item it holds is stale.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{watch, Notify};

use super::cloudevent::StoredEvent;
use super::deliveries::{rfc3339, AttemptResult, DeadLetter, DeliveryRecord, Outcome, Pending, LOG_KEEP};
use super::outbox::PAGE;
use super::sender::{self, Verdict};
use super::subscription::Subscription;
use super::{keys, Webhooks};
use crate::clock::now_ns;

/// What other tasks may change under a running delivery.
#[derive(Debug, Default)]
pub struct Durable {
    /// The last sequence finished (persisted under `webhook/cursor/{id}`).
    pub cursor: u64,
    /// Bumped when the cursor is moved back (replay from a sequence).
    pub generation: u64,
    /// The subscription was deleted: write nothing more.
    pub deleted: bool,
}

/// A subscription with its delivery state.
pub struct SubHandle {
    /// The subscription (the task re-reads it before every attempt, so a
    /// new URL or secret applies to the next one).
    pub sub: RwLock<Subscription>,
    /// Cursor, generation, deletion.
    pub state: tokio::sync::Mutex<Durable>,
    /// The delivery in progress.
    pub pending: Mutex<Option<Pending>>,
    /// Wakes the task (replay queued, subscription changed or deleted).
    pub kick: Notify,
}

impl SubHandle {
    /// A handle for `sub` at `cursor`.
    pub fn new(sub: Subscription, cursor: u64) -> SubHandle {
        SubHandle {
            sub: RwLock::new(sub),
            state: tokio::sync::Mutex::new(Durable { cursor, ..Durable::default() }),
            pending: Mutex::new(None),
            kick: Notify::new(),
        }
    }

    /// The subscription as it is now.
    pub fn snapshot(&self) -> Subscription {
        self.sub.read().clone()
    }
}

/// One thing to deliver.
struct Item {
    event: StoredEvent,
    /// The replay queue key, for a replayed dead letter.
    replay_key: Option<Vec<u8>>,
    /// The generation it was taken under.
    generation: u64,
}

/// Why the delivery loop stopped early.
enum Interrupted {
    /// Shutdown: end the task.
    Shutdown,
    /// The item is stale (cursor moved back, subscription disabled or deleted).
    Stale,
}

/// Resolves when `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Runs one subscription's deliveries until shutdown or deletion.
pub async fn run(hooks: Arc<Webhooks>, handle: Arc<SubHandle>, mut shutdown: watch::Receiver<bool>) {
    let id = handle.snapshot().id;
    let mut head = hooks.outbox.watch_head();
    let mut log = match hooks.store.scan_meta_records(&keys::log_prefix(&id)) {
        Ok(records) => records.iter().filter_map(|(k, _)| keys::trailing_seq(k)).collect::<VecDeque<u64>>(),
        Err(err) => {
            tracing::error!(subscription = %id, error = %err, "cannot read the delivery log");
            VecDeque::new()
        }
    };
    loop {
        let stopping = *shutdown.borrow();
        if stopping || handle.state.lock().await.deleted {
            return;
        }
        // Seen before looking, so an event committed meanwhile still wakes us.
        head.borrow_and_update();
        let enabled = handle.sub.read().enabled;
        let item = if enabled { next_item(&hooks, &handle).await } else { Ok(None) };
        match item {
            Ok(Some(item)) => match deliver(&hooks, &handle, &item, &mut shutdown).await {
                Ok((outcome, attempts, last)) => finish(&hooks, &handle, item, outcome, attempts, last, &mut log).await,
                Err(Interrupted::Shutdown) => return,
                Err(Interrupted::Stale) => *handle.pending.lock() = None,
            },
            Ok(None) => {
                tokio::select! {
                    _ = head.changed() => {}
                    () = handle.kick.notified() => {}
                    () = stopped(&mut shutdown) => return,
                }
            }
            Err(err) => {
                tracing::error!(subscription = %id, error = %err, "webhook dispatcher cannot read its queue; retrying");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = stopped(&mut shutdown) => return,
                }
            }
        }
    }
}

/// The next item: a queued replay first, else the first event after the
/// cursor that the subscription receives. Events it does not receive are
/// passed over (the cursor moves past them, so the outbox can be pruned).
async fn next_item(hooks: &Webhooks, handle: &SubHandle) -> Result<Option<Item>, super::WebhookError> {
    let sub = handle.snapshot();
    let prefix = keys::replay_prefix(&sub.id);
    if let Some((key, value)) = hooks.store.scan_meta_records_from(&prefix, &prefix, 1)?.into_iter().next() {
        let generation = handle.state.lock().await.generation;
        match serde_json::from_slice::<StoredEvent>(&value) {
            Ok(event) => return Ok(Some(Item { event, replay_key: Some(key), generation })),
            Err(err) => {
                tracing::error!(subscription = %sub.id, error = %err, "undecodable replay entry dropped");
                hooks.store.write_meta_records(Vec::new(), vec![key])?;
                return Ok(None);
            }
        }
    }
    loop {
        let (cursor, generation) = {
            let state = handle.state.lock().await;
            (state.cursor, state.generation)
        };
        let page = hooks.outbox.after(cursor, PAGE)?;
        let Some(last) = page.last().map(|e| e.sequence) else { return Ok(None) };
        if let Some(event) = page.into_iter().find(|e| sub.receives(e)) {
            return Ok(Some(Item { event, replay_key: None, generation }));
        }
        // Nothing for us in this page: move past it.
        let mut state = handle.state.lock().await;
        if state.deleted || state.generation != generation || state.cursor != cursor {
            return Ok(None);
        }
        let (store, key) = (hooks.store.clone(), keys::cursor(&sub.id));
        tokio::task::spawn_blocking(move || store.put_meta_record(&key, last.to_string().as_bytes()))
            .await
            .map_err(|e| super::WebhookError::Task(e.to_string()))??;
        state.cursor = last;
    }
}

/// Attempts `item` until delivered or given up; returns the outcome, the
/// attempts made and the last attempt's result.
async fn deliver(
    hooks: &Webhooks,
    handle: &SubHandle,
    item: &Item,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(Outcome, u32, AttemptResult), Interrupted> {
    let body = item.event.body();
    let kind = item.event.kind.type_name().to_string();
    let mut attempts = 0u32;
    // The last finished attempt's result, shown while the next one runs.
    let mut previous: Option<AttemptResult> = None;
    let first_attempt = tokio::time::Instant::now();
    loop {
        attempts += 1;
        let sub = handle.snapshot();
        *handle.pending.lock() = Some(Pending {
            sequence: item.event.sequence,
            kind: kind.clone(),
            attempts,
            last: previous.take(),
            next_attempt: None,
        });
        let (verdict, result) = match hooks.clients.policy().refuses_literal(&sub.owner, &sub.url) {
            // The rules changed since the subscription was made: never connect.
            Some(reason) => (Verdict::Permanent, sender::refused(reason)),
            None => tokio::select! {
                r = sender::attempt(hooks.clients.for_owner(&sub.owner), &sub.url, &sub.secret, &body, attempts) => r,
                () = stopped(shutdown) => return Err(Interrupted::Shutdown),
            },
        };
        if verdict != Verdict::Delivered {
            hooks.counters.failed_attempts.with(&[&sub.id]).inc();
        }
        let outcome = match verdict {
            Verdict::Delivered => Some(Outcome::Delivered),
            Verdict::Permanent => Some(Outcome::DeadLettered),
            Verdict::Retry
                if attempts >= hooks.config.max_attempts && first_attempt.elapsed() >= hooks.config.retry_for =>
            {
                Some(Outcome::DeadLettered)
            }
            Verdict::Retry => None,
        };
        if let Some(outcome) = outcome {
            return Ok((outcome, attempts, result));
        }
        let delay = hooks.config.backoff().delay(attempts, &mut rand::thread_rng());
        tracing::debug!(subscription = %sub.id, sequence = item.event.sequence, attempts, ?delay, error = ?result.error, "webhook delivery failed; retrying");
        let due = tokio::time::Instant::now() + delay;
        let due_ns = now_ns().saturating_add(i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX));
        *handle.pending.lock() = Some(Pending {
            sequence: item.event.sequence,
            kind: kind.clone(),
            attempts,
            last: Some(result.clone()),
            next_attempt: Some(rfc3339(due_ns)),
        });
        previous = Some(result);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due) => break,
                () = stopped(shutdown) => return Err(Interrupted::Shutdown),
                () = handle.kick.notified() => {
                    let enabled = handle.sub.read().enabled;
                    let state = handle.state.lock().await;
                    if state.deleted || state.generation != item.generation || !enabled {
                        return Err(Interrupted::Stale);
                    }
                }
            }
        }
    }
}

/// Records a finished delivery: the log entry, the dead letter if any, and
/// the new cursor (or the replay entry's removal), in one batch.
async fn finish(
    hooks: &Webhooks,
    handle: &SubHandle,
    item: Item,
    outcome: Outcome,
    attempts: u32,
    last: AttemptResult,
    log: &mut VecDeque<u64>,
) {
    let id = handle.snapshot().id;
    let seq = item.event.sequence;
    let mut state = handle.state.lock().await;
    *handle.pending.lock() = None;
    if state.deleted || (item.replay_key.is_none() && state.generation != item.generation) {
        return;
    }
    let record = DeliveryRecord {
        sequence: seq,
        event_id: item.event.id.clone(),
        kind: item.event.kind.type_name().to_string(),
        outcome,
        attempts,
        replay: item.replay_key.is_some(),
        last,
    };
    let counter = match outcome {
        Outcome::Delivered => &hooks.counters.delivered,
        Outcome::DeadLettered => &hooks.counters.dead_lettered,
    };
    counter.with(&[&id]).inc();
    match outcome {
        Outcome::Delivered => tracing::debug!(subscription = %id, sequence = seq, attempts, "webhook delivered"),
        Outcome::DeadLettered => tracing::warn!(
            subscription = %id, sequence = seq, attempts, error = ?record.last.error,
            "webhook delivery given up: moved to the dead letters"
        ),
    }
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    let encoded = serde_json::to_vec(&record);
    if let Ok(value) = &encoded {
        puts.push((keys::log(&id, seq), value.clone()));
    }
    if outcome == Outcome::DeadLettered {
        let dead = DeadLetter { record: record.clone(), dead_at: rfc3339(now_ns()), event: item.event.clone() };
        if let Ok(value) = serde_json::to_vec(&dead) {
            puts.push((keys::dead(&id, seq), value));
        }
    }
    match &item.replay_key {
        Some(key) => deletes.push(key.clone()),
        None if seq > state.cursor => puts.push((keys::cursor(&id), seq.to_string().into_bytes())),
        None => {}
    }
    let mut dropped = Vec::new();
    let pushed = !log.contains(&seq);
    if pushed {
        log.push_back(seq);
        while log.len() > LOG_KEEP {
            if let Some(old) = log.pop_front() {
                dropped.push(old);
                deletes.push(keys::log(&id, old));
            }
        }
    }
    let store = hooks.store.clone();
    let written = tokio::task::spawn_blocking(move || store.write_meta_records(puts, deletes)).await;
    match written {
        Ok(Ok(())) => {
            if item.replay_key.is_none() && seq > state.cursor {
                state.cursor = seq;
            }
        }
        other => {
            // Not recorded: the event will be delivered again (at least once).
            tracing::error!(subscription = %id, sequence = seq, result = ?other.map(|r| r.err()), "cannot record a finished webhook delivery");
            if pushed {
                log.pop_back();
            }
            for old in dropped.into_iter().rev() {
                log.push_front(old);
            }
        }
    }
}
