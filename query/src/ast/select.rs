//! The syntax tree of `SELECT` and the `SHOW SERIES` / `SHOW TAG ...` family:
//! expressions, sources, dimensions and options.
//!
//! Why its own module: `SELECT` is the biggest statement of the language and
//! its expressions are shared by the select list, `WHERE` and (later)
//! continuous queries; keeping them apart from the DDL statements keeps both
//! readable. Every node prints back as canonical AQL ([`fmt::Display`]).

use std::fmt;

use super::{write_ident, MeasurementName};
use crate::duration::format_influxql_duration;

/// `SELECT <fields> FROM <sources> [WHERE] [GROUP BY] [FILL] [ORDER BY] [LIMIT] [OFFSET] [SLIMIT] [SOFFSET] [tz()]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// The select list, in the order written.
    pub fields: Vec<Field>,
    /// `INTO <target>`: write the result instead of returning it.
    pub into: Option<IntoTarget>,
    /// `FROM` sources.
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY` dimensions.
    pub dimensions: Vec<Dimension>,
    /// `FILL(...)`.
    pub fill: Fill,
    /// `ORDER BY time DESC`.
    pub descending: bool,
    /// `LIMIT n` (0 = none).
    pub limit: u64,
    /// `OFFSET n`.
    pub offset: u64,
    /// `SLIMIT n` (0 = none).
    pub slimit: u64,
    /// `SOFFSET n`.
    pub soffset: u64,
    /// `tz('...')`.
    pub timezone: Option<String>,
}

/// The target of `SELECT ... INTO`: `m`, `rp.m`, `db.rp.m`, `db..m`, or
/// `rp.:MEASUREMENT` / `db.rp.:MEASUREMENT` (each source's own name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntoTarget {
    /// Database, if qualified (else the request's).
    pub database: Option<String>,
    /// Retention policy, if qualified (else the database's default).
    pub retention_policy: Option<String>,
    /// The measurement; `None` = `:MEASUREMENT`.
    pub measurement: Option<String>,
}

impl fmt::Display for IntoTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.database, &self.retention_policy) {
            (Some(db), rp) => {
                write_ident(f, db)?;
                f.write_str(".")?;
                if let Some(rp) = rp {
                    write_ident(f, rp)?;
                }
                f.write_str(".")?;
            }
            (None, Some(rp)) => {
                write_ident(f, rp)?;
                f.write_str(".")?;
            }
            (None, None) => {}
        }
        match &self.measurement {
            Some(m) => write_ident(f, m),
            None => f.write_str(":MEASUREMENT"),
        }
    }
}

/// One entry of the select list.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<String>,
}

impl Field {
    /// The column name InfluxDB gives this field: the alias, else the
    /// function name for a call, else the names of the referenced
    /// variables joined by `_`.
    pub fn column_name(&self) -> String {
        if let Some(alias) = &self.alias {
            return alias.clone();
        }
        match &self.expr {
            Expr::Call { name, .. } => name.clone(),
            Expr::Paren(inner) => Field { expr: (**inner).clone(), alias: None }.column_name(),
            expr => {
                let mut names = Vec::new();
                expr.collect_names(&mut names);
                names.join("_")
            }
        }
    }
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A named measurement.
    Measurement(MeasurementName),
    /// `/regex/`, optionally qualified (`db.rp./re/`).
    Regex {
        /// Database, if qualified.
        database: Option<String>,
        /// Retention policy, if qualified.
        retention_policy: Option<String>,
        /// The pattern.
        pattern: String,
    },
    /// `(SELECT ...)`: the rows of another query.
    Subquery(Box<Select>),
}

/// What a reference names, from `::field` / `::tag`, or the type it is
/// cast to (`::float`, `::integer`, `::unsigned`, `::string`, `::boolean`,
/// which also mark it as a field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `::field`
    Field,
    /// `::tag`
    Tag,
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::unsigned`
    Unsigned,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `=`
    Eq,
    /// `!=` / `<>`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// How the operator is written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::EqRegex => "=~",
            BinaryOp::NeqRegex => "!~",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }

    /// Binding strength: higher binds tighter (InfluxQL's precedence).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte
            | BinaryOp::EqRegex
            | BinaryOp::NeqRegex => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }

    /// Whether this compares two values (yields a boolean).
    pub fn is_comparison(self) -> bool {
        self.precedence() == 4
    }
}

