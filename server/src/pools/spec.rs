//! A pool's definition: what it provisions, how much, how fast, and from
//! which demand — and the validation that rejects a bad definition with
//! the field at fault.
//!
//! Why one struct for the JSON API, the `[[pools]]` TOML section and the
//! stored record: a pool read back after a restart must be exactly the pool
//! that was accepted, and an operator who copies `GET /v1/pools/{name}`'s
//! `spec` into a `PUT` must get the same pool. Durations are written as the
//! query language's duration literals (`30s`, `5m`, `1h`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource dimension a pool provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// CPU cores.
    CpuCores,
    /// Memory in GiB.
    MemoryGib,
    /// Network bandwidth in Mbit/s.
    NetworkMbps,
    /// Disk I/O operations per second.
    DiskIops,
    /// GPUs.
    Gpus,
}

impl Dimension {
    /// The dimension's name as written in definitions (`cpu_cores`).
    pub fn name(self) -> &'static str {
        match self {
            Dimension::CpuCores => "cpu_cores",
            Dimension::MemoryGib => "memory_gib",
            Dimension::NetworkMbps => "network_mbps",
            Dimension::DiskIops => "disk_iops",
            Dimension::Gpus => "gpus",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A quantity per dimension (a demand, a capacity).
pub type Vector = BTreeMap<Dimension, f64>;

/// One kind of unit a pool can add: what it holds and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitShape {
    /// The shape's name (`small`, `m5.large`).
    pub name: String,
    /// What one unit provides, per dimension (a dimension left out: 0).
    pub capacity: Vector,
    /// What one unit costs per hour (any currency; only ratios matter).
    #[serde(default)]
    pub hourly_cost: f64,
}

impl UnitShape {
    /// The unit's capacity in `dimension` (0 when not given).
    pub fn capacity_of(&self, dimension: Dimension) -> f64 {
        self.capacity.get(&dimension).copied().unwrap_or(0.0)
    }
}

/// How much head-room the pool keeps above the forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// The forecast quantile, as a percentage (`95` = the p95 of predicted
    /// demand); `None`: the point forecast (the mean).
    #[serde(default = "default_quantile")]
    pub quantile: Option<f64>,
    /// A margin added on top, in percent (`10` = +10%).
    #[serde(default = "default_margin")]
    pub margin_pct: f64,
}

fn default_quantile() -> Option<f64> {
    Some(95.0)
}

fn default_margin() -> f64 {
    10.0
}

impl Default for Safety {
    fn default() -> Self {
        Safety { quantile: default_quantile(), margin_pct: default_margin() }
    }
}

impl Safety {
    /// The central band level whose upper bound is this quantile
    /// (p95 = the upper end of the 90% band).
    pub fn band_level(&self) -> Option<f64> {
        self.quantile.map(|q| 2.0 * q - 100.0)
    }

    /// `demand` with the margin added.
    pub fn with_margin(&self, demand: f64) -> f64 {
        demand * (1.0 + self.margin_pct / 100.0)
    }
}

/// Where one dimension's demand comes from: an AQL query whose result the
/// manager forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandSource {
    /// The database the query reads.
    pub database: String,
    /// An aggregate over time buckets, e.g.
    /// `SELECT sum(cpu_cores) FROM usage WHERE service='web' GROUP BY time(1m)`.
    /// The manager adds the time range; a query that names one keeps it.
    pub query: String,
}

impl DemandSource {
    /// Checks the database name and that the query is a usable demand
    /// query; errors name `{field}.database` or `{field}.query`.
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        if self.database.trim().is_empty() {
            return Err(SpecError::new(format!("{field}.database"), "is required"));
        }
        let query = super::demand::DemandQuery::parse(&self.query)
            .map_err(|e| SpecError::new(format!("{field}.query"), e.0))?;
        if query.step > MAX_DURATION {
            return Err(SpecError::new(format!("{field}.query"), "GROUP BY time(…) must be at most 3650d"));
        }
        Ok(())
    }
}

/// How units are started and stopped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Provider {
    /// The outside world provisions: Augur emits `unit_requested` /
    /// `unit_released` events (webhooks) and waits for
    /// `POST /v1/pools/{name}/units/{id}/ready`.
    #[default]
    Webhook,
    /// Augur runs a command per unit (demos, tests, single machines).
    /// `start` runs with `AUGUR_UNIT_ID`, `AUGUR_UNIT_SHAPE`, `AUGUR_POOL`
    /// in its environment and must print the unit's address (`host:port`)
    /// as its last line of output; `stop` runs with the same variables plus
    /// `AUGUR_UNIT_ADDRESS`.
    Exec {
        /// The start command and its arguments.
        start: Vec<String>,
        /// The stop command and its arguments.
        stop: Vec<String>,
    },
}

