//! Webhooks against the real binary and real HTTP receivers: signed
//! CloudEvents, in-order at-least-once delivery through consumer outages
//! and an Augur crash, dead letters and replay, tenant isolation, and the
//! Python verifier from docs/webhooks.md.
//!
//! Events are published with `POST /v1/webhooks/{id}/test` (it goes through
//! the same outbox and dispatcher as every other event). Retry timings are
//! shrunk by configuration; every wait is a bounded poll.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_tests::receiver::{Received, Receiver};
use augur_tests::{poll_until, Reply, Server, ServerOptions};
use hmac::{Hmac, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use sha2::Sha256;

const ADMIN_TOKEN: &str = "augur_test_operator_token_0123456789abcdef";
const WAIT: Duration = Duration::from_secs(60);
const FAST_RETRIES: &str =
    "[webhooks]\ninitial_backoff = \"20ms\"\nmax_backoff = \"100ms\"\ntimeout = \"5s\"\nmax_attempts = 1000\n";

fn fast_server() -> Server {
    Server::start(ServerOptions::with_config(FAST_RETRIES))
}

fn send_json(server: &Server, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Reply {
    let client = server.client();
    let url = server.url(path);
    let mut request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => panic!("method {other}"),
    };
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Token {token}"));
    }
    if let Some(body) = body {
        request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
    }
    server.send(request)
}

/// Creates a subscription to `url`; returns (id, secret).
fn subscribe(server: &Server, token: Option<&str>, body: Value) -> (String, String) {
    let r = send_json(server, token, "POST", "/v1/webhooks", Some(body));
    assert_eq!(r.status, 201, "{r}");
    let json = r.json();
    (json["id"].as_str().expect("id").to_string(), json["secret"].as_str().expect("secret").to_string())
}

/// Publishes a test event to subscription `id`; returns its sequence.
fn ping(server: &Server, token: Option<&str>, id: &str) -> u64 {
    let r = send_json(server, token, "POST", &format!("/v1/webhooks/{id}/test"), None);
    assert_eq!(r.status, 202, "{r}");
    r.json()["sequence"].as_u64().expect("sequence")
}

fn deliveries(server: &Server, id: &str) -> Value {
    let r = send_json(server, None, "GET", &format!("/v1/webhooks/{id}/deliveries"), None);
    assert_eq!(r.status, 200, "{r}");
    r.json()
}

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Checks `Augur-Signature` the way a consumer must: HMAC-SHA256 of
/// `"<t>.<body>"` under the secret, and a recent `t`.
fn assert_signed(request: &Received, secret: &str) {
    let header = request.header("augur-signature").expect("Augur-Signature header");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("t="), v1.expect("v1="));
    assert!((now_s() - t).abs() < 300, "signature time {t} is not recent");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, expected, "signature does not verify for body {:?}", String::from_utf8_lossy(&request.body));
}

fn sequences(requests: &[Received]) -> Vec<u64> {
    requests.iter().map(|r| r.json()["augursequence"].as_u64().expect("augursequence")).collect()
}

