//! Tokens of AQL (Augur's InfluxQL dialect): their kinds, keywords and source
//! positions.
//!
//! Why a separate module: the lexer produces these and the parser consumes
//! them, and parse errors must print a token exactly the way InfluxDB does
//! (`found FOO, expected ...`), so how a token renders is defined once, here.

use std::fmt;

/// A position in the query text, zero-based, as InfluxDB's scanner counts it.
///
/// Rendered one-based (`line 1, char 6`), which is what clients see in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, counting from 0.
    pub line: u32,
    /// Character (Unicode scalar) within the line, counting from 0.
    pub char: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, char {}", self.line + 1, self.char + 1)
    }
}

/// Reserved words. Matched case-insensitively; a keyword can still be used as
/// a name when double-quoted (`"database"`).
///
/// The list is InfluxQL 1.x's, including words of statements Augur does not
/// execute yet, so that the grammar can grow without changing what is an
/// identifier and what is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is its own spelling
pub enum Keyword {
    All,
    Alter,
    Analyze,
    And,
    Any,
    As,
    Asc,
    Begin,
    By,
    Cardinality,
    Continuous,
    Create,
    Database,
    Databases,
    Default,
    Delete,
    Desc,
    Destinations,
    Diagnostics,
    Distinct,
    Drop,
    Duration,
    End,
    Every,
    Exact,
    Explain,
    False,
    Field,
    For,
    From,
    Grant,
    Grants,
    Group,
    Groups,
    In,
    Inf,
    Insert,
    Into,
    Key,
    Keys,
    Kill,
    Limit,
    Measurement,
    Measurements,
    Name,
    Offset,
    On,
    Or,
    Order,
    Password,
    Policies,
    Policy,
    Privileges,
    Queries,
    Query,
    Read,
    Replication,
    Resample,
    Retention,
    Revoke,
    Select,
    Series,
    Set,
    Shard,
    Shards,
    Show,
    Slimit,
    Soffset,
    Stats,
    Subscription,
    Subscriptions,
    Tag,
    To,
    True,
    User,
    Users,
    Values,
    Where,
    With,
    Write,
}

/// Every keyword with its canonical (upper-case) spelling.
const KEYWORDS: &[(Keyword, &str)] = &[
    (Keyword::All, "ALL"),
    (Keyword::Alter, "ALTER"),
    (Keyword::Analyze, "ANALYZE"),
    (Keyword::And, "AND"),
    (Keyword::Any, "ANY"),
    (Keyword::As, "AS"),
    (Keyword::Asc, "ASC"),
    (Keyword::Begin, "BEGIN"),
    (Keyword::By, "BY"),
    (Keyword::Cardinality, "CARDINALITY"),
    (Keyword::Continuous, "CONTINUOUS"),
    (Keyword::Create, "CREATE"),
    (Keyword::Database, "DATABASE"),
    (Keyword::Databases, "DATABASES"),
    (Keyword::Default, "DEFAULT"),
    (Keyword::Delete, "DELETE"),
    (Keyword::Desc, "DESC"),
    (Keyword::Destinations, "DESTINATIONS"),
    (Keyword::Diagnostics, "DIAGNOSTICS"),
    (Keyword::Distinct, "DISTINCT"),
    (Keyword::Drop, "DROP"),
    (Keyword::Duration, "DURATION"),
    (Keyword::End, "END"),
    (Keyword::Every, "EVERY"),
    (Keyword::Exact, "EXACT"),
    (Keyword::Explain, "EXPLAIN"),
    (Keyword::False, "FALSE"),
    (Keyword::Field, "FIELD"),
    (Keyword::For, "FOR"),
    (Keyword::From, "FROM"),
    (Keyword::Grant, "GRANT"),
    (Keyword::Grants, "GRANTS"),
    (Keyword::Group, "GROUP"),
    (Keyword::Groups, "GROUPS"),
    (Keyword::In, "IN"),
    (Keyword::Inf, "INF"),
    (Keyword::Insert, "INSERT"),
    (Keyword::Into, "INTO"),
    (Keyword::Key, "KEY"),
    (Keyword::Keys, "KEYS"),
    (Keyword::Kill, "KILL"),
    (Keyword::Limit, "LIMIT"),
    (Keyword::Measurement, "MEASUREMENT"),
    (Keyword::Measurements, "MEASUREMENTS"),
    (Keyword::Name, "NAME"),
    (Keyword::Offset, "OFFSET"),
    (Keyword::On, "ON"),
    (Keyword::Or, "OR"),
    (Keyword::Order, "ORDER"),
    (Keyword::Password, "PASSWORD"),
    (Keyword::Policies, "POLICIES"),
    (Keyword::Policy, "POLICY"),
    (Keyword::Privileges, "PRIVILEGES"),
    (Keyword::Queries, "QUERIES"),
    (Keyword::Query, "QUERY"),
    (Keyword::Read, "READ"),
    (Keyword::Replication, "REPLICATION"),
    (Keyword::Resample, "RESAMPLE"),
    (Keyword::Retention, "RETENTION"),
    (Keyword::Revoke, "REVOKE"),
    (Keyword::Select, "SELECT"),
    (Keyword::Series, "SERIES"),
    (Keyword::Set, "SET"),
    (Keyword::Shard, "SHARD"),
    (Keyword::Shards, "SHARDS"),
    (Keyword::Show, "SHOW"),
    (Keyword::Slimit, "SLIMIT"),
    (Keyword::Soffset, "SOFFSET"),
    (Keyword::Stats, "STATS"),
    (Keyword::Subscription, "SUBSCRIPTION"),
    (Keyword::Subscriptions, "SUBSCRIPTIONS"),
    (Keyword::Tag, "TAG"),
    (Keyword::To, "TO"),
    (Keyword::True, "TRUE"),
    (Keyword::User, "USER"),
    (Keyword::Users, "USERS"),
    (Keyword::Values, "VALUES"),
    (Keyword::Where, "WHERE"),
    (Keyword::With, "WITH"),
    (Keyword::Write, "WRITE"),
];

