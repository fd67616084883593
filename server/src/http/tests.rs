//! Router tests: every endpoint through the real router against a store in
//! a temporary directory (no sockets: `tower::ServiceExt::oneshot`).

use std::io::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use super::*;
use crate::config::HttpConfig;

/// A router over a fresh store; keep the `TempDir` alive.
struct TestApp {
    router: Router,
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

/// A response, fully read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn app_with(limits: HttpConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open store");
    let state = Arc::new(AppState::new(store, &limits));
    TestApp { router: router(state.clone()), state, _dir: dir }
}

fn app() -> TestApp {
    app_with(HttpConfig::default())
}

impl TestApp {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).expect("request")).await
    }

    async fn post(&self, uri: &str, body: impl Into<Body>) -> Reply {
        self.send(Request::post(uri).body(body.into()).expect("request")).await
    }

    /// POSTs a query the way the `influx` CLI does (q in the URL).
    async fn query(&self, q: &str) -> Reply {
        let uri = format!("/query?q={}", encode(q));
        self.post(&uri, Body::empty()).await
    }

    async fn create_db(&self, db: &str) {
        let reply = self.query(&format!("CREATE DATABASE \"{db}\"")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json(), json!({"results":[{"statement_id":0}]}));
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("compress");
    enc.finish().expect("finish")
}

fn assert_influx_headers(reply: &Reply) {
    assert_eq!(reply.headers["x-influxdb-version"], "1.8.10");
    assert_eq!(reply.headers["x-influxdb-build"], "OSS");
}

fn assert_error(reply: &Reply, status: StatusCode, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "error": message }));
    assert_eq!(reply.headers["x-influxdb-error"], message.replace('\n', " ").as_str());
    assert_influx_headers(reply);
}

#[tokio::test]
async fn ping_and_health() {
    let app = app();
    let reply = app.get(routes::PING).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    assert_influx_headers(&reply);

    let reply = app.send(Request::head(routes::PING).body(Body::empty()).expect("req")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let reply = app.get("/ping?verbose=true").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"version": "1.8.10"}));

    let reply = app.get(routes::HEALTH).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"name":"augur","message":"ready for queries and writes","status":"pass","checks":[],"version":"1.8.10"})
    );
    assert_influx_headers(&reply);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let app = app();
    assert_error(&app.get("/nope").await, StatusCode::NOT_FOUND, "not found");
    assert_error(&app.get(routes::WRITE).await, StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
}

#[tokio::test]
async fn write_parameter_errors() {
    let app = app();
    app.create_db("db").await;
    assert_error(&app.post("/write", "cpu v=1").await, StatusCode::BAD_REQUEST, "database is required");
    assert_error(&app.post("/write?db=", "cpu v=1").await, StatusCode::BAD_REQUEST, "database is required");
    assert_error(&app.post("/write?db=x", "cpu v=1").await, StatusCode::NOT_FOUND, "database not found: \"x\"");
    assert_error(
        &app.post("/write?db=db&rp=nope", "cpu v=1").await,
        StatusCode::NOT_FOUND,
        "retention policy not found: nope",
    );
    assert_error(
        &app.post("/write?db=db&precision=x", "cpu v=1").await,
        StatusCode::BAD_REQUEST,
        "invalid precision \"x\": use n, ns, u, us, ms, s, m or h",
    );
}

#[tokio::test]
async fn write_then_read_back_through_export_and_show() {
    let app = app();
    app.create_db("db").await;
    let reply = app
        .post(
            "/write?db=db&precision=s&u=user&p=secret",
            "cpu,host=a usage=1.5,idle=98i 1\ncpu,host=b usage=2 2\nmem,host=a used=10u 3\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_influx_headers(&reply);

    let reply = app.query("SHOW MEASUREMENTS ON db").await;
    assert_eq!(
        reply.json(),
        json!({"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"]]}]}]})
    );
    let reply = app.post("/query?db=db&q=SHOW+FIELD+KEYS+FROM+cpu", Body::empty()).await;
    assert_eq!(
        reply.json(),
        json!({"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["idle","integer"],["usage","float"]]}]}]})
    );

    let reply = app.get("/api/v1/export?db=db").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let mut lines: Vec<String> = reply.text().lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "cpu,host=a idle=98i,usage=1.5 1000000000",
            "cpu,host=b usage=2 2000000000",
            "mem,host=a used=10u 3000000000",
        ]
    );

    let reply = app.get("/api/v1/export?db=db&measurement=mem").await;
    assert_eq!(reply.text(), "mem,host=a used=10u 3000000000\n");
    let reply = app.get("/api/v1/export?db=db&start=1970-01-01T00:00:02Z&end=3000000000").await;
    assert_eq!(reply.text(), "cpu,host=b usage=2 2000000000\n");
}

