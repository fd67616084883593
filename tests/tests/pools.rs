//! The pool manager end to end: the real binary, real demand written over
//! `/write`, the `exec` provider starting real unit processes, and a real
//! HAProxy routing to them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use augur_tests::{poll_until, Reply, Server, ServerOptions};
use serde_json::{json, Value};

const MINUTE_NS: i64 = 60_000_000_000;

/// A unit: an HTTP server answering its unit id (`/slow=N` waits N seconds first).
const UNIT_PY: &str = r#"
import http.server, os, sys, time
unit, port_file = sys.argv[1], sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path.startswith("/slow="):
            time.sleep(float(self.path.split("=", 1)[1]))
        body = unit.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
"#;

/// The unit scripts' first lines: the shell, and the directory they are in.
macro_rules! script_head {
    () => {
        r#"#!/bin/sh
dir=$(dirname "$0")
"#
    };
}

/// Launches the unit in the background, records its pid, waits for its port.
macro_rules! launch_unit {
    () => {
        r#"rm -f "$dir/$AUGUR_UNIT_ID.port"
nohup python3 "$dir/unit.py" "$AUGUR_UNIT_ID" "$dir/$AUGUR_UNIT_ID.port" >/dev/null 2>&1 &
echo $! > "$dir/$AUGUR_UNIT_ID.pid"
i=0
while [ ! -s "$dir/$AUGUR_UNIT_ID.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
"#
    };
}

/// The start scripts' last line: print the unit's address.
macro_rules! print_address {
    () => {
        r#"echo "127.0.0.1:$(cat "$dir/$AUGUR_UNIT_ID.port")"
"#
    };
}

/// The exec provider's start: launch the unit, print its address.
const START_SH: &str = concat!(script_head!(), launch_unit!(), print_address!());

/// The exec provider's stop.
const STOP_SH: &str = r#"#!/bin/sh
dir=$(dirname "$0")
kill "$(cat "$dir/$AUGUR_UNIT_ID.pid")"
echo "stopped $AUGUR_UNIT_ADDRESS" >> "$dir/stopped.log"
"#;

/// Writes the unit scripts into `dir`; returns (start, stop) commands.
fn unit_scripts(dir: &Path) -> (Vec<String>, Vec<String>) {
    std::fs::write(dir.join("unit.py"), UNIT_PY).expect("unit.py");
    std::fs::write(dir.join("start.sh"), START_SH).expect("start.sh");
    std::fs::write(dir.join("stop.sh"), STOP_SH).expect("stop.sh");
    let sh = |name: &str| vec!["sh".to_string(), dir.join(name).display().to_string()];
    (sh("start.sh"), sh("stop.sh"))
}

/// One point per minute for two hours, ending at the last full minute.
fn demand_history(server: &Server, db: &str, value: impl Fn(i64) -> f64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let last = now / MINUTE_NS * MINUTE_NS - MINUTE_NS;
    let mut body = String::new();
    for i in 0..120 {
        body.push_str(&format!("usage,service=web cpu={} {}\n", value(i), last - (119 - i) * MINUTE_NS));
    }
    server.write_ok(db, body);
}

fn post_json(server: &Server, path: &str, body: &Value) -> Reply {
    server.send(server.client().post(server.url(path)).json(body))
}

fn put_json(server: &Server, path: &str, body: &Value) -> Reply {
    server.send(server.client().put(server.url(path)).json(body))
}

/// A pool of one-core units driven by `sum(cpu)` of service web.
fn pool_body(name: &str, start: &[String], stop: &[String]) -> Value {
    json!({
        "name": name,
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "core2", "capacity": {"cpu_cores": 2}, "hourly_cost": 0.1}],
        "min": 1, "max": 30,
        "lead_time": "10m", "interval": "1s", "history": "3h",
        "safety": {"quantile": 95, "margin_pct": 0},
        "demand": {"cpu_cores": {"database": "infra",
            "query": "SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time(1m)"}},
        "provider": {"kind": "exec", "start": start, "stop": stop},
    })
}

fn http_get_body(address: &str, path: &str) -> Option<String> {
    let client = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().ok()?;
    let r = client.get(format!("http://{address}{path}")).send().ok()?;
    if r.status().is_success() {
        r.text().ok()
    } else {
        None
    }
}

