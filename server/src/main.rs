//! The `augur` binary: parse the command line, set up logging, run.
//!
//! This is the only place that uses `anyhow`: errors from the library are
//! typed, and here they become one readable message on stderr and a
//! non-zero exit status. Logs go to stderr; `augur serve`'s stdout carries
//! exactly one line, `augur listening on <ip:port>`, once the server is
//! ready (scripts and tests wait for it). `augur demo` prints the same line
//! first, then its story.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use augur_server::cli::{Cli, Command, ServeArgs};
use augur_server::config::{Config, ENV_LOG};
use augur_server::server::Server;
use augur_server::shutdown::ShutdownSignals;
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: ingest allocates a few dozen small
/// strings per line-protocol line, and glibc's allocator showed up as about a
/// third of the write path's CPU time in profiles (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!("augur {} (InfluxDB 1.8 API)", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Serve(args) => serve(&args),
        Command::Import(args) => augur_server::client::import::run(&args).map_err(anyhow::Error::from),
        Command::Export(args) => augur_server::client::export::run(&args).map_err(anyhow::Error::from),
        Command::Query(args) => augur_server::client::query::run(&args).map_err(anyhow::Error::from),
        Command::Simulate(args) => augur_server::pools::simulate::run(&args).map_err(anyhow::Error::from),
        Command::Demo(args) => {
            init_logging("warn").and_then(|()| augur_server::demo::run(&args).map_err(anyhow::Error::from))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("augur: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `augur serve`.
fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    init_logging("info")?;
    disable_transparent_huge_pages();
    let config = Config::load(args, &|key| std::env::var(key).ok())?;
    tracing::debug!(?config, "configuration");
    let runtime = augur_server::server::runtime().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let signals = ShutdownSignals::install().context("cannot install signal handlers")?;
        let server = Server::bind(config).await?;
        let addr = server.local_addr().context("cannot read the bound address")?;
        announce(&format!("augur listening on {addr}"))?;
        server
            .run(async {
                let name = signals.recv().await;
                tracing::info!(signal = name, "shutdown requested");
            })
            .await?;
        Ok(())
    })
}

/// Turns transparent huge pages off for this process.
///
/// Why: mimalloc asks for huge pages on its arenas, and the kernel zeroes a
/// whole 2 MiB page on the first touch of each. Ingest allocates and frees a
/// few megabytes per request, mimalloc returns freed pages to the OS, and
/// re-faulting them cost 29 % of the server's CPU time during the TSBS ingest
/// benchmark (`perf`: `clear_page_erms` under `do_huge_pmd_anonymous_page`).
/// With 4 KiB pages ingest ran 6.2–7.4 → 8.3–8.9 M values/s and peak RSS fell
/// by a fifth (docs/benchmarks.md). RocksDB's block cache and memtables do not
/// rely on huge pages. Failing is harmless (older kernels, seccomp): logged.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(error = %e, "cannot turn transparent huge pages off");
    }
}

/// Logs to stderr, filtered by `AUGUR_LOG` (default `default`: `info` for
/// `serve`, `warn` for `demo`, whose story is on stdout).
fn init_logging(default: &str) -> anyhow::Result<()> {
    let filter = match std::env::var(ENV_LOG) {
        Ok(spec) if !spec.is_empty() => {
            EnvFilter::try_new(&spec).with_context(|| format!("invalid {ENV_LOG}={spec:?}"))?
        }
        _ => EnvFilter::new(default),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Prints the one stdout line and flushes it.
fn announce(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("cannot write to stdout")?;
    out.flush().context("cannot flush stdout")
}
