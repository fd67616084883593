//! Fuzz target for the line-protocol parser: arbitrary bytes must never make
//! it panic, every point must come with its line number, and every accepted
//! point must survive `write_point` and a second parse unchanged.
//!
//! Run with `cargo fuzz run line_protocol` from `engine/`. The first byte picks
//! the timestamp precision; the rest is the request body.

#![no_main]

use augur_engine::lineproto::{parse, write_point};
use augur_engine::model::Precision;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (precision, body) = match data.split_first() {
        Some((&p, rest)) => (
            match p % 6 {
                0 => Precision::Nanoseconds,
                1 => Precision::Microseconds,
                2 => Precision::Milliseconds,
                3 => Precision::Seconds,
                4 => Precision::Minutes,
                _ => Precision::Hours,
            },
            rest,
        ),
        None => (Precision::Nanoseconds, data),
    };
    let batch = parse(body, precision);
    assert_eq!(batch.points.len(), batch.line_numbers.len());
    for error in &batch.errors {
        assert!(error.line >= 1 && error.column >= 1);
    }
    for point in &batch.points {
        let mut line = String::new();
        write_point(&mut line, point);
        let again = parse(line.as_bytes(), Precision::Nanoseconds);
        assert!(again.errors.is_empty(), "{line:?}: {:?}", again.errors);
        assert_eq!(again.points.as_slice(), std::slice::from_ref(point), "{line:?}");
    }
});
