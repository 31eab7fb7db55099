//! What a job is: the task with its inputs, the caller's settings and
//! prompts, the model it runs on, and what it produces. The stages
//! ([`crate::separation`], [`crate::generation`]) and [`crate::job::run`] use these.

use std::collections::BTreeMap;

use crate::audio::Audio;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::network::Denoiser;
use crate::settings::{Overrides, Settings, TaskKind};

/// A model the jobs can run on: a denoiser with a manifest and a text encoder.
pub trait TextDenoiser: Denoiser {
    /// The model's manifest.
    fn manifest(&self) -> &Manifest;
    /// The embedding of a prompt (the null embedding for "").
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>>;
    /// Whether a job on the CPU runs the model's `denoiser_cpu` (`on`) or
    /// its full-precision `denoiser`; a model with one denoiser ignores it.
    fn use_cpu_denoiser(&mut self, _on: bool) -> Result<()> {
        Ok(())
    }
}

impl TextDenoiser for crate::network::Model {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>> {
        crate::network::Model::embed(self, prompt)
    }
    fn use_cpu_denoiser(&mut self, on: bool) -> Result<()> {
        crate::network::Model::use_cpu_denoiser(self, on)
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

/// Name of a generated block: its labels joined with "+".
pub fn block_name(block: &[String]) -> String {
    block.join("+")
}
