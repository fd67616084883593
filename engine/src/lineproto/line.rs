//! Parsing one logical line into its parts.
//!
//! The line is walked once, left to right, element by element: measurement,
//! tags, fields, timestamp. Each element is scanned as a borrowed byte slice
//! up to its first unescaped delimiter, checked, and kept borrowed from the
//! input (a copy is made only to remove escapes). The key section
//! (measurement and tags) is skipped unparsed when the caller has already
//! seen the same bytes on an earlier valid line. The first problem found ends
//! the line with a [`Fail`] that records the byte offset of the offending
//! element, from which the caller derives line and column.

use std::borrow::Cow;
use std::collections::HashMap;

use super::escape::{escapes_next, unescape};
use super::value;
use super::LineErrorKind as Kind;
use super::{
    COMMENT, ESCAPE, KEY_SPECIALS, KEY_VALUE_SEPARATOR, MAX_KEY_LEN, MAX_STRING_LEN, MEASUREMENT_SPECIALS,
    PAIR_SEPARATOR, SECTION_SEPARATOR, STRING_QUOTE, STRING_SPECIALS,
};
use crate::model::{FieldValue, Precision};

/// A rejected line: what is wrong and at which byte of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fail {
    /// What is wrong.
    pub kind: Kind,
    /// Byte offset (in the logical line) of the offending element.
    pub pos: usize,
}

impl Fail {
    fn at(kind: Kind, pos: usize) -> Fail {
        Fail { kind, pos }
    }
}

/// Buffers reused from line to line, and size hints from the previous line.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// Byte offset of each tag key, in input order.
    tag_pos: Vec<usize>,
    /// Tag indices sorted by key, to find duplicates.
    order: Vec<usize>,
    /// Number of tags in the previous point.
    tags_hint: usize,
}

/// Removes trailing spaces, tabs and carriage returns.
pub(super) fn trim_end(line: &[u8]) -> &[u8] {
    let keep = line.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r')).map_or(0, |i| i + 1);
    line.get(..keep).unwrap_or(line)
}

/// A field of a line: name and value.
pub(super) type Field<'a> = (Cow<'a, str>, FieldValue);

/// A parsed key section: measurement and tags (sorted by key, keys unique).
#[derive(Debug)]
pub(super) struct Key<'a> {
    pub measurement: Cow<'a, str>,
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// What a valid line holds besides its fields.
#[derive(Debug)]
pub(super) struct Line<'a> {
    /// The key section as written (measurement and tags).
    pub key_raw: &'a [u8],
    /// The parsed key section; `None` when `known` recognised `key_raw`.
    pub key: Option<Key<'a>>,
    /// Nanoseconds, if the line has a timestamp.
    pub timestamp: Option<i64>,
}

/// Parses one logical line (without its final newline), appending its
/// fields to `fields`; after an error the caller removes what this line
/// appended. `Ok(None)` for a blank or comment line. `known(key_raw)` says
/// whether these key bytes were already parsed, valid, on an earlier line:
/// then they are not parsed again.
pub(super) fn parse_line<'a>(
    line: &'a [u8],
    precision: Precision,
    scratch: &mut Scratch,
    known: &dyn Fn(&[u8]) -> bool,
    fields: &mut Vec<Field<'a>>,
) -> Result<Option<Line<'a>>, Fail> {
    let b = trim_end(line);
    // One UTF-8 check for the whole line; elements are then sliced from it.
    // Only a line that fails it is checked element by element, to find the
    // element (and byte) at fault.
    let text = std::str::from_utf8(b).ok();
    let mut pos = b.iter().position(|c| !matches!(c, b' ' | b'\t')).unwrap_or(b.len());
    if pos == b.len() || b.get(pos) == Some(&COMMENT) {
        return Ok(None);
    }
    let key_start = pos;
    // The key section ends at the first unescaped space (a `\=` in the
    // measurement, literal there, is skipped the same way).
    let (key_end, _) = scan(b, pos, KEY_SPECIALS, |c| c == SECTION_SEPARATOR);
    let key_raw = b.get(key_start..key_end).unwrap_or_default();
    let key = if known(key_raw) {
        pos = key_end;
        None
    } else {
        let (key, end) = key_section(b, text, pos, scratch)?;
        pos = end;
        Some(key)
    };

    // Fields: at least one `key=value`, comma-separated, after the space.
    pos = skip_blanks(b, pos);
    if pos == b.len() {
        return Err(Fail::at(Kind::MissingFields, pos));
    }
    let first_field = fields.len();
    loop {
        let (field, end) = field(b, text, pos)?;
        fields.push(field);
        pos = end;
        match b.get(pos) {
            Some(&PAIR_SEPARATOR) => pos += 1,
            _ => break,
        }
    }
    remove_duplicate_fields(fields, first_field);

    // Timestamp: optional, then nothing.
    pos = skip_blanks(b, pos);
    let timestamp = if pos == b.len() {
        None
    } else {
        let end = b.get(pos..).and_then(|rest| rest.iter().position(|&c| is_blank(c))).map_or(b.len(), |i| pos + i);
        let token = b.get(pos..end).unwrap_or_default();
        let ts = value::timestamp(token, precision).map_err(|kind| Fail::at(kind, pos))?;
        pos = skip_blanks(b, end);
        if pos < b.len() {
            return Err(Fail::at(Kind::TrailingText, pos));
        }
        Some(ts)
    };
    Ok(Some(Line { key_raw, key, timestamp }))
}

