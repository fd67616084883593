//! Fuzz target for the AQL parser: no input may make it panic, an error
//! must point inside the text, and every statement that parses must print
//! as text that parses back to the same statement. Bind parameters are
//! exercised too: after the first `\0`, the input is a JSON object of
//! `params`.
//!
//! Run with `cargo +nightly fuzz run parse_query` from `query/`. The property
//! tests in `query/tests/parser_props.rs` check the same on every `cargo test`.

#![no_main]

use augur_query::parse_query;
use augur_query::parser::parse_query_with_params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (text, params) = input.split_once('\0').unwrap_or((input, ""));
    if let Ok(serde_json::Value::Object(bound)) = serde_json::from_str(params) {
        let _ = parse_query_with_params(text, &bound);
    }
    match parse_query(text) {
        Err(error) => {
            let lines: Vec<&str> = text.split('\n').collect();
            let line = error.pos.line as usize;
            assert!(line < lines.len().max(1), "{error}");
            let width = lines.get(line).map_or(0, |l| l.chars().count());
            assert!(error.pos.char as usize <= width + 2, "{error}");
        }
        Ok(query) => {
            for statement in &query.statements {
                let printed = statement.to_string();
                let again = match parse_query(&printed) {
                    Ok(again) => again,
                    Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
                };
                assert_eq!(again.statements.as_slice(), std::slice::from_ref(statement), "{printed:?}");
            }
        }
    }
});
