//! What every stage of a running job shares: the model, the job, the
//! settings it runs with and the warnings gathered so far.

use crate::gmsdi::Guide;
use crate::manifest::Manifest;
use crate::progress::Tracker;
use crate::request::{Job, TextDenoiser};
use crate::schedule::karras;
use crate::settings::Settings;

/// A job on its way through the stages.
pub(crate) struct Context<'a> {
    /// The model the job runs on.
    pub(crate) model: &'a mut dyn TextDenoiser,
    /// The job: its task, settings overrides and prompts.
    pub(crate) job: &'a Job,
    /// The settings the job runs with; a stage records here what it
    /// decided, so that the job's output tells what actually ran.
    pub(crate) settings: Settings,
    /// Things the user should know (silent input, length mismatch, ...).
    pub(crate) warnings: Vec<String>,
}

impl Context<'_> {
    /// The model's manifest.
    pub(crate) fn manifest(&self) -> &Manifest {
        self.model.manifest()
    }

    /// The noise levels of one sampler run.
    pub(crate) fn sigmas(&self) -> Vec<f32> {
        let m = self.manifest();
        karras(self.settings.steps, m.sigma_min, m.sigma_max, self.settings.rho)
    }

    /// Network evaluations of one sampler run.
    pub(crate) fn evals_per_run(&self) -> usize {
        self.settings.sampler.evaluations(self.settings.steps)
    }

    /// The guided network for a window of `lanes` lanes of `frames` frames.
    pub(crate) fn guide<'g>(&'g mut self, tracker: &'g mut Tracker, lanes: usize, frames: usize) -> Guide<'g> {
        let s = &self.settings;
        let (w, context_w, min_sigma, max_sigma) = (s.w, s.context_w, s.guidance_min_sigma, s.guidance_max_sigma);
        Guide {
            net: &mut *self.model,
            tracker,
            w,
            context_w,
            min_sigma,
            max_sigma,
            lanes,
            frames,
            context: None,
            chords: None,
        }
    }
}
