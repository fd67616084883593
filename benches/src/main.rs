//! `augur-bench`: load harnesses that compare Augur with its peers.
//!
//! - `ingest` pre-generates a TSBS `cpu-only` shaped data set (or one row per
//!   distinct series, for the memory test) and writes it to any InfluxDB 1.x
//!   compatible server with N concurrent workers, then reports throughput,
//!   batch latency and errors.
//! - `generate` writes the same rows to a file or stdout, e.g. for
//!   `influx -import`.
//! - `query` runs TSBS's devops query set (and a full-scan aggregation)
//!   against a server holding that data set and reports latency per query
//!   type; `query-table` puts two such reports side by side.
//! - `forecast-accuracy` writes the real traces of `../shared/data` to a
//!   running server and scores its `forecast()` by rolling origin against
//!   the statistical baselines of `BASELINES.md`.
//! - `anomaly-nab` scores the anomaly detector on the NAB series against
//!   their labelled windows, with a rolling 3-sigma baseline.
//!
//! See `docs/benchmarks.md` for the commands behind the published figures.

mod anomaly_nab;
mod auth;
mod compress;
mod dataset;
mod forecast_accuracy;
mod lineproto;
mod query_bench;
mod report;
mod sender;
mod timefmt;
mod tsbs;
mod tsbs_queries;

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use reqwest::Url;

use crate::dataset::{DatasetSpec, SeriesMode};
use crate::lineproto::FieldFormat;
use crate::report::{IngestReport, OutputFormat, RunInfo, VALUES_PER_ROW};
use crate::sender::SendConfig;

/// Default number of hosts in `--series-mode tsbs`.
const DEFAULT_HOSTS: u64 = 100;

/// Default number of series in `--series-mode distinct`.
const DEFAULT_DISTINCT_SERIES: u64 = 1_000_000;

#[derive(Parser, Debug)]
#[command(name = "augur-bench", version, about = "Load harnesses that compare Augur with its peers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a generated data set to an InfluxDB 1.x compatible server and report throughput.
    Ingest(IngestArgs),
    /// Write the generated data set as line protocol to a file or stdout.
    Generate(GenerateArgs),
    /// Run TSBS's devops queries (and a full scan) against a server holding the `ingest` data.
    Query(QueryArgs),
    /// Side-by-side Markdown table of two `query --output json` reports, with ratios.
    QueryTable(QueryTableArgs),
    /// Score a server's `forecast()` on the real traces by rolling origin (through /write and /query).
    ForecastAccuracy(ForecastAccuracyArgs),
    /// Precision, recall and delay of the anomaly detector on the NAB series (in-process).
    AnomalyNab(AnomalyNabArgs),
}

#[derive(Args, Debug)]
struct AnomalyNabArgs {
    /// The traces (reads `nab/`).
    #[arg(long, default_value = "../shared/data")]
    data_dir: PathBuf,
    /// Only the series whose file name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The forecasting model.
    #[arg(long, default_value = "ets")]
    model: String,
    /// Band level of the band rule, percent.
    #[arg(long, default_value_t = augur_engine::forecast::anomaly::DetectorConfig::default().level)]
    level: f64,
    /// Points outside the band in a row (k).
    #[arg(long, default_value_t = augur_engine::forecast::anomaly::DetectorConfig::default().consecutive)]
    consecutive: usize,
    /// CUSUM threshold of the level-shift rule, sigmas (0 = off).
    #[arg(long, default_value_t = augur_engine::forecast::anomaly::DetectorConfig::default().shift_threshold)]
    shift_threshold: f64,
    /// CUSUM allowance per step, sigmas.
    #[arg(long, default_value_t = augur_engine::forecast::anomaly::DetectorConfig::default().shift_drift)]
    shift_drift: f64,
    /// Training window, steps.
    #[arg(long, default_value_t = 2016)]
    training: usize,
    /// Steps between refits.
    #[arg(long, default_value_t = 288)]
    refit_every: usize,
    /// False positives closer than this many steps count once.
    #[arg(long, default_value_t = 12)]
    merge: usize,
    /// Also score a grid of detector settings on the same forecasts.
    #[arg(long)]
    sweep: bool,
}

