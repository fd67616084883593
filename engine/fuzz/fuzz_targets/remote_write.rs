//! Fuzz target for the Prometheus remote_write decoder: arbitrary bytes must
//! never make it panic, whether they reach it as the raw body (the snappy
//! decoder) or wrapped in a valid snappy block (the protobuf decoder and the
//! mapping); every point must name a series of the request and carry one
//! finite `value` field.
//!
//! Run with `cargo fuzz run remote_write` from `engine/`. The first byte picks
//! the path: even = the bytes are the body, odd = they are snappy-compressed first.

#![no_main]

use augur_engine::model::FieldValue;
use augur_engine::remote_write::{decode, VALUE_FIELD};
use libfuzzer_sys::fuzz_target;

/// Decompressed bodies over this are refused (as `http.max_body_size` would).
const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let body = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        match snap::raw::Encoder::new().compress_vec(rest) {
            Ok(body) => body,
            Err(_) => return,
        }
    };
    let Ok(decoded) = decode(&body, LIMIT) else { return };
    assert_eq!(decoded.points.len(), decoded.series_of.len());
    for (point, &series) in decoded.points.iter().zip(&decoded.series_of) {
        assert!(series < decoded.series);
        assert!(!point.measurement.is_empty());
        assert!(point.tags.windows(2).all(|w| w[0].0 < w[1].0), "tags sorted and unique");
        match point.fields.as_slice() {
            [(name, FieldValue::Float(v))] => assert!(name == VALUE_FIELD && v.is_finite()),
            other => panic!("unexpected fields {other:?}"),
        }
    }
    for error in &decoded.errors {
        assert!(error.index < decoded.series);
    }
});
