//! String column codec: a dictionary with bit-packed indices, or a plain
//! length-prefixed list when the dictionary does not pay.
//!
//! String fields in metrics are mostly low-cardinality states (`"ok"`,
//! `"degraded"`, a version, a region): a dictionary of the distinct strings plus
//! `ceil(log2(distinct))` bits per row stores them in a fraction of their size.
//! High-cardinality strings (log lines, ids) gain nothing from a dictionary, so
//! the encoder sizes both forms and keeps the smaller.
//!
//! | field | encoding |
//! |---|---|
//! | count | uvarint |
//! | (if count ≥ 1) mode | 1 byte: 0 = plain, 1 = dictionary |
//! | mode 0: strings | per value: uvarint byte length, UTF-8 bytes |
//! | mode 1: dictionary size d | uvarint, 1 ≤ d ≤ count |
//! | mode 1: dictionary | per entry: uvarint byte length, UTF-8 bytes (first-seen order) |
//! | mode 1: width | 1 byte, 0..=32 |
//! | mode 1: indices | count × width bits, LSB-first, zero padding |
//!
//! Decoding checks UTF-8, index bounds, and that the decoded strings (their
//! bytes plus the `String` headers) stay under
//! [`MAX_STRING_BYTES`] before allocating them.

use std::collections::HashMap;

use super::bitpack::{bit_width, pack, packed_len, unpack_chunks};
use super::varint::{put_uvarint, ByteReader};
use super::{check_count, check_encode_len, CodecError, MAX_STRING_BYTES};

const MODE_PLAIN: u8 = 0;
const MODE_DICT: u8 = 1;

/// Encodes a string column.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[String]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