#[derive(Args, Debug)]
struct ForecastAccuracyArgs {
    /// Base URL of the server under test.
    #[arg(long, default_value = "http://127.0.0.1:8086/")]
    url: Url,
    /// The traces and BASELINES.md.
    #[arg(long, default_value = "../shared/data")]
    data_dir: PathBuf,
    /// Only the traces whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The `model =>` argument of forecast().
    #[arg(long, default_value = "auto")]
    model: String,
    /// The band level whose coverage is reported.
    #[arg(long, default_value_t = 95.0)]
    level: f64,
    /// The traces were written by an earlier run: do not write them again.
    #[arg(long)]
    skip_load: bool,
}

/// Flags that decide the rows; shared by `ingest` and `generate`.
#[derive(Args, Debug, Clone)]
struct DataArgs {
    /// Number of simulated hosts (series) in `tsbs` mode [default: 100].
    #[arg(long)]
    hosts: Option<u64>,
    /// Hours of data per host, from --start (fractions allowed).
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Spacing of a host's rows (Influx duration: 10s, 1m, 500ms).
    #[arg(long, default_value = "10s")]
    interval: String,
    /// Timestamp of the first row (RFC 3339).
    #[arg(long, default_value = "2016-01-01T00:00:00Z")]
    start: String,
    /// Seed of every random draw: same seed, same bytes.
    #[arg(long, default_value_t = 123)]
    seed: u64,
    /// `tsbs`: hosts × time; `distinct`: every row a new series.
    #[arg(long, value_enum, default_value_t = SeriesMode::Tsbs)]
    series_mode: SeriesMode,
    /// Number of distinct series (rows) in `--series-mode distinct` [default: 1000000].
    #[arg(long)]
    series: Option<u64>,
    /// Stop after this many rows.
    #[arg(long)]
    limit_rows: Option<u64>,
    /// Field encoding: `float` (two decimals) or `int` (current TSBS upstream).
    #[arg(long, value_enum, default_value_t = FieldFormat::Float)]
    fields: FieldFormat,
}