/// Parses the key section starting at `pos` (measurement, then tags); returns
/// it and the offset just past it.
fn key_section<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    mut pos: usize,
    scratch: &mut Scratch,
) -> Result<(Key<'a>, usize), Fail> {
    let key_start = pos;
    // Measurement: up to the first unescaped `,` or space.
    let (end, escaped) = scan(b, pos, MEASUREMENT_SPECIALS, |c| c == PAIR_SEPARATOR || c == SECTION_SEPARATOR);
    if end == pos {
        return Err(Fail::at(Kind::MissingMeasurement, pos));
    }
    let measurement = element(b, text, pos, end, escaped, MEASUREMENT_SPECIALS)?;
    pos = end;

    // Tags: `,key=value` until the first unescaped space.
    let mut tags: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(scratch.tags_hint);
    scratch.tag_pos.clear();
    while b.get(pos) == Some(&PAIR_SEPARATOR) {
        let key_pos = pos + 1;
        let (key_end, key_escaped) = scan(b, key_pos, KEY_SPECIALS, |c| {
            c == KEY_VALUE_SEPARATOR || c == PAIR_SEPARATOR || c == SECTION_SEPARATOR
        });
        if key_end == key_pos {
            return Err(Fail::at(Kind::MissingTagKey, key_pos));
        }
        if b.get(key_end) != Some(&KEY_VALUE_SEPARATOR) {
            return Err(Fail::at(Kind::MissingTagValue, key_end));
        }
        let value_pos = key_end + 1;
        let (value_end, value_escaped) = scan(b, value_pos, KEY_SPECIALS, |c| {
            c == PAIR_SEPARATOR || c == SECTION_SEPARATOR || c == KEY_VALUE_SEPARATOR
        });
        if b.get(value_end) == Some(&KEY_VALUE_SEPARATOR) {
            return Err(Fail::at(Kind::InvalidTagFormat, value_pos));
        }
        if value_end == value_pos {
            return Err(Fail::at(Kind::MissingTagValue, value_pos));
        }
        let key = element(b, text, key_pos, key_end, key_escaped, KEY_SPECIALS)?;
        let value = element(b, text, value_pos, value_end, value_escaped, KEY_SPECIALS)?;
        tags.push((key, value));
        scratch.tag_pos.push(key_pos);
        pos = value_end;
    }
    if pos - key_start > MAX_KEY_LEN {
        return Err(Fail::at(Kind::KeyTooLong, key_start));
    }
    sort_tags(&mut tags, scratch)?;
    scratch.tags_hint = tags.len();
    Ok((Key { measurement, tags }, pos))
}

