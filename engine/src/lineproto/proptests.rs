//! Property tests: random valid points survive `write_point` then `parse`
//! unchanged, and arbitrary bytes never panic and always yield one result per
//! line.

use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::model::{FieldValue, Point, Precision};

/// Characters for names: mostly plain, often special, sometimes anything.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::char::range('a', 'z'),
        4 => select(vec![
            ' ', ',', '=', '\\', '"', '#', '\t', '\r', '.', '-', '_', '\'', 'é', '😀', '0', 'i',
            'u', 't', 'T',
        ]),
        1 => any::<char>(),
    ]
}

/// A non-empty name line protocol can express: no newline, no trailing
/// backslash.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(name_char(), 1..10).prop_map(|chars| {
        let mut name: String = chars.into_iter().map(|c| if c == '\n' { 'n' } else { c }).collect();
        if name.ends_with('\\') {
            name.push('x');
        }
        name
    })
}

/// A name that can also come first in its section: it doesn't start with a
/// tab (skipped as whitespace) or, for a measurement, a `#` (a comment).
fn leading_name() -> impl Strategy<Value = String> {
    name().prop_map(|n| if n.starts_with(['#', '\t']) { format!("m{n}") } else { n })
}

/// Any string value, newlines, quotes and backslashes included.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(select(vec!['a', 'b', ' ', ',', '=', '"', '\\', '\n', '\r', '#', 'é', '\t']), 0..12)
            .prop_map(|v| v.into_iter().collect()),
        any::<String>(),
    ]
}

/// Any field value line protocol can express (finite floats).
fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>().prop_map(|f| FieldValue::Float(if f.is_finite() { f } else { 0.5 })),
        prop_oneof![Just(0.0), Just(-0.0), Just(1.0), Just(0.1), Just(1e300), Just(5e-324)].prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Boolean),
        string_value().prop_map(FieldValue::String),
    ]
}

/// A valid point: sorted unique tags, unique fields, in-range timestamp.
fn valid_point() -> impl Strategy<Value = Point> {
    (
        leading_name(),
        prop::collection::btree_map(name(), name(), 0..5),
        prop::collection::btree_map(leading_name(), field_value(), 1..6),
        prop::option::of(MIN_TIMESTAMP..=MAX_TIMESTAMP),
    )
        .prop_map(|(measurement, tags, fields, timestamp)| Point {
            measurement,
            tags: tags.into_iter().collect(),
            fields: fields.into_iter().collect(),
            timestamp,
        })
}

/// `PartialEq` on points treats `0.0 == -0.0`; round trips must keep the bits.
fn same_float_bits(a: &Point, b: &Point) -> bool {
    a.fields.iter().zip(&b.fields).all(|(x, y)| match (&x.1, &y.1) {
        (FieldValue::Float(p), FieldValue::Float(q)) => p.to_bits() == q.to_bits(),
        _ => true,
    })
}

/// Bytes that look enough like line protocol to reach deep into the parser.
fn line_protocol_ish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => select(b"abm=, \"\\\n01-.eEiutfT#\r\t".to_vec()),
            1 => any::<u8>(),
        ],
        0..200,
    )
}

