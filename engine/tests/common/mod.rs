//! Helpers shared by the CLI and contract tests: the repository's paths and
//! small deterministic test signals written as WAV files.
// Each test crate uses only some of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Root of the repository.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").to_path_buf()
}

/// The analytic fixture model's folder.
pub fn fixture_dir() -> PathBuf {
    repo().join("models/fixtures/gaussian")
}

/// The folder of ONNX files that each break one contract rule.
pub fn broken_dir() -> PathBuf {
    repo().join("models/fixtures/broken")
}

/// A sine of amplitude `amp`.
pub fn sine(rate: u32, freq: f32, frames: usize, amp: f32) -> Vec<f32> {
    (0..frames).map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
}

/// Uniform white noise in [-amp, amp) from a seeded xorshift generator.
pub fn noise(frames: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

/// Sum of two signals of the same length.
pub fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// A music-like test channel: two sines and some noise, at most ~0.5 full scale.
pub fn test_channel(rate: u32, frames: usize, seed: u64) -> Vec<f32> {
    let f = 80.0 + 30.0 * seed as f32;
    add(&add(&sine(rate, f, frames, 0.25), &sine(rate, 3.0 * f, frames, 0.1)), &noise(frames, seed, 0.1))
}

/// Writes planar channels as 16-bit PCM.
pub fn write_i16(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Writes planar channels as 32-bit float, with the engine's own writer.
pub fn write_f32(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    gmsdi_engine::audio::write_wav(path, &gmsdi_engine::audio::Audio { rate, channels: channels.to_vec() }).unwrap();
}

/// Writes a WAV file byte by byte with a 16-byte `fmt ` chunk, for formats
/// hound cannot write (A-law, 64-bit float, 40-bit PCM, ...).
pub fn write_raw_wav(path: &Path, format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) {
    let block_align = channels * bits.div_ceil(8);
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVE");
    b.extend_from_slice(b"fmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format_tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

/// Reads a WAV file: (spec, planar samples as f32).
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = r.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let full = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 / full).collect()
        }
    };
    let c = usize::from(spec.channels);
    let channels = (0..c).map(|k| interleaved.iter().skip(k).step_by(c).copied().collect()).collect();
    (spec, channels)
}

/// The folder of the compressed fixtures (see its README.md).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The signal of the fixtures in `tests/data` (and of the files the format
/// tests write): channel `c` is 0.4 sin(2π f t) + 0.2 sin(2π 3f t) with
/// f = 220 (c + 1) Hz.
pub fn fixture_signal(rate: u32, channels: usize, frames: usize) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| {
            let w = 2.0 * std::f64::consts::PI * 220.0 * (c + 1) as f64 / f64::from(rate);
            (0..frames).map(|i| (0.4 * (w * i as f64).sin() + 0.2 * (3.0 * w * i as f64).sin()) as f32).collect()
        })
        .collect()
}

/// Interleaved little-endian integer PCM of `bits` (8: unsigned, else signed).
pub fn int_le(channels: &[Vec<f32>], bits: u32) -> Vec<u8> {
    let full = (1i64 << (bits - 1)) as f64 - 1.0;
    let mut out = Vec::new();
    for i in 0..channels[0].len() {
        for ch in channels {
            let v = (f64::from(ch[i]) * full).round() as i64;
            if bits == 8 {
                out.push((v + 128) as u8);
            } else {
                out.extend_from_slice(&v.to_le_bytes()[..bits as usize / 8]);
            }
        }
    }
    out
}

/// Interleaved little-endian 64-bit float.
pub fn f64_le(channels: &[Vec<f32>]) -> Vec<u8> {
    (0..channels[0].len()).flat_map(|i| channels.iter().flat_map(move |ch| f64::from(ch[i]).to_le_bytes())).collect()
}

/// Writes a WAVE_FORMAT_EXTENSIBLE file: a 40-byte `fmt ` chunk whose
/// sub-format GUID carries `format_tag` (1: PCM, 3: float).
pub fn write_extensible_wav(path: &Path, format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) {
    let block_align = channels * bits / 8;
    let mask: u32 = (1 << channels) - 1;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(60 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&0xFFFEu16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(&22u16.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(&mask.to_le_bytes());
    b.extend_from_slice(&format_tag.to_le_bytes());
    b.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

/// Writes an AIFF file of big-endian integer PCM (16 or 24 bit).
pub fn write_aiff(path: &Path, rate: u32, channels: &[Vec<f32>], bits: u32) {
    let frames = channels[0].len();
    let mut data = Vec::new();
    let full = (1i64 << (bits - 1)) as f64 - 1.0;
    for i in 0..frames {
        for ch in channels {
            let v = (f64::from(ch[i]) * full).round() as i64;
            data.extend_from_slice(&v.to_be_bytes()[8 - bits as usize / 8..]);
        }
    }
    // The sample rate as an 80-bit extended float: exponent and a 64-bit
    // mantissa with the integer bit set.
    let shift = 31 - rate.leading_zeros();
    let mut ext = [0u8; 10];
    ext[..2].copy_from_slice(&(16383 + shift as u16).to_be_bytes());
    ext[2..].copy_from_slice(&(u64::from(rate) << (63 - shift)).to_be_bytes());
    let mut b = Vec::new();
    b.extend_from_slice(b"FORM");
    b.extend_from_slice(&(4 + 26 + 16 + data.len() as u32).to_be_bytes());
    b.extend_from_slice(b"AIFFCOMM");
    b.extend_from_slice(&18u32.to_be_bytes());
    b.extend_from_slice(&(channels.len() as u16).to_be_bytes());
    b.extend_from_slice(&(frames as u32).to_be_bytes());
    b.extend_from_slice(&(bits as u16).to_be_bytes());
    b.extend_from_slice(&ext);
    b.extend_from_slice(b"SSND");
    b.extend_from_slice(&(8 + data.len() as u32).to_be_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&data);
    std::fs::write(path, b).unwrap();
}
