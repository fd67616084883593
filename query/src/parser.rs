//! The recursive-descent parser: tokens to a typed [`Query`].
//!
//! It follows InfluxDB's grammar and error wording statement by statement, so
//! a client sees the same `found X, expected Y at line L, char C` it would
//! from InfluxDB 1.x. Every statement of the InfluxQL language is recognized
//! by its leading keywords; those Augur cannot run yet are skipped to the
//! next top-level `;` and kept as [`Statement::Unsupported`], so that the
//! language grows by replacing one `unsupported` arm at a time.

use crate::ast::{CreateDatabase, CreateRetentionPolicy, MeasurementName, Query, RetentionPolicySpec, Statement};
use crate::duration::{parse_duration, DurationError};
use crate::error::ParseError;
use crate::lexer::tokenize;
use crate::token::{Keyword, Token, TokenKind};

mod account;
mod admin;
mod cq;
mod expr;
mod into;
mod models;
mod params;
mod regex;
mod select;

pub use params::parse_query_with_params;

/// Keywords that can start a statement, in the order InfluxDB lists them.
const STATEMENT_STARTS: &[&str] =
    &["SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET", "KILL"];

/// What may follow `SHOW`.
const SHOW_TARGETS: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];

/// What may follow `CREATE`.
const CREATE_TARGETS: &[&str] = &["CONTINUOUS", "DATABASE", "USER", "RETENTION", "SUBSCRIPTION"];

/// What may follow `DROP`.
const DROP_TARGETS: &[&str] =
    &["CONTINUOUS", "DATABASE", "MEASUREMENT", "RETENTION", "SERIES", "SHARD", "SUBSCRIPTION", "USER"];

/// Parses a whole request (statements separated by `;`; empty statements
/// are skipped, as in InfluxDB).
pub fn parse_query(input: &str) -> Result<Query, ParseError> {
    Parser::new(input).query()
}

