//! The float column codec: Gorilla XOR or decimal (ALP), whichever is smaller.
//!
//! Neither codec wins everywhere. Decimal wins on values printed with few
//! digits (most gauges: CPU %, request rates), often by 2× or more, and decodes
//! several times faster; Gorilla wins on values with full-precision mantissas
//! (computed ratios, sensor readings converted between units) and on columns
//! that repeat the same value. The encoder tries both and keeps the smaller
//! (skipping decimal when a sample shows it cannot come within 1.5× of Gorilla).
//!
//! Layout: one tag byte ([`TAG_GORILLA`] or [`TAG_DECIMAL`]), then that codec's
//! encoding.

use super::{decimal, gorilla, CodecError};

/// Tag byte: the rest is a [`gorilla`] encoding.
pub const TAG_GORILLA: u8 = 0;
/// Tag byte: the rest is a [`decimal`] encoding.
pub const TAG_DECIMAL: u8 = 1;

/// Encodes a float column with the smaller of the Gorilla and decimal encodings.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[f64]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[f64], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let mut gor = vec![TAG_GORILLA];
    gorilla::encode_into(values, &mut gor)?;
    // Skip the decimal encoding when a sample says it cannot come close
    // (full-precision values, where every value would be an exception).
    if decimal::estimated_len(values) < gor.len() + gor.len() / 2 {
        let mut dec = vec![TAG_DECIMAL];
        decimal::encode_into(values, &mut dec)?;
        // Ties go to decimal, which decodes faster.
        if dec.len() <= gor.len() {
            out.extend_from_slice(&dec);
            return Ok(());
        }
    }
    out.extend_from_slice(&gor);
    Ok(())
}

/// Decodes a float column written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<f64>, CodecError> {
    let mut out = Vec::new();
    decode_into(bytes, &mut out)?;
    Ok(out)
}

/// Decodes into `out`, replacing its contents (reuses its allocation); after an
/// error, `out` holds unspecified values.
pub fn decode_into(bytes: &[u8], out: &mut Vec<f64>) -> Result<(), CodecError> {
    match bytes.split_first() {
        Some((&TAG_GORILLA, rest)) => gorilla::decode_into(rest, out),
        Some((&TAG_DECIMAL, rest)) => decimal::decode_into(rest, out),
        Some((&tag, _)) => Err(CodecError::UnknownTag(tag)),
        None => Err(CodecError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn picks_decimal_for_short_decimals_and_gorilla_for_full_mantissas() {
        let short: Vec<f64> = (0..500).map(|i| f64::from(i % 97) / 100.0 + 20.0).collect();
        let enc = encode(&short).expect("encode");
        assert_eq!(enc[0], TAG_DECIMAL);
        assert_eq!(bits(&decode(&enc).expect("decode")), bits(&short));

        let long: Vec<f64> = (0..500).map(|i| (f64::from(i) * 0.1).sin() * std::f64::consts::E).collect();
        let enc = encode(&long).expect("encode");
        assert_eq!(enc[0], TAG_GORILLA);
        assert_eq!(bits(&decode(&enc).expect("decode")), bits(&long));
    }

    #[test]
    fn empty_and_bad_tags() {
        let enc = encode(&[]).expect("encode");
        assert_eq!(decode(&enc).expect("decode"), Vec::<f64>::new());
        assert_eq!(decode(&[]), Err(CodecError::Truncated));
        assert_eq!(decode(&[7, 0]), Err(CodecError::UnknownTag(7)));
    }

    proptest! {
        #[test]
        fn arbitrary_bit_patterns_round_trip(raw in proptest::collection::vec(any::<u64>(), 0..300)) {
            let values: Vec<f64> = raw.iter().map(|&b| f64::from_bits(b)).collect();
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(bits(&decode(&enc).expect("decode")), raw);
        }

        #[test]
        fn never_larger_than_either_codec(raw in proptest::collection::vec(-500i64..500, 0..200), div in 1u32..5000) {
            let values: Vec<f64> = raw.iter().map(|&n| n as f64 / f64::from(div)).collect();
            let enc = encode(&values).expect("encode");
            prop_assert!(enc.len() <= 1 + gorilla::encode(&values).expect("g").len());
            let dec = decimal::encode(&values).expect("d").len();
            // Decimal is only skipped when its sample estimate is far off.
            prop_assert!(enc.len() <= 1 + dec || enc[0] == TAG_GORILLA);
            prop_assert_eq!(bits(&decode(&enc).expect("decode")), bits(&values));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
