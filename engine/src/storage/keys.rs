//! Key layouts of every column family, in one place.
//!
//! All integers are big-endian so that RocksDB's byte order is numeric order:
//! a series' blocks over a time range are one contiguous range scan. Signed
//! timestamps have their sign bit flipped for the same reason.
//!
//! | family   | key                                                     | value |
//! |----------|---------------------------------------------------------|-------|
//! | series   | ns u32 · series key bytes                               | id u32 |
//! | postings | ns u32 · 0x01 · measurement                             | roaring bitmap |
//! | postings | ns u32 · 0x02 · len u32 · measurement · len u32 · tag key · tag value | roaring bitmap |
//! | blocks   | id u32 · window start i64 (sign-flipped) · seal seq u64  | block |
//! | wal      | seq u64                                                 | WAL record |
//! | meta     | `catalog` / `seal_seq` / `block_window` / `field` · ns · len · measurement · field | varies |

/// Sign-flips an i64 so its big-endian bytes sort numerically.
pub(crate) fn ord_i64(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`ord_i64`].
pub(crate) fn from_ord_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// `series` key: namespace + series key.
pub(crate) fn series_key(ns: u32, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.len());
    k.extend_from_slice(&ns.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// First key of a namespace (for range scans and deletes in several families).
pub(crate) fn ns_prefix(ns: u32) -> Vec<u8> {
    ns.to_be_bytes().to_vec()
}

/// The key just past a namespace.
pub(crate) fn ns_end(ns: u32) -> Vec<u8> {
    match ns.checked_add(1) {
        Some(n) => n.to_be_bytes().to_vec(),
        None => vec![0xFF; 5],
    }
}

fn push_len_prefixed(k: &mut Vec<u8>, s: &str) {
    k.extend_from_slice(&(s.len() as u32).to_be_bytes());
    k.extend_from_slice(s.as_bytes());
}

/// Reads a length-prefixed string at `*at`, advancing it.
fn read_len_prefixed(b: &[u8], at: &mut usize) -> Option<String> {
    let len = u32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
    *at += 4;
    let s = std::str::from_utf8(b.get(*at..at.checked_add(len)?)?).ok()?.to_string();
    *at += len;
    Some(s)
}

/// `postings` key listing every series of a measurement.
pub(crate) fn measurement_posting(ns: u32, measurement: &str) -> Vec<u8> {
    let mut k = ns_prefix(ns);
    k.push(0x01);
    k.extend_from_slice(measurement.as_bytes());
    k
}

/// `postings` key listing the series of a measurement with `tag = value`.
pub(crate) fn tag_posting(ns: u32, measurement: &str, tag: &str, value: &str) -> Vec<u8> {
    let mut k = ns_prefix(ns);
    k.push(0x02);
    push_len_prefixed(&mut k, measurement);
    push_len_prefixed(&mut k, tag);
    k.extend_from_slice(value.as_bytes());
    k
}

/// A decoded `postings` key.
pub(crate) enum Posting {
    /// All series of a measurement.
    Measurement(String),
    /// Series of a measurement with a tag pair.
    Tag(String, String, String),
}

/// Decodes a `postings` key (without its namespace check).
pub(crate) fn decode_posting(k: &[u8]) -> Option<(u32, Posting)> {
    let ns = u32::from_be_bytes(k.get(0..4)?.try_into().ok()?);
    match k.get(4)? {
        0x01 => Some((ns, Posting::Measurement(std::str::from_utf8(&k[5..]).ok()?.to_string()))),
        0x02 => {
            let mut at = 5;
            let m = read_len_prefixed(k, &mut at)?;
            let t = read_len_prefixed(k, &mut at)?;
            let v = std::str::from_utf8(k.get(at..)?).ok()?.to_string();
            Some((ns, Posting::Tag(m, t, v)))
        }
        _ => None,
    }
}

/// `blocks` key.
pub(crate) fn block_key(series: u32, window_start: i64, seal_seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(20);
    k.extend_from_slice(&series.to_be_bytes());
    k.extend_from_slice(&ord_i64(window_start));
    k.extend_from_slice(&seal_seq.to_be_bytes());
    k
}

/// Decodes a `blocks` key into (series, window start, seal seq).
pub(crate) fn decode_block_key(k: &[u8]) -> Option<(u32, i64, u64)> {
    if k.len() != 20 {
        return None;
    }
    let s = u32::from_be_bytes(k[0..4].try_into().ok()?);
    let w = from_ord_i64(k[4..12].try_into().ok()?);
    let q = u64::from_be_bytes(k[12..20].try_into().ok()?);
    Some((s, w, q))
}

/// First `blocks` key of a series.
pub(crate) fn series_blocks_start(series: u32) -> Vec<u8> {
    series.to_be_bytes().to_vec()
}

/// The key just past a series' blocks.
pub(crate) fn series_blocks_end(series: u32) -> Vec<u8> {
    match series.checked_add(1) {
        Some(n) => n.to_be_bytes().to_vec(),
        None => vec![0xFF; 5],
    }
}

/// `wal` key.
pub(crate) fn wal_key(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

/// Decodes a `wal` key.
pub(crate) fn decode_wal_key(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.try_into().ok()?))
}

