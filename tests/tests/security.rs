//! Accounts, tenancy and authentication against the real binary.
//!
//! The matrix test enumerates every route constant in
//! `server/src/http/routes.rs` and sends, for each, requests with no,
//! invalid, expired and revoked credentials and as each role (operator,
//! tenant admin, writer, reader) against its own tenant's database and
//! another tenant's, checking the status of each. A route added to
//! `routes.rs` without an entry here fails the test, so no endpoint can
//! ship without an access policy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use augur_tests::{declared_routes, encode, Reply, Server, ServerOptions};
use reqwest::blocking::RequestBuilder;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

const ADMIN_TOKEN: &str = "augur_test_operator_token_0123456789abcdef";

/// How a request authenticates.
#[derive(Clone, Debug)]
enum Cred {
    None,
    Token(String),
    Basic(String, String),
    UrlParams(String, String),
}

fn send(server: &Server, cred: &Cred, method: &str, path: &str, body: Option<(&str, String)>) -> Reply {
    // A client without the harness's default admin token.
    let client = reqwest::blocking::Client::builder().no_proxy().build().expect("client");
    let mut url = server.url(path);
    if let Cred::UrlParams(u, p) = cred {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("u={}&p={}", encode(u), encode(p)));
    }
    let mut request: RequestBuilder = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        other => panic!("method {other}"),
    };
    match cred {
        Cred::Token(t) => request = request.header(AUTHORIZATION, format!("Token {t}")),
        Cred::Basic(u, p) => request = request.basic_auth(u, Some(p)),
        Cred::None | Cred::UrlParams(..) => {}
    }
    if let Some((content_type, body)) = body {
        request = request.header(CONTENT_TYPE, content_type).body(body);
    }
    server.send(request)
}

fn json_body(value: serde_json::Value) -> Option<(&'static str, String)> {
    Some(("application/json", value.to_string()))
}

/// A pool definition reading `db` (placeholders allowed).
fn pool_body(name: &str, db: &str) -> Option<(&'static str, String)> {
    json_body(serde_json::json!({
        "name": name,
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}],
        "max": 2,
        "demand": {"cpu_cores": {"database": db, "query": "SELECT sum(v) FROM m GROUP BY time(1m)"}},
    }))
}

fn form(q: &str) -> Option<(&'static str, String)> {
    // Placeholders ({db}, {tenant}) stay readable for the substitution.
    Some(("application/x-www-form-urlencoded", format!("q={}", encode(q)).replace("%7Bdb%7D", "{db}")))
}

/// The tenants, users and tokens every test here starts from.
struct World {
    server: Server,
    tokens: BTreeMap<&'static str, String>,
}

impl World {
    fn new(options: ServerOptions) -> World {
        let server = Server::start(options);
        let op = Cred::Token(ADMIN_TOKEN.into());
        for tenant in ["acme", "globex"] {
            let r = send(&server, &op, "POST", "/v1/tenants", json_body(serde_json::json!({ "name": tenant })));
            assert_eq!(r.status, 201, "{r}");
        }
        let users = [
            ("acme_admin", "acme", "admin"),
            ("acme_writer", "acme", "writer"),
            ("acme_reader", "acme", "reader"),
            ("globex_admin", "globex", "admin"),
        ];
        let mut tokens = BTreeMap::new();
        tokens.insert("operator", ADMIN_TOKEN.to_string());
        for (name, tenant, role) in users {
            let body = serde_json::json!({ "name": name, "tenant": tenant, "role": role, "password": format!("{name}-password") });
            let r = send(&server, &op, "POST", "/v1/users", json_body(body));
            assert_eq!(r.status, 201, "{r}");
            let r = send(&server, &op, "POST", "/v1/tokens", json_body(serde_json::json!({ "user": name })));
            assert_eq!(r.status, 201, "{r}");
            tokens.insert(name, r.json()["token"].as_str().expect("token").to_string());
        }
        let world = World { server, tokens };
        // Each tenant's admin creates its database; grants for the others.
        world.query_ok(
            "acme_admin",
            "CREATE DATABASE acme_db; GRANT ALL ON acme_db TO acme_writer; GRANT ALL ON acme_db TO acme_reader",
        );
        world.query_ok("globex_admin", "CREATE DATABASE globex_db");
        // A pool named `p` in each tenant, for the pool routes' probes.
        for (user, db) in [("acme_admin", "acme_db"), ("globex_admin", "globex_db")] {
            let r = send(&world.server, &world.cred(user), "POST", "/v1/pools", pool_body("p", db));
            assert_eq!(r.status, 201, "{r}");
        }
        for (user, db) in [("acme_admin", "acme_db"), ("globex_admin", "globex_db")] {
            let r = send(
                &world.server,
                &world.cred(user),
                "POST",
                &format!("/write?db={db}"),
                Some(("text/plain", "m v=1 1".into())),
            );
            assert_eq!(r.status, 204, "{r}");
        }
        world
    }

    fn cred(&self, user: &str) -> Cred {
        Cred::Token(self.tokens[user].clone())
    }

    fn query_ok(&self, user: &str, q: &str) -> serde_json::Value {
        let r = send(&self.server, &self.cred(user), "POST", "/query", form(q));
        assert_eq!(r.status, 200, "{user}: {q}: {r}");
        let json = r.json();
        for result in json["results"].as_array().expect("results") {
            assert!(result.get("error").is_none(), "{user}: {q}: {json}");
        }
        json
    }
}

