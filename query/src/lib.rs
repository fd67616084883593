//! `augur-query`: AQL, Augur's dialect of InfluxQL.
//!
//! The pipeline is the classic one, one module per stage, so the language
//! can grow statement by statement without the stages bleeding together:
//!
//! * [`lexer`] turns text into [`token`]s with line/char positions;
//! * [`parser`] builds the typed [`ast`] by recursive descent and reports
//!   [`error::ParseError`]s worded exactly as InfluxDB's;
//! * [`exec`] runs statements against the engine's
//!   [`Store`](augur_engine::storage::Store) and returns [`result`]s in
//!   InfluxDB 1.x's JSON shape.
//!
//! [`duration`] and [`time`] hold the literal syntaxes shared with the
//! server (configuration durations, export time bounds).
//!
//! Supported today: `CREATE DATABASE`, `DROP DATABASE`, `SHOW DATABASES`,
//! `CREATE RETENTION POLICY`, `SHOW RETENTION POLICIES`, `SHOW MEASUREMENTS`,
//! `SHOW FIELD KEYS`, `SELECT` (raw, aggregates, selectors, `GROUP BY time`
//! and tags, `FILL`; see `docs/query-language.md`), `SHOW SERIES`,
//! `SHOW TAG KEYS`, `SHOW TAG VALUES`. Every other InfluxQL statement parses
//! as [`ast::Statement::Unsupported`] and answers `statement not supported yet`.

pub mod ast;
pub mod cq;
pub mod duration;
pub mod error;
pub mod exec;
pub mod lexer;
pub mod parser;
pub mod privileges;
pub mod result;
pub mod time;
pub mod token;

pub use exec::{execute, ExecutionContext};

/// Stack for every thread that parses, plans or runs a query (the
/// server's async workers and blocking pool, and the query's own helper
/// threads). Why: each stage recurses once per level of the expression
/// tree and of the subqueries the parser accepts
/// ([`parser`]'s depth limits), and a debug build needs over 2 MiB (the
/// default) for a 255-deep call nest; a thread that overflows its stack
/// aborts the whole server. The memory is reserved, not committed: only
/// the pages a query touches are used.
pub const QUERY_STACK_BYTES: usize = 16 << 20;
pub use parser::parse_query;
