//! The generated data set: which rows exist (TSBS `cpu-only` shape, or one
//! row per distinct series for the memory test), in what order, and how they
//! are cut into write batches or streamed to a file.
//!
//! Everything is derived from one seed, so two runs with the same flags send
//! byte-identical data to the servers being compared.

use std::io::Write;

use anyhow::{bail, Result};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::lineproto::{append_row, FieldFormat};
use crate::tsbs::{Host, StandardNormal};

/// How series relate to rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeriesMode {
    /// TSBS `cpu-only`: `hosts` series, one row per host per interval,
    /// ordered by time then host.
    Tsbs,
    /// Every row is a new series (`hostname=host_<i>`), all at the start
    /// time: measures memory per series rather than throughput.
    Distinct,
}

/// Everything that determines the rows.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Series layout.
    pub mode: SeriesMode,
    /// Number of hosts (`tsbs`) or of distinct series (`distinct`).
    pub hosts: u64,
    /// Rows per host in `tsbs` mode (ignored in `distinct` mode).
    pub steps: u64,
    /// Spacing of a host's rows, in nanoseconds.
    pub interval_ns: i64,
    /// Timestamp of the first row, nanoseconds since the epoch.
    pub start_ns: i64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Stop after this many rows, if set.
    pub limit_rows: Option<u64>,
    /// How the usage fields are written.
    pub format: FieldFormat,
}

impl DatasetSpec {
    /// Number of rows the spec produces.
    pub fn total_rows(&self) -> u64 {
        let natural = match self.mode {
            SeriesMode::Tsbs => self.hosts.saturating_mul(self.steps),
            SeriesMode::Distinct => self.hosts,
        };
        self.limit_rows.map_or(natural, |limit| natural.min(limit))
    }

    /// Rejects specs that cannot produce rows or whose timestamps overflow.
    pub fn validate(&self) -> Result<()> {
        if self.hosts == 0 {
            bail!("the number of hosts/series must be at least 1");
        }
        if self.interval_ns <= 0 {
            bail!("the interval must be positive");
        }
        if self.mode == SeriesMode::Tsbs && self.steps == 0 {
            bail!("the time span is shorter than one interval: no rows to generate");
        }
        let span = i64::try_from(self.steps)
            .ok()
            .and_then(|steps| steps.checked_mul(self.interval_ns))
            .and_then(|span| span.checked_add(self.start_ns));
        if span.is_none() {
            bail!("start + hours overflows nanosecond timestamps");
        }
        Ok(())
    }
}

/// Produces the rows of a spec one at a time, in order.
pub struct RowGenerator {
    spec: DatasetSpec,
    normal: StandardNormal<StdRng>,
    hosts: Vec<Host>,
    next_host: usize,
    step: u64,
    emitted: u64,
    total: u64,
}

impl RowGenerator {
    /// Starts generation; in `tsbs` mode this draws every host up front.
    pub fn new(spec: DatasetSpec) -> Self {
        let mut normal = StandardNormal::new(StdRng::seed_from_u64(spec.seed));
        let hosts = match spec.mode {
            SeriesMode::Tsbs => (0..spec.hosts).map(|id| Host::new(id, normal.rng())).collect(),
            SeriesMode::Distinct => Vec::new(),
        };
        let total = spec.total_rows();
        RowGenerator { spec, normal, hosts, next_host: 0, step: 0, emitted: 0, total }
    }

    /// Appends the next row to `out`; false when there are no more.
    pub fn next_row(&mut self, out: &mut Vec<u8>) -> bool {
        if self.emitted >= self.total {
            return false;
        }
        match self.spec.mode {
            SeriesMode::Tsbs => {
                if self.next_host == self.hosts.len() {
                    self.next_host = 0;
                    self.step += 1;
                    for host in &mut self.hosts {
                        host.tick(&mut self.normal);
                    }
                }
                // `validate` has checked that this cannot overflow.
                let ts = self.spec.start_ns + self.step as i64 * self.spec.interval_ns;
                let host = &self.hosts[self.next_host];
                append_row(out, &host.series_key, &host.usage, ts, self.spec.format);
                self.next_host += 1;
            }
            SeriesMode::Distinct => {
                let host = Host::new(self.emitted, self.normal.rng());
                append_row(out, &host.series_key, &host.usage, self.spec.start_ns, self.spec.format);
            }
        }
        self.emitted += 1;
        true
    }
}

/// One write request's worth of rows.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Line protocol, possibly gzip-compressed later.
    pub body: Bytes,
    /// Rows in the body.
    pub rows: u64,
}

