//! Timestamp column codec: Gorilla delta-of-delta, for any `i64` sequence.
//!
//! Sampled series are regular: the difference between consecutive deltas (the
//! "delta of delta", dod) is almost always zero, and one bit per point suffices.
//! This is the scheme of the Gorilla paper (Pelkonen et al., VLDB 2015, §4.1.1)
//! with two changes:
//!
//! * the last bucket holds 64 bits instead of 32, and all arithmetic wraps, so
//!   every `i64` sequence round-trips bit for bit (non-monotonic, `i64::MIN/MAX`,
//!   deltas that overflow);
//! * deltas are divided by their greatest common divisor first. Augur stores
//!   nanoseconds, but most writers send second- or millisecond-precision times;
//!   in those units jitter of a few ticks fits the small buckets again.
//!
//! A column whose deltas are all equal (the common case for scraped metrics) is
//! stored as `first, delta` only, and decodes as a vectorised loop. Inside a
//! delta-of-delta stream, runs of `0` codes are decoded up to 56 at a time.
//!
//! Layout (varints are LEB128, "zz" means zigzag):
//!
//! | field | encoding |
//! |---|---|
//! | count | uvarint |
//! | first timestamp (if count ≥ 1) | 8 bytes, little-endian |
//! | mode (if count ≥ 2) | 1 byte: 0 = constant interval, 1 = delta of delta |
//! | mode 0: delta | zz varint |
//! | mode 1: scale g ≥ 1 | uvarint |
//! | mode 1: first scaled delta | zz varint |
//! | mode 1: count − 2 codes | bit stream, MSB first, zero-padded |
//!
//! Codes for `dod` (in units of g): `0` → 0; `10`+7 bits, `110`+9 bits,
//! `1110`+12 bits (two's complement); `1111`+64 bits otherwise.

use super::bits::{BitReader, BitWriter};
use super::varint::{put_ivarint, put_uvarint, ByteReader};
use super::{check_count, check_encode_len, CodecError};

const MODE_CONSTANT: u8 = 0;
const MODE_DOD: u8 = 1;

/// Encodes a timestamp column.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[i64]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[i64], out: &mut Vec<u8>) -> Result<(), CodecError> {
    check_encode_len(values.len())?;
    put_uvarint(out, values.len() as u64);
    let (&first, rest) = match values.split_first() {
        Some(x) => x,
        None => return Ok(()),
    };
    out.extend_from_slice(&first.to_le_bytes());
    let Some(&second) = rest.first() else {
        return Ok(());
    };
    let delta0 = second.wrapping_sub(first);
    let constant = values.windows(2).all(|w| w[1].wrapping_sub(w[0]) == delta0);
    if constant {
        out.push(MODE_CONSTANT);
        put_ivarint(out, delta0);
        return Ok(());
    }

    let mut g = 0u64;
    for w in values.windows(2) {
        g = gcd(g, w[1].wrapping_sub(w[0]).unsigned_abs());
        if g == 1 {
            break;
        }
    }
    // g > 0 because not all deltas are equal (so not all zero).
    let scale = i64::try_from(g).ok().filter(|&s| s > 0).unwrap_or(1);

    out.push(MODE_DOD);
    put_uvarint(out, scale as u64);
    let q1 = delta0 / scale;
    put_ivarint(out, q1);

    let mut w = BitWriter::from_vec(std::mem::take(out));
    let mut prev_q = q1;
    for pair in values[1..].windows(2) {
        let q = pair[1].wrapping_sub(pair[0]) / scale;
        let dod = q.wrapping_sub(prev_q);
        prev_q = q;
        if dod == 0 {
            w.write_bits(0, 1);
        } else if fits(dod, 7) {
            w.write_bits((0b10 << 7) | (dod as u64 & 0x7f), 9);
        } else if fits(dod, 9) {
            w.write_bits((0b110 << 9) | (dod as u64 & 0x1ff), 12);
        } else if fits(dod, 12) {
            w.write_bits((0b1110 << 12) | (dod as u64 & 0xfff), 16);
        } else {
            w.write_bits(0b1111, 4);
            w.write_bits(dod as u64, 64);
        }
    }
    *out = w.finish();
    Ok(())
}

