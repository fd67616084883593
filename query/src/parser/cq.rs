//! `CREATE CONTINUOUS QUERY`, `SHOW CONTINUOUS QUERIES`,
//! `DROP CONTINUOUS QUERY`.
//!
//! The checks InfluxDB makes while parsing are made here too, worded as
//! InfluxDB words them: the query must have `INTO`, an aggregating query
//! must have `GROUP BY time(...)`, `RESAMPLE` needs `EVERY` or `FOR`, and
//! `FOR` may not be shorter than the `GROUP BY` interval. Checks that need
//! the store (does the database exist) are the executor's.

use super::Parser;
use crate::ast::{CreateContinuousQuery, Dimension, Resample, Statement};
use crate::duration::{format_duration, parse_duration};
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

impl Parser<'_> {
    /// After `CREATE CONTINUOUS`.
    pub(super) fn create_continuous_query(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Query)?;
        let name = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        let mut resample = Resample::default();
        if self.eat(Keyword::Resample) {
            if self.eat(Keyword::Every) {
                resample.every = self.resample_duration()?;
            }
            if self.eat(Keyword::For) {
                resample.for_ = self.resample_duration()?;
            }
            if resample.every.is_none() && resample.for_.is_none() {
                return Err(ParseError::unexpected(self.peek(), &["EVERY", "FOR"]));
            }
        }
        self.expect(Keyword::Begin)?;
        let select_at = self.at;
        let start = self.peek().offset;
        self.expect(Keyword::Select)?;
        let Statement::Select(select) = self.select(start)? else {
            return Err(ParseError::unexpected(self.peek(), &["SELECT"]));
        };
        if select.into.is_none() {
            // InfluxDB requires the target right after the fields.
            let from = self.tokens[select_at..self.at].iter().find(|t| t.is(Keyword::From)).unwrap_or(self.peek());
            return Err(ParseError::unexpected(&from.clone(), &["INTO"]));
        }
        let interval = select.dimensions.iter().find_map(|d| match d {
            Dimension::Time { interval, .. } if *interval > 0 => Some(*interval),
            _ => None,
        });
        let aggregate = select.fields.iter().any(|f| f.expr.has_call());
        if aggregate && interval.is_none() {
            // InfluxDB points at the last token of the SELECT.
            let last = self.tokens[self.at.saturating_sub(1)].clone();
            return Err(ParseError::unexpected(&last, &["GROUP BY time(...)"]));
        }
        self.expect(Keyword::End)?;
        if let (Some(for_), Some(interval)) = (resample.for_, interval) {
            if for_ < interval {
                return Err(ParseError::bare(
                    format!(
                        "FOR duration must be >= GROUP BY time duration: must be a minimum of {}, got {}",
                        format_duration(interval),
                        format_duration(for_)
                    ),
                    self.peek().pos,
                ));
            }
        }
        Ok(Statement::CreateContinuousQuery(Box::new(CreateContinuousQuery { name, database, resample, select })))
    }

    /// A `RESAMPLE EVERY|FOR` duration; `0s` counts as not given, as in InfluxDB.
    fn resample_duration(&mut self) -> Result<Option<i64>, ParseError> {
        let token = self.bump();
        if token.kind != TokenKind::Duration {
            return Err(ParseError::unexpected(&token, &["duration"]));
        }
        match parse_duration(&token.lit) {
            Ok(0) => Ok(None),
            Ok(ns) if ns > 0 => Ok(Some(ns)),
            _ => Err(ParseError::message("invalid duration", token.pos)),
        }
    }

    /// After `SHOW CONTINUOUS`.
    pub(super) fn show_continuous_queries(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Queries)?;
        Ok(Statement::ShowContinuousQueries)
    }

    /// After `DROP CONTINUOUS`.
    pub(super) fn drop_continuous_query(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Query)?;
        let name = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        Ok(Statement::DropContinuousQuery { name, database })
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{IntoTarget, Statement};

    use crate::parser::test_util::{err, one};

    #[test]
    fn create_continuous_query() {
        let q = "CREATE CONTINUOUS QUERY cq ON d RESAMPLE EVERY 2s FOR 10s BEGIN \
                 SELECT mean(v) AS m INTO d.autogen.out FROM cpu WHERE host = 'a' GROUP BY time(1s), host fill(none) END";
        let Statement::CreateContinuousQuery(c) = one(q) else { panic!("not a CQ") };
        assert_eq!((c.name.as_str(), c.database.as_str()), ("cq", "d"));
        assert_eq!(c.resample.every, Some(2_000_000_000));
        assert_eq!(c.resample.for_, Some(10_000_000_000));
        assert_eq!(
            c.select.into,
            Some(IntoTarget {
                database: Some("d".into()),
                retention_policy: Some("autogen".into()),
                measurement: Some("out".into())
            })
        );
        assert_eq!(
            c.to_string(),
            "CREATE CONTINUOUS QUERY cq ON d RESAMPLE EVERY 2s FOR 10s BEGIN SELECT mean(v) AS m INTO d.autogen.out \
             FROM cpu WHERE host = 'a' GROUP BY time(1s), host fill(none) END"
        );
        // Printing and parsing again gives the same statement (the scheduler relies on it).
        assert_eq!(one(&c.to_string()), Statement::CreateContinuousQuery(c.clone()));
        let Statement::CreateContinuousQuery(c) =
            one("create continuous query \"my cq\" on d resample for 1m begin select max(v) into x from /c/ group by time(30s) end;")
        else {
            panic!()
        };
        assert_eq!((c.resample.every, c.resample.for_), (None, Some(60_000_000_000)));
        assert_eq!(
            c.to_string(),
            "CREATE CONTINUOUS QUERY \"my cq\" ON d RESAMPLE FOR 1m BEGIN SELECT max(v) INTO x FROM /c/ GROUP BY time(30s) END"
        );
    }

    #[test]
    fn create_continuous_query_errors_match_influxdb() {
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cq3 ON d BEGIN SELECT mean(v) INTO cq_out FROM cpu END"),
            "found cpu, expected GROUP BY time(...) at line 1, char 72"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cq3 ON d BEGIN SELECT mean(v) FROM cpu GROUP BY time(1s) END"),
            "found FROM, expected INTO at line 1, char 55"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cq6 ON d RESAMPLE FOR 500ms BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s) END"),
            "FOR duration must be >= GROUP BY time duration: must be a minimum of 1s, got 500ms"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cq7 ON d RESAMPLE BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s) END"),
            "found BEGIN, expected EVERY, FOR at line 1, char 43"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cqr ON d RESAMPLE EVERY 0s BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s) END"),
            "found BEGIN, expected EVERY, FOR at line 1, char 52"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cqt4 ON d BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s), host END extra"),
            "found extra, expected ; at line 1, char 100"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cqt5 ON d BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s)"),
            "found EOF, expected END at line 1, char 89"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY cqt6 ON d RESAMPLE FOR 5s EVERY 1s BEGIN SELECT mean(v) INTO x FROM cpu GROUP BY time(1s) END"),
            "found EVERY, expected BEGIN at line 1, char 51"
        );
        assert_eq!(
            err("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT mean(v) INTO :MEASUREMENT FROM /c.*/ GROUP BY time(1m) END"),
            "found :, expected identifier at line 1, char 58"
        );
        assert_eq!(err("CREATE CONTINUOUS QUERY c BEGIN"), "found BEGIN, expected ON at line 1, char 27");
    }

    #[test]
    fn show_and_drop() {
        assert_eq!(one("SHOW CONTINUOUS QUERIES"), Statement::ShowContinuousQueries);
        assert_eq!(
            one("DROP CONTINUOUS QUERY \"a b\" ON d"),
            Statement::DropContinuousQuery { name: "a b".into(), database: "d".into() }
        );
        assert_eq!(one("DROP CONTINUOUS QUERY \"a b\" ON d").to_string(), "DROP CONTINUOUS QUERY \"a b\" ON d");
        assert_eq!(err("DROP CONTINUOUS QUERY cq3"), "found EOF, expected ON at line 1, char 27");
        assert_eq!(err("SHOW CONTINUOUS"), "found EOF, expected QUERIES at line 1, char 17");
    }

    #[test]
    fn into_targets() {
        let target = |q: &str| match one(q) {
            Statement::Select(s) => s.into.map(|t| t.to_string()),
            other => panic!("{other:?}"),
        };
        assert_eq!(target("SELECT v INTO x FROM cpu").as_deref(), Some("x"));
        assert_eq!(target("SELECT v INTO r.x FROM cpu").as_deref(), Some("r.x"));
        assert_eq!(target("SELECT v INTO d.r.\"x y\" FROM cpu").as_deref(), Some("d.r.\"x y\""));
        assert_eq!(target("SELECT v INTO d..x FROM cpu").as_deref(), Some("d..x"));
        assert_eq!(target("SELECT v INTO d.autogen.:measurement FROM /c/").as_deref(), Some("d.autogen.:MEASUREMENT"));
        assert_eq!(target("SELECT v INTO autogen.:MEASUREMENT FROM /c/").as_deref(), Some("autogen.:MEASUREMENT"));
        assert_eq!(target("SELECT v FROM cpu"), None);
        assert_eq!(
            err("SELECT * INTO d.autogen.:MEASUREMENT_copy FROM /.*/"),
            "found MEASUREMENT_copy, expected MEASUREMENT at line 1, char 26"
        );
        assert_eq!(
            err("SELECT mean(v) INTO :MEASUREMENT FROM /cpu/"),
            "found :, expected identifier at line 1, char 21"
        );
        assert_eq!(err("SELECT v INTO a.b.c.d FROM cpu"), "too many segments in measurement name at line 1, char 15");
        assert_eq!(err("SELECT v INTO x"), "found EOF, expected FROM at line 1, char 17");
        assert!(one("SELECT v INTO x FROM cpu").is_write());
        assert!(!one("SELECT v FROM cpu").is_write());
    }
}
