//! Hostile input on every route of the real binary: the server answers
//! each request with a status below 500 and stays up.
//!
//! Why: "the server never panics or aborts on input" is a promise about
//! every endpoint, not just the parsers that have fuzz targets. A handler
//! that unwraps a path segment, overflows on a huge number or recurses on
//! a deeply nested body shows up here as a 5xx (or a dropped connection),
//! named by route, method and input. The route list is read from
//! `server/src/http/routes.rs`, so a new route is covered the day it lands.
//!
//! Each route gets, as the operator (authentication on, so the handlers
//! behind the access checks run): every method, placeholders filled with a
//! real object's name and with malformed ones (empty, `%FF`, `..`, 5,000
//! characters, a number past u64), and bodies from truncated and wrongly
//! typed JSON to nested arrays 10,000 deep and random bytes, each paired
//! with a malformed query string. Every refusal must be the JSON error
//! shape (`{"error": ...}`), the framework's own rejections included.

use augur_tests::{declared_routes, encode, Reply, Server, ServerOptions};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

const ADMIN_TOKEN: &str = "augur_test_operator_token_hostile_0123456789";

/// Bodies sent to every route: `(content type, bytes)`.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let json = "application/json";
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![
        (json, Vec::new()),
        (json, b"{".to_vec()),
        (json, b"null".to_vec()),
        (json, b"[]".to_vec()),
        (json, b"\"text\"".to_vec()),
        (json, br#"{"name": 1e999, "max": -1}"#.to_vec()),
        (
            json,
            br#"{"name":"h","dimensions":["cpu_cores","cpu_cores","warp"],"shapes":[{"name":"s","capacity":{"cpu_cores":-1e308},"hourly_cost":1e308}],
               "min":18446744073709551616,"max":-1,"warm":1e20,"lead_time":"-5m","interval":"0s","history":"99999999999999d",
               "safety":"p101 + -10%","demand":{"cpu_cores":{"database":"","query":"SELECT sum(v) FROM m GROUP BY time(0s)"}}}"#
                .to_vec(),
        ),
        (
            json,
            br#"{"url":"http://[::1","types":["*",""],"secret":"","user":"","tenant":"../x","role":"god","password":"",
               "account":"","demand":1e999,"units":-3,"name":"\u0000"}"#
                .to_vec(),
        ),
        (json, format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes()),
        ("text/plain", b"m,t=\\ f=1 99999999999999999999\nm f=\"\nm\xff f=1".to_vec()),
        ("application/x-www-form-urlencoded", b"q=SELECT+*+FROM+%FF%FE&db=%00&epoch=zz".to_vec()),
        ("application/x-protobuf", vec![0xff; 64]),
    ];
    // Random bytes, the same on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4 {
        let bytes = (0..512)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect();
        out.push(("application/octet-stream", bytes));
    }
    out
}

/// Query strings, paired with the bodies in turn.
const QUERIES: [&str; 8] = [
    "",
    "?db=&q=",
    "?db=db&q=SELECT%20mean(v)%20FROM%20m%20WHERE%20time%20%3E%20now()%20-%2099999999999d%20GROUP%20BY%20time(0s)",
    "?horizon=-1d&history=0s&level=250",
    "?horizon=99999999999999d&history=99999999999999d",
    "?db=db&epoch=zz&precision=qq&chunked=true&chunk_size=-1&rp=%00",
    "?limit=-1&offset=18446744073709551616&start=zz&end=-9223372036854775808",
    "?db=db&u=%FF&p=&match[]=%7B&start=1e999",
];

/// Values for a path placeholder; the real object's name first.
fn placeholder_values(real: &str) -> Vec<String> {
    vec![
        real.to_string(),
        "x".into(),
        "%FF".into(),
        "..".into(),
        "a".repeat(5_000),
        "18446744073709551616".into(),
        "%00".into(),
    ]
}

