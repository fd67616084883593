//! The InfluxQL texts of TSBS's `devops` query set, written exactly as
//! TSBS's influx query generator (`cmd/tsbs_generate_queries/databases/
//! influx/devops.go`) writes them, with random hosts and time windows drawn
//! from a seeded generator so that every server gets the same queries.
//!
//! What is copied from TSBS: the texts (spacing and case included), the
//! window lengths (1 h or 12 h for `single-groupby`, 8 h for `cpu-max-all`,
//! 12 h for `double-groupby` and `high-cpu`, 1 h for `groupby-orderby-limit`),
//! a window's start drawn uniformly in `[start, end - window)` and printed as
//! RFC 3339 to the second, and hosts drawn without repetition from
//! `host_0 .. host_<scale-1>`. What is not: Go's `math/rand` sequence (the
//! draws come from `StdRng`), so the same seed does not give TSBS's files.
//!
//! Kept apart from the runner so the texts can be checked on their own.

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::tsbs::FIELD_KEYS;

/// Nanoseconds in one hour.
const HOUR_NS: i64 = 3_600_000_000_000;

/// Nanoseconds in one second (TSBS prints windows to the second).
const SECOND_NS: i64 = 1_000_000_000;

/// The shape of one TSBS devops query type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GroupByTime`: `max` of the first `metrics` fields of `hosts` random
    /// hosts over a random `hours`-hour window, per minute.
    SingleGroupby {
        /// Fields aggregated (the first N of `FIELD_KEYS`).
        metrics: usize,
        /// Random hosts in the `WHERE`.
        hosts: usize,
        /// Window length in hours.
        hours: i64,
    },
    /// `MaxAllCPU`: `max` of all ten fields of `hosts` random hosts over a
    /// random 8-hour window, per hour.
    CpuMaxAll {
        /// Random hosts in the `WHERE`.
        hosts: usize,
    },
    /// `GroupByTimeAndPrimaryTag`: `mean` of the first `metrics` fields of
    /// every host over a random 12-hour window, per hour and host.
    DoubleGroupby {
        /// Fields aggregated.
        metrics: usize,
    },
    /// `HighCPUForHosts` with no host filter: every row of a random 12-hour
    /// window whose `usage_user` is above 90.
    HighCpuAll,
    /// `LastPointPerHost`: the last row of every host.
    Lastpoint,
    /// `GroupByOrderByLimit`: `max(usage_user)` per minute over everything
    /// before a random time, the first five minutes.
    GroupbyOrderbyLimit,
}

/// One named query type of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryType {
    /// TSBS's `--query-type` name.
    pub name: &'static str,
    /// What it asks.
    pub kind: Kind,
}

/// The nine devops query types issue #3 measures, in report order.
pub const DEVOPS: [QueryType; 9] = [
    QueryType { name: "single-groupby-1-1-1", kind: Kind::SingleGroupby { metrics: 1, hosts: 1, hours: 1 } },
    QueryType { name: "single-groupby-1-8-1", kind: Kind::SingleGroupby { metrics: 1, hosts: 8, hours: 1 } },
    QueryType { name: "single-groupby-5-1-12", kind: Kind::SingleGroupby { metrics: 5, hosts: 1, hours: 12 } },
    QueryType { name: "cpu-max-all-8", kind: Kind::CpuMaxAll { hosts: 8 } },
    QueryType { name: "double-groupby-1", kind: Kind::DoubleGroupby { metrics: 1 } },
    QueryType { name: "double-groupby-all", kind: Kind::DoubleGroupby { metrics: FIELD_KEYS.len() } },
    QueryType { name: "high-cpu-all", kind: Kind::HighCpuAll },
    QueryType { name: "lastpoint", kind: Kind::Lastpoint },
    QueryType { name: "groupby-orderby-limit", kind: Kind::GroupbyOrderbyLimit },
];

/// The full-scan aggregation measured next to the TSBS set.
pub const FULL_SCAN: &str = "SELECT mean(*) FROM cpu";

/// Looks a query type up by its TSBS name.
pub fn query_type(name: &str) -> Option<QueryType> {
    DEVOPS.iter().copied().find(|q| q.name == name)
}