/// Decodes a timestamp column.
pub fn decode(bytes: &[u8]) -> Result<Vec<i64>, CodecError> {
    let mut out = Vec::new();
    decode_into(bytes, &mut out)?;
    Ok(out)
}

/// Decodes into `out`, replacing its contents (reuses its allocation); after an
/// error, `out` holds unspecified values.
pub fn decode_into(bytes: &[u8], out: &mut Vec<i64>) -> Result<(), CodecError> {
    out.clear();
    let mut r = ByteReader::new(bytes);
    let count = check_count(r.uvarint()?)?;
    if count == 0 {
        return r.finish();
    }
    let first = r.u64_le()? as i64;
    if count == 1 {
        r.finish()?;
        out.push(first);
        return Ok(());
    }
    match r.u8()? {
        MODE_CONSTANT => {
            let delta = r.ivarint()?;
            r.finish()?;
            out.reserve_exact(count);
            out.extend((0..count as u64).map(|i| first.wrapping_add(delta.wrapping_mul(i as i64))));
            Ok(())
        }
        MODE_DOD => {
            let scale = r.uvarint()?;
            if scale == 0 || scale > i64::MAX as u64 {
                return Err(CodecError::InvalidHeader { what: "timestamp scale", value: scale });
            }
            let scale = scale as i64;
            let q1 = r.ivarint()?;
            let stream = r.rest();
            // Every code takes at least one bit.
            if (count - 2) as u64 > stream.len() as u64 * 8 {
                return Err(CodecError::TooManyValues { count: count as u64 });
            }
            out.reserve_exact(count);
            decode_dod(stream, count, first, q1, scale, out)
        }
        tag => Err(CodecError::UnknownTag(tag)),
    }
}

fn decode_dod(
    stream: &[u8],
    count: usize,
    first: i64,
    q1: i64,
    scale: i64,
    out: &mut Vec<i64>,
) -> Result<(), CodecError> {
    let mut r = BitReader::new(stream);
    let mut q = q1;
    let mut t = first.wrapping_add(q.wrapping_mul(scale));
    out.push(first);
    out.push(t);
    let mut left = count - 2;
    while left > 0 {
        let w = r.peek();
        if w >> 63 == 0 {
            // A run of `0` codes: the delta repeats. Only the first 57 bits of a
            // peek are exact, so take at most 56 at a time.
            let n = (w.leading_zeros().min(56) as usize).min(left);
            let d = q.wrapping_mul(scale);
            out.extend((1..=n as i64).map(|k| t.wrapping_add(d.wrapping_mul(k))));
            t = t.wrapping_add(d.wrapping_mul(n as i64));
            r.consume(n as u32);
            left -= n;
            continue;
        }
        let dod = match (!w).leading_zeros() {
            1 => {
                r.consume(9);
                sign_extend(w >> (64 - 9), 7)
            }
            2 => {
                r.consume(12);
                sign_extend(w >> (64 - 12), 9)
            }
            3 => {
                r.consume(16);
                sign_extend(w >> (64 - 16), 12)
            }
            _ => {
                r.consume(4);
                r.read_bits(64) as i64
            }
        };
        q = q.wrapping_add(dod);
        t = t.wrapping_add(q.wrapping_mul(scale));
        out.push(t);
        left -= 1;
    }
    r.finish()
}

/// Whether `v` fits in a `bits`-bit two's complement field.
#[inline]
fn fits(v: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}