/// Sends one request as the operator; `None` when no answer came back (a
/// dropped connection, which counts as a failure).
fn send(server: &Server, method: &str, path: &str, body: &(&str, Vec<u8>)) -> Option<Reply> {
    // A fresh connection per request: a server may close a connection
    // after refusing a request whose body it did not read, and a pooled
    // connection reused in that moment fails on the client's side.
    thread_local! {
        static CLIENT: reqwest::blocking::Client = reqwest::blocking::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(augur_tests::REQUEST_TIMEOUT)
            .build()
            .expect("client");
    }
    let client = CLIENT.with(|c| c.clone());
    let url = server.url(path);
    let request = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => client.request(reqwest::Method::from_bytes(other.as_bytes()).expect("method"), url),
    };
    let request =
        request.header(AUTHORIZATION, format!("Token {ADMIN_TOKEN}")).header(CONTENT_TYPE, body.0).body(body.1.clone());
    // One more try on a new connection when the first fails in transport
    // (a loaded CI machine); two failures in a row count as no answer.
    let retry = request.try_clone();
    let response = match request.send() {
        Ok(response) => response,
        Err(_) => retry?.send().ok()?,
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().unwrap_or_default();
    Some(Reply { status, headers, body })
}

/// Creates the objects the placeholders' real values name: database `db`
/// with data, pool `p`, and a webhook subscription (its id).
fn fixtures(server: &Server) -> String {
    let json = |v: serde_json::Value| ("application/json", v.to_string().into_bytes());
    let q = ("application/x-www-form-urlencoded", format!("q={}", encode("CREATE DATABASE db")).into_bytes());
    let r = send(server, "POST", "/query", &q).expect("answer");
    assert_eq!(r.status, 200, "{r}");
    let r = send(server, "POST", "/write?db=db", &("text/plain", b"m,host=a v=1 1\nm,host=a v=2 60000000000".to_vec()))
        .expect("answer");
    assert_eq!(r.status, 204, "{r}");
    let pool = json(serde_json::json!({
        "name": "p",
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}],
        "max": 2,
        "demand": {"cpu_cores": {"database": "db", "query": "SELECT sum(v) FROM m GROUP BY time(1m)"}},
    }));
    let r = send(server, "POST", "/v1/pools", &pool).expect("answer");
    assert!(r.status == 201 || r.status == 409, "{r}");
    // One subscription, made again only after a DELETE took it.
    let url = "http://127.0.0.1:9/hook";
    let list = send(server, "GET", "/v1/webhooks", &("application/json", Vec::new())).expect("answer").json();
    let existing = list["webhooks"]
        .as_array()
        .or_else(|| list.as_array())
        .and_then(|all| all.iter().find(|w| w["url"] == url))
        .and_then(|w| w["id"].as_str().map(str::to_string));
    if let Some(id) = existing {
        return id;
    }
    let hook = json(serde_json::json!({"url": url, "types": ["io.augur.pool.*"]}));
    let r = send(server, "POST", "/v1/webhooks", &hook).expect("answer");
    assert_eq!(r.status, 201, "{r}");
    r.json()["id"].as_str().expect("id").to_string()
}

