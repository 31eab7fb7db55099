//! The worker thread: serves commands (and the audio thread's Generate
//! request), runs jobs and writes their clips, restores results after a
//! state load or a rate change, and publishes results to the audio thread.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use gmsdi_engine::audio::{read_wav, Audio};
use gmsdi_engine::error::EngineError;
use gmsdi_engine::job::{self, block_name, Job, Task};
use gmsdi_engine::model_folder;
use gmsdi_engine::network::{Denoiser, Model};
use gmsdi_engine::progress::Tracker;
use gmsdi_engine::runtime::{Provider, RuntimeOptions};
use gmsdi_engine::settings::Settings;

use crate::error::PluginError;
use crate::model_info::ModelInfo;
use crate::playback::{self, Results, Stem};
use crate::state::{Clip, HistoryEntry, PersistedState, HISTORY};
use crate::status::Code;
use crate::{cache, clips, location, tasks};
use nice_plug::params::persist::PersistentField;

use super::{Command, Shared, AUDIO_REQUEST_WAIT};

/// The worker thread's own data.
pub(super) struct Thread {
    shared: Arc<Shared>,
    inbox: Receiver<Command>,
    /// The loaded model and the provider it was asked for.
    model: Option<(Model, Provider)>,
    /// The state's model folder and provider that `Shared::model_info` describes.
    info_for: Option<(Option<PathBuf>, Option<String>)>,
}

impl Thread {
    /// The thread's data before it starts.
    pub(super) fn new(shared: Arc<Shared>, inbox: Receiver<Command>) -> Thread {
        Thread { shared, inbox, model: None, info_for: None }
    }

    /// The thread's life: restore the state's results, describe the model,
    /// then serve commands (and the audio thread's requests) until shutdown.
    /// Restores come before describing the model (which loads it): the
    /// host's `activate` waits for them (`Worker::wait_for_restore`).
    pub(super) fn run(mut self) {
        // Inference must not compete with the host's threads.
        gmsdi_engine::thread_priority::lower_current();
        self.restore(false);
        self.refresh_model_info();
        while !self.shared.shutdown.load(Ordering::Acquire) {
            match self.inbox.recv_timeout(AUDIO_REQUEST_WAIT) {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Command::Generate) => self.run_job(),
                Ok(Command::Restore) => self.restore(true),
                Ok(Command::StateLoaded) => {
                    self.restore(false);
                    self.refresh_model_info();
                }
                Ok(Command::ModelChanged) => self.refresh_model_info(),
                Ok(Command::Activated) => self.restore(false),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.shared.generate.swap(false, Ordering::AcqRel) {
                self.run_job();
            }
        }
    }

    fn run_job(&mut self) {
        // Cleared before the shutdown check: a shutdown after it keeps its cancel.
        self.shared.cancel.store(false, Ordering::Release);
        if self.shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        self.shared.status.set_progress(None);
        self.shared.status.set(Code::Busy, "running the job");
        self.shared.job_running.store(true, Ordering::Release);
        let outcome = self.job();
        self.shared.job_running.store(false, Ordering::Release);
        match outcome {
            Ok(message) => self.shared.report(Code::Done, message),
            Err(PluginError::Cancelled) => self.shared.report(Code::Idle, "job cancelled".into()),
            Err(e) if self.shared.cancel.load(Ordering::Acquire) => {
                self.shared.report(Code::Idle, format!("job cancelled ({e})"))
            }
            Err(e) => self.shared.fail(format!("job failed: {e}"), e.fix()),
        }
    }

    /// The model folder to use: the first candidate holding a `model.json`.
    fn model_dir(from_state: Option<PathBuf>) -> Result<PathBuf, PluginError> {
        let candidates = location::model_candidates(from_state);
        match model_folder::first_model(&candidates) {
            Some(dir) => Ok(dir.to_path_buf()),
            None => Err(PluginError::NoModel { looked_in: candidates }),
        }
    }

    /// Re-reads the model's description when the state names another
    /// model folder or provider (or the first time).
    fn refresh_model_info(&mut self) {
        let wanted = self.shared.params.state.map(|s| (s.model_dir.clone(), s.provider.clone()));
        if self.info_for.as_ref() == Some(&wanted) {
            return;
        }
        let info = Self::model_dir(wanted.0.clone()).and_then(|dir| ModelInfo::read(&dir).map_err(PluginError::Model));
        *self.shared.model_info.lock() = Some(info.map_err(Arc::new));
        self.info_for = Some(wanted);
    }