/// Generates every row of `spec`, `batch_rows` rows per batch.
pub fn batches(spec: &DatasetSpec, batch_rows: u64) -> Vec<Batch> {
    let batch_rows = batch_rows.max(1);
    let mut generator = RowGenerator::new(spec.clone());
    let mut out = Vec::new();
    let mut capacity = 0;
    loop {
        let mut body = Vec::with_capacity(capacity);
        let mut rows = 0;
        while rows < batch_rows && generator.next_row(&mut body) {
            rows += 1;
        }
        if rows == 0 {
            break;
        }
        capacity = body.len() + body.len() / 8;
        out.push(Batch { body: Bytes::from(body), rows });
    }
    out
}

/// Streams every row of `spec` to `writer`, after `header` (written as is);
/// returns the number of rows written.
pub fn write_rows<W: Write>(spec: &DatasetSpec, header: &str, writer: &mut W) -> Result<u64> {
    const CHUNK: usize = 1 << 20;
    writer.write_all(header.as_bytes())?;
    let mut generator = RowGenerator::new(spec.clone());
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut rows = 0;
    while generator.next_row(&mut buf) {
        rows += 1;
        if buf.len() >= CHUNK {
            writer.write_all(&buf)?;
            buf.clear();
        }
    }
    writer.write_all(&buf)?;
    writer.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: SeriesMode, hosts: u64, steps: u64) -> DatasetSpec {
        DatasetSpec {
            mode,
            hosts,
            steps,
            interval_ns: 10_000_000_000,
            start_ns: 1_451_606_400_000_000_000,
            seed: 123,
            limit_rows: None,
            format: FieldFormat::Float,
        }
    }

    fn lines(spec: &DatasetSpec) -> Vec<String> {
        let mut out = Vec::new();
        write_rows(spec, "", &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
    }

    fn host_and_ts(line: &str) -> (String, i64) {
        let host = line.split(',').nth(1).unwrap().to_owned();
        let ts = line.rsplit(' ').next().unwrap().parse().unwrap();
        (host, ts)
    }

    #[test]
    fn tsbs_rows_are_ordered_by_time_then_host() {
        let s = spec(SeriesMode::Tsbs, 3, 4);
        let rows = lines(&s);
        assert_eq!(rows.len(), 12);
        for (i, row) in rows.iter().enumerate() {
            let (host, ts) = host_and_ts(row);
            assert_eq!(host, format!("hostname=host_{}", i % 3));
            assert_eq!(ts, s.start_ns + (i / 3) as i64 * s.interval_ns);
        }
    }

    #[test]
    fn same_seed_same_bytes_and_batches_match_stream() {
        let s = spec(SeriesMode::Tsbs, 5, 7);
        let streamed = lines(&s).join("\n") + "\n";
        assert_eq!(streamed, lines(&s).join("\n") + "\n");
        let batched: Vec<u8> = batches(&s, 4).iter().flat_map(|b| b.body.to_vec()).collect();
        assert_eq!(String::from_utf8(batched).unwrap(), streamed);
        let sizes: Vec<u64> = batches(&s, 4).iter().map(|b| b.rows).collect();
        assert_eq!(sizes, vec![4, 4, 4, 4, 4, 4, 4, 4, 3]);
    }

    #[test]
    fn limit_rows_caps_output() {
        let mut s = spec(SeriesMode::Tsbs, 5, 7);
        s.limit_rows = Some(9);
        assert_eq!(s.total_rows(), 9);
        assert_eq!(lines(&s).len(), 9);
    }

    #[test]
    fn distinct_mode_one_row_per_series() {
        let s = spec(SeriesMode::Distinct, 50, 0);
        s.validate().unwrap();
        let rows = lines(&s);
        assert_eq!(rows.len(), 50);
        for (i, row) in rows.iter().enumerate() {
            let (host, ts) = host_and_ts(row);
            assert_eq!(host, format!("hostname=host_{i}"));
            assert_eq!(ts, s.start_ns);
        }
    }

    #[test]
    fn invalid_specs_are_rejected() {
        assert!(spec(SeriesMode::Tsbs, 0, 1).validate().is_err());
        assert!(spec(SeriesMode::Tsbs, 1, 0).validate().is_err());
        let mut s = spec(SeriesMode::Tsbs, 1, u64::MAX);
        assert!(s.validate().is_err());
        s.steps = 1;
        s.interval_ns = 0;
        assert!(s.validate().is_err());
    }
}
