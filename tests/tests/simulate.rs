//! End-to-end test of `augur simulate`: the real binary replays a real NAB
//! trace (`../shared/data/nab/nyc_taxi.csv`, a demand proxy with daily
//! and weekly seasons) under the three policies and reports
//! JSON and a table; an SVG plot is written.
//!
//! Structure and orderings only, no timings: the oracle is never short,
//! and forecasting is short less often than reacting.

use std::process::{Command, Output};

use augur_tests::{augur_bin, shared_data};

fn simulate(args: &[&str]) -> Output {
    Command::new(augur_bin()).arg("simulate").args(args).output().expect("cannot run augur")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "augur simulate failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn replays_a_nab_trace_under_three_policies() {
    let trace = shared_data().join("nab/nyc_taxi.csv");
    let trace = trace.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("sim.svg");
    // snaive keeps the debug-build run short; the figures in
    // docs/benchmarks.md use the default model.
    let common = ["--trace", trace, "--lead-time", "5m", "--scale-to-units", "20", "--model", "snaive"];
    let mut args = common.to_vec();
    args.extend(["--policy", "all", "--json", "--plot", svg.to_str().expect("utf-8 path")]);
    let report: serde_json::Value = serde_json::from_str(&ok(&simulate(&args))).expect("JSON report");

    assert_eq!(report["setup"]["trace"], "nyc_taxi.csv");
    assert_eq!(report["setup"]["step"], "30m0s");
    assert_eq!(report["setup"]["peak_units"], 20);
    assert!(report["setup"]["points"].as_u64().expect("points") >= 10_000);
    let policies = report["policies"].as_array().expect("policies");
    let names: Vec<&str> = policies.iter().map(|p| p["policy"].as_str().expect("name")).collect();
    assert_eq!(names, ["predictive", "reactive", "oracle"]);
    for p in policies {
        for key in
            ["theta_u", "theta_o", "tau_u", "tau_o", "instability", "jitter", "unit_hours", "cost", "unmet_demand"]
        {
            let v = p[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {p}"));
            assert!(v.is_finite(), "{key} = {v}");
        }
        assert!(p["scaling_actions"].as_u64().is_some(), "{p}");
        assert!((0.0..=100.0).contains(&p["tau_u"].as_f64().expect("tau_u")));
    }
    let tau_u = |i: usize| policies[i]["tau_u"].as_f64().expect("tau_u");
    assert!(tau_u(2) < 1e-9, "the oracle is never short: {}", policies[2]);
    assert!(tau_u(0) < tau_u(1), "predictive τ_U {} vs reactive {}", tau_u(0), tau_u(1));
    assert!(policies[0]["fits"].as_u64().expect("fits") > 0);
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 4, "{report}");
    assert!(report["matched_oracle"]["cost"].as_f64().is_some(), "{report}");
    assert!(targets.iter().all(|t| t["met"].is_boolean()));

    let plot = std::fs::read_to_string(&svg).expect("the plot was written");
    assert!(plot.starts_with("<svg") && plot.contains("oracle supply"), "{}", &plot[..plot.len().min(300)]);

    // The table: one row per policy and the targets.
    let mut args = common.to_vec();
    args.extend(["--policy", "reactive"]);
    let table = ok(&simulate(&args));
    assert!(table.contains("τ_U %") && table.lines().any(|l| l.starts_with("reactive")), "{table}");
    assert!(!table.contains("targets"), "one policy: no ratios\n{table}");
}

