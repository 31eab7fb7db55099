//! Jobs: one task with its inputs and settings, run end to end on real
//! audio (any rate and channel count, any length) by the CLI and the plugin.
//! [`run`] hands a task to its stage: separation for separate and extract,
//! generation for accompany and generate.

use std::collections::BTreeMap;

use crate::audio::Audio;
use crate::context::Context;
use crate::error::{EngineError, Result};
use crate::manifest::Manifest;
use crate::network::Denoiser;
use crate::progress::Tracker;
use crate::settings::{Overrides, Settings, TaskKind};
use crate::{generation, separation};

/// A model the jobs can run on: a denoiser with a manifest and a text encoder.
pub trait TextDenoiser: Denoiser {
    /// The model's manifest.
    fn manifest(&self) -> &Manifest;
    /// The embedding of a prompt (the null embedding for "").
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>>;
}

impl TextDenoiser for crate::network::Model {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>> {
        crate::network::Model::embed(self, prompt)
    }
}

/// A known source of an accompaniment: its label (a stem name or free
/// text used as its prompt) and its audio.
#[derive(Clone, Debug)]
pub struct Source {
    /// Stem name or free-text description.
    pub label: String,
    /// The recorded audio.
    pub audio: Audio,
}

/// What to do.
#[derive(Clone, Debug)]
pub enum Task {
    /// Split `mix` into `stems` (at least two).
    Separate {
        /// The mixture.
        mix: Audio,
        /// Stems present in the mixture.
        stems: Vec<String>,
    },
    /// Extract each of `stems` from `mix`, against all the model's other stems.
    Extract {
        /// The mixture.
        mix: Audio,
        /// Stems to extract.
        stems: Vec<String>,
    },
    /// Generate `generate` under the given sources; each inner list is one
    /// generated variable (one stem, or a sub-mixture of several).
    Accompany {
        /// The given sources.
        sources: Vec<Source>,
        /// Blocks to generate.
        generate: Vec<Vec<String>>,
    },
    /// Generate all `stems` blocks from nothing.
    Generate {
        /// Blocks to generate.
        stems: Vec<Vec<String>>,
        /// Length in seconds.
        seconds: f64,
        /// Output rate (Hz).
        rate: u32,
        /// Output channels.
        channels: usize,
    },
}

impl Task {
    /// The kind of this task.
    pub fn kind(&self) -> TaskKind {
        match self {
            Task::Separate { .. } => TaskKind::Separate,
            Task::Extract { .. } => TaskKind::Extract,
            Task::Accompany { .. } => TaskKind::Accompany,
            Task::Generate { .. } => TaskKind::Generate,
        }
    }
}

/// A task, its settings and prompt overrides.
#[derive(Clone, Debug)]
pub struct Job {
    /// What to do.
    pub task: Task,
    /// Settings that replace the defaults.
    pub overrides: Overrides,
    /// Prompt per stem or label, replacing the model's.
    pub prompts: BTreeMap<String, String>,
    /// Negative prompt per stem, replacing the model's.
    pub negatives: BTreeMap<String, String>,
}

impl Job {
    /// A job with default settings and prompts.
    pub fn new(task: Task) -> Job {
        Job { task, overrides: Overrides::default(), prompts: BTreeMap::new(), negatives: BTreeMap::new() }
    }
}

/// What a job produced.
#[derive(Clone, Debug)]
pub struct JobOutput {
    /// Name and audio of each result, in request order.
    pub stems: Vec<(String, Audio)>,
    /// Things the user should know (silent input, length mismatch, ...).
    pub warnings: Vec<String>,
    /// The settings the job ran with: extraction's method is always the
    /// extractor, and separation's constrained stem is the one the
    /// separator constrained (none when only extractors ran).
    pub settings: Settings,
    /// Network evaluations run.
    pub evaluations: usize,
}

/// Runs a job to the end. `tracker` reports progress and carries the
/// cancel flag; a cancelled job returns [`EngineError::Cancelled`].
pub fn run(model: &mut dyn TextDenoiser, job: &Job, tracker: &mut Tracker) -> Result<JobOutput> {
    // Extraction's settings always name the extractor (Settings::resolve).
    let settings = Settings::resolve(job.task.kind(), model.manifest(), &job.overrides)?;
    let mut cx = Context { model, job, settings, warnings: Vec::new() };
    let stems = match &job.task {
        Task::Separate { mix, stems } => {
            if stems.len() < 2 {
                return Err(EngineError::Input("separate needs at least two stems; use extract for one".into()));
            }
            separation::separate(&mut cx, mix, stems, stems, tracker)?
        }
        Task::Extract { mix, stems } => {
            let all: Vec<String> = cx.manifest().stems.keys().cloned().collect();
            separation::separate(&mut cx, mix, stems, &all, tracker)?
        }
        Task::Accompany { sources, generate } => generation::accompany(&mut cx, sources, generate, tracker)?,
        Task::Generate { stems, seconds, rate, channels } => {
            generation::generate(&mut cx, stems, *seconds, *rate, *channels, tracker)?
        }
    };
    Ok(JobOutput { stems, warnings: cx.warnings, settings: cx.settings, evaluations: tracker.done() })
}

/// Name of a generated block: its labels joined with "+".
pub fn block_name(block: &[String]) -> String {
    block.join("+")
}
