//! Signed integer (`i64`) column codec: frame-of-reference bit-packing of the
//! values or of their deltas, whichever is smaller.
//!
//! Counters grow by similar steps, so their deltas need few bits; gauges stored
//! as integers wander inside a band, so the values themselves, minus the
//! band's minimum, need few bits (deltas would need one more bit than the band).
//! The encoder computes both widths in one pass and keeps the smaller. All
//! arithmetic wraps, so every `i64` round-trips, including deltas that overflow.
//!
//! Deltas are packed as `delta − min_delta` (frame of reference on the signed
//! deltas) rather than zigzag-then-pack: it is never wider, and for a counter
//! with steps in `995..=1005` it needs 4 bits where zigzag would need 5. Zigzag is
//! used for the signed header varints.
//!
//! The same code serves [`super::unsigned`]: values are mapped to `u64` in an
//! order-preserving way (`i64` by flipping the sign bit), so both types share
//! one core and one layout:
//!
//! | field | encoding |
//! |---|---|
//! | count | uvarint |
//! | (if count ≥ 1) mode | 1 byte: 0 = frame of reference, 1 = delta |
//! | mode 0: minimum value | varint (zz for `i64`) |
//! | mode 0: width | 1 byte, 0..=64 |
//! | mode 0: `value − min` × count | packed LSB-first, `ceil(count*width/8)` bytes |
//! | mode 1: first value | varint (zz for `i64`) |
//! | mode 1: minimum delta | zz varint |
//! | mode 1: width | 1 byte, 0..=64 |
//! | mode 1: `delta − min_delta` × (count − 1) | packed LSB-first |

use super::bitpack::{bit_width, pack, packed_len, unpack_chunks};
use super::varint::{put_ivarint, put_uvarint, ByteReader};
use super::{check_count, check_encode_len, CodecError};

const MODE_FOR: u8 = 0;
const MODE_DELTA: u8 = 1;

/// Flipping the sign bit maps `i64` order onto `u64` order.
const SIGN: u64 = 1 << 63;

