//! Audio buffers, reading audio files ([`read_audio`]: WAV with hound;
//! FLAC, MP3, OGG/Vorbis, AIFF and the WAV encodings hound lacks with
//! symphonia), writing 32-bit float WAV (hound) and resampling (rubato).

use std::io::{Read, Write};
use std::path::Path;

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as DecodeFailure;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

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

/// The formats [`read_audio`] decodes, as its errors name them.
pub const SUPPORTED_FORMATS: &str = "WAV, FLAC, MP3, OGG/Vorbis, AIFF";

/// Reads an audio file into planar f32 at the file's own sample rate and
/// channel count (mono to multichannel).
///
/// The container is told by the file's first bytes; the extension only
/// decides for files that start like nothing known.
/// - WAV (`RIFF…WAVE`, or a `.wav` file that starts like nothing else) goes
///   through hound first ([`read_wav`]). Why hound and not symphonia for
///   all of it: hound reads 8–32-bit integer PCM, 32-bit float and
///   WAVE_FORMAT_EXTENSIBLE exactly as written, it is what the engine and
///   the plugin have always read and written their WAV files with (the
///   tests pin its behaviour down), and it checks the data chunk against the
///   file, so a truncated WAV is an error, where symphonia quietly returns
///   the frames that are there. The encodings hound refuses (64-bit float;
///   A-law and µ-law with the 18-byte `fmt ` chunk their format requires)
///   are then decoded by symphonia; when symphonia refuses them too (ADPCM,
///   40-bit PCM, ...), hound's "unsupported WAV format" message stands.
/// - FLAC, MP3, OGG/Vorbis and AIFF are decoded by symphonia. Lossless
///   formats come back sample for sample. MP3 is read in symphonia's gapless
///   mode: the encoder delay and padding recorded in a LAME/Xing header and
///   the decoder's own delay are trimmed, so such a file decodes to its
///   original length (the 0.3 s test file: exactly 13 230 frames). What
///   remains: an MP3 without that header is not trimmed at all; it keeps
///   the encoder's and the decoder's delay at the start (about 1 100
///   samples with LAME) and the padding to whole 1152-sample frames at the
///   end (the same test file with its header frame removed: 14 976 frames).
///   Ogg Vorbis is cut to the length its last page's granule position
///   records.
/// - A file shorter than the length its header records (FLAC's STREAMINFO,
///   the MP3 LAME header) is reported as truncated or corrupt, not returned
///   short.
///
/// Every error is one line that names the file: an unknown format says what
/// the file looks like and which formats are supported; a truncated or
/// corrupt file says so.
pub fn read_audio(path: &Path) -> Result<Audio> {
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| EngineError::audio(path, e))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match sniff(&head, &extension) {
        Sniffed::Wav => read_wav_file(path).or_else(|refusal| match refusal {
            WavRefusal::Encoding(message) => {
                read_with_symphonia(path, "WAV").map_err(|_| EngineError::audio(path, message))
            }
            WavRefusal::Failed(e) => Err(e),
        }),
        Sniffed::Decodable(name) => read_with_symphonia(path, name),
        Sniffed::NotValid(name) => {
            Err(EngineError::audio(path, format!("not a valid {name} file (it does not start like one)")))
        }
        Sniffed::Unsupported(what) => {
            Err(EngineError::audio(path, format!("unsupported audio format{what} (supported: {SUPPORTED_FORMATS})")))
        }
    }
}