#[test]
fn a_test_event_arrives_signed_as_a_cloudevent_and_the_secret_is_shown_once() {
    let server = fast_server();
    let receiver = Receiver::start();
    let r = send_json(
        &server,
        None,
        "POST",
        "/v1/webhooks",
        Some(json!({"url": receiver.url(), "types": ["io.augur.pool.*"], "description": "ops"})),
    );
    assert_eq!(r.status, 201, "{r}");
    let created = r.json();
    let id = created["id"].as_str().expect("id").to_string();
    let secret = created["secret"].as_str().expect("generated secret").to_string();
    assert!(secret.starts_with("whsec_") && secret.len() >= 32, "{secret}");
    assert_eq!(created["types"], json!(["io.augur.pool.*"]));
    // Never again: not in GET, not in the list.
    let got = send_json(&server, None, "GET", &format!("/v1/webhooks/{id}"), None);
    assert_eq!(got.status, 200, "{got}");
    assert!(!got.body.contains(&secret) && got.json().get("secret").is_none(), "{got}");
    assert_eq!(got.json()["url"], receiver.url());
    let list = send_json(&server, None, "GET", "/v1/webhooks", None);
    assert!(!list.body.contains(&secret), "{list}");
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));

    let seq = ping(&server, None, &id);
    let delivered = poll_until(&server, "the test event", WAIT, || {
        let d = receiver.delivered();
        (!d.is_empty()).then_some(d)
    });
    assert_eq!(delivered.len(), 1);
    let request = &delivered[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hook"));
    assert_eq!(request.header("content-type"), Some("application/cloudevents+json"));
    assert_eq!(request.header("augur-delivery-attempt"), Some("1"));
    assert_signed(request, &secret);
    let event = request.json();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "io.augur.webhook.test");
    assert_eq!(event["source"], "/augur/tenants/default");
    assert_eq!(event["subject"], id);
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["augursequence"], seq);
    assert_eq!(event["data"]["subscription"], id);
    assert!(event["id"].as_str().is_some_and(|i| i.len() == 36), "{event}");
    assert!(event["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{event}");
    // The delivery is logged.
    let log = poll_until(&server, "the delivery log", WAIT, || {
        let d = deliveries(&server, &id);
        (d["recent"].as_array().map(Vec::len) == Some(1)).then_some(d)
    });
    assert_eq!(log["recent"][0]["outcome"], "delivered");
    assert_eq!(log["recent"][0]["sequence"], seq);
    assert_eq!(log["recent"][0]["last"]["status"], 200);
    assert_eq!(log["cursor"], seq);

    // A chosen secret signs too; PUT changes the URL; DELETE removes it.
    let (id2, secret2) =
        subscribe(&server, None, json!({"url": "http://127.0.0.1:9/nowhere", "secret": "my-own-secret-0123456789"}));
    assert_eq!(secret2, "my-own-secret-0123456789");
    let r = send_json(&server, None, "PUT", &format!("/v1/webhooks/{id2}"), Some(json!({"url": receiver.url()})));
    assert_eq!(r.status, 200, "{r}");
    ping(&server, None, &id2);
    let second = poll_until(&server, "the second subscription's event", WAIT, || {
        receiver.delivered().into_iter().find(|r| r.json()["subject"] == id2.as_str())
    });
    assert_signed(&second, &secret2);
    let r = send_json(&server, None, "DELETE", &format!("/v1/webhooks/{id2}"), None);
    assert_eq!(r.status, 204, "{r}");
    assert_eq!(send_json(&server, None, "GET", &format!("/v1/webhooks/{id2}"), None).status, 404);
}

#[test]
fn invalid_subscriptions_are_rejected_naming_the_field() {
    let server = Server::start(ServerOptions::with_config("[webhooks]\nmax_subscriptions_per_tenant = 2\n"));
    for (body, field) in [
        (json!({"url": "ftp://example.com/"}), "invalid url"),
        (json!({"url": "not a url"}), "invalid url"),
        (json!({"types": ["*"]}), "invalid url"),
        (json!({"url": "http://example.com/", "types": ["io.augur.nope"]}), "invalid types[0]"),
        (json!({"url": "http://example.com/", "types": []}), "invalid types"),
        (json!({"url": "http://example.com/", "secret": "short"}), "invalid secret"),
        (json!({"url": "http://example.com/", "colour": "blue"}), "colour"),
    ] {
        let r = send_json(&server, None, "POST", "/v1/webhooks", Some(body.clone()));
        assert_eq!(r.status, 400, "{body}: {r}");
        assert!(r.error_text().contains(field), "{body}: {r}");
    }
    subscribe(&server, None, json!({"url": "http://example.com/a"}));
    subscribe(&server, None, json!({"url": "http://example.com/b"}));
    let r = send_json(&server, None, "POST", "/v1/webhooks", Some(json!({"url": "http://example.com/c"})));
    assert_eq!(r.status, 429, "{r}");
    assert!(r.error_text().contains("max_subscriptions_per_tenant"), "{r}");
    let r =
        send_json(&server, None, "POST", "/v1/webhooks/wh_0000000000000000/replay", Some(json!({"from_sequence": 1})));
    assert_eq!(r.status, 404, "{r}");
}