/// Sign-extends the low `bits` bits of `v`.
#[inline(always)]
fn sign_extend(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Greatest common divisor (binary algorithm); `gcd(0, x) = x`.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    if a == 0 {
        return b;
    }
    if b == 0 {
        return a;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(values: &[i64]) -> Vec<u8> {
        let enc = encode(values).expect("encode");
        assert_eq!(decode(&enc).expect("decode"), values);
        enc
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(round_trip(&[]), vec![0]);
        round_trip(&[i64::MIN]);
        round_trip(&[42]);
    }

    #[test]
    fn regular_series_is_tiny() {
        let values: Vec<i64> = (0..8000).map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000).collect();
        let enc = round_trip(&values);
        assert!(enc.len() < 20, "{} bytes", enc.len());
    }

    #[test]
    fn second_precision_jitter_uses_small_buckets() {
        // 10 s interval in ns, jitter of ±2 s: with the common divisor of 1e9 the
        // dods are small numbers.
        let mut t = 1_700_000_000_000_000_000i64;
        let mut values = vec![t];
        for i in 0..4000 {
            t += 10_000_000_000 + [0, 1, -2, 0, 2, 0, 0, -1][i % 8] * 1_000_000_000;
            values.push(t);
        }
        let enc = round_trip(&values);
        assert!(enc.len() < 4000 * 9 / 8, "{} bytes", enc.len());
    }

    #[test]
    fn extremes_and_wrapping() {
        round_trip(&[i64::MIN, i64::MAX, i64::MIN, 0, -1, i64::MAX, i64::MAX]);
        round_trip(&[i64::MAX, i64::MIN]);
        round_trip(&[0, i64::MIN, 0, i64::MIN, 1]);
        round_trip(&[5, 3, 9, -100, 1 << 40, -(1 << 50), 7, 7, 7, 8]);
        // A run of zero dods longer than one peek, then a change.
        let mut v: Vec<i64> = (0..300).map(|i| i * 3).collect();
        v.push(5);
        v.extend((0..130).map(|i| 5 + i * 7));
        round_trip(&v);
    }

    #[test]
    fn bucket_boundaries() {
        for dod in [-64i64, 63, 64, -65, -256, 255, 256, -257, -2048, 2047, 2048, -2049, i64::MIN, i64::MAX] {
            round_trip(&[0, 1000, dod.wrapping_add(2000), dod.wrapping_add(3000), dod.wrapping_add(4000)]);
        }
    }

    #[test]
    fn corrupt_headers_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 9]).is_err()); // unknown mode
        assert!(decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]).is_err()); // scale 0
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err()); // huge count
                                                                   // Huge count with a tiny dod stream.
        let mut bytes = vec![];
        put_uvarint(&mut bytes, 1000);
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&[1, 1, 2]);
        assert!(matches!(decode(&bytes), Err(CodecError::TooManyValues { .. })));
        // Trailing bytes after a constant column.
        let mut enc = encode(&[1, 2, 3]).expect("encode");
        enc.push(0);
        assert_eq!(decode(&enc), Err(CodecError::TrailingBytes(1)));
    }

    #[test]
    fn gcd_works() {
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(gcd(0, 12), 12);
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(1 << 63, 1 << 62), 1 << 62);
        assert_eq!(gcd(7, 13), 1);
    }

    proptest! {
        #[test]
        fn arbitrary_i64_round_trip(values in proptest::collection::vec(any::<i64>(), 0..300)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn jittered_series_round_trip(
            start in any::<i64>(),
            step in 1i64..1_000_000_000_000,
            unit in prop_oneof![Just(1i64), Just(1_000), Just(1_000_000), Just(1_000_000_000)],
            jitter in proptest::collection::vec(-3000i64..3000, 0..300),
        ) {
            let mut t = start;
            let mut values = Vec::new();
            for j in jitter {
                values.push(t);
                t = t.wrapping_add(step).wrapping_add(j.wrapping_mul(unit));
            }
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn truncation_is_an_error(values in proptest::collection::vec(any::<i64>(), 1..100), cut in any::<prop::sample::Index>()) {
            let enc = encode(&values).expect("encode");
            let cut = cut.index(enc.len());
            prop_assert!(decode(&enc[..cut]).is_err());
        }
    }
}