/// The Alibaba cluster's memory, read from the gzipped file as shipped
/// (columns `value,timestamp_anon,container_ip`, one row per pod): the
/// pods are summed per tick, and with the default safety the predictive
/// policy meets every target of issue #5 (docs/benchmarks.md). The replay
/// is deterministic, so a forecaster change that breaks this fails here.
#[test]
fn replays_the_alibaba_memory_trace_from_its_gzip_file_and_meets_the_targets() {
    let trace = shared_data().join("alibaba-genai/pod_memory_util_anon.csv.gz");
    let trace = trace.to_str().expect("utf-8 path");
    let args = [
        "--trace",
        trace,
        "--lead-time",
        "5m",
        "--warmup",
        "4h",
        "--scale-to-units",
        "20",
        "--policy",
        "all",
        "--json",
    ];
    let report: serde_json::Value = serde_json::from_str(&ok(&simulate(&args))).expect("JSON report");
    assert_eq!(report["setup"]["trace"], "pod_memory_util_anon.csv.gz");
    assert_eq!(report["setup"]["step"], "57s", "{}", report["setup"]);
    assert_eq!(report["setup"]["points"], 1441, "{}", report["setup"]);
    let policies = report["policies"].as_array().expect("policies");
    let cost = |i: usize| policies[i]["cost"].as_f64().expect("cost");
    assert!(cost(2) < cost(0) && cost(0) < cost(1), "oracle < predictive < reactive: {policies:?}");
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 4, "{report}");
    for t in targets {
        assert_eq!(t["met"], true, "{t}");
    }
}

/// Replays `trace` (under `../shared/data/`) under all three policies with
/// a 5-minute lead and 20 units at the peak: the JSON report and the
/// `--steps` CSV.
fn replay_with_steps(trace: &str) -> (serde_json::Value, String) {
    let trace = shared_data().join(trace);
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = dir.path().join("steps.csv");
    let args = [
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--lead-time",
        "5m",
        "--scale-to-units",
        "20",
        "--policy",
        "all",
        "--json",
        "--steps",
        steps.to_str().expect("utf-8 path"),
    ];
    let report: serde_json::Value = serde_json::from_str(&ok(&simulate(&args))).expect("JSON report");
    (report, std::fs::read_to_string(&steps).expect("the steps were written"))
}

/// NAB's `grok_asg_anomaly`: after its level falls, a one-step burst comes
/// every 22–25 steps. The predictive policy finds their cadence
/// (`augur_engine::forecast::cadence`) and is ready for each one, which
/// brings its τ_U under 0.3 × reactive's; with the default safety every
/// target of issue #5 is met (docs/benchmarks.md). `--steps` writes each
/// step, and shows the bursts the predictive policy covered.
#[test]
fn replays_grok_with_its_periodic_bursts_covered_and_meets_the_targets() {
    let (report, text) = replay_with_steps("nab/grok_asg_anomaly.csv");
    for t in report["targets"].as_array().expect("targets") {
        assert_eq!(t["met"], true, "{t}");
    }
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    let (scored, demand, predictive, reactive) =
        (col("scored"), col("demand_units"), col("predictive_ready"), col("reactive_ready"));
    let rows: Vec<(&str, Vec<f64>)> = lines
        .map(|l| {
            let (time, rest) = l.split_once(',').unwrap_or((l, ""));
            (time, std::iter::once(f64::NAN).chain(rest.split(',').map(|v| v.parse().unwrap_or(f64::NAN))).collect())
        })
        .collect();
    assert_eq!(rows.len(), report["setup"]["points"].as_u64().expect("points") as usize);
    // The two quiet days (2014-01-29 and -30): bursts of at least 4 units
    // straight from the quiet level (at most 2). Reactive is short at
    // nearly every one, the predictive policy at few.
    let bursts: Vec<&Vec<f64>> = rows
        .windows(2)
        .filter(|w| w[1].0.starts_with("2014-01-29") || w[1].0.starts_with("2014-01-30"))
        .filter(|w| w[1].1[scored] == 1.0 && w[1].1[demand] >= 4.0 && w[0].1[demand] <= 2.0)
        .map(|w| &w[1].1)
        .collect();
    assert!(bursts.len() >= 15, "{} bursts", bursts.len());
    let short = |c: usize| bursts.iter().filter(|r| r[demand] > r[c]).count();
    assert!(short(reactive) * 10 >= bursts.len() * 9, "reactive short at {} of {}", short(reactive), bursts.len());
    assert!(short(predictive) * 3 <= bursts.len(), "predictive short at {} of {}", short(predictive), bursts.len());
}

