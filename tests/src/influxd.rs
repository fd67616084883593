//! The reference peer: a real InfluxDB 1.x `influxd` on loopback.
//!
//! The conformance suite blesses its expectations from `influxd`'s answers
//! and the differential test compares Augur with it query by query, so the
//! tests can start their own instance: [`Influxd::start`] writes a minimal
//! configuration into a temporary directory (no reporting, no `_internal`
//! monitor database, no continuous-query service, no HTTP log), binds both
//! the HTTP and the RPC listener to `127.0.0.1:0`, and reads the port the
//! kernel chose from the `Listening on HTTP` log line — no port is guessed,
//! so parallel tests never race for one. Dropping it kills the process (by
//! its own PID) and removes the directory.
//!
//! The binary is `$INFLUXD_BIN`, else `influxd` on `PATH` (Debian package
//! `influxdb`, installed by `tests/scripts/deps.sh`).

use std::fs::File;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::target::Target;

/// Environment variable naming the `influxd` binary.
pub const ENV_INFLUXD_BIN: &str = "INFLUXD_BIN";

/// How long `influxd` may take to open its HTTP listener.
pub const INFLUXD_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where `influxd` is: `$INFLUXD_BIN`, else the first `influxd` on `PATH`;
/// `None` when neither exists.
pub fn influxd_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ENV_INFLUXD_BIN).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("influxd")).find(|candidate| candidate.is_file())
}

/// A running `influxd` with its temporary directory.
pub struct Influxd {
    child: Option<Child>,
    target: Target,
    log_path: PathBuf,
    /// Keeps the configuration, data and log alive.
    _tmp: TempDir,
}

impl Influxd {
    /// Starts `influxd run -config <tmp>/influxdb.conf` and waits until it
    /// answers `/ping`; panics (with its log) when it is missing or fails.
    pub fn start() -> Influxd {
        let bin = influxd_bin().unwrap_or_else(|| {
            panic!(
                "influxd (InfluxDB 1.x, Debian package influxdb) is not installed: run tests/scripts/deps.sh, \
                 or set {ENV_INFLUXD_BIN}"
            )
        });
        let tmp =
            tempfile::Builder::new().prefix("influxd-test-").tempdir().expect("cannot create a temporary directory");
        let dir = tmp.path();
        let config = format!(
            "reporting-disabled = true\n\
             bind-address = \"127.0.0.1:0\"\n\
             [meta]\n  dir = \"{d}/meta\"\n  logging-enabled = false\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n  \
             trace-logging-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:0\"\n  log-enabled = false\n\
             [continuous_queries]\n  enabled = false\n",
            d = dir.display()
        );
        let config_path = dir.join("influxdb.conf");
        std::fs::write(&config_path, config).expect("cannot write influxdb.conf");
        let log_path = dir.join("influxd.log");
        let log = File::create(&log_path).expect("cannot create the influxd log");
        let log2 = log.try_clone().expect("cannot clone the log handle");
        let child = Command::new(&bin)
            .arg("run")
            .arg("-config")
            .arg(&config_path)
            .env_remove("INFLUXDB_HTTP_BIND_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut influxd =
            Influxd { child: Some(child), target: Target::new("http://127.0.0.1:0"), log_path, _tmp: tmp };
        influxd.wait_listening();
        influxd
    }

    /// Polls the log for the HTTP listener's address, then `/ping`.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + INFLUXD_START_TIMEOUT;
        loop {
            let log = self.log();
            let addr = log
                .lines()
                .find(|l| l.contains("msg=\"Listening on HTTP\""))
                .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("addr=")))
                .map(str::to_string);
            if let Some(addr) = addr {
                self.target = Target::new(&format!("http://{addr}"));
                if self.target.ping() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("influxd exited ({status}) while starting; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "influxd did not start within {INFLUXD_START_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            // Bounded poll: the log line has no other notification.
            std::thread::park_timeout(Duration::from_millis(20));
        }
    }

    /// The HTTP endpoint.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// `influxd version`'s first words, e.g. `InfluxDB v1.6.7~rc0`.
    pub fn version() -> String {
        let Some(bin) = influxd_bin() else { return "influxd not installed".into() };
        Command::new(bin)
            .arg("version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split(' ').take(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
