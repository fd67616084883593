//! Fuzz target: arbitrary bytes must never panic or hang the block reader or
//! the column codecs.
//!
//! The block's CRC-32C rejects almost every mutated input before the structure
//! is parsed, so besides `BlockReader` this target also feeds the bytes (after
//! a selector byte) straight to each codec decoder, which is where the parsing
//! of untrusted lengths, counts and bit widths happens.

#![no_main]

use augur_engine::block::BlockReader;
use augur_engine::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = BlockReader::new(data) {
        let _ = reader.row_count();
        let _ = reader.timestamps();
        let names: Vec<String> = reader.columns().map(|(name, _)| name.to_owned()).collect();
        for name in &names {
            let _ = reader.column(name);
        }
        let _ = reader.decode_all();
    }

    if let Some((&selector, rest)) = data.split_first() {
        match selector % 9 {
            0 => drop(codec::timestamp::decode(rest)),
            1 => drop(codec::gorilla::decode(rest)),
            2 => drop(codec::decimal::decode(rest)),
            3 => drop(codec::float::decode(rest)),
            4 => drop(codec::integer::decode(rest)),
            5 => drop(codec::unsigned::decode(rest)),
            6 => drop(codec::boolean::decode(rest)),
            7 => drop(codec::string::decode(rest)),
            _ => {
                // Round trip: whatever decodes must re-encode and decode to the same bits.
                if let Ok(values) = codec::float::decode(rest) {
                    if let Ok(bytes) = codec::float::encode(&values) {
                        let again =
                            codec::float::decode(&bytes).map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
                        assert_eq!(again, Ok(values.iter().map(|x| x.to_bits()).collect()));
                    }
                }
            }
        }
    }
});
