//! `DELETE`, `DROP SERIES|MEASUREMENT|RETENTION POLICY`, `ALTER RETENTION
//! POLICY`, the `SHOW ... CARDINALITY` family and `SHOW FIELD KEYS` with
//! regex sources and limits, with InfluxDB 1.6's grammar and error wording
//! (each message checked against a real `influxd` 1.6.7).

use super::Parser;
use crate::ast::{
    AlterRetentionPolicy, CardinalityKind, DeleteSeries, Dimension, ShowCardinality, ShowFieldKeysMatching, ShowTags,
    Source, Statement,
};
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

impl Parser<'_> {
    /// After `DELETE` (`drop_series = false`) or `DROP SERIES`: `FROM` and/or
    /// `WHERE`, at least one of them.
    pub(super) fn delete_series(&mut self, drop_series: bool) -> Result<Statement, ParseError> {
        if !self.at_any(&[Keyword::From, Keyword::Where]) {
            return Err(ParseError::unexpected(self.peek(), &["FROM", "WHERE"]));
        }
        let sources = if self.eat(Keyword::From) { self.sources()? } else { Vec::new() };
        let condition = self.where_clause()?;
        let d = DeleteSeries { sources, condition };
        Ok(if drop_series { Statement::DropSeries(d) } else { Statement::Delete(d) })
    }

    /// After `DROP RETENTION`.
    pub(super) fn drop_retention_policy(&mut self) -> Result<Statement, ParseError> {
        self.expect(Keyword::Policy)?;
        let name = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        Ok(Statement::DropRetentionPolicy { name, database })
    }

    /// After `ALTER`: `RETENTION POLICY rp ON db` and at least one option, in
    /// any order, each at most once.
    pub(super) fn alter(&mut self) -> Result<Statement, ParseError> {
        if self.peek().is_word("MODEL") {
            self.bump();
            return self.alter_model();
        }
        self.expect(Keyword::Retention)?;
        self.expect(Keyword::Policy)?;
        let name = self.ident()?;
        self.expect(Keyword::On)?;
        let database = self.ident()?;
        let mut alter = AlterRetentionPolicy { name, database, ..AlterRetentionPolicy::default() };
        let mut seen_any = false;
        loop {
            let token = self.peek().clone();
            let duplicate =
                || ParseError::message(format!("found duplicate {} option", token.lit.to_uppercase()), token.pos);
            match token.kind {
                TokenKind::Keyword(Keyword::Duration) => {
                    if alter.duration.is_some() {
                        return Err(duplicate());
                    }
                    self.bump();
                    alter.duration = Some(self.duration()?);
                }
                TokenKind::Keyword(Keyword::Replication) => {
                    if alter.replication.is_some() {
                        return Err(duplicate());
                    }
                    self.bump();
                    alter.replication = Some(self.replication()?);
                }
                TokenKind::Keyword(Keyword::Shard) => {
                    if alter.shard_duration.is_some() {
                        return Err(duplicate());
                    }
                    self.bump();
                    self.expect(Keyword::Duration)?;
                    alter.shard_duration = Some(self.shard_duration()?);
                }
                TokenKind::Keyword(Keyword::Default) => {
                    if alter.default {
                        return Err(duplicate());
                    }
                    self.bump();
                    alter.default = true;
                }
                _ if !seen_any => {
                    return Err(ParseError::unexpected(&token, &["DURATION", "REPLICATION", "SHARD", "DEFAULT"]))
                }
                _ => return Ok(Statement::AlterRetentionPolicy(alter)),
            }
            seen_any = true;
        }
    }

    /// After `SHOW <kind>` where the kind needs `[EXACT] CARDINALITY` next
    /// (`MEASUREMENT`, `TAG KEY`, `FIELD KEY`).
    pub(super) fn expect_cardinality(&mut self, kind: CardinalityKind) -> Result<Statement, ParseError> {
        let exact = self.eat(Keyword::Exact);
        let token = self.bump();
        if !token.is(Keyword::Cardinality) {
            let expected: &[&str] = if exact { &["CARDINALITY"] } else { &["EXACT", "CARDINALITY"] };
            return Err(ParseError::unexpected(&token, expected));
        }
        self.cardinality(kind, exact)
    }

    /// After `... [EXACT] CARDINALITY`.
    pub(super) fn cardinality(&mut self, kind: CardinalityKind, exact: bool) -> Result<Statement, ParseError> {
        let database = self.on_clause()?;
        let sources = if self.eat(Keyword::From) { self.sources()? } else { Vec::new() };
        let key = if kind == CardinalityKind::TagValues { Some(self.with_key()?) } else { None };
        let condition = self.where_clause()?;
        let at = self.peek().pos;
        let group_by = self.group_by()?;
        if group_by.iter().any(|d| matches!(d, Dimension::Time { .. })) {
            // InfluxDB 1.x answers a column of per-minute counts since the
            // epoch here (hundreds of megabytes); Augur refuses.
            return Err(ParseError::message("time() is not allowed in GROUP BY of SHOW ... CARDINALITY", at));
        }
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        let clauses = ShowTags { database, sources, key, condition, limit, offset };
        Ok(Statement::ShowCardinality(ShowCardinality { kind, exact, clauses, group_by }))
    }

    /// `SHOW FIELD KEYS` after its `FROM` clause, when a source is a regex
    /// or `LIMIT`/`OFFSET` follows: the general form.
    pub(super) fn show_field_keys_matching(
        &mut self,
        database: Option<String>,
        sources: Vec<Source>,
    ) -> Result<Statement, ParseError> {
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        Ok(Statement::ShowFieldKeysMatching(ShowFieldKeysMatching { database, sources, limit, offset }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{CardinalityKind, Statement};

    use crate::parser::test_util::{err, one};

    #[test]
    fn statements_print_back_as_aql() {
        for q in [
            "DELETE FROM cpu WHERE host = 'a' AND time < 1000",
            "DELETE WHERE time < 1000",
            "DELETE FROM /c/, mem",
            "DROP SERIES FROM cpu WHERE host = 'a'",
            "DROP SERIES WHERE host = 'a'",
            "DROP MEASUREMENT \"my m\"",
            "DROP RETENTION POLICY r ON db",
            "ALTER RETENTION POLICY r ON db DURATION 2h REPLICATION 2 SHARD DURATION 1h DEFAULT",
            "ALTER RETENTION POLICY r ON db DURATION INF",
            "SHOW SERIES CARDINALITY",
            "SHOW SERIES EXACT CARDINALITY ON db FROM cpu WHERE host = 'a'",
            "SHOW MEASUREMENT EXACT CARDINALITY",
            "SHOW TAG KEY CARDINALITY FROM /m/",
            "SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY = host",
            "SHOW FIELD KEY CARDINALITY LIMIT 2",
            "SHOW FIELD KEYS FROM /c/ LIMIT 1 OFFSET 1",
            "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host = 'a' GROUP BY region, /h/ LIMIT 3 OFFSET 1",
            "SHOW MEASUREMENT CARDINALITY GROUP BY *",
        ] {
            assert_eq!(one(q).to_string(), q);
        }
        let err = crate::parse_query("SHOW SERIES CARDINALITY GROUP BY time(1m)").expect_err("time() refused");
        assert!(err.to_string().contains("time() is not allowed"), "{err}");
        let Statement::ShowCardinality(c) = one("SHOW TAG VALUES CARDINALITY WITH KEY =~ /h/") else { panic!() };
        assert_eq!((c.kind, c.exact), (CardinalityKind::TagValues, false));
        // Options in any order.
        let Statement::AlterRetentionPolicy(a) = one("ALTER RETENTION POLICY r ON db DEFAULT SHARD DURATION 2h") else {
            panic!()
        };
        assert!(a.default && a.duration.is_none() && a.shard_duration == Some(7_200_000_000_000));
        assert!(one("DROP SERIES FROM cpu").is_write());
        assert!(!one("SHOW SERIES CARDINALITY").is_write());
    }

    #[test]
    fn errors_match_influxdb() {
        assert_eq!(err("DELETE"), "found EOF, expected FROM, WHERE at line 1, char 8");
        assert_eq!(err("DELETE FROM"), "found EOF, expected identifier at line 1, char 13");
        assert_eq!(err("DELETE FROM cpu foo"), "found foo, expected ; at line 1, char 17");
        assert_eq!(err("DROP SERIES"), "found EOF, expected FROM, WHERE at line 1, char 13");
        assert_eq!(err("DROP MEASUREMENT"), "found EOF, expected identifier at line 1, char 18");
        assert_eq!(err("DROP MEASUREMENT /c/"), "found /, expected identifier at line 1, char 18");
        assert_eq!(err("DROP RETENTION POLICY"), "found EOF, expected identifier at line 1, char 23");
        assert_eq!(err("DROP RETENTION POLICY r"), "found EOF, expected ON at line 1, char 25");
        assert_eq!(err("ALTER"), "found EOF, expected RETENTION at line 1, char 7");
        assert_eq!(err("ALTER RETENTION"), "found EOF, expected POLICY at line 1, char 17");
        assert_eq!(
            err("ALTER RETENTION POLICY autogen ON db"),
            "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 38"
        );
        assert_eq!(
            err("ALTER RETENTION POLICY autogen ON db DURATION 1h DURATION 2h"),
            "found duplicate DURATION option at line 1, char 50"
        );
        assert_eq!(
            err("ALTER RETENTION POLICY autogen ON db DURATION 2h foo"),
            "found foo, expected ; at line 1, char 50"
        );
        assert_eq!(
            err("ALTER RETENTION POLICY autogen ON db DURATION INF SHARD DURATION INF"),
            "invalid duration INF for shard duration at line 1, char 66"
        );
        assert_eq!(
            err("ALTER RETENTION POLICY autogen ON db REPLICATION 0"),
            "invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 50"
        );
        assert_eq!(err("SHOW TAG KEY foo"), "found foo, expected EXACT, CARDINALITY at line 1, char 14");
        assert_eq!(err("SHOW MEASUREMENT foo"), "found foo, expected EXACT, CARDINALITY at line 1, char 18");
        assert_eq!(err("SHOW FIELD KEY foo"), "found foo, expected EXACT, CARDINALITY at line 1, char 16");
        assert_eq!(err("SHOW TAG VALUES EXACT foo"), "found foo, expected CARDINALITY at line 1, char 23");
        assert_eq!(err("SHOW SERIES EXACT foo"), "found foo, expected ; at line 1, char 19");
        assert_eq!(err("SHOW TAG VALUES CARDINALITY"), "found EOF, expected WITH at line 1, char 29");
        assert_eq!(
            err("SHOW MEASUREMENT CARDINALITY WITH MEASUREMENT = cpu"),
            "found WITH, expected ; at line 1, char 30"
        );
    }
}
