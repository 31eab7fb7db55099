//! What the editor shows about the model before any job runs: its name,
//! stems with their default prompts, and the settings each task would use.
//! Read from `model.json` alone (no ONNX Runtime needed), off the GUI thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gmsdi_engine::error::EngineError;
use gmsdi_engine::manifest::{Manifest, StemPrompts};
use gmsdi_engine::settings::{default_value, Overrides, TaskKind, Value};

/// The model as the editor presents it.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// The model's name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Stems in the model's order, with their default prompts.
    pub stems: Vec<(String, StemPrompts)>,
    /// The model's own default settings, by task name.
    pub defaults: BTreeMap<&'static str, Overrides>,
    /// The execution provider in use, once the model has been loaded for a job.
    pub provider: Option<String>,
}

impl ModelInfo {
    /// Reads the model folder's `model.json`.
    pub fn read(dir: &Path) -> Result<ModelInfo, EngineError> {
        let manifest = Manifest::load(dir)?;
        let defaults = TaskKind::ALL.into_iter().map(|k| (k.name(), manifest.task_defaults(k).clone())).collect();
        Ok(ModelInfo {
            name: manifest.name.clone(),
            dir: dir.to_path_buf(),
            stems: manifest.stems.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            defaults,
            provider: None,
        })
    }

    /// The value `key` takes for a task when the user sets nothing.
    pub fn default_value(&self, kind: TaskKind, key: &str) -> Option<Value> {
        let none = Overrides::default();
        default_value(kind, self.defaults.get(kind.name()).unwrap_or(&none), key)
    }

    /// The model's default prompt of `stem` (the stem's name for free text).
    pub fn prompt(&self, stem: &str) -> String {
        self.stems.iter().find(|(s, _)| s == stem).map_or_else(|| stem.to_string(), |(_, p)| p.prompt.clone())
    }

    /// The model's default negative prompt of `stem` ("" for free text).
    pub fn negative(&self, stem: &str) -> String {
        self.stems.iter().find(|(s, _)| s == stem).map_or_else(String::new, |(_, p)| p.negative.clone())
    }
}