impl DataArgs {
    fn spec(&self) -> Result<DatasetSpec> {
        let interval_ns = timefmt::parse_duration(&self.interval).context("--interval")?;
        let start_ns = timefmt::parse_rfc3339(&self.start).context("--start")?;
        if !(self.hours.is_finite() && self.hours > 0.0) {
            bail!("--hours must be a positive number, got {}", self.hours);
        }
        if interval_ns <= 0 {
            bail!("--interval must be positive");
        }
        let hosts = match (self.series_mode, self.hosts, self.series) {
            (SeriesMode::Tsbs, _, Some(_)) => bail!("--series needs --series-mode distinct"),
            (SeriesMode::Tsbs, hosts, None) => hosts.unwrap_or(DEFAULT_HOSTS),
            (SeriesMode::Distinct, Some(_), _) => {
                bail!("--hosts has no effect with --series-mode distinct; use --series")
            }
            (SeriesMode::Distinct, None, series) => series.unwrap_or(DEFAULT_DISTINCT_SERIES),
        };
        // Saturating float-to-int cast: absurd spans are caught by validate().
        let span_ns = (self.hours * 3_600.0 * timefmt::NANOS_PER_SEC as f64) as i64;
        let spec = DatasetSpec {
            mode: self.series_mode,
            hosts,
            steps: (span_ns / interval_ns) as u64,
            interval_ns,
            start_ns,
            seed: self.seed,
            limit_rows: self.limit_rows,
            format: self.fields,
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[derive(Args, Debug)]
struct IngestArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8086")]
    url: String,
    /// Database to write into.
    #[arg(long, default_value = "benchmark")]
    db: String,
    /// Concurrent write requests in flight.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Rows per write request.
    #[arg(long, default_value_t = 5000)]
    batch: u64,
    /// Send `CREATE DATABASE "<db>"` first.
    #[arg(long)]
    create_db: bool,
    /// Gzip each batch (compressed before timing) and send `Content-Encoding: gzip`.
    #[arg(long)]
    gzip: bool,
    /// Per-request timeout (Influx duration).
    #[arg(long, default_value = "120s")]
    timeout: String,
    /// Threads of the HTTP client's runtime; keep it low so the server under test gets the cores.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Write here instead of stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Prefix the `influx -import` header (`# DDL` create, `# DML`, `# CONTEXT-DATABASE: <DB>`).
    #[arg(long, value_name = "DB")]
    influx_import_header: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args, Debug)]
struct QueryArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8086")]
    url: String,
    /// Database holding the data.
    #[arg(long, default_value = "benchmark")]
    db: String,
    /// Name of the server in the report (e.g. InfluxDB, Augur).
    #[arg(long, default_value = "server")]
    label: String,
    /// Hosts in the data (TSBS's --scale).
    #[arg(long, default_value_t = DEFAULT_HOSTS)]
    hosts: u64,
    /// First timestamp of the data (RFC 3339).
    #[arg(long, default_value = "2016-01-01T00:00:00Z")]
    start: String,
    /// End of the data (RFC 3339, exclusive); default: --start plus --hours.
    #[arg(long)]
    end: Option<String>,
    /// Hours of data, when --end is not given.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Spacing of a host's rows (for the full scan's row count).
    #[arg(long, default_value = "10s")]
    interval: String,
    /// Timed queries per query type.
    #[arg(long, default_value_t = 100)]
    queries_per_type: usize,
    /// Untimed queries sent first per type (the first ones of the timed list).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Seed of the random hosts and windows: same seed, same queries.
    #[arg(long, default_value_t = 123)]
    seed: u64,
    /// Only these query types (comma-separated TSBS names); default: all nine.
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Times the full scan `SELECT mean(*) FROM cpu` is timed (0 = skip it).
    #[arg(long, default_value_t = 5)]
    scan_repeats: usize,
    /// Per-request timeout (Influx duration).
    #[arg(long, default_value = "600s")]
    timeout: String,
    /// Print the generated queries instead of sending them.
    #[arg(long)]
    print_queries: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Args, Debug)]
struct QueryTableArgs {
    /// The reference report (e.g. InfluxDB's).
    #[arg(long)]
    baseline: PathBuf,
    /// The report compared with it (e.g. Augur's).
    #[arg(long)]
    candidate: PathBuf,
    /// The candidate/baseline p50 ratio a type must reach to count as met.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    target_ratio: f64,
}

fn main() {
    let result = match Cli::parse().command {
        Command::Ingest(args) => ingest(args).map(|errors| {
            // The report is printed; a non-zero status tells scripts it is not clean.
            if errors > 0 {
                2
            } else {
                0
            }
        }),
        Command::Generate(args) => generate(args).map(|()| 0),
        Command::Query(args) => query(args).map(|errors| if errors > 0 { 2 } else { 0 }),
        Command::QueryTable(args) => query_bench::compare_table(&args.baseline, &args.candidate, args.target_ratio)
            .map(|table| {
                print!("{table}");
                0
            }),
        Command::ForecastAccuracy(args) => forecast_accuracy::run(&forecast_accuracy::Options {
            url: args.url,
            data_dir: args.data_dir,
            only: args.only,
            model: args.model,
            level: args.level,
            skip_load: args.skip_load,
        })
        .map(|()| 0),
        Command::AnomalyNab(args) => anomaly_nab::run(&anomaly_nab::Options {
            data_dir: args.data_dir,
            only: args.only,
            model: args.model,
            detector: augur_engine::forecast::anomaly::DetectorConfig {
                level: args.level,
                consecutive: args.consecutive,
                shift_threshold: args.shift_threshold,
                shift_drift: args.shift_drift,
            },
            training: args.training,
            refit_every: args.refit_every,
            merge: args.merge,
            sweep: args.sweep,
        })
        .map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("augur-bench: {error:#}");
            std::process::exit(1);
        }
    }
}

