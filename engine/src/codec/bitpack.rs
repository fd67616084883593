//! Fixed-width bit-packing (LSB-first), the back end of the decimal, integer,
//! boolean and dictionary codecs.
//!
//! `count` values of `width` bits are stored back to back, value `i` in bits
//! `[i*width, (i+1)*width)` of the little-endian bit string, padded with zero bits
//! to a whole byte. 64 values of any width fill exactly `8*width` bytes, so the
//! decoder works in chunks of 64: one specialised, fully unrolled routine per
//! width (a `match` picks it once per column, not per value), whose shifts and
//! offsets are all compile-time constants. The last chunks are copied into a
//! zero-padded scratch buffer, so the fast path never needs a bounds check per
//! value and never reads outside the input.

/// Bytes needed to pack `count` values of `width` bits.
pub(crate) fn packed_len(count: usize, width: u32) -> usize {
    ((count as u128 * u128::from(width)).div_ceil(8)).min(usize::MAX as u128) as usize
}

/// Bits needed to represent `v` (0 for 0).
#[inline]
pub(crate) fn bit_width(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// Appends `values`, each truncated to its low `width` bits, packed LSB-first.
pub(crate) fn pack<I: IntoIterator<Item = u64>>(values: I, width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let width = width.min(64);
    let mask = u64::MAX >> (64 - width);
    let mut acc = 0u64;
    let mut pending = 0u32; // bits in acc, < 64
    for v in values {
        let v = v & mask;
        acc |= v << pending;
        let filled = pending + width;
        if filled >= 64 {
            out.extend_from_slice(&acc.to_le_bytes());
            // Bits of v that did not fit (none when pending == 0).
            acc = if pending == 0 { 0 } else { v >> (64 - pending) };
            pending = filled - 64;
        } else {
            pending = filled;
        }
    }
    let tail = pending.div_ceil(8) as usize;
    out.extend_from_slice(&acc.to_le_bytes()[..tail.min(8)]);
}

/// Values per chunk of the decoder.
pub(crate) const CHUNK: usize = 64;

/// Unpacks `count` values of `width` bits from `src` and hands them to `f` in
/// chunks of up to [`CHUNK`] values, with the index of the chunk's first value.
///
/// Missing input bytes read as zero (callers check `src.len()` against
/// [`packed_len`] first); widths above 64 are treated as 64.
// Inlined into their callers in optimised builds, so that a caller compiled
// for AVX2/AVX-512 (see `decimal`) unpacks with those instructions too; not in
// debug builds, where the 64 inlined arms would each keep their own stack slots
// and overflow a test thread's stack.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn unpack_chunks<F: FnMut(usize, &[u64])>(src: &[u8], count: usize, width: u32, f: F) {
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                0 => unpack_zero(count, f),
                $($w => unpack_width::<$w, F>(src, count, f),)*
                _ => unpack_width::<64, F>(src, count, f),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
        31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
        60 61 62 63)
}

/// Unpacks chunk `index` (values `64*index ..= 64*index + 63`) of a column of
/// `width`-bit values into `out`. Bytes missing from `src` read as zero; widths
/// above 64 are treated as 64. For callers that walk two columns in step.
/// (Inlined like [`unpack_chunks`].)
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn unpack_chunk_at(src: &[u8], index: usize, width: u32, out: &mut [u64; CHUNK]) {
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                0 => out.fill(0),
                $($w => unpack_chunk_padded::<$w>(src, index, out),)*
                _ => unpack_chunk_padded::<64>(src, index, out),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
        31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
        60 61 62 63)
}

/// One chunk of width `W`, straight from `src` when enough input follows it,
/// else through a zero-padded copy.
#[inline(always)]
fn unpack_chunk_padded<const W: usize>(src: &[u8], index: usize, out: &mut [u64; CHUNK]) {
    let offset = index.saturating_mul(8 * W);
    match src.get(offset..offset.saturating_add(8 * W + SLACK)) {
        Some(s) => unpack_chunk::<W>(s, out),
        None => {
            let avail = src.get(offset..).unwrap_or(&[]);
            let take = avail.len().min(8 * W);
            let mut scratch = [0u8; 8 * 64 + SLACK];
            scratch[..take].copy_from_slice(&avail[..take]);
            unpack_chunk::<W>(&scratch, out);
        }
    }
}

#[inline]
fn unpack_zero<F: FnMut(usize, &[u64])>(count: usize, mut f: F) {
    let zeros = [0u64; CHUNK];
    let mut start = 0;
    while start < count {
        let n = (count - start).min(CHUNK);
        f(start, &zeros[..n]);
        start += n;
    }
}

