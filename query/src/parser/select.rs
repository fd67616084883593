//! `SELECT` and the `SHOW SERIES` / `SHOW TAG KEYS|VALUES` statements.
//!
//! Clauses are accepted in InfluxQL's fixed order (`FROM`, `WHERE`,
//! `GROUP BY`, `FILL`, `ORDER BY`, `LIMIT`, `OFFSET`, `SLIMIT`, `SOFFSET`,
//! `tz()`); a clause out of order is a `found X, expected ;` error, as in
//! InfluxDB.

use super::Parser;
use crate::ast::{
    Dimension, Expr, Field, Fill, MeasurementName, MeasurementSelector, Select, ShowMeasurements, ShowSeries, ShowTags,
    Source, Statement, TagKeySelector,
};
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

/// InfluxDB's refusal of any `ORDER BY` but one `time` field.
const ONLY_ORDER_BY_TIME: &str = "only ORDER BY time supported at this time";

/// The deepest nesting of subqueries accepted. Why a limit: parsing,
/// planning, executing, printing and dropping a query each recurse once
/// per level, and 1,000 nested `SELECT * FROM (…)` overflowed a worker
/// thread's stack, which aborts the whole server. Real queries nest two
/// or three deep.
pub(super) const MAX_SUBQUERY_DEPTH: usize = 16;