#[tokio::test]
async fn export_parameter_errors() {
    let app = app();
    app.create_db("db").await;
    assert_error(&app.get("/api/v1/export").await, StatusCode::BAD_REQUEST, "database is required");
    assert_error(&app.get("/api/v1/export?db=x").await, StatusCode::NOT_FOUND, "database not found: \"x\"");
    assert_error(&app.get("/api/v1/export?db=db&rp=x").await, StatusCode::NOT_FOUND, "retention policy not found: x");
    let reply = app.get("/api/v1/export?db=db&start=soon").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.get("/api/v1/export?db=db").await;
    assert_eq!((reply.status, reply.text()), (StatusCode::OK, String::new()));
}

#[tokio::test]
async fn parse_errors_store_the_good_lines_and_list_the_bad() {
    let app = app();
    app.create_db("db").await;
    let reply = app.post("/write?db=db", "cpu v=1 1\ncpu v= 2\ncpu v=3 3\nbad line here\n").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].as_str().unwrap_or_default().to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(lines[0].starts_with("unable to parse 'cpu v= 2': line 2, column"), "{error}");
    assert!(lines[1].starts_with("unable to parse 'bad line here': line 4, column"), "{error}");
    let export = app.get("/api/v1/export?db=db").await.text();
    assert_eq!(export, "cpu v=1 1\ncpu v=3 3\n");
}

#[tokio::test]
async fn rejected_points_name_their_line() {
    let app = app();
    app.create_db("db").await;
    assert_eq!(app.post("/write?db=db", "cpu v=1 1").await.status, StatusCode::NO_CONTENT);
    let reply = app.post("/write?db=db", "cpu v=2 2\ncpu v=\"s\" 3\ncpu v=4i 4\n").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(error.starts_with("partial write: line 2: "), "{error}");
    assert!(error.contains("; line 3: "), "{error}");
    assert!(error.ends_with(" dropped=2"), "{error}");
    assert_eq!(app.get("/api/v1/export?db=db").await.text(), "cpu v=1 1\ncpu v=2 2\n");
}

