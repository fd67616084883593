//! Unit tests: one per grammar rule and per error, with the expected line and
//! column of every error.

use super::LineErrorKind as K;
use super::*;
use crate::model::{FieldValue as V, Point, Precision};

/// Parses `input` in nanoseconds.
fn parse_ns(input: &str) -> ParsedBatch {
    parse(input.as_bytes(), Precision::Nanoseconds)
}

/// Parses a single valid line.
fn point(input: &str) -> Point {
    let batch = parse_ns(input);
    assert!(batch.errors.is_empty(), "{input:?}: {:?}", batch.errors);
    assert_eq!(batch.points.len(), 1, "{input:?}");
    batch.points.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// Parses a single invalid line; returns (line, column, kind).
fn error(input: &str) -> (usize, usize, K) {
    let batch = parse_ns(input);
    assert!(batch.points.is_empty(), "{input:?}: {:?}", batch.points);
    assert_eq!(batch.errors.len(), 1, "{input:?}: {:?}", batch.errors);
    let e = &batch.errors[0];
    assert_eq!(e.message, e.kind.to_string());
    (e.line, e.column, e.kind)
}

/// The value of the only field of a one-line input.
fn value(input: &str) -> V {
    let p = point(input);
    assert_eq!(p.fields.len(), 1);
    p.fields[0].1.clone()
}

fn s(x: &str) -> String {
    x.to_string()
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (s(k), s(v))).collect()
}

// ---------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------

#[test]
fn full_line() {
    let p = point("cpu,host=a,region=eu usage=1.5,count=3i,ok=true,msg=\"hi\" 1700000000000000000");
    assert_eq!(
        p,
        Point {
            measurement: s("cpu"),
            tags: tags(&[("host", "a"), ("region", "eu")]),
            fields: vec![
                (s("usage"), V::Float(1.5)),
                (s("count"), V::Integer(3)),
                (s("ok"), V::Boolean(true)),
                (s("msg"), V::String(s("hi"))),
            ],
            timestamp: Some(1_700_000_000_000_000_000),
        }
    );
}

#[test]
fn minimal_line_has_no_tags_and_no_timestamp() {
    let p = point("cpu value=1");
    assert_eq!(p.measurement, "cpu");
    assert!(p.tags.is_empty());
    assert_eq!(p.fields, vec![(s("value"), V::Float(1.0))]);
    assert_eq!(p.timestamp, None);
}

#[test]
fn tags_are_sorted_by_key() {
    let p = point("cpu,z=1,a=2,m=3 v=1");
    assert_eq!(p.tags, tags(&[("a", "2"), ("m", "3"), ("z", "1")]));
}

#[test]
fn duplicate_tag_keys_are_rejected_at_the_second_occurrence() {
    assert_eq!(error("cpu,a=1,b=2,a=3 v=1"), (1, 13, K::DuplicateTags));
    // Unsorted input: still the second occurrence in the line.
    assert_eq!(error("cpu,b=1,a=2,b=2,a=1 v=1"), (1, 13, K::DuplicateTags));
    // Equal after unescaping.
    assert_eq!(error("cpu,a\\ b=1,a\\ b=2 v=1"), (1, 12, K::DuplicateTags));
    // Keys differing only in case are different.
    assert_eq!(point("cpu,a=1,A=2 v=1").tags, tags(&[("A", "2"), ("a", "1")]));
}

#[test]
fn duplicate_fields_keep_the_last_value() {
    // The key stays where it first appeared.
    let p = point("cpu a=1,b=2,a=3");
    assert_eq!(p.fields, vec![(s("a"), V::Float(3.0)), (s("b"), V::Float(2.0))]);
    // Many fields: the sort-based path.
    let mut line = String::from("m ");
    for i in 0..40 {
        line.push_str(&format!("f{i}={i}i,"));
    }
    line.push_str("f7=\"last\"");
    let p = point(&line);
    assert_eq!(p.fields.len(), 40);
    assert_eq!(p.fields.get(7), Some(&(s("f7"), V::String(s("last")))));
    assert!(!p.fields.iter().any(|(k, v)| k == "f7" && *v == V::Integer(7)));
}

#[test]
fn a_later_key_starting_with_a_tab_never_becomes_the_first_field() {
    // Found by the fuzz target: with the duplicate moved to its last
    // position, `\tb` came first and lost its tab when written and read back.
    let p = point("cpu a=1,\tb=2,a=true");
    assert_eq!(p.fields, vec![(s("a"), V::Boolean(true)), (s("\tb"), V::Float(2.0))]);
    let mut line = String::new();
    assert!(write_point(&mut line, &p));
    assert_eq!(point(&line), p, "{line:?}");
}

