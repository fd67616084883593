//! Boolean column codec: a bitmap, or run lengths when the column rarely changes.
//!
//! Booleans (and the presence bitmaps of sparse columns) are either noisy, where
//! one bit per value is the best simple encoding, or long runs of the same value
//! (a flag that flips a few times per block, a field that appears in most rows),
//! where run lengths take a few bytes for the whole block. The encoder sizes
//! both and keeps the smaller.
//!
//! | field | encoding |
//! |---|---|
//! | count | uvarint |
//! | (if count ≥ 1) mode | 1 byte: 0 = bitmap, 1 = runs |
//! | mode 0: bits | `ceil(count/8)` bytes, value `i` in bit `i % 8` of byte `i / 8`, zero padding |
//! | mode 1: first value | 1 byte, 0 or 1 |
//! | mode 1: run lengths | uvarints ≥ 1, alternating values, summing to count |

use super::varint::{put_uvarint, ByteReader};
use super::{check_count, check_encode_len, CodecError};

const MODE_BITMAP: u8 = 0;
const MODE_RUNS: u8 = 1;

/// Encodes a boolean column.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[bool]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[bool], out: &mut Vec<u8>) -> Result<(), CodecError> {
    check_encode_len(values.len())?;
    put_uvarint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        return Ok(());
    };
    let bitmap_len = values.len().div_ceil(8);
    let mut runs = Vec::new();
    let mut runs_len = 1usize;
    let mut run = 0u64;
    let mut current = first;
    for &v in values {
        if v == current {
            run += 1;
        } else {
            runs_len += varint_len(run);
            runs.push(run);
            current = v;
            run = 1;
            if runs_len > bitmap_len {
                break;
            }
        }
    }
    runs_len += varint_len(run);
    if runs_len < bitmap_len {
        runs.push(run);
        out.push(MODE_RUNS);
        out.push(u8::from(first));
        for r in runs {
            put_uvarint(out, r);
        }
    } else {
        out.push(MODE_BITMAP);
        for chunk in values.chunks(8) {
            out.push(chunk.iter().enumerate().fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i)));
        }
    }
    Ok(())
}

fn varint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Decodes a boolean column.
pub fn decode(bytes: &[u8]) -> Result<Vec<bool>, CodecError> {
    let mut r = ByteReader::new(bytes);
    let count = check_count(r.uvarint()?)?;
    if count == 0 {
        r.finish()?;
        return Ok(Vec::new());
    }
    match r.u8()? {
        MODE_BITMAP => {
            let bits = r.bytes(count.div_ceil(8))?;
            r.finish()?;
            if count % 8 != 0 && bits.last().is_some_and(|&b| b >> (count % 8) != 0) {
                return Err(CodecError::Corrupt("non-zero padding bits"));
            }
            let mut out = Vec::with_capacity(count);
            for &byte in bits {
                out.extend((0..8).map(|i| (byte >> i) & 1 == 1));
            }
            out.truncate(count);
            Ok(out)
        }
        MODE_RUNS => {
            let mut value = match r.u8()? {
                0 => false,
                1 => true,
                v => return Err(CodecError::InvalidHeader { what: "boolean run value", value: u64::from(v) }),
            };
            let mut out = Vec::new();
            while out.len() < count {
                let run = r.uvarint()?;
                if run == 0 || run > (count - out.len()) as u64 {
                    return Err(CodecError::Corrupt("boolean run length out of range"));
                }
                out.extend(std::iter::repeat_n(value, run as usize));
                value = !value;
            }
            r.finish()?;
            Ok(out)
        }
        tag => Err(CodecError::UnknownTag(tag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_single_runs_and_noise() {
        for values in [
            vec![],
            vec![true],
            vec![false],
            vec![true; 10_000],
            (0..1000).map(|i| i % 3 == 0).collect::<Vec<_>>(),
            (0..1000).map(|i| i > 500).collect::<Vec<_>>(),
        ] {
            let enc = encode(&values).expect("encode");
            assert_eq!(decode(&enc).expect("decode"), values);
        }
        assert!(encode(&[true; 10_000]).expect("encode").len() < 8);
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[3, 2]).is_err()); // unknown mode
        assert!(decode(&[3, 0]).is_err()); // bitmap missing
        assert!(decode(&[3, 0, 0xff]).is_err()); // padding bits set
        assert!(decode(&[3, 1, 2, 3]).is_err()); // bad run value
        assert!(decode(&[3, 1, 1, 0]).is_err()); // zero-length run
        assert!(decode(&[3, 1, 1, 4]).is_err()); // run past count
        assert!(decode(&[3, 1, 1, 2]).is_err()); // runs end early
        assert!(decode(&[3, 1, 1, 3, 0]).is_err()); // trailing byte
    }

    proptest! {
        #[test]
        fn arbitrary_values_round_trip(values in proptest::collection::vec(any::<bool>(), 0..500)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn runs_round_trip(runs in proptest::collection::vec((any::<bool>(), 1usize..200), 0..20)) {
            let values: Vec<bool> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
