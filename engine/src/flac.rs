//! 16-bit FLAC output with the `flacenc` crate, written atomically like WAV.
//!
//! 16, not 24 bits: flacenc 0.5.1 (the latest release) lacks the 5-bit
//! Rice parameters that 24-bit residuals need, and its 24-bit files of noisy
//! stems grew to thousands of times their size (flacenc-rs pull request
//! #248 adds them). Samples are rounded with TPDF dither of ±1 step.

use std::io::Write;
use std::path::Path;

use flacenc::component::BitRepr;
use flacenc::error::Verify;

use rand::{Rng as _, SeedableRng};

use crate::audio::{write_atomically, Audio};
use crate::error::Result;
use crate::sampler::Rng;

/// Bits per sample of the FLAC files written.
const BITS: usize = 16;

/// Writes `audio` as 16-bit FLAC. Samples beyond ±1 are clipped; returns
/// how many were (32-bit float WAV keeps them).
pub fn write_flac(path: &Path, audio: &Audio) -> Result<usize> {
    // ±1 is ±2^15 steps, as decoders read it back; the top step is 2^15 − 1.
    let (scale, top) = ((1i64 << (BITS - 1)) as f32, ((1i64 << (BITS - 1)) - 1) as f32);
    let mut rng = Rng::seed_from_u64(0);
    let mut clipped = 0;
    let mut samples = Vec::with_capacity(audio.frames() * audio.channel_count());
    for i in 0..audio.frames() {
        for ch in &audio.channels {
            let s = ch[i];
            if s.abs() > 1.0 {
                clipped += 1;
            }
            let dither: f32 = rng.random::<f32>() - rng.random::<f32>();
            samples.push((s.clamp(-1.0, 1.0) * scale + dither).round().clamp(-scale, top) as i32);
        }
    }
    write_atomically(path, |file| {
        let config = flacenc::config::Encoder::default().into_verified().map_err(|(_, e)| format!("{e:?}"))?;
        let source =
            flacenc::source::MemSource::from_samples(&samples, audio.channel_count(), BITS, audio.rate as usize);
        let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
            .map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        let mut sink = flacenc::bitsink::ByteSink::new();
        stream.write(&mut sink).map_err(|e| format!("FLAC encoding failed: {e:?}"))?;
        file.write_all(&fixed_block_size_header(sink.as_slice().to_vec())).map_err(|e| e.to_string())
    })?;
    Ok(clipped)
}

/// A fixed-blocksize FLAC stream's STREAMINFO names the same minimum and
/// maximum block size (the last block may be shorter). flacenc 0.5.1 puts
/// the last block's length as the minimum (flacenc-rs issue #242), which
/// makes symphonia refuse the file: copy the maximum (bytes 10–11, after
/// `fLaC` and the block header) over the minimum (bytes 8–9).
fn fixed_block_size_header(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 12 && &bytes[..4] == b"fLaC" {
        bytes.copy_within(10..12, 8);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::read_audio;

    #[test]
    fn flac_reads_back_within_two_16_bit_steps_and_reports_clipping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stem.flac");
        let left: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.01).sin() * 0.9).collect();
        let right: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.023).cos() * 0.5).collect();
        let audio = Audio { rate: 44_100, channels: vec![left, right] };
        assert_eq!(write_flac(&path, &audio).unwrap(), 0);
        let back = read_audio(&path).unwrap();
        assert_eq!((back.rate, back.channel_count(), back.frames()), (44_100, 2, 5000));
        let worst = back.channels.iter().flatten().zip(audio.channels.iter().flatten()).map(|(a, b)| (a - b).abs());
        assert!(worst.fold(0.0f32, f32::max) <= 1.5 / 32768.0, "rounding and dither: at most 1.5 steps");
        let loud = Audio { rate: 8000, channels: vec![vec![0.5, 1.5, -2.0, 1.0]] };
        assert_eq!(write_flac(&path, &loud).unwrap(), 2, "two samples beyond ±1");
        assert_eq!(read_audio(&path).unwrap().channels[0][1..3], [32767.0 / 32768.0, -1.0], "clipped to full scale");
    }
}