/// What a file's first bytes (and, failing those, its extension) say it is.
enum Sniffed {
    /// A WAV file, for hound.
    Wav,
    /// A format symphonia decodes, by name.
    Decodable(&'static str),
    /// Named like a supported format (by name) but not starting like one.
    NotValid(&'static str),
    /// Anything else: ": <what it looks like>" or nothing.
    Unsupported(String),
}

fn sniff(head: &[u8], extension: &str) -> Sniffed {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let mpeg_sync = head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0;
    let other = |what: &str| Sniffed::Unsupported(format!(": {what}"));
    if at(0, b"RIFF") && at(8, b"WAVE") {
        Sniffed::Wav
    } else if at(0, b"fLaC") {
        Sniffed::Decodable("FLAC")
    } else if at(0, b"OggS") {
        if head.windows(8).any(|w| w == b"OpusHead") {
            other("Ogg Opus")
        } else {
            Sniffed::Decodable("OGG")
        }
    } else if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Sniffed::Decodable("AIFF")
    } else if at(0, b"ID3") || (mpeg_sync && head[1] & 0x06 != 0) {
        Sniffed::Decodable("MP3")
    } else if mpeg_sync {
        other("AAC (ADTS)")
    } else if at(4, b"ftyp") {
        other("MP4/M4A (AAC or ALAC)")
    } else if at(0, &[0x30, 0x26, 0xB2, 0x75]) {
        other("WMA/ASF")
    } else if at(0, b"RIFF") || at(0, b"RF64") {
        other("a RIFF file that is not WAV, or an RF64 WAV")
    } else if at(0, b"caff") {
        other("Core Audio (CAF)")
    } else if at(0, b"MThd") {
        other("a MIDI file (notes, not audio)")
    } else if extension == "wav" || extension == "wave" {
        // hound names what is wrong with it ("no RIFF tag found").
        Sniffed::Wav
    } else {
        match extension {
            "flac" => Sniffed::NotValid("FLAC"),
            "mp3" => Sniffed::NotValid("MP3"),
            "ogg" | "oga" => Sniffed::NotValid("OGG"),
            "aif" | "aiff" | "aifc" => Sniffed::NotValid("AIFF"),
            _ => Sniffed::Unsupported(String::new()),
        }
    }
}

/// Why hound did not read a WAV file.
enum WavRefusal {
    /// A valid WAV file in an encoding hound does not decode, with hound's message.
    Encoding(String),
    /// Anything else (missing, truncated, not WAV, empty), as the final error.
    Failed(EngineError),
}

/// Reads a WAV file with hound (8–32-bit integer PCM, 32-bit float,
/// WAVE_FORMAT_EXTENSIBLE) into planar f32; [`read_audio`] reads every
/// supported format, WAV included.
pub fn read_wav(path: &Path) -> Result<Audio> {
    read_wav_file(path).map_err(|refusal| match refusal {
        WavRefusal::Encoding(message) => EngineError::audio(path, message),
        WavRefusal::Failed(e) => e,
    })
}

fn read_wav_file(path: &Path) -> std::result::Result<Audio, WavRefusal> {
    let failed = |e: hound::Error| match e {
        hound::Error::FormatError(m) if m.contains("bits per sample") => {
            WavRefusal::Encoding(format!("unsupported WAV format ({m}); use 16/24/32-bit PCM or 32-bit float"))
        }
        hound::Error::Unsupported => WavRefusal::Encoding("unsupported WAV format".into()),
        other => WavRefusal::Failed(EngineError::audio(path, wav_message(other))),
    };
    let reader = hound::WavReader::open(path).map_err(failed)?;
    let spec = reader.spec();
    if spec.channels == 0 {
        return Err(WavRefusal::Failed(EngineError::audio(path, "the file declares zero channels")));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float if spec.bits_per_sample == 32 => {
            reader.into_samples::<f32>().collect::<std::result::Result<_, _>>().map_err(failed)?
        }
        hound::SampleFormat::Int if (8..=32).contains(&spec.bits_per_sample) => {
            let full = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 / full))
                .collect::<std::result::Result<_, _>>()
                .map_err(failed)?
        }
        _ => {
            return Err(WavRefusal::Encoding(format!(
                "unsupported WAV format ({:?}, {} bit); use 16/24/32-bit PCM or 32-bit float",
                spec.sample_format, spec.bits_per_sample
            )))
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
        return Err(WavRefusal::Failed(EngineError::audio(path, "the file holds no audio")));
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
        hound::Error::FormatError(m) => format!("not a valid WAV file ({m})"),
        other => other.to_string(),
    }
}

