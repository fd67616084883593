//! The simulated machines of TSBS's `cpu-only` use case: a host's ten tags,
//! drawn once per host from the same choice lists TSBS uses, and its ten CPU
//! usage fields, each a random walk with N(0, 1) steps clamped to [0, 100].
//!
//! Kept separate from line formatting and batching so that the data shape
//! can be checked against TSBS on its own.

use rand::Rng;

/// The measurement every row belongs to.
pub const MEASUREMENT: &str = "cpu";

/// Tag keys, in the order TSBS writes them.
pub const TAG_KEYS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];

/// Field keys, in the order TSBS writes them.
pub const FIELD_KEYS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// Regions and their datacenters, as in TSBS's devops use case.
const REGIONS: [(&str, &[&str]); 9] = [
    ("us-east-1", &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"]),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const OSES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES: [&str; 2] = ["x64", "x86"];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "test"];
const RACKS: u32 = 100;
const SERVICES: u32 = 20;
const SERVICE_VERSIONS: u32 = 2;

/// Lower and upper bound of every CPU usage field.
const USAGE_MIN: f64 = 0.0;
const USAGE_MAX: f64 = 100.0;

/// One simulated machine: its tag set, pre-rendered as the line-protocol
/// series key (`cpu,hostname=host_0,...`), and its ten random walks.
#[derive(Debug, Clone)]
pub struct Host {
    /// `cpu,<tags>` exactly as written before the space and the fields.
    pub series_key: String,
    /// Current value of each field, in `FIELD_KEYS` order.
    pub usage: [f64; 10],
}

impl Host {
    /// Draws host number `id`'s tags and its walks' starting values
    /// (uniform in [0, 100]) from `rng`.
    pub fn new<R: Rng>(id: u64, rng: &mut R) -> Self {
        let mut usage = [0.0; 10];
        for value in &mut usage {
            *value = rng.gen_range(USAGE_MIN..USAGE_MAX);
        }
        let (region, datacenters) = REGIONS[rng.gen_range(0..REGIONS.len())];
        let datacenter = datacenters[rng.gen_range(0..datacenters.len())];
        let rack = rng.gen_range(0..RACKS).to_string();
        let arch = ARCHES[rng.gen_range(0..ARCHES.len())];
        let os = OSES[rng.gen_range(0..OSES.len())];
        let service = rng.gen_range(0..SERVICES).to_string();
        let service_version = rng.gen_range(0..SERVICE_VERSIONS).to_string();
        let environment = ENVIRONMENTS[rng.gen_range(0..ENVIRONMENTS.len())];
        let team = TEAMS[rng.gen_range(0..TEAMS.len())];
        let hostname = format!("host_{id}");
        let values: [&str; 10] =
            [&hostname, region, datacenter, &rack, os, arch, team, &service, &service_version, environment];
        let mut series_key = String::with_capacity(192);
        series_key.push_str(MEASUREMENT);
        for (key, value) in TAG_KEYS.iter().zip(values) {
            series_key.push(',');
            series_key.push_str(key);
            series_key.push('=');
            series_key.push_str(value);
        }
        Host { series_key, usage }
    }

    /// Advances every field one step: adds an N(0, 1) draw, clamps to [0, 100].
    pub fn tick<R: Rng>(&mut self, normal: &mut StandardNormal<R>) {
        for value in &mut self.usage {
            *value = (*value + normal.sample()).clamp(USAGE_MIN, USAGE_MAX);
        }
    }
}

/// Standard normal draws by the Box–Muller transform, keeping the second
/// value of each pair; owns its random source so the walk is reproducible
/// from one seed.
#[derive(Debug)]
pub struct StandardNormal<R> {
    rng: R,
    spare: Option<f64>,
}

impl<R: Rng> StandardNormal<R> {
    /// Wraps `rng`.
    pub fn new(rng: R) -> Self {
        StandardNormal { rng, spare: None }
    }

    /// The underlying random source, for the draws that are not normal.
    pub fn rng(&mut self) -> &mut R {
        &mut self.rng
    }

    /// The next N(0, 1) value.
    pub fn sample(&mut self) -> f64 {
        if let Some(value) = self.spare.take() {
            return value;
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - self.rng.gen::<f64>();
        let u2 = self.rng.gen::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn host_tags_follow_tsbs_order_and_choices() {
        let mut rng = StdRng::seed_from_u64(1);
        let host = Host::new(7, &mut rng);
        let mut parts = host.series_key.split(',');
        assert_eq!(parts.next(), Some("cpu"));
        let pairs: Vec<(&str, &str)> = parts.map(|p| p.split_once('=').unwrap()).collect();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, TAG_KEYS);
        assert_eq!(pairs[0].1, "host_7");
        let (region, datacenters) = REGIONS.iter().find(|(r, _)| *r == pairs[1].1).unwrap();
        assert_eq!(*region, pairs[1].1);
        assert!(datacenters.contains(&pairs[2].1));
        assert!(pairs[3].1.parse::<u32>().unwrap() < RACKS);
        assert!(OSES.contains(&pairs[4].1));
        assert!(ARCHES.contains(&pairs[5].1));
        assert!(TEAMS.contains(&pairs[6].1));
        assert!(pairs[7].1.parse::<u32>().unwrap() < SERVICES);
        assert!(pairs[8].1.parse::<u32>().unwrap() < SERVICE_VERSIONS);
        assert!(ENVIRONMENTS.contains(&pairs[9].1));
    }

    #[test]
    fn walk_stays_clamped() {
        let mut normal = StandardNormal::new(StdRng::seed_from_u64(2));
        let mut host = Host::new(0, normal.rng());
        for _ in 0..10_000 {
            host.tick(&mut normal);
            assert!(host.usage.iter().all(|v| (USAGE_MIN..=USAGE_MAX).contains(v)));
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut normal = StandardNormal::new(StdRng::seed_from_u64(3));
        let n = 100_000;
        let draws: Vec<f64> = (0..n).map(|_| normal.sample()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
    }
}