#[test]
fn every_route_answers_hostile_input_below_500_and_the_server_stays_up() {
    let mut server = Server::start(ServerOptions::with_auth(ADMIN_TOKEN));
    let bodies = bodies();
    let routes = declared_routes();
    assert!(routes.len() >= 30, "routes.rs read: {routes:?}");
    let mut failures = Vec::new();
    let mut sent = 0usize;
    for (name, template) in &routes {
        let hook = fixtures(&server);
        // Every combination of placeholder values would be thousands of
        // paths per route; each placeholder takes its values in turn with
        // the others at their real value.
        let holes: Vec<&str> =
            template.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(hole, _)| hole)).collect();
        let real = |hole: &str| match hole {
            "name" if template.starts_with("/v1/tenants") => "default".to_string(),
            "name" => "p".to_string(),
            "id" if template.starts_with("/v1/webhooks") => hook.clone(),
            // Not a real token's id: deleting the operator's own token
            // would leave the rest of the run unauthenticated.
            "id" => "no-such-id".to_string(),
            "account" => "acct".to_string(),
            "file" => "app.js".to_string(),
            _ => "x".to_string(),
        };
        let mut paths = vec![];
        let fill = |chosen: &[(String, String)]| {
            let mut path = template.clone();
            for (hole, value) in chosen {
                path = path.replace(&format!("{{{hole}}}"), value);
            }
            path
        };
        if holes.is_empty() {
            paths.push(template.clone());
        }
        for (k, hole) in holes.iter().enumerate() {
            for value in placeholder_values(&real(hole)) {
                let chosen: Vec<(String, String)> = holes
                    .iter()
                    .enumerate()
                    .map(|(j, h)| (h.to_string(), if j == k { value.clone() } else { real(h) }))
                    .collect();
                paths.push(fill(&chosen));
            }
        }
        // DELETE last, so the real objects serve the other methods first.
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            for path in &paths {
                for (i, body) in bodies.iter().enumerate() {
                    let target = format!("{path}{}", QUERIES[i % QUERIES.len()]);
                    sent += 1;
                    match send(&server, method, &target, body) {
                        // Every refusal in the one error shape clients parse.
                        Some(r)
                            if r.status >= 400 && r.status != 503 && r.status < 500 && r.error_text().is_empty() =>
                        {
                            failures.push(format!("{name} {method} {:.200}: not a JSON error: {r}", target))
                        }
                        Some(r) if r.status < 500 || r.status == 503 => {}
                        Some(r) => failures.push(format!(
                            "{name} {method} {} ({} body of {} bytes): {}",
                            &target[..target.len().min(200)],
                            body.0,
                            body.1.len(),
                            r
                        )),
                        None => failures.push(format!("{name} {method} {target}: no answer")),
                    }
                }
            }
        }
        assert!(server.is_running(), "the server died on {name}:\n{}", server.log_tail());
        let ping = server.get("/ping");
        assert_eq!(ping.status, 204, "after {name}: {ping}");
    }
    assert!(failures.is_empty(), "{} of {sent} requests failed:\n{}", failures.len(), failures.join("\n"));
    assert!(!server.log_tail().contains("panicked"), "a handler panicked:\n{}", server.log_tail());
}

#[test]
fn every_json_body_must_be_an_object() {
    let server = Server::start(ServerOptions::with_auth(ADMIN_TOKEN));
    let hook = fixtures(&server);
    let ready = "/v1/pools/p/units/u1/ready";
    let routes = [
        ("POST", "/v1/tenants".to_string()),
        ("PUT", "/v1/tenants/default".to_string()),
        ("POST", "/v1/users".to_string()),
        ("POST", "/v1/tokens".to_string()),
        ("POST", "/v1/pools".to_string()),
        ("PUT", "/v1/pools/p".to_string()),
        ("POST", ready.to_string()),
        ("POST", "/v1/pools/p/reservations".to_string()),
        ("PUT", "/v1/tenants/default/pool-quota".to_string()),
        ("POST", "/v1/webhooks".to_string()),
        ("PUT", format!("/v1/webhooks/{hook}")),
        ("POST", format!("/v1/webhooks/{hook}/replay")),
    ];
    let tokens_before = server_tokens(&server);
    assert!(tokens_before >= 1, "the operator's own token is listed");
    // serde alone reads a struct from an array, field by field: `[]` made
    // a token as `{}` does, and `["x"]` named a tenant `x`.
    for body in ["[]", "[\"x\"]", " \n[{\"name\": \"x\"}]", "\"x\"", "42", "null", "true"] {
        for (method, path) in &routes {
            let r = send(&server, method, path, &("application/json", body.as_bytes().to_vec())).expect("answer");
            assert_eq!(r.status, 400, "{method} {path} {body}: {r}");
            assert!(r.error_text().contains("must be a JSON object"), "{method} {path} {body}: {r}");
        }
    }
    assert_eq!(server_tokens(&server), tokens_before, "no token was made");
}

