//! Jobs: one task with its inputs and settings, run end to end on real
//! audio (any rate and channel count, any length) by the CLI and the plugin.

use std::collections::BTreeMap;

use rand::SeedableRng;

use crate::audio::Audio;
use crate::chunk::{plan, Stitcher, Window};
use crate::context::Context;
use crate::error::{EngineError, Result};
use crate::gmsdi::{Condition, Generation, Prefix};
use crate::manifest::Manifest;
use crate::network::Denoiser;
use crate::progress::Tracker;
use crate::rows::{flatten, to_audio, to_rows, unflatten, Rows};
use crate::sampler::Rng;
use crate::separation;
use crate::settings::{Method, Overrides, Settings, TaskKind};

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
    /// The settings the job ran with.
    pub settings: Settings,
    /// Network evaluations run.
    pub evaluations: usize,
}

/// Runs a job to the end. `tracker` reports progress and carries the
/// cancel flag; a cancelled job returns [`EngineError::Cancelled`].
pub fn run(model: &mut dyn TextDenoiser, job: &Job, tracker: &mut Tracker) -> Result<JobOutput> {
    let settings = Settings::resolve(job.task.kind(), model.manifest(), &job.overrides)?;
    let mut ctx = Context { model, job, settings, warnings: Vec::new() };
    let stems = match &job.task {
        Task::Separate { mix, stems } => {
            if stems.len() < 2 {
                return Err(EngineError::Input("separate needs at least two stems; use extract for one".into()));
            }
            separation::separate(&mut ctx, mix, stems, stems, tracker)?
        }
        Task::Extract { mix, stems } => {
            let all: Vec<String> = ctx.model.manifest().stems.keys().cloned().collect();
            ctx.settings.method = Method::Extractor;
            separation::separate(&mut ctx, mix, stems, &all, tracker)?
        }
        Task::Accompany { sources, generate } => ctx.accompany(sources, generate, tracker)?,
        Task::Generate { stems, seconds, rate, channels } => {
            ctx.generate(stems, *seconds, *rate, *channels, tracker)?
        }
    };
    Ok(JobOutput { stems, warnings: ctx.warnings, settings: ctx.settings, evaluations: tracker.done() })
}

/// Name of a generated block: its labels joined with "+".
pub fn block_name(block: &[String]) -> String {
    block.join("+")
}

