//! Seeded data and queries for the differential test.
//!
//! The differential test writes the same points to Augur and to InfluxDB
//! 1.6.7 and asks both the same queries. Both the points and the queries
//! come from here, driven by a small self-contained PRNG ([`Rng`],
//! SplitMix64) so that a seed names exactly one data set and one corpus on
//! every machine and every `rand` version — the known-differences list
//! refers to queries by their text, which must not drift.
//!
//! The data set has what breaks implementations: several measurements,
//! tags of low and high cardinality (and a series lacking a tag), float,
//! integer, boolean and string fields with missing values, gaps of hours,
//! sub-second timestamps, points written out of order, over three days.
//! The query grammar combines every aggregate and selector with `GROUP BY
//! time` intervals and offsets, tag grouping, every `FILL` mode, tag and
//! field conditions, `ORDER BY time DESC`, `LIMIT/OFFSET/SLIMIT/SOFFSET`.

/// SplitMix64: tiny, fast, and fully specified, so seeds replay anywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..hi` (`lo < hi`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.below((hi - lo) as u64) as i64)
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Start of the data: 2024-01-01T00:00:00Z, in seconds.
pub const BASE_S: i64 = 1_704_067_200;
/// Span of the data: three days, in seconds.
pub const SPAN_S: i64 = 3 * 86_400;
/// One second in nanoseconds.
const NS: i64 = 1_000_000_000;

/// A field's type, which decides the functions that accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Float.
    Float,
    /// Integer.
    Int,
    /// Boolean.
    Bool,
    /// String.
    Str,
}

/// A measurement of the data set: its tag keys and typed fields.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Measurement name.
    pub name: &'static str,
    /// Tag keys (some series may lack some).
    pub tags: &'static [&'static str],
    /// Fields and their types.
    pub fields: &'static [(&'static str, Kind)],
}

/// The measurements.
pub const SCHEMAS: [Schema; 5] = [
    Schema {
        name: "cpu",
        tags: &["host", "region"],
        fields: &[("usage", Kind::Float), ("cores", Kind::Int), ("busy", Kind::Bool), ("state", Kind::Str)],
    },
    Schema { name: "mem", tags: &["host"], fields: &[("used", Kind::Int), ("free", Kind::Float)] },
    Schema { name: "disk", tags: &["host", "path"], fields: &[("io", Kind::Float)] },
    Schema { name: "events", tags: &[], fields: &[("msg", Kind::Str), ("level", Kind::Int), ("ok", Kind::Bool)] },
    Schema { name: "temp", tags: &["sensor"], fields: &[("t", Kind::Float)] },
];

/// Host tag values.
pub const HOSTS: [&str; 8] = ["h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7"];
const STATES: [&str; 4] = ["idle", "busy", "down", "idle"];

/// A float with three decimals (exact in text both ways).
fn dec(rng: &mut Rng, lo: i64, hi: i64) -> String {
    let milli = rng.range(lo * 1000, hi * 1000);
    let v = milli as f64 / 1000.0;
    format!("{v:?}")
}

/// Points of one series at roughly `step_s` intervals with jitter and a
/// few multi-hour gaps; `line` renders one point at a timestamp (ns), or
/// `None` to leave it out.
fn series(rng: &mut Rng, step_s: i64, out: &mut Vec<String>, mut line: impl FnMut(&mut Rng, i64) -> Option<String>) {
    let mut t = BASE_S + rng.range(0, step_s);
    let mut gap_until = 0;
    while t < BASE_S + SPAN_S {
        if t >= gap_until && rng.chance(1) {
            gap_until = t + rng.range(3_600, 6 * 3_600);
        }
        if t >= gap_until {
            let ns = t * NS + if rng.chance(10) { rng.range(1, 999_999_999) } else { 0 };
            if let Some(l) = line(rng, ns) {
                out.push(l);
            }
        }
        t += step_s + rng.range(-step_s / 4, step_s / 4 + 1);
    }
}

