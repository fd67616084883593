//! `augur-tests`: the harness behind Augur's end-to-end tests.
//!
//! Every integration test in `tests/tests/` drives the real `augur` binary
//! over real HTTP on loopback, the way users and the `influx` CLI do. This
//! library holds what they share:
//!
//! * [`Server`]: starts `augur serve` on a temporary (or given) data
//!   directory with `--listen 127.0.0.1:0`, waits for its one stdout line
//!   `augur listening on 127.0.0.1:PORT` (bounded by a deadline), then
//!   confirms readiness with `/ping`. No port is ever picked by the test, so
//!   tests can run in parallel without racing for free ports. It stops the
//!   server gracefully ([`Server::sigterm`]), crashes it
//!   ([`Server::kill9`]), restarts it on the same data directory, and kills
//!   it when dropped; when a test panics, the server's log is printed so the
//!   failure explains itself.
//! * HTTP helpers ([`Server::write`], [`Server::query`], [`Server::export`],
//!   [`Server::verify`], ...) returning a plain [`Reply`].
//! * [`PointSet`]: points keyed by series and timestamp with bit-exact field
//!   values, and [`assert_same_points`], which compares what was written with
//!   what an export returned and prints a readable difference.
//! * [`gzip`] for compressed bodies.
//! * [`receiver::Receiver`]: a real HTTP endpoint for webhook deliveries.
//!
//! The binary is `<target>/debug/augur`, found next to the test executable
//! (`<target>/debug/deps/<test>-<hash>`), or wherever `AUGUR_BIN` points.
//! `tests/scripts/test.sh` builds it before running the tests.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use augur_engine::lineproto;
use augur_engine::model::{FieldValue, Point, Precision};
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use tempfile::TempDir;

pub use augur_engine;

pub mod conformance;
pub mod datagen;
pub mod influxd;
pub mod jsoncmp;
pub mod receiver;
pub mod target;

/// Environment variable naming the `augur` binary to test (overrides the
/// one next to the test executable).
pub const ENV_AUGUR_BIN: &str = "AUGUR_BIN";

/// How long a server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful shutdown may take (it flushes the head to blocks).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one HTTP request made by the helpers.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The line the server prints on stdout once it is ready, before the address.
pub const LISTENING_PREFIX: &str = "augur listening on ";

/// Where the `augur` binary is: `$AUGUR_BIN`, else `<target>/debug/augur`
/// derived from the running test executable's path.
pub fn augur_bin() -> PathBuf {
    if let Some(path) = std::env::var_os(ENV_AUGUR_BIN).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("cannot find the test executable's path");
    // <target>/debug/deps/<test>-<hash> -> <target>/debug/augur
    let mut dir = exe.parent().expect("test executable has a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("augur{}", std::env::consts::EXE_SUFFIX))
}

/// The server's route table, as written in `server/src/http/routes.rs`.
const ROUTES_RS: &str = include_str!("../../server/src/http/routes.rs");

/// `(constant name, path)` of every route in `server/src/http/routes.rs`,
/// so that suites that must cover every route (access policy, hostile
/// input) fail when one is added without them.
pub fn declared_routes() -> Vec<(String, String)> {
    ROUTES_RS
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(':')?;
            let path = rest.split('"').nth(1)?;
            Some((name.trim().to_string(), path.to_string()))
        })
        .collect()
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Contents of a TOML configuration file passed with `--config`; `None`
    /// runs without one.
    pub config: Option<String>,
    /// Extra environment variables for the server process.
    pub env: Vec<(String, String)>,
    /// `Some(token)`: authentication on, the first admin seeded with this
    /// token (`AUGUR_ADMIN_TOKEN`), and the helpers' client sends it.
    /// `None`: authentication off (`AUGUR_AUTH_ENABLED=false`), as most
    /// suites need; the security suite turns it on.
    pub admin_token: Option<String>,
    /// Whether the server writes its `_internal` database (`[monitor]`).
    /// Off unless a suite asks: most suites compare database lists and
    /// exports with InfluxDB's, whose own `_internal` is off in the tests.
    pub monitor: bool,
}

impl ServerOptions {
    /// Options with this configuration file text.
    pub fn with_config(config: impl Into<String>) -> ServerOptions {
        ServerOptions { config: Some(config.into()), ..ServerOptions::default() }
    }