impl Parser<'_> {
    /// After `SELECT`.
    pub(super) fn select(&mut self, _start: usize) -> Result<Statement, ParseError> {
        let fields = self.select_fields()?;
        let into = self.select_target()?;
        self.expect(Keyword::From)?;
        let sources = self.sources()?;
        let condition = self.where_clause()?;
        let dimensions = self.group_by()?;
        let fill = self.fill()?;
        let descending = self.order_by()?;
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        let slimit = self.count_clause(Keyword::Slimit)?;
        let soffset = self.count_clause(Keyword::Soffset)?;
        let timezone = self.timezone()?;
        Ok(Statement::Select(Box::new(Select {
            fields,
            into,
            sources,
            condition,
            dimensions,
            fill,
            descending,
            limit,
            offset,
            slimit,
            soffset,
            timezone,
        })))
    }

    fn select_fields(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut fields = Vec::new();
        loop {
            self.regex_may_follow();
            let expr = self.expr()?;
            let alias = if self.eat(Keyword::As) { Some(self.ident()?) } else { None };
            fields.push(Field { expr, alias });
            if self.peek().kind != TokenKind::Comma {
                return Ok(fields);
            }
            self.bump();
        }
    }

    /// `(SELECT ...)` as a source, the opening parenthesis next.
    fn subquery(&mut self) -> Result<Source, ParseError> {
        self.bump();
        let token = self.peek().clone();
        self.expect(Keyword::Select)?;
        let Statement::Select(select) = self.select(token.offset)? else {
            return Err(ParseError::message("SELECT ... INTO is not allowed in a subquery", token.pos));
        };
        self.expect_kind(TokenKind::RParen, ")")?;
        Ok(Source::Subquery(select))
    }

    /// `source [, source ...]`.
    pub(super) fn sources(&mut self) -> Result<Vec<Source>, ParseError> {
        let mut sources = Vec::new();
        loop {
            sources.push(self.source()?);
            if self.peek().kind != TokenKind::Comma {
                return Ok(sources);
            }
            self.bump();
        }
    }

    /// `m`, `"m"`, `rp.m`, `db.rp.m`, `db..m`, `/re/`, `db.rp./re/`, `(SELECT ...)`.
    fn source(&mut self) -> Result<Source, ParseError> {
        self.regex_may_follow();
        let first = self.peek().pos;
        if self.peek().kind == TokenKind::LParen {
            if self.subqueries >= MAX_SUBQUERY_DEPTH {
                return Err(ParseError::message(
                    format!("subqueries are nested too deeply (at most {MAX_SUBQUERY_DEPTH})"),
                    self.peek().pos,
                ));
            }
            self.subqueries += 1;
            let result = self.subquery();
            self.subqueries -= 1;
            return result;
        }
        let mut segments = Vec::new();
        loop {
            if self.peek().kind == TokenKind::Div {
                let pattern = self.regex()?;
                let (database, retention_policy) = qualifiers(segments, first)?;
                return Ok(Source::Regex { database, retention_policy, pattern });
            }
            if self.peek().kind == TokenKind::Dot {
                segments.push(String::new());
            } else {
                segments.push(self.ident()?);
            }
            if self.peek().kind != TokenKind::Dot {
                break;
            }
            self.bump();
            self.regex_may_follow();
        }
        let name = segments.pop().unwrap_or_default();
        let (database, retention_policy) = qualifiers(segments, first)?;
        Ok(Source::Measurement(MeasurementName { database, retention_policy, name }))
    }

    pub(super) fn where_clause(&mut self) -> Result<Option<Expr>, ParseError> {
        if self.eat(Keyword::Where) {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    pub(super) fn group_by(&mut self) -> Result<Vec<Dimension>, ParseError> {
        let mut dims = Vec::new();
        if !self.eat(Keyword::Group) {
            return Ok(dims);
        }
        self.expect(Keyword::By)?;
        loop {
            self.regex_may_follow();
            let token = self.peek().clone();
            let dim = match token.kind {
                TokenKind::Mul => {
                    self.bump();
                    Dimension::All
                }
                TokenKind::Div => Dimension::Regex(self.regex()?),
                TokenKind::Ident
                    if token.lit.eq_ignore_ascii_case("time") && self.peek_second().kind == TokenKind::LParen =>
                {
                    self.bump();
                    self.bump();
                    self.time_dimension()?
                }
                _ if token.kind.is_ident() => {
                    self.bump();
                    Dimension::Tag(token.lit)
                }
                // InfluxDB parses a dimension as an expression.
                _ => return Err(ParseError::unexpected(&token, super::expr::OPERAND)),
            };
            dims.push(dim);
            if self.peek().kind != TokenKind::Comma {
                return Ok(dims);
            }
            self.bump();
        }
    }

    /// After `time(`: `interval [, offset])`.
    fn time_dimension(&mut self) -> Result<Dimension, ParseError> {
        self.regex_may_follow();
        let at = self.peek().pos;
        // `time(0s)` is accepted, as in InfluxDB: it groups nothing by time.
        let interval = match self.expr()? {
            Expr::Duration(ns) if ns >= 0 => ns,
            _ => return Err(ParseError::message("time dimension must have duration argument", at)),
        };
        let mut offset = 0;
        if self.peek().kind == TokenKind::Comma {
            self.bump();
            self.regex_may_follow();
            let at = self.peek().pos;
            offset = match self.expr()? {
                Expr::Duration(ns) => ns,
                Expr::Integer(0) => 0,
                _ => return Err(ParseError::message("time dimension offset must be duration", at)),
            };
        }
        self.expect_kind(TokenKind::RParen, ")")?;
        Ok(Dimension::Time { interval, offset })
    }

    fn fill(&mut self) -> Result<Fill, ParseError> {
        if !(self.peek().is_word("fill") && self.peek_second().kind == TokenKind::LParen) {
            return Ok(Fill::Null);
        }
        self.bump();
        self.bump();
        // InfluxDB parses the argument as an expression.
        self.regex_may_follow();
        if self.peek().kind == TokenKind::Eof {
            return Err(ParseError::unexpected(self.peek(), super::expr::OPERAND));
        }
        let token = self.bump();
        let fill = match token.kind {
            TokenKind::Ident => match token.lit.to_ascii_lowercase().as_str() {
                "null" => Fill::Null,
                "none" => Fill::None,
                "previous" => Fill::Previous,
                "linear" => Fill::Linear,
                _ => return Err(ParseError::bare("expected number argument in fill()", token.pos)),
            },
            TokenKind::Integer | TokenKind::Number | TokenKind::Sub => {
                self.at = self.at.saturating_sub(1);
                match self.expr()? {
                    Expr::Integer(n) => Fill::Integer(n),
                    Expr::Number(n) => Fill::Number(n),
                    _ => return Err(ParseError::bare("expected number argument in fill()", token.pos)),
                }
            }
            _ => return Err(ParseError::bare("fill must be a function call", token.pos)),
        };
        self.expect_kind(TokenKind::RParen, ")")?;
        Ok(fill)
    }

    /// `ORDER BY time [ASC|DESC]`; returns whether descending. As in
    /// InfluxDB, a list of sort fields parses and anything but one `time`
    /// field is refused after it.
    fn order_by(&mut self) -> Result<bool, ParseError> {
        if !self.eat(Keyword::Order) {
            return Ok(false);
        }
        self.expect(Keyword::By)?;
        let token = self.peek().clone();
        let descending = if token.is(Keyword::Asc) || token.is(Keyword::Desc) {
            self.bump();
            token.is(Keyword::Desc)
        } else if token.kind.is_ident() {
            let (name, descending) = self.sort_field()?;
            if !name.eq_ignore_ascii_case("time") {
                return Err(ParseError::bare(ONLY_ORDER_BY_TIME, token.pos));
            }
            descending
        } else {
            return Err(ParseError::unexpected(&token, &["identifier", "ASC", "DESC"]));
        };
        let mut more = false;
        while self.peek().kind == TokenKind::Comma {
            self.bump();
            self.sort_field()?;
            more = true;
        }
        if more {
            return Err(ParseError::bare(ONLY_ORDER_BY_TIME, token.pos));
        }
        Ok(descending)
    }

    /// `name [ASC|DESC]`: the name and whether descending.
    fn sort_field(&mut self) -> Result<(String, bool), ParseError> {
        let name = self.ident()?;
        if self.eat(Keyword::Desc) {
            return Ok((name, true));
        }
        self.eat(Keyword::Asc);
        Ok((name, false))
    }

    /// An optional `KW <non-negative integer>`.
    pub(super) fn count_clause(&mut self, kw: Keyword) -> Result<u64, ParseError> {
        if !self.eat(kw) {
            return Ok(0);
        }
        let token = self.bump();
        if token.kind != TokenKind::Integer {
            return Err(ParseError::unexpected(&token, &["integer"]));
        }
        token.lit.parse::<u64>().map_err(|_| ParseError::message("unable to parse integer", token.pos))
    }

    fn timezone(&mut self) -> Result<Option<String>, ParseError> {
        if !(self.peek().is_word("tz") && self.peek_second().kind == TokenKind::LParen) {
            return Ok(None);
        }
        self.bump();
        self.bump();
        // InfluxDB parses the argument as an expression, then wants a string.
        self.regex_may_follow();
        if self.peek().kind == TokenKind::Eof {
            return Err(ParseError::unexpected(self.peek(), super::expr::OPERAND));
        }
        let token = self.bump();
        if token.kind != TokenKind::String {
            return Err(ParseError::bare("expected string argument in tz()", token.pos));
        }
        self.expect_kind(TokenKind::RParen, ")")?;
        // The IANA database bundled into the binary (jiff), as InfluxDB's Go loads it.
        if jiff::tz::TimeZone::get(&token.lit).is_err() {
            return Err(ParseError::bare(format!("unable to find time zone {}", token.lit), token.pos));
        }
        Ok(Some(token.lit))
    }

    /// After `SHOW MEASUREMENTS`.
    pub(super) fn show_measurements(&mut self) -> Result<Statement, ParseError> {
        let database = self.on_clause()?;
        let mut with = None;
        if self.eat(Keyword::With) {
            self.expect(Keyword::Measurement)?;
            let token = self.bump();
            if !matches!(token.kind, TokenKind::Eq | TokenKind::EqRegex) {
                return Err(ParseError::unexpected(&token, &["=", "=~"]));
            }
            // As in InfluxDB, either operator takes a name or a regex.
            self.regex_may_follow();
            with = Some(if self.peek().kind == TokenKind::Div {
                MeasurementSelector::Regex(self.regex()?)
            } else {
                MeasurementSelector::Eq(self.ident()?)
            });
        }
        let condition = self.where_clause()?;
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        Ok(Statement::ShowMeasurements(ShowMeasurements { database, with, condition, limit, offset }))
    }

    /// After `SHOW SERIES`.
    pub(super) fn show_series(&mut self, start: usize) -> Result<Statement, ParseError> {
        if self.eat(Keyword::Exact) {
            let token = self.bump();
            if !token.is(Keyword::Cardinality) {
                return Err(ParseError::unexpected(&token, &[";"]));
            }
            return self.cardinality(crate::ast::CardinalityKind::Series, true);
        }
        if self.eat(Keyword::Cardinality) {
            return self.cardinality(crate::ast::CardinalityKind::Series, false);
        }
        let _ = start;
        let database = self.on_clause()?;
        let sources = if self.eat(Keyword::From) { self.sources()? } else { Vec::new() };
        let condition = self.where_clause()?;
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        Ok(Statement::ShowSeries(ShowSeries { database, sources, condition, limit, offset }))
    }

    /// After `SHOW TAG`.
    pub(super) fn show_tag(&mut self, start: usize) -> Result<Statement, ParseError> {
        let token = self.bump();
        let values = match token.kind {
            TokenKind::Keyword(Keyword::Keys) => false,
            TokenKind::Keyword(Keyword::Values) => true,
            TokenKind::Keyword(Keyword::Key) => return self.expect_cardinality(crate::ast::CardinalityKind::TagKey),
            _ => return Err(ParseError::unexpected(&token, &["KEY", "KEYS", "VALUES"])),
        };
        let _ = start;
        if values && self.at_any(&[Keyword::Cardinality, Keyword::Exact]) {
            let exact = self.eat(Keyword::Exact);
            let token = self.bump();
            if !token.is(Keyword::Cardinality) {
                return Err(ParseError::unexpected(&token, &["CARDINALITY"]));
            }
            return self.cardinality(crate::ast::CardinalityKind::TagValues, exact);
        }
        let database = self.on_clause()?;
        let sources = if self.eat(Keyword::From) { self.sources()? } else { Vec::new() };
        let key = if values { Some(self.with_key()?) } else { None };
        let condition = self.where_clause()?;
        let limit = self.count_clause(Keyword::Limit)?;
        let offset = self.count_clause(Keyword::Offset)?;
        let show = ShowTags { database, sources, key, condition, limit, offset };
        Ok(if values { Statement::ShowTagValues(show) } else { Statement::ShowTagKeys(show) })
    }

    /// `WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (a, b))`.
    pub(super) fn with_key(&mut self) -> Result<TagKeySelector, ParseError> {
        self.expect(Keyword::With)?;
        self.expect(Keyword::Key)?;
        let token = self.bump();
        match token.kind {
            TokenKind::Eq => Ok(TagKeySelector::Eq(self.ident()?)),
            TokenKind::Neq => Ok(TagKeySelector::Neq(self.ident()?)),
            TokenKind::EqRegex => Ok(TagKeySelector::Regex(self.regex_operand()?)),
            TokenKind::NeqRegex => Ok(TagKeySelector::NotRegex(self.regex_operand()?)),
            TokenKind::Keyword(Keyword::In) => {
                self.expect_kind(TokenKind::LParen, "(")?;
                let mut keys = vec![self.ident()?];
                while self.peek().kind == TokenKind::Comma {
                    self.bump();
                    keys.push(self.ident()?);
                }
                self.expect_kind(TokenKind::RParen, ")")?;
                Ok(TagKeySelector::In(keys))
            }
            // InfluxDB lists only these, though it accepts `!=` and `!~` too.
            _ => Err(ParseError::unexpected(&token, &["IN", "=", "=~"])),
        }
    }

    fn regex_operand(&mut self) -> Result<String, ParseError> {
        self.regex_may_follow();
        if self.peek().kind != TokenKind::Div {
            return Err(ParseError::unexpected(self.peek(), &["regex"]));
        }
        self.regex()
    }
}

/// Database and policy from the segments before a measurement name.
fn qualifiers(
    mut segments: Vec<String>,
    at: crate::token::Pos,
) -> Result<(Option<String>, Option<String>), ParseError> {
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    match segments.len() {
        0 => Ok((None, None)),
        1 => Ok((None, segments.pop().and_then(non_empty))),
        2 => {
            let rp = segments.pop().and_then(non_empty);
            Ok((segments.pop().and_then(non_empty), rp))
        }
        _ => Err(ParseError::message("too many segments in measurement name", at)),
    }
}
