//! The plugin's persisted, non-parameter state: labels, stems, job
//! settings, result clips and folders, stored as JSON in the host's project.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use gmsdi_engine::settings::StoredSettings;
use nice_plug::params::persist::PersistentField;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// Jobs kept in the history.
pub const HISTORY: usize = 10;

/// Everything the plugin stores in the host's project besides parameters.
/// Missing keys take their defaults, so older or partial states load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersistedState {
    /// Label of each sidechain source (a stem name or free text); an empty
    /// label leaves that source out of accompaniment jobs.
    pub labels: [String; crate::buses::SOURCES],
    /// Stems an accompaniment job generates, one result per stem.
    pub stems: Vec<String>,
    /// Stems a separation or extraction job pulls out of the main input;
    /// empty = all of the model's stems.
    pub separate_stems: Vec<String>,
    /// Prompt per stem, replacing the model's (missing = the model's).
    pub prompts: BTreeMap<String, String>,
    /// Negative prompt per stem, replacing the model's (missing = the model's).
    pub negatives: BTreeMap<String, String>,
    /// Length of a total generation when nothing is captured, in seconds.
    pub generate_seconds: f64,
    /// Settings that replace the model's defaults (the engine's vocabulary;
    /// entries this version refuses are kept and shown, not used).
    pub settings: StoredSettings,
    /// Execution provider: "cpu", "cuda" or "directml" (`None` = CPU).
    pub provider: Option<String>,
    /// The current result clips, in aux-output order.
    pub results: Vec<Clip>,
    /// Folder for result files; `None` = `GMSDI_OUTPUT_DIR` or the per-user default.
    pub output_dir: Option<PathBuf>,
    /// Model folder; `None` = `GMSDI_MODEL` or the model shipped next to the plugin.
    pub model_dir: Option<PathBuf>,
    /// Longest capture in seconds; buffers are allocated for this at activation.
    pub max_capture_seconds: f64,
    /// What the last job or restore did, in words (for hosts without the editor).
    pub report: String,
    /// The last jobs of this instance, newest first (at most [`HISTORY`]).
    pub history: Vec<HistoryEntry>,
}

impl Default for PersistedState {
    fn default() -> Self {
        Self {
            labels: ["guitar".into(), String::new(), String::new()],
            stems: vec!["bass".into()],
            separate_stems: Vec::new(),
            prompts: BTreeMap::new(),
            negatives: BTreeMap::new(),
            generate_seconds: 8.0,
            settings: StoredSettings::default(),
            provider: None,
            results: Vec::new(),
            output_dir: None,
            model_dir: None,
            max_capture_seconds: 600.0,
            report: String::new(),
            history: Vec::new(),
        }
    }
}

/// One result file and where it sits on the host's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    /// Stem name.
    pub stem: String,
    /// The WAV file.
    pub path: PathBuf,
    /// Timeline position of the file's first sample, in samples at the file's rate.
    pub start: i64,
}

/// One finished job: what it ran with and what it wrote, so it can be
/// reproduced and its results restored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryEntry {
    /// Task name ("accompany", "separate", "extract", "generate").
    pub task: String,
    /// When it finished, in seconds since the Unix epoch.
    pub finished: u64,
    /// What it was asked for, in words (stems, sources).
    pub summary: String,
    /// The user's overrides it ran with (the rest were the model's defaults).
    pub settings: StoredSettings,
    /// Every setting it ran with, in words (model, steps, w, sampler, γ, seed, ...).
    pub resolved: String,
    /// The files it wrote.
    pub results: Vec<Clip>,
}

/// The persisted state behind a lock, with a counter of host loads and a
/// listener told of each, so the worker knows when to restore results.
/// Never touched on the audio thread.
#[derive(Default)]
pub struct SharedState {
    state: RwLock<PersistedState>,
    loads: AtomicU64,
    on_load: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl SharedState {
    /// A copy of the current state.
    pub fn snapshot(&self) -> PersistedState {
        self.state.read().clone()
    }

    /// Changes the state without counting it as a host load.
    pub fn update(&self, f: impl FnOnce(&mut PersistedState)) {
        f(&mut self.state.write());
    }

    /// How many times the host has loaded a state into this instance.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Acquire)
    }

    /// Calls `listener` after every host load, on the thread that loads (the
    /// host's main thread; the audio thread only if the editor set the whole
    /// plugin state while processing, which this plugin's editor never does).
    /// Only the first listener is kept: returns whether `listener` is it.
    pub fn on_load(&self, listener: impl Fn() + Send + Sync + 'static) -> bool {
        self.on_load.set(Box::new(listener)).is_ok()
    }
}

impl PersistedState {
    /// Moves what older versions stored elsewhere: the provider used to be
    /// one of the job settings.
    fn migrate(mut self) -> Self {
        if let Some(serde_json::Value::String(provider)) = self.settings.take_refused("provider") {
            self.provider.get_or_insert(provider);
        }
        self
    }
}

impl<'a> PersistentField<'a, PersistedState> for SharedState {
    fn set(&self, new_value: PersistedState) {
        *self.state.write() = new_value.migrate();
        self.loads.fetch_add(1, Ordering::AcqRel);
        if let Some(listener) = self.on_load.get() {
            listener();
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&PersistedState) -> R,
    {
        f(&self.state.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_garbage_json() {
        let s: PersistedState = serde_json::from_str(r#"{"stems": ["drums"], "unknown": 1}"#).unwrap();
        assert_eq!(s.stems, ["drums"]);
        assert_eq!(s.labels[0], "guitar");
        assert!(serde_json::from_str::<PersistedState>(r#"{"labels": 3"#).is_err());
    }

    #[test]
    fn a_refused_setting_loses_nothing_else_and_the_provider_moves_out() {
        let text = r#"{"labels": ["bass", "", ""], "settings": {"steps": 8, "gamma": 0, "provider": "cuda"}}"#;
        let shared = SharedState::default();
        shared.set(serde_json::from_str(text).unwrap());
        let state = shared.snapshot();
        assert_eq!((state.labels[0].as_str(), state.provider.as_deref()), ("bass", Some("cuda")));
        assert_eq!(state.settings.overrides.cache_key(), "steps=8");
        let refused: Vec<String> = state.settings.refusals().iter().map(|(_, e)| e.to_string()).collect();
        let expected = gmsdi_engine::settings::spec("gamma").unwrap().parse("0").unwrap_err().to_string();
        assert_eq!(refused, [expected], "the same message as the CLI's and the editor's");
        let saved = serde_json::to_value(&state).unwrap();
        assert_eq!(saved["settings"], serde_json::json!({"steps": 8, "gamma": 0}), "kept for a later version");
    }

    #[test]
    fn host_loads_are_counted_and_heard_but_updates_are_not() {
        let shared = SharedState::default();
        let heard = std::sync::Arc::new(AtomicU64::new(0));
        let counter = heard.clone();
        assert!(shared.on_load(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        assert!(!shared.on_load(|| {}), "one listener");
        shared.update(|s| s.report = "x".into());
        assert_eq!((shared.loads(), heard.load(Ordering::Relaxed)), (0, 0));
        shared.set(PersistedState::default());
        assert_eq!((shared.loads(), heard.load(Ordering::Relaxed)), (1, 1));
        assert_eq!(shared.map(|s| s.report.clone()), "");
    }
}