/// Encodes a signed integer column.
///
/// Fails only if there are more than [`MAX_VALUES`](super::MAX_VALUES) values.
pub fn encode(values: &[i64]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(values, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `values` to `out`; see [`encode`].
pub fn encode_into(values: &[i64], out: &mut Vec<u8>) -> Result<(), CodecError> {
    encode_core(values, |v| v as u64 ^ SIGN, true, out)
}

/// Decodes a signed integer column.
pub fn decode(bytes: &[u8]) -> Result<Vec<i64>, CodecError> {
    decode_core(bytes, |u| (u ^ SIGN) as i64, true)
}

/// Writes a header value in its natural domain (zigzag for signed types).
fn put_value(out: &mut Vec<u8>, mapped: u64, signed: bool) {
    if signed {
        put_ivarint(out, (mapped ^ SIGN) as i64);
    } else {
        put_uvarint(out, mapped);
    }
}

fn read_value(r: &mut ByteReader<'_>, signed: bool) -> Result<u64, CodecError> {
    if signed {
        Ok(r.ivarint()? as u64 ^ SIGN)
    } else {
        r.uvarint()
    }
}

/// The shared encoder: `map` must be an order-preserving bijection onto `u64`.
pub(crate) fn encode_core<T: Copy>(
    values: &[T],
    map: impl Fn(T) -> u64,
    signed: bool,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    check_encode_len(values.len())?;
    put_uvarint(out, values.len() as u64);
    let Some(&first) = values.first() else {
        return Ok(());
    };
    let first = map(first);
    let (mut lo, mut hi) = (first, first);
    let (mut dlo, mut dhi) = (i64::MAX, i64::MIN);
    let mut prev = first;
    for &v in &values[1..] {
        let m = map(v);
        lo = lo.min(m);
        hi = hi.max(m);
        let d = m.wrapping_sub(prev) as i64;
        dlo = dlo.min(d);
        dhi = dhi.max(d);
        prev = m;
    }
    let n = values.len() as u64;
    let for_width = bit_width(hi - lo);
    let delta_width = if n > 1 { bit_width((i128::from(dhi) - i128::from(dlo)) as u64) } else { 64 };
    if n > 1 && (n - 1) * u64::from(delta_width) + 16 < n * u64::from(for_width) {
        out.push(MODE_DELTA);
        put_value(out, first, signed);
        put_ivarint(out, dlo);
        out.push(delta_width as u8);
        let mut prev = first;
        pack(
            values[1..].iter().map(|&v| {
                let m = map(v);
                let d = m.wrapping_sub(prev) as i64;
                prev = m;
                d.wrapping_sub(dlo) as u64
            }),
            delta_width,
            out,
        );
    } else {
        out.push(MODE_FOR);
        put_value(out, lo, signed);
        out.push(for_width as u8);
        pack(values.iter().map(|&v| map(v) - lo), for_width, out);
    }
    Ok(())
}

/// The shared decoder; `unmap` is the inverse of the encoder's `map`.
pub(crate) fn decode_core<T>(bytes: &[u8], unmap: impl Fn(u64) -> T, signed: bool) -> Result<Vec<T>, CodecError> {
    let mut r = ByteReader::new(bytes);
    let count = check_count(r.uvarint()?)?;
    if count == 0 {
        r.finish()?;
        return Ok(Vec::new());
    }
    let mode = r.u8()?;
    let (base, min_delta, packed_count) = match mode {
        MODE_FOR => (read_value(&mut r, signed)?, 0, count),
        MODE_DELTA => (read_value(&mut r, signed)?, r.ivarint()?, count - 1),
        tag => return Err(CodecError::UnknownTag(tag)),
    };
    let width = u32::from(r.u8()?);
    if width > 64 {
        return Err(CodecError::InvalidHeader { what: "integer bit width", value: u64::from(width) });
    }
    let len = packed_len(packed_count, width);
    if len > r.remaining() {
        return Err(CodecError::TooManyValues { count: count as u64 });
    }
    let packed = r.bytes(len)?;
    r.finish()?;
    let mut out = Vec::with_capacity(count);
    if mode == MODE_FOR {
        unpack_chunks(packed, count, width, |_, vals| {
            out.extend(vals.iter().map(|&u| unmap(base.wrapping_add(u))));
        });
    } else {
        let mut prev = base;
        out.push(unmap(prev));
        unpack_chunks(packed, packed_count, width, |_, vals| {
            for &u in vals {
                prev = prev.wrapping_add(min_delta.wrapping_add(u as i64) as u64);
                out.push(unmap(prev));
            }
        });
    }
    Ok(out)
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
    fn empty_single_extremes() {
        assert_eq!(round_trip(&[]), vec![0]);
        round_trip(&[i64::MIN]);
        round_trip(&[i64::MIN, i64::MAX, 0, -1, 1, i64::MAX, i64::MIN]);
        round_trip(&[i64::MAX, i64::MIN, i64::MAX, i64::MIN]);
    }

    #[test]
    fn counter_uses_deltas() {
        let values: Vec<i64> = (0..1000).map(|i| 1_000_000 + i * 1000 + (i * 7919) % 11).collect();
        let enc = round_trip(&values);
        assert_eq!(enc[2], MODE_DELTA);
        assert!(enc.len() < 1000 * 5 / 8 + 16, "{}", enc.len());
    }

    #[test]
    fn gauge_uses_frame_of_reference() {
        let values: Vec<i64> = (0..1000).map(|i| -500 + (i * 7919) % 1000).collect();
        let enc = round_trip(&values);
        assert_eq!(enc[2], MODE_FOR);
        assert!(enc.len() < 1000 * 10 / 8 + 16, "{}", enc.len());
    }

    #[test]
    fn constant_column_is_a_few_bytes() {
        let enc = round_trip(&[7; 5000]);
        assert!(enc.len() < 8, "{}", enc.len());
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 9, 0, 0]).is_err());
        assert!(decode(&[1, 0, 0, 65]).is_err());
        assert!(decode(&[100, 0, 0, 8, 1, 2]).is_err());
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0]).is_err());
        let mut enc = encode(&[1, 5, 9]).expect("encode");
        enc.push(1);
        assert_eq!(decode(&enc), Err(CodecError::TrailingBytes(1)));
    }

    proptest! {
        #[test]
        fn arbitrary_values_round_trip(values in proptest::collection::vec(any::<i64>(), 0..300)) {
            let enc = encode(&values).expect("encode");
            prop_assert_eq!(decode(&enc).expect("decode"), values);
        }

        #[test]
        fn small_steps_round_trip(start in any::<i64>(), steps in proptest::collection::vec(-100i64..100, 0..300)) {
            let mut x = start;
            let values: Vec<i64> = steps.iter().map(|s| { x = x.wrapping_add(*s); x }).collect();
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
            prop_assert!(decode(&enc[..cut.index(enc.len())]).is_err());
        }
    }
}
