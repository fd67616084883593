//! The service end to end inside one process: a temp RocksDB, a real axum
//! receiver on loopback, the dispatcher on the test's runtime.

use std::sync::Arc;
use std::time::Duration;

use augur_engine::storage::{Store, StoreOptions};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::watch;

use super::*;

/// Settings that let every tenant deliver to the loopback receivers.
fn loopback_config() -> WebhookConfig {
    WebhookConfig {
        targets: targets::TargetPolicy {
            private_targets: targets::PrivateTargets::All,
            ..targets::TargetPolicy::default()
        },
        ..WebhookConfig::default()
    }
}

/// Requests received: (signature header, body as JSON, raw body).
type Received = Arc<Mutex<Vec<(String, serde_json::Value, Bytes)>>>;

/// A receiver answering 204 to every POST.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = Arc::clone(&log);
            async move {
                let sig = headers.get(signature::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                log.lock().push((sig, value, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn event(kind: EventKind, tenant: &str, n: i64) -> Event {
    Event { kind, tenant: tenant.into(), pool: Some("web".into()), subject: None, data: json!({ "n": n }) }
}

fn new_sub(owner: &str, url: &str, types: &[&str]) -> NewSubscription {
    NewSubscription {
        owner: owner.into(),
        url: url.into(),
        types: types.iter().map(|t| t.to_string()).collect(),
        enabled: true,
        ..NewSubscription::default()
    }
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_matching_events_in_order_and_resumes_from_the_durable_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    let (url, received) = receiver().await;
    let hooks = Arc::new(Webhooks::new(store.clone(), loopback_config()).expect("webhooks"));
    // Published before the subscription exists: never delivered to it.
    hooks.publish(vec![event(EventKind::PoolScaleUp, "acme", 0)], Vec::new(), Vec::new()).expect("publish");
    let sub = hooks.create(new_sub("acme", &url, &["io.augur.pool.*"])).expect("create");
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = hooks.start(stop_rx);
    let seqs = hooks
        .publish(
            vec![
                event(EventKind::PoolScaleUp, "acme", 1),
                event(EventKind::AnomalyDetected, "acme", 99), // another type
                event(EventKind::PoolScaleUp, "globex", 99),   // another tenant
                event(EventKind::PoolUnitRequested, "acme", 2),
                event(EventKind::PoolScaleDown, "acme", 3),
            ],
            vec![(b"pool/acme/web".to_vec(), b"state".to_vec())],
            Vec::new(),
        )
        .expect("publish");
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    wait_for("three deliveries", || received.lock().len() >= 3).await;
    let got: Vec<(u64, i64)> = received
        .lock()
        .iter()
        .map(|(_, v, _)| (v["augursequence"].as_u64().unwrap_or(0), v["data"]["n"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(got, [(2, 1), (5, 2), (6, 3)]);
    for (sig, _, body) in received.lock().iter() {
        assert!(signature::verify(&sub.secret, sig, body, crate::clock::now_ns() / 1_000_000_000, 300));
    }
    // The cursor passed everything, including events it does not receive.
    wait_for("the cursor to reach the head", || {
        store.get_meta_record(&keys::cursor(&sub.id)).ok().flatten().as_deref() == Some(b"6")
    })
    .await;
    let view = hooks.deliveries(&sub.id).await.expect("deliveries");
    assert_eq!((view.cursor, view.head, view.recent.len()), (6, 6, 3));
    assert_eq!(view.recent[0].sequence, 6, "newest first");
    // The caller's record was written with the events.
    assert_eq!(store.get_meta_record(b"pool/acme/web").expect("get").as_deref(), Some(&b"state"[..]));
    // Keys under webhook/ are the module's own.
    let err = hooks.publish(Vec::new(), vec![(keys::NEXT_SEQ.to_vec(), vec![0])], Vec::new()).expect_err("reserved");
    assert!(matches!(err, WebhookError::ReservedKey(_)), "{err}");

    stop_tx.send(true).expect("stop");
    task.await.expect("dispatcher stops");
    drop(hooks);

    // Reopened: the subscription and its cursor are back, nothing is sent twice.
    let hooks = Arc::new(Webhooks::new(store.clone(), loopback_config()).expect("reopen"));
    assert_eq!(hooks.get(&sub.id).map(|s| s.secret), Some(sub.secret.clone()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = hooks.start(stop_rx);
    let seqs = hooks.publish(vec![event(EventKind::PoolUnitReleased, "acme", 4)], Vec::new(), Vec::new()).expect("p");
    assert_eq!(seqs, [7], "the sequence continues after a restart");
    wait_for("the fourth delivery", || received.lock().len() >= 4).await;
    assert_eq!(received.lock()[3].1["augursequence"], 7);
    assert_eq!(received.lock().len(), 4);

    // Deleting removes every record of the subscription.
    hooks.delete(&sub.id).await.expect("delete");
    assert!(hooks.get(&sub.id).is_none());
    for prefix in [keys::sub(&sub.id), keys::cursor(&sub.id), keys::log_prefix(&sub.id)] {
        assert!(store.scan_meta_records(&prefix).expect("scan").is_empty(), "{}", String::from_utf8_lossy(&prefix));
    }
    stop_tx.send(true).expect("stop");
    task.await.expect("dispatcher stops");
}

#[tokio::test]
async fn limits_and_validation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    let config = WebhookConfig { max_subscriptions_per_tenant: 1, ..loopback_config() };
    let hooks = Webhooks::new(store, config).expect("webhooks");
    let sub = hooks.create(new_sub("acme", "http://127.0.0.1:9/", &[])).expect("create");
    assert_eq!(sub.types, ["*"], "no types means all");
    assert!(sub.secret.starts_with("whsec_"));
    let err = hooks.create(new_sub("acme", "http://127.0.0.1:9/", &[])).expect_err("over the limit");
    assert!(matches!(err, WebhookError::TooManySubscriptions { limit: 1, .. }), "{err}");
    hooks.create(new_sub("globex", "http://127.0.0.1:9/", &[])).expect("another tenant has its own limit");
    let err = hooks.create(new_sub("globex", "gopher://x/", &[])).expect_err("bad url");
    assert!(matches!(&err, WebhookError::Invalid(f) if f.field == "url"), "{err}");
    let patch = SubscriptionPatch { types: Some(vec!["io.augur.bogus".into()]), ..SubscriptionPatch::default() };
    let err = hooks.update(&sub.id, patch).expect_err("bad type");
    assert!(matches!(&err, WebhookError::Invalid(f) if f.field == "types[0]"), "{err}");
    let patch =
        SubscriptionPatch { enabled: Some(false), pool: Some(Some("db".into())), ..SubscriptionPatch::default() };
    let updated = hooks.update(&sub.id, patch).expect("update");
    assert_eq!((updated.enabled, updated.pool.as_deref()), (false, Some("db")));
    assert!(matches!(hooks.send_test("wh_missing"), Err(WebhookError::NotFound(_))));
}

#[tokio::test]
async fn by_default_only_operators_may_target_internal_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    let hooks = Webhooks::new(store, WebhookConfig::default()).expect("webhooks");
    for url in ["http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data", "http://localhost:9/"] {
        let err = hooks.create(new_sub("acme", url, &[])).expect_err(url);
        assert!(matches!(&err, WebhookError::Invalid(f) if f.field == "url"), "{url}: {err}");
    }
    let sub = hooks.create(new_sub(crate::auth::model::DEFAULT_TENANT, "http://127.0.0.1:9/", &[])).expect("operators");
    let mut acme = hooks.create(new_sub("acme", "https://8.8.8.8/hook", &[])).expect("a public address");
    let patch = SubscriptionPatch { url: Some("http://10.0.0.1/".into()), ..SubscriptionPatch::default() };
    let err = hooks.update(&acme.id, patch).expect_err("moved inside");
    assert!(matches!(&err, WebhookError::Invalid(f) if f.field == "url"), "{err}");
    acme = hooks.update(&acme.id, SubscriptionPatch::default()).expect("unchanged");
    assert_eq!(acme.url, "https://8.8.8.8/hook");
    assert_eq!(sub.url, "http://127.0.0.1:9/");
}

/// While a retry is in flight, `pending` still says why the last attempt
/// failed (before, `last` was blank until the retry finished, and a poller
/// that looked at the wrong moment saw no reason at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_in_flight_shows_the_last_attempts_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    // First request: 503. Later ones: held open until the test lets go.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (release_tx, release_rx) = watch::channel(false);
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = Arc::clone(&counter);
            let mut release = release_rx.clone();
            async move {
                if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let _ = release.wait_for(|go| *go).await;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = WebhookConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(60),
        ..loopback_config()
    };
    let hooks = Arc::new(Webhooks::new(store.clone(), config).expect("webhooks"));
    let sub = hooks.create(new_sub("acme", &url, &["io.augur.pool.*"])).expect("create");
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = hooks.start(stop_rx);
    hooks.publish(vec![event(EventKind::PoolScaleUp, "acme", 1)], Vec::new(), Vec::new()).expect("publish");
    wait_for("the second attempt to reach the receiver", || hits.load(std::sync::atomic::Ordering::SeqCst) >= 2).await;
    let pending = hooks.deliveries(&sub.id).await.expect("deliveries").pending.expect("a delivery in progress");
    assert_eq!(pending.attempts, 2, "{pending:?}");
    assert_eq!(pending.last.as_ref().and_then(|l| l.status), Some(503), "{pending:?}");
    assert!(pending.next_attempt.is_none(), "in flight, not waiting: {pending:?}");
    release_tx.send(true).expect("release");
    let mut delivered = false;
    for _ in 0..3000 {
        let view = hooks.deliveries(&sub.id).await.expect("deliveries");
        if view.recent.first().is_some_and(|r| r.outcome == deliveries::Outcome::Delivered) {
            assert!(view.pending.is_none());
            assert_eq!(view.recent[0].attempts, 2);
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(delivered, "the held attempt finished as delivered");
    stop_tx.send(true).expect("stop");
    task.await.expect("dispatcher stops");
}
