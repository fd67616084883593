//! Property tests: arbitrary well-formed series survive `encode` then
//! `decode` as exactly the expected points, and arbitrary bytes — raw, or
//! snappy-compressed so they reach the protobuf decoder — never panic.

use proptest::prelude::*;

use super::*;

/// A label name: never empty, never `__name__`.
fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}|[^\\x00]{1,4}".prop_filter("not the metric name", |n| n != METRIC_NAME_LABEL)
}

/// A generated series: metric name, labels, samples `(value, ms)`.
type Generated = (String, Vec<(String, String)>, Vec<(f64, i64)>);

/// A series with unique label names and finite samples in range.
fn series() -> impl Strategy<Value = Generated> {
    let metric = "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}|\\PC{1,6}";
    let labels = prop::collection::btree_map(label_name(), "\\PC{0,10}", 0..6);
    let value = prop_oneof![any::<f64>().prop_filter("finite", |v| v.is_finite()), Just(0.0), Just(-1.5)];
    let ts = -9_000_000_000_000i64..9_000_000_000_000i64;
    let samples = prop::collection::vec((value, ts), 0..5);
    (metric, labels, samples).prop_map(|(m, l, s)| (m, l.into_iter().collect(), s))
}

proptest! {
    #[test]
    fn roundtrip(all in prop::collection::vec(series(), 0..6), shuffle in any::<u64>()) {
        let mut expected = Vec::new();
        let mut timeseries = Vec::new();
        for (index, (metric, labels, samples)) in all.iter().enumerate() {
            let mut wire: Vec<Label> = labels.iter().map(|(n, v)| Label::new(n, v)).collect();
            wire.push(Label::new(METRIC_NAME_LABEL, metric));
            // Senders sort labels; a receiver must not rely on it.
            let len = wire.len();
            wire.rotate_left((shuffle as usize) % len);
            let tags: Vec<(String, String)> = labels.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
            for &(value, ms) in samples {
                expected.push((index, Point {
                    measurement: metric.clone(),
                    tags: tags.clone(),
                    fields: vec![(VALUE_FIELD.to_string(), FieldValue::Float(value))],
                    timestamp: Some(ms * 1_000_000),
                }));
            }
            timeseries.push(TimeSeries {
                labels: wire,
                samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
                histograms: Vec::new(),
            });
        }
        let decoded = decode(&encode(&WriteRequest { timeseries }), 1 << 24).expect("decodes");
        prop_assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        prop_assert_eq!(decoded.series, all.len());
        let got: Vec<(usize, Point)> = decoded.series_of.into_iter().zip(decoded.points).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, 1 << 16);
        let compressed = snap::raw::Encoder::new().compress_vec(&bytes).expect("compress");
        if let Ok(decoded) = decode(&compressed, 1 << 16) {
            prop_assert_eq!(decoded.points.len(), decoded.series_of.len());
            prop_assert!(decoded.series_of.iter().all(|&i| i < decoded.series));
        }
    }

    #[test]
    fn arbitrary_labels_never_panic(
        labels in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..6), prop::collection::vec(any::<u8>(), 0..6)), 0..6),
        samples in prop::collection::vec((any::<f64>(), any::<i64>()), 0..4),
    ) {
        let series = TimeSeries {
            labels: labels.into_iter().map(|(name, value)| Label { name, value }).collect(),
            samples: samples.into_iter().map(|(value, timestamp)| Sample { value, timestamp }).collect(),
            histograms: Vec::new(),
        };
        let decoded = decode(&encode(&WriteRequest { timeseries: vec![series] }), 1 << 16).expect("decodes");
        for point in &decoded.points {
            prop_assert!(!point.measurement.is_empty());
            prop_assert!(point.tags.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}
