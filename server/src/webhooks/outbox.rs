//! The transactional outbox: events written in the same fsynced batch as
//! the state change that caused them, numbered by one global sequence.
//!
//! Why an outbox: a pool that scales up and crashes before telling anyone
//! must not leave the infrastructure unaware, and a notification must not
//! announce a change that was never stored. So [`Outbox::commit`] puts the
//! events *and* the caller's records in one RocksDB batch: after a crash
//! both are there or neither is. Delivery reads the outbox afterwards, at
//! its own pace. The sequence counter is stored in the same batch, so it
//! never goes back, even after every event was pruned.

use augur_engine::storage::{StorageResult, Store};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::cloudevent::StoredEvent;
use super::event::Event;
use super::keys;
use super::WebhookError;

/// Events read per page when scanning the outbox.
pub const PAGE: usize = 256;
/// Events deleted per batch when pruning.
const PRUNE_BATCH: usize = 1000;

/// The outbox of one store.
pub struct Outbox {
    store: Store,
    /// The next sequence to assign; held while a batch is written, so
    /// sequences become durable in order.
    next: Mutex<u64>,
    /// The last committed sequence (0: none yet), for the dispatcher.
    head: watch::Sender<u64>,
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

impl Outbox {
    /// Opens the outbox, resuming the sequence where it stopped.
    pub fn open(store: Store) -> Result<Outbox, WebhookError> {
        let stored = store.get_meta_record(keys::NEXT_SEQ)?;
        let next = match stored {
            Some(bytes) => decode_u64(&bytes).ok_or_else(|| WebhookError::Corrupt("webhook/next_seq".into()))?,
            None => 1,
        };
        let (head, _) = watch::channel(next.saturating_sub(1));
        Ok(Outbox { store, next: Mutex::new(next.max(1)), head })
    }

    /// The last committed sequence (0 when nothing was ever published).
    pub fn head(&self) -> u64 {
        *self.head.borrow()
    }

    /// A receiver that sees the head move.
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Writes `events` (each with its only recipient, if any) with the
    /// caller's `puts` and `deletes` in one fsynced batch, and returns the
    /// events' sequences. Blocks (fsync).
    pub fn commit(
        &self,
        events: Vec<(Event, Option<String>)>,
        mut puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
        now_ns: i64,
    ) -> Result<Vec<u64>, WebhookError> {
        let mut next = self.next.lock();
        let first = *next;
        let mut sequences = Vec::with_capacity(events.len());
        for (i, (event, only)) in events.into_iter().enumerate() {
            let seq = first + i as u64;
            let stored = StoredEvent::new(event, seq, now_ns, only);
            let value = serde_json::to_vec(&stored).map_err(|e| WebhookError::Encode(e.to_string()))?;
            puts.push((keys::outbox(seq), value));
            sequences.push(seq);
        }
        let after = first + sequences.len() as u64;
        if after != first {
            puts.push((keys::NEXT_SEQ.to_vec(), after.to_be_bytes().to_vec()));
        }
        self.store.write_meta_records(puts, deletes)?;
        *next = after;
        drop(next);
        if let Some(&last) = sequences.last() {
            self.head.send_replace(last);
        }
        Ok(sequences)
    }

    /// Runs `f` with the last committed sequence while no event can be
    /// committed (a new subscription's cursor starts exactly at the head).
    pub fn at_head<T>(&self, f: impl FnOnce(u64) -> T) -> T {
        let next = self.next.lock();
        f(next.saturating_sub(1))
    }

    /// Up to `limit` events with a sequence above `after`, in order.
    /// A record that does not decode is reported and skipped: it could
    /// never be delivered, and must not stop the ones behind it.
    pub fn after(&self, after: u64, limit: usize) -> StorageResult<Vec<StoredEvent>> {
        let from = keys::outbox(after.saturating_add(1));
        let page = self.store.scan_meta_records_from(keys::OUTBOX, &from, limit)?;
        Ok(page
            .into_iter()
            .filter_map(|(key, value)| match serde_json::from_slice::<StoredEvent>(&value) {
                Ok(event) => Some(event),
                Err(err) => {
                    tracing::error!(key = %String::from_utf8_lossy(&key), error = %err, "undecodable outbox event skipped");
                    None
                }
            })
            .collect())
    }