/// How many tokens the operator sees.
fn server_tokens(server: &Server) -> usize {
    let r = send(server, "GET", "/v1/tokens", &("application/json", Vec::new())).expect("answer");
    assert_eq!(r.status, 200, "{r}");
    let list = r.json();
    list["tokens"].as_array().or_else(|| list.as_array()).map_or(0, Vec::len)
}

/// `/query` with `q` (form-encoded, as clients send long queries) on `db`.
fn query(server: &Server, q: &str) -> Option<Reply> {
    let form = format!("db=db&q={}", encode(q));
    send(server, "POST", "/query", &("application/x-www-form-urlencoded", form.into_bytes()))
}

#[test]
fn queries_as_deep_as_the_parser_allows_run_and_deeper_ones_are_refused() {
    let mut server = Server::start(ServerOptions::with_auth(ADMIN_TOKEN));
    fixtures(&server);
    let calls = |n: usize| format!("{}v{}", "abs(".repeat(n), ")".repeat(n));
    let nest = |levels: usize, inner: &str| {
        let mut q = format!("SELECT {inner} AS v FROM m");
        for _ in 0..levels {
            q = format!("SELECT v FROM ({q})");
        }
        q
    };
    // Accepted: a 255-deep call nest (it overflowed a 2 MiB worker stack
    // in a debug build and aborted the server), and 16 subqueries around a
    // 250-deep one.
    for q in [format!("SELECT {} FROM m", calls(255)), nest(16, &calls(250))] {
        let r = query(&server, &q).unwrap_or_else(|| panic!("no answer:\n{}", server.log_tail()));
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.json()["results"][0]["series"][0]["values"][1][1], 2.0, "{r}");
    }
    // Refused with the reason: deeper nests (1,000 subqueries aborted the
    // server before the limit).
    for (q, reason) in [
        (format!("SELECT {} FROM m", calls(5_000)), "expression is nested too deeply"),
        (nest(17, "v"), "subqueries are nested too deeply (at most 16)"),
        (nest(1_000, "v"), "subqueries are nested too deeply (at most 16)"),
    ] {
        let r = query(&server, &q).unwrap_or_else(|| panic!("no answer:\n{}", server.log_tail()));
        assert_eq!(r.status, 400, "{r}");
        assert!(r.error_text().contains(reason), "{r}");
    }
    assert!(server.is_running(), "{}", server.log_tail());
}

#[test]
fn the_frameworks_own_refusals_use_the_json_error_shape() {
    let server = Server::start(ServerOptions::with_auth(ADMIN_TOKEN));
    // A JSON body over the extractors' 2 MiB limit: 413, in JSON, with the
    // message repeated in `X-Influxdb-Error`. Sent on a raw connection: the
    // server answers before the body ends, and an HTTP client may report
    // the write it could not finish instead of the answer.
    let body = format!("{{\"name\": \"{}\"}}", "a".repeat(3 << 20));
    let mut stream = server.raw_stream();
    let head = format!(
        "POST /v1/pools HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).expect("headers");
    let _ = std::io::Write::write_all(&mut stream, body.as_bytes());
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{:.300}", answer);
    assert!(answer.contains("application/json"), "{:.600}", answer);
    assert!(answer
        .to_ascii_lowercase()
        .contains("x-influxdb-error: failed to buffer the request body: length limit exceeded"));
    assert!(
        answer.ends_with("{\"error\":\"Failed to buffer the request body: length limit exceeded\"}"),
        "{:.600}",
        answer
    );
    // A path segment that is not UTF-8: 400, in JSON.
    let r = send(&server, "GET", "/v1/pools/%FF", &("application/json", Vec::new())).expect("answer");
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().contains("Invalid UTF-8"), "{r}");
}