    /// The loaded model, (re)loading it if the wanted folder or provider changed.
    fn model(&mut self, state: &PersistedState) -> Result<&mut Model, PluginError> {
        let dir = Self::model_dir(state.model_dir.clone())?;
        let provider: Provider = state
            .provider
            .as_deref()
            .unwrap_or("cpu")
            .parse()
            .map_err(|e: EngineError| PluginError::InvalidSetting(e.to_string()))?;
        if self.model.as_ref().is_some_and(|(m, p)| m.dir != dir || *p != provider) {
            self.model = None; // frees the old model before loading the new one
        }
        let loaded = match self.model.take() {
            Some(loaded) => loaded,
            None => {
                self.shared.status.set(Code::Busy, format!("loading the model from {}", dir.display()));
                let options =
                    RuntimeOptions { provider, search_dir: location::binary_dir(), ..RuntimeOptions::default() };
                let model = Model::load(&dir, &options).map_err(PluginError::Model)?;
                if let Some(Ok(info)) = self.shared.model_info.lock().as_mut() {
                    info.provider = Some(model.provider.to_string());
                }
                self.shared.status.set(Code::Busy, "running the job");
                (model, provider)
            }
        };
        Ok(&mut self.model.insert(loaded).0)
    }

    fn job(&mut self) -> Result<String, PluginError> {
        let capture = self.shared.capture.lock().clone().ok_or(PluginError::NoCaptureBuffers)?;
        let state = self.shared.params.state.snapshot();
        let choice = self.shared.params.task.value();
        let (shared, cancel) = (self.shared.clone(), self.shared.cancel.clone());
        let dir = location::output_dir(state.output_dir.clone());
        std::fs::create_dir_all(&dir).map_err(|source| PluginError::OutputFolder { path: dir.clone(), source })?;
        let model = self.model(&state)?;
        let mut warnings: Vec<String> = model.provider_warning.iter().cloned().collect();
        let model_stems: Vec<String> = model.manifest.stems.keys().cloned().collect();
        let model_name = model.manifest.name.clone();
        let takes_context = model.takes_context();
        let (job, region) = tasks::build(choice, &capture, &state, &model_stems, &mut warnings)?;
        let key = cache::key(&job, &model.dir, region.start);
        let rate = capture.rate();
        let record = |settings: &Settings, results: Vec<Clip>| HistoryEntry {
            task: choice.name().into(),
            finished: unix_seconds(),
            summary: summary(&job, settings, takes_context),
            settings: state.settings.clone(),
            resolved: resolved_text(settings, &model_name),
            results,
        };
        if let Some(clips) = cache::lookup(&dir, &key) {
            if let Ok(stems) = clips.iter().map(|c| load_stem(c, rate)).collect::<Result<Vec<_>, _>>() {
                // The cache keeps the files, not the settings: resolve them as the job did.
                let settings =
                    Settings::resolve(choice.kind(), &model.manifest, &job.overrides).map_err(PluginError::engine)?;
                let entry = record(&settings, clips);
                return Ok(self.finish(Results { rate, stems }, entry, "reused (identical job)", warnings));
            }
        }

        let report = Box::new(move |p: &gmsdi_engine::progress::Progress| shared.status.set_progress(Some(p)));
        let mut tracker = Tracker::new(1, cancel, report);
        let output = job::run(model, &job, &mut tracker).map_err(PluginError::engine)?;
        warnings.extend(output.warnings);
        let name = format!("gmsdi-{}-{}", choice.name(), unix_millis());
        let mut clips = Vec::new();
        let mut stems = Vec::new();
        for (stem, audio) in output.stems {
            let path = dir.join(format!("{name}-{}.wav", file_safe(&stem)));
            clips::write_clip(&path, &audio, region.start.max(0) as u64)
                .map_err(|source| PluginError::CannotWrite { path: path.clone(), source })?;
            stems.push(Stem { name: stem.clone(), start: region.start, channels: stereo(audio) });
            clips.push(Clip { stem, path, start: region.start });
        }
        if let Err(e) = cache::store(&dir, &key, &clips) {
            warnings.push(format!("cannot record the job in the cache: {e}"));
        }
        // What the job actually ran with (an extraction runs the extractor, whatever the method says).
        let entry = record(&output.settings, clips);
        Ok(self.finish(Results { rate, stems }, entry, "wrote", warnings))
    }

