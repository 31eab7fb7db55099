//! `gmsdi eval separation`: SI-SDRi per stem by the MSDM protocol.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gmsdi_engine::audio::{read_audio, Audio};
use gmsdi_engine::job::{Job, Task};
use gmsdi_engine::metrics::{evaluate_track, WindowScores};
use serde_json::json;

use crate::args::{Cli, EvalCommand};
use crate::run::{apply_settings, load_model, run_with_progress, Failure};

/// Extensions of the audio files a track folder may hold, in order of preference.
const EXTENSIONS: [&str; 6] = ["wav", "flac", "aiff", "aif", "ogg", "mp3"];

/// The first of `dir/<name>.<extension>` that exists, in [`EXTENSIONS`] order.
fn audio_file(dir: &Path, name: &str) -> Option<PathBuf> {
    EXTENSIONS.iter().map(|e| dir.join(format!("{name}.{e}"))).find(|p| p.is_file())
}

/// [`audio_file`], or an error that names what was looked for.
fn track_file(dir: &Path, name: &str) -> Result<PathBuf, Failure> {
    audio_file(dir, name)
        .ok_or_else(|| Failure::Error(format!("{}: no {} in this track folder", dir.display(), names(name))))
}

/// `name.wav, name.flac, ...` for the messages.
fn names(name: &str) -> String {
    EXTENSIONS.map(|e| format!("{name}.{e}")).join(", ")
}

/// Runs an evaluation subcommand.
pub fn run(cli: &Cli, what: &EvalCommand) -> Result<(), Failure> {
    let EvalCommand::Separation { data, stems, limit, max_seconds, settings } = what;
    let mut tracks: Vec<PathBuf> = std::fs::read_dir(data)
        .map_err(|e| format!("cannot read {}: {e}", data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| audio_file(p, "mix").is_some())
        .collect();
    tracks.sort();
    tracks.truncate(limit.unwrap_or(usize::MAX));
    if tracks.is_empty() {
        return Err(Failure::Error(format!("no track folders with a mix ({}) in {}", names("mix"), data.display())));
    }
    let mut model = load_model(cli)?;
    let stems: Vec<String> = if stems.is_empty() {
        model.manifest.stems.keys().filter(|s| tracks.iter().all(|t| audio_file(t, s).is_some())).cloned().collect()
    } else {
        stems.clone()
    };
    if stems.len() < 2 {
        return Err(Failure::Error(format!(
            "every track needs a mix and at least two <stem>.wav (or another audio extension) of the model's stems ({}); found in all tracks: {}",
            model.manifest.stems.keys().cloned().collect::<Vec<_>>().join(", "),
            if stems.is_empty() { "none".to_string() } else { stems.join(", ") }
        )));
    }
    let mut scores: BTreeMap<String, Vec<f64>> = stems.iter().map(|s| (s.clone(), Vec::new())).collect();
    for (i, track) in tracks.iter().enumerate() {
        let crop = |mut a: Audio| {
            if let Some(s) = max_seconds {
                let frames = (s * f64::from(a.rate)).round() as usize;
                a.channels.iter_mut().for_each(|c| c.truncate(frames));
            }
            a
        };
        let mix = crop(read_audio(&track_file(track, "mix")?)?);
        let truths = stems
            .iter()
            .map(|s| read_audio(&track_file(track, s)?).map(|a| crop(a).downmix()).map_err(Failure::from))
            .collect::<Result<Vec<_>, _>>()?;
        let mut job = Job::new(Task::Separate { mix: mix.clone(), stems: stems.clone() });
        apply_settings(&mut job, settings)?;
        let out = run_with_progress(&mut model, &job, !cli.json)?;
        let estimates: Vec<Vec<f32>> = out.stems.iter().map(|(_, a)| a.downmix()).collect();
        let mono = mix.downmix();
        let rate = mix.rate as usize;
        let n = truths.iter().map(Vec::len).chain([mono.len()]).min().unwrap_or(0);
        let t: Vec<&[f32]> = truths.iter().map(|v| &v[..n]).collect();
        let e: Vec<&[f32]> = estimates.iter().map(|v| &v[..n.min(v.len())]).collect();
        let track_scores: WindowScores = evaluate_track(&mono[..n], &t, &e, 4 * rate, 2 * rate);
        for (s, v) in stems.iter().zip(track_scores.per_stem) {
            if let Some(acc) = scores.get_mut(s) {
                acc.extend(v);
            }
        }
        eprintln!("track {}/{}: {}", i + 1, tracks.len(), track.display());
    }
    let mean = |v: &Vec<f64>| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let per_stem: BTreeMap<&String, f64> = scores.iter().map(|(s, v)| (s, mean(v))).collect();
    let all = per_stem.values().sum::<f64>() / per_stem.len().max(1) as f64;
    if cli.json {
        let windows: BTreeMap<&String, usize> = scores.iter().map(|(s, v)| (s, v.len())).collect();
        println!(
            "{}",
            json!({"task": "eval separation", "model": model.manifest.name, "tracks": tracks.len(),
            "si_sdri_db": per_stem, "all_db": all, "windows": windows, "settings": settings.overrides()?.cache_key()})
        );
    } else {
        println!("{:<10} SI-SDRi (dB)", "stem");
        for (s, v) in &per_stem {
            println!("{s:<10} {v:>8.2}");
        }
        println!("{:<10} {all:>8.2}", "All");
    }
    Ok(())
}