fn ready_units(pool: &Value) -> Vec<(String, String)> {
    pool["units"]
        .as_array()
        .map(|units| {
            units
                .iter()
                .filter(|u| u["state"] == "ready")
                .map(|u| {
                    (
                        u["id"].as_str().unwrap_or_default().to_string(),
                        u["address"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until more than `at_least` units are ready, as many as the last
/// decision asked for; returns the pool and its usage, forecast and ready
/// capacity.
fn ready_as_decided(server: &Server, what: &str, at_least: u64) -> (Value, f64, f64, f64) {
    let pool = poll_until(server, what, Duration::from_secs(90), || {
        let pool = server.get("/v1/pools/web").json();
        let desired: u64 = pool["last_decision"]["desired"].as_array()?.iter().filter_map(Value::as_u64).sum();
        (desired > at_least && pool["units_by_state"]["ready"].as_u64() == Some(desired)).then_some(pool)
    });
    let usage = pool["demand"]["cpu_cores"]["usage"].as_f64().expect("usage");
    let forecast = pool["demand"]["cpu_cores"]["forecast"].as_f64().expect("forecast");
    let ready = pool["ready_capacity"]["cpu_cores"].as_f64().expect("ready capacity");
    (pool, usage, forecast, ready)
}

#[test]
fn a_pool_provisions_real_units_ahead_of_rising_demand_and_survives_kill_9() {
    let mut server = Server::start(ServerOptions::default());
    server.create_database("infra");
    // Demand rising 0.1 core per minute: 2 → 13.9 cores.
    demand_history(&server, "infra", |i| 2.0 + 0.1 * i as f64);
    let (start, stop) = unit_scripts(server.scratch_dir());
    let r = post_json(&server, "/v1/pools", &pool_body("web", &start, &stop));
    assert_eq!(r.status, 201, "{r}");

    // Every unit the decision asked for becomes ready.
    let (pool, usage, forecast, ready) = ready_as_decided(&server, "the pool's units to be ready", 0);
    assert!((usage - 13.9).abs() < 1e-6, "usage is the last complete minute: {pool}");
    assert!(forecast > usage + 0.5, "the trend continues 10 minutes ahead: {forecast} vs {usage}");
    assert!(ready >= forecast, "capacity for the demand that has not arrived yet: {ready} < {forecast}");
    assert!(pool["last_decision"]["reason"].as_str().unwrap_or_default().contains("required"), "{pool}");
    assert_eq!(pool["forecast_fallback"], false);

    // The units are real: each answers with its id, and service discovery lists them.
    let units = ready_units(&pool);
    for (id, address) in &units {
        assert_eq!(http_get_body(address, "/").as_deref(), Some(id.as_str()), "unit {id} at {address}");
    }
    let targets = server.get("/v1/pools/web/targets").json();
    let listed: BTreeSet<String> = targets[0]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(listed, units.iter().map(|(_, a)| a.clone()).collect::<BTreeSet<_>>());
    assert_eq!(targets[0]["labels"]["augur_pool"], "web");

    // kill -9: the pool, its units and the allocator's memory come back.
    server.kill9_restart();
    let after = server.get("/v1/pools/web").json();
    assert_eq!(ready_units(&after), units, "{after}");
    assert_eq!(after["last_decision"]["desired"], pool["last_decision"]["desired"]);

    // Deleting the pool stops every unit.
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    assert_eq!(server.get("/v1/pools/web").status, 404);
    for (id, address) in &units {
        poll_until(&server, &format!("unit {id} to stop"), Duration::from_secs(30), || {
            http_get_body(address, "/").is_none().then_some(())
        });
    }
}

#[test]
fn bad_definitions_are_rejected_naming_the_field() {
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    let good = pool_body("web", &["true".into()], &["true".into()]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"min": 10, "max": 5}), "min"),
        (json!({"dimensions": ["cpu_cores", "tpus"]}), "tpus"),
        (json!({"name": "has space"}), "name"),
        (json!({"shapes": []}), "shapes"),
        (json!({"lead_time": "five minutes"}), "lead_time"),
        (json!({"safety": {"quantile": 120}}), "safety.quantile"),
        (
            json!({"demand": {"cpu_cores": {"database": "infra", "query": "SELEC sum(cpu) FROM usage"}}}),
            "demand.cpu_cores.query",
        ),
        (
            json!({"demand": {"cpu_cores": {"database": "infra", "query": "SELECT sum(cpu) FROM usage"}}}),
            "GROUP BY time",
        ),
        (json!({"provider": {"kind": "exec", "start": [], "stop": ["true"]}}), "provider.start"),
    ];
    for (patch, field) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = post_json(&server, "/v1/pools", &body);
        assert_eq!(r.status, 400, "{patch}: {r}");
        assert!(r.error_text().contains(field), "{patch}: the error names {field}: {r}");
    }
    let r = server.send(server.client().post(server.url("/v1/pools")).body("{not json"));
    assert_eq!(r.status, 400, "{r}");
    assert!(server.get("/v1/pools").json().as_array().expect("list").is_empty(), "nothing was created");
    assert_eq!(post_json(&server, "/v1/pools", &good).status, 201);
    assert_eq!(post_json(&server, "/v1/pools", &good).status, 409);
    // PUT keeps the name; a unit report for a unit that does not exist is 404.
    let mut renamed = good.clone();
    renamed["name"] = json!("other");
    assert_eq!(put_json(&server, "/v1/pools/web", &renamed).status, 400);
    let r = post_json(&server, "/v1/pools/web/units/u999999/ready", &json!({"address": "127.0.0.1:9"}));
    assert_eq!(r.status, 404, "{r}");
}

/// HAProxy on loopback with an admin socket and one backend `be`.
struct Haproxy {
    child: Child,
    socket: PathBuf,
    port: u16,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Haproxy {
    fn start(dir: &Path) -> Haproxy {
        let socket = dir.join("haproxy.sock");
        let port = free_port();
        let config = format!(
            "global\n    stats socket {} mode 600 level admin\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n\
             backend be\n    balance roundrobin\n",
            socket.display()
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("config");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy is installed (tests/scripts/deps.sh installs Debian's haproxy)");
        let proxy = Haproxy { child, socket, port };
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while proxy.command("show info").is_none() {
            assert!(std::time::Instant::now() < end, "HAProxy did not open its admin socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    fn command(&self, line: &str) -> Option<String> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.write_all(format!("{line}\n").as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Current sessions on the `augur_` servers of `be`.
    fn sessions(&self) -> u64 {
        let stat = self.command("show stat").unwrap_or_default();
        stat.lines()
            .filter(|l| l.starts_with("be,augur_"))
            .filter_map(|l| l.split(',').nth(4).and_then(|s| s.parse::<u64>().ok()))
            .sum()
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[test]
fn haproxy_routes_only_to_ready_units_and_draining_drops_no_request() {
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    demand_history(&server, "infra", |_| 0.5);
    let proxy = Haproxy::start(server.scratch_dir());
    let (start, stop) = unit_scripts(server.scratch_dir());
    let mut body = pool_body("web", &start, &stop);
    body["min"] = json!(3);
    body["scale_down_stabilization"] = json!("1s");
    body["scale_up_cooldown"] = json!("0s");
    body["haproxy"] = json!({"socket": proxy.socket.display().to_string(), "backend": "be"});
    let r = post_json(&server, "/v1/pools", &body);
    assert_eq!(r.status, 201, "{r}");

    // Three ready units, and HAProxy spreads requests over exactly them.
    let units = poll_until(&server, "three ready units", Duration::from_secs(60), || {
        let units = ready_units(&server.get("/v1/pools/web").json());
        (units.len() == 3).then_some(units)
    });
    let ids: BTreeSet<String> = units.iter().map(|(id, _)| id.clone()).collect();
    poll_until(&server, "HAProxy to route to every ready unit", Duration::from_secs(30), || {
        let seen: BTreeSet<String> = (0..9).filter_map(|_| http_get_body(&proxy.address(), "/")).collect();
        (seen == ids).then_some(())
    });

    // Three slow requests in flight, one per unit, then scale down to one unit.
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let address = proxy.address();
            std::thread::spawn(move || http_get_body(&address, "/slow=3"))
        })
        .collect();
    poll_until(&server, "three requests in flight through HAProxy", Duration::from_secs(20), || {
        (proxy.sessions() == 3).then_some(())
    });
    body["min"] = json!(1);
    let r = put_json(&server, "/v1/pools/web", &body);
    assert_eq!(r.status, 200, "{r}");
    poll_until(&server, "two units draining", Duration::from_secs(30), || {
        let pool = server.get("/v1/pools/web").json();
        (pool["units_by_state"]["draining"].as_u64() == Some(2)).then_some(())
    });
    // Draining drops nothing: every in-flight request completes.
    for handle in slow {
        let answer = handle.join().expect("thread");
        assert!(answer.as_ref().is_some_and(|id| ids.contains(id)), "a request was dropped: {answer:?}");
    }
    let pool = poll_until(&server, "the drained units released", Duration::from_secs(30), || {
        let pool = server.get("/v1/pools/web").json();
        (pool["units_by_state"]["released"].as_u64() == Some(2) && pool["units_by_state"]["ready"].as_u64() == Some(1))
            .then_some(pool)
    });
    // Only the remaining unit gets traffic now.
    let remaining = ready_units(&pool);
    let seen: BTreeSet<String> = (0..6).filter_map(|_| http_get_body(&proxy.address(), "/")).collect();
    assert_eq!(seen, remaining.iter().map(|(id, _)| id.clone()).collect::<BTreeSet<_>>(), "{pool}");
    let stat = proxy.command("show stat").unwrap_or_default();
    assert_eq!(stat.lines().filter(|l| l.starts_with("be,augur_")).count(), 1, "{stat}");

    // Deleting the pool stops the last unit too (no process outlives the test).
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    for (id, address) in &remaining {
        poll_until(&server, &format!("unit {id} to stop"), Duration::from_secs(30), || {
            http_get_body(address, "/").is_none().then_some(())
        });
    }
}

#[test]
fn the_capacity_plan_says_when_max_will_be_reached() {
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    // Four weeks of hourly demand whose daily peak grows a core a day: 15 → 42.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let today = now / 86_400 * 86_400;
    let mut body = String::new();
    for day in 0..28i64 {
        for hour in 0..24i64 {
            let t = today - (28 - day) * 86_400 + hour * 3_600;
            let v = 10.0 + day as f64 + 5.0 * (std::f64::consts::TAU * hour as f64 / 24.0).sin();
            body.push_str(&format!("usage,service=web cpu={v} {t}\n"));
        }
    }
    let r = server.post("/write?db=infra&precision=s", body, false);
    assert_eq!(r.status, 204, "{r}");
    let mut pool = pool_body("web", &["true".into()], &["true".into()]);
    pool["provider"] = json!({"kind": "webhook"});
    pool["interval"] = json!("1h");
    pool["history"] = json!("7d");
    pool["demand"]["cpu_cores"]["query"] = json!("SELECT max(cpu) FROM usage GROUP BY time(1h)");
    assert_eq!(post_json(&server, "/v1/pools", &pool).status, 201);

    let plan = server.get("/v1/pools/web/plan?horizon=30d&history=35d");
    assert_eq!(plan.status, 200, "{plan}");
    let plan = plan.json();
    assert!(plan["history_days"].as_u64().expect("days") >= 27, "{plan}");
    let last_peak = plan["last_peak"]["cpu_cores"].as_f64().expect("last peak");
    assert!((last_peak - 42.0).abs() < 0.5, "{plan}");
    let days = plan["days"].as_array().expect("days");
    assert_eq!(days.len(), 30);
    // 30 units of 2 cores = 60 cores: the trend gets there in roughly 18 days.
    let reached = plan["max_reached_at"].as_str().expect("max is reached within 30 days");
    let first_over = days.iter().position(|d| d["exceeds_max"] == true).expect("a day over max");
    assert_eq!(days[first_over]["date"], reached);
    assert!((5..=28).contains(&first_over), "max reached on day {first_over}: {plan}");
    assert!(days[0]["units"].as_u64().expect("units") <= 30, "{plan}");
    assert!(plan["summary"].as_str().unwrap_or_default().contains(reached), "{plan}");

    // A short horizon: max holds.
    let short = server.get("/v1/pools/web/plan?horizon=3d&history=35d").json();
    assert!(short["max_reached_at"].is_null(), "{short}");
    assert!(short["summary"].as_str().unwrap_or_default().contains("holds"), "{short}");
    // Too little history is a clear 400.
    let r = server.get("/v1/pools/web/plan?history=2d");
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().contains("complete days of history"), "{r}");
    assert_eq!(server.get("/v1/pools/web/plan?horizon=0d").status, 400);
}

#[test]
fn reservations_share_a_short_pool_fairly_over_http() {
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    demand_history(&server, "infra", |_| 1.0);
    // A second account's own usage: 12 cores, steady.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let last = now / MINUTE_NS * MINUTE_NS - MINUTE_NS;
    let body: String =
        (0..120).map(|i| format!("usage,service=batch cpu=12 {}\n", last - (119 - i) * MINUTE_NS)).collect();
    server.write_ok("infra", body);
    let mut pool = pool_body("shared", &["true".into()], &["true".into()]);
    pool["provider"] = json!({"kind": "webhook"});
    pool["max"] = json!(10);
    pool["shapes"] = json!([{"name": "core", "capacity": {"cpu_cores": 1}, "hourly_cost": 0.05}]);
    assert_eq!(post_json(&server, "/v1/pools", &pool).status, 201);

    let alice = json!({"account": "alice", "demand": {"cpu_cores": {"amount": 8}}});
    let batch = json!({"account": "batch", "weight": 1, "demand": {"cpu_cores": {"database": "infra",
        "query": "SELECT sum(cpu) FROM usage WHERE service = 'batch' GROUP BY time(1m)"}}});
    for r in [alice, batch] {
        let reply = post_json(&server, "/v1/pools/shared/reservations", &r);
        assert_eq!(reply.status, 201, "{reply}");
    }
    let bad = post_json(&server, "/v1/pools/shared/reservations", &json!({"account": "x", "weight": -1, "demand": {}}));
    assert_eq!(bad.status, 400, "{bad}");
    assert!(bad.error_text().contains("weight"), "{bad}");

    // 8 + 12 cores reserved, 10 available: equal weights, equal shares of 5.
    let list = poll_until(&server, "the reservations to be shared", Duration::from_secs(30), || {
        let list = server.get("/v1/pools/shared/reservations").json();
        let all = list.as_array()?;
        (all.len() == 2 && all.iter().all(|r| !r["status"].is_null())).then_some(list)
    });
    for r in list.as_array().expect("list") {
        let got = r["status"]["allocation"]["cpu_cores"].as_f64().expect("allocation");
        assert!((got - 5.0).abs() < 1e-6, "{list}");
        assert_eq!(r["status"]["satisfied"], false, "{list}");
    }
    let batch_demand = list[1]["status"]["demand"]["cpu_cores"].as_f64().expect("forecast demand");
    assert!((batch_demand - 12.0).abs() < 0.5, "the account's own forecast: {list}");
    let pool = server.get("/v1/pools/shared").json();
    assert_eq!(pool["last_decision"]["shortage"], true, "{pool}");
    assert_eq!(pool["reservations"].as_array().map(Vec::len), Some(2));

    let r = server.send(server.client().delete(server.url("/v1/pools/shared/reservations/alice")));
    assert_eq!(r.status, 204, "{r}");
    let r = server.send(server.client().delete(server.url("/v1/pools/shared/reservations/alice")));
    assert_eq!(r.status, 404, "{r}");
}

/// Units per state of a pool that count as capacity (requested, provisioning, ready).
fn active_units(pool: &Value) -> u64 {
    ["requested", "provisioning", "ready"].iter().filter_map(|s| pool["units_by_state"][*s].as_u64()).sum()
}

#[test]
fn a_tenant_quota_caps_its_pools_together_and_shares_fairly() {
    let mut server = Server::start(ServerOptions::default());
    server.create_database("infra");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let last = now / MINUTE_NS * MINUTE_NS - MINUTE_NS;
    // Two services, steady: web at 10 cores, batch at 12.
    let body: String = (0..120)
        .flat_map(|i| {
            let t = last - (119 - i) * MINUTE_NS;
            [format!("usage,service=web cpu=10 {t}\n"), format!("usage,service=batch cpu=12 {t}\n")]
        })
        .collect();
    server.write_ok("infra", body);

    // Bad quotas are refused naming the field; none is set.
    let quota_path = "/v1/tenants/default/pool-quota";
    for (bad, field) in [
        (json!({"limits": {"cpu_cores": -1}}), "limits.cpu_cores"),
        (json!({"limits": {"flux_capacitors": 1}}), "limits"),
        (json!({"limit": {"cpu_cores": 1}}), "limit"),
        (json!({"limits": {}}), "limits"),
    ] {
        let r = put_json(&server, quota_path, &bad);
        assert_eq!(r.status, 400, "{bad}: {r}");
        assert!(r.error_text().starts_with("invalid quota: "), "{bad}: {r}");
        assert!(r.error_text().contains(field), "{bad} names {field}: {r}");
    }
    assert_eq!(server.get(quota_path).status, 404);

    let r = put_json(&server, quota_path, &json!({"limits": {"cpu_cores": 12}}));
    assert_eq!(r.status, 200, "{r}");
    let pool = |name: &str| {
        let mut pool = pool_body(name, &[], &[]);
        pool["provider"] = json!({"kind": "webhook"});
        pool["shapes"] = json!([{"name": "core", "capacity": {"cpu_cores": 1}, "hourly_cost": 0.05}]);
        // Whichever pool cycles first takes the headroom; the other's
        // scale-up to its share must not wait a minute's cooldown.
        pool["scale_up_cooldown"] = json!("1s");
        pool["demand"]["cpu_cores"]["query"] =
            json!(format!("SELECT sum(cpu) FROM usage WHERE service = '{name}' GROUP BY time(1m)"));
        pool
    };
    for name in ["web", "batch"] {
        let r = post_json(&server, "/v1/pools", &pool(name));
        assert_eq!(r.status, 201, "{r}");
    }
    // A pool whose min the quota cannot hold beside the others' is refused.
    let mut greedy = pool("greedy");
    greedy["min"] = json!(11);
    let r = post_json(&server, "/v1/pools", &greedy);
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().contains("min"), "{r}");
    // So is a quota below the pools' min units.
    let r = put_json(&server, quota_path, &json!({"limits": {"cpu_cores": 1}}));
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().contains("invalid quota: limits.cpu_cores"), "{r}");

    // 22+ cores wanted, 12 allowed: each pool gets its min (1) and half of
    // the other 10. The tenant never holds more than 12 on the way there.
    let settled = poll_until(&server, "the quota to be shared", Duration::from_secs(60), || {
        let (web, batch) = (server.get("/v1/pools/web").json(), server.get("/v1/pools/batch").json());
        let held = active_units(&web) + active_units(&batch);
        assert!(held <= 12, "the tenant holds {held} cores under a 12-core quota: {web} {batch}");
        (active_units(&web) == 6 && active_units(&batch) == 6).then_some((web, batch))
    });
    for pool in [&settled.0, &settled.1] {
        let quota = &pool["last_decision"]["quota"];
        assert_eq!(quota["capped"], true, "{pool}");
        assert!((quota["share"]["cpu_cores"].as_f64().expect("share") - 6.0).abs() < 1e-6, "{pool}");
        assert!(pool["last_decision"]["reason"].as_str().unwrap_or_default().contains("tenant quota"), "{pool}");
    }
    let view = server.get(quota_path).json();
    assert_eq!(view["limits"]["cpu_cores"], 12.0, "{view}");
    assert_eq!(view["holds"]["cpu_cores"], 12.0, "{view}");
    assert_eq!(view["pools"].as_array().map(Vec::len), Some(2), "{view}");
    let metrics = server.get("/metrics").body;
    for gauge in ["augur_tenant_pool_quota_limit", "augur_tenant_pool_quota_held"] {
        let line = format!("{gauge}{{tenant=\"default\",dimension=\"cpu_cores\"}} 12");
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    assert!(
        view["pools"]
            .as_array()
            .expect("pools")
            .iter()
            .all(|p| p["capped"] == true && p["wants"]["cpu_cores"].as_f64().is_some_and(|w| w >= 10.0)),
        "{view}"
    );

    // A heavier weight takes a larger share: batch at 3 gets 1 + 7.5.
    let mut heavier = pool("batch");
    heavier["quota_weight"] = json!(3);
    let r = put_json(&server, "/v1/pools/batch", &heavier);
    assert_eq!(r.status, 200, "{r}");
    poll_until(&server, "the weighted share", Duration::from_secs(60), || {
        let (web, batch) = (server.get("/v1/pools/web").json(), server.get("/v1/pools/batch").json());
        assert!(active_units(&web) + active_units(&batch) <= 12, "{web} {batch}");
        (active_units(&web) == 3 && active_units(&batch) == 8).then_some(())
    });

    // Lowering the quota below what the tenant holds: each pool gives back
    // down to its share (1 + 1 of the 4 beyond the mins for web, 1 + 3 for
    // batch), and the tenant ends within the new quota.
    let r = put_json(&server, quota_path, &json!({"limits": {"cpu_cores": 6}}));
    assert_eq!(r.status, 200, "{r}");
    poll_until(&server, "the pools to give back to the lowered quota", Duration::from_secs(60), || {
        let (web, batch) = (server.get("/v1/pools/web").json(), server.get("/v1/pools/batch").json());
        (active_units(&web) == 2 && active_units(&batch) == 4).then_some(())
    });

    // The quota survives kill -9; lifting it lets both pools grow to their demand.
    server.kill9_restart();
    assert_eq!(server.get(quota_path).json()["limits"]["cpu_cores"], 6.0);
    let r = server.send(server.client().delete(server.url(quota_path)));
    assert_eq!(r.status, 204, "{r}");
    poll_until(&server, "both pools to cover their demand", Duration::from_secs(60), || {
        let (web, batch) = (server.get("/v1/pools/web").json(), server.get("/v1/pools/batch").json());
        (active_units(&web) >= 10 && active_units(&batch) >= 12).then_some(())
    });
    assert_eq!(server.get(quota_path).status, 404);
}

#[test]
fn a_tenant_quota_in_the_config_file_is_set_at_start() {
    let server = Server::start(ServerOptions::with_config("[pools.quotas]\ndefault = { cpu_cores = 8, gpus = 1 }\n"));
    let view = server.get("/v1/tenants/default/pool-quota").json();
    assert_eq!(view["limits"], json!({"cpu_cores": 8.0, "gpus": 1.0}), "{view}");
    assert_eq!(view["pools"], json!([]), "{view}");
}

/// The `sh` blocks of `markdown`, in order.
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Whether process `pid` is alive (`kill -0`).
fn alive(pid: &str) -> bool {
    Command::new("kill").args(["-0", pid.trim()]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn the_allocation_walkthrough_runs_as_written() {
    // docs/allocation.md steps 1–3 and its reservation and quota examples,
    // word for word but for the server's port and the units' directory:
    // the guide must keep working.
    let server = Server::start(ServerOptions::default());
    let units_dir = server.scratch_dir().join("units");
    let blocks = shell_blocks(include_str!("../../docs/allocation.md"));
    assert!(blocks.len() >= 3, "the guide's first three steps are sh blocks");
    let adapt = |block: &str| {
        block
            .replace("localhost:8086", &format!("127.0.0.1:{}", server.port()))
            .replace("/tmp/units", &units_dir.display().to_string())
    };
    let sh = |script: String| {
        let out = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{script}\nfailed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };

    // 1. Write some demand; 2. define the pool.
    sh(adapt(&blocks[0]));
    let created = sh(adapt(&blocks[1]));
    assert!(created.contains(r#""name":"web""#), "the pool is created: {created}");

    // 3. Watch it scale ahead of demand, as the guide says it will.
    let (pool, usage, forecast, ready) = ready_as_decided(&server, "the guide's pool to be ready", 1);
    assert!((usage - 13.9).abs() < 1e-6, "the guide's usage: {pool}");
    assert!(forecast > usage, "the guide's forecast is ahead of usage: {forecast} vs {usage}");
    assert!(ready >= forecast * 1.1 - 1e-9, "capacity covers the forecast plus the margin: {ready}");
    let reason = pool["last_decision"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("required (with margin) vs capacity: cpu_cores"), "{reason}");
    let shown = sh(adapt(&blocks[2]));
    for field in ["\"last_decision\"", "\"next_action\"", "\"units_by_state\"", "\"ready_capacity\""] {
        assert!(shown.contains(field), "step 3 shows {field}: {shown}");
    }

    // Reservations and a tenant quota, as the guide adds them.
    sh(adapt(&blocks[3]));
    let reservations = server.get("/v1/pools/web/reservations").json().to_string();
    for account in ["\"alice\"", "\"batch\""] {
        assert!(reservations.contains(account), "{account} reserved: {reservations}");
    }
    let quota = sh(adapt(&blocks[4]));
    assert!(!quota.contains("\"error\""), "{quota}");
    let quota = server.get("/v1/tenants/default/pool-quota").json();
    assert_eq!(quota["limits"]["cpu_cores"].as_f64(), Some(64.0), "{quota}");

    // The listed targets are the guide's unit processes, answering HTTP.
    let targets = server.get("/v1/pools/web/targets").json();
    let listed = targets[0]["targets"].as_array().expect("targets").clone();
    assert_eq!(listed.len() as u64, pool["units_by_state"]["ready"].as_u64().unwrap_or(0), "{targets}");
    for address in &listed {
        let address = address.as_str().unwrap_or_default();
        poll_until(&server, &format!("unit {address} to answer"), Duration::from_secs(30), || {
            http_get_body(address, "/")
        });
    }

    // Deleting the pool runs the guide's stop script for every unit.
    let pids: Vec<String> = ready_units(&pool)
        .iter()
        .map(|(id, _)| std::fs::read_to_string(units_dir.join(format!("{id}.pid"))).expect("the unit's pid file"))
        .collect();
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    for pid in &pids {
        poll_until(&server, &format!("unit process {} to stop", pid.trim()), Duration::from_secs(30), || {
            (!alive(pid)).then_some(())
        });
    }
}

/// A start that announces itself, then blocks until `start-gate` exists
/// before it launches its unit.
const GATED_START_SH: &str = concat!(
    script_head!(),
    r#"echo "starting $AUGUR_UNIT_ID" >> "$dir/starting.log"
while [ ! -e "$dir/start-gate" ]; do sleep 0.05; done
"#,
    launch_unit!(),
    print_address!()
);

/// A stop that announces itself, blocks until `stop-gate` exists, then
/// stops the unit by id (idempotent: a second run finds nothing to kill).
const GATED_STOP_SH: &str = r#"#!/bin/sh
dir=$(dirname "$0")
echo "stopping $AUGUR_UNIT_ID" >> "$dir/stopping.log"
while [ ! -e "$dir/stop-gate" ]; do sleep 0.05; done
kill "$(cat "$dir/$AUGUR_UNIT_ID.pid")" 2>/dev/null || true
echo "stopped $AUGUR_UNIT_ID address=${AUGUR_UNIT_ADDRESS:-none}" >> "$dir/stopped.log"
"#;

/// The pid a unit's start recorded, once it has.
fn unit_pid(dir: &Path, unit: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(format!("{unit}.pid"))).ok().filter(|p| !p.trim().is_empty())
}

fn log_has(dir: &Path, log: &str, line: &str) -> bool {
    std::fs::read_to_string(dir.join(log)).is_ok_and(|t| t.lines().any(|l| l.starts_with(line)))
}

/// A server with a steady demand of `cores` and the body of an `exec` pool
/// `web` (not created yet) whose units run the `start` and `stop` scripts,
/// written with `unit.py` into the test's scratch directory (returned).
fn exec_pool_fixture(cores: f64, start: &str, stop: &str) -> (Server, PathBuf, Value) {
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    demand_history(&server, "infra", |_| cores);
    let dir = server.scratch_dir().to_path_buf();
    std::fs::write(dir.join("unit.py"), UNIT_PY).expect("unit.py");
    std::fs::write(dir.join("start.sh"), start).expect("start.sh");
    std::fs::write(dir.join("stop.sh"), stop).expect("stop.sh");
    let sh = |name: &str| vec!["sh".to_string(), dir.join(name).display().to_string()];
    let body = pool_body("web", &sh("start.sh"), &sh("stop.sh"));
    (server, dir, body)
}

#[test]
fn exec_commands_interrupted_by_kill_9_leave_no_unit_running() {
    let (mut server, dir, mut body) = exec_pool_fixture(1.0, GATED_START_SH, GATED_STOP_SH);
    std::fs::write(dir.join("stop-gate"), "").expect("stop gate open");
    body["max"] = json!(1);
    body["scale_up_cooldown"] = json!("0s");
    // The stop that undoes an interrupted start waits for its deadline.
    body["unit_timeout"] = json!("5s");
    let r = post_json(&server, "/v1/pools", &body);
    assert_eq!(r.status, 201, "{r}");

    // 1. kill -9 while the first unit's start runs. The start command,
    // orphaned, goes on after the restart and launches its unit then; the
    // server never learns its address.
    poll_until(&server, "the first unit's start", Duration::from_secs(60), || {
        log_has(&dir, "starting.log", "starting u000001").then_some(())
    });
    server.kill9();
    server.start_again();
    std::fs::write(dir.join("start-gate"), "").expect("start gate open");
    let first = poll_until(&server, "the orphaned start's unit", Duration::from_secs(30), || unit_pid(&dir, "u000001"));
    // The restart stops it (by id, without an address) once the start's
    // deadline has passed, releases the unit and starts a replacement.
    poll_until(&server, "the interrupted start to be undone", Duration::from_secs(60), || {
        log_has(&dir, "stopped.log", "stopped u000001 address=none").then_some(())
    });
    poll_until(&server, "the first unit's process to end", Duration::from_secs(30), || (!alive(&first)).then_some(()));
    let pool = poll_until(&server, "a replacement unit", Duration::from_secs(60), || {
        let pool = server.get("/v1/pools/web").json();
        (ready_units(&pool).len() == 1).then_some(pool)
    });
    let (replacement, address) = ready_units(&pool).remove(0);
    assert_ne!(replacement, "u000001");
    let gone = pool["units"].as_array().expect("units").iter().find(|u| u["id"] == "u000001").cloned();
    let gone = gone.expect("the first unit is listed");
    assert_eq!(gone["state"], "released", "{gone}");
    assert_eq!(gone["note"], "the server restarted while its start command ran", "{gone}");
    assert_eq!(http_get_body(&address, "/").as_deref(), Some(replacement.as_str()));

    // 2. kill -9 while the replacement's stop runs (the pool is deleted):
    // the restart runs the stop again.
    std::fs::remove_file(dir.join("stop-gate")).expect("stop gate closed");
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    poll_until(&server, "the replacement's stop to begin", Duration::from_secs(30), || {
        log_has(&dir, "stopping.log", &format!("stopping {replacement}")).then_some(())
    });
    server.kill9();
    std::fs::write(dir.join("stop-gate"), "").expect("stop gate open");
    server.start_again();
    let pid = unit_pid(&dir, &replacement).expect("the replacement's pid");
    poll_until(&server, "the interrupted stop to run again", Duration::from_secs(60), || {
        (!alive(&pid) && log_has(&dir, "stopped.log", &format!("stopped {replacement} address={address}")))
            .then_some(())
    });
    assert_eq!(server.get("/v1/pools/web").status, 404);
}

/// A start slow enough (0.3 s after its unit is up) for crashes to land in it.
const SLOW_START_SH: &str = concat!(script_head!(), launch_unit!(), "sleep 0.3\n", print_address!());

/// Where a crash lands in a cycle of [`units_and_processes_agree_after_kill_9_at_random_moments`].
#[derive(Debug, Clone, Copy)]
enum CrashPoint {
    /// Right after the definition changed.
    AfterChange,
    /// While a unit is provisioning (its start runs).
    WhileStarting,
    /// Once a stop has begun.
    WhileStopping,
    /// Once the pool has settled on its new size.
    Settled,
}

/// Whether `point` has been reached (stops begun so far: `stops_before`).
fn crash_point_reached(server: &Server, dir: &Path, point: CrashPoint, min: u64, stops_before: usize) -> bool {
    let pool = || server.get("/v1/pools/web").json();
    match point {
        CrashPoint::AfterChange => true,
        CrashPoint::WhileStarting => pool()["units_by_state"]["provisioning"].as_u64().unwrap_or(0) > 0,
        CrashPoint::WhileStopping => lines_of(dir, "stopping.log") > stops_before,
        CrashPoint::Settled => {
            let p = pool();
            p["units_by_state"]["ready"].as_u64() == Some(min) && ready_units(&p).len() as u64 == min
        }
    }
}

fn lines_of(dir: &Path, log: &str) -> usize {
    std::fs::read_to_string(dir.join(log)).map_or(0, |t| t.lines().count())
}

/// The units whose process runs, from the pid files their starts wrote.
fn running_units(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeSet::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let unit = name.strip_suffix(".pid")?.to_string();
            let pid = std::fs::read_to_string(e.path()).ok()?;
            alive(&pid).then_some(unit)
        })
        .collect()
}

#[test]
fn units_and_processes_agree_after_kill_9_at_random_moments() {
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng as _};
    let number = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
    let cycles = number("AUGUR_POOL_CRASH_CYCLES").unwrap_or(8).max(1);
    let seed = number("AUGUR_POOL_CRASH_SEED").unwrap_or_else(|| rand::random::<u64>() % 1_000_000_000);
    eprintln!("pool crash test: {cycles} cycles, seed {seed} (rerun with AUGUR_POOL_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let (mut server, dir, base) = exec_pool_fixture(0.5, SLOW_START_SH, GATED_STOP_SH);
    std::fs::write(dir.join("stop-gate"), "").expect("stop gate open");
    // The pool's size is its `min` (demand needs one unit): each cycle
    // resizes it, then kills the server at a random point of the change.
    let body = |min: u64, max: u64| {
        let mut b = base.clone();
        b["min"] = json!(min);
        b["max"] = json!(max);
        b["scale_up_cooldown"] = json!("0s");
        b["scale_down_stabilization"] = json!("0s");
        b["unit_timeout"] = json!("2s");
        b
    };
    let r = post_json(&server, "/v1/pools", &body(1, 4));
    assert_eq!(r.status, 201, "{r}");
    let mut size = 1;
    for cycle in 0..cycles {
        // A new size, and a crash point: half the time in the middle of
        // the commands the change calls for.
        let min = (size + rng.gen_range(1..=3u64) - 1) % 4 + 1;
        let during = if min > size { CrashPoint::WhileStarting } else { CrashPoint::WhileStopping };
        let point = match rng.gen_range(0..4) {
            0 => CrashPoint::AfterChange,
            1 => CrashPoint::Settled,
            _ => during,
        };
        size = min;
        let stops_before = lines_of(&dir, "stopping.log");
        let r = put_json(&server, "/v1/pools/web", &body(min, 4));
        assert_eq!(r.status, 200, "{r}");
        // The point may never come (no stop when the pool grows): then
        // the crash lands whenever the wait gives up.
        let give_up = augur_tests::deadline(Duration::from_secs(5));
        while !crash_point_reached(&server, &dir, point, min, stops_before) && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("cycle {cycle}: min {min}, kill -9 at {point:?}");
        server.kill9();
        server.start_again();
    }

    // Settle on two units: exactly the ready units' processes run.
    let r = put_json(&server, "/v1/pools/web", &body(2, 2));
    assert_eq!(r.status, 200, "{r}");
    let (pool, running) = poll_until(&server, "units and processes to agree", Duration::from_secs(60), || {
        let pool = server.get("/v1/pools/web").json();
        let ready: BTreeSet<String> = ready_units(&pool).into_iter().map(|(id, _)| id).collect();
        let settled = pool["units_by_state"]["provisioning"] == 0
            && pool["units_by_state"]["requested"] == 0
            && pool["units_by_state"]["draining"] == 0;
        let running = running_units(&dir);
        (settled && ready.len() == 2 && running == ready).then_some((pool, running))
    });
    for (id, address) in ready_units(&pool) {
        assert!(running.contains(&id));
        assert_eq!(http_get_body(&address, "/").as_deref(), Some(id.as_str()), "unit {id} at {address}");
    }
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    poll_until(&server, "every unit process to end", Duration::from_secs(60), || {
        running_units(&dir).is_empty().then_some(())
    });
}

/// A stop that waits until the server no longer listens (its graceful
/// shutdown has begun) before it stops its unit.
const STOP_AT_SHUTDOWN_SH: &str = concat!(
    script_head!(),
    r#"echo "stopping $AUGUR_UNIT_ID" >> "$dir/stopping.log"
port=$(cat "$dir/server.port")
while python3 -c "import socket, sys; s = socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; do sleep 0.05; done
kill "$(cat "$dir/$AUGUR_UNIT_ID.pid")" 2>/dev/null || true
echo "stopped $AUGUR_UNIT_ID" >> "$dir/stopped.log"
"#
);

#[test]
fn a_graceful_shutdown_lets_a_running_stop_finish() {
    let (mut server, dir, mut body) = exec_pool_fixture(0.5, START_SH, STOP_AT_SHUTDOWN_SH);
    std::fs::write(dir.join("server.port"), server.port().to_string()).expect("port file");
    body["min"] = json!(2);
    body["scale_down_stabilization"] = json!("0s");
    assert_eq!(post_json(&server, "/v1/pools", &body).status, 201);
    let (pool, ..) = ready_as_decided(&server, "two ready units", 1);
    let units = ready_units(&pool);

    // Down to one unit: the other's stop runs, and waits for the shutdown.
    body["min"] = json!(1);
    body["max"] = json!(1);
    assert_eq!(put_json(&server, "/v1/pools/web", &body).status, 200);
    let stopping = poll_until(&server, "a stop to begin", Duration::from_secs(30), || {
        let log = std::fs::read_to_string(dir.join("stopping.log")).ok()?;
        log.lines().next().map(|l| l.trim_start_matches("stopping ").to_string())
    });
    let pid = unit_pid(&dir, &stopping).expect("the stopped unit's pid");
    let before_restart = pool["last_decision"]["at"].as_i64().unwrap_or(0);
    server.sigterm();
    // The shutdown waited for the stop: it ran to the end, once.
    assert!(log_has(&dir, "stopped.log", &format!("stopped {stopping}")), "the stop was cut short");
    poll_until(&server, "the stopped unit's process to end", Duration::from_secs(30), || (!alive(&pid)).then_some(()));

    // After the restart (once a cycle has run, the interrupted jobs have
    // been read), the stop is not run again.
    server.start_again();
    poll_until(&server, "a cycle after the restart", Duration::from_secs(30), || {
        let at = server.get("/v1/pools/web").json()["last_decision"]["at"].as_i64().unwrap_or(0);
        (at > before_restart).then_some(())
    });
    assert_eq!(lines_of(&dir, "stopping.log"), 1, "the finished stop ran again");
    let kept: Vec<String> = units.iter().map(|(id, _)| id.clone()).filter(|id| *id != stopping).collect();
    let pool = server.get("/v1/pools/web").json();
    assert_eq!(ready_units(&pool).into_iter().map(|(id, _)| id).collect::<Vec<_>>(), kept, "{pool}");
    // Deleting the pool stops the last unit (its stop need not wait now).
    std::fs::write(dir.join("server.port"), "1").expect("port file");
    let r = server.send(server.client().delete(server.url("/v1/pools/web")));
    assert_eq!(r.status, 204, "{r}");
    for id in &kept {
        let pid = unit_pid(&dir, id).expect("pid");
        poll_until(&server, &format!("unit {id} to stop"), Duration::from_secs(30), || (!alive(&pid)).then_some(()));
    }
}
