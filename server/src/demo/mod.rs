//! `augur demo`: the whole loop on one machine in a minute.
//!
//! It starts a real server in this process (embedded storage in a fresh
//! data directory, authentication off, loopback only), then acts as an
//! ordinary client of it over HTTP: it backfills a week of real traces
//! (NAB, read from the shared data beside the repository) for three
//! services of two databases, creates a continuous forecast per database,
//! subscribes an in-process webhook receiver to every event, defines a
//! pool with the `exec` provider driven by one service's demand, and then
//! replays the traces live, one step per second. The terminal shows status
//! lines and every event as it is delivered (signature checked); the
//! dashboard at the printed URL shows the same from the server's side.
//!
//! Modules: [`traces`] (which traces, where), [`api`] (the HTTP client),
//! [`setup`] (databases, history, forecasts, subscription, pool),
//! [`workload`] (the live replay and status lines), [`receiver`] (the
//! webhook consumer), [`output`] (timestamped lines).

pub mod api;
pub mod output;
pub mod receiver;
pub mod setup;
pub mod traces;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::config::{parse_positive_duration, Config, ConfigError};
use crate::server::{Server, ServerError};
use crate::shutdown::ShutdownSignals;
use output::Output;

/// The file that marks a data directory as the demo's (so `--reset` never
/// wipes anything else).
const MARKER: &str = ".augur-demo";

/// Flags of `augur demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Directory for the demo's database; must be new or empty (kept after
    /// the demo). Default: a fresh directory under the system's temporary
    /// directory, removed on exit
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Wipe --data-dir first if an earlier `augur demo` made it
    #[arg(long)]
    pub reset: bool,
    /// Address to listen on (loopback only: authentication is off); port 0
    /// picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8086")]
    pub listen: String,
    /// Directory with the NAB traces (nyc_taxi.csv, ...) [env: AUGUR_DEMO_TRACES]
    /// [default: ../shared/data/nab or ./shared/data/nab]
    #[arg(long, value_name = "DIR")]
    pub traces: Option<PathBuf>,
    /// Wall time per trace step, whole seconds (1s: the NYC taxi trace's day
    /// passes in 48 s)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_step)]
    pub step: Duration,
    /// Stop after this long (e.g. 90s, 10m); default: run until Ctrl+C
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,
}

