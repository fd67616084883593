//! Property tests of the AQL parser: whatever the text, parsing returns
//! (never panics); an error points inside the text; and every statement
//! that parses prints (`Display`) as text that parses back to the same
//! statement, which is what `SHOW CONTINUOUS QUERIES`, `SHOW QUERIES` and
//! the audit log rely on.
//!
//! Inputs are drawn two ways: arbitrary Unicode text, and "token soup" —
//! sequences of AQL's own keywords, names, literals and punctuation — which
//! reaches far deeper into the grammar than random characters do. The
//! `cargo fuzz` target in `query/fuzz` checks the same properties on
//! coverage-guided input.

use augur_query::parse_query;
use proptest::prelude::*;

/// Pieces of AQL text the soup is made of.
const PIECES: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "time",
    "fill(",
    "FILL(none)",
    "fill(previous)",
    "fill(linear)",
    "LIMIT",
    "OFFSET",
    "SLIMIT",
    "SOFFSET",
    "INTO",
    "AND",
    "OR",
    "DESC",
    "ASC",
    "tz('Europe/Paris')",
    "SHOW",
    "DATABASES",
    "MEASUREMENTS",
    "SERIES",
    "TAG",
    "KEYS",
    "VALUES",
    "WITH KEY",
    "FIELD",
    "RETENTION POLICIES",
    "ON",
    "CREATE",
    "DROP",
    "DATABASE",
    "DELETE",
    "CONTINUOUS QUERY",
    "BEGIN",
    "END",
    "RESAMPLE EVERY",
    "FOR",
    "KILL QUERY",
    "QUERIES",
    "CARDINALITY",
    "EXACT",
    "DURATION",
    "REPLICATION",
    "DEFAULT",
    "ALTER",
    "USER",
    "PASSWORD",
    "GRANT",
    "REVOKE",
    "ALL",
    "PRIVILEGES",
    "MODELS",
    "FORECAST",
    "ACCURACY",
    "mean(",
    "count(",
    "max(",
    "top(",
    "percentile(",
    "derivative(",
    "moving_average(",
    "holt_winters(",
    "forecast(",
    "distinct(",
    "now()",
    "cpu",
    "host",
    "v",
    "\"a b\"",
    "\"select\"",
    "db..cpu",
    "db.rp.cpu",
    "/^c.*/",
    "/a\\/b/",
    "'text'",
    "'it''s'",
    "'x\\'y'",
    "$p",
    "1",
    "0",
    "-1",
    "2.5",
    "1e3",
    "18446744073709551615",
    "9223372036854775808",
    "5m",
    "1h",
    "10s",
    "1d",
    "1w",
    "1ns",
    "1u",
    "1µs",
    "'2024-01-01T00:00:00Z'",
    "::field",
    "::tag",
    "::integer",
    "*",
    "+",
    "-",
    "/",
    "%",
    "&",
    "|",
    "^",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "!~",
    "(",
    ")",
    ",",
    ";",
    "=>",
    "model",
    "'ets'",
    "true",
    "FALSE",
    "--",
    "\n",
];

fn soup() -> impl Strategy<Value = String> {
    pieces(0..40)
}

fn pieces(count: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), count).prop_map(|pieces| pieces.join(" "))
}

/// Near-valid statements: a valid skeleton with soup spliced in.
fn near_valid() -> impl Strategy<Value = String> {
    let skeletons = prop::sample::select(&[
        "SELECT mean(v) FROM cpu WHERE time > now() - 1h GROUP BY time(5m), host fill(none)",
        "SELECT v, host FROM db.rp.cpu WHERE host =~ /^a/ AND v > 1 ORDER BY time DESC LIMIT 10",
        "SHOW TAG VALUES ON db FROM cpu WITH KEY = host WHERE v = 'x' LIMIT 2",
        "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 5m BEGIN SELECT max(v) INTO out FROM cpu GROUP BY time(1m), * END",
        "SELECT forecast(mean(v), 12, model => 'ets', level => 95) FROM cpu GROUP BY time(5m)",
        "SELECT top(v, host, 3) FROM (SELECT v FROM cpu WHERE host != 'b') tz('UTC')",
        "DELETE FROM cpu WHERE host = 'a' AND time < '2024-01-01T00:00:00Z'",
    ][..]);
    (skeletons, pieces(0..3), 0usize..200).prop_map(|(skeleton, filler, at)| {
        let cut = skeleton.char_indices().map(|(i, _)| i).nth(at % skeleton.chars().count().max(1)).unwrap_or(0);
        format!("{}{filler}{}", &skeleton[..cut], &skeleton[cut..])
    })
}

/// Cases per property: 2,000, or `PROPTEST_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

/// The properties every input must have.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse_query(text) {
        Err(error) => {
            let lines: Vec<&str> = text.split('\n').collect();
            let line = error.pos.line as usize;
            prop_assert!(line < lines.len().max(1), "{error} is past the last line of {text:?}");
            let width = lines.get(line).map_or(0, |l| l.chars().count());
            prop_assert!(error.pos.char as usize <= width + 2, "{error} is past the end of line {line} of {text:?}");
            prop_assert!(!error.to_string().is_empty());
        }
        Ok(query) => {
            for statement in &query.statements {
                let printed = statement.to_string();
                let again = parse_query(&printed).map_err(|e| {
                    TestCaseError::fail(format!("{text:?} printed as {printed:?}, which does not parse: {e}"))
                })?;
                prop_assert_eq!(
                    again.statements.as_slice(),
                    std::slice::from_ref(statement),
                    "{:?} printed as {:?}",
                    text,
                    printed
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        check(&text)?;
    }

    #[test]
    fn token_soup_errors_point_inside_and_statements_round_trip(text in soup()) {
        check(&text)?;
    }

    #[test]
    fn near_valid_statements_round_trip(text in near_valid()) {
        check(&text)?;
    }
}

#[test]
fn the_skeletons_themselves_round_trip() {
    for text in [
        "SELECT mean(v) FROM cpu WHERE time > now() - 1h GROUP BY time(5m), host fill(none)",
        "SHOW QUERIES; KILL QUERY 3",
        "SELECT m * -abs(v), - -v, -1 * -v, 2 - -v, -(v + 1), -1 * 2 FROM cpu",
        "SELECT v::float + 2 * (v % 3) AS x FROM /^c/ WHERE s = 'it''s' OR s !~ /a\\/b/ SLIMIT 2 SOFFSET 1",
    ] {
        if let Err(e) = check(text) {
            panic!("{e}");
        }
    }
}