impl Context<'_> {
    // ---------------------------------------------------------------- generation

    fn accompany(
        &mut self,
        sources: &[Source],
        generate: &[Vec<String>],
        tracker: &mut Tracker,
    ) -> Result<Vec<(String, Audio)>> {
        let first = sources.first().ok_or_else(|| EngineError::Input("accompany needs at least one source".into()))?;
        for s in sources {
            s.audio.check_usable(&format!("source \"{}\"", s.label))?;
        }
        let rows: Vec<Rows> =
            sources.iter().map(|s| to_rows(&s.audio, self.manifest(), false)).collect::<Result<_>>()?;
        let total = rows.iter().map(|r| r.rows[0].len()).max().unwrap_or(0);
        if rows.iter().any(|r| r.rows[0].len() * 100 < total * 99) {
            self.warnings.push("the sources differ in length; shorter ones are padded with silence".into());
        }
        let mut sum = Audio::silence(self.manifest().sample_rate, self.manifest().channels, total);
        for r in &rows {
            for (acc, row) in sum.channels.iter_mut().zip(&r.rows) {
                acc.iter_mut().zip(row).for_each(|(a, s)| *a += s);
            }
        }
        // The model's level is that of a whole mixture; the given sources are
        // only part of it. Scale them as if every stem had the same power, so
        // the sources plus the generated stems land at the mixture's level
        // (otherwise the mixture prior hears too loud a mix and the generated
        // stem cancels part of the given sources).
        let generated = generate.iter().map(Vec::len).sum::<usize>();
        let share = (sources.len() as f32 / (sources.len() + generated) as f32).sqrt();
        let mut gain = self.gain_for(sum.rms(), "the sum of the sources");
        if self.manifest().input_rms.is_some() {
            gain *= share;
        }
        let labels: Vec<String> = sources.iter().map(|s| s.label.clone()).collect();
        let known: Vec<Vec<Vec<f32>>> = rows.into_iter().map(|r| r.rows).collect();
        let outs = self.generate_rows(generate, &labels, &known, total, gain, tracker)?;
        let (rate, channels) = (first.audio.rate, first.audio.channel_count());
        let frames = sources
            .iter()
            .map(|s| (s.audio.frames() as f64 * f64::from(rate) / f64::from(s.audio.rate)).round() as usize)
            .max()
            .unwrap_or(0);
        generate
            .iter()
            .zip(outs)
            .map(|(b, rows)| Ok((block_name(b), to_audio(rows, self.manifest(), rate, channels, frames, gain)?)))
            .collect()
    }

    fn generate(
        &mut self,
        stems: &[Vec<String>],
        seconds: f64,
        rate: u32,
        channels: usize,
        tracker: &mut Tracker,
    ) -> Result<Vec<(String, Audio)>> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(EngineError::Input(format!("length must be a positive number of seconds, got {seconds}")));
        }
        if rate == 0 || channels == 0 {
            return Err(EngineError::Input("output rate and channels must be > 0".into()));
        }
        let total = (seconds * f64::from(self.manifest().sample_rate)).round().max(1.0) as usize;
        let outs = self.generate_rows(stems, &[], &[], total, 1.0, tracker)?;
        let frames = (seconds * f64::from(rate)).round() as usize;
        let mut result: Vec<(String, Audio)> = stems
            .iter()
            .zip(outs)
            .map(|(b, rows)| Ok((block_name(b), to_audio(rows, self.manifest(), rate, channels, frames, 1.0)?)))
            .collect::<Result<_>>()?;
        let mut mix = Audio::silence(rate, channels, frames);
        for (_, a) in &result {
            for (m, c) in mix.channels.iter_mut().zip(&a.channels) {
                m.iter_mut().zip(c).for_each(|(m, s)| *m += s);
            }
        }
        result.push(("mix".into(), mix));
        Ok(result)
    }

    /// Generates `blocks` (model-rate rows each) over `total` frames, window
    /// by window, each window continuing the previous one's last quarter.
    fn generate_rows(
        &mut self,
        blocks: &[Vec<String>],
        known_labels: &[String],
        known: &[Vec<Vec<f32>>],
        total: usize,
        gain: f32,
        tracker: &mut Tracker,
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        if blocks.is_empty() || blocks.iter().any(Vec::is_empty) {
            return Err(EngineError::Input("name at least one stem to generate".into()));
        }
        for s in blocks.iter().flatten() {
            self.check_stem(s)?;
        }
        let sources = blocks
            .iter()
            .map(|b| self.condition(&b.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect::<Result<Vec<_>>>()?;
        let all: Vec<&str> = known_labels.iter().chain(blocks.iter().flatten()).map(String::as_str).collect();
        let mix_prompt = self.joined_prompt(&all);
        // The mixture of a single generated block is that block: it gets the
        // block's condition, negative prompt included, or the unguided mixture
        // would pull the stem away from its negative-prompt guidance.
        let mix = if blocks.len() == 1 && known_labels.is_empty() {
            sources[0].clone()
        } else {
            Condition { prompt: self.model.embed(&mix_prompt)?, negative: self.model.embed("")? }
        };
        let c = self.manifest().channels;
        let (window, multiple) = (self.manifest().window, self.manifest().length_multiple);
        let overlap = window / 4;
        let windows = plan(total, window, overlap, multiple);
        tracker.set_total(windows.len() * self.evals_per_run());
        let sigmas = self.sigmas();
        let sampler = self.settings.sampler;
        let vars = blocks.len() + 1;
        let mut rng = Rng::seed_from_u64(self.settings.seed);
        let mut stitchers: Vec<Stitcher> = (0..vars).map(|_| Stitcher::new(c, total, overlap)).collect();
        let mut previous: Option<(Window, Vec<Vec<f32>>)> = None;
        for (i, w) in windows.iter().enumerate() {
            let prefix = previous.as_ref().map(|(pw, vals)| {
                let offset = w.start - pw.start;
                let frames = (pw.start + pw.len - w.start).min(w.len);
                let values = vals
                    .iter()
                    .map(|v| v.chunks(pw.padded).flat_map(|row| row[offset..offset + frames].to_vec()).collect())
                    .collect();
                Prefix { frames, values }
            });
            let known_vars: Vec<Vec<f32>> = known.iter().map(|rows| flatten(rows, *w, gain)).collect();
            let st = self.settings.clone();
            let mut task = Generation {
                guide: self.guide(tracker, 1, w.padded),
                sources: sources.clone(),
                mix: mix.clone(),
                known: known_vars,
                alpha: st.alpha,
                beta: st.beta,
                gamma_sources: vec![st.gamma_sources; blocks.len()],
                gamma_mix: st.gamma_mix,
                prefix,
            };
            let n = task.guide.var_len();
            let x = sampler.sample(&mut task, &sigmas, vars * n, &mut rng)?;
            let vals: Vec<Vec<f32>> = x.chunks(n).map(<[f32]>::to_vec).collect();
            for (st, v) in stitchers.iter_mut().zip(&vals) {
                st.add(*w, &unflatten(v, c, w.padded), i == 0, i + 1 == windows.len());
            }
            previous = Some((*w, vals));
        }
        Ok(stitchers.into_iter().take(blocks.len()).map(|s| s.rows).collect())
    }
}
