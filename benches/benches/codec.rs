//! Criterion benchmarks of Augur's column codecs: encode/decode throughput
//! (values per second, one core) and size (bytes per value) of the Gorilla and
//! decimal (ALP) float codecs and the timestamp codec.
//!
//! Data sets, cut into blocks the way sealing cuts a series:
//!
//! * real traces from `../shared/data/` relative to the workspace root (override
//!   with `AUGUR_DATA_DIR`): every NAB `nab/*.csv` (`timestamp,value`, one block
//!   per 4096 points) and `alibaba-genai/qps.csv` (one block per container and
//!   request type). A missing file is skipped with a note;
//! * TSBS `cpu-only`-shaped random walks (values in [0, 100], normal steps of
//!   σ = 1), printed with 2 decimals and with 16 decimals and parsed back, as a
//!   client would send them: 8 blocks of 4096 values each.
//!
//! The bytes-per-value table (every codec, plus the automatic choice that
//! blocks use) is printed to stderr once, before the timings.
//!
//! Run: `cargo bench -p augur-bench --bench codec` (add a filter such as
//! `-- decode` to run a subset). On a shared or busy machine, set
//! `AUGUR_BENCH_CLOCK=cpu` to time with the thread's CPU time
//! (`/proc/thread-self/schedstat`, Linux) instead of the wall clock: it counts
//! only the time the benchmark thread actually ran, which is what "values per
//! second per core" means, and is not inflated by other processes.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use augur_engine::codec::{decimal, float, gorilla, timestamp};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Points per block for the NAB traces and the random walks.
const BLOCK: usize = 4096;

/// One data set: float blocks and, for real traces, their timestamps (ns).
struct Dataset {
    name: String,
    values: Vec<Vec<f64>>,
    timestamps: Vec<Vec<i64>>,
}

impl Dataset {
    fn len(&self) -> usize {
        self.values.iter().map(Vec::len).sum()
    }
}

fn data_dir() -> PathBuf {
    match std::env::var_os("AUGUR_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) into nanoseconds since the epoch.
fn parse_nab_time(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?);
    let secs = days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    Some(secs * 1_000_000_000)
}

fn chunks<T: Clone>(v: &[T]) -> Vec<Vec<T>> {
    v.chunks(BLOCK).map(<[T]>::to_vec).collect()
}

fn load_nab(dir: &Path) -> Vec<Dataset> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir.join("nab")) {
        Ok(rd) => {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "csv")).collect()
        }
        Err(e) => {
            eprintln!("skipping NAB traces: {}: {e}", dir.join("nab").display());
            return Vec::new();
        }
    };
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping {}: unreadable", path.display());
            continue;
        };
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1) {
            let mut f = line.split(',');
            let (Some(t), Some(v)) = (f.next(), f.next()) else {
                continue;
            };
            if let (Some(t), Ok(v)) = (parse_nab_time(t), v.trim().parse::<f64>()) {
                ts.push(t);
                vs.push(v);
            }
        }
        let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        out.push(Dataset { name: format!("nab/{name}"), values: chunks(&vs), timestamps: chunks(&ts) });
    }
    out
}

fn load_qps(dir: &Path) -> Option<Dataset> {
    let path = dir.join("alibaba-genai/qps.csv");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skipping {}: {e}", path.display());
            return None;
        }
    };
    // One series per (container_ip, request_type), in file (time) order.
    let mut series: Vec<(String, Vec<i64>, Vec<f64>)> = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(t), Ok(v)) = (f[0].parse::<f64>(), f[1].parse::<f64>()) else {
            continue;
        };
        let key = format!("{},{}", f[2], f[3]);
        let idx = match series.iter().position(|s| s.0 == key) {
            Some(i) => i,
            None => {
                series.push((key, Vec::new(), Vec::new()));
                series.len() - 1
            }
        };
        series[idx].1.push((t * 1e9) as i64);
        series[idx].2.push(v);
    }
    Some(Dataset {
        name: "alibaba/qps".into(),
        values: series.iter().map(|s| s.2.clone()).collect(),
        timestamps: series.iter().map(|s| s.1.clone()).collect(),
    })
}

/// TSBS cpu-only-like clamped random walk, printed with `decimals` and parsed back.
fn random_walk(decimals: usize) -> Dataset {
    let mut rng = StdRng::seed_from_u64(0x7e57_0000 + decimals as u64);
    let values = (0..8)
        .map(|_| {
            let mut x: f64 = rng.gen_range(0.0..100.0);
            (0..BLOCK)
                .map(|_| {
                    // Box-Muller: a standard normal step.
                    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
                    let step = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    x = (x + step).clamp(0.0, 100.0);
                    format!("{x:.decimals$}").parse().unwrap_or(x)
                })
                .collect()
        })
        .collect();
    Dataset { name: format!("tsbs-walk/{decimals}dp"), values, timestamps: Vec::new() }
}