/// A half-open time window `[start, end)` in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant inside.
    pub start_ns: i64,
    /// First instant after.
    pub end_ns: i64,
}

impl Window {
    /// The start as TSBS prints it (Go's `time.RFC3339`: whole seconds, `Z`).
    pub fn start_string(&self) -> String {
        rfc3339_seconds(self.start_ns)
    }

    /// The end as TSBS prints it.
    pub fn end_string(&self) -> String {
        rfc3339_seconds(self.end_ns)
    }
}

/// Go's `time.Format(time.RFC3339)` of a UTC instant: the fraction is dropped.
fn rfc3339_seconds(ns: i64) -> String {
    augur_query::time::format_rfc3339_nano(ns.div_euclid(SECOND_NS) * SECOND_NS)
}

/// Draws the random parts of one query type's instances.
#[derive(Debug)]
pub struct Generator {
    data: Window,
    scale: usize,
    rng: StdRng,
}

impl Generator {
    /// A generator over data in `data` from `scale` hosts; `seed` and the
    /// query type's name decide the draws, so each type's sequence does not
    /// depend on which other types run.
    pub fn new(data: Window, scale: usize, seed: u64, query_type: &QueryType) -> Result<Self> {
        if data.end_ns <= data.start_ns {
            bail!("the data's end must be after its start");
        }
        if scale == 0 {
            bail!("the data needs at least one host");
        }
        // FNV-1a of the name, mixed into the seed.
        let name_hash = query_type
            .name
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        Ok(Generator { data, scale, rng: StdRng::seed_from_u64(seed ^ name_hash) })
    }

    /// The next instance of `query_type`.
    pub fn query(&mut self, query_type: &QueryType) -> Result<String> {
        Ok(match query_type.kind {
            Kind::SingleGroupby { metrics, hosts, hours } => {
                let window = self.rand_window(hours * HOUR_NS)?;
                let hosts = self.random_hosts(hosts)?;
                single_groupby(metrics, &hosts, window)
            }
            Kind::CpuMaxAll { hosts } => {
                let window = self.rand_window(8 * HOUR_NS)?;
                let hosts = self.random_hosts(hosts)?;
                cpu_max_all(&hosts, window)
            }
            Kind::DoubleGroupby { metrics } => double_groupby(metrics, self.rand_window(12 * HOUR_NS)?),
            Kind::HighCpuAll => high_cpu_all(self.rand_window(12 * HOUR_NS)?),
            Kind::Lastpoint => lastpoint(),
            Kind::GroupbyOrderbyLimit => groupby_orderby_limit(self.rand_window(HOUR_NS)?),
        })
    }

    /// TSBS's `RandWindow`: a window of `length` starting uniformly in
    /// `[start, end - length)`; an error if the data is not longer than that.
    fn rand_window(&mut self, length: i64) -> Result<Window> {
        let lower = self.data.start_ns;
        let upper = self.data.end_ns - length;
        if upper <= lower {
            bail!(
                "a {} h window does not fit in {} h of data",
                length / HOUR_NS,
                (self.data.end_ns - self.data.start_ns) as f64 / HOUR_NS as f64
            );
        }
        let start_ns = lower + self.rng.gen_range(0..upper - lower);
        Ok(Window { start_ns, end_ns: start_ns + length })
    }

    /// TSBS's `getRandomHosts`: `n` distinct host names, in draw order.
    fn random_hosts(&mut self, n: usize) -> Result<Vec<String>> {
        if n > self.scale {
            bail!("{n} random hosts asked of {} hosts", self.scale);
        }
        let mut picked: Vec<usize> = Vec::with_capacity(n);
        while picked.len() < n {
            let host = self.rng.gen_range(0..self.scale);
            if !picked.contains(&host) {
                picked.push(host);
            }
        }
        Ok(picked.into_iter().map(|h| format!("host_{h}")).collect())
    }
}

/// `n` instances of `query_type`.
pub fn generate(data: Window, scale: usize, seed: u64, query_type: &QueryType, n: usize) -> Result<Vec<String>> {
    let mut generator = Generator::new(data, scale, seed, query_type)?;
    (0..n).map(|_| generator.query(query_type)).collect()
}

