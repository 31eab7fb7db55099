//! Audio buffers, WAV files (hound) and resampling (rubato).

use std::io::Write;
use std::path::Path;

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

use crate::error::{EngineError, Result};

/// Planar audio: one `Vec<f32>` per channel, all of the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Samples per channel.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Silence of the given shape.
    pub fn silence(rate: u32, channels: usize, frames: usize) -> Self {
        Self { rate, channels: vec![vec![0.0; frames]; channels] }
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.rate)
    }

    /// Root mean square over all channels.
    pub fn rms(&self) -> f32 {
        let n = self.frames() * self.channel_count();
        if n == 0 {
            return 0.0;
        }
        let sum: f64 = self.channels.iter().flatten().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / n as f64).sqrt() as f32
    }

    /// Checks that the audio is usable as model input: not empty, finite.
    pub fn check_usable(&self, what: &str) -> Result<()> {
        if self.frames() == 0 || self.channel_count() == 0 {
            return Err(EngineError::Input(format!("{what}: the audio is empty")));
        }
        for (c, ch) in self.channels.iter().enumerate() {
            if let Some(i) = ch.iter().position(|s| !s.is_finite()) {
                return Err(EngineError::Input(format!(
                    "{what}: sample {i} of channel {c} ({:.3} s) is NaN or infinite",
                    i as f64 / f64::from(self.rate)
                )));
            }
        }
        Ok(())
    }

    /// Mean of all channels, as one channel.
    pub fn downmix(&self) -> Vec<f32> {
        let n = self.channel_count().max(1) as f32;
        (0..self.frames()).map(|i| self.channels.iter().map(|c| c[i]).sum::<f32>() / n).collect()
    }

    /// The same audio with exactly `count` channels: mono is duplicated,
    /// other mismatches are downmixed and duplicated.
    pub fn with_channel_count(&self, count: usize) -> Audio {
        let channels = if self.channel_count() == count { self.channels.clone() } else { vec![self.downmix(); count] };
        Audio { rate: self.rate, channels }
    }

    /// Multiplies every sample by `gain`.
    pub fn scale(&mut self, gain: f32) {
        self.channels.iter_mut().flatten().for_each(|s| *s *= gain);
    }

    /// Resamples to `rate` with rubato's FFT resampler; the length becomes
    /// `round(frames · rate / self.rate)`.
    pub fn resampled(&self, rate: u32) -> Result<Audio> {
        if rate == self.rate || self.frames() == 0 {
            return Ok(Audio { rate, channels: self.channels.clone() });
        }
        let channels = self.channel_count();
        let frames = self.frames();
        let mut resampler = Fft::<f32>::new(self.rate as usize, rate as usize, 1024, channels, FixedSync::Both)
            .map_err(|e| EngineError::Input(format!("cannot resample {} Hz to {rate} Hz: {e}", self.rate)))?;
        let input = SequentialSliceOfVecs::new(&self.channels, channels, frames)
            .map_err(|e| EngineError::Input(format!("resampler input: {e}")))?;
        let out_len = resampler.process_all_needed_output_len(frames);
        let mut out = vec![vec![0.0f32; out_len]; channels];
        let mut output = SequentialSliceOfVecs::new_mut(&mut out, channels, out_len)
            .map_err(|e| EngineError::Input(format!("resampler output: {e}")))?;
        let (_, produced) = resampler
            .process_all_into_buffer(&input, &mut output, frames, None)
            .map_err(|e| EngineError::Input(format!("resampling failed: {e}")))?;
        let target = (frames as f64 * f64::from(rate) / f64::from(self.rate)).round() as usize;
        for ch in &mut out {
            ch.truncate(produced);
            ch.resize(target, 0.0);
        }
        Ok(Audio { rate, channels: out })
    }
}