#[test]
fn a_consumer_that_was_down_receives_every_event_in_order() {
    let server = fast_server();
    let mut receiver = Receiver::start();
    let (id, secret) = subscribe(&server, None, json!({"url": receiver.url()}));
    // Down: connections refused.
    receiver.stop();
    let published: Vec<u64> = (0..5).map(|_| ping(&server, None, &id)).collect();
    let pending = poll_until(&server, "failed attempts while the consumer is down", WAIT, || {
        let d = deliveries(&server, &id);
        (d["pending"]["attempts"].as_u64().unwrap_or(0) >= 3).then_some(d)
    });
    assert_eq!(pending["pending"]["sequence"], published[0], "the first event is retried first: {pending}");
    assert!(pending["pending"]["last"]["error"].as_str().is_some_and(|e| e.contains("connect")), "{pending}");
    // Up again, but failing with 503 for a while, then healthy.
    receiver.set_status(503);
    receiver.resume();
    poll_until(&server, "503 answers", WAIT, || (receiver.requests().len() >= 3).then_some(()));
    receiver.set_status(200);
    let delivered = poll_until(&server, "all five events", WAIT, || {
        let d = receiver.delivered();
        (d.len() >= published.len()).then_some(d)
    });
    assert_eq!(sequences(&delivered), published, "in order, each once");
    for request in &delivered {
        assert_signed(request, &secret);
    }
    // No event was attempted before the previous one was delivered.
    let attempted = sequences(&receiver.requests());
    assert!(attempted.windows(2).all(|w| w[0] <= w[1]), "attempt order {attempted:?}");
    let last_attempt: u64 =
        delivered[0].header("augur-delivery-attempt").and_then(|a| a.parse().ok()).expect("attempt header");
    assert!(last_attempt > 3, "the first event needed retries, got attempt {last_attempt}");
}

#[test]
fn dead_letters_after_max_attempts_then_replay_delivers_them() {
    let server = Server::start(ServerOptions::with_config(
        "[webhooks]\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"\nmax_attempts = 3\nretry_for = \"0s\"\n",
    ));
    let receiver = Receiver::start();
    receiver.set_status(503);
    let (id, _) = subscribe(&server, None, json!({"url": receiver.url()}));
    let published: Vec<u64> = (0..2).map(|_| ping(&server, None, &id)).collect();
    let dead = poll_until(&server, "two dead letters", WAIT, || {
        let d = deliveries(&server, &id);
        (d["dead_letters"].as_array().map(Vec::len) == Some(2) && d["cursor"] == published[1]).then_some(d)
    });
    assert_eq!(
        sequences(&receiver.requests()),
        [published[0]; 3].iter().chain(&[published[1]; 3]).copied().collect::<Vec<_>>()
    );
    let letter = &dead["dead_letters"][0];
    assert_eq!((letter["sequence"].as_u64(), letter["attempts"].as_u64()), (Some(published[0]), Some(3)));
    assert_eq!(letter["last"]["status"], 503);
    assert_eq!(letter["outcome"], "dead_lettered");
    assert_eq!(letter["event"]["type"], "io.augur.webhook.test");
    let dead_ids: Vec<Value> =
        dead["dead_letters"].as_array().expect("list").iter().map(|d| d["event"]["id"].clone()).collect();

    // A 4xx is a permanent refusal: dead-lettered after one attempt.
    receiver.set_status(400);
    let refused = ping(&server, None, &id);
    poll_until(&server, "the refused event's dead letter", WAIT, || {
        let d = deliveries(&server, &id);
        d["dead_letters"].as_array().and_then(|l| l.iter().find(|x| x["sequence"] == refused)).map(|x| {
            assert_eq!(x["attempts"], 1, "{x}");
        })
    });

    // Fixed consumer: replay delivers the dead letters, oldest first, same ids.
    receiver.set_status(200);
    let r = send_json(&server, None, "POST", &format!("/v1/webhooks/{id}/replay"), None);
    assert_eq!(r.status, 202, "{r}");
    assert_eq!(r.json()["dead_letters_queued"], 3);
    let delivered = poll_until(&server, "the replayed dead letters", WAIT, || {
        let d = receiver.delivered();
        (d.len() >= 3).then_some(d)
    });
    assert_eq!(sequences(&delivered), [published[0], published[1], refused]);
    assert_eq!(delivered[0].json()["id"], dead_ids[0], "a redelivery keeps the event id");
    let after = poll_until(&server, "the dead letters to clear", WAIT, || {
        let d = deliveries(&server, &id);
        (d["dead_letters"].as_array().map(Vec::len) == Some(0) && d["replay_queued"] == 0).then_some(d)
    });
    assert!(after["recent"]
        .as_array()
        .expect("recent")
        .iter()
        .any(|r| r["replay"] == true && r["outcome"] == "delivered"));

    // Replay from a sequence: everything from there again, in order.
    let r = send_json(
        &server,
        None,
        "POST",
        &format!("/v1/webhooks/{id}/replay"),
        Some(json!({"from_sequence": published[1]})),
    );
    assert_eq!(r.status, 202, "{r}");
    assert_eq!(r.json()["from_sequence"], published[1]);
    let again = poll_until(&server, "the replay from a sequence", WAIT, || {
        let d = receiver.delivered();
        (d.len() >= 5).then_some(d)
    });
    assert_eq!(sequences(&again[3..]), [published[1], refused]);
}

