//! The live workload: every step, one new point per service at the step's
//! time (one write request per database), continuing each trace where the
//! backfill stopped; every few steps a status line read back from the
//! server (the pool's demand, forecast and units; the models trained).

use std::time::Duration;

use serde_json::Value;

use super::api::{Api, ApiError};
use super::output::Output;
use super::setup::{self, BACKFILL_STEPS, LEAD_STEPS, POOL};
use super::traces::Service;
use crate::clock::now_ns;

/// Steps between status lines.
const STATUS_EVERY: usize = 5;
/// Consecutive failed writes after which the demo gives up.
pub const MAX_FAILURES: u32 = 5;

/// The replay of the services from `first_tick` on.
pub struct Workload {
    /// The server.
    pub api: Api,
    /// What is replayed.
    pub services: Vec<Service>,
    /// Seconds per step.
    pub step_s: i64,
    /// The first live step's time (seconds since the epoch).
    pub first_tick: i64,
    /// Where lines go.
    pub out: Output,
}

impl Workload {
    /// Replays until the future is dropped, or fails after
    /// [`MAX_FAILURES`] writes in a row failed.
    pub async fn run(self) -> Result<(), ApiError> {
        let databases = setup::databases(&self.services);
        let mut failures = 0;
        let mut models = 0;
        for j in 0usize.. {
            let t = self.first_tick + j as i64 * self.step_s;
            let wait = t.saturating_mul(1_000_000_000) - now_ns();
            if wait > 0 {
                tokio::time::sleep(Duration::from_nanos(wait.unsigned_abs())).await;
            }
            let k = BACKFILL_STEPS + j;
            for db in &databases {
                let body: String =
                    self.services.iter().filter(|s| s.database == *db).map(|s| setup::line(s, k, t)).collect();
                match self.api.write(db, body).await {
                    Ok(()) => failures = 0,
                    Err(err) => {
                        failures += 1;
                        self.out.line(&format!("write failed: {err}"));
                        if failures >= MAX_FAILURES {
                            return Err(err);
                        }
                    }
                }
            }
            if j % STATUS_EVERY == 0 {
                self.status(k, &mut models).await;
            }
        }
        Ok(())
    }

    /// Prints the status line (and the model count when it grew).
    async fn status(&self, k: usize, models: &mut usize) {
        let view = self.api.get_json(&format!("/v1/pools/{POOL}")).await.unwrap_or(Value::Null);
        let others: Vec<(&str, f64)> =
            self.services.iter().filter(|s| s.name != POOL).map(|s| (s.name, s.cores(k))).collect();
        self.out.line(&status_line(&view, LEAD_STEPS as i64 * self.step_s, &others));
        if let Ok(answer) = self.api.query(None, "SHOW MODELS").await {
            let n = count_rows(&answer);
            if n > *models {
                *models = n;
                self.out.line(&format!(
                    "forecast {n} continuous-forecast model(s) trained (SHOW MODELS); forecasts in {}",
                    setup::FORECAST_MEASUREMENT
                ));
            }
        }
    }
}

/// Rows over every series of the first result.
fn count_rows(answer: &Value) -> usize {
    answer["results"][0]["series"]
        .as_array()
        .map_or(0, |series| series.iter().map(|s| s["values"].as_array().map_or(0, Vec::len)).sum())
}

/// One status line from the pool's view: demand now, the forecast at the
/// lead time, capacity ready and units starting; then the other services.
pub fn status_line(view: &Value, lead_s: i64, others: &[(&str, f64)]) -> String {
    let reading = &view["demand"]["cpu_cores"];
    let num = |v: &Value| v.as_f64().map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
    let forecast = match reading["forecast"].as_f64() {
        Some(x) => format!("{x:.1}"),
        None if reading["forecast_error"].is_string() => "- (reactive)".to_string(),
        None => "-".to_string(),
    };
    let units = &view["units_by_state"];
    let count = |state: &str| units[state].as_u64().unwrap_or(0);
    let mut line = format!(
        "status web: demand {} cores, p95 forecast +{lead_s}s {forecast}, ready {} cores ({} units, {} starting)",
        num(&reading["usage"]),
        num(&view["ready_capacity"]["cpu_cores"]),
        count("ready"),
        count("requested") + count("provisioning"),
    );
    for (name, cores) in others {
        line.push_str(&format!(" | {name} {cores:.1}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_the_pool_view() {
        let view = serde_json::json!({
            "demand": {"cpu_cores": {"usage": 12.34, "forecast": 18.0}},
            "ready_capacity": {"cpu_cores": 16.0},
            "units_by_state": {"ready": 4, "provisioning": 1},
        });
        let line = status_line(&view, 15, &[("api", 7.0)]);
        assert_eq!(
            line,
            "status web: demand 12.3 cores, p95 forecast +15s 18.0, ready 16.0 cores (4 units, 1 starting) | api 7.0"
        );
        assert!(status_line(&Value::Null, 15, &[]).contains("demand - cores"));
        let answer = serde_json::json!({"results": [{"series": [{"values": [[1], [2]]}, {"values": [[3]]}]}]});
        assert_eq!(count_rows(&answer), 3);
    }
}