fn datasets() -> Vec<Dataset> {
    let dir = data_dir();
    let mut all = load_nab(&dir);
    all.extend(load_qps(&dir));
    all.push(random_walk(2));
    all.push(random_walk(16));
    all
}

type Encode<T> = fn(&[T]) -> Vec<u8>;

fn must<T>(r: Result<T, augur_engine::codec::CodecError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("codec failed on benchmark data: {e}"),
    }
}

fn bytes_per_value<T>(blocks: &[Vec<T>], encode: Encode<T>) -> f64 {
    let n: usize = blocks.iter().map(Vec::len).sum();
    let bytes: usize = blocks.iter().map(|b| encode(b).len()).sum();
    bytes as f64 / n.max(1) as f64
}

fn print_sizes(sets: &[Dataset]) {
    eprintln!();
    eprintln!(
        "{:<38} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "dataset (bytes/value)", "values", "raw", "gorilla", "decimal", "auto", "timestamps"
    );
    for d in sets {
        let ts = if d.timestamps.is_empty() {
            "-".to_string()
        } else {
            format!("{:.3}", bytes_per_value(&d.timestamps, |b| must(timestamp::encode(b))))
        };
        eprintln!(
            "{:<38} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9}",
            d.name,
            d.len(),
            8.0,
            bytes_per_value(&d.values, |b| must(gorilla::encode(b))),
            bytes_per_value(&d.values, |b| must(decimal::encode(b))),
            bytes_per_value(&d.values, |b| must(float::encode(b))),
            ts
        );
    }
    eprintln!();
}

fn cpu_clock() -> bool {
    Clock::from_env().cpu
}

/// Wall clock, or (with `AUGUR_BENCH_CLOCK=cpu`) the benchmark thread's CPU time.
struct Clock {
    cpu: bool,
    wall: WallTime,
}

impl Clock {
    fn from_env() -> Self {
        let cpu = std::env::var("AUGUR_BENCH_CLOCK").is_ok_and(|v| v == "cpu") && thread_cpu_ns().is_some();
        Clock { cpu, wall: WallTime }
    }
}

/// Nanoseconds this thread has run, from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// A start mark: wall-clock instant or CPU nanoseconds.
enum Mark {
    Wall(std::time::Instant),
    Cpu(u64),
}

impl Measurement for Clock {
    type Intermediate = Mark;
    type Value = Duration;

    fn start(&self) -> Mark {
        match (self.cpu, thread_cpu_ns()) {
            (true, Some(ns)) => Mark::Cpu(ns),
            _ => Mark::Wall(std::time::Instant::now()),
        }
    }

    fn end(&self, mark: Mark) -> Duration {
        match mark {
            Mark::Wall(t) => t.elapsed(),
            Mark::Cpu(start) => Duration::from_nanos(thread_cpu_ns().unwrap_or(start).saturating_sub(start)),
        }
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn bench_codecs(c: &mut Criterion<Clock>) {
    let sets = datasets();
    print_sizes(&sets);
    if cpu_clock() {
        eprintln!("timing with thread CPU time (AUGUR_BENCH_CLOCK=cpu)");
    }
    type Decode = fn(&[u8], &mut Vec<f64>) -> Result<(), augur_engine::codec::CodecError>;
    let codecs: [(&str, Encode<f64>, Decode); 2] = [
        ("gorilla", |b| must(gorilla::encode(b)), gorilla::decode_into),
        ("decimal", |b| must(decimal::encode(b)), decimal::decode_into),
    ];
    for d in &sets {
        let mut g = c.benchmark_group(format!("codec/{}", d.name));
        g.throughput(Throughput::Elements(d.len() as u64));
        for (name, encode, decode) in codecs {
            g.bench_function(format!("encode/{name}"), |b| {
                b.iter(|| {
                    for block in &d.values {
                        black_box(encode(black_box(block)));
                    }
                })
            });
            let encoded: Vec<Vec<u8>> = d.values.iter().map(|b| encode(b)).collect();
            let mut out = Vec::with_capacity(BLOCK);
            g.bench_function(format!("decode/{name}"), |b| {
                b.iter(|| {
                    for bytes in &encoded {
                        must(decode(black_box(bytes), &mut out));
                        black_box(&out);
                    }
                })
            });
        }
        if !d.timestamps.is_empty() {
            let encoded: Vec<Vec<u8>> = d.timestamps.iter().map(|b| must(timestamp::encode(b))).collect();
            let mut out = Vec::with_capacity(BLOCK);
            g.bench_function("encode/timestamps", |b| {
                b.iter(|| {
                    for block in &d.timestamps {
                        black_box(must(timestamp::encode(black_box(block))));
                    }
                })
            });
            g.bench_function("decode/timestamps", |b| {
                b.iter(|| {
                    for bytes in &encoded {
                        must(timestamp::decode_into(black_box(bytes), &mut out));
                        black_box(&out);
                    }
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(Clock::from_env())
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_codecs
}
criterion_main!(benches);
