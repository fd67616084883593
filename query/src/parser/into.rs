//! The `INTO` clause of `SELECT`.
//!
//! Why apart from `select.rs`: the target has its own small grammar (the
//! `:MEASUREMENT` back-reference, which InfluxDB accepts only after a
//! retention policy) and keeping it here keeps the `SELECT` parser's change
//! to one line.

use super::Parser;
use crate::ast::IntoTarget;
use crate::error::ParseError;
use crate::token::{Keyword, TokenKind};

impl Parser<'_> {
    /// An optional `INTO <target>`.
    pub(super) fn select_target(&mut self) -> Result<Option<IntoTarget>, ParseError> {
        if !self.eat(Keyword::Into) {
            return Ok(None);
        }
        let first = self.peek().pos;
        // Segments before the measurement; "" for an empty one (`db..m`).
        let mut segments: Vec<String> = Vec::new();
        let measurement = loop {
            let token = self.peek().clone();
            if token.kind == TokenKind::Colon && !segments.is_empty() {
                self.bump();
                let name = self.bump();
                if !name.is(Keyword::Measurement) {
                    return Err(ParseError::unexpected(&name, &["MEASUREMENT"]));
                }
                break None;
            }
            if token.kind == TokenKind::Dot {
                segments.push(String::new());
            } else {
                let name = self.ident()?;
                if self.peek().kind != TokenKind::Dot {
                    break Some(name);
                }
                segments.push(name);
            }
            self.bump();
        };
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let mut it = segments.into_iter();
        let (database, retention_policy) = match (it.next(), it.next(), it.next()) {
            (None, _, _) => (None, None),
            (Some(rp), None, _) => (None, non_empty(rp)),
            (Some(db), Some(rp), None) => (non_empty(db), non_empty(rp)),
            _ => return Err(ParseError::message("too many segments in measurement name", first)),
        };
        Ok(Some(IntoTarget { database, retention_policy, measurement }))
    }
}