#[test]
fn blank_lines_comments_and_line_numbers() {
    let input = "\n# a comment\n   # indented comment with \"quote\n\t\ncpu v=1\r\n\r\n  cpu v=2\n#\nmem v=3";
    let batch = parse_ns(input);
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(batch.points.len(), 3);
    assert_eq!(batch.line_numbers, vec![5, 7, 9]);
    assert_eq!(batch.points[1].measurement, "cpu");
    assert_eq!(batch.points[2].measurement, "mem");
}

#[test]
fn empty_and_whitespace_only_input() {
    assert_eq!(parse_ns(""), ParsedBatch::default());
    assert_eq!(parse_ns("\n\n \t \r\n"), ParsedBatch::default());
}

#[test]
fn whitespace_rules() {
    // Leading spaces and tabs, trailing spaces, tabs and CR.
    assert_eq!(point(" \t cpu v=1 \t\r").measurement, "cpu");
    // Runs of spaces between sections.
    let p = point("cpu,a=b   v=1,w=2i    17   ");
    assert_eq!(p.timestamp, Some(17));
    assert_eq!(p.fields.len(), 2);
    // Tabs after a separating space are skipped too (InfluxDB 1.x)...
    let p = point("cpu \t v=1 \t5");
    assert_eq!((p.fields[0].0.as_str(), p.timestamp), ("v", Some(5)));
    // ...but a tab alone separates nothing: it belongs to the name.
    assert_eq!(point("cpu v\tx=1").fields[0].0, "v\tx");
    assert_eq!(point("c\tpu v=1").measurement, "c\tpu");
    assert_eq!(error("cpu v=1\t5"), (1, 7, K::InvalidNumber));
}

#[test]
fn crlf_line_endings() {
    let batch = parse_ns("a v=1 1\r\nb v=\"x\" 2\r\nc v=t\r\n");
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(batch.points.len(), 3);
    assert_eq!(batch.points[1].fields[0].1, V::String(s("x")));
    assert_eq!(batch.points[2].fields[0].1, V::Boolean(true));
}

// ---------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------

#[test]
fn measurement_escapes() {
    assert_eq!(point("my\\ cpu\\,x v=1").measurement, "my cpu,x");
    // `=` is not special in a measurement: neither needs nor takes escaping.
    assert_eq!(point("a=b v=1").measurement, "a=b");
    assert_eq!(point("a\\=b v=1").measurement, "a\\=b");
    // Quotes and hashes are ordinary characters after the first position.
    assert_eq!(point("a\"b#c v=1").measurement, "a\"b#c");
    // A leading escaped space is part of the name.
    assert_eq!(point("\\ cpu v=1").measurement, " cpu");
}

#[test]
fn tag_and_field_key_escapes() {
    let p = point("m,a\\ b\\=c\\,d=e\\ f\\=g\\,h x\\ y\\=z\\,w=1");
    assert_eq!(p.tags, tags(&[("a b=c,d", "e f=g,h")]));
    assert_eq!(p.fields[0].0, "x y=z,w");
}

#[test]
fn backslash_rules() {
    // Before an ordinary character a backslash is literal.
    assert_eq!(point("C:\\temp,p=C:\\dir v=1").measurement, "C:\\temp");
    assert_eq!(point("m,p=C:\\dir v=1").tags[0].1, "C:\\dir");
    // So is a backslash before another backslash: in names `\\` is two
    // backslashes, as in InfluxDB 1.x (UNC paths arrive unescaped).
    assert_eq!(point("m,share=\\\\srv\\share v=1").tags[0].1, "\\\\srv\\share");
    assert_eq!(point("a\\\\b v=1").measurement, "a\\\\b");
    // A backslash right before a special escapes it, whatever precedes it.
    assert_eq!(point("m,t=a\\\\\\,b v=1").tags[0].1, "a\\\\,b");
    assert_eq!(point("m f\\\\\\=g=1").fields[0].0, "f\\\\=g");
    // `=` is not special in a measurement, so there `\=` is two characters.
    assert_eq!(point("a\\=b v=1").measurement, "a\\=b");
    // Hence no name can end with a backslash: it escapes the delimiter after
    // it (InfluxDB 1.x rejects these lines the same way).
    assert_eq!(error("m,k=v\\ f=1"), (1, 5, K::InvalidTagFormat));
    assert_eq!(error("m,k=v\\\\ f=1"), (1, 5, K::InvalidTagFormat));
    assert_eq!(error("m,k=v\\ f"), (1, 9, K::MissingFields));
    assert_eq!(error("m f\\=1"), (1, 3, K::InvalidFieldFormat));
}