fn varint_len(v: usize) -> usize {
    (usize::BITS as usize - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[String], out: &mut Vec<u8>) -> Result<(), CodecError> {
    check_encode_len(values.len())?;
    put_uvarint(out, values.len() as u64);
    if values.is_empty() {
        return Ok(());
    }
    let plain_len: usize = values.iter().map(|s| varint_len(s.len()) + s.len()).sum();

    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut dict: Vec<&str> = Vec::new();
    let mut indices = Vec::with_capacity(values.len());
    for s in values {
        let next = dict.len() as u32;
        let id = *ids.entry(s.as_str()).or_insert_with(|| {
            dict.push(s.as_str());
            next
        });
        indices.push(u64::from(id));
    }
    let width = bit_width(dict.len() as u64 - 1);
    let dict_len = varint_len(dict.len())
        + dict.iter().map(|s| varint_len(s.len()) + s.len()).sum::<usize>()
        + 1
        + packed_len(values.len(), width);

    if dict_len < plain_len {
        out.push(MODE_DICT);
        put_uvarint(out, dict.len() as u64);
        for s in &dict {
            put_uvarint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        out.push(width as u8);
        pack(indices, width, out);
    } else {
        out.push(MODE_PLAIN);
        for s in values {
            put_uvarint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
    }
    Ok(())
}

fn read_str<'a>(r: &mut ByteReader<'a>) -> Result<&'a str, CodecError> {
    let len = r.uvarint()?;
    if len > r.remaining() as u64 {
        return Err(CodecError::Truncated);
    }
    std::str::from_utf8(r.bytes(len as usize)?).map_err(|_| CodecError::InvalidUtf8)
}

/// Decodes a string column.
pub fn decode(bytes: &[u8]) -> Result<Vec<String>, CodecError> {
    let mut r = ByteReader::new(bytes);
    let count = check_count(r.uvarint()?)?;
    if count == 0 {
        r.finish()?;
        return Ok(Vec::new());
    }
    match r.u8()? {
        MODE_PLAIN => {
            // Each value takes at least its one-byte length.
            if count > r.remaining() {
                return Err(CodecError::TooManyValues { count: count as u64 });
            }
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                out.push(read_str(&mut r)?.to_owned());
            }
            r.finish()?;
            Ok(out)
        }
        MODE_DICT => {
            let size = r.uvarint()?;
            if size == 0 || size > count as u64 || size > r.remaining() as u64 {
                return Err(CodecError::InvalidHeader { what: "dictionary size", value: size });
            }
            let mut dict = Vec::with_capacity(size as usize);
            for _ in 0..size {
                dict.push(read_str(&mut r)?);
            }
            let width = u32::from(r.u8()?);
            if width > 32 {
                return Err(CodecError::InvalidHeader { what: "dictionary index width", value: u64::from(width) });
            }
            let len = packed_len(count, width);
            if len > r.remaining() {
                return Err(CodecError::TooManyValues { count: count as u64 });
            }
            let packed = r.bytes(len)?;
            r.finish()?;

            // First pass: validate the indices and size the output, so a
            // hostile header cannot make us allocate beyond the limit.
            let mut bad = false;
            let mut total = (count * std::mem::size_of::<String>()) as u64;
            unpack_chunks(packed, count, width, |_, vals| {
                for &i in vals {
                    match dict.get(i as usize) {
                        Some(s) => total += s.len() as u64,
                        None => bad = true,
                    }
                }
            });
            if bad {
                return Err(CodecError::Corrupt("dictionary index out of range"));
            }
            if total > MAX_STRING_BYTES as u64 {
                return Err(CodecError::StringsTooLarge(total));
            }
            let mut out = Vec::with_capacity(count);
            unpack_chunks(packed, count, width, |_, vals| {
                out.extend(vals.iter().map(|&i| dict.get(i as usize).map_or_else(String::new, |s| (*s).to_owned())));
            });
            Ok(out)
        }
        tag => Err(CodecError::UnknownTag(tag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn empty_single_dict_and_plain() {
        for values in [
            vec![],
            strings(&[""]),
            strings(&["only"]),
            strings(&["ok", "ok", "degraded", "ok", "down", "ok", "ok", "ok"]),
            (0..100).map(|i| format!("unique-{i}")).collect(),
            strings(&["", "", ""]),
            strings(&["é", "日本語", "🦀", "é"]),
        ] {
            let enc = encode(&values).expect("encode");
            assert_eq!(decode(&enc).expect("decode"), values);
        }
    }

    #[test]
    fn low_cardinality_uses_the_dictionary() {
        let values: Vec<String> = (0..1000).map(|i| ["running", "stopped", "starting"][i % 3].to_owned()).collect();
        let enc = encode(&values).expect("encode");
        assert_eq!(enc[2], MODE_DICT);
        assert!(enc.len() < 300, "{}", enc.len());
        assert_eq!(decode(&enc).expect("decode"), values);
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 7]).is_err()); // unknown mode
        assert!(decode(&[1, 0, 2, 0xff, 0xfe]).is_err()); // invalid UTF-8
        assert!(decode(&[1, 0, 5, b'a']).is_err()); // truncated
        assert!(decode(&[2, 1, 0]).is_err()); // empty dictionary
        assert!(decode(&[2, 1, 1, 1, b'a', 1, 0b10]).is_err()); // index 1 ≥ size 1
        assert!(decode(&[2, 1, 1, 1, b'a', 33, 0]).is_err()); // width too big
                                                              // A one-entry dictionary repeated far beyond the byte limit.
        let big = "x".repeat(100);
        let mut bytes = vec![];
        put_uvarint(&mut bytes, crate::codec::MAX_VALUES as u64);
        bytes.extend_from_slice(&[1, 1, 100]);
        bytes.extend_from_slice(big.as_bytes());
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(CodecError::StringsTooLarge(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_round_trip(values in proptest::collection::vec(".{0,12}", 0..200)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn low_cardinality_round_trips(picks in proptest::collection::vec(0usize..5, 0..300)) {
            let pool = ["a", "", "bb", "ccc", "dddd-dddd"];
            let values: Vec<String> = picks.iter().map(|&i| pool[i].to_owned()).collect();
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