/// The lines a parse must account for: not blank, not a comment.
fn content_lines(input: &[u8]) -> Vec<usize> {
    input
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| {
            let line = line::trim_end(line);
            match line.iter().position(|b| !matches!(b, b' ' | b'\t')) {
                None => false,
                Some(i) => line.get(i) != Some(&b'#'),
            }
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// Checks the invariants every parse result keeps, whatever the input.
fn check_batch(input: &[u8], batch: &ParsedBatch) -> Result<(), TestCaseError> {
    prop_assert_eq!(batch.points.len(), batch.line_numbers.len());
    let mut lines: Vec<usize> = batch.line_numbers.clone();
    lines.extend(batch.errors.iter().map(|e| e.line));
    lines.sort_unstable();
    let distinct = lines.windows(2).all(|w| w[0] < w[1]);
    prop_assert!(distinct, "two results on one line: {:?}", lines);
    let content = content_lines(input);
    if input.contains(&b'"') {
        // Strings may join lines: at most one result per content line, and
        // at least one if there is any.
        prop_assert!(lines.len() <= content.len());
        prop_assert_eq!(lines.is_empty(), content.is_empty());
        let physical = input.iter().filter(|&&b| b == b'\n').count() + 1;
        prop_assert!(lines.iter().all(|&l| l >= 1 && l <= physical));
    } else {
        // Without strings, exactly one result per content line, on that line.
        prop_assert_eq!(&lines, &content);
    }
    for e in &batch.errors {
        prop_assert!(e.column >= 1);
        prop_assert_eq!(&e.message, &e.kind.to_string());
        prop_assert!(e.text.chars().count() <= MAX_ERROR_TEXT_CHARS + 1);
    }
    // Whatever was accepted writes and reads back identically.
    for p in &batch.points {
        let mut out = String::new();
        write_point(&mut out, p);
        let again = parse(out.as_bytes(), Precision::Nanoseconds);
        prop_assert!(again.errors.is_empty(), "{:?} -> {:?}: {:?}", p, out, again.errors);
        prop_assert_eq!(&again.points, &vec![p.clone()]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn written_points_parse_back_identically(p in valid_point()) {
        let mut out = String::new();
        write_point(&mut out, &p);
        let batch = parse(out.as_bytes(), Precision::Nanoseconds);
        prop_assert!(batch.errors.is_empty(), "{:?}: {:?}", out, batch.errors);
        prop_assert_eq!(batch.points.len(), 1, "{:?}", out);
        prop_assert_eq!(&batch.points[0], &p, "{:?}", out);
        prop_assert!(same_float_bits(&batch.points[0], &p));
        prop_assert_eq!(&batch.line_numbers, &vec![1]);
    }

    #[test]
    fn written_batches_parse_back_with_line_numbers(
        points in prop::collection::vec(valid_point(), 1..8),
        crlf in any::<bool>(),
    ) {
        let mut out = String::new();
        let mut expected_lines = Vec::new();
        for p in &points {
            expected_lines.push(out.matches('\n').count() + 1);
            write_point(&mut out, p);
            if crlf {
                // A CR before the line's newline is ignored.
                out.pop();
                out.push_str("\r\n");
            }
        }
        let batch = parse(out.as_bytes(), Precision::Nanoseconds);
        prop_assert!(batch.errors.is_empty(), "{:?}: {:?}", out, batch.errors);
        prop_assert_eq!(&batch.points, &points, "{:?}", out);
        prop_assert_eq!(&batch.line_numbers, &expected_lines);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let batch = parse(&input, Precision::Nanoseconds);
        check_batch(&input, &batch)?;
    }

    #[test]
    fn line_protocol_like_bytes_never_panic(input in line_protocol_ish()) {
        let batch = parse(&input, Precision::Seconds);
        check_batch(&input, &batch)?;
    }

    #[test]
    fn a_bad_line_does_not_change_the_others(
        points in prop::collection::vec(valid_point(), 1..6),
        garbage in line_protocol_ish(),
        at in any::<prop::sample::Index>(),
    ) {
        // Garbage without newlines or quotes is one line, good or bad.
        let garbage: Vec<u8> = garbage.into_iter().filter(|b| *b != b'\n' && *b != b'"').collect();
        let at = at.index(points.len() + 1);
        let mut input = Vec::new();
        let mut garbage_line = 0;
        for (i, p) in points.iter().enumerate() {
            if i == at {
                garbage_line = input.iter().filter(|&&b| b == b'\n').count() + 1;
                input.extend_from_slice(&garbage);
                input.push(b'\n');
            }
            let mut line = String::new();
            write_point(&mut line, p);
            input.extend_from_slice(line.as_bytes());
        }
        if at == points.len() {
            garbage_line = input.iter().filter(|&&b| b == b'\n').count() + 1;
            input.extend_from_slice(&garbage);
        }
        let batch = parse(&input, Precision::Nanoseconds);
        let others: Vec<&Point> = batch
            .points
            .iter()
            .zip(&batch.line_numbers)
            .filter(|(_, &line)| line != garbage_line)
            .map(|(p, _)| p)
            .collect();
        prop_assert_eq!(others, points.iter().collect::<Vec<_>>());
        prop_assert!(batch.errors.iter().all(|e| e.line == garbage_line));
        let from_garbage = batch.line_numbers.iter().filter(|&&l| l == garbage_line).count();
        prop_assert!(from_garbage + batch.errors.len() <= 1);
    }

    #[test]
    fn a_repeated_key_section_parses_as_it_does_alone(
        keys in prop::collection::vec(prop::collection::vec(select(b"ab=,\\ x".to_vec()), 0..12), 1..4),
        lines in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(select(b"v=1.5i,\" ".to_vec()), 0..10)), 1..12),
    ) {
        // Lines drawn from a few key sections (escapes, stray `=`, `,` and
        // spaces included), so that most repeat an earlier line's bytes: the
        // batch must read every line exactly as it reads that line alone.
        let texts: Vec<Vec<u8>> = lines
            .iter()
            .map(|(k, rest)| {
                let mut line = keys[k.index(keys.len())].clone();
                line.push(b' ');
                line.extend(rest.iter().filter(|b| **b != b'"'));
                line
            })
            .collect();
        let input = texts.join(&b'\n');
        let together = parse(&input, Precision::Nanoseconds);
        let mut points = Vec::new();
        let mut errors = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let alone = parse(text, Precision::Nanoseconds);
            points.extend(alone.points);
            errors.extend(alone.errors.into_iter().map(|e| (i + 1, e.column, e.kind)));
        }
        prop_assert_eq!(&together.points, &points, "{:?}", String::from_utf8_lossy(&input));
        let together_errors: Vec<_> = together.errors.iter().map(|e| (e.line, e.column, e.kind)).collect();
        prop_assert_eq!(together_errors, errors);
    }

    #[test]
    fn floats_parse_exactly_like_std(
        negative in any::<bool>(),
        int in "[0-9]{0,12}",
        frac in prop::option::of("[0-9]{0,12}"),
        exp in prop::option::of(-330i32..330),
    ) {
        let mut text = String::new();
        if negative {
            text.push('-');
        }
        text.push_str(&int);
        if let Some(frac) = &frac {
            text.push('.');
            text.push_str(frac);
        }
        if let Some(exp) = exp {
            text.push_str(&format!("e{exp}"));
        }
        let digits = int.len() + frac.as_ref().map_or(0, String::len);
        let ours = value::field_value(text.as_bytes());
        match text.parse::<f64>() {
            Ok(want) if digits > 0 && want.is_finite() => {
                prop_assert_eq!(ours.map(|v| match v {
                    FieldValue::Float(f) => f.to_bits(),
                    _ => 0,
                }), Ok(want.to_bits()), "{}", text);
            }
            Ok(_) if digits > 0 => prop_assert_eq!(ours, Err(LineErrorKind::FloatOutOfRange)),
            _ => prop_assert!(ours.is_err(), "{}", text),
        }
    }
}