#[test]
fn unicode_names_and_values() {
    let p = point("温度,地点=東京 值=21.5,note=\"naïve 😀\"");
    assert_eq!(p.measurement, "温度");
    assert_eq!(p.tags, tags(&[("地点", "東京")]));
    assert_eq!(p.fields[1].1, V::String(s("naïve 😀")));
}

// ---------------------------------------------------------------------------
// Field values
// ---------------------------------------------------------------------------

#[test]
fn floats() {
    for (text, want) in [
        ("1", 1.0),
        ("-1", -1.0),
        ("1.5", 1.5),
        ("-1.5e10", -1.5e10),
        (".5", 0.5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1E5", 1e5),
        ("1e+5", 1e5),
        ("1e-5", 1e-5),
        ("0", 0.0),
        ("007.25", 7.25),
        ("1.7976931348623157e308", f64::MAX),
        ("5e-324", 5e-324),
        ("1e-400", 0.0),
        ("0.1", 0.1),
    ] {
        assert_eq!(value(&format!("m v={text}")), V::Float(want), "{text}");
    }
    assert_eq!(value("m v=-0"), V::Float(0.0));
}

#[test]
fn invalid_floats() {
    for text in
        ["+1", "1.2.3", "1e", "1e+", "-", ".", "-.", "1x", "1.5.", "--1", "1e5.5", "0x10", "1_000", "-e5", ".e5"]
    {
        let line = format!("m v={text}");
        assert_eq!(error(&line), (1, 5, K::InvalidNumber), "{text}");
    }
    for text in ["NaN", "nan", "inf", "Infinity", "abc", "yes", "\\1"] {
        let line = format!("m v={text}");
        assert_eq!(error(&line), (1, 5, K::InvalidFieldValue), "{text}");
    }
    assert_eq!(error("m v=-inf"), (1, 5, K::InvalidNumber));
    assert_eq!(error("m v=1e400"), (1, 5, K::FloatOutOfRange));
    assert_eq!(error("m v=-1e400"), (1, 5, K::FloatOutOfRange));
}

#[test]
fn integers() {
    assert_eq!(value("m v=1i"), V::Integer(1));
    assert_eq!(value("m v=-1i"), V::Integer(-1));
    assert_eq!(value("m v=0i"), V::Integer(0));
    assert_eq!(value("m v=-0i"), V::Integer(0));
    assert_eq!(value("m v=9223372036854775807i"), V::Integer(i64::MAX));
    assert_eq!(value("m v=-9223372036854775808i"), V::Integer(i64::MIN));
    assert_eq!(value("m v=000042i"), V::Integer(42));
    assert_eq!(error("m v=9223372036854775808i"), (1, 5, K::IntegerOutOfRange));
    assert_eq!(error("m v=-9223372036854775809i"), (1, 5, K::IntegerOutOfRange));
    assert_eq!(error("m v=99999999999999999999999i"), (1, 5, K::IntegerOutOfRange));
    for text in ["1.5i", "+1i", "-i", "1e3i", "1ii", "1iu"] {
        let line = format!("m v={text}");
        assert_eq!(error(&line), (1, 5, K::InvalidNumber), "{text}");
    }
    assert_eq!(error("m v=i"), (1, 5, K::InvalidFieldValue));
}

#[test]
fn unsigned_integers() {
    assert_eq!(value("m v=0u"), V::Unsigned(0));
    assert_eq!(value("m v=18446744073709551615u"), V::Unsigned(u64::MAX));
    assert_eq!(error("m v=18446744073709551616u"), (1, 5, K::UnsignedOutOfRange));
    assert_eq!(error("m v=-1u"), (1, 5, K::UnsignedOutOfRange));
    assert_eq!(error("m v=-0u"), (1, 5, K::UnsignedOutOfRange));
    assert_eq!(error("m v=1.0u"), (1, 5, K::InvalidNumber));
    assert_eq!(error("m v=+1u"), (1, 5, K::InvalidNumber));
}

#[test]
fn booleans() {
    for t in ["t", "T", "true", "True", "TRUE"] {
        assert_eq!(value(&format!("m v={t}")), V::Boolean(true), "{t}");
    }
    for f in ["f", "F", "false", "False", "FALSE"] {
        assert_eq!(value(&format!("m v={f}")), V::Boolean(false), "{f}");
    }
    for bad in ["tru", "tRUE", "TRue", "fals", "falsey", "Fa", "t1"] {
        assert_eq!(error(&format!("m v={bad}")), (1, 5, K::InvalidBoolean), "{bad}");
    }
}

#[test]
fn strings() {
    assert_eq!(value("m v=\"\""), V::String(s("")));
    assert_eq!(value("m v=\"a b,c=d\""), V::String(s("a b,c=d")), "spaces, commas and equals need no escaping");
    assert_eq!(value(r#"m v="say \"hi\"""#), V::String(s("say \"hi\"")));
    assert_eq!(value(r#"m v="back\\slash""#), V::String(s("back\\slash")));
    // A backslash before any other character is literal.
    assert_eq!(value(r#"m v="a\nb\tc\d""#), V::String(s("a\\nb\\tc\\d")));
    assert_eq!(value(r#"m v="ends with \\""#), V::String(s("ends with \\")));
    // `#` and `=` inside are ordinary.
    assert_eq!(value("m v=\"#x=1\""), V::String(s("#x=1")));
    // Strings are kept verbatim (no trimming).
    assert_eq!(value("m v=\"  \t \" 5"), V::String(s("  \t ")));
}

#[test]
fn string_length_limit() {
    let ok = "x".repeat(MAX_STRING_LEN);
    assert_eq!(value(&format!("m v=\"{ok}\"")), V::String(ok.clone()));
    // Escapes don't count: the limit is on the value itself.
    let escaped = "\\\"".repeat(MAX_STRING_LEN);
    assert_eq!(value(&format!("m v=\"{escaped}\"")), V::String("\"".repeat(MAX_STRING_LEN)));
    let long = "x".repeat(MAX_STRING_LEN + 1);
    assert_eq!(error(&format!("m a=1,v=\"{long}\"")), (1, 9, K::StringTooLong));
}

#[test]
fn multi_line_strings() {
    let batch = parse_ns("a v=\"line 1\nline 2\r\nline 3\",w=1 5\nb v=2\n");
    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
    assert_eq!(batch.line_numbers, vec![1, 4]);
    assert_eq!(batch.points[0].fields[0].1, V::String(s("line 1\nline 2\r\nline 3")));
    assert_eq!(batch.points[0].timestamp, Some(5));
    assert_eq!(batch.points[1].measurement, "b");
    // A string may end a line right before the newline.
    let batch = parse_ns("a v=\"x\ny\"\nb v=1");
    assert_eq!(batch.points.len(), 2);
    assert_eq!(batch.line_numbers, vec![1, 3]);
}

#[test]
fn forgotten_closing_quote_loses_only_its_line() {
    let batch = parse_ns("a v=\"abc\nb v=\"x\" 1\nc v=2\nd v=\"open");
    assert_eq!(batch.points.len(), 2, "{:?}", batch.errors);
    assert_eq!(batch.line_numbers, vec![2, 3]);
    assert_eq!(batch.errors.len(), 2);
    assert_eq!((batch.errors[0].line, batch.errors[0].column, batch.errors[0].kind), (1, 5, K::UnbalancedQuotes));
    assert_eq!(batch.errors[0].text, "a v=\"abc");
    assert_eq!((batch.errors[1].line, batch.errors[1].column, batch.errors[1].kind), (4, 5, K::UnbalancedQuotes));
    // The quote never closes at all.
    let batch = parse_ns("a v=\"abc\nb v=1\nc v=2");
    assert_eq!(batch.line_numbers, vec![2, 3]);
    assert_eq!(batch.errors[0].kind, K::UnbalancedQuotes);
}

#[test]
fn error_after_a_multi_line_string_is_one_error() {
    // The string is fine; the timestamp is not. One error, on line 2.
    let batch = parse_ns("a v=\"x\ny\" bad\nb v=1");
    assert_eq!(batch.line_numbers, vec![3]);
    assert_eq!(batch.errors.len(), 1);
    let e = &batch.errors[0];
    assert_eq!((e.line, e.column, e.kind), (2, 4, K::InvalidTimestamp));
    assert_eq!(e.text, "a v=\"x\ny\" bad");
}

#[test]
fn string_followed_by_garbage() {
    assert_eq!(error("m v=\"abc\"x"), (1, 10, K::InvalidFieldFormat));
    assert_eq!(error("m v=\"abc\"\""), (1, 10, K::InvalidFieldFormat));
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

#[test]
fn timestamps_and_precision() {
    assert_eq!(point("m v=1 0").timestamp, Some(0));
    assert_eq!(point("m v=1 -1").timestamp, Some(-1));
    assert_eq!(point("m v=1 -0").timestamp, Some(0));
    assert_eq!(point("m v=1 0001").timestamp, Some(1));
    for (precision, want) in [
        (Precision::Nanoseconds, 2),
        (Precision::Microseconds, 2_000),
        (Precision::Milliseconds, 2_000_000),
        (Precision::Seconds, 2_000_000_000),
        (Precision::Minutes, 120_000_000_000),
        (Precision::Hours, 7_200_000_000_000),
    ] {
        let batch = parse(b"m v=1 2\nm v=1 -2", precision);
        let got: Vec<_> = batch.points.iter().map(|p| p.timestamp).collect();
        assert_eq!(got, vec![Some(want), Some(-want)], "{precision:?}");
    }
}

#[test]
fn timestamp_range() {
    let max = MAX_TIMESTAMP;
    let min = MIN_TIMESTAMP;
    assert_eq!(point(&format!("m v=1 {max}")).timestamp, Some(max));
    assert_eq!(point(&format!("m v=1 {min}")).timestamp, Some(min));
    for ts in [i64::MAX.to_string(), i64::MIN.to_string(), (i64::MIN + 1).to_string()] {
        assert_eq!(error(&format!("m v=1 {ts}")), (1, 7, K::TimestampOutOfRange), "{ts}");
    }
    assert_eq!(error("m v=1 9223372036854775808"), (1, 7, K::TimestampOutOfRange));
    assert_eq!(error("m v=1 99999999999999999999999"), (1, 7, K::TimestampOutOfRange));
    // Fits in seconds, overflows in nanoseconds.
    let batch = parse(b"m v=1 9300000000000", Precision::Seconds);
    assert_eq!(batch.errors[0].kind, K::TimestampOutOfRange);
    assert_eq!(batch.errors[0].column, 7);
    let batch = parse(b"m v=1 9000000000", Precision::Seconds);
    assert_eq!(batch.points[0].timestamp, Some(9_000_000_000_000_000_000));
}

#[test]
fn invalid_timestamps() {
    for ts in ["12a", "1.5", "+5", "-", "1e9", "abc", "0x10", "\"1\""] {
        assert_eq!(error(&format!("m v=1 {ts}")), (1, 7, K::InvalidTimestamp), "{ts}");
    }
    assert_eq!(error("m v=1 1\t2"), (1, 9, K::TrailingText));
}

#[test]
fn anything_after_the_timestamp_is_an_error() {
    assert_eq!(error("m v=1 123 456"), (1, 11, K::TrailingText));
    assert_eq!(error("m v=1 123   x"), (1, 13, K::TrailingText));
    // Trailing whitespace is fine.
    assert_eq!(point("m v=1 123 \t \r").timestamp, Some(123));
}

// ---------------------------------------------------------------------------
// Structural errors, with columns
// ---------------------------------------------------------------------------

#[test]
fn structural_errors_point_at_the_element() {
    let cases: &[(&str, usize, K)] = &[
        (",a=b v=1", 1, K::MissingMeasurement),
        ("  ,a=b v=1", 3, K::MissingMeasurement),
        // Leading whitespace is skipped, so `v=1` is the measurement.
        (" v=1", 5, K::MissingFields),
        ("cpu", 4, K::MissingFields),
        ("cpu ", 4, K::MissingFields),
        ("cpu,host=a", 11, K::MissingFields),
        ("cpu,host=a   ", 11, K::MissingFields),
        ("cpu,=a v=1", 5, K::MissingTagKey),
        ("cpu, v=1", 5, K::MissingTagKey),
        ("cpu,a=b, v=1", 9, K::MissingTagKey),
        ("cpu,a=b,,c=d v=1", 9, K::MissingTagKey),
        ("cpu,host v=1", 9, K::MissingTagValue),
        ("cpu,host", 9, K::MissingTagValue),
        ("cpu,host= v=1", 10, K::MissingTagValue),
        ("cpu,host=,a=b v=1", 10, K::MissingTagValue),
        ("cpu,a=b=c v=1", 7, K::InvalidTagFormat),
        ("cpu,a=b,c=d=e v=1", 11, K::InvalidTagFormat),
        ("cpu value", 5, K::InvalidFieldFormat),
        ("cpu a=1,value", 9, K::InvalidFieldFormat),
        ("cpu a=1,b c=1", 9, K::InvalidFieldFormat),
        ("cpu =1", 5, K::MissingFieldKey),
        ("cpu a=1,", 9, K::MissingFieldKey),
        ("cpu a=1,,b=2", 9, K::MissingFieldKey),
        ("cpu a=1, 5", 9, K::MissingFieldKey),
        ("cpu,host=a value=", 18, K::MissingFieldValue),
        ("cpu value=,a=1", 11, K::MissingFieldValue),
        ("cpu value= 1", 11, K::MissingFieldValue),
        ("cpu a=1,b=x", 11, K::InvalidFieldValue),
        ("cpu a=\"abc", 7, K::UnbalancedQuotes),
        ("cpu a=\"abc\\\"", 7, K::UnbalancedQuotes),
        ("cpu a=1,b=\"x\",c=\"y", 17, K::UnbalancedQuotes),
        ("cpu a=1 2 3", 11, K::TrailingText),
    ];
    for &(line, column, kind) in cases {
        assert_eq!(error(line), (1, column, kind), "{line:?}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" is two bytes, "😀" four; columns count each as one.
    assert_eq!(error("é😀,a=b v=x"), (1, 10, K::InvalidFieldValue));
    assert_eq!(error("  é😀 v=1 t"), (1, 10, K::InvalidTimestamp));
}

#[test]
fn key_length_limit() {
    let name = "m".repeat(MAX_KEY_LEN - 4);
    assert_eq!(point(&format!("{name},a=b v=1")).measurement, name);
    assert_eq!(error(&format!("{name},a=bc v=1")), (1, 1, K::KeyTooLong));
    assert_eq!(error(&format!("  {name}xx,a=b v=1")), (1, 3, K::KeyTooLong));
}

// ---------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------

#[test]
fn invalid_utf8_is_reported_where_it_is() {
    let input: &[u8] = b"ok v=1\nc\xffpu v=1\ncpu,h\xc3=x v=1\ncpu v=\"a\xe2\x82\" 1\n# \xff comment\nok v=2";
    let batch = parse(input, Precision::Nanoseconds);
    assert_eq!(batch.line_numbers, vec![1, 6]);
    let got: Vec<_> = batch.errors.iter().map(|e| (e.line, e.column, e.kind)).collect();
    assert_eq!(got, vec![(2, 2, K::InvalidUtf8), (3, 6, K::InvalidUtf8), (4, 9, K::InvalidUtf8)]);
    assert_eq!(batch.errors[0].text, "c\u{fffd}pu v=1");
}

#[test]
fn the_first_bad_element_is_reported() {
    // Bad UTF-8 in the key comes before the bad value.
    let batch = parse(b"m k\xff=x", Precision::Nanoseconds);
    assert_eq!((batch.errors[0].column, batch.errors[0].kind), (4, K::InvalidUtf8));
    let batch = parse(b"m k=x,\xff=1", Precision::Nanoseconds);
    assert_eq!((batch.errors[0].column, batch.errors[0].kind), (5, K::InvalidFieldValue));
}

#[test]
fn invalid_utf8_in_a_number_is_a_bad_number() {
    let batch = parse(b"m v=1\xff", Precision::Nanoseconds);
    assert_eq!(batch.errors[0].kind, K::InvalidNumber);
}

// ---------------------------------------------------------------------------
// Batches, errors and their display
// ---------------------------------------------------------------------------

#[test]
fn bad_lines_do_not_affect_good_ones() {
    let input = "cpu v=1 1\ncpu,host=a value=\ncpu v=2 2\nbad\ncpu v=3 3\n";
    let batch = parse_ns(input);
    assert_eq!(batch.points.len(), 3);
    assert_eq!(batch.line_numbers, vec![1, 3, 5]);
    let got: Vec<_> = batch.errors.iter().map(|e| (e.line, e.column, e.kind)).collect();
    assert_eq!(got, vec![(2, 18, K::MissingFieldValue), (4, 4, K::MissingFields)]);
}

#[test]
fn error_display_matches_influxdb() {
    let batch = parse_ns("cpu v=1\n\ncpu,host=a value=");
    assert_eq!(
        batch.errors[0].to_string(),
        "unable to parse 'cpu,host=a value=': line 3, column 18: missing field value"
    );
}

#[test]
fn error_text_is_truncated() {
    let line = format!("m v={}", "é".repeat(1000));
    let batch = parse_ns(&line);
    let text = &batch.errors[0].text;
    assert_eq!(text.chars().count(), MAX_ERROR_TEXT_CHARS + 1);
    assert!(text.starts_with("m v=éé"));
    assert!(text.ends_with('…'));
    // Trailing whitespace and CR are not part of the text.
    let batch = parse_ns("m v=x  \r\n");
    assert_eq!(batch.errors[0].text, "m v=x");
}

// ---------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------

fn written(p: &Point) -> String {
    let mut out = String::new();
    write_point(&mut out, p);
    out
}

#[test]
fn writer_escapes_each_element() {
    let p = Point {
        measurement: s("my cpu,x=y"),
        tags: tags(&[("a b", "c,d=e"), ("path", "C:\\dir\\,x"), ("unc", "\\\\srv\\share")]),
        fields: vec![
            (s("f x"), V::String(s("say \"hi\" \\ bye"))),
            (s("n"), V::Integer(-5)),
            (s("u"), V::Unsigned(u64::MAX)),
            (s("b"), V::Boolean(false)),
            (s("fl"), V::Float(0.1)),
        ],
        timestamp: Some(-12),
    };
    let line = written(&p);
    assert_eq!(
        line,
        "my\\ cpu\\,x=y,a\\ b=c\\,d\\=e,path=C:\\dir\\\\,x,unc=\\\\srv\\share \
         f\\ x=\"say \\\"hi\\\" \\\\ bye\",n=-5i,u=18446744073709551615u,b=false,fl=0.1 -12\n"
    );
    assert_eq!(point(&line), p);
}

#[test]
fn writer_floats_round_trip() {
    for v in [
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        1e-5,
        9.999e-6,
        1e16,
        123456789012345680.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        std::f64::consts::PI,
    ] {
        let p = Point { measurement: s("m"), tags: vec![], fields: vec![(s("v"), V::Float(v))], timestamp: None };
        let line = written(&p);
        assert!(line.len() < 40, "{line}");
        match point(&line).fields[0].1 {
            V::Float(back) => assert_eq!(back.to_bits(), v.to_bits(), "{line}"),
            ref other => panic!("{other:?}"),
        }
    }
}

#[test]
fn writer_leaves_out_what_line_protocol_cannot_express() {
    let mut p = Point {
        measurement: s("m"),
        tags: vec![],
        fields: vec![(s("a"), V::Float(f64::NAN)), (s("b"), V::Float(2.0)), (s("c"), V::Float(f64::INFINITY))],
        timestamp: Some(1),
    };
    assert_eq!(written(&p), "m b=2 1\n");
    // Nothing left to write: nothing written, not even a newline.
    p.fields.remove(1);
    let mut out = String::from("before\n");
    assert!(!write_point(&mut out, &p));
    assert_eq!(out, "before\n");

    // Trailing backslashes are dropped; a tag or field left empty is left out.
    let p = Point {
        measurement: s("m\\"),
        tags: tags(&[("e", "\\\\"), ("k\\", "v\\")]),
        fields: vec![(s("\\"), V::Integer(1)), (s("f\\\\"), V::Integer(2))],
        timestamp: None,
    };
    let line = written(&p);
    assert_eq!(line, "m,k=v f=2i\n");
    assert_eq!(parse_ns(&line).errors, vec![]);
    // A newline in a name becomes the two characters `\n`.
    let p = Point { measurement: s("a\nb"), tags: vec![], fields: vec![(s("v"), V::Boolean(true))], timestamp: None };
    assert_eq!(written(&p), "a\\nb v=true\n");
    assert_eq!(point(&written(&p)).measurement, "a\\nb");
    // A measurement starting with `#` would be a comment.
    let p = Point { measurement: s("#m"), ..p };
    assert_eq!(written(&p), "");
}

#[test]
fn writer_integers() {
    for v in [0, 1, -1, 9, 10, i64::MAX, i64::MIN] {
        let p = Point {
            measurement: s("m"),
            tags: vec![],
            fields: vec![(s("v"), V::Integer(v))],
            timestamp: Some(v.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP)),
        };
        let line = written(&p);
        assert_eq!(line, format!("m v={v}i {}\n", v.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP)));
        assert_eq!(point(&line), p);
    }
}

// ---------------------------------------------------------------------------
// Throughput (run by hand, in release mode):
// cargo test -p augur-engine --release --lib lineproto::tests::throughput -- --ignored --nocapture
// ---------------------------------------------------------------------------

/// 100k TSBS `cpu` lines: 10 tags, 10 float fields and a timestamp each.
fn tsbs_cpu_lines(n: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(n * 420);
    let fields = [
        "usage_user",
        "usage_system",
        "usage_idle",
        "usage_nice",
        "usage_iowait",
        "usage_irq",
        "usage_softirq",
        "usage_steal",
        "usage_guest",
        "usage_guest_nice",
    ];
    for i in 0..n {
        let host = i % 1000;
        let _ = write!(
            out,
            "cpu,hostname=host_{host},region=eu-west-1,datacenter=eu-west-1a,rack={},os=Ubuntu16.04LTS,arch=x64,team=NYC,service={},service_version=1,service_environment=staging",
            host % 100,
            host % 20
        );
        for (j, f) in fields.iter().enumerate() {
            let v = ((i * 7919 + j * 104_729) % 10_000) as f64 / 100.0;
            let _ = write!(out, "{}{f}={v:.2}", if j == 0 { ' ' } else { ',' });
        }
        let _ = writeln!(out, " {}", 1_451_606_400_000_000_000i64 + (i as i64 / 1000) * 10_000_000_000);
    }
    out
}

/// Seconds this thread has spent on a CPU (Linux), so that other processes
/// competing for the cores don't inflate the figures; wall time elsewhere.
fn cpu_seconds() -> f64 {
    use std::sync::OnceLock;
    static WALL: OnceLock<std::time::Instant> = OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| WALL.get_or_init(std::time::Instant::now).elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

#[test]
#[ignore = "throughput measurement; run in release mode with --nocapture"]
fn throughput() {
    const LINES: usize = 100_000;
    let input = tsbs_cpu_lines(LINES);
    let mb = input.len() as f64 / 1e6;
    let report = |what: &str, secs: f64| {
        println!(
            "{what}: {:.0} lines/s, {:.2} M field values/s, {:.0} MB/s ({mb:.1} MB in {:.1} ms)",
            LINES as f64 / secs,
            LINES as f64 * 10.0 / secs / 1e6,
            mb / secs,
            secs * 1e3
        );
    };
    let best_of = |f: &dyn Fn()| {
        (0..7)
            .map(|_| {
                let start = cpu_seconds();
                f();
                cpu_seconds() - start
            })
            .fold(f64::MAX, f64::min)
    };

    // One 36 MB request: includes faulting in ~200 MB of fresh heap for the points.
    report(
        "parse, one 100k-line batch",
        best_of(&|| {
            let batch = parse(input.as_bytes(), Precision::Nanoseconds);
            assert_eq!(batch.points.len(), LINES);
        }),
    );
    // 10k-line requests, each batch dropped before the next (what ingest does).
    let chunks: Vec<&[u8]> = {
        let mut chunks = Vec::new();
        let mut rest = input.as_bytes();
        while !rest.is_empty() {
            let mut cut = rest.len();
            let mut seen = 0;
            for (i, &b) in rest.iter().enumerate() {
                if b == b'\n' {
                    seen += 1;
                    if seen == 10_000 {
                        cut = i + 1;
                        break;
                    }
                }
            }
            chunks.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        chunks
    };
    report(
        "parse, 10k-line batches",
        best_of(&|| {
            for chunk in &chunks {
                let batch = parse(chunk, Precision::Nanoseconds);
                assert_eq!(batch.points.len(), 10_000);
            }
        }),
    );

    let points = parse(input.as_bytes(), Precision::Nanoseconds).points;
    report(
        "write_point",
        best_of(&|| {
            let mut out = String::with_capacity(input.len());
            for p in &points {
                write_point(&mut out, p);
            }
            assert!(out.len() > input.len() * 9 / 10);
        }),
    );
}

#[test]
fn lines_repeating_a_key_section_share_one_series() {
    let input =
        b"cpu,host=a v=1 1\ncpu,host=b v=2 1\ncpu,host=a v=3 2\ncpu,host=a, v=4\ncpu,host=a v=5 3\ncpu,host\\ x=a v=6";
    let batch = parse_batch(input, Precision::Nanoseconds);
    assert_eq!(batch.len(), 5);
    assert_eq!(batch.line_numbers, vec![1, 2, 3, 5, 6]);
    assert_eq!(batch.errors.iter().map(|e| (e.line, e.kind)).collect::<Vec<_>>(), [(4, K::MissingTagKey)]);
    let rows = batch.write_rows();
    assert_eq!(rows.series().len(), 3);
    let keys: Vec<&str> = rows.iter().map(|r| r.series.key.as_str()).collect();
    assert_eq!(keys, ["cpu,host=a", "cpu,host=b", "cpu,host=a", "cpu,host=a", "cpu,host\\ x=a"]);
    let values: Vec<&V> = rows.iter().map(|r| r.fields[0].1).collect();
    let expected = [1.0, 2.0, 3.0, 5.0, 6.0].map(V::Float);
    assert_eq!(values, expected.iter().collect::<Vec<_>>());
}