    /// Publishes a job's results, records its clips in the state and
    /// returns the report: `verb`, the files, then any warnings.
    fn finish(&self, results: Results, entry: HistoryEntry, verb: &str, warnings: Vec<String>) -> String {
        let files: Vec<String> = entry.results.iter().map(|c| c.path.display().to_string()).collect();
        self.publish(results);
        self.shared.params.state.update(|s| {
            s.results.clone_from(&entry.results);
            s.history.insert(0, entry);
            s.history.truncate(HISTORY);
        });
        // The published results are the state's now: nothing to restore.
        self.shared.restored_loads.store(self.shared.params.state.loads(), Ordering::Release);
        let mut message = format!("{verb} {}", files.join(", "));
        if !warnings.is_empty() {
            message += &format!(" (warnings: {})", warnings.join("; "));
        }
        message
    }

    fn publish(&self, results: Results) {
        self.shared.results_rate.store(results.rate, Ordering::Release);
        let results = Arc::new(results);
        *self.shared.results.lock() = Some(results.clone());
        playback::publish(&mut self.shared.publisher.lock(), Some(results));
    }

    /// Reloads the state's result files after a host state load (or when
    /// `forced`: the editor changed them), or resamples them after a
    /// sample-rate change; does nothing when the published results are current.
    fn restore(&mut self, forced: bool) {
        let loads = self.shared.params.state.loads();
        if !forced && !self.shared.restore_pending() {
            return;
        }
        let rate = self.shared.rate.load(Ordering::Acquire);
        let state = self.shared.params.state.snapshot();
        if state.results.is_empty() {
            self.shared.results_rate.store(0, Ordering::Release);
            *self.shared.results.lock() = None;
            playback::publish(&mut self.shared.publisher.lock(), None);
            self.shared.restored_loads.store(loads, Ordering::Release);
            return;
        }
        let mut stems = Vec::new();
        let mut missing = Vec::new();
        for clip in &state.results {
            match load_stem(clip, rate) {
                Ok(stem) => stems.push(stem),
                Err(e) => missing.push(e),
            }
        }
        let restored = stems.len();
        self.publish(Results { rate, stems });
        if missing.is_empty() {
            self.shared.report(Code::Done, format!("restored {restored} result clips"));
        } else {
            let error = PluginError::RestoreIncomplete { restored, missing };
            self.shared.fail(error.to_string(), error.fix());
        }
        // Only now is the restore done (`wait_for_restore` looks at this).
        self.shared.restored_loads.store(loads, Ordering::Release);
    }
}

/// A result clip read from its file, resampled to `rate`, its start moved to match.
fn load_stem(clip: &Clip, rate: u32) -> Result<Stem, EngineError> {
    let audio = read_wav(&clip.path)?;
    let start = (i128::from(clip.start) * i128::from(rate) / i128::from(audio.rate)) as i64;
    let audio = audio.resampled(rate)?;
    Ok(Stem { name: clip.stem.clone(), start, channels: stereo(audio) })
}

/// What a job was asked for, in words, for the history; for an
/// accompaniment, also how the generated stems heard the given tracks on a
/// model that has (`takes_context`) or lacks the `context` input.
fn summary(job: &Job, settings: &Settings, takes_context: bool) -> String {
    match &job.task {
        Task::Separate { stems, .. } | Task::Extract { stems, .. } => stems.join(", "),
        Task::Accompany { sources, generate } => {
            let given: Vec<&str> = sources.iter().map(|s| s.label.as_str()).collect();
            let generated: Vec<String> = generate.iter().map(|g| block_name(g)).collect();
            let heard = settings.accompaniment.for_model(takes_context).describe();
            format!("{} under {} ({heard})", generated.join(", "), given.join(", "))
        }
        Task::Generate { stems, seconds, .. } => {
            let blocks: Vec<String> = stems.iter().map(|g| block_name(g)).collect();
            format!("{} ({seconds:.1} s)", blocks.join(", "))
        }
    }
}

/// Every setting a job ran with, in words, so that it can be reproduced.
fn resolved_text(s: &Settings, model: &str) -> String {
    format!("model {model}, {s}")
}

/// Milliseconds since the Unix epoch (file names).
fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// Seconds since the Unix epoch (the history).
fn unix_seconds() -> u64 {
    (unix_millis() / 1000) as u64
}

/// A stem name made safe for file names.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '+' { c } else { '_' }).collect()
}

/// Left and right channels of any audio.
fn stereo(audio: Audio) -> [Vec<f32>; 2] {
    let mut channels = audio.with_channel_count(2).channels.into_iter();
    [channels.next().unwrap_or_default(), channels.next().unwrap_or_default()]
}
