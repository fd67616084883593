//! The instruments the server counts with: [`Counter`], [`Gauge`],
//! [`Histogram`] and their labelled families, and the Prometheus text
//! exposition of them ([`Exposition`]).
//!
//! Why our own and not a client crate: every value is needed twice — on
//! `GET /metrics` and as points in the `_internal` database, which means
//! reading families back label set by label set. The Prometheus client
//! crates encode their registries but do not hand the labelled values
//! back. What is here is small: atomics, a bounded map per family, and the
//! text format (version 0.0.4), which `promtool check metrics` accepts
//! (tests/tests/monitor.rs runs it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// Label sets a family keeps at most; further ones are counted under the
/// overflow label set, so a flood of tenants or routes cannot grow memory.
pub const MAX_LABEL_SETS: usize = 1_000;

/// The label value that stands for every label set beyond [`MAX_LABEL_SETS`].
pub const OVERFLOW_LABEL: &str = "_other";

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (stored as `f64` bits).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Observations counted into cumulative buckets, with their sum.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, ascending (`+Inf` is implied).
    bounds: &'static [f64],
    /// Observations `<=` each bound (not cumulative; summed when exposed).
    buckets: Vec<AtomicU64>,
    /// All observations.
    count: AtomicU64,
    /// Sum of the observations, in micro-units (so it can be an integer atomic).
    sum_micros: AtomicU64,
}

/// Buckets for request and query durations, seconds.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets for model training and background passes, seconds.
pub const TRAINING_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

impl Histogram {
    /// An empty histogram over these bucket bounds.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one observation (negative and NaN values count as 0).
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() && value > 0.0 { value } else { 0.0 };
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int conversion: a huge value cannot wrap.
        self.sum_micros.fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// `(upper bound, cumulative count)` per bucket, `+Inf` last.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        let mut out: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .zip(&self.buckets)
            .map(|(bound, n)| {
                total += n.load(Ordering::Relaxed);
                (*bound, total)
            })
            .collect();
        out.push((f64::INFINITY, self.count()));
        out
    }
}

/// Instruments of one kind keyed by their label values, bounded by
/// [`MAX_LABEL_SETS`].
#[derive(Debug)]
pub struct Family<M> {
    /// The label names, in exposition order.
    labels: &'static [&'static str],
    members: RwLock<BTreeMap<Vec<String>, Arc<M>>>,
    make: fn() -> M,
}

impl<M> Family<M> {
    /// An empty family with these label names, making members with `make`.
    pub fn new(labels: &'static [&'static str], make: fn() -> M) -> Family<M> {
        Family { labels, members: RwLock::new(BTreeMap::new()), make }
    }

    /// The member for these label values (created on first use).
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_string()).collect();
        if let Some(m) = self.members.read().get(&key) {
            return Arc::clone(m);
        }
        let mut members = self.members.write();
        let key = if members.len() >= MAX_LABEL_SETS && !members.contains_key(&key) {
            vec![OVERFLOW_LABEL.to_string(); self.labels.len()]
        } else {
            key
        };
        Arc::clone(members.entry(key).or_insert_with(|| Arc::new((self.make)())))
    }

    /// The member for these label values, if it exists (never creates one).
    pub fn get(&self, values: &[&str]) -> Option<Arc<M>> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_string()).collect();
        self.members.read().get(&key).cloned()
    }

    /// The label names.
    pub fn label_names(&self) -> &'static [&'static str] {
        self.labels
    }

    /// Every member with its label values, in label order.
    pub fn members(&self) -> Vec<(Vec<String>, Arc<M>)> {
        self.members.read().iter().map(|(k, m)| (k.clone(), Arc::clone(m))).collect()
    }

    /// Forgets every member (for gauges refreshed as a whole).
    pub fn clear(&self) {
        self.members.write().clear();
    }
}

/// A labelled family of counters.
pub type CounterFamily = Family<Counter>;
/// A labelled family of gauges.
pub type GaugeFamily = Family<Gauge>;
/// A labelled family of histograms (one bucket layout for all members).
pub type HistogramFamily = Family<Histogram>;

/// The Prometheus text exposition format, written metric by metric.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// The content type of [`Exposition`]'s output.
pub const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// One unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, help, "counter");
        self.sample(name, &[], value as f64);
    }

    /// One unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help, "gauge");
        self.sample(name, &[], value);
    }

    /// A family of counters (written even when empty, so the metric is known).
    pub fn counter_family(&mut self, name: &str, help: &str, family: &CounterFamily) {
        self.header(name, help, "counter");
        for (values, c) in family.members() {
            let labels = zip_labels(family.label_names(), &values);
            self.sample(name, &labels, c.get() as f64);
        }
    }

    /// A family of gauges.
    pub fn gauge_family(&mut self, name: &str, help: &str, family: &GaugeFamily) {
        self.header(name, help, "gauge");
        for (values, g) in family.members() {
            let labels = zip_labels(family.label_names(), &values);
            self.sample(name, &labels, g.get());
        }
    }

    /// One unlabelled histogram.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, help, "histogram");
        self.histogram_samples(name, &[], h);
    }

    /// A family of histograms.
    pub fn histogram_family(&mut self, name: &str, help: &str, family: &HistogramFamily) {
        self.header(name, help, "histogram");
        for (values, h) in family.members() {
            let labels = zip_labels(family.label_names(), &values);
            self.histogram_samples(name, &labels, &h);
        }
    }

    fn histogram_samples(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (bound, n) in h.cumulative() {
            let le = format_value(bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, n as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum());
        self.sample(&format!("{name}_count"), labels, h.count() as f64);
    }
}

fn zip_labels<'a>(names: &'a [&'a str], values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names.iter().copied().zip(values.iter().map(String::as_str)).collect()
}

/// A sample value as the text format writes it.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Help text escapes `\` and newlines.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0, f64::NAN, -1.0] {
            h.observe(v);
        }
        assert_eq!(h.cumulative(), vec![(0.1, 3), (1.0, 5), (f64::INFINITY, 6)]);
        assert_eq!(h.count(), 6);
        assert!((h.sum() - 4.25).abs() < 1e-9);
    }

    #[test]
    fn families_are_bounded() {
        let f = CounterFamily::new(&["tenant"], Counter::default);
        for i in 0..MAX_LABEL_SETS + 10 {
            f.with(&[&format!("t{i}")]).inc();
        }
        let members = f.members();
        assert_eq!(members.len(), MAX_LABEL_SETS + 1);
        let other = members.iter().find(|(k, _)| k[0] == OVERFLOW_LABEL).expect("overflow member");
        assert_eq!(other.1.get(), 10);
    }

    #[test]
    fn exposition_escapes_and_formats() {
        let f = CounterFamily::new(&["tenant"], Counter::default);
        f.with(&["a\"b\\c\nd"]).add(3);
        let h = HistogramFamily::new(&["route"], || Histogram::new(&[1.0]));
        h.with(&["/query"]).observe(0.5);
        let mut e = Exposition::new();
        e.counter_family("x_total", "Things\ncounted.", &f);
        e.histogram_family("d_seconds", "Durations.", &h);
        e.gauge("g", "A gauge.", f64::NAN);
        let text = e.finish();
        assert!(text.contains("# HELP x_total Things\\ncounted.\n# TYPE x_total counter\n"), "{text}");
        assert!(text.contains("x_total{tenant=\"a\\\"b\\\\c\\nd\"} 3\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{route=\"/query\",le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{route=\"/query\",le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("d_seconds_sum{route=\"/query\"} 0.5\n"), "{text}");
        assert!(text.contains("g NaN\n"), "{text}");
    }
}