/// Parses the field starting at `pos`; returns it and the offset just past
/// its value.
fn field<'a>(b: &'a [u8], text: Option<&'a str>, pos: usize) -> Result<(Field<'a>, usize), Fail> {
    let (key_end, key_escaped) =
        scan(b, pos, KEY_SPECIALS, |c| c == KEY_VALUE_SEPARATOR || c == PAIR_SEPARATOR || c == SECTION_SEPARATOR);
    if key_end == pos {
        return Err(Fail::at(Kind::MissingFieldKey, pos));
    }
    if b.get(key_end) != Some(&KEY_VALUE_SEPARATOR) {
        return Err(Fail::at(Kind::InvalidFieldFormat, pos));
    }
    let key = element(b, text, pos, key_end, key_escaped, KEY_SPECIALS)?;
    let value_pos = key_end + 1;
    let (value, end) = match b.get(value_pos) {
        None | Some(&(PAIR_SEPARATOR | SECTION_SEPARATOR)) => return Err(Fail::at(Kind::MissingFieldValue, value_pos)),
        Some(&STRING_QUOTE) => string_value(b, text, value_pos)?,
        Some(_) => {
            let (end, _) = scan(b, value_pos, KEY_SPECIALS, |c| c == PAIR_SEPARATOR || c == SECTION_SEPARATOR);
            let token = b.get(value_pos..end).unwrap_or_default();
            let value = value::field_value(token).map_err(|kind| Fail::at(kind, value_pos))?;
            (value, end)
        }
    };
    Ok(((key, value), end))
}

/// Parses the string field value whose opening quote is at `quote`; returns
/// it and the offset just past the closing quote.
fn string_value(b: &[u8], line: Option<&str>, quote: usize) -> Result<(FieldValue, usize), Fail> {
    let start = quote + 1;
    let mut i = start;
    let mut escaped = false;
    let close = loop {
        match b.get(i) {
            None => return Err(Fail::at(Kind::UnbalancedQuotes, quote)),
            Some(&STRING_QUOTE) => break i,
            Some(&ESCAPE) if escapes_next(b, i, STRING_SPECIALS) => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
        }
    };
    let after = close + 1;
    if !matches!(b.get(after), None | Some(&(PAIR_SEPARATOR | SECTION_SEPARATOR))) {
        return Err(Fail::at(Kind::InvalidFieldFormat, after));
    }
    let text = element(b, line, start, close, escaped, STRING_SPECIALS)?;
    if text.len() > MAX_STRING_LEN {
        return Err(Fail::at(Kind::StringTooLong, quote));
    }
    Ok((FieldValue::String(text.into_owned()), after))
}

/// Scans from `pos` to the first unescaped byte for which `stop` holds (or
/// the end), escapes being a backslash before one of `specials`; returns that
/// offset and whether an escape was seen.
#[inline]
fn scan(b: &[u8], pos: usize, specials: &[u8], stop: impl Fn(u8) -> bool) -> (usize, bool) {
    let mut i = pos;
    let mut escaped = false;
    while let Some(&c) = b.get(i) {
        if c == ESCAPE && escapes_next(b, i, specials) {
            escaped = true;
            i += 2;
        } else if stop(c) {
            return (i, escaped);
        } else {
            i += 1;
        }
    }
    (b.len(), escaped)
}

/// True for the bytes skipped after a section separator.
fn is_blank(c: u8) -> bool {
    c == SECTION_SEPARATOR || c == b'\t'
}

/// Skips spaces and tabs (after a section separator: InfluxDB 1.x does the
/// same).
fn skip_blanks(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).is_some_and(|&c| is_blank(c)) {
        pos += 1;
    }
    pos
}

/// Turns `b[start..end]` into a string, borrowed unless escapes must be removed when
/// `escaped`. `line` is `b` as text when it is valid UTF-8; otherwise the
/// element is checked on its own.
fn element<'a>(
    b: &'a [u8],
    line: Option<&'a str>,
    start: usize,
    end: usize,
    escaped: bool,
    specials: &[u8],
) -> Result<Cow<'a, str>, Fail> {
    // Elements start and end next to ASCII delimiters, so slicing the valid
    // line at their offsets always lands on char boundaries.
    let text = match line.and_then(|line| line.get(start..end)) {
        Some(text) => text,
        None => std::str::from_utf8(b.get(start..end).unwrap_or_default())
            .map_err(|e| Fail::at(Kind::InvalidUtf8, start + e.valid_up_to()))?,
    };
    Ok(if escaped { Cow::Owned(unescape(text, specials)) } else { Cow::Borrowed(text) })
}