/// An expression of the select list or of `WHERE`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field, tag or `time` reference.
    VarRef {
        /// Its name.
        name: String,
        /// `::field` / `::tag`, if given.
        kind: Option<RefKind>,
    },
    /// `*` (optionally `*::field` / `*::tag`).
    Wildcard(Option<RefKind>),
    /// An integer literal.
    Integer(i64),
    /// A float literal.
    Number(f64),
    /// A string literal.
    String(String),
    /// `true` / `false`.
    Boolean(bool),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// `/regex/`.
    Regex(String),
    /// A function call: positional and named (`name => value`) arguments.
    Call {
        /// Function name (lower-cased as written).
        name: String,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Named arguments, in order (`model => 'ets'`).
        named: Vec<(String, Expr)>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `( expr )`.
    Paren(Box<Expr>),
}

impl Expr {
    /// A binary expression.
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }

    /// Names of the variables referenced, in order, for column naming.
    fn collect_names(&self, out: &mut Vec<String>) {
        match self {
            Expr::VarRef { name, .. } => out.push(name.clone()),
            Expr::Call { name, .. } => out.push(name.clone()),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.collect_names(out);
                rhs.collect_names(out);
            }
            Expr::Paren(inner) => inner.collect_names(out),
            _ => {}
        }
    }

    /// Whether the expression contains a function call.
    pub fn has_call(&self) -> bool {
        match self {
            Expr::Call { .. } => true,
            Expr::Binary { lhs, rhs, .. } => lhs.has_call() || rhs.has_call(),
            Expr::Paren(inner) => inner.has_call(),
            _ => false,
        }
    }
}

/// A `GROUP BY` dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// `time(interval[, offset])`, nanoseconds.
    Time {
        /// Bucket width (0 for `time(0s)`, which groups nothing by time).
        interval: i64,
        /// Bucket offset from the epoch.
        offset: i64,
    },
    /// A tag key.
    Tag(String),
    /// `/regex/`: every tag key matching.
    Regex(String),
    /// `*`: every tag key.
    All,
}

/// `FILL(...)`: what an empty `GROUP BY time` bucket shows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fill {
    /// `null` (the default).
    #[default]
    Null,
    /// `none`: empty buckets are left out.
    None,
    /// `previous`: the previous bucket's value.
    Previous,
    /// `linear`: interpolated between neighbours.
    Linear,
    /// A number.
    Number(f64),
    /// An integer.
    Integer(i64),
}

/// `SHOW SERIES [ON db] [FROM ...] [WHERE ...] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowSeries {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (empty = all).
    pub sources: Vec<Source>,
    /// `WHERE` over tags.
    pub condition: Option<Expr>,
    /// `LIMIT n` (0 = none).
    pub limit: u64,
    /// `OFFSET n`.
    pub offset: u64,
}

/// The `WITH MEASUREMENT` clause of `SHOW MEASUREMENTS`.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementSelector {
    /// `= name`
    Eq(String),
    /// `=~ /re/`
    Regex(String),
}

/// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT ...] [WHERE ...] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowMeasurements {
    /// `ON db`; `None` = the request's `db` parameter.
    pub database: Option<String>,
    /// `WITH MEASUREMENT = m | =~ /re/`.
    pub with: Option<MeasurementSelector>,
    /// `WHERE` over tags: only measurements with a matching series.
    pub condition: Option<Expr>,
    /// `LIMIT n` (0 = none).
    pub limit: u64,
    /// `OFFSET n`.
    pub offset: u64,
}

/// The `WITH KEY` clause of `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeySelector {
    /// `= key`
    Eq(String),
    /// `!= key`
    Neq(String),
    /// `IN (a, b)`
    In(Vec<String>),
    /// `=~ /re/`
    Regex(String),
    /// `!~ /re/`
    NotRegex(String),
}

/// `SHOW TAG KEYS` and `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTags {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (empty = all).
    pub sources: Vec<Source>,
    /// `WITH KEY ...` (`SHOW TAG VALUES` only).
    pub key: Option<TagKeySelector>,
    /// `WHERE` over tags.
    pub condition: Option<Expr>,
    /// `LIMIT n` (0 = none).
    pub limit: u64,
    /// `OFFSET n`.
    pub offset: u64,
}