/// Reads a WAV file (integer PCM 8–32 bit or 32-bit float) into planar f32.
pub fn read_wav(path: &Path) -> Result<Audio> {
    let reader = hound::WavReader::open(path).map_err(|e| EngineError::audio(path, wav_message(e)))?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(EngineError::audio(path, "the file declares zero channels"));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float if spec.bits_per_sample == 32 => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| EngineError::audio(path, wav_message(e)))?,
        hound::SampleFormat::Int if (8..=32).contains(&spec.bits_per_sample) => {
            let full = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 / full))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| EngineError::audio(path, wav_message(e)))?
        }
        _ => {
            return Err(EngineError::audio(
                path,
                format!(
                    "unsupported WAV format ({:?}, {} bit); use 16/24/32-bit PCM or 32-bit float",
                    spec.sample_format, spec.bits_per_sample
                ),
            ))
        }
    };
    let count = usize::from(spec.channels);
    let frames = samples.len() / count;
    let mut channels = vec![Vec::with_capacity(frames); count];
    for frame in samples.chunks_exact(count) {
        for (ch, &s) in channels.iter_mut().zip(frame) {
            ch.push(s);
        }
    }
    let audio = Audio { rate: spec.sample_rate, channels };
    if audio.frames() == 0 {
        return Err(EngineError::audio(path, "the file holds no audio"));
    }
    Ok(audio)
}

fn wav_message(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof || io.to_string().contains("enough bytes") =>
        {
            "the file is truncated".into()
        }
        hound::Error::IoError(io) => io.to_string(),
        hound::Error::FormatError(m) if m.contains("bits per sample") => {
            format!("unsupported WAV format ({m}); use 16/24/32-bit PCM or 32-bit float")
        }
        hound::Error::FormatError(m) => format!("not a valid WAV file ({m})"),
        hound::Error::Unsupported => "unsupported WAV format".into(),
        other => other.to_string(),
    }
}

/// Writes 32-bit float WAV atomically: to a temporary file in the same
/// folder, renamed into place only when complete, so a failed or interrupted
/// write never leaves a file that looks finished.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".gmsdi-")
        .suffix(".wav.part")
        .tempfile_in(dir)
        .map_err(|e| EngineError::audio(path, format!("cannot create a file in {}: {e}", dir.display())))?;
    let spec = hound::WavSpec {
        channels: audio.channel_count() as u16,
        sample_rate: audio.rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    {
        let buffered = std::io::BufWriter::new(tmp.as_file_mut());
        let mut writer = hound::WavWriter::new(buffered, spec).map_err(|e| EngineError::audio(path, e))?;
        for i in 0..audio.frames() {
            for ch in &audio.channels {
                writer.write_sample(ch[i]).map_err(|e| EngineError::audio(path, e))?;
            }
        }
        writer.finalize().map_err(|e| EngineError::audio(path, e))?;
    }
    tmp.as_file_mut().flush().and_then(|()| tmp.as_file().sync_all()).map_err(|e| EngineError::audio(path, e))?;
    tmp.persist(path).map_err(|e| EngineError::audio(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, frames: usize) -> Vec<f32> {
        (0..frames).map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5).collect()
    }

    #[test]
    fn wav_round_trip_keeps_samples_and_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let audio = Audio { rate: 44100, channels: vec![sine(44100, 440.0, 1000), sine(44100, 220.0, 1000)] };
        write_wav(&path, &audio).unwrap();
        assert_eq!(read_wav(&path).unwrap(), audio);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file may remain");
    }

    #[test]
    fn resampling_keeps_length_ratio_and_a_sine() {
        let audio = Audio { rate: 44100, channels: vec![sine(44100, 440.0, 44100)] };
        let down = audio.resampled(16000).unwrap();
        assert_eq!(down.frames(), 16000);
        let expected = sine(16000, 440.0, 16000);
        let err: f32 = down.channels[0][1000..15000]
            .iter()
            .zip(&expected[1000..15000])
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            / 14000.0;
        // Error power at least 30 dB below the sine's power (0.125).
        assert!(err < 0.125e-3, "error power {err}");
        let up = down.resampled(44100).unwrap();
        assert_eq!(up.frames(), 44100);
    }

    #[test]
    fn nan_and_empty_audio_are_rejected_with_position() {
        let mut audio = Audio::silence(8000, 1, 100);
        audio.channels[0][80] = f32::NAN;
        let msg = audio.check_usable("mix").unwrap_err().to_string();
        assert!(msg.contains("sample 80"), "{msg}");
        assert!(Audio::silence(8000, 1, 0).check_usable("mix").is_err());
    }

    #[test]
    fn truncated_and_garbage_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        write_wav(&path, &Audio::silence(8000, 2, 4000)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let msg = read_wav(&path).unwrap_err().to_string();
        assert!(msg.contains("truncated"), "{msg}");
        std::fs::write(&path, "definitely not a wav file ".repeat(20)).unwrap();
        let msg = read_wav(&path).unwrap_err().to_string();
        assert!(msg.contains("not a valid WAV"), "{msg}");
    }
}