/// One probe of one route: the request and, per caller, the expected status.
struct Probe {
    method: &'static str,
    /// Path with `{db}` for the caller's target database.
    path: String,
    body: Option<(&'static str, String)>,
    /// Status for (role, same tenant?); roles: operator, admin, writer, reader.
    expect: fn(&str, bool) -> u16,
    /// Whether the route is open without credentials (probes).
    open: bool,
}

fn probe(
    method: &'static str,
    path: &str,
    body: Option<(&'static str, String)>,
    expect: fn(&str, bool) -> u16,
) -> Probe {
    Probe { method, path: path.to_string(), body, expect, open: false }
}

/// A webhook subscription of the target tenant: its admins and operators
/// reach it, other tenants' admins see 404, writers and readers 403.
fn webhook(role: &str, same: bool, ok: u16) -> u16 {
    match role {
        "operator" => ok,
        "admin" if same => ok,
        "admin" => 404,
        _ => 403,
    }
}

/// Data access: allowed in one's own tenant per `allowed`, 403 elsewhere; operators everywhere.
fn data(role: &str, same: bool, ok: u16, allowed: &[&str]) -> u16 {
    if role == "operator" || (same && allowed.contains(&role)) {
        ok
    } else {
        403
    }
}

fn probes_for(
    route: &str,
    tenant: &str,
    fresh_token_id: &dyn Fn(&str) -> String,
    fresh_webhook_id: &dyn Fn(&str) -> String,
) -> Vec<Probe> {
    let lp = || Some(("text/plain", "m v=2 2".to_string()));
    match route {
        "PING" | "HEALTH" => {
            let (path, status) = if route == "PING" { ("/ping", 204) } else { ("/health", 200) };
            vec![Probe {
                method: "GET",
                path: path.into(),
                body: None,
                expect: if status == 204 { |_, _| 204 } else { |_, _| 200 },
                open: true,
            }]
        }
        // The dashboard's page and files hold no data: open to everyone
        // (what it shows comes from the routes below, with the caller's token).
        "DASHBOARD" | "DASHBOARD_ASSET" => {
            let path = if route == "DASHBOARD" { "/" } else { "/ui/app.js" };
            vec![Probe { method: "GET", path: path.into(), body: None, expect: |_, _| 200, open: true }]
        }
        "WRITE" => vec![probe("POST", "/write?db={db}", lp(), |r, s| data(r, s, 204, &["admin", "writer"]))],
        // The snappy block of an empty WriteRequest is the single byte 0.
        "REMOTE_WRITE" => vec![probe(
            "POST",
            "/api/v1/write?db={db}",
            Some(("application/x-protobuf", "\u{0}".to_string())),
            |r, s| data(r, s, 204, &["admin", "writer"]),
        )],
        "API_V2_WRITE" => {
            vec![probe("POST", "/api/v2/write?bucket={db}", lp(), |r, s| data(r, s, 204, &["admin", "writer"]))]
        }
        "QUERY" => vec![
            probe("GET", "/query?db={db}&q=SELECT%20*%20FROM%20m", None, |r, s| {
                data(r, s, 200, &["admin", "writer", "reader"])
            }),
            probe("GET", "/query?q=SELECT%20*%20FROM%20%2F.*%2F&db={db}", None, |r, s| {
                data(r, s, 200, &["admin", "writer", "reader"])
            }),
            probe("POST", "/query?db={db}", form("DELETE FROM nothing_here"), |r, s| {
                data(r, s, 200, &["admin", "writer"])
            }),
            probe(
                "POST",
                "/query",
                form("CREATE RETENTION POLICY rp_probe ON {db} DURATION 1d REPLICATION 1"),
                |r, s| data(r, s, 200, &["admin"]),
            ),
            probe("GET", "/query?q=SHOW%20USERS", None, |r, _| if r == "operator" || r == "admin" { 200 } else { 403 }),
        ],
        "EXPORT" => {
            vec![probe("GET", "/api/v1/export?db={db}", None, |r, s| data(r, s, 200, &["admin", "writer", "reader"]))]
        }
        "VERIFY" => vec![probe("GET", "/api/v1/verify", None, |r, _| if r == "operator" { 200 } else { 403 })],
        // Names every tenant, pool and database: operators only.
        "METRICS" => vec![probe("GET", "/metrics", None, |r, _| if r == "operator" { 200 } else { 403 })],
        "TENANTS" => vec![
            probe("GET", "/v1/tenants", None, |r, _| if r == "operator" || r == "admin" { 200 } else { 403 }),
            probe("POST", "/v1/tenants", json_body(serde_json::json!({"name": "probe_tenant_{n}"})), |r, _| {
                if r == "operator" {
                    201
                } else {
                    403
                }
            }),
        ],
        "TENANT" => vec![
            probe(
                "GET",
                "/v1/tenants/{tenant}",
                None,
                |r, s| if r == "operator" || (r == "admin" && s) { 200 } else { 404 },
            ),
            probe("PUT", "/v1/tenants/{tenant}", json_body(serde_json::json!({"collect_location": false})), |r, _| {
                if r == "operator" {
                    200
                } else {
                    403
                }
            }),
        ],
        "USERS" => vec![
            probe("GET", "/v1/users", None, |r, _| if r == "operator" || r == "admin" { 200 } else { 403 }),
            probe(
                "POST",
                "/v1/users",
                json_body(serde_json::json!({"name": "probe_user_{n}", "tenant": "{tenant}"})),
                |r, s| {
                    if r == "operator" || (r == "admin" && s) {
                        201
                    } else {
                        403
                    }
                },
            ),
        ],
        "TOKENS" => vec![
            probe("GET", "/v1/tokens", None, |_, _| 200),
            probe("POST", "/v1/tokens", json_body(serde_json::json!({"description": "probe"})), |_, _| 201),
        ],
        "TOKEN" => {
            // A fresh token of the target tenant's user per probe
            // (acme_reader or globex_admin), revoked by the caller.
            let id = fresh_token_id(tenant);
            vec![probe("DELETE", &format!("/v1/tokens/{id}"), None, |r, s| {
                if r == "operator" || (r == "admin" && s) || (r == "reader" && s) {
                    200
                } else {
                    404
                }
            })]
        }
        "AUDIT" => {
            vec![probe("GET", "/v1/audit", None, |r, _| if r == "operator" || r == "admin" { 200 } else { 403 })]
        }
        "POOLS" => vec![
            probe("GET", "/v1/pools?tenant={tenant}", None, |r, s| if r == "operator" || s { 200 } else { 403 }),
            probe("POST", "/v1/pools?tenant={tenant}", pool_body("probe_{n}", "{db}"), |r, s| {
                data(r, s, 201, &["admin"])
            }),
        ],
        "POOL" => vec![
            probe("GET", "/v1/pools/p?tenant={tenant}", None, |r, s| if r == "operator" || s { 200 } else { 404 }),
            probe("PUT", "/v1/pools/p?tenant={tenant}", pool_body("p", "{db}"), |r, s| match (r, s) {
                ("operator", _) | ("admin", true) => 200,
                (_, true) => 403,
                _ => 404,
            }),
            probe("DELETE", "/v1/pools/nothing_{n}?tenant={tenant}", None, |r, s| match (r, s) {
                ("writer" | "reader", true) => 403,
                _ => 404,
            }),
        ],
        "POOL_UNIT_READY" => vec![probe(
            "POST",
            "/v1/pools/p/units/u999999/ready?tenant={tenant}",
            json_body(serde_json::json!({"address": "127.0.0.1:9"})),
            |r, s| if r == "reader" && s { 403 } else { 404 },
        )],
        // The pools have no history: a plan is refused as too short (400) to those who may read it.
        "POOL_PLAN" => {
            vec![probe(
                "GET",
                "/v1/pools/p/plan?tenant={tenant}",
                None,
                |r, s| {
                    if r == "operator" || s {
                        400
                    } else {
                        404
                    }
                },
            )]
        }
        "POOL_RESERVATIONS" => vec![
            probe("GET", "/v1/pools/p/reservations?tenant={tenant}", None, |r, s| {
                if r == "operator" || s {
                    200
                } else {
                    404
                }
            }),
            probe(
                "POST",
                "/v1/pools/p/reservations?tenant={tenant}",
                json_body(serde_json::json!({"account": "probe_{n}", "demand": {"cpu_cores": {"amount": 1}}})),
                |r, s| match (r, s) {
                    ("operator", _) | ("admin", true) => 201,
                    (_, true) => 403,
                    _ => 404,
                },
            ),
        ],
        "POOL_RESERVATION" => {
            vec![probe("DELETE", "/v1/pools/p/reservations/nobody?tenant={tenant}", None, |r, s| match (r, s) {
                ("writer" | "reader", true) => 403,
                _ => 404,
            })]
        }
        "POOL_TARGETS" => vec![probe("GET", "/v1/pools/p/targets?tenant={tenant}", None, |r, s| {
            if r == "operator" || s {
                200
            } else {
                404
            }
        })],
        // A tenant's capacity quota: operators set and lift it (a tenant
        // does not set its own budget); the tenant's members read it;
        // another tenant's is 404. The operator's last PUT leaves one in
        // place for the other roles' GET.
        "TENANT_POOL_QUOTA" => {
            let quota = || json_body(serde_json::json!({"limits": {"cpu_cores": 1_000_000}}));
            let change = |ok: u16| -> fn(&str, bool) -> u16 {
                if ok == 200 {
                    |r, s| match (r, s) {
                        ("operator", _) => 200,
                        (_, true) => 403,
                        _ => 404,
                    }
                } else {
                    |r, s| match (r, s) {
                        ("operator", _) => 204,
                        (_, true) => 403,
                        _ => 404,
                    }
                }
            };
            vec![
                probe("PUT", "/v1/tenants/{tenant}/pool-quota", quota(), change(200)),
                probe(
                    "GET",
                    "/v1/tenants/{tenant}/pool-quota",
                    None,
                    |r, s| {
                        if r == "operator" || s {
                            200
                        } else {
                            404
                        }
                    },
                ),
                probe("DELETE", "/v1/tenants/{tenant}/pool-quota", None, change(204)),
                probe("PUT", "/v1/tenants/{tenant}/pool-quota", quota(), change(200)),
            ]
        }
        // Webhooks: admins manage their tenant's subscriptions, operators
        // all; another tenant's is 404; writers and readers get 403.
        "WEBHOOKS" => vec![
            probe("GET", "/v1/webhooks", None, |r, _| if r == "operator" || r == "admin" { 200 } else { 403 }),
            probe(
                "POST",
                "/v1/webhooks",
                json_body(serde_json::json!({"url": "https://hooks.example.com/probe", "types": ["io.augur.pool.*"]})),
                |r, _| if r == "operator" || r == "admin" { 201 } else { 403 },
            ),
        ],
        "WEBHOOK" => {
            // A subscription of the target tenant (made by its admin); deleted last.
            let id = fresh_webhook_id(tenant);
            vec![
                probe("GET", &format!("/v1/webhooks/{id}"), None, |r, s| webhook(r, s, 200)),
                probe(
                    "PUT",
                    &format!("/v1/webhooks/{id}"),
                    json_body(serde_json::json!({"description": "probe"})),
                    |r, s| webhook(r, s, 200),
                ),
                probe("DELETE", &format!("/v1/webhooks/{id}"), None, |r, s| webhook(r, s, 204)),
            ]
        }
        "WEBHOOK_DELIVERIES" => {
            let id = fresh_webhook_id(tenant);
            vec![probe("GET", &format!("/v1/webhooks/{id}/deliveries"), None, |r, s| webhook(r, s, 200))]
        }
        "WEBHOOK_REPLAY" => {
            let id = fresh_webhook_id(tenant);
            vec![probe("POST", &format!("/v1/webhooks/{id}/replay"), None, |r, s| webhook(r, s, 202))]
        }
        "WEBHOOK_TEST" => {
            let id = fresh_webhook_id(tenant);
            vec![probe("POST", &format!("/v1/webhooks/{id}/test"), None, |r, s| webhook(r, s, 202))]
        }
        other => panic!("route {other} (in server/src/http/routes.rs) has no access policy in tests/tests/security.rs"),
    }
}

#[test]
fn every_route_enforces_its_policy_for_every_role_tenant_and_credential() {
    // Hundreds of bad credentials from one address: no brute-force limit here.
    // Hundreds of probe subscriptions per tenant: no subscription limit either.
    let options = ServerOptions {
        config: Some("[auth]\nmax_failures = 0\n[webhooks]\nmax_subscriptions_per_tenant = 100000\n".into()),
        ..ServerOptions::with_auth(ADMIN_TOKEN)
    };
    let world = World::new(options);
    let server = &world.server;
    // Expired and revoked tokens of the acme admin.
    let op = Cred::Token(ADMIN_TOKEN.into());
    let r = send(
        server,
        &op,
        "POST",
        "/v1/tokens",
        json_body(serde_json::json!({"user": "acme_admin", "expires_in": "1ms"})),
    );
    assert_eq!(r.status, 201, "{r}");
    let expired = r.json()["token"].as_str().expect("token").to_string();
    let r = send(server, &op, "POST", "/v1/tokens", json_body(serde_json::json!({"user": "acme_admin"})));
    let revoked = r.json()["token"].as_str().expect("token").to_string();
    let revoked_id = r.json()["id"].as_str().expect("id").to_string();
    assert_eq!(send(server, &op, "DELETE", &format!("/v1/tokens/{revoked_id}"), None).status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(server, &Cred::Token(expired.clone()), "GET", "/v1/tokens", None).status != 401 {
        assert!(Instant::now() < deadline, "the 1ms token never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    let bad_creds = [
        ("none", Cred::None),
        ("invalid token", Cred::Token("augur_not_a_real_token".into())),
        ("wrong password", Cred::Basic("acme_admin".into(), "wrong-password".into())),
        ("expired", Cred::Token(expired)),
        ("revoked", Cred::Token(revoked)),
    ];
    let callers = [
        ("operator", "operator", "acme"),
        ("admin", "acme_admin", "acme"),
        ("writer", "acme_writer", "acme"),
        ("reader", "acme_reader", "acme"),
    ];
    let counter = std::cell::Cell::new(0u32);
    let fresh_token_id = |tenant: &str| {
        let user = if tenant == "acme" { "acme_reader" } else { "globex_admin" };
        let r = send(server, &op, "POST", "/v1/tokens", json_body(serde_json::json!({"user": user})));
        assert_eq!(r.status, 201, "{r}");
        r.json()["id"].as_str().expect("id").to_string()
    };
    let fresh_webhook_id = |tenant: &str| {
        let admin = if tenant == "acme" { "acme_admin" } else { "globex_admin" };
        let body = json_body(serde_json::json!({"url": "https://hooks.example.com/probe"}));
        let r = send(server, &world.cred(admin), "POST", "/v1/webhooks", body);
        assert_eq!(r.status, 201, "{r}");
        r.json()["id"].as_str().expect("id").to_string()
    };
    let routes = declared_routes();
    assert!(routes.len() >= 13, "routes.rs parsed to {routes:?}");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, path) in &routes {
        // Probes are built once per caller × tenant so that one-shot
        // requests (token revocation) get a fresh target each time.
        for (label, cred) in &bad_creds {
            for p in probes_for(name, "acme", &fresh_token_id, &fresh_webhook_id) {
                let n = counter.get() + 1;
                counter.set(n);
                let target =
                    p.path.replace("{db}", "acme_db").replace("{tenant}", "acme").replace("{n}", &n.to_string());
                let body = p.body.map(|(t, b)| {
                    (t, b.replace("{db}", "acme_db").replace("{tenant}", "acme").replace("{n}", &n.to_string()))
                });
                let r = send(server, cred, p.method, &target, body);
                let want = if p.open { (p.expect)("operator", true) } else { 401 };
                checked += 1;
                if r.status != want {
                    failures.push(format!(
                        "{name} {path}: {} {target} with {label} credential: want {want}, got {r}",
                        p.method
                    ));
                }
            }
        }
        for (role, user, _) in &callers {
            for (same, tenant, db) in [(true, "acme", "acme_db"), (false, "globex", "globex_db")] {
                for p in probes_for(name, tenant, &fresh_token_id, &fresh_webhook_id) {
                    let n = counter.get() + 1;
                    counter.set(n);
                    let fill =
                        |s: &str| s.replace("{db}", db).replace("{tenant}", tenant).replace("{n}", &n.to_string());
                    let target = fill(&p.path);
                    let body = p.body.as_ref().map(|(t, b)| (*t, fill(b)));
                    let r = send(server, &world.cred(user), p.method, &target, body);
                    let want = (p.expect)(role, same);
                    checked += 1;
                    if r.status != want {
                        failures.push(format!(
                            "{name} {path}: {} {target} as {role} ({user}), same tenant {same}: want {want}, got {r}",
                            p.method
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 250, "only {checked} checks ran");
}

#[test]
fn tenants_see_only_their_own_databases_users_and_audit() {
    let world = World::new(ServerOptions::with_auth(ADMIN_TOKEN));
    let names = |json: &serde_json::Value| -> Vec<String> {
        json["results"][0]["series"][0]["values"]
            .as_array()
            .map(|rows| rows.iter().map(|r| r[0].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(names(&world.query_ok("acme_writer", "SHOW DATABASES")), ["acme_db"]);
    assert_eq!(names(&world.query_ok("globex_admin", "SHOW DATABASES")), ["globex_db"]);
    let all = names(&world.query_ok("operator", "SHOW DATABASES"));
    assert!(all.contains(&"acme_db".to_string()) && all.contains(&"globex_db".to_string()), "{all:?}");
    assert_eq!(names(&world.query_ok("acme_admin", "SHOW USERS")), ["acme_admin", "acme_reader", "acme_writer"]);
    let grants = world.query_ok("acme_admin", "SHOW GRANTS FOR acme_reader");
    assert_eq!(grants["results"][0]["series"][0]["values"], serde_json::json!([["acme_db", "ALL PRIVILEGES"]]));
    // Another tenant's user looks like no user at all.
    let r = send(&world.server, &world.cred("acme_admin"), "POST", "/query", form("DROP USER globex_admin"));
    assert_eq!(r.json()["results"][0]["error"], "user not found", "{r}");
    // A reader holding ALL on a database still cannot write: the role caps it.
    let r = send(
        &world.server,
        &world.cred("acme_reader"),
        "POST",
        "/write?db=acme_db",
        Some(("text/plain", "m v=3 3".into())),
    );
    assert_eq!(r.status, 403, "{r}");
    assert!(r.error_text().contains("not authorized to write"), "{r}");
    // Creating a database under another tenant's name is refused.
    let r = send(&world.server, &world.cred("acme_admin"), "POST", "/query", form("CREATE DATABASE globex_db"));
    assert_eq!(r.status, 403, "{r}");
    // Subqueries and INTO reach other databases only with rights there.
    let r = send(
        &world.server,
        &world.cred("acme_admin"),
        "POST",
        "/query?db=acme_db",
        form("SELECT v INTO acme_db..copy FROM (SELECT v FROM globex_db..m)"),
    );
    assert_eq!(r.status, 403, "{r}");
    assert!(r.error_text().contains("requires READ on globex_db"), "{r}");
    // The audit log: a tenant admin sees its tenant's changes only.
    let r = send(&world.server, &world.cred("acme_admin"), "GET", "/v1/audit?limit=1000", None);
    assert_eq!(r.status, 200, "{r}");
    let events = r.json();
    let events = events.as_array().expect("array");
    assert!(events.iter().all(|e| e["tenant"] == "acme"), "{events:?}");
    assert!(
        events.iter().any(|e| e["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("GRANT ALL PRIVILEGES ON acme_db TO acme_writer"))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["outcome"].as_str().is_some_and(|o| o.starts_with("denied"))),
        "the denied CREATE DATABASE: {events:?}"
    );
    assert!(
        events.iter().any(|e| e["action"] == "create pool p" && e["outcome"] == "ok"),
        "pool changes are audited: {events:?}"
    );
    // A pool's demand may only read its own tenant's databases.
    for (db, query) in [
        ("globex_db", "SELECT sum(v) FROM m GROUP BY time(1m)"),
        ("acme_db", "SELECT sum(v) FROM globex_db..m GROUP BY time(1m)"),
    ] {
        let mut body = serde_json::json!({
            "name": "steal", "dimensions": ["cpu_cores"],
            "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}], "max": 2,
            "demand": {"cpu_cores": {"database": db, "query": query}},
        });
        let r = send(&world.server, &world.cred("acme_admin"), "POST", "/v1/pools", json_body(body.clone()));
        assert_eq!(r.status, 403, "{r}");
        assert!(r.error_text().contains("not authorized to read database globex_db"), "{r}");
        // Naming another tenant in the body is refused as well.
        body["tenant"] = serde_json::json!("globex");
        let r = send(&world.server, &world.cred("acme_admin"), "POST", "/v1/pools", json_body(body));
        assert_eq!(r.status, 403, "{r}");
    }
    // Commands and sockets on the server's machine are for operators only.
    for (key, value) in [
        ("provider", serde_json::json!({"kind": "exec", "start": ["true"], "stop": ["true"]})),
        ("haproxy", serde_json::json!({"socket": "/run/haproxy/admin.sock", "backend": "web"})),
    ] {
        let mut body = serde_json::json!({
            "name": "local", "dimensions": ["cpu_cores"],
            "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}], "max": 2,
            "demand": {"cpu_cores": {"database": "acme_db", "query": "SELECT sum(v) FROM m GROUP BY time(1m)"}},
        });
        body[key] = value;
        let r = send(&world.server, &world.cred("acme_admin"), "POST", "/v1/pools", json_body(body.clone()));
        assert_eq!(r.status, 403, "{key}: {r}");
        assert!(r.error_text().contains("only operators"), "{r}");
        let r = send(&world.server, &world.cred("operator"), "POST", "/v1/pools?tenant=acme", json_body(body));
        assert_eq!(r.status, 201, "{key}: {r}");
        let r = send(&world.server, &world.cred("operator"), "DELETE", "/v1/pools/local?tenant=acme", None);
        assert_eq!(r.status, 204, "{r}");
    }
    // Another tenant's pool of the same name is a different pool.
    let r = send(&world.server, &world.cred("globex_admin"), "GET", "/v1/pools/p", None);
    assert_eq!(r.json()["spec"]["demand"]["cpu_cores"]["database"], "globex_db", "{r}");
    // SHOW QUERIES lists the caller's tenant's requests (here: itself);
    // KILL QUERY needs a tenant admin and cannot reach another tenant's.
    let shown = world.query_ok("acme_reader", "SHOW QUERIES");
    assert_eq!(shown["results"][0]["series"][0]["values"][0][1], "SHOW QUERIES", "{shown}");
    let r = send(&world.server, &world.cred("acme_writer"), "POST", "/query", form("KILL QUERY 1"));
    assert_eq!(r.status, 403, "{r}");
    assert!(r.error_text().contains("requires admin privilege"), "{r}");
    let r = send(&world.server, &world.cred("acme_admin"), "POST", "/query", form("KILL QUERY 999999"));
    assert_eq!(r.json()["results"][0]["error"], "no such query id: 999999", "{r}");
}

#[test]
fn influxql_user_statements_and_every_credential_form() {
    let server = Server::start(ServerOptions::with_auth(ADMIN_TOKEN));
    server.query("CREATE USER ann WITH PASSWORD 'ann-secret-1' WITH ALL PRIVILEGES; CREATE USER bob WITH PASSWORD 'bob-secret-1'");
    server.query("CREATE DATABASE db; GRANT READ ON db TO bob");
    let users = server.query("SHOW USERS");
    assert_eq!(
        users["results"][0]["series"][0]["values"],
        serde_json::json!([
            ["admin", true, "default", "admin"],
            ["ann", true, "default", "admin"],
            ["bob", false, "default", "writer"]
        ])
    );
    for cred in [Cred::Basic("bob".into(), "bob-secret-1".into()), Cred::UrlParams("bob".into(), "bob-secret-1".into())]
    {
        let r = send(&server, &cred, "GET", "/query?db=db&q=SHOW%20MEASUREMENTS", None);
        assert_eq!(r.status, 200, "{cred:?}: {r}");
        let r = send(&server, &cred, "POST", "/write?db=db", Some(("text/plain", "m v=1 1".into())));
        assert_eq!(r.status, 403, "bob may only read: {r}");
    }
    // Bob changes his own password; the old one stops working at once.
    let bob = Cred::Basic("bob".into(), "bob-secret-1".into());
    let r = send(&server, &bob, "POST", "/query", form("SET PASSWORD FOR bob = 'bob-secret-2'"));
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(send(&server, &bob, "GET", "/query?q=SHOW%20DATABASES", None).status, 401);
    let bob2 = Cred::Basic("bob".into(), "bob-secret-2".into());
    assert_eq!(send(&server, &bob2, "GET", "/query?q=SHOW%20DATABASES", None).status, 200);
    // ... but not someone else's.
    let r = send(&server, &bob2, "POST", "/query", form("SET PASSWORD FOR ann = 'stolen-password'"));
    assert_eq!(r.status, 403, "{r}");
    // GRANT WRITE makes READ + WRITE = ALL; REVOKE takes it back.
    server.query("GRANT WRITE ON db TO bob");
    assert_eq!(send(&server, &bob2, "POST", "/write?db=db", Some(("text/plain", "m v=1 1".into()))).status, 204);
    server.query("REVOKE ALL ON db FROM bob");
    assert_eq!(send(&server, &bob2, "GET", "/query?db=db&q=SELECT%20*%20FROM%20m", None).status, 403);
    // A token as the password of its own user (InfluxDB 2 compatibility).
    let r = send(
        &server,
        &Cred::Token(ADMIN_TOKEN.into()),
        "POST",
        "/v1/tokens",
        json_body(serde_json::json!({"user": "ann"})),
    );
    let ann_token = r.json()["token"].as_str().expect("token").to_string();
    assert_eq!(
        send(&server, &Cred::Basic("ann".into(), ann_token.clone()), "GET", "/query?q=SHOW%20USERS", None).status,
        200
    );
    assert_eq!(send(&server, &Cred::Basic("bob".into(), ann_token), "GET", "/query?q=SHOW%20USERS", None).status, 401);
    // Weak passwords and duplicate users are refused with a reason.
    let r = server.query_raw("CREATE USER carl WITH PASSWORD 'short'", None);
    assert!(r.body.contains("password must be at least 8 characters"), "{r}");
    let r = server.query_raw("CREATE USER bob WITH PASSWORD 'long-enough'", None);
    assert!(r.body.contains("user already exists"), "{r}");
    // Passwords never show up in the audit log.
    let audit = send(&server, &Cred::Token(ADMIN_TOKEN.into()), "GET", "/v1/audit?limit=1000", None);
    assert!(!audit.body.contains("bob-secret") && audit.body.contains("[REDACTED]"), "{}", audit.body);
    // DROP USER removes the login.
    server.query("DROP USER bob");
    assert_eq!(send(&server, &bob2, "GET", "/query?q=SHOW%20DATABASES", None).status, 401);
}

#[test]
fn failed_logins_are_rate_limited_per_address() {
    let options = ServerOptions {
        config: Some("[auth]\nmax_failures = 3\nfailure_window = \"1h\"\n".into()),
        ..ServerOptions::with_auth(ADMIN_TOKEN)
    };
    let server = Server::start(options);
    server.query("CREATE USER bob WITH PASSWORD 'bob-secret-1'");
    for _ in 0..3 {
        let r = send(&server, &Cred::Basic("bob".into(), "guess".into()), "GET", "/query?q=SHOW%20DATABASES", None);
        assert_eq!(r.status, 401, "{r}");
        assert_eq!(r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Basic realm=\"augur\""));
    }
    // Now even the right password is refused from this address.
    let r = send(&server, &Cred::Basic("bob".into(), "bob-secret-1".into()), "GET", "/query?q=SHOW%20DATABASES", None);
    assert_eq!(r.status, 429, "{r}");
    let retry: u64 =
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!(retry > 3000, "{retry}");
    assert!(r.error_text().contains("too many failed authentication attempts"), "{r}");
    // Probes stay open.
    assert!(server.ping());
    let failures = server.log();
    assert!(failures.contains("failed: wrong password"), "failures are audited in the log too");
}

#[test]
fn accounts_survive_kill_9_and_first_start_prints_a_token_once() {
    // No AUGUR_ADMIN_TOKEN: the first start makes one and prints it on stderr.
    let options = ServerOptions {
        admin_token: None,
        env: vec![("AUGUR_AUTH_ENABLED".into(), "true".into())],
        ..ServerOptions::default()
    };
    let mut server = Server::start(options);
    let log = server.log();
    let token = log
        .split_whitespace()
        .find(|w| w.starts_with("augur_") && w.len() == "augur_".len() + 43)
        .unwrap_or_else(|| panic!("no token in the log:\n{log}"))
        .to_string();
    let admin = Cred::Token(token.clone());
    assert_eq!(send(&server, &Cred::None, "GET", "/query?q=SHOW%20DATABASES", None).status, 401);
    let r = send(
        &server,
        &admin,
        "POST",
        "/query",
        form("CREATE USER ann WITH PASSWORD 'ann-secret-1'; CREATE DATABASE d; GRANT ALL ON d TO ann"),
    );
    assert_eq!(r.status, 200, "{r}");
    let r = send(&server, &admin, "POST", "/v1/tokens", json_body(serde_json::json!({"user": "ann"})));
    let ann_token = r.json()["token"].as_str().expect("token").to_string();
    server.kill9_restart();
    assert_eq!(server.log().matches(&token).count(), 1, "the token is printed only on the first start");
    let ann = Cred::Basic("ann".into(), "ann-secret-1".into());
    assert_eq!(send(&server, &ann, "POST", "/write?db=d", Some(("text/plain", "m v=1 1".into()))).status, 204);
    assert_eq!(send(&server, &Cred::Token(ann_token), "GET", "/query?db=d&q=SELECT%20*%20FROM%20m", None).status, 200);
    let audit = send(&server, &admin, "GET", "/v1/audit?limit=100", None);
    assert!(audit.body.contains("GRANT ALL PRIVILEGES ON d TO ann"), "{}", audit.body);
}

#[test]
fn with_auth_off_no_token_is_printed_until_auth_is_turned_on() {
    // Authentication off (`augur demo`, local trials): a first admin token
    // nobody needs would only be noise, so none is made or shown...
    let mut server = Server::start(ServerOptions::default());
    let is_token = |w: &&str| w.starts_with("augur_") && w.len() == "augur_".len() + 43;
    assert!(!server.log().split_whitespace().any(|w| is_token(&w)), "{}", server.log());
    // ... and users made meanwhile do not stop the first start with it on
    // from making the operator.
    assert_eq!(server.query_raw("CREATE USER ann WITH PASSWORD 'ann-secret-1'", None).status, 200);
    server.set_options(ServerOptions {
        admin_token: None,
        env: vec![("AUGUR_AUTH_ENABLED".into(), "true".into())],
        ..ServerOptions::default()
    });
    server.restart();
    let log = server.log();
    let token =
        log.split_whitespace().find(is_token).unwrap_or_else(|| panic!("no token in the log:\n{log}")).to_string();
    let r = send(&server, &Cred::Token(token), "GET", "/query?q=SHOW%20USERS", None);
    assert_eq!(r.status, 200, "{r}");
    assert!(r.body.contains("\"admin\",true") && r.body.contains("\"ann\",false"), "{}", r.body);
}

#[test]
fn auth_can_be_off_only_on_loopback() {
    let out = std::process::Command::new(augur_tests::augur_bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--auth-enabled", "false", "--data-dir"])
        .arg(tempfile::tempdir().expect("tempdir").path().join("d"))
        .output()
        .expect("run augur");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authentication is required when listening beyond loopback"), "{stderr}");
}

#[test]
fn tenant_limits_and_location_privacy_apply_per_tenant() {
    let world = World::new(ServerOptions::with_auth(ADMIN_TOKEN));
    let server = &world.server;
    let op = Cred::Token(ADMIN_TOKEN.into());
    let limits = serde_json::json!({"collect_location": false, "limits": {"max_points_per_second": 100, "max_select_points": 5}});
    assert_eq!(send(server, &op, "PUT", "/v1/tenants/acme", json_body(limits)).status, 200);
    let consent = serde_json::json!({"collect_location": true});
    assert_eq!(send(server, &op, "PUT", "/v1/tenants/globex", json_body(consent)).status, 200);
    let batch = |n: usize, start: usize| -> String {
        (start..start + n)
            .map(|i| format!("load,host=h{},geo=eu-west,ip=10.0.0.{} v={i} {}\n", i % 3, i % 250, 1000 + i))
            .collect()
    };
    let write = |user: &str, db: &str, body: String| {
        send(server, &world.cred(user), "POST", &format!("/write?db={db}&precision=s"), Some(("text/plain", body)))
    };
    // acme floods: its first second's worth is admitted, then 429 naming the limit.
    assert_eq!(write("acme_writer", "acme_db", batch(100, 0)).status, 204);
    let r = write("acme_writer", "acme_db", batch(100, 100));
    assert_eq!(r.status, 429, "{r}");
    assert!(r.error_text().contains("max_points_per_second") && r.error_text().contains("100 points/s"), "{r}");
    // globex is unaffected by acme's flood.
    for k in 0..5 {
        assert_eq!(write("globex_admin", "globex_db", batch(1000, 1000 * k)).status, 204);
    }
    // Location tags: dropped for acme (no consent) and counted, kept for globex.
    let acme = server.send(server.client().get(server.url("/api/v1/export?db=acme_db")));
    assert_eq!(acme.status, 200, "{acme}");
    assert!(acme.body.contains("load,host=h0 v=0"), "{}", &acme.body[..acme.body.len().min(400)]);
    assert!(!acme.body.contains("geo=") && !acme.body.contains("ip="), "location tags stored without consent");
    let globex = server.send(server.client().get(server.url("/api/v1/export?db=globex_db")));
    assert!(globex.body.contains("geo=eu-west"), "consenting tenant keeps them");
    let tenant = send(server, &op, "GET", "/v1/tenants/acme", None).json();
    assert_eq!(tenant["location_tags_dropped"], 200, "{tenant}");
    // max_select_points applies to acme's queries only.
    let r = send(server, &world.cred("acme_reader"), "GET", "/query?db=acme_db&q=SELECT%20v%20FROM%20load", None);
    assert!(r.body.contains("max-select-point limit"), "{r}");
    let r =
        send(server, &world.cred("globex_admin"), "GET", "/query?db=globex_db&q=SELECT%20count(v)%20FROM%20load", None);
    assert!(r.body.contains("5000"), "{r}");
}

/// Runs a command to completion, bounded.
fn run(cmd: &mut std::process::Command) -> std::process::Output {
    augur_tests::run_bounded(cmd, Duration::from_secs(60))
}

#[test]
fn https_with_rustls_speaks_http1_and_http2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = run(std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(
        out.status.success(),
        "openssl (tests/scripts/deps.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = std::process::Command::new(augur_tests::augur_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("AUGUR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("AUGUR_AUTH_ENABLED")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start augur");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("read the listening line");
    let addr = line.trim().strip_prefix(augur_tests::LISTENING_PREFIX).expect("listening line").to_string();
    let url = format!("https://{addr}/query?q=SHOW%20DATABASES");
    let curl = |extra: &[&str]| {
        let out = run(std::process::Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&cert)
            .args(["-H", &format!("Authorization: Token {ADMIN_TOKEN}"), "-w", "\n%{http_version} %{http_code}"])
            .args(extra)
            .arg(&url));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, h2) = curl(&["--http2"]);
    let (ok1, h1) = curl(&["--http1.1"]);
    let plain =
        run(std::process::Command::new("curl").args(["-sS", "--max-time", "10", &format!("http://{addr}/ping")]));
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok && h2.ends_with("\n2 200") && h2.contains("\"results\""), "HTTP/2 over TLS: {h2}");
    assert!(ok1 && h1.ends_with("\n1.1 200"), "HTTP/1.1 over TLS: {h1}");
    assert!(!plain.status.success(), "plain HTTP on the TLS port must fail");
}

#[test]
fn tenant_series_limit_and_account_tags() {
    let world = World::new(ServerOptions::with_auth(ADMIN_TOKEN));
    let server = &world.server;
    let op = Cred::Token(ADMIN_TOKEN.into());
    // acme_db holds one series already (`m`): four more fit under 5.
    let limits = serde_json::json!({"limits": {"max_series": 5}});
    assert_eq!(send(server, &op, "PUT", "/v1/tenants/acme", json_body(limits)).status, 200);
    let body: String = (0..6).map(|i| format!("card,host=h{i} v=1 1\n")).collect();
    let r = send(server, &world.cred("acme_writer"), "POST", "/write?db=acme_db", Some(("text/plain", body)));
    assert_eq!(r.status, 400, "{r}");
    assert!(
        r.error_text().contains("max-series-per-tenant limit exceeded") && r.error_text().contains("dropped=2"),
        "{r}"
    );
    // Existing series still take points; globex has no such limit.
    let r = send(
        server,
        &world.cred("acme_writer"),
        "POST",
        "/write?db=acme_db",
        Some(("text/plain", "card,host=h0 v=2 2".into())),
    );
    assert_eq!(r.status, 204, "{r}");
    let body: String = (0..50).map(|i| format!("card,host=h{i} v=1 1\n")).collect();
    assert_eq!(
        send(server, &world.cred("globex_admin"), "POST", "/write?db=globex_db", Some(("text/plain", body))).status,
        204
    );
    // account_tags=true: the writer's tenant, user and role become tags.
    let r = send(
        server,
        &world.cred("globex_admin"),
        "POST",
        "/write?db=globex_db&account_tags=true&precision=s",
        Some(("text/plain", "usage,augur_role=forged cpu=2 10".into())),
    );
    assert_eq!(r.status, 204, "{r}");
    let r = send(
        server,
        &world.cred("globex_admin"),
        "GET",
        "/query?db=globex_db&q=SELECT%20sum(cpu)%20FROM%20usage%20GROUP%20BY%20augur_role,augur_tenant,augur_user",
        None,
    );
    assert_eq!(
        r.json()["results"][0]["series"][0]["tags"],
        serde_json::json!({"augur_role": "admin", "augur_tenant": "globex", "augur_user": "globex_admin"}),
        "{r}"
    );
}
