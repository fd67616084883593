//! WAL delete records: a `DELETE` logged in the WAL, in order with writes.
//!
//! Why in the WAL: the head is rebuilt at open by replaying the WAL, so a
//! `DELETE` that only removed points from blocks and the in-memory head
//! would be undone by the next replay (the deleted points are still in the
//! write records). Logging the delete under its own WAL sequence number makes
//! replay apply it at the same point of history: it removes matching points
//! from the head rebuilt *so far* (older writes) and leaves later writes
//! alone — exactly what the live store did.
//!
//! Layout (little-endian):
//!
//! ```text
//! tag u8 = 0xDE   (write records start with their version byte, 1)
//! start i64 · end i64          (inclusive time range)
//! roaring bitmap of series ids (its portable serialization)
//! crc32c u32 over everything before it
//! ```

use roaring::RoaringBitmap;

use super::api::TimeRange;
use super::wal::WalError;

/// First byte of a delete record.
pub(crate) const TAG: u8 = 0xDE;

/// A decoded delete record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WalDelete {
    pub(crate) range: TimeRange,
    pub(crate) series: RoaringBitmap,
}

/// Encodes a delete record.
pub(crate) fn encode(series: &RoaringBitmap, range: TimeRange) -> Vec<u8> {
    let mut out = Vec::with_capacity(21 + series.serialized_size());
    out.push(TAG);
    out.extend_from_slice(&range.start.to_le_bytes());
    out.extend_from_slice(&range.end.to_le_bytes());
    // Serializing into memory cannot fail.
    let _ = series.serialize_into(&mut out);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Whether a WAL value is a delete record (rather than a write record).
pub(crate) fn is_delete(bytes: &[u8]) -> bool {
    bytes.first() == Some(&TAG)
}

/// Decodes and verifies a delete record.
pub(crate) fn decode(bytes: &[u8]) -> Result<WalDelete, WalError> {
    if bytes.len() < 21 {
        return Err(WalError::Truncated);
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(WalError::Checksum);
    }
    if body[0] != TAG {
        return Err(WalError::Malformed("not a delete record"));
    }
    let int = |at: usize| {
        body.get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_le_bytes)
            .ok_or(WalError::Truncated)
    };
    let range = TimeRange { start: int(1)?, end: int(9)? };
    let series = RoaringBitmap::deserialize_from(&body[17..]).map_err(|_| WalError::Malformed("series bitmap"))?;
    Ok(WalDelete { range, series })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let ids: RoaringBitmap = [1u32, 7, 1_000_000].into_iter().collect();
        let range = TimeRange { start: -5, end: i64::MAX };
        let bytes = encode(&ids, range);
        assert!(is_delete(&bytes));
        assert_eq!(decode(&bytes), Ok(WalDelete { range, series: ids }));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(decode(&bytes[..10]).is_err());
    }
}