/// A HAProxy backend the pool's ready units are routed through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxyTarget {
    /// The Runtime API socket: a Unix socket path or `host:port`.
    pub socket: String,
    /// The backend whose server slots hold the pool's units.
    pub backend: String,
}

/// A pool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The pool's name, unique within its tenant.
    pub name: String,
    /// The owning tenant (set from the caller's account; operators may name one).
    #[serde(default)]
    pub tenant: String,
    /// The dimensions the pool provisions.
    pub dimensions: Vec<Dimension>,
    /// The unit shapes it may add.
    pub shapes: Vec<UnitShape>,
    /// The fewest units, whatever the demand.
    #[serde(default)]
    pub min: u32,
    /// The most units.
    pub max: u32,
    /// Idle ready units kept on top of the demand (a warm pool).
    #[serde(default)]
    pub warm: u32,
    /// How long a unit takes to become ready; the manager provisions for
    /// the demand at `now + lead_time`.
    #[serde(default = "default_lead_time", with = "duration_literal")]
    pub lead_time: i64,
    /// Head-room above the forecast.
    #[serde(default)]
    pub safety: Safety,
    /// The least time between two scale-ups.
    #[serde(default = "default_cooldown", with = "duration_literal")]
    pub scale_up_cooldown: i64,
    /// How long demand must stay lower before units are released.
    #[serde(default = "default_stabilization", with = "duration_literal")]
    pub scale_down_stabilization: i64,
    /// How often the manager decides.
    #[serde(default = "default_interval", with = "duration_literal")]
    pub interval: i64,
    /// How much history the forecast learns from.
    #[serde(default = "default_history", with = "duration_literal")]
    pub history: i64,
    /// A unit not ready this long after it was requested is replaced.
    #[serde(default = "default_unit_timeout", with = "duration_literal")]
    pub unit_timeout: i64,
    /// The demand source of each dimension.
    pub demand: BTreeMap<Dimension, DemandSource>,
    /// How units are started and stopped.
    #[serde(default)]
    pub provider: Provider,
    /// The load balancer the ready units are routed through, if any.
    #[serde(default)]
    pub haproxy: Option<HaproxyTarget>,
    /// The service's request latency, when the tenant writes it (e.g.
    /// `SELECT percentile(latency_ms, 99) FROM requests WHERE service='web'
    /// GROUP BY time(1m)`): recorded with the pool's KPIs after every cycle
    /// (the worst group's newest closed bucket), never used to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DemandSource>,
    /// Its weight when the tenant's pools share the tenant's capacity
    /// quota ([`super::quota`]): twice the weight, twice the dominant share.
    #[serde(default = "default_quota_weight")]
    pub quota_weight: f64,
}

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;

fn default_lead_time() -> i64 {
    5 * MINUTE
}
fn default_cooldown() -> i64 {
    MINUTE
}
fn default_stabilization() -> i64 {
    5 * MINUTE
}
fn default_interval() -> i64 {
    MINUTE
}
fn default_history() -> i64 {
    7 * 24 * 60 * MINUTE
}
fn default_quota_weight() -> f64 {
    1.0
}
fn default_unit_timeout() -> i64 {
    10 * MINUTE
}

/// Durations as the query language's literals (`5m`) in JSON and TOML,
/// nanoseconds in memory.
mod duration_literal {
    use augur_query::duration::parse_duration;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Units from the largest, as the literal writes them.
    const UNITS: [(i64, &str); 7] = [
        (604_800_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];

    /// The shortest literal for `ns`: `5m`, `90s`, `1500ms`.
    pub(super) fn compact(ns: i64) -> String {
        for (size, unit) in UNITS {
            if ns != 0 && ns % size == 0 {
                return format!("{}{unit}", ns / size);
            }
        }
        format!("{ns}ns")
    }

    pub fn serialize<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&compact(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(text.trim()).map_err(|e| serde::de::Error::custom(format!("{text:?}: {e} (e.g. 30s, 5m, 1h)")))
    }
}

/// The shortest duration literal for `ns` (`5m`, `90s`), as definitions
/// are written back.
pub fn compact_duration(ns: i64) -> String {
    duration_literal::compact(ns)
}

/// A definition that cannot be accepted, naming the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid pool definition: {field}: {message}")]
pub struct SpecError {
    /// The field at fault (`shapes[1].capacity`, `demand.cpu_cores.query`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl SpecError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError { field: field.into(), message: message.into() }
    }
}

