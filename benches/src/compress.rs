//! Gzip of pre-generated batches (`--gzip`), done before the timed send and
//! spread over the machine's cores so that it stays out of the measurement.

use std::io::Write;
use std::thread;

use anyhow::{Context, Result};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::dataset::Batch;

/// Replaces every batch body by its gzip encoding (default level).
pub fn gzip_batches(batches: &mut [Batch]) -> Result<()> {
    if batches.is_empty() {
        return Ok(());
    }
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = batches.len().div_ceil(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = batches
            .chunks_mut(per_thread)
            .map(|chunk| {
                scope.spawn(move || -> Result<()> {
                    for batch in chunk {
                        batch.body = gzip(&batch.body)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| anyhow::anyhow!("gzip worker panicked"))??;
        }
        Ok(())
    })
}

fn gzip(data: &[u8]) -> Result<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    encoder.write_all(data).context("gzip")?;
    Ok(Bytes::from(encoder.finish().context("gzip")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn round_trip() {
        let mut batches: Vec<Batch> = (0..5)
            .map(|i| Batch { body: Bytes::from(format!("cpu,hostname=host_{i} usage_user=1.00 {i}\n")), rows: 1 })
            .collect();
        let originals: Vec<Bytes> = batches.iter().map(|b| b.body.clone()).collect();
        gzip_batches(&mut batches).unwrap();
        for (batch, original) in batches.iter().zip(originals) {
            let mut plain = Vec::new();
            GzDecoder::new(&batch.body[..]).read_to_end(&mut plain).unwrap();
            assert_eq!(plain, original);
        }
    }
}
