//! The typed syntax tree of AQL statements.
//!
//! Why typed: the executor matches on statements and their options instead
//! of re-reading text, and every statement prints back as canonical AQL
//! ([`fmt::Display`]), which is what InfluxDB quotes back in messages and
//! what tests compare against. Statements the parser recognizes but Augur
//! cannot run yet are kept as [`Statement::Unsupported`] with their text, so
//! one unsupported statement fails alone instead of failing the request.

use std::fmt;

use crate::duration::format_influxql_duration;

mod account;
mod admin;
mod cq;
mod select;

pub use account::{AccountStatement, Privilege, RoleName};
pub use admin::{AlterRetentionPolicy, CardinalityKind, DeleteSeries, ShowCardinality, ShowFieldKeysMatching};
pub use cq::{CreateContinuousQuery, Resample};

pub use select::{
    BinaryOp, Dimension, Expr, Field, Fill, IntoTarget, MeasurementSelector, RefKind, Select, ShowMeasurements,
    ShowSeries, ShowTags, Source, TagKeySelector,
};

/// A parsed request: one or more statements separated by `;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE DATABASE [IF NOT EXISTS] <name> [WITH ...]`
    CreateDatabase(CreateDatabase),
    /// `DROP DATABASE <name>`
    DropDatabase {
        /// Database name.
        name: String,
    },
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `CREATE RETENTION POLICY <name> ON <db> DURATION <d> REPLICATION <n> [SHARD DURATION <d>] [DEFAULT]`
    CreateRetentionPolicy(CreateRetentionPolicy),
    /// `SHOW RETENTION POLICIES [ON <db>]`
    ShowRetentionPolicies {
        /// The database; `None` = the request's `db` parameter.
        database: Option<String>,
    },
    /// `SHOW MEASUREMENTS [ON <db>] [WITH MEASUREMENT ...] [WHERE ...] [LIMIT] [OFFSET]`
    ShowMeasurements(ShowMeasurements),
    /// `SHOW FIELD KEYS [ON <db>] [FROM <measurement>, ...]`
    ShowFieldKeys {
        /// The database; `None` = the request's `db` parameter.
        database: Option<String>,
        /// Measurements to list; empty = all.
        from: Vec<MeasurementName>,
    },
    /// `SELECT ...`
    Select(Box<Select>),
    /// `SHOW SERIES ...`
    ShowSeries(ShowSeries),
    /// `SHOW TAG KEYS ...`
    ShowTagKeys(ShowTags),
    /// `SHOW TAG VALUES ... WITH KEY ...`
    ShowTagValues(ShowTags),
    /// `DELETE [FROM <sources>] [WHERE <tags and time>]`
    Delete(DeleteSeries),
    /// `DROP SERIES [FROM <sources>] [WHERE <tags>]`
    DropSeries(DeleteSeries),
    /// `DROP MEASUREMENT <name>`
    DropMeasurement {
        /// Measurement name.
        name: String,
    },
    /// `ALTER RETENTION POLICY <rp> ON <db> [DURATION d] [REPLICATION n] [SHARD DURATION d] [DEFAULT]`
    AlterRetentionPolicy(AlterRetentionPolicy),
    /// `DROP RETENTION POLICY <rp> ON <db>`
    DropRetentionPolicy {
        /// Policy name.
        name: String,
        /// Database.
        database: String,
    },
    /// `SHOW SERIES|MEASUREMENT|TAG KEY|TAG VALUES|FIELD KEY [EXACT] CARDINALITY ...`
    ShowCardinality(ShowCardinality),
    /// `SHOW FIELD KEYS [ON db] [FROM <sources with regexes>] [LIMIT n] [OFFSET n]`
    /// (the plain form without regex or limits stays [`Statement::ShowFieldKeys`]).
    ShowFieldKeysMatching(ShowFieldKeysMatching),
    /// `CREATE CONTINUOUS QUERY <name> ON <db> [RESAMPLE ...] BEGIN <select> END`
    CreateContinuousQuery(Box<CreateContinuousQuery>),
    /// `SHOW CONTINUOUS QUERIES`
    ShowContinuousQueries,
    /// `DROP CONTINUOUS QUERY <name> ON <db>`
    DropContinuousQuery {
        /// The query's name.
        name: String,
        /// Its database.
        database: String,
    },
    /// `CREATE USER`, `GRANT`, `SHOW USERS` and the other user-management statements.
    Account(AccountStatement),
    /// `SHOW MODELS [ON <db>]`: the stored forecasting models (Augur).
    ShowModels {
        /// `ON <db>`: only this database's models.
        database: Option<String>,
    },
    /// `SHOW FORECAST ACCURACY [ON <db>]`: backtest and live error of the
    /// stored models (Augur).
    ShowForecastAccuracy {
        /// `ON <db>`: only this database's models.
        database: Option<String>,
    },
    /// `ALTER MODEL <group> ON <db> ROLLBACK TO <version>`: makes a kept
    /// version of a stored forecasting model the active one (Augur).
    RollbackModel {
        /// The series group (as `SHOW MODELS` prints it).
        group: String,
        /// Its database.
        database: String,
        /// The version to make active.
        version: u32,
    },
    /// `SHOW QUERIES`: the queries running now (of the caller's tenant).
    ShowQueries,
    /// `KILL QUERY <qid> [ON "<host>"]`: stops a running query.
    KillQuery {
        /// The id `SHOW QUERIES` lists.
        qid: u64,
        /// `ON "<host>"` (InfluxDB Enterprise's node; Augur is one node and
        /// only checks that the id exists).
        host: Option<String>,
    },
    /// A statement of the InfluxQL language that Augur parses no further yet.
    Unsupported {
        /// Its text, as sent.
        text: String,
    },
}

