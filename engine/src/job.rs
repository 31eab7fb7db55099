//! Jobs: one task with its inputs and settings, run end to end on real
//! audio (any rate and channel count, any length) by the CLI and the plugin.
//! [`run`] hands a task to its stage: separation for separate and extract,
//! generation for accompany and generate.

pub use crate::request::{block_name, Job, JobOutput, Source, Task, TextDenoiser};

use crate::context::Context;
use crate::error::{EngineError, Result};
use crate::progress::Tracker;
use crate::settings::Settings;
use crate::{generation, separation};

/// Runs a job to the end. `tracker` reports progress and carries the
/// cancel flag; a cancelled job returns [`EngineError::Cancelled`].
pub fn run(model: &mut dyn TextDenoiser, job: &Job, tracker: &mut Tracker) -> Result<JobOutput> {
    // Extraction's settings always name the extractor (Settings::resolve).
    let settings = Settings::resolve(job.task.kind(), model.manifest(), &job.overrides)?;
    model.use_cpu_denoiser(settings.cpu_denoiser)?;
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
