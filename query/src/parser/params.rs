//! Bind parameters: `$name` in the query text, values from the `params`
//! JSON object of the request (InfluxDB 1.x's `params` form value).
//!
//! Why at the token level: InfluxDB substitutes a parameter where the
//! scanner meets it, so `WHERE host = $h` with `{"h":"a"}` parses exactly as
//! `WHERE host = 'a'`, and `{"m":{"identifier":"cpu"}}` can stand for a
//! name. Substituting text instead would break on quotes inside values.
//! A value is a JSON string, number or boolean, or an object naming its
//! kind: `identifier`, `string`, `integer`, `number`, `boolean`, `duration`.

use serde_json::{Map, Value};

use super::Parser;
use crate::ast::Query;
use crate::error::ParseError;
use crate::lexer::tokenize;
use crate::token::{Keyword, Token, TokenKind};

/// Parses `input` with `$name` parameters bound from `params`.
pub fn parse_query_with_params(input: &str, params: &Map<String, Value>) -> Result<Query, ParseError> {
    let raw = tokenize(input);
    let mut tokens = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let t = &raw[i];
        if !(t.kind == TokenKind::Illegal && t.lit == "$") {
            tokens.push(t.clone());
            i += 1;
            continue;
        }
        let name = raw.get(i + 1).filter(|n| {
            n.offset == t.offset + 1 && matches!(n.kind, TokenKind::Ident | TokenKind::Keyword(_) | TokenKind::Integer)
        });
        let Some(name) = name else {
            // A `$` right before other punctuation is part of a regex
            // (`/^cpu$/`), which the parser reads from the text itself.
            let in_regex = matches!(input.as_bytes().get(t.offset + 1), Some(b'/' | b')' | b'|'));
            if in_regex {
                tokens.push(t.clone());
                i += 1;
                continue;
            }
            return Err(ParseError::bare("empty bound parameter", t.pos));
        };
        let value =
            params.get(&name.lit).ok_or_else(|| ParseError::bare(format!("missing parameter: {}", name.lit), t.pos))?;
        bind(value, t, &mut tokens)?;
        i += 2;
    }
    Parser { input, tokens, at: 0, depth: 0, subqueries: 0 }.query()
}

/// Pushes the tokens standing for `value` (at the position of `at`).
fn bind(value: &Value, at: &Token, out: &mut Vec<Token>) -> Result<(), ParseError> {
    let token = |kind: TokenKind, lit: String| Token { kind, lit, pos: at.pos, offset: at.offset };
    let unbindable = |v: &Value| {
        let kind = match v {
            Value::Null => "null",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            _ => "value",
        };
        ParseError::bare(format!("missing parameter: unable to bind parameter with type {kind}"), at.pos)
    };
    let number = |n: &serde_json::Number, out: &mut Vec<Token>| {
        let (kind, text) = if n.is_f64() {
            (TokenKind::Number, n.as_f64().map(|f| f.to_string()).unwrap_or_default())
        } else {
            (TokenKind::Integer, n.to_string())
        };
        match text.strip_prefix('-') {
            Some(abs) => {
                out.push(token(TokenKind::Sub, String::new()));
                out.push(token(kind, abs.to_string()));
            }
            None => out.push(token(kind, text)),
        }
    };
    let boolean = |b: bool| {
        let kw = if b { Keyword::True } else { Keyword::False };
        token(TokenKind::Keyword(kw), if b { "true" } else { "false" }.to_string())
    };
    match value {
        Value::String(s) => out.push(token(TokenKind::String, s.clone())),
        Value::Bool(b) => out.push(boolean(*b)),
        Value::Number(n) => number(n, out),
        Value::Object(o) if o.len() == 1 => {
            let Some((kind, v)) = o.iter().next() else { return Err(unbindable(value)) };
            match (kind.as_str(), v) {
                ("identifier", Value::String(s)) => out.push(token(TokenKind::QuotedIdent, s.clone())),
                ("string", Value::String(s)) => out.push(token(TokenKind::String, s.clone())),
                ("integer" | "number", Value::Number(n)) => number(n, out),
                ("boolean", Value::Bool(b)) => out.push(boolean(*b)),
                ("duration", Value::String(s)) => out.push(token(TokenKind::Duration, s.clone())),
                _ => return Err(unbindable(value)),
            }
        }
        other => return Err(unbindable(other)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_query;

    fn with(q: &str, params: Value) -> Result<String, String> {
        let Value::Object(map) = params else { panic!("object") };
        parse_query_with_params(q, &map).map(|q| q.statements[0].to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_dollar_inside_a_regex_is_not_a_parameter() {
        let q = parse_query_with_params("SELECT * FROM /^(cpu|mem)$/", &Map::new());
        assert!(q.is_ok(), "{q:?}");
        let q = parse_query_with_params("SELECT * FROM /^(cpu|mem)$/ WHERE host =~ /a$/", &Map::new());
        assert!(q.is_ok(), "{q:?}");
    }

    #[test]
    fn binds_like_influxdb() {
        let q = "SELECT v FROM cpu WHERE host = $h AND v > $n";
        let want = parse_query("SELECT v FROM cpu WHERE host = 'a' AND v > 1").map(|q| q.statements[0].to_string());
        assert_eq!(with(q, serde_json::json!({"h": "a", "n": 1})), want.map_err(|e| e.to_string()));
        assert_eq!(
            with(
                "SELECT v FROM $m WHERE v > $x AND b = $b",
                serde_json::json!({"m": {"identifier": "my m"}, "x": -1.5, "b": true})
            ),
            Ok("SELECT v FROM \"my m\" WHERE v > -1.5 AND b = true".to_string())
        );
        assert_eq!(
            with("SELECT v FROM cpu WHERE time > now() - $d", serde_json::json!({"d": {"duration": "1h"}})),
            Ok("SELECT v FROM cpu WHERE time > now() - 1h".to_string())
        );
        assert_eq!(
            with("SELECT v FROM cpu WHERE host = $h", serde_json::json!({"x": "a"})),
            Err("missing parameter: h".into())
        );
        assert_eq!(
            with("SELECT v FROM cpu WHERE host = $", serde_json::json!({})),
            Err("empty bound parameter".into())
        );
        assert!(with("SELECT v FROM cpu WHERE host = $h", serde_json::json!({"h": [1]})).is_err());
        // A `$` inside a string is text.
        assert_eq!(with("SHOW TAG VALUES WITH KEY = \"$k\"", serde_json::json!({})).map(|_| ()), Ok(()));
    }
}
