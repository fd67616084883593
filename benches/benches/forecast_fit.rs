//! Speed of one statistical fit + forecast on the real traces: the issue's
//! "4,032 points in ≤ 5 ms on one core" measured per model and series.
//!
//! For every series of `shared/data` (the baseline script's set) the last
//! 4,032 points (all 1,410 of the Alibaba QPS) are fitted and forecast 12
//! steps ahead with a 95% band, `REPS` times on one thread; the table gives
//! the fastest and the median run in milliseconds. Models detect their own
//! seasons, as `forecast()` does by default.
//!
//! MSTL remembers a thread's last two decompositions
//! (`mstl::forget_recent_decompositions`), so that `auto`'s two seasonal
//! autoregressions do not decompose the same history twice. A repeated fit
//! of the *same* history would hit that memo, so it is cleared before every
//! run: each run costs what a fit of a new history costs.
//!
//! Run: `AUGUR_DATA=../shared/data cargo bench -p augur-bench --bench forecast_fit`
//! (release profile; `AUGUR_MODELS=auto,ets` narrows the models,
//! `AUGUR_SERIES=nyc` the series to those whose name contains one of the
//! comma-separated words, e.g. for a profile of one). Without the
//! data folder it says so and exits.

use std::path::PathBuf;
use std::time::Instant;

use augur_engine::forecast::eval::load_shared_data;
use augur_engine::forecast::registry::by_name;
use augur_engine::forecast::{mstl, FitOptions};

/// Runs per (series, model).
const REPS: usize = 31;

/// History length of the target.
const POINTS: usize = 4032;

fn data_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AUGUR_DATA") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [root.join("../shared/data"), root.join("../../shared/data")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| root.join("../shared/data"))
}

fn main() {
    let dir = data_dir();
    let data = match load_shared_data(&dir) {
        Ok(d) => d,
        Err(e) => {
            println!("no data at {} ({e}); set AUGUR_DATA", dir.display());
            return;
        }
    };
    let models: Vec<String> = std::env::var("AUGUR_MODELS")
        .unwrap_or_else(|_| "auto,ets,mstl,snaive".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let series: Vec<String> =
        std::env::var("AUGUR_SERIES").map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default();
    println!("| series | points | model | fastest ms | median ms |");
    println!("|---|---|---|---|---|");
    for s in data.iter().filter(|s| series.is_empty() || series.iter().any(|w| s.name.contains(w.as_str()))) {
        let history = &s.values[s.values.len().saturating_sub(POINTS)..];
        for name in &models {
            let mut times = Vec::with_capacity(REPS);
            for _ in 0..REPS {
                let Some(mut model) = by_name(name) else {
                    println!("unknown model {name}");
                    return;
                };
                mstl::forget_recent_decompositions();
                let start = Instant::now();
                let fitted = model.fit(history, &FitOptions::default()).and_then(|()| model.predict(12, &[95.0]));
                times.push(start.elapsed().as_secs_f64() * 1e3);
                if let Err(e) = fitted {
                    println!("| {} | {} | {name} | error: {e} | |", s.name, history.len());
                    break;
                }
            }
            times.sort_by(f64::total_cmp);
            if let (Some(fastest), Some(median)) = (times.first(), times.get(times.len() / 2)) {
                println!("| {} | {} | {name} | {fastest:.2} | {median:.2} |", s.name, history.len());
            }
        }
    }
}
