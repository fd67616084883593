//! Splitting a request body into logical lines.
//!
//! A logical line ends at the first newline that is not inside a string field
//! value. Finding that needs only a little of the grammar: strings open at a
//! `="` in the field section (after the first unescaped space of the line),
//! escapes follow the element rules of the escape module (a newline is never
//! escaped), and comment lines have no strings at all.
//!
//! A quote that never closes, or that "closes" on a later line right before a
//! character no string value can be followed by, is taken for a forgotten
//! closing quote: the logical line is cut at the first newline inside that
//! string, so only this line is lost (the parser then reports unbalanced
//! quotes) and the next physical line starts afresh. Splitting is kept apart
//! from parsing so that this recovery rule lives in one place.

use super::escape::escapes_next;
use super::{
    COMMENT, ESCAPE, KEY_SPECIALS, KEY_VALUE_SEPARATOR, LINE_END, PAIR_SEPARATOR, SECTION_SEPARATOR, STRING_QUOTE,
    STRING_SPECIALS,
};

/// One logical line of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Offset of the line's first byte.
    pub start: usize,
    /// Offset just past the line's content (its newline excluded).
    pub end: usize,
    /// Offset where the next line starts.
    pub next: usize,
    /// Newlines inside the content (inside string field values).
    pub newlines: usize,
}

/// Finds the logical line starting at `start` (`start < input.len()`).
pub(super) fn next_line(input: &[u8], start: usize) -> Span {
    // Fast path: a line without a quote ends at its first newline.
    let rest = input.get(start..).unwrap_or_default();
    match find_line_end_or_quote(rest) {
        None => Span { start, end: input.len(), next: input.len(), newlines: 0 },
        Some(i) if rest.get(i) == Some(&LINE_END) => Span { start, end: start + i, next: start + i + 1, newlines: 0 },
        Some(_) => split_quoted(input, start),
    }
}

/// Offset of the first newline or quote in `bytes`, eight bytes at a time.
fn find_line_end_or_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([LINE_END; 8]);
    const QUOTES: u64 = u64::from_le_bytes([STRING_QUOTE; 8]);
    // High bit set in the lowest byte of `x` that is zero (and maybe in
    // higher ones), clear everywhere if no byte is zero.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            let word = u64::from_le_bytes(word);
            let hits = zero_bytes(word ^ NEWLINES) | zero_bytes(word ^ QUOTES);
            if hits != 0 {
                return Some(offset + (hits.trailing_zeros() / 8) as usize);
            }
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == LINE_END || b == STRING_QUOTE).map(|i| offset + i)
}

/// The line ending at the first newline at or after `from`, with `newlines`
/// newlines already counted before `from`.
fn plain_end(input: &[u8], start: usize, from: usize, newlines: usize) -> Span {
    match input.get(from..).and_then(|rest| rest.iter().position(|&b| b == LINE_END)) {
        Some(i) => Span { start, end: from + i, next: from + i + 1, newlines },
        None => Span { start, end: input.len(), next: input.len(), newlines },
    }
}

/// Which part of the line the splitter is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Measurement and tags: quotes are ordinary characters.
    Key,
    /// Fields: `="` opens a string.
    Fields,
}

/// The slow path: a line with a quote somewhere before its first newline.
fn split_quoted(input: &[u8], start: usize) -> Span {
    let n = input.len();
    let mut i = start;
    while matches!(input.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if input.get(i) == Some(&COMMENT) {
        return plain_end(input, start, i, 0);
    }
    let mut section = Section::Key;
    let mut newlines = 0;
    while let Some(&b) = input.get(i) {
        match b {
            LINE_END => return Span { start, end: i, next: i + 1, newlines },
            // The measurement's specials are a subset of the keys': in the
            // key section only an escaped space matters here anyway.
            ESCAPE => i += if escapes_next(input, i, KEY_SPECIALS) { 2 } else { 1 },
            SECTION_SEPARATOR => {
                if section == Section::Fields {
                    // The timestamp section has no strings.
                    return plain_end(input, start, i, newlines);
                }
                section = Section::Fields;
                while matches!(input.get(i), Some(&(SECTION_SEPARATOR | b'\t'))) {
                    i += 1;
                }
            }
            KEY_VALUE_SEPARATOR if section == Section::Fields && input.get(i + 1) == Some(&STRING_QUOTE) => {
                let quote = i + 1;
                let s = scan_string(input, quote);
                match (s.close, s.first_newline) {
                    // A string on one line: whatever follows, the parser judges it.
                    (Some(close), None) => i = close + 1,
                    (None, None) => i = n,
                    // A multi-line string that ends where a string value can end.
                    (Some(close), Some(_)) if can_follow_string(input.get(close + 1)) => {
                        newlines += s.newlines;
                        i = close + 1;
                    }
                    // A forgotten closing quote: cut at the string's first newline.
                    (_, Some(nl)) => return Span { start, end: nl, next: nl + 1, newlines },
                }
            }
            _ => i += 1,
        }
    }
    Span { start, end: n, next: n, newlines }
}

/// Where a string field value ends.
struct StringScan {
    /// Offset of the closing quote, if any.
    close: Option<usize>,
    /// Offset of the first newline inside the string, if any.
    first_newline: Option<usize>,
    /// Newlines inside the string.
    newlines: usize,
}

impl StringScan {
    /// Records a newline at `at`.
    fn note_newline(&mut self, at: usize) {
        self.first_newline.get_or_insert(at);
        self.newlines += 1;
    }
}

/// Scans the string field value whose opening quote is at `quote`.
fn scan_string(input: &[u8], quote: usize) -> StringScan {
    let mut scan = StringScan { close: None, first_newline: None, newlines: 0 };
    let mut j = quote + 1;
    while let Some(&b) = input.get(j) {
        match b {
            STRING_QUOTE => {
                scan.close = Some(j);
                break;
            }
            ESCAPE if escapes_next(input, j, STRING_SPECIALS) => j += 2,
            LINE_END => {
                scan.note_newline(j);
                j += 1;
            }
            _ => j += 1,
        }
    }
    scan
}

/// True if `next` may follow the closing quote of a string field value in a
/// valid line: another field, the timestamp, trailing whitespace or the end.
fn can_follow_string(next: Option<&u8>) -> bool {
    matches!(next, None | Some(&(PAIR_SEPARATOR | SECTION_SEPARATOR | LINE_END | b'\r' | b'\t')))
}