#[test]
fn a_crash_between_publish_and_delivery_loses_no_event() {
    let mut server = fast_server();
    let receiver = Receiver::start();
    receiver.set_status(503);
    let (id, secret) = subscribe(&server, None, json!({"url": receiver.url()}));
    let mut published: Vec<u64> = (0..3).map(|_| ping(&server, None, &id)).collect();
    poll_until(&server, "a failed attempt", WAIT, || (!receiver.requests().is_empty()).then_some(()));
    server.kill9_restart();
    // The subscription, its secret and its undelivered events survived.
    let got = send_json(&server, None, "GET", &format!("/v1/webhooks/{id}"), None);
    assert_eq!(got.status, 200, "{got}");
    published.extend((0..2).map(|_| ping(&server, None, &id)));
    assert!(published.windows(2).all(|w| w[0] < w[1]), "sequences keep growing across the crash: {published:?}");
    receiver.set_status(200);
    let delivered = poll_until(&server, "every event after the crash", WAIT, || {
        let d = receiver.delivered();
        (d.len() >= published.len()).then_some(d)
    });
    assert_eq!(sequences(&delivered), published);
    for request in &delivered {
        assert_signed(request, &secret);
    }
    // And a graceful restart resumes after the last delivered event: nothing twice.
    server.restart();
    let next = ping(&server, None, &id);
    let delivered = poll_until(&server, "the event after a graceful restart", WAIT, || {
        let d = receiver.delivered();
        (d.len() > published.len()).then_some(d)
    });
    assert_eq!(sequences(&delivered[published.len()..]), [next]);
}

/// Tenants' webhooks may reach only public addresses unless the operator
/// allows a network (`allowed_networks`); the receivers are on loopback.
const LOOPBACK_ALLOWED: &str = "[webhooks]\nallowed_networks = [\"127.0.0.0/8\", \"::1/128\"]\n";

/// A server with authentication on whose tenants may reach loopback.
fn tenant_server() -> Server {
    Server::start(ServerOptions { config: Some(LOOPBACK_ALLOWED.to_string()), ..ServerOptions::with_auth(ADMIN_TOKEN) })
}

/// Operator, two tenants with an admin and a writer each.
fn tenants(server: &Server) -> std::collections::BTreeMap<&'static str, String> {
    let op = Some(ADMIN_TOKEN);
    let mut tokens = std::collections::BTreeMap::new();
    for tenant in ["acme", "globex"] {
        let r = send_json(server, op, "POST", "/v1/tenants", Some(json!({"name": tenant})));
        assert_eq!(r.status, 201, "{r}");
    }
    for (name, tenant, role) in
        [("acme_admin", "acme", "admin"), ("acme_writer", "acme", "writer"), ("globex_admin", "globex", "admin")]
    {
        let body = json!({"name": name, "tenant": tenant, "role": role, "password": format!("{name}-password")});
        let r = send_json(server, op, "POST", "/v1/users", Some(body));
        assert_eq!(r.status, 201, "{r}");
        let r = send_json(server, op, "POST", "/v1/tokens", Some(json!({"user": name})));
        assert_eq!(r.status, 201, "{r}");
        tokens.insert(name, r.json()["token"].as_str().expect("token").to_string());
    }
    tokens
}

