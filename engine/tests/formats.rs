//! `read_audio` on every supported format: WAV variants and AIFF written
//! byte by byte here, FLAC, MP3 and OGG/Vorbis from the small fixtures in
//! `tests/data` (made by its `make_fixtures.py`). Each file must come back at
//! its rate, channel count and length (within the codec's padding) with the
//! samples of the signal it was made from; other files must fail with one
//! clear line that names them.

mod common;

use std::path::Path;

use common::{data_dir, f64_le, fixture_signal, int_le, write_aiff, write_extensible_wav, write_raw_wav};
use gmsdi_engine::audio::{read_audio, Audio};

/// Largest absolute difference between the decoded audio and `expected`.
fn max_error(audio: &Audio, expected: &[Vec<f32>]) -> f32 {
    audio
        .channels
        .iter()
        .zip(expected)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

/// Pearson correlation of two equally long signals.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let mean = |v: &[f32]| v[..n].iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]) - ma, f64::from(b[i]) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt()
}

/// Reads `path` and checks its shape.
fn read_checked(path: &Path, rate: u32, channels: usize, frames: usize) -> Audio {
    let audio = read_audio(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((audio.rate, audio.channel_count(), audio.frames()), (rate, channels, frames), "{}", path.display());
    audio
}

fn error_of(path: &Path) -> String {
    read_audio(path).expect_err("the file must be refused").to_string()
}

#[test]
fn wav_integer_float_and_extensible_variants_decode() {
    let dir = tempfile::tempdir().unwrap();
    let stereo = fixture_signal(8000, 2, 1234);
    let six = fixture_signal(48000, 6, 777);
    // (file, format tag, rate, bits, signal, tolerance); 0xFFFE: extensible.
    let cases = [
        ("pcm8.wav", 1, 8000, 8, &stereo, 1.0 / 120.0),
        ("pcm24.wav", 1, 8000, 24, &stereo, 1e-6),
        ("pcm32.wav", 1, 8000, 32, &stereo, 1e-6),
        ("float64.wav", 3, 8000, 64, &stereo, 1e-7),
        ("ext24_6ch.wav", 0xFFFE, 48000, 24, &six, 1e-6),
        ("ext64_6ch.wav", 0xFFFE, 48000, 64, &six, 1e-7),
    ];
    for (name, tag, rate, bits, expected, tolerance) in cases {
        let path = dir.path().join(name);
        let data = if bits == 64 { f64_le(expected) } else { int_le(expected, u32::from(bits)) };
        let channels = expected.len() as u16;
        if tag == 0xFFFE {
            write_extensible_wav(&path, if bits == 64 { 3 } else { 1 }, channels, rate, bits, &data);
        } else {
            write_raw_wav(&path, tag, channels, rate, bits, &data);
        }
        let audio = read_checked(&path, rate, usize::from(channels), expected[0].len());
        let err = max_error(&audio, expected);
        assert!(err <= tolerance, "{name}: max error {err}");
    }
}

#[test]
fn a_law_wav_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alaw.wav");
    // A-law with the 18-byte `fmt ` chunk (cbSize 0) that non-PCM formats
    // carry; 0x55 is A-law's smallest positive step.
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(38u32 + 800).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    for field in [18u32, 6 | (1 << 16), 8000, 8000, 1 | (8 << 16)] {
        b.extend_from_slice(&field.to_le_bytes());
    }
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&800u32.to_le_bytes());
    b.extend_from_slice(&[0x55; 800]);
    std::fs::write(&path, b).unwrap();
    let audio = read_checked(&path, 8000, 1, 800);
    assert!(audio.channels[0].iter().all(|s| s.abs() < 1e-3), "{:?}", &audio.channels[0][..4]);
}

#[test]
fn aiff_16_and_24_bit_decode() {
    let dir = tempfile::tempdir().unwrap();
    for (bits, rate, channels, tolerance) in [(16, 44100, 2, 1.0 / 32000.0), (24, 48000, 1, 1e-6)] {
        let signal = fixture_signal(rate, channels, 2000);
        let path = dir.path().join(format!("a{bits}.aiff"));
        write_aiff(&path, rate, &signal, bits);
        let audio = read_checked(&path, rate, channels, 2000);
        let err = max_error(&audio, &signal);
        assert!(err <= tolerance, "{bits} bit: max error {err}");
    }
}

