//! Checks a regex literal when it is parsed, as InfluxDB does.
//!
//! InfluxDB compiles every `/regex/` in its parser, so a bad one is a 400
//! parse error (`error parsing regexp: missing closing ]: `[` at line 1,
//! char 29`) rather than a statement error. The messages are Go's `regexp`
//! package's; the common kinds are mapped from `regex-syntax`'s errors,
//! the rest keep Rust's description after the same prefix.

use regex_syntax::ast::ErrorKind;

/// Go's wording of why `pattern` does not compile, or `None` if it parses.
pub(super) fn regex_error(pattern: &str) -> Option<String> {
    let error = regex_syntax::Parser::new().parse(pattern).err()?;
    let detail = match &error {
        regex_syntax::Error::Parse(e) => go_wording(pattern, e),
        regex_syntax::Error::Translate(e) => e.kind().to_string(),
        other => other.to_string(),
    };
    Some(format!("error parsing regexp: {detail}"))
}

/// Go's `code: `expr`` for the error kinds Go and Rust share.
fn go_wording(pattern: &str, error: &regex_syntax::ast::Error) -> String {
    let span = error.span();
    let from_start = pattern.get(span.start.offset..).unwrap_or_default();
    let mut spanned = pattern.get(span.start.offset..span.end.offset).unwrap_or_default();
    if spanned.is_empty() {
        // An empty span points at the operator or character at fault.
        spanned = from_start.get(..from_start.chars().next().map_or(0, char::len_utf8)).unwrap_or_default();
    }
    match error.kind() {
        ErrorKind::ClassUnclosed => format!("missing closing ]: `{from_start}`"),
        ErrorKind::GroupUnclosed => format!("missing closing ): `{pattern}`"),
        ErrorKind::GroupUnopened => format!("unexpected ): `{pattern}`"),
        ErrorKind::RepetitionMissing => format!("missing argument to repetition operator: `{spanned}`"),
        ErrorKind::ClassRangeInvalid => format!("invalid character class range: `{spanned}`"),
        ErrorKind::EscapeUnrecognized => format!("invalid escape sequence: `{spanned}`"),
        ErrorKind::EscapeUnexpectedEof => "trailing backslash at end of expression: ``".to_string(),
        ErrorKind::RepetitionCountInvalid => format!("invalid repeat count: `{spanned}`"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::regex_error;

    #[test]
    fn worded_as_go() {
        assert_eq!(regex_error("^a.*b$"), None);
        assert_eq!(regex_error("[").as_deref(), Some("error parsing regexp: missing closing ]: `[`"));
        assert_eq!(regex_error("a[bc").as_deref(), Some("error parsing regexp: missing closing ]: `[bc`"));
        assert_eq!(regex_error("(a").as_deref(), Some("error parsing regexp: missing closing ): `(a`"));
        assert_eq!(regex_error("a)").as_deref(), Some("error parsing regexp: unexpected ): `a)`"));
        assert_eq!(
            regex_error("*").as_deref(),
            Some("error parsing regexp: missing argument to repetition operator: `*`")
        );
        assert_eq!(regex_error("[z-a]").as_deref(), Some("error parsing regexp: invalid character class range: `z-a`"));
        assert_eq!(regex_error("a{2,1}").as_deref(), Some("error parsing regexp: invalid repeat count: `{2,1}`"));
    }
}
