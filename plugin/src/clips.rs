//! Result clips: 32-bit float WAV files with a Broadcast WAV `bext` chunk
//! whose TimeReference is the clip's timeline position, so hosts can
//! "insert at original position". Written by hand (hound cannot add custom
//! chunks), to a temporary name renamed when complete.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use gmsdi_engine::audio::Audio;

/// Size of a `bext` chunk (version 2) without coding history.
const BEXT_LEN: u32 = 602;
/// `WAVE_FORMAT_IEEE_FLOAT`.
const FORMAT_FLOAT: u16 = 3;

/// Writes `audio` as 32-bit float WAV with `bext` TimeReference = `time_reference`.
/// The file appears under its name only once completely written and synced.
pub fn write_clip(path: &Path, audio: &Audio, time_reference: u64) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    let result = write_file(&tmp, audio, time_reference).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_file(path: &Path, audio: &Audio, time_reference: u64) -> io::Result<()> {
    let channels = audio.channel_count() as u16;
    let frames = audio.frames();
    let data_len = u32::try_from(frames * usize::from(channels) * 4)
        .ok()
        .filter(|n| *n < u32::MAX - 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "clip too long for a WAV file (4 GiB)"))?;
    let fmt_len = 18u32;
    let riff_len = 4 + (8 + fmt_len) + (8 + 4) + (8 + BEXT_LEN) + (8 + data_len);
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(b"RIFF")?;
    w.write_all(&riff_len.to_le_bytes())?;
    w.write_all(b"WAVE")?;
    w.write_all(b"fmt ")?;
    w.write_all(&fmt_len.to_le_bytes())?;
    w.write_all(&FORMAT_FLOAT.to_le_bytes())?;
    w.write_all(&channels.to_le_bytes())?;
    w.write_all(&audio.rate.to_le_bytes())?;
    w.write_all(&(audio.rate * u32::from(channels) * 4).to_le_bytes())?;
    w.write_all(&(channels * 4).to_le_bytes())?;
    w.write_all(&32u16.to_le_bytes())?;
    w.write_all(&0u16.to_le_bytes())?;
    w.write_all(b"fact")?;
    w.write_all(&4u32.to_le_bytes())?;
    w.write_all(&(frames as u32).to_le_bytes())?;
    w.write_all(b"bext")?;
    w.write_all(&BEXT_LEN.to_le_bytes())?;
    w.write_all(&bext(time_reference))?;
    w.write_all(b"data")?;
    w.write_all(&data_len.to_le_bytes())?;
    for i in 0..frames {
        for ch in &audio.channels {
            w.write_all(&ch[i].to_le_bytes())?;
        }
    }
    let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}

/// The `bext` chunk body: description, originator, time reference, version 2.
fn bext(time_reference: u64) -> Vec<u8> {
    let mut b = vec![0u8; BEXT_LEN as usize];
    let text = |b: &mut [u8], at: usize, len: usize, s: &str| {
        let bytes = s.as_bytes();
        b[at..at + bytes.len().min(len)].copy_from_slice(&bytes[..bytes.len().min(len)]);
    };
    text(&mut b, 0, 256, "GMSDI result");
    text(&mut b, 256, 32, "GMSDI");
    b[338..342].copy_from_slice(&(time_reference as u32).to_le_bytes());
    b[342..346].copy_from_slice(&((time_reference >> 32) as u32).to_le_bytes());
    b[346..348].copy_from_slice(&2u16.to_le_bytes());
    b
}

/// The `bext` TimeReference of a WAV file, if it has a `bext` chunk.
pub fn time_reference(path: &Path) -> io::Result<Option<u64>> {
    let mut f = File::open(path)?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head)?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a WAV file"));
    }
    let mut chunk = [0u8; 8];
    while f.read_exact(&mut chunk).is_ok() {
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        if &chunk[..4] == b"bext" && len >= 346 {
            let mut body = [0u8; 346];
            f.read_exact(&mut body)?;
            let low = u32::from_le_bytes([body[338], body[339], body[340], body[341]]);
            let high = u32::from_le_bytes([body[342], body[343], body[344], body[345]]);
            return Ok(Some(u64::from(high) << 32 | u64::from(low)));
        }
        f.seek(SeekFrom::Current(i64::from(len) + i64::from(len & 1)))?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_round_trips_through_hound_with_its_time_reference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let audio = Audio { rate: 44100, channels: vec![vec![0.25, -1.5, 3.0], vec![1e-9, 0.0, -0.0]] };
        write_clip(&path, &audio, 5_000_000_123).unwrap();
        assert_eq!(gmsdi_engine::audio::read_wav(&path).unwrap(), audio);
        assert_eq!(time_reference(&path).unwrap(), Some(5_000_000_123));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn unwritable_folder_leaves_nothing() {
        let path = Path::new("/nonexistent-gmsdi-dir/a.wav");
        assert!(write_clip(path, &Audio::silence(8000, 1, 10), 0).is_err());
        // A clip that fails once its temporary file exists (its name is taken
        // by a folder, so the rename fails) leaves neither file behind.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        std::fs::create_dir(&path).unwrap();
        assert!(write_clip(&path, &Audio::silence(8000, 1, 10), 0).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["a.wav"], "only the folder that was there");
        assert!(path.is_dir());
    }
}