/// The data set as line-protocol lines (nanosecond timestamps), in a
/// shuffled order so that writes arrive out of order.
pub fn data_lines(seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (i, host) in HOSTS.iter().enumerate() {
        // h7 has no region tag: it compares as '' and groups under region=''.
        let tags = if i == 7 { format!("host={host}") } else { format!("host={host},region={}", ["eu", "us"][i % 2]) };
        series(&mut rng, 600, &mut out, |r, ns| {
            let mut fields = Vec::new();
            if r.chance(95) {
                fields.push(format!("usage={}", dec(r, 0, 100)));
            }
            if r.chance(80) {
                fields.push(format!("cores={}i", r.range(1, 9)));
            }
            if r.chance(70) {
                fields.push(format!("busy={}", r.chance(40)));
            }
            if r.chance(60) {
                fields.push(format!("state=\"{}\"", r.pick(&STATES)));
            }
            (!fields.is_empty()).then(|| format!("cpu,{tags} {} {ns}", fields.join(",")))
        });
    }
    for host in &HOSTS[..4] {
        series(&mut rng, 1_800, &mut out, |r, ns| {
            Some(format!("mem,host={host} used={}i,free={} {ns}", r.range(-1_000, 1_000_000), dec(r, 0, 64)))
        });
    }
    for host in &HOSTS[..3] {
        for p in 0..20 {
            let mut r2 = Rng::new(rng.next_u64());
            for _ in 0..(5 + r2.below(25)) {
                let ns = (BASE_S + r2.range(0, SPAN_S)) * NS;
                out.push(format!("disk,host={host},path=/p{p} io={} {ns}", dec(&mut r2, -5, 500)));
            }
        }
    }
    for _ in 0..300 {
        let ns = BASE_S * NS + rng.range(0, SPAN_S * NS / 1_000) * 1_000;
        let msg = format!("e{}", rng.below(12));
        out.push(format!("events msg=\"{msg}\",level={}i,ok={} {ns}", rng.range(-3, 6), rng.chance(50)));
    }
    for sensor in ["s1", "s2", "s3"] {
        series(&mut rng, 3_600, &mut out, |r, ns| {
            // Whole numbers sometimes (they print without a fraction).
            let v = if r.chance(30) { format!("{}", r.range(-20, 40)) } else { dec(r, -20, 40) };
            Some(format!("temp,sensor={sensor} t={v} {ns}"))
        });
    }
    rng.shuffle(&mut out);
    out
}

/// RFC 3339 UTC of a time in seconds.
pub fn rfc3339(s: i64) -> String {
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// The functions that accept a field kind.
fn functions(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Float | Kind::Int => &[
            "count",
            "mean",
            "sum",
            "min",
            "max",
            "first",
            "last",
            "median",
            "spread",
            "stddev",
            "mode",
            "percentile",
            "distinct_count",
            "integral",
            "top",
            "bottom",
        ],
        Kind::Bool => &["count", "first", "last", "mode", "distinct_count"],
        Kind::Str => &["count", "first", "last", "mode", "distinct_count"],
    }
}

/// A call of `f` on `field`.
fn call(rng: &mut Rng, f: &str, field: &str) -> String {
    match f {
        "percentile" => format!("percentile({field}, {})", rng.pick(&[5, 25, 50, 90, 99, 100])),
        "distinct_count" => format!("count(distinct({field}))"),
        "integral" => format!("integral({field}, {})", rng.pick(&["1s", "1m", "1h"])),
        "top" | "bottom" => format!("{f}({field}, {})", rng.range(1, 4)),
        _ => format!("{f}({field})"),
    }
}

/// A time range `time >= A AND time < B` inside the data (sometimes
/// unaligned, sometimes `<=`), and its length in seconds.
fn time_range(rng: &mut Rng) -> (String, i64) {
    let len = *rng.pick(&[3_600, 3 * 3_600, 12 * 3_600, 86_400, 2 * 86_400]);
    let mut start = BASE_S + rng.range(0, SPAN_S - len / 2);
    if rng.chance(50) {
        start -= start % 3_600;
    }
    if rng.chance(30) {
        start += rng.range(0, 3_600);
    }
    let lower = if rng.chance(80) { ">=" } else { ">" };
    let upper = if rng.chance(80) { "<" } else { "<=" };
    let text = if rng.chance(25) {
        format!("time {lower} {}s AND time {upper} {}s", start, start + len)
    } else {
        format!("time {lower} '{}' AND time {upper} '{}'", rfc3339(start), rfc3339(start + len))
    };
    (text, len)
}