/// NAB's `ec2_cpu_utilization_53ea38`: a nightly job lifts the load by a
/// third for one step, starting anywhere from 03:10 to 03:45. After five
/// nights the predictive policy finds the daily cadence
/// (`augur_engine::forecast::cadence::detect_daily`) and holds the job's
/// height over the window it starts in, so it is ready for the job on
/// (nearly) every night after; without it, it was short on all nine. Its
/// cost stays within the targets against reactive and the oracle.
#[test]
fn replays_a_nightly_job_and_is_ready_for_it_every_night_after_five() {
    let (report, text) = replay_with_steps("nab/ec2_cpu_utilization_53ea38.csv");
    let targets = report["targets"].as_array().expect("targets");
    for t in &targets[1..] {
        assert_eq!(t["met"], true, "{t}");
    }
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    let (demand, predictive) = (col("demand_units"), col("predictive_ready"));
    // Each night from 2014-02-20 (the sixth): the step of the job, the
    // highest demand between 03:00 and 03:59.
    let mut nights: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let time = fields[0];
        if time.as_bytes().get(11..13) != Some(b"03".as_slice()) || time[..10] < *"2014-02-20" {
            continue;
        }
        let row: Vec<f64> = fields.iter().map(|v| v.parse().unwrap_or(f64::NAN)).collect();
        let night = nights.entry(time[..10].to_string()).or_insert_with(|| row.clone());
        if row[demand] > night[demand] {
            *night = row;
        }
    }
    assert_eq!(nights.len(), 9, "{:?}", nights.keys());
    assert!(nights.values().all(|r| r[demand] >= 18.0), "the job lifts every night: {nights:?}");
    let short = nights.values().filter(|r| r[demand] > r[predictive]).count();
    assert!(short <= 2, "predictive short at {short} of the 9 nights' jobs: {nights:?}");
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let out = simulate(&["--trace", "/nonexistent/trace.csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/trace.csv"));
    let trace = shared_data().join("nab/nyc_taxi.csv");
    let out = simulate(&["--trace", trace.to_str().expect("utf-8 path"), "--interval", "45m"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn replays_a_measurement_from_a_running_augur() {
    use augur_tests::{Server, ServerOptions};
    // Two weeks of a 30-minute demand proxy (the first 672 points of nyc_taxi), written
    // as two series whose sum is the trace.
    let text = std::fs::read_to_string(shared_data().join("nab/nyc_taxi.csv")).expect("trace");
    let server = Server::start(ServerOptions::default());
    server.create_database("infra");
    let mut body = String::new();
    for line in text.lines().skip(1).take(672) {
        let (t, v) = line.split_once(',').expect("timestamp,value");
        let t = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").expect("time").and_utc().timestamp();
        let v: f64 = v.parse().expect("value");
        body.push_str(&format!("taxi,zone=a riders={} {t}\ntaxi,zone=b riders={} {t}\n", v * 0.25, v * 0.75));
    }
    let r = server.post("/write?db=infra&precision=s", body, false);
    assert_eq!(r.status, 204, "{r}");
    let url = server.base_url();
    let query = "SELECT sum(riders) FROM taxi WHERE time >= '2014-07-01T00:00:00Z' AND time < '2014-07-15T00:00:00Z' \
                 GROUP BY time(30m), zone";
    let args = ["--query", query, "--db", "infra", "--url", &url, "--lead-time", "5m", "--policy", "oracle", "--json"];
    let report: serde_json::Value = serde_json::from_str(&ok(&simulate(&args))).expect("JSON report");
    assert_eq!(report["setup"]["points"], 672, "{report}");
    assert_eq!(report["setup"]["step"], "30m0s");
    assert_eq!(report["policies"][0]["tau_u"], 0.0, "{report}");
    // A query that fails says why.
    let args = ["--query", "SELECT sum(riders) FROM taxi GROUP BY time(30m)", "--db", "nope", "--url", &url];
    let out = simulate(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--query"), "{}", String::from_utf8_lossy(&out.stderr));
}