/// Runs `ingest`; returns the number of failed batches.
fn ingest(args: IngestArgs) -> Result<u64> {
    let spec = args.data.spec()?;
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if args.client_threads == 0 {
        bail!("--client-threads must be at least 1");
    }
    let timeout_ns = timefmt::parse_duration(&args.timeout).context("--timeout")?;
    let base = Url::parse(&args.url).with_context(|| format!("--url {:?}", args.url))?;
    if !matches!(base.scheme(), "http" | "https") {
        bail!("--url must be http:// or https://");
    }
    let config = SendConfig {
        base,
        db: args.db.clone(),
        workers: args.workers,
        gzip: args.gzip,
        timeout: std::time::Duration::from_nanos(timeout_ns.max(1) as u64),
    };

    let generation_started = Instant::now();
    let mut batches = dataset::batches(&spec, args.batch);
    let bytes = batches.iter().map(|b| b.body.len() as u64).sum();
    if args.gzip {
        compress::gzip_batches(&mut batches)?;
    }
    let generation = generation_started.elapsed();
    let rows = batches.iter().map(|b| b.rows).sum();
    let batch_count = batches.len() as u64;
    if args.output == OutputFormat::Text {
        eprintln!(
            "generated {rows} rows in {batch_count} batches in {:.3} s; sending with {} workers",
            generation.as_secs_f64(),
            args.workers
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async {
        let client = sender::client(&config)?;
        if args.create_db {
            sender::create_database(&client, &config).await?;
        }
        sender::send_batches(&client, &config, Arc::new(batches)).await
    })?;

    let report = IngestReport {
        info: RunInfo {
            url: args.url,
            db: args.db,
            series_mode: format!("{:?}", spec.mode).to_lowercase(),
            hosts: spec.hosts,
            interval: args.data.interval,
            workers: args.workers,
            batch: args.batch,
            gzip: args.gzip,
        },
        rows,
        batches: batch_count,
        bytes,
        generation,
        outcome,
    };
    match args.output {
        OutputFormat::Text => println!("{}", report.to_text()),
        OutputFormat::Json => println!("{}", report.to_json()),
    }
    Ok(report.outcome.errors)
}

/// Runs `query`; returns the number of failed queries.
fn query(args: QueryArgs) -> Result<u64> {
    let start_ns = timefmt::parse_rfc3339(&args.start).context("--start")?;
    let end_ns = match &args.end {
        Some(end) => timefmt::parse_rfc3339(end).context("--end")?,
        None => {
            if !(args.hours.is_finite() && args.hours > 0.0 && args.hours < 1e6) {
                bail!("--hours must be a positive number, got {}", args.hours);
            }
            start_ns.saturating_add((args.hours * 3_600.0 * timefmt::NANOS_PER_SEC as f64) as i64)
        }
    };
    let interval_ns = timefmt::parse_duration(&args.interval).context("--interval")?;
    if interval_ns <= 0 {
        bail!("--interval must be positive");
    }
    let data = tsbs_queries::Window { start_ns, end_ns };
    let scale = usize::try_from(args.hosts).context("--hosts")?;
    let types = if args.types.is_empty() {
        tsbs_queries::DEVOPS.to_vec()
    } else {
        args.types
            .iter()
            .map(|name| {
                tsbs_queries::query_type(name.trim()).with_context(|| {
                    let known: Vec<&str> = tsbs_queries::DEVOPS.iter().map(|q| q.name).collect();
                    format!("unknown query type {name:?} (known: {})", known.join(", "))
                })
            })
            .collect::<Result<Vec<_>>>()?
    };
    let mut generated = Vec::with_capacity(types.len());
    for query_type in &types {
        let queries = tsbs_queries::generate(data, scale, args.seed, query_type, args.queries_per_type)
            .with_context(|| format!("generating {}", query_type.name))?;
        generated.push((query_type.name, queries));
    }
    if args.print_queries {
        for (name, queries) in &generated {
            for q in queries {
                println!("{name}\t{q}");
            }
        }
        return Ok(0);
    }

    let timeout_ns = timefmt::parse_duration(&args.timeout).context("--timeout")?;
    let base = Url::parse(&args.url).with_context(|| format!("--url {:?}", args.url))?;
    let target = query_bench::Target::new(&base, &args.db)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_nanos(timeout_ns.max(1) as u64))
        .tcp_nodelay(true)
        .default_headers(auth::default_headers()?)
        .build()
        .context("building the HTTP client")?;
    let mut results = Vec::with_capacity(generated.len());
    for (name, queries) in &generated {
        let result = query_bench::run_type(&client, &target, name, queries, args.warmup);
        eprintln!(
            "{}: {name}: {} ok, {} errors, mean {:.2} ms",
            args.label,
            result.ok,
            result.errors,
            result.mean_ms()
        );
        results.push(result);
    }
    let data_rows = args.hosts * ((end_ns - start_ns) / interval_ns) as u64;
    let scan = (args.scan_repeats > 0).then(|| {
        let repeats = vec![tsbs_queries::FULL_SCAN.to_string(); args.scan_repeats];
        query_bench::run_type(&client, &target, "full-scan", &repeats, args.warmup.min(1))
    });
    let errors = results.iter().map(|r| r.errors).sum::<u64>() + scan.as_ref().map_or(0, |s| s.errors);

    let scan_json = scan.as_ref().map(|s| {
        let mut value = s.to_json();
        value["query"] = tsbs_queries::FULL_SCAN.into();
        value["data_rows"] = data_rows.into();
        value["values_per_sec"] = query_bench::scan_values_per_sec(s, data_rows).round().into();
        value
    });
    match args.output {
        OutputFormat::Json => {
            let report = serde_json::json!({
                "label": args.label,
                "url": args.url,
                "db": args.db,
                "hosts": args.hosts,
                "start": args.start,
                "end_ns": end_ns,
                "seed": args.seed,
                "queries_per_type": args.queries_per_type,
                "warmup": args.warmup,
                "types": results.iter().map(query_bench::TypeResult::to_json).collect::<Vec<_>>(),
                "full_scan": scan_json,
            });
            println!("{report}");
        }
        OutputFormat::Text => {
            println!("{} ({}), {} hosts, seed {}", args.label, args.url, args.hosts, args.seed);
            println!("| query type | ok | errors | p50 ms | p99 ms | mean ms | series | rows |");
            println!("|---|---:|---:|---:|---:|---:|---:|---:|");
            for r in results.iter().chain(scan.iter()) {
                let j = r.to_json();
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.name, r.ok, r.errors, j["p50_ms"], j["p99_ms"], j["mean_ms"], r.series, r.rows
                );
            }
            if let (Some(s), Some(j)) = (&scan, &scan_json) {
                println!(
                    "full scan: {} rows x {VALUES_PER_ROW} values, p50 {:.1} ms: {:.1} M values/s",
                    data_rows,
                    j["p50_ms"].as_f64().unwrap_or(0.0),
                    query_bench::scan_values_per_sec(s, data_rows) / 1e6
                );
            }
        }
    }
    Ok(errors)
}

/// Runs `generate`.
fn generate(args: GenerateArgs) -> Result<()> {
    let spec = args.data.spec()?;
    let header = match &args.influx_import_header {
        Some(db) => {
            if db.is_empty() || db.contains(['\n', '\r']) {
                bail!("--influx-import-header needs a database name on one line");
            }
            let quoted = db.replace('"', "\\\"");
            format!("# DDL\nCREATE DATABASE \"{quoted}\"\n\n# DML\n# CONTEXT-DATABASE: {db}\n\n")
        }
        None => String::new(),
    };
    let started = Instant::now();
    let written = match &args.out {
        Some(path) => {
            let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
            dataset::write_rows(&spec, &header, &mut file).with_context(|| format!("writing {}", path.display()))
        }
        None => dataset::write_rows(&spec, &header, &mut io::stdout().lock()),
    };
    match written {
        Ok(rows) => {
            eprintln!("wrote {rows} rows in {:.3} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        // `augur-bench generate | head` is not an error.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().filter_map(|cause| cause.downcast_ref::<io::Error>()).any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