/// `agg(f1)`, `agg(f2)`, … for the first `n` fields.
fn aggregates(agg: &str, n: usize) -> Vec<String> {
    FIELD_KEYS.iter().take(n).map(|field| format!("{agg}({field})")).collect()
}

/// `(hostname = 'a' or hostname = 'b')`.
fn host_clause(hosts: &[String]) -> String {
    let clauses: Vec<String> = hosts.iter().map(|h| format!("hostname = '{h}'")).collect();
    format!("({})", clauses.join(" or "))
}

/// `GroupByTime`'s text.
pub fn single_groupby(metrics: usize, hosts: &[String], window: Window) -> String {
    format!(
        "SELECT {} from cpu where {} and time >= '{}' and time < '{}' group by time(1m)",
        aggregates("max", metrics).join(", "),
        host_clause(hosts),
        window.start_string(),
        window.end_string()
    )
}

/// `MaxAllCPU`'s text: grouped by hour as in later TSBS versions (older ones
/// wrote `time(1m)`); the select list has no spaces.
pub fn cpu_max_all(hosts: &[String], window: Window) -> String {
    format!(
        "SELECT {} from cpu where {} and time >= '{}' and time < '{}' group by time(1h)",
        aggregates("max", FIELD_KEYS.len()).join(","),
        host_clause(hosts),
        window.start_string(),
        window.end_string()
    )
}

/// `GroupByTimeAndPrimaryTag`'s text.
pub fn double_groupby(metrics: usize, window: Window) -> String {
    format!(
        "SELECT {} from cpu where time >= '{}' and time < '{}' group by time(1h),hostname",
        aggregates("mean", metrics).join(", "),
        window.start_string(),
        window.end_string()
    )
}

/// `HighCPUForHosts(0)`'s text (the two spaces are TSBS's: an empty host clause).
pub fn high_cpu_all(window: Window) -> String {
    format!(
        "SELECT * from cpu where usage_user > 90.0  and time >= '{}' and time < '{}'",
        window.start_string(),
        window.end_string()
    )
}

/// `LastPointPerHost`'s text.
pub fn lastpoint() -> String {
    "SELECT * from cpu group by \"hostname\" order by time desc limit 1".to_string()
}

/// `GroupByOrderByLimit`'s text: only the window's end is used.
pub fn groupby_orderby_limit(window: Window) -> String {
    format!("SELECT max(usage_user) from cpu WHERE time < '{}' group by time(1m) limit 5", window.end_string())
}

#[cfg(test)]
mod tests {
    use augur_query::ast::{Dimension, Statement};

    use super::*;

    /// 2016-01-01T00:00:00Z.
    const START: i64 = 1_451_606_400 * SECOND_NS;

    fn day() -> Window {
        Window { start_ns: START, end_ns: START + 24 * HOUR_NS }
    }

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn texts_match_tsbs() {
        let w = Window { start_ns: START + 5 * HOUR_NS + 1_234_567_890, end_ns: START + 6 * HOUR_NS + 1_234_567_890 };
        assert_eq!(
            single_groupby(1, &hosts(&["host_3"]), w),
            "SELECT max(usage_user) from cpu where (hostname = 'host_3') and time >= '2016-01-01T05:00:01Z' \
             and time < '2016-01-01T06:00:01Z' group by time(1m)"
        );
        assert_eq!(
            single_groupby(2, &hosts(&["host_3", "host_9"]), w),
            "SELECT max(usage_user), max(usage_system) from cpu where (hostname = 'host_3' or hostname = 'host_9') \
             and time >= '2016-01-01T05:00:01Z' and time < '2016-01-01T06:00:01Z' group by time(1m)"
        );
        assert!(cpu_max_all(&hosts(&["host_1"]), w).starts_with(
            "SELECT max(usage_user),max(usage_system),max(usage_idle),max(usage_nice),max(usage_iowait),max(usage_irq),\
             max(usage_softirq),max(usage_steal),max(usage_guest),max(usage_guest_nice) from cpu where (hostname = 'host_1') and"
        ));
        assert_eq!(
            double_groupby(1, w),
            "SELECT mean(usage_user) from cpu where time >= '2016-01-01T05:00:01Z' and time < '2016-01-01T06:00:01Z' \
             group by time(1h),hostname"
        );
        assert_eq!(
            high_cpu_all(w),
            "SELECT * from cpu where usage_user > 90.0  and time >= '2016-01-01T05:00:01Z' and time < '2016-01-01T06:00:01Z'"
        );
        assert_eq!(
            groupby_orderby_limit(w),
            "SELECT max(usage_user) from cpu WHERE time < '2016-01-01T06:00:01Z' group by time(1m) limit 5"
        );
    }

