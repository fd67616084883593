//! Expressions: the select list, `WHERE` conditions and function arguments.
//!
//! Precedence climbing over InfluxQL's operator table (`OR` < `AND` <
//! comparisons < `+ -` < `* /`), with regex literals scanned on demand: the
//! lexer cannot tell `/` (divide) from `/re/` (regex) without the grammar,
//! so the parser rescans the text after a regex it finds.

use super::Parser;
use crate::ast::{BinaryOp, Expr, RefKind};
use crate::duration::{parse_duration, DurationError};
use crate::error::ParseError;
use crate::lexer::tokenize;
use crate::token::{Keyword, Pos, TokenKind};

/// The deepest expression tree accepted. Every later stage (evaluation,
/// printing) walks the tree recursively, so an unbounded depth would let a
/// query overflow the stack; a long `a OR b OR c ...` chain counts one
/// level per operator.
pub(super) const MAX_DEPTH: usize = 256;

/// What InfluxDB lists when an operand is missing.
pub(super) const OPERAND: &[&str] = &["identifier", "string", "number", "bool"];

impl Parser<'_> {
    /// A full expression.
    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_expr(1)
    }

    fn binary_expr(&mut self, min_precedence: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.unary_expr()?;
        let outer = self.depth;
        let result = self.binary_tail(&mut lhs, min_precedence);
        self.depth = outer;
        result.map(|()| lhs)
    }

    /// The `op rhs` pairs after a first operand, folded into `lhs`.
    fn binary_tail(&mut self, lhs: &mut Expr, min_precedence: u8) -> Result<(), ParseError> {
        while let Some(op) = binary_op(self.peek().kind) {
            if op.precedence() < min_precedence {
                break;
            }
            self.deeper()?;
            self.bump();
            let rhs = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                self.regex_may_follow();
                if self.peek().kind != TokenKind::Div {
                    return Err(ParseError::unexpected(self.peek(), &["regex"]));
                }
                Expr::Regex(self.regex()?)
            } else {
                self.binary_expr(op.precedence() + 1)?
            };
            *lhs = Expr::binary(op, std::mem::replace(lhs, Expr::Integer(0)), rhs);
        }
        Ok(())
    }

    /// One level deeper, or an error past [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::message("expression is nested too deeply", self.peek().pos));
        }
        Ok(())
    }

    fn unary_expr(&mut self) -> Result<Expr, ParseError> {
        self.deeper()?;
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect_kind(TokenKind::RParen, ")")?;
                Ok(Expr::Paren(Box::new(inner)))
            }
            TokenKind::Sub => {
                self.bump();
                let next = self.peek();
                let operand = matches!(
                    next.kind,
                    TokenKind::Integer
                        | TokenKind::Number
                        | TokenKind::Duration
                        | TokenKind::Ident
                        | TokenKind::QuotedIdent
                        | TokenKind::LParen
                );
                if !operand {
                    return Err(ParseError::unexpected(next, &["identifier", "number", "duration", "("]));
                }
                match self.unary_expr()? {
                    Expr::Integer(n) => Ok(Expr::Integer(n.wrapping_neg())),
                    Expr::Number(n) => Ok(Expr::Number(-n)),
                    Expr::Duration(n) => Ok(Expr::Duration(n.wrapping_neg())),
                    other => Ok(Expr::binary(BinaryOp::Mul, Expr::Integer(-1), other)),
                }
            }
            TokenKind::Add => {
                self.bump();
                self.unary_expr()
            }
            TokenKind::Mul => {
                self.bump();
                Ok(Expr::Wildcard(self.ref_kind()?))
            }
            TokenKind::Div => Ok(Expr::Regex(self.regex()?)),
            TokenKind::Integer => {
                self.bump();
                match token.lit.parse::<i64>() {
                    Ok(n) => Ok(Expr::Integer(n)),
                    Err(_) => Err(ParseError::message(format!("unable to parse integer at {}", token.pos), token.pos)),
                }
            }
            TokenKind::Number => {
                self.bump();
                match token.lit.parse::<f64>() {
                    Ok(n) => Ok(Expr::Number(n)),
                    Err(_) => Err(ParseError::message(format!("unable to parse number at {}", token.pos), token.pos)),
                }
            }
            TokenKind::Duration => {
                self.bump();
                // InfluxDB reports a bad duration literal in an expression
                // without a position (unlike one in a retention policy).
                match parse_duration(&token.lit) {
                    Ok(ns) => Ok(Expr::Duration(ns)),
                    Err(DurationError::Invalid) => Err(ParseError::bare("invalid duration", token.pos)),
                    Err(DurationError::Overflow) => Err(ParseError::bare("overflowed duration", token.pos)),
                }
            }
            TokenKind::String => {
                self.bump();
                Ok(Expr::String(token.lit))
            }
            TokenKind::Keyword(Keyword::True) => {
                self.bump();
                Ok(Expr::Boolean(true))
            }
            TokenKind::Keyword(Keyword::False) => {
                self.bump();
                Ok(Expr::Boolean(false))
            }
            // `distinct` is a keyword: `distinct(f)` and `DISTINCT f` both call it.
            TokenKind::Keyword(Keyword::Distinct) => {
                self.bump();
                if self.peek().kind == TokenKind::LParen {
                    self.bump();
                    return self.call("distinct".to_string());
                }
                let arg = self.unary_expr()?;
                Ok(Expr::Call { name: "distinct".to_string(), args: vec![arg], named: Vec::new() })
            }
            TokenKind::Ident if self.peek_second().kind == TokenKind::LParen => {
                self.bump();
                self.bump();
                self.call(token.lit.to_ascii_lowercase())
            }
            TokenKind::Ident | TokenKind::QuotedIdent => {
                self.bump();
                Ok(Expr::VarRef { name: token.lit, kind: self.ref_kind()? })
            }
            _ => Err(ParseError::unexpected(&token, OPERAND)),
        }
    }

    /// After `name(`: positional arguments, then `key => value` ones.
    fn call(&mut self, name: String) -> Result<Expr, ParseError> {
        self.regex_may_follow();
        let mut args = Vec::new();
        let mut named = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            self.bump();
            return Ok(Expr::Call { name, args, named });
        }
        loop {
            if self.at_named_argument() {
                let key = self.bump().lit;
                self.bump();
                self.bump();
                named.push((key, self.expr()?));
            } else if !named.is_empty() {
                return Err(ParseError::message("positional argument after named argument", self.peek().pos));
            } else {
                args.push(self.expr()?);
            }
            let token = self.bump();
            match token.kind {
                TokenKind::Comma => {
                    self.regex_may_follow();
                    continue;
                }
                TokenKind::RParen => return Ok(Expr::Call { name, args, named }),
                _ => return Err(ParseError::unexpected(&token, &[",", ")"])),
            }
        }
    }

    /// `ident =>` (the lexer sees `=` then `>`, adjacent).
    fn at_named_argument(&self) -> bool {
        let (name, eq, gt) = (self.peek(), self.peek_second(), self.peek_nth(2));
        name.kind.is_ident() && eq.kind == TokenKind::Eq && gt.kind == TokenKind::Gt && gt.offset == eq.offset + 1
    }

    /// An optional `::field` / `::tag`.
    fn ref_kind(&mut self) -> Result<Option<RefKind>, ParseError> {
        if self.peek().kind != TokenKind::DoubleColon {
            return Ok(None);
        }
        self.bump();
        let token = self.bump();
        match token.lit.to_ascii_lowercase().as_str() {
            "field" => Ok(Some(RefKind::Field)),
            "tag" => Ok(Some(RefKind::Tag)),
            "float" => Ok(Some(RefKind::Float)),
            "integer" => Ok(Some(RefKind::Integer)),
            "unsigned" => Ok(Some(RefKind::Unsigned)),
            "string" => Ok(Some(RefKind::String)),
            "boolean" => Ok(Some(RefKind::Boolean)),
            // InfluxDB leaves `unsigned` out of the list at the end of the text.
            _ if token.kind == TokenKind::Eof => {
                Err(ParseError::unexpected(&token, &["float", "integer", "string", "boolean", "field", "tag"]))
            }
            _ => Err(ParseError::unexpected(
                &token,
                &["float", "integer", "unsigned", "string", "boolean", "field", "tag"],
            )),
        }
    }

    /// A `/regex/` starting at the next token (a `/`). The text is scanned
    /// directly (`\/` is an escaped slash) and the tokens after it are
    /// re-lexed from the closing slash.
    pub(super) fn regex(&mut self) -> Result<String, ParseError> {
        let open = self.peek().clone();
        let start = open.offset + 1;
        let rest = self.input.get(start..).unwrap_or_default();
        let mut pattern = String::new();
        let mut chars = rest.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '/')) => pattern.push('/'),
                    Some((_, other)) => {
                        pattern.push('\\');
                        pattern.push(other);
                    }
                    None => break,
                },
                '/' => {
                    end = Some(start + i + 1);
                    break;
                }
                '\n' => break,
                c => pattern.push(c),
            }
        }
        let Some(end) = end else {
            return Err(ParseError::message("unterminated regex", open.pos));
        };
        if let Some(message) = super::regex::regex_error(&pattern) {
            // InfluxDB reports it one character before the opening slash.
            let mut pos = open.pos;
            pos.char = pos.char.saturating_sub(1);
            return Err(ParseError::message(message, pos));
        }
        self.relex_from(end);
        Ok(pattern)
    }

    /// Where InfluxDB's parser looks for a regex it peeks at the next
    /// character, and at the end of the text that read moves EOF one
    /// character further (once): `SELECT f(` ends at char 13, not 12.
    pub(super) fn regex_may_follow(&mut self) {
        let Some(last) = self.tokens.len().checked_sub(1) else { return };
        if self.at < last || self.tokens[last].kind != TokenKind::Eof {
            return;
        }
        let eof = &mut self.tokens[last];
        if eof.pos == pos_of(self.input, eof.offset) {
            eof.pos.char += 1;
        }
    }

    /// Replaces the tokens from the current one on with a fresh lexing of
    /// the text from byte `offset`.
    fn relex_from(&mut self, offset: usize) {
        let base = pos_of(self.input, offset);
        let rest = self.input.get(offset..).unwrap_or_default();
        self.tokens.truncate(self.at);
        for mut token in tokenize(rest) {
            token.offset += offset;
            if token.pos.line == 0 {
                token.pos.char += base.char;
            }
            token.pos.line += base.line;
            self.tokens.push(token);
        }
    }
}

/// The line/char position of byte `offset` of `input`.
fn pos_of(input: &str, offset: usize) -> Pos {
    let mut pos = Pos::default();
    for c in input.get(..offset).unwrap_or_default().chars() {
        if c == '\n' {
            pos.line += 1;
            pos.char = 0;
        } else {
            pos.char += 1;
        }
    }
    pos
}

/// The binary operator a token spells, if any.
fn binary_op(kind: TokenKind) -> Option<BinaryOp> {
    Some(match kind {
        TokenKind::Add => BinaryOp::Add,
        TokenKind::Sub => BinaryOp::Sub,
        TokenKind::Mul => BinaryOp::Mul,
        TokenKind::Div => BinaryOp::Div,
        TokenKind::Eq => BinaryOp::Eq,
        TokenKind::Neq => BinaryOp::Neq,
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Lte => BinaryOp::Lte,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Gte => BinaryOp::Gte,
        TokenKind::EqRegex => BinaryOp::EqRegex,
        TokenKind::NeqRegex => BinaryOp::NeqRegex,
        TokenKind::Keyword(Keyword::And) => BinaryOp::And,
        TokenKind::Keyword(Keyword::Or) => BinaryOp::Or,
        _ => return None,
    })
}
