//! The syntax tree of the statements that change stored data or report
//! schema sizes: `DELETE`, `DROP SERIES`, `ALTER RETENTION POLICY`, the
//! `SHOW ... CARDINALITY` family and `SHOW FIELD KEYS` with regex sources.
//!
//! Kept apart from the database/policy statements in `ast.rs` and from
//! `SELECT` so that each file stays small; every node prints back as AQL.

use std::fmt;

use super::select::{Dimension, Expr, ShowTags, Source};
use super::{duration_or_inf, write_ident};
use crate::duration::format_influxql_duration;

/// `DELETE` and `DROP SERIES`: which series (and, for `DELETE`, which time range).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteSeries {
    /// `FROM` sources (empty = every measurement).
    pub sources: Vec<Source>,
    /// `WHERE` over tags (and `time`, for `DELETE`).
    pub condition: Option<Expr>,
}

/// `ALTER RETENTION POLICY`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlterRetentionPolicy {
    /// Policy name.
    pub name: String,
    /// Database.
    pub database: String,
    /// `DURATION`: `Some(None)` = `INF`.
    pub duration: Option<Option<i64>>,
    /// `REPLICATION`.
    pub replication: Option<u32>,
    /// `SHARD DURATION`, ns (0 = derive from the duration).
    pub shard_duration: Option<i64>,
    /// `DEFAULT`.
    pub default: bool,
}

/// What a `SHOW ... CARDINALITY` statement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardinalityKind {
    /// `SHOW SERIES CARDINALITY`
    Series,
    /// `SHOW MEASUREMENT CARDINALITY`
    Measurement,
    /// `SHOW TAG KEY CARDINALITY`
    TagKey,
    /// `SHOW TAG VALUES CARDINALITY WITH KEY ...`
    TagValues,
    /// `SHOW FIELD KEY CARDINALITY`
    FieldKey,
}

impl CardinalityKind {
    fn as_str(self) -> &'static str {
        match self {
            CardinalityKind::Series => "SERIES",
            CardinalityKind::Measurement => "MEASUREMENT",
            CardinalityKind::TagKey => "TAG KEY",
            CardinalityKind::TagValues => "TAG VALUES",
            CardinalityKind::FieldKey => "FIELD KEY",
        }
    }
}

/// `SHOW <kind> [EXACT] CARDINALITY [ON db] [FROM ...] [WITH KEY ...] [WHERE ...] [GROUP BY tags] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowCardinality {
    /// What is counted.
    pub kind: CardinalityKind,
    /// `EXACT` was given.
    pub exact: bool,
    /// The clauses, shared with `SHOW TAG VALUES` (`key` only for tag values).
    pub clauses: ShowTags,
    /// `GROUP BY` tag keys, regexes or `*` (no `time()`): one count per tag group.
    pub group_by: Vec<Dimension>,
}

/// `SHOW FIELD KEYS [ON db] [FROM ...] [LIMIT n] [OFFSET n]` with any source.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowFieldKeysMatching {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources, regexes included (empty = all).
    pub sources: Vec<Source>,
    /// `LIMIT n` (0 = none): field keys per measurement.
    pub limit: u64,
    /// `OFFSET n`.
    pub offset: u64,
}

fn write_from(f: &mut fmt::Formatter<'_>, sources: &[Source]) -> fmt::Result {
    for (i, s) in sources.iter().enumerate() {
        f.write_str(if i == 0 { " FROM " } else { ", " })?;
        write!(f, "{s}")?;
    }
    Ok(())
}

impl fmt::Display for DeleteSeries {
    /// The part after the keyword(s): ` FROM ... WHERE ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_from(f, &self.sources)?;
        if let Some(cond) = &self.condition {
            write!(f, " WHERE {cond}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AlterRetentionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ALTER RETENTION POLICY ")?;
        write_ident(f, &self.name)?;
        f.write_str(" ON ")?;
        write_ident(f, &self.database)?;
        if let Some(d) = self.duration {
            write!(f, " DURATION {}", duration_or_inf(d))?;
        }
        if let Some(n) = self.replication {
            write!(f, " REPLICATION {n}")?;
        }
        if let Some(d) = self.shard_duration {
            write!(f, " SHARD DURATION {}", format_influxql_duration(d))?;
        }
        if self.default {
            f.write_str(" DEFAULT")?;
        }
        Ok(())
    }
}

impl fmt::Display for ShowCardinality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SHOW {} {}CARDINALITY", self.kind.as_str(), if self.exact { "EXACT " } else { "" })?;
        // The clauses print as `SHOW TAG KEYS|VALUES <clauses>`.
        // `GROUP BY` goes before `LIMIT`/`OFFSET`.
        let clauses = ShowTags { limit: 0, offset: 0, ..self.clauses.clone() };
        let text = clauses.to_string();
        let rest = text.strip_prefix("SHOW TAG VALUES").or_else(|| text.strip_prefix("SHOW TAG KEYS")).unwrap_or("");
        f.write_str(rest)?;
        super::select::write_group_by(f, &self.group_by)?;
        if self.clauses.limit > 0 {
            write!(f, " LIMIT {}", self.clauses.limit)?;
        }
        if self.clauses.offset > 0 {
            write!(f, " OFFSET {}", self.clauses.offset)?;
        }
        Ok(())
    }
}

impl fmt::Display for ShowFieldKeysMatching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW FIELD KEYS")?;
        if let Some(db) = &self.database {
            f.write_str(" ON ")?;
            write_ident(f, db)?;
        }
        write_from(f, &self.sources)?;
        if self.limit > 0 {
            write!(f, " LIMIT {}", self.limit)?;
        }
        if self.offset > 0 {
            write!(f, " OFFSET {}", self.offset)?;
        }
        Ok(())
    }
}