impl Statement {
    /// Whether the statement changes state (InfluxDB runs those only from
    /// a POST request).
    pub fn is_write(&self) -> bool {
        match self {
            Statement::CreateDatabase(_) | Statement::DropDatabase { .. } | Statement::CreateRetentionPolicy(_) => true,
            Statement::Delete(_)
            | Statement::DropSeries(_)
            | Statement::DropMeasurement { .. }
            | Statement::AlterRetentionPolicy(_)
            | Statement::DropRetentionPolicy { .. } => true,
            Statement::ShowCardinality(_) | Statement::ShowFieldKeysMatching(_) => false,
            Statement::Select(select) if select.into.is_some() => true,
            Statement::CreateContinuousQuery(_) | Statement::DropContinuousQuery { .. } => true,
            Statement::ShowContinuousQueries => false,
            Statement::Account(a) => !matches!(a, AccountStatement::ShowUsers | AccountStatement::ShowGrants { .. }),
            Statement::ShowModels { .. } | Statement::ShowForecastAccuracy { .. } => false,
            Statement::RollbackModel { .. } | Statement::KillQuery { .. } => true,
            Statement::ShowQueries => false,
            Statement::ShowDatabases
            | Statement::ShowRetentionPolicies { .. }
            | Statement::ShowMeasurements(_)
            | Statement::ShowFieldKeys { .. }
            | Statement::Select(_)
            | Statement::ShowSeries(_)
            | Statement::ShowTagKeys(_)
            | Statement::ShowTagValues(_)
            | Statement::Unsupported { .. } => false,
        }
    }
}

/// `CREATE DATABASE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatabase {
    /// Database name.
    pub name: String,
    /// `IF NOT EXISTS` was given (an Augur extension; creating an existing
    /// database succeeds either way, as in InfluxDB).
    pub if_not_exists: bool,
    /// The `WITH ...` clause: the default retention policy to create.
    pub with: Option<RetentionPolicySpec>,
}

/// The options of `CREATE DATABASE ... WITH`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetentionPolicySpec {
    /// `DURATION`: `Some(None)` = `INF`.
    pub duration: Option<Option<i64>>,
    /// `REPLICATION`.
    pub replication: Option<u32>,
    /// `SHARD DURATION`, in nanoseconds.
    pub shard_duration: Option<i64>,
    /// `NAME`.
    pub name: Option<String>,
}

/// `CREATE RETENTION POLICY`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRetentionPolicy {
    /// Policy name.
    pub name: String,
    /// Database.
    pub database: String,
    /// How long data is kept, in nanoseconds; `None` = `INF`.
    pub duration: Option<i64>,
    /// Replication factor (1 ..= i32::MAX; kept for compatibility).
    pub replication: u32,
    /// `SHARD DURATION`, in nanoseconds, if given.
    pub shard_duration: Option<i64>,
    /// `DEFAULT` was given.
    pub default: bool,
}

/// A measurement named in a `FROM` clause: `m`, `rp.m` or `db.rp.m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementName {
    /// Database, if qualified.
    pub database: Option<String>,
    /// Retention policy, if qualified.
    pub retention_policy: Option<String>,
    /// Measurement.
    pub name: String,
}

/// Writes `name` as an InfluxQL identifier: bare when it is a plain word
/// that is not a keyword, double-quoted (with escapes) otherwise.
pub fn write_ident(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && crate::token::Keyword::lookup(name).is_none();
    if plain {
        return f.write_str(name);
    }
    f.write_str("\"")?;
    for c in name.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Displays a name as an identifier (see [`write_ident`]).
struct Ident<'a>(&'a str);