    /// Options with authentication on and this admin token.
    pub fn with_auth(token: impl Into<String>) -> ServerOptions {
        ServerOptions { admin_token: Some(token.into()), ..ServerOptions::default() }
    }
}

/// The answer to one HTTP request, read in full.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body as text (lossy UTF-8).
    pub body: String,
}

impl Reply {
    /// The body parsed as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): status {} body {:?}", self.status, self.body))
    }

    /// The `error` member of a JSON error body (empty when absent).
    pub fn error_text(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_default()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {:?}", self.status, self.body)
    }
}

/// A running (or stopped) `augur serve` process with its data directory.
///
/// Dropping it kills the process (SIGKILL) and removes a temporary data
/// directory it created.
pub struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: PathBuf,
    config_path: Option<PathBuf>,
    options: ServerOptions,
    /// The server's stderr (logs), appended across restarts.
    log_path: PathBuf,
    client: Client,
    /// Keeps the temporary directory (data, config, log) alive.
    tmp: TempDir,
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start(options: ServerOptions) -> Server {
        let tmp =
            tempfile::Builder::new().prefix("augur-test-").tempdir().expect("cannot create a temporary directory");
        let data_dir = tmp.path().join("data");
        Server::start_with(tmp, data_dir, options)
    }

    /// Starts a server with default options on a fresh data directory.
    pub fn start_default() -> Server {
        Server::start(ServerOptions::default())
    }

    fn start_with(tmp: TempDir, data_dir: PathBuf, options: ServerOptions) -> Server {
        let log_path = tmp.path().join("augur.log");
        let mut headers = HeaderMap::new();
        if let Some(token) = &options.admin_token {
            let value = HeaderValue::from_str(&format!("Token {token}")).expect("token is a valid header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .default_headers(headers)
            .build()
            .expect("cannot build the HTTP client");
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            config_path: None,
            options: ServerOptions::default(),
            log_path,
            client,
            tmp,
        };
        server.set_options(options);
        server.spawn();
        server
    }

    /// Replaces the options used by the next (re)start; writes the
    /// configuration file.
    pub fn set_options(&mut self, options: ServerOptions) {
        self.config_path = options.config.as_ref().map(|text| {
            let path = self.tmp.path().join("augur.toml");
            std::fs::write(&path, text).expect("cannot write the config file");
            path
        });
        self.options = options;
    }

    /// Spawns the process and waits until it is ready.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let bin = augur_bin();
        assert!(
            bin.is_file(),
            "the augur binary is missing at {} (run `cargo build --bin augur` first, or set {ENV_AUGUR_BIN})",
            bin.display()
        );
        let log = File::options().create(true).append(true).open(&self.log_path).expect("cannot open the server log");
        let mut cmd = Command::new(&bin);
        cmd.arg("serve").arg("--data-dir").arg(&self.data_dir).arg("--listen").arg("127.0.0.1:0");
        if let Some(path) = &self.config_path {
            cmd.arg("--config").arg(path);
        }
        // Don't let the caller's environment redirect the server.
        for var in ["AUGUR_DATA_DIR", "AUGUR_LISTEN", "AUGUR_CONFIG", "AUGUR_ADMIN_TOKEN", "AUGUR_AUTH_ENABLED"] {
            cmd.env_remove(var);
        }
        cmd.env("AUGUR_MONITOR_ENABLED", if self.options.monitor { "true" } else { "false" });
        match &self.options.admin_token {
            Some(token) => cmd.env("AUGUR_ADMIN_TOKEN", token),
            None => cmd.env("AUGUR_AUTH_ENABLED", "false"),
        };
        cmd.env("AUGUR_LOG", std::env::var("AUGUR_LOG").unwrap_or_else(|_| "info".into()));
        // Plain logs: they end up in a file and in failure messages.
        cmd.env("NO_COLOR", "1");
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads stdout to its end so the server never sees a closed pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(other) => {
                let status = wait_bounded(&mut child, Duration::from_secs(5));
                panic!(
                    "augur exited before announcing its address ({other:?}, status {status:?}); log:\n{}",
                    self.log_tail()
                );
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("augur did not print its listening line within {START_TIMEOUT:?}; log:\n{}", self.log_tail());
            }
        };
        let addr = line
            .strip_prefix(LISTENING_PREFIX)
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("unexpected first stdout line from augur: {line:?}"));
        assert!(addr.ip().is_loopback(), "server listens on {addr}, not loopback");
        assert_ne!(addr.port(), 0, "server announced port 0");
        self.addr = addr;
        self.child = Some(child);
        self.wait_ready();
    }

    /// Polls `/ping` until it answers 204, within [`START_TIMEOUT`].
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.client.get(self.url("/ping")).timeout(Duration::from_secs(2)).send() {
                Ok(r) if r.status().as_u16() == 204 => return,
                other => {
                    if Instant::now() > deadline {
                        panic!("/ping never answered 204: {other:?}; log:\n{}", self.log_tail());
                    }
                    if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                        panic!("augur exited ({status}) while starting; log:\n{}", self.log_tail());
                    }
                    // Bounded poll: retry shortly.
                    std::thread::park_timeout(Duration::from_millis(10));
                }
            }
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT<path_and_query>`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// The data directory (the RocksDB path given to `--data-dir`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A directory that lives as long as the server, for test files.
    pub fn scratch_dir(&self) -> &Path {
        self.tmp.path()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The HTTP client the helpers use (loopback, no proxy, bounded timeout;
    /// it sends the admin token when [`ServerOptions::admin_token`] is set).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Crashes the server: SIGKILL, then reaps it. Nothing is flushed.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        child.kill().expect("cannot SIGKILL the server");
        let status = child.wait().expect("cannot reap the server");
        assert!(
            status.code().is_none(),
            "server exited on its own ({status}) before SIGKILL; log:\n{}",
            self.log_tail()
        );
    }

    /// Graceful shutdown: SIGTERM, then waits (bounded) for exit status 0.
    pub fn sigterm(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: plain kill(2) on our own child, which has not been reaped.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed: {}", std::io::Error::last_os_error());
        match wait_bounded(&mut child, STOP_TIMEOUT) {
            Some(status) => {
                assert!(status.success(), "graceful shutdown exited with {status}; log:\n{}", self.log_tail())
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not exit within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}", self.log_tail());
            }
        }
    }

    /// Starts the server again on the same data directory (after
    /// [`Server::kill9`] or [`Server::sigterm`]); the port changes.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Graceful restart: SIGTERM, wait for exit 0, start again.
    pub fn restart(&mut self) {
        self.sigterm();
        self.spawn();
    }

    /// Crash restart: SIGKILL, start again on the same data directory.
    pub fn kill9_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// The last 8 KiB of the server's log (stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let _ = f.read_to_string(&mut text);
        }
        let cut = text.len().saturating_sub(8 * 1024);
        let cut = (cut..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        text[cut..].to_string()
    }

    /// The whole server log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    // ---------------------------------------------------------------------
    // HTTP helpers.
    // ---------------------------------------------------------------------

    /// Sends a request and reads the reply in full; panics on transport errors.
    pub fn send(&self, request: reqwest::blocking::RequestBuilder) -> Reply {
        let response =
            request.send().unwrap_or_else(|e| panic!("request failed: {e}; server log:\n{}", self.log_tail()));
        into_reply(response)
    }

    /// `GET path_and_query`.
    pub fn get(&self, path_and_query: &str) -> Reply {
        self.send(self.client.get(self.url(path_and_query)))
    }

    /// `POST path_and_query` with `body`, optionally gzip-compressed (sets
    /// `Content-Encoding: gzip`).
    pub fn post(&self, path_and_query: &str, body: impl Into<Vec<u8>>, gzipped: bool) -> Reply {
        let mut body = body.into();
        let mut request = self.client.post(self.url(path_and_query));
        if gzipped {
            body = gzip(&body);
            request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        self.send(request.body(body))
    }

    /// `POST /write?db=DB` with a line-protocol body.
    pub fn write(&self, db: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.post(&format!("/write?db={}", encode(db)), body, false)
    }

    /// `POST /write?db=DB&precision=P`.
    pub fn write_precision(&self, db: &str, precision: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.post(&format!("/write?db={}&precision={}", encode(db), encode(precision)), body, false)
    }

    /// Writes and asserts 204.
    pub fn write_ok(&self, db: &str, body: impl Into<Vec<u8>>) {
        let reply = self.write(db, body);
        assert_eq!(reply.status, 204, "write to {db} failed: {reply}");
    }

    /// `POST /query` with `q` (and `db` when given) as a form body; returns
    /// the reply as is.
    pub fn query_raw(&self, q: &str, db: Option<&str>) -> Reply {
        let mut form = format!("q={}", encode(q));
        if let Some(db) = db {
            form.push_str(&format!("&db={}", encode(db)));
        }
        self.send(
            self.client.post(self.url("/query")).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(form),
        )
    }

    /// Runs a query that must succeed (200, no `error` in any result) and
    /// returns its JSON.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let reply = self.query_raw(q, None);
        assert_eq!(reply.status, 200, "query {q:?} failed: {reply}");
        let json = reply.json();
        let results = json["results"].as_array().unwrap_or_else(|| panic!("query {q:?}: no results array: {json}"));
        for r in results {
            assert!(r.get("error").is_none(), "query {q:?} returned an error: {json}");
        }
        json
    }

    /// `CREATE DATABASE name` (must succeed).
    pub fn create_database(&self, name: &str) {
        self.query(&format!("CREATE DATABASE \"{name}\""));
    }

    /// The names `SHOW DATABASES` lists.
    pub fn databases(&self) -> Vec<String> {
        let json = self.query("SHOW DATABASES");
        column_values(&json, 0)
    }

    /// `GET /api/v1/export?db=DB` (whole database); asserts 200, returns the text.
    pub fn export(&self, db: &str) -> String {
        self.export_query(&format!("db={}", encode(db)))
    }

    /// `GET /api/v1/export?QUERY`; asserts 200, returns the text.
    pub fn export_query(&self, query: &str) -> String {
        let reply =
            self.send(self.client.get(self.url(&format!("/api/v1/export?{query}"))).timeout(Duration::from_secs(120)));
        assert_eq!(reply.status, 200, "export {query} failed: {reply}");
        reply.body
    }

    /// Exports a database and parses every line (which must all parse, in
    /// nanoseconds, with a timestamp).
    pub fn export_points(&self, db: &str) -> Vec<Point> {
        parse_export(&self.export(db))
    }

    /// `GET /api/v1/verify`'s `damaged` list.
    pub fn verify(&self) -> Vec<serde_json::Value> {
        let reply = self.get("/api/v1/verify");
        assert_eq!(reply.status, 200, "verify failed: {reply}");
        reply.json()["damaged"].as_array().unwrap_or_else(|| panic!("verify: no damaged array: {}", reply.body)).clone()
    }

    /// A raw TCP connection to the server (30 s read and write timeouts),
    /// for requests `reqwest` cannot shape: a body held back mid-way, a
    /// chunked body the server refuses before it ends. Send
    /// `Connection: close` and read the answer with [`read_raw_reply`].
    pub fn raw_stream(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("cannot connect to the server");
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).expect("set read timeout");
        stream.set_write_timeout(Some(REQUEST_TIMEOUT)).expect("set write timeout");
        stream
    }

    /// Whether `GET /ping` answers 204.
    pub fn ping(&self) -> bool {
        self.client.get(self.url("/ping")).send().map(|r| r.status().as_u16() == 204).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- augur log ({}) ----\n{}\n---- end of augur log ----",
                self.log_path.display(),
                self.log_tail()
            );
        }
    }
}

/// Waits for `child` to exit, polling, for at most `limit`.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        // A short poll interval: there is no portable exit event to block on
        // with a timeout.
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

pub(crate) fn into_reply(response: reqwest::blocking::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().map(|b| b.to_vec()).unwrap_or_default();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Reads an HTTP/1.1 response from a raw connection until the server closes
/// it (the request must say `Connection: close`). Our side stays open:
/// hyper treats a half-closed request as aborted. Handles `Content-Length`
/// and chunked bodies.
pub fn read_raw_reply(stream: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // A reset after the full response is fine; a reset before it is not.
        assert!(!raw.is_empty(), "no response on the raw connection: {e}");
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) =
                (reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()), HeaderValue::from_str(v.trim()))
            {
                headers.append(name, value);
            }
        }
    }
    let chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    } else if let Some(len) =
        headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// Decodes a chunked body (stops at the last chunk or at malformed input).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else { break };
        let start = eol + 2;
        let Some(chunk) = data.get(start..start + size) else { break };
        out.extend_from_slice(chunk);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// Percent-encodes a query-string component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// The values of column `index` of every series of the first result of an
/// Influx JSON query response, as strings.
pub fn column_values(json: &serde_json::Value, index: usize) -> Vec<String> {
    let mut out = Vec::new();
    for series in json["results"][0]["series"].as_array().into_iter().flatten() {
        for row in series["values"].as_array().into_iter().flatten() {
            match &row[index] {
                serde_json::Value::String(s) => out.push(s.clone()),
                other => out.push(other.to_string()),
            }
        }
    }
    out
}

/// Parses exported line protocol; panics on any line that does not parse or
/// has no timestamp (an export always writes nanosecond timestamps).
pub fn parse_export(text: &str) -> Vec<Point> {
    let batch = lineproto::parse(text.as_bytes(), Precision::Nanoseconds);
    assert!(
        batch.errors.is_empty(),
        "export contains lines that do not parse: {:?}",
        batch.errors.iter().take(5).collect::<Vec<_>>()
    );
    for p in &batch.points {
        assert!(p.timestamp.is_some(), "exported point without a timestamp: {p:?}");
    }
    batch.points
}

// -------------------------------------------------------------------------
// Comparing points.
// -------------------------------------------------------------------------

/// A field value compared bit-exactly (floats by their bits, so `-0.0` and
/// `0.0` differ and every bit of precision counts).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exact {
    /// A float, by its IEEE bits.
    Float(u64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
}

impl From<&FieldValue> for Exact {
    fn from(v: &FieldValue) -> Exact {
        match v {
            FieldValue::Float(f) => Exact::Float(f.to_bits()),
            FieldValue::Integer(i) => Exact::Integer(*i),
            FieldValue::Unsigned(u) => Exact::Unsigned(*u),
            FieldValue::Boolean(b) => Exact::Boolean(*b),
            FieldValue::String(s) => Exact::String(s.clone()),
        }
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exact::Float(bits) => write!(f, "{:?} (0x{bits:016x})", f64::from_bits(*bits)),
            Exact::Integer(i) => write!(f, "{i}i"),
            Exact::Unsigned(u) => write!(f, "{u}u"),
            Exact::Boolean(b) => write!(f, "{b}"),
            Exact::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// The fields of one row, by name.
pub type Row = BTreeMap<String, Exact>;

/// Points keyed by (series key, timestamp in ns), fields merged as the
/// store merges them: a later write of the same field at the same
/// timestamp wins, other fields are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PointSet {
    /// (series key, timestamp) → fields.
    pub rows: BTreeMap<(String, i64), Row>,
}

impl PointSet {
    /// An empty set.
    pub fn new() -> PointSet {
        PointSet::default()
    }

    /// Builds a set from points (which must carry timestamps).
    pub fn from_points<'a>(points: impl IntoIterator<Item = &'a Point>) -> PointSet {
        let mut set = PointSet::new();
        set.extend(points);
        set
    }

    /// Parses line protocol written with `precision` (every line must parse
    /// and carry a timestamp) and builds the set.
    pub fn from_line_protocol(text: &str, precision: Precision) -> PointSet {
        let batch = lineproto::parse(text.as_bytes(), precision);
        assert!(batch.errors.is_empty(), "test data does not parse: {:?}", batch.errors);
        PointSet::from_points(&batch.points)
    }

    /// Adds points, merging fields of identical (series, timestamp).
    pub fn extend<'a>(&mut self, points: impl IntoIterator<Item = &'a Point>) {
        for p in points {
            let ts = p.timestamp.unwrap_or_else(|| panic!("point without a timestamp cannot be compared: {p:?}"));
            let row = self.rows.entry((p.series_key(), ts)).or_default();
            for (name, value) in &p.fields {
                row.insert(name.clone(), Exact::from(value));
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Keeps only the rows of series whose key starts with `prefix`.
    pub fn filter_series(&self, prefix: &str) -> PointSet {
        PointSet {
            rows: self
                .rows
                .iter()
                .filter(|((k, _), _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Describes how `actual` differs from `expected` (at most `limit` items);
/// empty when they are equal.
pub fn diff_points(expected: &PointSet, actual: &PointSet, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (key, row) in &expected.rows {
        if out.len() >= limit {
            break;
        }
        match actual.rows.get(key) {
            None => out.push(format!("missing: {} @ {}", key.0, key.1)),
            Some(got) if got != row => out.push(format!(
                "different: {} @ {}: expected {{{}}} got {{{}}}",
                key.0,
                key.1,
                show_row(row),
                show_row(got)
            )),
            Some(_) => {}
        }
    }
    for (key, row) in &actual.rows {
        if out.len() >= limit {
            break;
        }
        if !expected.rows.contains_key(key) {
            out.push(format!("unexpected: {} @ {}: {{{}}}", key.0, key.1, show_row(row)));
        }
    }
    out
}

fn show_row(row: &Row) -> String {
    row.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Asserts that two point sets are identical, bit for bit, printing the
/// first differences otherwise.
#[track_caller]
pub fn assert_same_points(expected: &PointSet, actual: &PointSet, context: &str) {
    let diff = diff_points(expected, actual, 20);
    assert!(
        diff.is_empty(),
        "{context}: exported points differ from those written ({} expected, {} exported):\n  {}",
        expected.len(),
        actual.len(),
        diff.join("\n  ")
    );
}

/// Asserts that an export lists each (series, timestamp) once: the store
/// merges a row's fields into one line, so a repeated row means a duplicate.
#[track_caller]
pub fn assert_no_duplicate_rows(points: &[Point], context: &str) {
    let mut seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for p in points {
        *seen.entry((p.series_key(), p.timestamp.unwrap_or(i64::MIN))).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).take(10).collect();
    assert!(dups.is_empty(), "{context}: rows exported more than once: {dups:?}");
}

/// Runs a command to completion with its output captured, killing it if it
/// runs longer than `limit` (then panics, with what it printed so far
/// lost). Stdin is closed.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("cannot wait for {cmd:?}: {e}")),
        Err(_) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on our own child; the waiting thread has
                // not reaped it (it would have sent its output).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            panic!("{cmd:?} did not finish within {limit:?}");
        }
    }
}

/// Returns a deadline `limit` from now (for bounded loops).
pub fn deadline(limit: Duration) -> Instant {
    Instant::now() + limit
}

/// The shared data directory (`../shared/data` beside the project root;
/// `AUGUR_SHARED_DATA` overrides it).
pub fn shared_data() -> PathBuf {
    if let Some(d) = std::env::var_os("AUGUR_SHARED_DATA") {
        return PathBuf::from(d);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for candidate in [root.join("../shared/data"), root.join("../../shared/data")] {
        if candidate.join("nab").is_dir() {
            return candidate;
        }
    }
    panic!("cannot find ../shared/data (set AUGUR_SHARED_DATA)");
}

/// Polls `f` every 50 ms until it returns `Some`, failing after `limit` with
/// `what` and the server's log.
pub fn poll_until<T>(server: &Server, what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = deadline(limit);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}; log:\n{}", server.log_tail());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_sets_merge_fields_and_compare_bits() {
        let a = PointSet::from_line_protocol("m,t=1 a=1 10\nm,t=1 b=2i 10\n", Precision::Nanoseconds);
        let b = PointSet::from_line_protocol("m,t=1 a=1,b=2i 10\n", Precision::Nanoseconds);
        assert_eq!(a, b);
        let c = PointSet::from_line_protocol("m,t=1 a=1.0000000000000002,b=2i 10\n", Precision::Nanoseconds);
        assert_eq!(diff_points(&a, &c, 10).len(), 1);
        let z = PointSet::from_line_protocol("m a=-0 1\n", Precision::Nanoseconds);
        let p = PointSet::from_line_protocol("m a=0 1\n", Precision::Nanoseconds);
        assert_ne!(z, p, "-0.0 and 0.0 differ bit for bit");
    }

    #[test]
    fn encode_escapes_reserved_bytes() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
    }

    #[test]
    fn bin_path_is_next_to_deps() {
        if std::env::var_os(ENV_AUGUR_BIN).is_some() {
            return;
        }
        let bin = augur_bin();
        assert_eq!(bin.file_name().and_then(|n| n.to_str()), Some("augur"));
        assert!(bin.parent().is_some_and(|d| d.ends_with("debug")), "{}", bin.display());
    }
}

// -------------------------------------------------------------------------
// Writing test points as line protocol, independently of the engine's
// serializer (so a bug there cannot hide a matching bug in the parser).
// -------------------------------------------------------------------------

/// A point the tests write: built as data, serialized by [`TestPoint::line`],
/// and compared against exports through [`TestPoint::to_point`].
#[derive(Debug, Clone, PartialEq)]
pub struct TestPoint {
    /// Measurement name (unescaped).
    pub measurement: String,
    /// Tags in the order they are written (unescaped; need not be sorted).
    pub tags: Vec<(String, String)>,
    /// Fields in the order they are written (unescaped names).
    pub fields: Vec<(String, FieldValue)>,
    /// Timestamp in nanoseconds.
    pub ts: i64,
}

impl TestPoint {
    /// A point with no tags.
    pub fn new(measurement: &str, ts: i64) -> TestPoint {
        TestPoint { measurement: measurement.to_string(), tags: Vec::new(), fields: Vec::new(), ts }
    }

    /// Adds a tag.
    pub fn tag(mut self, key: &str, value: &str) -> TestPoint {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a field.
    pub fn field(mut self, key: &str, value: FieldValue) -> TestPoint {
        self.fields.push((key.to_string(), value));
        self
    }

    /// One line of line protocol (with `\n`), the timestamp written in
    /// `precision` (it must be a whole number of that unit).
    pub fn line(&self, precision: Precision) -> String {
        let unit = precision.nanos_per_unit();
        assert_eq!(self.ts % unit, 0, "{} is not a whole number of {precision:?}", self.ts);
        let mut out = String::new();
        escape_lp(&mut out, &self.measurement, &[',', ' ']);
        for (k, v) in &self.tags {
            out.push(',');
            escape_lp(&mut out, k, &[',', '=', ' ']);
            out.push('=');
            escape_lp(&mut out, v, &[',', '=', ' ']);
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            out.push(if i == 0 { ' ' } else { ',' });
            escape_lp(&mut out, k, &[',', '=', ' ']);
            out.push('=');
            out.push_str(&lp_value(v));
        }
        out.push_str(&format!(" {}\n", self.ts / unit));
        out
    }

    /// The point as the store should hold it: tags sorted by key.
    pub fn to_point(&self) -> Point {
        let mut tags = self.tags.clone();
        tags.sort();
        Point { measurement: self.measurement.clone(), tags, fields: self.fields.clone(), timestamp: Some(self.ts) }
    }

    /// The canonical series key.
    pub fn series_key(&self) -> String {
        self.to_point().series_key()
    }
}

/// Line protocol for many points in one precision.
pub fn lines(points: &[TestPoint], precision: Precision) -> String {
    points.iter().map(|p| p.line(precision)).collect()
}

/// The [`PointSet`] of test points.
pub fn point_set(points: &[TestPoint]) -> PointSet {
    let converted: Vec<Point> = points.iter().map(TestPoint::to_point).collect();
    PointSet::from_points(&converted)
}

fn escape_lp(out: &mut String, s: &str, specials: &[char]) {
    for c in s.chars() {
        if specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A field value in line protocol: floats in Rust's shortest round-trip
/// form (`{:?}`, which uses exponents for very large and small values),
/// `i`/`u` suffixes, booleans as `true`/`false`, strings quoted with `"`
/// and `\` escaped.
pub fn lp_value(v: &FieldValue) -> String {
    match v {
        FieldValue::Float(f) => {
            assert!(f.is_finite(), "line protocol has no spelling for {f}");
            format!("{f:?}")
        }
        FieldValue::Integer(i) => format!("{i}i"),
        FieldValue::Unsigned(u) => format!("{u}u"),
        FieldValue::Boolean(b) => b.to_string(),
        FieldValue::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }
    }
}

/// The rows of the first series of one statement result (`results[i]`), as
/// arrays; empty when it has none.
pub fn first_series_rows(result: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    result["series"][0]["values"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r.as_array().cloned()).collect())
        .unwrap_or_default()
}