#[test]
fn flac_decodes_sample_for_sample() {
    let audio = read_checked(&data_dir().join("sine_22050_stereo.flac"), 22050, 2, 6615);
    let err = max_error(&audio, &fixture_signal(22050, 2, 6615));
    // 16-bit quantization only.
    assert!(err < 1e-4, "max error {err}");
}

#[test]
fn mp3_decodes_to_its_original_length_and_signal() {
    let audio = read_audio(&data_dir().join("sine_44100_mono.mp3")).unwrap();
    assert_eq!((audio.rate, audio.channel_count()), (44100, 1));
    // The LAME header's delay and padding are trimmed: the original 0.3 s.
    assert_eq!(audio.frames(), 13230, "decoded length");
    let c = correlation(&audio.channels[0], &fixture_signal(44100, 1, 13230)[0]);
    assert!(c > 0.99, "correlation {c}");
}

#[test]
fn mp3_without_its_lame_header_keeps_delay_and_padding_and_a_cut_mp3_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data_dir().join("sine_44100_mono.mp3")).unwrap();
    // The first frame (417 bytes at 128 kbit/s, 44.1 kHz) holds the Xing/LAME header.
    let bare = dir.path().join("bare.mp3");
    std::fs::write(&bare, &bytes[417..]).unwrap();
    // Nothing to trim by: 13 whole frames of 1152 samples.
    read_checked(&bare, 44100, 1, 13 * 1152);
    let cut = dir.path().join("cut.mp3");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = error_of(&cut);
    assert!(msg.contains("cut.mp3") && msg.contains("truncated"), "{msg}");
}

#[test]
fn ogg_vorbis_decodes_to_its_original_length_and_signal() {
    let audio = read_audio(&data_dir().join("sine_44100_stereo.ogg")).unwrap();
    assert_eq!((audio.rate, audio.channel_count()), (44100, 2));
    assert_eq!(audio.frames(), 13230, "decoded length");
    let expected = fixture_signal(44100, 2, 13230);
    for (c, (a, b)) in audio.channels.iter().zip(&expected).enumerate() {
        let r = correlation(a, b);
        assert!(r > 0.99, "channel {c}: correlation {r}");
    }
}

#[test]
fn other_formats_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m4a = dir.path().join("song.m4a");
    std::fs::write(&m4a, b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom\0\0\0\0").unwrap();
    let msg = error_of(&m4a);
    for needle in ["song.m4a", "unsupported audio format", "MP4/M4A", "supported: WAV, FLAC, MP3, OGG/Vorbis, AIFF"] {
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
    }
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let msg = error_of(&text);
    assert!(msg.contains("notes.txt") && msg.contains("unsupported audio format (supported: WAV"), "{msg}");
    let fake = dir.path().join("fake.mp3");
    std::fs::write(&fake, "not audio at all ".repeat(10)).unwrap();
    let msg = error_of(&fake);
    assert!(msg.contains("fake.mp3") && msg.contains("not a valid MP3 file"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn truncated_and_corrupt_compressed_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data_dir().join("sine_22050_stereo.flac")).unwrap();
    let cut = dir.path().join("cut.flac");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = error_of(&cut);
    assert!(msg.contains("cut.flac") && msg.contains("truncated"), "{msg}");
    let header_only = dir.path().join("head.flac");
    std::fs::write(&header_only, &bytes[..20]).unwrap();
    let msg = error_of(&header_only);
    assert!(msg.contains("head.flac") && msg.contains("FLAC"), "{msg}");
    let mut garbled = bytes.clone();
    let middle = garbled.len() / 2;
    garbled[middle..middle + 200].iter_mut().for_each(|b| *b = 0x5A);
    let bad = dir.path().join("bad.flac");
    std::fs::write(&bad, &garbled).unwrap();
    let msg = error_of(&bad);
    assert!(msg.contains("bad.flac"), "{msg}");
}
