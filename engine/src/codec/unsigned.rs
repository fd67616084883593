//! Unsigned integer (`u64`) column codec: the [`super::integer`] codec's layout
//! and logic (frame of reference or delta, bit-packed), with header values
//! written as plain varints instead of zigzag.

use super::integer::{decode_core, encode_core};
use super::CodecError;

/// Encodes an unsigned integer column.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[u64]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[u64], out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_core(values, |v| v, false, out)
}

/// Decodes an unsigned integer column.
pub fn decode(bytes: &[u8]) -> Result<Vec<u64>, CodecError> {
    decode_core(bytes, |u| u, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_single_extremes() {
        for values in [vec![], vec![0], vec![u64::MAX], vec![0, u64::MAX, 1, u64::MAX - 1, 0]] {
            let enc = encode(&values).expect("encode");
            assert_eq!(decode(&enc).expect("decode"), values);
        }
    }

    #[test]
    fn counter_is_compact() {
        let values: Vec<u64> = (0..1000).map(|i| u64::MAX - 1_000_000 + i * 3).collect();
        let enc = encode(&values).expect("encode");
        assert!(enc.len() < 24, "{}", enc.len());
        assert_eq!(decode(&enc).expect("decode"), values);
    }

    proptest! {
        #[test]
        fn arbitrary_values_round_trip(values in proptest::collection::vec(any::<u64>(), 0..300)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn small_values_round_trip(values in proptest::collection::vec(0u64..1000, 0..300)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