/// `meta` key of the catalog (databases and retention policies).
pub(crate) const META_CATALOG: &[u8] = b"catalog";
/// `meta` key of the next seal sequence number.
pub(crate) const META_SEAL_SEQ: &[u8] = b"seal_seq";
/// `meta` key of the block window fixed when the store was created.
pub(crate) const META_BLOCK_WINDOW: &[u8] = b"block_window";
/// `meta` key of the next series id (ids are never reused).
pub(crate) const META_NEXT_SERIES: &[u8] = b"next_series";
/// Prefix of `meta` keys holding field types.
pub(crate) const META_FIELD_PREFIX: &[u8] = b"field/";

/// `meta` key of a field's type.
pub(crate) fn field_key(ns: u32, measurement: &str, field: &str) -> Vec<u8> {
    let mut k = META_FIELD_PREFIX.to_vec();
    k.extend_from_slice(&ns.to_be_bytes());
    push_len_prefixed(&mut k, measurement);
    k.extend_from_slice(field.as_bytes());
    k
}

/// Prefix of the field-type keys of a namespace.
pub(crate) fn field_ns_prefix(ns: u32) -> Vec<u8> {
    let mut k = META_FIELD_PREFIX.to_vec();
    k.extend_from_slice(&ns.to_be_bytes());
    k
}

/// The key just past a namespace's field types.
pub(crate) fn field_ns_end(ns: u32) -> Vec<u8> {
    let mut k = META_FIELD_PREFIX.to_vec();
    match ns.checked_add(1) {
        Some(n) => k.extend_from_slice(&n.to_be_bytes()),
        None => k.extend_from_slice(&[0xFF; 5]),
    }
    k
}

/// Decodes a field-type key into (ns, measurement, field).
pub(crate) fn decode_field_key(k: &[u8]) -> Option<(u32, String, String)> {
    let rest = k.strip_prefix(META_FIELD_PREFIX)?;
    let ns = u32::from_be_bytes(rest.get(0..4)?.try_into().ok()?);
    let mut at = 4;
    let m = read_len_prefixed(rest, &mut at)?;
    let f = std::str::from_utf8(rest.get(at..)?).ok()?.to_string();
    Some((ns, m, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_keys_sort_by_series_then_time() {
        let a = block_key(1, -10, 5);
        let b = block_key(1, 0, 1);
        let c = block_key(1, i64::MAX, 0);
        let d = block_key(2, i64::MIN, 0);
        assert!(a < b && b < c && c < d);
        assert_eq!(decode_block_key(&a), Some((1, -10, 5)));
    }

    #[test]
    fn postings_and_fields_round_trip() {
        match decode_posting(&tag_posting(7, "cpu", "host", "a=b")) {
            Some((7, Posting::Tag(m, t, v))) => assert_eq!((m, t, v), ("cpu".into(), "host".into(), "a=b".into())),
            _ => panic!("bad decode"),
        }
        assert_eq!(decode_field_key(&field_key(3, "m", "f")), Some((3, "m".into(), "f".into())));
    }
}
