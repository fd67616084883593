//! The network's weights as text for a [`SavedModel`](super::super::SavedModel).
//!
//! Why: saved models are JSON (readable, versioned per model). The weights
//! go through Burn's own record format (burnpack, via
//! [`Module::into_record`]), so shapes and parameter paths are checked on
//! load, and the bytes are hex-encoded into the JSON state. f32 weights are
//! stored bit for bit, so a restored model forecasts exactly like the
//! original.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use super::super::ForecastError;
use super::features::FEATURES;
use super::net::Net;

/// `net`'s weights as a hex string of burnpack bytes.
pub fn encode(net: &Net) -> Result<String, ForecastError> {
    let bytes = net.clone().into_record().into_bytes().map_err(|e| ForecastError::Restore(e.to_string()))?;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes.iter() {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    Ok(s)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(c: u8) -> Result<u8, ForecastError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(ForecastError::Restore(format!("lstm weights: bad hex digit {:?}", char::from(c)))),
    }
}

/// A network of `hidden` x `outputs` on `device` with the weights of [`encode`].
pub fn decode(hex: &str, hidden: usize, outputs: usize, device: &Device) -> Result<Net, ForecastError> {
    let raw = hex.as_bytes();
    if !raw.len().is_multiple_of(2) {
        return Err(ForecastError::Restore("lstm weights: odd hex length".into()));
    }
    let bytes = raw.chunks(2).map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?)).collect::<Result<Vec<u8>, _>>()?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| ForecastError::Restore(format!("lstm weights: {e}")))?;
    Net::new(FEATURES, hidden, outputs, 0, device)
        .try_load_record(record)
        .map_err(|e| ForecastError::Restore(format!("lstm weights: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::lstm::backend;

    #[test]
    fn weights_round_trip_and_bad_input_is_an_error() {
        let device = backend::device();
        let net = Net::new(FEATURES, 4, 3, 9, &device);
        let hex = encode(&net).unwrap();
        let back = decode(&hex, 4, 3, &device).unwrap();
        assert_eq!(encode(&back).unwrap(), hex);
        assert!(matches!(decode("abc", 4, 3, &device), Err(ForecastError::Restore(_))));
        assert!(matches!(decode("zz", 4, 3, &device), Err(ForecastError::Restore(_))));
        assert!(matches!(decode("00ff", 4, 3, &device), Err(ForecastError::Restore(_))));
        // Right bytes, wrong shape.
        assert!(matches!(decode(&hex, 5, 3, &device), Err(ForecastError::Restore(_))));
    }
}