/// An extra condition on `schema`'s tags or fields (or nothing).
fn condition(rng: &mut Rng, schema: &Schema) -> Option<String> {
    let mut options: Vec<String> = Vec::new();
    if schema.tags.contains(&"host") {
        options.push(format!("host = '{}'", rng.pick(&HOSTS)));
        options.push(format!("host != '{}'", rng.pick(&HOSTS)));
        options.push("host =~ /^h[0-3]$/".into());
        options.push("host !~ /h1/".into());
    }
    if schema.tags.contains(&"region") {
        options.push("region = 'eu'".into());
        options.push("(region = 'us' OR host = 'h7')".into());
        options.push("region = ''".into());
    }
    if schema.tags.contains(&"sensor") {
        options.push("sensor =~ /s[12]/".into());
    }
    if schema.tags.contains(&"path") {
        options.push("path =~ /\\/p1/".into());
    }
    for (field, kind) in schema.fields {
        match kind {
            Kind::Float => options.push(format!("{field} > {}", rng.range(0, 50))),
            Kind::Int => options.push(format!("{field} <= {}", rng.range(1, 5))),
            Kind::Bool => options.push(format!("{field} = true")),
            Kind::Str => options.push(format!("{field} = '{}'", if schema.name == "cpu" { "idle" } else { "e3" })),
        }
    }
    if rng.chance(30) {
        return None;
    }
    let first = rng.pick(&options).clone();
    if rng.chance(25) {
        let second = rng.pick(&options).clone();
        let op = if rng.chance(70) { "AND" } else { "OR" };
        return Some(format!("({first} {op} {second})"));
    }
    Some(first)
}

/// A `GROUP BY time(...)` interval (and optional offset) giving at most
/// ~300 buckets over `len` seconds.
fn interval(rng: &mut Rng, len: i64) -> String {
    let choices: Vec<(&str, i64)> = [
        ("1m", 60),
        ("5m", 300),
        ("7m", 420),
        ("10m", 600),
        ("15m", 900),
        ("30m", 1_800),
        ("1h", 3_600),
        ("90m", 5_400),
        ("6h", 21_600),
        ("1d", 86_400),
    ]
    .into_iter()
    .filter(|(_, s)| len / s <= 300)
    .collect();
    let (text, secs) = *rng.pick(&choices);
    if rng.chance(35) {
        let offsets: Vec<&str> =
            ["1m", "5m", "15m", "30m", "-5m", "-1m", "2h"].into_iter().filter(|o| parse_secs(o).abs() < secs).collect();
        if !offsets.is_empty() {
            return format!("time({text}, {})", rng.pick(&offsets));
        }
    }
    format!("time({text})")
}

fn parse_secs(d: &str) -> i64 {
    let (num, unit) = d.split_at(d.len() - 1);
    let n: i64 = num.parse().unwrap_or(0);
    n * match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => 1,
    }
}

