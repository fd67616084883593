//! The syntax tree of `CREATE CONTINUOUS QUERY`.
//!
//! Why its own module: a continuous query is stored as its canonical text
//! (what `SHOW CONTINUOUS QUERIES` prints and what the scheduler parses
//! back), so its printing must be exactly InfluxDB's and lives next to the
//! type.

use std::fmt;

use super::{write_ident, Select};
use crate::duration::format_influxql_duration;

/// `CREATE CONTINUOUS QUERY <name> ON <db> [RESAMPLE [EVERY d] [FOR d]] BEGIN <select> END`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateContinuousQuery {
    /// The query's name (unique per database).
    pub name: String,
    /// The database it belongs to.
    pub database: String,
    /// The `RESAMPLE` options.
    pub resample: Resample,
    /// The `SELECT ... INTO ... GROUP BY time(...)` it runs.
    pub select: Box<Select>,
}

/// `RESAMPLE [EVERY d] [FOR d]`, in nanoseconds (`None` = not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resample {
    /// How often the query runs (default: the `GROUP BY time` interval).
    pub every: Option<i64>,
    /// How far back each run reaches (default: one interval).
    pub for_: Option<i64>,
}

impl fmt::Display for CreateContinuousQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE CONTINUOUS QUERY ")?;
        write_ident(f, &self.name)?;
        f.write_str(" ON ")?;
        write_ident(f, &self.database)?;
        if self.resample.every.is_some() || self.resample.for_.is_some() {
            f.write_str(" RESAMPLE")?;
            if let Some(every) = self.resample.every {
                write!(f, " EVERY {}", format_influxql_duration(every))?;
            }
            if let Some(for_) = self.resample.for_ {
                write!(f, " FOR {}", format_influxql_duration(for_))?;
            }
        }
        write!(f, " BEGIN {} END", self.select)
    }
}
