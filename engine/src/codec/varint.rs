//! Byte-level helpers shared by the codecs: LEB128 varints, zigzag, and a
//! bounds-checked cursor over the encoded bytes.
//!
//! Headers use varints so that small counts and parameters cost one byte; the
//! cursor turns every out-of-bounds read into [`CodecError::Truncated`] instead
//! of a panic.

use super::CodecError;

/// Maps a signed integer to an unsigned one so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
pub(crate) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// A forward-only cursor over encoded bytes; every read is bounds-checked.
#[derive(Debug, Clone)]
pub(crate) struct ByteReader<'a> {
    data: &'a [u8],
}

impl<'a> ByteReader<'a> {
    /// Starts reading at the beginning of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        ByteReader { data }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        let (&b, rest) = self.data.split_first().ok_or(CodecError::Truncated)?;
        self.data = rest;
        Ok(b)
    }

    /// Reads an unsigned LEB128 varint, rejecting encodings longer than 10 bytes
    /// or overflowing 64 bits.
    pub(crate) fn uvarint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(CodecError::Corrupt("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint longer than 10 bytes"))
    }

    /// Reads a zigzag varint.
    pub(crate) fn ivarint(&mut self) -> Result<i64, CodecError> {
        self.uvarint().map(unzigzag)
    }

    /// Reads a little-endian `u64`.
    pub(crate) fn u64_le(&mut self) -> Result<u64, CodecError> {
        let (head, rest) = self.data.split_first_chunk::<8>().ok_or(CodecError::Truncated)?;
        self.data = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// Reads the next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.data.len() {
            return Err(CodecError::Truncated);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    /// Reads the next `n` bytes, but returns them together with everything
    /// after them: the bit-unpacker ([`super::bitpack`]) reads whole chunks
    /// without copying when the input goes on past a section's end (the
    /// values it reads there are never used).
    pub(crate) fn section_and_rest(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let all = self.data;
        self.bytes(n)?;
        Ok(all)
    }

    /// Reads everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(&self) -> Result<(), CodecError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes(self.data.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_edges() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX >> 1, u64::MAX] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            let mut r = ByteReader::new(&out);
            assert_eq!(r.uvarint(), Ok(v));
            assert!(r.finish().is_ok());
        }
        assert_eq!(ByteReader::new(&[0x80]).uvarint(), Err(CodecError::Truncated));
        assert!(ByteReader::new(&[0xff; 10]).uvarint().is_err());
        assert!(ByteReader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).uvarint().is_err());
    }

    proptest! {
        #[test]
        fn zigzag_round_trips(v in any::<i64>()) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
            let mut out = Vec::new();
            put_ivarint(&mut out, v);
            prop_assert_eq!(ByteReader::new(&out).ivarint(), Ok(v));
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut r = ByteReader::new(&bytes);
            let _ = r.uvarint();
            let _ = r.u64_le();
            let _ = r.bytes(3);
            let _ = r.u8();
        }
    }
}
