//! Backslash escapes, InfluxDB 1.x's rule.
//!
//! Each element has a set of *specials* (the characters that would otherwise
//! end it): `,` and space for the measurement; `,`, `=` and space for tag
//! keys, tag values and field keys; `"` and `\` for string field values. A
//! backslash right before a special escapes it: the special is kept as data
//! and the backslash dropped. A backslash before anything else is an ordinary
//! character, so `C:\temp` and `\\server\share` need no escaping and are kept
//! as written (in names, `\\` is two backslashes, as in InfluxDB 1.x).
//!
//! The scanners in the line module apply the same rule when they look for the
//! end of an element, so "escaped" means the same thing everywhere.

use super::ESCAPE;

/// True if the backslash at `bytes[i]` escapes the byte after it.
#[inline]
pub(super) fn escapes_next(bytes: &[u8], i: usize, specials: &[u8]) -> bool {
    bytes.get(i) == Some(&ESCAPE) && bytes.get(i + 1).is_some_and(|next| specials.contains(next))
}

/// Removes the escapes from `raw` (valid UTF-8).
pub(super) fn unescape(raw: &str, specials: &[u8]) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if escapes_next(bytes, i, specials) {
            // `i` and `i + 1` hold ASCII bytes, so both offsets are char boundaries.
            out.push_str(raw.get(copied..i).unwrap_or_default());
            copied = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(raw.get(copied..).unwrap_or_default());
    out
}