/// `--step`: a positive whole number of seconds.
fn parse_step(text: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(text)?;
    if d.subsec_nanos() != 0 || d.as_secs() > 3600 {
        return Err(format!("{text:?}: must be whole seconds, 1s to 1h"));
    }
    Ok(d)
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The traces are missing or malformed.
    #[error(transparent)]
    Traces(#[from] traces::TracesError),
    /// The data directory cannot be used.
    #[error("--data-dir {path}: {message}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The listen address is not loopback or not an address.
    #[error("--listen: {0}")]
    Listen(String),
    /// The server's configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A call to the server failed.
    #[error("the demo's request failed: {0}")]
    Api(#[from] api::ApiError),
    /// The runtime, the signal handlers or the receiver could not start.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> DemoError {
    move |source| DemoError::Io { what, source }
}

/// The demo's data directory.
struct DataDir {
    root: PathBuf,
    remove_on_exit: bool,
}

impl DataDir {
    /// A fresh temporary directory, or `--data-dir` checked (new or empty,
    /// or an earlier demo's with `--reset`).
    fn prepare(flag: Option<&Path>, reset: bool) -> Result<DataDir, DemoError> {
        let fail = |path: &Path, message: String| DemoError::DataDir { path: path.to_path_buf(), message };
        let (root, remove_on_exit) = match flag {
            None => {
                let name = format!("augur-demo-{}-{}", std::process::id(), crate::clock::now_ns());
                (std::env::temp_dir().join(name), true)
            }
            Some(dir) => {
                let used = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
                if used {
                    if !reset {
                        return Err(fail(
                            dir,
                            "is not empty (use a new directory, or --reset to wipe one an earlier demo made)".into(),
                        ));
                    }
                    if !dir.join(MARKER).is_file() {
                        return Err(fail(
                            dir,
                            format!("--reset wipes only a directory `augur demo` made (it has no {MARKER})"),
                        ));
                    }
                    std::fs::remove_dir_all(dir).map_err(|e| fail(dir, format!("cannot wipe it: {e}")))?;
                }
                (dir.to_path_buf(), false)
            }
        };
        std::fs::create_dir_all(&root).map_err(|e| fail(&root, format!("cannot create it: {e}")))?;
        std::fs::write(root.join(MARKER), "made by `augur demo`\n")
            .map_err(|e| fail(&root, format!("cannot write to it: {e}")))?;
        Ok(DataDir { root, remove_on_exit })
    }

    /// Where the store lives.
    fn store(&self) -> PathBuf {
        self.root.join("db")
    }
}

/// The server's configuration: defaults, auth off, the demo's directory,
/// the monitor writing `_internal` every 5 s.
fn server_config(args: &DemoArgs, data: &DataDir) -> Result<Config, DemoError> {
    let addr: std::net::SocketAddr = args
        .listen
        .parse()
        .map_err(|_| DemoError::Listen(format!("{:?} is not ip:port (e.g. 127.0.0.1:8086)", args.listen)))?;
    if !addr.ip().is_loopback() {
        return Err(DemoError::Listen(format!(
            "{addr} is not loopback: the demo runs without authentication, so it listens only on 127.0.0.1 or ::1"
        )));
    }
    let serve = ServeArgs {
        data_dir: Some(data.store()),
        listen: Some(args.listen.clone()),
        auth_enabled: Some(false),
        ..ServeArgs::default()
    };
    // The demo's settings only: AUGUR_* variables meant for `serve` are ignored.
    let mut config = Config::load(&serve, &|_| None)?;
    config.monitor.interval = Duration::from_secs(5);
    config.http.shutdown_timeout = Duration::from_secs(5);
    Ok(config)
}

/// Runs the demo (blocks until `--duration` passes or Ctrl+C).
pub fn run(args: &DemoArgs) -> Result<(), DemoError> {
    let traces_dir = traces::locate(args.traces.as_deref(), std::env::var_os(traces::ENV_TRACES).map(PathBuf::from))?;
    let services = traces::load(&traces_dir)?;
    let data = DataDir::prepare(args.data_dir.as_deref(), args.reset)?;
    let result = server_config(args, &data).and_then(|config| {
        let runtime = crate::server::runtime().map_err(io("cannot start the async runtime"))?;
        runtime.block_on(demo(args, config, services, &traces_dir, &data))
    });
    if data.remove_on_exit {
        if let Err(err) = std::fs::remove_dir_all(&data.root) {
            tracing::warn!(dir = %data.root.display(), error = %err, "cannot remove the demo's data directory");
        }
    }
    result
}

/// Starts the server and the receiver, runs the story, shuts both down.
async fn demo(
    args: &DemoArgs,
    config: Config,
    services: Vec<traces::Service>,
    traces_dir: &Path,
    data: &DataDir,
) -> Result<(), DemoError> {
    let signals = ShutdownSignals::install().map_err(io("cannot install signal handlers"))?;
    let server = Server::bind(config).await?;
    let addr = server.local_addr().map_err(io("cannot read the bound address"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let server_task = {
        let mut stop = stop_rx.clone();
        tokio::spawn(server.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    };
    let out = Output::new();
    out.plain(&format!("augur listening on {addr}"));
    let secret = format!("demo-{:032x}", rand::random::<u128>());
    let receiver = receiver::Receiver::start(secret.clone(), out, stop_rx.clone())
        .await
        .map_err(io("cannot start the webhook receiver"))?;

    let story = async {
        let api = api::Api::new(addr)?;
        let mut tries = 0;
        while !api.ping().await {
            tries += 1;
            if tries > 100 {
                return Err(DemoError::Api(api::ApiError {
                    what: "GET /ping".into(),
                    message: "the server does not answer".into(),
                }));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let step_s = i64::try_from(args.step.as_secs()).unwrap_or(1).max(1);
        let now_s = crate::clock::now_ns() / 1_000_000_000;
        let first_tick = (now_s / step_s + 1) * step_s;
        out.line(&format!("writing {} steps of history per service ...", setup::BACKFILL_STEPS));
        setup::backfill(&api, &services, first_tick, step_s).await?;
        setup::continuous_forecasts(&api, &services, step_s.unsigned_abs()).await?;
        setup::subscribe(&api, &format!("http://{}/events", receiver.addr), &secret).await?;
        setup::pool(&api, step_s.unsigned_abs(), &receiver.addr.to_string()).await?;
        banner(&out, addr, args, &services, traces_dir, data, receiver.addr);
        let workload = workload::Workload { api, services: services.clone(), step_s, first_tick, out };
        let until = async {
            match args.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = workload.run() => result.map_err(DemoError::from),
            name = signals.recv() => {
                out.line(&format!("{name}: stopping"));
                Ok(())
            }
            () = until => {
                out.line("--duration reached: stopping");
                Ok(())
            }
        }
    };
    let result = story.await;
    let _ = stop_tx.send(true);
    let served = server_task.await.map_err(ServerError::from).and_then(|r| r);
    let counts = std::sync::Arc::clone(&receiver.counts);
    receiver.join().await;
    out.line(&format!(
        "stopped: {} event(s) received with a valid signature, {} rejected",
        counts.verified.load(Ordering::Relaxed),
        counts.rejected.load(Ordering::Relaxed)
    ));
    result?;
    served?;
    Ok(())
}

/// What is running and where to look.
fn banner(
    out: &Output,
    addr: std::net::SocketAddr,
    args: &DemoArgs,
    services: &[traces::Service],
    traces_dir: &Path,
    data: &DataDir,
    receiver: std::net::SocketAddr,
) {
    let step = args.step.as_secs();
    let kept = if data.remove_on_exit { "removed on exit" } else { "kept" };
    let mut text = format!(
        "\nAugur demo: predicted demand, capacity arriving before it, webhooks firing\n\n  \
         dashboard  http://{addr}/  (database acme, then the Pools, Forecast and Models views)\n  \
         data       {} ({kept}); authentication off, loopback only\n  \
         traces     {} (1 trace step = {step}s of wall time)\n",
        data.root.display(),
        traces_dir.display()
    );
    for s in services {
        text.push_str(&format!(
            "  service    {:<10} {} ({})\n",
            format!("{}/{}", s.database, s.name),
            s.trace.name,
            s.about
        ));
    }
    let dbs = setup::databases(services).join(", ");
    text.push_str(&format!(
        "  forecasts  continuous forecast per database ({dbs}): {} steps ahead, every {}s, into {}\n  \
         pool       {} (exec provider): cpu_cores of acme/web, forecast {}s ahead at p95 + 10%; \
         {}-core units take {}s to start, {}..{} units\n  \
         webhooks   every event goes to a receiver in this process (http://{receiver}/events), signature checked\n  \
         query      augur query --url http://{addr} --db acme -e 'SELECT * FROM {} WHERE time > now() LIMIT 5'\n\n\
         Ctrl+C stops{}.\n",
        setup::HORIZON_STEPS,
        setup::FORECAST_EVERY_STEPS * step,
        setup::FORECAST_MEASUREMENT,
        setup::POOL,
        setup::LEAD_STEPS * step,
        setup::UNIT_CORES,
        setup::PROVISION_STEPS * step,
        1,
        setup::MAX_UNITS,
        setup::FORECAST_MEASUREMENT,
        args.duration.map_or(String::new(), |d| format!(" (or it stops by itself after {}s)", d.as_secs())),
    ));
    out.plain(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_is_new_empty_or_the_demos_own() {
        let tmp = std::env::temp_dir().join(format!("augur-demo-test-{}", crate::clock::now_ns()));
        let fresh = DataDir::prepare(Some(&tmp), false).expect("a new directory");
        assert!(!fresh.remove_on_exit && tmp.join(MARKER).is_file());
        assert!(DataDir::prepare(Some(&tmp), false).is_err(), "not empty any more");
        DataDir::prepare(Some(&tmp), true).expect("--reset wipes the demo's own directory");
        std::fs::remove_file(tmp.join(MARKER)).expect("unmark");
        std::fs::write(tmp.join("precious"), "x").expect("write");
        let err = DataDir::prepare(Some(&tmp), true).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("only a directory"), "{err}");
        assert!(tmp.join("precious").is_file());
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }

    #[test]
    fn listen_must_be_loopback_and_step_whole_seconds() {
        let args = |listen: &str| DemoArgs {
            data_dir: None,
            reset: false,
            listen: listen.into(),
            traces: None,
            step: Duration::from_secs(1),
            duration: None,
        };
        let data = DataDir { root: PathBuf::from("/nonexistent"), remove_on_exit: false };
        assert!(matches!(server_config(&args("0.0.0.0:8086"), &data), Err(DemoError::Listen(_))));
        assert!(matches!(server_config(&args(":8086"), &data), Err(DemoError::Listen(_))));
        let config = server_config(&args("127.0.0.1:0"), &data).expect("loopback");
        assert!(!config.auth.enabled);
        assert!(parse_step("1500ms").is_err());
        assert_eq!(parse_step("2s"), Ok(Duration::from_secs(2)));
    }
}