/// Decodes the first audio track of a file with symphonia; `name` is the
/// format the file's first bytes announced, for the messages.
fn read_with_symphonia(path: &Path, name: &str) -> Result<Audio> {
    let fail = |message: String| EngineError::audio(path, message);
    let file = std::fs::File::open(path).map_err(|e| EngineError::audio(path, e))?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    let options = FormatOptions { enable_gapless: true, ..Default::default() };
    let mut format = symphonia::default::get_probe()
        .format(&hint, stream, &options, &MetadataOptions::default())
        .map_err(|e| fail(format!("not a valid {name} file ({})", decode_message(e))))?
        .format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| fail(format!("the {name} file holds no audio track")))?;
    let (id, params) = (track.id, track.codec_params.clone());
    let mut decoder = symphonia::default::get_codecs().make(&params, &DecoderOptions::default()).map_err(|e| {
        fail(format!("unsupported audio format: {name} with a codec that is not supported ({})", decode_message(e)))
    })?;
    let mut shape: Option<(u32, usize)> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(DecodeFailure::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(DecodeFailure::ResetRequired) => break,
            Err(e) => return Err(fail(format!("corrupt {name} file ({})", decode_message(e)))),
        };
        if packet.track_id() != id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(|e| {
            let at = shape.map_or(0.0, |(rate, count)| interleaved.len() as f64 / count as f64 / f64::from(rate));
            fail(format!("corrupt {name} data at {at:.2} s ({})", decode_message(e)))
        })?;
        let spec = *decoded.spec();
        let this = (spec.rate, spec.channels.count());
        if *shape.get_or_insert(this) != this {
            return Err(fail(format!("the {name} stream changes its sample rate or channel count midway")));
        }
        if decoded.frames() == 0 {
            continue;
        }
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        interleaved.extend_from_slice(buffer.samples());
    }
    let count = shape.map_or(1, |(_, count)| count.max(1));
    let mut frames = interleaved.len() / count;
    // The length the container records, when it does: FLAC's STREAMINFO,
    // the WAV data chunk, the LAME header (already trimmed), the last Ogg
    // page's granule position. Symphonia 0.5.5 counts the 8-byte header of
    // AIFF's SSND chunk as audio, hence the slack there.
    if let Some(expected) = params.n_frames.map(|n| n as usize) {
        let slack = if name == "AIFF" { 8 } else { 0 };
        if frames + slack < expected {
            return Err(fail(format!("the file is truncated or corrupt ({frames} of {expected} frames decoded)")));
        }
        frames = frames.min(expected);
    }
    let Some((rate, _)) = shape.filter(|_| frames > 0) else {
        return Err(fail("the file holds no audio".into()));
    };
    let channels =
        (0..count).map(|c| interleaved[..frames * count].iter().skip(c).step_by(count).copied().collect()).collect();
    Ok(Audio { rate, channels })
}

fn decode_message(e: DecodeFailure) -> String {
    match e {
        DecodeFailure::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "the file is truncated".into(),
        other => other.to_string(),
    }
}

/// Writes 32-bit float WAV atomically (see [`write_atomically`]).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    let spec = hound::WavSpec {
        channels: audio.channel_count() as u16,
        sample_rate: audio.rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_atomically(path, |file| {
        let buffered = std::io::BufWriter::new(file);
        let mut writer = hound::WavWriter::new(buffered, spec).map_err(|e| e.to_string())?;
        for i in 0..audio.frames() {
            for ch in &audio.channels {
                writer.write_sample(ch[i]).map_err(|e| e.to_string())?;
            }
        }
        writer.finalize().map_err(|e| e.to_string())
    })
}

/// Writes a file atomically: `write` fills a temporary file in the same
/// folder, which is renamed into place only when complete, so a failed or
/// interrupted write never leaves a file that looks finished.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".gmsdi-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| EngineError::audio(path, format!("cannot create a file in {}: {e}", dir.display())))?;
    write(tmp.as_file_mut()).map_err(|e| EngineError::audio(path, e))?;
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
