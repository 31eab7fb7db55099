//! Turns the captured audio and the plugin's state into the engine's job
//! for the chosen task, with the warnings a user should see.

use gmsdi_engine::job::{Job, Source, Task};

use crate::capture::CaptureStore;
use crate::error::PluginError;
use crate::params::TaskChoice;
use crate::state::PersistedState;

/// What a job works on: the captured region, or (a total generation with
/// nothing captured) the state's length from the timeline's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Timeline position of the first sample.
    pub start: i64,
    /// Timeline position after the last sample.
    pub end: i64,
}

/// The engine job for `choice`, with `model_stems` (in the model's order)
/// standing in for an empty stem list.
pub fn build(
    choice: TaskChoice,
    capture: &CaptureStore,
    state: &PersistedState,
    model_stems: &[String],
    warnings: &mut Vec<String>,
) -> Result<(Job, Region), PluginError> {
    let region = region(choice, capture, state)?;
    let task = match choice {
        TaskChoice::Accompany => accompany(capture, region, state, warnings)?,
        TaskChoice::Separate | TaskChoice::Extract => {
            let (mix, bad) = capture.read(0, region.start, region.end);
            if bad > 0 {
                warnings.push(format!("the main input had {bad} NaN or infinite samples, replaced by silence"));
            }
            if mix.rms() == 0.0 {
                return Err(PluginError::SilentInput { which: "main input" });
            }
            let stems = chosen(&state.separate_stems, model_stems);
            if choice == TaskChoice::Separate {
                Task::Separate { mix, stems }
            } else {
                Task::Extract { mix, stems }
            }
        }
        TaskChoice::Generate => Task::Generate {
            stems: chosen(&state.stems, model_stems).into_iter().map(|s| vec![s]).collect(),
            seconds: (region.end - region.start) as f64 / f64::from(capture.rate()),
            rate: capture.rate(),
            channels: 2,
        },
    };
    let mut job = Job::new(task);
    job.overrides = state.settings.overrides.clone();
    for (_, why) in state.settings.refusals() {
        warnings.push(format!("a saved setting is not used, the default applies: {why}"));
    }
    job.prompts = state.prompts.clone();
    job.negatives = state.negatives.clone();
    Ok((job, region))
}

/// The captured range; a total generation without one uses `generate_seconds` from 0.
fn region(choice: TaskChoice, capture: &CaptureStore, state: &PersistedState) -> Result<Region, PluginError> {
    match (capture.range(), choice) {
        (Some((start, end)), _) => Ok(Region { start, end }),
        (None, TaskChoice::Generate) => {
            let seconds =
                if state.generate_seconds.is_finite() { state.generate_seconds.clamp(1.0, 600.0) } else { 8.0 };
            Ok(Region { start: 0, end: (seconds * f64::from(capture.rate())).round() as i64 })
        }
        (None, _) => Err(PluginError::NothingCaptured),
    }
}

/// The trimmed, non-empty names of `stems`, or all of the model's when none.
fn chosen(stems: &[String], model_stems: &[String]) -> Vec<String> {
    let names: Vec<String> = stems.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(String::from).collect();
    if names.is_empty() {
        model_stems.to_vec()
    } else {
        names
    }
}

/// The accompaniment task: every labelled source that holds audio.
fn accompany(
    capture: &CaptureStore,
    region: Region,
    state: &PersistedState,
    warnings: &mut Vec<String>,
) -> Result<Task, PluginError> {
    let mut sources = Vec::new();
    for (i, label) in state.labels.iter().enumerate() {
        let label = label.trim();
        if label.is_empty() {
            continue;
        }
        let (audio, bad) = capture.read(1 + i, region.start, region.end);
        if bad > 0 {
            warnings.push(format!("source {} had {bad} NaN or infinite samples, replaced by silence", i + 1));
        }
        if audio.rms() == 0.0 {
            warnings.push(format!("source {} (\"{label}\") is silent and was left out", i + 1));
            continue;
        }
        sources.push(Source { label: label.to_string(), audio });
    }
    if sources.is_empty() {
        return Err(PluginError::NoLabelledSource);
    }
    let generate = state.stems.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| vec![s.to_string()]);
    Ok(Task::Accompany { sources, generate: generate.collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(input: usize, value: f32, from: i64, frames: usize) -> CaptureStore {
        let store = CaptureStore::new(1000, 4000).unwrap();
        let mut samples = vec![value; frames];
        store.write(input, &[&mut samples[..]], from);
        store
    }

    #[test]
    fn generate_without_capture_uses_the_state_length_from_zero() {
        let store = CaptureStore::new(1000, 4000).unwrap();
        let state = PersistedState { generate_seconds: 2.0, ..PersistedState::default() };
        let stems = ["bass".to_string(), "drums".to_string()];
        let (job, region) = build(TaskChoice::Generate, &store, &state, &stems, &mut Vec::new()).unwrap();
        assert_eq!(region, Region { start: 0, end: 2000 });
        assert!(
            matches!(job.task, Task::Generate { ref stems, seconds, .. } if stems == &[vec!["bass".to_string()]] && seconds == 2.0)
        );
    }

    #[test]
    fn extract_takes_the_model_stems_when_none_are_chosen_and_refuses_silence() {
        let state = PersistedState::default();
        let stems = ["bass".to_string(), "drums".to_string()];
        let store = store_with(0, 0.1, 100, 500);
        let (job, region) = build(TaskChoice::Extract, &store, &state, &stems, &mut Vec::new()).unwrap();
        assert_eq!(region, Region { start: 100, end: 600 });
        assert!(matches!(job.task, Task::Extract { stems: ref s, .. } if s == &stems));
        let silent = store_with(0, 0.0, 100, 500);
        let err = build(TaskChoice::Separate, &silent, &state, &stems, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, PluginError::SilentInput { which: "main input" }), "{err}");
    }

    #[test]
    fn accompaniment_needs_a_labelled_source_with_audio() {
        let state = PersistedState::default(); // source 1 is labelled "guitar"
        let main_only = store_with(0, 0.1, 0, 500);
        let err = build(TaskChoice::Accompany, &main_only, &state, &[], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, PluginError::NoLabelledSource), "{err}");
        let mut warnings = Vec::new();
        let guitar = store_with(1, 0.1, 0, 500);
        let (job, _) = build(TaskChoice::Accompany, &guitar, &state, &[], &mut warnings).unwrap();
        assert!(matches!(job.task, Task::Accompany { ref sources, .. } if sources[0].label == "guitar"));
        let bad = PersistedState { settings: serde_json::from_str(r#"{"method": "magic"}"#).unwrap(), ..state };
        build(TaskChoice::Accompany, &guitar, &bad, &[], &mut warnings).unwrap();
        assert!(warnings.iter().any(|w| w.contains("\"magic\"") && w.contains("the default applies")), "{warnings:?}");
    }
}