/// The most shapes a pool may have (the cost search is exponential in it).
pub const MAX_SHAPES: usize = 8;
/// The most units a pool may hold.
pub const MAX_UNITS: u32 = 10_000;
/// The longest any of a pool's durations may be (10 years): far beyond
/// any lead time, window or history, and short enough that `now` plus it
/// stays a valid time for two centuries (a duration near the largest
/// the syntax allows, 292 years, overflowed `now + lead_time`).
pub const MAX_DURATION: i64 = 3650 * 24 * 60 * MINUTE;

/// Whether `name` is a valid pool or shape name: 1–64 of `[A-Za-z0-9_.-]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl PoolSpec {
    /// Decodes a JSON definition; a decoding error names the field at
    /// fault (`lead_time: "five minutes": invalid duration`).
    pub fn from_json(body: &[u8]) -> Result<PoolSpec, SpecError> {
        // serde would read a struct from an array too, by position.
        if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
            return Err(SpecError::new("body", "must be a JSON object ({...})"));
        }
        let mut decoder = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut decoder).map_err(|e| {
            let field = e.path().to_string();
            // serde cannot name an enum map key (a dimension): cut the `?`.
            let field = field.trim_end_matches(".?").to_string();
            let field = if field == "." || field == "?" { "body".to_string() } else { field };
            SpecError::new(field, e.into_inner().to_string())
        })
    }

    /// Checks everything that does not need the store: names, bounds,
    /// shapes, durations and that every demand query parses as a `SELECT`.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !valid_name(&self.name) {
            return Err(SpecError::new("name", "must be 1-64 letters, digits, '_', '-' or '.'"));
        }
        if self.dimensions.is_empty() {
            return Err(SpecError::new("dimensions", "at least one dimension is required"));
        }
        for (i, d) in self.dimensions.iter().enumerate() {
            if self.dimensions[..i].contains(d) {
                return Err(SpecError::new(format!("dimensions[{i}]"), format!("{d} is listed twice")));
            }
        }
        if self.max == 0 || self.max > MAX_UNITS {
            return Err(SpecError::new("max", format!("must be between 1 and {MAX_UNITS}")));
        }
        if !(self.quota_weight.is_finite() && self.quota_weight > 0.0 && self.quota_weight <= 1e6) {
            return Err(SpecError::new("quota_weight", "must be a number in (0, 1000000]"));
        }
        if self.min > self.max {
            return Err(SpecError::new("min", format!("min ({}) is greater than max ({})", self.min, self.max)));
        }
        if self.warm > self.max {
            return Err(SpecError::new("warm", format!("warm ({}) is greater than max ({})", self.warm, self.max)));
        }
        self.validate_shapes()?;
        self.validate_safety()?;
        for (field, value) in [
            ("lead_time", self.lead_time),
            ("scale_up_cooldown", self.scale_up_cooldown),
            ("scale_down_stabilization", self.scale_down_stabilization),
            ("interval", self.interval),
            ("history", self.history),
            ("unit_timeout", self.unit_timeout),
        ] {
            if value > MAX_DURATION {
                return Err(SpecError::new(field, "must be at most 3650d"));
            }
        }
        for (field, value) in [
            ("lead_time", self.lead_time),
            ("scale_up_cooldown", self.scale_up_cooldown),
            ("scale_down_stabilization", self.scale_down_stabilization),
        ] {
            if value < 0 {
                return Err(SpecError::new(field, "must not be negative"));
            }
        }
        for (field, value) in
            [("interval", self.interval), ("history", self.history), ("unit_timeout", self.unit_timeout)]
        {
            if value <= 0 {
                return Err(SpecError::new(field, "must be greater than zero"));
            }
        }
        if self.interval < SECOND {
            return Err(SpecError::new("interval", "must be at least 1s"));
        }
        if self.history < self.interval.saturating_mul(4) {
            return Err(SpecError::new("history", "must cover at least 4 intervals"));
        }
        self.validate_demand()?;
        if let Provider::Exec { start, stop } = &self.provider {
            if start.first().is_none_or(|c| c.trim().is_empty()) {
                return Err(SpecError::new("provider.start", "needs a command"));
            }
            if stop.first().is_none_or(|c| c.trim().is_empty()) {
                return Err(SpecError::new("provider.stop", "needs a command"));
            }
        }
        if let Some(h) = &self.haproxy {
            if h.socket.trim().is_empty() {
                return Err(SpecError::new("haproxy.socket", "needs a socket path or host:port"));
            }
            if !valid_name(&h.backend) {
                return Err(SpecError::new("haproxy.backend", "must be a HAProxy backend name"));
            }
        }
        Ok(())
    }

    fn validate_shapes(&self) -> Result<(), SpecError> {
        if self.shapes.is_empty() {
            return Err(SpecError::new("shapes", "at least one unit shape is required"));
        }
        if self.shapes.len() > MAX_SHAPES {
            return Err(SpecError::new("shapes", format!("at most {MAX_SHAPES} shapes")));
        }
        for (i, shape) in self.shapes.iter().enumerate() {
            if !valid_name(&shape.name) {
                return Err(SpecError::new(
                    format!("shapes[{i}].name"),
                    "must be 1-64 letters, digits, '_', '-' or '.'",
                ));
            }
            if self.shapes[..i].iter().any(|s| s.name == shape.name) {
                return Err(SpecError::new(format!("shapes[{i}].name"), format!("{:?} is used twice", shape.name)));
            }
            if !(shape.hourly_cost.is_finite() && shape.hourly_cost >= 0.0) {
                return Err(SpecError::new(format!("shapes[{i}].hourly_cost"), "must be a number >= 0"));
            }
            for (d, v) in &shape.capacity {
                if !self.dimensions.contains(d) {
                    return Err(SpecError::new(
                        format!("shapes[{i}].capacity.{d}"),
                        "is not one of the pool's dimensions",
                    ));
                }
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(SpecError::new(format!("shapes[{i}].capacity.{d}"), "must be a number >= 0"));
                }
            }
            if shape.capacity.values().all(|v| *v == 0.0) {
                return Err(SpecError::new(format!("shapes[{i}].capacity"), "provides nothing"));
            }
        }
        for d in &self.dimensions {
            if self.shapes.iter().all(|s| s.capacity_of(*d) == 0.0) {
                return Err(SpecError::new("shapes", format!("no shape provides {d}")));
            }
        }
        Ok(())
    }

    fn validate_safety(&self) -> Result<(), SpecError> {
        if let Some(q) = self.safety.quantile {
            if !(q.is_finite() && (50.0..100.0).contains(&q)) {
                return Err(SpecError::new("safety.quantile", "must be a percentage in [50, 100), e.g. 95"));
            }
        }
        let m = self.safety.margin_pct;
        if !(m.is_finite() && (0.0..=1000.0).contains(&m)) {
            return Err(SpecError::new("safety.margin_pct", "must be a percentage in [0, 1000]"));
        }
        Ok(())
    }

    fn validate_demand(&self) -> Result<(), SpecError> {
        if self.demand.is_empty() {
            return Err(SpecError::new("demand", "at least one dimension needs a demand query"));
        }
        for (d, source) in &self.demand {
            let field = format!("demand.{d}");
            if !self.dimensions.contains(d) {
                return Err(SpecError::new(field, "is not one of the pool's dimensions"));
            }
            source.validate(&field)?;
        }
        if let Some(latency) = &self.latency {
            latency.validate("latency")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn web_pool() -> PoolSpec {
        serde_json::from_value(serde_json::json!({
            "name": "web",
            "dimensions": ["cpu_cores", "memory_gib"],
            "shapes": [
                {"name": "small", "capacity": {"cpu_cores": 2, "memory_gib": 4}, "hourly_cost": 0.1},
                {"name": "large", "capacity": {"cpu_cores": 8, "memory_gib": 16}, "hourly_cost": 0.35}
            ],
            "min": 1, "max": 20, "warm": 1,
            "lead_time": "5m",
            "safety": {"quantile": 95, "margin_pct": 10},
            "demand": {"cpu_cores": {"database": "infra", "query": "SELECT sum(cpu) FROM usage GROUP BY time(1m)"}}
        }))
        .expect("valid JSON")
    }

    #[test]
    fn a_good_definition_validates_and_round_trips() {
        let spec = web_pool();
        spec.validate().expect("valid");
        assert_eq!(spec.lead_time, 5 * MINUTE);
        assert_eq!(spec.scale_down_stabilization, 5 * MINUTE);
        let json = serde_json::to_value(&spec).expect("serialize");
        assert_eq!(json["lead_time"], "5m");
        let back: PoolSpec = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, spec);
    }

    fn error_field(mutate: impl FnOnce(&mut PoolSpec)) -> String {
        let mut spec = web_pool();
        mutate(&mut spec);
        spec.validate().expect_err("invalid").field
    }

    #[test]
    fn bad_definitions_name_the_field() {
        assert_eq!(error_field(|s| s.min = 30), "min");
        assert_eq!(error_field(|s| s.max = 0), "max");
        assert_eq!(error_field(|s| s.name = "no spaces".into()), "name");
        assert_eq!(error_field(|s| s.shapes.clear()), "shapes");
        assert_eq!(error_field(|s| s.shapes[1].name = "small".into()), "shapes[1].name");
        assert_eq!(error_field(|s| s.shapes[0].hourly_cost = -1.0), "shapes[0].hourly_cost");
        assert_eq!(
            error_field(|s| {
                s.shapes[0].capacity.insert(Dimension::Gpus, 1.0);
            }),
            "shapes[0].capacity.gpus"
        );
        assert_eq!(error_field(|s| s.safety.quantile = Some(100.0)), "safety.quantile");
        assert_eq!(error_field(|s| s.interval = 0), "interval");
        assert_eq!(
            error_field(|s| {
                if let Some(d) = s.demand.get_mut(&Dimension::CpuCores) {
                    d.query = "SELEC sum(cpu) FROM usage".into();
                }
            }),
            "demand.cpu_cores.query"
        );
        assert_eq!(
            error_field(|s| {
                s.demand.insert(
                    Dimension::Gpus,
                    DemandSource {
                        database: "infra".into(),
                        query: "SELECT sum(g) FROM usage GROUP BY time(1m)".into(),
                    },
                );
            }),
            "demand.gpus"
        );
        assert_eq!(
            error_field(|s| s.provider = Provider::Exec { start: vec![], stop: vec!["true".into()] }),
            "provider.start"
        );
    }

    #[test]
    fn unknown_dimensions_and_fields_are_rejected_by_the_decoder() {
        let mut json = serde_json::to_value(web_pool()).expect("serialize");
        json["dimensions"] = serde_json::json!(["cpu_cores", "tpus"]);
        let err = serde_json::from_value::<PoolSpec>(json).expect_err("unknown dimension");
        assert!(err.to_string().contains("tpus"), "{err}");
        let mut json = serde_json::to_value(web_pool()).expect("serialize");
        json["maximum"] = serde_json::json!(3);
        assert!(serde_json::from_value::<PoolSpec>(json).is_err());
    }

    #[test]
    fn durations_are_written_compactly() {
        assert_eq!(duration_literal::compact(5 * MINUTE), "5m");
        assert_eq!(duration_literal::compact(90 * SECOND), "90s");
        assert_eq!(duration_literal::compact(7 * 24 * 60 * MINUTE), "1w");
        assert_eq!(duration_literal::compact(0), "0ns");
        assert_eq!(duration_literal::compact(1_500_000), "1500u");
    }

    #[test]
    fn decoding_errors_name_the_field() {
        let mut json = serde_json::to_value(web_pool()).expect("serialize");
        json["lead_time"] = serde_json::json!("five minutes");
        let err = PoolSpec::from_json(json.to_string().as_bytes()).expect_err("bad duration");
        assert_eq!(err.field, "lead_time", "{err}");
        json["lead_time"] = serde_json::json!("5m");
        json["shapes"][1]["capacity"]["cpu_cores"] = serde_json::json!("lots");
        let err = PoolSpec::from_json(json.to_string().as_bytes()).expect_err("bad number");
        assert_eq!(err.field, "shapes[1].capacity", "{err}");
        assert_eq!(PoolSpec::from_json(b"{oops").expect_err("not JSON").field, "body");
        // serde alone would read an array of the fields, in order.
        let as_array: Vec<serde_json::Value> = json.as_object().expect("object").values().cloned().collect();
        let err = PoolSpec::from_json(&serde_json::to_vec(&as_array).expect("array")).expect_err("array");
        assert_eq!((err.field.as_str(), err.message.as_str()), ("body", "must be a JSON object ({...})"));
        assert_eq!(PoolSpec::from_json(b" \n null").expect_err("null").field, "body");
    }

    #[test]
    fn quantile_maps_to_the_band_whose_upper_end_it_is() {
        let s = Safety { quantile: Some(95.0), margin_pct: 10.0 };
        assert_eq!(s.band_level(), Some(90.0));
        assert!((s.with_margin(100.0) - 110.0).abs() < 1e-9);
    }
}
