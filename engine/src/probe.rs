//! A model for the engine's unit tests: a probe network whose answers are
//! simple enough to work out by hand, and a job to run on it.

use crate::error::{EngineError, Result};
use crate::job::{run, Job, JobOutput, Task};
use crate::manifest::Manifest;
use crate::network::Denoiser;
use crate::progress::Tracker;
use crate::request::TextDenoiser;
use crate::settings::Value;

/// The model's rate in these tests (the Gaussian fixture's).
pub(crate) const RATE: u32 = 8000;

/// One network call as the probe saw it: the embedding's first value
/// per row, and the context rows if any.
pub(crate) struct Call {
    /// Each row's embedding's first value: which prompt it ran under.
    pub(crate) rows: Vec<f32>,
    /// The rows of the `context` input, if given.
    pub(crate) context: Option<Vec<f32>>,
}

/// A model whose denoiser answers each row with its prompt's number
/// (its embedding's first value) or, when it hears the given tracks,
/// with them; it records every call and refuses a misshaped batch.
pub(crate) struct Probe {
    /// The model's manifest (a test may change it).
    pub(crate) manifest: Manifest,
    hears: bool,
    prompts: Vec<String>,
    /// Every network call, in order.
    pub(crate) calls: Vec<Call>,
}

impl Probe {
    /// The Gaussian fixture's manifest with 64-frame windows, trained at RMS 0.1.
    pub(crate) fn new(hears: bool) -> Probe {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/gaussian");
        let mut manifest = Manifest::load(&dir).expect("the fixture model's manifest");
        manifest.window = 64;
        manifest.input_rms = Some(0.1);
        Probe { manifest, hears, prompts: Vec::new(), calls: Vec::new() }
    }

    /// The number `embed` gives `prompt`.
    pub(crate) fn value(&self, prompt: &str) -> f32 {
        let i = self.prompts.iter().position(|p| p == prompt).unwrap_or_else(|| panic!("{prompt:?} never embedded"));
        0.1 * (i + 1) as f32
    }
}

impl Denoiser for Probe {
    fn channels(&self) -> usize {
        1
    }
    fn takes_context(&self) -> bool {
        self.hears
    }
    fn denoise(
        &mut self,
        x: &[f32],
        frames: usize,
        sigma: &[f32],
        embedding: &[f32],
        context: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let rows = sigma.len();
        let d = self.manifest.embedding_dim;
        let shaped = x.len() == rows * frames
            && embedding.len() == rows * d
            && context.is_none_or(|c| self.hears && c.len() == x.len());
        if !shaped {
            return Err(EngineError::Input(format!("{} samples, {rows} rows of {frames}", x.len())));
        }
        let values: Vec<f32> = (0..rows).map(|r| embedding[r * d]).collect();
        self.calls.push(Call { rows: values.clone(), context: context.map(<[f32]>::to_vec) });
        Ok(match context {
            Some(c) => c.to_vec(),
            None => values.iter().flat_map(|&v| vec![v; frames]).collect(),
        })
    }
}

impl TextDenoiser for Probe {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    fn embed(&mut self, prompt: &str) -> Result<Vec<f32>> {
        if !self.prompts.iter().any(|p| p == prompt) {
            self.prompts.push(prompt.to_string());
        }
        let mut e = vec![0.0; self.manifest.embedding_dim];
        e[0] = self.value(prompt);
        Ok(e)
    }
}

/// A job whose sampler ends exactly on the network's last answer:
/// DPM-Solver++(2M) in 3 levels, no guidance, no likelihood pulls.
pub(crate) fn job(task: Task) -> Job {
    let mut job = Job::new(task);
    let settings = [
        ("sampler", Value::Name("dpmpp2m".into())),
        ("steps", Value::Count(3)),
        ("w", Value::Number(0.0)),
        ("gamma_sources", Value::Width(None)),
        ("gamma_mix", Value::Width(None)),
    ];
    for (key, value) in settings {
        job.overrides.set(key, value).unwrap();
    }
    job
}

/// Runs `job` on `model`; also returns the totals progress reported.
pub(crate) fn run_job(model: &mut Probe, job: &Job) -> (Result<JobOutput>, Vec<usize>) {
    let totals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = totals.clone();
    let report = Box::new(move |p: &crate::progress::Progress| seen.lock().unwrap().push(p.total));
    let mut tracker = Tracker::new(1, Default::default(), report);
    let out = run(model, job, &mut tracker);
    let totals = totals.lock().unwrap().clone();
    (out, totals)
}

/// `frames` samples of a sine of `hz` and amplitude `amp` at `rate`.
pub(crate) fn sine(rate: u32, frames: usize, hz: f32, amp: f32) -> Vec<f32> {
    (0..frames).map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin()).collect()
}

/// Root mean square of `x`.
pub(crate) fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}
