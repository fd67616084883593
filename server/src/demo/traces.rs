//! The demo's services and the real traces they replay.
//!
//! Each service is one NAB trace (`timestamp,value`, read onto a regular
//! grid with gaps filled by [`crate::pools::simulate::trace`], the loader
//! `augur simulate` uses) scaled to CPU cores. The traces are not part of
//! the repository: they are read from the shared data directory next to
//! it (`../shared/data/nab`), or from `--traces` / `AUGUR_DEMO_TRACES`.

use std::path::{Path, PathBuf};

use crate::pools::simulate::trace::{self, Trace};

/// Environment variable naming the traces directory.
pub const ENV_TRACES: &str = "AUGUR_DEMO_TRACES";

/// One replayed service: which database and tag it writes, from which trace.
#[derive(Debug, Clone)]
pub struct Service {
    /// The `service` tag.
    pub name: &'static str,
    /// The database (one per tenant of the story).
    pub database: &'static str,
    /// The trace, on its grid.
    pub trace: Trace,
    /// Cores per trace unit.
    pub scale: f64,
    /// What the trace measures and how it was scaled, for the banner.
    pub about: &'static str,
}

impl Service {
    /// The CPU cores at trace step `k` (the trace repeats when it ends).
    pub fn cores(&self, k: usize) -> f64 {
        let n = self.trace.values.len().max(1);
        self.trace.values.get(k % n).copied().unwrap_or(0.0) * self.scale
    }
}

/// The services of the demo: (service, database, file, scale, about).
const SERVICES: [(&str, &str, &str, f64, &str); 3] = [
    ("web", "acme", "nyc_taxi.csv", 0.001, "NYC taxi passengers / 1000 (a day every 48 steps)"),
    ("api", "acme", "ec2_cpu_utilization_5f5533.csv", 0.16, "EC2 CPU % of a 16-core fleet"),
    ("db", "globex", "rds_cpu_utilization_cc0c53.csv", 0.08, "RDS CPU % of an 8-core database"),
];

/// Why the traces cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// No candidate directory holds the traces.
    #[error(
        "cannot find the NAB traces (looked in {looked}); pass --traces DIR (the `nab` folder of the shared data, \
         e.g. ../shared/data/nab) or set {ENV_TRACES}"
    )]
    NotFound {
        /// The directories looked in.
        looked: String,
    },
    /// A trace file is missing or malformed.
    #[error(transparent)]
    Trace(#[from] trace::TraceError),
}

/// The traces directory: `--traces`, else `AUGUR_DEMO_TRACES`, else the
/// first of `../shared/data/nab`, `./shared/data/nab` and the shared data
/// beside the source checkout (this binary was built from) that holds
/// `nyc_taxi.csv`.
pub fn locate(flag: Option<&Path>, env: Option<PathBuf>) -> Result<PathBuf, TracesError> {
    let candidates: Vec<PathBuf> = match (flag, env) {
        (Some(dir), _) => vec![dir.to_path_buf()],
        (None, Some(dir)) => vec![dir],
        (None, None) => vec![
            PathBuf::from("../shared/data/nab"),
            PathBuf::from("./shared/data/nab"),
            // The source checkout's neighbour (also from a git worktree one level deeper).
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nab"),
        ],
    };
    candidates.iter().find(|d| d.join(SERVICES[0].2).is_file()).cloned().ok_or_else(|| TracesError::NotFound {
        looked: candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

/// Loads every service's trace from `dir`.
pub fn load(dir: &Path) -> Result<Vec<Service>, TracesError> {
    SERVICES
        .iter()
        .map(|&(name, database, file, scale, about)| {
            Ok(Service { name, database, trace: trace::load(&dir.join(file))?, scale, about })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_names_the_flag() {
        let err = locate(Some(Path::new("/nonexistent/nab")), None).expect_err("no traces there");
        let text = err.to_string();
        assert!(text.contains("--traces") && text.contains("/nonexistent/nab"), "{text}");
    }

    #[test]
    fn services_repeat_their_trace() {
        let trace = Trace::from_values("t", 0, 1, vec![1.0, 2.0, 3.0]);
        let s = Service { name: "web", database: "acme", trace, scale: 2.0, about: "" };
        assert_eq!(s.cores(1), 4.0);
        assert_eq!(s.cores(4), 4.0);
    }
}
