//! The job cache: identical jobs (same task, inputs, timeline position,
//! settings and model) reuse the result files of the first one. A content
//! hash of the job names an index file in the output folder's `.gmsdi-cache/`.

use std::path::{Path, PathBuf};

use gmsdi_engine::audio::Audio;
use gmsdi_engine::job::{Job, Task};
use sha2::{Digest, Sha256};

use crate::state::Clip;

/// Folder of the index files, inside the output folder.
const FOLDER: &str = ".gmsdi-cache";

/// The content hash of a job run with the model in `model_dir`, placed at
/// timeline position `start`.
pub fn key(job: &Job, model_dir: &Path, start: i64) -> String {
    let mut h = Sha256::new();
    let mut text = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    text(&job.overrides.cache_key());
    text(&serde_json::to_string(&(&job.prompts, &job.negatives, start)).unwrap_or_default());
    text(&std::fs::read_to_string(model_dir.join("model.json")).unwrap_or_default());
    match &job.task {
        Task::Separate { mix, stems } | Task::Extract { mix, stems } => {
            audio(&mut h, mix);
            h.update(format!("{:?} {stems:?}", job.task.kind()));
        }
        Task::Accompany { sources, generate } => {
            for s in sources {
                h.update(s.label.as_bytes());
                audio(&mut h, &s.audio);
            }
            h.update(format!("accompany {generate:?}"));
        }
        Task::Generate { stems, seconds, rate, channels } => {
            h.update(format!("generate {stems:?} {seconds} {rate} {channels}"));
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds audio (rate, then each channel's length and samples) to the hash.
fn audio(h: &mut Sha256, a: &Audio) {
    h.update(a.rate.to_le_bytes());
    for channel in &a.channels {
        h.update((channel.len() as u64).to_le_bytes());
        channel.iter().for_each(|s| h.update(s.to_le_bytes()));
    }
}

/// The index file of a key.
fn index(dir: &Path, key: &str) -> PathBuf {
    dir.join(FOLDER).join(format!("{key}.json"))
}

/// The clips of an earlier identical job, if its index and all its files exist.
pub fn lookup(dir: &Path, key: &str) -> Option<Vec<Clip>> {
    let clips: Vec<Clip> = serde_json::from_str(&std::fs::read_to_string(index(dir, key)).ok()?).ok()?;
    clips.iter().all(|c| c.path.is_file()).then_some(clips)
}

/// Records the clips of a job under its key.
pub fn store(dir: &Path, key: &str, clips: &[Clip]) -> std::io::Result<()> {
    let path = index(dir, key);
    std::fs::create_dir_all(dir.join(FOLDER))?;
    let json = serde_json::to_string_pretty(clips).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.part");
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmsdi_engine::job::Source;

    fn job(sample: f32) -> Job {
        let audio = Audio { rate: 8000, channels: vec![vec![0.0, sample]] };
        Job::new(Task::Accompany {
            sources: vec![Source { label: "guitar".into(), audio }],
            generate: vec![vec!["bass".into()]],
        })
    }

    #[test]
    fn key_follows_inputs_settings_and_position() {
        let model = Path::new("/nonexistent");
        let base = key(&job(1.0), model, 0);
        assert_eq!(base, key(&job(1.0), model, 0));
        assert_ne!(base, key(&job(2.0), model, 0));
        assert_ne!(base, key(&job(1.0), model, 1));
        let mut other = job(1.0);
        other.overrides.set("steps", gmsdi_engine::settings::Value::Count(3)).unwrap();
        assert_ne!(base, key(&other, model, 0));
    }

    #[test]
    fn index_round_trip_needs_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("a.wav");
        std::fs::write(&wav, "x").unwrap();
        let clips = vec![Clip { stem: "bass".into(), path: wav.clone(), start: 5 }];
        store(dir.path(), "k", &clips).unwrap();
        assert_eq!(lookup(dir.path(), "k"), Some(clips));
        std::fs::remove_file(wav).unwrap();
        assert_eq!(lookup(dir.path(), "k"), None);
        assert_eq!(lookup(dir.path(), "other"), None);
    }
}