#[tokio::test]
async fn gzip_bodies() {
    let app = app_with(HttpConfig { max_body_size: 1024, ..HttpConfig::default() });
    app.create_db("db").await;
    let gz = |body: Vec<u8>| {
        Request::post("/write?db=db").header(header::CONTENT_ENCODING, "gzip").body(Body::from(body)).expect("request")
    };
    let reply = app.send(gz(gzip(b"cpu v=1 1\n"))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    let reply = app.send(gz(b"definitely not gzip".to_vec())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["error"].as_str().unwrap_or_default().starts_with("invalid gzip body"));

    // 10 MiB that compresses to a few KiB: refused after 1 KiB of output.
    let bomb = gzip(&vec![b'#'; 10 << 20]);
    assert!(bomb.len() < 1024 * 16);
    let reply = app
        .send(
            Request::post("/write?db=db")
                .header(header::CONTENT_ENCODING, "gzip")
                .body(Body::from(bomb))
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn body_limits() {
    let app = app_with(HttpConfig { max_body_size: 64, ..HttpConfig::default() });
    app.create_db("db").await;
    let big = "cpu v=1 1\n".repeat(10);
    let reply = app.post("/write?db=db", big.clone()).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "request body too large: the limit is 64 bytes");
    let stream = futures::stream::iter(
        big.into_bytes().chunks(10).map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
    );
    let reply = app.post("/write?db=db", Body::from_stream(stream)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn too_many_concurrent_writes() {
    let app = app_with(HttpConfig { max_concurrent_writes: 1, ..HttpConfig::default() });
    app.create_db("db").await;
    let held = app.state.try_write_slot().expect("slot");
    let reply = app.post("/write?db=db", "cpu v=1").await;
    assert_error(&reply, StatusCode::TOO_MANY_REQUESTS, "too many concurrent writes");
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    let reply = app.post("/api/v2/write?bucket=db", "cpu v=1").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.json()["code"], "too many requests");
    drop(held);
    assert_eq!(app.post("/write?db=db", "cpu v=1").await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn v2_write() {
    let app = app();
    app.create_db("db").await;
    let reply = app.post("/api/v2/write?bucket=db/autogen&org=x&precision=ms", "cpu v=1 1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let reply = app.post("/api/v2/write?bucket=db&precision=s", "cpu v=2 1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(app.get("/api/v1/export?db=db").await.text(), "cpu v=1 1000000\ncpu v=2 1000000000\n");

    let reply = app.post("/api/v2/write?bucket=nope", "cpu v=1").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let message = "database not found: \"nope\"";
    assert_eq!(reply.json(), json!({"code":"not found","message":message,"error":message}));
    assert_eq!(reply.headers["x-influxdb-error"], message);

    let reply = app.post("/api/v2/write?org=x", "cpu v=1").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["code"], "invalid");
    let reply = app.post("/api/v2/write?bucket=db&precision=h", "cpu v=1").await;
    assert_eq!(reply.json()["code"], "invalid");
    let reply = app.post("/api/v2/write?bucket=db", "cpu v=").await;
    assert_eq!((reply.status, reply.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid")));
}

#[tokio::test]
async fn query_databases_and_policies() {
    let app = app();
    let reply = app.query("SHOW DATABASES").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        reply.json(),
        json!({"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"]}]}]})
    );
    app.create_db("db1").await;
    app.create_db("db2").await;
    let reply = app.query("SHOW DATABASES; DROP DATABASE db2; SHOW DATABASES").await;
    assert_eq!(
        reply.json(),
        json!({"results":[
            {"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db1"],["db2"]]}]},
            {"statement_id":1},
            {"statement_id":2,"series":[{"name":"databases","columns":["name"],"values":[["db1"]]}]}
        ]})
    );
    let reply = app
        .query("CREATE RETENTION POLICY week ON db1 DURATION 7d REPLICATION 1 DEFAULT; SHOW RETENTION POLICIES ON db1")
        .await;
    let json = reply.json();
    assert_eq!(json["results"][0], json!({"statement_id":0}));
    assert_eq!(
        json["results"][1]["series"][0]["columns"],
        json!(["name", "duration", "shardGroupDuration", "replicaN", "default"])
    );
    let values = json["results"][1]["series"][0]["values"].as_array().cloned().unwrap_or_default();
    assert!(values.contains(&json!(["week", "168h0m0s", "24h0m0s", 1, true])), "{json}");
    assert_eq!(values.len(), 2, "{json}");
}

#[tokio::test]
async fn query_errors() {
    let app = app();
    assert_error(&app.get("/query").await, StatusCode::BAD_REQUEST, "missing required parameter \"q\"");
    assert_error(&app.get("/query?q=+").await, StatusCode::BAD_REQUEST, "missing required parameter \"q\"");
    assert_error(
        &app.get("/query?q=SHOW+FOO").await,
        StatusCode::BAD_REQUEST,
        "error parsing query: found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6",
    );
    let reply = app.get("/query?q=SHOW+RETENTION+POLICIES").await;
    assert_eq!(reply.json(), json!({"results":[{"statement_id":0,"error":"database name required"}]}));
    let reply = app.get("/query?q=SHOW+RETENTION+POLICIES+ON+nope;SHOW+DATABASES").await;
    assert_eq!(
        reply.json(),
        json!({"results":[{"statement_id":0,"error":"database not found: nope"},{"statement_id":1,"error":"not executed"}]})
    );
    // SELECT runs now; an unknown database is a statement error, as in InfluxDB.
    let reply = app.get("/query?q=SELECT+*+FROM+cpu&db=x").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"results":[{"statement_id":0,"error":"database not found: x"}]}));
}

