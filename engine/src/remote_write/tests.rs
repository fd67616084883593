//! Examples of the mapping and of every refusal.

use super::*;

fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
        histograms: Vec::new(),
    }
}

fn decode_series(timeseries: Vec<TimeSeries>) -> Decoded {
    decode(&encode(&WriteRequest { timeseries }), 1 << 20).expect("decodes")
}

#[test]
fn maps_name_labels_and_samples() {
    let decoded = decode_series(vec![series(
        &[("job", "node"), ("__name__", "up"), ("instance", "a:9100"), ("empty", "")],
        &[(1.0, 1_700_000_000_000), (0.5, 1_700_000_001_000)],
    )]);
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(decoded.series, 1);
    assert_eq!(decoded.series_of, [0, 0]);
    let expected = |value: f64, ns: i64| Point {
        measurement: "up".into(),
        tags: vec![("instance".into(), "a:9100".into()), ("job".into(), "node".into())],
        fields: vec![("value".into(), FieldValue::Float(value))],
        timestamp: Some(ns),
    };
    assert_eq!(decoded.points, [expected(1.0, 1_700_000_000_000_000_000), expected(0.5, 1_700_000_001_000_000_000)]);
}

#[test]
fn staleness_markers_and_infinities_are_skipped() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let decoded = decode_series(vec![series(
        &[("__name__", "m")],
        &[(stale, 1), (f64::INFINITY, 2), (f64::NEG_INFINITY, 3), (f64::NAN, 4), (7.0, 5)],
    )]);
    assert!(decoded.errors.is_empty());
    assert_eq!(decoded.skipped_samples, 4);
    assert_eq!(decoded.points.len(), 1);
    assert_eq!(decoded.points[0].timestamp, Some(5_000_000));
}

#[test]
fn bad_series_are_named_and_the_others_kept() {
    let mut histogram = series(&[("__name__", "h")], &[(1.0, 1)]);
    histogram.histograms.push(vec![8, 1]);
    let mut bad_utf8 = series(&[("__name__", "u")], &[(1.0, 1)]);
    bad_utf8.labels.push(Label { name: b"host".to_vec(), value: vec![0xff, b'x'] });
    let decoded = decode_series(vec![
        series(&[("__name__", "ok")], &[(1.0, 1)]),
        series(&[("job", "x")], &[(1.0, 1)]),
        series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(1.0, 1)]),
        series(&[("__name__", "e"), ("", "v")], &[(1.0, 1)]),
        bad_utf8,
        series(&[("__name__", "t")], &[(1.0, i64::MAX), (2.0, 3)]),
        histogram,
        series(&[("__name__", "ok2")], &[(1.0, 1)]),
    ]);
    let messages: Vec<String> = decoded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "timeseries 1 ({job=\"x\"}): missing metric name (no __name__ label)",
            "timeseries 2 (dup{a=\"1\",a=\"2\"}): duplicate label name: a",
            "timeseries 3 (e{=\"v\"}): empty label name: label 1 (value \"v\")",
            "timeseries 4 (u{host=\"\u{fffd}x\"}): label is not valid UTF-8: label 1 value \"\u{fffd}x\"",
            "timeseries 5 (t{}): sample timestamp out of range: 9223372036854775807 ms",
            "timeseries 6 (h{}): native histograms are not supported: set send_native_histograms: false in \
             remote_write: 1 histogram samples dropped",
        ],
    );
    let stored: Vec<(&str, usize)> =
        decoded.points.iter().zip(&decoded.series_of).map(|(p, &i)| (p.measurement.as_str(), i)).collect();
    assert_eq!(stored, [("ok", 0), ("t", 5), ("h", 6), ("ok2", 7)]);
}

#[test]
fn key_length_is_limited_like_line_protocol() {
    let long = "v".repeat(MAX_KEY_LEN);
    let decoded = decode_series(vec![series(&[("__name__", "m"), ("k", &long)], &[(1.0, 1)])]);
    assert_eq!(decoded.errors.len(), 1);
    assert_eq!(decoded.errors[0].kind, SeriesErrorKind::KeyTooLong);
    assert!(decoded.errors[0].series.chars().count() <= MAX_SERIES_TEXT_CHARS + 1);
}

#[test]
fn whole_request_refusals() {
    let err = decode(b"definitely not snappy", 1 << 20).expect_err("not snappy");
    assert!(matches!(err, DecodeError::Snappy(_)), "{err}");
    assert!(decode(b"", 1 << 20).is_err(), "an empty body is not a snappy block");
    // Valid snappy, invalid protobuf (a field with wire type 7).
    let garbage = snap::raw::Encoder::new().compress_vec(&[0x0f, 0x01]).expect("compress");
    let err = decode(&garbage, 1 << 20).expect_err("not protobuf");
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
    // An empty request is fine.
    assert_eq!(decode(&[0], 1 << 20), Ok(Decoded::default()));
}

#[test]
fn size_limits_hold_before_allocating() {
    let body = encode(&WriteRequest { timeseries: vec![series(&[("__name__", "m")], &[(1.0, 1); 100])] });
    let err = decode(&body, 100).expect_err("decompressed too large");
    assert!(matches!(err, DecodeError::TooLarge { limit: 100, .. }), "{err}");
    // A snappy header announcing 4 GiB is refused without allocating it.
    let err = decompress(&[0x80, 0x80, 0x80, 0x80, 0x10], 1 << 20).expect_err("huge header");
    assert!(matches!(err, DecodeError::TooLarge { .. } | DecodeError::Snappy(_)), "{err}");
    // Many samples of one long-named series expand beyond the limit.
    let name = "x".repeat(1000);
    let body = encode(&WriteRequest { timeseries: vec![series(&[("__name__", &name)], &[(1.0, 1); 2000])] });
    let err = decode(&body, 64 << 10).expect_err("expands too much");
    assert!(matches!(err, DecodeError::TooManyPoints { .. }), "{err}");
    assert!(err.to_string().contains("max_samples_per_send"), "{err}");
}

#[test]
fn unknown_fields_are_skipped() {
    // A WriteRequest with metadata (field 3) and a series with an exemplar
    // (field 3), both as opaque length-delimited fields.
    let mut series_bytes =
        TimeSeries { labels: vec![Label::new("__name__", "m")], ..Default::default() }.encode_to_vec();
    series_bytes.extend([0x1a, 0x00]);
    let mut request = vec![0x0a, series_bytes.len() as u8];
    request.extend(&series_bytes);
    request.extend([0x1a, 0x02, 0x08, 0x01]);
    let body = snap::raw::Encoder::new().compress_vec(&request).expect("compress");
    let decoded = decode(&body, 1 << 20).expect("decodes");
    assert_eq!(decoded.series, 1);
    assert!(decoded.errors.is_empty());
}
