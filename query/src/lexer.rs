//! The lexer: turns query text into [`Token`]s with positions.
//!
//! Hand-written (no generator) so that it matches InfluxDB's scanner token
//! for token: the same keywords, the same duration literals (`1h30m`), the
//! same quoting and escapes, and the same line/char positions in errors.
//! It never fails: text it cannot read becomes an `Illegal`, `BadString` or
//! `BadEscape` token and the parser reports it where it is met.

use crate::token::{Keyword, Pos, Token, TokenKind};

/// Splits `input` into tokens, ending with one `Eof` token. Whitespace and
/// comments (`-- to end of line`, `/* block */`) are skipped.
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut lexer = Lexer::new(input);
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token();
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return tokens;
        }
    }
}

/// Cursor over the query text that tracks the byte offset and the
/// line/char position of the next character.
struct Lexer<'a> {
    input: &'a str,
    offset: usize,
    pos: Pos,
    /// Whether the last token (or trivia) read past the end of the text.
    /// InfluxDB's scanner then reports EOF one character further: a name,
    /// a keyword, whitespace and a `--` comment read the end marker while
    /// looking for their own end, the other tokens stop before it.
    read_past_end: bool,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer { input, offset: 0, pos: Pos::default(), read_past_end: false }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.offset..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.input[self.offset..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.char = 0;
        } else {
            self.pos.char += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(), self.peek_second()) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                    self.read_past_end = self.peek().is_none();
                }
                (Some('-'), Some('-')) => {
                    self.bump_while(|c| c != '\n');
                    self.read_past_end = self.peek().is_none();
                }
                (Some('/'), Some('*')) => {
                    self.read_past_end = false;
                    self.bump();
                    self.bump();
                    while let Some(c) = self.bump() {
                        if c == '*' && self.peek() == Some('/') {
                            self.bump();
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.offset;
        let pos = self.pos;
        let make = |kind: TokenKind, lit: String| Token { kind, lit, pos, offset: start };
        let Some(c) = self.bump() else {
            let mut eof = make(TokenKind::Eof, String::new());
            if self.read_past_end {
                eof.pos.char += 1;
            }
            return eof;
        };
        self.read_past_end = false;
        let punct = |lexer: &mut Self, kind: TokenKind, extra: usize| {
            for _ in 0..extra {
                lexer.bump();
            }
            make(kind, String::new())
        };
        let next = self.peek();
        match c {
            c if is_ident_first(c) => {
                self.bump_while(is_ident_char);
                self.read_past_end = self.peek().is_none();
                let word = &self.input[start..self.offset];
                match Keyword::lookup(word) {
                    Some(kw) => make(TokenKind::Keyword(kw), word.to_string()),
                    None => make(TokenKind::Ident, word.to_string()),
                }
            }
            // InfluxDB's scanner reports quoted tokens at quirky positions:
            // a name at its quote, a string (and any unterminated quote) one
            // character before it, a bad escape at the escaped character.
            // Clients see these positions, so they are reproduced.
            '"' | '\'' => {
                let (kind, lit, escape_pos) = self.quoted(c);
                let mut token = make(kind, lit);
                match kind {
                    TokenKind::String if c == '"' => token.kind = TokenKind::QuotedIdent,
                    TokenKind::BadEscape => token.pos = escape_pos,
                    _ => token.pos.char = token.pos.char.saturating_sub(1),
                }
                token
            }
            c if c.is_ascii_digit() => self.number(start, pos),
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(start, pos),
            ';' => punct(self, TokenKind::Semicolon, 0),
            ',' => punct(self, TokenKind::Comma, 0),
            '.' => punct(self, TokenKind::Dot, 0),
            '(' => punct(self, TokenKind::LParen, 0),
            ')' => punct(self, TokenKind::RParen, 0),
            '+' => punct(self, TokenKind::Add, 0),
            '-' => punct(self, TokenKind::Sub, 0),
            '*' => punct(self, TokenKind::Mul, 0),
            '/' => punct(self, TokenKind::Div, 0),
            '%' => punct(self, TokenKind::Mod, 0),
            '&' => punct(self, TokenKind::BitAnd, 0),
            '|' => punct(self, TokenKind::BitOr, 0),
            '^' => punct(self, TokenKind::BitXor, 0),
            '=' if next == Some('~') => punct(self, TokenKind::EqRegex, 1),
            '=' => punct(self, TokenKind::Eq, 0),
            '!' if next == Some('=') => punct(self, TokenKind::Neq, 1),
            '!' if next == Some('~') => punct(self, TokenKind::NeqRegex, 1),
            '<' if next == Some('=') => punct(self, TokenKind::Lte, 1),
            '<' if next == Some('>') => punct(self, TokenKind::Neq, 1),
            '<' => punct(self, TokenKind::Lt, 0),
            '>' if next == Some('=') => punct(self, TokenKind::Gte, 1),
            '>' => punct(self, TokenKind::Gt, 0),
            ':' if next == Some(':') => punct(self, TokenKind::DoubleColon, 1),
            ':' => punct(self, TokenKind::Colon, 0),
            other => make(TokenKind::Illegal, other.to_string()),
        }
    }

    /// Reads a quoted string or name after its opening quote. Returns the
    /// unescaped text, or `BadString`/`BadEscape` with what was read so far,
    /// and where the last escaped character was.
    fn quoted(&mut self, quote: char) -> (TokenKind, String, Pos) {
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => return (TokenKind::BadString, out, self.pos),
                Some(c) if c == quote => {
                    self.bump();
                    return (TokenKind::String, out, self.pos);
                }
                Some('\\') => {
                    self.bump();
                    let escape_pos = self.pos;
                    match self.bump() {
                        Some('n') => out.push('\n'),
                        Some('\\') => out.push('\\'),
                        Some('"') => out.push('"'),
                        Some('\'') => out.push('\''),
                        Some(other) => return (TokenKind::BadEscape, format!("\\{other}"), escape_pos),
                        None => return (TokenKind::BadString, out, self.pos),
                    }
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }

    /// Reads an integer, a decimal number, or a duration (digits followed by
    /// unit letters, possibly repeated: `1h30m`). The first character is
    /// already consumed.
    fn number(&mut self, start: usize, pos: Pos) -> Token {
        self.bump_while(|c| c.is_ascii_digit());
        let mut kind = TokenKind::Integer;
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
            kind = TokenKind::Number;
        } else if self.input[start..].starts_with('.') {
            // A leading-dot number such as `.5`.
            kind = TokenKind::Number;
        } else if self.peek().is_some_and(is_unit_char) {
            self.bump_while(|c| is_unit_char(c) || c.is_ascii_digit());
            kind = TokenKind::Duration;
        }
        Token { kind, lit: self.input[start..self.offset].to_string(), pos, offset: start }
    }
}

fn is_ident_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_unit_char(c: char) -> bool {
    c.is_ascii_alphabetic() || c == 'µ'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn keywords_idents_and_punctuation() {
        let toks = tokenize("SHOW databases; \"my db\".x");
        let got: Vec<(TokenKind, &str)> = toks.iter().map(|t| (t.kind, t.lit.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (TokenKind::Keyword(Keyword::Show), "SHOW"),
                (TokenKind::Keyword(Keyword::Databases), "databases"),
                (TokenKind::Semicolon, ""),
                (TokenKind::QuotedIdent, "my db"),
                (TokenKind::Dot, ""),
                (TokenKind::Ident, "x"),
                (TokenKind::Eof, ""),
            ]
        );
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(
            kinds("1 1.5 .5 7d 1h30m 10µs 1x"),
            vec![
                TokenKind::Integer,
                TokenKind::Number,
                TokenKind::Number,
                TokenKind::Duration,
                TokenKind::Duration,
                TokenKind::Duration,
                TokenKind::Duration,
                TokenKind::Eof
            ]
        );
        assert_eq!(tokenize("1h30m")[0].lit, "1h30m");
    }

    #[test]
    fn operators() {
        assert_eq!(
            kinds("= != <> < <= > >= =~ !~ :: :"),
            vec![
                TokenKind::Eq,
                TokenKind::Neq,
                TokenKind::Neq,
                TokenKind::Lt,
                TokenKind::Lte,
                TokenKind::Gt,
                TokenKind::Gte,
                TokenKind::EqRegex,
                TokenKind::NeqRegex,
                TokenKind::DoubleColon,
                TokenKind::Colon,
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn strings_escapes_and_bad_strings() {
        let toks = tokenize(r#"'it\'s' "a\"b" 'open"#);
        assert_eq!((toks[0].kind, toks[0].lit.as_str()), (TokenKind::String, "it's"));
        assert_eq!((toks[1].kind, toks[1].lit.as_str()), (TokenKind::QuotedIdent, "a\"b"));
        assert_eq!((toks[2].kind, toks[2].lit.as_str()), (TokenKind::BadString, "open"));
        assert_eq!(tokenize(r"'\q'")[0].kind, TokenKind::BadEscape);
    }

    #[test]
    fn comments_are_skipped_and_positions_tracked() {
        let toks = tokenize("-- note\nSHOW /* x */ DATABASES");
        assert_eq!(toks[0].pos, Pos { line: 1, char: 0 });
        assert_eq!(toks[1].pos, Pos { line: 1, char: 13 });
        assert_eq!(toks[1].offset, 21);
    }

    #[test]
    fn eof_position_follows_influxdb() {
        // A name, a keyword, whitespace or a `--` comment read past the
        // end, so EOF is one character further; other tokens do not.
        let eof = |input: &str| tokenize(input).last().map(|t| t.pos.char);
        assert_eq!(eof("SELECT *"), Some(8));
        assert_eq!(eof("SELECT * "), Some(10));
        assert_eq!(eof("GROUP BY"), Some(9));
        assert_eq!(eof("f(x)"), Some(4));
        assert_eq!(eof("x = 'a'"), Some(7));
        assert_eq!(eof("x = 1"), Some(5));
        assert_eq!(eof("x -- c"), Some(7));
        assert_eq!(eof("x /* c */"), Some(9));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in ["", "\"", "'", "\\", "µ", "1µ", "/*", "--", "💥 SHOW", "1.", "..", "!"] {
            let toks = tokenize(input);
            assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Eof));
        }
    }
}