#[tokio::test]
async fn state_changes_need_post() {
    let app = app();
    let reply = app.get("/query?q=CREATE+DATABASE+x").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"results":[{"statement_id":0,"error":"'CREATE DATABASE x' requires a POST request"}]})
    );
    let reply = app.get("/query?q=SHOW+DATABASES").await;
    assert_eq!(reply.json()["results"][0]["series"][0].get("values"), None);

    // A form body, as `curl --data-urlencode` sends it.
    let reply = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/query")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("q=CREATE+DATABASE+x&pretty=true"))
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text(),
        "{\n    \"results\": [\n        {\n            \"statement_id\": 0\n        }\n    ]\n}\n"
    );
    let reply = app.query("SHOW DATABASES").await;
    assert_eq!(reply.json()["results"][0]["series"][0]["values"], json!([["x"]]));
}

#[tokio::test]
async fn chunked_query_output() {
    let app = app();
    let reply = app.post("/query?chunked=true&q=SHOW+DATABASES%3BSHOW+DATABASES", Body::empty()).await;
    let text = reply.text();
    let docs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(docs.len(), 2, "{text}");
    assert_eq!(docs[1]["results"][0]["statement_id"], 1);
}

#[tokio::test]
async fn verify_lists_no_damage_on_a_healthy_store() {
    let app = app();
    app.create_db("db").await;
    assert_eq!(app.post("/write?db=db", "cpu v=1 1").await.status, StatusCode::NO_CONTENT);
    let reply = app.get(routes::VERIFY).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"damaged": []}));
}

#[tokio::test]
async fn dashboard_page_and_files_are_served_with_types_etags_and_a_csp() {
    let app = app();
    for (uri, content_type, needle) in [
        (routes::DASHBOARD, "text/html; charset=utf-8", "<title>Augur</title>"),
        ("/ui/app.js", "text/javascript; charset=utf-8", "import"),
        ("/ui/app.css", "text/css; charset=utf-8", "body"),
        ("/ui/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"),
        ("/ui/uPlot.min.css", "text/css; charset=utf-8", ".uplot"),
    ] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], content_type, "{uri}");
        assert!(reply.text().contains(needle), "{uri} lacks {needle:?}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        let csp = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.starts_with("default-src 'self'") && !csp.contains("unsafe"), "{uri}: {csp}");
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        // The same version again: 304 without a body.
        let etag = reply.headers[header::ETAG].clone();
        let again = app
            .send(Request::get(uri).header(header::IF_NONE_MATCH, etag.clone()).body(Body::empty()).expect("req"))
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(again.body.is_empty(), "{uri}");
        assert_eq!(again.headers[header::ETAG], etag, "{uri}");
        // Another version: the file.
        let stale =
            app.send(Request::get(uri).header(header::IF_NONE_MATCH, "\"0\"").body(Body::empty()).expect("req")).await;
        assert_eq!(stale.status, StatusCode::OK, "{uri}");
    }
    // `/` and `/ui/index.html` are the same page.
    assert_eq!(app.get(routes::DASHBOARD).await.body, app.get("/ui/index.html").await.body);
}

#[tokio::test]
async fn dashboard_unknown_files_are_404_and_paths_do_not_escape() {
    let app = app();
    for uri in ["/ui/nothing.js", "/ui/", "/ui/..%2FCargo.toml", "/ui/../Cargo.toml", "/ui/vendor/uplot/LICENSE"] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}: {}", reply.text());
    }
    let reply = app.post("/ui/app.js", Body::empty()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_handler_that_panics_answers_500_in_json_and_the_router_keeps_serving() {
    // The router's own panic layer, around a route that panics (no real
    // handler is known to: the hostile-input suite checks that).
    let router: Router = Router::new()
        .route(
            "/boom",
            axum::routing::get(|| async {
                let v: Vec<u8> = Vec::new();
                // An out-of-bounds index, as a bug would have it.
                #[allow(clippy::indexing_slicing)]
                let first = v[usize::from(v.is_empty())];
                first.to_string()
            }),
        )
        .route("/ok", axum::routing::get(|| async { "fine" }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(handler_panicked));
    let get = |path: &str| Request::get(path).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(get("/boom")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    let json: Value = serde_json::from_slice(&body).expect("JSON");
    assert!(json["error"].as_str().is_some_and(|e| e.contains("the request handler failed")), "{json}");
    let response = router.oneshot(get("/ok")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}