impl Keyword {
    /// The keyword spelled by `word`, ignoring case; `None` for a plain name.
    pub fn lookup(word: &str) -> Option<Keyword> {
        KEYWORDS.iter().find(|(_, spelling)| spelling.eq_ignore_ascii_case(word)).map(|(kw, _)| *kw)
    }

    /// The canonical upper-case spelling (what error messages list).
    pub fn as_str(self) -> &'static str {
        KEYWORDS.iter().find(|(kw, _)| *kw == self).map(|(_, spelling)| *spelling).unwrap_or("?")
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of token the lexer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// End of input.
    Eof,
    /// A character that starts no token.
    Illegal,
    /// An unquoted name (`cpu`, `my_db`).
    Ident,
    /// A double-quoted name (`"my db"`); never a keyword.
    QuotedIdent,
    /// A reserved word.
    Keyword(Keyword),
    /// A single-quoted string literal (`'text'`), unescaped.
    String,
    /// A string or quoted name with no closing quote.
    BadString,
    /// A string or quoted name with an unknown escape (`\q`).
    BadEscape,
    /// An integer literal (`42`).
    Integer,
    /// A float literal (`4.2`).
    Number,
    /// A duration literal (`7d`, `1h30m`); validated by the parser.
    Duration,
    /// `;`
    Semicolon,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `::`
    DoubleColon,
    /// `:`
    Colon,
}

impl TokenKind {
    /// How InfluxDB names this kind of token when the token has no literal
    /// text of its own (`EOF`, `;`, `,`).
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Eof => "EOF",
            TokenKind::Illegal => "ILLEGAL",
            TokenKind::Ident | TokenKind::QuotedIdent => "IDENT",
            TokenKind::Keyword(kw) => kw.as_str(),
            TokenKind::String => "STRING",
            TokenKind::BadString => "BADSTRING",
            TokenKind::BadEscape => "BADESCAPE",
            TokenKind::Integer => "INTEGER",
            TokenKind::Number => "NUMBER",
            TokenKind::Duration => "DURATIONVAL",
            TokenKind::Semicolon => ";",
            TokenKind::Comma => ",",
            TokenKind::Dot => ".",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::Eq => "=",
            TokenKind::Neq => "!=",
            TokenKind::Lt => "<",
            TokenKind::Lte => "<=",
            TokenKind::Gt => ">",
            TokenKind::Gte => ">=",
            TokenKind::EqRegex => "=~",
            TokenKind::NeqRegex => "!~",
            TokenKind::Add => "+",
            TokenKind::Sub => "-",
            TokenKind::Mul => "*",
            TokenKind::Div => "/",
            TokenKind::Mod => "%",
            TokenKind::BitAnd => "&",
            TokenKind::BitOr => "|",
            TokenKind::BitXor => "^",
            TokenKind::DoubleColon => "::",
            TokenKind::Colon => ":",
        }
    }

    /// Whether this token can name something (a database, a policy).
    pub fn is_ident(self) -> bool {
        matches!(self, TokenKind::Ident | TokenKind::QuotedIdent)
    }
}

/// One token with its text and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Its value: a name or string unquoted and unescaped, a keyword or
    /// number as written; empty for punctuation and EOF.
    pub lit: String,
    /// Line and character where it starts.
    pub pos: Pos,
    /// Byte offset where it starts in the query text (to slice statements).
    pub offset: usize,
}

impl Token {
    /// The token as InfluxDB prints it after `found`: its text if it has
    /// any, otherwise the name of its kind.
    pub fn found(&self) -> String {
        if self.lit.is_empty() {
            self.kind.describe().to_string()
        } else {
            self.lit.clone()
        }
    }

    /// Whether this is the given keyword.
    pub fn is(&self, kw: Keyword) -> bool {
        self.kind == TokenKind::Keyword(kw)
    }

    /// Whether this is an unquoted name spelled `word` (any case): used for
    /// contextual words such as `IF NOT EXISTS` that are not reserved.
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == TokenKind::Ident && self.lit.eq_ignore_ascii_case(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_round_trip() {
        assert_eq!(Keyword::lookup("cpu"), None);
        assert_eq!(Keyword::lookup("show"), Some(Keyword::Show));
        assert_eq!(Keyword::lookup("dAtAbAsEs"), Some(Keyword::Databases));
        for (kw, spelling) in KEYWORDS {
            assert_eq!(Keyword::lookup(spelling), Some(*kw));
            assert_eq!(kw.as_str(), *spelling);
        }
    }

    #[test]
    fn positions_render_one_based() {
        assert_eq!(Pos { line: 0, char: 5 }.to_string(), "line 1, char 6");
    }
}