#[test]
fn tenants_only_see_and_receive_their_own() {
    let server = tenant_server();
    let tokens = tenants(&server);
    let (acme, globex) = (Some(tokens["acme_admin"].as_str()), Some(tokens["globex_admin"].as_str()));
    let (ra, rb) = (Receiver::start(), Receiver::start());
    let (a, _) = subscribe(&server, acme, json!({"url": ra.url()}));
    let (b, _) = subscribe(&server, globex, json!({"url": rb.url()}));
    // Another tenant's subscription does not exist for you.
    for (method, path) in [
        ("GET", format!("/v1/webhooks/{a}")),
        ("PUT", format!("/v1/webhooks/{a}")),
        ("GET", format!("/v1/webhooks/{a}/deliveries")),
        ("POST", format!("/v1/webhooks/{a}/replay")),
        ("POST", format!("/v1/webhooks/{a}/test")),
        ("DELETE", format!("/v1/webhooks/{a}")),
    ] {
        let body = (method == "PUT").then(|| json!({"url": rb.url()}));
        let r = send_json(&server, globex, method, &path, body);
        assert_eq!(r.status, 404, "{method} {path} as globex: {r}");
    }
    let list = send_json(&server, globex, "GET", "/v1/webhooks", None).json();
    assert_eq!(list.as_array().map(|l| l.iter().map(|s| s["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(b)]));
    assert_eq!(list[0]["owner"], "globex");
    // Writers manage none, not even their tenant's.
    let writer = Some(tokens["acme_writer"].as_str());
    assert_eq!(send_json(&server, writer, "GET", "/v1/webhooks", None).status, 403);
    assert_eq!(send_json(&server, writer, "GET", &format!("/v1/webhooks/{a}"), None).status, 403);
    assert_eq!(send_json(&server, writer, "POST", "/v1/webhooks", Some(json!({"url": ra.url()}))).status, 403);
    // Only operators may subscribe to another tenant's events.
    let r = send_json(&server, acme, "POST", "/v1/webhooks", Some(json!({"url": ra.url(), "tenant": "globex"})));
    assert_eq!(r.status, 403, "{r}");
    let r =
        send_json(&server, Some(ADMIN_TOKEN), "POST", "/v1/webhooks", Some(json!({"url": ra.url(), "tenant": "*"})));
    assert_eq!(r.status, 201, "{r}");
    // The operator sees all three.
    let all = send_json(&server, Some(ADMIN_TOKEN), "GET", "/v1/webhooks", None).json();
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    // acme's events reach acme's receiver only.
    let seq = ping(&server, acme, &a);
    let got = poll_until(&server, "acme's event", WAIT, || ra.delivered().into_iter().next());
    assert_eq!(got.json()["augursequence"], seq);
    assert_eq!(got.json()["source"], "/augur/tenants/acme");
    assert!(rb.requests().is_empty(), "globex's receiver got {:?}", rb.requests());
    // Changes are audited.
    let audit = send_json(&server, acme, "GET", "/v1/audit", None);
    assert!(audit.body.contains(&format!("create webhook {a}")), "{audit}");
}

/// Real pool events of two tenants, each with a pool and a subscriber:
/// every event reaches its own tenant's subscriber only.
#[test]
fn pool_events_stay_within_their_tenant() {
    let server = tenant_server();
    let tokens = tenants(&server);
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    let minute = 60_000_000_000i64;
    let last = now_ns / minute * minute - minute;
    let mut receivers = Vec::new();
    for tenant in ["acme", "globex"] {
        let token = tokens[format!("{tenant}_admin").as_str()].as_str();
        let db = format!("{tenant}_db");
        let r = send_json(&server, Some(token), "POST", &format!("/query?q=CREATE%20DATABASE%20{db}"), None);
        assert_eq!(r.status, 200, "{r}");
        let body: String =
            (0..120).map(|i| format!("usage cpu={} {}\n", 2 + i % 3, last - (119 - i) * minute)).collect();
        let r = server.send(
            server
                .client()
                .post(server.url(&format!("/write?db={db}")))
                .header("Authorization", format!("Token {token}"))
                .body(body),
        );
        assert_eq!(r.status, 204, "{r}");
        let receiver = Receiver::start();
        subscribe(&server, Some(token), json!({"url": receiver.url(), "types": ["io.augur.pool.*"]}));
        let pool = json!({
            "name": "p", "dimensions": ["cpu_cores"],
            "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}], "min": 2, "max": 10, "interval": "1s",
            "history": "3h",
            "demand": {"cpu_cores": {"database": db, "query": "SELECT sum(cpu) FROM usage GROUP BY time(1m)"}},
        });
        let r = send_json(&server, Some(token), "POST", "/v1/pools", Some(pool));
        assert_eq!(r.status, 201, "{r}");
        receivers.push((tenant, receiver));
    }
    for (tenant, receiver) in &receivers {
        let events = poll_until(&server, &format!("{tenant}'s pool events"), WAIT, || {
            let d = receiver.delivered();
            d.iter().any(|r| r.json()["type"] == "io.augur.pool.unit_requested").then_some(d)
        });
        for event in &events {
            let source = event.json()["source"].as_str().unwrap_or_default().to_string();
            assert_eq!(source, format!("/augur/tenants/{tenant}/pools/p"), "{tenant} got {}", event.json());
        }
    }
}

/// The verifier of docs/webhooks.md, run by python3 against a real delivery.
#[test]
fn the_documented_python_verifier_accepts_real_deliveries_and_rejects_forgeries() {
    let doc = include_str!("../../docs/webhooks.md");
    let start = doc.find("```python\n").expect("a python block in docs/webhooks.md") + "```python\n".len();
    let code = &doc[start..start + doc[start..].find("```").expect("end of the python block")];
    assert!(code.contains("def verify("), "the block defines verify()");
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 is not installed: skipping");
        return;
    }
    let server = fast_server();
    let receiver = Receiver::start();
    let (id, secret) = subscribe(&server, None, json!({"url": receiver.url()}));
    ping(&server, None, &id);
    let request = poll_until(&server, "a delivery", WAIT, || receiver.delivered().into_iter().next());
    let header = request.header("augur-signature").expect("signature").to_string();
    let dir = server.scratch_dir();
    let script = dir.join("verify_webhook.py");
    std::fs::write(
        &script,
        format!(
            "{code}\nimport sys\nbody = open(sys.argv[3], 'rb').read()\n\
             sys.exit(0 if verify(sys.argv[1].encode(), sys.argv[2], body) else 1)\n"
        ),
    )
    .expect("write the script");
    let run = |secret: &str, header: &str, body: &[u8]| -> bool {
        let path = dir.join("body.json");
        std::fs::write(&path, body).expect("write the body");
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(secret)
            .arg(header)
            .arg(&path)
            .output()
            .expect("python3");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "verifier crashed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.success()
    };
    assert!(run(&secret, &header, &request.body), "the real delivery verifies");
    assert!(!run("whsec_wrong", &header, &request.body), "wrong secret");
    let mut tampered = request.body.clone();
    tampered.extend_from_slice(b" ");
    assert!(!run(&secret, &header, &tampered), "tampered body");
    // A correctly signed but old request is a replay: rejected.
    let old = now_s() - 600;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{old}.").as_bytes());
    mac.update(&request.body);
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert!(!run(&secret, &format!("t={old},v1={sig}"), &request.body), "old timestamp");
}

/// A real pool publishes through the outbox: its events reach a subscriber
/// that asks for that pool, signed and in sequence order, and not one that
/// asks for another pool.
#[test]
fn pool_events_reach_the_subscribers_of_that_pool() {
    let server = fast_server();
    server.create_database("infra");
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    let minute = 60_000_000_000i64;
    let last = now_ns / minute * minute - minute;
    let body: String =
        (0..120).map(|i| format!("usage,service=web cpu={} {}\n", 3 + i % 5, last - (119 - i) * minute)).collect();
    server.write_ok("infra", body);
    let (web, other) = (Receiver::start(), Receiver::start());
    let (_, secret) = subscribe(&server, None, json!({"url": web.url(), "types": ["io.augur.pool.*"], "pool": "web"}));
    subscribe(&server, None, json!({"url": other.url(), "types": ["io.augur.pool.*"], "pool": "db"}));
    let pool = json!({
        "name": "web",
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "core2", "capacity": {"cpu_cores": 2}, "hourly_cost": 0.1}],
        "min": 2, "max": 10,
        "lead_time": "5m", "interval": "1s", "history": "3h",
        "safety": {"quantile": 95, "margin_pct": 0},
        "demand": {"cpu_cores": {"database": "infra",
            "query": "SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time(1m)"}},
        "provider": {"kind": "webhook"},
    });
    let r = send_json(&server, None, "POST", "/v1/pools", Some(pool));
    assert_eq!(r.status, 201, "{r}");
    let events = poll_until(&server, "the pool's unit requests", WAIT, || {
        let d = web.delivered();
        let requested = d.iter().filter(|r| r.json()["type"] == "io.augur.pool.unit_requested").count();
        (requested >= 2).then_some(d)
    });
    for request in &events {
        assert_signed(request, &secret);
        let event = request.json();
        assert_eq!(event["source"], "/augur/tenants/default/pools/web", "{event}");
        assert!(event["type"].as_str().is_some_and(|t| t.starts_with("io.augur.pool.")), "{event}");
    }
    let seqs = sequences(&events);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in sequence order: {seqs:?}");
    assert!(other.requests().is_empty(), "the db pool's subscriber got {:?}", other.requests());
}

/// A private CA and a server certificate it signed for `localhost` and
/// `127.0.0.1`: (dir, CA certificate, server certificate, server key).
fn private_ca_and_localhost_certificate() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run openssl (tests/scripts/deps.sh installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=augur-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(
        path("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write the extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    let (ca, cert, key) = (path("ca.pem"), path("cert.pem"), path("key.pem"));
    (dir, ca, cert, key)
}

/// An `https://` receiver whose certificate a private CA (`ca_file`)
/// vouches for gets signed events; a tenant cannot point a webhook at an
/// internal address, neither as an IP literal (400 at creation) nor through
/// a name (refused at connection time once the network is no longer
/// allowed).
#[test]
fn https_receivers_and_the_internal_address_guard() {
    let (_certs, ca, cert, key) = private_ca_and_localhost_certificate();
    let receiver = Receiver::start_tls(&cert, &key);
    let config = |allowed: &str| {
        format!(
            "[webhooks]\ninitial_backoff = \"20ms\"\nmax_backoff = \"100ms\"\nmax_attempts = 1000\n\
             ca_file = \"{}\"\n{allowed}",
            ca.display()
        )
    };
    let mut server = Server::start(ServerOptions {
        config: Some(config("allowed_networks = [\"127.0.0.0/8\", \"::1/128\"]\n")),
        ..ServerOptions::with_auth(ADMIN_TOKEN)
    });
    let tokens = tenants(&server);
    let acme = Some(tokens["acme_admin"].as_str());

    // Through the name `localhost` (the guarded resolver) and over TLS.
    let url = format!("https://localhost:{}/hook", receiver.port());
    let (id, secret) = subscribe(&server, acme, json!({"url": url}));
    let seq = ping(&server, acme, &id);
    let got = poll_until(&server, "the event over https", WAIT, || receiver.delivered().into_iter().next());
    assert_eq!(got.json()["augursequence"], seq);
    assert_signed(&got, &secret);

    // Internal addresses outside the allowed networks: refused at creation.
    for internal in ["http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://[fd00::1]/hook"] {
        let r = send_json(&server, acme, "POST", "/v1/webhooks", Some(json!({"url": internal})));
        assert_eq!(r.status, 400, "{internal}: {r}");
        assert!(r.error_text().contains("url") && r.error_text().contains("internal address"), "{r}");
    }
    // The operators' own subscriptions may reach them.
    let r = send_json(&server, Some(ADMIN_TOKEN), "POST", "/v1/webhooks", Some(json!({"url": "http://10.1.2.3/"})));
    assert_eq!(r.status, 201, "{r}");

    // Without the allowed network, the existing subscription's name now
    // resolves only to internal addresses: no connection is made.
    server.set_options(ServerOptions { config: Some(config("")), ..ServerOptions::with_auth(ADMIN_TOKEN) });
    server.restart();
    let before = receiver.requests().len();
    ping(&server, acme, &id);
    let refused = poll_until(&server, "a refused attempt", WAIT, || {
        let pending = send_json(&server, acme, "GET", &format!("/v1/webhooks/{id}/deliveries"), None).json();
        let text = pending.to_string();
        text.contains("internal addresses").then_some(text)
    });
    assert!(refused.contains("localhost"), "{refused}");
    assert_eq!(receiver.requests().len(), before, "a request reached the receiver");
}