/// ` GROUP BY d1, d2` (nothing without dimensions).
pub(crate) fn write_group_by(f: &mut fmt::Formatter<'_>, dimensions: &[Dimension]) -> fmt::Result {
    for (i, d) in dimensions.iter().enumerate() {
        f.write_str(if i == 0 { " GROUP BY " } else { ", " })?;
        match d {
            Dimension::Time { interval, offset } => {
                write!(f, "time({}", format_influxql_duration(*interval))?;
                if *offset != 0 {
                    write!(f, ", {}", format_influxql_duration(*offset))?;
                }
                f.write_str(")")?;
            }
            Dimension::Tag(t) => write_ident(f, t)?,
            Dimension::Regex(p) => write_regex(f, p)?,
            Dimension::All => f.write_str("*")?,
        }
    }
    Ok(())
}

fn write_regex(f: &mut fmt::Formatter<'_>, pattern: &str) -> fmt::Result {
    write!(f, "/{}/", pattern.replace('/', "\\/"))
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn write_kind(f: &mut fmt::Formatter<'_>, kind: Option<RefKind>) -> fmt::Result {
    match kind {
        Some(RefKind::Field) => f.write_str("::field"),
        Some(RefKind::Tag) => f.write_str("::tag"),
        Some(RefKind::Float) => f.write_str("::float"),
        Some(RefKind::Integer) => f.write_str("::integer"),
        Some(RefKind::Unsigned) => f.write_str("::unsigned"),
        Some(RefKind::String) => f.write_str("::string"),
        Some(RefKind::Boolean) => f.write_str("::boolean"),
        None => Ok(()),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef { name, kind } => {
                write_ident(f, name)?;
                write_kind(f, *kind)
            }
            Expr::Wildcard(kind) => {
                f.write_str("*")?;
                write_kind(f, *kind)
            }
            Expr::Integer(n) => write!(f, "{n}"),
            Expr::Number(n) => write!(f, "{n:?}"),
            Expr::String(s) => write_string(f, s),
            Expr::Boolean(b) => write!(f, "{b}"),
            Expr::Duration(ns) => f.write_str(&format_influxql_duration(*ns)),
            Expr::Regex(p) => write_regex(f, p),
            Expr::Call { name, args, named } => {
                write!(f, "{name}(")?;
                let mut first = true;
                for arg in args {
                    if !first {
                        f.write_str(", ")?;
                    }
                    first = false;
                    write!(f, "{arg}")?;
                }
                for (key, value) in named {
                    if !first {
                        f.write_str(", ")?;
                    }
                    first = false;
                    write_ident(f, key)?;
                    write!(f, " => {value}")?;
                }
                f.write_str(")")
            }
            // `-x` parses as `-1 * x` (as in InfluxDB); print it back as
            // `-x` so that `m * -x` does not come back as `(m * -1) * x`
            // (but never `--x`, which starts a comment).
            Expr::Binary { op: BinaryOp::Mul, lhs, rhs }
                if matches!(**lhs, Expr::Integer(-1))
                    && !matches!(**rhs, Expr::Integer(_) | Expr::Number(_) | Expr::Duration(_)) =>
            {
                let operand = rhs.to_string();
                if operand.starts_with('-') {
                    write!(f, "-1 * {operand}")
                } else {
                    write!(f, "-{operand}")
                }
            }
            Expr::Binary { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            Expr::Paren(inner) => write!(f, "({inner})"),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => write!(f, "{m}"),
            Source::Subquery(select) => write!(f, "({select})"),
            Source::Regex { database, retention_policy, pattern } => {
                if let Some(db) = database {
                    write_ident(f, db)?;
                    f.write_str(".")?;
                    if let Some(rp) = retention_policy {
                        write_ident(f, rp)?;
                    }
                    f.write_str(".")?;
                } else if let Some(rp) = retention_policy {
                    write_ident(f, rp)?;
                    f.write_str(".")?;
                }
                write_regex(f, pattern)
            }
        }
    }
}

fn write_sources(f: &mut fmt::Formatter<'_>, sources: &[Source]) -> fmt::Result {
    for (i, s) in sources.iter().enumerate() {
        f.write_str(if i == 0 { " FROM " } else { ", " })?;
        write!(f, "{s}")?;
    }
    Ok(())
}

fn write_limits(f: &mut fmt::Formatter<'_>, limit: u64, offset: u64) -> fmt::Result {
    if limit > 0 {
        write!(f, " LIMIT {limit}")?;
    }
    if offset > 0 {
        write!(f, " OFFSET {offset}")?;
    }
    Ok(())
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", field.expr)?;
            if let Some(alias) = &field.alias {
                f.write_str(" AS ")?;
                write_ident(f, alias)?;
            }
        }
        if let Some(into) = &self.into {
            write!(f, " INTO {into}")?;
        }
        write_sources(f, &self.sources)?;
        if let Some(cond) = &self.condition {
            write!(f, " WHERE {cond}")?;
        }
        write_group_by(f, &self.dimensions)?;
        match self.fill {
            Fill::Null => {}
            Fill::None => f.write_str(" fill(none)")?,
            Fill::Previous => f.write_str(" fill(previous)")?,
            Fill::Linear => f.write_str(" fill(linear)")?,
            Fill::Number(n) => write!(f, " fill({n:?})")?,
            Fill::Integer(n) => write!(f, " fill({n})")?,
        }
        if self.descending {
            f.write_str(" ORDER BY time DESC")?;
        }
        write_limits(f, self.limit, self.offset)?;
        if self.slimit > 0 {
            write!(f, " SLIMIT {}", self.slimit)?;
        }
        if self.soffset > 0 {
            write!(f, " SOFFSET {}", self.soffset)?;
        }
        if let Some(tz) = &self.timezone {
            f.write_str(" tz(")?;
            write_string(f, tz)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for ShowSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW SERIES")?;
        if let Some(db) = &self.database {
            f.write_str(" ON ")?;
            write_ident(f, db)?;
        }
        write_sources(f, &self.sources)?;
        if let Some(cond) = &self.condition {
            write!(f, " WHERE {cond}")?;
        }
        write_limits(f, self.limit, self.offset)
    }
}