/// Position in the token list of one query text.
struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    at: usize,
    /// Depth of the expression tree being built (see `expr::MAX_DEPTH`).
    depth: usize,
    /// Subqueries open around the current token (see
    /// `select::MAX_SUBQUERY_DEPTH`).
    subqueries: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser { input, tokens: tokenize(input), at: 0, depth: 0, subqueries: 0 }
    }

    /// The next token (the lexer always ends with `Eof`, which is sticky).
    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.at.min(last)]
    }

    /// The token after the next one.
    fn peek_second(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.at + 1).min(last)]
    }

    /// The token `n` places ahead.
    fn peek_nth(&self, n: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.at + n).min(last)]
    }

    /// Consumes a punctuation token of `kind` or fails with `found X, expected <what>`.
    fn expect_kind(&mut self, kind: TokenKind, what: &str) -> Result<(), ParseError> {
        let token = self.bump();
        if token.kind == kind {
            Ok(())
        } else {
            Err(ParseError::unexpected(&token, &[what]))
        }
    }

    /// Consumes and returns the next token.
    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    /// Consumes the next token if it is `kw`.
    fn eat(&mut self, kw: Keyword) -> bool {
        if self.peek().is(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes `kw` or fails with `found X, expected KW`.
    fn expect(&mut self, kw: Keyword) -> Result<(), ParseError> {
        let token = self.bump();
        if token.is(kw) {
            Ok(())
        } else {
            Err(ParseError::unexpected(&token, &[kw.as_str()]))
        }
    }

    fn query(mut self) -> Result<Query, ParseError> {
        let mut statements = Vec::new();
        let mut after_separator = true;
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::Eof => return Ok(Query { statements }),
                TokenKind::Semicolon => {
                    self.bump();
                    after_separator = true;
                }
                _ if !after_separator => return Err(ParseError::unexpected(token, &[";"])),
                _ => {
                    statements.push(self.statement()?);
                    after_separator = false;
                }
            }
        }
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let start = self.peek().offset;
        let token = self.bump();
        match token.kind {
            TokenKind::Keyword(Keyword::Show) => self.show(start),
            TokenKind::Keyword(Keyword::Create) => self.create(start),
            TokenKind::Keyword(Keyword::Drop) => self.drop(start),
            TokenKind::Keyword(Keyword::Select) => self.select(start),
            TokenKind::Keyword(Keyword::Delete) => self.delete_series(false),
            TokenKind::Keyword(Keyword::Alter) => self.alter(),
            TokenKind::Keyword(Keyword::Grant) => self.grant_or_revoke(true),
            TokenKind::Keyword(Keyword::Revoke) => self.grant_or_revoke(false),
            TokenKind::Keyword(Keyword::Set) => self.set_password(),
            TokenKind::Keyword(Keyword::Kill) => self.kill_query(),
            TokenKind::Keyword(Keyword::Explain) => Ok(self.unsupported(start)),
            _ => Err(ParseError::unexpected(&token, STATEMENT_STARTS)),
        }
    }

    /// Skips to the end of the statement that starts at byte `start` and
    /// keeps its text.
    fn unsupported(&mut self, start: usize) -> Statement {
        while !matches!(self.peek().kind, TokenKind::Semicolon | TokenKind::Eof) {
            self.bump();
        }
        let end = self.peek().offset;
        let text = self.input.get(start..end).unwrap_or_default().trim().to_string();
        Statement::Unsupported { text }
    }

    fn show(&mut self, start: usize) -> Result<Statement, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Keyword(Keyword::Databases) => Ok(Statement::ShowDatabases),
            TokenKind::Keyword(Keyword::Retention) => {
                self.expect(Keyword::Policies)?;
                let database = self.on_clause()?;
                Ok(Statement::ShowRetentionPolicies { database })
            }
            TokenKind::Keyword(Keyword::Measurements) => self.show_measurements(),
            TokenKind::Keyword(Keyword::Series) => self.show_series(start),
            TokenKind::Keyword(Keyword::Tag) => self.show_tag(start),
            TokenKind::Keyword(Keyword::Field) => {
                let next = self.bump();
                match next.kind {
                    TokenKind::Keyword(Keyword::Keys) => self.show_field_keys(start),
                    TokenKind::Keyword(Keyword::Key) => self.expect_cardinality(crate::ast::CardinalityKind::FieldKey),
                    _ => Err(ParseError::unexpected(&next, &["KEY", "KEYS"])),
                }
            }
            TokenKind::Keyword(Keyword::Measurement) => {
                self.expect_cardinality(crate::ast::CardinalityKind::Measurement)
            }
            TokenKind::Keyword(Keyword::Continuous) => self.show_continuous_queries(),
            TokenKind::Ident if token.is_word("MODELS") => self.show_models(),
            TokenKind::Ident if token.is_word("FORECAST") => self.show_forecast_accuracy(),
            TokenKind::Keyword(Keyword::Queries) => Ok(Statement::ShowQueries),
            TokenKind::Keyword(
                Keyword::Diagnostics | Keyword::Shard | Keyword::Shards | Keyword::Stats | Keyword::Subscriptions,
            ) => Ok(self.unsupported(start)),
            TokenKind::Keyword(Keyword::Users) => Ok(Statement::Account(crate::ast::AccountStatement::ShowUsers)),
            TokenKind::Keyword(Keyword::Grants) => self.show_grants(),
            _ => Err(ParseError::unexpected(&token, SHOW_TARGETS)),
        }
    }

    fn show_field_keys(&mut self, start: usize) -> Result<Statement, ParseError> {
        let database = self.on_clause()?;
        let sources = if self.eat(Keyword::From) { self.sources()? } else { Vec::new() };
        let _ = start;
        let plain: Option<Vec<MeasurementName>> = sources
            .iter()
            .map(|s| match s {
                crate::ast::Source::Measurement(m) => Some(m.clone()),
                crate::ast::Source::Regex { .. } | crate::ast::Source::Subquery(_) => None,
            })
            .collect();
        match plain {
            Some(from) if !self.at_any(&[Keyword::Limit, Keyword::Offset]) => {
                Ok(Statement::ShowFieldKeys { database, from })
            }
            _ => self.show_field_keys_matching(database, sources),
        }
    }

    fn create(&mut self, start: usize) -> Result<Statement, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Keyword(Keyword::Database) => self.create_database(),
            TokenKind::Keyword(Keyword::Retention) => {
                self.expect(Keyword::Policy)?;
                self.create_retention_policy()
            }
            TokenKind::Keyword(Keyword::Continuous) => self.create_continuous_query(),
            TokenKind::Keyword(Keyword::User) => self.create_user(),
            TokenKind::Keyword(Keyword::Subscription) => Ok(self.unsupported(start)),
            _ => Err(ParseError::unexpected(&token, CREATE_TARGETS)),
        }
    }

    fn drop(&mut self, start: usize) -> Result<Statement, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Keyword(Keyword::Database) => Ok(Statement::DropDatabase { name: self.ident()? }),
            TokenKind::Keyword(Keyword::Measurement) => Ok(Statement::DropMeasurement { name: self.ident()? }),
            TokenKind::Keyword(Keyword::Series) => self.delete_series(true),
            TokenKind::Keyword(Keyword::Retention) => self.drop_retention_policy(),
            TokenKind::Keyword(Keyword::Continuous) => self.drop_continuous_query(),
            TokenKind::Keyword(Keyword::User) => self.drop_user(),
            TokenKind::Keyword(Keyword::Shard | Keyword::Subscription) => Ok(self.unsupported(start)),
            _ => Err(ParseError::unexpected(&token, DROP_TARGETS)),
        }
    }

    /// After `CREATE DATABASE`: `[IF NOT EXISTS] <name> [WITH [DURATION d]
    /// [REPLICATION n] [SHARD DURATION d] [NAME rp]]`, options in that order
    /// as in InfluxDB.
    fn create_database(&mut self) -> Result<Statement, ParseError> {
        let mut if_not_exists = false;
        if self.peek().is_word("IF") && self.peek_second().is_word("NOT") {
            self.bump();
            self.bump();
            let token = self.bump();
            if !token.is_word("EXISTS") {
                return Err(ParseError::unexpected(&token, &["EXISTS"]));
            }
            if_not_exists = true;
        }
        let name = self.ident()?;
        let mut with = None;
        if self.eat(Keyword::With) {
            if !self.at_any(&[Keyword::Duration, Keyword::Replication, Keyword::Shard, Keyword::Name]) {
                return Err(ParseError::unexpected(self.peek(), &["DURATION", "NAME", "REPLICATION", "SHARD"]));
            }
            let mut spec = RetentionPolicySpec::default();
            if self.eat(Keyword::Duration) {
                spec.duration = Some(self.duration()?);
            }
            if self.eat(Keyword::Replication) {
                spec.replication = Some(self.replication()?);
            }
            if self.eat(Keyword::Shard) {
                self.expect(Keyword::Duration)?;
                spec.shard_duration = Some(self.shard_duration()?);
            }
            if self.eat(Keyword::Name) {
                spec.name = Some(self.ident()?);
            }
            with = Some(spec);
        }
        Ok(Statement::CreateDatabase(CreateDatabase { name, if_not_exists, with }))
    }

    /// After `CREATE RETENTION POLICY`.
    fn create_retention_policy(&mut self) -> Result<Statement, ParseError> {
        let name = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        self.expect(Keyword::Duration)?;
        let duration = self.duration()?;
        self.expect(Keyword::Replication)?;
        let replication = self.replication()?;
        let mut shard_duration = None;
        if self.eat(Keyword::Shard) {
            self.expect(Keyword::Duration)?;
            shard_duration = Some(self.shard_duration()?);
        }
        let default = self.eat(Keyword::Default);
        Ok(Statement::CreateRetentionPolicy(CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        }))
    }

    /// An optional `ON <db>`.
    fn on_clause(&mut self) -> Result<Option<String>, ParseError> {
        if self.eat(Keyword::On) {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    fn at_any(&self, keywords: &[Keyword]) -> bool {
        keywords.iter().any(|kw| self.peek().is(*kw))
    }

    /// A name, bare or double-quoted.
    fn ident(&mut self) -> Result<String, ParseError> {
        let token = self.bump();
        if token.kind.is_ident() {
            Ok(token.lit)
        } else {
            Err(ParseError::unexpected(&token, &["identifier"]))
        }
    }

    /// `m`, `rp.m`, `db.rp.m` or `db..m`.
    // `SHOW FIELD KEYS` now parses general sources; kept for other
    // statements naming one measurement (`SELECT ... INTO`).
    #[allow(dead_code)]
    fn measurement_name(&mut self) -> Result<MeasurementName, ParseError> {
        let first = self.peek().pos;
        let mut segments = vec![self.ident()?];
        while self.peek().kind == TokenKind::Dot {
            self.bump();
            if self.peek().kind == TokenKind::Dot {
                segments.push(String::new());
                continue;
            }
            segments.push(self.ident()?);
        }
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let mut it = segments.into_iter();
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(name), None, None, None) => Ok(MeasurementName { database: None, retention_policy: None, name }),
            (Some(rp), Some(name), None, None) => {
                Ok(MeasurementName { database: None, retention_policy: non_empty(rp), name })
            }
            (Some(db), Some(rp), Some(name), None) => {
                Ok(MeasurementName { database: non_empty(db), retention_policy: non_empty(rp), name })
            }
            _ => Err(ParseError::message("too many segments in measurement name", first)),
        }
    }

    /// A duration literal or `INF` (`None`; so is `0s`, as in InfluxDB).
    fn duration(&mut self) -> Result<Option<i64>, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Keyword(Keyword::Inf) => Ok(None),
            TokenKind::Duration => match parse_duration(&token.lit) {
                Ok(0) => Ok(None),
                Ok(ns) => Ok(Some(ns)),
                Err(DurationError::Invalid) => Err(ParseError::message("invalid duration", token.pos)),
                Err(DurationError::Overflow) => Err(ParseError::message("overflowed duration", token.pos)),
            },
            _ => Err(ParseError::unexpected(&token, &["duration"])),
        }
    }

    /// A shard duration: like [`Self::duration`] but `INF` is refused.
    fn shard_duration(&mut self) -> Result<i64, ParseError> {
        let token = self.peek().clone();
        if token.is(Keyword::Inf) {
            return Err(ParseError::message("invalid duration INF for shard duration", token.pos));
        }
        Ok(self.duration()?.unwrap_or(0))
    }

    /// `KILL QUERY <qid> [ON <host>]` (after `KILL`).
    fn kill_query(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Query)?;
        let token = self.bump();
        if token.kind != TokenKind::Integer {
            return Err(ParseError::unexpected(&token, &["integer"]));
        }
        let qid = token.lit.parse::<u64>().map_err(|_| {
            ParseError::message(format!("strconv.ParseUint: parsing {:?}: value out of range", token.lit), token.pos)
        })?;
        let host = self.on_clause()?;
        Ok(Statement::KillQuery { qid, host })
    }

    /// A replication factor: an integer in `1..=i32::MAX`.
    fn replication(&mut self) -> Result<u32, ParseError> {
        let token = self.bump();
        if token.kind != TokenKind::Integer {
            return Err(ParseError::unexpected(&token, &["integer"]));
        }
        let max = i32::MAX as u32;
        match token.lit.parse::<u64>() {
            Ok(n) if (1..=u64::from(max)).contains(&n) => Ok(n as u32),
            Ok(n) => Err(ParseError::message(format!("invalid value {n}: must be 1 <= n <= {max}"), token.pos)),
            Err(_) => Err(ParseError::message(
                format!("strconv.Atoi: parsing {:?}: value out of range", token.lit),
                token.pos,
            )),
        }
    }
}