    /// The oldest sequence still in the outbox, if any.
    pub fn oldest(&self) -> StorageResult<Option<u64>> {
        let page = self.store.scan_meta_records_from(keys::OUTBOX, keys::OUTBOX, 1)?;
        Ok(page.first().and_then(|(k, _)| keys::outbox_seq(k)))
    }
}

/// Deletes the events every subscription has finished (sequence at most
/// `done`) that were published before `older_than_ns`; returns how many.
pub fn prune(store: &Store, done: u64, older_than_ns: i64) -> StorageResult<usize> {
    let mut pruned = 0;
    loop {
        let page = store.scan_meta_records_from(keys::OUTBOX, keys::OUTBOX, PRUNE_BATCH)?;
        let mut deletes = Vec::new();
        let mut stop = page.len() < PRUNE_BATCH;
        for (key, value) in page {
            let seq = keys::outbox_seq(&key).unwrap_or(0);
            let time_ns = serde_json::from_slice::<StoredEvent>(&value).map(|e| e.time_ns).unwrap_or(i64::MIN);
            if seq > done || time_ns >= older_than_ns {
                stop = true;
                break;
            }
            deletes.push(key);
        }
        pruned += deletes.len();
        if deletes.is_empty() {
            return Ok(pruned);
        }
        store.write_meta_records(Vec::new(), deletes)?;
        if stop {
            return Ok(pruned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::event::EventKind;
    use augur_engine::storage::StoreOptions;

    fn event(n: i64) -> (Event, Option<String>) {
        let e = Event {
            kind: EventKind::PoolScaleUp,
            tenant: "acme".into(),
            pool: Some("web".into()),
            subject: None,
            data: n.into(),
        };
        (e, None)
    }

    #[test]
    fn sequences_are_monotonic_across_reopen_and_commit_with_the_callers_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
            let outbox = Outbox::open(store.clone()).expect("outbox");
            assert_eq!(outbox.head(), 0);
            let puts = vec![(b"pool/acme/web".to_vec(), b"units=5".to_vec())];
            let seqs = outbox.commit(vec![event(1), event(2)], puts, Vec::new(), 10).expect("commit");
            assert_eq!(seqs, [1, 2]);
            assert_eq!(outbox.head(), 2);
            // A state change without events moves nothing.
            assert!(outbox.commit(Vec::new(), Vec::new(), vec![b"pool/acme/old".to_vec()], 11).expect("c").is_empty());
            assert_eq!(outbox.head(), 2);
        }
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen");
        assert_eq!(store.get_meta_record(b"pool/acme/web").expect("get").as_deref(), Some(&b"units=5"[..]));
        let outbox = Outbox::open(store.clone()).expect("outbox");
        assert_eq!(outbox.head(), 2);
        assert_eq!(outbox.commit(vec![event(3)], Vec::new(), Vec::new(), 12).expect("commit"), [3]);
        let all = outbox.after(0, 10).expect("scan");
        assert_eq!(
            all.iter().map(|e| (e.sequence, e.data.clone())).collect::<Vec<_>>(),
            [(1, 1.into()), (2, 2.into()), (3, 3.into())]
        );
        assert_eq!(outbox.after(1, 1).expect("page").first().map(|e| e.sequence), Some(2));
        assert!(outbox.after(3, 10).expect("none").is_empty());
        // Pruning everything keeps the counter: sequences never repeat.
        assert_eq!(prune(&store, 3, i64::MAX).expect("prune"), 3);
        assert_eq!(outbox.oldest().expect("oldest"), None);
        drop(outbox);
        let outbox = Outbox::open(store).expect("outbox");
        assert_eq!(outbox.commit(vec![event(4)], Vec::new(), Vec::new(), 13).expect("commit"), [4]);
    }

    #[test]
    fn pruning_keeps_unfinished_and_recent_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let outbox = Outbox::open(store.clone()).expect("outbox");
        for t in 1..=10 {
            outbox.commit(vec![event(t)], Vec::new(), Vec::new(), t * 100).expect("commit");
        }
        // Finished up to 6, but only those older than t=400 go: 1, 2, 3.
        assert_eq!(prune(&store, 6, 400).expect("prune"), 3);
        assert_eq!(outbox.oldest().expect("oldest"), Some(4));
        // Old enough, but a subscription still needs 7 and later.
        assert_eq!(prune(&store, 6, i64::MAX).expect("prune"), 3);
        assert_eq!(outbox.oldest().expect("oldest"), Some(7));
        assert_eq!(outbox.after(0, 100).expect("scan").len(), 4);
    }

    #[test]
    fn at_head_sees_the_last_committed_sequence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let outbox = Outbox::open(store).expect("outbox");
        assert_eq!(outbox.at_head(|h| h), 0);
        outbox.commit(vec![event(1), event(2)], Vec::new(), Vec::new(), 1).expect("commit");
        assert_eq!(outbox.at_head(|h| h), 2);
        let mut rx = outbox.watch_head();
        outbox.commit(vec![event(3)], Vec::new(), Vec::new(), 1).expect("commit");
        assert!(rx.has_changed().expect("sender alive"));
        assert_eq!(*rx.borrow_and_update(), 3);
    }
}