/// `n` generated queries from `seed`.
pub fn generated_queries(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let schema = *rng.pick(&SCHEMAS);
        let shape = rng.below(10);
        let q = match shape {
            0..=5 => grouped_aggregate(&mut rng, &schema),
            6 | 7 => plain_aggregate(&mut rng, &schema),
            _ => raw_select(&mut rng, &schema),
        };
        if !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

/// 1–3 aggregate calls on `schema`'s fields.
fn aggregate_list(rng: &mut Rng, schema: &Schema) -> String {
    let k = 1 + rng.below(3) as usize;
    let mut calls = Vec::new();
    for _ in 0..k {
        let (field, kind) = *rng.pick(schema.fields);
        let f = *rng.pick(functions(kind));
        if f == "top" || f == "bottom" {
            // Selectors that list points combine with nothing else.
            return call(rng, f, field);
        }
        calls.push(call(rng, f, field));
    }
    calls.join(", ")
}

fn tag_grouping(rng: &mut Rng, schema: &Schema) -> Option<String> {
    if schema.tags.is_empty() || rng.chance(50) {
        return None;
    }
    Some(match rng.below(4) {
        0 => "*".to_string(),
        1 if schema.tags.len() > 1 => schema.tags.join(", "),
        _ => schema.tags[0].to_string(),
    })
}

fn grouped_aggregate(rng: &mut Rng, schema: &Schema) -> String {
    let select = aggregate_list(rng, schema);
    let (range, len) = time_range(rng);
    let mut q = format!("SELECT {select} FROM {} WHERE {range}", schema.name);
    if let Some(c) = condition(rng, schema) {
        q.push_str(&format!(" AND {c}"));
    }
    q.push_str(&format!(" GROUP BY {}", interval(rng, len)));
    if let Some(t) = tag_grouping(rng, schema) {
        q.push_str(&format!(", {t}"));
    }
    if rng.chance(60) {
        q.push_str(&format!(" fill({})", rng.pick(&["null", "none", "previous", "linear", "0", "-1.5", "100"])));
    }
    if rng.chance(25) {
        q.push_str(" ORDER BY time DESC");
    }
    limits(rng, &mut q);
    q
}

fn plain_aggregate(rng: &mut Rng, schema: &Schema) -> String {
    let select = aggregate_list(rng, schema);
    let mut q = format!("SELECT {select} FROM {}", schema.name);
    let mut conds = Vec::new();
    if rng.chance(60) {
        conds.push(time_range(rng).0);
    }
    if let Some(c) = condition(rng, schema) {
        conds.push(c);
    }
    if !conds.is_empty() {
        q.push_str(&format!(" WHERE {}", conds.join(" AND ")));
    }
    if let Some(t) = tag_grouping(rng, schema) {
        q.push_str(&format!(" GROUP BY {t}"));
    }
    limits(rng, &mut q);
    q
}

fn raw_select(rng: &mut Rng, schema: &Schema) -> String {
    let fields: Vec<&str> = match rng.below(3) {
        0 => vec!["*"],
        _ => {
            let mut f: Vec<&str> = schema.fields.iter().map(|(n, _)| *n).filter(|_| rng.chance(60)).collect();
            if f.is_empty() {
                f.push(schema.fields[0].0);
            }
            if let Some(t) = schema.tags.first().filter(|_| rng.chance(30)) {
                f.push(t);
            }
            f
        }
    };
    let (range, _) = time_range(rng);
    let mut q = format!("SELECT {} FROM {} WHERE {range}", fields.join(", "), schema.name);
    if let Some(c) = condition(rng, schema) {
        q.push_str(&format!(" AND {c}"));
    }
    if let Some(t) = tag_grouping(rng, schema) {
        q.push_str(&format!(" GROUP BY {t}"));
    }
    if rng.chance(30) {
        q.push_str(" ORDER BY time DESC");
    }
    if !q.contains("LIMIT") && rng.chance(70) {
        q.push_str(&format!(" LIMIT {}", rng.range(1, 40)));
    }
    q
}

fn limits(rng: &mut Rng, q: &mut String) {
    if rng.chance(25) {
        q.push_str(&format!(" LIMIT {}", rng.range(1, 6)));
        if rng.chance(40) {
            q.push_str(&format!(" OFFSET {}", rng.range(1, 4)));
        }
    }
    if q.contains("GROUP BY") && rng.chance(20) {
        q.push_str(&format!(" SLIMIT {}", rng.range(1, 4)));
        if rng.chance(50) {
            q.push_str(&format!(" SOFFSET {}", rng.range(1, 3)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(data_lines(7), data_lines(7));
        assert_ne!(data_lines(7), data_lines(8));
        assert_eq!(generated_queries(3, 50), generated_queries(3, 50));
        // SplitMix64's published first output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn rfc3339_formats_civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(BASE_S), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(BASE_S + 59 * 86_400 + 3_661), "2024-02-29T01:01:01Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn queries_are_distinct_and_bounded() {
        let qs = generated_queries(1, 300);
        assert_eq!(qs.len(), 300);
        for q in &qs {
            assert!(q.starts_with("SELECT "), "{q}");
            if q.contains("GROUP BY time") {
                assert!(q.contains("time <") || q.contains("time <="), "upper bound needed: {q}");
            }
        }
    }
}