impl fmt::Display for Ident<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ident(f, self.0)
    }
}

fn duration_or_inf(d: Option<i64>) -> String {
    match d {
        None | Some(0) => "INF".to_string(),
        Some(ns) => format_influxql_duration(ns),
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateDatabase(c) => {
                f.write_str("CREATE DATABASE ")?;
                if c.if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{}", Ident(&c.name))?;
                if let Some(with) = &c.with {
                    f.write_str(" WITH")?;
                    if let Some(d) = with.duration {
                        write!(f, " DURATION {}", duration_or_inf(d))?;
                    }
                    if let Some(n) = with.replication {
                        write!(f, " REPLICATION {n}")?;
                    }
                    if let Some(d) = with.shard_duration {
                        write!(f, " SHARD DURATION {}", format_influxql_duration(d))?;
                    }
                    if let Some(name) = &with.name {
                        write!(f, " NAME {}", Ident(name))?;
                    }
                }
                Ok(())
            }
            Statement::DropDatabase { name } => write!(f, "DROP DATABASE {}", Ident(name)),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::CreateRetentionPolicy(c) => {
                write!(
                    f,
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
                    Ident(&c.name),
                    Ident(&c.database),
                    duration_or_inf(c.duration),
                    c.replication
                )?;
                if let Some(d) = c.shard_duration {
                    write!(f, " SHARD DURATION {}", format_influxql_duration(d))?;
                }
                if c.default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                write_on(f, database)
            }
            Statement::ShowMeasurements(show) => write!(f, "{show}"),
            Statement::ShowFieldKeys { database, from } => {
                f.write_str("SHOW FIELD KEYS")?;
                write_on(f, database)?;
                for (i, m) in from.iter().enumerate() {
                    f.write_str(if i == 0 { " FROM " } else { ", " })?;
                    write!(f, "{m}")?;
                }
                Ok(())
            }
            Statement::Select(select) => write!(f, "{select}"),
            Statement::ShowSeries(show) => write!(f, "{show}"),
            Statement::ShowTagKeys(show) | Statement::ShowTagValues(show) => write!(f, "{show}"),
            Statement::Delete(d) => write!(f, "DELETE{d}"),
            Statement::DropSeries(d) => write!(f, "DROP SERIES{d}"),
            Statement::DropMeasurement { name } => write!(f, "DROP MEASUREMENT {}", Ident(name)),
            Statement::AlterRetentionPolicy(a) => write!(f, "{a}"),
            Statement::DropRetentionPolicy { name, database } => {
                write!(f, "DROP RETENTION POLICY {} ON {}", Ident(name), Ident(database))
            }
            Statement::ShowCardinality(c) => write!(f, "{c}"),
            Statement::ShowFieldKeysMatching(s) => write!(f, "{s}"),
            Statement::CreateContinuousQuery(create) => write!(f, "{create}"),
            Statement::ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            Statement::DropContinuousQuery { name, database } => {
                write!(f, "DROP CONTINUOUS QUERY {} ON {}", Ident(name), Ident(database))
            }
            Statement::Account(a) => write!(f, "{a}"),
            Statement::ShowModels { database } => {
                f.write_str("SHOW MODELS")?;
                write_on(f, database)
            }
            Statement::ShowForecastAccuracy { database } => {
                f.write_str("SHOW FORECAST ACCURACY")?;
                write_on(f, database)
            }
            Statement::RollbackModel { group, database, version } => {
                write!(f, "ALTER MODEL {} ON {} ROLLBACK TO {version}", Ident(group), Ident(database))
            }
            Statement::ShowQueries => f.write_str("SHOW QUERIES"),
            Statement::KillQuery { qid, host } => {
                write!(f, "KILL QUERY {qid}")?;
                write_on(f, host)
            }
            Statement::Unsupported { text } => f.write_str(text),
        }
    }
}

fn write_on(f: &mut fmt::Formatter<'_>, database: &Option<String>) -> fmt::Result {
    match database {
        Some(db) => write!(f, " ON {}", Ident(db)),
        None => Ok(()),
    }
}

impl fmt::Display for MeasurementName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.database, &self.retention_policy) {
            (Some(db), rp) => {
                write!(f, "{}.", Ident(db))?;
                if let Some(rp) = rp {
                    write!(f, "{}", Ident(rp))?;
                }
                write!(f, ".{}", Ident(&self.name))
            }
            (None, Some(rp)) => write!(f, "{}.{}", Ident(rp), Ident(&self.name)),
            (None, None) => write!(f, "{}", Ident(&self.name)),
        }
    }
}