    #[test]
    fn every_type_parses_with_the_expected_shape() {
        for qt in DEVOPS {
            for text in generate(day(), 100, 123, &qt, 20).expect("generate") {
                let query = augur_query::parse_query(&text).unwrap_or_else(|e| panic!("{}: {text}: {e}", qt.name));
                assert_eq!(query.statements.len(), 1, "{text}");
                let Statement::Select(select) = &query.statements[0] else {
                    panic!("{}: not a SELECT: {text}", qt.name);
                };
                let time_dims: Vec<i64> = select
                    .dimensions
                    .iter()
                    .filter_map(|d| match d {
                        Dimension::Time { interval, .. } => Some(*interval),
                        _ => None,
                    })
                    .collect();
                let tags: Vec<&str> = select
                    .dimensions
                    .iter()
                    .filter_map(|d| match d {
                        Dimension::Tag(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect();
                let minute = 60 * SECOND_NS;
                match qt.kind {
                    Kind::SingleGroupby { metrics, .. } => {
                        assert_eq!(select.fields.len(), metrics);
                        assert_eq!(time_dims, [minute]);
                    }
                    Kind::CpuMaxAll { .. } => {
                        assert_eq!(select.fields.len(), 10);
                        assert_eq!(time_dims, [HOUR_NS]);
                    }
                    Kind::DoubleGroupby { metrics } => {
                        assert_eq!(select.fields.len(), metrics);
                        assert_eq!(time_dims, [HOUR_NS]);
                        assert_eq!(tags, ["hostname"]);
                    }
                    Kind::HighCpuAll => assert!(select.dimensions.is_empty() && select.condition.is_some()),
                    Kind::Lastpoint => {
                        assert!(select.descending);
                        assert_eq!(select.limit, 1);
                        assert_eq!(tags, ["hostname"]);
                    }
                    Kind::GroupbyOrderbyLimit => {
                        assert_eq!(select.limit, 5);
                        assert_eq!(time_dims, [minute]);
                    }
                }
            }
        }
    }

    #[test]
    fn seeded_output_is_deterministic_and_seed_dependent() {
        let qt = query_type("single-groupby-1-8-1").expect("known type");
        let a = generate(day(), 100, 7, &qt, 50).expect("generate");
        assert_eq!(a, generate(day(), 100, 7, &qt, 50).expect("generate"));
        assert_ne!(a, generate(day(), 100, 8, &qt, 50).expect("generate"));
        // Instances differ from one another.
        assert!(a.iter().collect::<std::collections::HashSet<_>>().len() > 40);
    }

    #[test]
    fn windows_and_hosts_stay_inside_the_data() {
        let mut generator =
            Generator::new(day(), 10, 1, &query_type("cpu-max-all-8").expect("type")).expect("generator");
        for _ in 0..1_000 {
            let w = generator.rand_window(8 * HOUR_NS).expect("window");
            assert!(w.start_ns >= START && w.end_ns < START + 24 * HOUR_NS);
            let hosts = generator.random_hosts(8).expect("hosts");
            let distinct: std::collections::HashSet<_> = hosts.iter().collect();
            assert_eq!(distinct.len(), 8);
            assert!(hosts.iter().all(|h| h["host_".len()..].parse::<usize>().expect("number") < 10));
        }
    }

    #[test]
    fn impossible_requests_are_errors() {
        let six_hours = Window { start_ns: START, end_ns: START + 6 * HOUR_NS };
        let qt = query_type("double-groupby-1").expect("type");
        assert!(generate(six_hours, 100, 1, &qt, 1).is_err(), "12 h window in 6 h of data");
        let qt = query_type("cpu-max-all-8").expect("type");
        assert!(generate(day(), 4, 1, &qt, 1).is_err(), "8 hosts of 4");
        assert!(query_type("nope").is_none());
    }
}