/// Slack after a chunk that the fast path may read (one unaligned 16-byte load).
const SLACK: usize = 16;

#[inline(always)]
fn unpack_width<const W: usize, F: FnMut(usize, &[u64])>(src: &[u8], count: usize, mut f: F) {
    let chunk_bytes = 8 * W;
    let mut buf = [0u64; CHUNK];
    let mut start = 0;
    let mut offset = 0;
    // Fast path: whole chunks with enough input after them for unaligned loads.
    while count - start >= CHUNK {
        match src.get(offset..offset + chunk_bytes + SLACK) {
            Some(s) => {
                unpack_chunk::<W>(s, &mut buf);
                f(start, &buf);
            }
            None => break,
        }
        start += CHUNK;
        offset += chunk_bytes;
    }
    // Slow path for the last chunk or two: copy into a zero-padded scratch buffer.
    let mut scratch = [0u8; 8 * 64 + SLACK];
    while start < count {
        let avail = src.get(offset..).unwrap_or(&[]);
        let take = avail.len().min(chunk_bytes);
        scratch.fill(0);
        scratch[..take].copy_from_slice(&avail[..take]);
        unpack_chunk::<W>(&scratch, &mut buf);
        let n = (count - start).min(CHUNK);
        f(start, &buf[..n]);
        start += n;
        offset += chunk_bytes;
    }
}

#[inline(always)]
fn load_u64(src: &[u8], at: usize) -> u64 {
    match src.get(at..at + 8) {
        Some(s) => {
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            u64::from_le_bytes(b)
        }
        None => 0,
    }
}

#[inline(always)]
fn load_u128(src: &[u8], at: usize) -> u128 {
    match src.get(at..at + 16) {
        Some(s) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(s);
            u128::from_le_bytes(b)
        }
        None => 0,
    }
}

/// Unpacks one chunk of 64 values of width `W`; `src` holds at least
/// `8*W + SLACK` bytes. With `W` constant and the loop unrolled, every offset,
/// shift and mask below is a constant.
#[inline(always)]
fn unpack_chunk<const W: usize>(src: &[u8], out: &mut [u64; CHUNK]) {
    let src = match src.get(..8 * W + SLACK) {
        Some(s) => s,
        None => return,
    };
    let mask = u64::MAX >> (64 - W);
    macro_rules! one {
        ($i:expr) => {{
            let bit = $i * W;
            let at = bit / 8;
            let shift = bit % 8;
            let v = if W + shift <= 64 { load_u64(src, at) >> shift } else { (load_u128(src, at) >> shift) as u64 };
            out[$i] = v & mask;
        }};
    }
    macro_rules! eight {
        ($b:expr) => {
            one!($b);
            one!($b + 1);
            one!($b + 2);
            one!($b + 3);
            one!($b + 4);
            one!($b + 5);
            one!($b + 6);
            one!($b + 7);
        };
    }
    eight!(0);
    eight!(8);
    eight!(16);
    eight!(24);
    eight!(32);
    eight!(40);
    eight!(48);
    eight!(56);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unpack_all(src: &[u8], count: usize, width: u32) -> Vec<u64> {
        let mut out = Vec::new();
        unpack_chunks(src, count, width, |start, vals| {
            assert_eq!(start, out.len());
            out.extend_from_slice(vals);
        });
        out
    }

    #[test]
    fn every_width_round_trips() {
        for width in 0..=64u32 {
            for count in [0usize, 1, 63, 64, 65, 130, 300] {
                let mask = if width == 0 { 0 } else { u64::MAX >> (64 - width) };
                let values: Vec<u64> = (0..count as u64)
                    .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i as u32) & mask)
                    .collect();
                let mut out = Vec::new();
                pack(values.iter().copied(), width, &mut out);
                assert_eq!(out.len(), packed_len(count, width));
                assert_eq!(unpack_all(&out, count, width), values, "width {width} count {count}");
            }
        }
    }

    #[test]
    fn short_input_reads_zeros_without_panicking() {
        let got = unpack_all(&[0xff], 100, 7);
        assert_eq!(got.len(), 100);
        assert_eq!(got[0], 0x7f);
        assert!(got[2..].iter().all(|&v| v == 0));
    }

    proptest! {
        #[test]
        fn arbitrary_values_round_trip(values in proptest::collection::vec(any::<u64>(), 0..500), width in 0u32..=64) {
            let mask = if width == 0 { 0 } else { u64::MAX >> (64 - width) };
            let values: Vec<u64> = values.into_iter().map(|v| v & mask).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), width, &mut out);
            prop_assert_eq!(out.len(), packed_len(values.len(), width));
            prop_assert_eq!(unpack_all(&out, values.len(), width), values);
        }
    }
}