impl fmt::Display for ShowMeasurements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW MEASUREMENTS")?;
        if let Some(db) = &self.database {
            f.write_str(" ON ")?;
            write_ident(f, db)?;
        }
        match &self.with {
            None => {}
            Some(MeasurementSelector::Eq(m)) => {
                f.write_str(" WITH MEASUREMENT = ")?;
                write_ident(f, m)?;
            }
            Some(MeasurementSelector::Regex(p)) => {
                f.write_str(" WITH MEASUREMENT =~ ")?;
                write_regex(f, p)?;
            }
        }
        if let Some(cond) = &self.condition {
            write!(f, " WHERE {cond}")?;
        }
        write_limits(f, self.limit, self.offset)
    }
}

/// Displays `SHOW TAG KEYS` (no key selector) or `SHOW TAG VALUES`.
impl fmt::Display for ShowTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.key.is_some() { "SHOW TAG VALUES" } else { "SHOW TAG KEYS" })?;
        if let Some(db) = &self.database {
            f.write_str(" ON ")?;
            write_ident(f, db)?;
        }
        write_sources(f, &self.sources)?;
        match &self.key {
            None => {}
            Some(TagKeySelector::Eq(k)) => {
                f.write_str(" WITH KEY = ")?;
                write_ident(f, k)?;
            }
            Some(TagKeySelector::Neq(k)) => {
                f.write_str(" WITH KEY != ")?;
                write_ident(f, k)?;
            }
            Some(TagKeySelector::In(keys)) => {
                f.write_str(" WITH KEY IN (")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_ident(f, k)?;
                }
                f.write_str(")")?;
            }
            Some(TagKeySelector::Regex(p)) => {
                f.write_str(" WITH KEY =~ ")?;
                write_regex(f, p)?;
            }
            Some(TagKeySelector::NotRegex(p)) => {
                f.write_str(" WITH KEY !~ ")?;
                write_regex(f, p)?;
            }
        }
        if let Some(cond) = &self.condition {
            write!(f, " WHERE {cond}")?;
        }
        write_limits(f, self.limit, self.offset)
    }
}