/// Sorts tags by key, rejecting a key that appears twice (reported at its
/// second occurrence in the line).
fn sort_tags(tags: &mut [(Cow<'_, str>, Cow<'_, str>)], scratch: &mut Scratch) -> Result<(), Fail> {
    if tags.windows(2).all(|w| w[0].0 < w[1].0) {
        return Ok(());
    }
    let order = &mut scratch.order;
    order.clear();
    order.extend(0..tags.len());
    // Ties broken by position: equal keys stay in input order.
    order.sort_unstable_by(|&x, &y| tags[x].0.cmp(&tags[y].0).then(x.cmp(&y)));
    let duplicate = order.windows(2).filter(|w| tags[w[0]].0 == tags[w[1]].0).map(|w| w[1]).min();
    if let Some(second) = duplicate {
        let pos = scratch.tag_pos.get(second).copied().unwrap_or_default();
        return Err(Fail::at(Kind::DuplicateTags, pos));
    }
    tags.sort_unstable_by(|x, y| x.0.cmp(&y.0));
    Ok(())
}

/// Length plus the first and last (up to) eight bytes of a key: equal keys
/// have equal signatures, and distinct keys of one line rarely do.
fn key_signature(k: &str) -> (usize, u64, u64) {
    let b = k.as_bytes();
    let mut head = [0u8; 8];
    let mut tail = [0u8; 8];
    let n = b.len().min(8);
    head[..n].copy_from_slice(&b[..n]);
    tail[..n].copy_from_slice(&b[b.len() - n..]);
    (b.len(), u64::from_le_bytes(head), u64::from_le_bytes(tail))
}

/// Keeps each field key once among `fields[first..]` (the fields of one
/// line): where it first appeared, with the value of its last occurrence
/// (InfluxDB's rule: the last value wins).
///
/// Why the first position: the field section's leading tabs are skipped as
/// whitespace, so a line's first field never has a key that starts with a
/// tab, and keeping first positions keeps that true of the point. Had the
/// survivor moved to its last position (as before), `a=1,\tb=2,a=3` would
/// put `\tb` first, and [`super::write_point`] would write a line whose
/// first key lost its tab when read back (found by the `line_protocol`
/// fuzz target).
fn remove_duplicate_fields(fields: &mut Vec<Field<'_>>, first: usize) {
    const QUADRATIC_MAX: usize = 16;
    let line = fields.get(first..).unwrap_or_default();
    let n = line.len();
    let has_duplicates = if n <= QUADRATIC_MAX {
        // Compare cheap signatures first: a full string compare per pair
        // (45 for TSBS's 10 fields) showed up in ingest profiles.
        let mut sigs = [(0usize, 0u64, 0u64); QUADRATIC_MAX];
        for (sig, (k, _)) in sigs.iter_mut().zip(line.iter()) {
            *sig = key_signature(k);
        }
        (0..n).any(|i| (i + 1..n).any(|j| sigs[i] == sigs[j] && line[i].0 == line[j].0))
    } else {
        let mut keys: Vec<&str> = line.iter().map(|(k, _)| k.as_ref()).collect();
        keys.sort_unstable();
        keys.windows(2).any(|w| w[0] == w[1])
    };
    if !has_duplicates {
        return;
    }
    let tail: Vec<Field<'_>> = fields.drain(first..).collect();
    // Where each key went in `fields`: a repeat overwrites that value.
    let mut slot: HashMap<&str, usize> = HashMap::with_capacity(tail.len());
    for (k, v) in &tail {
        match slot.get(k.as_ref()) {
            Some(&i) => {
                if let Some(field) = fields.get_mut(i) {
                    field.1 = v.clone();
                }
            }
            None => {
                slot.insert(k.as_ref(), fields.len());
                fields.push((k.clone(), v.clone()));
            }
        }
    }
}
