//! Parse errors, worded exactly as InfluxDB words them.
//!
//! Why exact: clients and people compare these strings
//! (`found FOO, expected SELECT, DELETE, ... at line 1, char 1`), and the
//! HTTP layer only prefixes them with `error parsing query: `.

use std::fmt;

use crate::token::{Pos, Token};

/// Why a query could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where (start of the offending token).
    pub pos: Pos,
}

/// The two shapes of InfluxQL parse errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// An unexpected token: `found <found>, expected <a>, <b>`.
    Unexpected {
        /// The token as written (or `EOF`, `;`, ...).
        found: String,
        /// What would have been accepted, in the order InfluxDB lists them.
        expected: Vec<String>,
    },
    /// Any other error, e.g. `invalid duration`.
    Message(String),
    /// An error InfluxDB reports without a position
    /// (`only ORDER BY time supported at this time`).
    Bare(String),
}

impl ParseError {
    /// `found <token>, expected <one of expected>` at the token.
    pub fn unexpected(token: &Token, expected: &[&str]) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Unexpected {
                found: token.found(),
                expected: expected.iter().map(|s| s.to_string()).collect(),
            },
            pos: token.pos,
        }
    }

    /// A message that InfluxDB prints without a position (kept for
    /// callers that want one all the same).
    pub fn bare(message: impl Into<String>, pos: Pos) -> ParseError {
        ParseError { kind: ParseErrorKind::Bare(message.into()), pos }
    }

    /// A free-form message at a position.
    pub fn message(message: impl Into<String>, pos: Pos) -> ParseError {
        ParseError { kind: ParseErrorKind::Message(message.into()), pos }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ParseErrorKind::Unexpected { found, expected } => {
                write!(f, "found {found}, expected {} at {}", expected.join(", "), self.pos)
            }
            ParseErrorKind::Message(message) => write!(f, "{message} at {}", self.pos),
            ParseErrorKind::Bare(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenKind;

    #[test]
    fn renders_like_influxdb() {
        let token = Token { kind: TokenKind::Ident, lit: "FOO".into(), pos: Pos { line: 0, char: 5 }, offset: 5 };
        let err = ParseError::unexpected(&token, &["DATABASES", "MEASUREMENTS"]);
        assert_eq!(err.to_string(), "found FOO, expected DATABASES, MEASUREMENTS at line 1, char 6");
        let err = ParseError::message("invalid duration", Pos { line: 1, char: 0 });
        assert_eq!(err.to_string(), "invalid duration at line 2, char 1");
    }
}