#[cfg(test)]
mod select_tests;

/// Helpers the parser's test modules share.
#[cfg(test)]
pub(crate) mod test_util {
    use super::parse_query;
    use crate::ast::Statement;

    /// The single statement `q` parses into (panics otherwise).
    pub(crate) fn one(q: &str) -> Statement {
        let mut query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(query.statements.len(), 1, "{q}");
        query.statements.remove(0)
    }

    /// The parse error of `q` (panics if it parses).
    pub(crate) fn err(q: &str) -> String {
        match parse_query(q) {
            Ok(parsed) => panic!("{q} parsed: {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::format_duration;

    use super::test_util::{err, one};

    #[test]
    fn database_statements() {
        assert_eq!(one("SHOW DATABASES"), Statement::ShowDatabases);
        assert_eq!(one("show databases"), Statement::ShowDatabases);
        assert_eq!(one("DROP DATABASE \"my db\""), Statement::DropDatabase { name: "my db".into() });
        let Statement::CreateDatabase(c) = one("CREATE DATABASE IF NOT EXISTS mydb") else { panic!("not a create") };
        assert!(c.if_not_exists);
        assert_eq!(c.name, "mydb");
        // `if` alone is just a name, as in InfluxDB.
        let Statement::CreateDatabase(c) = one("CREATE DATABASE if") else { panic!() };
        assert_eq!((c.name.as_str(), c.if_not_exists), ("if", false));
    }

    #[test]
    fn create_database_with() {
        let Statement::CreateDatabase(c) =
            one("CREATE DATABASE db WITH DURATION 7d REPLICATION 1 SHARD DURATION 1h NAME rp1")
        else {
            panic!()
        };
        let spec = c.with.expect("with");
        assert_eq!(spec.duration, Some(Some(7 * 24 * 3_600_000_000_000)));
        assert_eq!(spec.replication, Some(1));
        assert_eq!(spec.shard_duration, Some(3_600_000_000_000));
        assert_eq!(spec.name.as_deref(), Some("rp1"));
        let Statement::CreateDatabase(c) = one("CREATE DATABASE db WITH DURATION INF") else { panic!() };
        assert_eq!(c.with.and_then(|w| w.duration), Some(None));
        assert_eq!(
            err("CREATE DATABASE db WITH"),
            "found EOF, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 25"
        );
        assert_eq!(err("CREATE DATABASE db WITH NAME x DURATION 1d"), "found DURATION, expected ; at line 1, char 32");
    }

    #[test]
    fn retention_policies() {
        let s = one("CREATE RETENTION POLICY r1 ON db1 DURATION 1h30m REPLICATION 2 SHARD DURATION 30m DEFAULT");
        let Statement::CreateRetentionPolicy(c) = &s else { panic!() };
        assert_eq!(c.duration, Some(5_400_000_000_000));
        assert_eq!(c.replication, 2);
        assert_eq!(c.shard_duration.map(format_duration).as_deref(), Some("30m0s"));
        assert!(c.default);
        assert_eq!(
            s.to_string(),
            "CREATE RETENTION POLICY r1 ON db1 DURATION 90m REPLICATION 2 SHARD DURATION 30m DEFAULT"
        );
        assert_eq!(
            one("SHOW RETENTION POLICIES ON \"db 1\""),
            Statement::ShowRetentionPolicies { database: Some("db 1".into()) }
        );
        assert_eq!(one("SHOW RETENTION POLICIES"), Statement::ShowRetentionPolicies { database: None });
    }

    #[test]
    fn show_measurements_and_field_keys() {
        assert_eq!(one("SHOW MEASUREMENTS"), Statement::ShowMeasurements(Default::default()));
        assert_eq!(
            one("SHOW MEASUREMENTS ON db"),
            Statement::ShowMeasurements(crate::ast::ShowMeasurements {
                database: Some("db".into()),
                ..Default::default()
            })
        );
        let Statement::ShowFieldKeys { database, from } =
            one("SHOW FIELD KEYS ON db FROM cpu, \"db\".\"rp\".mem, db..disk")
        else {
            panic!()
        };
        assert_eq!(database.as_deref(), Some("db"));
        assert_eq!(from.len(), 3);
        assert_eq!(from[1].retention_policy.as_deref(), Some("rp"));
        assert_eq!(from[2].retention_policy, None);
        assert_eq!(from[2].database.as_deref(), Some("db"));
        assert_eq!(from[2].to_string(), "db..disk");
    }

    #[test]
    fn several_statements_and_empty_ones() {
        let q = parse_query("SHOW DATABASES; ;SHOW MEASUREMENTS ON x;").expect("parses");
        assert_eq!(q.statements.len(), 2);
        assert_eq!(parse_query(";").expect("parses").statements.len(), 0);
        assert_eq!(err("SHOW DATABASES SHOW DATABASES"), "found SHOW, expected ; at line 1, char 16");
    }

    #[test]
    fn unsupported_statements_keep_their_text() {
        let q = parse_query("CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'a;b'; SHOW DATABASES").expect("parses");
        assert_eq!(
            q.statements[0],
            Statement::Unsupported { text: "CREATE SUBSCRIPTION s ON db.rp DESTINATIONS ALL 'a;b'".into() }
        );
        assert_eq!(q.statements[1], Statement::ShowDatabases);
        assert_eq!(one("EXPLAIN SELECT v FROM m"), Statement::Unsupported { text: "EXPLAIN SELECT v FROM m".into() });
    }

    #[test]
    fn query_management_statements() {
        assert_eq!(one("SHOW QUERIES"), Statement::ShowQueries);
        assert_eq!(one("KILL QUERY 42"), Statement::KillQuery { qid: 42, host: None });
        assert_eq!(one("kill query 7 ON \"node-1\""), Statement::KillQuery { qid: 7, host: Some("node-1".into()) });
        assert_eq!(one("KILL QUERY 7 ON \"node-1\"").to_string(), "KILL QUERY 7 ON \"node-1\"");
        assert!(one("KILL QUERY 1").is_write());
        assert!(!Statement::ShowQueries.is_write());
        assert!(err("KILL QUERY").starts_with("found EOF, expected integer at line 1, char "));
        assert_eq!(err("KILL QUERY abc"), "found abc, expected integer at line 1, char 12");
        assert_eq!(err("KILL QUERY -1"), "found -, expected integer at line 1, char 12");
        assert_eq!(err("KILL 1"), "found 1, expected QUERY at line 1, char 6");
        assert_eq!(
            err("KILL QUERY 99999999999999999999"),
            "strconv.ParseUint: parsing \"99999999999999999999\": value out of range at line 1, char 12"
        );
    }

    #[test]
    fn errors_match_influxdb_wording() {
        assert_eq!(
            err("FOO"),
            "found FOO, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"
        );
        assert_eq!(
            err("SHOW FOO"),
            "found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"
        );
        assert_eq!(err("SHOW RETENTION POLICIES ON"), "found EOF, expected identifier at line 1, char 28");
        assert_eq!(err("SHOW RETENTION POLICIES ON db3 xx"), "found xx, expected ; at line 1, char 32");
        assert_eq!(
            err("CREATE RETENTION POLICY x ON db3 DURATION 1x REPLICATION 1"),
            "invalid duration at line 1, char 43"
        );
        assert_eq!(
            err("CREATE RETENTION POLICY x ON db3 DURATION 1h REPLICATION 0"),
            "invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 58"
        );
        assert_eq!(
            err("CREATE RETENTION POLICY x ON db3 DURATION INF REPLICATION 1 SHARD DURATION INF"),
            "invalid duration INF for shard duration at line 1, char 76"
        );
        assert_eq!(err("CREATE DATABASE \"unterminated"), "found unterminated, expected identifier at line 1, char 16");
        assert_eq!(err("CREATE DATABASE select"), "found select, expected identifier at line 1, char 17");
        assert_eq!(err("SHOW DATABASES\nxx"), "found xx, expected ; at line 2, char 1");
        assert_eq!(
            err("CREATE FOO"),
            "found FOO, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8"
        );
        assert_eq!(
            err("DROP FOO"),
            "found FOO, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6"
        );
        assert_eq!(err("SHOW RETENTION POLICIES ON -- c"), "found EOF, expected identifier at line 1, char 33");
        assert_eq!(err("SHOW RETENTION POLICIES ON\nx y"), "found y, expected ; at line 2, char 3");
        assert_eq!(err("SHOW DATABASES \"x\""), "found x, expected ; at line 1, char 16");
        assert_eq!(err("SHOW DATABASES 'x'"), "found x, expected ; at line 1, char 15");
        assert_eq!(err("SHOW DATABASES 'x\\q'"), "found \\q, expected ; at line 1, char 19");
        assert_eq!(err("SHOW DATABASES !"), "found !, expected ; at line 1, char 16");
        assert_eq!(err("SHOW FIELD FOO"), "found FOO, expected KEY, KEYS at line 1, char 12");
        assert_eq!(err("SHOW RETENTION FOO"), "found FOO, expected POLICIES at line 1, char 16");
    }

    #[test]
    fn statements_print_back_as_aql() {
        for q in [
            "SHOW DATABASES",
            "CREATE DATABASE \"my db\"",
            "CREATE DATABASE x WITH DURATION 1w REPLICATION 1 SHARD DURATION 1h NAME r",
            "DROP DATABASE \"select\"",
            "SHOW MEASUREMENTS ON db",
            "SHOW FIELD KEYS ON db FROM cpu, rp.mem",
            "CREATE RETENTION POLICY r ON db DURATION INF REPLICATION 1",
        ] {
            assert_eq!(one(q).to_string(), q);
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        for q in [
            "",
            ";;;",
            "CREATE",
            "CREATE DATABASE",
            "SHOW FIELD",
            "SHOW FIELD KEYS FROM a.b.c.d",
            "\u{0}",
            "DROP",
            "SHOW RETENTION",
        ] {
            let _ = parse_query(q);
        }
        assert_eq!(err("SHOW FIELD KEYS FROM a.b.c.d"), "too many segments in measurement name at line 1, char 22");
    }
}
