//! MSB-first bit writer and reader, shared by the Gorilla timestamp and float codecs.
//!
//! Gorilla-style codecs emit variable-length codes (control bits, then a payload
//! of a few to 64 bits). The writer accumulates them in a 64-bit register and
//! flushes whole words; the reader serves them from unaligned 64-bit big-endian
//! loads, so that the decoders' hot loops do one load and a few shifts per value.
//!
//! The reader never fails on a single read: bits past the end of the input read
//! as zero and the reader remembers that it overran. A decoder reads a bounded
//! number of values (the count in its header) and then calls
//! [`BitReader::finish`], which reports the overrun as [`CodecError::Truncated`].
//! That keeps error checks out of the inner loops without ever touching memory
//! outside the input.

use super::CodecError;

/// Writes bit fields most-significant bit first.
#[derive(Debug, Default)]
pub struct BitWriter {
    out: Vec<u8>,
    /// Pending bits, left-aligned: the first pending bit is bit 63.
    acc: u64,
    /// Number of pending bits in `acc` (always < 64).
    pending: u32,
}

impl BitWriter {
    /// A writer that appends to `out` (which may already hold a header).
    pub fn from_vec(out: Vec<u8>) -> Self {
        BitWriter { out, acc: 0, pending: 0 }
    }

    /// Appends the low `len` bits of `value` (`len` ≤ 64; higher bits are ignored).
    #[inline]
    pub fn write_bits(&mut self, value: u64, len: u32) {
        if len == 0 {
            return;
        }
        let len = len.min(64);
        let value = if len == 64 { value } else { value & ((1u64 << len) - 1) };
        let free = 64 - self.pending; // 1..=64
        if len < free {
            self.acc |= value << (free - len);
            self.pending += len;
        } else {
            let spill = len - free; // 0..=63
            self.acc |= value >> spill;
            self.out.extend_from_slice(&self.acc.to_be_bytes());
            self.acc = if spill == 0 { 0 } else { value << (64 - spill) };
            self.pending = spill;
        }
    }

    /// Appends one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Number of bits written so far, including any header bytes the buffer held.
    pub fn bit_len(&self) -> usize {
        self.out.len() * 8 + self.pending as usize
    }

    /// Flushes the pending bits (zero-padded to a whole byte) and returns the buffer.
    pub fn finish(mut self) -> Vec<u8> {
        let bytes = self.pending.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_be_bytes()[..bytes.min(8)]);
        self.out
    }
}

/// Reads bit fields most-significant bit first; see the module docs for the
/// overrun contract.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position of the next bit.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader over `data`, starting at its first bit.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The next 64 bits, left-aligned, without consuming them. At least the first
    /// 57 are exact; bits past the end of the input read as zero.
    #[inline(always)]
    pub fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let shift = (self.pos & 7) as u32;
        let word = match self.data.get(byte..byte + 8) {
            Some(s) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(s);
                u64::from_be_bytes(b)
            }
            None => self.load_tail(byte),
        };
        word << shift
    }

    /// Moves to bit position `pos` (for decoders that track the position
    /// themselves in a hot loop; see [`load_be128`]).
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    #[cold]
    #[inline(never)]
    fn load_tail(&self, byte: usize) -> u64 {
        load_tail(self.data, byte)
    }

    /// Skips `n` bits.
    #[inline(always)]
    pub fn consume(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `len` bits (`len` ≤ 64) as the low bits of the result.
    #[inline(always)]
    pub fn read_bits(&mut self, len: u32) -> u64 {
        if len == 0 {
            0
        } else if len <= 56 {
            let v = self.peek() >> (64 - len);
            self.pos += len as usize;
            v
        } else {
            let len = len.min(64);
            let hi = self.peek() >> 32;
            self.pos += 32;
            let lo_len = len - 32;
            let lo = self.peek() >> (64 - lo_len);
            self.pos += lo_len as usize;
            (hi << lo_len) | lo
        }
    }

    /// Reads one bit.
    #[inline(always)]
    pub fn read_bit(&mut self) -> bool {
        let b = self.peek() >> 63;
        self.pos += 1;
        b == 1
    }

    /// Position of the next bit.
    pub fn bit_pos(&self) -> usize {
        self.pos
    }

    /// Whether a read went past the end of the input.
    pub fn overran(&self) -> bool {
        self.pos > self.data.len() * 8
    }

    /// Ends reading: fails with [`CodecError::Truncated`] if a read went past the
    /// end, with [`CodecError::TrailingBytes`] if whole bytes were left unread, and
    /// with [`CodecError::Corrupt`] if the padding bits of the last byte are not zero.
    pub fn finish(&self) -> Result<(), CodecError> {
        let total = self.data.len() * 8;
        if self.pos > total {
            return Err(CodecError::Truncated);
        }
        let left = total - self.pos;
        if left >= 8 {
            return Err(CodecError::TrailingBytes(left / 8));
        }
        if left > 0 && self.peek() != 0 {
            return Err(CodecError::Corrupt("non-zero padding bits"));
        }
        Ok(())
    }
}

/// The 16 bytes of `data` at `byte` as two big-endian words `(high, low)`;
/// bytes past the end read as zero. Lets a decoder take a control code and its
/// payload (up to 64 bits after a short header) with one load, wherever they
/// start within the first byte.
#[inline(always)]
pub fn load_be128(data: &[u8], byte: usize) -> (u64, u64) {
    match data.get(byte..byte + 16) {
        Some(s) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(s);
            let w = u128::from_be_bytes(b);
            ((w >> 64) as u64, w as u64)
        }
        None => (load_tail(data, byte), load_tail(data, byte + 8)),
    }
}

/// Up to 8 bytes at `byte` as a big-endian word, zero-padded.
#[cold]
#[inline(never)]
fn load_tail(data: &[u8], byte: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = data.get(byte..) {
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s[..n]);
    }
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_writer_gives_empty_output() {
        let w = BitWriter::default();
        assert_eq!(w.bit_len(), 0);
        assert!(w.finish().is_empty());
        assert!(BitReader::new(&[]).finish().is_ok());
    }

    #[test]
    fn overrun_and_trailing_are_reported() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(8), 0xff);
        assert!(r.finish().is_ok());
        assert_eq!(r.read_bits(3), 0);
        assert!(r.overran());
        assert_eq!(r.finish(), Err(CodecError::Truncated));

        let r = BitReader::new(&[0, 0]);
        assert_eq!(r.finish(), Err(CodecError::TrailingBytes(2)));

        let mut r = BitReader::new(&[0b1000_0001]);
        assert!(r.read_bit());
        assert!(r.finish().is_err());
    }

    proptest! {
        #[test]
        fn fields_round_trip(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::from_vec(vec![0xAB]);
            for &(v, len) in &fields {
                w.write_bits(v, len);
            }
            let total = w.bit_len();
            let out = w.finish();
            prop_assert_eq!(out.len(), total.div_ceil(8));
            prop_assert_eq!(out[0], 0xAB);
            let mut r = BitReader::new(&out[1..]);
            for &(v, len) in &fields {
                let expect = if len == 64 { v } else if len == 0 { 0 } else { v & ((1u64 << len) - 1) };
                prop_assert_eq!(r.read_bits(len), expect);
            }
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn load_be128_matches_reads(bytes in proptest::collection::vec(any::<u8>(), 0..40), byte in 0usize..48) {
            let (hi, lo) = load_be128(&bytes, byte);
            let mut r = BitReader::new(&bytes);
            r.seek(byte * 8);
            prop_assert_eq!(r.read_bits(64), hi);
            prop_assert_eq!(r.read_bits(64), lo);
        }
    }
}
