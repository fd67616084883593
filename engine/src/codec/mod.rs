//! Augur's own column codecs: the byte formats of the values inside a sealed block.
//!
//! Each submodule turns one column of values into a self-describing byte string
//! (a small header with the value count and the parameters, then the payload) and
//! back:
//!
//! * [`timestamp`]: Gorilla delta-of-delta for `i64` timestamps, with a common
//!   divisor (second- or millisecond-precision nanosecond timestamps shrink to
//!   small numbers) and a constant-interval fast path.
//! * [`gorilla`]: Gorilla XOR compression for `f64` (any bit pattern round-trips).
//! * [`decimal`]: the ALP idea for `f64` that were printed with few decimals: the
//!   value becomes an integer times a power of ten, the integers are
//!   frame-of-reference bit-packed, and values that do not round-trip bit for bit
//!   are stored verbatim as exceptions. Decodes at memory speed.
//! * [`float`]: the float column entry point, which keeps the smaller of the two.
//! * [`integer`] / [`unsigned`]: delta or plain frame-of-reference bit-packing.
//! * [`boolean`]: bitmap or run lengths, whichever is smaller.
//! * [`string`]: a dictionary with bit-packed indices, or a plain length-prefixed
//!   list when the dictionary does not pay.
//! * [`bits`]: the MSB-first bit writer and reader the Gorilla codecs share.
//!
//! Why our own codecs rather than a general-purpose compressor: time series have
//! structure (regular timestamps, slowly moving values, decimals printed with few
//! digits) that these codecs exploit directly, they decode a column without
//! touching the others, and their decoders are fast enough to run on every query.
//! `docs/storage-format.md` has the byte layouts and the measured sizes.
//!
//! Robustness contract: every decoder returns `Result<_, CodecError>` and never
//! panics on arbitrary bytes, and never allocates more than the input can encode
//! (value counts are checked against the bytes present, and capped at
//! [`MAX_VALUES`] for encodings where a few bytes stand for many values).

use thiserror::Error;

pub(crate) mod bitpack;
pub mod bits;
pub mod boolean;
pub mod decimal;
pub mod float;
pub mod gorilla;
pub mod integer;
pub mod string;
pub mod timestamp;
pub mod unsigned;
pub(crate) mod varint;

/// The most values one encoded column may hold (16 Mi).
///
/// Encoders refuse longer inputs and decoders refuse headers that claim more, so
/// a corrupt or hostile count can never make a decoder allocate without bound
/// (some encodings, e.g. a constant run, need only a few bytes for any count).
pub const MAX_VALUES: usize = 1 << 24;

/// The most memory a decoded string column may take (256 MiB, counting each
/// `String`'s header and bytes); a dictionary could otherwise expand a small
/// input into a huge output.
pub const MAX_STRING_BYTES: usize = 1 << 28;

/// Why a column could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The input ended before the encoded values did.
    #[error("encoded column is truncated")]
    Truncated,
    /// The input continues after the encoded values (the formats are exact-length).
    #[error("{0} unexpected trailing byte(s) after the encoded column")]
    TrailingBytes(usize),
    /// More values than [`MAX_VALUES`] (on encode), or a header claiming more
    /// values than allowed or than the input can hold (on decode).
    #[error("column claims {count} values, more than the limit or the input allows")]
    TooManyValues {
        /// The number of values asked for.
        count: u64,
    },
    /// A tag byte that selects an encoding variant is unknown.
    #[error("unknown encoding tag {0}")]
    UnknownTag(u8),
    /// A header field is out of its valid range.
    #[error("invalid {what} ({value}) in encoded column")]
    InvalidHeader {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// The payload is inconsistent with itself (e.g. an out-of-range index).
    #[error("corrupt encoded column: {0}")]
    Corrupt(&'static str),
    /// A decoded string is not valid UTF-8.
    #[error("string value is not valid UTF-8")]
    InvalidUtf8,
    /// Decoded strings would exceed [`MAX_STRING_BYTES`].
    #[error("decoded strings would take {0} bytes, more than the limit")]
    StringsTooLarge(u64),
}

/// Checks a value count taken from a header against [`MAX_VALUES`].
pub(crate) fn check_count(count: u64) -> Result<usize, CodecError> {
    if count > MAX_VALUES as u64 {
        return Err(CodecError::TooManyValues { count });
    }
    // Fits: MAX_VALUES is far below usize::MAX on every supported target.
    usize::try_from(count).map_err(|_| CodecError::TooManyValues { count })
}

/// Checks the number of values handed to an encoder against [`MAX_VALUES`].
pub(crate) fn check_encode_len(len: usize) -> Result<(), CodecError> {
    if len > MAX_VALUES {
        return Err(CodecError::TooManyValues { count: len as u64 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_above_the_limit_are_refused() {
        assert!(check_count(MAX_VALUES as u64).is_ok());
        assert_eq!(check_count(MAX_VALUES as u64 + 1), Err(CodecError::TooManyValues { count: MAX_VALUES as u64 + 1 }));
        assert!(check_encode_len(MAX_VALUES + 1).is_err());
    }
}
